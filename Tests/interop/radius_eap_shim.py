#!/usr/bin/env python3
"""Test-only RADIUS server (RFC 2865 + RFC 3579 EAP, RFC 2548 MPPE keys) that relays EAP to
`vpngw p2s eap-tls-server`, so an independent EAP peer (wpa_supplicant's eapol_test) can
authenticate against vpngw's EAP-TLS server. Standard library only.

  radius_eap_shim.py --secret S --port-file F --results R [--bind 127.0.0.1] -- vpngw p2s eap-tls-server ...

One vpngw process per EAP conversation (a new conversation = an Access-Request without State).
Framing to/from vpngw: 2-byte big-endian length + record; records from vpngw are EAP packets,
except the last, a JSON object (first byte '{') with the outcome and the MSK (hex, 64 bytes).
On success the Access-Accept carries MS-MPPE-Recv-Key = MSK[0:32] and MS-MPPE-Send-Key =
MSK[32:64] (RFC 2548 §2.4.2/2.4.3, salt-encrypted), which eapol_test compares with its own MSK.
Each outcome is appended to --results as one JSON line (with the RADIUS User-Name).
"""
import argparse
import hashlib
import hmac
import json
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import time

ACCESS_REQUEST, ACCESS_ACCEPT, ACCESS_REJECT, ACCESS_CHALLENGE = 1, 2, 3, 11
USER_NAME, STATE, VENDOR_SPECIFIC, EAP_MESSAGE, MESSAGE_AUTHENTICATOR = 1, 24, 26, 79, 80
MICROSOFT, MS_MPPE_SEND_KEY, MS_MPPE_RECV_KEY = 311, 16, 17
READ_TIMEOUT = 15.0  # seconds vpngw may take to answer one EAP packet


def log(msg):
    sys.stderr.write("shim: %s\n" % msg)
    sys.stderr.flush()


def parse_attributes(data):
    attrs, i = [], 0
    while i + 2 <= len(data):
        t, l = data[i], data[i + 1]
        if l < 2 or i + l > len(data):
            raise ValueError("bad attribute length")
        attrs.append((t, data[i + 2:i + l]))
        i += l
    if i != len(data):
        raise ValueError("trailing bytes")
    return attrs


def encode_attributes(attrs):
    out = b""
    for t, v in attrs:
        assert len(v) <= 253
        out += bytes([t, len(v) + 2]) + v
    return out


def message_authenticator(secret, packet_with_zero_ma):
    return hmac.new(secret, packet_with_zero_ma, hashlib.md5).digest()


def verify_request(secret, packet):
    """RFC 3579 §3.2: HMAC-MD5 over the Access-Request with Message-Authenticator zeroed."""
    attrs = parse_attributes(packet[20:])
    ma = [v for t, v in attrs if t == MESSAGE_AUTHENTICATOR]
    if len(ma) != 1 or len(ma[0]) != 16:
        return None, "no (or more than one) Message-Authenticator"
    # Zero the attribute's value in place (walk again to find its offset).
    i, body = 20, bytearray(packet)
    while i < len(packet):
        t, l = packet[i], packet[i + 1]
        if t == MESSAGE_AUTHENTICATOR:
            body[i + 2:i + l] = bytes(16)
        i += l
    if not hmac.compare_digest(message_authenticator(secret, bytes(body)), ma[0]):
        return None, "Message-Authenticator mismatch"
    return attrs, None


def mppe_encrypt(secret, request_authenticator, salt, key):
    """RFC 2548 §2.4.2: salt ‖ (len ‖ key ‖ pad) XOR MD5 chain."""
    plain = bytes([len(key)]) + key
    plain += bytes((-len(plain)) % 16)
    out, prev = b"", request_authenticator + salt
    for i in range(0, len(plain), 16):
        b = hashlib.md5(secret + prev).digest()
        c = bytes(x ^ y for x, y in zip(plain[i:i + 16], b))
        out += c
        prev = c
    return salt + out


def vendor_attribute(vendor_type, value):
    return (VENDOR_SPECIFIC, struct.pack("!I", MICROSOFT) + bytes([vendor_type, len(value) + 2]) + value)


def build_response(secret, code, identifier, request_authenticator, attrs):
    """Message-Authenticator first (over the packet with the Request Authenticator), then the
    Response Authenticator (RFC 2865 §3, RFC 3579 §3.2)."""
    attrs = attrs + [(MESSAGE_AUTHENTICATOR, bytes(16))]
    body = encode_attributes(attrs)
    length = 20 + len(body)
    packet = struct.pack("!BBH", code, identifier, length) + request_authenticator + body
    ma = message_authenticator(secret, packet)
    packet = packet[:-16] + ma
    response_auth = hashlib.md5(packet[:4] + request_authenticator + packet[20:] + secret).digest()
    return packet[:4] + response_auth + packet[20:]


def eap_attributes(eap):
    return [(EAP_MESSAGE, eap[i:i + 253]) for i in range(0, len(eap), 253)]


