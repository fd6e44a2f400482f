#!/usr/bin/env bash
# The lab demo: installs what it needs, builds vpngw, starts the control plane in a temporary data
# directory and builds the seed's topologies through the CLI — VNet-to-VNet, multi-site,
# VNet peering with gateway transit, Vpn + ExpressRoute coexistence — showing the rules that
# refuse what Azure refuses. `--keep` leaves the server running.
set -euo pipefail
cd "$(dirname "$0")/.."
keep=0; [ "${1:-}" = "--keep" ] && keep=1
say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

APT_PACKAGES=(libssl-dev libsqlite3-dev pkg-config curl)
missing=()
for p in "${APT_PACKAGES[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  say "Installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null
fi
say "Building vpngw (swift build -c release; the first build takes several minutes)"
swift build -c release --product vpngw 2>&1 | grep -E 'error|warning: unre|Compiling vpngw|Build' || true
V=$(pwd)/.build/release/vpngw

DATA=$(mktemp -d /tmp/vpngw-demo-XXXXXX)
say "Starting the control plane: vpngw serve --data-dir $DATA"
"$V" serve --data-dir "$DATA" --listen 127.0.0.1:0 --log-level warning > "$DATA/serve.log" 2>&1 &
PID=$!
cleanup() { if [ "$keep" -eq 0 ]; then kill "$PID" 2>/dev/null; wait "$PID" 2>/dev/null; rm -rf "$DATA"; fi; }
trap cleanup EXIT
for _ in $(seq 1 100); do [ -s "$DATA/client.json" ] && break; sleep 0.1; done
export VPNGW_DATA_DIR=$DATA
t0=$(date +%s.%N)
run() { echo "\$ vpngw $*"; "$V" "$@"; }
refused() { echo "\$ vpngw $*   # expected to be refused"; if "$V" "$@" >/dev/null 2>"$DATA/err"; then echo "UNEXPECTEDLY ACCEPTED"; exit 1; else sed 's/^/  /' "$DATA/err"; fi; }

say "Resource group and two virtual networks, each with a GatewaySubnet"
run group create -n demo -o table
run network vnet create -g demo -n vnet1 --address-prefixes 10.1.0.0/16 --subnet-name vms --subnet-prefixes 10.1.0.0/24 -o table >/dev/null
run network vnet subnet create -g demo --vnet-name vnet1 -n GatewaySubnet --address-prefixes 10.1.255.0/27 -o table >/dev/null
run network vnet create -g demo -n vnet2 --address-prefixes 10.2.0.0/16 --subnet-name vms --subnet-prefixes 10.2.0.0/24 -o table >/dev/null
run network vnet subnet create -g demo --vnet-name vnet2 -n GatewaySubnet --address-prefixes 10.2.255.0/27 -o table >/dev/null
run network vnet create -g demo -n spoke --address-prefixes 10.3.0.0/16 --subnet-name vms --subnet-prefixes 10.3.0.0/24 -o table >/dev/null

say "Route-based VPN gateways (provisioned in seconds)"
for n in 1 2; do
  run network public-ip create -g demo -n gw$n-ip -o table >/dev/null
  run network vnet-gateway create -g demo -n gw$n --vnet vnet$n --public-ip-address gw$n-ip --gateway-type Vpn --vpn-type RouteBased --sku VpnGw1 -o table >/dev/null
done
run network vnet-gateway list -g demo -o table

say "The seed's central rule: one gateway per type per virtual network"
run network public-ip create -g demo -n extra-ip -o table >/dev/null
refused network vnet-gateway create -g demo -n gw1b --vnet vnet1 --public-ip-address extra-ip --gateway-type Vpn --sku VpnGw1
run network public-ip create -g demo -n er-ip -o table >/dev/null
run network vnet-gateway create -g demo -n er1 --vnet vnet1 --public-ip-address er-ip --gateway-type ExpressRoute --sku ErGw1AZ -o table

say "Multi-site: two on-premises sites on gw1"
run network local-gateway create -g demo -n site1 --gateway-ip-address 203.0.113.11 --local-address-prefixes 192.168.1.0/24 -o table >/dev/null
run network local-gateway create -g demo -n site2 --gateway-ip-address 203.0.113.12 --local-address-prefixes 192.168.2.0/24 -o table >/dev/null
run network vpn-connection create -g demo -n gw1-site1 --vnet-gateway1 gw1 --local-gateway2 site1 --shared-key 'Site1-Key' -o table >/dev/null
run network vpn-connection create -g demo -n gw1-site2 --vnet-gateway1 gw1 --local-gateway2 site2 --shared-key 'Site2-Key' -o table >/dev/null
run network local-gateway create -g demo -n overlap --gateway-ip-address 203.0.113.13 --local-address-prefixes 10.1.5.0/24 -o table >/dev/null
refused network vpn-connection create -g demo -n gw1-overlap --vnet-gateway1 gw1 --local-gateway2 overlap --shared-key 'x'

say "VNet-to-VNet: one connection on each side, same shared key"
run network vpn-connection create -g demo -n gw1-gw2 --vnet-gateway1 gw1 --vnet-gateway2 gw2 --shared-key 'V2V-Key' -o table
echo "(until the reverse connection exists, the status says why:)"
run network vpn-connection show -g demo -n gw1-gw2 -o table
run network vpn-connection create -g demo -n gw2-gw1 --vnet-gateway1 gw2 --vnet-gateway2 gw1 --shared-key 'V2V-Key' -o table >/dev/null
run network vpn-connection list -g demo -o table

say "Peering with gateway transit: spoke reaches the sites through vnet1's gateway"
run network vnet peering create -g demo --vnet-name vnet1 -n to-spoke --remote-vnet spoke --allow-gateway-transit -o table >/dev/null
run network vnet peering create -g demo --vnet-name spoke -n to-hub --remote-vnet vnet1 --use-remote-gateways --allow-forwarded-traffic -o table
refused network vnet delete -g demo -n vnet1

t1=$(date +%s.%N)
say "Built the seed topologies in $(printf '%.1f' "$(echo "$t1 - $t0" | bc 2>/dev/null || python3 -c "print($t1-$t0)")") s"
echo "Encrypted tunnels for these connections arrive with the site-to-site data plane (issues 3 and 4)."
if [ "$keep" -eq 1 ]; then
  echo "The server keeps running (PID $PID). Explore with: VPNGW_DATA_DIR=$DATA $V network vpn-connection list -g demo -o table"
  echo "Stop it with: kill $PID"
fi
