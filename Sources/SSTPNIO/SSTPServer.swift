// The SSTP server (issue 5): TLS on TCP via swift-nio-ssl, one `SSTPServerCall` per connection
// driven by `SSTPServerHandler`, and one P2S TUN device shared by all sessions.
//   client ──TLS──▶ handler ──.deliver──▶ TUN ──kernel──▶ VNet
//   VNet ──kernel──▶ TUN ──reader thread──▶ route table (client address → session) ──event loop──▶ frameIPv4 ──TLS──▶ client
// Admission (session limit, address pool) happens when TLS completes; a refused call still gets
// the HTTP answer and a CALL_CONNECT_NAK (the core's clean refusal) and a log line with the reason.
import CDataPlane
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS
import PPP
import SSTP

public struct SSTPServerSettings: Sendable {
    public var host: String = "0.0.0.0"
    public var port: Int = 443
    public var identity: SSTPServerIdentity
    public var users: [String: MSCHAPv2Credential]
    /// vpnClientAddressPool; the first usable address is the server's end of every PPP link.
    public var poolPrefix: PPPIPv4Address
    public var poolLength: Int
    public var dns: [PPPIPv4Address] = []
    /// The SKU's SSTP maximum (VpnGw1: 128).
    public var maxSessions: Int = 128
    /// TCP connections that have not finished TLS within this are closed (slow clients).
    public var handshakeTimeout: TimeAmount = .seconds(30)
    public var timers = SSTPTimers()
    public var tunName: String = "p2s0"
    public var tunMTU: Int = 1400
    /// Add the pool route and the server address to the TUN device with `ip`.
    public var configureRoutes = true
    public var eventLoopThreads: Int = System.coreCount
    public var name: String = "vpngw"
    /// LCP's authentication methods in order of preference: `.msCHAPv2` (Azure Password),
    /// `.eap` (Azure Certificate: EAP-TLS against `clientCertificates`).
    public var authentication: [PPPAuthenticationProtocol] = [.msCHAPv2]
    /// vpnClientRootCertificates / vpnClientRevokedCertificates (replaced at run time with
    /// `setClientCertificatePolicy`).
    public var clientCertificates = SSTPClientCertificatePolicy(roots: [], revoked: [])

    public init(identity: SSTPServerIdentity, users: [String: MSCHAPv2Credential], poolPrefix: PPPIPv4Address, poolLength: Int) {
        self.identity = identity
        self.users = users
        self.poolPrefix = poolPrefix
        self.poolLength = poolLength
    }
}

/// One row of the session table (issue 5: user, address, bytes, since).
public struct SSTPSessionInfo: Sendable, CustomStringConvertible {
    public var id: Int
    public var user: String?
    public var clientAddress: PPPIPv4Address
    public var peer: String
    public var connected: Bool
    public var bytesIn: UInt64
    public var bytesOut: UInt64
    public var since: Date
    /// EAP-TLS sessions: the client certificate's SHA-1 thumbprint (uppercase hex).
    public var thumbprint: String? = nil

    public var description: String {
        "#\(id) \(user ?? "-")\(thumbprint.map { " cert \($0)" } ?? "") \(clientAddress) from \(peer) \(connected ? "connected" : "negotiating") in \(bytesIn) B out \(bytesOut) B since \(since)"
    }
}

/// Events for the log / CLI.
public enum SSTPServerEvent: Sendable {
    case listening(String)
    case accepted(id: Int, peer: String)
    case refused(peer: String, reason: String)
    case authenticated(id: Int, user: String)
    case connected(SSTPSessionInfo)
    case closed(SSTPSessionInfo, reason: SSTPCloseReason)
    case handshakeFailed(peer: String, reason: String)
    /// EAP-TLS: the client certificate was refused (unknown root, revoked, unparsable).
    case certificateRefused(id: Int, peer: String, reason: String)
}

/// Per-session state shared between the event loop (owner) and the table / TUN reader.
final class SSTPSession: @unchecked Sendable {
    let id: Int
    let peer: String
    let address: PPPIPv4Address
    let since = Date()
    let eventLoop: any EventLoop
    let handler: NIOLoopBound<SSTPServerHandler>
    struct Counters { var bytesIn: UInt64 = 0; var bytesOut: UInt64 = 0; var user: String?; var connected = false; var thumbprint: String? }
    let counters = NIOLockedValueBox(Counters())

