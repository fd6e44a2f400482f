// The server side of one SSTP call ([MS-SSTP] §3.2, protocols.md §4.3), as a value: the TLS
// plaintext stream and `now` in, actions out. It owns the HTTP exchange, the SSTP framing, the
// PPP server session and the crypto binding check.
//   awaitingHTTP → (200 sent) awaitingConnectRequest → (CALL_CONNECT_ACK with exactly one
//   CRYPTO_BINDING_REQ, PPP control frames only) pending → (CALL_CONNECTED verified) connected
// Invariants: IP packets flow only once the binding is verified AND IPCP is open; every failure
// ends in exactly one `.close(reason)` and nothing is emitted after it; every timer is a deadline.
import PPP

public struct SSTPServerConfiguration: Sendable {
    /// DER of the leaf certificate our TLS layer presents; the client hashes the same bytes.
    public var certificateDER: [UInt8]
    /// Hash protocols offered in CRYPTO_BINDING_REQ (protocols.md §4.3: 0x02 or 0x03).
    public var hashProtocols: SSTPHashProtocols
    public var ppp: PPPServerConfiguration
    public var timers: SSTPTimers
    /// CALL_CONNECT_NAKs allowed before giving up ([MS-SSTP] §3.2.1 ConnectRequestRetries).
    public var maxConnectNaks: Int
    /// The Date header of the 200 answer (the core reads no clock); nil omits it.
    public var httpDate: String?
    /// Admission control: when set, a valid CALL_CONNECT_REQUEST is answered with CALL_CONNECT_NAK
    /// (STATUS_INFO, retry count exceeded) and the call closes with `.refused(reason)` — the clean
    /// refusal for a full gateway (the SKU's session limit).
    public var refusal: String?

    public init(certificateDER: [UInt8], hashProtocols: SSTPHashProtocols = [.sha1, .sha256], ppp: PPPServerConfiguration,
                timers: SSTPTimers = SSTPTimers(), maxConnectNaks: Int = 3, httpDate: String? = nil, refusal: String? = nil) {
        self.refusal = refusal
        self.certificateDER = certificateDER
        self.hashProtocols = hashProtocols
        self.ppp = ppp
        self.timers = timers
        self.maxConnectNaks = maxConnectNaks
        self.httpDate = httpDate
    }
}

public enum SSTPServerAction: Equatable, Sendable {
    /// One TLS write (the HTTP answer is always a single one).
    case send([UInt8])
    case armTimer(deadline: PPPInstant)
    /// EAP-TLS: judge this client certificate chain (leaf first, DER), then call
    /// `clientCertificateVerdict(_:now:)`. Nothing proceeds until then.
    case verifyClientCertificate(chain: [[UInt8]])
    /// MS-CHAPv2 or EAP-TLS succeeded for this user (the call is not yet bound).
    case authenticated(user: String)
    /// Binding verified and IPCP open: route `clientAddress` to this call.
    case connected(user: String, clientAddress: PPPIPv4Address)
    /// An IPv4 packet from the client.
    case deliver([UInt8])
    /// Close TLS after the sends above. The call is over; nothing follows.
    case close(SSTPCloseReason)
}

public struct SSTPServerCall: Sendable {
    public enum State: Sendable, Equatable {
        case awaitingHTTP, awaitingConnectRequest, pending, connected, disconnecting, closed
    }

    public let configuration: SSTPServerConfiguration
    public private(set) var state: State = .awaitingHTTP
    public private(set) var ppp: PPPSession
    let random: any PPPRandomSource
    let certificateHashes: [SSTPHashProtocols: [UInt8]]
    var httpBuffer: [UInt8] = []
    var decoder = SSTPStreamDecoder()
    var nonce: [UInt8] = []
    var naksSent = 0
    var hlak: [UInt8]?
    var user: String?
    var networkUp = false
    var reportedConnected = false
    var pppFailure: PPPFailure?
    var negotiationDeadline: PPPInstant?
    var disconnectDeadline: PPPInstant?
    var pppDeadline: PPPInstant?
    var lastReceived = PPPInstant.zero
    var echoDeadline: PPPInstant?
    var armedDeadline: PPPInstant?
    var disconnectReason: SSTPCloseReason = .closedLocally("disconnect")

    public init(configuration: SSTPServerConfiguration, random: any PPPRandomSource) {
        self.configuration = configuration
        self.random = random
        self.ppp = PPPSession(role: .server(configuration.ppp), random: random)
        certificateHashes = [
            .sha256: SSTPCryptoBinding.certificateHash(der: configuration.certificateDER, hash: .sha256),
            .sha1: SSTPCryptoBinding.certificateHash(der: configuration.certificateDER, hash: .sha1),
        ]
    }

