// EAP (RFC 3748) carrying EAP-TLS (RFC 5216) inside PPP, both roles, as values. The TLS engine
// itself is not here: it sits behind `EAPTLSEngine` (SSTPNIO drives swift-nio-ssl's NIOSSLHandler
// in an EmbeddedChannel), so this file only frames, fragments and reassembles.
//   server: Request/Identity → Response/Identity → Request/TLS-Start (S) → TLS records in
//           fragments (L/M flags, empty Response/Request = fragment ACK) → handshake complete →
//           the owner verifies the client chain (`.verifyPeer`) → Success, or Failure.
//           TLS 1.3 (RFC 9190): after the client's Finished, our NewSessionTickets (if any) and the
//           protected success indication (one byte 0x00 of application data, §2.5) in one
//           Request; Success after the peer's ack. A refusal is still an alert and no 0x00.
//   client: answers Identity, Naks other methods with 13, drives its engine from TLS-Start,
//           acknowledges fragments, and on Success exports the MSK (TLS 1.3: only after the 0x00).
// Keys: TLS 1.2 (RFC 5216 §2.3) MSK = TLS-PRF("client EAP encryption", 64); TLS 1.3 (RFC 9190
// §2.3) MSK = TLS-Exporter("EXPORTER_EAP_TLS_Key_Material", 0x0D, 128)[0..<64]. Oriented like pppd's
// eap-tls.c: client send = MSK[0..<32], receive = MSK[32..<64]; the server the other way round.
// The SSTP HLAK is therefore MSK[0..<32] on both sides ([MS-SSTP] §3.2.5.2.4, sstp-client's
// EAP-TLS vector, protocols.md §4.4).

/// The TLS half of EAP-TLS: TLS records in, TLS records out. One instance per authentication;
/// used from one thread (the owner's event loop).
public protocol EAPTLSEngine: AnyObject, Sendable {
    /// Client role: the ClientHello. Server role: nothing (the client speaks first).
    func start() -> [UInt8]
    /// TLS bytes from the peer; returns TLS bytes to send (possibly none).
    func feed(_ bytes: [UInt8]) -> [UInt8]
    /// The handshake finished (both Finished messages exchanged).
    var isComplete: Bool { get }
    /// Why TLS failed (alert sent or received, bad record); nil while fine.
    var failureReason: String? { get }
    /// The peer's certificates, leaf first, DER.
    var peerCertificateChain: [[UInt8]] { get }
    /// The TLS exporter (TLS 1.2: RFC 5705; TLS 1.3: RFC 8446 §7.5); `context` nil = no context
    /// (TLS 1.3 treats that as empty). nil before completion.
    func exportKeyingMaterial(label: String, context: [UInt8]?, length: Int) -> [UInt8]?
    /// The handshake negotiated TLS 1.3 (EAP-TLS per RFC 9190: other keys, the protected success
    /// indication of §2.5).
    var negotiatedTLS13: Bool { get }
    /// After the handshake: `bytes` as TLS application data (one record); the records to send.
    func sendApplicationData(_ bytes: [UInt8]) -> [UInt8]
    /// All application data the peer sent so far (decrypted).
    var receivedApplicationData: [UInt8] { get }
    /// Server role: the client's chain (leaf first, DER) while the handshake is paused at the
    /// client's Certificate for the owner's decision; nil otherwise. An engine that pauses lets the
    /// server refuse with a TLS alert *before* its Finished (RFC 5216 §2.1.3): a peer that has seen
    /// the server's Finished takes the server as satisfied (wpa_supplicant's EAP-TLS then ignores
    /// an EAP-Failure). Engines that never pause are judged after the handshake instead.
    var pendingPeerVerification: [[UInt8]]? { get }
    /// Resumes the paused handshake: accepted → the rest of our flight (ChangeCipherSpec,
    /// Finished); refused → the TLS alert to send.
    func resolvePeerVerification(accepted: Bool) -> [UInt8]
}

extension EAPTLSEngine {
    public var pendingPeerVerification: [[UInt8]]? { nil }
    public func resolvePeerVerification(accepted: Bool) -> [UInt8] { [] }
    public var negotiatedTLS13: Bool { false }
    public func sendApplicationData(_ bytes: [UInt8]) -> [UInt8] { [] }
    public var receivedApplicationData: [UInt8] { [] }
}

