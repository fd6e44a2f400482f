#!/usr/bin/env bash
# CLI smoke test: starts its own `vpngw serve` in a temp dir on a free port and walks the
# site-to-site setup through the CLI: group → vnet (+ subnet, GatewaySubnet /27) → public IP →
# vnet-gateway → local-gateway → vpn-connection → tables → shared key → second Vpn gateway on the
# same VNet (refused) → deletes in order. Prints "N passed, M failed"; exits non-zero on failure.
#
#   swift build --product vpngw && Tests/cli/cli_smoke.sh
#   VPNGW=/path/to/vpngw Tests/cli/cli_smoke.sh
set -u

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
VPNGW="${VPNGW:-$ROOT/.build/debug/vpngw}"
if [[ ! -x "$VPNGW" ]]; then
    echo "no vpngw binary at $VPNGW: run 'swift build --product vpngw' (or set VPNGW)" >&2
    exit 2
fi

DATA="$(mktemp -d "${TMPDIR:-/tmp}/vpngw-cli-smoke.XXXXXX")"
SERVER_PID=""
cleanup() {
    if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill "$SERVER_PID" 2>/dev/null
        wait "$SERVER_PID" 2>/dev/null
    fi
    rm -rf "$DATA"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

PASS=0
FAIL=0
OUT=""   # stdout+stderr of the last command
RC=0

pass() { PASS=$((PASS + 1)); echo "ok   - $1"; }
fail() {
    FAIL=$((FAIL + 1)); echo "FAIL - $1"
    [[ -n "${2:-}" ]] && echo "       $2"
    echo "$OUT" | sed 's/^/       | /' | head -20
}

# run ARGS...: runs the CLI against the test server, keeps output in $OUT and status in $RC.
run() {
    OUT="$("$VPNGW" "$@" --data-dir "$DATA" 2>&1)"
    RC=$?
}
# ok DESC ARGS...: the command must succeed.
ok() {
    local desc="$1"; shift
    run "$@"
    if [[ $RC -eq 0 ]]; then pass "$desc"; else fail "$desc" "exit $RC: vpngw $*"; fi
}
# refused DESC CODE ARGS...: the command must exit 1 with "error: CODE:".
refused() {
    local desc="$1" code="$2"; shift 2
    run "$@"
    if [[ $RC -eq 1 ]] && grep -q "^error: $code:" <<<"$OUT"; then pass "$desc"; else fail "$desc" "wanted exit 1 with error: $code (got exit $RC)"; fi
}
# has DESC REGEX: the last output must match (grep -E).
has() {
    if grep -Eq -- "$2" <<<"$OUT"; then pass "$1"; else fail "$1" "output does not match /$2/"; fi
}
# hasnt DESC REGEX: the last output must not match.
hasnt() {
    if grep -Eq -- "$2" <<<"$OUT"; then fail "$1" "output matches /$2/"; else pass "$1"; fi
}

# --- server -------------------------------------------------------------------------------
"$VPNGW" serve --data-dir "$DATA" --listen 127.0.0.1:0 >"$DATA/serve.log" 2>&1 &
SERVER_PID=$!
PORT=""
for _ in $(seq 1 100); do
    if [[ -s "$DATA/client.json" ]]; then
        PORT="$(sed -n 's/.*"endpoint"[^"]*"https\{0,1\}:\/\/[^:]*:\([0-9]*\)".*/\1/p' "$DATA/client.json")"
        [[ -n "$PORT" ]] && (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
    fi
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
done
if [[ -z "$PORT" ]]; then
    echo "server did not start:"; cat "$DATA/serve.log"; exit 1
fi
echo "# vpngw serve (pid $SERVER_PID) on 127.0.0.1:$PORT, data in $DATA"

# --- flag parsing ---------------------------------------------------------------------------
run network vnet-gateway create --help
if [[ $RC -eq 0 ]] && grep -q "^  vpngw network vnet-gateway create -g" <<<"$OUT" && grep -q -- "--vpn-gateway-generation" <<<"$OUT"; then
    pass "vnet-gateway create --help teaches with an example"
else
    fail "vnet-gateway create --help teaches with an example"
fi
run network vnet-gateway create -g rg1 -n x --vnet v --gateway-type Foo
if [[ $RC -ne 0 ]] && grep -q "'Vpn' and 'ExpressRoute'" <<<"$OUT"; then pass "bad --gateway-type lists the allowed values"; else fail "bad --gateway-type lists the allowed values"; fi

# --- build the site-to-site setup ----------------------------------------------------------------
ok "group create" group create -n rg1
ok "vnet create with a subnet" network vnet create -g rg1 -n vnet1 --address-prefixes 10.1.0.0/16 \
    --subnet-name default --subnet-prefixes 10.1.0.0/24
ok "GatewaySubnet /27" network vnet subnet create -g rg1 --vnet-name vnet1 -n GatewaySubnet --address-prefixes 10.1.255.0/27
ok "public-ip create (allocated from the pool)" network public-ip create -g rg1 -n gw1-ip -o table
has "public-ip table shows an allocated IPv4 address" '^gw1-ip +rg1 +[a-z]+ +[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+ +IPv4'
GW_IP="$(awk '$1 == "gw1-ip" { print $4 }' <<<"$OUT")"
ok "public-ip create with --ip-address" network public-ip create -g rg1 -n spare-ip --ip-address 203.0.113.77 --sku Basic
has "public-ip JSON keeps the given address" '"ipAddress" : "203\.0\.113\.77"'

ok "vnet-gateway create" network vnet-gateway create -g rg1 -n gw1 --vnet vnet1 --public-ip-address gw1-ip \
    --gateway-type Vpn --vpn-type RouteBased --sku VpnGw1
has "gateway is in vnet1's GatewaySubnet" 'virtualNetworks/vnet1/subnets/GatewaySubnet'
has "gateway provisioned" '"provisioningState" : "Succeeded"'

ok "local-gateway create" network local-gateway create -g rg1 -n site1 --gateway-ip-address 203.0.113.10 \
    --local-address-prefixes 192.168.1.0/24 192.168.2.0/24
has "local-gateway keeps both prefixes" '192\.168\.2\.0/24'

ok "vpn-connection create" network vpn-connection create -g rg1 -n c1 --vnet-gateway1 gw1 --local-gateway2 site1 \
    --shared-key abc123
has "connection is IPsec" '"connectionType" : "IPsec"'

# --- tables -----------------------------------------------------------------------------------
ok "public-ip list -o table" network public-ip list -g rg1 -o table
has "public-ip table header" '^Name +ResourceGroup +Location +Address +Version'
has "public-ip table shows gw1-ip used by gw1" "^gw1-ip .* gw1 +Succeeded"

ok "vnet-gateway list -o table" network vnet-gateway list -o table
has "vnet-gateway table header" '^Name +ResourceGroup +Type +VpnType +Sku +Generation +PublicIP +BGP +State$'
has "vnet-gateway row: type, sku, generation, resolved public IP, BGP, state" \
    "^gw1 +rg1 +Vpn +RouteBased +VpnGw1 +Gen1 +${GW_IP//./\\.} +off +Succeeded$"

ok "local-gateway list -o table" network local-gateway list -g rg1 -o table
has "local-gateway table header" '^Name +ResourceGroup +GatewayIP +AddressPrefixes +BGP +State$'
has "local-gateway row" '^site1 +rg1 +203\.0\.113\.10 +192\.168\.1\.0/24,192\.168\.2\.0/24 +- +Succeeded$'

ok "vpn-connection list -o table" network vpn-connection list -g rg1 -o table
has "vpn-connection table header" '^Name +Type +Gateway1 +Remote +Protocol +Status +Reason +In +Out$'
has "vpn-connection row" '^c1 +IPsec +gw1 +site1 +IKEv2 +[A-Za-z]+ '

ok "vpn-connection show" network vpn-connection show -g rg1 -n c1
has "show has connectionStatus" '"connectionStatus" :'
has "show has connectionStatusReason" '"connectionStatusReason" :'
has "show has ingressBytesTransferred" '"ingressBytesTransferred" :'
has "show has egressBytesTransferred" '"egressBytesTransferred" :'

# --- shared key ---------------------------------------------------------------------------------
ok "shared-key show" network vpn-connection shared-key show -g rg1 --connection-name c1
has "shared-key is the one given" '"value" : "abc123"'
ok "shared-key reset" network vpn-connection shared-key reset -g rg1 --connection-name c1 --key-length 40 -o table
NEW_KEY="$(awk 'NR == 3 { print $1 }' <<<"$OUT")"
if [[ ${#NEW_KEY} -eq 40 && "$NEW_KEY" != "abc123" ]]; then pass "reset printed a new 40-character key"; else fail "reset printed a new 40-character key" "got '$NEW_KEY'"; fi
ok "shared-key show after reset" network vpn-connection shared-key show -g rg1 --connection-name c1
has "server holds the new key" "\"value\" : \"$NEW_KEY\""
refused "shared-key update refuses a non-printable key" InvalidRequestFormat \
    network vpn-connection shared-key update -g rg1 --connection-name c1 --value "$(printf 'bad\tkey')"

# --- the central rule: one Vpn gateway per VNet ----------------------------------------------
ok "second public IP" network public-ip create -g rg1 -n gw2-ip
refused "second Vpn gateway on vnet1 is refused" VnetAlreadyHasGatewayOfType \
    network vnet-gateway create -g rg1 -n gw2 --vnet vnet1 --public-ip-address gw2-ip --gateway-type Vpn --sku VpnGw1
has "the refusal names the existing gateway" "'gw1'"
run network vnet-gateway show -g rg1 -n gw2
if [[ $RC -ne 0 ]]; then pass "no gw2 was left behind"; else fail "no gw2 was left behind"; fi

# --- deletes, in dependency order ------------------------------------------------------------
ok "vpn-connection delete" network vpn-connection delete -g rg1 -n c1
has "connection deleted" "Deleted connection 'c1'"
ok "vnet-gateway delete" network vnet-gateway delete -g rg1 -n gw1
has "gateway deleted" "Deleted virtual network gateway 'gw1'"
ok "local-gateway delete" network local-gateway delete -g rg1 -n site1
ok "public-ip delete gw1-ip" network public-ip delete -g rg1 -n gw1-ip
ok "public-ip delete gw2-ip" network public-ip delete -g rg1 -n gw2-ip
ok "public-ip delete spare-ip" network public-ip delete -g rg1 -n spare-ip
ok "vnet delete" network vnet delete -g rg1 -n vnet1
ok "vnet-gateway list after deletes" network vnet-gateway list -g rg1 -o table
hasnt "no gateway rows remain" '^gw'
ok "public-ip list after deletes" network public-ip list -g rg1 -o table
hasnt "no public IP rows remain" '-ip '
ok "group delete" group delete -n rg1

echo
echo "$PASS passed, $FAIL failed"
[[ $FAIL -eq 0 ]]
