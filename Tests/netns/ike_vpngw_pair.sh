#!/usr/bin/env bash
# Two vpngw gateways negotiate IKEv2 (PSK) and carry LAN-to-LAN traffic over the CHILD SA;
# a wrong PSK is reported as such.
source "$(dirname "$0")/lib.sh"
[ -c /dev/net/tun ] || skip_all "no /dev/net/tun"
[ "$(id -u)" = 0 ] || skip_all "needs root for namespaces"
topo4
conf() { # file local peer remote-prefix mode psk
cat > "$1" <<J
{"localAddress":"$2","peerAddress":"$3","remotePrefixes":["$4"],"tunName":"vpngw0",
 "ike":{"psk":"$6","mode":"$5","ikeProposals":["aes128gcm16-prfsha256-x25519"],"espProposals":["aes128gcm16"],"dpdTimeoutSeconds":9}}
J
}
conf "$WORK/a.json" 192.0.2.1 192.0.2.2 10.2.0.0/24 initiate "lab-psk-0123456789"
conf "$WORK/b.json" 192.0.2.2 192.0.2.1 10.1.0.0/24 respond "lab-psk-0123456789"
start_bg gw-b "$WORK/b.log" "$VPNGW" tunnel up --config "$WORK/b.json"
PB=${PIDS[-1]}
sleep 0.3
t0=$(date +%s%N)
start_bg gw-a "$WORK/a.log" "$VPNGW" tunnel up --config "$WORK/a.json"
PA=${PIDS[-1]}
for _ in $(seq 1 100); do grep -q "CHILD SA established" "$WORK/a.log" && break; sleep 0.05; done
t1=$(date +%s%N)
check "initiator established IKE and CHILD SAs" 'grep -q "CHILD SA established" "$WORK/a.log"'
check "responder established the CHILD SA" 'grep -q "CHILD SA established" "$WORK/b.log"'
echo "  tunnel up $(( (t1 - t0) / 1000000 )) ms after starting the initiator process (includes process start)"
check "NAT-T forced: IKE moved to 4500" 'grep -q "UDP 4500" "$WORK/a.log"'
check "lan-a pings lan-b through the negotiated tunnel" 'nsx lan-a ping -c 3 -i 0.2 -W 2 10.2.0.2 >/dev/null'
check "lan-b pings lan-a back" 'nsx lan-b ping -c 2 -i 0.2 -W 2 10.1.0.2 >/dev/null'
kill "$PA" "$PB"; wait "$PA" "$PB" 2>/dev/null

# Wrong PSK on the responder: the initiator must say so.
conf "$WORK/b2.json" 192.0.2.2 192.0.2.1 10.1.0.0/24 respond "not-the-same-psk"
start_bg gw-b "$WORK/b2.log" "$VPNGW" tunnel up --config "$WORK/b2.json"
sleep 0.3
start_bg gw-a "$WORK/a2.log" "$VPNGW" tunnel up --config "$WORK/a.json"
# Each side prints its log once a second: wait for both.
for _ in $(seq 1 100); do grep -q "negotiation failed" "$WORK/a2.log" && grep -q "negotiation failed" "$WORK/b2.log" && break; sleep 0.1; done
check "responder reports a PSK mismatch" 'grep -qi "PSK mismatch" "$WORK/b2.log"'
check "initiator reports the rejection" 'grep -qi "AUTHENTICATION_FAILED\|authentication" "$WORK/a2.log"'
for f in a b a2 b2; do sed "s/^/  $f: /" "$WORK/$f.log"; done
summary
