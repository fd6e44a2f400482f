// The SSTP server (issue 5): TLS on TCP via swift-nio-ssl, one `SSTPServerCall` per connection
// driven by `SSTPServerHandler`, and one P2S TUN device shared by all sessions.
//   client ──TLS──▶ handler ──.deliver──▶ TUN ──kernel──▶ VNet
//   VNet ──kernel──▶ TUN ──reader thread──▶ route table (client address → session), framed into one
//        buffer per session and batch ──event loop──▶ TLS ──▶ client
// The data path copies each packet once per direction and builds no arrays: received IPv4 frames
// go from NIO's receive buffer to the TUN device, and the reader thread frames packets from its
// read buffer into the session's send buffer (SSTPDataFastPath). Control packets, LCP/IPCP and
// echo still go through the call's state machine, so the cores stay the only protocol logic.
// Every packet of either direction draws from the gateway's SKU budget (GatewayBandwidth, shared
// with the site-to-site tunnels) and is checked against the reachable prefixes (gateway transit);
// drops are counted by reason.
// Admission (session limit, address pool) happens when TLS completes; a refused call still gets
// the HTTP answer and a CALL_CONNECT_NAK (the core's clean refusal) and a log line with the reason.
import CDataPlane
import DataPlane
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
    /// TUN offloads (IFF_VNET_HDR + TSO, TUNOffload.swift): super-packets read from the VNet are
    /// cut into MSS segments here, clients' TCP segments are merged into one TUN write per flow
    /// and batch. Falls back to plain packets if the kernel refuses; false: always plain.
    public var tunOffloads = true
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
    /// The gateway's SKU throughput, shared with its site-to-site tunnels; nil: uncapped.
    public var bandwidth: GatewayBandwidth?
    /// What clients may reach (replaced at run time with `setReachable`); nil: anything this host routes.
    public var reachable: [SSTPPrefix]?

    public init(identity: SSTPServerIdentity, users: [String: MSCHAPv2Credential], poolPrefix: PPPIPv4Address, poolLength: Int) {
        self.identity = identity
        self.users = users
        self.poolPrefix = poolPrefix
        self.poolLength = poolLength
    }
}

/// An IPv4 prefix (host order).
public struct SSTPPrefix: Sendable, Equatable, CustomStringConvertible {
    public var network: UInt32
    public var length: Int
    public init(network: UInt32, length: Int) {
        self.length = max(0, min(32, length))
        self.network = network & Self.mask(self.length)
    }
    /// "a.b.c.d/n"; nil if it is not an IPv4 prefix.
    public init?(parsing text: String) {
        let parts = text.split(separator: "/")
        guard parts.count <= 2, let address = PPPIPv4Address(String(parts[0])) else { return nil }
        let length = parts.count == 2 ? Int(parts[1]) : 32
        guard let length, (0...32).contains(length) else { return nil }
        self.init(network: address.value, length: length)
    }
    @inline(__always) static func mask(_ length: Int) -> UInt32 { length == 0 ? 0 : ~UInt32(0) << (32 - length) }
    @inline(__always) public func contains(_ address: UInt32) -> Bool { address & Self.mask(length) == network }
    public var description: String { "\(PPPIPv4Address(network))/\(length)" }
}

/// Why the P2S data path dropped a packet (never thrown; counted per reason).
public enum SSTPDropReason: String, CaseIterable, Sendable {
    /// From the VNet: no connected session holds the destination address.
    case noSession
    /// Not an IPv4 packet (IPv6 over SSTP is not offered).
    case notIPv4
    /// The gateway's SKU bandwidth (shared with the S2S tunnels) is spent, client → VNet.
    case bandwidthCapInbound
    /// The same, VNet → client.
    case bandwidthCapOutbound
    /// Client → a destination outside the VNet, peered VNets with gateway transit and the
    /// gateway's sites (or such a packet towards a client).
    case notReachable
    /// Client → VNet with a source other than the client's assigned address.
    case spoofedSource
    /// VNet → client while TCP towards the client was not writable (IP copes).
    case backpressure
    /// The TUN device refused the write.
    case tunWriteFailed
}

