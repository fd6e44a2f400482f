#!/usr/bin/env bash
# The lab demo: installs what it needs, builds vpngw, and brings up the seed's topologies on this
# machine with real gateways and real encrypted traffic:
#   VNet1 ⇄ VNet2 (VNet-to-VNet), two on-premises sites running strongSwan on VNet1's gateway
#   (multi-site), a spoke peered with VNet1 that reaches the sites through VNet1's gateway
#   (gateway transit); then pings across every path, prints a table and measures the encrypted
#   throughput between the two VNets.
# Leaves the lab running (with a hint on how to explore and stop it); --once tears it down.
set -euo pipefail
cd "$(dirname "$0")/.."
once=0; [ "${1:-}" = "--once" ] && once=1
say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
[ "$(id -u)" = 0 ] || { echo "The lab needs root (network namespaces, TUN devices): run it with sudo."; exit 1; }

APT_PACKAGES=(libssl-dev libsqlite3-dev pkg-config curl iproute2 iputils-ping
  strongswan-charon strongswan-swanctl libcharon-extra-plugins libstrongswan-extra-plugins iperf3)
missing=()
for p in "${APT_PACKAGES[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  say "Installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if [ -n "${VPNGW_BIN:-}" ]; then
  V=$VPNGW_BIN
else
  say "Building vpngw (swift build -c release; the first build takes several minutes)"
  swift build -c release --product vpngw 2>&1 | grep -E 'error|Compiling vpngw|Build' || true
  V=$(pwd)/.build/release/vpngw
fi
[ -x "$V" ] || { echo "build failed"; exit 1; }

DATA=$(mktemp -d /tmp/vpngw-demo-XXXXXX)
t0=$(date +%s%N)
say "Starting the control plane in lab mode: vpngw serve --data-plane lab --data-dir $DATA"
"$V" serve --data-dir "$DATA" --listen 127.0.0.1:0 --data-plane lab --log-level warning > "$DATA/serve.log" 2>&1 &
PID=$!
stop() { kill "$PID" 2>/dev/null; for _ in $(seq 1 50); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done; rm -rf "$DATA"; }
trap '[ "$once" = 1 ] && stop' EXIT
for _ in $(seq 1 100); do [ -s "$DATA/client.json" ] && break; sleep 0.1; done
export VPNGW_DATA_DIR=$DATA
q() { "$V" "$@" >/dev/null; }
step() { printf '  %-62s' "$1"; shift; if "$@" >/dev/null 2>"$DATA/err"; then echo ok; else echo FAILED; sed 's/^/    /' "$DATA/err"; exit 1; fi; }

say "Resources (the way az network creates them)"
step "resource group demo" "$V" group create -n demo
for n in 1 2; do
  step "VNet vnet$n 10.$n.0.0/16 with subnet vms and a GatewaySubnet" "$V" network vnet create -g demo -n vnet$n --address-prefixes 10.$n.0.0/16 --subnet-name vms --subnet-prefixes 10.$n.0.0/24
  q network vnet subnet create -g demo --vnet-name vnet$n -n GatewaySubnet --address-prefixes 10.$n.255.0/27
  step "public IP gw$n-ip" "$V" network public-ip create -g demo -n gw$n-ip
  step "route-based VPN gateway gw$n (VpnGw1)" "$V" network vnet-gateway create -g demo -n gw$n --vnet vnet$n --public-ip-address gw$n-ip --sku VpnGw1
done
step "VNet spoke 10.3.0.0/16" "$V" network vnet create -g demo -n spoke --address-prefixes 10.3.0.0/16 --subnet-name vms --subnet-prefixes 10.3.0.0/24
for s in 1 2; do
  step "on-premises site$s 192.168.$s.0/24 at 198.51.100.20$s (strongSwan)" "$V" network local-gateway create -g demo -n site$s --gateway-ip-address 198.51.100.20$s --local-address-prefixes 192.168.$s.0/24 --tags vpngw-lab=site
done
step "peering vnet1 → spoke (allow gateway transit)" "$V" network vnet peering create -g demo --vnet-name vnet1 -n to-spoke --remote-vnet spoke --allow-gateway-transit
step "peering spoke → vnet1 (use remote gateways)" "$V" network vnet peering create -g demo --vnet-name spoke -n to-hub --remote-vnet vnet1 --use-remote-gateways --allow-forwarded-traffic
for s in 1 2; do
  step "connection gw1-site$s (IPsec, multi-site)" "$V" network vpn-connection create -g demo -n gw1-site$s --vnet-gateway1 gw1 --local-gateway2 site$s --shared-key "Demo-Site$s-Key"
done
step "connection gw1-gw2 (Vnet2Vnet)" "$V" network vpn-connection create -g demo -n gw1-gw2 --vnet-gateway1 gw1 --vnet-gateway2 gw2 --shared-key Demo-V2V-Key
step "connection gw2-gw1 (Vnet2Vnet, the other side)" "$V" network vpn-connection create -g demo -n gw2-gw1 --vnet-gateway1 gw2 --vnet-gateway2 gw1 --shared-key Demo-V2V-Key

