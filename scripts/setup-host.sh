#!/usr/bin/env bash
# Bring this host up for rexxjs-address-virt: the real tools the handlers drive, their
# daemons, and the fixtures the integration tests rely on. Run as root. Idempotent and
# fast (a few seconds) when everything is already in place; safe to run again after a
# daemon died (it restarts lxd / zfs-fuse, the image and pools survive).
#
# Contract (names the TypeScript code and the tests use):
#   LXD  storage pool  $REXX_LXD_POOL (default rexxbt, btrfs, loop file) = root disk of
#        the default profile, so copies are copy-on-write subvolume snapshots
#        image alias   tiny      busybox-static rootfs: /sbin/init=busybox, /bin/sh,
#                                DHCP on eth0 (udhcpc) when the instance has an eth0
#        network       rexxbr0   bridge 10.231.7.1/24, ipv4.nat=false, no IPv6
#        profile       rexx-net  only eth0 (nic on rexxbr0); use "-p default -p rexx-net"
#        profile       default   root disk on the pool above, and eth0 on rexxbr0 (unless
#                                REXX_SETUP_DEFAULT_NIC=0 or the user changed it)
#   Incus (bookworm-backports incus-base + incus-client, incusd started by hand)
#        storage pool  default   dir;  network rexxincbr0 10.231.17.1/24, no NAT, no IPv6
#        profile       default   root disk on default, eth0 on rexxincbr0
#        image alias   tiny      the same tarball as LXD's (lxc image export)
#   ZFS  zfs-fuse daemon, pool $REXX_ZFS_POOL (default rexxpool) on the sparse file
#        /var/lib/rexx-address/zfs/<pool>.img (4G)
#   QEMU /var/lib/rexx-address/qemu-guest/{vmlinuz,initrd.img} (scripts/build-qemu-guest.sh)
#   OCI  registry (docker-registry, the CNCF distribution registry) on $REXX_REGISTRY
#        (default 127.0.0.1:5000): plain HTTP, no auth, storage under
#        /var/lib/rexx-address/registry; never the packaged service
#   Debian minbase rootfs /var/lib/rexx-address/debian-rootfs/bookworm
#        (scripts/build-debian-rootfs.sh: built once, ~25 s, then cached), as an OCI
#        layout next to it (scripts/build-debian-rootfs.sh --oci) and in the registry as
#        rexx/debian:bookworm (examples/lxcri-registry.rexx pulls it)
#   QEMU full guest /var/lib/rexx-address/qemu-full-guest/{disk.qcow2,vmlinuz,initrd.img}
#        (scripts/build-qemu-full-guest.sh, from a copy of that rootfs: systemd, qemu-ga,
#        cloud-init; built once, about 1-3 min, then cached) for the agent and cloud-init tests
#
# No systemd is assumed: daemons are started directly. Environment:
#   REXX_LXD_POOL, REXX_ZFS_POOL   names above
#   REXX_SETUP_VERIFY=1            also run the LXD smoke tests when nothing was created
#   REXX_SETUP_SKIP_QEMU=1         do not build the QEMU guests
#   REXX_SETUP_SKIP_QEMU_FULL=1    do not build the full QEMU guest (the busybox one still)
#   REXX_SETUP_SKIP_DEBIAN=1       do not build the Debian rootfs
#   REXX_SETUP_SKIP_INCUS=1        do not install or start Incus
#   REXX_REGISTRY=HOST:PORT        where the local OCI registry listens (127.0.0.1:5000)
#   REXX_SETUP_DEFAULT_NIC=0       do not give the default profile a network device
set -euo pipefail

LXD_POOL="${REXX_LXD_POOL:-rexxbt}"
ZFS_POOL="${REXX_ZFS_POOL:-rexxpool}"
LXD_POOL_SIZE="8GiB"
IMAGE_ALIAS="tiny"
IMAGE_VERSION="3"          # bump when the tiny image's content changes: it is re-imported
BRIDGE="rexxbr0"
BRIDGE_ADDR="10.231.7.1/24"
NET_PROFILE="rexx-net"
STATE_DIR="/var/lib/rexx-address"
ZFS_IMG="$STATE_DIR/zfs/$ZFS_POOL.img"
ZFS_IMG_SIZE="4G"
ZFS_PIDFILE="/var/run/zfs-fuse.pid"
LXD_LOG="/var/log/lxd-rexx.log"
SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# docker-registry: the local OCI registry of the LXCRI image_pull/image_push tests (started
# below with its own config, never the packaged service); curl: its health check.
# openssh-server: the sshd the ZFS replication tests start on 127.0.0.1 (never the packaged
# service); psmisc: fuser, which ADDRESS ZFS asks before unmounting a dataset; pv: the
# limiter of ZFS replicate bwlimit= (pv -L, a middle stage of the pipe).
# socat, lz4, zstd: ADDRESS QEMU save_state / restore_state stream the VM state between
# QEMU's migration socket and the compressed file (socat -u UNIX-LISTEN | lz4).
# cloud-image-utils: cloud-localds, which ADDRESS QEMU cloud_init builds its NoCloud seed ISO with.
PACKAGES=(lxd lxd-client btrfs-progs busybox-static dnsmasq-base iptables zfs-fuse
          qemu-utils qemu-system-x86 runc crun criu umoci skopeo debootstrap cpio gzip
          uidmap openssh-server psmisc pv docker-registry curl socat lz4 zstd cloud-image-utils)

