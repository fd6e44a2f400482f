#!/usr/bin/env bash
# An acknowledged write survives `kill -9` at any moment: writes local network gateways in a
# loop, kills the server with SIGKILL mid-stream, restarts it, and checks that every write that
# got a 2xx answer is there. Bounded: at most 300 writes and 60 s.
set -u
VPNGW=${VPNGW_BIN:-$(cd "$(dirname "$0")/../.." && pwd)/.build/debug/vpngw}
DATA=$(mktemp -d /tmp/vpngw-kill9-XXXXXX)
PID=""
passed=0; failed=0
cleanup() { if [ -n "$PID" ]; then kill "$PID" 2>/dev/null; wait "$PID" 2>/dev/null; fi; rm -rf "$DATA"; }
trap cleanup EXIT
check() { if eval "$2"; then passed=$((passed+1)); echo "ok   $1"; else failed=$((failed+1)); echo "FAIL $1"; fi; }

start() {
  rm -f "$DATA/client.json"
  "$VPNGW" serve --data-dir "$DATA" --listen 127.0.0.1:0 --log-level warning >>"$DATA/serve.log" 2>&1 &
  PID=$!
  for _ in $(seq 1 100); do [ -s "$DATA/client.json" ] && break; sleep 0.1; done
  EP=$(python3 -c 'import json,sys;print(json.load(open(sys.argv[1]))["endpoint"])' "$DATA/client.json")
  TOKEN=$(python3 -c 'import json,sys;print(json.load(open(sys.argv[1]))["token"])' "$DATA/client.json")
  SUB=$(python3 -c 'import json,sys;print(json.load(open(sys.argv[1]))["subscription"])' "$DATA/client.json")
}
api() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 --cacert "$DATA/api-ca.pem" -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' "$@"; }

start
check "server started" '[ -n "$EP" ]'
check "group created" '[ "$(api -X PUT -d "{\"location\":\"local\"}" "$EP/subscriptions/$SUB/resourceGroups/rg?api-version=2024-05-01")" = 201 ]'

: > "$DATA/acked"
(
  for i in $(seq 1 300); do
    code=$(api -X PUT -d "{\"properties\":{\"gatewayIpAddress\":\"203.0.113.$((i % 250 + 1))\",\"localNetworkAddressSpace\":{\"addressPrefixes\":[\"10.$((i / 250)).$((i % 250)).0/24\"]}}}" \
      "$EP/subscriptions/$SUB/resourceGroups/rg/providers/Microsoft.Network/localNetworkGateways/site$i?api-version=2024-05-01")
    case "$code" in 2*) echo "site$i" >> "$DATA/acked" ;; *) break ;; esac
  done
) &
WRITER=$!
sleep 1.5
kill -9 "$PID"; wait "$PID" 2>/dev/null; PID=""
wait "$WRITER" 2>/dev/null
acked=$(wc -l < "$DATA/acked")
check "some writes were acknowledged before the kill ($acked)" '[ "$acked" -gt 0 ]'
check "the writer was cut off by the kill, not finished" '[ "$acked" -lt 300 ]'

start
missing=0
while read -r name; do
  [ "$(api "$EP/subscriptions/$SUB/resourceGroups/rg/providers/Microsoft.Network/localNetworkGateways/$name?api-version=2024-05-01")" = 200 ] || missing=$((missing+1))
done < "$DATA/acked"
check "every acknowledged write survived kill -9 ($acked checked, $missing missing)" '[ "$missing" -eq 0 ]'
check "the restarted server still accepts writes" '[ "$(api -X PUT -d "{\"properties\":{\"gatewayIpAddress\":\"203.0.113.1\",\"localNetworkAddressSpace\":{\"addressPrefixes\":[\"172.16.0.0/24\"]}}}" "$EP/subscriptions/$SUB/resourceGroups/rg/providers/Microsoft.Network/localNetworkGateways/after?api-version=2024-05-01")" = 201 ]'
echo "restart_kill9: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
