#!/usr/bin/env bash
# TUN and UDP offloads on the ESP path, with static SAs: a TCP transfer from lan-a to lan-b must
# arrive byte for byte (our segmentation, checksums and coalescing are on the data's path), and
# the counters must show that the offloads actually carried it (TSO super-packets read, UDP GSO
# sends, UDP GRO receives, coalesced TUN writes). Then the same transfer with offloads off.
source "$(dirname "$0")/lib.sh"
[ -c /dev/net/tun ] || skip_all "no /dev/net/tun"
[ "$(id -u)" = 0 ] || skip_all "needs root for namespaces"
command -v socat >/dev/null || skip_all "socat missing"
topo4
head -c 24000000 /dev/urandom > "$WORK/payload"
want=$(sha256sum < "$WORK/payload" | cut -d' ' -f1)

run_pair() {  # $1: offloads true|false, $2: log suffix
  static_sa_pair "\"offloads\":$1,"
  start_bg gw-a "$WORK/a$2.log" "$VPNGW" tunnel up --config "$WORK/a.json"
  PA=${PIDS[-1]}
  start_bg gw-b "$WORK/b$2.log" "$VPNGW" tunnel up --config "$WORK/b.json"
  PB=${PIDS[-1]}
  for _ in $(seq 1 50); do grep -q "tunnel up" "$WORK/a$2.log" && grep -q "tunnel up" "$WORK/b$2.log" && break; sleep 0.1; done
  nsx lan-a ping -c 2 -i 0.2 -W 2 10.2.0.2 >/dev/null 2>&1
  rm -f "$WORK/received"
  start_bg lan-b "$WORK/socat$2.log" timeout 60 socat -u TCP-LISTEN:5001,reuseaddr OPEN:"$WORK/received",creat,trunc
  SP=${PIDS[-1]}
  sleep 0.5
  nsx lan-a timeout 60 socat -u OPEN:"$WORK/payload" TCP:10.2.0.2:5001 2>>"$WORK/socat$2.log"
  wait "$SP" 2>/dev/null
  got=$(sha256sum < "$WORK/received" 2>/dev/null | cut -d' ' -f1)
  kill "$PA" "$PB"; wait "$PA" "$PB" 2>/dev/null
}

run_pair true on
check "offloads on: the data plane reports them enabled" 'grep -q "offloads: TUN TSO/coalescing on, UDP GSO on, UDP GRO on" "$WORK/aon.log"'
check "offloads on: 24 MB lan-a → lan-b arrive intact (sha256)" '[ "$got" = "$want" ]'
check "sender read TCP super-packets from its TUN and sent UDP GSO batches" 'grep -qE "TUN super-packets [1-9][0-9]* → [1-9][0-9]* segments, UDP GSO [1-9][0-9]* sends" "$WORK/aon.log"'
check "receiver got GRO-coalesced datagrams and wrote coalesced TCP to its TUN" 'grep -qE "UDP GRO [1-9][0-9]* receives .* TUN coalesced [1-9][0-9]* writes" "$WORK/bon.log"'
# GSO batches must cross the underlay whole: a batch over the device's gso_max_size is segmented
# by the sender's kernel and arrives as single datagrams (seen before the byte budget was cut).
sent=$(grep -oE "UDP GSO [0-9]+ sends → [0-9]+ datagrams" "$WORK/aon.log" | grep -oE "[0-9]+ datagrams" | grep -oE "[0-9]+")
coalesced=$(grep -oE "UDP GRO [0-9]+ receives → [0-9]+ datagrams" "$WORK/bon.log" | grep -oE "[0-9]+ datagrams" | grep -oE "[0-9]+")
echo "  GSO datagrams sent by gw-a: ${sent:-?}, received GRO-coalesced by gw-b: ${coalesced:-?}"
check "most GSO datagrams arrive still coalesced (≥ 80 %)" '[ -n "$sent" ] && [ -n "$coalesced" ] && [ $((coalesced * 100)) -ge $((sent * 80)) ]'
# (The kernel's own IPv6 router solicitations on the TUN are counted as "not an IPv4 packet".)
check "offloads on: nothing dropped by ESP, offload, TUN or UDP on either side" '! grep -E "^drops:" "$WORK/aon.log" "$WORK/bon.log" | grep -qiE "esp|offload|TUN|UDP send|seal"'
grep -E "offloads|drops" "$WORK/aon.log" "$WORK/bon.log" | sed 's/^/  /'

run_pair false off
check "offloads off: the data plane says so" 'grep -q "offloads: off" "$WORK/aoff.log"'
check "offloads off: 24 MB arrive intact (sha256)" '[ "$got" = "$want" ]'
check "offloads off: no offload counters move" '! grep -q "TUN super-packets" "$WORK/aoff.log"'
[ "$failed" -eq 0 ] || tail -n 5 "$WORK"/*.log | sed 's/^/  /'
summary
