#!/usr/bin/env bash
# Policy-based traffic selectors (usePolicyBasedTrafficSelectors): the tunnel carries VNet × site
# prefixes instead of 0.0.0.0/0; a site whose selectors do not match is NotConnected with a
# reason naming the selectors.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/strongswan.sh"
[ -c /dev/net/tun ] || skip_all "no /dev/net/tun"
[ "$(id -u)" = 0 ] || skip_all "needs root for namespaces"
have_strongswan || skip_all "strongSwan with kernel-libipsec is not installed"
cp "$VPNGW" "$WORK/vpngw"; VPNGW="$WORK/vpngw"
topo4
PSK="policy-psk-0123456789"
D="$WORK/serve"
V() { ip netns exec "$(ns gw-a)" env VPNGW_DATA_DIR="$D" "$VPNGW" "$@"; }
start_bg gw-a "$WORK/serve.log" "$VPNGW" serve --data-dir "$D" --listen 127.0.0.1:0
for _ in $(seq 1 100); do [ -s "$D/client.json" ] && break; sleep 0.1; done
V group create -n rg >/dev/null
V network vnet create -g rg -n vnet1 --address-prefixes 10.1.0.0/16 --subnet-name vms --subnet-prefixes 10.1.0.0/24 >/dev/null
V network vnet subnet create -g rg --vnet-name vnet1 -n GatewaySubnet --address-prefixes 10.1.255.0/27 >/dev/null
V network public-ip create -g rg -n gw-ip --ip-address 192.0.2.1 >/dev/null
V network vnet-gateway create -g rg -n gw1 --vnet vnet1 --public-ip-address gw-ip --sku VpnGw1 >/dev/null
V network local-gateway create -g rg -n site1 --gateway-ip-address 192.0.2.2 --local-address-prefixes 10.2.0.0/24 >/dev/null

# strongSwan's selectors match the cross product exactly.
ss_conf b; ss_start b gw-b
ss_s2s b 192.0.2.2 192.0.2.1 10.2.0.0/24 10.1.0.0/16 default default "$PSK"
V network vpn-connection create -g rg -n c1 --vnet-gateway1 gw1 --local-gateway2 site1 --shared-key "$PSK" --use-policy-based-traffic-selectors >/dev/null
conn() { V network vpn-connection show -g rg -n c1; }
for _ in $(seq 1 100); do conn | grep -q '"connectionStatus" : "Connected"' && break; sleep 0.1; done
check "policy-based connection Connected" 'conn | grep -q "\"connectionStatus\" : \"Connected\""'
check "traffic between the selected prefixes flows" 'nsx lan-a ping -c 3 -i 0.2 -W 2 10.2.0.2 >/dev/null'
check "strongSwan installed the narrow selectors (not 0.0.0.0/0)" 'sw b --list-sas | grep -qE "remote +10\.1\.0\.0/16"'
sw b --list-sas | grep -E "local +[0-9]|remote +[0-9]" | sed 's/^/  strongSwan: /'

# A site that insists on other selectors: refused, and the reason names them.
V network vpn-connection delete -g rg -n c1 >/dev/null
kill "${PIDS[-1]}" 2>/dev/null; sleep 0.5
ss_conf b; ss_start b gw-b
ss_s2s b 192.0.2.2 192.0.2.1 10.2.0.0/24 10.99.0.0/16 default default "$PSK"
V network vpn-connection create -g rg -n c1 --vnet-gateway1 gw1 --local-gateway2 site1 --shared-key "$PSK" --use-policy-based-traffic-selectors >/dev/null
sw b --initiate --child net --timeout 5 >/dev/null 2>&1
for _ in $(seq 1 60); do conn | grep -q "TS_UNACCEPTABLE\|selector" && break; sleep 0.2; done
check "mismatched selectors: the connection says why" 'conn | grep -qi "TS_UNACCEPTABLE\|selector"'
conn | grep -i "reason" | sed 's/^/  /'
summary
