// The vocabulary of the pure IKE SA state machine: configuration, events in, actions out.
// No sockets, clocks or timers here (ARCHITECTURE.md §2): the NIO layer feeds events with `now`
// and carries out the actions.
import Crypto

/// A monotonic instant supplied by the caller (a mock clock in tests).
public struct IKEInstant: Comparable, Hashable, Sendable, CustomStringConvertible {
    public var nanoseconds: Int64

    public init(nanoseconds: Int64) { self.nanoseconds = nanoseconds }

    public static let zero = IKEInstant(nanoseconds: 0)

    public static func < (lhs: IKEInstant, rhs: IKEInstant) -> Bool { lhs.nanoseconds < rhs.nanoseconds }

    public static func + (lhs: IKEInstant, rhs: Duration) -> IKEInstant {
        let (seconds, attoseconds) = rhs.components
        return IKEInstant(nanoseconds: lhs.nanoseconds + seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }

    public var description: String { "t+\(Double(nanoseconds) / 1e9)s" }
}

/// An IP address (4 or 16 bytes) and UDP port, as NAT detection hashes them (RFC 7296 §2.23).
public struct IKEEndpoint: Hashable, Sendable, CustomStringConvertible {
    public var address: [UInt8]
    public var port: UInt16

    public init(address: [UInt8], port: UInt16 = 500) {
        self.address = address
        self.port = port
    }

    /// The identity a gateway uses by default: its own address (as Azure's gateways do).
    public var identification: IdentificationPayload {
        IdentificationPayload(idType: address.count == 4 ? .ipv4Address : .ipv6Address, data: address)
    }

    public var description: String {
        let host = address.count == 4 ? address.map(String.init).joined(separator: ".") : hexString(address)
        return "\(host):\(port)"
    }
}

/// RFC 7296 §2.1 retransmission, with strongSwan's defaults (4 s, ×1.8, 5 retransmits).
public struct RetransmissionPolicy: Hashable, Sendable {
    public var initialTimeout: Duration
    public var backoffBase: Double
    public var maximumRetransmits: Int
    /// Cap on any single interval (capped backoff).
    public var maximumTimeout: Duration

    public init(initialTimeout: Duration = .seconds(4), backoffBase: Double = 1.8, maximumRetransmits: Int = 5,
                maximumTimeout: Duration = .seconds(60)) {
        self.initialTimeout = initialTimeout
        self.backoffBase = backoffBase
        self.maximumRetransmits = maximumRetransmits
        self.maximumTimeout = maximumTimeout
    }

    /// The wait after transmission number `attempt` (0 = the first send).
    public func timeout(afterAttempt attempt: Int) -> Duration {
        var factor = 1.0
        for _ in 0..<attempt { factor *= backoffBase }
        let scaled = initialTimeout * factor
        return scaled > maximumTimeout ? maximumTimeout : scaled
    }
}

/// Everything one IKE SA needs to know about its peer.
public struct IKEPeerConfiguration: Sendable {
    public var local: IKEEndpoint
    public var remote: IKEEndpoint
    public var localIdentity: IdentificationPayload
    /// nil accepts any identity the peer proves with the PSK.
    public var remoteIdentity: IdentificationPayload?
    public var preSharedKey: [UInt8]
    public var ikeSuites: [IKECipherSuite]
    public var childSuites: [ChildCipherSuite]
    public var trafficSelectors: TrafficSelectorPolicy
    public var retransmission: RetransmissionPolicy
    /// Largest IKE message sent whole once fragmentation is negotiated: 1280-byte IPv4 datagram
    /// (strongSwan's fragment_size) less IP, UDP and the non-ESP marker.
    public var maximumMessageLength: Int
    /// Fake our NAT-D source hash so ESP is always UDP-encapsulated (RFC 3948), as the userspace
    /// data plane requires (RFC 7296 §2.23 allows it).
    public var forceUDPEncapsulation: Bool = false
    /// RFC 7296 §2.4 / §3.10.1: send N(INITIAL_CONTACT) in our IKE_AUTH request, asserting that this
    /// is the only IKE SA between us and the peer (the driver clears it while it holds another).
    public var sendInitialContact: Bool = true

