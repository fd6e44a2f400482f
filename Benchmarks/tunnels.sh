#!/usr/bin/env bash
# Side-by-side tunnel benchmark: vpngw ↔ vpngw, strongSwan ↔ strongSwan (kernel-libipsec,
# IKEv2 PSK) and wireguard-go ↔ wireguard-go, in ONE run, on the anchors' 4-namespace topology
# (../shared/anchors: lib.sh, b_strongswan.sh, c_wireguard.sh; their figures are in RESULTS.md):
#
#   lan-a 10.1.0.2 — gw-a [10.1.0.1 | 192.0.2.1] ══ underlay veth ══ [192.0.2.2 | 10.2.0.1] gw-b — lan-b 10.2.0.2
#
# For each tunnel (and the plain routed path as a baseline) it measures iperf3 TCP throughput
# lan-a → lan-b (median of 3 runs of 10 s, min–max, retransmits), ping RTT (20 pings at 0.2 s
# after 3 warm-up pings), UDP receive-buffer drops on the gateways and the CPU split (per
# process and per thread, over the first iperf3 run), then prints a table with the ratios
# vpngw/strongSwan and vpngw/wireguard-go next to issue 3's targets, marked met/MISSED.
#
# With IKE (the `ike` config section) it also measures vpngw ↔ vpngw and vpngw (gw-a) ↔ strongSwan
# (gw-b) throughput, the tunnel setup time (IKE_SA_INIT → CHILD SA installed: vpngw's own monotonic
# figure from its log line, strongSwan's as the anchors measure it, `swanctl --initiate` wall time)
# and IKE_SA+CHILD_SA setups per second (`vpngw bench ike`, N tunnels at once from one address,
# both ends on the same 2 cores; strongSwan's rate measured in the same run the anchors' way,
# b_strongswan.sh: N connections with start_action=start, DoS protection off).
#
# Usage: sudo Benchmarks/tunnels.sh [--quick] [--only vpngw|vpngwike|vpngwss|strongswan|wireguard[,…]] [--suites "S1 S2"] [--no-ike-bench]
#   --quick   1 iperf3 run of 5 s per scenario (a smoke run, not a figure to quote)
#   --only    run only these implementations (the baseline always runs: added RTT needs it)
#   --no-ike-bench  skip the setup-time and setups-per-second sections
#   --suites  ESP suites for vpngw and strongSwan (default: aes128gcm16 aes256-sha256)
#   --perf    after the measured runs of each vpngw scenario, one extra (uncounted) iperf3 run
#             under `perf record -a -g -e cpu-clock` (apt: linux-perf); prints where the vpngw
#             threads spend their time (kernel/syscalls, libcrypto, Swift runtime, vpngw code)
# Env: VPNGW_BIN (default .build-release/release/vpngw, else .build/release/vpngw; built with
#      `swift build -c release` only if neither exists), BENCH_RUNS, BENCH_SECS, BENCH_PINGS,
#      BENCH_IDLE_WAIT (max seconds to wait for an idle machine, default 60),
#      BENCH_TUN_TXQLEN (experiment: set vpngw's TUN txqueuelen; the kernel default is 500),
#      IKE_RATE_N (tunnels per setup-rate run, default 1000), IKE_RATE_REPS (default 3; 1 with --quick),
#      SETUP_REPS (setup-time samples per pair, default 5).
# Raw results (iperf3 JSON, logs, configs, CPU samples, results.tsv) stay in a temp dir whose
# path is printed at the end.
#
# Adding an implementation (e.g. "vpngw with IKE"): write impl_<name>_up SUITE (bring both
# gateways up, leave the tunnel carrying lan-a ⇄ lan-b, register PIDs with track_pid) and
# optionally impl_<name>_down, set IMPL_LABEL/IMPL_SUITES for it and add it to ALL_IMPLS.
# The side helpers (vpngw_side, charon_side) each start ONE gateway, so mixed pairs such as
# vpngw ↔ strongSwan are a two-line impl once vpngw negotiates with IKE.
#
# Rules this script keeps: traffic only inside namespaces it creates (per-run prefix), TEST-NET
# underlay, private LAN ranges only inside those namespaces; every loop bounded; processes are
# stopped by PID (or because they live in our own namespaces), also when a step fails.
set -u -o pipefail

# ---------------------------------------------------------------- options
RUNS=${BENCH_RUNS:-3}
SECS=${BENCH_SECS:-10}
PINGS=${BENCH_PINGS:-20}
IDLE_WAIT=${BENCH_IDLE_WAIT:-60}
ONLY=""
SUITES="aes128gcm16 aes256-sha256"
QUICK=0
PERF=0
IKE_BENCH=1
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1; RUNS=${BENCH_RUNS:-1}; SECS=${BENCH_SECS:-5}; IDLE_WAIT=${BENCH_IDLE_WAIT:-20} ;;
    --perf) PERF=1 ;;
    --no-ike-bench) IKE_BENCH=0 ;;
    --only) [ $# -ge 2 ] || { echo "--only needs an argument" >&2; exit 2; }; ONLY="${2//,/ }"; shift ;;
    --only=*) ONLY="${1#--only=}"; ONLY="${ONLY//,/ }" ;;
    --suites) [ $# -ge 2 ] || { echo "--suites needs an argument" >&2; exit 2; }; SUITES="$2"; shift ;;
    -h|--help) sed -n '2,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown option: $1 (try --help)" >&2; exit 2 ;;
  esac
  shift
done

log() { echo "[$(date +%T)] $*" >&2; }
die() { echo "FATAL: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "must run as root (network namespaces, TUN devices)"
[ -c /dev/net/tun ] || die "no /dev/net/tun"

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
P="tb$$"                               # per-run prefix: namespaces, interfaces, sockets
NS_NAMES="lan-a gw-a gw-b lan-b"
OUT="$(mktemp -d /tmp/vpngw-bench-XXXXXX)"
PIDS=()
CURRENT_IMPL=""

# ---------------------------------------------------------------- implementations
ALL_IMPLS="vpngw vpngwpp vpngwike vpngwss strongswan wireguard"
declare -A IMPL_LABEL=(
  [baseline]="routed, no tunnel"
  [vpngw]="vpngw ↔ vpngw (static SAs)"
  [vpngwpp]="vpngw ↔ vpngw (static SAs, offloads off)"
  [vpngwike]="vpngw ↔ vpngw (IKE)"
  [vpngwss]="vpngw ↔ strongSwan (IKE)"
  [strongswan]="strongSwan ↔ strongSwan"
  [wireguard]="wireguard-go ↔ wireguard-go"
)
declare -A IMPL_SUITES=([baseline]="-" [vpngw]="$SUITES" [vpngwpp]="aes128gcm16" [vpngwike]="$SUITES" [vpngwss]="$SUITES" [strongswan]="$SUITES" [wireguard]="chacha20poly1305")
for i in $ONLY; do [ -n "${IMPL_LABEL[$i]:-}" ] || die "--only: unknown implementation '$i' (one of: $ALL_IMPLS)"; done
IMPLS="${ONLY:-$ALL_IMPLS}"

# ---------------------------------------------------------------- packages
PKGS="iperf3 iproute2 iputils-ping python3 procps"
case " $IMPLS " in *" strongswan "*|*" vpngwss "*) PKGS="$PKGS strongswan-charon strongswan-swanctl libcharon-extra-plugins libstrongswan-extra-plugins libstrongswan-standard-plugins" ;; esac
# (libstrongswan-standard-plugins carries the openssl and gcm plugins that the anchors' plugin list
#  loads; without it charon says "ENCRYPTION_ALGORITHM AES_GCM_16 (key size 128) not supported!")
case " $IMPLS " in *" wireguard "*) PKGS="$PKGS wireguard-go wireguard-tools" ;; esac
[ "$PERF" = 1 ] && PKGS="$PKGS linux-perf"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  log "installing missing Debian packages:$missing"
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $missing >"$OUT/apt.log" 2>&1; then
    log "apt-get install failed; running apt-get update once and retrying"
    DEBIAN_FRONTEND=noninteractive apt-get update >>"$OUT/apt.log" 2>&1
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $missing >>"$OUT/apt.log" 2>&1 ||
      die "apt-get install$missing failed; see $OUT/apt.log"
  fi
fi

# ---------------------------------------------------------------- vpngw binary
if [[ " $IMPLS " == *" vpngw"* ]]; then
  if [ -z "${VPNGW_BIN:-}" ]; then
    if [ -x "$REPO/.build-release/release/vpngw" ]; then VPNGW_BIN="$REPO/.build-release/release/vpngw"
    elif [ -x "$REPO/.build/release/vpngw" ]; then VPNGW_BIN="$REPO/.build/release/vpngw"
    else
      log "no release vpngw binary: building it (swift build -c release --scratch-path .build-release --product vpngw; this takes several minutes)"
      (cd "$REPO" && swift build -c release --scratch-path .build-release --product vpngw) >"$OUT/build.log" 2>&1 ||
        die "release build failed; see $OUT/build.log"
      VPNGW_BIN="$REPO/.build-release/release/vpngw"
    fi
  fi
  [ -x "$VPNGW_BIN" ] || die "VPNGW_BIN=$VPNGW_BIN is not executable"
fi

