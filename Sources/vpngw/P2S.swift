import ArgumentParser
import Foundation
import PPP
import SSTP
import SSTPNIO
import NIOCore
import NIOPosix

/// `vpngw p2s …`: point-to-site over SSTP without the control plane (issue 5). The control plane
/// will run the same `SSTPServer` from a gateway's vpnClientConfiguration.
struct P2SCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "p2s", abstract: "Point-to-site over SSTP: a standalone server and a Linux client.",
        subcommands: [Serve.self, Connect.self, Load.self, ClientConfig.self, MakeCert.self, EAPTLSServerCommand.self])

    /// `vpngw p2s client-config -g RG -n GW`: the same as `network vnet-gateway vpn-client generate`.
    struct ClientConfig: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "client-config", abstract: "Print what a user needs to dial a gateway's point-to-site (SSTP) server.",
            discussion: "Example:\n  vpngw p2s client-config -g rg1 -n gw1 --user alice --ca-file gw1-ca.pem")
        @OptionGroup var resource: ResourceOptions
        @OptionGroup var profile: ClientProfileOptions
        @OptionGroup var client: ClientOptions
        func run() async throws {
            try await runClient(client) { c in
                try await printClientProfile(c, group: resource.group, gateway: resource.name, user: profile.user, caFile: profile.caFile, json: profile.json)
            }
        }
    }

    struct Serve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run an SSTP server until SIGINT/SIGTERM, printing session events.",
            discussion: """
            Example:
              vpngw p2s serve --listen 198.51.100.1:443 --cert-cn 198.51.100.1 --pool 172.16.201.0/24 --user alice:secret
            The TUN device (--tun) gets the pool's route; enable IP forwarding to reach the VNet.
            Without --cert/--key a self-signed P-256 certificate with subject CN = --cert-cn is generated
            (sstpc compares only the CN); --cert-out writes it for clients' --ca-cert.
            """)
        @Option(help: "Address and TCP port to listen on.") var listen = "0.0.0.0:443"
        @Option(name: .customLong("cert-cn"), help: "Subject CN of the generated certificate: the name clients dial.") var certCN: String?
        @Option(name: .customLong("cert"), help: "PEM certificate chain (leaf first) instead of a generated one.") var certFile: String?
        @Option(name: .customLong("key"), help: "PEM private key for --cert.") var keyFile: String?
        @Option(name: .customLong("cert-out"), help: "Write the server certificate (PEM) here.") var certOut: String?
        @Option(help: "vpnClientAddressPool, e.g. 172.16.201.0/24 (the first address is the server's).") var pool: String
        @Option(parsing: .singleValue, help: "user:password (MS-CHAPv2); repeatable.") var user: [String] = []
        @Option(parsing: .singleValue, help: "DNS server offered to clients (RFC 1877); up to two.") var dns: [String] = []
        @Option(name: .customLong("max-sessions"), help: "Concurrent session limit (the SKU's SSTP maximum).") var maxSessions = 128
        @Option(name: .customLong("handshake-timeout"), help: "Seconds a TCP connection may take to finish TLS.") var handshakeTimeout = 30
        @Option(name: .customLong("negotiation-timeout"), help: "Seconds from TLS to CALL_CONNECTED ([MS-SSTP]: 60).") var negotiationTimeout = 60
        @Option(help: "P2S TUN device name.") var tun = "p2s0"
        @Option(help: "TUN MTU (and PPP MRU).") var mtu = 1400
        @Option(help: "Event-loop threads (default: cores).") var threads: Int?
        @Option(name: .customLong("status-every"), help: "Print the session table every N seconds (0: never).") var statusEvery = 0
        @Flag(name: .customLong("no-offloads"), help: "Plain TUN packets: no TSO super-packets, no coalesced writes (for comparison).") var noOffloads = false

        func run() async throws {
            let (host, port) = try splitHostPort(listen, defaultPort: 443)
            let (prefix, length) = try parsePrefix(pool)
            let identity: SSTPServerIdentity
            if let certFile, let keyFile {
                identity = try SSTPServerIdentity.load(certificateFile: certFile, keyFile: keyFile)
            } else {
                identity = try SSTPServerIdentity.selfSigned(commonName: certCN ?? host)
            }
            if let certOut { try identity.certificatePEM.write(toFile: certOut, atomically: true, encoding: .utf8) }
            var users: [String: MSCHAPv2Credential] = [:]
            for entry in user {
                guard let colon = entry.firstIndex(of: ":") else { throw ValidationError("--user wants user:password") }
                users[String(entry[..<colon])] = MSCHAPv2Credential(password: String(entry[entry.index(after: colon)...]))
            }
            var settings = SSTPServerSettings(identity: identity, users: users, poolPrefix: prefix, poolLength: length)
            settings.host = host
            settings.port = port
            settings.dns = try dns.prefix(2).map { guard let a = PPPIPv4Address($0) else { throw ValidationError("bad --dns \($0)") }; return a }
            settings.maxSessions = maxSessions
            settings.handshakeTimeout = .seconds(Int64(handshakeTimeout))
            settings.timers.negotiation = .seconds(negotiationTimeout)
            settings.tunName = tun
            settings.tunMTU = mtu
            if let threads { settings.eventLoopThreads = threads }
            settings.tunOffloads = !noOffloads
            let server = try SSTPServer(settings: settings) { event in emit(P2SCommand.describe(event)) }
            try server.start()
            _ = await waitForTermination(every: statusEvery) {
                let rows = server.sessions()
                emit("p2s: \(rows.count) session(s)")
                for row in rows { emit("  \(row)") }
                emit("p2s: \(server.offloadStats().summary)")
            }
            emit("p2s: \(server.offloadStats().summary)")
            let drops = server.drops().filter { $0.value > 0 }.map { "\($0.key.rawValue) \($0.value)" }.sorted()
            if !drops.isEmpty { emit("p2s: drops: \(drops.joined(separator: ", "))") }
            emit("p2s: stopping")
            server.stop()
        }
    }

    static func describe(_ event: SSTPServerEvent) -> String {
        switch event {
        case .listening(let s): "p2s: listening on \(s)"
        case .accepted(let id, let peer): "p2s: #\(id) call from \(peer)"
        case .refused(let peer, let reason): "p2s: refused call from \(peer): \(reason)"
        case .authenticated(let id, let user): "p2s: #\(id) authenticated \(user)"
        case .connected(let info): "p2s: #\(info.id) connected user \(info.user ?? "-") address \(info.clientAddress) from \(info.peer)"
        case .closed(let info, let reason): "p2s: #\(info.id) closed (user \(info.user ?? "-"), address \(info.clientAddress), in \(info.bytesIn) B, out \(info.bytesOut) B): \(describe(reason))"
        case .handshakeFailed(let peer, let reason): "p2s: TLS from \(peer) failed: \(reason)"
        case .certificateRefused(let id, let peer, let reason): "p2s: #\(id) certificate refused from \(peer): \(reason)"
        }
    }

    static func describe(_ reason: SSTPCloseReason) -> String {
        switch reason {
        case .cryptoBindingFailed(let f): "crypto binding failed: \(f) — call aborted"
        case .pppFailed(.authenticationFailed(let user)): "authentication failed for \(user) (MS-CHAPv2 E=691)"
        case .pppFailed(.certificateRefused(let reason)): "certificate refused (EAP-TLS): \(reason)"
        case .pppFailed(let f): describe(f)
        default: "\(reason)"
        }
    }
}

