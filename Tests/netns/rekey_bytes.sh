#!/usr/bin/env bash
# Byte-based CHILD SA lifetimes (RFC 4301 §4.4.2.1) between vpngw (gw-a) and strongSwan 5.9.8
# (gw-b), while lan-a pings lan-b every 50 ms (not one ping may be lost):
#  A. vpngw's childRekeyBytes is 4 MiB; 40 MB of UDP (iperf3 at 40 Mbit/s) go lan-a → lan-b:
#     vpngw starts a make-before-break CHILD rekey every ~4 MB, strongSwan answers each.
#  B. strongSwan's rekey_bytes is 4 MiB and vpngw has no byte limit: strongSwan starts the
#     rekeys, vpngw answers them.
# Time-based lifetimes are far beyond the window on both sides.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/strongswan.sh"
[ -c /dev/net/tun ] || skip_all "no /dev/net/tun"
[ "$(id -u)" = 0 ] || skip_all "needs root for namespaces"
have_strongswan || skip_all "strongSwan with kernel-libipsec is not installed (apt: strongswan-charon strongswan-swanctl libcharon-extra-plugins)"
command -v iperf3 >/dev/null || skip_all "iperf3 is not installed"
topo4
PSK="rekey-bytes-psk-0123456789"
LIMIT=$(( 4 << 20 ))
VOLUME=${REKEY_BYTES_VOLUME:-40M}

# run_case LABEL VPNGW_EXTRA_IKE_JSON SS_CHILD_EXTRA — sets globals for the checks
run_case() {
  local label="$1"
  ss_conf "$label"
  ss_start "$label" gw-b || { check "$label: charon started" false; return 1; }
  CH=${PIDS[-1]}
  SS_CHILD_EXTRA="$3" SS_CHILD_REKEY=1h SS_IKE_REKEY=4h ss_s2s "$label" 192.0.2.2 192.0.2.1 10.2.0.0/24 10.1.0.0/24 default default "$PSK"
  cat > "$WORK/$label.json" <<J
{"localAddress":"192.0.2.1","peerAddress":"192.0.2.2","remotePrefixes":["10.2.0.0/24"],"tunName":"vpngw0",
 "ike":{"psk":"$PSK","mode":"initiate","childRekeySeconds":3600,"dpdTimeoutSeconds":60$2}}
J
  start_bg gw-a "$WORK/$label.log" "$VPNGW" tunnel up --config "$WORK/$label.json"
  VP=${PIDS[-1]}
  for _ in $(seq 1 100); do grep -q "CHILD SA established" "$WORK/$label.log" && break; sleep 0.1; done
  check "$label: tunnel up" 'grep -q "CHILD SA established" "$WORK/$label.log"'
  nsx lan-a ping -c 3 -i 0.2 -W 1 10.2.0.2 >/dev/null
  start_bg lan-b "$WORK/$label-iperf-s.log" iperf3 -s -1
  sleep 0.5
  nsx lan-a ping -i 0.05 -c 240 -W 1 10.2.0.2 > "$WORK/$label-ping.out" 2>&1 &
  local ping=$!
  PIDS+=($ping)
  timeout 60 ip netns exec "$(ns lan-a)" iperf3 -c 10.2.0.2 -u -b 40M -l 1200 -n "$VOLUME" > "$WORK/$label-iperf.out" 2>&1
  for _ in $(seq 1 100); do kill -0 "$ping" 2>/dev/null || break; sleep 0.2; done
  wait "$ping" 2>/dev/null
  sleep 1.5   # the last rekey's Delete, and vpngw prints its log once a second
  sw "$label" --list-sas > "$WORK/$label-sas.out" 2>&1
  kill "$VP"; wait "$VP" 2>/dev/null
  stats=$(grep -E "packets transmitted" "$WORK/$label-ping.out")
  sent=$(echo "$stats" | awk '{print $1}'); got=$(echo "$stats" | awk '{print $4}')
  lost=$(( ${sent:-0} - ${got:-0} ))
  ours=$(grep -c "soft byte limit .*: rekeying" "$WORK/$label.log")
  started=$(grep -c "starting CHILD SA rekey" "$WORK/$label.log")
  rekeyed=$(grep -c "CHILD SA rekeyed" "$WORK/$label.log")
  status_rekeys=$(sed -n 's/.*tunnel status at exit: .*CHILD rekeys \([0-9]*\),.*/\1/p' "$WORK/$label.log")
  ss_log="$WORK/ss-$label/charon.log"
  ss_init=$(grep -c "generating CREATE_CHILD_SA request .*N(REKEY_SA)" "$ss_log")
  ss_resp=$(grep -c "parsed CREATE_CHILD_SA request .*N(REKEY_SA)" "$ss_log")
  echo "  [$label] iperf3: $(grep -E "receiver" "$WORK/$label-iperf.out" | tail -1 | sed 's/  */ /g')"
  echo "  [$label] pings: $sent sent, $got received, $lost lost"
  echo "  [$label] vpngw: $rekeyed CHILD rekeys (status childRekeys ${status_rekeys:-?}), $started started by vpngw ($ours on the byte limit)"
  echo "  [$label] strongSwan: CHILD rekeys initiated $ss_init, answered $ss_resp"
  grep -E "^ *s2s: #|^ *net: #|bytes_i" "$WORK/$label-sas.out" | sed "s/^/  [$label] strongSwan SAs: /"
  grep -E "soft byte limit|hard byte limit|drops:|tunnel 1:" "$WORK/$label.log" | head -4 | sed "s/^/  [$label] vpngw: /"
  check "$label: ping ran through the transfer (≥ 200 sent)" '[ "${sent:-0}" -ge 200 ]'
  check "$label: zero lost pings ($lost of $sent)" '[ -n "$sent" ] && [ "$lost" -eq 0 ]'
  check "$label: strongSwan ends with one CHILD SA installed" '[ "$(grep -c "INSTALLED" "$WORK/$label-sas.out")" -eq 1 ] && [ "$(grep -c "ESTABLISHED" "$WORK/$label-sas.out")" -eq 1 ]'
  check "$label: no hard-limit expiry or refused seal in vpngw" '! grep -qE "hard byte limit|ESP seal refused" "$WORK/$label.log"'
  check "$label: no negotiation failure in vpngw's log" '! grep -qE "negotiation failed|CHILD SA failed" "$WORK/$label.log"'
  kill "$CH" 2>/dev/null; wait "$CH" 2>/dev/null
  sleep 0.3
}

run_case A ",\"childRekeyBytes\":$LIMIT" ""
check "A: ≥ 5 CHILD rekeys started by vpngw on its byte limit ($ours)" '[ "$ours" -ge 5 ] && [ "$started" -ge 5 ]'
check "A: status childRekeys counts them (${status_rekeys:-none})" '[ "${status_rekeys:-0}" -ge 5 ]'
check "A: strongSwan answered them ($ss_resp) and started none ($ss_init)" '[ "$ss_resp" -ge 5 ] && [ "$ss_init" -eq 0 ]'

run_case B "" "rekey_bytes = $LIMIT"
check "B: ≥ 5 CHILD rekeys started by strongSwan on rekey_bytes ($ss_init)" '[ "$ss_init" -ge 5 ]'
check "B: vpngw answered them ($rekeyed, status ${status_rekeys:-none}) and started none ($started)" '[ "$rekeyed" -ge 5 ] && [ "${status_rekeys:-0}" -ge 5 ] && [ "$started" -eq 0 ]'
summary
