#!/usr/bin/env bash
# Build (once) a tiny bootable guest for the QEMU handler's tests:
#   /var/lib/rexx-address/qemu-guest/vmlinuz     Debian 6.1 "cloud" kernel (not installed on the host)
#   /var/lib/rexx-address/qemu-guest/initrd.img  busybox initramfs (cpio newc, gzip)
#
# Guest behaviour (a contract the tests rely on):
#   * /init mounts proc, sys and dev, then prints the line REXX-GUEST-READY on the console.
#   * kernel command line contains rexx.halt=1  -> `poweroff -f` right away (QEMU exits 0
#     when started with -no-reboot).
#   * kernel command line contains rexx.counter=1 -> a background loop prints
#     "REXX-COUNTER N" (N = 0, 1, 2 ...) on the console about every 200 ms: the
#     save_state / restore_state / migrate tests read it to show the guest went on
#     where it was (no restart from 0).
#   * otherwise -> a busybox shell on the console (ttyS0 with console=ttyS0), prompt
#     "rexx-guest# "; leaving that shell powers the guest off.
#
# Verified boot command (TCG, KVM is broken on the dev VM):
#   qemu-system-x86_64 -accel tcg -machine pc -m 256 -nographic -no-reboot \
#     -kernel vmlinuz -initrd initrd.img -append "console=ttyS0 rexx.halt=1 quiet"
#
# Idempotent: when both files exist and guest-version.txt names this script's hash nothing is done (override the folder with
# REXX_QEMU_GUEST_DIR; force a rebuild with REXX_QEMU_GUEST_REBUILD=1).
set -euo pipefail

OUT_DIR="${REXX_QEMU_GUEST_DIR:-/var/lib/rexx-address/qemu-guest}"
MARKER="REXX-GUEST-READY"
# The cached guest is this script's: any change to it (a new /init block) rebuilds it,
# without a version number two branches would each bump to the same value.
GUEST_VERSION="$(sha256sum "${BASH_SOURCE[0]}" | cut -c1-16)"

log() { printf '%s\n' "build-qemu-guest: $*"; }
die() { printf '%s\n' "build-qemu-guest: ERROR: $*" >&2; exit 1; }

if [[ "${REXX_QEMU_GUEST_REBUILD:-0}" != 1 && -s "$OUT_DIR/vmlinuz" && -s "$OUT_DIR/initrd.img" \
      && "$(cat "$OUT_DIR/guest-version.txt" 2>/dev/null)" == "$GUEST_VERSION" ]]; then
  log "ok ($OUT_DIR/vmlinuz, $OUT_DIR/initrd.img cached)"
  exit 0
fi

[[ $(id -u) -eq 0 ]] || die "must run as root"

# Tools needed to build: busybox-static, cpio, gzip, dpkg-deb (dpkg), apt.
APT_UPDATED=0
apt_update_once() {
  if [[ $APT_UPDATED -eq 0 ]]; then
    apt-get update -qq || die "apt-get update failed"
    APT_UPDATED=1
  fi
}
missing=()
for p in busybox-static cpio gzip; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  log "installing ${missing[*]}"
  apt_update_once
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends "${missing[@]}" >/dev/null \
    || die "apt-get install ${missing[*]} failed"
fi
BUSYBOX=/bin/busybox
[[ -x $BUSYBOX ]] || die "$BUSYBOX missing (package busybox-static)"

# Exact name of the current Debian cloud kernel: the metapackage depends on it.
kernel_pkg() {
  apt-cache depends linux-image-cloud-amd64 2>/dev/null \
    | sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-cloud-amd64\)$/\1/p' | head -n1
}
KPKG="$(kernel_pkg)"
if [[ -z "$KPKG" ]]; then
  apt_update_once
  KPKG="$(kernel_pkg)"
fi
[[ -n "$KPKG" ]] || die "cannot find the Debian cloud kernel package (apt-cache depends linux-image-cloud-amd64)"

