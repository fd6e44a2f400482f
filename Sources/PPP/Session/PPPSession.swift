// A PPP link in one role (RFC 1661 §3.2 phases: Dead → Establish → Authenticate → Network →
// Terminate), as a value: frames and `now` in, actions out. No sockets, no timers — the owner
// arms one timer at the deadline given by `.armTimer` and calls `handleTimer(now:)`.
// Invariants: every input is bounded (frame size, options per packet, negotiation rounds,
// restart counts); `.failed` is reported at most once; nothing is sent after LCP finishes.

public struct PPPServerConfiguration: Sendable {
    /// Sent as the Name of the MS-CHAPv2 Challenge.
    public var name: String
    public var users: [String: MSCHAPv2Credential]
    /// Our end of the link (IPCP IP-Address in our request).
    public var localAddress: PPPIPv4Address
    /// The address assigned to the client (from PPPAddressPool).
    public var clientAddress: PPPIPv4Address
    /// Up to two DNS servers offered with RFC 1877 options 129/131.
    public var dns: [PPPIPv4Address]
    public var mru: UInt16
    public var limits: PPPNegotiationLimits
    /// Methods offered in LCP, in order of preference (Azure: Password → MS-CHAPv2, Certificate → EAP).
    public var authentication: [PPPAuthenticationProtocol]
    /// Required when `authentication` contains `.eap`.
    public var eapTLS: EAPTLSServerSetup?

    public init(name: String = "vpngw", users: [String: MSCHAPv2Credential], localAddress: PPPIPv4Address,
                clientAddress: PPPIPv4Address, dns: [PPPIPv4Address] = [], mru: UInt16 = 1400,
                limits: PPPNegotiationLimits = PPPNegotiationLimits(),
                authentication: [PPPAuthenticationProtocol] = [.msCHAPv2], eapTLS: EAPTLSServerSetup? = nil) {
        self.authentication = eapTLS == nil ? authentication.filter { $0 != .eap } : authentication
        self.eapTLS = eapTLS
        self.name = name
        self.users = users
        self.localAddress = localAddress
        self.clientAddress = clientAddress
        self.dns = dns
        self.mru = mru
        self.limits = limits
    }
}

public struct PPPClientConfiguration: Sendable {
    public var userName: String
    public var password: String
    public var requestedAddress: PPPIPv4Address
    public var wantDNS: Bool
    public var mru: UInt16
    public var limits: PPPNegotiationLimits
    /// EAP-TLS with a client certificate (Azure certificate authentication).
    public var eapTLS: EAPTLSClientSetup?

    /// What we can do: EAP-TLS when a certificate is configured, MS-CHAPv2 when a password is.
    public var authentication: [PPPAuthenticationProtocol] {
        guard eapTLS != nil else { return [.msCHAPv2] }
        return password.isEmpty ? [.eap] : [.eap, .msCHAPv2]
    }

    public init(userName: String, password: String, requestedAddress: PPPIPv4Address = .zero, wantDNS: Bool = true,
                mru: UInt16 = 1400, limits: PPPNegotiationLimits = PPPNegotiationLimits(), eapTLS: EAPTLSClientSetup? = nil) {
        self.eapTLS = eapTLS
        self.userName = userName
        self.password = password
        self.requestedAddress = requestedAddress
        self.wantDNS = wantDNS
        self.mru = mru
        self.limits = limits
    }
}

/// RFC 1661 §3.2 link phases.
public enum PPPPhase: Sendable, Equatable {
    case dead, establish, authenticate, network, terminate
}

