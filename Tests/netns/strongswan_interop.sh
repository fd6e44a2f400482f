#!/usr/bin/env bash
# vpngw ⇄ strongSwan 5.9.8 (kernel-libipsec): both initiate and respond, strongSwan's default
# proposals and four others including Azure's MODP-1024/AES-256/SHA-1; traffic flows; a wrong
# PSK is reported on our side as a PSK mismatch.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/strongswan.sh"
[ -c /dev/net/tun ] || skip_all "no /dev/net/tun"
[ "$(id -u)" = 0 ] || skip_all "needs root for namespaces"
have_strongswan || skip_all "strongSwan with kernel-libipsec is not installed (apt: strongswan-charon strongswan-swanctl libcharon-extra-plugins)"
topo4
PSK="interop-psk-0123456789"

vpngw_conf() { # file mode psk ike esp
cat > "$1" <<J
{"localAddress":"192.0.2.1","peerAddress":"192.0.2.2","remotePrefixes":["10.2.0.0/24"],"tunName":"vpngw0",
 "ike":{"psk":"$3","mode":"$2"$( [ -n "$4" ] && echo ",\"ikeProposals\":[\"$4\"]")$( [ -n "$5" ] && echo ",\"espProposals\":[\"$5\"]")}}
J
}

# run_case LABEL WHO_INITIATES SS_IKE SS_ESP VPNGW_IKE VPNGW_ESP
run_case() {
  local label="$1" who="$2" ssike="$3" ssesp="$4" vike="$5" vesp="$6"
  ss_conf b
  ss_start b gw-b || { check "$label: charon started" false; return; }
  ss_s2s b 192.0.2.2 192.0.2.1 10.2.0.0/24 10.1.0.0/24 "$ssike" "$ssesp" "$PSK"
  if [ "$who" = vpngw ]; then vpngw_conf "$WORK/v.json" initiate "$PSK" "$vike" "$vesp"; else vpngw_conf "$WORK/v.json" respond "$PSK" "$vike" "$vesp"; fi
  start_bg gw-a "$WORK/v-$label.log" "$VPNGW" tunnel up --config "$WORK/v.json"
  local vp=${PIDS[-1]}
  sleep 0.3
  if [ "$who" = strongswan ]; then sw b --initiate --child net --timeout 10 > "$WORK/init-$label.out" 2>&1; fi
  for _ in $(seq 1 60); do grep -q "CHILD SA established" "$WORK/v-$label.log" && break; sleep 0.1; done
  check "$label: CHILD SA established ($who initiates)" 'grep -q "CHILD SA established" "$WORK/v-$label.log"'
  check "$label: lan-a ⇄ lan-b traffic through the tunnel" 'nsx lan-a ping -c 3 -i 0.2 -W 2 10.2.0.2 >/dev/null && nsx lan-b ping -c 2 -i 0.2 -W 2 10.1.0.2 >/dev/null'
  sw b --list-sas 2>/dev/null | grep -E "ESTABLISHED|INSTALLED" | sed "s/^/  [$label] strongSwan: /"
  grep -E "established|failed" "$WORK/v-$label.log" | sed "s/^/  [$label] vpngw: /"
  kill "$vp"; wait "$vp" 2>/dev/null
  kill "${PIDS[-2]}" 2>/dev/null; wait "${PIDS[-2]}" 2>/dev/null
  sleep 0.2
}

run_case defaults-ss-init strongswan default default "" ""
run_case defaults-vpngw-init vpngw default default "" ""
run_case azure-modp1024 strongswan aes256-sha1-modp1024 aes256-sha1 aes256-sha1-modp1024 aes256-sha1
run_case gcm256-ecp384 vpngw aes256gcm16-prfsha384-ecp384 aes256gcm16 aes256gcm16-prfsha384-ecp384 aes256gcm16
run_case chacha-x25519 strongswan chacha20poly1305-prfsha256-x25519 chacha20poly1305 chacha20poly1305-prfsha256-x25519 chacha20poly1305
run_case cbc-modp2048-pfs vpngw aes128-sha256-modp2048 aes128-sha256-modp2048 aes128-sha256-modp2048 aes128-sha256-modp2048

# Wrong PSK: strongSwan initiates with another key; vpngw must say "PSK mismatch".
ss_conf b; ss_start b gw-b
ss_s2s b 192.0.2.2 192.0.2.1 10.2.0.0/24 10.1.0.0/24 default default "a-different-psk-xyz"
vpngw_conf "$WORK/v.json" respond "$PSK" "" ""
start_bg gw-a "$WORK/v-psk.log" "$VPNGW" tunnel up --config "$WORK/v.json"
sleep 0.3
sw b --initiate --child net --timeout 5 >/dev/null 2>&1
for _ in $(seq 1 30); do grep -q "negotiation failed" "$WORK/v-psk.log" && break; sleep 0.1; done
check "wrong PSK from strongSwan is reported as a PSK mismatch" 'grep -q "PSK mismatch" "$WORK/v-psk.log"'
grep "failed" "$WORK/v-psk.log" | sed 's/^/  vpngw: /'
summary
