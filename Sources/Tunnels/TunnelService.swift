import DataPlane
import ESP
import Foundation
import IKE
import Synchronization

/// One site-to-site tunnel as the tunnel service runs it: what IKE needs and where traffic goes.
public struct TunnelDefinition: Sendable {
    public enum Mode: Sendable { case initiateAndRespond, initiatorOnly, responderOnly }
    public var id: Int
    public var name: String
    /// Host byte order IPv4 addresses.
    public var localAddress: UInt32
    public var peerAddress: UInt32
    public var preSharedKey: [UInt8]
    /// Prefixes reached through this tunnel (route-based: the site's address space).
    public var remotePrefixes: [(network: UInt32, length: Int)]
    public var ikeSuites: [IKECipherSuite]
    public var childSuites: [ChildCipherSuite]
    public var trafficSelectors: TrafficSelectorPolicy
    public var mode: Mode
    /// RFC 7296 §2.4 liveness: probe after this much silence, declare the peer dead after dpdTimeout.
    public var dpdTimeout: Duration
    /// CHILD SA lifetime before a rekey (with up to 10 % jitter subtracted); nil: never.
    public var childRekeyAfter: Duration?
    /// IKE SA lifetime before a rekey (with up to 10 % jitter subtracted); nil: never. 28800 s is
    /// Azure's IKE SA lifetime.
    public var ikeRekeyAfter: Duration?
    /// CHILD SA byte lifetime (RFC 4301 §4.4.2.1): rekey once an SA carried this many bytes in
    /// either direction (with the same jitter as the time); nil: no byte limit. Azure's
    /// saDataSizeKilobytes (default 102400000 KB).
    public var childRekeyAfterBytes: UInt64?
    /// Hard byte limit: past it the SA carries nothing and is deleted; nil: 10 % above the soft one.
    public var childHardBytes: UInt64?
    /// ESP in UDP 4500 (always, NAT-D faked) or raw ESP (IP protocol 50) when no NAT is detected.
    public var espEncapsulation: ESPEncapsulation = .udp

    /// The CHILD SA lifetimes as the IKE layer's pure policy.
    public var childLifetime: ChildSALifetimePolicy {
        ChildSALifetimePolicy(rekeyAfter: childRekeyAfter, rekeyAfterBytes: childRekeyAfterBytes, hardBytes: childHardBytes)
    }

    public init(id: Int, name: String, localAddress: UInt32, peerAddress: UInt32, preSharedKey: [UInt8],
                remotePrefixes: [(network: UInt32, length: Int)],
                ikeSuites: [IKECipherSuite] = DefaultProposals.vpngwDefault.ike,
                childSuites: [ChildCipherSuite] = DefaultProposals.vpngwDefault.child,
                trafficSelectors: TrafficSelectorPolicy = .routeBased, mode: Mode = .initiateAndRespond,
                dpdTimeout: Duration = .seconds(45), childRekeyAfter: Duration? = .seconds(27000),
                ikeRekeyAfter: Duration? = .seconds(28800)) {
        self.id = id; self.name = name; self.localAddress = localAddress; self.peerAddress = peerAddress
        self.preSharedKey = preSharedKey; self.remotePrefixes = remotePrefixes; self.ikeSuites = ikeSuites
        self.childSuites = childSuites; self.trafficSelectors = trafficSelectors; self.mode = mode
        self.dpdTimeout = dpdTimeout; self.childRekeyAfter = childRekeyAfter; self.ikeRekeyAfter = ikeRekeyAfter
    }
}

/// What a tunnel is doing, in the words the API shows.
public struct TunnelStatus: Sendable, Equatable {
    public enum State: String, Sendable { case connecting = "Connecting", connected = "Connected", notConnected = "NotConnected" }
    public var state: State
    /// Why it is not connected (the last negotiation failure), or nil.
    public var reason: String?
    public var establishedAt: Date?
    public var ikeSuite: String?
    public var childSuite: String?
    public var natDetected: Bool = false
    /// How the CHILD SAs travel ("ESP in UDP 4500", "raw ESP (IP protocol 50)"), once one is installed.
    public var espEncapsulation: String?
    public var childRekeys: Int = 0
    public var ikeRekeys: Int = 0
    /// Events in order, newest last (bounded).
    public var log: [String] = []
    /// Lines ever appended to `log` (a reader that printed n of them prints the last count − n).
    public var logCount: Int = 0
    /// Initiator: monotonic time from the start of IKE_SA_INIT to the first CHILD SA installed.
    public var setupDuration: Duration?
}

/// Denial-of-service counters of the IKE responder (RFC 7296 §2.6), across all tunnels.
public struct IKEResponderStats: Sendable, Equatable {
    /// Responder IKE SAs that answered IKE_SA_INIT and wait for IKE_AUTH.
    public var halfOpen = 0
    public var halfOpenPeak = 0
    /// IKE_SA_INIT requests answered with a stateless N(COOKIE) (no state kept).
    public var cookiesDemanded = 0
    /// Requests that came back with a valid cookie and went on.
    public var cookiesAccepted = 0
    /// Half-open SAs dropped because IKE_AUTH never came.
    public var halfOpenExpired = 0
    public var cookieThreshold = 0
    public init() {}
}

/// Drives IKE SAs for a set of tunnels over the data plane's sockets and installs the CHILD SAs
/// they negotiate. All IKE state lives on one serial queue; the data plane's threads only hand
/// datagrams in.
public final class TunnelService: @unchecked Sendable {
    private let plane: DataPlane
    private let queue = DispatchQueue(label: "vpngw.ike")
    private let random: any RandomSource
    /// How long the start-up crypto warm-up took (nil: no tunnel to take suites from).
    public private(set) var warmUp: Duration?
    private let epoch = ContinuousClock.now
    private var timer: (any DispatchSourceTimer)?