class Session:
    counter = 0

    def __init__(self, command):
        Session.counter += 1
        self.state = b"vpngw-eap-%d-%s" % (Session.counter, os.urandom(4).hex().encode())
        self.proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.buffer = b""
        self.user = ""
        self.started = time.monotonic()

    def send(self, eap):
        self.proc.stdin.write(struct.pack("!H", len(eap)) + eap)
        self.proc.stdin.flush()

    def read(self):
        deadline = time.monotonic() + READ_TIMEOUT
        fd = self.proc.stdout.fileno()
        while True:
            if len(self.buffer) >= 2:
                n = struct.unpack("!H", self.buffer[:2])[0]
                if len(self.buffer) >= 2 + n:
                    record, self.buffer = self.buffer[2:2 + n], self.buffer[2 + n:]
                    return record
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select([fd], [], [], left)
            if ready:
                chunk = os.read(fd, 65536)
                if not chunk:
                    return None
                self.buffer += chunk

    def close(self):
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--secret", required=True)
    ap.add_argument("--bind", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--results", required=True)
    ap.add_argument("command", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    secret = args.secret.encode()

    sessions = {}   # State → Session
    replies = {}    # (client, identifier, request authenticator) → reply (RADIUS retransmissions)

    def stop(*_):
        for s in list(sessions.values()):
            s.proc.kill()
        sys.exit(0)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((args.bind, args.port))
    with open(args.port_file + ".tmp", "w") as f:
        f.write(str(sock.getsockname()[1]))
    os.rename(args.port_file + ".tmp", args.port_file)
    log("listening on %s:%d" % sock.getsockname())

    def record_result(session, result):
        result["user"] = session.user
        with open(args.results, "a") as f:
            f.write(json.dumps(result, sort_keys=True) + "\n")
        log("result %s" % json.dumps(result, sort_keys=True))

    def handle(packet, client):
        if len(packet) < 20:
            return None
        code, identifier, length = struct.unpack("!BBH", packet[:4])
        if code != ACCESS_REQUEST or length < 20 or length > len(packet):
            return None
        packet = packet[:length]
        request_auth = packet[4:20]
        key = (client, identifier, request_auth)
        if key in replies:
            log("retransmitted Access-Request id %d: same answer" % identifier)
            return replies[key]
        attrs, why = verify_request(secret, packet)
        if attrs is None:
            log("dropped Access-Request id %d: %s" % (identifier, why))
            return None
        eap = b"".join(v for t, v in attrs if t == EAP_MESSAGE)
        state = [v for t, v in attrs if t == STATE]
        user = b"".join(v for t, v in attrs if t == USER_NAME).decode(errors="replace")

        def reply(code, attributes):
            r = build_response(secret, code, identifier, request_auth, attributes)
            replies[key] = r
            return r

        def reject(session, reason):
            log("Access-Reject: %s" % reason)
            if session is not None:
                sessions.pop(session.state, None)
                session.proc.kill()
                session.close()
            return reply(ACCESS_REJECT, eap_attributes(bytes([4, (eap[1] if len(eap) > 1 else 0), 0, 4])))

        if not eap:
            return reject(None, "no EAP-Message")
        if not state:
            # A new conversation. The NAS (eapol_test) already asked for the identity; our server
            # asks again with its own identifier, which the peer answers (RFC 3748 §5.1).
            session = Session(command)
            session.user = user
            first = session.read()
            if first is None or first[:1] != b"\x01":
                return reject(session, "vpngw did not start with an EAP Request")
            sessions[session.state] = session
            log("new conversation %s for %r" % (session.state.decode(), user))
            return reply(ACCESS_CHALLENGE, eap_attributes(first) + [(STATE, session.state)])
        session = sessions.get(state[0])
        if session is None:
            return reject(None, "unknown State")
        session.send(eap)
        record = session.read()
        if record is None:
            return reject(session, "vpngw gave no answer within %ds" % READ_TIMEOUT)
        if record[:1] == b"\x01":
            return reply(ACCESS_CHALLENGE, eap_attributes(record) + [(STATE, session.state)])
        outcome = session.read()
        result = json.loads(outcome.decode()) if outcome and outcome[:1] == b"{" else {"outcome": "failure", "reason": "no result record"}
        sessions.pop(session.state, None)
        session.close()
        record_result(session, result)
        if record[:1] == b"\x03" and result.get("outcome") == "success":
            msk = bytes.fromhex(result["msk"])
            recv_key, send_key = msk[0:32], msk[32:64]
            salt1 = bytes([0x80 | (os.urandom(1)[0] & 0x7F), os.urandom(1)[0]])
            salt2 = bytes([salt1[0] ^ 0x01, salt1[1]])  # unique within the Accept (RFC 2548 §2.4.2)
            attributes = eap_attributes(record) + [
                (USER_NAME, (result.get("identity") or user).encode()[:253]),
                vendor_attribute(MS_MPPE_RECV_KEY, mppe_encrypt(secret, request_auth, salt1, recv_key)),
                vendor_attribute(MS_MPPE_SEND_KEY, mppe_encrypt(secret, request_auth, salt2, send_key)),
            ]
            log("Access-Accept for %r" % result.get("identity"))
            return reply(ACCESS_ACCEPT, attributes)
        log("Access-Reject: %s" % result.get("reason"))
        return reply(ACCESS_REJECT, eap_attributes(record))

    while True:
        packet, client = sock.recvfrom(4096)
        try:
            answer = handle(packet, client)
        except Exception as e:  # a test tool: say what broke, keep serving
            log("error handling a packet from %s: %r" % (client, e))
            answer = None
        if answer is not None:
            sock.sendto(answer, client)


if __name__ == "__main__":
    main()
