import ArgumentParser
import DataPlane
import ESP
import Foundation
import GatewayModel
import IKE
import Tunnels

/// `vpngw tunnel up --config FILE`: one site-to-site tunnel from a small JSON file, without the
/// control plane. With `manual` keys it runs ESP with static SAs (for data-plane tests and
/// benchmarks); IKE-negotiated tunnels come from connection resources.
struct TunnelCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tunnel", abstract: "Run one tunnel from a config file (lab and benchmarks).",
        subcommands: [Up.self])

    struct Config: Codable {
        struct Manual: Codable {
            var suite: String
            var outboundSPI: UInt32
            var inboundSPI: UInt32
            /// Hex KEYMAT for each direction (encryption key ‖ salt, or encryption ‖ integrity key).
            var outboundKey: String
            var inboundKey: String
        }
        var tunName: String?
        var tunMTU: Int?
        var localAddress: String
        var peerAddress: String
        var nattPort: UInt16?
        var ikePort: UInt16?
        var peerPort: UInt16?
        var remotePrefixes: [String]
        var mssClamp: UInt16?
        /// Cap in Mbit/s per direction, shared by the tunnel(s) of this data plane.
        var rateMbps: Int?
        /// TUN TSO/coalescing and UDP GSO/GRO (default true); false for a per-packet comparison.
        var offloads: Bool?
        var manual: Manual?
        var ike: IKE?
        struct IKE: Codable {
            var psk: String
            /// initiate (InitiatorOnly), respond (ResponderOnly) or both (Default).
            var mode: String?
            /// strongSwan-style names, e.g. ["aes128gcm16-prfsha256-x25519"]; default: vpngw's set.
            var ikeProposals: [String]?
            var espProposals: [String]?
            var dpdTimeoutSeconds: Int?
            var childRekeySeconds: Int?
            /// IKE SA lifetime before a rekey (default 28800 s, Azure's), minus up to 10 % jitter.
            var ikeRekeySeconds: Int?
            /// RFC 7296 §2.6: half-open responder SAs at which cookies are demanded (default 50).
            var cookieThreshold: Int?
            /// Half-open responder SAs are dropped after this (default 30 s).
            var halfOpenTimeoutSeconds: Int?
            /// CHILD SA byte lifetime: rekey once an SA carried this many bytes (minus up to 10 %
            /// jitter); default: none. RFC 4301 §4.4.2.1.
            var childRekeyBytes: UInt64?
            /// Hard byte limit: the SA carries no more and is deleted (default: childRekeyBytes + 10 %).
            var childLifetimeBytes: UInt64?
            /// "udp" (default: ESP in UDP 4500 always) or "raw" (IP protocol 50 unless a NAT is detected).
            var espEncapsulation: String?
        }
    }

    struct Up: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Bring a tunnel up and keep it up until SIGINT/SIGTERM.",
            discussion: """
            Config (JSON):
              {"localAddress": "192.0.2.1", "peerAddress": "192.0.2.2", "remotePrefixes": ["10.2.0.0/24"],
               "tunName": "vpngw0", "manual": {"suite": "aes128gcm16", "outboundSPI": 4097, "inboundSPI": 8193,
               "outboundKey": "<hex>", "inboundKey": "<hex>"}}
            IKE instead of manual keys: "ike": {"psk": "…", "mode": "initiate|respond|both", "childRekeySeconds": 27000,
               "childRekeyBytes": 4194304, "childLifetimeBytes": 4613734, "espEncapsulation": "udp|raw", …}
            Suites: aes128gcm16, aes256gcm16, chacha20poly1305, aes128-sha1, aes256-sha256, … (strongSwan's names).
            Optional: "tunMTU" (1400), "mssClamp" (1350, Azure's; 0 = off), "rateMbps" (cap per direction),
              "offloads" (true: TUN TSO/coalescing + UDP GSO/GRO; false: one syscall per packet),
              "peerPort" with manual keys (4500; 0 = raw ESP, IP protocol 50, needs CAP_NET_RAW).
            Routes to remotePrefixes are added through the TUN device unless --no-routes.
            --stats-interval N prints per-tunnel counters, drops by reason and the offload counters.
            """)
        @Option(name: .customLong("config"), help: "Tunnel config file (JSON).") var configPath: String
        @Flag(name: .customLong("no-routes"), help: "Do not add kernel routes for remotePrefixes.") var noRoutes = false
        @Option(name: .customLong("stats-interval"), help: "Print counters every N seconds (0: only at exit).") var statsInterval = 0

        func run() async throws {
            let data = try Data(contentsOf: URL(fileURLWithPath: configPath))
            let config = try JSONDecoder().decode(Config.self, from: data)
            guard let local = IPv4.parse(config.localAddress) else { throw ValidationError("localAddress '\(config.localAddress)' is not an IPv4 address") }
            guard let peer = IPv4.parse(config.peerAddress) else { throw ValidationError("peerAddress '\(config.peerAddress)' is not an IPv4 address") }
            var routes: [(network: UInt32, length: Int, tunnel: Int)] = []
            for p in config.remotePrefixes {
                let prefix: IPPrefix
                do { prefix = try IPPrefix(parsing: p) } catch { throw ValidationError("remotePrefixes: \(error.description)") }
                guard prefix.family == .v4 else { throw ValidationError("remotePrefixes: \(p) — only IPv4 is carried yet") }
                routes.append((prefix.address.v4Value, prefix.length, 1))
            }
            let planeConfig = DataPlane.Configuration(tunName: config.tunName ?? "vpngw%d", tunMTU: config.tunMTU ?? 1400, localAddress: local,
                                        ikePort: config.ikePort ?? 500, nattPort: config.nattPort ?? 4500, mssClamp: config.mssClamp ?? 1350,
                                                          rateLimitMbps: config.rateMbps, offloads: config.offloads ?? true)
            let plane = DataPlane(planeConfig)
            var service: TunnelService?
            if let ike = config.ike {
                var definition = TunnelDefinition(id: 1, name: "tunnel", localAddress: local, peerAddress: peer,
                                                  preSharedKey: Array(ike.psk.utf8), remotePrefixes: routes.map { ($0.network, $0.length) })
                do {
                    if let names = ike.ikeProposals { definition.ikeSuites = try names.map { name throws(ProposalName.ParseError) in try ProposalName.ike(name) } }
                    if let names = ike.espProposals { definition.childSuites = try names.map { name throws(ProposalName.ParseError) in try ProposalName.esp(name) } }
                } catch { throw ValidationError(error.description) }
                switch ike.mode ?? "both" {
                case "initiate": definition.mode = .initiatorOnly
                case "respond": definition.mode = .responderOnly
                case "both": definition.mode = .initiateAndRespond
                default: throw ValidationError("ike.mode '\(ike.mode ?? "")' must be initiate, respond or both")
                }
                if let dpd = ike.dpdTimeoutSeconds { definition.dpdTimeout = .seconds(dpd) }
                if let rekey = ike.childRekeySeconds { definition.childRekeyAfter = .seconds(rekey) }
                if let rekey = ike.ikeRekeySeconds { definition.ikeRekeyAfter = .seconds(rekey) }
                if let bytes = ike.childRekeyBytes {
                    guard bytes > 0 else { throw ValidationError("ike.childRekeyBytes must be positive") }
                    definition.childRekeyAfterBytes = bytes
                }
                if let bytes = ike.childLifetimeBytes {
                    guard bytes >= (ike.childRekeyBytes ?? 0), bytes > 0 else {
                        throw ValidationError("ike.childLifetimeBytes must be positive and at least childRekeyBytes")
                    }
                    definition.childHardBytes = bytes
                }
                if let name = ike.espEncapsulation {
                    guard let encapsulation = ESPEncapsulation(name: name) else {
                        throw ValidationError("ike.espEncapsulation '\(name)' must be udp or raw")
                    }
                    definition.espEncapsulation = encapsulation
                }
                emit("ESP encapsulation requested: \(definition.espEncapsulation)")
                let s = TunnelService(plane: plane, cookieThreshold: ike.cookieThreshold ?? 50,
                                      halfOpenTimeout: .seconds(ike.halfOpenTimeoutSeconds ?? 30))
                try s.start([definition])
                if let w = s.warmUp { emit("crypto warmed up in \(String(format: "%.2f", Double(w.components.attoseconds) / 1e15 + Double(w.components.seconds) * 1000)) ms (one in-memory IKE_SA_INIT + IKE_AUTH and an ESP round trip)") }
                service = s
            } else {
                try plane.start { _, _, _, _ in }
                plane.setRoutes(routes)
            }
            if let m = config.manual {
                guard let suite = ESPCipherSuite(name: m.suite) else {
                    throw ValidationError("manual.suite '\(m.suite)' is not known; use one of \(ESPCipherSuite.all.map(\.strongSwanName).joined(separator: ", "))")
                }
                guard let outKey = hexBytes(m.outboundKey), outKey.count == suite.keyMaterialLength,
                      let inKey = hexBytes(m.inboundKey), inKey.count == suite.keyMaterialLength else {
                    throw ValidationError("manual keys must be \(suite.keyMaterialLength) bytes of hex for \(m.suite)")
                }
                plane.installChildSA(tunnel: 1,
                                     inbound: ESPSAConfiguration(spi: m.inboundSPI, suite: suite, keyMaterial: inKey),
                                     outbound: ESPSAConfiguration(spi: m.outboundSPI, suite: suite, keyMaterial: outKey),
                                     peer: peer, peerPort: config.peerPort ?? config.nattPort ?? 4500)
            }
            if !noRoutes {
                for p in config.remotePrefixes { try runIP(["route", "replace", p, "dev", plane.tunDeviceName]) }
            }
            emit("tunnel up on \(plane.tunDeviceName): \(config.localAddress) ⇄ \(config.peerAddress), routes \(config.remotePrefixes.joined(separator: ", "))")
            emit("data plane: \(plane.capabilities.joined(separator: "; "))")
            let watcher = service.map { TunnelStatusPrinter(service: $0) }
            let stop = await waitForTermination(every: statsInterval > 0 ? statsInterval : 1) {
                watcher?.printChanges()
                if statsInterval > 0 { printCounters(plane) }
            }
            _ = stop
            watcher?.printChanges()
            if let service {
                let st = service.ikeResponderStats
                if let t = service.status(1) {
                    emit("tunnel status at exit: \(t.state.rawValue), CHILD rekeys \(t.childRekeys), IKE rekeys \(t.ikeRekeys), \(t.espEncapsulation ?? "no CHILD SA")")
                }
                emit("IKE responder at exit: half-open \(st.halfOpen) (peak \(st.halfOpenPeak)), cookies demanded \(st.cookiesDemanded), accepted \(st.cookiesAccepted), half-open expired \(st.halfOpenExpired)")
                service.stop()
            } else { plane.stop() }
            printCounters(plane)
        }
    }
}

