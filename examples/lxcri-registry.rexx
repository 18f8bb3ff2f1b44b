/* ADDRESS LXCRI: from an image in a registry to a running container.
   image_pull copies the image into the local OCI store (skopeo) and, with ZFS, unpacks
   it once; every bundle made from it is then a copy-on-write clone. The registry here is
   the local one scripts/setup-host.sh starts (plain HTTP, hence tls_verify=false) with
   the Debian image it pushes; for a private registry add creds=USER:PASS (kept in a
   0600 authfile, never on a command line).
   Run from the project folder after `npm run build` and scripts/setup-host.sh:
     node /path/to/RexxJS/core/src/cli.js examples/lxcri-registry.rexx          */
REQUIRE "cwd:dist/address-lxcri.js"
ADDRESS LXCRI

ref = "127.0.0.1:5000/rexx/debian:bookworm"
"image_inspect ref={{ref}} tls_verify=false"
SAY "image_inspect RC=" || RC || " layers=" || LAYERS.0 || " size=" || SIZE

"image_pull ref={{ref}} tls_verify=false name=demo-debian:12"
IF RC \= 0 THEN DO
  SAY "image_pull failed: RC=" || RC || " " || ERRORTEXT
  EXIT RC
END
SAY "image_pull RC=" || RC || " RESULT=" || RESULT || " in " || PULL_MS || " ms"

/* a tag the registry does not have is RC 3, and nothing is left behind */
"image_pull ref=127.0.0.1:5000/rexx/debian:no-such-tag tls_verify=false"
SAY "missing tag RC=" || RC

"bundle_from_image image=demo-debian:12 bundle=/tmp/rexx-demo-registry/web-1 name=demo-registry-web-1 arg=sleep arg=600"
SAY "bundle_from_image RC=" || RC || " cloned=" || CLONED || " in " || BUNDLE_MS || " ms"
"run name=demo-registry-web-1 bundle=/tmp/rexx-demo-registry/web-1"
SAY "run RC=" || RC
"exec name=demo-registry-web-1 command='cat /etc/debian_version'"
SAY "debian_version RC=" || RC || " RESULT=" || RESULT

"image_list filter=demo-debian"
DO i = 1 TO IMAGES.0
  SAY ARRAY_GET(IMAGES, i) ARRAY_GET(DISK_SIZES, i) "bytes on disk"
END

"delete name=demo-registry-web-1 force=true purge=true"
"image_delete image=demo-debian:12"
SAY "cleaned up, RC=" || RC
