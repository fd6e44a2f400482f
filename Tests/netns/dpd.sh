#!/usr/bin/env bash
# Dead peer detection: vpngw (gw-a, dpdTimeoutSeconds 9) ⇄ strongSwan (gw-b). strongSwan's charon
# is killed with SIGKILL (by PID, no Delete sent); vpngw must declare the peer dead within ~12 s
# (probe after 3 s of silence, dead 9 s after the unanswered probe).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/strongswan.sh"
[ -c /dev/net/tun ] || skip_all "no /dev/net/tun"
[ "$(id -u)" = 0 ] || skip_all "needs root for namespaces"
have_strongswan || skip_all "strongSwan with kernel-libipsec is not installed (apt: strongswan-charon strongswan-swanctl libcharon-extra-plugins)"
topo4
PSK="dpd-psk-0123456789"

ss_conf b
ss_start b gw-b || { check "charon started" false; summary; exit 1; }
CHARON_PID=${PIDS[-1]}
ss_s2s b 192.0.2.2 192.0.2.1 10.2.0.0/24 10.1.0.0/24 default default "$PSK"
cat > "$WORK/v.json" <<J
{"localAddress":"192.0.2.1","peerAddress":"192.0.2.2","remotePrefixes":["10.2.0.0/24"],"tunName":"vpngw0",
 "ike":{"psk":"$PSK","mode":"initiate","dpdTimeoutSeconds":9}}
J
start_bg gw-a "$WORK/v.log" "$VPNGW" tunnel up --config "$WORK/v.json"
VP=${PIDS[-1]}
for _ in $(seq 1 100); do grep -q "CHILD SA established" "$WORK/v.log" && break; sleep 0.1; done
check "tunnel up" 'grep -q "CHILD SA established" "$WORK/v.log"'
check "traffic flows before the kill" 'nsx lan-a ping -c 2 -i 0.2 -W 1 10.2.0.2 >/dev/null'
# $! of `ip netns exec … sh -c "… && exec charon"` is charon itself once sh has exec'd.
check "the recorded PID is charon's" '[ "$(cat /proc/$CHARON_PID/comm 2>/dev/null)" = charon ]'
# Let vpngw hear from the peer recently, so the clock starts from a live SA.
nsx lan-a ping -c 1 -W 1 10.2.0.2 >/dev/null
KILLED=$(date +%s.%N)
kill -9 "$CHARON_PID"
wait "$CHARON_PID" 2>/dev/null
detected=""
for _ in $(seq 1 150); do   # up to 15 s
  if grep -q "dead peer" "$WORK/v.log"; then detected=$(date +%s.%N); break; fi
  sleep 0.1
done
elapsed=$( [ -n "$detected" ] && echo "$detected - $KILLED" | bc -l | xargs printf "%.1f" )
echo "  dead peer reported ${elapsed:-never} s after SIGKILL (vpngw prints its log once a second)"
grep -E "dead peer|liveness|failed" "$WORK/v.log" | sed 's/^/  vpngw: /'
check "vpngw reports the dead peer within 12 s (${elapsed:-never} s)" '[ -n "$detected" ] && [ "$(echo "$elapsed <= 12.5" | bc -l)" = 1 ]'
check "the tunnel is down in vpngw's view (no traffic)" '! nsx lan-a ping -c 1 -W 1 10.2.0.2 >/dev/null'
kill "$VP" 2>/dev/null; wait "$VP" 2>/dev/null
summary