/// Server side of EAP-TLS.
public struct EAPTLSServerSetup: Sendable {
    public var makeEngine: @Sendable () throws -> any EAPTLSEngine
    /// TLS bytes per EAP-TLS fragment (kept well below the MRU).
    public var fragmentSize: Int
    public init(fragmentSize: Int = 1000, makeEngine: @escaping @Sendable () throws -> any EAPTLSEngine) {
        self.makeEngine = makeEngine
        self.fragmentSize = fragmentSize
    }
}

/// Client side of EAP-TLS.
public struct EAPTLSClientSetup: Sendable {
    /// Sent in Response/Identity.
    public var identity: String
    public var makeEngine: @Sendable () throws -> any EAPTLSEngine
    public var fragmentSize: Int
    public init(identity: String, fragmentSize: Int = 1000, makeEngine: @escaping @Sendable () throws -> any EAPTLSEngine) {
        self.identity = identity
        self.makeEngine = makeEngine
        self.fragmentSize = fragmentSize
    }
}

/// The owner's decision on a client certificate chain (server role).
public enum EAPTLSPeerVerdict: Equatable, Sendable {
    /// Accepted; `identity` names the session (e.g. the certificate's subject CN).
    case accepted(identity: String)
    case refused(reason: String)
}

public enum EAPCode {
    public static let request: UInt8 = 1
    public static let response: UInt8 = 2
    public static let success: UInt8 = 3
    public static let failure: UInt8 = 4
}

public enum EAPType {
    public static let identity: UInt8 = 1
    public static let notification: UInt8 = 2
    public static let nak: UInt8 = 3
    public static let tls: UInt8 = 13
}

/// EAP-TLS flags (RFC 5216 §3.1).
public enum EAPTLSFlags {
    public static let lengthIncluded: UInt8 = 0x80
    public static let moreFragments: UInt8 = 0x40
    public static let start: UInt8 = 0x20
}

/// One EAP packet (RFC 3748 §4): Code | Identifier | Length | [Type | Type-Data].
public struct EAPPacket: Equatable, Sendable {
    public var code: UInt8
    public var identifier: UInt8
    public var type: UInt8?
    public var typeData: [UInt8]

    public init(code: UInt8, identifier: UInt8, type: UInt8? = nil, typeData: [UInt8] = []) {
        self.code = code
        self.identifier = identifier
        self.type = type
        self.typeData = typeData
    }

    public static func parse(_ bytes: [UInt8]) -> EAPPacket? {
        guard let control = try? PPPControlPacket.parse(bytes) else { return nil }
        switch control.code {
        case EAPCode.request, EAPCode.response:
            guard let type = control.data.first else { return nil }
            return EAPPacket(code: control.code, identifier: control.identifier, type: type, typeData: Array(control.data.dropFirst()))
        case EAPCode.success, EAPCode.failure:
            return EAPPacket(code: control.code, identifier: control.identifier)
        default:
            return nil
        }
    }

    public func frame() -> [UInt8] {
        PPPControlPacket(code: code, identifier: identifier, data: (type.map { [$0] } ?? []) + typeData).frame(.eap)
    }
}

/// One EAP-TLS message's fields (RFC 5216 §3.1).
public struct EAPTLSMessage: Equatable, Sendable {
    public var flags: UInt8
    public var totalLength: UInt32?
    public var data: [UInt8]

    public init(flags: UInt8, totalLength: UInt32? = nil, data: [UInt8] = []) {
        self.flags = flags
        self.totalLength = totalLength
        self.data = data
    }

    public static func parse(_ typeData: [UInt8]) -> EAPTLSMessage? {
        guard let flags = typeData.first else { return nil }
        if flags & EAPTLSFlags.lengthIncluded != 0 {
            guard typeData.count >= 5 else { return nil }
            let length = typeData[1..<5].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            return EAPTLSMessage(flags: flags, totalLength: length, data: Array(typeData[5...]))
        }
        return EAPTLSMessage(flags: flags, data: Array(typeData.dropFirst()))
    }

    public func emit() -> [UInt8] {
        var out = [flags]
        if let totalLength {
            out += [UInt8(totalLength >> 24), UInt8((totalLength >> 16) & 0xFF), UInt8((totalLength >> 8) & 0xFF), UInt8(totalLength & 0xFF)]
        }
        return out + data
    }