T0=$(date +%s%N)
STEP_T0=$T0
# One line per step, with the ms it took (since the previous line): where a slow set-up spends its time.
say() {
  local now; now=$(date +%s%N)
  printf '%-22s %s (%d ms)\n' "$1:" "$2" $(( (now - STEP_T0) / 1000000 ))
  STEP_T0=$now
}
die() { printf 'setup-host: ERROR: %s\n' "$*" >&2; exit 1; }
elapsed() { echo $(( ($(date +%s%N) - T0) / 1000000 )); }

[[ $(id -u) -eq 0 ]] || die "must run as root (it installs packages and starts lxd / zfs-fuse)"

# One setup at a time (parallel test runners may all call this). fd 9 holds the lock;
# every daemon we start gets 9>&- so it does not inherit (and keep) the lock, and starts in /
# (env -C /): a daemon left in the caller's folder breaks when that folder goes (a CI
# clone removed: LXD's and Incus's rsync then fail with "getcwd(): No such file or directory").
mkdir -p "$STATE_DIR"
exec 9>"$STATE_DIR/setup-host.lock"
flock -w 900 9 || die "another setup-host.sh holds $STATE_DIR/setup-host.lock"

WORK="$(mktemp -d /tmp/rexx-setup.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT

# ---------------------------------------------------------------- packages
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  apt-get update -qq || die "apt-get update failed"
  # Packaged services must not start (this script starts what it needs itself; the
  # packaged sshd would listen on every interface): a policy-rc.d for the install only.
  own_policy=""
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d && own_policy=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y \
    --no-install-recommends "${missing[@]}" >"$WORK/apt.log" 2>&1 \
    || { [[ -z "$own_policy" ]] || rm -f /usr/sbin/policy-rc.d; tail -n 30 "$WORK/apt.log" >&2; die "apt-get install ${missing[*]} failed"; }
  [[ -z "$own_policy" ]] || rm -f /usr/sbin/policy-rc.d
  say packages "installed ${#missing[@]} (${missing[*]})"
else
  say packages "ok"
fi

# ---------------------------------------------------------------- LXD daemon
getent group lxd >/dev/null || groupadd --system lxd
lxd_up() { timeout 10 lxc query /1.0 >/dev/null 2>&1; }
# The daemon itself: "[lxc monitor] ..." and "lxd forkexec ..." helpers also have comm
# "lxd" (and outlive a killed daemon), so look at the arguments too.
# Only this machine's own: the LXD daemons of nested cluster members (setup-cluster.sh)
# show in ps too, and one of them must not pass for the host's daemon.
in_our_pid_ns() {
  local ns p; ns="$(readlink /proc/self/ns/pid)"
  while read -r p; do [[ "$(readlink "/proc/$p/ns/pid" 2>/dev/null)" == "$ns" ]] && printf '%s\n' "$p"; done
  return 0
}
lxd_daemon_pids() {
  ps -eo pid=,comm=,args= | awk '$2 == "lxd" && $3 ~ /(^|\/)lxd$/ && ($4 == "" || $4 ~ /^--/) { print $1 }' | in_our_pid_ns
}
if lxd_up; then
  say lxd "ok"
else
  # A daemon that is still starting or still shutting down: wait until it answers or exits.
  for _ in $(seq 1 600); do
    [[ -n "$(lxd_daemon_pids)" ]] || break
    lxd_up && break
    sleep 0.2
  done
  if lxd_up; then
    say lxd "ok (was starting)"
  else
    [[ -z "$(lxd_daemon_pids)" ]] || die "lxd (pid $(lxd_daemon_pids | tr '\n' ' ')) runs but does not answer on /var/lib/lxd/unix.socket after 120 s (see $LXD_LOG)"
    setsid nohup env -C / /usr/bin/lxd --group lxd --logfile="$LXD_LOG" </dev/null >/dev/null 2>&1 9>&- &
    lxd waitready --timeout=120 >/dev/null 2>&1 || die "lxd did not become ready in 120 s (see $LXD_LOG)"
    say lxd "started (log $LXD_LOG)"
  fi
fi

# ---------------------------------------------------------------- LXD init
# `lxd init --auto` fails on this kind of host (no free subnet is found), so preseed:
# a dir pool "default", no networks, and a root disk in the default profile.
profile_root_pool() { lxc profile device get default root pool 2>/dev/null || true; }
if [[ -z "$(profile_root_pool)" ]]; then
  if lxc storage show default >/dev/null 2>&1; then
    lxc profile device add default root disk path=/ pool=default >/dev/null
  else
    lxd init --preseed <<'EOF' || die "lxd init --preseed failed"
