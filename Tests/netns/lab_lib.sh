# shellcheck shell=bash
# (Run directly, e.g. by scripts/test.sh's Tests/netns/*.sh loop, it is a no-op.)
if [ "${BASH_SOURCE[0]}" = "$0" ]; then echo "$(basename "$0"): helper library, 0 passed, 0 failed"; exit 0; fi
# Helpers for the lab-mode namespace tests: a private `vpngw serve --data-plane lab` driven through
# the CLI. Source after lib.sh and strongswan.sh. The lab's own namespaces ("vl" + the first four
# characters of the serve's subscription) are removed by serve on SIGTERM; if serve died, lab_stop
# removes what is left of them (only that prefix, only this serve's namespaces).

lab_require() {
  [ "$(id -u)" = 0 ] || skip_all "needs root (network namespaces)"
  [ -c /dev/net/tun ] || skip_all "no /dev/net/tun"
  have_strongswan || skip_all "strongSwan with kernel-libipsec is not installed"
  command -v python3 >/dev/null || skip_all "python3 is needed to read the CLI's JSON"
  [ -x "$VPNGW" ] || skip_all "build vpngw first ($VPNGW)"
  # A private copy: the shared .build is relinked by other builds while we run ("Text file busy").
  cp "$VPNGW" "$WORK/vpngw" && VPNGW="$WORK/vpngw"
}

SERVES=()      # "pid:datadir" of every serve we started
# lab_serve DIR [netns-name-suffix] — starts serve with the data plane in lab mode (or host mode
# inside namespace NS when a second argument is given); waits for client.json.
lab_serve() {
  local d="$1" mode="${2:-lab}" n="${3:-}"
  mkdir -p "$d"; rm -f "$d/client.json"
  if [ -n "$n" ]; then
    start_bg "$n" "$d.log" "$VPNGW" serve --data-dir "$d" --listen 127.0.0.1:0 --data-plane "$mode" --log-level info
  else
    "$VPNGW" serve --data-dir "$d" --listen 127.0.0.1:0 --data-plane "$mode" --log-level info >"$d.log" 2>&1 &
    PIDS+=($!)
  fi
  SERVES+=("${PIDS[-1]}:$d")
  local i; for i in $(seq 1 150); do [ -s "$d/client.json" ] && return 0; sleep 0.1; done
  echo "serve did not start:"; tail -20 "$d.log"; return 1
}

# Stops every serve (SIGTERM: it tears its lab down), then removes lab namespaces left behind.
lab_stop() {
  local e p d i sub n
  for e in "${SERVES[@]}"; do
    p=${e%%:*}; d=${e#*:}
    kill "$p" 2>/dev/null
    for i in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null
    sub=$(cat "$d/subscription" 2>/dev/null | tr -d '[:space:]') || true
    [ -n "$sub" ] || continue
    for n in $(ip netns list | awk '{print $1}' | grep "^vl${sub:0:4}-"); do
      for p in $(ip netns pids "$n" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
      ip netns del "$n" 2>/dev/null
    done
  done
  SERVES=()
}
trap 'lab_stop; cleanup' EXIT

# lab_prefix DIR — the namespace prefix of that serve's lab
lab_prefix() { local sub; sub=$(tr -d '[:space:]' < "$1/subscription"); echo "vl${sub:0:4}"; }

# jget FIELD — reads a field of properties (or a top-level field) from the JSON on stdin
jget() { python3 -c '
import json,sys
try: d=json.load(sys.stdin)
except Exception: print("?"); sys.exit(0)
f=sys.argv[1]; p=d.get("properties",{})
v=p.get(f, d.get(f))
print("" if v is None else v)' "$1"; }

# conn_status CLI-FUNCTION GROUP NAME
conn_status() { local v="$1"; $v network vpn-connection show -g "$2" -n "$3" 2>/dev/null | jget connectionStatus; }

# wait_status CLI-FUNCTION GROUP NAME STATUS TENTHS — polls until the connection has STATUS
wait_status() {
  local i; for i in $(seq 1 "$5"); do [ "$(conn_status "$1" "$2" "$3")" = "$4" ] && return 0; sleep 0.1; done; return 1
}

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# ping_loss FILE — the packet loss count from ping's summary ("N packets transmitted, M received")
ping_lost() { awk '/packets transmitted/ { for (i=1;i<=NF;i++) { if ($(i+1) ~ /^packets/) tx=$i; if ($(i+1) ~ /^received/) rx=$i } } END { if (tx=="") print "none"; else print tx-rx }' "$1"; }
ping_sent() { awk '/packets transmitted/ {print $1}' "$1"; }
