import Testing
import PPP
@testable import SSTP

func hex(_ s: String) -> [UInt8] {
    let digits = Array(s.filter { $0.isHexDigit }.utf8)
    return stride(from: 0, to: digits.count - 1, by: 2).map { UInt8(String(decoding: digits[$0...$0 + 1], as: UTF8.self), radix: 16)! }
}

func hexString(_ bytes: [UInt8]) -> String { bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined() }

struct FixedRandom: PPPRandomSource {
    let seed: UInt8
    func bytes(_ count: Int) -> [UInt8] { (0..<count).map { UInt8(truncatingIfNeeded: Int(seed) &* 31 &+ $0 &* 7) } }
}

@Suite struct SSTPCodecTests {
    // [MS-SSTP] §4.7 worked bytes (protocols.md §4.2).
    @Test func connectRequest() throws {
        let bytes = hex("10 01 00 0E 00 01 00 01 00 01 00 06 00 01")
        let packet = try SSTPPacket.parse(bytes)
        #expect(packet == .control(SSTPControlMessage(.callConnectRequest, [.encapsulatedProtocolID(1)])))
        #expect(packet.emit() == bytes)
    }

    @Test func connectAck() throws {
        let nonce = (0..<32).map { UInt8($0) }
        let bytes = hex("10 01 00 30 00 02 00 01 00 04 00 28 00 00 00 02") + nonce
        let packet = try SSTPPacket.parse(bytes)
        #expect(packet == .control(SSTPControlMessage(.callConnectAck, [.cryptoBindingRequest(hashProtocols: .sha256, nonce: nonce)])))
        #expect(packet.emit() == bytes)
    }

    @Test func callConnectedLayout() throws {
        let nonce = [UInt8](repeating: 1, count: 32), cert = [UInt8](repeating: 2, count: 32), mac = [UInt8](repeating: 3, count: 32)
        let bytes = hex("10 01 00 70 00 04 00 01 00 03 00 68 00 00 00 02") + nonce + cert + mac
        let packet = try SSTPPacket.parse(bytes)
        #expect(packet == .control(SSTPControlMessage(.callConnected, [.cryptoBinding(hashProtocol: 2, nonce: nonce, certificateHash: cert, compoundMAC: mac)])))
        #expect(packet.emit() == bytes)
        #expect(Array(bytes[SSTPCryptoBinding.macOffset...]) == mac)
    }

    @Test func dataPacketAndStream() throws {
        let frame: [UInt8] = [0xFF, 0x03, 0xC0, 0x21, 1, 1, 0, 4]
        let bytes = SSTPPacket.data(frame).emit()
        #expect(bytes == [0x10, 0x00, 0x00, 0x0C] + frame)
        var decoder = SSTPStreamDecoder()
        let two = bytes + hex("10 01 00 0E 00 01 00 01 00 01 00 06 00 01")
        // Byte-at-a-time delivery yields both packets, in order.
        var got: [SSTPPacket] = []
        for byte in two {
            decoder.append([byte])
            while let (packet, _) = try decoder.next() { got.append(packet) }
        }
        #expect(got == [.data(frame), .control(SSTPControlMessage(.callConnectRequest, [.encapsulatedProtocolID(1)]))])
        #expect(decoder.bufferedBytes == 0)
    }

    @Test func refusesBadInput() {
        #expect(throws: SSTPParseError.unsupportedVersion(0x11)) { try SSTPPacket.parse(hex("11 01 00 0E 00 01 00 01 00 01 00 06 00 01")) }
        #expect(throws: SSTPParseError.truncated(needed: 14, available: 13)) { try SSTPPacket.parse(hex("10 01 00 0E 00 01 00 01 00 01 00 06 00")) }
        #expect(throws: SSTPParseError.lengthTooSmall(6)) { try SSTPPacket.parse(hex("10 01 00 06 00 01")) }
        #expect(throws: SSTPParseError.lengthTooSmall(3)) { try SSTPPacket.parse(hex("10 00 00 03")) }
        #expect(throws: SSTPParseError.unknownMessageType(0x0A)) { try SSTPPacket.parse(hex("10 01 00 08 00 0A 00 00")) }
        #expect(throws: SSTPParseError.attributeCountMismatch(declared: 2, found: 1)) { try SSTPPacket.parse(hex("10 01 00 0E 00 01 00 02 00 01 00 06 00 01")) }
        #expect(throws: SSTPParseError.attributeCountMismatch(declared: 0, found: 1)) { try SSTPPacket.parse(hex("10 01 00 0E 00 01 00 00 00 01 00 06 00 01")) }
        #expect(throws: SSTPParseError.invalidAttributeLength(id: 1, length: 0x0FFF)) { try SSTPPacket.parse(hex("10 01 00 0E 00 01 00 01 00 01 0F FF 00 01")) }
        #expect(throws: SSTPParseError.invalidAttributeLength(id: 1, length: 2)) { try SSTPPacket.parse(hex("10 01 00 0E 00 01 00 01 00 01 00 02 00 01")) }
        #expect(throws: SSTPParseError.invalidAttributeValue(.cryptoBindingRequest)) { try SSTPPacket.parse(hex("10 01 00 0E 00 02 00 01 00 04 00 06 00 01")) }
        // Trailing bytes beyond the declared length: not one packet.
        #expect(throws: SSTPParseError.attributeCountMismatch(declared: 4, found: 5)) { try SSTPPacket.parse(hex("10 00 00 04 FF")) }
        // The 12-bit length: the reserved high nibble is ignored, so the maximum is 4095.
        var decoder = SSTPStreamDecoder()
        decoder.append(hex("10 00 FF FF"))
        #expect((try? decoder.next()) == nil)
        #expect(throws: SSTPParseError.unsupportedVersion(0x00)) {
            var d = SSTPStreamDecoder()
            d.append([0, 0, 0, 0])
            _ = try d.next()
        }
    }
}