    /// TLS is up: arm the negotiation timer (slow clients cannot hold the socket open).
    public mutating func start(now: PPPInstant) -> [SSTPServerAction] {
        negotiationDeadline = now + configuration.timers.negotiation
        lastReceived = now
        return finish([])
    }

    /// Bytes from TLS.
    public mutating func handle(bytes: [UInt8], now: PPPInstant) -> [SSTPServerAction] {
        guard state != .closed else { return [] }
        lastReceived = now
        echoDeadline = nil
        var actions: [SSTPServerAction] = []
        if state == .awaitingHTTP {
            httpBuffer += bytes
            do {
                guard let length = try SSTPHTTP.headLength(httpBuffer) else { return finish(actions) }
                _ = try SSTPHTTP.parseRequest(Array(httpBuffer[..<length]))
                actions.append(.send(SSTPHTTP.okResponse(date: configuration.httpDate)))
                state = .awaitingConnectRequest
                decoder.append(httpBuffer[length...])
                httpBuffer = []
            } catch {
                actions.append(.send(SSTPHTTP.errorResponse(for: error)))
                close(.httpRefused(error), into: &actions)
                return finish(actions)
            }
        } else {
            decoder.append(bytes)
        }
        while state != .closed {
            do {
                guard let (packet, raw) = try decoder.next() else { break }
                handle(packet, raw: raw, now: now, into: &actions)
            } catch {
                abort(.malformedPacket(error), status: .invalidFrameReceived, into: &actions)
            }
        }
        return finish(actions)
    }

    public mutating func handleTimer(now: PPPInstant) -> [SSTPServerAction] {
        guard state != .closed else { return [] }
        var actions: [SSTPServerAction] = []
        if let pppDeadline, now >= pppDeadline {
            self.pppDeadline = nil
            pppActions(ppp.handleTimer(now: now), now: now, into: &actions)
        }
        if state != .closed, let negotiationDeadline, now >= negotiationDeadline {
            if state == .awaitingHTTP {
                close(.negotiationTimeout, into: &actions)
            } else {
                abort(.negotiationTimeout, status: .negotiationTimeout, into: &actions)
            }
        }
        if state == .disconnecting, let disconnectDeadline, now >= disconnectDeadline {
            close(disconnectReason, into: &actions)
        }
        if state == .connected {
            if let echoDeadline {
                if now >= echoDeadline { abort(.helloTimeout, status: .noError, into: &actions) }
            } else if now >= lastReceived + configuration.timers.hello {
                // [MS-SSTP] §3.2.2 Hello timer: probe a silent peer, give up one interval later.
                actions.append(.send(SSTPPacket.control(SSTPControlMessage(.echoRequest)).emit()))
                echoDeadline = now + configuration.timers.hello
            }
        }
        return finish(actions)
    }

    /// Ends the call gracefully: LCP Terminate-Request and CALL_DISCONNECT (session deleted,
    /// certificate revoked, user removed).
    public mutating func disconnect(reason: String, now: PPPInstant) -> [SSTPServerAction] {
        guard state != .closed, state != .disconnecting else { return [] }
        var actions: [SSTPServerAction] = []
        if state == .awaitingHTTP || state == .awaitingConnectRequest {
            close(.closedLocally(reason), into: &actions)
            return finish(actions)
        }
        for action in ppp.close(reason: reason, now: now) { if case .send(let frame) = action { actions.append(.send(SSTPPacket.dataHeader(frameLength: frame.count) + frame)) } }
        actions.append(.send(SSTPControlMessage.withStatus(.callDisconnect, status: .noError)))
        disconnectReason = .closedLocally(reason)
        disconnectDeadline = now + configuration.timers.disconnect
        state = .disconnecting
        return finish(actions)
    }

    /// The owner's verdict on the chain of `.verifyClientCertificate` (EAP-Success or EAP-Failure).
    public mutating func clientCertificateVerdict(_ verdict: EAPTLSPeerVerdict, now: PPPInstant) -> [SSTPServerAction] {
        guard state == .pending else { return [] }
        var actions: [SSTPServerAction] = []
        pppActions(ppp.peerCertificateVerdict(verdict, now: now), now: now, into: &actions)
        return finish(actions)
    }

    /// TLS closed or EOF: the call is over, nothing can be sent.
    public mutating func transportClosed(now: PPPInstant) -> [SSTPServerAction] {
        guard state != .closed else { return [] }
        var actions: [SSTPServerAction] = []
        close(.transportClosed, into: &actions)
        return actions
    }

    /// May the I/O layer send framed IPv4 now (connected, IPCP open)?
    public var canSendData: Bool { state == .connected && networkUp }

