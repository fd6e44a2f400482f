// CHILD SA lifetimes as the IKE driver applies them (RFC 4301 §4.4.2.1): a soft limit — time or
// bytes, whichever is reached first — starts a make-before-break rekey; a hard byte limit ends
// the SA. Pure: the driver feeds `now` and the byte counters it reads from the data plane.

/// The configured CHILD SA lifetimes of a tunnel.
public struct ChildSALifetimePolicy: Sendable, Hashable {
    /// Soft time limit: rekey this long after installation (less the jitter); nil: never.
    public var rekeyAfter: Duration?
    /// Soft byte limit: rekey once this many bytes went through the SA in either direction (less
    /// the jitter); nil: no byte limit.
    public var rekeyAfterBytes: UInt64?
    /// Hard byte limit: the SA must carry no more (the ESP core refuses past it) and is deleted.
    public var hardBytes: UInt64?

    public init(rekeyAfter: Duration? = nil, rekeyAfterBytes: UInt64? = nil, hardBytes: UInt64? = nil) {
        self.rekeyAfter = rekeyAfter
        self.rekeyAfterBytes = rekeyAfterBytes
        self.hardBytes = hardBytes
    }

    /// The hard limit for a soft byte limit when none is configured: 10 % above it (strongSwan's
    /// life_bytes default), so a rekey started at the soft limit has room to finish.
    public static func defaultHardBytes(forSoft soft: UInt64) -> UInt64 {
        soft > UInt64.max / 11 * 10 ? .max : soft + soft / 10
    }
}

/// Why a CHILD SA is due for a rekey or has expired.
public enum ChildSALifetimeLimit: String, Sendable, Hashable {
    case time
    case bytes
}

/// One installed CHILD SA's progress towards its limits.
public struct ChildSAUsage: Sendable, Hashable {
    public enum Verdict: Sendable, Hashable {
        case active
        /// A soft limit is reached: rekey now (make-before-break).
        case rekey(ChildSALifetimeLimit)
        /// The hard byte limit is reached: the SA carries nothing more; delete it.
        case expired
    }

    public var inboundSPI: UInt32
    public var installedAt: IKEInstant
    /// Jittered soft limits.
    public var rekeyAt: IKEInstant?
    public var softBytes: UInt64?
    public var hardBytes: UInt64?
    /// The tunnel's cumulative byte counters when the SA was installed.
    public var baselineIn: UInt64
    public var baselineOut: UInt64
    /// A rekey was started for this SA (by a soft limit); not asked for again.
    public var rekeyStarted = false
    /// The hard limit was acted on.
    public var expiryHandled = false

    /// - Parameter jitter: the fraction (0 ..< 0.1) taken off both soft limits, so the two ends
    ///   and many tunnels do not rekey in step.
    public init(inboundSPI: UInt32, installedAt: IKEInstant, policy: ChildSALifetimePolicy, jitter: Double,
                bytesIn: UInt64, bytesOut: UInt64) {
        self.inboundSPI = inboundSPI
        self.installedAt = installedAt
        let keep = 1.0 - min(max(jitter, 0), 0.1)
        rekeyAt = policy.rekeyAfter.map { installedAt + $0 * keep }
        softBytes = policy.rekeyAfterBytes.map { max(1, UInt64(Double($0) * keep)) }
        hardBytes = policy.hardBytes ?? policy.rekeyAfterBytes.map(ChildSALifetimePolicy.defaultHardBytes(forSoft:))
        baselineIn = bytesIn
        baselineOut = bytesOut
    }

    /// Bytes carried since installation: the busier direction (each direction is its own SA,
    /// RFC 4301 §4.4.2.1, and either reaching the limit rekeys the pair).
    public func bytesCarried(bytesIn: UInt64, bytesOut: UInt64) -> UInt64 {
        let inbound = bytesIn >= baselineIn ? bytesIn - baselineIn : 0
        let outbound = bytesOut >= baselineOut ? bytesOut - baselineOut : 0
        return max(inbound, outbound)
    }

    /// Whether the SA has a byte limit at all (the driver reads counters only then).
    public var hasByteLimits: Bool { softBytes != nil || hardBytes != nil }

    /// Hard before soft; within soft, bytes before time.
    public func verdict(now: IKEInstant, bytesIn: UInt64, bytesOut: UInt64) -> Verdict {
        let carried = bytesCarried(bytesIn: bytesIn, bytesOut: bytesOut)
        if let hardBytes, carried >= hardBytes { return .expired }
        if let softBytes, carried >= softBytes { return .rekey(.bytes) }
        if let rekeyAt, rekeyAt <= now { return .rekey(.time) }
        return .active
    }
}
