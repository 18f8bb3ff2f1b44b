#!/usr/bin/env bash
# Build (once) a realistic OCI image from the shared Debian rootfs
# (scripts/build-debian-rootfs.sh), for the LXCRI registry tests and benchmarks:
#
#   /var/lib/rexx-address/debian-rootfs/bookworm-oci   OCI image layout, tag "bookworm":
#        one gzip layer of the whole rootfs (umoci init/new/insert), PATH set, cmd /bin/bash
#
# Idempotent (bookworm-oci.done marks a complete build) and locked like the rootfs, so
# parallel test files build it once. A few seconds after the rootfs exists. Prints the
# layout path on its last line. Environment as build-debian-rootfs.sh.
set -euo pipefail

OUT_DIR="${REXX_DEBIAN_ROOTFS_DIR:-/var/lib/rexx-address/debian-rootfs}"
LAYOUT="$OUT_DIR/bookworm-oci"
DONE="$OUT_DIR/bookworm-oci.done"
SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

log() { printf '%s\n' "build-debian-oci: $*"; }
die() { printf '%s\n' "build-debian-oci: ERROR: $*" >&2; exit 1; }

if [[ "${REXX_DEBIAN_ROOTFS_REBUILD:-0}" != 1 && -f "$DONE" && -d "$LAYOUT" ]]; then
  log "ok (cached)"
  echo "$LAYOUT"
  exit 0
fi
ROOT="$(bash "$SCRIPT_DIR/build-debian-rootfs.sh" | tail -n1)"
[[ -d "$ROOT" ]] || die "no Debian rootfs at '$ROOT'"
command -v umoci >/dev/null || die "umoci is not installed (scripts/setup-host.sh installs it)"

exec 8>"$OUT_DIR/bookworm-oci.lock"
flock -w 900 8 || die "another build holds $OUT_DIR/bookworm-oci.lock for 900 s"
if [[ "${REXX_DEBIAN_ROOTFS_REBUILD:-0}" != 1 && -f "$DONE" && -d "$LAYOUT" ]]; then
  log "ok (built by a parallel caller)"
  echo "$LAYOUT"
  exit 0
fi
T0=$(date +%s%N)
TMP="$(mktemp -d "$OUT_DIR/.build-oci.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
umoci init --layout "$TMP/layout"
umoci new --image "$TMP/layout:bookworm"
umoci insert --image "$TMP/layout:bookworm" "$ROOT" / >/dev/null
umoci config --image "$TMP/layout:bookworm" \
  --config.env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  --config.cmd /bin/bash --config.label org.opencontainers.image.title=rexx-debian-bookworm-minbase
umoci gc --layout "$TMP/layout"
rm -rf "$LAYOUT" "$DONE"
mv "$TMP/layout" "$LAYOUT"
printf 'built=%s from=%s\n' "$(date -u +%FT%TZ)" "$ROOT" >"$DONE"
log "built $LAYOUT ($(du -sb "$LAYOUT" | cut -f1) bytes) in $(( ($(date +%s%N) - T0) / 1000000 )) ms"
echo "$LAYOUT"