config: {}
networks: []
storage_pools:
- name: default
  driver: dir
  config: {}
profiles:
- name: default
  devices:
    root:
      type: disk
      path: /
      pool: default
EOF
  fi
  say lxd-init "initialized (dir pool default, root disk in profile default)"
else
  say lxd-init "ok"
fi

# ---------------------------------------------------------------- LXD storage pool
if lxc storage show "$LXD_POOL" >/dev/null 2>&1; then
  say "lxd pool $LXD_POOL" "ok ($(lxc storage get "$LXD_POOL" source 2>/dev/null || true))"
else
  lxc storage create "$LXD_POOL" btrfs size="$LXD_POOL_SIZE" >/dev/null \
    || die "lxc storage create $LXD_POOL btrfs size=$LXD_POOL_SIZE failed"
  say "lxd pool $LXD_POOL" "created (btrfs, $LXD_POOL_SIZE loop file)"
fi
if [[ "$(profile_root_pool)" != "$LXD_POOL" ]]; then
  lxc profile device set default root pool="$LXD_POOL" \
    || die "cannot move the default profile's root disk to pool $LXD_POOL (instances still use the old pool? delete them first)"
  say "profile default" "root disk -> $LXD_POOL"
else
  say "profile default" "ok (root disk on $LXD_POOL)"
fi

# ---------------------------------------------------------------- LXD bridge + profile
# No NAT: traffic stays on this machine. dnsmasq (dnsmasq-base) serves DHCP on it.
if lxc network show "$BRIDGE" >/dev/null 2>&1; then
  fixed=""
  [[ "$(lxc network get "$BRIDGE" ipv4.nat)" == "false" ]] || { lxc network set "$BRIDGE" ipv4.nat=false; fixed=" (nat turned off)"; }
  say "network $BRIDGE" "ok$fixed"
else
  lxc network create "$BRIDGE" ipv4.address="$BRIDGE_ADDR" ipv4.nat=false ipv6.address=none >/dev/null \
    || die "lxc network create $BRIDGE failed"
  say "network $BRIDGE" "created ($BRIDGE_ADDR, no NAT, no IPv6)"
fi
if ! lxc profile show "$NET_PROFILE" >/dev/null 2>&1; then
  lxc profile create "$NET_PROFILE" >/dev/null
  lxc profile set "$NET_PROFILE" user.rexx.description "eth0 on $BRIDGE (DHCP, no NAT); add with -p default -p $NET_PROFILE" >/dev/null 2>&1 || true
  created_profile=1
else
  created_profile=0
fi
if [[ "$(lxc profile device get "$NET_PROFILE" eth0 network 2>/dev/null || true)" != "$BRIDGE" ]]; then
  lxc profile device remove "$NET_PROFILE" eth0 >/dev/null 2>&1 || true
  lxc profile device add "$NET_PROFILE" eth0 nic network="$BRIDGE" name=eth0 >/dev/null \
    || die "cannot add eth0 to profile $NET_PROFILE"
  ((created_profile)) && say "profile $NET_PROFILE" "created (eth0 on $BRIDGE)" || say "profile $NET_PROFILE" "fixed (eth0 on $BRIDGE)"
else
  say "profile $NET_PROFILE" "ok"
fi
# As `lxd init --auto` would set it up: the default profile gives every instance an eth0
# on the project bridge, so `start wait=ip` works out of the box. Not when the user chose
# otherwise: the default profile has a nic already, REXX_SETUP_DEFAULT_NIC=0, or we added
# one once (user.rexx.default-nic=added) and it has been removed since.
default_nics=0
for dev in $(lxc profile device list default); do
  [[ "$(lxc profile device get default "$dev" type)" == nic ]] && default_nics=1
done
if ((default_nics)); then
  say "profile default" "ok (has a network device)"
elif [[ "${REXX_SETUP_DEFAULT_NIC:-1}" == "0" ]]; then
  say "profile default" "no network device (REXX_SETUP_DEFAULT_NIC=0)"
elif [[ "$(lxc profile get default user.rexx.default-nic 2>/dev/null || true)" == "added" ]]; then
  say "profile default" "no network device (removed after setup added it: left so)"
else
  lxc profile device add default eth0 nic network="$BRIDGE" name=eth0 >/dev/null \
    || die "cannot add eth0 on $BRIDGE to the default profile"
  lxc profile set default user.rexx.default-nic=added >/dev/null
  say "profile default" "eth0 on $BRIDGE added (as lxd init --auto does; REXX_SETUP_DEFAULT_NIC=0 to skip)"
fi

