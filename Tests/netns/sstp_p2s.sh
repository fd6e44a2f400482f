#!/usr/bin/env bash
# Point-to-site over SSTP (issue 5) against the real sstpc 1.0.18, driven with --nolaunchpppd
# because this kernel has no PPP (protocols.md §4.9 and its addendum): `vpngw p2s connect` is the
# PPP peer on sstpc's stdio and hands it the MPPE keys, sstpc does TLS + SSTP + the crypto binding.
#
#   client 198.51.100.2 ── 198.51.100.1 server [p2s0: pool 172.16.201.0/24] 10.1.0.1 ── vm 10.1.0.2
#
# Checks: sstpc session gets a pool address and pings the VM; wrong password → E=691 at the client
# and in the server log; a TLS-terminating proxy (socat, another certificate) → the server aborts
# on the crypto binding; a 4th session on a 3-session limit is refused (sstpc); garbage HTTP and a
# silent TCP connection are dropped with a log line while the server keeps serving; then with the
# SKU limit 128: 100 concurrent sessions (our native client core) each ping the VM, and of 129
# sessions the 129th is refused.
# Run as root: Tests/netns/sstp_p2s.sh   (VPNGW_BIN overrides the binary)
source "$(dirname "$0")/lib.sh"

[ "$(id -u)" = 0 ] || skip_all "needs root (network namespaces)"
[ -c /dev/net/tun ] || skip_all "no /dev/net/tun"
[ -x "$VPNGW" ] || skip_all "build vpngw first ($VPNGW)"
# A private copy: the shared .build is relinked by other builds while we run ("Text file busy").
cp "$VPNGW" "$WORK/vpngw" && VPNGW="$WORK/vpngw"
if ! command -v sstpc >/dev/null; then
  apt-get install -y sstp-client >/dev/null 2>&1 || true
  command -v sstpc >/dev/null || skip_all "sstpc (apt: sstp-client) not installable"
fi
sstpc --version 2>&1 | grep -q "1.0.18" || echo "note: sstpc is not 1.0.18: $(sstpc --version 2>&1 | head -1)"
HAVE_SOCAT=1; command -v socat >/dev/null || HAVE_SOCAT=0

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
stop_pid() { local p="$1" i; kill "$p" 2>/dev/null; for i in $(seq 1 25); do kill -0 "$p" 2>/dev/null || return 0; sleep 0.2; done; kill -9 "$p" 2>/dev/null; }

# --- Server A: session limit 3 (stands in for the SKU's 128; the real 128 is checked below) ---
SRV="$WORK/srv-a.log"
start_bg srv "$SRV" "$VPNGW" p2s serve --listen 198.51.100.1:443 --cert-cn 198.51.100.1 --pool 172.16.201.0/24 \
  --user alice:secret --user bob:hunter2 --max-sessions 3 --handshake-timeout 2
SRV_PID=${PIDS[-1]}
check "server A listens" "wait_for 'grep -q listening $SRV' 50"

# 1. sstpc session, address from the pool, ping the VM.
start_bg cli "$WORK/c1.log" "$VPNGW" p2s connect --server 198.51.100.1 --user alice --password secret \
  --tun sstp0 --route 10.1.0.0/24 --ready-file "$WORK/c1.ready" --ipparam "$NS_PREFIX-c1" --sstpc-log-level 3
C1=${PIDS[-1]}
check "sstpc session up (address assigned)" "wait_for '[ -s $WORK/c1.ready ]' 100"
check "address is in the pool 172.16.201.0/24" "grep -q '^172\.16\.201\.' $WORK/c1.ready 2>/dev/null"
check "sstpc sent Call-Connected (binding verified)" "grep -q 'Connection Established' $WORK/c1.log && grep -q 'connected user alice' $SRV"
check "client pings the VM 10.1.0.2 through SSTP" "nsx cli ping -c 3 -W 2 -i 0.2 10.1.0.2 >/dev/null"
check "the VM reaches the client's pool address" "nsx vm ping -c 2 -W 2 -i 0.2 \$(cat $WORK/c1.ready) >/dev/null"

# 2. Wrong password: MS-CHAPv2 Failure E=691 reported to the client, and in the server log.
nsx cli timeout 30 "$VPNGW" p2s connect --server 198.51.100.1 --user alice --password wrong --tun sstp1 \
  --ipparam "$NS_PREFIX-c2" --sstpc-log-level 3 >"$WORK/c2.log" 2>&1; rc=$?
check "wrong password: client fails (exit $rc)" "[ $rc -ne 0 ]"
check "wrong password: client reports E=691" "grep -q 'E=691' $WORK/c2.log"
check "wrong password: server logs the refusal with the reason" "grep -q 'authentication failed for alice (MS-CHAPv2 E=691)' $SRV"