say "Waiting for the tunnels"
conns="gw1-site1 gw1-site2 gw1-gw2 gw2-gw1"
for _ in $(seq 1 120); do
  line=""; up=0
  for c in $conns; do
    st=$("$V" network vpn-connection show -g demo -n $c 2>/dev/null | python3 -c 'import json,sys;print(json.load(sys.stdin)["properties"].get("connectionStatus","?"))' 2>/dev/null || echo "?")
    line="$line $c:$st"; [ "$st" = Connected ] && up=$((up+1))
  done
  printf '\r  %-100s' "$line"
  [ "$up" = 4 ] && break
  sleep 0.5
done
echo

say "Traffic across every path (ping from a VM in one network to a VM in another)"
ROWS=()
ping_path() { # label tunnel args...  — pings now, reads the tunnel's figures once all pings are done
  local label="$1" tunnel="$2"; shift 2
  local out rtt
  out=$("$V" lab exec -g demo "$@" 2>&1 | tail -1) || true
  rtt=$(echo "$out" | awk -F'/' '/rtt|round-trip/ {print $5}')
  ROWS+=("$label|$tunnel|${rtt:-FAIL}")
}
ping_path "vnet1/vms → site1 192.168.1.4" gw1-site1 --vnet vnet1 --subnet vms -- ping -c 3 -i 0.2 -W 2 192.168.1.4
ping_path "vnet1/vms → site2 192.168.2.4" gw1-site2 --vnet vnet1 --subnet vms -- ping -c 3 -i 0.2 -W 2 192.168.2.4
ping_path "site2 LAN → vnet1/vms 10.1.0.4" gw1-site2 --site site2 -- ping -c 3 -i 0.2 -W 2 10.1.0.4
ping_path "vnet1/vms → vnet2/vms 10.2.0.4" gw1-gw2 --vnet vnet1 --subnet vms -- ping -c 3 -i 0.2 -W 2 10.2.0.4
ping_path "spoke/vms → site1 (gateway transit)" gw1-site1 --vnet spoke --subnet vms -- ping -c 3 -i 0.2 -W 2 192.168.1.4
sleep 2.2   # counters reach the API within two seconds (agent status, then the reconciler's read)
printf '%-36s %-10s %-9s %-14s %s\n' "path" "tunnel" "RTT ms" "bytes out/in" "algorithms (IKE; ESP)"
for row in "${ROWS[@]}"; do
  IFS='|' read -r label tunnel rtt <<< "$row"
  read -r algs bytes < <("$V" network vpn-connection show -g demo -n "$tunnel" | python3 -c '
import json,sys
p=json.load(sys.stdin)["properties"]
a=(p.get("negotiatedAlgorithms") or "-").replace("ENCR_","").replace("PRF_HMAC_","").replace("AUTH_HMAC_","").replace(" ","")
print(a, "%d/%d" % (p.get("egressBytesTransferred") or 0, p.get("ingressBytesTransferred") or 0))')
  printf '%-36s %-10s %-9s %-14s %s\n' "$label" "$tunnel" "$rtt" "$bytes" "$algs"
done

say "Encrypted throughput: iperf3 TCP for 3 s, VNet1's VM → VNet2's VM over the Vnet2Vnet tunnel"
"$V" lab exec -g demo --vnet vnet2 --subnet vms -- timeout 15 iperf3 -s -1 >/dev/null 2>&1 &
iperf_server=$!
sleep 0.5
mbps=$("$V" lab exec -g demo --vnet vnet1 --subnet vms -- timeout 15 iperf3 -c 10.2.0.4 -t 3 -J 2>/dev/null |
  python3 -c 'import json,sys; print("%.0f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"] / 1e6))' 2>/dev/null || echo "?")
wait "$iperf_server" 2>/dev/null || true
echo "  ${mbps} Mbit/s — both gateways are VpnGw1, whose SKU throughput (650 Mbit/s, shared by all of a"
echo "  gateway's connections) the data plane enforces; 'vpngw serve --lift-bandwidth-caps' lifts it."

t1=$(date +%s%N)
say "Done in $(( (t1 - t0) / 1000000000 )) s (after the build)"
if [ "$once" = 1 ]; then
  echo "Tearing the lab down (--once)."
else
  trap - EXIT
  cat <<EOF
The lab keeps running (vpngw serve, PID $PID; data in $DATA). Explore it:
  export VPNGW_DATA_DIR=$DATA
  $V network vpn-connection list -g demo -o table
  $V lab exec -g demo --vnet vnet2 --subnet vms -- ping -c 3 10.1.0.4
  $V lab namespaces
Stop it (removes every namespace and process of the lab):  kill $PID
EOF
fi
