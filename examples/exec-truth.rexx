/* What ADDRESS LXD tells a REXX script: exec runs a command line as a shell does, RC is
   the command's own exit status (negative when it never ran: -3 not found), and a
   failed call never leaves the variables of the call before it. Run from the project
   folder after `npm run build`:
     node /path/to/RexxJS/core/src/cli.js examples/exec-truth.rexx                  */
REQUIRE "cwd:dist/address-lxd.js"
ADDRESS LXD

name = "demo-rexx-truth"
"delete name={{name}} force=true"
"create name={{name}} image=tiny"
"start name={{name}}"
IF RC \= 0 THEN DO
  SAY "start failed: " || ERRORTEXT
  EXIT 1
END

"exec name={{name}} command='exit 3'"
SAY "exit 3: RC=" || RC || " EXIT_CODE=" || EXIT_CODE
"exec name={{name}} command='cd /tmp && pwd'"
SAY "cd /tmp && pwd: RC=" || RC || " RESULT=" || RESULT
"exec name={{name}} command='export A=1; echo A is $A'"
SAY "export: RESULT=" || RESULT
"exec name=demo-rexx-nosuch command='exit 3'"
SAY "no such instance: RC=" || RC || " EXIT_CODE=[" || EXIT_CODE || "]"
"exec name={{name}} command='pwd' cwd=/nonexistent"
SAY "missing cwd: RC=" || RC

"info name={{name}}"
SAY "info: RC=" || RC || " STATUS=" || STATUS
"info name=demo-rexx-nosuch"
SAY "info of a missing instance: RC=" || RC || " STATUS=[" || STATUS || "] PID=[" || PID || "]"

/* the seed design's own verb */
"execute name={{name}} command='echo update && echo install'"
SAY "execute: RC=" || RC || " LINES=" || LINES.0

"delete name={{name}} force=true"
SAY "cleaned up, RC=" || RC