    // Queue-confined state.
    private struct Negotiation {
        var sa: IKESA
        var retransmitDeadline: IKEInstant?
        var remotePort: UInt16
        /// The peer's port once on NAT-T: where its 4500 traffic came from (a NAT may map it).
        var natTPort: UInt16 {
            useNATT && remotePort != 500 && remotePort != 0 ? remotePort : 4500
        }
        var useNATT: Bool
        var lastReceived: IKEInstant
        var livenessProbeSent: IKEInstant?
        var childRekeyAt: IKEInstant?
        var ikeRekeyAt: IKEInstant?
        /// The IKE SA's timer for its retired (rekeyed) SAs.
        var retiredDeadline: IKEInstant?
        /// Our SPIs routed to this negotiation (current IKE SA and retired ones still answering).
        var spis: Set<UInt64> = []
        /// When IKE_SA_INIT started (initiator) or arrived (responder): setup time and half-open expiry.
        var startedAt: IKEInstant
        var setupReported = false
        /// RFC 7296 §2.23 result (nil until IKE_SA_INIT is done or when the peer sent no NAT-D).
        var natLocal: Bool?
        var natRemote: Bool?
        /// The encapsulation the installed CHILD SAs use.
        var encapsulation: ESPEncapsulationDecision?
        /// The newest CHILD SA's progress towards its time and byte limits.
        var child: ChildSAUsage?
        /// The CHILD SA was deleted at its hard limit: create a new one once the delete is done.
        var recreateChild = false
        var isHalfOpenResponder: Bool { sa.role == .responder && sa.phase == .awaitingAuth }
    }
    private struct Tunnel {
        var definition: TunnelDefinition
        var negotiations: [UInt64: Negotiation] = [:]   // keyed by our SPI of the current IKE SA
        var status = TunnelStatus(state: .connecting)
        var retryAt: IKEInstant?
        /// Inbound SPIs installed in the data plane, oldest first.
        var installedInbound: [UInt32] = []
    }
    private var tunnels: [Int: Tunnel] = [:]
    private var tunnelOfSPI: [UInt64: Int] = [:]
    private let statusSnapshot = Mutex<[Int: TunnelStatus]>([:])
    private let logStamp = ISO8601DateFormatter()
    /// RFC 7296 §2.6 stateless cookies once `cookieThreshold` responder SAs are half-open.
    private var cookieGuard: CookieGuard
    private let halfOpenTimeout: Duration
    private var cookieSecretRotatedAt: IKEInstant
    /// Responder SAs in IKE_SA_INIT-answered state, by tunnel and SPI (kept in step by `store`).
    private var halfOpen: Set<UInt64> = []
    private var responderStats = IKEResponderStats()
    private let responderStatsSnapshot = Mutex(IKEResponderStats())

    /// - Parameters:
    ///   - cookieThreshold: half-open responder IKE SAs (all tunnels together) at or above which a new
    ///     IKE_SA_INIT without a valid cookie gets a stateless N(COOKIE) and creates no state.
    ///   - halfOpenTimeout: a responder IKE SA that has not completed IKE_AUTH by then is dropped.
    public init(plane: DataPlane, random: any RandomSource = SystemRandomSource(), cookieThreshold: Int = 50,
                halfOpenTimeout: Duration = .seconds(30)) {
        self.plane = plane
        self.random = random
        self.cookieGuard = CookieGuard(threshold: cookieThreshold, random: ErasedRandom(base: random))
        self.halfOpenTimeout = halfOpenTimeout
        self.cookieSecretRotatedAt = IKEInstant(nanoseconds: 0)
        self.responderStats.cookieThreshold = cookieThreshold
        self.responderStatsSnapshot.withLock { $0.cookieThreshold = cookieThreshold }
    }

    /// Half-open SAs, cookies demanded and expiries (RFC 7296 §2.6), across all tunnels.
    public var ikeResponderStats: IKEResponderStats { responderStatsSnapshot.withLock { $0 } }

    private func now() -> IKEInstant {
        let d = epoch.duration(to: .now)
        return IKEInstant(nanoseconds: d.components.seconds * 1_000_000_000 + d.components.attoseconds / 1_000_000_000)
    }

    /// Starts the data plane and the IKE timers; initiators begin negotiating at once.
    public func start(_ definitions: [TunnelDefinition]) throws {
        try plane.start { [weak self] bytes, peer, port, localPort in
            guard let service = self else { return }
            service.queue.async { service.received(bytes, from: peer, port: port, localPort: localPort) }
        }
        // Lazy crypto initialisation happens here, not on the first tunnel's critical path.
        // Tunnels added later (an agent starting empty) get the default suites warmed.
        let first = definitions.first
        if let ike = first?.ikeSuites.first ?? DefaultProposals.vpngwDefault.ike.first,
           let child = first?.childSuites.first ?? DefaultProposals.vpngwDefault.child.first {
            warmUp = CryptoWarmUp.run(ike: ike, child: child, random: random)
        }
        _ = logStamp.string(from: Date())   // the formatter's first use is slow too
        queue.sync {
            for d in definitions { tunnels[d.id] = Tunnel(definition: d) }
            updateRoutes()
            for d in definitions { begin(d) }
        }
        let t = DispatchSource.makeTimerSource(queue: queue)
        t.schedule(deadline: .now() + .milliseconds(20), repeating: .milliseconds(20))
        t.setEventHandler { [weak self] in self?.tick() }
        t.resume()
        timer = t
    }