@Suite struct CryptoBindingVectorTests {
    // protocols.md §4.4 (sstp-client sstp-cmac.c unit test packets; MAC field zeroed).
    static let sha256Packet = hex("""
        10 01 00 70 00 04 00 01 00 03 00 68 00 00 00 02
        41 2B 48 9A EB D7 EC C7 D0 89 66 F2 6B E7 CD 72 B2 31 A0 E9 21 0D 7C 91 B3 08 86 2B 03 44 C4 35
        79 93 EF 31 4C 49 3D AC E9 F0 2D 60 E7 E6 1C 84 B6 69 0A AF E9 D7 AE EA 92 CB BE 8A D5 99 42 2D
        """) + [UInt8](repeating: 0, count: 32)
    static let sha1Packet = hex("""
        10 01 00 70 00 04 00 01 00 03 00 68 00 00 00 01
        0F 1A 2D 58 D4 A3 E3 00 0F AD 3C E4 90 6E 07 B7 07 AA 9E 44 1C CE AC 5C BD 7B 2C C1 C9 D8 6C DF
        58 26 B6 29 BD A5 9B 8E 6F D8 DC D2 62 2F D3 4C 53 48 05 A5 00 00 00 00 00 00 00 00 00 00 00 00
        """) + [UInt8](repeating: 0, count: 32)

    @Test func sha256() {
        let hlak = SSTPCryptoBinding.clientHLAK(masterSendKey: hex("2A1BB40D55AB0F5EF32F06F2B3CC73C4"),
                                                masterReceiveKey: hex("8FD3FAC41D7A1315A19228D9024CA164"))
        #expect(Self.sha256Packet.count == 112)
        #expect(hexString(SSTPCryptoBinding.compoundMAC(callConnected: Self.sha256Packet, hlak: hlak, hash: .sha256))
                == "52a68efd8cffbf52770b8f0fe8ec73716583af6d611eb6d179b3b20840985449")
    }

    @Test func sha1() {
        let hlak = SSTPCryptoBinding.clientHLAK(masterSendKey: hex("4B3128F43925D9006EEFB1C4E86515A1"),
                                                masterReceiveKey: hex("D88E56BAB3CA2BDF0373B7F5A8A13B19"))
        #expect(hexString(SSTPCryptoBinding.compoundMAC(callConnected: Self.sha1Packet, hlak: hlak, hash: .sha1))
                == "69915dd583d8062fef16f61db2f03290ec27cb6c" + String(repeating: "00", count: 12))
    }

    @Test func eapTLSKeysAreTruncatedTo32Bytes() {
        // sstp-cmac.c's EAP-TLS capture: 32-byte keys, the HLAK is the first 32 bytes of send|recv.
        let packet = hex("""
            10 01 00 70 00 04 00 01 00 03 00 68 00 00 00 02
            38 8a 1e cb f3 02 ba 02 f9 f3 72 ce 37 48 8e c3 6b 71 a2 8b 5e 1b 19 fb e4 4d 54 65 a6 31 c4 63
            7f f1 50 17 6f a8 e3 8a 1f 40 2d 11 ff 89 ff 11 b6 65 05 ad 7f 9a e8 12 05 27 7b a4 a6 b9 ef 9d
            """) + [UInt8](repeating: 0, count: 32)
        let hlak = SSTPCryptoBinding.clientHLAK(
            masterSendKey: hex("bb2c17edbaa643b3d511eb9848792b7cab5f5d709fe9bdf89b5deaf5a8c17db7"),
            masterReceiveKey: hex("6db2817cdc55aa42c3a1ff3389be08e2effe8b2dc719074a43cfbb8acf7414ce"))
        #expect(hexString(SSTPCryptoBinding.compoundMAC(callConnected: packet, hlak: hlak, hash: .sha256))
                == "fe6473c7d183914e483fea1b12a6e760a4da16b62fab12a0a1e54e0ec325b24e")
    }

    @Test func hlakOrientationFromRFC3079Example() {
        // protocols.md §4.4: both sides arrive at D5F0…2226 ‖ 8B7C…DCCB.
        let ntResponse = hex("82309ECD8D708B5EA08FAA3981CD83544233114A3D85D6DF")
        let hash = MSCHAPv2.ntPasswordHash(password: "clientPass")
        let server = MPPE.masterKeys(passwordHash: hash, ntResponse: ntResponse, isServer: true)
        let client = MPPE.masterKeys(passwordHash: hash, ntResponse: ntResponse, isServer: false)
        let expected = "d5f0e9521e3ea9589645e86051c82226" + "8b7cdc149b993a1ba118cb153f56dccb"
        #expect(hexString(SSTPCryptoBinding.serverHLAK(masterSendKey: server.send, masterReceiveKey: server.receive)) == expected)
        #expect(hexString(SSTPCryptoBinding.clientHLAK(masterSendKey: client.send, masterReceiveKey: client.receive)) == expected)
        #expect(SSTPCryptoBinding.hlak(firstKey: [], secondKey: []) == [UInt8](repeating: 0, count: 32))
    }
}

