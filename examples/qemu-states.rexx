/* ADDRESS QEMU: keep a running VM's whole state, move it to a new QEMU, and bring it
   back to the saved moment. The busybox test guest with rexx.counter=1 prints
   "REXX-COUNTER N" every ~200 ms: `console name=demo-states` shows it going on where
   it was after each step.
   Run from the project folder after `npm run build`, scripts/setup-host.sh and
   scripts/build-qemu-guest.sh:
     node /path/to/RexxJS/core/src/cli.js examples/qemu-states.rexx                 */
REQUIRE "cwd:dist/address-qemu.js"
ADDRESS QEMU

g = "/var/lib/rexx-address/qemu-guest"
"create name=demo-states kernel={{g}}/vmlinuz initrd={{g}}/initrd.img append='console=ttyS0 quiet rexx.counter=1' accel=tcg memory=128M"
"start name=demo-states wait=serial:REXX-COUNTER timeout=90s"
SAY "started RC=" || RC

"save_state name=demo-states compress=lz4"
saved = STRIP(SNAPSHOT)
SAY "saved " || saved || " (" || SIZE || " bytes on disk) RC=" || RC

"migrate name=demo-states"
SAY "migrated RC=" || RC || " to pid " || PID || ": " || TOTAL_MS || " ms, downtime " || DOWNTIME_MS || " ms"

"restore_state name=demo-states snapshot={{saved}} force=true"
SAY "restored " || saved || " RC=" || RC

"list_states name=demo-states"
SAY "states: " || IDS.0
"delete name=demo-states force=true"
SAY "cleaned up"
