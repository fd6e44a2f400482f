/// SA lifetime limits (RFC 4301 §4.4.2.1): soft ones ask for a rekey, hard ones end the SA.
/// nil means no limit of that kind.
public struct ESPLifetime: Sendable, Hashable {
    public var softBytes: UInt64?
    public var hardBytes: UInt64?
    public var softTime: Duration?
    public var hardTime: Duration?

    public init(softBytes: UInt64? = nil, hardBytes: UInt64? = nil,
                softTime: Duration? = nil, hardTime: Duration? = nil) {
        self.softBytes = softBytes
        self.hardBytes = hardBytes
        self.softTime = softTime
        self.hardTime = hardTime
    }

    public static let unlimited = ESPLifetime()
}

/// Which limit an SA has reached.
public enum ESPLifetimeLimit: Sendable, Hashable {
    case bytes
    case time
    /// The sequence counter is near (soft) or at (hard) its end; only rekeying helps.
    case sequenceNumbers
}

public enum ESPLifetimeState: Sendable, Hashable {
    case active
    /// Rekey now; traffic still flows.
    case soft(ESPLifetimeLimit)
    /// The SA must not carry traffic any more.
    case hard(ESPLifetimeLimit)

    public var isExpired: Bool {
        switch self {
        case .hard: true
        case .active, .soft: false
        }
    }
}

extension ESPLifetime {
    /// Hard limits win over soft ones; within a kind, bytes, then time, then sequence numbers.
    func state(bytes: UInt64, elapsed: Duration, sequenceNumbersLeft: UInt64) -> ESPLifetimeState {
        if let hardBytes, bytes >= hardBytes { return .hard(.bytes) }
        if let hardTime, elapsed >= hardTime { return .hard(.time) }
        if sequenceNumbersLeft == 0 { return .hard(.sequenceNumbers) }
        if let softBytes, bytes >= softBytes { return .soft(.bytes) }
        if let softTime, elapsed >= softTime { return .soft(.time) }
        if sequenceNumbersLeft <= ESPLifetime.sequenceNumberSoftMargin { return .soft(.sequenceNumbers) }
        return .active
    }

    /// Ask for a rekey when this few sequence numbers remain (2^24: seconds at line rate).
    static let sequenceNumberSoftMargin: UInt64 = 1 << 24
}
