#!/usr/bin/env bash
# INITIAL_CONTACT (RFC 7296 §2.4) both ways between vpngw (gw-a) and strongSwan 5.9.8 (gw-b):
#  A. vpngw initiates, is SIGKILLed and restarted: its new IKE_AUTH carries N(INITIAL_CONTACT), so
#     strongSwan drops the stale IKE SA at once and lists exactly one IKE SA for us; traffic flows.
#  B. strongSwan initiates, its charon is SIGKILLed and restarted: its N(INITIAL_CONTACT) makes
#     vpngw delete the stale IKE SA and its CHILD SA locally; traffic flows.
# Neither side runs DPD here, so without INITIAL_CONTACT the stale SAs would stay.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/strongswan.sh"
[ -c /dev/net/tun ] || skip_all "no /dev/net/tun"
[ "$(id -u)" = 0 ] || skip_all "needs root for namespaces"
have_strongswan || skip_all "strongSwan with kernel-libipsec is not installed (apt: strongswan-charon strongswan-swanctl libcharon-extra-plugins)"
topo4
PSK="initial-contact-psk-0123"

vpngw_conf() { # mode
cat > "$WORK/v.json" <<J
{"localAddress":"192.0.2.1","peerAddress":"192.0.2.2","remotePrefixes":["10.2.0.0/24"],"tunName":"vpngw0",
 "ike":{"psk":"$PSK","mode":"$1","dpdTimeoutSeconds":600}}
J
}
wait_log() { # file pattern [count] — up to 10 s
  for _ in $(seq 1 100); do [ "$(grep -c "$2" "$1" 2>/dev/null)" -ge "${3:-1}" ] && return 0; sleep 0.1; done; return 1
}
ike_sas() { sw b --list-sas 2>/dev/null | grep -cE "^ *s2s: #[0-9]+, ESTABLISHED"; }
pings() { nsx lan-a ping -c 3 -i 0.2 -W 2 10.2.0.2 >/dev/null && nsx lan-b ping -c 2 -i 0.2 -W 2 10.1.0.2 >/dev/null; }

# --- A: vpngw restarts -------------------------------------------------------------------
ss_conf b
ss_start b gw-b || { check "charon started" false; summary; exit 1; }
CH=${PIDS[-1]}
SS_IKE_REKEY=0 SS_CHILD_REKEY=0 ss_s2s b 192.0.2.2 192.0.2.1 10.2.0.0/24 10.1.0.0/24 default default "$PSK"
vpngw_conf initiate
start_bg gw-a "$WORK/a1.log" "$VPNGW" tunnel up --config "$WORK/v.json"
VP=${PIDS[-1]}
wait_log "$WORK/a1.log" "CHILD SA established"
check "A: tunnel up (vpngw initiates)" 'grep -q "CHILD SA established" "$WORK/a1.log"'
check "A: strongSwan holds one IKE SA" '[ "$(ike_sas)" -eq 1 ]'
kill -9 "$VP"; wait "$VP" 2>/dev/null
sleep 0.5
start_bg gw-a "$WORK/a2.log" "$VPNGW" tunnel up --config "$WORK/v.json"
VP=${PIDS[-1]}
wait_log "$WORK/a2.log" "CHILD SA established"
n=$(ike_sas)
sw b --list-sas > "$WORK/a-sas.out" 2>&1
check "A: restarted vpngw re-established" 'grep -q "CHILD SA established" "$WORK/a2.log"'
check "A: strongSwan parsed N(INITIAL_CONTACT) in the new IKE_AUTH" 'grep -qE "parsed IKE_AUTH request .*N\(INIT_CONTACT\)" "$WORK/ss-b/charon.log"'
check "A: strongSwan lists exactly one IKE SA right after re-establishment ($n)" '[ "$n" -eq 1 ]'
check "A: exactly one CHILD SA installed at strongSwan" '[ "$(grep -c "INSTALLED" "$WORK/a-sas.out")" -eq 1 ]'
check "A: traffic flows through the new SAs" pings
grep -E "^ *s2s: #|^ *net: #" "$WORK/a-sas.out" | sed 's/^/  A strongSwan: /'
kill "$VP"; wait "$VP" 2>/dev/null
kill "$CH" 2>/dev/null; wait "$CH" 2>/dev/null
sleep 0.3

# --- B: strongSwan restarts --------------------------------------------------------------
ss_conf b
ss_start b gw-b || { check "charon started" false; summary; exit 1; }
SS_IKE_REKEY=0 SS_CHILD_REKEY=0 ss_s2s b 192.0.2.2 192.0.2.1 10.2.0.0/24 10.1.0.0/24 default default "$PSK"
CH=${PIDS[-1]}
vpngw_conf respond
start_bg gw-a "$WORK/b.log" "$VPNGW" tunnel up --config "$WORK/v.json"
VP=${PIDS[-1]}
sleep 0.3
sw b --initiate --child net --timeout 10 > "$WORK/b-init1.out" 2>&1
wait_log "$WORK/b.log" "CHILD SA established"
check "B: tunnel up (strongSwan initiates)" 'grep -q "CHILD SA established" "$WORK/b.log"'
kill -9 "$CH"; wait "$CH" 2>/dev/null
sleep 0.5
ss_start b gw-b || { check "charon restarted" false; summary; exit 1; }
CH=${PIDS[-1]}
SS_IKE_REKEY=0 SS_CHILD_REKEY=0 ss_s2s b 192.0.2.2 192.0.2.1 10.2.0.0/24 10.1.0.0/24 default default "$PSK"
sw b --initiate --child net --timeout 10 > "$WORK/b-init2.out" 2>&1
wait_log "$WORK/b.log" "CHILD SA established" 2
sleep 1.2   # vpngw prints its log once a second
check "B: re-established with the restarted charon" '[ "$(grep -c "CHILD SA established" "$WORK/b.log")" -ge 2 ]'
check "B: strongSwan sent N(INITIAL_CONTACT)" 'grep -qE "generating IKE_AUTH request .*N\(INIT_CONTACT\)" "$WORK/ss-b/charon.log"'
check "B: vpngw deleted the stale IKE SA and its CHILD SA locally" 'grep -q "peer sent INITIAL_CONTACT: deleted 1 other IKE SA" "$WORK/b.log"'
check "B: traffic flows through the new SAs" pings
check "B: strongSwan lists exactly one IKE SA" '[ "$(ike_sas)" -eq 1 ]'
grep -E "INITIAL_CONTACT|established|failed" "$WORK/b.log" | sed 's/^/  B vpngw: /'
kill "$VP"; wait "$VP" 2>/dev/null
summary
