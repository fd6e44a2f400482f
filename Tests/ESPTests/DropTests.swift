import Testing
@testable import ESP

/// Seals an arbitrary plaintext body (payload ‖ padding ‖ trailer, chosen by the test) with the
/// transform alone, so the SA's own trailer rules can be broken on purpose.
func craftPacket(_ transform: any ESPTransform, spi: UInt32, sequenceNumber: UInt64, body: [UInt8]) -> [UInt8] {
    var packet = [UInt8](repeating: 0, count: 8 + transform.ivLength) + body
        + [UInt8](repeating: 0, count: transform.icvLength)
    packet.withUnsafeMutableBytes { bytes in
        bytes.storeBigEndian(spi, at: 0)
        bytes.storeBigEndian(UInt32(truncatingIfNeeded: sequenceNumber), at: 4)
        _ = transform.seal(packet: bytes, sequenceNumber: sequenceNumber, extendedSequenceNumbers: false)
    }
    return packet
}

@Suite("Bad input is dropped and counted")
struct DropTests {
    static let suites = ESPCipherSuite.all

    @Test("Corrupting any header, IV, ciphertext or ICV byte fails authentication and leaves the window alone",
          arguments: suites)
    func corruption(_ suite: ESPCipherSuite) throws {
        let (outbound, inbound) = try makeSAPair(suite)
        let packet = try #require(sealToBytes(outbound, payload: innerPacket(length: 61)))
        var expected = ESPDropCounters()
        for index in 4..<packet.count {
            var corrupted = packet
            corrupted[index] ^= 0x20
            #expect(openBytes(inbound, corrupted).0 == .dropped(.authenticationFailed), "byte \(index)")
            expected.record(.authenticationFailed)
        }
        #expect(inbound.highestSequenceNumber == 0)
        #expect(inbound.counters.drops == expected)
        #expect(openBytes(inbound, packet).1 == innerPacket(length: 61))
        #expect(openBytes(inbound, packet).0 == .dropped(.replayed))
        expected.record(.replayed)
        #expect(inbound.counters.drops == expected)
        #expect(inbound.counters.packets == 1)
    }

    @Test("Truncated packets, wrong SPIs and misaligned CBC ciphertext are dropped before any crypto",
          arguments: suites)
    func structural(_ suite: ESPCipherSuite) throws {
        let (outbound, inbound) = try makeSAPair(suite, spi: 0xABCD_0001)
        let packet = try #require(sealToBytes(outbound, payload: innerPacket(length: 100)))
        let minimum = 8 + inbound.transform.ivLength + max(inbound.transform.ciphertextBlockLength, 2)
            + inbound.transform.icvLength
        for length in 0..<minimum {
            #expect(openBytes(inbound, Array(packet.prefix(length))).0 == .dropped(.truncated))
        }
        var wrongSPI = packet
        wrongSPI[3] ^= 1
        #expect(openBytes(inbound, wrongSPI).0 == .dropped(.unknownSPI))
        let shortened = Array(packet.dropLast())
        let expectedShortened: ESPDropReason = inbound.transform.ciphertextBlockLength > 1
            ? .misalignedCiphertext : .authenticationFailed
        #expect(openBytes(inbound, shortened).0 == .dropped(expectedShortened))
        #expect(inbound.counters.drops.truncated == UInt64(minimum))
        #expect(inbound.counters.drops.unknownSPI == 1)
        #expect(inbound.counters.drops[expectedShortened] == 1)
        #expect(openBytes(inbound, packet).1 == innerPacket(length: 100))
    }

    @Test("Authentic packets with bad padding, dummy next header or a non-IP next header", arguments: suites)
    func trailerChecks(_ suite: ESPCipherSuite) throws {
        let (outbound, inbound) = try makeSAPair(suite, spi: 0x0000_5151)
        let transform = outbound.transform
        let alignment = transform.paddingAlignment
        let payload = innerPacket(length: alignment * 2 - 5)    // needs 3 bytes of padding
        let spi: UInt32 = 0x0000_5151

        let badBytes = craftPacket(transform, spi: spi, sequenceNumber: 1, body: payload + [1, 2, 9, 3, 4])
        #expect(openBytes(inbound, badBytes).0 == .dropped(.badPadding))

        let padTooLong = craftPacket(transform, spi: spi, sequenceNumber: 2,
                                     body: Array(payload.prefix(alignment - 2)) + [UInt8(alignment - 1), 4])
        #expect(openBytes(inbound, padTooLong).0 == .dropped(.badPadding))

        let dummy = craftPacket(transform, spi: spi, sequenceNumber: 3, body: payload + [1, 2, 3, 3, 59])
        #expect(openBytes(inbound, dummy).0 == .dropped(.dummyPacket))

        let udp = craftPacket(transform, spi: spi, sequenceNumber: 4, body: payload + [1, 2, 3, 3, 17])
        #expect(openBytes(inbound, udp).0 == .dropped(.unsupportedNextHeader))

        let good = craftPacket(transform, spi: spi, sequenceNumber: 5, body: payload + [1, 2, 3, 3, 41])
        #expect(openBytes(inbound, good) == (.payload(8 + transform.ivLength..<8 + transform.ivLength + payload.count, .ipv6), payload))

        // Authentic packets are marked even when their trailer is refused: the peer did send them.
        for sequenceNumber in 1...4 {
            let replay = craftPacket(transform, spi: spi, sequenceNumber: UInt64(sequenceNumber),
                                     body: payload + [1, 2, 3, 3, 4])
            #expect(openBytes(inbound, replay).0 == .dropped(.replayed))
        }
        let drops = inbound.counters.drops
        #expect(drops.badPadding == 2)
        #expect(drops.dummyPacket == 1)
        #expect(drops.unsupportedNextHeader == 1)
        #expect(drops.replayed == 4)
        #expect(drops.total == 8)
        #expect(inbound.counters.packets == 1)
        #expect(inbound.counters.bytes == UInt64(payload.count))
    }