    public func stop() {
        queue.sync {
            for id in Array(tunnels.keys) { remove(id) }
        }
        timer?.cancel()
        plane.stop()
    }

    /// Adds or replaces one tunnel without touching the others.
    public func upsert(_ definition: TunnelDefinition) {
        queue.async {
            if self.tunnels[definition.id] != nil { self.remove(definition.id) }
            self.add(definition)
        }
    }

    /// Adds or replaces several tunnels at once (routes pushed once); initiators start at once.
    public func upsert(_ definitions: [TunnelDefinition]) {
        queue.async {
            for d in definitions where self.tunnels[d.id] != nil { self.remove(d.id) }
            for d in definitions { self.tunnels[d.id] = Tunnel(definition: d) }
            self.updateRoutes()
            for d in definitions { self.begin(d) }
        }
    }

    public func removeTunnel(_ id: Int) { queue.async { self.remove(id) } }

    public func status(_ id: Int) -> TunnelStatus? { statusSnapshot.withLock { $0[id] } }
    public var statuses: [Int: TunnelStatus] { statusSnapshot.withLock { $0 } }
    public var counters: DataPlaneCounters { plane.counters }

    // MARK: Tunnel lifecycle (queue)

    private func add(_ d: TunnelDefinition) {
        tunnels[d.id] = Tunnel(definition: d)
        updateRoutes()
        begin(d)
    }

    private func begin(_ d: TunnelDefinition) {
        if d.mode != .responderOnly { initiate(d.id) } else { publish(d.id) }
    }

    private func updateRoutes() {
        let routes = tunnels.values.flatMap { t in t.definition.remotePrefixes.map { (network: $0.network, length: $0.length, tunnel: t.definition.id) } }
        plane.setRoutes(routes)
    }

    private func remove(_ id: Int) {
        guard var t = tunnels[id] else { return }
        for (spi, var n) in t.negotiations where n.sa.phase == .established {
            perform(n.sa.handle(.delete, now: now()), tunnel: id, spi: spi, negotiation: &n)
        }
        for (spi, n) in t.negotiations {
            tunnelOfSPI[spi] = nil
            for alias in n.spis { tunnelOfSPI[alias] = nil }
            trackHalfOpen(spi, false)
        }
        for spi in t.installedInbound { plane.removeInboundSA(spi: spi) }
        t.installedInbound = []
        plane.removeTunnel(id)
        tunnels[id] = nil
        updateRoutes()
        statusSnapshot.withLock { $0[id] = nil }
    }

    private func configuration(_ d: TunnelDefinition, sendInitialContact: Bool = false) -> IKEPeerConfiguration {
        var c = IKEPeerConfiguration(local: IKEEndpoint(address: bytes(d.localAddress)), remote: IKEEndpoint(address: bytes(d.peerAddress)),
                             preSharedKey: d.preSharedKey, ikeSuites: d.ikeSuites, childSuites: d.childSuites,
                             trafficSelectors: d.trafficSelectors,
                             retransmission: RetransmissionPolicy(initialTimeout: .milliseconds(1000), backoffBase: 1.8, maximumRetransmits: 5))
        // The userspace data plane always spoke ESP in UDP 4500; raw ESP is per tunnel, and only
        // without a NAT (then the NAT-D hashes are honest).
        // Without a raw socket (no CAP_NET_RAW) the faked NAT-D makes the peer encapsulate too.
        c.forceUDPEncapsulation = d.espEncapsulation == .udp || !plane.rawESPAvailable
        c.sendInitialContact = sendInitialContact
        return c
    }

    private func initiate(_ id: Int) {
        guard var t = tunnels[id] else { return }
        // RFC 7296 §2.4: INITIAL_CONTACT only when this will be our one IKE SA with the peer
        // (checked again when IKE_AUTH goes out).
        let holdsAnother = holdsOtherIKESA(peer: t.definition.peerAddress, except: [])
        var sa = IKESA(role: .initiator, configuration: configuration(t.definition, sendInitialContact: !holdsAnother), random: random)
        let spi = sa.initiatorSPI
        var n = Negotiation(sa: sa, remotePort: 500, useNATT: false, lastReceived: now(), startedAt: now())
        t.status.state = .connecting
        t.retryAt = nil
        appendLog(&t, "initiating IKE_SA_INIT to \(IPv4.format(t.definition.peerAddress))")
        tunnels[id] = t
        tunnelOfSPI[spi] = id
        let actions = sa.handle(.start, now: now())
        n.sa = sa
        perform(actions, tunnel: id, spi: spi, negotiation: &n)
        store(n, tunnel: id, spi: spi)
    }

    /// Stores the negotiation under its current SPI (a rekeyed IKE SA changes it) and routes every
    /// SPI it still answers on (`IKESA.localSPIs`) to this tunnel.
    private func store(_ n: Negotiation, tunnel id: Int, spi: UInt64) {
        guard tunnels[id] != nil else { return }
        var n = n
        switch n.sa.phase {
        case .failed, .deleted:
            tunnels[id]?.negotiations[spi] = nil
            tunnelOfSPI[spi] = nil
            for alias in n.spis { tunnelOfSPI[alias] = nil }
            trackHalfOpen(spi, false)
        default:
            trackHalfOpen(spi, n.isHalfOpenResponder)
            let key = n.sa.localSPI
            let current = Set(n.sa.localSPIs.filter { $0 != 0 })
            for gone in n.spis.subtracting(current) where tunnelOfSPI[gone] == id { tunnelOfSPI[gone] = nil }
            for alias in current { tunnelOfSPI[alias] = id }
            n.spis = current
            if key != spi { tunnels[id]?.negotiations[spi] = nil }
            tunnels[id]?.negotiations[key == 0 ? spi : key] = n
        }
        publish(id)
    }

