#!/usr/bin/env bash
# EAP-TLS interoperability: wpa_supplicant's eapol_test (an independent EAP peer, OpenSSL) against
# vpngw's EAP-TLS server — the PPP core's authenticator, the swift-nio-ssl engine and the P2S
# certificate policy, run by the hidden `vpngw p2s eap-tls-server` — through a RADIUS shim on
# loopback (Tests/interop/radius_eap_shim.py). eapol_test compares the MSK it derived with the
# MS-MPPE keys of the Access-Accept, so one success proves the TLS handshake, EAP-TLS fragmentation
# and acks, the chain check and the MSK together — TLS 1.2 (RFC 5216 §2.3) and TLS 1.3 (RFC 9190
# §2.3, with its protected success indication). No namespaces needed.
source "$(dirname "$0")/lib.sh"
EAPOL=$(command -v eapol_test || true)
[ -n "$EAPOL" ] || skip_all "eapol_test not installed (Debian package eapoltest)"
[ -x "$VPNGW" ] || skip_all "build vpngw first ($VPNGW)"
command -v openssl >/dev/null || skip_all "no openssl"
command -v python3 >/dev/null || skip_all "no python3"
SHIM="$(cd "$(dirname "$0")/.." && pwd)/interop/radius_eap_shim.py"
SECRET="s3cret-$$"

# Server PKI (RSA, root → intermediate → leaf, so the server's flight is several EAP-TLS fragments).
C="$WORK/pki"; mkdir -p "$C"
printf 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n' > "$C/ca.ext"
printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:eap.vpngw.test\n' > "$C/leaf.ext"
{
  openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=vpngw EAP Root" -keyout "$C/sroot.key" -out "$C/sroot.pem" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
  openssl req -newkey rsa:2048 -nodes -subj "/CN=vpngw EAP Intermediate" -keyout "$C/sint.key" -out "$C/sint.csr"
  openssl x509 -req -in "$C/sint.csr" -CA "$C/sroot.pem" -CAkey "$C/sroot.key" -CAcreateserial -days 30 -extfile "$C/ca.ext" -out "$C/sint.pem"
  openssl req -newkey rsa:2048 -nodes -subj "/CN=eap.vpngw.test" -keyout "$C/server.key" -out "$C/server.csr"
  openssl x509 -req -in "$C/server.csr" -CA "$C/sint.pem" -CAkey "$C/sint.key" -CAcreateserial -days 30 -extfile "$C/leaf.ext" -out "$C/server.pem"
} >"$WORK/openssl.log" 2>&1
cat "$C/server.pem" "$C/sint.pem" > "$C/server-chain.pem"
# Client PKI as Azure users make it: `vpngw p2s make-cert` (P-256). carol is revoked by thumbprint.
"$VPNGW" p2s make-cert --root-out "$C/root.pem" --root-key-out "$C/root.key" --client-cn alice --client-out "$C/alice.pem" --client-key-out "$C/alice.key" >/dev/null
"$VPNGW" p2s make-cert --root "$C/root.pem" --root-key "$C/root.key" --client-cn carol --client-out "$C/carol.pem" --client-key-out "$C/carol.key" >/dev/null
"$VPNGW" p2s make-cert --root-out "$C/other.pem" --root-key-out "$C/other.key" --root-cn OtherRoot --client-cn mallory --client-out "$C/mallory.pem" --client-key-out "$C/mallory.key" >/dev/null
CAROL=$(openssl x509 -in "$C/carol.pem" -noout -fingerprint -sha1 | cut -d= -f2 | tr -d ':')
check "PKI made (server chain root → intermediate → leaf; alice, carol from the P2S root; mallory from another)" \
  '[ -s "$C/server-chain.pem" ] && [ -s "$C/alice.pem" ] && [ -s "$C/mallory.pem" ] && [ ${#CAROL} = 40 ]'

python3 "$SHIM" --secret "$SECRET" --port-file "$WORK/port" --results "$WORK/results.jsonl" -- \
  "$VPNGW" p2s eap-tls-server --root-ca "$C/root.pem" --server-cert "$C/server-chain.pem" --server-key "$C/server.key" \
  --revoked "$CAROL" --timeout 40 >"$WORK/shim.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 50); do [ -s "$WORK/port" ] && break; sleep 0.1; done
PORT=$(cat "$WORK/port" 2>/dev/null)
check "RADIUS shim listening (udp 127.0.0.1:${PORT:-?})" '[ -n "$PORT" ]'
[ -n "$PORT" ] || { cat "$WORK/shim.log"; summary; exit 1; }