public enum PPPAction: Equatable, Sendable {
    /// One PPP frame to put in an SSTP data packet.
    case send([UInt8])
    /// Authentication succeeded; this side's master keys (HLAK input): the RFC 3079 keys for
    /// MS-CHAPv2, the two halves of the EAP-TLS MSK for EAP-TLS (EAPTLS.swift).
    case authenticated(user: String, masterSendKey: [UInt8], masterReceiveKey: [UInt8])
    /// Server role, EAP-TLS: judge the client's certificate chain (leaf first, DER) and answer
    /// with `peerCertificateVerdict(_:now:)`. Authentication waits for it.
    case verifyPeer(chain: [[UInt8]])
    /// IPCP opened.
    case networkUp(localIP: PPPIPv4Address, peerIP: PPPIPv4Address, dns: [PPPIPv4Address])
    /// A network-layer packet (IPv4) received while IPCP is open.
    case received(protocolNumber: PPPProtocol, packet: [UInt8])
    /// The session failed; reported once. Frames may still follow (Terminate-Request/Ack).
    case failed(PPPFailure)
    /// Call `handleTimer(now:)` at this instant (replaces any earlier deadline).
    case armTimer(deadline: PPPInstant)
    /// LCP has finished: the link is dead and nothing more will be sent.
    case linkDown
}

public struct PPPSession: Sendable {
    public enum Role: Sendable {
        case server(PPPServerConfiguration)
        case client(PPPClientConfiguration)
    }

    public let role: Role
    let random: any PPPRandomSource
    let limits: PPPNegotiationLimits
    var lcp: PPPNegotiationEngine<LCPPolicy>
    var ipcp: PPPNegotiationEngine<IPCPPolicy>
    var server: MSCHAPv2Server?
    var client: MSCHAPv2Client?
    var eapServer: EAPTLSServer?
    var eapClient: EAPTLSClient?
    var authIdentifier: UInt8

    public private(set) var phase: PPPPhase = .dead
    /// The failure reported, if any.
    public private(set) var failure: PPPFailure?
    /// Frames that did not parse or arrived in the wrong phase (dropped, never fatal).
    public private(set) var discardedFrames = 0
    public private(set) var authenticatedUser: String?
    var armedDeadline: PPPInstant?
    var started = false

    public init(role: Role, random: any PPPRandomSource) {
        self.role = role
        self.random = random
        let fresh: @Sendable () -> UInt32 = { random.bytes(4).reduce(UInt32(0)) { $0 << 8 | UInt32($1) } }
        let firstIDs = random.bytes(3)
        switch role {
        case .server(let config):
            limits = config.limits
            lcp = PPPNegotiationEngine(protocolNumber: .lcp, policy: LCPPolicy(role: .server, mru: config.mru, magic: fresh(), authentication: config.authentication, freshMagic: fresh),
                                       limits: config.limits, firstIdentifier: firstIDs[0])
            ipcp = PPPNegotiationEngine(protocolNumber: .ipcp,
                                        policy: IPCPPolicy(role: .server(localAddress: config.localAddress, clientAddress: config.clientAddress, dns: config.dns)),
                                        limits: config.limits, firstIdentifier: firstIDs[1])
            server = MSCHAPv2Server(name: config.name, users: config.users)
        case .client(let config):
            limits = config.limits
            lcp = PPPNegotiationEngine(protocolNumber: .lcp, policy: LCPPolicy(role: .client, mru: config.mru, magic: fresh(), authentication: config.authentication, freshMagic: fresh),
                                       limits: config.limits, firstIdentifier: firstIDs[0])
            ipcp = PPPNegotiationEngine(protocolNumber: .ipcp,
                                        policy: IPCPPolicy(role: .client(requestedAddress: config.requestedAddress, wantDNS: config.wantDNS)),
                                        limits: config.limits, firstIdentifier: firstIDs[1])
            client = MSCHAPv2Client(userName: config.userName, password: config.password)
            eapClient = config.eapTLS.map { EAPTLSClient(setup: $0) }
        }
        authIdentifier = firstIDs[2]
    }

    /// The lower layer is up (SSTP call accepted): LCP Open + Up, sending our Configure-Request.
    public mutating func start(now: PPPInstant) -> [PPPAction] {
        guard !started else { return [] }
        started = true
        phase = .establish
        var actions: [PPPAction] = []
        lcpOutputs(lcp.open(now: now), now: now, into: &actions)
        lcpOutputs(lcp.up(now: now), now: now, into: &actions)
        return finish(actions)
    }

