import Testing
@testable import ESP

@Suite("Outbound and inbound SAs")
struct SecurityAssociationTests {
    static let suites = ESPCipherSuite.all

    @Test("Every suite round-trips payloads of every length class, with and without ESN",
          arguments: suites, [false, true])
    func roundTrip(_ suite: ESPCipherSuite, extendedSequenceNumbers: Bool) throws {
        let (outbound, inbound) = try makeSAPair(suite, extendedSequenceNumbers: extendedSequenceNumbers)
        var expectedBytes: UInt64 = 0
        for length in [0, 1, 2, 3, 13, 14, 15, 16, 17, 20, 40, 63, 64, 65, 576, 1400, 1500, 9000] {
            let inner = innerPacket(length: length, seed: UInt8(truncatingIfNeeded: length))
            let nextHeader: ESPNextHeader = length % 2 == 0 ? .ipv4 : .ipv6
            let packet = try #require(sealToBytes(outbound, payload: inner, nextHeader: nextHeader))
            let ciphertextLength = packet.count - 8 - outbound.transform.ivLength - outbound.transform.icvLength
            #expect(ciphertextLength % outbound.transform.paddingAlignment == 0)
            #expect(ciphertextLength - length - 2 < outbound.transform.paddingAlignment)
            #expect(ciphertextLength % 4 == 0)
            #expect(Array(packet[0..<4]) == [0xC0, 0xFF, 0xEE, 0x01])
            let (result, opened) = openBytes(inbound, packet)
            let headerLength = 8 + inbound.transform.ivLength
            #expect(result == .payload(headerLength..<headerLength + length, nextHeader))
            #expect(opened == inner)
            expectedBytes += UInt64(length)
        }
        #expect(outbound.counters.packets == 18)
        #expect(outbound.counters.bytes == expectedBytes)
        #expect(inbound.counters.packets == 18)
        #expect(inbound.counters.bytes == expectedBytes)
        #expect(inbound.counters.drops.total == 0)
        #expect(inbound.highestSequenceNumber == 18)
    }

    @Test("Sealing writes SPI, sequence number, IV = sequence number (AEAD), padding 1, 2, 3 …")
    func wireLayout() throws {
        let (outbound, _) = try makeSAPair(.aes128GCM16, spi: 0x1122_3344)
        _ = sealToBytes(outbound, payload: innerPacket(length: 10))
        let buffer = PacketBuffer(for: outbound, payload: innerPacket(length: 11))
        guard case .sealed(let range) = outbound.seal(buffer.storage, payload: buffer.payload, nextHeader: .ipv6) else {
            Issue.record("not sealed")
            return
        }
        let packet = buffer.bytes(range)
        #expect(range.lowerBound == buffer.payload.lowerBound - 16)
        #expect(Array(packet[0..<8]) == hex("11223344 00000002"))
        #expect(Array(packet[8..<16]) == hex("0000000000000002"))
        #expect(packet.count == 16 + 11 + 3 + 2 + 16)

        // Decrypting with the transform alone exposes the trailer.
        let (_, inbound) = try makeSAPair(.aes128GCM16, spi: 0x1122_3344)
        var copy = packet
        let opened = copy.withUnsafeMutableBytes { inbound.transform.open(packet: $0, sequenceNumberHigh: nil) }
        #expect(opened)
        #expect(Array(copy[27..<32]) == [1, 2, 3, 3, 41])
    }

    @Test("The CBC IV is unpredictable-looking and differs per packet")
    func cbcIVs() throws {
        let suite = try ESPCipherSuite(encryption: .aes256CBC, integrity: .hmacSHA256_128)
        let (outbound, _) = try makeSAPair(suite)
        let first = try #require(sealToBytes(outbound, payload: innerPacket(length: 100)))
        let second = try #require(sealToBytes(outbound, payload: innerPacket(length: 100)))
        #expect(first[8..<24] != second[8..<24])
        #expect(Array(first[8..<24]) != hex("00000000000000000000000000000001"))
    }