/// Prints new tunnel log lines as they appear.
final class TunnelStatusPrinter: @unchecked Sendable {
    let service: TunnelService
    private let printed = NSLock()
    private var seen = 0
    private var lastStats: IKEResponderStats
    init(service: TunnelService) { self.service = service; lastStats = service.ikeResponderStats }
    func printChanges() {
        let stats = service.ikeResponderStats
        printed.withLock {
            // RFC 7296 §2.6 counters, when they move (cookies under a flood of IKE_SA_INIT).
            var s = stats, l = lastStats
            s.halfOpenPeak = 0; l.halfOpenPeak = 0; s.halfOpen = 0; l.halfOpen = 0
            if s != l || (stats.halfOpen != lastStats.halfOpen && stats.cookiesDemanded > 0) {
                emit("IKE responder: half-open \(stats.halfOpen) (peak \(stats.halfOpenPeak), cookie threshold \(stats.cookieThreshold)), cookies demanded \(stats.cookiesDemanded), accepted \(stats.cookiesAccepted), half-open expired \(stats.halfOpenExpired)")
            }
            lastStats = stats
        }
        guard let status = service.status(1) else { return }
        printed.withLock {
            // The log is bounded: print the lines added since last time, as many as are still kept.
            for line in status.log.suffix(min(status.logCount - seen, status.log.count)) { emit(line) }
            seen = status.logCount
        }
    }
}

