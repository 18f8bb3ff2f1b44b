/* ADDRESS QEMU: a VM that provisions itself with cloud-init, then is driven from inside
   through the QEMU guest agent: exec, file_push / file_pull, guest_info, shutdown.
   Needs the full Debian guest (scripts/build-qemu-full-guest.sh; scripts/setup-host.sh
   builds it). Under TCG the boot to "cloud-init done" takes one to three minutes.
   Run from the project folder after `npm run build`:
     node /path/to/RexxJS/core/src/cli.js examples/qemu-cloud-init.rexx             */
REQUIRE "cwd:dist/address-qemu.js"
ADDRESS QEMU

g = "/var/lib/rexx-address/qemu-full-guest"
vm = "demo-cloud-init"
"delete name={{vm}} force=true"
"unregister_base name=demo-debian force=true"
"register_base name=demo-debian source={{g}}/disk.qcow2 description='Debian with qemu-ga and cloud-init'"
IF RC \= 0 THEN DO
  SAY "register_base failed: " || ERRORTEXT
  EXIT 1
END
"clone_from_base base=demo-debian name={{vm}} kernel={{g}}/vmlinuz initrd={{g}}/initrd.img append='root=/dev/vda console=ttyS0' memory=512"

/* user-data as text: RexxJS turns \n into newlines; single quotes keep the value whole */
ud = "#cloud-config\nhostname: demo-web\nwrite_files:\n  - path: /etc/motd\n    content: provisioned by cloud-init\nruncmd:\n  - date > /root/first-boot\n"
"cloud_init name={{vm}} user_data='{{ud}}'"
SAY "seed " || SEED || " instance-id " || INSTANCE_ID

"start name={{vm}} wait=cloud-init timeout=10m"
IF RC \= 0 THEN DO
  SAY "start failed: RC=" || RC || " " || ERRORTEXT
  "delete name={{vm}} force=true"
  EXIT 1
END
SAY "agent after " || AGENT_MS || " ms, cloud-init " || CLOUD_INIT || " after " || CLOUD_INIT_MS || " ms (" || ACCEL || ")"

"guest_info name={{vm}}"
SAY "guest: " || OS || ", kernel " || KERNEL || ", hostname " || HOSTNAME

"exec name={{vm}} command='cat /etc/motd'"
SAY "motd: " || RESULT
"exec name={{vm}} command='exit 3'"
SAY "exit 3: RC=" || RC || " EXIT_CODE=" || EXIT_CODE

"file_push name={{vm}} path=/root/secret.txt content='not for everyone' mode=0600"
"exec name={{vm}} command='stat -c %a /root/secret.txt'"
SAY "secret mode: " || RESULT
"file_pull name={{vm}} path=/root/first-boot"
SAY "first boot: " || RESULT

"shutdown name={{vm}}"
SAY "shutdown via " || METHOD
"delete name={{vm}}"
"unregister_base name=demo-debian"
SAY "cleaned up, RC=" || RC