# run_peer NAME USER PHASE1 [EXTRA] — one eapol_test authentication; output in $WORK/NAME.out.
run_peer() {
  local name=$1 user=$2 phase1=$3 extra=${4:-}
  cat > "$WORK/$name.conf" <<EOF
network={
  key_mgmt=WPA-EAP
  eap=TLS
  identity="$user"
  ca_cert="$C/sroot.pem"
  client_cert="$C/$user.pem"
  private_key="$C/$user.key"
  phase1="$phase1"
  $extra
}
EOF
  timeout 60 "$EAPOL" -c "$WORK/$name.conf" -a 127.0.0.1 -p "$PORT" -s "$SECRET" -t 30 >"$WORK/$name.out" 2>&1
  echo $? > "$WORK/$name.rc"
}
result_for() { grep "\"user\": \"$1\"" "$WORK/results.jsonl" 2>/dev/null | tail -1; }
rc_of() { cat "$WORK/$1.rc"; }
# The MSK eapol_test derived (its debug output shows keys) must equal the one our server exported.
msk_of_peer() { grep -A5 'EAP-TLS: Derived key - hexdump(len=64)' "$WORK/$1.out" | head -1 | sed 's/.*hexdump(len=64)://' | tr -d ' \n'; }
msk_of_server() { result_for "$1" | python3 -c 'import json,sys; print(json.loads(sys.stdin.read() or "{}").get("msk",""))'; }

# (a) TLS 1.2 (TLS 1.3 disabled on the peer), a valid client certificate, small EAP-TLS fragments
#     from the peer (fragment_size=300) so our reassembly and both directions' acks are used.
run_peer tls12 alice "tls_disable_tlsv1_3=1" "fragment_size=300"
check "TLS 1.2: alice (from the P2S root) gets EAP-Success / Access-Accept (eapol_test rc $(rc_of tls12))" \
  '[ "$(rc_of tls12)" = 0 ] && grep -q "^SUCCESS" "$WORK/tls12.out"'
check "TLS 1.2: eapol_test finds the MPPE keys equal to its own MSK (MPPE keys OK: 1  mismatch: 0)" \
  'grep -q "MPPE keys OK: 1  mismatch: 0" "$WORK/tls12.out"'
check "TLS 1.2: eapol_test negotiated TLS 1.2" 'grep -q "SSL: Using TLS version TLSv1.2" "$WORK/tls12.out"'
check "TLS 1.2: fragments both ways (our L/M flights acked by the peer, the peer's 300-byte fragments acked by us)" \
  'grep -qE "SSL: Received packet\(len=[0-9]+\) - Flags 0xc0" "$WORK/tls12.out" && grep -qE "SSL: Received packet\(len=[0-9]+\) - Flags 0x40" "$WORK/tls12.out" \
   && grep -q "more fragments will follow" "$WORK/tls12.out"'
PEER_MSK=$(msk_of_peer tls12); OUR_MSK=$(msk_of_server alice)
check "TLS 1.2: all 64 bytes of the MSK agree (peer's exported key = our masterReceiveKey ‖ masterSendKey)" \
  '[ ${#OUR_MSK} = 128 ] && [ "${PEER_MSK,,}" = "${OUR_MSK,,}" ]'
check "TLS 1.2: the server reports success for alice" 'result_for alice | grep -q "\"outcome\": \"success\""'

# (b) a client certificate from another root.
run_peer other mallory "tls_disable_tlsv1_3=1"
check "another root: mallory gets EAP-Failure / Access-Reject (eapol_test rc $(rc_of other))" \
  '[ "$(rc_of other)" != 0 ] && grep -q "CTRL-EVENT-EAP-FAILURE" "$WORK/other.out" && grep -q "Access-Reject" "$WORK/other.out"'
check "another root: our server says why (does not chain to a vpnClientRootCertificate)" \
  'result_for mallory | grep -q "does not chain to a vpnClientRootCertificate"'
check "another root: refused inside TLS — the peer got a certificate_unknown alert, not our Finished (RFC 5216 §2.1.3)" \
  'grep -q "remote TLS alert (param=certificate unknown)" "$WORK/other.out" && ! grep -q "OpenSSL: Handshake finished" "$WORK/other.out"'

# (c) a client certificate from the right root whose thumbprint is revoked.
run_peer revoked carol "tls_disable_tlsv1_3=1"
check "revoked: carol gets EAP-Failure / Access-Reject (eapol_test rc $(rc_of revoked))" \
  '[ "$(rc_of revoked)" != 0 ] && grep -q "CTRL-EVENT-EAP-FAILURE" "$WORK/revoked.out"'
check "revoked: our server says why (thumbprint $CAROL is revoked)" 'result_for carol | grep -q "$CAROL) is revoked"'
check "revoked: refused inside TLS (certificate_unknown alert to the peer)" 'grep -q "remote TLS alert (param=certificate unknown)" "$WORK/revoked.out"'

# (d) TLS 1.3 (RFC 9190). wpa_supplicant 2.10 leaves TLS 1.3 off for EAP-TLS unless phase1 enables
#     it. A peer that offers 1.3 and 1.2 gets 1.3; a 1.3-only peer too. Keys: Key_Material =
#     TLS-Exporter("EXPORTER_EAP_TLS_Key_Material", 0x0D, 128), MSK = its first 64 bytes; the
#     server's last Request carries the protected success indication (0x00 application data),
#     which eapol_test acknowledges ("ACKing Commitment Message") before our EAP-Success.
run_peer tls13ok alice "tls_disable_tlsv1_3=0"
check "TLS 1.3 offered, 1.2 allowed: EAP-Success on TLS 1.3 with matching MPPE keys" \
  '[ "$(rc_of tls13ok)" = 0 ] && grep -q "MPPE keys OK: 1  mismatch: 0" "$WORK/tls13ok.out" && grep -q "SSL: Using TLS version TLSv1.3" "$WORK/tls13ok.out"'