    @Test("Opening a range that runs past the buffer is a truncation, not a crash")
    func rangeBeyondBuffer() throws {
        let (_, inbound) = try makeSAPair(.aes128GCM16)
        let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: 64, alignment: 16)
        defer { storage.deallocate() }
        storage.initializeMemory(as: UInt8.self, repeating: 0)
        #expect(inbound.open(storage, packet: 10..<100) == .dropped(.truncated))
        #expect(inbound.open(storage, packet: -8..<40) == .dropped(.truncated))
        let database = ESPSADatabase()
        database.install(inbound)
        #expect(database.open(storage, packet: -8..<40) == .dropped(.truncated))
        #expect(database.open(storage, packet: 60..<70) == .dropped(.truncated))
    }
}

@Suite("UDP encapsulation and the SAD")
struct EncapsulationTests {
    func classify(_ bytes: [UInt8]) -> UDPEncapsulatedDatagram {
        bytes.withUnsafeBytes { ESPUDPEncapsulation.classify($0) }
    }

    @Test("RFC 3948: keepalive, non-ESP marker, ESP")
    func classification() {
        #expect(classify([0xFF]) == .natKeepalive)
        #expect(classify([0x00]) == .malformed)
        #expect(classify([]) == .malformed)
        #expect(classify([0, 0, 0, 0] + [UInt8](repeating: 1, count: 28)) == .ike(messageOffset: 4))
        #expect(classify([0, 0, 0, 0] + [UInt8](repeating: 1, count: 27)) == .malformed)
        #expect(classify([0, 0, 1, 0, 0, 0, 0, 1]) == .esp(spi: 0x100))
        #expect(classify([0, 0, 1, 0, 0, 0, 0]) == .malformed)
        #expect([UInt8]([0, 0, 0, 0, 0, 0, 0, 1]).withUnsafeBytes { ESPUDPEncapsulation.spi(ofESPPacket: $0) } == nil)
        #expect([UInt8]([0xC0, 0xFF, 0xEE, 1, 0, 0, 0, 1]).withUnsafeBytes { ESPUDPEncapsulation.spi(ofESPPacket: $0) } == 0xC0FF_EE01)
    }

    @Test("The SAD routes by SPI and counts unknown SPIs itself; old and new SAs coexist during a rekey")
    func database() throws {
        let (oldOutbound, oldInbound) = try makeSAPair(.aes128GCM16, spi: 0x1111_1111)
        let (newOutbound, newInbound) = try makeSAPair(.aes256GCM16, spi: 0x2222_2222)
        let database = ESPSADatabase()
        database.install(oldInbound)
        database.install(newInbound)
        #expect(database.count == 2)

        func open(_ packet: [UInt8]) -> ESPOpenResult {
            let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: packet.count + 4, alignment: 16)
            defer { storage.deallocate() }
            storage.copyBytes(from: [0, 0, 0, 0] + packet)
            return database.open(storage, packet: 4..<4 + packet.count)
        }
        let oldPacket = try #require(sealToBytes(oldOutbound, payload: innerPacket(length: 30)))
        let newPacket = try #require(sealToBytes(newOutbound, payload: innerPacket(length: 31)))
        #expect(open(oldPacket) == .payload(20..<50, .ipv4))
        #expect(open(newPacket) == .payload(20..<51, .ipv4))
        #expect(database.remove(spi: 0x1111_1111) === oldInbound)
        #expect(open(oldPacket) == .dropped(.unknownSPI))
        #expect(open([1, 2, 3]) == .dropped(.truncated))
        #expect(open([0, 0, 0, 0] + Array(newPacket[4...])) == .dropped(.unknownSPI))
        #expect(database.drops.unknownSPI == 2)
        #expect(database.drops.truncated == 1)
        #expect(oldInbound.counters.packets == 1)
        #expect(database.inboundSA(spi: 0x2222_2222) === newInbound)
    }
}

@Suite("Micro-benchmark entry point")
struct MicroBenchmarkTests {
    @Test("Every suite round-trips in the benchmark loop and reports a time")
    func runsAllSuites() throws {
        let results = try ESPMicroBenchmark.runAll(payloadLength: 300, packets: 300)
        #expect(results.count == ESPCipherSuite.all.count)
        for result in results {
            #expect(result.failedPackets == 0, "\(result.suite)")
            #expect(result.sealNanosecondsPerPacket > 0)
            #expect(result.openNanosecondsPerPacket > 0)
        }
    }
}
