import ArgumentParser
import Foundation
import GatewayAPI
import GatewayClient
import GatewayControl
import GatewayModel
import GatewayRuntime
import GatewayStore
import Hummingbird
import Logging

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the control plane: the REST API over HTTPS with state in SQLite.",
        discussion: """
        On first start this creates, in the data directory (mode 0700):
          state.sqlite   the desired state (WAL; every acknowledged write survives a crash)
          tokens.json    bearer tokens (mode 0600); the first is an admin token for every subscription
          api-cert.pem   a self-signed certificate for the API (unless --tls-cert is given)
          client.json    endpoint, token and certificate for the CLI on this machine (mode 0600)
        """)

    @Option(name: .customLong("data-dir"), help: "Where state, tokens and certificates live (default: $VPNGW_DATA_DIR, /var/lib/vpngw as root, else ~/.vpngw).")
    var dataDir: String?

    @Option(name: .customLong("listen"), help: "Address and port of the API.")
    var listen = "127.0.0.1:8443"

    @Flag(name: .customLong("insecure-http"), help: "Serve plain HTTP instead of HTTPS (loopback addresses only).")
    var insecureHTTP = false

    @Option(name: .customLong("tls-cert"), help: "PEM certificate chain for the API (default: a generated self-signed one).")
    var tlsCert: String?

    @Option(name: .customLong("tls-key"), help: "PEM private key matching --tls-cert.")
    var tlsKey: String?

    @Option(name: .customLong("public-ip-pool"), help: "Prefix public IP addresses are allocated from when a public IP resource gives none (repeatable).")
    var publicIPPool: [String] = ["198.51.100.0/24"]

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel = "info"

    @Option(name: .customLong("data-plane"), help: "host: run tunnels for gateways whose public IP is on this host (one agent process per gateway); lab: build the whole network in namespaces on this machine (VNets, VMs, gateways, strongSwan sites for local gateways tagged vpngw-lab=site); off: control plane only.")
    var dataPlane: DataPlaneMode = .host

    enum DataPlaneMode: String, ExpressibleByArgument, CaseIterable { case host, lab, off }

    @Flag(name: .customLong("lift-bandwidth-caps"), help: "Do not cap gateways at their SKU's throughput (for lab benchmarks).")
    var liftBandwidthCaps = false

    func validate() throws {
        if (tlsCert == nil) != (tlsKey == nil) { throw ValidationError("--tls-cert and --tls-key go together.") }
        for p in publicIPPool {
            do { _ = try IPPrefix(parsing: p) } catch { throw ValidationError("--public-ip-pool \(p): \(error.description)") }
        }
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical.") }
        _ = try parseListen(listen)
    }

    func run() async throws {
        var logger = Logger(label: "vpngw")
        logger.logLevel = Logger.Level(rawValue: logLevel) ?? .info
        let dir = URL(fileURLWithPath: dataDir ?? defaultDataDirectory())
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])

        let subscription = try loadOrCreateSubscription(dir)
        let store = try SQLiteResourceStore(path: dir.appendingPathComponent("state.sqlite").path)
        let pools = publicIPPool.compactMap { try? IPPrefix(parsing: $0) }
        let admission = Admission(context: AdmissionContext(allocatePublicIP: AdmissionContext.poolAllocator(pools)))
        let lab = dataPlane == .lab ? LabNetwork(prefix: "vl" + String(subscription.prefix(4)), directory: dir.appendingPathComponent("lab"), logger: logger) : nil
        let reconciler: Reconciler? = dataPlane == .off ? nil
            : Reconciler(options: .init(directory: dir.appendingPathComponent("agents"), executable: Self.ownExecutable(), lab: lab, liftBandwidthCaps: liftBandwidthCaps), logger: logger)
        let service = try ResourceService(store: store, admission: admission, provisioner: reconciler ?? ImmediateProvisioner(), logger: logger)
        if let reconciler { await reconciler.attach { await service.snapshot } }
        await service.resumeInterruptedOperations()
        defer { reconciler?.shutdown() }
        let tokens = try TokenStore(directory: dir)
        let (host, port) = try parseListen(listen)

        let transport: APIServer.Transport
        var caPEM: String?
        if insecureHTTP {
            transport = .plainHTTPOnLoopback
        } else if let tlsCert, let tlsKey {
            let identity = ServerIdentity(certificatePEM: try String(contentsOfFile: tlsCert, encoding: .utf8),
                                          privateKeyPEM: try String(contentsOfFile: tlsKey, encoding: .utf8))
            transport = .https(identity)
        } else {
            let identity = try ServerIdentity.loadOrCreate(in: dir, names: Array(Set(["localhost", "127.0.0.1", host])))
            transport = .https(identity)
            caPEM = identity.trustAnchorPEM
        }
        let scheme = insecureHTTP ? "http" : "https"
        let server = APIServer(host: host, port: port, transport: transport, service: service, tokens: tokens, logger: logger)
        let adminToken = tokens.adminToken ?? ""
        let clientFile = dir.appendingPathComponent("client.json")
        let ca = caPEM, log = logger
        let app = try server.application { bound in
            let hostForURL = host.contains(":") ? "[\(host)]" : (host == "0.0.0.0" ? "127.0.0.1" : host)
            let config = ClientConfiguration(endpoint: "\(scheme)://\(hostForURL):\(bound)", token: adminToken, subscription: subscription, caCertificatePEM: ca)
            do { try config.save(to: clientFile) } catch { log.error("cannot write \(clientFile.path): \(error)") }
            log.info("vpngw API listening on \(scheme)://\(hostForURL):\(bound) (subscription \(subscription), data in \(dir.path))")
        }
        try await app.runService()
    }

    static func ownExecutable() -> String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }

    private func loadOrCreateSubscription(_ dir: URL) throws -> String {
        let url = dir.appendingPathComponent("subscription")
        if let s = try? String(contentsOf: url, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines), !s.isEmpty { return s }
        let s = UUID().uuidString.lowercased()
        try Data(s.utf8).write(to: url, options: .atomic)
        return s
    }
}

func parseListen(_ text: String) throws -> (String, Int) {
    guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else {
        throw ValidationError("--listen '\(text)' must be HOST:PORT, e.g. 127.0.0.1:8443 or 0.0.0.0:443")
    }
    var host = String(text[..<colon])
    if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
    return (host.isEmpty ? "0.0.0.0" : host, port)
}

struct Token: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage API bearer tokens (stored in tokens.json in the data directory).",
        subcommands: [Create.self, List.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a token, for every subscription (*) or scoped to one.")
        @Option(name: .customLong("data-dir"), help: "Data directory of the server.") var dataDir: String?
        @Option(name: [.customShort("n"), .customLong("name")], help: "A label for the token.") var name: String
        @Option(name: .customLong("subscription"), help: "Subscription id the token may act on, or * for all.") var subscription = "*"
        func run() async throws {
            let store = try TokenStore(directory: URL(fileURLWithPath: dataDir ?? defaultDataDirectory()))
            let t = try store.add(name: name, subscription: subscription)
            print(t.token)
        }
    }
    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List token names and scopes (not the secrets).")
        @Option(name: .customLong("data-dir"), help: "Data directory of the server.") var dataDir: String?
        func run() async throws {
            let store = try TokenStore(directory: URL(fileURLWithPath: dataDir ?? defaultDataDirectory()))
            printTable(store.tokens().map { [$0.name, $0.subscription] }, headers: ["Name", "Subscription"])
        }
    }
}