    public init(local: IKEEndpoint, remote: IKEEndpoint, localIdentity: IdentificationPayload? = nil,
                remoteIdentity: IdentificationPayload? = nil, preSharedKey: [UInt8],
                ikeSuites: [IKECipherSuite] = DefaultProposals.vpngwDefault.ike,
                childSuites: [ChildCipherSuite] = DefaultProposals.vpngwDefault.child,
                trafficSelectors: TrafficSelectorPolicy = .routeBased,
                retransmission: RetransmissionPolicy = RetransmissionPolicy(), maximumMessageLength: Int = 1248) {
        self.local = local
        self.remote = remote
        self.localIdentity = localIdentity ?? local.identification
        self.remoteIdentity = remoteIdentity
        self.preSharedKey = preSharedKey
        self.ikeSuites = ikeSuites
        self.childSuites = childSuites
        self.trafficSelectors = trafficSelectors
        self.retransmission = retransmission
        self.maximumMessageLength = maximumMessageLength
    }
}

public enum IKETimer: Hashable, Sendable {
    /// The outstanding request's retransmission.
    case retransmit
    /// IKE SAs replaced by a rekey (or redundant after a rekey collision) that still answer the
    /// peer until it deletes them: retransmits our Delete, or forgets an SA whose Delete never came.
    case retiredSAs
}

public enum IKESAEvent: Sendable {
    /// Initiator only: begin IKE_SA_INIT.
    case start
    /// A datagram from the peer, non-ESP marker removed.
    case received([UInt8])
    case timerFired(IKETimer)
    /// Established SA: send an empty INFORMATIONAL request (RFC 7296 §2.4 liveness check, "DPD").
    case checkLiveness
    /// Established SA: delete the IKE SA and its CHILD SAs (RFC 7296 §1.4.1).
    case delete
    /// Established SA: replace the CHILD SA with this inbound SPI (CREATE_CHILD_SA + REKEY_SA,
    /// PFS when the first CHILD suite names a DH group), then delete the old one.
    case rekeyChildSA(inboundSPI: UInt32)
    /// Established SA: add a CHILD SA for these selectors (policy-based: one per prefix pair).
    case createChildSA(TrafficSelectorPolicy)
    /// Established SA: rekey the IKE SA itself (RFC 7296 §1.3.2): CREATE_CHILD_SA with an IKE
    /// proposal, new SPIs, KE and nonces; the CHILD SAs move to the new SA, the old one is deleted.
    case rekeyIKESA
    /// Established SA: delete the CHILD SA with this inbound SPI (INFORMATIONAL Delete, RFC 7296
    /// §1.4.1), e.g. when its hard lifetime is reached; `uninstallChildSA` follows the answer.
    case deleteChildSA(inboundSPI: UInt32)
}

/// A CHILD SA ready for the data plane, from this side's point of view.
public struct ChildSAInstallation: Hashable, Sendable {
    public var suite: ChildCipherSuite
    public var inboundSPI: UInt32
    public var outboundSPI: UInt32
    public var inboundKeys: ChildSADirectionKeys
    public var outboundKeys: ChildSADirectionKeys
    public var localSelectors: [TrafficSelector]
    public var remoteSelectors: [TrafficSelector]
}

/// Why a negotiation failed, precise enough to tell an operator what to change.
public enum IKEFailureCause: Hashable, Sendable, CustomStringConvertible {
    /// We found nothing acceptable in the peer's offer (ours vs theirs, transform by transform).
    case noProposalChosen(ProposalMismatch)
    /// The peer answered with an error notify (NO_PROPOSAL_CHOSEN, TS_UNACCEPTABLE, …).
    case refusedByPeer(NotifyType)
    /// The peer's AUTH did not verify with our pre-shared key.
    case pskMismatch
    /// The peer proved an identity other than the one configured.
    case identityMismatch(expected: IdentificationPayload, received: IdentificationPayload)
    /// The peer rejected our AUTH (AUTHENTICATION_FAILED): its PSK or its expected ID for us differ.
    case authenticationRejectedByPeer
    case trafficSelectorsUnacceptable(TrafficSelectorMismatch)
    /// INVALID_KE_PAYLOAD asked for a group we do not offer.
    case unacceptableKeyExchangeGroup(requested: UInt16)
    case noResponse(retransmits: Int)
    case malformedMessage(IKEMessageError)
    case cryptoFailure(IKECryptoError)
    case protocolViolation(String)