    // MARK: Datagrams (queue)

    private func received(_ bytes: [UInt8], from peer: UInt32, port: UInt16, localPort: UInt16) {
        guard bytes.count >= 28 else { return }
        let spiI = bytes[0..<8].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        let spiR = bytes[8..<16].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        let flags = bytes[19]
        let senderIsInitiator = flags & 0x08 != 0
        let ourSPI = senderIsInitiator ? spiR : spiI
        if ourSPI != 0, let id = tunnelOfSPI[ourSPI], let t = tunnels[id],
           let (key, found) = t.negotiations[ourSPI].map({ (ourSPI, $0) }) ?? t.negotiations.first(where: { $0.value.spis.contains(ourSPI) }) {
            var n = found
            n.lastReceived = now()
            n.livenessProbeSent = nil
            n.remotePort = port
            if localPort != plane.configuration.ikePort { n.useNATT = true }
            if n.sa.phase == .initSent {
                // IKE_AUTH follows this IKE_SA_INIT response: no INITIAL_CONTACT if another SA with
                // the peer exists by now (e.g. both ends initiated at once; each would otherwise
                // delete the SA the other keeps).
                n.sa.sendsInitialContact = !holdsOtherIKESA(peer: t.definition.peerAddress, except: Set(n.spis).union([key]))
            }
            let actions = n.sa.handle(.received(bytes), now: now())
            perform(actions, tunnel: id, spi: key, negotiation: &n)
            store(n, tunnel: id, spi: key)
            return
        }
        // A new IKE_SA_INIT request (responder SPI still zero), or its retransmission.
        guard senderIsInitiator, spiR == 0, bytes[18] == 34 else { return }
        guard let id = tunnels.first(where: { $0.value.definition.peerAddress == peer })?.key,
              let t = tunnels[id], t.definition.mode != .initiatorOnly else { return }
        if let (spi, existing) = t.negotiations.first(where: { $0.value.sa.role == .responder && $0.value.sa.initiatorSPI == spiI }) {
            var n = existing
            perform(n.sa.handle(.received(bytes), now: now()), tunnel: id, spi: spi, negotiation: &n)
            store(n, tunnel: id, spi: spi)
            return
        }
        // RFC 7296 §2.6: past the threshold, only a request carrying our cookie creates state.
        if halfOpen.count >= cookieGuard.threshold {
            guard let message = try? IKEMessage.parse(bytes) else { return }
            switch cookieGuard.check(message, from: IKEEndpoint(address: ipv4Bytes(peer)), halfOpen: halfOpen.count) {
            case .demandCookie(let reply):
                plane.sendIKE(reply, to: peer, port: port, fromNATTPort: localPort != plane.configuration.ikePort)
                if responderStats.cookiesDemanded == 0 {
                    appendLog(id, "\(halfOpen.count) half-open IKE SAs: answering IKE_SA_INIT with a cookie (RFC 7296 §2.6)")
                    publish(id)
                }
                responderStats.cookiesDemanded += 1
                publishResponderStats()
                return
            case .proceed:
                responderStats.cookiesAccepted += 1
            }
        }
        var sa = IKESA(role: .responder, configuration: configuration(t.definition), random: random)
        var n = Negotiation(sa: sa, remotePort: port, useNATT: localPort != plane.configuration.ikePort, lastReceived: now(), startedAt: now())
        let actions = sa.handle(.received(bytes), now: now())
        n.sa = sa
        let spi = sa.responderSPI
        guard spi != 0 else {
            // Cookie demanded or refused: answer statelessly.
            perform(actions, tunnel: id, spi: 0, negotiation: &n)
            return
        }
        tunnelOfSPI[spi] = id
        perform(actions, tunnel: id, spi: spi, negotiation: &n)
        store(n, tunnel: id, spi: spi)
    }

    // MARK: Actions (queue)

    /// Up to 10 % less than `lifetime`, so both ends (and many tunnels) do not rekey in step.
    private func jittered(_ lifetime: Duration) -> IKEInstant {
        let jitter = Double(random.uint64() % 1000) / 10_000.0
        return now() + lifetime * (1.0 - jitter)
    }

    /// 2–6 s: the retry delay after a refused (e.g. TEMPORARY_FAILURE) or postponed rekey.
    private func retrySoon() -> IKEInstant { now() + .milliseconds(2000 + Int64(random.uint64() % 4000)) }

