#!/usr/bin/env bash
# A real three-member LXD cluster on this machine, for the ADDRESS LXD cluster tests and
# benchmark (target=, remote=, copy/move across remotes). Run as root, after
# scripts/setup-host.sh. Idempotent: a cluster that is up is left as it is (under 1 s);
# a stopped member is started; a cluster that cannot be repaired is made again (6-10 s
# from the cached node image). Prints one line per step with its ms, like setup-host.sh.
#
# What it makes (the recipe of the host notes, "A real 3-member LXD cluster"):
#   node image   /var/lib/rexx-address/lxd-node/lxd-node.tar (+ lxd-node.done): a copy
#                of the shared Debian rootfs (scripts/build-debian-rootfs.sh) with
#                Debian's lxd, busybox init, hand-mounted cgroups and a subuid map that
#                fits the outer one; built once (about 40 s), imported into the host's LXD
#                as image alias rexx-lxd-node
#   members      host instances rexx-cm1..3, unprivileged, security.nesting=true, on the
#                project bridge (profiles default + rexx-net) with fixed DHCP addresses
#                10.231.7.241..243; each runs Debian's LXD as cluster member member1..3
#                (a dir pool "local", the default profile's root disk on it; no networks)
#   remotes      rexx-cluster    -> https://10.231.7.241:8443 (member1)
#                rexx-cluster-m2 -> https://10.231.7.242:8443 (member2; the same cluster
#                                   through another member)
#   image        the host's tiny image copied into the cluster (--mode push), alias tiny
#
# Traffic goes only between the host and these containers: the members have no default
# route and no DNS, and the host's LXD does not listen on the network (so host -> cluster
# copies need --mode push).
#
# Environment: REXX_CLUSTER_REBUILD=1 makes the members again; REXX_CLUSTER_NODE_REBUILD=1
# also builds the node image again; REXX_CLUSTER_DOWN=1 deletes members and remotes (the
# cached node image stays) and exits.
set -euo pipefail

STATE_DIR=/var/lib/rexx-address
NODE_DIR="$STATE_DIR/lxd-node"
NODE_TAR="$NODE_DIR/lxd-node.tar"
NODE_DONE="$NODE_DIR/lxd-node.done"
NODE_ALIAS=rexx-lxd-node
NODE_VERSION=1          # bump when the node image's content changes: it is built again
NET_PROFILE=rexx-net
BRIDGE=rexxbr0
MEMBERS=(member1 member2 member3)
INSTANCES=(rexx-cm1 rexx-cm2 rexx-cm3)
ADDRS=(10.231.7.241 10.231.7.242 10.231.7.243)
PORT=8443
REMOTE=rexx-cluster
REMOTE2=rexx-cluster-m2
SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

T0=$(date +%s%N)
STEP_T0=$T0
say() {
  local now; now=$(date +%s%N)
  printf '%-22s %s (%d ms)\n' "$1:" "$2" $(( (now - STEP_T0) / 1000000 ))
  STEP_T0=$now
}
die() { printf 'setup-cluster: ERROR: %s\n' "$*" >&2; exit 1; }

[[ $(id -u) -eq 0 ]] || die "must run as root (debootstrap chroot, lxc)"
# `lxc init` (and launch) read a config from stdin when it is not a terminal: a caller's
# open pipe (a test runner's) would keep it waiting forever. Nothing here reads stdin.
exec </dev/null
timeout 10 lxc query /1.0 >/dev/null 2>&1 || die "the host's LXD does not answer: run scripts/setup-host.sh first"
lxc network show "$BRIDGE" >/dev/null 2>&1 && lxc profile show "$NET_PROFILE" >/dev/null 2>&1 \
  || die "network $BRIDGE or profile $NET_PROFILE missing: run scripts/setup-host.sh first"

mkdir -p "$STATE_DIR"
# One set-up at a time (test files in parallel may all call this); fd 7 holds the lock and
# no process started here keeps it (7>&-).
exec 7>"$STATE_DIR/setup-cluster.lock"
flock -w 900 7 || die "another setup-cluster.sh holds $STATE_DIR/setup-cluster.lock for 900 s"

