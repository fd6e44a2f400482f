#!/usr/bin/env bash
# Shared SKU bandwidth: a Basic gateway (100 Mbit/s) with two strongSwan sites pushing iperf3 into
# the VNet at once: the sum stays within the cap + 5 % and neither site gets less than 40 % of it.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/strongswan.sh"
[ -c /dev/net/tun ] || skip_all "no /dev/net/tun"
[ "$(id -u)" = 0 ] || skip_all "needs root for namespaces"
have_strongswan || skip_all "strongSwan with kernel-libipsec is not installed"
command -v iperf3 >/dev/null || skip_all "iperf3 is not installed"
cp "$VPNGW" "$WORK/vpngw"; VPNGW="$WORK/vpngw"
D="$WORK/d"
export VPNGW_DATA_DIR="$D"
"$VPNGW" serve --data-dir "$D" --listen 127.0.0.1:0 --data-plane lab --log-level warning ${SERVE_EXTRA:-} > "$WORK/serve.log" 2>&1 &
SERVE=$!; PIDS+=($SERVE)
for _ in $(seq 1 100); do [ -s "$D/client.json" ] && break; sleep 0.1; done
q() { "$VPNGW" "$@" >/dev/null; }
q group create -n bw
q network vnet create -g bw -n hub --address-prefixes 10.1.0.0/16 --subnet-name vms --subnet-prefixes 10.1.0.0/24
q network vnet subnet create -g bw --vnet-name hub -n GatewaySubnet --address-prefixes 10.1.255.0/27
q network public-ip create -g bw -n gw-ip
q network vnet-gateway create -g bw -n gw --vnet hub --public-ip-address gw-ip --sku Basic
for s in 1 2; do
  q network local-gateway create -g bw -n site$s --gateway-ip-address 198.51.100.21$s --local-address-prefixes 192.168.$s.0/24 --tags vpngw-lab=site
  q network vpn-connection create -g bw -n c$s --vnet-gateway1 gw --local-gateway2 site$s --shared-key "Bw-Key-$s"
done
for _ in $(seq 1 120); do
  up=0; for s in 1 2; do "$VPNGW" network vpn-connection show -g bw -n c$s | grep -q '"connectionStatus" : "Connected"' && up=$((up+1)); done
  [ "$up" = 2 ] && break; sleep 0.5
done
check "both sites connected to the Basic gateway" '[ "$up" = 2 ]'
grep -h "bandwidth" "$D"/agents/*.log | sed 's/^/  /'
lx() { "$VPNGW" lab exec -g bw "$@"; }
lx --vnet hub --subnet vms -- iperf3 -s -D -p 5201 >/dev/null 2>&1
lx --vnet hub --subnet vms -- iperf3 -s -D -p 5202 >/dev/null 2>&1
sleep 0.5
lx --site site1 -- timeout 30 iperf3 -c 10.1.0.4 -p 5201 -t 8 -J > "$WORK/s1.json" 2>&1 &
J1=$!
lx --site site2 -- timeout 30 iperf3 -c 10.1.0.4 -p 5202 -t 8 -J > "$WORK/s2.json" 2>&1 &
J2=$!
wait $J1 $J2
rate() { python3 -c 'import json,sys; print("%.1f" % (json.load(open(sys.argv[1]))["end"]["sum_received"]["bits_per_second"]/1e6))' "$1" 2>/dev/null || echo 0; }
r1=$(rate "$WORK/s1.json"); r2=$(rate "$WORK/s2.json")
sum=$(python3 -c "print('%.1f' % ($r1 + $r2))")
echo "  site1 ${r1} Mbit/s, site2 ${r2} Mbit/s, sum ${sum} Mbit/s (Basic cap 100 Mbit/s)"
check "the sum stays within the cap + 5 % ($sum ≤ 105)" 'python3 -c "import sys; sys.exit(0 if $sum <= 105 else 1)"'
check "the sum uses the cap (≥ 70 Mbit/s)" 'python3 -c "import sys; sys.exit(0 if $sum >= 70 else 1)"'
check "site1 gets at least 40 % of the cap" 'python3 -c "import sys; sys.exit(0 if $r1 >= 40 else 1)"'
check "site2 gets at least 40 % of the cap" 'python3 -c "import sys; sys.exit(0 if $r2 >= 40 else 1)"'
kill "$SERVE"; for _ in $(seq 1 50); do kill -0 "$SERVE" 2>/dev/null || break; sleep 0.1; done
summary