    init(id: Int, peer: String, address: PPPIPv4Address, handler: SSTPServerHandler, eventLoop: any EventLoop) {
        self.id = id
        self.peer = peer
        self.address = address
        self.eventLoop = eventLoop
        self.handler = NIOLoopBound(handler, eventLoop: eventLoop)
    }

    var info: SSTPSessionInfo {
        let c = counters.withLockedValue { $0 }
        return SSTPSessionInfo(id: id, user: c.user, clientAddress: address, peer: peer, connected: c.connected,
                               bytesIn: c.bytesIn, bytesOut: c.bytesOut, since: since, thumbprint: c.thumbprint)
    }
}

public final class SSTPServer: @unchecked Sendable {
    public let settings: SSTPServerSettings
    let onEvent: @Sendable (SSTPServerEvent) -> Void
    let group: MultiThreadedEventLoopGroup
    let sslContext: NIOSSLContext
    let serverAddress: PPPIPv4Address
    private(set) var tun: TUNDevice?
    private var channel: (any Channel)?

    struct Table {
        var pool: PPPAddressPool
        var sessions: [Int: SSTPSession] = [:]
        var routes: [UInt32: SSTPSession] = [:]
        var nextID = 1
        var maxSessions: Int
    }
    let table: NIOLockedValueBox<Table>
    /// MS-CHAPv2 users; replaced at run time by `setUsers` (new calls see the new set).
    let users: NIOLockedValueBox<[String: MSCHAPv2Credential]>
    let certificatePolicy: NIOLockedValueBox<SSTPClientCertificatePolicy>
    /// Packets from the TUN device with no session behind their destination.
    let unroutable = NIOLockedValueBox<UInt64>(0)