    private func perform(_ actions: [IKESAAction], tunnel id: Int, spi: UInt64, negotiation n: inout Negotiation) {
        guard let d = tunnels[id]?.definition else { return }
        // New SAs go into the data plane before any message leaves, so the peer's first packets
        // under them (it switches as soon as it has our message) find them installed.
        var installed = false
        for case .installChildSA(let child) in actions {
            var decision = ESPEncapsulationDecision.decide(requested: d.espEncapsulation, localBehindNAT: n.natLocal,
                                                           remoteBehindNAT: n.natRemote,
                                                           ikeMovedToNATTPort: n.useNATT && d.espEncapsulation == .raw)
            if d.espEncapsulation == .raw && !plane.rawESPAvailable {
                decision = ESPEncapsulationDecision(encapsulation: .udp,
                    fallbackReason: "this host could not open a raw IP protocol 50 socket (needs CAP_NET_RAW): ESP in UDP 4500")
            }
            if n.encapsulation != decision {
                n.encapsulation = decision
                if let why = decision.fallbackReason { appendLog(id, "raw ESP requested, but \(why)") }
                tunnels[id]?.status.espEncapsulation = decision.encapsulation.description
            }
            // Port 0 is the data plane's "raw IP protocol 50" for this SA.
            install(child, tunnel: id, peerPort: decision.encapsulation == .raw ? 0 : n.natTPort, lifetime: d.childLifetime)
            installed = true
            let c = plane.counters.tunnels[id] ?? TunnelCounters()
            n.child = ChildSAUsage(inboundSPI: child.inboundSPI, installedAt: now(), policy: d.childLifetime,
                                   jitter: Double(random.uint64() % 1000) / 10_000.0, bytesIn: c.bytesIn, bytesOut: c.bytesOut)
            n.childRekeyAt = n.child?.rekeyAt
        }
        if installed {
            // The data plane applies new inbound SAs when its receive loop next turns; a NAT-T
            // keepalive to ourselves turns it now, before the peer can use them.
            plane.sendIKE([0xFF], to: plane.configuration.localAddress != 0 ? plane.configuration.localAddress : d.localAddress,
                          port: plane.configuration.nattPort, fromNATTPort: false)
        }
        for action in actions {
            switch action {
            case .send(let message):
                plane.sendIKE(message, to: d.peerAddress, port: n.useNATT ? n.natTPort : n.remotePort, fromNATTPort: n.useNATT)
            case .installChildSA:
                break
            case .uninstallChildSA(let inboundSPI):
                plane.removeInboundSA(spi: inboundSPI)
                tunnels[id]?.installedInbound.removeAll { $0 == inboundSPI }
            case .armTimer(.retransmit, let deadline):
                n.retransmitDeadline = deadline
            case .armTimer(.retiredSAs, let deadline):
                n.retiredDeadline = deadline
            case .cancelTimer(.retransmit):
                n.retransmitDeadline = nil
            case .cancelTimer(.retiredSAs):
                n.retiredDeadline = nil
            case .report(let report):
                handle(report, tunnel: id, spi: spi, negotiation: &n)
            }
        }
    }

    private func install(_ child: ChildSAInstallation, tunnel id: Int, peerPort: UInt16, lifetime: ChildSALifetimePolicy) {
        guard let d = tunnels[id]?.definition, let suite = ESPCipherSuite(child.suite) else {
            appendLog(id, "CHILD SA suite \(child.suite) has no ESP transform here")
            return
        }
        // The ESP core enforces the hard byte limit itself, per SA and exactly; soft limits are
        // this service's (it reads the tunnel's counters and rekeys).
        let hard = ChildSAUsage(inboundSPI: 0, installedAt: .zero, policy: lifetime, jitter: 0, bytesIn: 0, bytesOut: 0).hardBytes
        let espLifetime = ESPLifetime(hardBytes: hard)
        let inbound = ESPSAConfiguration(spi: child.inboundSPI, suite: suite, keyMaterial: child.inboundKeys.encryptionKey + child.inboundKeys.integrityKey,
                                         extendedSequenceNumbers: child.suite.extendedSequenceNumbers, lifetime: espLifetime)
        let outbound = ESPSAConfiguration(spi: child.outboundSPI, suite: suite, keyMaterial: child.outboundKeys.encryptionKey + child.outboundKeys.integrityKey,
                                          extendedSequenceNumbers: child.suite.extendedSequenceNumbers, lifetime: espLifetime)
        plane.installChildSA(tunnel: id, inbound: inbound, outbound: outbound, peer: d.peerAddress, peerPort: peerPort)
        tunnels[id]?.installedInbound.append(child.inboundSPI)
        tunnels[id]?.status.childSuite = suite.description
    }

