#!/usr/bin/env bash
# VNet peering in lab mode (issue 4 item 6).
#  1. Without a gateway: vneta ⇄ vnetb. One peering alone is Initiated and carries nothing; with
#     both, the VMs reach each other directly (no tunnel involved).
#  2. Gateway transit: hub (gateway gw1, a strongSwan site) peered with spoke (hub: allowGatewayTransit,
#     spoke: useRemoteGateways). The peering link exists before the site's connection does, so the
#     spoke's route to the site has to follow the hub's connections. spoke VM ⇄ site LAN through
#     the hub's gateway.
#  3. Deleting the spoke's peering breaks spoke ↔ hub; the hub's peering shows Disconnected
#     (deleting the hub's side first is refused while the spoke uses its gateway).
# Run as root (VPNGW_BIN overrides the binary).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/strongswan.sh"
source "$(dirname "$0")/lab_lib.sh"
lab_require

D="$WORK/d"
V() { VPNGW_DATA_DIR="$D" "$VPNGW" "$@"; }
lab_serve "$D" lab || { failed=$((failed+1)); summary; exit 1; }
V group create -n rg >/dev/null
vnet() { V network vnet create -g rg -n "$1" --address-prefixes "$2.0.0/16" --subnet-name vms --subnet-prefixes "$2.0.0/24" >/dev/null; }
pstate() { V network vnet peering show -g rg --vnet-name "$1" -n "$2" 2>/dev/null | jget peeringState; }
# reach FROM-VNET ADDRESS TRIES — a VM pings ADDRESS until it answers (the lab syncs every ~3 s)
reach() { local i; for i in $(seq 1 "$3"); do V lab exec -g rg --vnet "$1" --subnet vms -- ping -c 1 -W 1 "$2" >/dev/null 2>&1 && return 0; sleep 0.3; done; return 1; }
# unreachable FROM-VNET ADDRESS TRIES — until pings stop being answered
unreachable() { local i; for i in $(seq 1 "$3"); do V lab exec -g rg --vnet "$1" --subnet vms -- ping -c 1 -W 1 "$2" >/dev/null 2>&1 || return 0; sleep 0.3; done; return 1; }

# ---------- 1. plain peering ----------
vnet vneta 10.5; vnet vnetb 10.6
V network vnet peering create -g rg --vnet-name vneta -n a-to-b --remote-vnet vnetb >/dev/null
check "one side only: a-to-b is Initiated ($(pstate vneta a-to-b))" '[ "$(pstate vneta a-to-b)" = Initiated ]'
sleep 3.5   # at least one lab sync with only one side
check "one side only: no traffic vneta → vnetb" '! V lab exec -g rg --vnet vneta --subnet vms -- ping -c 1 -W 1 10.6.0.4 >/dev/null 2>&1'
V network vnet peering create -g rg --vnet-name vnetb -n b-to-a --remote-vnet vneta >/dev/null
check "both sides: a-to-b and b-to-a Connected" '[ "$(pstate vneta a-to-b)$(pstate vnetb b-to-a)" = ConnectedConnected ]'
check "vneta VM → vnetb VM 10.6.0.4 directly" 'reach vneta 10.6.0.4 30'
check "vnetb VM → vneta VM 10.5.0.4" 'reach vnetb 10.5.0.4 5'
hops=$(V lab exec -g rg --vnet vneta --subnet vms -- ping -c 1 -W 1 10.6.0.4 2>/dev/null | sed -n 's/.*ttl=\([0-9]*\).*/\1/p')
check "no gateway on the path (ttl $hops: two routers)" '[ "$hops" = 62 ]'

# ---------- 2. gateway transit ----------
vnet hub 10.1; vnet spoke 10.3
V network vnet subnet create -g rg --vnet-name hub -n GatewaySubnet --address-prefixes 10.1.255.0/27 >/dev/null
V network public-ip create -g rg -n gw1-ip >/dev/null
V network vnet-gateway create -g rg -n gw1 --vnet hub --public-ip-address gw1-ip --sku VpnGw1 >/dev/null
V network vnet peering create -g rg --vnet-name hub -n hub-to-spoke --remote-vnet spoke --allow-gateway-transit >/dev/null
V network vnet peering create -g rg --vnet-name spoke -n spoke-to-hub --remote-vnet hub --use-remote-gateways --allow-forwarded-traffic >/dev/null
check "hub ⇄ spoke peerings Connected" '[ "$(pstate hub hub-to-spoke)$(pstate spoke spoke-to-hub)" = ConnectedConnected ]'
check "spoke VM → hub VM 10.1.0.4" 'reach spoke 10.1.0.4 30'
# The site and its connection come after the peering link is up.
V network local-gateway create -g rg -n site1 --gateway-ip-address 198.51.100.211 --local-address-prefixes 192.168.1.0/24 --tags vpngw-lab=site >/dev/null
V network vpn-connection create -g rg -n c1 --vnet-gateway1 gw1 --local-gateway2 site1 --shared-key Transit-Key-0123 >/dev/null
check "c1 Connected" 'wait_status V rg c1 Connected 300'
check "hub VM → site1 LAN 192.168.1.4" 'reach hub 192.168.1.4 10'
check "spoke VM → site1 LAN 192.168.1.4 through the hub's gateway (gateway transit)" 'reach spoke 192.168.1.4 20'
check "site1 LAN → spoke VM 10.3.0.4" 'V lab exec -g rg --site site1 -- ping -c 2 -i 0.2 -W 2 10.3.0.4 >/dev/null'
check "the plain peering is unaffected (vneta ↛ site1: no transit without useRemoteGateways)" '! V lab exec -g rg --vnet vneta --subnet vms -- ping -c 1 -W 1 192.168.1.4 >/dev/null 2>&1'

# ---------- 3. deleting one peering ----------
# (The hub's side cannot go first while the spoke uses its gateway: that is refused, as in Azure.)
V network vnet peering delete -g rg --vnet-name hub -n hub-to-spoke >"$WORK/del.out" 2>&1
check "deleting the hub's side first is refused while the spoke uses its gateway" 'grep -q PeeringUsedForGatewayTransit "$WORK/del.out"'
V network vnet peering delete -g rg --vnet-name spoke -n spoke-to-hub >/dev/null
st=$(pstate hub hub-to-spoke)
echo "  after deleting spoke-to-hub: hub-to-spoke peeringState=$st"
check "the remaining side shows Disconnected or Initiated" '[ "$st" = Disconnected ] || [ "$st" = Initiated ]'
check "spoke ↛ hub once the peering is gone" 'unreachable spoke 10.1.0.4 30'
check "spoke ↛ site1 either" '! V lab exec -g rg --vnet spoke --subnet vms -- ping -c 1 -W 1 192.168.1.4 >/dev/null 2>&1'
check "hub ↛ spoke" '! V lab exec -g rg --vnet hub --subnet vms -- ping -c 1 -W 1 10.3.0.4 >/dev/null 2>&1'
check "the other peering (vneta ⇄ vnetb) still carries traffic" 'reach vneta 10.6.0.4 3'
check "the hub still reaches its site" 'reach hub 192.168.1.4 3'
# Re-creating it restores the path.
V network vnet peering create -g rg --vnet-name spoke -n spoke-to-hub --remote-vnet hub --use-remote-gateways --allow-forwarded-traffic >/dev/null
check "re-created: spoke → hub again" 'reach spoke 10.1.0.4 30'
summary
