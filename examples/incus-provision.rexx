/* Incus through the verbs of the LXD handler, driving the incus client. provision.rexx
   runs as it is on Incus with only its target changed to INCUS; this one shows what
   differs underneath - the snapshot subcommands of Incus, its name for security.devlxd,
   and an IPv4 on the bridge of Incus. Run from the project folder after `npm run build`
   (scripts/setup-host.sh starts Incus beside LXD):
     node /path/to/RexxJS/core/src/cli.js examples/incus-provision.rexx       */
REQUIRE "cwd:dist/address-incus.js"
ADDRESS INCUS

"status"
SAY "status RC=" || RC || " CLIENT=" || CLIENT || " SERVER_VERSION=" || SERVER_VERSION

web = "demo-incus-web"
"delete name={{web}} force=true"
"create name={{web}} image=tiny config=security.devlxd=false"
"start name={{web}} wait=ip"
SAY "start RC=" || RC || " IPV4=" || IPV4

"exec name={{web}} command='echo v1 > /etc/motd'"
"snapshot name={{web}} snapshot=before"
"exec name={{web}} command='echo v2 > /etc/motd'"
"stop name={{web}} force=true"
"restore name={{web}} snapshot=before"
"start name={{web}}"
"exec name={{web}} command='cat /etc/motd'"
SAY "after restore RC=" || RC || " RESULT=" || RESULT

"config_get name={{web}} key=security.devlxd"
SAY "security.devlxd RESULT=" || RESULT

"delete name={{web}} force=true"
SAY "cleaned up, RC=" || RC
