import DataPlane
import Foundation
import GatewayRuntime
import PPP
import SSTPNIO

/// The gateway agent's point-to-site part: runs the SSTP server the reconciler asked for
/// (`AgentConfig.p2s`), applies user changes without a restart (a deleted user's live sessions
/// end), serves disconnect requests the reconciler drops next to the config, and reports the
/// session table in the agent's status.
final class AgentP2SRunner: @unchecked Sendable {
    private let lock = NSLock()
    private let localAddress: String
    private let configURL: URL
    private let pid = getpid()
    private var config: AgentP2S?
    private var server: SSTPServer?
    private var listening: String?
    private var error: String?
    private var lastAttempt: Date?
    /// Recent events; its own lock, because server events arrive on event-loop threads while
    /// `lock` may be held by a thread waiting for those loops (stop).
    private let logLock = NSLock()
    private var log: [String] = []
    /// Session ids a removed user had when they were removed, so a session that was negotiating
    /// at that moment is caught on the next tick too.
    private var removedUsers: Set<String> = []

    /// The gateway's SKU budget, shared with the site-to-site data plane; nil: uncapped.
    private let bandwidth: GatewayBandwidth?

    init(localAddress: String, configURL: URL, bandwidth: GatewayBandwidth? = nil) {
        self.localAddress = localAddress
        self.configURL = configURL
        self.bandwidth = bandwidth
    }

    /// Applies a (possibly changed) config. Called at start and whenever the config file changes.
    func apply(_ wanted: AgentP2S?) {
        lock.withLock {
            let old = config
            config = wanted
            guard let wanted else {
                if server != nil { stopServer(); note("p2s: SSTP server stopped (vpnClientConfiguration no longer lists SSTP)") }
                return
            }
            if let old, server != nil, Self.sameServer(old, wanted) {
                // Users, limits, revocations: applied in place.
                server?.setUsers(Self.credentials(wanted))
                server?.setMaxSessions(wanted.maxSessions)
                if old.reachablePrefixes != wanted.reachablePrefixes {
                    server?.setReachable(Self.reachable(wanted))
                    note("p2s: clients reach \(wanted.reachablePrefixes?.joined(separator: ", ") ?? "anything routed")")
                }
                let before = Dictionary(old.users.map { ($0.name.lowercased(), $0.password) }, uniquingKeysWith: { a, _ in a })
                let after = Dictionary(wanted.users.map { ($0.name.lowercased(), $0.password) }, uniquingKeysWith: { a, _ in a })
                let gone = before.filter { after[$0.key] != $0.value }.map(\.key)
                for user in gone {
                    removedUsers.insert(user)
                    let n = disconnect(user: user, reason: "user \(user) was removed from the gateway (or its password changed)")
                    note("p2s: user \(user) removed or changed: \(n) live session(s) ended")
                }
                removedUsers.subtract(after.keys)
                if Set(old.revokedThumbprints) != Set(wanted.revokedThumbprints) || old.rootCertificates != wanted.rootCertificates {
                    // Only certificate (EAP-TLS) sessions carry a thumbprint; password sessions are unaffected.
                    let n = server?.setClientCertificatePolicy(certificatePolicy(wanted)) ?? 0
                    note("p2s: root certificates \(wanted.rootCertificates.count), revoked certificates \(wanted.revokedThumbprints.count): \(n) live certificate session(s) ended")
                }
                return
            }
            if server != nil { stopServer(); note("p2s: restarting the SSTP server (address, port, pool or certificate changed)") }
            startServer(wanted)
        }
    }

    /// Once a second: retry a failed start, apply disconnect requests, catch removed users' sessions.
    func tick() {
        lock.withLock {
            if let config, server == nil, (lastAttempt.map { Date().timeIntervalSince($0) > 5 } ?? true) { startServer(config) }
            guard let server else { return }
            for user in removedUsers { _ = disconnect(user: user, reason: "user \(user) was removed from the gateway") }
            let dir = configURL.deletingLastPathComponent()
            let prefix = AgentFiles.disconnectRequestPrefix(configURL: configURL)
            let files = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
            for name in files where name.hasPrefix(prefix) && name.hasSuffix(".json") {
                let url = dir.appendingPathComponent(name)
                let request = AgentFiles.read(AgentDisconnectRequest.self, from: url)
                try? FileManager.default.removeItem(at: url)
                guard let request else { continue }
                let ids = Set(request.sessionIDs.compactMap(sessionNumber))
                let n = server.disconnect(ids: ids, reason: request.reason)
                note("p2s: disconnect request for \(request.sessionIDs.joined(separator: ", ")): \(n) session(s) ended")
            }
        }
    }

