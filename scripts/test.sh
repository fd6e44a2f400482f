#!/usr/bin/env bash
# The test suite, from a fresh Debian machine: installs what the tests need (Debian packages via
# apt-get, PyPI packages via pip), builds, and runs every suite. Ends with one summary line
# "tests: N passed, M failed".
set -uo pipefail
cd "$(dirname "$0")/.."
say() { printf '\n==> %s\n' "$*"; }

# Debian packages: OpenSSL (ESP/IKE crypto), SQLite (state), pkg-config; curl, iproute2, ping,
# tcpdump and iperf3 for the CLI and namespace tests; python3-pip; strongSwan with kernel-libipsec
# (userspace ESP) as the interop peer; eapoltest (wpa_supplicant's eapol_test) as the EAP-TLS peer.
APT_PACKAGES=(libssl-dev libsqlite3-dev pkg-config curl iproute2 iputils-ping tcpdump iperf3 python3-pip
  strongswan-charon strongswan-swanctl libcharon-extra-plugins libstrongswan-extra-plugins nftables socat sstp-client eapoltest)
missing=()
for p in "${APT_PACKAGES[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  say "Installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null || { echo "apt-get install failed"; exit 1; }
fi
if ! python3 -c 'import azure.mgmt.network, pytest, requests' 2>/dev/null; then
  say "Installing PyPI packages: azure-mgmt-network azure-core pytest requests"
  pip install -q azure-mgmt-network azure-core pytest requests || { echo "pip install failed"; exit 1; }
fi

say "Building vpngw and its tests (swift build --build-tests; the first build takes several minutes)"
swift build --build-tests || { echo "tests: 0 passed, 1 failed"; exit 1; }

passed=0; failed=0
count() { # $1 = passed, $2 = failed
  passed=$((passed + ${1:-0})); failed=$((failed + ${2:-0}))
}

say "Swift tests (swift test)"
swift test --skip-build 2>&1 | tee /tmp/vpngw-swift-test.log | grep -vE '^\s*(◇|↳)|started\.$' 
rc=${PIPESTATUS[0]}
ok=$(grep -cE '^✔ Test .* passed' /tmp/vpngw-swift-test.log)
bad=$(grep -cE '^✘ Test .* failed' /tmp/vpngw-swift-test.log)
[ "$rc" -ne 0 ] && [ "$bad" -eq 0 ] && bad=1
count "$ok" "$bad"

say "Azure SDK tests (azure-mgmt-network against the HTTPS API)"
python3 -m pytest -q -p no:cacheprovider Tests/sdk 2>&1 | tee /tmp/vpngw-sdk.log | tail -5
p=$(grep -oE '[0-9]+ passed' /tmp/vpngw-sdk.log | tail -1 | grep -oE '[0-9]+'); f=$(grep -oE '[0-9]+ (failed|error)' /tmp/vpngw-sdk.log | awk '{s+=$1} END {print s+0}')
[ -z "$p" ] && [ "$f" -eq 0 ] && f=1
count "${p:-0}" "$f"

for script in Tests/cli/*.sh Tests/netns/*.sh; do
  case "$(basename "$script")" in *lib.sh|strongswan.sh) continue ;; esac
  say "Shell test $script"
  bash "$script" 2>&1 | tee /tmp/vpngw-shell.log
  line=$(grep -E '[0-9]+ passed, [0-9]+ failed' /tmp/vpngw-shell.log | tail -1)
  if [ -z "$line" ]; then count 0 1; else
    count "$(echo "$line" | grep -oE '[0-9]+ passed' | grep -oE '[0-9]+')" "$(echo "$line" | grep -oE '[0-9]+ failed' | grep -oE '[0-9]+')"
  fi
done

echo
echo "tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
