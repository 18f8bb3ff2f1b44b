/* The main job in REXX: register a base container once, clone 3 instances from it in
   one call (copy-on-write), start them, run a command in each, print RC/RESULT and the
   clone time in ms, clean up. Run from the project folder after `npm run build`:
     node /path/to/RexxJS/core/src/cli.js examples/provision.rexx            */
REQUIRE "cwd:dist/address-lxd.js"
ADDRESS LXD

base = "demo-rexx-base"
clone = "demo-rexx-web"
"delete name={{base}} force=true"

"register_base name={{base}} image=tiny prepare='echo provisioned by REXX > /etc/motd'"
SAY "register_base RC=" || RC || " RESULT=" || RESULT
IF RC \= 0 THEN DO
  SAY "failed: " || ERRORTEXT
  EXIT 1
END

"clone_from_base base={{base}} name={{clone}} count=3 start=true"
SAY "clone_from_base RC=" || RC || " clones=" || CLONES.0 || " in " || CLONE_MS || " ms"
IF RC \= 0 THEN SAY "failed: " || ERRORTEXT

DO i = 1 TO CLONES.0
  name = ARRAY_GET(CLONES, i)
  "exec name={{name}} command='echo $(hostname): $(cat /etc/motd)'"
  SAY "exec " || name || " RC=" || RC || " RESULT=" || RESULT
END

DO i = 1 TO CLONES.0
  name = ARRAY_GET(CLONES, i)
  "delete name={{name}} force=true"
END
"delete name={{base}} force=true"
SAY "cleaned up, RC=" || RC
