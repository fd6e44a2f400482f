// The client side of one SSTP call ([MS-SSTP] §3.1), for `vpngw p2s connect` and for tests:
//   HTTP request → 200 → CALL_CONNECT_REQUEST → CALL_CONNECT_ACK (exactly one CRYPTO_BINDING_REQ)
//   → PPP client (LCP, MS-CHAPv2 or EAP-TLS, IPCP) in data packets → CALL_CONNECTED with the binding, sent as
//   soon as MS-CHAPv2 yields the keys and before any later PPP frame (sstpc's order, protocols.md §4.4).
// Invariant: exactly one `.close(reason)`, nothing after it.
import PPP

public struct SSTPClientConfiguration: Sendable {
    /// Host header value.
    public var host: String
    public var correlationID: String
    /// DER of the leaf certificate the TLS layer received from the server (what the binding hashes).
    public var serverCertificateDER: [UInt8]
    public var ppp: PPPClientConfiguration
    public var timers: SSTPTimers

    public init(host: String, correlationID: String = "{00000000-0000-0000-0000-000000000000}", serverCertificateDER: [UInt8],
                ppp: PPPClientConfiguration, timers: SSTPTimers = SSTPTimers()) {
        self.host = host
        self.correlationID = correlationID
        self.serverCertificateDER = serverCertificateDER
        self.ppp = ppp
        self.timers = timers
    }
}

public enum SSTPClientAction: Equatable, Sendable {
    case send([UInt8])
    case armTimer(deadline: PPPInstant)
    /// CALL_CONNECTED sent with this hash protocol.
    case bound(hashProtocol: SSTPHashProtocols)
    /// IPCP open: configure the TUN device.
    case connected(localIP: PPPIPv4Address, peerIP: PPPIPv4Address, dns: [PPPIPv4Address])
    /// An IPv4 packet from the server.
    case deliver([UInt8])
    case close(SSTPCloseReason)
}

public struct SSTPClientCall: Sendable {
    public enum State: Sendable, Equatable {
        case idle, awaitingHTTPResponse, awaitingConnectAck, pending, connected, closed
    }

    public let configuration: SSTPClientConfiguration
    public private(set) var state: State = .idle
    public private(set) var ppp: PPPSession
    var httpBuffer: [UInt8] = []
    var decoder = SSTPStreamDecoder()
    var nonce: [UInt8] = []
    var hash: SSTPHashProtocols = .sha256
    var bound = false
    var networkUp = false
    var pppFailure: PPPFailure?
    var pppDeadline: PPPInstant?
    var negotiationDeadline: PPPInstant?
    var lastReceived = PPPInstant.zero
    var echoDeadline: PPPInstant?
    var armedDeadline: PPPInstant?

    public init(configuration: SSTPClientConfiguration, random: any PPPRandomSource) {
        self.configuration = configuration
        self.ppp = PPPSession(role: .client(configuration.ppp), random: random)
    }

    /// TLS is up: send the HTTP request.
    public mutating func start(now: PPPInstant) -> [SSTPClientAction] {
        guard state == .idle else { return [] }
        state = .awaitingHTTPResponse
        negotiationDeadline = now + configuration.timers.negotiation
        lastReceived = now
        return finish([.send(SSTPHTTP.request(host: configuration.host, correlationID: configuration.correlationID))])
    }

    public mutating func handle(bytes: [UInt8], now: PPPInstant) -> [SSTPClientAction] {
        guard state != .closed, state != .idle else { return [] }
        lastReceived = now
        echoDeadline = nil
        var actions: [SSTPClientAction] = []
        if state == .awaitingHTTPResponse {
            httpBuffer += bytes
            do {
                guard let length = try SSTPHTTP.headLength(httpBuffer) else { return finish(actions) }
                try SSTPHTTP.checkResponse(Array(httpBuffer[..<length]))
                decoder.append(httpBuffer[length...])
                httpBuffer = []
                state = .awaitingConnectAck
                actions.append(.send(SSTPPacket.control(SSTPControlMessage(.callConnectRequest, [.encapsulatedProtocolID(1)])).emit()))
            } catch {
                close(.httpResponseRejected(error), into: &actions)
                return finish(actions)
            }
        } else {
            decoder.append(bytes)
        }
        while state != .closed {
            do {
                guard let (packet, _) = try decoder.next() else { break }
                handle(packet, now: now, into: &actions)
            } catch {
                abort(.malformedPacket(error), status: .invalidFrameReceived, into: &actions)
            }
        }
        return finish(actions)
    }

    public mutating func handleTimer(now: PPPInstant) -> [SSTPClientAction] {
        guard state != .closed, state != .idle else { return [] }
        var actions: [SSTPClientAction] = []
        if let pppDeadline, now >= pppDeadline {
            self.pppDeadline = nil
            pppActions(ppp.handleTimer(now: now), now: now, into: &actions)
        }
        if state != .closed, state != .connected, let negotiationDeadline, now >= negotiationDeadline {
            abort(.negotiationTimeout, status: .negotiationTimeout, into: &actions)
        }
        if state == .connected {
            if let echoDeadline {
                if now >= echoDeadline { abort(.helloTimeout, status: .noError, into: &actions) }
            } else if now >= lastReceived + configuration.timers.hello {
                actions.append(.send(SSTPPacket.control(SSTPControlMessage(.echoRequest)).emit()))
                echoDeadline = now + configuration.timers.hello
            }
        }
        return finish(actions)
    }

