/// In-process seal/open throughput of one SA pair, for `vpngw bench`. Meaningful only in a
/// release build. Uses fixed test keys; measures crypto and ESP framing, no I/O.
public enum ESPMicroBenchmark {
    public struct Result: Sendable, Hashable, CustomStringConvertible {
        public let suite: ESPCipherSuite
        public let payloadLength: Int
        public let packets: Int
        public let sealNanosecondsPerPacket: Double
        public let openNanosecondsPerPacket: Double
        /// Packets that did not round-trip; anything but 0 means the figures are not to be trusted.
        public let failedPackets: Int

        public var description: String {
            "\(suite) \(payloadLength) B: seal \(Int(sealNanosecondsPerPacket)) ns/pkt, "
                + "open \(Int(openNanosecondsPerPacket)) ns/pkt"
        }
    }

    /// Seals `packets` packets of `payloadLength` bytes, then opens each one; reports ns/packet.
    public static func run(suite: ESPCipherSuite, payloadLength: Int = 1400, packets: Int = 200_000) throws(ESPConfigurationError) -> Result {
        let packets = max(packets, 1)
        let keyMaterial = (0..<suite.keyMaterialLength).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 1) }
        let configuration = ESPSAConfiguration(spi: 0x1000_0001, suite: suite, keyMaterial: keyMaterial,
                                               replayWindowSize: 1024)
        let installedAt = ContinuousClock.now
        let outbound = try configuration.makeOutboundSA(installedAt: installedAt)
        let inbound = try configuration.makeInboundSA(installedAt: installedAt)
        let headroom = outbound.headroom
        let stride = (headroom + payloadLength + outbound.maximumTailroom + 63) & ~63
        let batchSize = 256
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: stride * batchSize, alignment: 64)
        defer { buffer.deallocate() }
        buffer.initializeMemory(as: UInt8.self, repeating: 0x45)
        var sealedRanges = [Range<Int>](repeating: 0..<0, count: batchSize)

        let clock = ContinuousClock()
        var sealTime = Duration.zero
        var openTime = Duration.zero
        var failures = 0
        var remaining = packets
        // Batches, as the data plane works: seal a batch, then open it, each timed as a whole.
        while remaining > 0 {
            let count = min(batchSize, remaining)
            remaining -= count
            let sealStart = clock.now
            for slot in 0..<count {
                let payloadStart = slot * stride + headroom
                switch outbound.seal(buffer, payload: payloadStart..<payloadStart + payloadLength, nextHeader: .ipv4) {
                case .sealed(let range): sealedRanges[slot] = range
                case .refused: failures += 1
                }
            }
            let openStart = clock.now
            for slot in 0..<count {
                if case .dropped = inbound.open(buffer, packet: sealedRanges[slot]) { failures += 1 }
            }
            let openEnd = clock.now
            sealTime += sealStart.duration(to: openStart)
            openTime += openStart.duration(to: openEnd)
        }
        return Result(suite: suite, payloadLength: payloadLength, packets: packets,
                      sealNanosecondsPerPacket: nanoseconds(sealTime) / Double(packets),
                      openNanosecondsPerPacket: nanoseconds(openTime) / Double(packets),
                      failedPackets: failures)
    }

    /// Every suite in `ESPCipherSuite.all`.
    public static func runAll(payloadLength: Int = 1400, packets: Int = 200_000) throws(ESPConfigurationError) -> [Result] {
        var results: [Result] = []
        for suite in ESPCipherSuite.all {
            results.append(try run(suite: suite, payloadLength: payloadLength, packets: packets))
        }
        return results
    }

    private static func nanoseconds(_ duration: Duration) -> Double {
        let (seconds, attoseconds) = duration.components
        return Double(seconds) * 1e9 + Double(attoseconds) / 1e9
    }
}