    /// Administrative close (session deleted, SSTP disconnect): Terminate-Request.
    public mutating func close(reason: String, now: PPPInstant) -> [PPPAction] {
        var actions: [PPPAction] = []
        report(.closedLocally(reason: reason), into: &actions)
        lcpOutputs(lcp.close(now: now), now: now, into: &actions)
        return finish(actions)
    }

    /// The lower layer went away (TLS closed): no more frames can be sent.
    public mutating func lowerLayerDown(now: PPPInstant) -> [PPPAction] {
        var actions: [PPPAction] = []
        lcpOutputs(lcp.down(now: now), now: now, into: &actions)
        phase = .dead
        return finish(actions.filter { if case .send = $0 { false } else { true } })
    }

    /// Wraps an IPv4 packet for sending; nil unless IPCP is open.
    public func frameIPv4(_ packet: [UInt8]) -> [UInt8]? {
        guard ipcp.state == .opened else { return nil }
        return PPPFrame(protocolNumber: .ipv4, information: packet).emit()
    }

    public var isNetworkUp: Bool { ipcp.state == .opened }
    public var lcpState: PPPAutomatonState { lcp.state }
    public var ipcpState: PPPAutomatonState { ipcp.state }

    // MARK: Input

    public mutating func handle(frame bytes: [UInt8], now: PPPInstant) -> [PPPAction] {
        guard started, phase != .dead, let frame = try? PPPFrame.parse(bytes) else {
            discardedFrames += 1
            return []
        }
        var actions: [PPPAction] = []
        switch frame.protocolNumber {
        case .lcp:
            guard let packet = try? PPPControlPacket.parse(frame.information) else { discardedFrames += 1; break }
            handleLCP(packet, now: now, into: &actions)
        case .chap:
            guard phase == .authenticate || phase == .network, lcp.state == .opened,
                  let packet = try? PPPControlPacket.parse(frame.information) else { discardedFrames += 1; break }
            let outputs: [AuthenticatorOutput]
            if var server {
                outputs = server.receive(packet, random: random)
                self.server = server
            } else if var client, phase == .authenticate {
                outputs = client.receive(packet, random: random)
                self.client = client
            } else {
                outputs = []
            }
            authOutputs(outputs, now: now, into: &actions)
        case .eap:
            guard phase == .authenticate || phase == .network, lcp.state == .opened,
                  let packet = EAPPacket.parse(frame.information) else { discardedFrames += 1; break }
            var outputs: [EAPOutput] = []
            if var eapServer {
                outputs = eapServer.receive(packet, now: now, limits: limits)
                self.eapServer = eapServer
            } else if var eapClient, phase == .authenticate, lcp.policy.peerRequiresAuthentication == .eap {
                outputs = eapClient.receive(packet)
                self.eapClient = eapClient
            } else {
                discardedFrames += 1
            }
            eapOutputs(outputs, now: now, into: &actions)
        case .ipcp:
            // RFC 1661 §3.2: NCP packets before the Network phase are silently discarded.
            guard phase == .network, let packet = try? PPPControlPacket.parse(frame.information) else { discardedFrames += 1; break }
            ipcpOutputs(ipcp.receive(packet, now: now), now: now, into: &actions)
        case .ipv4:
            guard ipcp.state == .opened else { discardedFrames += 1; break }
            actions.append(.received(protocolNumber: .ipv4, packet: frame.information))
        default:
            // RFC 1661 §5.7: unknown protocols (CCP, IPv6CP, PAP/EAP here, …) get Protocol-Reject, in Opened only.
            guard lcp.state == .opened else { discardedFrames += 1; break }
            let room = max(0, Int(lcp.policy.peerMRU) - 6)
            let data = [UInt8(frame.protocolNumber.rawValue >> 8), UInt8(frame.protocolNumber.rawValue & 0xFF)] + frame.information.prefix(room)
            actions.append(.send(PPPControlPacket(code: PPPCode.protocolReject, identifier: lcp.takeIdentifier(), data: data).frame(.lcp)))
        }
        return finish(actions)
    }

