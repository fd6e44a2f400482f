#!/usr/bin/env bash
# Point-to-site gateway transit in host mode: `vpngw serve` runs in the gateway's namespace (it
# holds the public IP 192.0.2.1 and is the router of the hub VNet 10.1.0.0/24). In host mode the
# operator's network connects the VNets; here the gateway namespace routes to a spoke VNet
# (10.3.0.0/24) and to another peered VNet (10.4.0.0/24), and a strongSwan site 10.2.0.0/24 sits
# behind 192.0.2.2. The gateway decides what its P2S clients reach, from the resource model:
#   - the hub VNet and the spoke whose peering uses the hub's gateway (useRemoteGateways /
#     allowGatewayTransit) are reached; the site is reached through the S2S tunnel (the site's
#     selectors carry the pool);
#   - a peered VNet without gateway transit is not (the agent drops client → VNet and VNet →
#     client, counted as notReachable), even though the host could route it; giving that peering
#     transit opens it without reconnecting the client.
#
#   cli 203.0.113.2 ── 203.0.113.1 gw-a [192.0.2.1, p2s pool 172.16.206.0/24] ══ 192.0.2.2 gw-b ── lan-b 10.2.0.2
#                                  ├── lan-a 10.1.0.2 (hub)  ├── spoke 10.3.0.2  └── other 10.4.0.2
# Run as root (VPNGW_BIN overrides the binary).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/strongswan.sh"
[ -c /dev/net/tun ] || skip_all "no /dev/net/tun"
[ "$(id -u)" = 0 ] || skip_all "needs root for namespaces"
[ -x "$VPNGW" ] || skip_all "build vpngw first ($VPNGW)"
command -v python3 >/dev/null || skip_all "python3 is needed to read the agent's status"
cp "$VPNGW" "$WORK/vpngw" && VPNGW="$WORK/vpngw"
HAVE_SS=1; have_strongswan || HAVE_SS=0
topo4
# client, spoke VNet and a peered VNet without transit, all routed by the gateway's namespace
leg() { # NAME GW-ADDR/LEN HOST-ADDR/LEN GW-ADDR
  ip netns add "$(ns "$1")"; nsx "$1" ip link set lo up
  ip link add "$NS_PREFIX-$1" netns "$(ns "$1")" type veth peer name "$NS_PREFIX-g$1" netns "$(ns gw-a)"
  nsx gw-a ip addr add "$2" dev "$NS_PREFIX-g$1"; nsx gw-a ip link set "$NS_PREFIX-g$1" up
  nsx "$1" ip addr add "$3" dev "$NS_PREFIX-$1"; nsx "$1" ip link set "$NS_PREFIX-$1" up
  nsx "$1" ip route add default via "$4"
}
leg cli 203.0.113.1/24 203.0.113.2/24 203.0.113.1
leg spk 10.3.0.1/24 10.3.0.2/24 10.3.0.1
leg oth 10.4.0.1/24 10.4.0.2/24 10.4.0.1
wait_for() { local i; for i in $(seq 1 "$2"); do eval "$1" && return 0; sleep 0.2; done; return 1; }

D="$WORK/serve"
V() { ip netns exec "$(ns gw-a)" env VPNGW_DATA_DIR="$D" "$VPNGW" "$@"; }
start_bg gw-a "$WORK/serve.log" "$VPNGW" serve --data-dir "$D" --listen 127.0.0.1:0
wait_for '[ -s "$D/client.json" ]' 75
check "serve started (host mode)" '[ -s "$D/client.json" ]'

POOL=172.16.206.0/24
V group create -n rg >/dev/null
V network vnet create -g rg -n hub --address-prefixes 10.1.0.0/16 --subnet-name vms --subnet-prefixes 10.1.0.0/24 >/dev/null
V network vnet subnet create -g rg --vnet-name hub -n GatewaySubnet --address-prefixes 10.1.255.0/27 >/dev/null
V network vnet create -g rg -n spoke --address-prefixes 10.3.0.0/16 --subnet-name vms --subnet-prefixes 10.3.0.0/24 >/dev/null
V network vnet create -g rg -n other --address-prefixes 10.4.0.0/16 --subnet-name vms --subnet-prefixes 10.4.0.0/24 >/dev/null
V network public-ip create -g rg -n gw-ip --ip-address 192.0.2.1 >/dev/null
V network vnet-gateway create -g rg -n gw1 --vnet hub --public-ip-address gw-ip --sku VpnGw1 \
  --address-prefixes "$POOL" --client-protocol SSTP --vpn-auth-type Password --client-user alice=Alice-pw-1 >"$WORK/gw.json" 2>&1