    /// Hang up: LCP Terminate-Request and CALL_DISCONNECT, then close.
    public mutating func disconnect(reason: String, now: PPPInstant) -> [SSTPClientAction] {
        guard state != .closed else { return [] }
        var actions: [SSTPClientAction] = []
        for action in ppp.close(reason: reason, now: now) { if case .send(let frame) = action { actions.append(.send(SSTPPacket.dataHeader(frameLength: frame.count) + frame)) } }
        actions.append(.send(SSTPControlMessage.withStatus(.callDisconnect, status: .noError)))
        close(.closedLocally(reason), into: &actions)
        return actions
    }

    public mutating func transportClosed(now: PPPInstant) -> [SSTPClientAction] {
        var actions: [SSTPClientAction] = []
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

    public func frameIPv4(_ packet: [UInt8]) -> [UInt8]? {
        guard state == .connected, networkUp, packet.count + 8 <= SSTPLimits.maxPacket else { return nil }
        return SSTPPacket.dataHeader(frameLength: packet.count + 4) + [0xFF, 0x03, 0x00, 0x21] + packet
    }

    mutating func handle(_ packet: SSTPPacket, now: PPPInstant, into actions: inout [SSTPClientAction]) {
        switch packet {
        case .data(let frame):
            switch state {
            case .pending, .connected:
                pppActions(ppp.handle(frame: frame, now: now), now: now, into: &actions)
            case .idle, .awaitingHTTPResponse, .awaitingConnectAck, .closed:
                abort(.unexpectedData, status: .unacceptedFrameReceived, into: &actions)
            }
        case .control(let message):
            switch (message.type, state) {
            case (.callConnectAck, .awaitingConnectAck):
                // Exactly one CRYPTO_BINDING_REQ (what sstpc insists on, protocols.md §4.3).
                guard message.attributes.count == 1, case .cryptoBindingRequest(let offered, let nonce) = message.attributes[0],
                      offered.contains(.sha256) || offered.contains(.sha1) else {
                    abort(.invalidCryptoBindingRequest, attribute: SSTPAttributeID.cryptoBindingRequest.rawValue, status: .invalidAttributeValueLength, into: &actions)
                    return
                }
                self.nonce = nonce
                hash = offered.contains(.sha256) ? .sha256 : .sha1
                state = .pending
                pppActions(ppp.start(now: now), now: now, into: &actions)
            case (.callConnectNak, .awaitingConnectAck):
                close(.connectRefused(status: message.status), into: &actions)
            case (.echoRequest, _):
                actions.append(.send(SSTPPacket.control(SSTPControlMessage(.echoResponse)).emit()))
            case (.echoResponse, _):
                break
            case (.callDisconnect, _):
                actions.append(.send(SSTPPacket.control(SSTPControlMessage(.callDisconnectAck)).emit()))
                close(pppFailure.map { .pppFailed($0) } ?? .peerDisconnected, into: &actions)
            case (.callAbort, _):
                close(.peerAborted(status: message.status), into: &actions)
            case (.callConnectRequest, _), (.callConnectAck, _), (.callConnectNak, _), (.callConnected, _), (.callDisconnectAck, _):
                abort(.unexpectedMessage(message.type), status: .unacceptedFrameReceived, into: &actions)
            }
        }
    }

    mutating func pppActions(_ pppActions: [PPPAction], now: PPPInstant, into actions: inout [SSTPClientAction]) {
        for action in pppActions {
            guard state != .closed else { return }
            switch action {
            case .send(let frame):
                guard frame.count + 4 <= SSTPLimits.maxPacket else { continue }
                actions.append(.send(SSTPPacket.dataHeader(frameLength: frame.count) + frame))
            case .authenticated(_, let send, let receive):
                // [MS-SSTP] §3.1.5.2.3: CALL_CONNECTED with the binding, before any further PPP frame.
                let hlak = SSTPCryptoBinding.clientHLAK(masterSendKey: send, masterReceiveKey: receive)
                actions.append(.send(SSTPCryptoBinding.callConnected(nonce: nonce, certificateDER: configuration.serverCertificateDER,
                                                                     hlak: hlak, hash: hash)))
                actions.append(.bound(hashProtocol: hash))
                bound = true
                state = .connected
                negotiationDeadline = nil
            case .networkUp(let local, let peer, let dns):
                networkUp = true
                if bound { actions.append(.connected(localIP: local, peerIP: peer, dns: dns)) }
            case .received(let protocolNumber, let packet):
                if state == .connected, protocolNumber == .ipv4 { actions.append(.deliver(packet)) }
            case .failed(let failure):
                pppFailure = failure
            case .armTimer(let deadline):
                pppDeadline = deadline
            case .linkDown:
                actions.append(.send(SSTPControlMessage.withStatus(.callDisconnect, status: .noError)))
                close(.pppFailed(pppFailure ?? .peerTerminated), into: &actions)
            case .verifyPeer:
                break  // server role only
            }
        }
    }

    mutating func abort(_ reason: SSTPCloseReason, attribute: UInt8 = 0, status: SSTPStatus, into actions: inout [SSTPClientAction]) {
        guard state != .closed else { return }
        actions.append(.send(SSTPControlMessage.withStatus(.callAbort, attribute: attribute, status: status)))
        close(reason, into: &actions)
    }

    mutating func close(_ reason: SSTPCloseReason, into actions: inout [SSTPClientAction]) {
        guard state != .closed else { return }
        state = .closed
        actions.append(.close(reason))
    }

    mutating func finish(_ actions: [SSTPClientAction]) -> [SSTPClientAction] {
        guard state != .closed else { armedDeadline = nil; return actions }
        var hello: PPPInstant?
        if state == .connected { hello = echoDeadline ?? lastReceived + configuration.timers.hello }
        let next = [pppDeadline, state == .connected ? nil : negotiationDeadline, hello].compactMap { $0 }.min()
        var actions = actions
        if let next, next != armedDeadline { actions.append(.armTimer(deadline: next)) }
        armedDeadline = next
        return actions
    }
}