    public init(settings: SSTPServerSettings, onEvent: @escaping @Sendable (SSTPServerEvent) -> Void) throws {
        self.settings = settings
        self.onEvent = onEvent
        guard var pool = PPPAddressPool(prefix: settings.poolPrefix, length: settings.poolLength) else {
            throw SSTPServerError.invalidArgument("address pool \(settings.poolPrefix)/\(settings.poolLength) is not usable (/8…/30)")
        }
        guard let server = pool.allocate() else { throw SSTPServerError.invalidArgument("address pool is empty") }
        serverAddress = server
        table = NIOLockedValueBox(Table(pool: pool, maxSessions: settings.maxSessions))
        users = NIOLockedValueBox(settings.users)
        certificatePolicy = NIOLockedValueBox(settings.clientCertificates)
        var tls = TLSConfiguration.makeServerConfiguration(certificateChain: settings.identity.certificateChain.map { .certificate($0) },
                                                           privateKey: .privateKey(settings.identity.privateKey))
        tls.minimumTLSVersion = .tlsv12
        sslContext = try NIOSSLContext(configuration: tls)
        group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, settings.eventLoopThreads))
    }

    /// Opens the TUN device, routes the pool through it, and listens. Returns the bound address.
    @discardableResult
    public func start() throws -> String {
        let tun = try TUNDevice(name: settings.tunName, mtu: settings.tunMTU)
        self.tun = tun
        if settings.configureRoutes {
            try runIPCommand(["addr", "replace", "\(serverAddress)/32", "dev", tun.name])
            try runIPCommand(["route", "replace", "\(settings.poolPrefix)/\(settings.poolLength)", "dev", tun.name])
        }
        tun.startReader { [weak self] packets in self?.fromTUN(packets) }
        let sslContext = self.sslContext
        let timeout = settings.handshakeTimeout
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 1024)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { [unowned self] channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: sslContext))
                    try channel.pipeline.syncOperations.addHandler(SSTPServerHandler(server: self, handshakeTimeout: timeout))
                }
            }
        let channel = try bootstrap.bind(host: settings.host, port: settings.port).wait()
        self.channel = channel
        let bound = channel.localAddress.map { "\($0.ipAddress ?? settings.host):\($0.port ?? settings.port)" } ?? "\(settings.host):\(settings.port)"
        onEvent(.listening("\(bound) tun \(tun.name) pool \(settings.poolPrefix)/\(settings.poolLength) server \(serverAddress) max \(settings.maxSessions)"))
        return bound
    }

    public func stop() {
        for session in table.withLockedValue({ Array($0.sessions.values) }) {
            session.eventLoop.execute { session.handler.value.disconnect(reason: "server stopping") }
        }
        try? channel?.close().wait()
        tun?.stop()
        try? group.syncShutdownGracefully()
    }

    // MARK: Table

    public func sessions() -> [SSTPSessionInfo] {
        table.withLockedValue { Array($0.sessions.values) }.map(\.info).sorted { $0.id < $1.id }
    }

    /// Disconnects sessions of `user` or at `address` (LCP Terminate + CALL_DISCONNECT). Returns how many.
    @discardableResult
    public func disconnect(user: String? = nil, address: PPPIPv4Address? = nil, reason: String = "disconnected by the operator") -> Int {
        let victims = table.withLockedValue { Array($0.sessions.values) }.filter { s in
            (address != nil && s.address == address) || (user != nil && s.counters.withLockedValue { $0.user } == user)
        }
        for session in victims { session.eventLoop.execute { session.handler.value.disconnect(reason: reason) } }
        return victims.count
    }

    /// Disconnects the sessions with these ids. Returns how many were found.
    @discardableResult
    public func disconnect(ids: Set<Int>, reason: String = "disconnected by the operator") -> Int {
        let victims = table.withLockedValue { t in ids.compactMap { t.sessions[$0] } }
        for session in victims { session.eventLoop.execute { session.handler.value.disconnect(reason: reason) } }
        return victims.count
    }

    /// Replaces the MS-CHAPv2 users for calls that start from now on; live sessions are kept
    /// (disconnect a removed user's sessions with `disconnect(user:)`).
    public func setUsers(_ newUsers: [String: MSCHAPv2Credential]) { users.withLockedValue { $0 = newUsers } }

    /// Replaces the trusted roots and revoked thumbprints. Live EAP-TLS sessions whose certificate
    /// is now revoked end (LCP Terminate + CALL_DISCONNECT). Returns how many were ended.
    @discardableResult
    public func setClientCertificatePolicy(_ policy: SSTPClientCertificatePolicy) -> Int {
        certificatePolicy.withLockedValue { $0 = policy }
        let victims = table.withLockedValue { Array($0.sessions.values) }.filter { s in
            s.counters.withLockedValue { $0.thumbprint }.map { policy.revoked.contains($0) } ?? false
        }
        for session in victims {
            let thumb = session.counters.withLockedValue { $0.thumbprint } ?? "?"
            session.eventLoop.execute { session.handler.value.disconnect(reason: "client certificate \(thumb) was revoked") }
        }
        return victims.count
    }

    func isRevoked(_ thumbprint: String) -> Bool { certificatePolicy.withLockedValue { $0.revoked.contains(thumbprint) } }

    /// Changes the session limit (tests; SKU resize).
    public func setMaxSessions(_ n: Int) { table.withLockedValue { $0.maxSessions = n } }

    /// Admission when TLS is up: a session id and a client address, or the refusal reason.
    func admit(peer: String, handler: SSTPServerHandler, eventLoop: any EventLoop) -> Result<SSTPSession, RefusalReason> {
        table.withLockedValue { t in
            guard t.sessions.count < t.maxSessions else { return .failure(RefusalReason(text: "session limit \(t.maxSessions) reached")) }
            guard let address = t.pool.allocate() else { return .failure(RefusalReason(text: "address pool exhausted")) }
            let session = SSTPSession(id: t.nextID, peer: peer, address: address, handler: handler, eventLoop: eventLoop)
            t.nextID += 1
            t.sessions[session.id] = session
            return .success(session)
        }
    }

    struct RefusalReason: Error { var text: String }

    func route(_ session: SSTPSession) {
        table.withLockedValue { $0.routes[session.address.value] = session }
    }

    func release(_ session: SSTPSession) {
        table.withLockedValue { t in
            guard t.sessions.removeValue(forKey: session.id) != nil else { return }
            if t.routes[session.address.value] === session { t.routes.removeValue(forKey: session.address.value) }
            t.pool.release(session.address)
        }
    }

    func configuration(for address: PPPIPv4Address, refusal: String?) -> SSTPServerConfiguration {
        let identity = settings.identity
        let eap = settings.authentication.contains(.eap) ? EAPTLSServerSetup {
            try NIOEAPTLSEngine(serverChain: identity.certificateChain, privateKey: identity.privateKey)
        } : nil
        let ppp = PPPServerConfiguration(name: settings.name, users: users.withLockedValue { $0 }, localAddress: serverAddress, clientAddress: address,
                                         dns: settings.dns, mru: UInt16(min(settings.tunMTU, 1500)),
                                         authentication: settings.authentication, eapTLS: eap)
        return SSTPServerConfiguration(certificateDER: settings.identity.certificateDER, hashProtocols: [.sha1, .sha256], ppp: ppp,
                                       timers: settings.timers, maxConnectNaks: 3, httpDate: Self.httpDate(), refusal: refusal)
    }

    static func httpDate() -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "GMT")
        f.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        return f.string(from: Date())
    }

    // MARK: Data path

    /// Packets read from the TUN device: grouped by session, one event-loop hop per session and batch.
    func fromTUN(_ packets: [[UInt8]]) {
        var batches: [ObjectIdentifier: (SSTPSession, [[UInt8]])] = [:]
        var dropped: UInt64 = 0
        table.withLockedValue { t in
            for packet in packets {
                guard let dst = ipv4Destination(packet), let session = t.routes[dst] else { dropped += 1; continue }
                batches[ObjectIdentifier(session), default: (session, [])].1.append(packet)
            }
        }
        if dropped > 0 { unroutable.withLockedValue { $0 += dropped } }
        for (_, (session, batch)) in batches {
            session.eventLoop.execute { session.handler.value.sendDown(batch) }
        }
    }

    func toTUN(_ packet: [UInt8]) { tun?.write(packet) }

    func event(_ e: SSTPServerEvent) { onEvent(e) }
}