check "gateway with SSTP point-to-site (host mode)" 'grep -q "\"provisioningState\" : \"Succeeded\"" "$WORK/gw.json"'
V network vnet peering create -g rg --vnet-name hub -n hub-to-spoke --remote-vnet spoke --allow-gateway-transit >/dev/null
V network vnet peering create -g rg --vnet-name spoke -n spoke-to-hub --remote-vnet hub --use-remote-gateways --allow-forwarded-traffic >/dev/null
V network vnet peering create -g rg --vnet-name hub -n hub-to-other --remote-vnet other >/dev/null
V network vnet peering create -g rg --vnet-name other -n other-to-hub --remote-vnet hub >/dev/null
if [ "$HAVE_SS" = 1 ]; then
  ss_conf b; ss_start b gw-b
  ss_s2s b 192.0.2.2 192.0.2.1 10.2.0.0/24 "10.1.0.0/16,10.3.0.0/16,$POOL" default default "Host-P2S-Key-1"
  V network local-gateway create -g rg -n site1 --gateway-ip-address 192.0.2.2 --local-address-prefixes 10.2.0.0/24 >/dev/null
  V network vpn-connection create -g rg -n c1 --vnet-gateway1 gw1 --local-gateway2 site1 --shared-key "Host-P2S-Key-1" >/dev/null
fi
wait_for 'V network vnet-gateway vpn-client generate -g rg -n gw1 --json 2>/dev/null | python3 -c "import json,sys; d=json.load(sys.stdin); sys.exit(0 if d.get(\"serverCertificatePEM\") and not d.get(\"status\") else 1)"' 100
V p2s client-config -g rg -n gw1 --user alice >"$WORK/profile.txt" 2>&1
check "client profile routes the spoke (gateway transit)" 'grep -q "route 10.3.0.0/16" "$WORK/profile.txt"'
check "client profile does not route the peered VNet without transit" '! grep -q "route 10.4.0.0/16" "$WORK/profile.txt"'

# The client routes all of them through the tunnel, the VNet without transit too: the gateway decides.
start_bg cli "$WORK/alice.log" "$VPNGW" p2s connect --engine native --server 192.0.2.1 --user alice --password Alice-pw-1 \
  --tun sstp0 --route 10.1.0.0/16 --route 10.2.0.0/24 --route 10.3.0.0/16 --route 10.4.0.0/16 --ready-file "$WORK/alice.ready"
check "alice's session is up" "wait_for '[ -s $WORK/alice.ready ]' 75"
ADDR=$(head -1 "$WORK/alice.ready" 2>/dev/null)
check "alice → hub VM 10.1.0.2" 'nsx cli ping -c 2 -i 0.2 -W 2 10.1.0.2 >/dev/null'
check "alice → spoke VM 10.3.0.2 (gateway transit)" 'nsx cli ping -c 2 -i 0.2 -W 2 10.3.0.2 >/dev/null'
check "spoke VM → alice $ADDR" 'nsx spk ping -c 2 -i 0.2 -W 2 "$ADDR" >/dev/null'
check "alice ↛ other VM 10.4.0.2 (peered without gateway transit)" '! nsx cli ping -c 2 -i 0.2 -W 1 10.4.0.2 >/dev/null'
check "other VM ↛ alice" '! nsx oth ping -c 2 -i 0.2 -W 1 "$ADDR" >/dev/null'
STATUS=$(ls "$D"/agents/*.status.json 2>/dev/null | head -1)
notreach() { python3 -c 'import json,sys; p=json.load(open(sys.argv[1])).get("p2s") or {}; print((p.get("drops") or {}).get("notReachable",0))' "$STATUS" 2>/dev/null || echo 0; }
check "the agent counts those drops (notReachable)" 'wait_for "[ \$(notreach) -ge 4 ]" 15'
echo "  agent p2s drops: $(python3 -c 'import json,sys; print((json.load(open(sys.argv[1])).get("p2s") or {}).get("drops"))' "$STATUS" 2>/dev/null)"
if [ "$HAVE_SS" = 1 ]; then
  check "site connection Connected" 'wait_for "V network vpn-connection show -g rg -n c1 | grep -q \"\\\"connectionStatus\\\" : \\\"Connected\\\"\"" 150'
  check "alice → site LAN 10.2.0.2 through the S2S tunnel" 'nsx cli ping -c 3 -i 0.3 -W 2 10.2.0.2 >/dev/null'
else
  echo "  (strongSwan with kernel-libipsec not installed: the P2S → site check is skipped)"
fi
# Gateway transit for the other VNet: the same live session reaches it.
V network vnet peering update -g rg --vnet-name hub -n hub-to-other --remote-vnet other --allow-gateway-transit >/dev/null
V network vnet peering update -g rg --vnet-name other -n other-to-hub --remote-vnet hub --use-remote-gateways --allow-forwarded-traffic >/dev/null
check "with transit, alice → other VM 10.4.0.2 on the same session" 'wait_for "nsx cli ping -c 1 -W 1 10.4.0.2 >/dev/null" 40'
check "and other VM → alice" 'nsx oth ping -c 2 -i 0.2 -W 2 "$ADDR" >/dev/null'
summary
