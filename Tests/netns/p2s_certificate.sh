#!/usr/bin/env bash
# Point-to-site with Azure's certificate authentication (EAP-TLS inside PPP over SSTP), driven by
# the gateway resource in lab mode: a client certificate from the uploaded root connects and pings
# the VNet VM; a certificate from another root is refused; revoking the first client's thumbprint
# (vpnClientRevokedCertificates) ends its live session and it cannot dial in again.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/strongswan.sh"
source "$(dirname "$0")/lab_lib.sh"
[ "$(id -u)" = 0 ] || skip_all "needs root (network namespaces)"
[ -c /dev/net/tun ] || skip_all "no /dev/net/tun"
[ -x "$VPNGW" ] || skip_all "build vpngw first ($VPNGW)"
cp "$VPNGW" "$WORK/vpngw" && VPNGW="$WORK/vpngw"
D="$WORK/d"
lab_serve "$D" || { check "serve started" false; summary; }
export VPNGW_DATA_DIR="$D"
V() { "$VPNGW" "$@"; }
wait_for() { local i; for i in $(seq 1 "$2"); do eval "$1" && return 0; sleep 0.2; done; return 1; }
LAB="vl$(tr -d '[:space:]' < "$D/subscription" | cut -c1-4)"

V p2s make-cert --root-out "$WORK/root.pem" --root-key-out "$WORK/root.key" --client-cn alice --client-out "$WORK/alice.pem" --client-key-out "$WORK/alice.key" > "$WORK/certs.txt"
V p2s make-cert --root-out "$WORK/other.pem" --root-key-out "$WORK/other.key" --root-cn OtherRoot --client-cn mallory --client-out "$WORK/mallory.pem" --client-key-out "$WORK/mallory.key" >/dev/null
THUMB=$(openssl x509 -in "$WORK/alice.pem" -noout -fingerprint -sha1 | cut -d= -f2 | tr -d ':')
check "certificates made (alice from root, mallory from another root)" '[ -s "$WORK/alice.pem" ] && [ -s "$WORK/mallory.pem" ] && [ ${#THUMB} = 40 ]'

V group create -n rg >/dev/null
V network vnet create -g rg -n vnet1 --address-prefixes 10.1.0.0/16 --subnet-name vms --subnet-prefixes 10.1.0.0/24 >/dev/null
V network vnet subnet create -g rg --vnet-name vnet1 -n GatewaySubnet --address-prefixes 10.1.255.0/27 >/dev/null
V network public-ip create -g rg -n gw1-ip >/dev/null
V network vnet-gateway create -g rg -n gw1 --vnet vnet1 --public-ip-address gw1-ip --sku VpnGw1 \
  --address-prefixes 172.16.202.0/24 --client-protocol SSTP --vpn-auth-type Certificate \
  --root-cert-name root1 --root-cert-file "$WORK/root.pem" >"$WORK/gw.json" 2>&1
check "gateway with certificate authentication and an uploaded root" 'grep -q "\"provisioningState\" : \"Succeeded\"" "$WORK/gw.json"'
GWIP=$(V network public-ip show -g rg -n gw1-ip | python3 -c 'import json,sys; print(json.load(sys.stdin)["properties"]["ipAddress"])')
wait_for 'V network vnet-gateway vpn-client generate -g rg -n gw1 --json 2>/dev/null | python3 -c "import json,sys; d=json.load(sys.stdin); sys.exit(0 if d.get(\"serverCertificatePEM\") and not d.get(\"status\") else 1)"' 100

ip netns add "$(ns cli)"; nsx cli ip link set lo up
ip link add "$NS_PREFIX-c" netns "$(ns cli)" type veth peer name "$NS_PREFIX-cb" netns "$LAB-inet"
ip netns exec "$LAB-inet" ip link set "$NS_PREFIX-cb" master br0 up
nsx cli ip addr add 198.51.100.249/24 dev "$NS_PREFIX-c"; nsx cli ip link set "$NS_PREFIX-c" up

start_bg cli "$WORK/alice.log" "$VPNGW" p2s connect --engine native --server "$GWIP" --cert "$WORK/alice.pem" --key "$WORK/alice.key" \
  --tun sstp0 --route 10.1.0.0/16 --ready-file "$WORK/alice.ready"
ALICE=${PIDS[-1]}
check "alice's certificate session is up (EAP-TLS)" "wait_for '[ -s $WORK/alice.ready ]' 75"
check "alice pings the VNet VM over SSTP" 'nsx cli ping -c 3 -i 0.2 -W 2 10.1.0.4 >/dev/null'
# Both ends allow TLS 1.2 and 1.3, so the inner EAP-TLS is RFC 9190; the SSTP crypto binding (HLAK
# from its MSK) held, or the call would not be up.
check "alice's EAP-TLS ran over TLS 1.3 (RFC 9190) and the SSTP crypto binding accepted its keys" 'grep -q "EAP-TLS over TLS 1.3 (RFC 9190)" "$WORK/alice.log"'

nsx cli timeout 30 "$VPNGW" p2s connect --engine native --server "$GWIP" --cert "$WORK/mallory.pem" --key "$WORK/mallory.key" --tun sstp1 >"$WORK/mallory.log" 2>&1
rc=$?
check "a certificate from another root is refused" '[ $rc -ne 0 ]'
check "the refusal says why in the agent's log" "wait_for 'grep -q \"does not chain to a vpnClientRootCertificate\" $D/agents/*.status.json' 25"

# Revoke alice: vpnClientRevokedCertificates gets her thumbprint (a PUT of the gateway, as the SDK does).
EP=$(python3 -c 'import json,sys;print(json.load(open(sys.argv[1]))["endpoint"])' "$D/client.json")
TOKEN=$(python3 -c 'import json,sys;print(json.load(open(sys.argv[1]))["token"])' "$D/client.json")
SUB=$(python3 -c 'import json,sys;print(json.load(open(sys.argv[1]))["subscription"])' "$D/client.json")
URL="$EP/subscriptions/$SUB/resourceGroups/rg/providers/Microsoft.Network/virtualNetworkGateways/gw1?api-version=2024-05-01"
curl -s --cacert "$D/api-ca.pem" -H "Authorization: Bearer $TOKEN" "$URL" | python3 -c '
import json,sys
g=json.load(sys.stdin)
g["properties"]["vpnClientConfiguration"]["vpnClientRevokedCertificates"]=[{"name":"alice","properties":{"thumbprint":sys.argv[1]}}]
print(json.dumps(g))' "$THUMB" > "$WORK/revoke.json"
code=$(curl -s -o "$WORK/revoke.out" -w '%{http_code}' --cacert "$D/api-ca.pem" -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' -X PUT --data @"$WORK/revoke.json" "$URL")
check "revocation accepted by the API ($code)" '[ "$code" = 200 ]'
check "alice's live session ended when her certificate was revoked" "wait_for '! kill -0 $ALICE 2>/dev/null' 75"
nsx cli timeout 30 "$VPNGW" p2s connect --engine native --server "$GWIP" --cert "$WORK/alice.pem" --key "$WORK/alice.key" --tun sstp2 >"$WORK/alice2.log" 2>&1
rc=$?
check "the revoked certificate cannot dial in again" '[ $rc -ne 0 ]'
check "the revocation is in the agent's log" 'grep -q "live certificate session(s) ended" "$D"/agents/*.status.json'
lab_stop
summary
