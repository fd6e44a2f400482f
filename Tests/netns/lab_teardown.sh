#!/usr/bin/env bash
# Lab teardown: after `kill -9` of serve the next start cleans up what the dead one left (agents,
# strongSwan, namespaces) and rebuilds; SIGTERM then leaves no namespace, process or TUN behind.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/strongswan.sh"
source "$(dirname "$0")/lab_lib.sh"
lab_require
D="$WORK/d"
lab_serve "$D" || { check "serve started" false; summary; }
export VPNGW_DATA_DIR="$D"
q() { "$VPNGW" "$@" >/dev/null; }
q group create -n td
q network vnet create -g td -n v --address-prefixes 10.1.0.0/16 --subnet-name vms --subnet-prefixes 10.1.0.0/24
q network vnet subnet create -g td --vnet-name v -n GatewaySubnet --address-prefixes 10.1.255.0/27
q network public-ip create -g td -n ip
q network vnet-gateway create -g td -n gw --vnet v --public-ip-address ip
q network local-gateway create -g td -n s --gateway-ip-address 198.51.100.230 --local-address-prefixes 192.168.30.0/24 --tags vpngw-lab=site
q network vpn-connection create -g td -n c --vnet-gateway1 gw --local-gateway2 s --shared-key Teardown-Key
up() { "$VPNGW" network vpn-connection show -g td -n c 2>/dev/null | grep -q '"connectionStatus" : "Connected"'; }
for _ in $(seq 1 100); do up && break; sleep 0.2; done
check "tunnel up in the lab" 'up'
SUB=$(tr -d '[:space:]' < "$D/subscription"); P="vl${SUB:0:4}-"
agents() { pgrep -f "gateway-agent --config $D/" | wc -l; }
before=$(ip netns list | grep -c "^$P")
check "the lab has namespaces ($before) and one agent" '[ "$before" -gt 3 ] && [ "$(agents)" = 1 ]'

SERVE=${SERVES[0]%%:*}
kill -9 "$SERVE"; wait "$SERVE" 2>/dev/null
check "after kill -9 the orphans are still there (agent, namespaces)" '[ "$(agents)" = 1 ] && [ "$(ip netns list | grep -c "^$P")" -gt 3 ]'
SERVES=()
lab_serve "$D"
for _ in $(seq 1 150); do up && break; sleep 0.2; done
check "the next start cleaned up and brought the tunnel back" 'up && [ "$(agents)" = 1 ]'
check "the VM reaches the site again" '"$VPNGW" lab exec -g td --vnet v --subnet vms -- ping -c 2 -W 2 192.168.30.4 >/dev/null'

SERVE=${SERVES[0]%%:*}
kill "$SERVE"; for _ in $(seq 1 100); do kill -0 "$SERVE" 2>/dev/null || break; sleep 0.1; done
check "serve exits on SIGTERM" '! kill -0 "$SERVE" 2>/dev/null'
check "no lab namespace left" '[ "$(ip netns list | grep -c "^$P")" = 0 ]'
check "no agent left" '[ "$(agents)" = 0 ]'
check "no strongSwan of the lab left" '! pgrep -f "$D/lab/site-" >/dev/null'
SERVES=()
summary
