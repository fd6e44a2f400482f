/// Why an inbound packet was dropped. Every drop is counted under exactly one reason.
public enum ESPDropReason: Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// Shorter than header ‖ IV ‖ minimum ciphertext ‖ ICV.
    case truncated
    /// CBC ciphertext that is not a whole number of blocks.
    case misalignedCiphertext
    /// The SPI names no SA here (or not the SA it was handed to).
    case unknownSPI
    /// Inside the replay window and already received (RFC 4303 §3.4.3).
    case replayed
    /// Behind the replay window, or sequence number 0.
    case outsideWindow
    /// ICV mismatch (RFC 4303 §3.4.4).
    case authenticationFailed
    /// Pad length longer than the payload, or padding bytes not 1, 2, 3, … (RFC 4303 §2.4).
    case badPadding
    /// Next header 59: a dummy/TFC packet, discarded by design (RFC 4303 §2.6).
    case dummyPacket
    /// Tunnel mode carries only IPv4 (4) and IPv6 (41).
    case unsupportedNextHeader
    /// The SA's hard byte lifetime is used up.
    case lifetimeExpired

    public var description: String {
        switch self {
        case .truncated: "truncated"
        case .misalignedCiphertext: "misaligned-ciphertext"
        case .unknownSPI: "unknown-spi"
        case .replayed: "replayed"
        case .outsideWindow: "outside-replay-window"
        case .authenticationFailed: "authentication-failed"
        case .badPadding: "bad-padding"
        case .dummyPacket: "dummy-packet"
        case .unsupportedNextHeader: "unsupported-next-header"
        case .lifetimeExpired: "lifetime-expired"
        }
    }
}

/// One counter per drop reason, stored inline (no heap, no copy-on-write).
public struct ESPDropCounters: Sendable, Hashable {
    public private(set) var truncated: UInt64 = 0
    public private(set) var misalignedCiphertext: UInt64 = 0
    public private(set) var unknownSPI: UInt64 = 0
    public private(set) var replayed: UInt64 = 0
    public private(set) var outsideWindow: UInt64 = 0
    public private(set) var authenticationFailed: UInt64 = 0
    public private(set) var badPadding: UInt64 = 0
    public private(set) var dummyPacket: UInt64 = 0
    public private(set) var unsupportedNextHeader: UInt64 = 0
    public private(set) var lifetimeExpired: UInt64 = 0

    public init() {}

    public subscript(reason: ESPDropReason) -> UInt64 {
        switch reason {
        case .truncated: truncated
        case .misalignedCiphertext: misalignedCiphertext
        case .unknownSPI: unknownSPI
        case .replayed: replayed
        case .outsideWindow: outsideWindow
        case .authenticationFailed: authenticationFailed
        case .badPadding: badPadding
        case .dummyPacket: dummyPacket
        case .unsupportedNextHeader: unsupportedNextHeader
        case .lifetimeExpired: lifetimeExpired
        }
    }

    public mutating func record(_ reason: ESPDropReason) {
        switch reason {
        case .truncated: truncated &+= 1
        case .misalignedCiphertext: misalignedCiphertext &+= 1
        case .unknownSPI: unknownSPI &+= 1
        case .replayed: replayed &+= 1
        case .outsideWindow: outsideWindow &+= 1
        case .authenticationFailed: authenticationFailed &+= 1
        case .badPadding: badPadding &+= 1
        case .dummyPacket: dummyPacket &+= 1
        case .unsupportedNextHeader: unsupportedNextHeader &+= 1
        case .lifetimeExpired: lifetimeExpired &+= 1
        }
    }

    public var total: UInt64 {
        truncated &+ misalignedCiphertext &+ unknownSPI &+ replayed &+ outsideWindow &+ authenticationFailed
            &+ badPadding &+ dummyPacket &+ unsupportedNextHeader &+ lifetimeExpired
    }
}

/// Why an outbound SA refused to seal a packet. Counted like drops.
public enum ESPSealRefusal: Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// The sequence counter would wrap (RFC 4303 §3.3.3): the SA must be rekeyed.
    case sequenceNumberExhausted
    /// The hard byte lifetime is used up.
    case lifetimeExpired
    /// Less room before the payload than `headroom`.
    case insufficientHeadroom
    /// Less room after the payload than `tailroom(forPayloadLength:)`.
    case insufficientTailroom
    /// The cipher reported an error (should never happen with valid keys).
    case cipherFailure

    public var description: String {
        switch self {
        case .sequenceNumberExhausted: "sequence-number-exhausted"
        case .lifetimeExpired: "lifetime-expired"
        case .insufficientHeadroom: "insufficient-headroom"
        case .insufficientTailroom: "insufficient-tailroom"
        case .cipherFailure: "cipher-failure"
        }
    }
}

public struct ESPSealRefusalCounters: Sendable, Hashable {
    public private(set) var sequenceNumberExhausted: UInt64 = 0
    public private(set) var lifetimeExpired: UInt64 = 0
    public private(set) var insufficientHeadroom: UInt64 = 0
    public private(set) var insufficientTailroom: UInt64 = 0
    public private(set) var cipherFailure: UInt64 = 0

    public init() {}

    public subscript(reason: ESPSealRefusal) -> UInt64 {
        switch reason {
        case .sequenceNumberExhausted: sequenceNumberExhausted
        case .lifetimeExpired: lifetimeExpired
        case .insufficientHeadroom: insufficientHeadroom
        case .insufficientTailroom: insufficientTailroom
        case .cipherFailure: cipherFailure
        }
    }

    public mutating func record(_ reason: ESPSealRefusal) {
        switch reason {
        case .sequenceNumberExhausted: sequenceNumberExhausted &+= 1
        case .lifetimeExpired: lifetimeExpired &+= 1
        case .insufficientHeadroom: insufficientHeadroom &+= 1
        case .insufficientTailroom: insufficientTailroom &+= 1
        case .cipherFailure: cipherFailure &+= 1
        }
    }

    public var total: UInt64 {
        sequenceNumberExhausted &+ lifetimeExpired &+ insufficientHeadroom &+ insufficientTailroom &+ cipherFailure
    }
}

/// Traffic through one inbound SA. `bytes` counts inner (decapsulated) packet bytes.
public struct ESPInboundCounters: Sendable, Hashable {
    public internal(set) var packets: UInt64 = 0
    public internal(set) var bytes: UInt64 = 0
    public internal(set) var drops = ESPDropCounters()
    public init() {}
}

/// Traffic through one outbound SA. `bytes` counts inner (pre-encapsulation) packet bytes.
public struct ESPOutboundCounters: Sendable, Hashable {
    public internal(set) var packets: UInt64 = 0
    public internal(set) var bytes: UInt64 = 0
    public internal(set) var refusals = ESPSealRefusalCounters()
    public init() {}
}