    public var isAck: Bool { flags & (EAPTLSFlags.start | EAPTLSFlags.moreFragments) == 0 && data.isEmpty && totalLength == nil }
}

/// Bounds on what a peer can make us hold.
public enum EAPTLSLimits {
    /// A whole TLS flight (certificate chains included).
    public static let maxMessage = 64 * 1024
}

/// Splits outgoing TLS bytes into EAP-TLS fragments; reassembles incoming ones.
struct EAPTLSFragmenter: Sendable {
    let fragmentSize: Int
    var outgoing: [UInt8] = []
    var outgoingOffset = 0
    var incoming: [UInt8] = []
    var incomingExpected: Int?

    enum Reassembly: Equatable { case needMore, complete([UInt8]), invalid(String) }

    var hasPendingOutput: Bool { outgoingOffset < outgoing.count }

    mutating func queue(_ bytes: [UInt8]) {
        outgoing = bytes
        outgoingOffset = 0
    }

    /// The next fragment: L on the first of several, M while more follow (RFC 5216 §2.1.5).
    mutating func nextFragment() -> EAPTLSMessage {
        let end = min(outgoing.count, outgoingOffset + fragmentSize)
        let chunk = Array(outgoing[outgoingOffset..<end])
        var flags: UInt8 = 0
        var total: UInt32?
        if outgoingOffset == 0 && outgoing.count > fragmentSize {
            flags |= EAPTLSFlags.lengthIncluded
            total = UInt32(outgoing.count)
        }
        if end < outgoing.count { flags |= EAPTLSFlags.moreFragments }
        outgoingOffset = end
        return EAPTLSMessage(flags: flags, totalLength: total, data: chunk)
    }

    mutating func receive(_ message: EAPTLSMessage) -> Reassembly {
        if let total = message.totalLength {
            guard Int(total) <= EAPTLSLimits.maxMessage else { return .invalid("EAP-TLS message length \(total) exceeds \(EAPTLSLimits.maxMessage)") }
            if incoming.isEmpty { incomingExpected = Int(total) }
        }
        incoming += message.data
        guard incoming.count <= EAPTLSLimits.maxMessage else { return .invalid("EAP-TLS reassembly exceeds \(EAPTLSLimits.maxMessage) bytes") }
        if let expected = incomingExpected, incoming.count > expected { return .invalid("EAP-TLS fragments exceed the announced length \(expected)") }
        if message.flags & EAPTLSFlags.moreFragments != 0 { return .needMore }
        if let expected = incomingExpected, incoming.count != expected { return .invalid("EAP-TLS message is \(incoming.count) bytes, \(expected) announced") }
        let whole = incoming
        incoming = []
        incomingExpected = nil
        return .complete(whole)
    }
}

/// RFC 9190 §2.5: the server's protected success indication, one byte of TLS application data.
public enum EAPTLS13 {
    public static let commitment: [UInt8] = [0x00]
    /// The exporter context of RFC 9190 §2.3: the EAP Type-Code.
    public static let context: [UInt8] = [EAPType.tls]
}

extension EAPTLSEngine {
    /// The 64-byte MSK. TLS 1.2 (RFC 5216 §2.3): TLS-PRF("client EAP encryption", 64).
    /// TLS 1.3 (RFC 9190 §2.3): Key_Material = TLS-Exporter("EXPORTER_EAP_TLS_Key_Material",
    /// Type-Code 0x0D, 128); MSK = Key_Material[0..<64] (the EMSK, [64..<128], is not used here).
    func msk() -> [UInt8]? {
        if negotiatedTLS13 {
            guard let key = exportKeyingMaterial(label: "EXPORTER_EAP_TLS_Key_Material", context: EAPTLS13.context, length: 128),
                  key.count == 128 else { return nil }
            return Array(key[0..<64])
        }
        guard let key = exportKeyingMaterial(label: "client EAP encryption", context: nil, length: 64), key.count == 64 else { return nil }
        return key
    }
}

