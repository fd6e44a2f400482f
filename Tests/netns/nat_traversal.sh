#!/usr/bin/env bash
# NAT traversal (RFC 7296 §2.23, RFC 3948): strongSwan sits behind a masquerading NAT and
# initiates to vpngw; both detect the NAT, IKE floats to 4500, ESP runs in UDP through the NAT.
#
# lan-a 10.1.0.2 — gw-a [10.1.0.1 | 192.0.2.1] ══ [192.0.2.254 | nat | 198.51.100.1] ══ [198.51.100.2 | 10.2.0.1] gw-b — lan-b 10.2.0.2
# (TEST-NET-1 outside the NAT, TEST-NET-2 inside; gw-b's packets leave the NAT as 192.0.2.254 from
# ports 40000–40999, so vpngw must answer the mapped ports, not 500/4500)
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/strongswan.sh"
[ -c /dev/net/tun ] || skip_all "no /dev/net/tun"
[ "$(id -u)" = 0 ] || skip_all "needs root for namespaces"
have_strongswan || skip_all "strongSwan with kernel-libipsec is not installed (apt: strongswan-charon strongswan-swanctl libcharon-extra-plugins)"
command -v nft >/dev/null || skip_all "nft is not installed (apt: nftables)"

topo_nat() {
  local n
  for n in lan-a gw-a nat gw-b lan-b; do ip netns add "$(ns $n)"; nsx "$n" ip link set lo up; done
  ip link add "$NS_PREFIX-la" netns "$(ns lan-a)" type veth peer name "$NS_PREFIX-al" netns "$(ns gw-a)"
  ip link add "$NS_PREFIX-an" netns "$(ns gw-a)" type veth peer name "$NS_PREFIX-na" netns "$(ns nat)"
  ip link add "$NS_PREFIX-nb" netns "$(ns nat)" type veth peer name "$NS_PREFIX-bn" netns "$(ns gw-b)"
  ip link add "$NS_PREFIX-bl" netns "$(ns gw-b)" type veth peer name "$NS_PREFIX-lb" netns "$(ns lan-b)"
  nsx lan-a ip addr add 10.1.0.2/24 dev "$NS_PREFIX-la"; nsx lan-a ip link set "$NS_PREFIX-la" up
  nsx gw-a ip addr add 10.1.0.1/24 dev "$NS_PREFIX-al"; nsx gw-a ip link set "$NS_PREFIX-al" up
  nsx gw-a ip addr add 192.0.2.1/24 dev "$NS_PREFIX-an"; nsx gw-a ip link set "$NS_PREFIX-an" up
  nsx nat ip addr add 192.0.2.254/24 dev "$NS_PREFIX-na"; nsx nat ip link set "$NS_PREFIX-na" up
  nsx nat ip addr add 198.51.100.1/24 dev "$NS_PREFIX-nb"; nsx nat ip link set "$NS_PREFIX-nb" up
  nsx gw-b ip addr add 198.51.100.2/24 dev "$NS_PREFIX-bn"; nsx gw-b ip link set "$NS_PREFIX-bn" up
  nsx gw-b ip addr add 10.2.0.1/24 dev "$NS_PREFIX-bl"; nsx gw-b ip link set "$NS_PREFIX-bl" up
  nsx lan-b ip addr add 10.2.0.2/24 dev "$NS_PREFIX-lb"; nsx lan-b ip link set "$NS_PREFIX-lb" up
  nsx lan-a ip route add default via 10.1.0.1
  nsx lan-b ip route add default via 10.2.0.1
  nsx gw-b ip route add default via 198.51.100.1
  nsx gw-a sysctl -qw net.ipv4.ip_forward=1
  nsx gw-b sysctl -qw net.ipv4.ip_forward=1
  nsx nat sysctl -qw net.ipv4.ip_forward=1
  nsx nat nft -f - <<NFT
table ip vgnat {
  chain post { type nat hook postrouting priority srcnat; oifname "$NS_PREFIX-na" meta l4proto udp masquerade to :40000-40999; oifname "$NS_PREFIX-na" masquerade; }
}
NFT
}
topo_nat
PSK="nat-psk-0123456789"

ss_conf b
ss_start b gw-b || { check "charon started" false; summary; exit 1; }
# strongSwan behind the NAT: its own address and identity are 198.51.100.2.
ss_s2s b 198.51.100.2 192.0.2.1 10.2.0.0/24 10.1.0.0/24 default default "$PSK"
# vpngw only ever sees the NAT's public address.
cat > "$WORK/v.json" <<J
{"localAddress":"192.0.2.1","peerAddress":"192.0.2.254","remotePrefixes":["10.2.0.0/24"],"tunName":"vpngw0",
 "ike":{"psk":"$PSK","mode":"respond"}}
J
start_bg gw-a "$WORK/v.log" "$VPNGW" tunnel up --config "$WORK/v.json"
VP=${PIDS[-1]}
sleep 0.3
sw b --initiate --child net --timeout 10 > "$WORK/init.out" 2>&1
for _ in $(seq 1 60); do grep -q "CHILD SA established" "$WORK/v.log" && break; sleep 0.1; done
check "CHILD SA established through the NAT (strongSwan initiates)" 'grep -q "CHILD SA established" "$WORK/v.log"'
check "vpngw detected the NAT in front of the peer" 'grep -q "NAT detected (local false, remote true)" "$WORK/v.log"'
check "strongSwan detected the NAT too" 'grep -qi "local host is behind NAT" "$WORK/ss-b/charon.log"'
check "lan-a → lan-b through the tunnel" 'nsx lan-a ping -c 5 -i 0.2 -W 2 10.2.0.2 >/dev/null'
check "lan-b → lan-a through the tunnel" 'nsx lan-b ping -c 5 -i 0.2 -W 2 10.1.0.2 >/dev/null'
nsx nat nft list ruleset > "$WORK/nft.out" 2>&1
nsx nat cat /proc/net/nf_conntrack 2>/dev/null | grep -E "dport=(500|4500)" | sed 's/^/  nat conntrack: /' | head -4
sw b --list-sas 2>/dev/null | grep -E "ESTABLISHED|INSTALLED|remote|local" | sed 's/^/  strongSwan: /'
sleep 1.2
grep -E "NAT|established|failed" "$WORK/v.log" | sed 's/^/  vpngw: /'
check "the NAT mapped the peer's ports (IKE and NAT-T not from 500/4500)" 'nsx nat cat /proc/net/nf_conntrack | grep -E "sport=4500 dport=4500 .*dst=192.0.2.254 sport=4500 dport=40[0-9]{3}" >/dev/null'
check "ESP flowed in UDP on 4500 (vpngw counted packets in)" 'kill -INT "$VP"; wait "$VP" 2>/dev/null; grep -qE "tunnel 1: out [1-9][0-9]* pkts .* in [1-9][0-9]* pkts" "$WORK/v.log"'
grep -E "tunnel 1:|drops:" "$WORK/v.log" | sed 's/^/  vpngw: /'
summary