    public mutating func handleTimer(now: PPPInstant) -> [PPPAction] {
        var actions: [PPPAction] = []
        lcpOutputs(lcp.timeout(now: now), now: now, into: &actions)
        if var server, phase == .authenticate {
            let outputs = server.timeout(now: now, limits: limits)
            self.server = server
            authOutputs(outputs, now: now, into: &actions)
        }
        if var eapServer, phase == .authenticate {
            let outputs = eapServer.timeout(now: now, limits: limits)
            self.eapServer = eapServer
            eapOutputs(outputs, now: now, into: &actions)
        }
        ipcpOutputs(ipcp.timeout(now: now), now: now, into: &actions)
        return finish(actions)
    }

    // MARK: LCP

    mutating func handleLCP(_ packet: PPPControlPacket, now: PPPInstant, into actions: inout [PPPAction]) {
        switch packet.code {
        case PPPCode.protocolReject:
            // RFC 1661 §5.7: only meaningful in Opened; losing IPCP or CHAP ends the session.
            guard lcp.state == .opened, packet.data.count >= 2 else { return }
            let rejected = PPPProtocol(rawValue: UInt16(packet.data[0]) << 8 | UInt16(packet.data[1]))
            if rejected == .ipcp || rejected == .chap || rejected == .eap {
                lcpOutputs(lcp.fail(.protocolRejected(rejected), now: now), now: now, into: &actions)
            }
        case PPPCode.echoRequest, PPPCode.echoReply, PPPCode.discardRequest:
            lcpOutputs(lcp.receiveEchoOrDiscard(packet, now: now), now: now, into: &actions)
        default:
            lcpOutputs(lcp.receive(packet, now: now), now: now, into: &actions)
        }
    }

    mutating func lcpOutputs(_ outputs: [PPPEngineOutput], now: PPPInstant, into actions: inout [PPPAction]) {
        for output in outputs {
            switch output {
            case .send(let frame):
                actions.append(.send(frame))
            case .up:
                phase = .authenticate
                switch role {
                case .server(let config):
                    if lcp.policy.requestedAuthentication == .eap, let setup = config.eapTLS {
                        var eap = EAPTLSServer(setup: setup, identifier: authIdentifier)
                        let outputs = eap.start(now: now, limits: limits)
                        eapServer = eap
                        eapOutputs(outputs, now: now, into: &actions)
                        break
                    }
                    guard var server else { break }
                    let outputs = server.start(random: random, identifier: authIdentifier, now: now, limits: limits)
                    self.server = server
                    authOutputs(outputs, now: now, into: &actions)
                case .client:
                    if lcp.policy.peerRequiresAuthentication == nil { enterNetworkPhase(now: now, into: &actions) }
                }
            case .down:
                // The link left Opened (peer Terminate-Request or renegotiation): this session ends.
                ipcpOutputs(ipcp.down(now: now), now: now, into: &actions)
                phase = .terminate
                if failure == nil {
                    report(.peerTerminated, into: &actions)
                    let more = lcp.close(now: now)
                    lcpOutputs(more, now: now, into: &actions)
                }
            case .started:
                break
            case .finished:
                if failure == nil { report(.noResponse(.lcp), into: &actions) }
                if phase != .dead {
                    phase = .dead
                    actions.append(.linkDown)
                }
            case .echoReply(let request):
                // RFC 1661 §5.8: Echo-Reply carries our Magic-Number, then the request's data.
                guard request.code == PPPCode.echoRequest else { break }
                let magic = lcp.policy.requestMagic ? lcp.policy.localMagic : 0
                let data = PPPOption.uint32(0, magic).data + request.data.dropFirst(4)
                actions.append(.send(PPPControlPacket(code: PPPCode.echoReply, identifier: request.identifier, data: data).frame(.lcp)))
            case .failure(let failure):
                report(failure, into: &actions)
            }
        }
    }

    // MARK: Authentication and network