# 3. TLS-terminating proxy with another certificate: sstpc binds to the proxy's certificate.
if [ "$HAVE_SOCAT" = 1 ]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$WORK/mitm.key" -out "$WORK/mitm.crt" \
    -days 1 -subj /CN=198.51.100.1 2>/dev/null
  cat "$WORK/mitm.key" "$WORK/mitm.crt" >"$WORK/mitm.pem"
  start_bg srv "$WORK/socat.log" socat OPENSSL-LISTEN:8443,bind=198.51.100.1,cert="$WORK/mitm.pem",verify=0,reuseaddr,fork \
    OPENSSL:198.51.100.1:443,verify=0
  SOCAT=${PIDS[-1]}
  sleep 0.5
  nsx cli timeout 30 "$VPNGW" p2s connect --server 198.51.100.1 --port 8443 --user bob --password hunter2 --tun sstp2 \
    --ipparam "$NS_PREFIX-c3" --sstpc-log-level 3 >"$WORK/c3.log" 2>&1; rc=$?
  check "MITM: client does not stay connected (exit $rc)" "[ $rc -ne 0 ]"
  check "MITM: server aborts on the crypto binding (certificate hash)" "grep -q 'closed (user bob.*crypto binding failed: certificateHashMismatch' $SRV"
  check "MITM: sstpc saw the abort" "grep -q 'Connection was aborted' $WORK/c3.log"
  stop_pid "$SOCAT"
else
  echo "skip MITM checks: socat not installed"
fi

# 4. Garbage and a silent TCP connection: logged, dropped; the session above keeps working.
printf 'GET / HTTP/1.1\r\nHost: x\r\n\r\n' | nsx cli timeout 5 openssl s_client -quiet -connect 198.51.100.1:443 >/dev/null 2>&1
check "plain HTTP over TLS is refused with a reason" "wait_for 'grep -q httpRefused $SRV' 25"
nsx cli timeout 4 bash -c 'exec 3<>/dev/tcp/198.51.100.1/443; sleep 3.5' 2>/dev/null
check "silent TCP connection dropped after the TLS handshake timeout" "grep -q 'TLS handshake not finished' $SRV"
check "first session still pings after all that" "nsx cli ping -c 2 -W 2 -i 0.2 10.1.0.2 >/dev/null"

# 5. Session limit 3: sstpc session + 2 native sessions held, the 4th (sstpc) refused.
start_bg cli "$WORK/hold.log" "$VPNGW" p2s load --server 198.51.100.1 --user bob --password hunter2 --sessions 2 --hold 20
HOLD=${PIDS[-1]}
check "two more sessions up (3 of 3)" "wait_for 'grep -q holding $WORK/hold.log' 50"
nsx cli timeout 30 "$VPNGW" p2s connect --server 198.51.100.1 --user alice --password secret --tun sstp3 \
  --ipparam "$NS_PREFIX-c4" --sstpc-log-level 3 >"$WORK/c4.log" 2>&1; rc=$?
check "4th session refused at the client (exit $rc)" "[ $rc -ne 0 ] && ! grep -q 'p2s connect: connected' $WORK/c4.log"
check "4th session: server logs the refusal with the reason" "grep -q 'refused call from 198.51.100.2:[0-9]*: session limit 3 reached' $SRV"
stop_pid "$HOLD"
stop_pid "$C1"
check "client hang-up ends the session on the server" "wait_for 'grep -q \"#1 closed (user alice\" $SRV' 25"
stop_pid "$SRV_PID"

# --- Server B: the SKU's 128 ---
SRV="$WORK/srv-b.log"
start_bg srv "$SRV" "$VPNGW" p2s serve --listen 198.51.100.1:443 --cert-cn 198.51.100.1 --pool 172.16.201.0/24 \
  --user alice:secret --max-sessions 128
check "server B (limit 128) listens" "wait_for 'grep -q listening $SRV' 50"
nsx cli timeout 90 "$VPNGW" p2s load --server 198.51.100.1 --user alice --password secret --sessions 100 --ping 10.1.0.2 \
  --timeout 60 >"$WORK/load100.log" 2>&1; rc=$?
cat "$WORK/load100.log"
check "100 concurrent sessions, each pings the VM" "[ $rc -eq 0 ] && grep -q '100/100 connected, 100/100 pinged' $WORK/load100.log"
wait_for "[ \$(grep -c ' closed ' $SRV) -ge 100 ]" 50
nsx cli timeout 90 "$VPNGW" p2s load --server 198.51.100.1 --user alice --password secret --sessions 129 \
  --timeout 60 >"$WORK/load129.log" 2>&1
cat "$WORK/load129.log"
check "129 sessions: 128 connected, 1 failed" "grep -q '128/129 connected, no ping, 1 failed' $WORK/load129.log"
check "the 129th refused with CALL_CONNECT_NAK" "grep -q 'connectRefused' $WORK/load129.log && grep -q 'session limit 128 reached' $SRV"

if [ "$failed" -ne 0 ]; then
  for f in "$WORK"/*.log; do echo "=== $f"; tail -25 "$f"; done
fi
summary
