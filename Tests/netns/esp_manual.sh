#!/usr/bin/env bash
# Data plane with static SAs: two vpngw tunnels (gw-a, gw-b) carry LAN-to-LAN traffic through
# userspace ESP-in-UDP; a corrupted and a replayed ESP packet are dropped and counted.
source "$(dirname "$0")/lib.sh"
[ -c /dev/net/tun ] || skip_all "no /dev/net/tun"
[ "$(id -u)" = 0 ] || skip_all "needs root for namespaces"
topo4
static_sa_pair
start_bg gw-a "$WORK/a.log" "$VPNGW" tunnel up --config "$WORK/a.json"
PA=${PIDS[-1]}
start_bg gw-b "$WORK/b.log" "$VPNGW" tunnel up --config "$WORK/b.json"
PB=${PIDS[-1]}
for _ in $(seq 1 50); do grep -q "tunnel up" "$WORK/a.log" && grep -q "tunnel up" "$WORK/b.log" && break; sleep 0.1; done
check "both tunnels came up" 'grep -q "tunnel up" "$WORK/a.log" && grep -q "tunnel up" "$WORK/b.log"'
check "lan-a pings lan-b through the tunnel" 'nsx lan-a ping -c 3 -i 0.2 -W 2 10.2.0.2 >/dev/null'
check "the underlay carries ESP-in-UDP on 4500, not plain ICMP" 'nsx gw-a timeout 3 tcpdump -c 2 -ni '"$NS_PREFIX"'-ab "udp port 4500" >/dev/null 2>&1 & sleep 0.5; nsx lan-a ping -c 3 -i 0.2 -W 2 10.2.0.2 >/dev/null; wait $!'
# Path MTU: the TUN's MTU (1400) is what fits in one ESP-in-UDP datagram on a 1500-byte underlay;
# a DF packet that does not fit is answered with ICMP "fragmentation needed" (mtu 1400) by gw-a,
# and one that fits goes through.
check "a DF packet of 1400 bytes crosses the tunnel" 'nsx lan-a ping -c 1 -W 2 -M do -s 1372 10.2.0.2 >/dev/null'
check "a DF packet of 1478 bytes gets ICMP fragmentation-needed with mtu 1400" 'nsx lan-a ping -c 1 -W 2 -M do -s 1450 10.2.0.2 2>&1 | grep -qiE "frag needed.*mtu = 1400|mtu ?= ?1400"'
# Corrupted ESP: a datagram with gw-b's inbound SPI and garbage; a replay: resend a captured packet.
python3 - "$(ns gw-a)" <<'PY'
import socket, struct, subprocess, sys
ns = sys.argv[1]
code = r'''
import socket, struct
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("192.0.2.1", 0))
# Sequence 50000 is fresh: the forged ICV must fail authentication.
s.sendto(struct.pack("!II", 4097, 50000) + bytes(range(64)), ("192.0.2.2", 4500))
# Sequence 1 was used by the first ping: rejected by the replay check, before authentication.
s.sendto(struct.pack("!II", 4097, 1) + bytes(range(64)), ("192.0.2.2", 4500))
'''
subprocess.run(["ip", "netns", "exec", ns, "python3", "-c", code], check=True)
PY
sleep 0.5
kill "$PB"; wait "$PB" 2>/dev/null
check "gw-b dropped and counted the corrupted packet (authentication failed)" 'grep -q "esp authentication-failed: 1" "$WORK/b.log"'
check "gw-b dropped and counted the replayed packet" 'grep -q "esp replayed: 1" "$WORK/b.log"'
check "gw-b counted inbound packets on the tunnel" 'grep -qE "tunnel 1: out [1-9][0-9]* pkts .* in [1-9]" "$WORK/b.log"'
cat "$WORK/b.log" | sed 's/^/  gw-b: /'
summary
