#!/usr/bin/env bash
# Reconciler isolation (issue 4 "done when"): three strongSwan sites on one gateway (lab mode);
# site1 and site2 ping the VNet's VM continuously (ping -i 0.05, bounded count) while the third
# connection is changed: shared key reset, then deleted, then re-created. Zero lost pings on the
# two untouched paths (from ping's own summary); the changed connection leaves Connected and comes
# back once the lab has given the site the new key.
# Run as root (VPNGW_BIN overrides the binary).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/strongswan.sh"
source "$(dirname "$0")/lab_lib.sh"
lab_require

D="$WORK/d"
V() { VPNGW_DATA_DIR="$D" "$VPNGW" "$@"; }
lab_serve "$D" lab || { failed=$((failed+1)); summary; exit 1; }
V group create -n rg >/dev/null
V network vnet create -g rg -n vnet1 --address-prefixes 10.1.0.0/16 --subnet-name vms --subnet-prefixes 10.1.0.0/24 >/dev/null
V network vnet subnet create -g rg --vnet-name vnet1 -n GatewaySubnet --address-prefixes 10.1.255.0/27 >/dev/null
V network public-ip create -g rg -n gw1-ip >/dev/null
t0=$(now_ms)
V network vnet-gateway create -g rg -n gw1 --vnet vnet1 --public-ip-address gw1-ip --sku VpnGw1 >/dev/null
echo "  MEASURED gateway provisioning (PUT → $(V network vnet-gateway show -g rg -n gw1 | jget provisioningState)): $(( $(now_ms) - t0 )) ms"
for s in 1 2 3; do
  V network local-gateway create -g rg -n site$s --gateway-ip-address 198.51.100.21$s --local-address-prefixes 192.168.$s.0/24 --tags vpngw-lab=site >/dev/null
done
for s in 1 2 3; do
  t0=$(now_ms)
  V network vpn-connection create -g rg -n c$s --vnet-gateway1 gw1 --local-gateway2 site$s --shared-key "Isolation-Key-$s" >/dev/null
  wait_status V rg c$s Connected 300
  echo "  MEASURED c$s Connected $(( $(now_ms) - t0 )) ms after its PUT"
done
for s in 1 2 3; do check "c$s Connected" '[ "$(conn_status V rg c$s)" = Connected ]'; done
check "site3 LAN → VNet VM before the change" 'V lab exec -g rg --site site3 -- ping -c 2 -i 0.2 -W 2 10.1.0.4 >/dev/null'
sleep 1

COUNT=500   # 25 s at 0.05 s
for s in 1 2; do
  V lab exec -g rg --site site$s -- ping -D -O -i 0.05 -c $COUNT -W 1 10.1.0.4 >"$WORK/ping$s.log" 2>&1 &
  PIDS+=($!); PING[$s]=$!
done
sleep 2

# watch C SECONDS — records c3's distinct successive states into $WORK/states
watch() { local end=$(( $(now_ms) + $1 * 1000 )) last="" st; : >"$WORK/states"
  while [ "$(now_ms)" -lt "$end" ]; do st=$(conn_status V rg c3); [ "$st" != "$last" ] && { echo "$st" >>"$WORK/states"; last=$st; }
    [ "$st" = Connected ] && [ "$(wc -l <"$WORK/states")" -gt 1 ] && break; sleep 0.05; done; }

# 1. shared key reset: vpngw gets a new key; the lab gives the site the same one.
est0=$(V network vpn-connection show -g rg -n c3 | python3 -c 'import json,sys;t=json.load(sys.stdin)["properties"].get("tunnelConnectionStatus") or [{}];print(t[0].get("lastConnectionEstablishedUtcTime",""))')
key0=$(V network vpn-connection shared-key show -g rg --connection-name c3 | jget value)
t0=$(now_ms)
echo "  [$(date +%s.%N | cut -c1-14)] shared key reset"
V network vpn-connection shared-key reset -g rg --connection-name c3 --key-length 32 >/dev/null
key1=$(V network vpn-connection shared-key show -g rg --connection-name c3 | jget value)
check "shared key reset changed the key" '[ -n "$key1" ] && [ "$key1" != "$key0" ]'
watch 15
echo "  c3 after the key reset: $(tr '\n' ' ' <"$WORK/states")($(( $(now_ms) - t0 )) ms)"
est1=$(V network vpn-connection show -g rg -n c3 | python3 -c 'import json,sys;t=json.load(sys.stdin)["properties"].get("tunnelConnectionStatus") or [{}];print(t[0].get("lastConnectionEstablishedUtcTime",""))')
check "c3 renegotiated with the new key (left Connected, or a newer establishment time: $est0 → $est1)" \
  'grep -qv "^Connected$" "$WORK/states" || [ "$est1" != "$est0" ]'
check "c3 Connected again with the new key" 'wait_status V rg c3 Connected 100'
check "site3 traffic flows with the new key" 'V lab exec -g rg --site site3 -- ping -c 2 -i 0.2 -W 2 10.1.0.4 >/dev/null'

# 2. delete c3
echo "  [$(date +%s.%N | cut -c1-14)] delete c3"
V network vpn-connection delete -g rg -n c3 >/dev/null
check "c3 deleted" '! V network vpn-connection show -g rg -n c3 >/dev/null 2>&1'
sleep 1
check "site3 no longer reaches the VNet" '! V lab exec -g rg --site site3 -- ping -c 1 -W 1 10.1.0.4 >/dev/null 2>&1'

# 3. re-create c3
t0=$(now_ms); echo "  [$(date +%s.%N | cut -c1-14)] re-create c3"
V network vpn-connection create -g rg -n c3 --vnet-gateway1 gw1 --local-gateway2 site3 --shared-key "Isolation-Key-3b" >/dev/null
check "re-created c3 Connected" 'wait_status V rg c3 Connected 200'
echo "  MEASURED re-created c3 Connected $(( $(now_ms) - t0 )) ms after its PUT"
check "site3 reaches the VNet again" 'V lab exec -g rg --site site3 -- ping -c 2 -i 0.2 -W 2 10.1.0.4 >/dev/null'

for s in 1 2; do
  for _ in $(seq 1 400); do kill -0 "${PING[$s]}" 2>/dev/null || break; sleep 0.1; done
  grep "packets transmitted" "$WORK/ping$s.log" | sed "s/^/  site$s: /"
  grep "no answer" "$WORK/ping$s.log" | sed "s/^/  site$s lost: /" | head -5
  sent=$(ping_sent "$WORK/ping$s.log"); lost=$(ping_lost "$WORK/ping$s.log")
  check "site$s: all $COUNT pings sent while c3 changed (${sent:-none})" '[ "$sent" = "$COUNT" ]'
  check "site$s: zero lost pings (lost $lost)" '[ "$lost" = 0 ]'
done
check "c1 and c2 still Connected" '[ "$(conn_status V rg c1)$(conn_status V rg c2)" = ConnectedConnected ]'
summary