func splitHostPort(_ s: String, defaultPort: Int) throws -> (String, Int) {
    guard let colon = s.lastIndex(of: ":") else { return (s, defaultPort) }
    guard let port = Int(s[s.index(after: colon)...]), (0...65535).contains(port) else { throw ValidationError("bad port in \(s)") }
    return (String(s[..<colon]), port)
}

func parsePrefix(_ s: String) throws -> (PPPIPv4Address, Int) {
    let parts = s.split(separator: "/")
    guard parts.count == 2, let a = PPPIPv4Address(String(parts[0])), let l = Int(parts[1]) else { throw ValidationError("bad prefix \(s)") }
    return (a, l)
}

extension P2SCommand {
    struct Connect: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Dial an SSTP server and carry IPv4 through a TUN device (Linux, no kernel PPP needed).",
            discussion: """
            --engine sstpc (default): runs the real `sstpc --nolaunchpppd` for TLS/SSTP and speaks PPP
            (LCP, MS-CHAPv2, IPCP) with it over its stdio; the MPPE keys go to sstpc's plugin socket so it
            sends a correct crypto binding. --engine native: our own SSTP client over swift-nio-ssl.
            Example: vpngw p2s connect --server 198.51.100.1 --user alice --password secret --route 10.1.0.0/16
            """)
        @Option(help: "Server address (IPv4).") var server: String
        @Option(help: "Server TCP port.") var port = 443
        @Option(help: "User name (MS-CHAPv2), or the EAP identity with --cert.") var user = "vpnuser"
        @Option(help: "Password (MS-CHAPv2); empty with --cert for certificate-only.") var password = ""
        @Option(name: .customLong("cert"), help: "Client certificate (PEM) for certificate authentication (EAP-TLS; --engine native).") var certFile: String?
        @Option(name: .customLong("key"), help: "Private key (PEM) for --cert.") var keyFile: String?
        @Option(help: "sstpc or native.") var engine = "sstpc"
        @Option(help: "TUN device name.") var tun = "sstp0"
        @Option(help: "TUN MTU.") var mtu = 1400
        @Option(parsing: .singleValue, help: "Prefix to route through the tunnel; repeatable.") var route: [String] = []
        @Option(name: .customLong("ready-file"), help: "Write the assigned address here once connected.") var readyFile: String?
        @Option(help: "sstpc's --ipparam (names its plugin socket).") var ipparam = "vpngw\(getpid())"
        @Option(help: "Path of sstpc.") var sstpc = "/usr/sbin/sstpc"
        @Option(name: .customLong("sstpc-log-level"), help: "sstpc --log-level.") var sstpcLogLevel = 1
        @Flag(name: .customLong("no-relay"), help: "Connect sstpc straight to the server (its start-up hang is then possible).") var noRelay = false
        @Flag(name: .customLong("no-offloads"), help: "Plain TUN packets (no TSO super-packets, no coalesced writes).") var noOffloads = false

        func run() async throws {
            let tunBox = TunBox()
            let (tun, mtu, routes, readyFile, offloads) = (self.tun, self.mtu, self.route, self.readyFile, !self.noOffloads)
            let up: @Sendable (PPPIPv4Address, PPPIPv4Address, [PPPIPv4Address], @escaping @Sendable ([[UInt8]]) -> Void,
                               (@Sendable (ByteBuffer) -> Void)?) -> Void = { local, peer, dns, send, sendFramed in
                do {
                    let device = try TUNDevice(name: tun, mtu: mtu, offloads: offloads)
                    if let why = device.offloadError { emit("p2s connect: \(why); plain packets") }
                    try runIPCommand(["addr", "replace", "\(local)", "peer", "\(peer)", "dev", device.name])
                    for r in routes { try runIPCommand(["route", "replace", r, "dev", device.name]) }
                    tunBox.set(device)
                    if let sendFramed {
                        // One buffer per wake-up: SSTP + PPP headers written in front of each packet.
                        final class Batch: @unchecked Sendable { var buffer = ByteBuffer() }
                        let batch = Batch(), allocator = ByteBufferAllocator()
                        let capacity = device.offloads ? 64 * 1024 : 16 * 1024
                        device.startReader(beginBatch: { batch.buffer = allocator.buffer(capacity: capacity) }, onPacket: { packet in
                            let n = packet.count
                            guard n + SSTPDataFastPath.ipv4Overhead <= SSTPLimits.maxPacket else { return }
                            batch.buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: n + SSTPDataFastPath.ipv4Overhead) { out in
                                SSTPDataFastPath.writeIPv4Header(out.baseAddress!, ipLength: n)
                                (out.baseAddress! + SSTPDataFastPath.ipv4Overhead).copyMemory(from: packet.baseAddress!, byteCount: n)
                                return n + SSTPDataFastPath.ipv4Overhead
                            }
                        }, endBatch: {
                            if batch.buffer.readableBytes > 0 { sendFramed(batch.buffer) }
                            batch.buffer = ByteBuffer()
                        })
                    } else {
                        device.startReader(onPackets: send)
                    }
                    emit("p2s connect: connected, address \(local), server \(peer), dns \(dns.map(\.description).joined(separator: ",")), tun \(device.name)\(device.offloads ? " (offloads on)" : "")")
                    if let readyFile { try? "\(local)\n".write(toFile: readyFile, atomically: true, encoding: .utf8) }
                } catch {
                    emit("p2s connect: cannot set up the TUN device: \(error)")
                }
            }
            let code: Int32
            switch engine {
            case "sstpc":
                var options = SSTPCDriverOptions(server: server, user: user, password: password, ipparam: ipparam)
                options.port = port
                options.sstpcPath = sstpc
                options.sstpcLogLevel = sstpcLogLevel
                options.relay = !noRelay
                let driverBox = NIOLockedBox<SSTPCDriver>()
                let driver = SSTPCDriver(options: options, log: { emit("p2s connect: \($0)") },
                                         onUp: { local, peer, dns in up(local, peer, dns, { driverBox.get()?.send($0) }, nil) },
                                         onPackets: { packets in for p in packets { tunBox.get()?.write(p) } })
                driverBox.set(driver)
                let result: Result<SSTPCDriver.Outcome, any Error> = await withCheckedContinuation { cont in
                    let thread = Thread { cont.resume(returning: Result { try driver.run() }) }
                    thread.start()
                    Task.detached { _ = await waitForTermination(every: 0) {}; driver.stop() }
                }
                switch result {
                case .success(.stopped): emit("p2s connect: disconnected"); code = 0
                case .success(.pppFailed(let f)): emit("p2s connect: failed: \(P2SCommand.describe(f))"); code = 1
                case .success(.sstpcExited(let status)): emit("p2s connect: sstpc exited (status \(status))"); code = status == 0 ? 0 : 1
                case .failure(let error): emit("p2s connect: \(error)"); code = 1
                }
            case "native":
                let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
                var options = SSTPClientOptions(host: server, port: port, user: user, password: password)
                options.timers = SSTPTimers()
                if let certFile {
                    guard let keyFile else { throw ValidationError("--cert needs --key") }
                    _ = try P2SCertificate.loadNIO(certificateFile: certFile, keyFile: keyFile)  // fail early on bad files
                    options.certificateFile = certFile
                    options.keyFile = keyFile
                }
                let connBox = NIOLockedBox<SSTPClientConnection>()
                // The data path: received IPv4 straight to the TUN device; the TUN reader frames
                // a whole wake-up's packets into one buffer (one TLS write).
                // With offloads the event loop's writer merges TCP segments until the read event ends.
                let writerBox = TUNWriterBox()
                options.deliverIPv4 = { packet in writerBox.writer(tunBox)?.write(packet) }
                options.deliverIPv4End = { writerBox.current?.flush() }
                let reason: SSTPCloseReason = await withCheckedContinuation { cont in
                    let once = NIOLockedBox<Bool>()
                    SSTPClientConnection.connect(group: group, options: options) { event in
                        switch event {
                        case .connected(let local, let peer, let dns):
                            if let version = connBox.get()?.eapTLSVersion { emit("p2s connect: EAP-TLS over \(version)") }
                            Thread { up(local, peer, dns, { connBox.get()?.send($0) }, { connBox.get()?.sendFramed($0) }) }.start()
                        case .packets(let packets):
                            for p in packets { tunBox.get()?.write(p) }
                        case .closed(let reason):
                            if once.get() != true { once.set(true); cont.resume(returning: reason) }
                        }
                    }.whenComplete { result in
                        switch result {
                        case .success(let c):
                            connBox.set(c)
                            Task.detached { _ = await waitForTermination(every: 0) {}; c.disconnect() }
                        case .failure(let error):
                            if once.get() != true { once.set(true); cont.resume(returning: .closedLocally("\(error)")) }
                        }
                    }
                }
                switch reason {
                case .closedLocally(let r) where r == "user hung up": emit("p2s connect: disconnected"); code = 0
                default: emit("p2s connect: failed: \(P2SCommand.describe(reason))"); code = 1
                }
                try? await group.shutdownGracefully()
            default:
                throw ValidationError("--engine is sstpc or native")
            }
            if let device = tunBox.get() {
                device.stop()
                emit("p2s connect: \(device.offloadCounters.snapshot(enabled: device.offloads).summary)")
            }
            if code != 0 { throw ExitCode(code) }
        }
    }

    /// `vpngw p2s make-cert`: a root CA (upload its public data as a vpnClientRootCertificate) and
    /// client certificates it signs, like Azure's PowerShell New-SelfSignedCertificate steps.
    struct MakeCert: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "make-cert", abstract: "Create a P2S root CA and/or a client certificate (P-256, PEM).",
            discussion: """
            Examples:
              vpngw p2s make-cert --root-out root.pem --root-key-out root.key --root-cn P2SRootCert
              vpngw p2s make-cert --root root.pem --root-key root.key --client-cn alice --client-out alice.pem --client-key-out alice.key
            Prints the root's publicCertData (base64 DER) and the client's SHA-1 thumbprint.
            """)
        @Option(name: .customLong("root"), help: "Existing root certificate (PEM).") var root: String?
        @Option(name: .customLong("root-key"), help: "Existing root key (PEM, P-256).") var rootKey: String?
        @Option(name: .customLong("root-cn"), help: "CN of a new root.") var rootCN = "P2SRootCert"
        @Option(name: .customLong("root-out"), help: "Write a new root certificate here.") var rootOut: String?
        @Option(name: .customLong("root-key-out"), help: "Write a new root key here.") var rootKeyOut: String?
        @Option(name: .customLong("client-cn"), help: "CN of a client certificate to issue.") var clientCN: String?
        @Option(name: .customLong("client-out"), help: "Client certificate output (PEM).") var clientOut: String?
        @Option(name: .customLong("client-key-out"), help: "Client key output (PEM).") var clientKeyOut: String?

        func run() async throws {
            let issuer: P2SCertificate
            if let root, let rootKey {
                issuer = try P2SCertificate.load(certificateFile: root, keyFile: rootKey)
            } else {
                issuer = try P2SCertificate.makeRoot(commonName: rootCN)
                guard let rootOut, let rootKeyOut else { throw ValidationError("a new root needs --root-out and --root-key-out") }
                try issuer.certificatePEM.write(toFile: rootOut, atomically: true, encoding: .utf8)
                try issuer.keyPEM.write(toFile: rootKeyOut, atomically: true, encoding: .utf8)
            }
            print("root publicCertData: \(issuer.publicCertData)")
            if let clientCN {
                guard let clientOut, let clientKeyOut else { throw ValidationError("--client-cn needs --client-out and --client-key-out") }
                let client = try P2SCertificate.makeClient(commonName: clientCN, issuer: issuer)
                try client.certificatePEM.write(toFile: clientOut, atomically: true, encoding: .utf8)
                try client.keyPEM.write(toFile: clientKeyOut, atomically: true, encoding: .utf8)
                print("client thumbprint: \(client.thumbprint)")
            }
        }
    }

    struct Load: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Open many SSTP sessions with the native client, ping through each, report setups/s.",
            discussion: "No TUN device: each session sends ICMP echo requests inside its tunnel and waits for the replies.")
        @Option(help: "Server address (IPv4).") var server: String
        @Option(help: "Server TCP port.") var port = 443
        @Option(help: "User name.") var user: String
        @Option(help: "Password.") var password: String
        @Option(help: "Number of sessions.") var sessions = 100
        @Option(help: "Address to ping through every session.") var ping: String?
        @Option(help: "Give up after this many seconds.") var timeout = 60
        @Option(help: "Keep the sessions open this many seconds once all are up (memory measurement).") var hold = 0
        @Option(help: "Event-loop threads.") var threads = 2

        func run() async throws {
            let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
            let target = ping.flatMap { PPPIPv4Address($0) }
            let options = SSTPClientOptions(host: server, port: port, user: user, password: password)
            struct Tally { var connected = 0; var pinged = 0; var failed: [String] = []; var lastConnect = ContinuousClock.now }
            let tally = NIOLockedBox<Tally>()
            tally.set(Tally())
            let start = ContinuousClock.now
            var connections: [SSTPClientConnection] = []
            let n = sessions
            for i in 0..<n {
                let local = NIOLockedBox<PPPIPv4Address>()
                let pinged = NIOLockedBox<Bool>()
                let connBox = NIOLockedBox<SSTPClientConnection>()
                // PPP can come up before `connect`'s future hands us the connection (a busy event
                // loop): whichever of the two happens last starts the pings, exactly once.
                let pingStarted = NIOLockedBox<Bool>()
                pingStarted.set(false)
                let startPinging: @Sendable () -> Void = {
                    guard let target, let c = connBox.get(), let address = local.get() else { return }
                    var first = false
                    pingStarted.update { if !$0 { $0 = true; first = true } }
                    guard first else { return }
                    for seq in 0..<20 {
                        c.eventLoop.scheduleTask(in: .milliseconds(Int64(seq) * 500)) {
                            if pinged.get() != true { c.send([icmpEchoRequest(source: address, destination: target, identifier: UInt16(i), sequence: UInt16(seq))]) }
                        }
                    }
                }
                let future = SSTPClientConnection.connect(group: group, options: options) { event in
                    switch event {
                    case .connected(let address, _, _):
                        local.set(address)
                        tally.update { $0.connected += 1; $0.lastConnect = ContinuousClock.now }
                        startPinging()
                    case .packets(let packets):
                        for p in packets {
                            if let reply = icmpEchoReply(p), reply.source == target, reply.identifier == UInt16(i), pinged.get() != true {
                                pinged.set(true)
                                tally.update { $0.pinged += 1 }
                            }
                        }
                    case .closed(let reason):
                        if local.get() == nil { tally.update { $0.failed.append(P2SCommand.describe(reason)) } }
                    }
                }
                if let c = try? await future.get() { connBox.set(c); connections.append(c); startPinging() } else { tally.update { $0.failed.append("connect failed") } }
            }
            let deadline = start + .seconds(timeout)
            while ContinuousClock.now < deadline {
                let t = tally.get()!
                if t.connected + t.failed.count >= n && (target == nil || t.pinged + t.failed.count >= n) { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            let t = tally.get()!
            let setupSeconds = Double((t.lastConnect - start).components.attoseconds) / 1e18 + Double((t.lastConnect - start).components.seconds)
            emit("load: \(t.connected)/\(n) connected, \(target == nil ? "no ping" : "\(t.pinged)/\(n) pinged \(target!)"), \(t.failed.count) failed")
            if t.connected > 0 { emit(String(format: "load: session setups: %.1f/s (%d in %.2f s)", Double(t.connected) / setupSeconds, t.connected, setupSeconds)) }
            for f in Set(t.failed) { emit("load: failure: \(f)") }
            if hold > 0 { emit("load: holding \(connections.count) sessions for \(hold) s"); try await Task.sleep(for: .seconds(hold)) }
            for c in connections { c.disconnect() }
            try await Task.sleep(for: .milliseconds(300))
            try? await group.shutdownGracefully()
            if t.connected < n || (target != nil && t.pinged < n) { throw ExitCode(1) }
        }
    }

    static func describe(_ failure: PPPFailure) -> String {
        switch failure {
        case .authenticationRejected(let m): "authentication rejected by the server: E=\(m.error.map(String.init) ?? "?") R=\(m.retry ? 1 : 0) M=\(m.message)"
        default: "\(failure)"
        }
    }
}