# ---------------------------------------------------------------- tiny image
build_tiny_image() {
  local d="$WORK/tiny" r="$WORK/tiny/rootfs" applet
  mkdir -p "$r"/{bin,sbin,usr/bin,usr/sbin,etc/init.d,proc,sys,dev,tmp,root,run,var/run,var/log,mnt,usr/share/udhcpc}
  chmod 1777 "$r/tmp"; chmod 700 "$r/root"
  cp /bin/busybox "$r/bin/busybox"
  while read -r applet; do
    [[ "$applet" == bin/busybox ]] && continue
    [[ -e "$r/$applet" ]] || ln -s /bin/busybox "$r/$applet"
  done < <(/bin/busybox --list-full)
  [[ -e "$r/bin/sh" && -e "$r/sbin/init" ]] || die "busybox has no sh/init applet"
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$r/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$r/etc/group"
  printf 'root::0:0:99999:7:::\n' >"$r/etc/shadow"; chmod 600 "$r/etc/shadow"
  printf '127.0.0.1\tlocalhost\n' >"$r/etc/hosts"
  printf '/bin/sh\n' >"$r/etc/shells"
  : >"$r/etc/resolv.conf"
  cat >"$r/etc/inittab" <<'EOF'
# rexx-address tiny image (busybox init). `lxc stop` sends SIGPWR: init halts cleanly.
::sysinit:/etc/init.d/rcS
# keeps one child under init; init itself never exits on its own
::respawn:/bin/sleep 3600
EOF
  cat >"$r/etc/init.d/rcS" <<'EOF'
#!/bin/sh
export PATH=/sbin:/bin:/usr/sbin:/usr/bin
mountpoint -q /proc || mount -t proc proc /proc
mountpoint -q /run  || mount -t tmpfs -o mode=755,nosuid,nodev tmpfs /run 2>/dev/null
ip link set lo up 2>/dev/null
# DHCP only when the instance has an eth0 (profile rexx-net); in the background so boot
# is not delayed. udhcpc stays as a daemon and renews the lease.
if [ -e /sys/class/net/eth0 ]; then
  udhcpc -i eth0 -s /usr/share/udhcpc/default.script -b -t 10 -T 1 -A 2 \
    -x hostname:"$(hostname)" >/var/log/udhcpc.log 2>&1 &
fi
exit 0
EOF
  chmod 755 "$r/etc/init.d/rcS"
  cat >"$r/usr/share/udhcpc/default.script" <<'EOF'
#!/bin/sh
# udhcpc event script: $1 = deconfig|bound|renew|leasefail|nak; env: interface ip mask
# (prefix length) broadcast router dns domain
case "$1" in
  deconfig)
    ip link set "$interface" up
    ip -4 addr flush dev "$interface"
    ;;
  bound|renew)
    if ! ip -4 addr show dev "$interface" | grep -q "inet $ip/${mask:-24} "; then
      ip -4 addr flush dev "$interface"
      ip addr add "$ip/${mask:-24}" broadcast "${broadcast:-+}" dev "$interface"
    fi
    if [ -n "$router" ]; then
      ip route del default dev "$interface" 2>/dev/null
      for r in $router; do ip route add default via "$r" dev "$interface" && break; done
    fi
    if [ -n "$dns" ]; then
      : >/etc/resolv.conf
      [ -n "$domain" ] && echo "search $domain" >>/etc/resolv.conf
      for n in $dns; do echo "nameserver $n" >>/etc/resolv.conf; done
    fi
    ;;
esac
exit 0
EOF
  chmod 755 "$r/usr/share/udhcpc/default.script"
  cat >"$d/metadata.yaml" <<EOF
architecture: x86_64
creation_date: $(date +%s)
properties:
  description: rexx-address tiny busybox image
  os: busybox
  release: "$(/bin/busybox | head -n1 | awk '{print $2}')"
  architecture: x86_64
  rexx_image_version: "$IMAGE_VERSION"
EOF
  tar --numeric-owner --owner=0 --group=0 -C "$d" -czf "$WORK/tiny.tar.gz" metadata.yaml rootfs
}

# The tiny image's version in CLIENT's image store (lxc, or incus).
tiny_version() {
  "${1:-lxc}" image show "$IMAGE_ALIAS" 2>/dev/null | sed -n 's/^ *rexx_image_version: *"\{0,1\}\([^"]*\)"\{0,1\} *$/\1/p' | head -n1 || true
}
image_created=0
if lxc image alias list --format csv 2>/dev/null | cut -d, -f1 | grep -qx "$IMAGE_ALIAS" \
   && [[ "$(tiny_version)" == "$IMAGE_VERSION" ]]; then
  say "image $IMAGE_ALIAS" "ok"
else
  if lxc image alias list --format csv 2>/dev/null | cut -d, -f1 | grep -qx "$IMAGE_ALIAS"; then
    lxc image delete "$IMAGE_ALIAS" >/dev/null   # an older version of this image
  fi
  build_tiny_image
  lxc image import "$WORK/tiny.tar.gz" --alias "$IMAGE_ALIAS" >/dev/null \
    || die "lxc image import of the tiny image failed"
  image_created=1
  say "image $IMAGE_ALIAS" "created ($(stat -c %s "$WORK/tiny.tar.gz") bytes, version $IMAGE_VERSION)"
fi