@Suite struct SSTPHTTPTests {
    static let sstpcHello = Array("SSTP_DUPLEX_POST /sra_{BA195980-CD49-458b-9E23-C84EE0ADCD75}/ HTTP/1.1\r\nHost: 10.99.0.1\r\nContent-Length: 18446744073709551615\r\nSSTPCORRELATIONID: {62DFA5C0-E2E0-FD50-D286B00}\r\n\r\n".utf8)

    @Test func parsesSstpcHello() throws {
        let length = try #require(try SSTPHTTP.headLength(Self.sstpcHello))
        #expect(length == Self.sstpcHello.count)
        let request = try SSTPHTTP.parseRequest(Self.sstpcHello)
        #expect(request.host == "10.99.0.1" && request.correlationID == "{62DFA5C0-E2E0-FD50-D286B00}")
        #expect(SSTPHTTP.request(host: "10.99.0.1", correlationID: "{62DFA5C0-E2E0-FD50-D286B00}") == Self.sstpcHello)
    }

    @Test func okResponseIsWhatSstpcAccepts() throws {
        let response = SSTPHTTP.okResponse(date: "Sun, 29 Nov 2026 12:00:00 GMT")
        let text = String(decoding: response, as: UTF8.self)
        #expect(text == "HTTP/1.1 200 OK\r\nContent-Length: 18446744073709551615\r\nServer: Microsoft-HTTPAPI/2.0\r\nDate: Sun, 29 Nov 2026 12:00:00 GMT\r\n\r\n")
        #expect(String(decoding: response[9..<12], as: UTF8.self) == "200")
        #expect(text.components(separatedBy: "\r\n").dropFirst().filter { !$0.isEmpty }.count <= 4)
        try SSTPHTTP.checkResponse(response)
        #expect(throws: SSTPHTTPError.invalidContentLength("0")) { try SSTPHTTP.checkResponse(Array("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".utf8)) }
        #expect(throws: SSTPHTTPError.unexpectedStatus("404")) { try SSTPHTTP.checkResponse(Array("HTTP/1.1 404 Not Found\r\n\r\n".utf8)) }
    }

    @Test func refusesOtherHTTP() {
        #expect(throws: SSTPHTTPError.wrongMethod("GET")) { try SSTPHTTP.parseRequest(Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8)) }
        #expect(throws: SSTPHTTPError.wrongPath("/")) { try SSTPHTTP.parseRequest(Array("SSTP_DUPLEX_POST / HTTP/1.1\r\n\r\n".utf8)) }
        #expect(throws: SSTPHTTPError.wrongVersion("HTTP/1.0")) {
            try SSTPHTTP.parseRequest(Array("SSTP_DUPLEX_POST /sra_{BA195980-CD49-458b-9E23-C84EE0ADCD75}/ HTTP/1.0\r\n\r\n".utf8))
        }
        #expect(throws: SSTPHTTPError.headTooLong) { try SSTPHTTP.headLength([UInt8](repeating: 0x41, count: 5000)) }
        #expect((try? SSTPHTTP.headLength(Array("SSTP_DUPLEX_POST /".utf8))) == .some(nil))
    }
}
