#!/usr/bin/env bash
# Point-to-site driven by the gateway resource (issue 5, control plane): `vpngw serve --data-plane lab`
# runs the gateway's agent in its VNet's namespace; the gateway's vpnClientConfiguration (SSTP,
# Password auth, users alice/bob, pool 172.16.201.0/24) starts the agent's SSTP server on the
# gateway's public IP. A client namespace on the lab's internet bridge dials it with
# `vpngw p2s connect` (native engine) and pings the VNet's VM; the API lists the session with
# bytes; disconnect ends it; removing user bob from the gateway ends bob's live session; a wrong
# password is refused (E=691). With strongSwan installed, a lab site behind a site-to-site
# connection is reached from the P2S client too (the site routes the pool back).
#
#   client 198.51.100.250 ══ lab internet (br0) ══ gw1 198.51.100.x [vgp…: 172.16.201.0/24] ─ vnet1 VM 10.1.0.4
#
# Run as root: Tests/netns/p2s_control_plane.sh   (VPNGW_BIN overrides the binary)
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/strongswan.sh"
[ "$(id -u)" = 0 ] || skip_all "needs root (network namespaces)"
[ -c /dev/net/tun ] || skip_all "no /dev/net/tun"
[ -x "$VPNGW" ] || skip_all "build vpngw first ($VPNGW)"
command -v python3 >/dev/null || skip_all "python3 is needed to read the CLI's JSON"
# A private copy: the shared .build is relinked by other builds while we run ("Text file busy").
cp "$VPNGW" "$WORK/vpngw" && VPNGW="$WORK/vpngw"