# ---------------------------------------------------------------- LXD smoke tests
# Run when the image was just (re)built, or on request: init/start/exec/stop/delete on
# the pool, and a DHCP address through rexx-net.
inst_ipv4() {
  lxc query "/1.0/instances/$1/state" 2>/dev/null \
    | tr -d ' \t\n' | grep -o '"address":"[0-9.]*","family":"inet"' | cut -d'"' -f4 | grep -v '^127\.' | head -n1 || true
}
# init/start/exec/delete of the tiny image through CLIENT (lxc or incus).
smoke() {
  local cl="$1" c="rexx-setup-smoke-$1-$$" out
  "$cl" init "$IMAGE_ALIAS" "$c" >/dev/null 2>&1 || die "smoke: $cl init $IMAGE_ALIAS failed"
  "$cl" start "$c" >"$WORK/start.log" 2>&1 || { cat "$WORK/start.log" >&2; "$cl" delete -f "$c" >/dev/null 2>&1; die "smoke: $cl start failed"; }
  out="$("$cl" exec "$c" -- sh -c 'echo hi')" || true
  "$cl" delete -f "$c" >/dev/null 2>&1 || true
  [[ "$out" == hi ]] || die "smoke: $cl exec in the $IMAGE_ALIAS image did not answer (got '$out')"
}
if ((image_created)) || [[ "${REXX_SETUP_VERIFY:-0}" == 1 ]]; then
  smoke lxc
  say "lxd smoke" "ok (init/start/exec/delete on $(profile_root_pool))"

  c="rexx-setup-net-$$"
  lxc init "$IMAGE_ALIAS" "$c" -p default -p "$NET_PROFILE" >/dev/null 2>&1 || die "smoke: lxc init with $NET_PROFILE failed"
  lxc start "$c" >"$WORK/start.log" 2>&1 || { cat "$WORK/start.log" >&2; lxc delete -f "$c" >/dev/null 2>&1; die "smoke: lxc start with $NET_PROFILE failed"; }
  ip4=""
  for _ in $(seq 1 100); do ip4="$(inst_ipv4 "$c")"; [[ -n "$ip4" && "$ip4" != 127.* ]] && break; ip4=""; sleep 0.1; done
  lxc delete -f "$c" >/dev/null 2>&1 || true
  [[ -n "$ip4" ]] || die "smoke: no DHCP IPv4 on $BRIDGE within 10 s (dnsmasq? see $LXD_LOG)"
  say "lxd dhcp smoke" "ok ($ip4 on $BRIDGE)"
fi

# ---------------------------------------------------------------- Incus (beside LXD)
# ADDRESS INCUS (and ADDRESS LXD with REXX_LXD_CLIENT=incus) drive Incus, LXD's community
# fork. Debian 12 has Incus 6.0 only in bookworm-backports: its own sources entry, and
# only incus-base (the daemon, containers only) and incus-client come from it, with the
# two libraries they need that only backports has (libraft0, libcowsql0). Not the `incus`
# package: it wants QEMU >= 8 and would replace Debian's QEMU 7.2 with backports' 10.
# Its own data (/var/lib/incus), a dir pool "default", and its own bridge, with a subnet
# distinct from LXD's; the tiny image is LXD's, exported and imported as it is.
if [[ "${REXX_SETUP_SKIP_INCUS:-0}" != 1 ]]; then
  INCUS_LOG="/var/log/incus-rexx.log"
  INCUS_BRIDGE="rexxincbr0"
  INCUS_BRIDGE_ADDR="10.231.17.1/24"
  BACKPORTS_SOURCES="/etc/apt/sources.list.d/rexx-bookworm-backports.sources"
  if [[ ! -x /usr/libexec/incus/incusd || ! -x /usr/bin/incus ]]; then
    if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
      printf 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' >"$BACKPORTS_SOURCES"
    fi
    apt-get update -qq || die "apt-get update (with bookworm-backports) failed"
    own_policy=""
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
      printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d && own_policy=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends \
      incus-base/bookworm-backports incus-client/bookworm-backports >"$WORK/apt-incus.log" 2>&1 \
      || { [[ -z "$own_policy" ]] || rm -f /usr/sbin/policy-rc.d; tail -n 30 "$WORK/apt-incus.log" >&2; die "apt-get install incus-base incus-client (bookworm-backports) failed"; }
    [[ -z "$own_policy" ]] || rm -f /usr/sbin/policy-rc.d
    say incus-packages "installed ($(dpkg-query -W -f='${Version}' incus-base))"
  else
    say incus-packages "ok"
  fi

  incus_up() { timeout 10 incus query /1.0 >/dev/null 2>&1; }
  incus_daemon_pids() { { pgrep -x incusd || true; } | in_our_pid_ns; }
  if incus_up; then
    say incus "ok"
  else
    [[ -z "$(incus_daemon_pids)" ]] || timeout 120 incus admin waitready --timeout=120 >/dev/null 2>&1 || true
    if incus_up; then
      say incus "ok (was starting)"
    else
      [[ -z "$(incus_daemon_pids)" ]] || die "incusd (pid $(incus_daemon_pids | tr '\n' ' ')) runs but does not answer on /var/lib/incus/unix.socket (see $INCUS_LOG)"
      getent group incus-admin >/dev/null || groupadd --system incus-admin
      setsid nohup env -C / /usr/libexec/incus/incusd --group incus-admin --logfile="$INCUS_LOG" </dev/null >/dev/null 2>&1 9>&- &
      incus admin waitready --timeout=120 >/dev/null 2>&1 || die "incusd did not become ready in 120 s (see $INCUS_LOG)"
      say incus "started (log $INCUS_LOG)"
    fi
  fi

  # `incus admin init --minimal` would pick a bridge subnet itself: preseed ours instead.
  if [[ -z "$(incus profile device get default root pool 2>/dev/null || true)" ]]; then
    preseed="config: {}"$'\n'
    if incus network show "$INCUS_BRIDGE" >/dev/null 2>&1; then preseed+="networks: []"$'\n'; else
      preseed+="networks:
- name: $INCUS_BRIDGE
  type: bridge
  config: {ipv4.address: $INCUS_BRIDGE_ADDR, ipv4.nat: \"false\", ipv6.address: none}
"; fi
    if incus storage show default >/dev/null 2>&1; then preseed+="storage_pools: []"$'\n'; else
      preseed+="storage_pools:
- {name: default, driver: dir, config: {}}
"; fi
    preseed+="profiles:
- name: default
  devices:
    root: {type: disk, path: /, pool: default}
    eth0: {type: nic, network: $INCUS_BRIDGE, name: eth0}
"
    incus admin init --preseed <<<"$preseed" || die "incus admin init --preseed failed"
    say incus-init "initialized (dir pool default, $INCUS_BRIDGE $INCUS_BRIDGE_ADDR, root disk and eth0 in profile default)"
  else
    say incus-init "ok"
  fi

  if [[ "$(tiny_version incus)" == "$IMAGE_VERSION" ]]; then
    say "incus image $IMAGE_ALIAS" "ok"
  else
    incus image delete "$IMAGE_ALIAS" >/dev/null 2>&1 || true   # an older version of this image
    lxc image export "$IMAGE_ALIAS" "$WORK/incus-tiny" >/dev/null || die "lxc image export $IMAGE_ALIAS failed"
    incus image import "$WORK"/incus-tiny*.tar.gz --alias "$IMAGE_ALIAS" >/dev/null || die "incus image import of the tiny image failed"
    smoke incus
    say "incus image $IMAGE_ALIAS" "imported from LXD (version $IMAGE_VERSION; init/start/exec/delete ok)"
  fi
fi

# ---------------------------------------------------------------- ZFS (zfs-fuse)
zfs_up() { timeout 10 zpool list -H -o name >/dev/null 2>&1; }
# A zfs-fuse that died (or a machine restored from a snapshot) leaves its FUSE mounts in
# the mount table; every access then fails with "Transport endpoint is not connected",
# and the next daemon cannot mount a dataset there or create a child's mountpoint under
# it ("failed to create mountpoint"). Detach those, deepest first, before mounting.
drop_dead_zfs_mounts() {
  local m err
  while read -r m; do
    m="$(printf '%b' "$m")"   # /proc/mounts writes a space as \040
    # readdir, not stat: stat may answer from the attribute cache. Only a dead
    # connection's own errors count; a slow but live daemon's mount is left alone.
    err="$(LC_ALL=C timeout -s KILL 5 ls -A -- "$m" 2>&1 >/dev/null)" && continue
    if [[ "$err" == *"Transport endpoint is not connected"* || "$err" == *"Software caused connection abort"* ]]; then
      umount -l "$m" 2>/dev/null && say "zfs mount" "detached dead mount $m"
    else
      say "zfs mount" "warning: $m does not answer (${err:-timed out}); left mounted"
    fi
  done < <(awk '$3 == "fuse.zfs" { print $2 }' /proc/mounts | sort -r)
}
zfs_pids() { pgrep -x zfs-fuse || true; }
# A live daemon can wedge: one thread loops in sync(2) (a FUSE unmount of a dataset ZFS
# still finds busy), every read and write on its mounts hangs, and yet `zpool list`
# answers. Only real I/O on a mount shows it: a readdir bounded by SIGKILL (a process
# waiting on FUSE dies of SIGKILL). Prints the mounts that do not answer within 3 s
# (a dead connection answers at once, with an error: not counted here).
unanswering_zfs_mounts() {
  # All mounts at once: on a wedged daemon every one of them hangs for the full 3 s, and
  # one after another that grew with the number of datasets (8 mounts: 24 s).
  local m i=0 out pids=()
  out="$(mktemp -d)"
  while read -r m; do
    m="$(printf '%b' "$m")"
    ( LC_ALL=C timeout -s KILL 3 ls -A -- "$m" >/dev/null 2>&1; (( $? != 137 )) || printf '%s\n' "$m" >"$out/$i" ) &
    pids+=("$!")
    i=$((i + 1))
  done < <(awk '$3 == "fuse.zfs" { print $2 }' /proc/mounts | sort -r)
  ((${#pids[@]})) && { wait "${pids[@]}" || true; }   # each check's own status is not ours
  local j
  for ((j = 0; j < i; j++)); do [[ -f "$out/$j" ]] && cat "$out/$j"; done
  rm -rf "$out"
  return 0
}
# Recover a wedged daemon without losing data: kill -9 (ZFS is transactional: what a
# finished transaction group holds survives), detach its now-dead mounts deepest first,
# start it again (the pools come back from its cache) and mount everything. Bounded:
# about 15 s, 30 s at most.
recover_wedged_zfs() {
  local pids m
  pids="$(zfs_pids | tr '\n' ' ')"
  say zfs-fuse "wedged: mounts do not answer while zpool does ($1); kill -9 ${pids}and restart"
  [[ -n "$pids" ]] && kill -9 $pids 2>/dev/null
  for _ in $(seq 1 50); do [[ -z "$(zfs_pids)" ]] && break; sleep 0.2; done
  [[ -z "$(zfs_pids)" ]] || die "zfs-fuse (pid $(zfs_pids | tr '\n' ' ')) did not exit after kill -9"
  while read -r m; do
    m="$(printf '%b' "$m")"
    umount -l "$m" 2>/dev/null && say "zfs mount" "detached $m"
  done < <(awk '$3 == "fuse.zfs" { print $2 }' /proc/mounts | sort -r)
  rm -f "$ZFS_PIDFILE"
  zfs-fuse --pidfile "$ZFS_PIDFILE" </dev/null >/dev/null 2>&1 9>&- || die "zfs-fuse failed to start"
  for _ in $(seq 1 100); do zfs_up && break; sleep 0.1; done
  zfs_up || die "zfs-fuse was restarted but 'zpool list' does not answer after 10 s"
  timeout -s KILL 20 zfs mount -a 2>/dev/null || true
  say zfs-fuse "recovered (restarted; pools remounted)"
}
if zfs_up; then
  wedged="$(unanswering_zfs_mounts)"
  if [[ -n "$wedged" ]]; then
    recover_wedged_zfs "$(tr '\n' ' ' <<<"$wedged")"
    wedged="$(unanswering_zfs_mounts)"
    [[ -z "$wedged" ]] || die "zfs-fuse was restarted but these mounts still do not answer: $(tr '\n' ' ' <<<"$wedged")"
  else
    say zfs-fuse "ok"
  fi
else
  # A killed zfs-fuse stops answering at once but needs a few seconds to exit (it
  # flushes): wait until it answers or is gone.
  for _ in $(seq 1 300); do
    [[ -n "$(zfs_pids)" ]] || break
    zfs_up && break
    sleep 0.2
  done
  if zfs_up; then
    say zfs-fuse "ok (was starting)"
  else
    [[ -z "$(zfs_pids)" ]] || die "zfs-fuse (pid $(zfs_pids | tr '\n' ' ')) runs but 'zpool list' does not answer after 60 s"
    rm -f "$ZFS_PIDFILE"   # stale pidfile: zfs-fuse would exit silently
    zfs-fuse --pidfile "$ZFS_PIDFILE" </dev/null >/dev/null 2>&1 9>&- || die "zfs-fuse failed to start"
    for _ in $(seq 1 100); do zfs_up && break; sleep 0.1; done
    zfs_up || die "zfs-fuse was started but 'zpool list' does not answer after 10 s"
    say zfs-fuse "started"
  fi
fi

# (after the daemon check: a killed zfs-fuse serves its mounts until it has exited)
drop_dead_zfs_mounts
if zpool list -H -o name "$ZFS_POOL" >/dev/null 2>&1; then
  state="ok"
elif [[ -f "$ZFS_IMG" ]]; then
  zpool import -d "$(dirname "$ZFS_IMG")" "$ZFS_POOL" >/dev/null 2>&1 \
    || zpool import -f -d "$(dirname "$ZFS_IMG")" "$ZFS_POOL" \
    || die "zpool import of $ZFS_POOL from $ZFS_IMG failed"
  state="imported"
else
  mkdir -p "$(dirname "$ZFS_IMG")"
  truncate -s "$ZFS_IMG_SIZE" "$ZFS_IMG"
  zpool create "$ZFS_POOL" "$ZFS_IMG" >"$WORK/zpool.log" 2>&1 \
    || { cat "$WORK/zpool.log" >&2; die "zpool create $ZFS_POOL $ZFS_IMG failed"; }
  state="created"
fi
# after a daemon restart the pool comes back from the cache but unmounted (bounded: on a
# daemon that wedges meanwhile it would hang)
timeout -s KILL 20 zfs mount -a 2>/dev/null || true
health="$(zpool list -H -o health "$ZFS_POOL" 2>/dev/null || echo unknown)"
[[ "$health" == ONLINE ]] || die "zfs pool $ZFS_POOL is $health"
mp="$(zfs get -H -o value mountpoint "$ZFS_POOL")"
if [[ "$mp" == /* ]]; then
  [[ "$(zfs get -H -o value mounted "$ZFS_POOL")" == yes ]] && timeout -s KILL 5 ls -A -- "$mp" >/dev/null 2>&1 \
    || die "zfs pool $ZFS_POOL is not usable at its mountpoint $mp (zfs mount -a: $(timeout -s KILL 20 zfs mount -a 2>&1 | head -n1))"
fi
say "zfs pool $ZFS_POOL" "$state ($ZFS_IMG, mounted at $(zfs get -H -o value mountpoint "$ZFS_POOL"))"

# ---------------------------------------------------------------- QEMU guest
if [[ "${REXX_SETUP_SKIP_QEMU:-0}" != 1 ]]; then
  out="$(bash "$SCRIPT_DIR/build-qemu-guest.sh" 9>&-)" || die "build-qemu-guest.sh failed"
  out="$(tail -n1 <<<"$out")"
  say "qemu guest" "${out#build-qemu-guest: }"
fi

# ---------------------------------------------------------------- OCI registry
# The packaged config listens on every interface and wants htpasswd: ours listens on
# 127.0.0.1 only, plain HTTP (clients use --tls-verify=false), no auth, deletes allowed.
REGISTRY_ADDR="${REXX_REGISTRY:-127.0.0.1:5000}"
REGISTRY_DIR="$STATE_DIR/registry"
REGISTRY_LOG="/var/log/rexx-registry.log"
registry_up() { curl -fsS -m 3 -o /dev/null "http://$REGISTRY_ADDR/v2/" 2>/dev/null; }
if registry_up; then
  say registry "ok ($REGISTRY_ADDR)"
else
  mkdir -p "$REGISTRY_DIR/data"
  printf '%s\n' 'version: 0.1' 'log:' '  level: warn' 'storage:' '  filesystem:' \
    "    rootdirectory: $REGISTRY_DIR/data" '  delete:' '    enabled: true' 'http:' \
    "  addr: $REGISTRY_ADDR" '  secret: rexx-address-local-registry' >"$REGISTRY_DIR/config.yml.new"
  mv "$REGISTRY_DIR/config.yml.new" "$REGISTRY_DIR/config.yml"
  setsid nohup env -C / docker-registry serve "$REGISTRY_DIR/config.yml" </dev/null >>"$REGISTRY_LOG" 2>&1 9>&- &
  for _ in $(seq 1 100); do registry_up && break; sleep 0.1; done
  registry_up || die "docker-registry did not answer on http://$REGISTRY_ADDR/v2/ within 10 s (see $REGISTRY_LOG)"
  say registry "started on $REGISTRY_ADDR (log $REGISTRY_LOG)"
fi

# ---------------------------------------------------------------- Debian rootfs
if [[ "${REXX_SETUP_SKIP_DEBIAN:-0}" != 1 ]]; then
  out="$(bash "$SCRIPT_DIR/build-debian-rootfs.sh" 9>&-)" || die "build-debian-rootfs.sh failed"
  say "debian rootfs" "$(tail -n1 <<<"$out")"
  # The same rootfs as an OCI image in the local registry, for examples/lxcri-registry.rexx:
  # pushed again only when the registry's copy differs from the cached layout.
  layout="$(bash "$SCRIPT_DIR/build-debian-rootfs.sh" --oci 9>&- | tail -n1)" || die "build-debian-rootfs.sh --oci failed"
  want="$(sed -n 's/.*"digest": *"\(sha256:[0-9a-f]*\)".*/\1/p' "$layout/index.json" | head -n1)"
  have="$(skopeo inspect --tls-verify=false --format '{{.Digest}}' "docker://$REGISTRY_ADDR/rexx/debian:bookworm" 2>/dev/null || true)"
  if [[ -n "$want" && "$want" == "$have" ]]; then
    say "registry image" "ok ($REGISTRY_ADDR/rexx/debian:bookworm)"
  else
    skopeo copy --quiet --dest-tls-verify=false "oci:$layout:bookworm" "docker://$REGISTRY_ADDR/rexx/debian:bookworm" \
      || die "skopeo copy of the Debian image to $REGISTRY_ADDR failed"
    say "registry image" "pushed $REGISTRY_ADDR/rexx/debian:bookworm"
  fi
fi

# ---------------------------------------------------------------- QEMU full guest
# After the Debian rootfs, which it starts from.
if [[ "${REXX_SETUP_SKIP_QEMU:-0}" != 1 && "${REXX_SETUP_SKIP_QEMU_FULL:-0}" != 1 && "${REXX_SETUP_SKIP_DEBIAN:-0}" != 1 ]]; then
  out="$(bash "$SCRIPT_DIR/build-qemu-full-guest.sh" 9>&- 2>&1)" || { printf '%s\n' "$out" >&2; die "build-qemu-full-guest.sh failed"; }
  say "qemu full guest" "$(grep -v '^build-debian-rootfs' <<<"$out" | tail -n2 | head -n1)"
fi

echo "setup-host: done in $(elapsed) ms"