WORK="$(mktemp -d /tmp/rexx-qemu-guest.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
chmod 755 "$WORK"   # lets apt's _apt user write there (no "unsandboxed" warning)

log "downloading $KPKG (not installed)"
if ! (cd "$WORK" && apt-get download -qq "$KPKG" >/dev/null 2>&1); then
  # stale package lists (the mirror dropped that version): refresh once and retry
  apt_update_once
  KPKG="$(kernel_pkg)"
  (cd "$WORK" && apt-get download -qq "$KPKG" >/dev/null) || die "apt-get download $KPKG failed"
fi
deb=("$WORK"/"$KPKG"_*.deb)
[[ -f "${deb[0]}" ]] || die "downloaded .deb for $KPKG not found"
mkdir "$WORK/kernel"
dpkg-deb -x "${deb[0]}" "$WORK/kernel"
vmlinuz=("$WORK"/kernel/boot/vmlinuz-*)
[[ -f "${vmlinuz[0]}" ]] || die "no /boot/vmlinuz-* in ${deb[0]}"

# --- initramfs -------------------------------------------------------------------------
R="$WORK/initramfs"
mkdir -p "$R"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,root,etc}
chmod 1777 "$R/tmp"
cp "$BUSYBOX" "$R/bin/busybox"
# one symlink per applet, at the path busybox itself reports (bin, sbin, usr/bin, ...)
while read -r applet; do
  [[ "$applet" == /bin/busybox ]] && continue
  [[ -e "$R$applet" ]] || ln -s /bin/busybox "$R$applet"
done < <("$BUSYBOX" --list-full | sed 's|^|/|')
[[ -e "$R/bin/sh" ]] || ln -s busybox "$R/bin/sh"
echo 'root:x:0:0:root:/root:/bin/sh' >"$R/etc/passwd"
echo 'root:x:0:' >"$R/etc/group"
echo rexx-guest >"$R/etc/hostname"
# static device nodes so early output works even before devtmpfs is mounted
mknod -m 600 "$R/dev/console" c 5 1
mknod -m 666 "$R/dev/null" c 1 3

cat >"$R/init" <<EOF
#!/bin/sh
# PID 1 of the rexx-address QEMU test guest.
export PATH=/sbin:/bin:/usr/sbin:/usr/bin HOME=/root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
hostname rexx-guest
exec </dev/console >/dev/console 2>&1
echo "$MARKER"
case " \$(cat /proc/cmdline) " in
  *" rexx.halt=1 "*) poweroff -f ;;
esac
# rexx.counter=1: a counter on the console every ~200 ms (save_state/migrate tests).
case " \$(cat /proc/cmdline) " in
  *" rexx.counter=1 "*) ( n=0; while :; do echo "REXX-COUNTER \$n"; n=\$((n+1)); sleep 0.2; done ) & ;;
esac
export PS1='rexx-guest# '
# A shell on the console with a controlling tty (job control, ^C). PID 1 must not exit,
# so when the shell ends the guest powers off.
setsid cttyhack sh
poweroff -f
sleep 3600
EOF
chmod 755 "$R/init"

mkdir -p "$OUT_DIR"
(cd "$R" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --quiet -R 0:0) | gzip -9 >"$WORK/initrd.img"
install -m 644 "${vmlinuz[0]}" "$OUT_DIR/vmlinuz.tmp"
install -m 644 "$WORK/initrd.img" "$OUT_DIR/initrd.img.tmp"
echo "$KPKG" >"$OUT_DIR/kernel-package.txt"
echo "$GUEST_VERSION" >"$OUT_DIR/guest-version.txt"
mv -f "$OUT_DIR/vmlinuz.tmp" "$OUT_DIR/vmlinuz"
mv -f "$OUT_DIR/initrd.img.tmp" "$OUT_DIR/initrd.img"
log "created $OUT_DIR/vmlinuz ($KPKG) and $OUT_DIR/initrd.img ($(stat -c %s "$OUT_DIR/initrd.img") bytes)"