    @Test("Key material length and layout follow RFC 7296 §2.17")
    func keyMaterialLayout() throws {
        #expect(ESPCipherSuite.aes128GCM16.keyMaterialLength == 20)
        #expect(ESPCipherSuite.aes256GCM16.keyMaterialLength == 36)
        #expect(ESPCipherSuite.chacha20Poly1305.keyMaterialLength == 36)
        #expect(try ESPCipherSuite(encryption: .aes128CBC, integrity: .hmacSHA1_96).keyMaterialLength == 36)
        #expect(try ESPCipherSuite(encryption: .aes256CBC, integrity: .hmacSHA512_256).keyMaterialLength == 96)
        #expect(throws: ESPConfigurationError.integrityMismatch(.aes128GCM16, .hmacSHA1_96)) {
            try ESPCipherSuite(encryption: .aes128GCM16, integrity: .hmacSHA1_96)
        }
        #expect(throws: ESPConfigurationError.integrityMismatch(.aes256CBC, nil)) {
            try ESPCipherSuite(encryption: .aes256CBC)
        }
        #expect(throws: ESPConfigurationError.invalidKeyLength(expected: 20, actual: 19)) {
            try ESPCipherSuite.aes128GCM16.makeTransform(keyMaterial: [UInt8](repeating: 0, count: 19))
        }

        // CBC: the first bytes key the cipher, the rest the HMAC. Same split by hand → same packet.
        let suite = try ESPCipherSuite(encryption: .aes128CBC, integrity: .hmacSHA256_128)
        let keyMaterial = testKeyMaterial(suite)
        let viaFactory = try #require(suite.makeTransform(keyMaterial: keyMaterial) as? AESCBCHMACTransform)
        let byHand = try AESCBCHMACTransform(encryptionKey: Array(keyMaterial[0..<16]),
                                             integrityKey: Array(keyMaterial[16...]), integrity: .hmacSHA256_128)
        #expect(viaFactory.fullMAC(of: [1, 2, 3]) == byHand.fullMAC(of: [1, 2, 3]))
    }

    @Test("Counter overflow is refused, never wrapped (RFC 4303 §3.3.3)", arguments: [false, true])
    func sequenceOverflow(extendedSequenceNumbers: Bool) throws {
        let (outbound, inbound) = try makeSAPair(.aes128GCM16, extendedSequenceNumbers: extendedSequenceNumbers)
        let last = outbound.maximumSequenceNumber
        #expect(last == (extendedSequenceNumbers ? UInt64.max : UInt64(UInt32.max)))
        outbound.skipSequenceNumbers(to: last - 1)
        #expect(outbound.lifetimeState(now: testEpoch) == .soft(.sequenceNumbers))
        let final = try #require(sealToBytes(outbound, payload: innerPacket(length: 40)))
        #expect(Array(final[4..<8]) == [0xff, 0xff, 0xff, 0xff])
        #expect(outbound.lifetimeState(now: testEpoch) == .hard(.sequenceNumbers))
        let buffer = PacketBuffer(for: outbound, payload: innerPacket(length: 40))
        #expect(outbound.seal(buffer.storage, payload: buffer.payload, nextHeader: .ipv4) == .refused(.sequenceNumberExhausted))
        #expect(outbound.seal(buffer.storage, payload: buffer.payload, nextHeader: .ipv4) == .refused(.sequenceNumberExhausted))
        #expect(outbound.counters.refusals.sequenceNumberExhausted == 2)
        #expect(outbound.lastSequenceNumber == last)
        _ = inbound
    }

    @Test("Headroom and tailroom shortfalls are refused and counted")
    func roomChecks() throws {
        let (outbound, _) = try makeSAPair(.aes256GCM16)
        let tight = PacketBuffer(payload: innerPacket(length: 64), headroom: outbound.headroom - 1, tailroom: 64)
        #expect(outbound.seal(tight.storage, payload: tight.payload, nextHeader: .ipv4) == .refused(.insufficientHeadroom))
        let short = PacketBuffer(payload: innerPacket(length: 64), headroom: 32,
                                 tailroom: outbound.tailroom(forPayloadLength: 64) - 1)
        #expect(outbound.seal(short.storage, payload: short.payload, nextHeader: .ipv4) == .refused(.insufficientTailroom))
        let exact = PacketBuffer(payload: innerPacket(length: 64), headroom: outbound.headroom,
                                 tailroom: outbound.tailroom(forPayloadLength: 64))
        #expect(outbound.seal(exact.storage, payload: exact.payload, nextHeader: .ipv4)
                == .sealed(0..<exact.storage.count))
        #expect(outbound.counters.refusals.insufficientHeadroom == 1)
        #expect(outbound.counters.refusals.insufficientTailroom == 1)
        #expect(outbound.lastSequenceNumber == 1)
    }

    @Test("Lifetimes: soft then hard, in bytes and in time; hard bytes stop traffic both ways")
    func lifetimes() throws {
        let lifetime = ESPLifetime(softBytes: 1000, hardBytes: 2000, softTime: .seconds(3000), hardTime: .seconds(3600))
        let (outbound, inbound) = try makeSAPair(.aes128GCM16, lifetime: lifetime)
        #expect(outbound.lifetimeState(now: testEpoch) == .active)
        #expect(outbound.lifetimeState(now: testEpoch + .seconds(3000)) == .soft(.time))
        #expect(outbound.lifetimeState(now: testEpoch + .seconds(3600)) == .hard(.time))
        #expect(inbound.lifetimeState(now: testEpoch + .seconds(2999)) == .active)
        #expect(inbound.lifetimeState(now: testEpoch + .seconds(3601)).isExpired)

        var packets: [[UInt8]] = []
        for _ in 0..<3 { packets.append(try #require(sealToBytes(outbound, payload: innerPacket(length: 600)))) }
        #expect(outbound.lifetimeState(now: testEpoch) == .soft(.bytes))
        packets.append(try #require(sealToBytes(outbound, payload: innerPacket(length: 600))))
        #expect(outbound.lifetimeState(now: testEpoch) == .hard(.bytes))
        #expect(outbound.lifetimeState(now: testEpoch + .seconds(3000)) == .hard(.bytes))
        #expect(sealToBytes(outbound, payload: innerPacket(length: 10)) == nil)
        #expect(outbound.counters.refusals.lifetimeExpired == 1)

        // Inbound, with a lower hard limit: the packet that crosses it is still delivered.
        let (_, limitedInbound) = try makeSAPair(.aes128GCM16, lifetime: ESPLifetime(softBytes: 1000, hardBytes: 1500))
        for packet in packets.prefix(2) { #expect(openBytes(limitedInbound, packet).1 != nil) }
        #expect(limitedInbound.lifetimeState(now: testEpoch) == .soft(.bytes))
        #expect(openBytes(limitedInbound, packets[2]).1 != nil)
        #expect(limitedInbound.lifetimeState(now: testEpoch) == .hard(.bytes))
        #expect(openBytes(limitedInbound, packets[3]).0 == .dropped(.lifetimeExpired))
        #expect(limitedInbound.counters.drops.lifetimeExpired == 1)
        #expect(limitedInbound.counters.packets == 3)
        _ = inbound
    }

    @Test("Configuration values cross threads; SAs are built where they are used")
    func configurationIsSendable() async throws {
        let configuration = ESPSAConfiguration(spi: 7, suite: .aes256GCM16,
                                               keyMaterial: testKeyMaterial(.aes256GCM16))
        let packet = try await Task.detached {
            let outbound = try configuration.makeOutboundSA(installedAt: testEpoch)
            return sealToBytes(outbound, payload: innerPacket(length: 99))
        }.value
        let inbound = try configuration.makeInboundSA(installedAt: testEpoch)
        #expect(openBytes(inbound, try #require(packet)).1 == innerPacket(length: 99))
    }
}
