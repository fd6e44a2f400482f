import Foundation
import GatewayAPI
import GatewayClient
import GatewayControl
import GatewayModel
import GatewayStore
import Logging
import Testing

/// Runs the real HTTPS API in-process on a free loopback port for the duration of `body`.
func withTestServer<T: Sendable>(
    store: any ResourceStore = InMemoryResourceStore(),
    dataDir: URL? = nil,
    _ body: @Sendable (GatewayClient, TokenStore, ClientConfiguration) async throws -> T
) async throws -> T {
    let dir = dataDir ?? FileManager.default.temporaryDirectory.appendingPathComponent("vpngw-api-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { if dataDir == nil { try? FileManager.default.removeItem(at: dir) } }
    var logger = Logger(label: "test")
    logger.logLevel = .warning
    let admission = Admission(context: AdmissionContext(allocatePublicIP: AdmissionContext.poolAllocator([try IPPrefix(parsing: "198.51.100.0/28")])))
    let service = try ResourceService(store: store, admission: admission, logger: logger)
    let tokens = try TokenStore(directory: dir)
    let identity = try ServerIdentity.loadOrCreate(in: dir, names: ["localhost", "127.0.0.1"])
    let server = APIServer(host: "127.0.0.1", port: 0, transport: .https(identity), service: service, tokens: tokens, logger: logger)
    let (portStream, portContinuation) = AsyncStream<Int>.makeStream()
    let app = try server.application { port in portContinuation.yield(port) }
    return try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await app.runService(gracefulShutdownSignals: []); return nil }
        var iterator = portStream.makeAsyncIterator()
        guard let port = await iterator.next() else { throw CancellationError() }
        let config = ClientConfiguration(endpoint: "https://127.0.0.1:\(port)", token: tokens.adminToken!, subscription: "sub1", caCertificatePEM: identity.trustAnchorPEM)
        let client = try GatewayClient(config)
        do {
            let result = try await body(client, tokens, config)
            await client.shutdown()
            group.cancelAll()
            return result
        } catch {
            await client.shutdown()
            group.cancelAll()
            throw error
        }
    }
}

func json(_ s: String) -> Data { Data(s.utf8) }

func object(_ data: Data) -> [String: Any] { (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:] }

func armError(_ r: GatewayClient.RawResponse) -> ARMError? {
    try? JSONDecoder().decode(ARMErrorBody.self, from: r.body).error
}