/// The authenticator (server) side.
struct EAPTLSServer: Sendable {
    /// `rejecting`: the owner refused the chain mid-handshake and our TLS alert is on its way;
    /// the peer's next Response (an ack, or its own alert) is answered with EAP-Failure.
    enum Stage: Sendable, Equatable { case identity, started, handshake, awaitingVerdict, rejecting, done }
    let setup: EAPTLSServerSetup
    var stage = Stage.identity
    var identifier: UInt8
    var identity = ""
    var engine: (any EAPTLSEngine)?
    var fragmenter: EAPTLSFragmenter
    var lastRequest: [UInt8] = []
    var retransmissions = 0
    var deadline: PPPInstant?
    /// The owner accepted the chain mid-handshake (the name for Success once the handshake ends).
    var acceptedIdentity: String?
    /// Why the owner refused the chain mid-handshake (sent as a TLS alert, then EAP-Failure).
    var refusal: String?
    /// TLS bytes the engine produced together with pausing (normally none), sent after the verdict.
    var heldReply: [UInt8] = []
    /// TLS 1.3: the protected success indication (RFC 9190 §2.5) went out with our last flight.
    var commitmentSent = false

    init(setup: EAPTLSServerSetup, identifier: UInt8) {
        self.setup = setup
        self.identifier = identifier
        fragmenter = EAPTLSFragmenter(fragmentSize: max(64, setup.fragmentSize))
    }

    mutating func start(now: PPPInstant, limits: PPPNegotiationLimits) -> [EAPOutput] {
        request(EAPPacket(code: EAPCode.request, identifier: identifier, type: EAPType.identity), now: now, limits: limits)
    }

    mutating func request(_ packet: EAPPacket, now: PPPInstant, limits: PPPNegotiationLimits) -> [EAPOutput] {
        lastRequest = packet.frame()
        retransmissions = 0
        deadline = now + limits.restartInterval
        return [.send(lastRequest)]
    }

    mutating func nextRequest(_ message: EAPTLSMessage, now: PPPInstant, limits: PPPNegotiationLimits) -> [EAPOutput] {
        identifier &+= 1
        return request(EAPPacket(code: EAPCode.request, identifier: identifier, type: EAPType.tls, typeData: message.emit()), now: now, limits: limits)
    }

    mutating func timeout(now: PPPInstant, limits: PPPNegotiationLimits) -> [EAPOutput] {
        guard stage != .done, stage != .awaitingVerdict, let deadline, now >= deadline else { return [] }
        retransmissions += 1
        if retransmissions >= limits.maxConfigure {
            if stage == .rejecting, let refusal { return fail(refusal) }
            self.deadline = nil
            stage = .done
            return [.failed(.authenticationTimeout)]
        }
        self.deadline = now + limits.restartInterval
        return [.send(lastRequest)]
    }

    mutating func fail(_ reason: String) -> [EAPOutput] {
        stage = .done
        deadline = nil
        return [.send(EAPPacket(code: EAPCode.failure, identifier: identifier).frame()), .failed(.certificateRefused(reason: reason))]
    }