/// Per-reason drop counters, updated from the TUN reader and the event loops.
final class SSTPDropCounters: Sendable {
    private let counters: [NIOLockedValueBox<UInt64>] = SSTPDropReason.allCases.map { _ in NIOLockedValueBox(0) }
    func add(_ reason: SSTPDropReason, _ n: UInt64 = 1) {
        guard n > 0 else { return }
        counters[reason.index].withLockedValue { $0 += n }
    }
    var snapshot: [SSTPDropReason: UInt64] {
        var out: [SSTPDropReason: UInt64] = [:]
        for (i, r) in SSTPDropReason.allCases.enumerated() { out[r] = counters[i].withLockedValue { $0 } }
        return out
    }
}

/// The TUN reader thread's state: touched only by that thread (hence unchecked Sendable).
final class TUNReaderState: @unchecked Sendable {
    struct Slot { var session: SSTPSession; var buffer: ByteBuffer; var packets: Int }
    var routes: [UInt32: SSTPSession] = [:]
    var reach = SSTPReachability(prefixes: nil)
    var bandwidth: BandwidthBudget?
    var now: Int64 = 0
    var slots: [Slot] = []
    /// A session's send buffer per wake-up starts this big (bigger when reads are super-packets).
    var bufferCapacity = 16 * 1024
    var capDropped: [ObjectIdentifier: (SSTPSession, UInt64)] = [:]
    var drops = [UInt64](repeating: 0, count: SSTPDropReason.allCases.count)
    let allocator = ByteBufferAllocator()
    @inline(__always) func drop(_ reason: SSTPDropReason) { drops[reason.index] += 1 }
}

extension SSTPDropReason {
    /// Position in allCases, without building allCases.
    var index: Int {
        switch self {
        case .noSession: 0
        case .notIPv4: 1
        case .bandwidthCapInbound: 2
        case .bandwidthCapOutbound: 3
        case .notReachable: 4
        case .spoofedSource: 5
        case .backpressure: 6
        case .tunWriteFailed: 7
        }
    }
}