D="$WORK/d"
V() { VPNGW_DATA_DIR="$D" "$VPNGW" "$@"; }
SERVE=""
stop_serve() {
  [ -n "$SERVE" ] || return 0
  local i sub n p
  kill "$SERVE" 2>/dev/null
  for i in $(seq 1 100); do kill -0 "$SERVE" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$SERVE" 2>/dev/null
  # Whatever the lab left behind (only this serve's prefix).
  sub=$(tr -d '[:space:]' < "$D/subscription" 2>/dev/null) || true
  if [ -n "$sub" ]; then
    for n in $(ip netns list | awk '{print $1}' | grep "^vl${sub:0:4}-"); do
      for p in $(ip netns pids "$n" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
      ip netns del "$n" 2>/dev/null
    done
  fi
  SERVE=""
}
trap 'stop_serve; [ -n "${KEEP:-}" ] && cp -r "$WORK" /tmp/p2s-keep; cleanup' EXIT
wait_for() { local i; for i in $(seq 1 "$2"); do eval "$1" && return 0; sleep 0.2; done; return 1; }
stop_pid() { local p="$1" i; kill "$p" 2>/dev/null; for i in $(seq 1 25); do kill -0 "$p" 2>/dev/null || return 0; sleep 0.2; done; kill -9 "$p" 2>/dev/null; }
# jq-free JSON: sessions as "id user address in out" lines
sessions() { V network vnet-gateway vpn-client list-sessions -g rg -n gw1 2>/dev/null | python3 -c '
import json,sys
try: d=json.load(sys.stdin)
except Exception: sys.exit(0)
for s in d.get("value",[]): print(s["vpnConnectionId"], s.get("vpnUserName",""), s.get("privateIpAddress",""), s.get("ingressBytesTransferred",0), s.get("egressBytesTransferred",0))'; }
session_of() { sessions | awk -v u="$1" '$2==u {print; exit}'; }

mkdir -p "$D"
"$VPNGW" serve --data-dir "$D" --listen 127.0.0.1:0 --data-plane lab --log-level info >"$WORK/serve.log" 2>&1 &
SERVE=$!
wait_for '[ -s "$D/client.json" ]' 75
check "serve started with the data plane in lab mode" '[ -s "$D/client.json" ]'
LAB="vl$(tr -d '[:space:]' < "$D/subscription" | cut -c1-4)"

V group create -n rg >/dev/null
V network vnet create -g rg -n vnet1 --address-prefixes 10.1.0.0/16 --subnet-name vms --subnet-prefixes 10.1.0.0/24 >/dev/null
V network vnet subnet create -g rg --vnet-name vnet1 -n GatewaySubnet --address-prefixes 10.1.255.0/27 >/dev/null
V network public-ip create -g rg -n gw1-ip >/dev/null
V network vnet-gateway create -g rg -n gw1 --vnet vnet1 --public-ip-address gw1-ip --sku VpnGw1 \
  --address-prefixes 172.16.201.0/24 --client-protocol SSTP --vpn-auth-type Password \
  --client-user alice=Alice-pw-1 --client-user bob=Bob-pw-2 >"$WORK/gw.json" 2>&1
check "gateway with vpnClientConfiguration (SSTP, Password, alice/bob) created through the CLI" \
  'grep -q "\"provisioningState\" : \"Succeeded\"" "$WORK/gw.json"'
GWIP=$(V network public-ip show -g rg -n gw1-ip | python3 -c 'import json,sys; print(json.load(sys.stdin)["properties"]["ipAddress"])')
echo "  gateway public IP $GWIP"

# The agent starts the SSTP server; the client profile then carries the generated certificate.
wait_for 'V network vnet-gateway vpn-client generate -g rg -n gw1 --json 2>/dev/null | python3 -c "import json,sys; d=json.load(sys.stdin); sys.exit(0 if d.get(\"serverCertificatePEM\") and not d.get(\"status\") else 1)"' 100
V p2s client-config -g rg -n gw1 --user alice --ca-file "$WORK/gw1-ca.pem" >"$WORK/profile.txt" 2>&1
check "client-config: server address, certificate (CN = public IP), vpngw and sstpc command lines" \
  'grep -q "server: *$GWIP:443" "$WORK/profile.txt" && grep -q "vpngw p2s connect --server $GWIP --user alice" "$WORK/profile.txt" && grep -q "^  sstpc " "$WORK/profile.txt" && openssl x509 -in "$WORK/gw1-ca.pem" -noout -subject 2>/dev/null | grep -q "CN *= *$GWIP"'
check "client-config routes the VNet 10.1.0.0/16" 'grep -q "route 10.1.0.0/16" "$WORK/profile.txt"'

# The client: its own namespace with a TEST-NET address on the lab's internet bridge.
ip netns add "$(ns cli)"; nsx cli ip link set lo up
ip link add "$NS_PREFIX-c" netns "$(ns cli)" type veth peer name "$NS_PREFIX-cb" netns "$LAB-inet"
ip netns exec "$LAB-inet" ip link set "$NS_PREFIX-cb" master br0 up
nsx cli ip addr add 198.51.100.250/24 dev "$NS_PREFIX-c"; nsx cli ip link set "$NS_PREFIX-c" up
check "client reaches the gateway's public IP over the lab internet" 'nsx cli ping -c 1 -W 2 "$GWIP" >/dev/null'

connect() { # NAME USER PASSWORD TUN [routes...]
  local name="$1" user="$2" pw="$3" tun="$4"; shift 4
  local routes=(); for r in "$@"; do routes+=(--route "$r"); done
  rm -f "$WORK/$name.ready"
  start_bg cli "$WORK/$name.log" "$VPNGW" p2s connect --engine native --server "$GWIP" --user "$user" --password "$pw" \
    --tun "$tun" "${routes[@]}" --ready-file "$WORK/$name.ready"
}

# 1. alice dials in and pings the VNet's VM.
connect alice alice Alice-pw-1 sstp0 10.1.0.0/16
ALICE=${PIDS[-1]}
check "alice's session is up with a pool address" "wait_for '[ -s $WORK/alice.ready ]' 75 && grep -q '^172\.16\.201\.' $WORK/alice.ready"
check "alice pings the VNet VM 10.1.0.4 through SSTP" 'nsx cli ping -c 3 -i 0.2 -W 2 10.1.0.4 >/dev/null'
sleep 1.5
row=$(session_of alice); echo "  session: $row"
check "list-sessions shows alice with her address and bytes in/out" \
  '[ -n "$row" ] && [ "$(echo "$row" | cut -d" " -f3)" = "$(cat $WORK/alice.ready 2>/dev/null)" ] && [ "$(echo "$row" | cut -d" " -f4)" -gt 0 ] && [ "$(echo "$row" | cut -d" " -f5)" -gt 0 ]'
V network vnet-gateway vpn-client list-sessions -g rg -n gw1 -o table
check "the agent's status JSON carries the session" 'grep -q "\"user\" : \"alice\"" "$D"/agents/*.status.json'

# 2. disconnect by vpnConnectionId ends alice's session (her client exits).
ID=$(echo "$row" | cut -d" " -f1)
V network vnet-gateway vpn-client disconnect -g rg -n gw1 --vpn-connection-ids "$ID" >"$WORK/disc.out" 2>&1
check "disconnect answers with the ended id" 'grep -q "Disconnected $ID" "$WORK/disc.out"'
check "alice's client saw the disconnect and exited" "wait_for '! kill -0 $ALICE 2>/dev/null' 50"
check "alice is no longer listed" 'wait_for "[ -z \"\$(session_of alice)\" ]" 25'
check "disconnecting an unknown id fails with a reason" '! V network vnet-gateway vpn-client disconnect -g rg -n gw1 --vpn-connection-ids sstp-1-999 2>/dev/null'

# 3. removing user bob from the gateway ends bob's live session.
connect bob bob Bob-pw-2 sstp1 10.1.0.0/16
BOB=${PIDS[-1]}
check "bob's session is up" "wait_for '[ -s $WORK/bob.ready ]' 75"
check "bob pings the VM" 'nsx cli ping -c 2 -i 0.2 -W 2 10.1.0.4 >/dev/null'
V network vnet-gateway update -g rg -n gw1 --remove-client-user bob >/dev/null 2>"$WORK/upd.err"
check "vnet-gateway update --remove-client-user bob succeeded" '[ ! -s "$WORK/upd.err" ]'
check "bob's live session ended when he was removed" "wait_for '! kill -0 $BOB 2>/dev/null' 50"
check "bob is no longer listed" 'wait_for "[ -z \"\$(session_of bob)\" ]" 25'
nsx cli timeout 30 "$VPNGW" p2s connect --engine native --server "$GWIP" --user bob --password Bob-pw-2 --tun sstp2 >"$WORK/bob2.log" 2>&1
check "bob can no longer dial in (E=691)" 'grep -q "E=691" "$WORK/bob2.log"'

# 4. a wrong password is refused with E=691; the server keeps serving.
nsx cli timeout 30 "$VPNGW" p2s connect --engine native --server "$GWIP" --user alice --password wrong --tun sstp3 >"$WORK/wrong.log" 2>&1
rc=$?
check "wrong password refused: E=691 at the client, non-zero exit" '[ $rc -ne 0 ] && grep -q "E=691" "$WORK/wrong.log"'
check "the refusal is in the agent's status log" "wait_for 'grep -q \"authentication failed for alice\" $D/agents/*.status.json' 15"

# 5. the real sstpc 1.0.18 (when installed) dials the gateway's server too, and disconnect ends it.
if command -v sstpc >/dev/null; then
  rm -f "$WORK/sc.ready"
  start_bg cli "$WORK/sc.log" "$VPNGW" p2s connect --engine sstpc --server "$GWIP" --user alice --password Alice-pw-1 \
    --tun sstp5 --route 10.1.0.0/16 --ready-file "$WORK/sc.ready" --ipparam "$NS_PREFIX-sc"
  SC=${PIDS[-1]}
  check "sstpc session up against the gateway's generated certificate" "wait_for '[ -s $WORK/sc.ready ]' 75"
  check "sstpc client pings the VM" 'nsx cli ping -c 2 -i 0.2 -W 2 10.1.0.4 >/dev/null'
  check "the sstpc session is listed (status is at most a second old)" 'wait_for "[ -n \"\$(session_of alice)\" ]" 25'
  check "disconnect --user alice ends the sstpc session" 'V network vnet-gateway vpn-client disconnect -g rg -n gw1 --user alice >/dev/null && wait_for "! kill -0 $SC 2>/dev/null" 50'
else
  echo "  (sstpc not installed: the sstpc check is skipped)"
fi

# 6. with strongSwan: a lab site behind a site-to-site connection routes the pool back.
if have_strongswan; then
  V network local-gateway create -g rg -n site1 --gateway-ip-address 198.51.100.211 --local-address-prefixes 192.168.1.0/24 --tags vpngw-lab=site >/dev/null
  V network vpn-connection create -g rg -n c1 --vnet-gateway1 gw1 --local-gateway2 site1 --shared-key "P2S-Site-Key-1" >/dev/null
  wait_for 'V network vpn-connection show -g rg -n c1 2>/dev/null | grep -q "\"connectionStatus\" : \"Connected\""' 150
  check "site-to-site connection Connected" 'V network vpn-connection show -g rg -n c1 | grep -q "\"connectionStatus\" : \"Connected\""'
  check "client-config now routes the site 192.168.1.0/24" 'V p2s client-config -g rg -n gw1 | grep -q "route 192.168.1.0/24"'
  connect alice2 alice Alice-pw-1 sstp4 10.1.0.0/16 192.168.1.0/24
  check "alice is back" "wait_for '[ -s $WORK/alice2.ready ]' 75"
  check "alice reaches the site's LAN VM 192.168.1.4 (pool carried by the tunnel, routed back by the site)" 'nsx cli ping -c 3 -i 0.3 -W 2 192.168.1.4 >/dev/null'
  stop_pid "${PIDS[-1]}"
else
  echo "  (strongSwan with kernel-libipsec not installed: the P2S → site check is skipped)"
fi

# 7. stopping serve tears the lab down.
stop_serve
check "serve stopped and the lab is gone" '! ip netns list | grep -q "^$LAB-"'
summary