    private func handle(_ report: IKESAReport, tunnel id: Int, spi: UInt64, negotiation n: inout Negotiation) {
        guard var t = tunnels[id] else { return }
        switch report {
        case .ikeSAEstablished(let suite, let spiI, let spiR):
            t.status.ikeSuite = suite.description
            appendLog(&t, "IKE SA established (\(suite)), SPIs \(hex64(spiI)) \(hex64(spiR))")
            if let after = t.definition.ikeRekeyAfter { n.ikeRekeyAt = jittered(after) }
        case .childSAEstablished(let suite, let inSPI, let outSPI):
            t.status.state = .connected
            t.status.reason = nil
            t.status.establishedAt = Date()
            var took = ""
            if !n.setupReported {
                // Reports come after the CHILD SA is installed (perform installs first).
                n.setupReported = true
                let d = Duration.nanoseconds(now().nanoseconds - n.startedAt.nanoseconds)
                if n.sa.role == .initiator { t.status.setupDuration = d }
                took = String(format: " in %.2f ms", d.milliseconds)
                if n.sa.role == .responder { took += " after IKE_SA_INIT arrived" }
            }
            let over = n.encapsulation.map { " over \($0.encapsulation)" } ?? ""
            appendLog(&t, "CHILD SA established (\(suite)), SPIs in \(hex32(inSPI)) out \(hex32(outSPI))\(over)\(took)")
        case .natDetected(let local, let remote):
            n.natLocal = local
            n.natRemote = remote
            if local || remote {
                n.useNATT = true
                t.status.natDetected = true
                appendLog(&t, "NAT detected (local \(local), remote \(remote)): IKE and ESP move to UDP 4500")
            }
        case .retryingWithKeyExchangeGroup(let g):
            appendLog(&t, "peer asked for DH group \(g); retrying")
        case .retryingWithCookie:
            appendLog(&t, "peer demanded a cookie; retrying")
        case .failed(let cause):
            t.status.state = .notConnected
            t.status.reason = cause.description
            appendLog(&t, "negotiation failed: \(cause)")
            if t.definition.mode != .responderOnly { t.retryAt = now() + .seconds(5) }
        case .childSAFailed(let cause):
            appendLog(&t, "CHILD SA failed: \(cause)")
            t.status.reason = cause.description
            // A refused rekey (e.g. TEMPORARY_FAILURE during the peer's IKE rekey): try again soon.
            if n.sa.phase == .established, !n.sa.childSAs.isEmpty, t.definition.childRekeyAfter != nil || n.child?.rekeyStarted == true,
               n.childRekeyAt == nil {
                n.childRekeyAt = retrySoon()
            }
        case .messageDropped(let why):
            appendLog(&t, "dropped a message: \(why)")
        case .deletedByPeer:
            t.status.state = .notConnected
            t.status.reason = "the peer deleted the IKE SA"
            appendLog(&t, "peer deleted the IKE SA")
            if t.definition.mode != .responderOnly { t.retryAt = now() + .seconds(1) }
        case .childSAsDeletedByPeer(let spis):
            for spi in spis { plane.removeInboundSA(spi: spi) }
            t.installedInbound.removeAll { spis.contains($0) }
        case .livenessConfirmed:
            break
        case .childSARekeyed(let old, let new):
            t.status.childRekeys += 1
            appendLog(&t, "CHILD SA rekeyed: \(hex32(old)) → \(hex32(new))")
        case .deleted:
            appendLog(&t, "IKE SA deleted")
        case .ikeSARekeyed(let oldI, let oldR, let newI, let newR):
            t.status.ikeRekeys += 1
            appendLog(&t, "IKE SA rekeyed (\(n.sa.role == .initiator ? "by us" : "by the peer")): SPIs \(hex64(oldI)) \(hex64(oldR)) → \(hex64(newI)) \(hex64(newR)), \(n.sa.childSAs.count) CHILD SA(s) kept")
            if let after = t.definition.ikeRekeyAfter { n.ikeRekeyAt = jittered(after) }
        case .ikeSARekeyFailed(let cause):
            appendLog(&t, "IKE SA rekey failed, retrying soon: \(cause)")
            if t.definition.ikeRekeyAfter != nil, n.ikeRekeyAt == nil { n.ikeRekeyAt = retrySoon() }
        case .retiredIKESADeleted(let spiI, let spiR):
            appendLog(&t, "old IKE SA \(hex64(spiI)) \(hex64(spiR)) deleted")
        case .initialContact:
            tunnels[id] = t
            let dropped = dropStaleIKESAs(peer: t.definition.peerAddress, keeping: Set(n.spis).union([spi, n.sa.localSPI]),
                                          newHasChild: !n.sa.childSAs.isEmpty)
            guard var updated = tunnels[id] else { return }
            appendLog(&updated, dropped == 0
                      ? "peer sent INITIAL_CONTACT (we held no other IKE SA with it)"
                      : "peer sent INITIAL_CONTACT: deleted \(dropped) other IKE SA(s) with it and their CHILD SAs locally (RFC 7296 §2.4)")
            t = updated
        }
        tunnels[id] = t
    }

    /// Whether an IKE SA with this peer other than `except` exists or is being negotiated.
    private func holdsOtherIKESA(peer: UInt32, except: Set<UInt64>) -> Bool {
        tunnels.values.contains { t in
            t.definition.peerAddress == peer && t.negotiations.contains { key, n in
                !except.contains(key) && n.spis.isDisjoint(with: except) && [.initSent, .authSent, .awaitingAuth, .established].contains(n.sa.phase)
            }
        }
    }

    /// RFC 7296 §2.4: the authenticated peer says the new IKE SA is its only one with us; every
    /// other established IKE SA with that peer (any tunnel towards its address) and its CHILD SAs
    /// go, locally and at once. Returns how many IKE SAs were dropped.
    private func dropStaleIKESAs(peer: UInt32, keeping keep: Set<UInt64>, newHasChild: Bool) -> Int {
        var dropped = 0
        for id in Array(tunnels.keys) {
            guard var t = tunnels[id], t.definition.peerAddress == peer else { continue }
            var droppedHere = 0
            for (key, other) in t.negotiations where !keep.contains(key) && other.spis.isDisjoint(with: keep) && other.sa.phase == .established {
                for child in other.sa.childSAs {
                    plane.removeInboundSA(spi: child.inboundSPI)
                    t.installedInbound.removeAll { $0 == child.inboundSPI }
                }
                t.negotiations[key] = nil
                tunnelOfSPI[key] = nil
                for alias in other.spis { tunnelOfSPI[alias] = nil }
                droppedHere += 1
            }
            // The outbound SA belonged to a dropped CHILD SA unless the new IKE SA installed its own.
            if droppedHere > 0, !(newHasChild && keep.contains { tunnelOfSPI[$0] == id }) { plane.removeTunnel(id) }
            tunnels[id] = t
            dropped += droppedHere
        }
        return dropped
    }

    // MARK: Timers (queue)

