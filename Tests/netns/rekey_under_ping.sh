#!/usr/bin/env bash
# vpngw (gw-a) ⇄ strongSwan 5.9.8 (gw-b): CHILD and IKE SA rekeys driven from both sides while
# lan-a pings lan-b every 50 ms for ~70 s; not one ping may be lost.
#
# vpngw rekeys on its own timers (childRekeySeconds 20, ikeRekeySeconds 30, minus up to 10 %
# jitter). Every rekey restarts both ends' timers for the new SA, so with timers alone the shorter
# one always wins; strongSwan's side is therefore driven at fixed times with `swanctl --rekey`
# (its own rekey_time, SS_CHILD_REKEY/SS_IKE_REKEY, is a backstop beyond the window).
#   t≈0 established · t=10 strongSwan CHILD rekey · t≈28–30 vpngw CHILD rekey and IKE rekey
#   t=40 strongSwan CHILD rekey · t=50 strongSwan IKE rekey · t≈58–60 vpngw CHILD rekey · t=70 end
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/strongswan.sh"
[ -c /dev/net/tun ] || skip_all "no /dev/net/tun"
[ "$(id -u)" = 0 ] || skip_all "needs root for namespaces"
have_strongswan || skip_all "strongSwan with kernel-libipsec is not installed (apt: strongswan-charon strongswan-swanctl libcharon-extra-plugins)"
topo4
PSK="rekey-psk-0123456789"
WINDOW=${REKEY_WINDOW:-70}

ss_conf b
ss_start b gw-b || { check "charon started" false; summary; exit 1; }
SS_CHILD_REKEY=45s SS_IKE_REKEY=60s ss_s2s b 192.0.2.2 192.0.2.1 10.2.0.0/24 10.1.0.0/24 default default "$PSK"
cat > "$WORK/v.json" <<J
{"localAddress":"192.0.2.1","peerAddress":"192.0.2.2","remotePrefixes":["10.2.0.0/24"],"tunName":"vpngw0",
 "ike":{"psk":"$PSK","mode":"initiate","childRekeySeconds":20,"ikeRekeySeconds":30,"dpdTimeoutSeconds":45}}
J
start_bg gw-a "$WORK/v.log" "$VPNGW" tunnel up --config "$WORK/v.json"
VP=${PIDS[-1]}
for _ in $(seq 1 100); do grep -q "CHILD SA established" "$WORK/v.log" && break; sleep 0.1; done
check "tunnel up (vpngw initiates)" 'grep -q "CHILD SA established" "$WORK/v.log"'
# Warm up (ARP, first packets), then the measured run.
nsx lan-a ping -c 3 -i 0.2 -W 1 10.2.0.2 >/dev/null
COUNT=$(( WINDOW * 20 ))
nsx lan-a ping -i 0.05 -c "$COUNT" -W 1 10.2.0.2 > "$WORK/ping.out" 2>&1 &
PING=$!
PIDS+=($PING)
START=$(date +%s)
at() { local t="$1"; while [ $(( $(date +%s) - START )) -lt "$t" ]; do sleep 0.2; done; }
at 10; sw b --rekey --child net > "$WORK/ss-rekey1.out" 2>&1
at 40; sw b --rekey --child net > "$WORK/ss-rekey2.out" 2>&1
at 50; sw b --rekey --ike s2s > "$WORK/ss-rekey3.out" 2>&1
for _ in $(seq 1 $(( (WINDOW + 15) * 5 ))); do kill -0 "$PING" 2>/dev/null || break; sleep 0.2; done
wait "$PING" 2>/dev/null
sw b --list-sas > "$WORK/sas.out" 2>&1
sleep 1.2   # vpngw prints its log once a second

stats=$(grep -E "packets transmitted" "$WORK/ping.out")
sent=$(echo "$stats" | awk '{print $1}'); got=$(echo "$stats" | awk '{print $4}')
lost=$(( ${sent:-0} - ${got:-0} ))
child_total=$(grep -c "CHILD SA rekeyed" "$WORK/v.log")
child_ours=$(grep -c "starting CHILD SA rekey" "$WORK/v.log")
ike_ours=$(grep -c "IKE SA rekeyed (by us)" "$WORK/v.log")
ike_peer=$(grep -c "IKE SA rekeyed (by the peer)" "$WORK/v.log")
# strongSwan's own view: requests it generated (its rekeys) and parsed (ours).
ss_log="$WORK/ss-b/charon.log"
ss_child_init=$(grep -c "generating CREATE_CHILD_SA request .*N(REKEY_SA)" "$ss_log")
ss_child_resp=$(grep -c "parsed CREATE_CHILD_SA request .*N(REKEY_SA)" "$ss_log")
ss_ike_init=$(grep -E "generating CREATE_CHILD_SA request" "$ss_log" | grep -vc "REKEY_SA")
ss_ike_resp=$(grep -E "parsed CREATE_CHILD_SA request" "$ss_log" | grep -vc "REKEY_SA")
echo "  pings: $sent sent, $got received, $lost lost (${WINDOW} s at 50 ms)"
echo "  vpngw: $child_total CHILD rekeys ($child_ours started by vpngw), IKE rekeys: $ike_ours by vpngw, $ike_peer by strongSwan"
echo "  strongSwan log: CHILD rekeys initiated $ss_child_init / answered $ss_child_resp; IKE rekeys initiated $ss_ike_init / answered $ss_ike_resp"
grep -E "^ *s2s: #|^ *net: #" "$WORK/sas.out" | sed 's/^/  strongSwan SAs: /'
grep -E "rekey|failed|dropped" "$WORK/v.log" | sed 's/^/  vpngw: /'

check "ping ran the whole window (≥ $(( COUNT - 5 )) sent)" '[ "${sent:-0}" -ge $(( COUNT - 5 )) ]'
check "zero lost pings ($lost of $sent)" '[ -n "$sent" ] && [ "$lost" -eq 0 ]'
check "≥ 2 CHILD rekeys started by vpngw ($child_ours)" '[ "$child_ours" -ge 2 ]'
check "≥ 2 CHILD rekeys started by strongSwan ($ss_child_init)" '[ "$ss_child_init" -ge 2 ] && [ $(( child_total - child_ours )) -ge 2 ]'
check "≥ 1 IKE rekey by vpngw ($ike_ours) and by strongSwan ($ike_peer)" '[ "$ike_ours" -ge 1 ] && [ "$ike_peer" -ge 1 ] && [ "$ss_ike_init" -ge 1 ] && [ "$ss_ike_resp" -ge 1 ]'
check "strongSwan ends with one IKE SA and one CHILD SA, both established" '[ "$(grep -c "ESTABLISHED" "$WORK/sas.out")" -eq 1 ] && [ "$(grep -c "INSTALLED" "$WORK/sas.out")" -eq 1 ]'
check "old IKE SAs deleted on vpngw's side" '[ "$(grep -c "old IKE SA .* deleted" "$WORK/v.log")" -ge $(( ike_ours + ike_peer )) ]'
check "no negotiation failure in vpngw's log" '! grep -q "negotiation failed" "$WORK/v.log"'
kill "$VP" 2>/dev/null; wait "$VP" 2>/dev/null
grep -E "drops:|tunnel 1:" "$WORK/v.log" | sed 's/^/  vpngw: /'
summary
