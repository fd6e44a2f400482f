#!/usr/bin/env bash
# TUN offloads on the point-to-site (SSTP) path: 20 MB over TCP through one SSTP session (native
# client), client → VM and VM → client, must arrive byte for byte (sha256) while our segmentation,
# checksums and coalesced writes are on the data's path; the counters must show that the offloads
# carried it (server: coalesced TUN writes for the upload, super-packets read for the download;
# client: the reverse). Then the same with --no-offloads on both ends.
#
#   client 198.51.100.2 ── 198.51.100.1 server [p2s0: pool 172.16.201.0/24] 10.1.0.1 ── vm 10.1.0.2
source "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || skip_all "needs root (network namespaces)"
[ -c /dev/net/tun ] || skip_all "no /dev/net/tun"
[ -x "$VPNGW" ] || skip_all "build vpngw first ($VPNGW)"
command -v socat >/dev/null || skip_all "socat missing"
cp "$VPNGW" "$WORK/vpngw" && VPNGW="$WORK/vpngw"

for n in srv cli vm; do ip netns add "$(ns $n)"; nsx $n ip link set lo up; done
ip link add "$NS_PREFIX-sc" netns "$(ns srv)" type veth peer name "$NS_PREFIX-cs" netns "$(ns cli)"
ip link add "$NS_PREFIX-sv" netns "$(ns srv)" type veth peer name "$NS_PREFIX-vs" netns "$(ns vm)"
nsx srv ip addr add 198.51.100.1/24 dev "$NS_PREFIX-sc"; nsx srv ip link set "$NS_PREFIX-sc" up
nsx cli ip addr add 198.51.100.2/24 dev "$NS_PREFIX-cs"; nsx cli ip link set "$NS_PREFIX-cs" up
nsx srv ip addr add 10.1.0.1/24 dev "$NS_PREFIX-sv"; nsx srv ip link set "$NS_PREFIX-sv" up
nsx vm ip addr add 10.1.0.2/24 dev "$NS_PREFIX-vs"; nsx vm ip link set "$NS_PREFIX-vs" up
nsx vm ip route add default via 10.1.0.1
nsx srv sysctl -qw net.ipv4.ip_forward=1

wait_for() { local i; for i in $(seq 1 "$2"); do eval "$1" && return 0; sleep 0.2; done; return 1; }
stop_pid() { local p="$1" i; kill "$p" 2>/dev/null; for i in $(seq 1 50); do kill -0 "$p" 2>/dev/null || return 0; sleep 0.1; done; kill -9 "$p" 2>/dev/null; }
head -c 20000000 /dev/urandom >"$WORK/payload"
want=$(sha256sum <"$WORK/payload" | cut -d' ' -f1)

# transfer FROM_NS TO_NS TO_ADDR PORT → sets $got (sha256 of what arrived)
transfer() {
  rm -f "$WORK/received"
  start_bg "$2" "$WORK/socat-l-$4.log" timeout 60 socat -u TCP-LISTEN:"$4",bind="$3",reuseaddr OPEN:"$WORK/received",creat,trunc
  local l=${PIDS[-1]} i
  for i in $(seq 1 50); do nsx "$2" ss -ltn 2>/dev/null | grep -q ":$4 " && break; sleep 0.1; done
  nsx "$1" timeout 60 socat -u OPEN:"$WORK/payload" TCP:"$3":"$4" 2>>"$WORK/socat-c-$4.log"
  wait "$l" 2>/dev/null
  got=$(sha256sum <"$WORK/received" 2>/dev/null | cut -d' ' -f1)
}

run() {  # $1: "" or --no-offloads, $2: log suffix
  start_bg srv "$WORK/srv$2.log" "$VPNGW" p2s serve --listen 198.51.100.1:443 --cert-cn 198.51.100.1 --pool 172.16.201.0/24 \
    --user alice:secret $1
  local s=${PIDS[-1]}
  wait_for "grep -q listening $WORK/srv$2.log" 50
  start_bg cli "$WORK/cli$2.log" "$VPNGW" p2s connect --engine native --server 198.51.100.1 --user alice --password secret \
    --tun sstp0 --route 10.1.0.0/24 --ready-file "$WORK/ready$2" $1
  local c=${PIDS[-1]}
  wait_for "[ -s $WORK/ready$2 ]" 100
  local addr; addr=$(cat "$WORK/ready$2" 2>/dev/null)
  nsx cli ping -c 2 -i 0.2 -W 2 10.1.0.2 >/dev/null 2>&1
  transfer cli vm 10.1.0.2 5001; up=$got
  transfer vm cli "$addr" 5002; down=$got
  stop_pid "$c"; stop_pid "$s"
}

run "" on
check "offloads on: server says so" "grep -q 'offloads on (TUN TSO/coalescing)' $WORK/srvon.log"
check "offloads on: client says so" "grep -q '(offloads on)' $WORK/clion.log"
check "offloads on: 20 MB client → VM intact (sha256)" '[ "$up" = "$want" ]'
check "offloads on: 20 MB VM → client intact (sha256)" '[ "$down" = "$want" ]'
check "server wrote coalesced TCP to its TUN (upload) and read super-packets (download)" \
  "grep -qE 'TUN super-packets [1-9][0-9]* → [1-9][0-9]* segments.*TUN coalesced [1-9][0-9]* writes' $WORK/srvon.log"
check "client read super-packets (upload) and wrote coalesced TCP (download)" \
  "grep -qE 'TUN super-packets [1-9][0-9]* → [1-9][0-9]* segments.*TUN coalesced [1-9][0-9]* writes' $WORK/clion.log"
check "offloads on: nothing rejected, no TUN write failures" \
  "grep -q 'rejected 0' $WORK/srvon.log && ! grep -q 'tunWriteFailed' $WORK/srvon.log"
grep -hE "offloads|super-packets|drops" "$WORK/srvon.log" "$WORK/clion.log" | sed 's/^/  /'

run --no-offloads off
check "offloads off: server says so" "grep -q 'offloads off' $WORK/srvoff.log"
check "offloads off: 20 MB client → VM intact (sha256)" '[ "$up" = "$want" ]'
check "offloads off: 20 MB VM → client intact (sha256)" '[ "$down" = "$want" ]'
check "offloads off: no offload counters" "! grep -q 'TUN super-packets' $WORK/srvoff.log"
[ "$failed" -eq 0 ] || tail -n 8 "$WORK"/srv*.log "$WORK"/cli*.log | sed 's/^/  /'
summary
