#!/usr/bin/env bash
# Build (once) a plain Debian bookworm rootfs, shared by every test and benchmark that
# needs a realistic root filesystem (the LXCRI registry image today; LXD cluster nodes
# and QEMU guests may reuse it). Generic on purpose: `debootstrap --variant=minbase`,
# the host's apt sources copied in, nothing else; callers add their own bits to a copy.
#
#   /var/lib/rexx-address/debian-rootfs/bookworm/        the rootfs (about 200 MB)
#   /var/lib/rexx-address/debian-rootfs/bookworm.done    written last: the build is complete
#
# Idempotent: when bookworm.done exists nothing is done (prints the path). Parallel
# callers take turns on bookworm.lock (flock), so the rootfs is built once; the build
# goes to a temporary folder next to it and is renamed into place, so a half-built
# rootfs is never seen. About 22-26 s here (Debian mirrors only; no other network).
# Environment: REXX_DEBIAN_ROOTFS_DIR (default /var/lib/rexx-address/debian-rootfs),
# REXX_DEBIAN_ROOTFS_REBUILD=1 to build again. Prints the rootfs path on its last line.
set -euo pipefail

OUT_DIR="${REXX_DEBIAN_ROOTFS_DIR:-/var/lib/rexx-address/debian-rootfs}"
SUITE=bookworm
ROOT="$OUT_DIR/$SUITE"
DONE="$OUT_DIR/$SUITE.done"

log() { printf '%s\n' "build-debian-rootfs: $*"; }
die() { printf '%s\n' "build-debian-rootfs: ERROR: $*" >&2; exit 1; }

if [[ "${REXX_DEBIAN_ROOTFS_REBUILD:-0}" != 1 && -f "$DONE" && -d "$ROOT" ]]; then
  log "ok (cached)"
  echo "$ROOT"
  exit 0
fi
[[ $(id -u) -eq 0 ]] || die "must run as root (debootstrap)"
command -v debootstrap >/dev/null || die "debootstrap is not installed (scripts/setup-host.sh installs it)"

mkdir -p "$OUT_DIR"
exec 8>"$OUT_DIR/$SUITE.lock"
flock -w 900 8 || die "another build holds $OUT_DIR/$SUITE.lock for 900 s"
# Someone else finished it while we waited.
if [[ "${REXX_DEBIAN_ROOTFS_REBUILD:-0}" != 1 && -f "$DONE" && -d "$ROOT" ]]; then
  log "ok (built by a parallel caller)"
  echo "$ROOT"
  exit 0
fi

# The host's own mirror (its sources name the one that answers here).
MIRROR="$(sed -n 's/^URIs: *\(http[^ ]*debian\)\/*$/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n1)"
[[ -n "$MIRROR" ]] || MIRROR="$(awk '$1 == "deb" && $3 == "'"$SUITE"'" { print $2; exit }' /etc/apt/sources.list 2>/dev/null || true)"
[[ -n "$MIRROR" ]] || MIRROR=http://deb.debian.org/debian

T0=$(date +%s%N)
TMP="$(mktemp -d "$OUT_DIR/.build-$SUITE.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
chmod 755 "$TMP"
debootstrap --variant=minbase "$SUITE" "$TMP/rootfs" "$MIRROR" >"$TMP/debootstrap.log" 2>&1 \
  || { tail -n 20 "$TMP/debootstrap.log" >&2; die "debootstrap --variant=minbase $SUITE $MIRROR failed"; }
# The host's apt sources, so `apt-get` in a copy reaches the same mirrors.
rm -f "$TMP/rootfs/etc/apt/sources.list"
[[ -f /etc/apt/sources.list ]] && cp /etc/apt/sources.list "$TMP/rootfs/etc/apt/sources.list"
mkdir -p "$TMP/rootfs/etc/apt/sources.list.d"
for f in /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list; do
  [[ -f "$f" ]] && cp "$f" "$TMP/rootfs/etc/apt/sources.list.d/"
done
# Smaller and reproducible-ish: no downloaded .debs, no apt lists.
rm -rf "$TMP/rootfs/var/cache/apt/archives/"*.deb "$TMP/rootfs/var/lib/apt/lists/"* 2>/dev/null || true

rm -rf "$ROOT" "$DONE"
mv "$TMP/rootfs" "$ROOT"
printf 'suite=%s mirror=%s built=%s\n' "$SUITE" "$MIRROR" "$(date -u +%FT%TZ)" >"$DONE"
log "built $ROOT ($(du -sb "$ROOT" | cut -f1) bytes) in $(( ($(date +%s%N) - T0) / 1000000 )) ms"
echo "$ROOT"