/// A tiny lock-protected optional (for callbacks crossing threads).
final class NIOLockedBox<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: T?
    init() {}
    func get() -> T? { lock.lock(); defer { lock.unlock() }; return value }
    func set(_ v: T) { lock.lock(); value = v; lock.unlock() }
    func update(_ f: (inout T) -> Void) { lock.lock(); if value != nil { f(&value!) }; lock.unlock() }
}

/// The native client's TUN writer, made on the event loop once the device exists (only that loop uses it).
final class TUNWriterBox: @unchecked Sendable {
    private(set) var current: TUNCoalescingWriter?
    @inline(__always) func writer(_ box: TunBox) -> TUNCoalescingWriter? {
        if let current { return current }
        guard let device = box.get() else { return nil }
        current = device.makeWriter()
        return current
    }
}

final class TunBox: @unchecked Sendable {
    private let lock = NSLock()
    private var device: TUNDevice?
    func get() -> TUNDevice? { lock.lock(); defer { lock.unlock() }; return device }
    func set(_ d: TUNDevice) { lock.lock(); device = d; lock.unlock() }
}

/// What both `p2s client-config` and `network vnet-gateway vpn-client generate` ask for.
struct ClientProfileOptions: ParsableArguments {
    @Option(name: .customLong("user"), help: "User name to put into the command lines.") var user = "USER"
    @Option(name: .customLong("ca-file"), help: "Also write the server certificate (PEM) to this file.") var caFile: String?
    @Flag(name: .customLong("json"), help: "Print the profile as JSON instead of text.") var json = false
}