    mutating func receive(_ packet: EAPPacket, now: PPPInstant, limits: PPPNegotiationLimits) -> [EAPOutput] {
        // RFC 3748 §4.1: a Response must match the outstanding Request's identifier.
        guard packet.code == EAPCode.response, packet.identifier == identifier, stage != .done, stage != .awaitingVerdict else { return [] }
        switch (stage, packet.type) {
        case (.identity, EAPType.identity):
            identity = String(decoding: packet.typeData.prefix(253), as: UTF8.self)
            do { engine = try setup.makeEngine() } catch { return fail("cannot start TLS: \(error)") }
            stage = .started
            return nextRequest(EAPTLSMessage(flags: EAPTLSFlags.start), now: now, limits: limits)
        case (_, EAPType.nak):
            return fail("the client refused EAP-TLS (Nak for \(packet.typeData.map(String.init)))")
        case (.started, EAPType.tls), (.handshake, EAPType.tls):
            guard let message = EAPTLSMessage.parse(packet.typeData), let engine else { return fail("malformed EAP-TLS response") }
            stage = .handshake
            if message.isAck {
                if fragmenter.hasPendingOutput { return nextRequest(fragmenter.nextFragment(), now: now, limits: limits) }
                // The client acknowledged our last flight: the handshake must now be complete.
                guard engine.isComplete else { return fail(engine.failureReason ?? "TLS handshake incomplete") }
                return handshakeComplete(engine)
            }
            switch fragmenter.receive(message) {
            case .invalid(let reason):
                return fail(reason)
            case .needMore:
                return nextRequest(EAPTLSMessage(flags: 0), now: now, limits: limits)
            case .complete(let records):
                let reply = engine.feed(records)
                if let reason = engine.failureReason {
                    // A TLS failure with an alert to send (e.g. protocol_version): the alert first, so
                    // the peer learns why, then EAP-Failure (RFC 5216 §2.1.3).
                    return reject("TLS: \(reason)", alert: reply, now: now, limits: limits)
                }
                if let chain = engine.pendingPeerVerification {
                    // Paused at the client's Certificate: the owner decides before our Finished goes out.
                    heldReply = reply
                    stage = .awaitingVerdict
                    deadline = nil
                    return [.verifyPeer(chain)]
                }
                guard !reply.isEmpty else {
                    guard engine.isComplete else { return nextRequest(EAPTLSMessage(flags: 0), now: now, limits: limits) }
                    return handshakeComplete(engine)
                }
                fragmenter.queue(reply)
                return nextRequest(fragmenter.nextFragment(), now: now, limits: limits)
            }
        case (.rejecting, EAPType.tls):
            // Our alert (in fragments if need be) reached the peer; its answer ends the exchange.
            if let message = EAPTLSMessage.parse(packet.typeData), message.isAck, fragmenter.hasPendingOutput {
                return nextRequest(fragmenter.nextFragment(), now: now, limits: limits)
            }
            return fail(refusal ?? "client certificate refused")
        default:
            return []
        }
    }

    /// The alert (if any) in an EAP-TLS Request, EAP-Failure after the peer's answer.
    mutating func reject(_ reason: String, alert: [UInt8], now: PPPInstant, limits: PPPNegotiationLimits) -> [EAPOutput] {
        guard !alert.isEmpty else { return fail(reason) }
        refusal = reason
        stage = .rejecting
        fragmenter.queue(alert)
        return nextRequest(fragmenter.nextFragment(), now: now, limits: limits)
    }

    /// Both Finished messages are through: Success if the owner already accepted the chain
    /// mid-handshake (and, TLS 1.3, the peer acknowledged our success indication), else ask for
    /// the verdict now (engines that do not pause).
    mutating func handshakeComplete(_ engine: any EAPTLSEngine) -> [EAPOutput] {
        if let acceptedIdentity, !engine.negotiatedTLS13 || commitmentSent { return succeed(acceptedIdentity, engine) }
        stage = .awaitingVerdict
        deadline = nil
        return [.verifyPeer(engine.peerCertificateChain)]
    }

    mutating func succeed(_ name: String, _ engine: any EAPTLSEngine) -> [EAPOutput] {
        guard let msk = engine.msk() else { return fail("TLS keying material unavailable") }
        stage = .done
        deadline = nil
        // RFC 3748 §4.2: Success carries the identifier of the last Response.
        return [.send(EAPPacket(code: EAPCode.success, identifier: identifier).frame()),
                .succeeded(user: name, masterSendKey: Array(msk[32..<64]), masterReceiveKey: Array(msk[0..<32]))]
    }