    public var description: String {
        switch self {
        case let .noProposalChosen(mismatch): return mismatch.description
        case let .refusedByPeer(notify): return "peer refused with \(notify)"
        case .pskMismatch: return "PSK mismatch: the peer's AUTH payload does not verify with our pre-shared key"
        case let .identityMismatch(expected, received):
            return "identity mismatch: expected \(expected.idType) \(hexString(expected.data)), peer is \(received.idType) \(hexString(received.data))"
        case .authenticationRejectedByPeer:
            return "peer answered AUTHENTICATION_FAILED: its pre-shared key or its expected identity for us differ"
        case let .trafficSelectorsUnacceptable(mismatch): return mismatch.description
        case let .unacceptableKeyExchangeGroup(group): return "peer requested DH group \(group), which we do not offer"
        case let .noResponse(retransmits): return "no answer after \(retransmits) retransmits"
        case let .malformedMessage(error): return "malformed message: \(error)"
        case let .cryptoFailure(error): return "crypto failure: \(error)"
        case let .protocolViolation(text): return "protocol violation: \(text)"
        }
    }
}

/// What happened, for logs, metrics and the connection's status.
public enum IKESAReport: Hashable, Sendable {
    case ikeSAEstablished(suite: IKECipherSuite, initiatorSPI: UInt64, responderSPI: UInt64)
    case childSAEstablished(suite: ChildCipherSuite, inboundSPI: UInt32, outboundSPI: UInt32)
    /// RFC 7296 §2.23: which side sits behind a NAT.
    case natDetected(localBehindNAT: Bool, remoteBehindNAT: Bool)
    case retryingWithKeyExchangeGroup(UInt16)
    case retryingWithCookie
    case failed(IKEFailureCause)
    /// The CHILD SA failed but the IKE SA stands (RFC 7296 §1.2).
    case childSAFailed(IKEFailureCause)
    case messageDropped(String)
    case deletedByPeer
    /// The peer deleted these CHILD SAs (our inbound SPIs); the data plane removes them.
    case childSAsDeletedByPeer(inboundSPIs: [UInt32])
    case livenessConfirmed
    /// A CHILD SA was replaced; the old one is removed by a later `uninstallChildSA`.
    case childSARekeyed(oldInboundSPI: UInt32, newInboundSPI: UInt32)
    /// Our Delete was answered (or went unanswered); the IKE SA and its CHILD SAs are gone.
    case deleted
    /// The IKE SA was rekeyed (RFC 7296 §1.3.2, §2.18): the same `IKESA` value now carries the new
    /// SPIs and keys and keeps its CHILD SAs. The old SA answers until it is deleted
    /// (`retiredIKESADeleted`); route datagrams by `IKESA.localSPIs`.
    case ikeSARekeyed(oldInitiatorSPI: UInt64, oldResponderSPI: UInt64, newInitiatorSPI: UInt64, newResponderSPI: UInt64)
    /// An IKE SA rekey did not happen (refused, TEMPORARY_FAILURE, no common proposal); the
    /// current IKE SA stands. Try again later.
    case ikeSARekeyFailed(IKEFailureCause)
    /// An old (rekeyed) or redundant (rekey collision) IKE SA is gone; its SPIs are no longer accepted.
    case retiredIKESADeleted(initiatorSPI: UInt64, responderSPI: UInt64)
    /// RFC 7296 §2.4: the authenticated peer sent N(INITIAL_CONTACT) in IKE_AUTH (reported after
    /// `ikeSAEstablished`): every other IKE SA with this peer, and its CHILD SAs, is stale and is
    /// to be deleted locally, without waiting.
    case initialContact
}

public enum IKESAAction: Hashable, Sendable {
    case send([UInt8])
    case installChildSA(ChildSAInstallation)
    /// Remove the CHILD SA with this inbound SPI (and its outbound partner) from the data plane.
    case uninstallChildSA(inboundSPI: UInt32)
    case armTimer(IKETimer, deadline: IKEInstant)
    case cancelTimer(IKETimer)
    case report(IKESAReport)
}

/// RFC 7296 §2.23: SHA-1(SPIi | SPIr | IP address | port).
public func natDetectionHash(initiatorSPI: UInt64, responderSPI: UInt64, endpoint: IKEEndpoint) -> [UInt8] {
    var input: [UInt8] = []
    input.appendU64(initiatorSPI)
    input.appendU64(responderSPI)
    input.append(contentsOf: endpoint.address)
    input.appendU16(endpoint.port)
    return Array(Insecure.SHA1.hash(data: input))
}