/// Clock for the cores: the event loops' monotonic clock.
@inline(__always)
func pppNow() -> PPPInstant { PPPInstant(nanoseconds: Int64(NIODeadline.now().uptimeNanoseconds)) }

/// Drives one SSTPServerCall on its channel's event loop.
final class SSTPServerHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    unowned let server: SSTPServer
    let handshakeTimeout: TimeAmount
    var context: ChannelHandlerContext?
    var call: SSTPServerCall?
    var session: SSTPSession?
    var timer: Scheduled<Void>?
    var handshakeTimer: Scheduled<Void>?
    var peer = "?"
    var closed = false
    var refusedReason: String?

    init(server: SSTPServer, handshakeTimeout: TimeAmount) {
        self.server = server
        self.handshakeTimeout = handshakeTimeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        peer = context.channel.remoteAddress.map { "\($0.ipAddress ?? "?"):\($0.port ?? 0)" } ?? "?"
        let loopContext = NIOLoopBound(context, eventLoop: context.eventLoop)
        let peer = self.peer
        let server = self.server
        handshakeTimer = context.eventLoop.scheduleTask(in: handshakeTimeout) {
            server.event(.handshakeFailed(peer: peer, reason: "TLS handshake not finished within the timeout"))
            loopContext.value.close(promise: nil)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let tls = event as? TLSUserEvent, case .handshakeCompleted = tls {
            handshakeTimer?.cancel()
            handshakeTimer = nil
            startCall(context: context)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func startCall(context: ChannelHandlerContext) {
        switch server.admit(peer: peer, handler: self, eventLoop: context.eventLoop) {
        case .success(let session):
            self.session = session
            call = SSTPServerCall(configuration: server.configuration(for: session.address, refusal: nil), random: SystemPPPRandom())
            server.event(.accepted(id: session.id, peer: peer))
        case .failure(let reason):
            refusedReason = reason.text
            call = SSTPServerCall(configuration: server.configuration(for: .zero, refusal: reason.text), random: SystemPPPRandom())
        }
        run(call!.start(now: pppNow()))
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        guard call != nil, !closed else { return }
        let bytes = buffer.readBytes(length: buffer.readableBytes) ?? []
        session?.counters.withLockedValue { $0.bytesIn += UInt64(bytes.count) }
        run(call!.handle(bytes: bytes, now: pppNow()))
    }

    func channelInactive(context: ChannelHandlerContext) {
        handshakeTimer?.cancel()
        if call != nil, !closed { run(call!.transportClosed(now: pppNow())) }
        finish()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if call == nil {
            server.event(.handshakeFailed(peer: peer, reason: "\(error)"))
        }
        context.close(promise: nil)
    }

    /// Packets from the TUN device for this client.
    func sendDown(_ packets: [[UInt8]]) {
        guard let context, let call, !closed else { return }
        guard context.channel.isWritable else { return }  // TCP backpressure: drop, IP copes
        var bytes = 0
        for packet in packets {
            guard let framed = call.frameIPv4(packet) else { continue }
            bytes += framed.count
            context.write(wrapOutboundOut(context.channel.allocator.buffer(bytes: framed)), promise: nil)
        }
        if bytes > 0 {
            session?.counters.withLockedValue { $0.bytesOut += UInt64(bytes) }
            context.flush()
        }
    }

    func disconnect(reason: String) {
        guard call != nil, !closed else { return }
        run(call!.disconnect(reason: reason, now: pppNow()))
    }

    func run(_ actions: [SSTPServerAction]) {
        guard let context else { return }
        var wrote = false
        for action in actions {
            switch action {
            case .send(let bytes):
                session?.counters.withLockedValue { $0.bytesOut += UInt64(bytes.count) }
                context.write(wrapOutboundOut(context.channel.allocator.buffer(bytes: bytes)), promise: nil)
                wrote = true
            case .armTimer(let deadline):
                timer?.cancel()
                let loopSelf = NIOLoopBound(self, eventLoop: context.eventLoop)
                timer = context.eventLoop.scheduleTask(deadline: NIODeadline.uptimeNanoseconds(UInt64(max(0, deadline.nanoseconds)))) {
                    loopSelf.value.fire()
                }
            case .verifyClientCertificate(let chain):
                let policy = server.certificatePolicy.withLockedValue { $0 }
                let loopSelf = NIOLoopBound(self, eventLoop: context.eventLoop)
                let eventLoop = context.eventLoop
                Task {
                    let (verdict, thumbprint) = await policy.verify(chain: chain)
                    eventLoop.execute { loopSelf.value.certificateVerdict(verdict, thumbprint: thumbprint) }
                }
            case .authenticated(let user):
                session?.counters.withLockedValue { $0.user = user }
                if let session { server.event(.authenticated(id: session.id, user: user)) }
            case .connected(let user, _):
                guard let session else { break }
                session.counters.withLockedValue { $0.user = user; $0.connected = true }
                server.route(session)
                server.event(.connected(session.info))
            case .deliver(let packet):
                server.toTUN(packet)
            case .close(let reason):
                closed = true
                timer?.cancel()
                if let refusedReason {
                    server.event(.refused(peer: peer, reason: refusedReason))
                } else if let session {
                    server.event(.closed(session.info, reason: reason))
                }
                finish()
                if wrote { context.flush() }
                wrote = false
                context.close(promise: nil)
            }
        }
        if wrote { context.flush() }
    }

    /// The certificate policy's answer (EAP-TLS). A revocation that raced the check still wins.
    func certificateVerdict(_ verdict: EAPTLSPeerVerdict, thumbprint: String?) {
        guard call != nil, !closed else { return }
        var verdict = verdict
        if case .accepted = verdict, let thumbprint, server.isRevoked(thumbprint) {
            verdict = .refused(reason: "client certificate \(thumbprint) is revoked (vpnClientRevokedCertificates)")
        }
        session?.counters.withLockedValue { $0.thumbprint = thumbprint }
        if case .refused(let reason) = verdict, let session { server.event(.certificateRefused(id: session.id, peer: peer, reason: reason)) }
        run(call!.clientCertificateVerdict(verdict, now: pppNow()))
    }

    func fire() {
        timer = nil
        guard call != nil, !closed else { return }
        run(call!.handleTimer(now: pppNow()))
    }

    func finish() {
        if let session { server.release(session) }
        session = nil
        timer?.cancel()
    }
}
