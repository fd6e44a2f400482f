#!/usr/bin/env bash
# Host mode end to end: `vpngw serve` runs in the gateway's namespace (which holds the gateway's
# public IP); resources created through the CLI bring a real IKEv2 tunnel up to a strongSwan site;
# the connection reports Connected with byte counters; restarting serve after kill -9 brings the
# tunnel back by itself.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/strongswan.sh"
[ -c /dev/net/tun ] || skip_all "no /dev/net/tun"
[ "$(id -u)" = 0 ] || skip_all "needs root for namespaces"
have_strongswan || skip_all "strongSwan with kernel-libipsec is not installed"
topo4
PSK="host-mode-psk-0123456789"
D="$WORK/serve"
V() { ip netns exec "$(ns gw-a)" env VPNGW_DATA_DIR="$D" "$VPNGW" "$@"; }
start_serve() {
  rm -f "$D/client.json"
  start_bg gw-a "$WORK/serve.log" "$VPNGW" serve --data-dir "$D" --listen 127.0.0.1:0
  SERVE=${PIDS[-1]}
  for _ in $(seq 1 100); do [ -s "$D/client.json" ] && break; sleep 0.1; done
}
start_serve
check "serve started with the data plane in host mode" '[ -s "$D/client.json" ]'

ss_conf b; ss_start b gw-b
ss_s2s b 192.0.2.2 192.0.2.1 10.2.0.0/24 10.1.0.0/16 default default "$PSK"

V group create -n rg >/dev/null
V network vnet create -g rg -n vnet1 --address-prefixes 10.1.0.0/16 --subnet-name vms --subnet-prefixes 10.1.0.0/24 >/dev/null
V network vnet subnet create -g rg --vnet-name vnet1 -n GatewaySubnet --address-prefixes 10.1.255.0/27 >/dev/null
V network public-ip create -g rg -n gw-ip --ip-address 192.0.2.1 >/dev/null
t0=$(date +%s%N)
V network vnet-gateway create -g rg -n gw1 --vnet vnet1 --public-ip-address gw-ip --sku VpnGw1 >/dev/null
t1=$(date +%s%N)
echo "  gateway provisioned (PUT → Succeeded) in $(( (t1 - t0) / 1000000 )) ms"
check "gateway Succeeded" 'V network vnet-gateway show -g rg -n gw1 | grep -q "\"provisioningState\" : \"Succeeded\""'
V network local-gateway create -g rg -n site1 --gateway-ip-address 192.0.2.2 --local-address-prefixes 10.2.0.0/24 >/dev/null
t2=$(date +%s%N)
V network vpn-connection create -g rg -n c1 --vnet-gateway1 gw1 --local-gateway2 site1 --shared-key "$PSK" >/dev/null
for _ in $(seq 1 100); do V network vpn-connection show -g rg -n c1 | grep -q '"connectionStatus" : "Connected"' && break; sleep 0.1; done
t3=$(date +%s%N)
echo "  connection Connected $(( (t3 - t2) / 1000000 )) ms after the PUT"
check "connection reports Connected" 'V network vpn-connection show -g rg -n c1 | grep -q "\"connectionStatus\" : \"Connected\""'
check "VM in the VNet reaches the site through the tunnel" 'nsx lan-a ping -c 3 -i 0.2 -W 2 10.2.0.2 >/dev/null'
sleep 1.5
check "byte counters reach the API" 'V network vpn-connection show -g rg -n c1 | grep -qE "\"egressBytesTransferred\" : [1-9]"'
V network vpn-connection show -g rg -n c1 -o table

# A wrong key on a second site: that connection says why; the first keeps working.
ip netns exec "$(ns gw-a)" ip addr add 192.0.2.3/24 dev "$NS_PREFIX-ab" 2>/dev/null
V network local-gateway create -g rg -n site2 --gateway-ip-address 192.0.2.9 --local-address-prefixes 10.9.0.0/24 >/dev/null
V network vpn-connection create -g rg -n c2 --vnet-gateway1 gw1 --local-gateway2 site2 --shared-key "other" >/dev/null
sleep 4
check "a site that never answers is NotConnected with a reason" 'V network vpn-connection show -g rg -n c2 | grep -q "\"connectionStatus\" : \"Connecting\"\|no answer"'
check "the first connection kept its traffic" 'nsx lan-a ping -c 2 -i 0.2 -W 2 10.2.0.2 >/dev/null'

# kill -9 the control plane: the next start cleans up the orphaned agent and brings the tunnel back.
kill -9 "$SERVE"; wait "$SERVE" 2>/dev/null
start_serve
for _ in $(seq 1 150); do V network vpn-connection show -g rg -n c1 2>/dev/null | grep -q '"connectionStatus" : "Connected"' && break; sleep 0.1; done
check "after kill -9 and restart the tunnel is back by itself" 'V network vpn-connection show -g rg -n c1 | grep -q "\"connectionStatus\" : \"Connected\""'
check "traffic flows again" 'nsx lan-a ping -c 3 -i 0.3 -W 2 10.2.0.2 >/dev/null'
check "exactly one agent runs for the gateway" '[ "$(pgrep -f "gateway-agent --config $D" | wc -l)" = 1 ]'
V network vpn-connection delete -g rg -n c1 >/dev/null; V network vpn-connection delete -g rg -n c2 >/dev/null
V network vnet-gateway delete -g rg -n gw1 >/dev/null
sleep 1
check "deleting the gateway stops its agent" '[ "$(pgrep -f "gateway-agent --config $D" | wc -l)" = 0 ]'
summary
