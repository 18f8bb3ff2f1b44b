/* ADDRESS ZFS: checkpoint a dataset before a risky change, roll back when it fails,
   otherwise keep only the newest checkpoints. Here the "upgrade" is a stand-in that
   fails on purpose, so the script needs nothing but ZFS; with containers the change
   would be ADDRESS LXD "exec name=web command='apt-get -y upgrade'".
   Run from the project folder after `npm run build` and scripts/setup-host.sh:
     node /path/to/RexxJS/core/src/cli.js examples/zfs-checkpoint.rexx            */
REQUIRE "cwd:dist/address-zfs.js"
ADDRESS ZFS

ds = "rexxpool/demo-checkpoint"
"create name={{ds}}"
SAY "create RC=" || RC || " RESULT=" || RESULT

"snapshot name={{ds}}"
checkpoint = STRIP(SNAPSHOT)   /* RexxJS: a plain "x = SNAPSHOT" does not read the variable */
SAY "checkpoint " || checkpoint || " RC=" || RC

/* the risky change: here it "fails" on purpose */
upgrade_rc = 1
IF upgrade_rc \= 0 THEN DO
  "rollback name={{ds}} snapshot={{checkpoint}} discard_newer=true"
  SAY "upgrade failed; rollback RC=" || RC
END
ELSE "prune name={{ds}} keep=5"

"list_snapshots name={{ds}}"
SAY "snapshots: " || SNAPSHOTS.0
"destroy name={{ds}} recursive=true"
SAY "cleaned up, RC=" || RC