WORK="$(mktemp -d /tmp/rexx-cluster.XXXXXX)"
CHROOT_MOUNTS=()
cleanup() {
  local m
  for m in "${CHROOT_MOUNTS[@]}"; do umount -l "$m" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

if [[ "${REXX_CLUSTER_DOWN:-0}" == 1 ]]; then
  for r in "$REMOTE" "$REMOTE2"; do lxc remote remove "$r" >/dev/null 2>&1 || true; done
  for i in "${INSTANCES[@]}"; do lxc delete -f "$i" >/dev/null 2>&1 || true; done
  say cluster "removed (members ${INSTANCES[*]}, remotes $REMOTE $REMOTE2; node image kept)"
  exit 0
fi

# ---------------------------------------------------------------- node image
# Under its own lock, built aside and renamed into place, .done written last (as
# build-debian-rootfs.sh does), so a half-built image is never used.
build_node_tar() {
  local root="$WORK/node/rootfs" rootfs_src
  rootfs_src="$(bash "$SCRIPT_DIR/build-debian-rootfs.sh" 7>&- | tail -n1)" || die "build-debian-rootfs.sh failed"
  mkdir -p "$WORK/node"
  cp -a "$rootfs_src" "$root"
  printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"; chmod 755 "$root/usr/sbin/policy-rc.d"
  cp /etc/resolv.conf "$root/etc/resolv.conf"
  mount -t proc proc "$root/proc" && CHROOT_MOUNTS+=("$root/proc")
  mount --bind /dev "$root/dev" && CHROOT_MOUNTS+=("$root/dev")
  if ! chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
       sh -c 'apt-get update -qq && apt-get install -y -qq --no-install-recommends lxd lxd-client dnsmasq-base iptables squashfs-tools ca-certificates busybox-static btrfs-progs iproute2 procps' \
       >"$WORK/node-apt.log" 2>&1; then
    tail -n 30 "$WORK/node-apt.log" >&2; die "apt-get install in the node rootfs failed"
  fi
  umount -l "$root/proc" "$root/dev"; CHROOT_MOUNTS=()
  rm -f "$root/usr/sbin/policy-rc.d"
  : >"$root/etc/resolv.conf"
  rm -rf "$root/var/cache/apt/archives/"*.deb "$root/var/lib/apt/lists/"* "$root/usr/share/doc/"* \
    "$root/usr/share/man/"* "$root/usr/share/locale/"* "$root/var/cache/debconf/"*-old 2>/dev/null || true
  grep -q '^lxd:' "$root/etc/group" || chroot "$root" groupadd --system lxd
  # The inner LXD's idmap must fit inside the range the outer LXD gives the container.
  printf 'root:100000:1000000\n_lxd:100000:1000000\n' >"$root/etc/subuid"
  cp "$root/etc/subuid" "$root/etc/subgid"
  ln -sf /bin/busybox "$root/sbin/init"
  printf '%s\n' 'member' >"$root/etc/hostname"
  cat >"$root/etc/inittab" <<'EOF'
# rexx-address LXD cluster member: busybox init runs Debian's lxd (no systemd)
::sysinit:/etc/init.d/rcS
::respawn:/usr/bin/lxd --group lxd --logfile=/var/log/lxd.log
::shutdown:/usr/bin/lxd shutdown
EOF
  mkdir -p "$root/etc/init.d" "$root/usr/share/udhcpc"
  cat >"$root/etc/init.d/rcS" <<'EOF'
#!/bin/sh
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
mountpoint -q /proc || mount -t proc proc /proc
mountpoint -q /run || mount -t tmpfs -o mode=755 tmpfs /run
mountpoint -q /tmp || mount -t tmpfs -o mode=1777 tmpfs /tmp
mkdir -p /run/lock
# The cgroups by hand (no systemd): without them the inner lxd fails with "Error reading
# host's cpuset.cpus". One mount per v1 hierarchy the container sees, cgroup2 on unified.
if ! mountpoint -q /sys/fs/cgroup; then
  mount -t tmpfs -o mode=755 cgroup /sys/fs/cgroup
  while IFS=: read -r _ ctrl _; do
    [ -n "$ctrl" ] || continue
    dir=${ctrl#name=}
    mkdir -p "/sys/fs/cgroup/$dir"
    mount -t cgroup -o "$ctrl" cgroup "/sys/fs/cgroup/$dir" 2>/dev/null || rmdir "/sys/fs/cgroup/$dir"
  done </proc/self/cgroup
  mkdir -p /sys/fs/cgroup/unified
  mount -t cgroup2 cgroup2 /sys/fs/cgroup/unified 2>/dev/null || rmdir /sys/fs/cgroup/unified
fi
ip link set lo up
# An address only: no default route, no DNS (test traffic stays on the project bridge).
[ -e /sys/class/net/eth0 ] && busybox udhcpc -i eth0 -s /usr/share/udhcpc/default.script -b -t 20 -T 1 >/var/log/udhcpc.log 2>&1
exit 0
EOF
  chmod 755 "$root/etc/init.d/rcS"
  cat >"$root/usr/share/udhcpc/default.script" <<'EOF'
#!/bin/sh
case "$1" in
  deconfig) ip link set "$interface" up; ip -4 addr flush dev "$interface" ;;
  bound|renew)
    ip -4 addr show dev "$interface" | grep -q "inet $ip/${mask:-24} " \
      || { ip -4 addr flush dev "$interface"; ip addr add "$ip/${mask:-24}" dev "$interface"; } ;;
esac
exit 0
EOF
  chmod 755 "$root/usr/share/udhcpc/default.script"
  cat >"$WORK/node/metadata.yaml" <<EOF
architecture: x86_64
creation_date: $(date +%s)
properties:
  description: rexx-address LXD cluster member (Debian bookworm, Debian's lxd)
  os: debian
  release: bookworm
  architecture: x86_64
  rexx_node_version: "$NODE_VERSION"
EOF
  # Uncompressed: LXD reads a plain tar, and the image never leaves this machine.
  tar --numeric-owner -C "$WORK/node" -cf "$1" metadata.yaml rootfs
}

node_tar_ok() { [[ "${REXX_CLUSTER_NODE_REBUILD:-0}" != 1 && -f "$NODE_DONE" && -f "$NODE_TAR" ]] && grep -qx "version=$NODE_VERSION" "$NODE_DONE"; }
if node_tar_ok; then
  say "node image" "ok (cached $NODE_TAR)"
else
  mkdir -p "$NODE_DIR"
  exec 6>"$NODE_DIR/lxd-node.lock"
  flock -w 900 6 || die "another build holds $NODE_DIR/lxd-node.lock"
  if node_tar_ok; then
    say "node image" "ok (built by a parallel caller)"
  else
    rm -f "$NODE_DONE"
    build_node_tar "$NODE_TAR.tmp"
    mv "$NODE_TAR.tmp" "$NODE_TAR"
    printf 'version=%s\nbuilt=%s\n' "$NODE_VERSION" "$(date -u +%FT%TZ)" >"$NODE_DONE"
    say "node image" "built $NODE_TAR ($(stat -c %s "$NODE_TAR") bytes)"
  fi
  exec 6>&-
fi

node_image_version() {
  lxc image show "$NODE_ALIAS" 2>/dev/null | sed -n 's/^ *rexx_node_version: *"\{0,1\}\([^"]*\)"\{0,1\} *$/\1/p' | head -n1 || true
}
if [[ "$(node_image_version)" == "$NODE_VERSION" && "${REXX_CLUSTER_NODE_REBUILD:-0}" != 1 ]]; then
  say "image $NODE_ALIAS" "ok"
else
  lxc image delete "$NODE_ALIAS" >/dev/null 2>&1 || true
  lxc image import "$NODE_TAR" --alias "$NODE_ALIAS" >/dev/null || die "lxc image import $NODE_TAR failed"
  say "image $NODE_ALIAS" "imported"
fi

# ---------------------------------------------------------------- members
in_member() { local i="$1"; shift; timeout "${EXEC_TIMEOUT:-60}" lxc exec "$i" -- "$@" 7>&-; }
cluster_csv() { EXEC_TIMEOUT=15 in_member "${INSTANCES[0]}" lxc cluster list --format csv 2>/dev/null || true; }
online_count() { cluster_csv | grep -c ',ONLINE,' || true; }
healthy() { [[ "$(online_count)" == "${#MEMBERS[@]}" ]]; }

make_members() {
  local k i
  for i in "${INSTANCES[@]}"; do lxc delete -f "$i" >/dev/null 2>&1 || true; done
  for k in "${!INSTANCES[@]}"; do
    i="${INSTANCES[$k]}"
    lxc init "$NODE_ALIAS" "$i" -p default -p "$NET_PROFILE" -c security.nesting=true \
      -c user.rexx.cluster-member="${MEMBERS[$k]}" >/dev/null || die "lxc init $i failed"
    lxc config device override "$i" eth0 ipv4.address="${ADDRS[$k]}" >/dev/null || die "fixing the address of $i failed"
    lxc start "$i" --quiet 7>&- || die "lxc start $i failed"
  done
  for k in "${!INSTANCES[@]}"; do
    in_member "${INSTANCES[$k]}" lxd waitready --timeout=60 || die "the LXD in ${INSTANCES[$k]} did not start in 60 s (lxc exec ${INSTANCES[$k]} -- cat /var/log/lxd.log)"
    for _ in $(seq 1 100); do
      in_member "${INSTANCES[$k]}" ip -4 addr show dev eth0 | grep -q "inet ${ADDRS[$k]}/" && break
      sleep 0.1
    done
  done
  say members "started ${INSTANCES[*]} (${ADDRS[*]})"
  in_member "${INSTANCES[0]}" lxd init --preseed >"$WORK/init.log" 2>&1 <<EOF || { cat "$WORK/init.log" >&2; die "bootstrapping the cluster on ${INSTANCES[0]} failed"; }
config:
  core.https_address: ${ADDRS[0]}:$PORT
  images.auto_update_interval: "0"
cluster:
  server_name: ${MEMBERS[0]}
  enabled: true
storage_pools:
- name: local
  driver: dir
profiles:
- name: default
  devices:
    root: {path: /, pool: local, type: disk}
EOF
  for k in 1 2; do
    local token
    token="$(in_member "${INSTANCES[0]}" lxc cluster add "${MEMBERS[$k]}" --quiet)" || die "lxc cluster add ${MEMBERS[$k]} failed"
    in_member "${INSTANCES[$k]}" lxd init --preseed >"$WORK/join.log" 2>&1 <<EOF || { cat "$WORK/join.log" >&2; die "${MEMBERS[$k]} did not join the cluster"; }
cluster:
  enabled: true
  server_name: ${MEMBERS[$k]}
  server_address: ${ADDRS[$k]}:$PORT
  cluster_address: ${ADDRS[0]}:$PORT
  cluster_token: $token
EOF
  done
  say cluster "formed (${MEMBERS[*]})"
}

if [[ "${REXX_CLUSTER_REBUILD:-0}" == 1 ]]; then
  make_members
else
  present=0; stopped=()
  for i in "${INSTANCES[@]}"; do
    st="$(lxc query "/1.0/instances/$i" 2>/dev/null | sed -n 's/^[[:space:]]*"status":[[:space:]]*"\([A-Za-z]*\)".*/\1/p' | head -n1 || true)"
    [[ -n "$st" ]] && present=$((present + 1))
    [[ -n "$st" && "$st" != Running ]] && stopped+=("$i")
  done
  if ((present != ${#INSTANCES[@]})); then
    make_members
  else
    for i in "${stopped[@]}"; do lxc start "$i" --quiet 7>&- || die "lxc start $i failed"; done
    ((${#stopped[@]})) && say members "started ${stopped[*]}"
    # A member that was just started (or lost its peer) needs a few s to be ONLINE again.
    for _ in $(seq 1 60); do healthy && break; sleep 0.5; done
    if healthy; then
      say cluster "ok (${#MEMBERS[@]} members ONLINE)"
    else
      say cluster "not healthy ($(cluster_csv | cut -d, -f1,5 | tr '\n' ' ')): making it again"
      make_members
    fi
  fi
fi
healthy || die "the cluster is not healthy: $(cluster_csv | tr '\n' ' ')"

# ---------------------------------------------------------------- remotes
remote_ok() { timeout 10 lxc query "$1:/1.0" 2>/dev/null | grep -q '"auth": "trusted"'; }
if remote_ok "$REMOTE"; then
  say "remote $REMOTE" "ok"
else
  lxc remote remove "$REMOTE" >/dev/null 2>&1 || true
  lxc remote remove "$REMOTE2" >/dev/null 2>&1 || true
  token="$(in_member "${INSTANCES[0]}" lxc config trust add --name "rexx-host-$(hostname)" --quiet)" || die "lxc config trust add on ${INSTANCES[0]} failed"
  # The token names member1's address (its core.https_address) and the cluster certificate.
  lxc remote add "$REMOTE" "$token" >"$WORK/remote.log" 2>&1 \
    || { cat "$WORK/remote.log" >&2; die "lxc remote add $REMOTE failed"; }
  remote_ok "$REMOTE" || die "remote $REMOTE added but not trusted"
  say "remote $REMOTE" "added (https://${ADDRS[0]}:$PORT)"
fi
if remote_ok "$REMOTE2"; then
  say "remote $REMOTE2" "ok"
else
  lxc remote remove "$REMOTE2" >/dev/null 2>&1 || true
  # The host's certificate is trusted cluster-wide already: no token needed.
  lxc remote add "$REMOTE2" "https://${ADDRS[1]}:$PORT" --accept-certificate >/dev/null \
    || die "lxc remote add $REMOTE2 failed"
  remote_ok "$REMOTE2" || die "remote $REMOTE2 added but not trusted"
  say "remote $REMOTE2" "added (https://${ADDRS[1]}:$PORT)"
fi

# ---------------------------------------------------------------- tiny image
tiny_fp() { lxc query "$1/1.0/images/aliases/tiny" 2>/dev/null | sed -n 's/^[[:space:]]*"target":[[:space:]]*"\([0-9a-f]*\)".*/\1/p' | head -n1 || true; }
host_fp="$(tiny_fp '')"
[[ -n "$host_fp" ]] || die "the host has no image alias tiny: run scripts/setup-host.sh"
if [[ "$(tiny_fp "$REMOTE:")" == "$host_fp" ]]; then
  say "image tiny" "ok (in $REMOTE)"
else
  lxc image alias delete "$REMOTE:tiny" >/dev/null 2>&1 || true
  lxc image copy tiny "$REMOTE:" --alias tiny --mode push --quiet 7>&- || die "lxc image copy tiny $REMOTE: --mode push failed"
  say "image tiny" "copied to $REMOTE (--mode push)"
fi

echo "setup-cluster: done in $(( ($(date +%s%N) - T0) / 1000000 )) ms"
