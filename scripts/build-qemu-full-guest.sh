#!/usr/bin/env bash
# Build (once) the "full" Debian guest for the QEMU handler's agent and cloud-init tests
# (the tiny busybox guest of build-qemu-guest.sh stays for the fast tests):
#
#   /var/lib/rexx-address/qemu-full-guest/disk.qcow2   bookworm minbase + systemd-sysv, udev,
#        qemu-guest-agent, cloud-init, ifupdown, isc-dhcp-client, linux-image-cloud-amd64,
#        initramfs-tools; root on /dev/vda (ext4, 2 GiB virtual)
#   /var/lib/rexx-address/qemu-full-guest/vmlinuz      the guest's own kernel and initrd: the
#   /var/lib/rexx-address/qemu-full-guest/initrd.img   cached busybox-guest kernel has virtio-blk,
#        virtio-console and iso9660 only as modules, so a disk boot needs these
#   /var/lib/rexx-address/qemu-full-guest/.done        written last: the build is complete
#
# Guest behaviour (a contract the tests rely on):
#   * boots with  -kernel vmlinuz -initrd initrd.img -append "root=/dev/vda console=ttyS0"
#     (REXX_FULL_GUEST_APPEND below), a getty on ttyS0;
#   * qemu-ga starts when the virtserialport org.qemu.guest_agent.0 appears (Debian's udev rule);
#   * cloud-init runs when a NoCloud seed (a "cidata" CD) is attached, and is disabled for
#     a boot without one (ds-identify), which saves a minute of TCG per boot;
#     locale C.UTF-8 (without it cloud-config fails).
#
# Starts from a copy of the shared bookworm rootfs (scripts/build-debian-rootfs.sh), which
# saves the ~22 s debootstrap. Idempotent: nothing is done when .done exists and names this
# recipe (RECIPE below; override the
# folder with REXX_QEMU_FULL_GUEST_DIR, force a rebuild with REXX_QEMU_FULL_GUEST_REBUILD=1).
# Parallel callers take turns on a lock (flock), so it is built once; the build goes to a
# temporary folder renamed into place. Prints the folder on its last line.
set -euo pipefail

OUT_DIR="${REXX_QEMU_FULL_GUEST_DIR:-/var/lib/rexx-address/qemu-full-guest}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PKGS=(systemd-sysv udev qemu-guest-agent cloud-init ifupdown isc-dhcp-client linux-image-cloud-amd64 initramfs-tools)
DISK_SIZE=2G

log() { printf '%s\n' "build-qemu-full-guest: $*" >&2; }
die() { printf '%s\n' "build-qemu-full-guest: ERROR: $*" >&2; exit 1; }

# The recipe's version, kept in .done: a guest built by an older recipe is built again.
RECIPE=2
complete() { [[ "${REXX_QEMU_FULL_GUEST_REBUILD:-0}" != 1 && -s "$OUT_DIR/disk.qcow2" ]] && grep -qx "recipe=$RECIPE" "$OUT_DIR/.done" 2>/dev/null; }
if complete; then
  log "ok ($OUT_DIR cached)"
  echo "$OUT_DIR"
  exit 0
fi
[[ $(id -u) -eq 0 ]] || die "must run as root (chroot, mkfs)"
mkdir -p "$(dirname "$OUT_DIR")"
exec 8>"$OUT_DIR.lock"
flock -w 1200 8 || die "another build holds $OUT_DIR.lock for 1200 s"
if complete; then
  log "ok (built by a parallel caller)"
  echo "$OUT_DIR"
  exit 0
fi
for t in qemu-img mkfs.ext4; do command -v "$t" >/dev/null || die "$t is not installed (scripts/setup-host.sh installs it)"; done

t0=$(date +%s%N)
BASE="$("$HERE/build-debian-rootfs.sh" | tail -n1)"
[[ -d "$BASE" ]] || die "no Debian rootfs at $BASE"

WORK="$(mktemp -d "$(dirname "$OUT_DIR")/.build-qemu-full-guest.XXXXXX")"
R="$WORK/root"
MOUNTS=()
cleanup() {
  local i
  for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do umount -l "${MOUNTS[$i]}" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
chmod 755 "$WORK"
cp -a "$BASE" "$R"
log "copied $BASE ($(( ($(date +%s%N) - t0) / 1000000 )) ms)"

for m in proc sys dev dev/pts; do
  mkdir -p "$R/$m"
  case $m in
    proc) mount -t proc proc "$R/proc" ;;
    sys) mount -t sysfs sysfs "$R/sys" ;;
    dev) mount --bind /dev "$R/dev" ;;
    dev/pts) mount -t devpts devpts "$R/dev/pts" ;;
  esac
  MOUNTS+=("$R/$m")