    /// The owner's verdict on the client chain. Mid-handshake (the engine paused): accepted → our
    /// Finished flight, Success after the peer acknowledges it; refused → a TLS alert, then
    /// EAP-Failure (RFC 5216 §2.1.3). After the handshake: EAP-Success with keys, or EAP-Failure.
    mutating func verdict(_ verdict: EAPTLSPeerVerdict, now: PPPInstant, limits: PPPNegotiationLimits) -> [EAPOutput] {
        guard stage == .awaitingVerdict, let engine else { return [] }
        if engine.pendingPeerVerification != nil {
            switch verdict {
            case .accepted(let name):
                var flight = heldReply + engine.resolvePeerVerification(accepted: true)
                heldReply = []
                // E.g. a CertificateVerify that does not verify: BoringSSL's alert, then Failure.
                if let reason = engine.failureReason { return reject("TLS: \(reason)", alert: flight, now: now, limits: limits) }
                acceptedIdentity = name
                stage = .handshake
                if engine.isComplete, engine.negotiatedTLS13 {
                    // TLS 1.3 (RFC 9190 §2.5): the client's Finished is in, our NewSessionTickets (if
                    // any) are in `flight`; the success indication follows them in the same Request.
                    guard let commitment = commit(engine) else { return fail("TLS 1.3: the success indication could not be sent") }
                    flight += commitment
                }
                guard !flight.isEmpty else {
                    guard engine.isComplete else { return fail("TLS handshake stalled after the certificate was accepted") }
                    return succeed(name, engine)
                }
                fragmenter.queue(flight)
                return nextRequest(fragmenter.nextFragment(), now: now, limits: limits)
            case .refused(let reason):
                let alert = engine.resolvePeerVerification(accepted: false)
                heldReply = []
                return reject(reason, alert: alert, now: now, limits: limits)
            }
        }
        switch verdict {
        case .refused(let reason):
            return fail(reason)
        case .accepted(let name):
            guard engine.negotiatedTLS13, !commitmentSent else { return succeed(name, engine) }
            // TLS 1.3 without a pause: the success indication first, Success after the peer's ack.
            guard let commitment = commit(engine) else { return fail("TLS 1.3: the success indication could not be sent") }
            acceptedIdentity = name
            stage = .handshake
            fragmenter.queue(commitment)
            return nextRequest(fragmenter.nextFragment(), now: now, limits: limits)
        }
    }

    /// RFC 9190 §2.5: one byte 0x00 of TLS application data, i.e. no more handshake messages.
    mutating func commit(_ engine: any EAPTLSEngine) -> [UInt8]? {
        let records = engine.sendApplicationData(EAPTLS13.commitment)
        guard !records.isEmpty, engine.failureReason == nil else { return nil }
        commitmentSent = true
        return records
    }
}

/// The peer (client) side.
struct EAPTLSClient: Sendable {
    let setup: EAPTLSClientSetup
    var engine: (any EAPTLSEngine)?
    var fragmenter: EAPTLSFragmenter
    var lastRequestID: UInt8?
    var lastResponse: [UInt8] = []
    var done = false

    init(setup: EAPTLSClientSetup) {
        self.setup = setup
        fragmenter = EAPTLSFragmenter(fragmentSize: max(64, setup.fragmentSize))
    }

    mutating func respond(_ id: UInt8, type: UInt8, data: [UInt8]) -> [EAPOutput] {
        lastRequestID = id
        lastResponse = EAPPacket(code: EAPCode.response, identifier: id, type: type, typeData: data).frame()
        return [.send(lastResponse)]
    }

    mutating func receive(_ packet: EAPPacket) -> [EAPOutput] {
        guard !done else { return [] }
        switch packet.code {
        case EAPCode.request:
            // RFC 3748 §4.1: a retransmitted Request gets the same Response.
            if packet.identifier == lastRequestID, !lastResponse.isEmpty { return [.send(lastResponse)] }
            switch packet.type {
            case EAPType.identity:
                return respond(packet.identifier, type: EAPType.identity, data: Array(setup.identity.utf8))
            case EAPType.notification:
                return respond(packet.identifier, type: EAPType.notification, data: [])
            case EAPType.tls:
                guard let message = EAPTLSMessage.parse(packet.typeData) else { return [] }
                if message.flags & EAPTLSFlags.start != 0 {
                    guard engine == nil else { return [] }
                    do { engine = try setup.makeEngine() } catch {
                        done = true
                        return [.failed(.authenticationRequiredButUnsupported)]
                    }
                    fragmenter.queue(engine!.start())
                    return respond(packet.identifier, type: EAPType.tls, data: fragmenter.nextFragment().emit())
                }
                guard let engine else { return [] }
                if message.isAck {
                    guard fragmenter.hasPendingOutput else { return [] }
                    return respond(packet.identifier, type: EAPType.tls, data: fragmenter.nextFragment().emit())
                }
                switch fragmenter.receive(message) {
                case .invalid:
                    done = true
                    return [.failed(.authenticationRequiredButUnsupported)]
                case .needMore:
                    return respond(packet.identifier, type: EAPType.tls, data: EAPTLSMessage(flags: 0).emit())
                case .complete(let records):
                    let reply = engine.feed(records)
                    if reply.isEmpty { return respond(packet.identifier, type: EAPType.tls, data: EAPTLSMessage(flags: 0).emit()) }
                    fragmenter.queue(reply)
                    return respond(packet.identifier, type: EAPType.tls, data: fragmenter.nextFragment().emit())
                }
            default:
                // RFC 3748 §5.3.1: Legacy Nak, desired type EAP-TLS.
                return respond(packet.identifier, type: EAPType.nak, data: [EAPType.tls])
            }
        case EAPCode.success:
            guard let engine, engine.isComplete else { return [] }
            if engine.negotiatedTLS13, engine.receivedApplicationData != EAPTLS13.commitment {
                // RFC 9190 §2.5: EAP-Success is unprotected; only the server's 0x00 inside TLS says
                // the authentication (and the handshake) is over.
                done = true
                return [.failed(.eapFailure(tls: "EAP-Success without the TLS 1.3 protected success indication"))]
            }
            guard let msk = engine.msk() else { return [] }
            done = true
            return [.succeeded(user: setup.identity, masterSendKey: Array(msk[0..<32]), masterReceiveKey: Array(msk[32..<64]))]
        case EAPCode.failure:
            done = true
            return [.failed(.eapFailure(tls: engine?.failureReason))]
        default:
            return []
        }
    }
}