func printCounters(_ plane: DataPlane) {
    let c = plane.counters
    for (t, tc) in c.tunnels.sorted(by: { $0.key < $1.key }) {
        emit("tunnel \(t): out \(tc.packetsOut) pkts \(tc.bytesOut) B, in \(tc.packetsIn) pkts \(tc.bytesIn) B")
    }
    let drops = c.drops.filter { $0.value > 0 }.map { "\($0.key): \($0.value)" } + c.espDrops.filter { $0.value > 0 }.map { "esp \($0.key): \($0.value)" }
    emit("drops: " + (drops.isEmpty ? "none" : drops.sorted().joined(separator: ", ")))
    let o = c.offload
    if o != OffloadCounters() {
        emit("offloads: TUN super-packets \(o.tunSuperPacketsRead) → \(o.tunSegmentsFromSuperPackets) segments, UDP GSO \(o.udpGSOMessages) sends → \(o.udpGSODatagrams) datagrams\(o.udpGSODisabled ? " (then disabled)" : ""), UDP GRO \(o.groReceives) receives → \(o.groDatagrams) datagrams, TUN coalesced \(o.tunCoalescedWrites) writes ← \(o.tunCoalescedSegments) segments, raw ESP in \(o.rawESPReceived)")
    }
}

/// Waits for SIGINT or SIGTERM, calling `tick` every `every` seconds (if > 0).
func waitForTermination(every: Int, tick: @escaping @Sendable () -> Void) async -> Int32 {
    signal(SIGINT, SIG_IGN)
    signal(SIGTERM, SIG_IGN)
    let stream = AsyncStream<Int32> { continuation in
        let sources = [SIGINT, SIGTERM].map { sig -> any DispatchSourceSignal in
            let s = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            s.setEventHandler { continuation.yield(sig) }
            s.resume()
            return s
        }
        var timer: (any DispatchSourceTimer)?
        if every > 0 {
            let t = DispatchSource.makeTimerSource(queue: .global())
            t.schedule(deadline: .now() + .seconds(every), repeating: .seconds(every))
            t.setEventHandler(handler: tick)
            t.resume()
            timer = t
        }
        // The sources live as long as the process: this runs once, until exit.
        keptSignalSources = [sources as Any, timer as Any]
    }
    for await sig in stream { return sig }
    return 0
}

