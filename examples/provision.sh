#!/usr/bin/env bash
# The main job, from a shell: register a base container once, clone 3 instances from it
# in one call (copy-on-write), start them and wait for their DHCP address, run a command
# in each, print RC/RESULT and the clone time in ms, clean up. Uses only the
# rexx-address CLI. Run: npm run demo.
set -uo pipefail
cd "$(dirname "$0")/.."
lxd() { node bin/rexx-address.js lxd "$@"; }
# field VAR < json: one REXX variable (or RC/RESULT) out of a --json result
field() { node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const r=JSON.parse(s);const k=process.argv[1];const v=k==="RC"?r.errorCode:k==="RESULT"?r.output:r.rexxVariables[k];process.stdout.write(typeof v==="object"?JSON.stringify(v):String(v??""))})' "$1"; }

BASE=demo-base
CLONE=demo-web
cleanup() { for n in "$CLONE-1" "$CLONE-2" "$CLONE-3" "$BASE"; do lxd delete name="$n" force=true >/dev/null 2>&1; done; }
cleanup
trap cleanup EXIT

step() {  # step "description" verb args... : run one command, print RC and RESULT, stop on failure
  local what=$1; shift
  local json rc
  json=$(lxd --json "$@")
  rc=$(field RC <<<"$json")
  printf '%-44s RC=%s RESULT=%s\n' "$what" "$rc" "$(field RESULT <<<"$json" | tr '\n' ' ')"
  if [ "$rc" != 0 ]; then echo "  ERRORTEXT: $(field ERRORTEXT <<<"$json")"; exit "$rc"; fi
  LAST=$json
}

step "register the base (image tiny, prepared once)" register_base name=$BASE image=tiny \
  prepare="echo 'provisioned by rexx-address' > /etc/motd" description="demo base"
step "clone 3 instances in one call" clone_from_base base=$BASE name=$CLONE count=3
echo "  clone time: $(field CLONE_MS <<<"$LAST") ms for 3 copy-on-write clones"
for i in 1 2 3; do
  step "start $CLONE-$i (wait for its DHCP address)" start name=$CLONE-$i wait=ip timeout=30s
  echo "  $CLONE-$i has IPv4 $(field IPV4 <<<"$LAST")"
done
for i in 1 2 3; do
  step "exec in $CLONE-$i" exec name=$CLONE-$i command='echo "$(hostname): $(cat /etc/motd)"'
done
step "list clones of the base" list base=$BASE
echo "cleaning up"
