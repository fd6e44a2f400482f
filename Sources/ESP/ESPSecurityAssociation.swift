/// Next Header values a tunnel-mode SA carries (RFC 4303 §2.7).
public enum ESPNextHeader: UInt8, Sendable, Hashable {
    case ipv4 = 4
    case ipv6 = 41

    /// RFC 4303 §2.6: a dummy packet, to be discarded.
    public static let dummyPacket: UInt8 = 59
}

public enum ESPSealResult: Sendable, Hashable {
    /// The ESP packet (header through ICV) now occupies this range of the buffer.
    case sealed(Range<Int>)
    case refused(ESPSealRefusal)
}

public enum ESPOpenResult: Sendable, Hashable {
    /// The inner IP packet now occupies this range of the buffer.
    case payload(Range<Int>, ESPNextHeader)
    case dropped(ESPDropReason)
}

/// Everything IKE negotiates for one SA direction, as a value that can cross threads.
/// The data plane turns it into an `ESPOutboundSA` or `ESPInboundSA` on its own thread.
public struct ESPSAConfiguration: Sendable, Hashable {
    public var spi: UInt32
    public var suite: ESPCipherSuite
    /// This direction's KEYMAT slice, `suite.keyMaterialLength` bytes (RFC 7296 §2.17).
    public var keyMaterial: [UInt8]
    public var extendedSequenceNumbers: Bool
    public var lifetime: ESPLifetime
    public var replayWindowSize: Int

    public init(spi: UInt32, suite: ESPCipherSuite, keyMaterial: [UInt8], extendedSequenceNumbers: Bool = false,
                lifetime: ESPLifetime = .unlimited, replayWindowSize: Int = ESPReplayWindow.defaultSize) {
        self.spi = spi
        self.suite = suite
        self.keyMaterial = keyMaterial
        self.extendedSequenceNumbers = extendedSequenceNumbers
        self.lifetime = lifetime
        self.replayWindowSize = replayWindowSize
    }

    public func makeOutboundSA(installedAt: ContinuousClock.Instant) throws(ESPConfigurationError) -> ESPOutboundSA {
        try ESPOutboundSA(spi: spi, transform: try suite.makeTransform(keyMaterial: keyMaterial),
                      extendedSequenceNumbers: extendedSequenceNumbers, lifetime: lifetime, installedAt: installedAt)
    }

    public func makeInboundSA(installedAt: ContinuousClock.Instant) throws(ESPConfigurationError) -> ESPInboundSA {
        try ESPInboundSA(spi: spi, transform: try suite.makeTransform(keyMaterial: keyMaterial),
                         extendedSequenceNumbers: extendedSequenceNumbers, replayWindowSize: replayWindowSize,
                         lifetime: lifetime, installedAt: installedAt)
    }
}

/// The sending half of a CHILD_SA: RFC 4303 §3.1 outbound processing, in place.
///
/// Buffer contract: the inner packet sits at `payload` with at least `headroom` bytes before it
/// (the outer IP/UDP headers go before that, at the caller's choice) and
/// `tailroom(forPayloadLength:)` (at most `maximumTailroom`) bytes after it.
/// Invariant: a sequence number is used at most once, and the counter never wraps.
public final class ESPOutboundSA {
    public let spi: UInt32
    public let extendedSequenceNumbers: Bool
    public let lifetime: ESPLifetime
    public let installedAt: ContinuousClock.Instant
    public let transform: any ESPTransform
    public private(set) var counters = ESPOutboundCounters()
    /// The last sequence number sent; 0 before the first packet (RFC 4303 §3.3.3 starts at 1).
    public private(set) var lastSequenceNumber: UInt64 = 0

    public init(spi: UInt32, transform: any ESPTransform, extendedSequenceNumbers: Bool,
                lifetime: ESPLifetime = .unlimited, installedAt: ContinuousClock.Instant) throws(ESPConfigurationError) {
        try transform.prepare(for: .outbound)
        self.spi = spi
        self.transform = transform
        self.extendedSequenceNumbers = extendedSequenceNumbers
        self.lifetime = lifetime
        self.installedAt = installedAt
    }

    /// 2^32 - 1 without ESN, 2^64 - 1 with it.
    public var maximumSequenceNumber: UInt64 {
        extendedSequenceNumbers ? .max : UInt64(UInt32.max)
    }

    /// ESP header and IV in front of the payload.
    public var headroom: Int { ESPHeader.length + transform.ivLength }