enum EAPOutput: Equatable, Sendable {
    case send([UInt8])
    case succeeded(user: String, masterSendKey: [UInt8], masterReceiveKey: [UInt8])
    case failed(PPPFailure)
    /// Server role: ask the owner to judge this chain (leaf first).
    case verifyPeer([[UInt8]])
}

/// The EAP-TLS authenticator on its own: bare EAP packets (RFC 3748 §4) in and out, no PPP framing.
/// It is the very state machine `PPPSession` runs for `.eap` (`EAPTLSServer`), for carrying EAP
/// over another lower layer — `vpngw p2s eap-tls-server` relays it through RADIUS to wpa_supplicant's
/// eapol_test (Tests/netns/eap_tls_interop.sh). Retransmission is the lower layer's business here
/// (RADIUS clients retransmit), so there is no timer; the owner bounds the whole exchange.
public struct EAPTLSServerExchange: Sendable {
    public enum Event: Equatable, Sendable {
        /// One EAP packet for the peer (Request, Success or Failure).
        case send([UInt8])
        /// Judge the client's chain (leaf first, DER) and answer with `verdict(_:)`.
        case verifyPeer(chain: [[UInt8]])
        /// EAP-Success was sent. The keys are oriented as the SSTP server uses them:
        /// `masterReceiveKey` = MSK[0..<32], `masterSendKey` = MSK[32..<64].
        case succeeded(identity: String, masterSendKey: [UInt8], masterReceiveKey: [UInt8])
        /// EAP-Failure was sent (when the failure came from the exchange itself).
        case failed(PPPFailure)
    }

    var server: EAPTLSServer
    let limits = PPPNegotiationLimits()

    public init(setup: EAPTLSServerSetup, identifier: UInt8 = 0) {
        server = EAPTLSServer(setup: setup, identifier: identifier)
    }

    /// The identity the peer gave in Response/Identity.
    public var peerIdentity: String { server.identity }
    public var isDone: Bool { server.stage == .done }

    /// Request/Identity.
    public mutating func start() -> [Event] { Self.map(server.start(now: .zero, limits: limits)) }

    /// One EAP packet from the peer; malformed or unexpected packets are ignored (no events).
    public mutating func receive(_ packet: [UInt8]) -> [Event] {
        guard let parsed = EAPPacket.parse(packet) else { return [] }
        return Self.map(server.receive(parsed, now: .zero, limits: limits))
    }

    /// The owner's verdict on the chain of `.verifyPeer`.
    public mutating func verdict(_ verdict: EAPTLSPeerVerdict) -> [Event] { Self.map(server.verdict(verdict, now: .zero, limits: limits)) }

    static func map(_ outputs: [EAPOutput]) -> [Event] {
        outputs.compactMap { output in
            switch output {
            case .send(let frame): (try? PPPFrame.parse(frame)).map { .send($0.information) }
            case .succeeded(let user, let send, let receive): .succeeded(identity: user, masterSendKey: send, masterReceiveKey: receive)
            case .failed(let failure): .failed(failure)
            case .verifyPeer(let chain): .verifyPeer(chain: chain)
            }
        }
    }
}
