#!/usr/bin/env bash
# Raw ESP (IP protocol 50, RFC 4303 without RFC 3948's UDP): two vpngw data planes with static SAs
# and "peerPort": 0 carry lan-a ⇄ lan-b; the underlay shows IP protocol 50 and no UDP 4500; a
# file arrives intact; a forged raw ESP packet is dropped and counted.
source "$(dirname "$0")/lib.sh"
[ -c /dev/net/tun ] || skip_all "no /dev/net/tun"
[ "$(id -u)" = 0 ] || skip_all "needs root for namespaces"
command -v socat >/dev/null || skip_all "socat missing"
topo4
static_sa_pair '"peerPort":0,'
start_bg gw-a "$WORK/a.log" "$VPNGW" tunnel up --config "$WORK/a.json"
PA=${PIDS[-1]}
start_bg gw-b "$WORK/b.log" "$VPNGW" tunnel up --config "$WORK/b.json"
PB=${PIDS[-1]}
for _ in $(seq 1 50); do grep -q "tunnel up" "$WORK/a.log" && grep -q "tunnel up" "$WORK/b.log" && break; sleep 0.1; done
check "both data planes opened the raw ESP socket" 'grep -q "raw ESP (IP protocol 50) ready" "$WORK/a.log" && grep -q "raw ESP (IP protocol 50) ready" "$WORK/b.log"'
check "lan-a pings lan-b through raw ESP" 'nsx lan-a ping -c 3 -i 0.2 -W 2 10.2.0.2 >/dev/null'
nsx gw-a timeout 4 tcpdump -nli "$NS_PREFIX-ab" -w "$WORK/underlay.pcap" "host 192.0.2.2" >/dev/null 2>&1 &
TD=$!
sleep 0.7
nsx lan-a ping -c 5 -i 0.1 -W 2 10.2.0.2 >/dev/null
wait "$TD" 2>/dev/null
check "the underlay carries IP protocol 50" '[ "$(tcpdump -nr "$WORK/underlay.pcap" "ip proto 50" 2>/dev/null | wc -l)" -ge 10 ]'
check "and no UDP 4500 at all" '[ "$(tcpdump -nr "$WORK/underlay.pcap" "udp port 4500" 2>/dev/null | wc -l)" -eq 0 ]'
head -c 4000000 /dev/urandom > "$WORK/payload"
start_bg lan-b "$WORK/socat.log" timeout 30 socat -u TCP-LISTEN:5001,reuseaddr OPEN:"$WORK/received",creat,trunc
SP=${PIDS[-1]}
sleep 0.5
nsx lan-a timeout 30 socat -u OPEN:"$WORK/payload" TCP:10.2.0.2:5001 2>>"$WORK/socat.log"
wait "$SP" 2>/dev/null
check "4 MB lan-a → lan-b arrive intact over raw ESP (sha256)" '[ "$(sha256sum < "$WORK/payload")" = "$(sha256sum < "$WORK/received" 2>/dev/null)" ]'
# A forged ESP packet (fresh sequence number, garbage ICV) as raw IP protocol 50.
nsx gw-a python3 -c '
import socket, struct
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, 50)
s.sendto(struct.pack("!II", 4097, 60000) + bytes(range(64)), ("192.0.2.2", 0))
'
sleep 0.5
kill "$PA" "$PB"; wait "$PA" "$PB" 2>/dev/null
check "gw-b dropped and counted the forged raw ESP packet" 'grep -q "esp authentication-failed: 1" "$WORK/b.log"'
check "gw-b counted raw ESP arrivals" 'grep -qE "raw ESP in [1-9]" "$WORK/b.log"'
[ "$failed" -eq 0 ] || tail -n 6 "$WORK"/a.log "$WORK"/b.log | sed 's/^/  /'
summary