nonisolated(unsafe) private var keptSignalSources: [Any] = []

func runIP(_ args: [String]) throws {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
    if !FileManager.default.fileExists(atPath: "/usr/sbin/ip") { p.executableURL = URL(fileURLWithPath: "/sbin/ip") }
    p.arguments = args
    try p.run()
    p.waitUntilExit()
    guard p.terminationStatus == 0 else { throw ValidationError("ip \(args.joined(separator: " ")) failed (exit \(p.terminationStatus))") }
}

func hexBytes(_ s: String) -> [UInt8]? {
    let clean = s.hasPrefix("0x") ? String(s.dropFirst(2)) : s
    guard clean.count % 2 == 0 else { return nil }
    var out: [UInt8] = []
    var i = clean.startIndex
    while i < clean.endIndex {
        let j = clean.index(i, offsetBy: 2)
        guard let b = UInt8(clean[i..<j], radix: 16) else { return nil }
        out.append(b); i = j
    }
    return out
}

extension ESPCipherSuite {
    /// strongSwan's proposal spelling: aes128gcm16, chacha20poly1305, aes256-sha256, aes128-sha1, …
    var strongSwanName: String {
        guard let integrity else { return encryption.description }
        let enc = encryption == .aes128CBC ? "aes128" : "aes256"
        let integ: String
        switch integrity {
        case .hmacSHA1_96: integ = "sha1"
        case .hmacSHA256_128: integ = "sha256"
        case .hmacSHA384_192: integ = "sha384"
        case .hmacSHA512_256: integ = "sha512"
        }
        return "\(enc)-\(integ)"
    }
    init?(name: String) {
        guard let s = ESPCipherSuite.all.first(where: { $0.strongSwanName == name.lowercased() }) else { return nil }
        self = s
    }
}

/// Unbuffered line to stdout (logs of background tunnels are read while they run).
func emit(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