# ---------------------------------------------------------------- namespaces and cleanup
ns() { echo "$P-$1"; }
nsx() { local n="$1"; shift; ip netns exec "$(ns "$n")" "$@"; }
track_pid() { PIDS+=("$1"); }

# Stop the given PIDs (ours): TERM, wait up to 2 s, then KILL.
stop_pids() {
  local p alive
  for p in "$@"; do kill "$p" 2>/dev/null; done
  for _ in $(seq 1 20); do
    alive=0
    for p in "$@"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.1
  done
  for p in "$@"; do kill -9 "$p" 2>/dev/null; done
  for p in "$@"; do wait "$p" 2>/dev/null; done
  return 0
}

# Everything still inside one of our namespaces is ours (iperf3, charon, wireguard-go, vpngw …).
ns_teardown() {
  local n p
  [ ${#PIDS[@]} -gt 0 ] && stop_pids "${PIDS[@]}"
  PIDS=()
  for n in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$P-"); do
    for p in $(ip netns pids "$n" 2>/dev/null); do kill "$p" 2>/dev/null; done
  done
  sleep 0.2
  for n in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$P-"); do
    for p in $(ip netns pids "$n" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
    ip netns del "$n" 2>/dev/null
  done
  rm -f "/var/run/wireguard/${P}a.sock" "/var/run/wireguard/${P}b.sock"
}
on_exit() {
  local rc=$?
  ns_teardown
  [ "$rc" = 0 ] || echo "(exit $rc) raw results so far: $OUT" >&2
}
trap on_exit EXIT
trap 'exit 130' INT TERM

# topo4 yes|no — the anchors' topology; "yes" routes the LANs through the underlay in plain IP.
topo4() {
  local plain="$1" n
  for n in $NS_NAMES; do ip netns add "$(ns "$n")"; nsx "$n" ip link set lo up; done
  ip link add "$P-la" netns "$(ns lan-a)" type veth peer name "$P-al" netns "$(ns gw-a)"
  ip link add "$P-ab" netns "$(ns gw-a)" type veth peer name "$P-ba" netns "$(ns gw-b)"
  ip link add "$P-bl" netns "$(ns gw-b)" type veth peer name "$P-lb" netns "$(ns lan-b)"
  nsx lan-a ip addr add 10.1.0.2/24 dev "$P-la"
  nsx gw-a ip addr add 10.1.0.1/24 dev "$P-al"
  nsx gw-a ip addr add 192.0.2.1/24 dev "$P-ab"
  nsx gw-b ip addr add 192.0.2.2/24 dev "$P-ba"
  nsx gw-b ip addr add 10.2.0.1/24 dev "$P-bl"
  nsx lan-b ip addr add 10.2.0.2/24 dev "$P-lb"
  nsx lan-a ip link set "$P-la" up; nsx gw-a ip link set "$P-al" up; nsx gw-a ip link set "$P-ab" up
  nsx gw-b ip link set "$P-ba" up; nsx gw-b ip link set "$P-bl" up; nsx lan-b ip link set "$P-lb" up
  nsx lan-a ip route add default via 10.1.0.1
  nsx lan-b ip route add default via 10.2.0.1
  nsx gw-a sysctl -qw net.ipv4.ip_forward=1
  nsx gw-b sysctl -qw net.ipv4.ip_forward=1
  if [ "$plain" = yes ]; then
    nsx gw-a ip route add 10.2.0.0/24 via 192.0.2.2
    nsx gw-b ip route add 10.1.0.0/24 via 192.0.2.1
  fi
}

# ---------------------------------------------------------------- measurement helpers
# Wait (bounded) until the CPUs are ≥ 90 % idle over 1 s, like the anchors' uptime_check.
idle_check() {
  local busy="?" t0=$SECONDS
  while :; do
    busy="$(python3 -c '
import time
def snap():
    f=[int(x) for x in open("/proc/stat").readline().split()[1:]]
    return sum(f), f[3]+f[4]
t0,i0=snap(); time.sleep(1); t1,i1=snap()
print("%.0f" % (100.0*(1-(i1-i0)/max(1,t1-t0))))')"
    [ "$busy" -le 10 ] && break
    [ $((SECONDS - t0)) -ge "$IDLE_WAIT" ] && { log "WARNING: CPUs still ${busy}% busy after ${IDLE_WAIT}s; measuring anyway (figures may be low)"; break; }
    sleep 1
  done
  echo "$busy"
}

# udp_counters NS -> "InDatagrams RcvbufErrors"
udp_counters() { nsx "$1" awk '/^Udp:/ {n++; if (n==1) for(i=2;i<=NF;i++) h[i]=$i; else for(i=2;i<=NF;i++) if (h[i]=="InDatagrams"||h[i]=="RcvbufErrors") printf "%s ", $i}' /proc/net/snmp; }
# if_drops -> "gw:ifname rx_drop tx_drop" per interface of both gateways (a TUN device drops on TX
# when its reader falls behind: the packets the kernel queues for the daemon), plus the kernel's
# per-CPU backlog drops (netdev_max_backlog, e.g. after TUN writes), system-wide.
if_drops() {
  local gw
  for gw in gw-a gw-b; do nsx "$gw" awk -v g="$gw" 'NR > 2 { sub(":", " "); print g ":" $1, $5, $13 }' /proc/net/dev; done
  local s=0 x
  while read -r _ x _; do s=$((s + 16#$x)); done </proc/net/softnet_stat
  echo "kernel:backlog $s 0"
}
# if_drops_diff BEFORE AFTER -> "gw-a:vpngw0 tx 123, …" (only non-zero) ; total on the last line
if_drops_diff() {
  awk 'NR == FNR { r[$1] = $2; t[$1] = $3; next }
       { dr = $2 - r[$1]; dt = $3 - t[$1]; tot += dr + dt
         if (dr > 0) { printf "%s%s rx %d", sep, $1, dr; sep = ", " }
         if (dt > 0) { printf "%s%s tx %d", sep, $1, dt; sep = ", " } }
       END { if (sep == "") printf "none"; printf "\n%d\n", tot }' "$1" "$2"
}

# ping_rtt LABEL -> writes $OUT/LABEL.ping, echoes "avg min max mdev" (ms) or "NA NA NA NA"
ping_rtt() {
  local label="$1" out
  nsx lan-a ping -c 3 -i 0.2 -W 2 10.2.0.2 >/dev/null 2>&1 || true
  nsx lan-a ping -c "$PINGS" -i 0.2 -W 2 10.2.0.2 >"$OUT/$label.ping" 2>&1 || true
  out="$(awk -F'[=/ ]+' '/rtt|round-trip/ {print $7, $6, $8, $9}' "$OUT/$label.ping")"
  echo "${out:-NA NA NA NA}"
}

# CPU sampler: per process and per thread of every process in our namespaces, plus the
# system-wide us/sy/si/id split, between two snapshots (the middle of an iperf3 run).
CPU_PY='
import os, sys, json, time
def procs(nsnames):
    out = {}
    for ns in nsnames:
        try: pids = os.popen("ip netns pids " + ns).read().split()
        except Exception: pids = []
        for pid in pids:
            tasks = {}
            try:
                for tid in os.listdir(f"/proc/{pid}/task"):
                    try:
                        s = open(f"/proc/{pid}/task/{tid}/stat").read()
                        comm = s[s.index("(")+1:s.rindex(")")]
                        f = s[s.rindex(")")+2:].split()
                        tasks[tid] = (comm, int(f[11]) + int(f[12]))
                    except Exception: pass
                pcomm = open(f"/proc/{pid}/comm").read().strip()
            except Exception: continue
            out[pid] = (ns, pcomm, tasks)
    return out
def others(ours):
    # user-space processes outside our namespaces (kernel threads excluded): load from other sessions
    out = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or pid in ours: continue
        try:
            s = open(f"/proc/{pid}/stat").read()
            comm = s[s.index("(")+1:s.rindex(")")]
            f = s[s.rindex(")")+2:].split()
            if int(f[6]) & 0x00200000: continue
            out[pid] = (comm, int(f[11]) + int(f[12]))
        except Exception: pass
    return out
def stat():
    f = [int(x) for x in open("/proc/stat").readline().split()[1:]]
    return f
mode, path = sys.argv[1], sys.argv[2]
if mode == "snap":
    p = procs(sys.argv[3:])
    json.dump({"t": time.time(), "procs": p, "others": others(set(p)), "stat": stat()}, open(path, "w"))
elif mode == "others":
    a = json.load(open(path)); b = json.load(open(sys.argv[3]))
    hz = os.sysconf("SC_CLK_TCK"); dt = b["t"] - a["t"]
    oa, ob = a["others"], b["others"]
    print("%.0f" % sum(100.0 * (v[1] - oa[k][1]) / hz / dt for k, v in ob.items() if k in oa))
else:
    a = json.load(open(path)); b = json.load(open(sys.argv[3])); prefix = sys.argv[4]
    hz = os.sysconf("SC_CLK_TCK"); dt = b["t"] - a["t"]
    rows = []
    for pid, (ns, comm, tasks) in b["procs"].items():
        if pid not in a["procs"]: continue
        ta = a["procs"][pid][2]
        tot = 0.0; th = []
        for tid, (tcomm, ticks) in tasks.items():
            d = (ticks - ta[tid][1]) if tid in ta else 0
            tot += d; th.append((d, tcomm, tid))
        pct = 100.0 * tot / hz / dt
        th.sort(reverse=True)
        # thread names are shown with their TIDs when they do not tell the threads apart
        names = [n for _, n, _ in th]
        tag = lambda n, t: n if names.count(n) == 1 else "%s[%s]" % (n, t)
        thr = ", ".join("%s %.0f%%" % (tag(n, t), 100.0 * d / hz / dt) for d, n, t in th if d > 0 and len(tasks) > 1)
        rows.append((pct, comm, ns.replace(prefix + "-", ""), thr))
    rows.sort(reverse=True)
    sa, sb = a["stat"], b["stat"]; d = [y - x for x, y in zip(sa, sb)]; T = max(1, sum(d))
    pc = lambda i: 100.0 * d[i] / T
    print("system (%d CPUs, %.1f s window): us %.0f / sy %.0f / si %.0f / id %.0f / steal %.0f %%" % (os.cpu_count(), dt, pc(0) + pc(1), pc(2), pc(6), pc(3) + pc(4), pc(7)))
    for pct, comm, ns, thr in rows:
        if pct < 0.5: continue
        print("%-14s %-6s %5.0f %%%s" % (comm, ns, pct, ("   threads: " + thr) if thr else ""))
    oa, ob = a.get("others", {}), b.get("others", {})
    fo = sorted(((100.0 * (v[1] - oa[k][1]) / hz / dt, v[0]) for k, v in ob.items() if k in oa), reverse=True)
    ftot = sum(x for x, _ in fo)
    if ftot >= 5:
        print("WARNING: processes outside this benchmark used %.0f %% of a CPU meanwhile (%s): this figure is disturbed"
              % (ftot, ", ".join("%s %.0f%%" % (n, x) for x, n in fo[:3] if x >= 1)))
'
cpu_snap() { python3 -c "$CPU_PY" snap "$1" $(for n in $NS_NAMES; do ns "$n"; done); }
cpu_diff() { python3 -c "$CPU_PY" diff "$1" "$2" "$P"; }
cpu_others() { python3 -c "$CPU_PY" others "$1" "$2"; }

# iperf_one LABEL RUN -> echoes "Mbit/s retransmits" (NA on failure); samples CPU on run 1
iperf_one() {
  local label="$1" i="$2" spid cpid sampler="" mb
  nsx lan-b timeout $((SECS + 30)) iperf3 -s -1 -p 5201 >"$OUT/$label.srv$i.log" 2>&1 &
  spid=$!; track_pid "$spid"
  for _ in $(seq 1 50); do nsx lan-b ss -ltnH 'sport = :5201' 2>/dev/null | grep -q . && break; sleep 0.05; done
  if [ "$i" = perf ]; then
    ( sleep 1; perf record -a -g -F 997 -e cpu-clock -o "$OUT/$label.perf.data" -- sleep $((SECS > 3 ? SECS - 2 : 1)) >"$OUT/$label.perf.log" 2>&1 ) &
    sampler=$!
  elif [ "$i" = 1 ]; then
    # CPU split over the middle of the run: from 1 s after start to 1 s before the end
    ( sleep 1; cpu_snap "$OUT/$label.cpu0.json"; sleep $((SECS > 3 ? SECS - 2 : 1)); cpu_snap "$OUT/$label.cpu1.json" ) &
    sampler=$!
  fi
  nsx lan-a timeout $((SECS + 20)) iperf3 -c 10.2.0.2 -p 5201 -t "$SECS" -J >"$OUT/$label.run$i.json" 2>&1
  [ -n "$sampler" ] && wait "$sampler" 2>/dev/null
  stop_pids "$spid"
  python3 - "$OUT/$label.run$i.json" <<'PY'
import json, sys
try:
    j = json.load(open(sys.argv[1]))
    print("%.1f %s" % (j["end"]["sum_received"]["bits_per_second"] / 1e6, j["end"]["sum_sent"].get("retransmits", "NA")))
except Exception:
    print("NA NA")
PY
}

# measure IMPL SUITE — the tunnel (or baseline) is up; ping, iperf3 runs, CPU, UDP drops.
measure() {
  local impl="$1" suite="$2" label="$1-$2" rtt vals="" retr="" r mb rt u0b u1b busy
  busy="$(idle_check)"
  rtt="$(ping_rtt "$label")"
  if [ "$(echo "$rtt" | cut -d' ' -f1)" = NA ]; then
    log "$label: no ping reply through the tunnel"
    printf '%s\t%s\tFAIL\tNA\tNA\tNA\tNA\tNA\tNA\tNA\tNA\tNA\tNA\t%s\tNA\n' "$impl" "$suite" "$busy" >>"$OUT/results.tsv"
    return 1
  fi
  u0b="$(udp_counters gw-b)"; if_drops >"$OUT/$label.ifdrops0"; cpu_snap "$OUT/$label.all0.json"
  for i in $(seq 1 "$RUNS"); do
    r="$(iperf_one "$label" "$i")"; mb="${r% *}"; rt="${r#* }"
    log "  $label run $i: $mb Mbit/s, $rt retransmits"
    [ "$mb" != NA ] && vals="$vals $mb"
    retr="$retr $rt"
  done
  u1b="$(udp_counters gw-b)"; if_drops >"$OUT/$label.ifdrops1"; cpu_snap "$OUT/$label.all1.json"
  local foreign; foreign="$(cpu_others "$OUT/$label.all0.json" "$OUT/$label.all1.json" 2>/dev/null || echo NA)"
  if [ "$foreign" != NA ] && [ "$foreign" -ge 5 ]; then
    echo "  WARNING: processes outside this benchmark used ${foreign}% of a CPU on average during these runs: figures disturbed"
  fi
  local ifd; ifd="$(if_drops_diff "$OUT/$label.ifdrops0" "$OUT/$label.ifdrops1")"
  echo "  interface/backlog drops during the runs: $(echo "$ifd" | head -1)"
  if [ "$PERF" = 1 ] && [[ "$impl" == vpngw* ]]; then
    r="$(iperf_one "$label" perf)"
    log "  $label extra run under perf (not counted): ${r% *} Mbit/s"
    perf_summary "$label" | tee "$OUT/$label.perf.txt"
  fi
  local cpu=""
  if [ -f "$OUT/$label.cpu0.json" ] && [ -f "$OUT/$label.cpu1.json" ]; then
    cpu_diff "$OUT/$label.cpu0.json" "$OUT/$label.cpu1.json" >"$OUT/$label.cpu.txt" 2>&1
  fi
  # results.tsv: impl suite status median min max retr(median) rtt_avg rtt_min rtt_max udp_rx_b udp_drop_b busy_before
  python3 - "$impl" "$suite" "$vals" "$retr" "$rtt" "$u0b" "$u1b" "$busy" "$(echo "$ifd" | tail -1)" "$foreign" >>"$OUT/results.tsv" <<'PY'
import sys, statistics
impl, suite, vals, retr, rtt, u0, u1, busy, ifd, foreign = sys.argv[1:]
v = [float(x) for x in vals.split()]
r = [int(x) for x in retr.split() if x.isdigit()]
a = rtt.split()
u0 = [int(x) for x in u0.split()]; u1 = [int(x) for x in u1.split()]
rx, drop = (u1[0] - u0[0], u1[1] - u0[1]) if len(u0) == 2 and len(u1) == 2 else ("NA", "NA")
if v:
    print("\t".join(map(str, [impl, suite, "ok", "%.1f" % statistics.median(v), "%.1f" % min(v), "%.1f" % max(v),
        int(statistics.median(r)) if r else "NA", a[0], a[1], a[2], rx, drop, ifd, busy, foreign])))
else:
    print("\t".join(map(str, [impl, suite, "FAIL", "NA", "NA", "NA", "NA", a[0], a[1], a[2], rx, drop, ifd, busy, foreign])))
PY
  if [ -s "$OUT/$label.cpu.txt" ]; then
    echo "  CPU split, $label (run 1, middle of the run):"
    sed 's/^/    /' "$OUT/$label.cpu.txt"
  fi
  tail -1 "$OUT/results.tsv" | awk -F'\t' '{printf "  %s %s: %s Mbit/s (min %s max %s over '"$RUNS"' x '"$SECS"' s; median retransmits %s), RTT avg %s ms; gw-b UDP rx %s, dropped (rcvbuf) %s\n", $1, $2, $4, $5, $6, $7, $8, $11, $12}'
}

# perf_summary LABEL — where each vpngw thread's time goes (leaf frame of every cpu-clock sample,
# kernel samples attributed to the syscall on their stack), and CPU µs per data packet.
PERF_PY='
import sys, re, json, collections
# usage: perfsum.py PERF_SCRIPT_TXT IPERF_JSON SECONDS HZ gw-a=PID gw-b=PID
script, ipj, secs, hz = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
gws = {}
for a in sys.argv[5:]:
    k, v = a.split("="); gws[v] = k
try:
    bps = json.load(open(ipj))["end"]["sum_received"]["bits_per_second"]
except Exception:
    bps = None
SYSCALLS = [("__x64_sys_sendmmsg", "sendmmsg"), ("__x64_sys_recvmmsg", "recvmmsg"), ("ksys_write", "write"),
            ("ksys_read", "read"), ("__x64_sys_poll", "poll"), ("__x64_sys_ppoll", "poll"), ("__x64_sys_futex", "futex")]
def classify(frames):
    leaf_sym, leaf_dso = frames[0]
    if leaf_dso == "[kernel.kallsyms]":
        sc = "other kernel (irq, faults, scheduler)"
        for sym, dso in frames:
            for k, name in SYSCALLS:
                if sym == k: sc = name; break
            else: continue
            break
        soft = any(s == "handle_softirqs" for s, _ in frames)
        if sc in ("read", "write", "sendmmsg", "recvmmsg", "poll", "futex"):
            return "kernel: %s%s" % (sc, " → softirq (stack of the next hops)" if soft else "")
        return "kernel: " + sc
    s = leaf_sym
    if re.search(r"swift_(retain|release|bridgeObjectRetain|bridgeObjectRelease|unknownObjectRetain|unknownObjectRelease|isUniquelyReferenced)", s):
        return "Swift: retain/release/uniqueness"
    if re.search(r"swift_(beginAccess|endAccess)|AccessSet", s):
        return "Swift: exclusivity checks"
    if re.search(r"Hasher|Dictionary|_HashTable", s):
        return "Swift: Dictionary/Hasher"
    if "libcrypto" in leaf_dso:
        if re.match(r"(EVP_|OSSL_|ossl_|evp_|CRYPTO_THREAD|ERR_)", s):
            return "OpenSSL: EVP/param plumbing"
        return "OpenSSL: cipher (AES-GCM/CBC, GHASH, SHA)"
    if "libc.so" in leaf_dso and "strcmp" in s:
        return "OpenSSL: EVP/param plumbing"  # OSSL_PARAM_locate → strcmp (callers have no frame pointers)
    if "libc.so" in leaf_dso:
        if re.search(r"write|read|poll|sendmmsg|recvmmsg|syscall", s):
            return "libc: syscall wrappers"
        return "libc: other (" + s + ")"
    if leaf_dso.endswith("/vpngw"):
        return "vpngw Swift code (DataPlane, ESP)"
    if "libswift" in leaf_dso or "libFoundation" in leaf_dso or "libdispatch" in leaf_dso:
        return "Swift runtime/Foundation: other"
    return "other: " + leaf_dso
samples = collections.Counter()       # (pid, tid) -> n
cats = collections.defaultdict(collections.Counter)
syscalls = collections.defaultdict(collections.Counter)
cur = None; frames = []
def flush():
    if cur and frames and cur[0] in gws:
        samples[cur] += 1
        c = classify(frames); cats[cur][c] += 1
        m = re.match(r"kernel: (\w+)", c)
        if m: syscalls[cur][m.group(1)] += 1
for line in open(script, errors="replace"):
    if not line.strip():
        flush(); cur = None; frames = []; continue
    if not line.startswith("\t") and not line.startswith(" "):
        flush(); frames = []
        m = re.search(r"(\d+)/(\d+)", line)
        cur = (m.group(1), m.group(2)) if m else None
        continue
    m = re.match(r"\s*[0-9a-f]+ (.*) \((.*)\)\s*$", line)
    if m: frames.append((m.group(1), m.group(2)))
flush()
pps = bps / 8 / 1390 if bps else None   # inner packets are ~1390 B (MSS clamp 1350 + 40)
print("vpngw profile (perf record -a -e cpu-clock, %.0f s, %.0f Hz): %s" % (secs, hz, ("%.0f Mbit/s, ≈%.0fk data pkt/s" % (bps / 1e6, pps / 1e3)) if bps else "rate unknown"))
for (pid, tid), n in sorted(samples.items(), key=lambda kv: (gws[kv[0][0]], -kv[1])):
    sc = syscalls[(pid, tid)]
    role = "outbound (TUN→ESP→UDP)" if sc["read"] + sc["sendmmsg"] > sc["recvmmsg"] + sc["write"] else "inbound (UDP→ESP→TUN)"
    cpu = 100.0 * n / (secs * hz)
    if cpu < 3: continue
    per = (" ≈ %.2f µs CPU per data packet" % (cpu / 100 / pps * 1e6)) if pps else ""
    print("  %s tid %s, %s: %.0f %% of a CPU%s" % (gws[pid], tid, role, cpu, per))
    for c, k in cats[(pid, tid)].most_common():
        if 100.0 * k / n < 0.5: continue
        print("      %5.1f %%  %s" % (100.0 * k / n, c))
tot = collections.Counter()
for key, cc in cats.items(): tot.update(cc)
N = sum(tot.values())
if N:
    groups = collections.Counter()
    for c, k in tot.items(): groups[c.split(":")[0]] += k
    print("  all vpngw threads together: " + ", ".join("%s %.1f %%" % (g, 100.0 * k / N) for g, k in groups.most_common()))
'
perf_summary() {
  local label="$1"
  [ -s "$OUT/$label.perf.data" ] || { echo "  (no perf data: $(tail -2 "$OUT/$label.perf.log" 2>/dev/null))"; return 0; }
  perf script -i "$OUT/$label.perf.data" -F comm,pid,tid,ip,sym,dso >"$OUT/$label.perf.script" 2>/dev/null
  python3 -c "$PERF_PY" "$OUT/$label.perf.script" "$OUT/$label.runperf.json" $((SECS > 3 ? SECS - 2 : 1)) 997 \
    "gw-a=$(cat "$OUT/vpngw-gw-a.pid")" "gw-b=$(cat "$OUT/vpngw-gw-b.pid")"
  echo "  (perf data: $OUT/$label.perf.data; perf report -i … --no-children --sort pid,dso,sym)"
}

# ---------------------------------------------------------------- baseline
impl_baseline_up() { return 0; }

# ---------------------------------------------------------------- vpngw (static SAs)
# KEYMAT length per suite (encryption key ‖ salt, or encryption key ‖ integrity key).
keymat_len() {
  case "$1" in
    aes128gcm16) echo 20 ;; aes256gcm16|chacha20poly1305) echo 36 ;;
    aes128-sha1) echo 36 ;; aes128-sha256) echo 48 ;; aes256-sha1) echo 52 ;; aes256-sha256) echo 64 ;;
    aes256-sha384) echo 80 ;; aes256-sha512) echo 96 ;; *) echo 0 ;;
  esac
}
hexkey() { od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'; }

# vpngw_side GW CONFIG_JSON_FILE — start one vpngw gateway, wait for "tunnel up"
vpngw_side() {
  local gw="$1" conf="$2" pid
  ip netns exec "$(ns "$gw")" "$VPNGW_BIN" tunnel up --config "$conf" >"$OUT/vpngw-$gw.log" 2>&1 &
  pid=$!; track_pid "$pid"; echo "$pid" >"$OUT/vpngw-$gw.pid"
  for _ in $(seq 1 100); do
    grep -q "tunnel up" "$OUT/vpngw-$gw.log" 2>/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  log "vpngw in $gw did not come up:"; sed 's/^/    /' "$OUT/vpngw-$gw.log" >&2
  return 1
}

impl_vpngw_up() {
  local suite="$1" len k1 k2
  len="$(keymat_len "$suite")"; [ "$len" -gt 0 ] || { log "vpngw: no key length known for suite $suite"; return 1; }
  k1="$(hexkey "$len")"; k2="$(hexkey "$len")"
  cat >"$OUT/vpngw-a.json" <<J
{"localAddress":"192.0.2.1","peerAddress":"192.0.2.2","remotePrefixes":["10.2.0.0/24"],"tunName":"vpngw0","offloads":${VPNGW_OFFLOADS:-true},
 "manual":{"suite":"$suite","outboundSPI":4097,"inboundSPI":8193,"outboundKey":"$k1","inboundKey":"$k2"}}
J
  cat >"$OUT/vpngw-b.json" <<J
{"localAddress":"192.0.2.2","peerAddress":"192.0.2.1","remotePrefixes":["10.1.0.0/24"],"tunName":"vpngw0","offloads":${VPNGW_OFFLOADS:-true},
 "manual":{"suite":"$suite","outboundSPI":8193,"inboundSPI":4097,"outboundKey":"$k2","inboundKey":"$k1"}}
J
  vpngw_side gw-a "$OUT/vpngw-a.json" && vpngw_side gw-b "$OUT/vpngw-b.json" || return 1
  if [ -n "${BENCH_TUN_TXQLEN:-}" ]; then   # experiment knob: the TUN's kernel→daemon queue (default 500)
    nsx gw-a ip link set vpngw0 txqueuelen "$BENCH_TUN_TXQLEN"; nsx gw-b ip link set vpngw0 txqueuelen "$BENCH_TUN_TXQLEN"
  fi
  echo "  vpngw: $(nsx gw-a ip -o link show vpngw0 | grep -oE 'mtu [0-9]*|qlen [0-9]*' | tr '\n' ' ')on the TUN, routes: $(nsx gw-a ip route show 10.2.0.0/24)"
}
# Stop the gateways first so that their exit counters (drops by reason) land in the logs.
impl_vpngw_down() {
  local gw pid
  for gw in gw-a gw-b; do
    [ -f "$OUT/vpngw-$gw.pid" ] || continue   # vpngw ↔ strongSwan: no vpngw in gw-b
    pid="$(cat "$OUT/vpngw-$gw.pid" 2>/dev/null)"; [ -n "$pid" ] && stop_pids "$pid"
    echo "  vpngw $gw at exit: $(grep -E '^(tunnel|drops)' "$OUT/vpngw-$gw.log" | tr '\n' ' ')"
  done
  # keep per-suite logs
  for gw in gw-a gw-b; do mv "$OUT/vpngw-$gw.log" "$OUT/$CURRENT_IMPL-$CURRENT_SUITE-$gw.log" 2>/dev/null; rm -f "$OUT/vpngw-$gw.pid"; done
}

# ---------------------------------------------------------------- vpngw with IKE
VPNGW_PSK="vpngw-benchmark-psk-not-secret-0123456789"
# vpngw_ike_conf FILE LOCAL PEER REMOTE_PREFIX MODE ESP — identities are the addresses (vpngw's, as Azure's)
vpngw_ike_conf() {
  cat >"$1" <<J
{"localAddress":"$2","peerAddress":"$3","remotePrefixes":["$4"],"tunName":"vpngw0",
 "ike":{"psk":"$VPNGW_PSK","mode":"$5","ikeProposals":["$SS_IKE"],"espProposals":["$6"],"dpdTimeoutSeconds":120}}
J
}
# wait_child GW -> echoes vpngw's own setup time in ms ("CHILD SA established … in X ms"), or fails
wait_child() {
  local f="$OUT/vpngw-$1.log" ms
  for _ in $(seq 1 200); do
    ms="$(grep -m1 "CHILD SA established" "$f" 2>/dev/null | grep -oE 'in [0-9.]+ ms' | grep -oE '[0-9.]+')"
    [ -n "$ms" ] && { echo "$ms"; return 0; }
    sleep 0.05
  done
  log "no CHILD SA in $1:"; grep -E "failed|dropped" "$f" | tail -5 >&2
  return 1
}
# The same pair with TUN/UDP offloads off: one syscall per packet (what the offloads replace).
impl_vpngwpp_up() { VPNGW_OFFLOADS=false impl_vpngw_up "$@"; }
impl_vpngwpp_down() { impl_vpngw_down; }
impl_vpngwike_up() {
  local esp="$1" ms
  vpngw_ike_conf "$OUT/vpngw-a.json" 192.0.2.1 192.0.2.2 10.2.0.0/24 initiate "$esp"
  vpngw_ike_conf "$OUT/vpngw-b.json" 192.0.2.2 192.0.2.1 10.1.0.0/24 respond "$esp"
  vpngw_side gw-b "$OUT/vpngw-b.json" && vpngw_side gw-a "$OUT/vpngw-a.json" || return 1
  ms="$(wait_child gw-a)" || return 1
  echo "  vpngw IKE $SS_IKE, ESP $esp: CHILD SA installed $ms ms after IKE_SA_INIT started (vpngw's clock)"
}
impl_vpngwike_down() { impl_vpngw_down; }
impl_vpngwss_up() {
  local esp="$1" ms
  charon_side gw-b "$esp" ipids || return 1
  vpngw_ike_conf "$OUT/vpngw-a.json" 192.0.2.1 192.0.2.2 10.2.0.0/24 initiate "$esp"
  vpngw_side gw-a "$OUT/vpngw-a.json" || return 1
  ms="$(wait_child gw-a)" || return 1
  echo "  vpngw (gw-a, initiator) → strongSwan (gw-b): IKE $SS_IKE, ESP $esp, CHILD SA installed $ms ms after IKE_SA_INIT started"
}
impl_vpngwss_down() {
  sw gw-b --list-sas 2>/dev/null | grep -E "ESTABLISHED|INSTALLED" | sed 's/^/  strongSwan: /' | head -3
  impl_vpngw_down
}

# ---------------------------------------------------------------- strongSwan (kernel-libipsec)
# The anchors' recipe (../shared/anchors/b_strongswan.sh): load_modular=no with kernel-libipsec
# before kernel-netlink (userspace ESP via TUN ipsec0), kdf loaded, openssl first; a private /run
# per charon (bind mount inside `ip netns exec`'s mount namespace) for the pidfile; a vici socket
# per gateway; mobike off and roam_events off.
CHARON=/usr/lib/ipsec/charon
SS_IKE="aes128gcm16-prfsha256-x25519"
sw() { local gw="$1" cmd="$2"; shift 2; STRONGSWAN_CONF="$OUT/ss/$gw/strongswan.conf" swanctl "$cmd" --uri "unix://$OUT/ss/$gw/charon.vici" "$@"; }

# charon_side GW ESP_PROPOSAL [ipids] — write configs, start charon, load them ("ipids": the IKE
# identities are the addresses, as vpngw's are, for a vpngw peer)
charon_side() {
  local gw="$1" esp="$2" d="$OUT/ss/$1" me peer lts rts myid peerid pid
  if [ "$gw" = gw-a ]; then me=192.0.2.1; peer=192.0.2.2; lts=10.1.0.0/24; rts=10.2.0.0/24; myid=gw-a; peerid=gw-b
  else me=192.0.2.2; peer=192.0.2.1; lts=10.2.0.0/24; rts=10.1.0.0/24; myid=gw-b; peerid=gw-a; fi
  local secret="vpngw-benchmark-psk-not-secret-0123456789"
  if [ "${3:-}" = ipids ]; then myid=$me; peerid=$peer; fi
  rm -rf "$d"; mkdir -p "$d/run"; chmod 700 "$d"
  (cd "$d" && mkdir -p x509 x509ca x509ocsp x509aa x509ac x509crl pubkey private rsa ecdsa bliss pkcs8 pkcs12)
  cat >"$d/strongswan.conf" <<EOC
charon {
  load_modular = no
  load = openssl random nonce pem pkcs1 x509 pubkey aes sha1 sha2 hmac kdf gcm chapoly curve25519 kernel-libipsec kernel-netlink socket-default vici updown
  install_virtual_ip = no
  syslog { }
  filelog { log { path = $d/charon.log
                  time_format = %T
                  default = 1
                  flush_line = no } }
  plugins {
    vici { socket = unix://$d/charon.vici }
    kernel-netlink { roam_events = no }
  }
}
swanctl { load = pem pkcs1 x509 pubkey openssl random nonce }
EOC
  cat >"$d/swanctl.conf" <<EOC
connections {
  s2s {
    version = 2
    mobike = no
    local_addrs = $me
    remote_addrs = $peer
    proposals = $SS_IKE
    local { auth = psk
            id = $myid }
    remote { auth = psk
             id = $peerid }
    children { net { local_ts = $lts
                     remote_ts = $rts
                     esp_proposals = $esp
                     mode = tunnel
                     start_action = none } }
  }
}
secrets { ike-s2s { id-a = $myid
                    id-b = $peerid
                    secret = "$secret" } }
EOC
  STRONGSWAN_CONF="$d/strongswan.conf" ip netns exec "$(ns "$gw")" \
    sh -c "mount --bind '$d/run' /run && exec $CHARON" >"$d/charon.stdout" 2>&1 &
  pid=$!; track_pid "$pid"
  for _ in $(seq 1 100); do [ -S "$d/charon.vici" ] && break; kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
  [ -S "$d/charon.vici" ] || { log "charon in $gw did not start:"; cat "$d/charon.stdout" "$d/charon.log" >&2 2>/dev/null; return 1; }
  sw "$gw" --load-all --file "$d/swanctl.conf" >"$d/load.out" 2>&1 || { log "swanctl --load-all failed in $gw"; cat "$d/load.out" >&2; return 1; }
}

impl_strongswan_up() {
  local esp="$1" t0 t1
  charon_side gw-a "$esp" && charon_side gw-b "$esp" || return 1
  t0=$(date +%s%N)
  if ! sw gw-a --initiate --child net --timeout 10 >"$OUT/ss/initiate-$esp.out" 2>&1; then
    log "strongSwan: initiate failed for $esp:"
    grep -hE "NO_PROPOSAL|failed|error|unsupported|not supported" "$OUT/ss/gw-a/charon.log" "$OUT/ss/gw-b/charon.log" | tail -8 >&2
    return 1
  fi
  t1=$(date +%s%N)
  echo "  strongSwan: $($CHARON --version 2>&1 | head -1), IKE $SS_IKE, ESP $esp; swanctl --initiate took $(( (t1 - t0) / 1000000 )) ms; ipsec0 $(nsx gw-a ip -o link show ipsec0 | grep -o 'mtu [0-9]*')"
}
impl_strongswan_down() {
  sw gw-a --list-sas 2>/dev/null | grep -E "ESTABLISHED|INSTALLED|in  |out " | sed 's/^/  /' | head -6
  cp -r "$OUT/ss" "$OUT/ss-$CURRENT_SUITE" 2>/dev/null
}

# ---------------------------------------------------------------- wireguard-go
# wireguard-go -f keeps it in the foreground so that we own its PID; the UAPI socket
# /var/run/wireguard/<ifname>.sock is on the shared filesystem, so the names carry the prefix.
wg_side() {
  local gw="$1" ifn="$2" pid
  ip netns exec "$(ns "$gw")" wireguard-go -f "$ifn" >"$OUT/wg-$gw.log" 2>&1 &
  pid=$!; track_pid "$pid"
  for _ in $(seq 1 50); do
    nsx "$gw" ip link show "$ifn" >/dev/null 2>&1 && [ -S "/var/run/wireguard/$ifn.sock" ] && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  log "wireguard-go $ifn in $gw did not come up: $(cat "$OUT/wg-$gw.log")"; return 1
}
impl_wireguard_up() {
  local ka kb pa pb
  ka="$(wg genkey)"; kb="$(wg genkey)"; pa="$(echo "$ka" | wg pubkey)"; pb="$(echo "$kb" | wg pubkey)"
  (umask 077; echo "$ka" >"$OUT/wg-a.key"; echo "$kb" >"$OUT/wg-b.key")
  wg_side gw-a "${P}a" && wg_side gw-b "${P}b" || return 1
  nsx gw-a wg set "${P}a" listen-port 51820 private-key "$OUT/wg-a.key" peer "$pb" endpoint 192.0.2.2:51820 allowed-ips 10.2.0.0/24
  nsx gw-b wg set "${P}b" listen-port 51820 private-key "$OUT/wg-b.key" peer "$pa" endpoint 192.0.2.1:51820 allowed-ips 10.1.0.0/24
  nsx gw-a ip link set "${P}a" up; nsx gw-b ip link set "${P}b" up
  nsx gw-a ip route add 10.2.0.0/24 dev "${P}a"; nsx gw-b ip route add 10.1.0.0/24 dev "${P}b"
  # the first packet triggers the handshake
  nsx lan-a ping -c 1 -W 5 10.2.0.2 >/dev/null 2>&1 || { log "wireguard: no first ping"; return 1; }
  echo "  wireguard-go $(wireguard-go --version 2>&1 | head -1 | awk '{print $2}'), $(nsx gw-a ip -o link show "${P}a" | grep -o 'mtu [0-9]*'), cipher ChaCha20-Poly1305 (fixed by the protocol)"
}

# ---------------------------------------------------------------- run
echo "vpngw tunnel benchmark — $(date -u +%FT%TZ), $(uname -r), $(nproc) CPUs, $RUNS x ${SECS}s iperf3 TCP lan-a → lan-b, $PINGS pings; raw results: $OUT"
[ "$QUICK" = 1 ] && echo "(--quick: a smoke run, not figures to quote)"
[ -n "${VPNGW_BIN:-}" ] && echo "vpngw binary: $VPNGW_BIN ($(stat -c '%y' "$VPNGW_BIN" | cut -d. -f1))"
v="$(dpkg-query -W -f='${Version}' wireguard-go 2>/dev/null)"
[[ " $IMPLS " == *" wireguard "* ]] && [ "${v%%-*}" != 0.0.20220316 ] && echo "NOTE: wireguard-go $v is not the anchors' 0.0.20220316"
printf 'impl\tsuite\tstatus\tmbps_median\tmbps_min\tmbps_max\tretransmits_median\trtt_avg_ms\trtt_min_ms\trtt_max_ms\tgwb_udp_rx\tgwb_udp_rcvbuf_drops\tgw_if_backlog_drops\tcpu_busy_before_pct\tforeign_cpu_pct\n' >"$OUT/results.tsv"

run_scenario() {
  local impl="$1" suite="$2" label="$1-$2"
  CURRENT_IMPL="$impl"; CURRENT_SUITE="$suite"
  echo "=== ${IMPL_LABEL[$impl]}  [$suite] ==="
  ns_teardown
  if [ "$impl" = baseline ]; then topo4 yes; else topo4 no; fi
  if "impl_${impl}_up" "$suite" && measure "$impl" "$suite"; then :; else
    grep -q "^$impl	$suite	" "$OUT/results.tsv" ||
      printf '%s\t%s\tFAIL\tNA\tNA\tNA\tNA\tNA\tNA\tNA\tNA\tNA\tNA\tNA\tNA\n' "$impl" "$suite" >>"$OUT/results.tsv"
    echo "  $label FAILED"
  fi
  declare -F "impl_${impl}_down" >/dev/null && "impl_${impl}_down"
  ns_teardown
}

START=$SECONDS
run_scenario baseline -
for impl in $IMPLS; do
  for suite in ${IMPL_SUITES[$impl]}; do run_scenario "$impl" "$suite"; done
done

# ---------------------------------------------------------------- tunnel setup time
# setup.tsv: pair  median_ms  min_ms  max_ms  samples  how
SETUP_REPS=${SETUP_REPS:-5}
SETUP_ESP=aes128gcm16
median3() { python3 -c 'import sys, statistics; v = sorted(float(x) for x in sys.argv[1:]); print("%.2f\t%.2f\t%.2f\t%d" % (statistics.median(v), v[0], v[-1], len(v))) if v else print("NA\tNA\tNA\t0")' "$@"; }
have_charon() { [ -x "$CHARON" ] && command -v swanctl >/dev/null; }
setup_times() {
  local v="" t0 t1 ms i
  : >"$OUT/setup.tsv"
  echo "=== tunnel setup time: IKE_SA_INIT → CHILD SA installed (IKE $SS_IKE, ESP $SETUP_ESP), $SETUP_REPS samples each ==="
  echo "  (CPU busy before: $(idle_check)%)"
  # vpngw ↔ vpngw: a fresh pair per sample, vpngw's own monotonic figure from its log
  for i in $(seq 1 "$SETUP_REPS"); do
    ns_teardown; topo4 no
    vpngw_ike_conf "$OUT/vpngw-a.json" 192.0.2.1 192.0.2.2 10.2.0.0/24 initiate "$SETUP_ESP"
    vpngw_ike_conf "$OUT/vpngw-b.json" 192.0.2.2 192.0.2.1 10.1.0.0/24 respond "$SETUP_ESP"
    vpngw_side gw-b "$OUT/vpngw-b.json" && vpngw_side gw-a "$OUT/vpngw-a.json" && ms="$(wait_child gw-a)" && v="$v $ms"
    cp "$OUT/vpngw-gw-a.log" "$OUT/setup-vpngw-$i-gw-a.log" 2>/dev/null
  done
  printf 'vpngw ↔ vpngw, both new\t%s\tvpngw log: .start → first CHILD SA installed (monotonic); both processes just started\n' "$(median3 $v)" >>"$OUT/setup.tsv"
  echo "  vpngw ↔ vpngw, both processes new:$v ms"
  # vpngw ↔ vpngw with the responder already running (as charon is in the other two rows)
  ns_teardown; topo4 no; v=""
  vpngw_ike_conf "$OUT/vpngw-b.json" 192.0.2.2 192.0.2.1 10.1.0.0/24 respond "$SETUP_ESP"
  if vpngw_side gw-b "$OUT/vpngw-b.json"; then
    for i in $(seq 0 "$SETUP_REPS"); do   # sample 0 warms the responder up and is not counted
      vpngw_ike_conf "$OUT/vpngw-a.json" 192.0.2.1 192.0.2.2 10.2.0.0/24 initiate "$SETUP_ESP"
      vpngw_side gw-a "$OUT/vpngw-a.json" && ms="$(wait_child gw-a)" && [ "$i" -gt 0 ] && v="$v $ms"
      cp "$OUT/vpngw-gw-a.log" "$OUT/setup-vpngw-warm-$i-gw-a.log" 2>/dev/null
      stop_pids "$(cat "$OUT/vpngw-gw-a.pid")"; sleep 0.3
    done
  fi
  printf 'vpngw ↔ vpngw, resp. up\t%s\tvpngw log; responder running, a new initiator process per sample\n' "$(median3 $v)" >>"$OUT/setup.tsv"
  echo "  vpngw ↔ vpngw, responder already running:$v ms"
  if have_charon; then
    # vpngw → strongSwan: charon stays up in gw-b, a fresh vpngw initiator per sample
    ns_teardown; topo4 no; v=""
    if charon_side gw-b "$SETUP_ESP" ipids; then
      for i in $(seq 1 "$SETUP_REPS"); do
        vpngw_ike_conf "$OUT/vpngw-a.json" 192.0.2.1 192.0.2.2 10.2.0.0/24 initiate "$SETUP_ESP"
        vpngw_side gw-a "$OUT/vpngw-a.json" && ms="$(wait_child gw-a)" && v="$v $ms"
        cp "$OUT/vpngw-gw-a.log" "$OUT/setup-vpngwss-$i-gw-a.log" 2>/dev/null
        stop_pids "$(cat "$OUT/vpngw-gw-a.pid")"; sleep 0.3
      done
    fi
    printf 'vpngw → strongSwan\t%s\tvpngw log, vpngw initiates, charon responds\n' "$(median3 $v)" >>"$OUT/setup.tsv"
    echo "  vpngw → strongSwan:$v ms"
    # strongSwan ↔ strongSwan: swanctl --initiate wall time, initiate/terminate (the anchors' method)
    ns_teardown; topo4 no; v=""
    if charon_side gw-a "$SETUP_ESP" && charon_side gw-b "$SETUP_ESP"; then
      for i in $(seq 1 "$SETUP_REPS"); do
        t0=$(date +%s%N)
        sw gw-a --initiate --child net --timeout 10 >/dev/null 2>&1 || continue
        t1=$(date +%s%N)
        v="$v $(python3 -c "print('%.2f' % (($t1 - $t0) / 1e6))")"
        sw gw-a --terminate --ike s2s --timeout 5 >/dev/null 2>&1; sleep 0.3
      done
    fi
    printf 'strongSwan ↔ strongSwan\t%s\tswanctl --initiate wall time (anchors: 10.4 ms)\n' "$(median3 $v)" >>"$OUT/setup.tsv"
    echo "  strongSwan ↔ strongSwan:$v ms"
  fi
  ns_teardown
}

# ---------------------------------------------------------------- IKE_SA+CHILD_SA setups per second
IKE_RATE_N=${IKE_RATE_N:-1000}
IKE_RATE_REPS=${IKE_RATE_REPS:-$([ "$QUICK" = 1 ] && echo 1 || echo 3)}
# rate.tsv: name  proposal  n  median  min  max  reps
# vpngw_rate PROPOSAL COOKIE_THRESHOLD NAME
vpngw_rate() {
  local prop="$1" thr="$2" name="$3" rates="" rep pid r busy=""
  for rep in $(seq 1 "$IKE_RATE_REPS"); do
    ns_teardown; topo4 no
    ip netns exec "$(ns gw-b)" "$VPNGW_BIN" bench ike --respond --local 192.0.2.2 --peer 192.0.2.1 --proposal "$prop" \
      --cookie-threshold "$thr" >"$OUT/rate-$name-$rep-resp.log" 2>&1 &
    pid=$!; track_pid "$pid"
    for _ in $(seq 1 100); do grep -q "ready" "$OUT/rate-$name-$rep-resp.log" 2>/dev/null && break; sleep 0.05; done
    busy="$busy $(idle_check)"
    ip netns exec "$(ns gw-a)" "$VPNGW_BIN" bench ike --local 192.0.2.1 --peer 192.0.2.2 --peers "$IKE_RATE_N" --proposal "$prop" \
      --timeout 120 >"$OUT/rate-$name-$rep.log" 2>&1
    r="$(awk '/^RATE/ {print $5}' "$OUT/rate-$name-$rep.log")"
    log "  $name rep $rep: $(grep '^bench ike' "$OUT/rate-$name-$rep.log" | tail -1)"
    [ -n "$r" ] && rates="$rates $r"
    stop_pids "$pid"
  done
  printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$prop" "$IKE_RATE_N" "$(median3 $rates)" "cookie threshold $thr; CPU busy before: ${busy# }%" >>"$OUT/rate.tsv"
}
# strongSwan's rate, the anchors' b_strongswan.sh way: N connections (own IDs, own /32 TS pairs on lo)
# loaded with start_action=start; time from --load-conns until --stats shows N IKE_SAs, 0 half-open.
ss_rate() {
  local prop="$1" name="$2" rates="" rep gw d t0 t1 tot half ok est busy=""
  for rep in $(seq 1 "$IKE_RATE_REPS"); do
    ns_teardown; topo4 no
    python3 -c "
n=$IKE_RATE_N
open('$OUT/addr-a.batch','w').write(''.join('addr add 10.100.%d.%d/32 dev lo\n' % (i//250, i%250+1) for i in range(n)))
open('$OUT/addr-b.batch','w').write(''.join('addr add 10.200.%d.%d/32 dev lo\n' % (i//250, i%250+1) for i in range(n)))"
    nsx gw-a ip -batch "$OUT/addr-a.batch"; nsx gw-b ip -batch "$OUT/addr-b.batch"
    for gw in gw-b gw-a; do
      d="$OUT/ss/$gw"; rm -rf "$d"; mkdir -p "$d/run"; chmod 700 "$d"
      (cd "$d" && mkdir -p x509 x509ca x509ocsp x509aa x509ac x509crl pubkey private rsa ecdsa bliss pkcs8 pkcs12)
      cat >"$d/strongswan.conf" <<EOC
charon {
  load_modular = no
  load = openssl random nonce pem pkcs1 x509 pubkey aes sha1 sha2 hmac kdf gcm chapoly curve25519 kernel-libipsec kernel-netlink socket-default vici updown
  install_virtual_ip = no
  ikesa_table_size = 4096
  ikesa_table_segments = 16
  dos_protection = no
  block_threshold = 1000000
  syslog { }
  filelog { log { path = $d/charon.log
                  default = -1 } }
  plugins {
    vici { socket = unix://$d/charon.vici }
    kernel-netlink { roam_events = no }
  }
}
swanctl { load = pem pkcs1 x509 pubkey openssl random nonce }
EOC
      python3 - "$d/rate.conf" "$gw" "$IKE_RATE_N" "$prop" <<'PY'
import sys
path, gw, n, ike = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
with open(path, "w") as f:
    f.write("connections {\n")
    if gw == "gw-a":
        for i in range(n):
            f.write(f"""  r{i} {{ version = 2
    mobike = no
    local_addrs = 192.0.2.1
    remote_addrs = 192.0.2.2
    proposals = {ike}
    local {{ auth = psk
            id = a{i}.example }}
    remote {{ auth = psk
             id = gw-b }}
    children {{ c {{ local_ts = 10.100.{i//250}.{i%250+1}/32
                   remote_ts = 10.200.{i//250}.{i%250+1}/32
                   esp_proposals = aes128gcm16
                   start_action = start }} }}
  }}
""")
    else:
        f.write(f"""  resp {{ version = 2
    mobike = no
    local_addrs = 192.0.2.2
    proposals = {ike}
    local {{ auth = psk
            id = gw-b }}
    remote {{ auth = psk }}
    children {{ c {{ local_ts = 10.200.0.0/16
                   remote_ts = 10.100.0.0/16
                   esp_proposals = aes128gcm16 }} }}
  }}
""")
    f.write("}\nsecrets {\n  ike-any { secret = \"anchor-benchmark-psk-not-secret-0123456789\" }\n}\n")
PY
      STRONGSWAN_CONF="$d/strongswan.conf" ip netns exec "$(ns "$gw")" \
        sh -c "mount --bind '$d/run' /run && exec $CHARON" >"$d/charon.stdout" 2>&1 &
      track_pid $!
      for _ in $(seq 1 100); do [ -S "$d/charon.vici" ] && break; sleep 0.05; done
    done
    sw gw-b --load-all --file "$OUT/ss/gw-b/rate.conf" >/dev/null 2>&1
    sw gw-a --load-creds --file "$OUT/ss/gw-a/rate.conf" >/dev/null 2>&1
    busy="$busy $(idle_check)"
    t0=$(date +%s.%N)
    sw gw-a --load-conns --file "$OUT/ss/gw-a/rate.conf" >/dev/null 2>&1
    ok=0
    for _ in $(seq 1 3000); do
      read -r tot half < <(sw gw-a --stats 2>/dev/null | awk '/IKE_SAs:/ {print $2, $4; exit}')
      if [ -n "$tot" ] && [ "$tot" -ge "$IKE_RATE_N" ] && [ "$half" = 0 ]; then ok=1; break; fi
      sleep 0.02
    done
    t1=$(date +%s.%N)
    est=$(sw gw-a --list-sas 2>/dev/null | grep -c ESTABLISHED)
    log "  $name rep $rep: $est IKE_SAs ESTABLISHED in $(python3 -c "print('%.2f' % ($t1 - $t0))") s$([ "$ok" = 1 ] || echo " (not all up)")"
    [ "$ok" = 1 ] && rates="$rates $(python3 -c "print('%.1f' % ($est / ($t1 - $t0)))")"
  done
  printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$prop" "$IKE_RATE_N" "$(median3 $rates)" "the anchors' method, DoS protection off; CPU busy before: ${busy# }%" >>"$OUT/rate.tsv"
  ns_teardown
}
ike_rates() {
  : >"$OUT/rate.tsv"
  echo "=== IKE_SA+CHILD_SA setups per second: $IKE_RATE_N tunnels at once from one address, $IKE_RATE_REPS rep(s), both ends on the same $(nproc) CPUs ==="
  vpngw_rate aes128gcm16-prfsha256-x25519 1000000 "vpngw x25519"
  vpngw_rate aes128gcm16-prfsha256-ecp256 1000000 "vpngw ecp256"
  vpngw_rate aes128gcm16-prfsha256-modp2048 1000000 "vpngw modp2048"
  vpngw_rate aes128gcm16-prfsha256-x25519 50 "vpngw x25519, cookies"
  if have_charon; then
    ss_rate aes128gcm16-prfsha256-x25519 "strongSwan x25519"
    ss_rate aes128gcm16-prfsha256-ecp256 "strongSwan ecp256"
  fi
  ns_teardown
}
if [ "$IKE_BENCH" = 1 ] && [[ " $IMPLS " == *" vpngw"* ]]; then
  setup_times
  ike_rates
fi

# ---------------------------------------------------------------- report
echo
python3 - "$OUT/results.tsv" "$RUNS" "$SECS" "$PINGS" "$QUICK" <<'PY' | tee "$OUT/summary.txt"
import sys, csv
path, runs, secs, pings, quick = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5] == "1"
rows = list(csv.DictReader(open(path), delimiter="\t"))
label = {"baseline": "routed, no tunnel", "vpngw": "vpngw ↔ vpngw (static SAs)", "vpngwpp": "vpngw ↔ vpngw (offloads off)",
         "vpngwike": "vpngw ↔ vpngw (IKE)", "vpngwss": "vpngw ↔ strongSwan (IKE)",
         "strongswan": "strongSwan ↔ strongSwan", "wireguard": "wireguard-go ↔ wireguard-go"}
def f(x):
    try: return float(x)
    except (TypeError, ValueError): return None
def get(impl, suite=None):
    for r in rows:
        if r["impl"] == impl and (suite is None or r["suite"] == suite) and r["status"] == "ok": return r
    return None
base = get("baseline")
disturbed = []
base_rtt = f(base["rtt_avg_ms"]) if base else None
print("== Throughput and RTT (%s x %s s iperf3 TCP lan-a → lan-b, median (min–max); %s pings after warm-up) ==" % (runs, secs, pings))
hdr = "%-30s %-17s %-24s %6s %7s %8s  %s" % ("implementation", "suite", "Mbit/s median (min–max)", "retr", "RTT ms", "added", "drops: gw-b UDP rcvbuf / ifaces+backlog")
print(hdr); print("-" * len(hdr))
for r in rows:
    name = label.get(r["impl"], r["impl"])
    if r["status"] != "ok":
        print("%-30s %-17s %s" % (name, r["suite"], "FAILED")); continue
    rtt = f(r["rtt_avg_ms"])
    added = "%.3f" % (rtt - base_rtt) if (rtt is not None and base_rtt is not None and r["impl"] != "baseline") else "–"
    rx, dr = f(r["gwb_udp_rx"]), f(r["gwb_udp_rcvbuf_drops"])
    drops = "–" if r["impl"] == "baseline" or not rx else "%d (%.1f%%)" % (dr, 100 * dr / rx)
    drops += " / %s" % r["gw_if_backlog_drops"]
    tp = "%s (%s–%s)" % (r["mbps_median"], r["mbps_min"], r["mbps_max"])
    fc = f(r.get("foreign_cpu_pct"))
    if fc is not None and fc >= 5:
        tp += " !"; disturbed.append("%s %s: %.0f%% of a CPU" % (r["impl"], r["suite"], fc))
    print("%-30s %-17s %-24s %6s %7s %8s  %s" % (name, r["suite"], tp, r["retransmits_median"], r["rtt_avg_ms"], added, drops))
if disturbed:
    print("! disturbed: processes outside this benchmark ran meanwhile (" + "; ".join(disturbed) + "): rerun on an idle machine")
print()
print("== vpngw against issue 3's targets (same run, same machine) ==")
hdr = "%-52s %-22s %-12s %s" % ("measure", "measured", "target", "status")
print(hdr); print("-" * len(hdr))
def ratio_line(what, num, den, target):
    n = f(num["mbps_median"]) if num else None; d = f(den["mbps_median"]) if den else None
    if n is None or d is None or d == 0:
        print("%-52s %-22s %-12s %s" % (what, "n/a", "≥ %.1f×" % target if target else "–", "not measured")); return
    r = n / d
    st = ("met" if r >= target else "MISSED") if target else "(info)"
    print("%-52s %-22s %-12s %s" % (what, "%.2f× (%.0f / %.0f)" % (r, n, d), "≥ %.1f×" % target if target else "–", st))
ratio_line("vpngw/strongSwan, aes128gcm16", get("vpngw", "aes128gcm16"), get("strongswan", "aes128gcm16"), 2.0)
ratio_line("vpngw aes128gcm16 / wireguard-go", get("vpngw", "aes128gcm16"), get("wireguard"), 1.5)
ratio_line("vpngw offloads on / off, aes128gcm16", get("vpngw", "aes128gcm16"), get("vpngwpp", "aes128gcm16"), None)
for s in sorted({r["suite"] for r in rows if r["impl"] == "vpngw" and r["suite"] != "aes128gcm16"}):
    ratio_line("vpngw/strongSwan, %s" % s, get("vpngw", s), get("strongswan", s), None)
    ratio_line("vpngw %s / wireguard-go" % s, get("vpngw", s), get("wireguard"), None)
for s in sorted({r["suite"] for r in rows if r["impl"] in ("vpngwike", "vpngwss")}):
    ratio_line("vpngw IKE/strongSwan, %s" % s, get("vpngwike", s), get("strongswan", s), 2.0 if s == "aes128gcm16" else None)
    if s == "aes128gcm16": ratio_line("vpngw IKE aes128gcm16 / wireguard-go", get("vpngwike", s), get("wireguard"), 1.5)
    ratio_line("vpngw↔strongSwan / strongSwan↔strongSwan, %s" % s, get("vpngwss", s), get("strongswan", s), None)
v, w = get("vpngw", "aes128gcm16"), get("wireguard")
if v and w and base_rtt is not None:
    av, aw = f(v["rtt_avg_ms"]) - base_rtt, f(w["rtt_avg_ms"]) - base_rtt
    print("%-52s %-22s %-12s %s" % ("added RTT, vpngw aes128gcm16 vs wireguard-go", "%.3f vs %.3f ms" % (av, aw), "≤ wg's", "met" if av <= aw else "MISSED"))
else:
    print("%-52s %-22s %-12s %s" % ("added RTT, vpngw aes128gcm16 vs wireguard-go", "n/a", "≤ wg's", "not measured"))
if quick: print("(--quick: 1 short run each; quote only a full run)")
PY
if [ -s "$OUT/setup.tsv" ] || [ -s "$OUT/rate.tsv" ]; then
  echo
  python3 - "$OUT/setup.tsv" "$OUT/rate.tsv" <<'PY' | tee -a "$OUT/summary.txt"
import sys, os
def rows(p):
    return [l.rstrip("\n").split("\t") for l in open(p)] if os.path.exists(p) else []
def f(x):
    try: return float(x)
    except (TypeError, ValueError): return None
setup = rows(sys.argv[1]); rate = rows(sys.argv[2])
if setup:
    print("== Tunnel setup time: IKE_SA_INIT → CHILD SA installed, ms, median (min–max) ==")
    hdr = "%-26s %-24s %-8s %s" % ("pair", "ms median (min–max)", "samples", "how")
    print(hdr); print("-" * len(hdr))
    for r in setup:
        print("%-26s %-24s %-8s %s" % (r[0], "%s (%s–%s)" % (r[1], r[2], r[3]) if r[1] != "NA" else "FAILED", r[4], r[5]))
    ss = next((f(r[1]) for r in setup if r[0].startswith("strongSwan")), None)
    for r in setup:
        if r[0].startswith("vpngw") and f(r[1]) is not None:
            ref, src = (ss, "strongSwan↔strongSwan, same run") if ss is not None else (10.4, "the anchors' 10.4 ms")
            print("  target %s ≤ strongSwan's setup time: %.2f vs %.2f ms (%s): %s" % (r[0], f(r[1]), ref, src, "met" if f(r[1]) <= ref else "MISSED"))
if rate:
    print()
    print("== IKE_SA+CHILD_SA setups per second (N at once from one address, both ends on the same CPUs), median (min–max) ==")
    hdr = "%-24s %-32s %6s %-26s %s" % ("implementation", "IKE proposal", "N", "tunnels/s median (min–max)", "notes")
    print(hdr); print("-" * len(hdr))
    for r in rate:
        print("%-24s %-32s %6s %-26s %s" % (r[0], r[1], r[2], "%s (%s–%s)" % (r[3], r[4], r[5]) if r[3] != "NA" else "FAILED", r[7]))
    get = lambda name: next((f(r[3]) for r in rate if r[0] == name), None)
    vx, sx = get("vpngw x25519"), get("strongSwan x25519")
    ref, src = (sx, "strongSwan x25519 in this run") if sx else (866.0, "the anchors' figure, 866/s, not this run")
    if vx:
        print("  target vpngw x25519 ≥ strongSwan: %.2f× (%.0f / %.0f, %s): %s" % (vx / ref, vx, ref, src, "met" if vx >= ref else "MISSED"))
    ve, se = get("vpngw ecp256"), get("strongSwan ecp256")
    if ve and se: print("  vpngw ecp256 / strongSwan ecp256: %.2f× (%.0f / %.0f)" % (ve / se, ve, se))
    vm = get("vpngw modp2048")
    if vm and sx: print("  vpngw modp2048 / strongSwan x25519: %.2f× (%.0f / %.0f; info)" % (vm / sx, vm, sx))
PY
fi
echo
for f in "$OUT"/vpngw*-*.cpu.txt; do
  [ -f "$f" ] || continue
  echo "== CPU split during $(basename "$f" .cpu.txt) iperf3 run 1 (2 CPUs shared by both gateways + iperf3) =="
  cat "$f"
done
for f in "$OUT"/vpngw-*.perf.txt; do
  [ -f "$f" ] || continue
  echo "== where vpngw's time goes, $(basename "$f" .perf.txt) (extra run under perf) =="
  cat "$f"
done
echo
echo "total time: $((SECONDS - START)) s; raw results (iperf3 JSON, pings, logs, configs, CPU samples, results.tsv): $OUT"
