#!/usr/bin/env bash
# SSTP point-to-site figures (issue 5): iperf3 through one session (native client core, then the
# real sstpc driven by `vpngw p2s connect`), session setups per second, memory per idle session.
# Prints figures; not pass/fail. Use a release build:
#   swift build -c release --scratch-path .build-release --product vpngw
#   VPNGW_BIN=.build-release/release/vpngw Benchmarks/sstp_p2s.sh [seconds]
source "$(dirname "$0")/../Tests/netns/lib.sh"
SECS=${1:-5}
[ "$(id -u)" = 0 ] || skip_all "needs root"
command -v iperf3 >/dev/null || skip_all "iperf3 missing"
[ -x "$VPNGW" ] || skip_all "no binary $VPNGW"
# A private copy: the shared .build is relinked by other builds while we run ("Text file busy").
cp "$VPNGW" "$WORK/vpngw" && VPNGW="$WORK/vpngw"

for n in srv cli vm; do ip netns add "$(ns $n)"; nsx $n ip link set lo up; done
ip link add "$NS_PREFIX-sc" netns "$(ns srv)" type veth peer name "$NS_PREFIX-cs" netns "$(ns cli)"
ip link add "$NS_PREFIX-sv" netns "$(ns srv)" type veth peer name "$NS_PREFIX-vs" netns "$(ns vm)"
nsx srv ip addr add 198.51.100.1/24 dev "$NS_PREFIX-sc"; nsx srv ip link set "$NS_PREFIX-sc" up
nsx cli ip addr add 198.51.100.2/24 dev "$NS_PREFIX-cs"; nsx cli ip link set "$NS_PREFIX-cs" up
nsx srv ip addr add 10.1.0.1/24 dev "$NS_PREFIX-sv"; nsx srv ip link set "$NS_PREFIX-sv" up
nsx vm ip addr add 10.1.0.2/24 dev "$NS_PREFIX-vs"; nsx vm ip link set "$NS_PREFIX-vs" up
nsx vm ip route add default via 10.1.0.1
nsx srv sysctl -qw net.ipv4.ip_forward=1
wait_for() { local i; for i in $(seq 1 "$2"); do eval "$1" && return 0; sleep 0.2; done; return 1; }
rss_kib() { awk '/VmRSS/ {print $2}' /proc/"$1"/status; }

start_bg srv "$WORK/srv.log" "$VPNGW" p2s serve --listen 198.51.100.1:443 --cert-cn 198.51.100.1 --pool 172.16.201.0/24 \
  --user alice:secret --max-sessions 128
SRV=${PIDS[-1]}
wait_for "grep -q listening $WORK/srv.log" 50
start_bg vm "$WORK/iperf.log" iperf3 -s
# A second server for the download runs: data the upload left queued in a slow path (sstpc's
# stdio) keeps the first server busy for a moment after the client's timer ends, and a busy
# iperf3 server resets the next control connection.
start_bg vm "$WORK/iperf-down.log" iperf3 -s -p 5202
sleep 0.5
SRV_PID=$(pgrep -P "$SRV" -x vpngw || echo "$SRV")   # ip netns exec may exec in place

gbps() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print("%.2f" % (d["end"]["sum_received"]["bits_per_second"]/1e9))' "$1" 2>/dev/null || echo "?"; }

for engine in native sstpc; do
  start_bg cli "$WORK/c-$engine.log" "$VPNGW" p2s connect --engine $engine --server 198.51.100.1 --user alice --password secret \
    --tun sstp-$engine --route 10.1.0.0/24 --ready-file "$WORK/$engine.ready" --ipparam "$NS_PREFIX-$engine"
  C=${PIDS[-1]}
  if wait_for "[ -s $WORK/$engine.ready ]" 100; then
    nsx cli iperf3 -c 10.1.0.2 -t "$SECS" -J >"$WORK/up-$engine.json" 2>/dev/null
    nsx cli iperf3 -c 10.1.0.2 -p 5202 -t "$SECS" -R -J >"$WORK/down-$engine.json" 2>/dev/null
    echo "iperf3 one SSTP session ($engine client): client→VM $(gbps "$WORK/up-$engine.json") Gbit/s, VM→client $(gbps "$WORK/down-$engine.json") Gbit/s"
  else
    echo "iperf3 ($engine): session did not come up"; tail -5 "$WORK/c-$engine.log"
  fi
  kill "$C"; sleep 1
done

# Both iperf3 sessions must be gone before the 128-session load, or one slot is still taken.
wait_for '[ "$(grep -c "closed (user alice" $WORK/srv.log)" -ge 2 ]' 150 || echo "note: an earlier session is still open on the server"
before=$(rss_kib "$SRV_PID")
nsx cli "$VPNGW" p2s load --server 198.51.100.1 --user alice --password secret --sessions 128 --hold 4 >"$WORK/load.log" 2>&1 &
LOAD=$!
wait_for "grep -q holding $WORK/load.log" 150
sleep 2
during=$(rss_kib "$SRV_PID")
wait "$LOAD"
grep -E "connected|setups" "$WORK/load.log"
echo "server RSS: $before KiB idle, $during KiB with 128 idle sessions → $(( (during - before) / 128 )) KiB per idle session"
summary >/dev/null
