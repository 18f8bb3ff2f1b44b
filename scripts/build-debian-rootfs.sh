#!/usr/bin/env bash
# Build (once) a plain Debian bookworm rootfs, shared by every test and benchmark that
# needs a realistic root filesystem (the LXCRI registry image today; LXD cluster nodes
# and QEMU guests may reuse it). Generic on purpose: `debootstrap --variant=minbase`,
# the host's apt sources copied in, nothing else; callers add their own bits to a copy.
#
#   /var/lib/rexx-address/debian-rootfs/bookworm/        the rootfs (about 120 MB)
#   /var/lib/rexx-address/debian-rootfs/bookworm.done    written last: the build is complete
#
# With --oci, also the same rootfs as an OCI image (for the LXCRI registry tests,
# benchmarks and examples/lxcri-registry.rexx):
#   /var/lib/rexx-address/debian-rootfs/bookworm-oci/    OCI image layout, tag "bookworm":
#        one gzip layer of the whole rootfs (umoci init/new/insert), PATH set, cmd /bin/bash
#
# Idempotent: what has its .done file is not built again. Parallel callers take turns on
# a lock per product (flock), so each is built once; a build goes to a temporary folder
# next to it and is renamed into place, so a half-built one is never seen. The rootfs
# takes about 22-26 s here (Debian mirrors only; no other network), the layout a few s.
# Environment: REXX_DEBIAN_ROOTFS_DIR (default /var/lib/rexx-address/debian-rootfs),
# REXX_DEBIAN_ROOTFS_REBUILD=1 to build again. Prints the path of what was asked for
# (the layout with --oci, else the rootfs) on its last line.
set -euo pipefail

OUT_DIR="${REXX_DEBIAN_ROOTFS_DIR:-/var/lib/rexx-address/debian-rootfs}"
SUITE=bookworm
ROOT="$OUT_DIR/$SUITE"
LAYOUT="$OUT_DIR/$SUITE-oci"

log() { printf '%s\n' "build-debian-rootfs: $*" >&2; }
die() { printf '%s\n' "build-debian-rootfs: ERROR: $*" >&2; exit 1; }

# ensure PATH BUILDER: run BUILDER TMPDIR (it leaves its product in TMPDIR/out) unless
# PATH.done says PATH is complete; under PATH.lock; then rename it into place.
ensure() {
  local target="$1" builder="$2" tmp t0
  local done="$target.done"
  if [[ "${REXX_DEBIAN_ROOTFS_REBUILD:-0}" != 1 && -f "$done" && -d "$target" ]]; then
    log "$(basename "$target"): ok (cached)"
    return 0
  fi
  [[ $(id -u) -eq 0 ]] || die "must run as root (debootstrap, umoci)"
  mkdir -p "$OUT_DIR"
  exec 8>"$target.lock"
  flock -w 900 8 || die "another build holds $target.lock for 900 s"
  if [[ "${REXX_DEBIAN_ROOTFS_REBUILD:-0}" != 1 && -f "$done" && -d "$target" ]]; then
    log "$(basename "$target"): ok (built by a parallel caller)"
    exec 8>&-
    return 0
  fi
  t0=$(date +%s%N)
  tmp="$(mktemp -d "$OUT_DIR/.build-$(basename "$target").XXXXXX")"
  chmod 755 "$tmp"
  if ! "$builder" "$tmp"; then rm -rf "$tmp"; die "building $target failed"; fi
  rm -rf "$target" "$done"
  mv "$tmp/out" "$target"
  rm -rf "$tmp"
  printf 'built=%s\n' "$(date -u +%FT%TZ)" >"$done"
  log "built $target ($(du -sb "$target" | cut -f1) bytes) in $(( ($(date +%s%N) - t0) / 1000000 )) ms"
  exec 8>&-
}

build_rootfs() {
  command -v debootstrap >/dev/null || die "debootstrap is not installed (scripts/setup-host.sh installs it)"
  # The host's own mirror (its sources name the one that answers here).
  local mirror f
  mirror="$(sed -n 's/^URIs: *\(http[^ ]*debian\)\/*$/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n1)"
  [[ -n "$mirror" ]] || mirror="$(awk '$1 == "deb" && $3 == "'"$SUITE"'" { print $2; exit }' /etc/apt/sources.list 2>/dev/null || true)"
  [[ -n "$mirror" ]] || mirror=http://deb.debian.org/debian
  debootstrap --variant=minbase "$SUITE" "$1/out" "$mirror" >"$1/debootstrap.log" 2>&1 \
    || { tail -n 20 "$1/debootstrap.log" >&2; return 1; }
  # The host's apt sources, so `apt-get` in a copy reaches the same mirrors.
  rm -f "$1/out/etc/apt/sources.list"
  [[ -f /etc/apt/sources.list ]] && cp /etc/apt/sources.list "$1/out/etc/apt/sources.list"
  mkdir -p "$1/out/etc/apt/sources.list.d"
  for f in /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list; do
    [[ -f "$f" ]] && cp "$f" "$1/out/etc/apt/sources.list.d/"
  done
  # No downloaded .debs, no apt lists: smaller, and nothing stale.
  rm -rf "$1/out/var/cache/apt/archives/"*.deb "$1/out/var/lib/apt/lists/"* 2>/dev/null || true
}

build_oci() {
  command -v umoci >/dev/null || die "umoci is not installed (scripts/setup-host.sh installs it)"
  umoci init --layout "$1/out" &&
    umoci new --image "$1/out:$SUITE" &&
    umoci insert --image "$1/out:$SUITE" "$ROOT" / >/dev/null &&
    umoci config --image "$1/out:$SUITE" \
      --config.env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
      --config.cmd /bin/bash --config.label "org.opencontainers.image.title=rexx-debian-$SUITE-minbase" &&
    umoci gc --layout "$1/out"
}

ensure "$ROOT" build_rootfs
if [[ "${1:-}" == --oci ]]; then
  ensure "$LAYOUT" build_oci
  echo "$LAYOUT"
else
  echo "$ROOT"
fi
