@testable import ESP

/// Bytes from a hex string; whitespace is ignored.
func hex(_ string: String) -> [UInt8] {
    let digits = string.filter { !$0.isWhitespace }
    precondition(digits.count % 2 == 0, "odd hex length")
    var bytes: [UInt8] = []
    bytes.reserveCapacity(digits.count / 2)
    var index = digits.startIndex
    while index < digits.endIndex {
        let next = digits.index(index, offsetBy: 2)
        bytes.append(UInt8(digits[index..<next], radix: 16)!)
        index = next
    }
    return bytes
}

func hexString(_ bytes: some Sequence<UInt8>) -> String {
    bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
}

/// Deterministic key material for a suite (distinct per `seed`).
func testKeyMaterial(_ suite: ESPCipherSuite, seed: UInt8 = 1) -> [UInt8] {
    (0..<suite.keyMaterialLength).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(seed) &* 17 &+ 3) }
}

let testEpoch = ContinuousClock.now

/// A sending and a receiving SA keyed alike, as the two ends of one CHILD_SA direction.
func makeSAPair(_ suite: ESPCipherSuite, spi: UInt32 = 0xC0FF_EE01, extendedSequenceNumbers: Bool = false,
                replayWindowSize: Int = 1024, lifetime: ESPLifetime = .unlimited) throws -> (ESPOutboundSA, ESPInboundSA) {
    let configuration = ESPSAConfiguration(spi: spi, suite: suite, keyMaterial: testKeyMaterial(suite),
                                           extendedSequenceNumbers: extendedSequenceNumbers,
                                           lifetime: lifetime, replayWindowSize: replayWindowSize)
    return (try configuration.makeOutboundSA(installedAt: testEpoch),
            try configuration.makeInboundSA(installedAt: testEpoch))
}

/// A buffer holding one inner packet with the headroom and tailroom an outbound SA asks for.
struct PacketBuffer: ~Copyable {
    let storage: UnsafeMutableRawBufferPointer
    let payload: Range<Int>

    init(payload bytes: [UInt8], headroom: Int, tailroom: Int) {
        storage = .allocate(byteCount: headroom + bytes.count + tailroom, alignment: 16)
        storage.initializeMemory(as: UInt8.self, repeating: 0xEE)
        payload = headroom..<headroom + bytes.count
        for (offset, byte) in bytes.enumerated() { storage[headroom + offset] = byte }
    }

    init(for sa: ESPOutboundSA, payload bytes: [UInt8]) {
        self.init(payload: bytes, headroom: sa.headroom + 28, tailroom: sa.maximumTailroom)
    }

    deinit { storage.deallocate() }

    func bytes(_ range: Range<Int>) -> [UInt8] { Array(storage[range]) }
}

/// An IPv4-looking payload of `length` bytes.
func innerPacket(length: Int, seed: UInt8 = 0) -> [UInt8] {
    (0..<length).map { $0 == 0 ? 0x45 : UInt8(truncatingIfNeeded: $0 &+ Int(seed)) }
}

/// Seals `payload` and returns a copy of the ESP packet bytes.
func sealToBytes(_ sa: ESPOutboundSA, payload: [UInt8], nextHeader: ESPNextHeader = .ipv4) -> [UInt8]? {
    let buffer = PacketBuffer(for: sa, payload: payload)
    guard case .sealed(let range) = sa.seal(buffer.storage, payload: buffer.payload, nextHeader: nextHeader) else {
        return nil
    }
    return buffer.bytes(range)
}

/// Opens a copy of `packet`; returns the result and the inner bytes when it was accepted.
func openBytes(_ sa: ESPInboundSA, _ packet: [UInt8]) -> (ESPOpenResult, [UInt8]?) {
    let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: max(packet.count, 1), alignment: 16)
    defer { storage.deallocate() }
    storage.copyBytes(from: packet)
    let result = sa.open(storage, packet: 0..<packet.count)
    if case .payload(let range, _) = result { return (result, Array(storage[range])) }
    return (result, nil)
}