    /// Padding, pad length, next header and ICV after a payload of this length.
    public func tailroom(forPayloadLength payloadLength: Int) -> Int {
        paddingLength(forPayloadLength: payloadLength) + ESPHeader.trailerLength + transform.icvLength
    }

    /// The largest `tailroom(forPayloadLength:)` can be.
    public var maximumTailroom: Int {
        transform.paddingAlignment - 1 + ESPHeader.trailerLength + transform.icvLength
    }

    /// RFC 4303 §2.4: payload ‖ padding ‖ 2-byte trailer fills whole alignment units.
    private func paddingLength(forPayloadLength payloadLength: Int) -> Int {
        let alignment = transform.paddingAlignment
        let remainder = (payloadLength + ESPHeader.trailerLength) % alignment
        return remainder == 0 ? 0 : alignment - remainder
    }

    public func lifetimeState(now: ContinuousClock.Instant) -> ESPLifetimeState {
        lifetime.state(bytes: counters.bytes, elapsed: installedAt.duration(to: now),
                       sequenceNumbersLeft: maximumSequenceNumber - lastSequenceNumber)
    }

    /// Encapsulates the inner packet at `payload` in place. Never allocates.
    public func seal(_ buffer: UnsafeMutableRawBufferPointer, payload: Range<Int>,
                     nextHeader: ESPNextHeader) -> ESPSealResult {
        guard lastSequenceNumber < maximumSequenceNumber else { return refuse(.sequenceNumberExhausted) }
        if let hardBytes = lifetime.hardBytes, counters.bytes >= hardBytes { return refuse(.lifetimeExpired) }
        guard payload.lowerBound >= headroom else { return refuse(.insufficientHeadroom) }
        let padding = paddingLength(forPayloadLength: payload.count)
        let packetEnd = payload.upperBound + padding + ESPHeader.trailerLength + transform.icvLength
        guard packetEnd <= buffer.count else {
            return refuse(.insufficientTailroom)
        }

        let sequenceNumber = lastSequenceNumber + 1
        lastSequenceNumber = sequenceNumber
        let packetStart = payload.lowerBound - headroom
        buffer.storeBigEndian(spi, at: packetStart + ESPHeader.spiOffset)
        buffer.storeBigEndian(UInt32(truncatingIfNeeded: sequenceNumber), at: packetStart + ESPHeader.sequenceNumberOffset)
        var cursor = payload.upperBound
        if padding > 0 {
            for value in 1...padding {
                buffer[cursor] = UInt8(truncatingIfNeeded: value)
                cursor += 1
            }
        }
        buffer[cursor] = UInt8(truncatingIfNeeded: padding)
        buffer[cursor + 1] = nextHeader.rawValue

        let packet = UnsafeMutableRawBufferPointer(rebasing: buffer[packetStart..<packetEnd])
        guard transform.seal(packet: packet, sequenceNumber: sequenceNumber,
                             extendedSequenceNumbers: extendedSequenceNumbers) else {
            return refuse(.cipherFailure)
        }
        counters.packets &+= 1
        counters.bytes &+= UInt64(payload.count)
        return .sealed(packetStart..<packetEnd)
    }

    private func refuse(_ reason: ESPSealRefusal) -> ESPSealResult {
        counters.refusals.record(reason)
        return .refused(reason)
    }

    /// Test hook: continue the counter from `sequenceNumber` (as if that many had been sent).
    func skipSequenceNumbers(to sequenceNumber: UInt64) {
        lastSequenceNumber = sequenceNumber
    }
}

/// The receiving half of a CHILD_SA: RFC 4303 §3.4 inbound processing, in place.
///
/// Order (RFC 4303 §3.4.3–3.4.4): length and SPI checks, replay check on the reconstructed
/// sequence number, ICV verification and decryption, then the window is marked, then the
/// trailer is checked and stripped. A packet that fails authentication never touches the window.
public final class ESPInboundSA {
    public let spi: UInt32
    public let lifetime: ESPLifetime
    public let installedAt: ContinuousClock.Instant
    public let transform: any ESPTransform
    public private(set) var counters = ESPInboundCounters()
    private var replayWindow: ESPReplayWindow

