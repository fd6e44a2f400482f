// One control protocol (LCP or an NCP) driven by the RFC 1661 automaton: turns received
// Configure/Terminate/Code-Reject packets into automaton events, performs the actions, and keeps
// the restart timer as a deadline. What to request and how to judge the peer's request is the
// protocol's OptionPolicy (LCP.swift, IPCP.swift).

/// The peer's Configure-Request judged by a policy (RFC 1661 §5.1–5.4).
public enum PPPRequestVerdict: Equatable, Sendable {
    case ack
    case nak([PPPOption])
    case reject([PPPOption])
}

/// How a protocol negotiates its options. Mutating: policies keep what was agreed.
public protocol PPPOptionPolicy: Sendable {
    /// The options of our next Configure-Request.
    func requestOptions() -> [PPPOption]
    /// Judges the peer's request. `mustNotNak`: Max-Failure reached, so anything that would be
    /// Nak'd must be Rejected instead (RFC 1661 §4.6 Max-Failure).
    mutating func evaluate(peerRequest: [PPPOption], mustNotNak: Bool) -> PPPRequestVerdict
    /// The peer acknowledged our request: these are now in force.
    mutating func acknowledged(_ options: [PPPOption])
    /// The peer Nak'd: adjust the next request. Returns a failure when no acceptable request remains.
    mutating func nakReceived(_ options: [PPPOption]) -> PPPFailure?
    /// The peer Rejected: drop the options. Returns a failure when a required option was rejected.
    mutating func rejectReceived(_ options: [PPPOption]) -> PPPFailure?
}

/// What the engine asks its owner to do.
public enum PPPEngineOutput: Equatable, Sendable {
    case send([UInt8])
    case up, down, started, finished
    /// RXR in Opened: the owner (LCP) builds the Echo-Reply for this packet.
    case echoReply(PPPControlPacket)
    case failure(PPPFailure)
}

/// RFC 1661 §5 codes shared by every control protocol.
public enum PPPCode {
    public static let configureRequest: UInt8 = 1
    public static let configureAck: UInt8 = 2
    public static let configureNak: UInt8 = 3
    public static let configureReject: UInt8 = 4
    public static let terminateRequest: UInt8 = 5
    public static let terminateAck: UInt8 = 6
    public static let codeReject: UInt8 = 7
    public static let protocolReject: UInt8 = 8
    public static let echoRequest: UInt8 = 9
    public static let echoReply: UInt8 = 10
    public static let discardRequest: UInt8 = 11
}

public struct PPPNegotiationEngine<Policy: PPPOptionPolicy>: Sendable {
    public let protocolNumber: PPPProtocol
    public private(set) var state: PPPAutomatonState = .initial
    public var policy: Policy
    public let limits: PPPNegotiationLimits
    /// Restart timer deadline; nil when the timer does not run.
    public private(set) var deadline: PPPInstant?

    var restartCount = 0
    var failureCount = 0
    var rounds = 0
    var nextIdentifier: UInt8
    var lastRequest: (identifier: UInt8, data: [UInt8])?
    var terminateIdentifier: UInt8 = 0

    public init(protocolNumber: PPPProtocol, policy: Policy, limits: PPPNegotiationLimits, firstIdentifier: UInt8) {
        self.protocolNumber = protocolNumber
        self.policy = policy
        self.limits = limits
        self.nextIdentifier = firstIdentifier
    }

    // MARK: Administrative and lower-layer events

    public mutating func up(now: PPPInstant) -> [PPPEngineOutput] { apply(.up, now: now, response: nil, received: nil) }
    public mutating func down(now: PPPInstant) -> [PPPEngineOutput] { apply(.down, now: now, response: nil, received: nil) }
    public mutating func open(now: PPPInstant) -> [PPPEngineOutput] { apply(.open, now: now, response: nil, received: nil) }
    public mutating func close(now: PPPInstant) -> [PPPEngineOutput] { apply(.close, now: now, response: nil, received: nil) }

    /// The restart timer fired (the owner calls this when `now >= deadline`).
    public mutating func timeout(now: PPPInstant) -> [PPPEngineOutput] {
        guard let deadline, now >= deadline else { return [] }
        self.deadline = nil
        return apply(restartCount > 0 ? .timeoutPlus : .timeoutMinus, now: now, response: nil, received: nil)
    }

    // MARK: Received packets