    /// True while IPv4 data may bypass `handle(bytes:)`: the call is connected, IPCP is open and
    /// no partial packet is buffered here. The I/O layer then cuts whole packets itself, hands
    /// IPv4 frames to the TUN device and passes every other whole packet to `handle(bytes:)`.
    public var dataFastPathOpen: Bool {
        state == .connected && networkUp && ppp.isNetworkUp && decoder.bufferedBytes == 0 && httpBuffer.isEmpty
    }

    /// Bytes arrived on the fast path: the peer is alive (the Hello timer restarts).
    public mutating func noteReceived(now: PPPInstant) {
        lastReceived = now
        echoDeadline = nil
    }

    /// An IPv4 packet for the client, framed as an SSTP data packet; nil unless connected.
    /// (The server's I/O layer frames into its send buffer with SSTPDataFastPath instead.)
    public func frameIPv4(_ packet: [UInt8]) -> [UInt8]? {
        guard state == .connected, networkUp, packet.count + 8 <= SSTPLimits.maxPacket else { return nil }
        return SSTPPacket.dataHeader(frameLength: packet.count + 4) + [0xFF, 0x03, 0x00, 0x21] + packet
    }

    public var clientAddress: PPPIPv4Address? { networkUp ? configuration.ppp.clientAddress : nil }
    public var authenticatedUser: String? { user }

    // MARK: Packets

    mutating func handle(_ packet: SSTPPacket, raw: [UInt8], now: PPPInstant, into actions: inout [SSTPServerAction]) {
        switch packet {
        case .data(let frame):
            switch state {
            case .pending, .connected, .disconnecting:
                // [MS-SSTP] §3.3.5: before CALL_CONNECTED only PPP control frames pass.
                if state == .pending, let parsed = try? PPPFrame.parse(frame),
                   parsed.protocolNumber == .ipv4 || parsed.protocolNumber == .ipv6 { return }
                pppActions(ppp.handle(frame: frame, now: now), now: now, into: &actions)
            case .awaitingHTTP, .awaitingConnectRequest, .closed:
                abort(.unexpectedData, status: .unacceptedFrameReceived, into: &actions)
            }
        case .control(let message):
            handle(message, raw: raw, now: now, into: &actions)
        }
    }

    mutating func handle(_ message: SSTPControlMessage, raw: [UInt8], now: PPPInstant, into actions: inout [SSTPServerAction]) {
        switch (message.type, state) {
        case (.callConnectRequest, .awaitingConnectRequest):
            // [MS-SSTP] §3.2.5.2.1: exactly ENCAPSULATED_PROTOCOL_ID = PPP (1).
            guard message.attributes == [.encapsulatedProtocolID(1)] else {
                naksSent += 1
                if naksSent > configuration.maxConnectNaks {
                    abort(.unsupportedEncapsulation, status: .retryCountExceeded, into: &actions)
                } else {
                    actions.append(.send(SSTPControlMessage.withStatus(.callConnectNak, attribute: SSTPAttributeID.encapsulatedProtocolID.rawValue,
                                                                       status: .valueNotSupported, value: [0x00, 0x01])))
                }
                return
            }
            if let refusal = configuration.refusal {
                actions.append(.send(SSTPControlMessage.withStatus(.callConnectNak, attribute: SSTPAttributeID.encapsulatedProtocolID.rawValue,
                                                                   status: .retryCountExceeded, value: [0x00, 0x01])))
                close(.refused(refusal), into: &actions)
                return
            }
            // CALL_CONNECT_ACK with exactly one CRYPTO_BINDING_REQ (length 0x28): sstpc's parser breaks on more.
            nonce = random.bytes(32)
            actions.append(.send(SSTPPacket.control(SSTPControlMessage(.callConnectAck, [
                .cryptoBindingRequest(hashProtocols: configuration.hashProtocols, nonce: nonce),
            ])).emit()))
            state = .pending
            pppActions(ppp.start(now: now), now: now, into: &actions)
        case (.callConnected, .pending):
            if let failure = verifyBinding(message, raw: raw) {
                abort(.cryptoBindingFailed(failure), attribute: SSTPAttributeID.cryptoBinding.rawValue, status: .valueNotSupported, into: &actions)
                return
            }
            state = .connected
            negotiationDeadline = nil
            reportIfConnected(into: &actions)
        case (.echoRequest, .pending), (.echoRequest, .connected), (.echoRequest, .disconnecting):
            actions.append(.send(SSTPPacket.control(SSTPControlMessage(.echoResponse)).emit()))
        case (.echoResponse, .pending), (.echoResponse, .connected), (.echoResponse, .disconnecting):
            break  // liveness already noted on receipt
        case (.callDisconnect, _):
            actions.append(.send(SSTPPacket.control(SSTPControlMessage(.callDisconnectAck)).emit()))
            close(.peerDisconnected, into: &actions)
        case (.callDisconnectAck, .disconnecting):
            close(disconnectReason, into: &actions)
        case (.callAbort, _):
            close(.peerAborted(status: message.status), into: &actions)
        case (.callConnectRequest, _), (.callConnectAck, _), (.callConnectNak, _), (.callConnected, _),
             (.echoRequest, _), (.echoResponse, _), (.callDisconnectAck, _):
            abort(.unexpectedMessage(message.type), status: .unacceptedFrameReceived, into: &actions)
        }
    }

