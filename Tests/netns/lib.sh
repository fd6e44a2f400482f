# shellcheck shell=bash
# Shared helpers for namespace tests. Every namespace name carries a per-run prefix so parallel
# runs never collide; cleanup kills only processes we started (by PID) and deletes only our
# namespaces, also when a test fails.
set -u
NS_PREFIX="vg$$"
VPNGW=${VPNGW_BIN:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/.build/debug/vpngw}
WORK=$(mktemp -d /tmp/vpngw-netns-XXXXXX)
PIDS=()
passed=0; failed=0

ns() { echo "$NS_PREFIX-$1"; }
nsx() { local n="$1"; shift; ip netns exec "$(ns "$n")" "$@"; }
check() { if eval "$2"; then passed=$((passed+1)); echo "ok   $1"; else failed=$((failed+1)); echo "FAIL $1"; fi; }
skip_all() { echo "SKIP: $*"; echo "$(basename "$0"): 0 passed, 0 failed, 1 skipped"; exit 0; }

cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  # Give daemons (vpngw serve tears its lab down on SIGTERM) up to 5 s before SIGKILL.
  for _ in $(seq 1 50); do
    alive=0; for p in "${PIDS[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break; sleep 0.1
  done
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
  for n in $(ip netns list | awk '{print $1}' | grep "^$NS_PREFIX-"); do
    for p in $(ip netns pids "$n" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
    ip netns del "$n" 2>/dev/null
  done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# lan-a 10.1.0.2 — gw-a [10.1.0.1 | 192.0.2.1] ══ underlay ══ [192.0.2.2 | 10.2.0.1] gw-b — lan-b 10.2.0.2
topo4() {
  local n
  for n in lan-a gw-a gw-b lan-b; do ip netns add "$(ns $n)"; nsx "$n" ip link set lo up; done
  ip link add "$NS_PREFIX-la" netns "$(ns lan-a)" type veth peer name "$NS_PREFIX-al" netns "$(ns gw-a)"
  ip link add "$NS_PREFIX-ab" netns "$(ns gw-a)" type veth peer name "$NS_PREFIX-ba" netns "$(ns gw-b)"
  ip link add "$NS_PREFIX-bl" netns "$(ns gw-b)" type veth peer name "$NS_PREFIX-lb" netns "$(ns lan-b)"
  nsx lan-a ip addr add 10.1.0.2/24 dev "$NS_PREFIX-la"; nsx lan-a ip link set "$NS_PREFIX-la" up
  nsx gw-a ip addr add 10.1.0.1/24 dev "$NS_PREFIX-al"; nsx gw-a ip link set "$NS_PREFIX-al" up
  nsx gw-a ip addr add 192.0.2.1/24 dev "$NS_PREFIX-ab"; nsx gw-a ip link set "$NS_PREFIX-ab" up
  nsx gw-b ip addr add 192.0.2.2/24 dev "$NS_PREFIX-ba"; nsx gw-b ip link set "$NS_PREFIX-ba" up
  nsx gw-b ip addr add 10.2.0.1/24 dev "$NS_PREFIX-bl"; nsx gw-b ip link set "$NS_PREFIX-bl" up
  nsx lan-b ip addr add 10.2.0.2/24 dev "$NS_PREFIX-lb"; nsx lan-b ip link set "$NS_PREFIX-lb" up
  nsx lan-a ip route add default via 10.1.0.1
  nsx lan-b ip route add default via 10.2.0.1
  nsx gw-a sysctl -qw net.ipv4.ip_forward=1
  nsx gw-b sysctl -qw net.ipv4.ip_forward=1
}

# start_bg NS LOGFILE CMD... — runs CMD in the namespace in the background, records its PID.
start_bg() { local n="$1" log="$2"; shift 2; ip netns exec "$(ns "$n")" "$@" >"$log" 2>&1 & PIDS+=($!); }

summary() { echo "$(basename "$0"): $passed passed, $failed failed"; [ "$failed" -eq 0 ]; }

# static_sa_pair [EXTRA_JSON] — writes $WORK/a.json and $WORK/b.json for `vpngw tunnel up`:
# gw-a 192.0.2.1 ⇄ gw-b 192.0.2.2 (topo4) with static aes128gcm16 SAs, lan-a 10.1.0.0/24 ⇄ lan-b
# 10.2.0.0/24, TUN vpngw0. EXTRA_JSON adds top-level fields, e.g. '"peerPort":0,'.
static_sa_pair() {
  local extra="${1:-}"
  local k1=000102030405060708090a0b0c0d0e0f10111213 k2=202122232425262728292a2b2c2d2e2f30313233
  cat > "$WORK/a.json" <<J
{"localAddress":"192.0.2.1","peerAddress":"192.0.2.2","remotePrefixes":["10.2.0.0/24"],"tunName":"vpngw0",$extra
 "manual":{"suite":"aes128gcm16","outboundSPI":4097,"inboundSPI":8193,"outboundKey":"$k1","inboundKey":"$k2"}}
J
  cat > "$WORK/b.json" <<J
{"localAddress":"192.0.2.2","peerAddress":"192.0.2.1","remotePrefixes":["10.1.0.0/24"],"tunName":"vpngw0",$extra
 "manual":{"suite":"aes128gcm16","outboundSPI":8193,"inboundSPI":4097,"outboundKey":"$k2","inboundKey":"$k1"}}
J
}