    /// One packet of this protocol. Codes beyond 7 must be handled by the owner first.
    public mutating func receive(_ packet: PPPControlPacket, now: PPPInstant) -> [PPPEngineOutput] {
        switch packet.code {
        case PPPCode.configureRequest:
            guard let options = try? PPPOption.parseList(packet.data) else { return [] }  // malformed: silently discard (RFC 1661 §5)
            var outputs: [PPPEngineOutput] = []
            if state != .opened {
                rounds += 1
                if rounds > limits.maxNegotiationRounds { return fail(.negotiationDidNotConverge(protocolNumber), now: now) }
            } else {
                rounds = 0
            }
            let verdict = policy.evaluate(peerRequest: options, mustNotNak: failureCount >= limits.maxFailure)
            let response: PPPControlPacket
            let event: PPPAutomatonEvent
            switch verdict {
            case .ack:
                response = PPPControlPacket(code: PPPCode.configureAck, identifier: packet.identifier, data: packet.data)
                event = .receiveConfigureRequestGood
            case .nak(let naks):
                response = PPPControlPacket(code: PPPCode.configureNak, identifier: packet.identifier, data: PPPOption.emitList(naks))
                event = .receiveConfigureRequestBad
            case .reject(let rejects):
                response = PPPControlPacket(code: PPPCode.configureReject, identifier: packet.identifier, data: PPPOption.emitList(rejects))
                event = .receiveConfigureRequestBad
            }
            outputs += apply(event, now: now, response: response, received: packet)
            return outputs
        case PPPCode.configureAck:
            // RFC 1661 §5.2: an Ack must match the last request exactly, else it is discarded.
            guard let lastRequest, lastRequest.identifier == packet.identifier, lastRequest.data == packet.data else { return [] }
            self.lastRequest = nil
            policy.acknowledged((try? PPPOption.parseList(packet.data)) ?? [])
            return apply(.receiveConfigureAck, now: now, response: nil, received: packet)
        case PPPCode.configureNak, PPPCode.configureReject:
            guard let lastRequest, lastRequest.identifier == packet.identifier,
                  let options = try? PPPOption.parseList(packet.data) else { return [] }
            self.lastRequest = nil
            if state != .opened {
                rounds += 1
                if rounds > limits.maxNegotiationRounds { return fail(.negotiationDidNotConverge(protocolNumber), now: now) }
            }
            let failure = packet.code == PPPCode.configureNak ? policy.nakReceived(options) : policy.rejectReceived(options)
            if let failure { return fail(failure, now: now) }
            return apply(.receiveConfigureNakOrReject, now: now, response: nil, received: packet)
        case PPPCode.terminateRequest:
            return apply(.receiveTerminateRequest, now: now, response: nil, received: packet)
        case PPPCode.terminateAck:
            return apply(.receiveTerminateAck, now: now, response: nil, received: packet)
        case PPPCode.codeReject:
            // RFC 1661 §5.6: rejecting one of codes 1–7 makes the protocol unusable (RXJ-).
            let rejectedCode = packet.data.first ?? 0
            let catastrophic = (1...7).contains(rejectedCode)
            return apply(catastrophic ? .receiveCodeRejectCatastrophic : .receiveCodeRejectPermitted, now: now, response: nil, received: packet)
        default:
            return apply(.receiveUnknownCode, now: now, response: nil, received: packet)
        }
    }

    /// Echo-Request / Echo-Reply / Discard-Request (LCP only): RXR.
    public mutating func receiveEchoOrDiscard(_ packet: PPPControlPacket, now: PPPInstant) -> [PPPEngineOutput] {
        apply(.receiveEchoOrDiscard, now: now, response: nil, received: packet)
    }

    /// Gives up: reports `failure` and closes the protocol (Terminate-Request when it was active).
    public mutating func fail(_ failure: PPPFailure, now: PPPInstant) -> [PPPEngineOutput] {
        [.failure(failure)] + close(now: now)
    }

    // MARK: The automaton

    mutating func apply(_ event: PPPAutomatonEvent, now: PPPInstant, response: PPPControlPacket?,
                        received: PPPControlPacket?) -> [PPPEngineOutput] {
        guard let transition = PPPStateTable.transition(state, event) else { return [] }  // "-": cannot occur; ignore
        var outputs: [PPPEngineOutput] = []
        let sendsTerminate = transition.actions.contains(.sendTerminateRequest)
        for action in transition.actions {
            switch action {
            case .thisLayerUp: outputs.append(.up)
            case .thisLayerDown: outputs.append(.down)
            case .thisLayerStarted: outputs.append(.started)
            case .thisLayerFinished: outputs.append(.finished)
            case .initializeRestartCount:
                restartCount = sendsTerminate ? limits.maxTerminate : limits.maxConfigure
            case .zeroRestartCount:
                restartCount = 0
                deadline = now + limits.restartInterval
            case .sendConfigureRequest:
                let data = PPPOption.emitList(policy.requestOptions())
                let identifier = takeIdentifier()
                lastRequest = (identifier, data)
                restartCount -= 1
                deadline = now + limits.restartInterval
                outputs.append(.send(PPPControlPacket(code: PPPCode.configureRequest, identifier: identifier, data: data).frame(protocolNumber)))
            case .sendConfigureAck, .sendConfigureNak:
                if let response {
                    if response.code == PPPCode.configureAck { failureCount = 0 } else if response.code == PPPCode.configureNak { failureCount += 1 }
                    outputs.append(.send(response.frame(protocolNumber)))
                }
            case .sendTerminateRequest:
                terminateIdentifier = takeIdentifier()
                restartCount -= 1
                deadline = now + limits.restartInterval
                outputs.append(.send(PPPControlPacket(code: PPPCode.terminateRequest, identifier: terminateIdentifier, data: []).frame(protocolNumber)))
            case .sendTerminateAck:
                outputs.append(.send(PPPControlPacket(code: PPPCode.terminateAck, identifier: received?.identifier ?? 0, data: []).frame(protocolNumber)))
            case .sendCodeReject:
                if let received {
                    // RFC 1661 §5.6: the rejected packet, truncated to fit a default MRU.
                    let rejected = Array(received.emit().prefix(1500 - 8))
                    outputs.append(.send(PPPControlPacket(code: PPPCode.codeReject, identifier: takeIdentifier(), data: rejected).frame(protocolNumber)))
                }
            case .sendEchoReply:
                if let received { outputs.append(.echoReply(received)) }
            }
        }
        state = transition.next
        if state == .opened { rounds = 0 }
        if !state.restartTimerRuns { deadline = nil }
        return outputs
    }

    mutating func takeIdentifier() -> UInt8 {
        defer { nextIdentifier &+= 1 }
        return nextIdentifier
    }
}