    private func tick() {
        let now = now()
        if cookieSecretRotatedAt + .seconds(300) <= now {
            if cookieSecretRotatedAt != IKEInstant(nanoseconds: 0) { cookieGuard.rotateSecret(random: ErasedRandom(base: random)) }
            cookieSecretRotatedAt = now
        }
        if !halfOpen.isEmpty { expireHalfOpen(now) }
        // The data plane's per-tunnel byte counters, read at most once a tick and only when a
        // CHILD SA has a byte limit.
        var counterSnapshot: [Int: TunnelCounters]?
        func counters(_ id: Int) -> TunnelCounters {
            if counterSnapshot == nil { counterSnapshot = plane.counters.tunnels }
            return counterSnapshot?[id] ?? TunnelCounters()
        }
        for id in Array(tunnels.keys) {
            guard let t = tunnels[id] else { continue }
            if let retry = t.retryAt, retry <= now, t.negotiations.values.allSatisfy({ $0.sa.phase != .established }) {
                initiate(id)
                continue
            }
            for (spi, var n) in t.negotiations {
                // Nothing due: skip (with many tunnels, a store per negotiation per tick adds up).
                if !isDue(n, t.definition, now, counters: { counters(id) }) { continue }
                var actions: [IKESAAction] = []
                if let deadline = n.retransmitDeadline, deadline <= now {
                    n.retransmitDeadline = nil
                    actions += n.sa.handle(.timerFired(.retransmit), now: now)
                }
                if let deadline = n.retiredDeadline, deadline <= now {
                    n.retiredDeadline = nil
                    actions += n.sa.handle(.timerFired(.retiredSAs), now: now)
                }
                if n.sa.phase == .established {
                    // Window size 1: a rekey waits while another exchange of ours is under way.
                    if let rekey = n.ikeRekeyAt, rekey <= now {
                        if n.sa.hasOutstandingRequest {
                            n.ikeRekeyAt = now + .seconds(1)
                        } else {
                            n.ikeRekeyAt = nil
                            appendLog(id, "starting IKE SA rekey")
                            actions += n.sa.handle(.rekeyIKESA, now: now)
                        }
                    }
                    if var usage = n.child, usage.hasByteLimits {
                        let c = counters(id)
                        let carried = usage.bytesCarried(bytesIn: c.bytesIn, bytesOut: c.bytesOut)
                        switch usage.verdict(now: now, bytesIn: c.bytesIn, bytesOut: c.bytesOut) {
                        case .rekey(.bytes) where !usage.rekeyStarted:
                            usage.rekeyStarted = true
                            appendLog(id, "CHILD SA \(hex32(usage.inboundSPI)) carried \(carried) bytes, soft byte limit \(usage.softBytes ?? 0): rekeying (RFC 4301 §4.4.2.1)")
                            n.childRekeyAt = now
                        case .expired where !usage.expiryHandled:
                            // Normally the soft limit's rekey replaced it long before; a rekey still
                            // under way will, so only delete when nothing is outstanding.
                            if !n.sa.hasOutstandingRequest, n.sa.childSAs.contains(where: { $0.inboundSPI == usage.inboundSPI }) {
                                usage.expiryHandled = true
                                appendLog(id, "CHILD SA \(hex32(usage.inboundSPI)) reached its hard byte limit (\(carried) of \(usage.hardBytes ?? 0) bytes): deleting it, a new one follows")
                                actions += n.sa.handle(.deleteChildSA(inboundSPI: usage.inboundSPI), now: now)
                                n.recreateChild = true
                                n.childRekeyAt = nil
                            }
                        default:
                            break
                        }
                        n.child = usage
                    }
                    if n.recreateChild, n.sa.childSAs.isEmpty, !n.sa.hasOutstandingRequest {
                        n.recreateChild = false
                        appendLog(id, "creating a new CHILD SA after the hard limit")
                        actions += n.sa.handle(.createChildSA(t.definition.trafficSelectors), now: now)
                    }
                    if let rekey = n.childRekeyAt, rekey <= now, let child = n.sa.childSAs.last {
                        if n.sa.hasOutstandingRequest {
                            n.childRekeyAt = now + .seconds(1)
                        } else {
                            n.childRekeyAt = nil
                            appendLog(id, "starting CHILD SA rekey of \(hex32(child.inboundSPI))")
                            actions += n.sa.handle(.rekeyChildSA(inboundSPI: child.inboundSPI), now: now)
                        }
                    }
                    let silence = t.definition.dpdTimeout / 3
                    if n.livenessProbeSent == nil, n.lastReceived + silence <= now, n.retransmitDeadline == nil {
                        n.livenessProbeSent = now
                        actions += n.sa.handle(.checkLiveness, now: now)
                    }
                    if n.livenessProbeSent != nil, n.lastReceived + t.definition.dpdTimeout <= now {
                        // RFC 7296 §2.4: nothing heard for the DPD timeout despite liveness checks: the peer is gone.
                        tunnels[id]?.status.state = .notConnected
                        tunnels[id]?.status.reason = "dead peer: nothing heard for \(t.definition.dpdTimeout) despite liveness checks"
                        appendLog(id, "dead peer detected: nothing heard for \(t.definition.dpdTimeout) despite liveness checks")
                        for spi in tunnels[id]?.installedInbound ?? [] { plane.removeInboundSA(spi: spi) }
                        tunnels[id]?.installedInbound = []
                        plane.removeTunnel(id)
                        tunnels[id]?.negotiations[spi] = nil
                        tunnelOfSPI[spi] = nil
                        for alias in n.spis { tunnelOfSPI[alias] = nil }
                        if t.definition.mode != .responderOnly { tunnels[id]?.retryAt = now + .seconds(1) }
                        publish(id)
                        continue
                    }
                }
                if !actions.isEmpty { perform(actions, tunnel: id, spi: spi, negotiation: &n) }
                store(n, tunnel: id, spi: spi)
            }
        }
    }