    func status() -> AgentP2SStatus? {
        lock.withLock {
            guard config != nil else { return nil }
            let sessions = (server?.sessions() ?? []).map { s in
                AgentP2SSession(id: sessionID(s.id), user: s.user, address: s.clientAddress.description, peer: s.peer, connected: s.connected,
                                bytesIn: s.bytesIn, bytesOut: s.bytesOut, packetsDropped: s.packetsDropped, since: s.since)
            }
            let recent = logLock.withLock { Array(log.suffix(20)) }
            var drops: [String: UInt64] = [:]
            for (reason, n) in server?.drops() ?? [:] where n > 0 { drops[reason.rawValue] = n }
            var offloads: String?, counters: [String: UInt64]?
            if let server {
                offloads = server.offloadDescription.replacingOccurrences(of: "offloads ", with: "")
                let o = server.offloadStats()
                counters = ["tunSuperPacketsRead": o.superPacketsRead, "tunSegmentsFromSuperPackets": o.segmentsFromSuperPackets,
                            "tunChecksumsCompleted": o.checksumsCompleted, "tunCoalescedWrites": o.coalescedWrites,
                            "tunCoalescedSegments": o.coalescedSegments, "offloadRejected": o.rejected]
            }
            return AgentP2SStatus(listening: listening, error: error, sessions: sessions, log: recent, drops: drops,
                                  bandwidthMbps: bandwidth?.megabitsPerSecond, sharedWithSiteToSite: bandwidth?.attachedShapers,
                                  offloads: offloads, offloadCounters: counters)
        }
    }

    func stop() { lock.withLock { stopServer() } }

    // MARK: Internals (under the lock)

    private func sessionID(_ n: Int) -> String { "sstp-\(pid)-\(n)" }
    private func sessionNumber(_ id: String) -> Int? {
        let parts = id.lowercased().split(separator: "-")
        guard parts.count == 3, parts[0] == "sstp", Int32(parts[1]) == pid else { return nil }
        return Int(parts[2])
    }

    private func disconnect(user: String, reason: String) -> Int {
        guard let server else { return 0 }
        let names = Set(server.sessions().compactMap(\.user).filter { $0.lowercased() == user })
        return names.reduce(0) { $0 + server.disconnect(user: $1, reason: reason) }
    }

    private func note(_ line: String) {
        emit(line)
        logLock.withLock {
            log.append("\(ISO8601DateFormatter().string(from: Date())) \(line)")
            if log.count > 50 { log.removeFirst(log.count - 50) }
        }
    }

    private static func sameServer(_ a: AgentP2S, _ b: AgentP2S) -> Bool {
        a.port == b.port && a.pool == b.pool && a.tunName == b.tunName && a.certificatePath == b.certificatePath &&
            a.keyPath == b.keyPath && a.certificateCN == b.certificateCN && a.authenticationTypes == b.authenticationTypes &&
            a.tunOffloads == b.tunOffloads
    }

    /// vpnAuthenticationTypes → LCP methods: Password → MS-CHAPv2, Certificate → EAP-TLS. With both,
    /// MS-CHAPv2 is offered first and a certificate client Naks it for EAP (the client's choice).
    static func authentication(_ c: AgentP2S) -> [PPPAuthenticationProtocol] {
        let types = Set(c.authenticationTypes.map { $0.lowercased() })
        var methods: [PPPAuthenticationProtocol] = []
        if types.isEmpty || types.contains("password") { methods.append(.msCHAPv2) }
        if types.contains("certificate") { methods.append(.eap) }
        return methods.isEmpty ? [.msCHAPv2] : methods
    }

    private func certificatePolicy(_ c: AgentP2S) -> SSTPClientCertificatePolicy {
        let (roots, errors) = SSTPClientCertificatePolicy.parseRoots(c.rootCertificates)
        for e in errors { note("p2s: \(e)") }
        return SSTPClientCertificatePolicy(roots: roots, revoked: c.revokedThumbprints)
    }

    static func reachable(_ c: AgentP2S) -> [SSTPPrefix]? {
        c.reachablePrefixes.map { $0.compactMap(SSTPPrefix.init(parsing:)) }
    }

    private static func credentials(_ c: AgentP2S) -> [String: MSCHAPv2Credential] {
        Dictionary(c.users.map { ($0.name, MSCHAPv2Credential(password: $0.password)) }, uniquingKeysWith: { a, _ in a })
    }

    private func startServer(_ c: AgentP2S) {
        lastAttempt = Date()
        do {
            let identity = try SSTPServerIdentity.loadOrCreate(certificateFile: c.certificatePath, keyFile: c.keyPath, commonName: c.certificateCN)
            let (prefix, length) = try parsePrefix(c.pool)
            var settings = SSTPServerSettings(identity: identity, users: Self.credentials(c), poolPrefix: prefix, poolLength: length)
            settings.host = localAddress
            settings.port = c.port
            settings.maxSessions = c.maxSessions
            settings.tunName = c.tunName
            settings.eventLoopThreads = 1
            settings.authentication = Self.authentication(c)
            settings.clientCertificates = certificatePolicy(c)
            settings.bandwidth = bandwidth
            settings.reachable = Self.reachable(c)
            settings.tunOffloads = c.tunOffloads ?? true
            let s = try SSTPServer(settings: settings) { [weak self] event in self?.event(event) }
            do { listening = try s.start() } catch { s.stop(); throw error }
            server = s
            error = nil
            removedUsers = []
        } catch {
            self.error = "cannot start the SSTP server on \(localAddress):\(c.port): \(error)"
            note("p2s: \(self.error!)")
        }
    }

    private func stopServer() {
        server?.stop()
        server = nil
        listening = nil
    }

    /// Server events go to the agent's log; refusals and failures also to the status.
    private func event(_ e: SSTPServerEvent) {
        let line = P2SCommand.describe(e)
        switch e {
        case .refused, .handshakeFailed, .closed, .certificateRefused:
            note(line)
        default:
            emit(line)
        }
    }
}