/// Destinations clients may reach; nil prefixes: everything.
struct SSTPReachability: Sendable {
    var prefixes: [SSTPPrefix]?
    @inline(__always) func allows(_ address: UInt32) -> Bool {
        guard let prefixes else { return true }
        for p in prefixes where p.contains(address) { return true }
        return false
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
    /// Packets of this session the data path dropped (any reason; see SSTPServer.drops).
    public var packetsDropped: UInt64 = 0
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
    struct Counters { var bytesIn: UInt64 = 0; var bytesOut: UInt64 = 0; var dropped: UInt64 = 0; var user: String?; var connected = false; var thumbprint: String? }
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
                               bytesIn: c.bytesIn, bytesOut: c.bytesOut, packetsDropped: c.dropped, since: since, thumbprint: c.thumbprint)
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
    /// Drops of the data path, by reason.
    let dropCounters = SSTPDropCounters()
    let reachability: NIOLockedValueBox<SSTPReachability>
    let poolPrefix: SSTPPrefix
    /// The TUN reader thread's own state (never touched elsewhere).
    let reader = TUNReaderState()
    /// One TUN writer per event loop (client → VNet), created on first use; each is touched only
    /// by its loop and flushed at the end of every read event.
    let writers = NIOLockedValueBox<[ObjectIdentifier: TUNCoalescingWriter]>([:])

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
        let poolRange = SSTPPrefix(network: settings.poolPrefix.value, length: settings.poolLength)
        poolPrefix = poolRange
        reachability = NIOLockedValueBox(SSTPReachability(prefixes: settings.reachable.map { [poolRange] + $0 }))
        var tls = TLSConfiguration.makeServerConfiguration(certificateChain: settings.identity.certificateChain.map { .certificate($0) },
                                                           privateKey: .privateKey(settings.identity.privateKey))
        tls.minimumTLSVersion = .tlsv12
        sslContext = try NIOSSLContext(configuration: tls)
        group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, settings.eventLoopThreads))
    }

    /// Opens the TUN device, routes the pool through it, and listens. Returns the bound address.
    @discardableResult
    public func start() throws -> String {
        let tun = try TUNDevice(name: settings.tunName, mtu: settings.tunMTU, offloads: settings.tunOffloads)
        self.tun = tun
        if settings.configureRoutes {
            try runIPCommand(["addr", "replace", "\(serverAddress)/32", "dev", tun.name])
            try runIPCommand(["route", "replace", "\(settings.poolPrefix)/\(settings.poolLength)", "dev", tun.name])
        }
        let reader = self.reader
        reader.bandwidth = settings.bandwidth?.outbound
        if tun.offloads { reader.bufferCapacity = 64 * 1024 }
        tun.startReader(beginBatch: { [weak self] in self?.beginTUNBatch() },
                        onPacket: { [weak self] packet in self?.fromTUN(packet) },
                        endBatch: { [weak self] in self?.endTUNBatch() })
        let sslContext = self.sslContext
        let timeout = settings.handshakeTimeout
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 1024)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            // A wake-up's packets are one write of up to ~90 KB; below 1 MB queued towards a client
            // (≈ 5 ms at 1.5 Gbit/s) a batch is queued rather than dropped.
            .childChannelOption(ChannelOptions.writeBufferWaterMark, value: .init(low: 256 * 1024, high: 1024 * 1024))
            .childChannelInitializer { [unowned self] channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: sslContext))
                    try channel.pipeline.syncOperations.addHandler(SSTPServerHandler(server: self, handshakeTimeout: timeout))
                }
            }
        let channel = try bootstrap.bind(host: settings.host, port: settings.port).wait()
        self.channel = channel
        let bound = channel.localAddress.map { "\($0.ipAddress ?? settings.host):\($0.port ?? settings.port)" } ?? "\(settings.host):\(settings.port)"
        onEvent(.listening("\(bound) tun \(tun.name) pool \(settings.poolPrefix)/\(settings.poolLength) server \(serverAddress) max \(settings.maxSessions) \(offloadDescription)"))
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

    /// "offloads on", "offloads off" or why the kernel refused them.
    public var offloadDescription: String {
        guard settings.tunOffloads else { return "offloads off" }
        guard let tun else { return "offloads not started" }
        return tun.offloads ? "offloads on (TUN TSO/coalescing)" : "offloads off: \(tun.offloadError ?? "?")"
    }

    /// What the TUN offloads did since start (super-packets read, coalesced writes, …).
    public func offloadStats() -> TUNOffloadStats {
        guard let tun else { return TUNOffloadStats() }
        return tun.offloadCounters.snapshot(enabled: tun.offloads)
    }

    /// The event loop's TUN writer (called on that loop).
    func tunWriter(for eventLoop: any EventLoop) -> TUNCoalescingWriter? {
        guard let tun else { return nil }
        let key = ObjectIdentifier(eventLoop)
        return writers.withLockedValue { w in
            if let writer = w[key] { return writer }
            let writer = tun.makeWriter()
            w[key] = writer
            return writer
        }
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

    /// Replaces what clients may reach (the pool itself always is); nil: anything. Applies to
    /// the next packet of every live session.
    public func setReachable(_ prefixes: [SSTPPrefix]?) {
        reachability.withLockedValue { $0 = SSTPReachability(prefixes: prefixes.map { [poolPrefix] + $0 }) }
    }

    /// Packets the data path dropped, by reason (since start).
    public func drops() -> [SSTPDropReason: UInt64] { dropCounters.snapshot }

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

    /// Reader thread, start of a wake-up: a snapshot of the route table and the reachable prefixes.
    func beginTUNBatch() {
        let r = reader
        (r.routes, r.reach) = (table.withLockedValue { $0.routes }, reachability.withLockedValue { $0 })
        r.now = BandwidthBudget.now()
    }

    /// Reader thread, one packet from the VNet: checked, then framed into its session's buffer.
    func fromTUN(_ packet: UnsafeRawBufferPointer) {
        let r = reader
        guard let dst = ipv4Destination(packet) else { r.drop(.notIPv4); return }
        guard let session = r.routes[dst] else { r.drop(.noSession); return }
        guard r.reach.allows(ipv4Source(packet)), packet.count + SSTPDataFastPath.ipv4Overhead <= SSTPLimits.maxPacket else {
            r.drop(.notReachable); session.counters.withLockedValue { $0.dropped += 1 }; return
        }
        if let budget = r.bandwidth, !budget.admit(bytes: packet.count, now: r.now) {
            r.drop(.bandwidthCapOutbound)
            r.capDropped[ObjectIdentifier(session), default: (session, 0)].1 += 1
            return
        }
        let slot: Int
        if let i = r.slots.firstIndex(where: { $0.session === session }) {
            slot = i
        } else {
            r.slots.append(TUNReaderState.Slot(session: session, buffer: r.allocator.buffer(capacity: r.bufferCapacity), packets: 0))
            slot = r.slots.count - 1
        }
        let n = packet.count
        r.slots[slot].packets += 1
        r.slots[slot].buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: n + SSTPDataFastPath.ipv4Overhead) { out in
            SSTPDataFastPath.writeIPv4Header(out.baseAddress!, ipLength: n)
            (out.baseAddress! + SSTPDataFastPath.ipv4Overhead).copyMemory(from: packet.baseAddress!, byteCount: n)
            return n + SSTPDataFastPath.ipv4Overhead
        }
    }

    /// Reader thread, end of a wake-up: one event-loop hop and one TLS write per session.
    func endTUNBatch() {
        let r = reader
        for slot in r.slots {
            let (session, buffer, packets) = (slot.session, slot.buffer, slot.packets)
            session.eventLoop.execute { session.handler.value.sendFramed(buffer, packets: packets) }
        }
        r.slots.removeAll(keepingCapacity: true)
        for (_, (session, n)) in r.capDropped { session.counters.withLockedValue { $0.dropped += n } }
        r.capDropped.removeAll(keepingCapacity: true)
        if r.drops.contains(where: { $0 != 0 }) {
            for (i, reason) in SSTPDropReason.allCases.enumerated() where r.drops[i] != 0 { dropCounters.add(reason, r.drops[i]) }
            for i in r.drops.indices { r.drops[i] = 0 }
        }
        r.routes = [:]
    }

    /// Event loop: one IPv4 packet from a client (straight from the receive buffer) to the VNet,
    /// through the loop's writer (merged with its flow's segments until the writer is flushed;
    /// write failures are counted at the flush). Returns the drop reason, if any.
    @inline(__always)
    func toTUN(_ packet: UnsafeRawBufferPointer, from session: SSTPSession?, reach: SSTPReachability, now: Int64,
               writer: TUNCoalescingWriter?) -> SSTPDropReason? {
        guard let dst = ipv4Destination(packet) else { return .notIPv4 }
        if let session, ipv4Source(packet) != session.address.value { return .spoofedSource }
        guard reach.allows(dst) else { return .notReachable }
        if let budget = settings.bandwidth?.inbound, !budget.admit(bytes: packet.count, now: now) { return .bandwidthCapInbound }
        if let writer { writer.write(packet); return nil }
        guard let tun, tun.write(packet) else { return .tunWriteFailed }
        return nil
    }

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
    /// Fast path: the start of a packet that has not fully arrived yet.
    var partial: ByteBuffer?
    /// This event loop's TUN writer (shared with the loop's other sessions; empty between events).
    var tunWriter: TUNCoalescingWriter?

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
            tunWriter = server.tunWriter(for: context.eventLoop)
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
        let received = buffer.readableBytes
        let now = pppNow()
        guard call!.dataFastPathOpen || partial != nil else {
            session?.counters.withLockedValue { $0.bytesIn += UInt64(received) }
            run(call!.handle(bytes: buffer.readBytes(length: received) ?? [], now: now))
            return
        }
        // Connected: whole packets are cut here; IPv4 goes to the TUN device from this buffer.
        if var held = partial {
            partial = nil
            held.writeBuffer(&buffer)
            buffer = held
        }
        call!.noteReceived(now: now)
        let reach = server.reachability.withLockedValue { $0 }
        let nanos = BandwidthBudget.now()
        var drops = [UInt64](), dropped: UInt64 = 0
        while !closed, call != nil, call!.dataFastPathOpen, buffer.readableBytes >= 4 {
            let length = buffer.withUnsafeReadableBytes { SSTPDataFastPath.packetLength($0) }
            guard let length else { break }  // the state machine refuses it with the reason
            guard buffer.readableBytes >= length else { break }
            let reason: SSTPDropReason?? = buffer.withUnsafeReadableBytes { raw in
                let packet = UnsafeRawBufferPointer(rebasing: raw[0..<length])
                guard let offset = SSTPDataFastPath.ipv4Offset(packet) else { return .none }
                return .some(server.toTUN(UnsafeRawBufferPointer(rebasing: packet[offset...]), from: session, reach: reach, now: nanos, writer: tunWriter))
            }
            switch reason {
            case .none:  // control, LCP, IPCP, …: the state machine, one whole packet
                let bytes = buffer.readBytes(length: length) ?? []
                run(call!.handle(bytes: bytes, now: now))
            case .some(.none):
                buffer.moveReaderIndex(forwardBy: length)
            case .some(.some(let why)):
                buffer.moveReaderIndex(forwardBy: length)
                if drops.isEmpty { drops = [UInt64](repeating: 0, count: SSTPDropReason.allCases.count) }
                drops[why.index] += 1
                dropped += 1
            }
        }
        // End of the read event: merged segments go to the kernel now (latency does not grow).
        let failed = flushTUN()
        dropped += failed
        if failed > 0 {
            if drops.isEmpty { drops = [UInt64](repeating: 0, count: SSTPDropReason.allCases.count) }
            drops[SSTPDropReason.tunWriteFailed.index] += failed
        }
        session?.counters.withLockedValue { $0.bytesIn += UInt64(received); $0.dropped += dropped }
        if dropped > 0 { for (i, reason) in SSTPDropReason.allCases.enumerated() where drops[i] != 0 { server.dropCounters.add(reason, drops[i]) } }
        guard buffer.readableBytes > 0, !closed, call != nil else { return }
        if call!.dataFastPathOpen, buffer.withUnsafeReadableBytes({ $0.count < 4 || SSTPDataFastPath.packetLength($0) != nil }) {
            partial = buffer  // the start of the next packet
        } else {
            run(call!.handle(bytes: buffer.readBytes(length: buffer.readableBytes) ?? [], now: now))
        }
    }

    /// Writes what the loop's writer holds; returns the packets whose write failed.
    @inline(__always)
    func flushTUN() -> UInt64 {
        guard let tunWriter else { return 0 }
        tunWriter.flush()
        return UInt64(tunWriter.takeFailures())
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

    /// Packets from the TUN device for this client, already framed by the reader thread.
    func sendFramed(_ buffer: ByteBuffer, packets: Int) {
        guard let context, let call, !closed, call.canSendData, context.channel.isWritable else {
            // Not (yet) connected or TCP backpressure: drop, IP copes.
            server.dropCounters.add(.backpressure, UInt64(packets))
            session?.counters.withLockedValue { $0.dropped += UInt64(packets) }
            return
        }
        session?.counters.withLockedValue { $0.bytesOut += UInt64(buffer.readableBytes) }
        context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
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
                let reach = server.reachability.withLockedValue { $0 }
                let why = packet.withUnsafeBytes { server.toTUN($0, from: session, reach: reach, now: BandwidthBudget.now(), writer: tunWriter) }
                let failed = flushTUN()
                if let why { server.dropCounters.add(why) }
                if failed > 0 { server.dropCounters.add(.tunWriteFailed, failed) }
                if why != nil || failed > 0 { session?.counters.withLockedValue { $0.dropped += (why != nil ? 1 : 0) + failed } }
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