    public init(spi: UInt32, transform: any ESPTransform, extendedSequenceNumbers: Bool,
                replayWindowSize: Int = ESPReplayWindow.defaultSize,
                lifetime: ESPLifetime = .unlimited, installedAt: ContinuousClock.Instant) throws(ESPConfigurationError) {
        try transform.prepare(for: .inbound)
        self.spi = spi
        self.transform = transform
        self.lifetime = lifetime
        self.installedAt = installedAt
        replayWindow = try ESPReplayWindow(size: replayWindowSize, extendedSequenceNumbers: extendedSequenceNumbers)
    }

    public var extendedSequenceNumbers: Bool { replayWindow.extendedSequenceNumbers }
    public var replayWindowSize: Int { replayWindow.size }
    /// The highest authenticated sequence number received (full 64 bits with ESN).
    public var highestSequenceNumber: UInt64 { replayWindow.highest }

    /// Sequence numbers do not run out on the receiving side; only bytes and time apply.
    public func lifetimeState(now: ContinuousClock.Instant) -> ESPLifetimeState {
        lifetime.state(bytes: counters.bytes, elapsed: installedAt.duration(to: now), sequenceNumbersLeft: .max)
    }

    /// Decapsulates the ESP packet at `packet` in place. Never throws or allocates; every drop is
    /// counted in `counters.drops`.
    public func open(_ buffer: UnsafeMutableRawBufferPointer, packet: Range<Int>) -> ESPOpenResult {
        let ivLength = transform.ivLength
        let icvLength = transform.icvLength
        let blockLength = transform.ciphertextBlockLength
        let minimumCiphertext = max(blockLength, ESPHeader.trailerLength)
        guard packet.lowerBound >= 0, packet.upperBound <= buffer.count,
              packet.count >= ESPHeader.length + ivLength + minimumCiphertext + icvLength else {
            return drop(.truncated)
        }
        let bytes = UnsafeMutableRawBufferPointer(rebasing: buffer[packet])
        guard bytes.loadBigEndianUInt32(at: ESPHeader.spiOffset) == spi else { return drop(.unknownSPI) }
        let ciphertextLength = bytes.count - ESPHeader.length - ivLength - icvLength
        guard ciphertextLength % blockLength == 0 else { return drop(.misalignedCiphertext) }
        if let hardBytes = lifetime.hardBytes, counters.bytes >= hardBytes { return drop(.lifetimeExpired) }

        let low = bytes.loadBigEndianUInt32(at: ESPHeader.sequenceNumberOffset)
        guard let sequenceNumber = replayWindow.reconstruct(low: low) else { return drop(.outsideWindow) }
        switch replayWindow.check(sequenceNumber) {
        case .fresh: break
        case .replayed: return drop(.replayed)
        case .outsideWindow: return drop(.outsideWindow)
        }
        let high: UInt32? = replayWindow.extendedSequenceNumbers ? UInt32(truncatingIfNeeded: sequenceNumber >> 32) : nil
        guard transform.open(packet: bytes, sequenceNumberHigh: high) else { return drop(.authenticationFailed) }
        replayWindow.mark(sequenceNumber)

        let nextHeaderOffset = bytes.count - icvLength - 1
        let nextHeaderValue = bytes[nextHeaderOffset]
        if nextHeaderValue == ESPNextHeader.dummyPacket { return drop(.dummyPacket) }
        let paddingLength = Int(bytes[nextHeaderOffset - 1])
        let payloadLength = ciphertextLength - ESPHeader.trailerLength - paddingLength
        guard payloadLength >= 0 else { return drop(.badPadding) }
        let payloadStart = ESPHeader.length + ivLength
        let paddingStart = payloadStart + payloadLength
        for index in 0..<paddingLength where bytes[paddingStart + index] != UInt8(truncatingIfNeeded: index + 1) {
            return drop(.badPadding)
        }
        guard let nextHeader = ESPNextHeader(rawValue: nextHeaderValue) else { return drop(.unsupportedNextHeader) }

        counters.packets &+= 1
        counters.bytes &+= UInt64(payloadLength)
        let innerStart = packet.lowerBound + payloadStart
        return .payload(innerStart..<innerStart + payloadLength, nextHeader)
    }

    private func drop(_ reason: ESPDropReason) -> ESPOpenResult {
        counters.drops.record(reason)
        return .dropped(reason)
    }

    /// Test hook: mark `sequenceNumber` as received, as if its packet had arrived.
    func markReceived(_ sequenceNumber: UInt64) {
        replayWindow.mark(sequenceNumber)
    }
}