run_peer tls13only alice "tls_disable_tlsv1_0=1 tls_disable_tlsv1_1=1 tls_disable_tlsv1_2=1 tls_disable_tlsv1_3=0" "fragment_size=300"
check "TLS 1.3 only: alice gets EAP-Success / Access-Accept (eapol_test rc $(rc_of tls13only))" \
  '[ "$(rc_of tls13only)" = 0 ] && grep -q "^SUCCESS" "$WORK/tls13only.out" && grep -q "SSL: Using TLS version TLSv1.3" "$WORK/tls13only.out"'
check "TLS 1.3 only: eapol_test finds the MPPE keys equal to its own MSK (MPPE keys OK: 1  mismatch: 0)" \
  'grep -q "MPPE keys OK: 1  mismatch: 0" "$WORK/tls13only.out"'
PEER_MSK13=$(msk_of_peer tls13only); OUR_MSK13=$(msk_of_server alice)
check "TLS 1.3 only: all 64 bytes of the MSK agree (RFC 9190 exporter; differs from the TLS 1.2 run's)" \
  '[ ${#OUR_MSK13} = 128 ] && [ "${PEER_MSK13,,}" = "${OUR_MSK13,,}" ] && [ "$OUR_MSK13" != "$OUR_MSK" ]'
check "TLS 1.3 only: the peer received our protected success indication (0x00) and acked it before EAP-Success" \
  'grep -q "Application Data in Finished message - hexdump(len=1): 00" "$WORK/tls13only.out" && grep -q "EAP-TLS: ACKing Commitment Message" "$WORK/tls13only.out" \
   && [ "$(grep -n "ACKing Commitment Message" "$WORK/tls13only.out" | head -1 | cut -d: -f1)" -lt "$(grep -n "CTRL-EVENT-EAP-SUCCESS" "$WORK/tls13only.out" | head -1 | cut -d: -f1)" ]'
check "TLS 1.3 only: the server reports success for alice" 'result_for alice | grep -q "\"outcome\": \"success\""'

# (e) refusals under TLS 1.3: the client's Certificate follows our Finished, so the refusal is a
#     certificate_unknown alert in place of the success indication, then EAP-Failure.
TLS13ONLY="tls_disable_tlsv1_0=1 tls_disable_tlsv1_1=1 tls_disable_tlsv1_2=1 tls_disable_tlsv1_3=0"
run_peer other13 mallory "$TLS13ONLY"
check "TLS 1.3, another root: mallory gets EAP-Failure / Access-Reject (eapol_test rc $(rc_of other13))" \
  '[ "$(rc_of other13)" != 0 ] && grep -q "CTRL-EVENT-EAP-FAILURE" "$WORK/other13.out" && grep -q "Access-Reject" "$WORK/other13.out" \
   && grep -q "SSL: Using TLS version TLSv1.3" "$WORK/other13.out" && ! grep -q "CTRL-EVENT-EAP-SUCCESS" "$WORK/other13.out"'
check "TLS 1.3, another root: our server says why; the peer got a certificate_unknown alert and no success indication" \
  'result_for mallory | grep -q "does not chain to a vpnClientRootCertificate" && grep -q "remote TLS alert (param=certificate unknown)" "$WORK/other13.out" \
   && ! grep -q "ACKing Commitment Message" "$WORK/other13.out"'
run_peer revoked13 carol "$TLS13ONLY"
check "TLS 1.3, revoked: carol gets EAP-Failure / Access-Reject (eapol_test rc $(rc_of revoked13))" \
  '[ "$(rc_of revoked13)" != 0 ] && grep -q "CTRL-EVENT-EAP-FAILURE" "$WORK/revoked13.out" && grep -q "SSL: Using TLS version TLSv1.3" "$WORK/revoked13.out"'
check "TLS 1.3, revoked: our server says why; certificate_unknown alert, no success indication" \
  'result_for carol | grep -q "$CAROL) is revoked" && grep -q "remote TLS alert (param=certificate unknown)" "$WORK/revoked13.out" \
   && ! grep -q "ACKing Commitment Message" "$WORK/revoked13.out"'

if [ "$failed" -gt 0 ]; then
  echo "--- shim log"; tail -40 "$WORK/shim.log"
  for n in tls12 other revoked tls13ok tls13only other13 revoked13; do echo "--- $n (tail)"; grep -E "SUCCESS|FAILURE|MPPE|Access-|alert|SSL: SSL3|OpenSSL" "$WORK/$n.out" | tail -12; done
fi
[ -n "${EAP_INTEROP_KEEP:-}" ] && cp -r "$WORK" "$EAP_INTEROP_KEEP"  # keep the logs for a look
summary
