#!/usr/bin/env bash
# Multi-site in lab mode (issue 4 item 4): one RouteBased VpnGw1 gateway with three site-to-site
# connections to three strongSwan sites at once; every site's LAN reaches the VNet's VM and back;
# sites reach each other through the gateway (transit: site1 LAN → site2 LAN); a Basic gateway
# takes 10 connections and refuses the 11th with a clear error (control plane only).
# Prints the gateway's provisioning time (PUT → Succeeded) and the time to Connected.
#
#   site{1,2,3} LAN 192.168.N.4 ─ strongSwan 198.51.100.21N ══ lab internet ══ 198.51.100.x gw1 ─ vnet1 VM 10.1.0.4
#
# Run as root: Tests/netns/lab_multisite.sh   (VPNGW_BIN overrides the binary)
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/strongswan.sh"
source "$(dirname "$0")/lab_lib.sh"
lab_require

D="$WORK/d"
V() { VPNGW_DATA_DIR="$D" "$VPNGW" "$@"; }
lab_serve "$D" lab || { failed=$((failed+1)); summary; exit 1; }
check "serve started with the data plane in lab mode" '[ -s "$D/client.json" ]'

V group create -n rg >/dev/null
V network vnet create -g rg -n vnet1 --address-prefixes 10.1.0.0/16 --subnet-name vms --subnet-prefixes 10.1.0.0/24 >/dev/null
V network vnet subnet create -g rg --vnet-name vnet1 -n GatewaySubnet --address-prefixes 10.1.255.0/27 >/dev/null
V network public-ip create -g rg -n gw1-ip >/dev/null
t0=$(now_ms)
V network vnet-gateway create -g rg -n gw1 --vnet vnet1 --public-ip-address gw1-ip --vpn-type RouteBased --sku VpnGw1 >/dev/null
t1=$(now_ms)
state=$(V network vnet-gateway show -g rg -n gw1 | jget provisioningState)
echo "  MEASURED gateway provisioning (PUT → $state): $((t1 - t0)) ms"
check "gateway gw1 Succeeded" '[ "$state" = Succeeded ]'

for s in 1 2 3; do
  V network local-gateway create -g rg -n site$s --gateway-ip-address 198.51.100.21$s \
    --local-address-prefixes 192.168.$s.0/24 --tags vpngw-lab=site >/dev/null
done
t2=$(now_ms)
for s in 1 2 3; do
  V network vpn-connection create -g rg -n c$s --vnet-gateway1 gw1 --local-gateway2 site$s --shared-key "Multi-Site-Key-$s" >/dev/null
done
wait_status V rg c1 Connected 300; t3=$(now_ms)
echo "  MEASURED connection c1 Connected $((t3 - t2)) ms after its PUT (includes starting the site's strongSwan)"
for s in 1 2 3; do
  check "connection c$s Connected" 'wait_status V rg c$s Connected 200'
done
V network vpn-connection list -g rg -o table

# Every site reaches the VNet's VM, and the VM every site.
for s in 1 2 3; do
  check "site$s LAN → vnet1 VM 10.1.0.4" 'V lab exec -g rg --site site$s -- ping -c 3 -i 0.2 -W 2 10.1.0.4 >/dev/null'
  check "vnet1 VM → site$s LAN 192.168.$s.4" 'V lab exec -g rg --vnet vnet1 --subnet vms -- ping -c 2 -i 0.2 -W 2 192.168.$s.4 >/dev/null'
done

# Transit between sites through the gateway (the gateway routes tunnel → tunnel). A site's
# selectors cover the VNet and the other sites of the gateway; sites that connected before the
# later sites existed keep the selectors they negotiated (like a real device whose config changed),
# so their connections are reset once (each reset renegotiates only that tunnel).
for c in c1 c2; do V network vpn-connection reset -g rg -n $c >/dev/null; done
sleep 0.5
for c in c1 c2; do check "after reset $c is Connected again" 'wait_status V rg $c Connected 150'; done
check "transit site1 LAN → site2 LAN 192.168.2.4 through gw1" 'V lab exec -g rg --site site1 -- ping -c 3 -i 0.2 -W 2 192.168.2.4 >/dev/null'
check "transit site3 LAN → site1 LAN 192.168.1.4 through gw1" 'V lab exec -g rg --site site3 -- ping -c 3 -i 0.2 -W 2 192.168.1.4 >/dev/null'
sleep 1.2
bytes=$(V network vpn-connection show -g rg -n c2 | jget egressBytesTransferred)
check "byte counters reach the API (c2 egress $bytes)" '[ "${bytes:-0}" -gt 0 ]'

# SKU tunnel limit: Basic allows 10; the 11th connection is refused with a clear error.
V network vnet create -g rg -n vnetb --address-prefixes 10.9.0.0/16 --subnet-name vms --subnet-prefixes 10.9.0.0/24 >/dev/null
V network vnet subnet create -g rg --vnet-name vnetb -n GatewaySubnet --address-prefixes 10.9.255.0/27 >/dev/null
V network public-ip create -g rg -n gwb-ip >/dev/null
V network vnet-gateway create -g rg -n gwb --vnet vnetb --public-ip-address gwb-ip --vpn-type RouteBased --sku Basic >"$WORK/gwb.out" 2>&1
check "Basic gateway Succeeded" '[ "$(V network vnet-gateway show -g rg -n gwb | jget provisioningState)" = Succeeded ] || { cat $WORK/gwb.out; false; }'
ok=0
for i in $(seq 1 11); do
  V network local-gateway create -g rg -n b$i --gateway-ip-address 203.0.113.$i --local-address-prefixes 172.20.$i.0/24 >/dev/null
  if [ "$i" -le 10 ]; then
    V network vpn-connection create -g rg -n bc$i --vnet-gateway1 gwb --local-gateway2 b$i --shared-key "Basic-Key-$i" \
      --connection-mode ResponderOnly >/dev/null 2>"$WORK/bc$i.err" && ok=$((ok+1))
  fi
done
check "Basic gateway accepts 10 connections ($ok)" '[ "$ok" = 10 ]'
V network vpn-connection create -g rg -n bc11 --vnet-gateway1 gwb --local-gateway2 b11 --shared-key "Basic-Key-11" >"$WORK/bc11.out" 2>&1
rc=$?
echo "  11th connection refused: $(tr '\n' ' ' < "$WORK/bc11.out" | cut -c1-300)"
check "the 11th connection is refused" '[ "$rc" != 0 ]'
check "the refusal names the SKU and its limit of 10" 'grep -q "Basic" "$WORK/bc11.out" && grep -q "10" "$WORK/bc11.out"'
check "the refused connection was not stored" '! V network vpn-connection show -g rg -n bc11 >/dev/null 2>&1'
check "the three site connections are still Connected" '[ "$(conn_status V rg c1)$(conn_status V rg c2)$(conn_status V rg c3)" = ConnectedConnectedConnected ]'

lab_stop
check "stopping serve leaves no lab namespace behind" '! ip netns list | grep -q "^$(lab_prefix "$D")-"'
summary
