#!/usr/bin/env bash
# Point-to-site traffic counts against the gateway's SKU bandwidth (Azure: the SKU's aggregate
# throughput is shared by every connection, S2S and P2S). A Basic gateway (100 Mbit/s per
# direction) in lab mode with an SSTP client and a strongSwan site:
#   1. iperf3 through one SSTP session alone stays within the cap + 5 %, and the agent reports
#      the drops by reason (bandwidthCapInbound) and that the S2S data plane shares the budget;
#   2. the SSTP client and the site push into the VNet at the same time: the sum stays within
#      the cap + 5 % (skipped, saying so, while the S2S data plane does not take the shared budget).
# Run as root (VPNGW_BIN overrides the binary).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/strongswan.sh"
source "$(dirname "$0")/lab_lib.sh"
lab_require
command -v iperf3 >/dev/null || skip_all "iperf3 is not installed"
D="$WORK/d"
export VPNGW_DATA_DIR="$D"
V() { "$VPNGW" "$@"; }
wait_for() { local i; for i in $(seq 1 "$2"); do eval "$1" && return 0; sleep 0.2; done; return 1; }
lab_serve "$D" || { check "serve started" false; summary; exit 1; }
LAB=$(lab_prefix "$D")

V group create -n bw >/dev/null
V network vnet create -g bw -n hub --address-prefixes 10.1.0.0/16 --subnet-name vms --subnet-prefixes 10.1.0.0/24 >/dev/null
V network vnet subnet create -g bw --vnet-name hub -n GatewaySubnet --address-prefixes 10.1.255.0/27 >/dev/null
V network public-ip create -g bw -n gw-ip >/dev/null
V network vnet-gateway create -g bw -n gw --vnet hub --public-ip-address gw-ip --sku Basic \
  --address-prefixes 172.16.205.0/24 --client-protocol SSTP --vpn-auth-type Password --client-user alice=Alice-pw-1 >"$WORK/gw.json" 2>&1
check "Basic gateway with SSTP point-to-site" 'grep -q "\"provisioningState\" : \"Succeeded\"" "$WORK/gw.json"'
GWIP=$(V network public-ip show -g bw -n gw-ip | python3 -c 'import json,sys; print(json.load(sys.stdin)["properties"]["ipAddress"])')
V network local-gateway create -g bw -n site1 --gateway-ip-address 198.51.100.211 --local-address-prefixes 192.168.1.0/24 --tags vpngw-lab=site >/dev/null
V network vpn-connection create -g bw -n c1 --vnet-gateway1 gw --local-gateway2 site1 --shared-key "Bw-P2S-Key-1" >/dev/null
check "site connected" 'wait_status V bw c1 Connected 600'
wait_for 'V network vnet-gateway vpn-client generate -g bw -n gw --json 2>/dev/null | python3 -c "import json,sys; d=json.load(sys.stdin); sys.exit(0 if d.get(\"serverCertificatePEM\") and not d.get(\"status\") else 1)"' 100

ip netns add "$(ns cli)"; nsx cli ip link set lo up
ip link add "$NS_PREFIX-c" netns "$(ns cli)" type veth peer name "$NS_PREFIX-cb" netns "$LAB-inet"
ip netns exec "$LAB-inet" ip link set "$NS_PREFIX-cb" master br0 up
nsx cli ip addr add 198.51.100.248/24 dev "$NS_PREFIX-c"; nsx cli ip link set "$NS_PREFIX-c" up
start_bg cli "$WORK/alice.log" "$VPNGW" p2s connect --engine native --server "$GWIP" --user alice --password Alice-pw-1 \
  --tun sstp0 --route 10.1.0.0/16 --ready-file "$WORK/alice.ready"
check "alice's session is up" "wait_for '[ -s $WORK/alice.ready ]' 75"

lx() { V lab exec -g bw "$@"; }
lx --vnet hub --subnet vms -- iperf3 -s -D -p 5201 >/dev/null 2>&1
lx --vnet hub --subnet vms -- iperf3 -s -D -p 5202 >/dev/null 2>&1
sleep 0.5
rate() { python3 -c 'import json,sys; print("%.1f" % (json.load(open(sys.argv[1]))["end"]["sum_received"]["bits_per_second"]/1e6))' "$1" 2>/dev/null || echo 0; }
le() { python3 -c "import sys; sys.exit(0 if $1 <= $2 else 1)"; }

# 1. one SSTP session alone
nsx cli timeout 30 iperf3 -c 10.1.0.4 -p 5201 -t 8 -J > "$WORK/p2s.json" 2>&1
p=$(rate "$WORK/p2s.json")
echo "  one SSTP session alone: $p Mbit/s (Basic cap 100 Mbit/s)"
check "one SSTP session stays within the cap + 5 % ($p ≤ 105)" 'le "$p" 105'
check "and uses it (≥ 60 Mbit/s)" 'le 60 "$p"'
STATUS=$(ls "$D"/agents/*.status.json | head -1)
sleep 1.2
python3 - "$STATUS" <<'PY' | sed 's/^/  /'
import json,sys
p=json.load(open(sys.argv[1])).get("p2s") or {}
print("agent p2s status: bandwidthMbps=%s sharedWithSiteToSite=%s drops=%s" % (p.get("bandwidthMbps"), p.get("sharedWithSiteToSite"), p.get("drops")))
for s in p.get("sessions",[]): print("session %s in %s B out %s B dropped %s" % (s["id"], s["bytesIn"], s["bytesOut"], s.get("packetsDropped")))
PY
pjson() { python3 -c 'import json,sys; p=json.load(open(sys.argv[1])).get("p2s") or {}; print(eval(sys.argv[2]))' "$STATUS" "$1"; }
check "the agent reports bandwidth-cap drops by reason (bandwidthCapInbound > 0)" '[ "$(pjson "(p.get(\"drops\") or {}).get(\"bandwidthCapInbound\",0) > 0")" = True ]'
check "the session reports its dropped packets" '[ "$(pjson "sum(s.get(\"packetsDropped\") or 0 for s in p.get(\"sessions\",[])) > 0")" = True ]'
SHARED=$(pjson 'p.get("sharedWithSiteToSite")')
check "P2S and both S2S directions draw from one budget (sharedWithSiteToSite = 2)" '[ "$SHARED" = 2 ]'

# 2. SSTP client and site at once
nsx cli timeout 30 iperf3 -c 10.1.0.4 -p 5201 -t 8 -J > "$WORK/p2s2.json" 2>&1 &
J1=$!
lx --site site1 -- timeout 30 iperf3 -c 10.1.0.4 -p 5202 -t 8 -J > "$WORK/s2s.json" 2>&1 &
J2=$!
wait $J1 $J2
r1=$(rate "$WORK/p2s2.json"); r2=$(rate "$WORK/s2s.json")
sum=$(python3 -c "print('%.1f' % ($r1 + $r2))")
echo "  together: SSTP ${r1} Mbit/s + site ${r2} Mbit/s = ${sum} Mbit/s (Basic cap 100 Mbit/s)"
check "SSTP + site together stay within the cap + 5 % ($sum ≤ 105)" 'le "$sum" 105'
check "both got traffic through (each ≥ 5 Mbit/s)" 'le 5 "$r1" && le 5 "$r2"'
lab_stop
summary