    /// [MS-SSTP] §3.2.5.2.3/§3.2.5.2.4: nonce, certificate hash of our leaf, compound MAC.
    func verifyBinding(_ message: SSTPControlMessage, raw: [UInt8]) -> SSTPBindingFailure? {
        guard message.attributes.count == 1, case .cryptoBinding(let hashProtocol, let nonce, let certificateHash, let mac) = message.attributes[0],
              raw.count == SSTPCryptoBinding.callConnectedLength else { return .missing }
        guard let hlak else { return .notAuthenticated }
        let hash = SSTPHashProtocols(rawValue: hashProtocol)
        guard hash == .sha1 || hash == .sha256, configuration.hashProtocols.contains(hash) else { return .hashProtocolNotOffered(hashProtocol) }
        guard SSTPCryptoBinding.constantTimeEqual(nonce, self.nonce) else { return .nonceMismatch }
        guard let ours = certificateHashes[hash], SSTPCryptoBinding.constantTimeEqual(certificateHash, ours) else { return .certificateHashMismatch }
        let expected = SSTPCryptoBinding.compoundMAC(callConnected: raw, hlak: hlak, hash: hash)
        guard SSTPCryptoBinding.constantTimeEqual(mac, expected) else { return .compoundMACMismatch }
        return nil
    }

    // MARK: PPP

    mutating func pppActions(_ pppActions: [PPPAction], now: PPPInstant, into actions: inout [SSTPServerAction]) {
        for action in pppActions {
            guard state != .closed else { return }
            switch action {
            case .send(let frame):
                guard frame.count + 4 <= SSTPLimits.maxPacket else { continue }
                actions.append(.send(SSTPPacket.dataHeader(frameLength: frame.count) + frame))
            case .authenticated(let user, let send, let receive):
                self.user = user
                hlak = SSTPCryptoBinding.serverHLAK(masterSendKey: send, masterReceiveKey: receive)
                actions.append(.authenticated(user: user))
            case .networkUp:
                networkUp = true
                reportIfConnected(into: &actions)
            case .received(let protocolNumber, let packet):
                if state == .connected, protocolNumber == .ipv4 { actions.append(.deliver(packet)) }
            case .failed(let failure):
                pppFailure = failure  // PPP still sends its Failure / Terminate-Request; linkDown ends the call
            case .armTimer(let deadline):
                pppDeadline = deadline
            case .verifyPeer(let chain):
                actions.append(.verifyClientCertificate(chain: chain))
            case .linkDown:
                if state == .disconnecting {
                    close(disconnectReason, into: &actions)
                } else {
                    actions.append(.send(SSTPControlMessage.withStatus(.callDisconnect, status: .noError)))
                    close(.pppFailed(pppFailure ?? .peerTerminated), into: &actions)
                }
            }
        }
    }

    mutating func reportIfConnected(into actions: inout [SSTPServerAction]) {
        guard state == .connected, networkUp, !reportedConnected, let user else { return }
        reportedConnected = true
        actions.append(.connected(user: user, clientAddress: configuration.ppp.clientAddress))
    }

    // MARK: Ending

    mutating func abort(_ reason: SSTPCloseReason, attribute: UInt8 = 0, status: SSTPStatus, into actions: inout [SSTPServerAction]) {
        guard state != .closed else { return }
        actions.append(.send(SSTPControlMessage.withStatus(.callAbort, attribute: attribute, status: status)))
        close(reason, into: &actions)
    }

    mutating func close(_ reason: SSTPCloseReason, into actions: inout [SSTPServerAction]) {
        guard state != .closed else { return }
        state = .closed
        actions.append(.close(reason))
    }

    mutating func finish(_ actions: [SSTPServerAction]) -> [SSTPServerAction] {
        guard state != .closed else { armedDeadline = nil; return actions }
        var hello: PPPInstant?
        if state == .connected { hello = echoDeadline ?? lastReceived + configuration.timers.hello }
        let next = [pppDeadline, negotiationDeadline, state == .disconnecting ? disconnectDeadline : nil, hello].compactMap { $0 }.min()
        var actions = actions
        if let next, next != armedDeadline { actions.append(.armTimer(deadline: next)) }
        armedDeadline = next
        return actions
    }
}