    mutating func authOutputs(_ outputs: [AuthenticatorOutput], now: PPPInstant, into actions: inout [PPPAction]) {
        for output in outputs {
            switch output {
            case .send(let frame):
                actions.append(.send(frame))
            case .succeeded(let user, let send, let receive):
                guard phase == .authenticate else { break }
                authenticatedUser = user
                actions.append(.authenticated(user: user, masterSendKey: send, masterReceiveKey: receive))
                enterNetworkPhase(now: now, into: &actions)
            case .failed(let failure):
                report(failure, into: &actions)
                lcpOutputs(lcp.close(now: now), now: now, into: &actions)
            }
        }
    }

    /// Server role, EAP-TLS: the owner's decision on the chain of `.verifyPeer`.
    public mutating func peerCertificateVerdict(_ verdict: EAPTLSPeerVerdict, now: PPPInstant) -> [PPPAction] {
        guard var eapServer, phase == .authenticate else { return [] }
        let outputs = eapServer.verdict(verdict, now: now, limits: limits)
        self.eapServer = eapServer
        var actions: [PPPAction] = []
        eapOutputs(outputs, now: now, into: &actions)
        return finish(actions)
    }

    mutating func eapOutputs(_ outputs: [EAPOutput], now: PPPInstant, into actions: inout [PPPAction]) {
        var mapped: [AuthenticatorOutput] = []
        for output in outputs {
            switch output {
            case .send(let frame): mapped.append(.send(frame))
            case .succeeded(let user, let send, let receive): mapped.append(.succeeded(user: user, masterSendKey: send, masterReceiveKey: receive))
            case .failed(let failure): mapped.append(.failed(failure))
            case .verifyPeer(let chain):
                authOutputs(mapped, now: now, into: &actions)
                mapped = []
                actions.append(.verifyPeer(chain: chain))
            }
        }
        authOutputs(mapped, now: now, into: &actions)
    }

    mutating func enterNetworkPhase(now: PPPInstant, into actions: inout [PPPAction]) {
        phase = .network
        ipcpOutputs(ipcp.open(now: now), now: now, into: &actions)
        ipcpOutputs(ipcp.up(now: now), now: now, into: &actions)
    }

    mutating func ipcpOutputs(_ outputs: [PPPEngineOutput], now: PPPInstant, into actions: inout [PPPAction]) {
        for output in outputs {
            switch output {
            case .send(let frame):
                actions.append(.send(frame))
            case .up:
                let policy = ipcp.policy
                switch role {
                case .server(let config):
                    actions.append(.networkUp(localIP: config.localAddress, peerIP: config.clientAddress, dns: policy.dns))
                case .client:
                    actions.append(.networkUp(localIP: policy.localAddress, peerIP: policy.peerAddress, dns: policy.dns))
                }
            case .down, .started, .echoReply:
                break
            case .finished:
                // IPCP gave up (no answer, or rejected a core code): without IP the link is useless.
                if failure == nil { report(.noResponse(.ipcp), into: &actions) }
                if phase == .network { lcpOutputs(lcp.close(now: now), now: now, into: &actions) }
            case .failure(let failure):
                report(failure, into: &actions)
                if phase == .network { lcpOutputs(lcp.close(now: now), now: now, into: &actions) }
            }
        }
    }

    mutating func report(_ failure: PPPFailure, into actions: inout [PPPAction]) {
        guard self.failure == nil else { return }
        self.failure = failure
        actions.append(.failed(failure))
    }

    /// Appends `.armTimer` when the earliest deadline changed.
    mutating func finish(_ actions: [PPPAction]) -> [PPPAction] {
        var actions = actions
        let candidates = [lcp.deadline, phase == .authenticate ? server?.deadline : nil, phase == .authenticate ? eapServer?.deadline : nil,
                          ipcp.deadline].compactMap { $0 }
        let next = candidates.min()
        if let next, next != armedDeadline { actions.append(.armTimer(deadline: next)) }
        armedDeadline = next
        return actions
    }
}