    /// Whether `tick` has anything to do for this negotiation now (mirrors its conditions).
    private func isDue(_ n: Negotiation, _ d: TunnelDefinition, _ now: IKEInstant, counters: () -> TunnelCounters) -> Bool {
        if let t = n.retransmitDeadline, t <= now { return true }
        if let t = n.retiredDeadline, t <= now { return true }
        guard n.sa.phase == .established else { return false }
        if let t = n.ikeRekeyAt, t <= now { return true }
        if let t = n.childRekeyAt, t <= now, !n.sa.childSAs.isEmpty { return true }
        if n.recreateChild, n.sa.childSAs.isEmpty, !n.sa.hasOutstandingRequest { return true }
        if let usage = n.child, usage.hasByteLimits, !usage.expiryHandled {
            let c = counters()
            switch usage.verdict(now: now, bytesIn: c.bytesIn, bytesOut: c.bytesOut) {
            case .rekey(.bytes): if !usage.rekeyStarted { return true }
            case .expired: return true
            case .rekey(.time), .active: break
            }
        }
        if n.livenessProbeSent == nil, n.lastReceived + d.dpdTimeout / 3 <= now, n.retransmitDeadline == nil { return true }
        if n.livenessProbeSent != nil, n.lastReceived + d.dpdTimeout <= now { return true }
        return false
    }

    /// Drops responder SAs still waiting for IKE_AUTH after `halfOpenTimeout` (RFC 7296 §2.6).
    private func expireHalfOpen(_ now: IKEInstant) {
        var expiredHere: [Int: Int] = [:]
        for spi in halfOpen {
            guard let id = tunnelOfSPI[spi], let n = tunnels[id]?.negotiations[spi] else { trackHalfOpen(spi, false); continue }
            guard n.isHalfOpenResponder, n.startedAt + halfOpenTimeout <= now else { continue }
            tunnels[id]?.negotiations[spi] = nil
            tunnelOfSPI[spi] = nil
            for alias in n.spis { tunnelOfSPI[alias] = nil }
            trackHalfOpen(spi, false)
            responderStats.halfOpenExpired += 1
            expiredHere[id, default: 0] += 1
        }
        for (id, count) in expiredHere {
            appendLog(id, "\(count) half-open IKE SA(s) expired: no IKE_AUTH within \(halfOpenTimeout)")
            publish(id)
        }
        if !expiredHere.isEmpty { publishResponderStats() }
    }

    private func trackHalfOpen(_ spi: UInt64, _ isHalfOpen: Bool) {
        let changed = isHalfOpen ? halfOpen.insert(spi).inserted : halfOpen.remove(spi) != nil
        guard changed else { return }
        responderStats.halfOpen = halfOpen.count
        responderStats.halfOpenPeak = max(responderStats.halfOpenPeak, halfOpen.count)
        publishResponderStats()
    }

    private func publishResponderStats() {
        let s = responderStats
        responderStatsSnapshot.withLock { $0 = s }
    }

    // MARK: Status

    private func appendLog(_ t: inout Tunnel, _ line: String) {
        let stamp = logStamp.string(from: Date())
        t.status.log.append("\(stamp) \(line)")
        t.status.logCount += 1
        if t.status.log.count > 50 { t.status.log.removeFirst(t.status.log.count - 50) }
    }
    private func appendLog(_ id: Int, _ line: String) {
        guard var t = tunnels[id] else { return }
        appendLog(&t, line)
        tunnels[id] = t
    }

    private func publish(_ id: Int) {
        let s = tunnels[id]?.status
        statusSnapshot.withLock { $0[id] = s }
    }
}

private func bytes(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xff), UInt8(v >> 8 & 0xff), UInt8(v & 0xff)] }
private struct ErasedRandom: RandomSource {
    let base: any RandomSource
    func bytes(_ count: Int) -> [UInt8] { base.bytes(count) }
}
private func ipv4Bytes(_ v: UInt32) -> [UInt8] { bytes(v) }
private func hex32(_ v: UInt32) -> String { String(format: "%08x", v) }
private func hex64(_ v: UInt64) -> String { String(format: "%016llx", v) }

extension Duration {
    fileprivate var milliseconds: Double { Double(components.seconds) * 1000 + Double(components.attoseconds) / 1e15 }
}

extension ESPCipherSuite {
    /// The ESP transform for a negotiated CHILD SA suite.
    init?(_ child: ChildCipherSuite) {
        let encryption: ESPEncryptionAlgorithm
        switch child.encryption {
        case .aesGCM16(let bits): encryption = bits == 128 ? .aes128GCM16 : .aes256GCM16
        case .chacha20Poly1305: encryption = .chacha20Poly1305
        case .aesCBC(let bits): encryption = bits == 128 ? .aes128CBC : .aes256CBC
        }
        var integrity: ESPIntegrityAlgorithm?
        switch child.integrity {
        case .hmacSHA1_96?: integrity = .hmacSHA1_96
        case .hmacSHA2_256_128?: integrity = .hmacSHA256_128
        case .hmacSHA2_384_192?: integrity = .hmacSHA384_192
        case .hmacSHA2_512_256?: integrity = .hmacSHA512_256
        case nil: integrity = nil
        }
        guard let suite = try? ESPCipherSuite(encryption: encryption, integrity: integrity) else { return nil }
        self = suite
    }
}
