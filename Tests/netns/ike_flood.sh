#!/usr/bin/env bash
# A flood of IKE_SA_INIT requests with random SPIs (RFC 7296 §2.6): once 50 responder SAs are
# half-open, vpngw answers new requests with a stateless N(COOKIE) and keeps no state; half-open
# SAs expire; a legitimate initiator (which repeats its request with the cookie) still gets its
# tunnel up during the flood and pings flow. Bounded: FLOOD_N packets over about FLOOD_SECS.
source "$(dirname "$0")/lib.sh"
[ -c /dev/net/tun ] || skip_all "no /dev/net/tun"
[ "$(id -u)" = 0 ] || skip_all "needs root for namespaces"
command -v python3 >/dev/null || skip_all "python3 is not installed"
topo4
PSK="flood-psk-0123456789"
FLOOD_N=${FLOOD_N:-2500}
FLOOD_SECS=${FLOOD_SECS:-5}
conf() { # file local peer remote-prefix mode
cat > "$1" <<J
{"localAddress":"$2","peerAddress":"$3","remotePrefixes":["$4"],"tunName":"vpngw0",
 "ike":{"psk":"$PSK","mode":"$5","ikeProposals":["aes128gcm16-prfsha256-x25519"],"espProposals":["aes128gcm16"],
        "cookieThreshold":50,"halfOpenTimeoutSeconds":6}}
J
}
conf "$WORK/a.json" 192.0.2.1 192.0.2.2 10.2.0.0/24 initiate
conf "$WORK/b.json" 192.0.2.2 192.0.2.1 10.1.0.0/24 respond

# IKE_SA_INIT with a random SPIi, SA(ENCR_AES_GCM_16/128, PRF_HMAC_SHA2_256, Curve25519), KE (random
# 32 bytes: any string is an X25519 public value), Nonce; counts the COOKIE answers it gets.
cat > "$WORK/flood.py" <<'PY'
import os, socket, struct, sys, time
n, secs = int(sys.argv[1]), float(sys.argv[2])
def transform(last, ttype, tid, attrs=b""):
    return struct.pack("!BBHBBH", 0 if last else 3, 0, 8 + len(attrs), ttype, 0, tid) + attrs
def request():
    transforms = transform(False, 1, 20, struct.pack("!HH", 0x800E, 128)) + transform(False, 2, 5) + transform(True, 4, 31)
    proposal = struct.pack("!BBHBBBB", 0, 0, 8 + len(transforms), 1, 1, 0, 3) + transforms
    sa = struct.pack("!BBH", 34, 0, 4 + len(proposal)) + proposal
    ke = struct.pack("!BBHHH", 40, 0, 8 + 32, 31, 0) + os.urandom(32)
    nonce = struct.pack("!BBH", 0, 0, 4 + 32) + os.urandom(32)
    body = sa + ke + nonce
    return os.urandom(8) + bytes(8) + struct.pack("!BBBBII", 33, 0x20, 34, 0x08, 0, 28 + len(body)) + body
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("192.0.2.1", 0)); s.setblocking(False)
cookies = other = 0
def drain():
    global cookies, other
    while True:
        try: d = s.recv(4096)
        except BlockingIOError: return
        if len(d) >= 36 and d[16] == 41 and struct.unpack("!H", d[34:36])[0] == 16390: cookies += 1
        else: other += 1
t0 = time.time()
for i in range(n):
    s.sendto(request(), ("192.0.2.2", 500))
    drain()
    delay = t0 + secs * (i + 1) / n - time.time()
    if delay > 0: time.sleep(delay)
end = time.time() + 1
while time.time() < end: drain(); time.sleep(0.05)
print("flood: sent %d IKE_SA_INIT in %.1f s; answers: %d COOKIE, %d other" % (n, time.time() - 1 - t0, cookies, other))
PY

rss() { awk '/^VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
start_bg gw-b "$WORK/b.log" "$VPNGW" tunnel up --config "$WORK/b.json"
PB=${PIDS[-1]}
for _ in $(seq 1 50); do grep -q "tunnel up" "$WORK/b.log" && break; sleep 0.1; done
sleep 0.3
# The responder's process is `ip netns exec`'s child once it has exec'd: take the vpngw PID.
VPID=$(pgrep -P "$PB" vpngw || echo "$PB")
RSS0=$(rss "$VPID")
start_bg gw-a "$WORK/flood.log" python3 "$WORK/flood.py" "$FLOOD_N" "$FLOOD_SECS"
PF=${PIDS[-1]}
sleep 1.5
start_bg gw-a "$WORK/a.log" "$VPNGW" tunnel up --config "$WORK/a.json"
for _ in $(seq 1 150); do grep -q "CHILD SA established" "$WORK/a.log" && break; sleep 0.1; done
check "initiator established its tunnel during the flood" 'grep -q "CHILD SA established" "$WORK/a.log"'
check "initiator was asked for a cookie and retried" 'grep -q "peer demanded a cookie" "$WORK/a.log"'
check "lan-a pings lan-b during the flood" 'nsx lan-a ping -c 3 -i 0.2 -W 2 10.2.0.2 >/dev/null'
RSS_PEAK=$RSS0
for _ in $(seq 1 $((FLOOD_SECS * 10 + 50))); do
  r=$(rss "$VPID"); [ "$r" -gt "$RSS_PEAK" ] && RSS_PEAK=$r
  kill -0 "$PF" 2>/dev/null || break; sleep 0.1
done
wait "$PF" 2>/dev/null
cat "$WORK/flood.log"
sleep 1.2   # the responder prints its counters once a second
stats=$(grep "IKE responder:" "$WORK/b.log" | tail -1)
echo "  responder: $stats"
echo "  responder RSS: ${RSS0} kB before, ${RSS_PEAK} kB peak during the flood"
num() { echo "$stats" | grep -oE "$1 [0-9]+" | grep -oE "[0-9]+$"; }
check "responder answered most of the flood with a cookie (≥ $((FLOOD_N * 9 / 10)))" '[ "$(num "cookies demanded")" -ge $((FLOOD_N * 9 / 10)) ]'
check "the flooder received the COOKIE answers" '[ "$(grep -oE "[0-9]+ COOKIE" "$WORK/flood.log" | grep -oE "^[0-9]+")" -ge $((FLOOD_N * 9 / 10)) ]'
check "half-open SAs stayed bounded (peak ≤ 60)" '[ "$(num "peak")" -le 60 ]'
check "responder memory stayed bounded (RSS grew < 32 MB)" '[ $((RSS_PEAK - RSS0)) -lt 32768 ]'
check "the tunnel still carries traffic after the flood" 'nsx lan-a ping -c 3 -i 0.2 -W 2 10.2.0.2 >/dev/null'
# Half-open SAs expire (halfOpenTimeoutSeconds 6 here; 30 s by default).
for _ in $(seq 1 100); do grep "IKE responder:" "$WORK/b.log" | tail -1 | grep -q "half-open 0 " && break; sleep 0.1; done
stats=$(grep "IKE responder:" "$WORK/b.log" | tail -1)
echo "  responder: $stats"
check "half-open SAs expired (none left, ≥ 40 expired)" 'echo "$stats" | grep -q "half-open 0 " && [ "$(num "half-open expired")" -ge 40 ]'
grep -E "established|cookie|expired|failed" "$WORK/b.log" | head -8 | sed 's/^/  b: /'
grep -E "established|cookie|failed" "$WORK/a.log" | head -6 | sed 's/^/  a: /'
summary
