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
#   * networking and devices (qnet block of /init, before the marker): the virtio PCI,
#     virtio_net (with net_failover, failover) and virtio_blk modules of the cloud kernel
#     are loaded, so NICs and disks hot-plugged later appear too. Kernel command line:
#       rexx.net=dhcp       -> udhcpc on every ethN in the background; on a lease the guest
#                              prints "REXX-NET-UP ethN A.B.C.D" (/etc/udhcpc.script)
#       rexx.httpd=PORT     -> busybox httpd on PORT serving "REXX-HTTPD-OK" (index.html)
#       rexx.devwatch=1     -> prints "REXX-DEVICES: <net ifaces> | <block devs>" on the
#                              console at boot and whenever /sys/class/net or /sys/block change
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
# qnet: the kernel modules networking and hot-plugged disks need, in load order (the
# package has no modules.dep: depmod runs at install, and it is not installed).
KMOD="$(echo "$WORK"/kernel/lib/modules/*)"
NET_MODULES="drivers/virtio/virtio_ring.ko drivers/virtio/virtio.ko drivers/virtio/virtio_pci_legacy_dev.ko drivers/virtio/virtio_pci_modern_dev.ko drivers/virtio/virtio_pci.ko net/core/failover.ko drivers/net/net_failover.ko drivers/net/virtio_net.ko drivers/block/virtio_blk.ko"
mkdir -p "$R/lib/modules"
for m in $NET_MODULES; do
  f="$KMOD/kernel/$m"
  [[ -f $f ]] || f="$(ls "$f".* 2>/dev/null | head -n1)"
  [[ -f $f ]] || die "module $m missing in $KPKG"
  case $f in
    *.ko) cp "$f" "$R/lib/modules/" ;;
    *.ko.xz) xz -dc "$f" >"$R/lib/modules/$(basename "$m")" ;;
    *) die "module $f: unknown compression" ;;
  esac
done
echo "$NET_MODULES" | tr ' ' '\n' | sed 's|.*/||' >"$R/lib/modules/order"
cat >"$R/etc/udhcpc.script" <<'EOF'
#!/bin/sh
# udhcpc's hook: configure the lease it got, and say so on the console.
case "$1" in
  deconfig) ip addr flush dev "$interface"; ip link set "$interface" up ;;
  bound|renew)
    ip addr flush dev "$interface"
    ip addr add "$ip/${mask:-24}" dev "$interface"
    [ -n "$router" ] && ip route replace default via "${router%% *}" dev "$interface"
    echo "REXX-NET-UP $interface $ip" >/dev/console ;;
esac
exit 0
EOF
chmod 755 "$R/etc/udhcpc.script"
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
# --- qnet: network and hot-plug devices (see the header) ---
for m in \$(cat /lib/modules/order); do insmod /lib/modules/\$m 2>/dev/null; done
ip link set lo up
for w in \$(cat /proc/cmdline); do
  case \$w in
    rexx.net=dhcp)
      for i in \$(ls /sys/class/net); do
        [ "\$i" = lo ] && continue
        ip link set "\$i" up
        udhcpc -b -q -i "\$i" -s /etc/udhcpc.script -t 20 -T 2 >/dev/null 2>&1
      done ;;
    rexx.httpd=*)
      mkdir -p /www && echo REXX-HTTPD-OK >/www/index.html
      httpd -p "\${w#rexx.httpd=}" -h /www ;;
    rexx.devwatch=1)
      ( last=; while :; do
          now="\$(ls /sys/class/net | tr '\n' ' ')| \$(ls /sys/block | tr '\n' ' ')"
          [ "\$now" != "\$last" ] && echo "REXX-DEVICES: \$now" && last="\$now"
          sleep 0.5
        done ) & ;;
  esac
done
# --- end qnet ---
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
