import ArgumentParser
import Foundation
import GatewayAPI
import GatewayClient
import GatewayControl
import GatewayModel
import GatewayStore
import Logging

struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Benchmarks that print figures (not pass/fail tests).",
        subcommands: [APIBench.self, BenchIKE.self])

    struct APIBench: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "api",
            abstract: "API latency p50/p99 for GET and PUT over HTTPS, and the time to create and list 10,000 resources.",
            discussion: "Runs its own server in-process on a loopback port with SQLite in a temporary directory. Targets: GET p99 < 5 ms, PUT p99 < 20 ms.")
        @Option(help: "Requests per measured operation.") var requests = 2000
        @Option(help: "Resources to create and list in one group.") var resources = 10_000

        func run() async throws {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vpngw-bench-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: dir) }
            var logger = Logger(label: "bench")
            logger.logLevel = .warning
            let store = try SQLiteResourceStore(path: dir.appendingPathComponent("state.sqlite").path)
            let service = try ResourceService(store: store, logger: logger)
            let tokens = try TokenStore(directory: dir)
            let identity = try ServerIdentity.loadOrCreate(in: dir, names: ["127.0.0.1"])
            let server = APIServer(host: "127.0.0.1", port: 0, transport: .https(identity), service: service, tokens: tokens, logger: logger)
            let (ports, cont) = AsyncStream<Int>.makeStream()
            let app = try server.application { cont.yield($0) }
            let requests = self.requests, resources = self.resources
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await app.runService(gracefulShutdownSignals: []) }
                var it = ports.makeAsyncIterator()
                guard let port = await it.next() else { return }
                let c = try GatewayClient(ClientConfiguration(endpoint: "https://127.0.0.1:\(port)", token: tokens.adminToken!, subscription: "bench", caCertificatePEM: identity.trustAnchorPEM))
                _ = try await c.call(.PUT, c.groupPath("rg"), body: Data(#"{"location":"local"}"#.utf8))
                _ = try await c.call(.PUT, c.groupPath("big"), body: Data(#"{"location":"local"}"#.utf8))
                func body(_ i: Int) -> Data {
                    Data(#"{"properties":{"gatewayIpAddress":"203.0.113.\#(i % 250 + 1)","localNetworkAddressSpace":{"addressPrefixes":["10.\#(i / 65536 % 256).\#(i / 256 % 256).\#(i % 256).0/32"]}}}"#.replacingOccurrences(of: ".0/32", with: "/32").utf8)
                }
                // Warm up the connection and code paths.
                for i in 0..<50 { _ = try await c.call(.PUT, c.resourcePath("rg", .localNetworkGateways, "w\(i)"), body: body(i)) }

                var put: [Double] = [], get: [Double] = []
                for i in 0..<requests {
                    let t0 = ContinuousClock.now
                    _ = try await c.call(.PUT, c.resourcePath("rg", .localNetworkGateways, "site\(i % 100)"), body: body(i))
                    put.append((ContinuousClock.now - t0).milliseconds)
                }
                for i in 0..<requests {
                    let t0 = ContinuousClock.now
                    _ = try await c.call(.GET, c.resourcePath("rg", .localNetworkGateways, "site\(i % 100)"))
                    get.append((ContinuousClock.now - t0).milliseconds)
                }
                print("vpngw API benchmark (HTTPS, one connection, sequential; SQLite WAL in a temp dir)")
                printTable([
                    ["GET", "\(requests)", fmt(percentile(get, 50)), fmt(percentile(get, 99)), "< 5 ms", percentile(get, 99) < 5 ? "met" : "MISSED"],
                    ["PUT", "\(requests)", fmt(percentile(put, 50)), fmt(percentile(put, 99)), "< 20 ms", percentile(put, 99) < 20 ? "met" : "MISSED"],
                ], headers: ["op", "requests", "p50 ms", "p99 ms", "target p99", ""])

                let t0 = ContinuousClock.now
                for i in 0..<resources {
                    _ = try await c.call(.PUT, c.resourcePath("big", .localNetworkGateways, "s\(i)"), body: body(i))
                }
                let created = ContinuousClock.now - t0
                let t1 = ContinuousClock.now
                let listed = try await c.call(.GET, c.resourcePath("big", .localNetworkGateways))
                let listTime = ContinuousClock.now - t1
                let count = (try? JSONDecoder().decode(ListEnvelope<LocalNetworkGateway>.self, from: listed.body).value.count) ?? -1
                print("")
                printTable([
                    ["create \(resources) local network gateways", fmt(created.milliseconds / 1000, unit: " s"), fmt(Double(resources) / (created.milliseconds / 1000), unit: "/s")],
                    ["list them in one call (\(count) returned, \(listed.body.count / 1024) KiB)", fmt(listTime.milliseconds, unit: " ms"), ""],
                ], headers: ["operation", "time", "rate"])
                await c.shutdown()
                group.cancelAll()
            }
        }
    }
}

extension Duration {
    var milliseconds: Double { Double(components.seconds) * 1000 + Double(components.attoseconds) / 1e15 }
}

func percentile(_ values: [Double], _ p: Double) -> Double {
    guard !values.isEmpty else { return 0 }
    let sorted = values.sorted()
    let idx = min(sorted.count - 1, Int((p / 100) * Double(sorted.count - 1) + 0.5))
    return sorted[idx]
}

func fmt(_ v: Double, unit: String = "") -> String { String(format: "%.2f", v) + unit }