done
cp -L /etc/resolv.conf "$R/etc/resolv.conf"
# No service starts inside the chroot.
printf '#!/bin/sh\nexit 101\n' >"$R/usr/sbin/policy-rc.d"
chmod 755 "$R/usr/sbin/policy-rc.d"

in_root() { chroot "$R" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive LC_ALL=C "$@"; }
in_root apt-get -qq update >"$WORK/apt.log" 2>&1 || { tail -n 20 "$WORK/apt.log" >&2; die "apt-get update in the chroot failed"; }
in_root apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends "${PKGS[@]}" >>"$WORK/apt.log" 2>&1 \
  || { tail -n 30 "$WORK/apt.log" >&2; die "apt-get install ${PKGS[*]} in the chroot failed"; }
log "installed ${PKGS[*]} ($(( ($(date +%s%N) - t0) / 1000000 )) ms)"

# --- guest configuration ---------------------------------------------------------------
echo rexx-full-guest >"$R/etc/hostname"
printf '127.0.0.1 localhost\n127.0.1.1 rexx-full-guest\n' >"$R/etc/hosts"
echo '/dev/vda / ext4 defaults,errors=remount-ro 0 1' >"$R/etc/fstab"
# A fresh machine-id on each VM's first boot (clones of one disk must not share it).
: >"$R/etc/machine-id"
rm -f "$R/var/lib/dbus/machine-id"
# Root without a password on the serial console only (a test guest, never exposed).
in_root passwd -d root >/dev/null
printf 'source-directory /etc/network/interfaces.d\nauto lo\niface lo inet loopback\n' >"$R/etc/network/interfaces"
mkdir -p "$R/etc/cloud/cloud.cfg.d"
cat >"$R/etc/cloud/cloud.cfg.d/90-rexx.cfg" <<'EOF'
# rexx-address full guest: cloud-init runs only when a NoCloud seed (a "cidata" CD) is
# attached. Two datasources, so ds-identify really searches (with one, it assumes it is
# there) and, finding neither label (cidata, config-2), disables cloud-init for the boot.
datasource_list: [ NoCloud, ConfigDrive ]
# Without a locale cloud-config fails in a minbase guest (C.UTF-8 is always there).
locale: C.UTF-8
EOF
# qemu-ga: Debian starts it from udev when its port appears; make sure it is wanted.
in_root systemctl enable qemu-guest-agent.service >/dev/null 2>&1 || true
in_root systemctl enable serial-getty@ttyS0.service >/dev/null 2>&1 || true
# Faster boots under TCG: no timers that wake apt or man-db.
in_root systemctl mask apt-daily.timer apt-daily-upgrade.timer >/dev/null 2>&1 || true

K="$(ls "$R"/boot/vmlinuz-* 2>/dev/null | sort -V | tail -n1)"
I="$(ls "$R"/boot/initrd.img-* 2>/dev/null | sort -V | tail -n1)"
[[ -f "$K" && -f "$I" ]] || die "no kernel/initrd under $R/boot"
mkdir -p "$WORK/out"
install -m 644 "$K" "$WORK/out/vmlinuz"
install -m 644 "$I" "$WORK/out/initrd.img"
basename "$K" | sed 's/^vmlinuz-//' >"$WORK/out/kernel-version.txt"

# Nothing that only the build needed.
rm -f "$R/usr/sbin/policy-rc.d" "$R/etc/resolv.conf"
in_root apt-get clean
rm -rf "$R/var/lib/apt/lists/"* "$R/var/log/"*.log "$R/var/log/apt/"* "$R/tmp/"* 2>/dev/null || true
for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do umount "${MOUNTS[$i]}" || umount -l "${MOUNTS[$i]}"; done
MOUNTS=()

truncate -s "$DISK_SIZE" "$WORK/disk.raw"
mkfs.ext4 -q -F -L rexx-root -d "$R" "$WORK/disk.raw" || die "mkfs.ext4 -d failed"
qemu-img convert -f raw -O qcow2 "$WORK/disk.raw" "$WORK/out/disk.qcow2" || die "qemu-img convert failed"
chmod 644 "$WORK/out/disk.qcow2"
printf 'built=%s\npackages=%s\n' "$(date -u +%FT%TZ)" "${PKGS[*]}" >"$WORK/out/build-info.txt"

# The old build (an older recipe) moves aside first and goes with $WORK: a QEMU still
# running on it keeps its open files.
[[ -e "$OUT_DIR" ]] && mv "$OUT_DIR" "$WORK/old"
mv "$WORK/out" "$OUT_DIR"
printf 'built=%s\nrecipe=%s\n' "$(date -u +%FT%TZ)" "$RECIPE" >"$OUT_DIR/.done"
log "built $OUT_DIR (disk.qcow2 $(stat -c %s "$OUT_DIR/disk.qcow2") bytes) in $(( ($(date +%s%N) - t0) / 1000000 )) ms"
echo "$OUT_DIR"
