import AsyncHTTPClient
import Foundation
import GatewayModel
import NIOCore
import NIOHTTP1
import NIOSSL

/// Where and how to reach a vpngw API: written by `vpngw serve` to `client.json` in its data
/// directory, read by the CLI and the tests.
public struct ClientConfiguration: Codable, Sendable {
    public var endpoint: String
    public var token: String
    public var subscription: String
    /// PEM of the server certificate to trust (self-signed), or nil to use the system roots.
    public var caCertificatePEM: String?
    public init(endpoint: String, token: String, subscription: String, caCertificatePEM: String?) {
        self.endpoint = endpoint; self.token = token; self.subscription = subscription; self.caCertificatePEM = caCertificatePEM
    }

    public static func load(from url: URL) throws -> ClientConfiguration {
        try JSONDecoder().decode(ClientConfiguration.self, from: Data(contentsOf: url))
    }
    public func save(to url: URL) throws {
        let e = JSONEncoder(); e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try e.encode(self).write(to: url, options: .atomic)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: url.path)
    }
}

/// Errors a client call can end with: the server's ARM error, or a transport problem.
public enum ClientError: Error, CustomStringConvertible, Sendable {
    case api(ARMError)
    case transport(String)
    case unexpected(status: Int, body: String)

    public var description: String {
        switch self {
        case .api(let e): return "\(e.code) (HTTP \(e.status)): \(e.message)"
        case .transport(let s): return "cannot reach the vpngw API: \(s)"
        case .unexpected(let status, let body): return "unexpected HTTP \(status): \(body.prefix(500))"
        }
    }
}

/// Typed client of the ARM-shaped API, shared by the CLI and the tests.
public final class GatewayClient: Sendable {
    public let configuration: ClientConfiguration
    private let http: HTTPClient
    public static let apiVersion = "2024-05-01"

    public init(_ configuration: ClientConfiguration) throws {
        self.configuration = configuration
        var tls = TLSConfiguration.makeClientConfiguration()
        if let pem = configuration.caCertificatePEM {
            tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(pem.utf8)))
            // The generated certificate names the host the server was started for; the trust
            // anchor is pinned, so the name check adds nothing here.
            tls.certificateVerification = .noHostnameVerification
        }
        var config = HTTPClient.Configuration(tlsConfiguration: tls)
        config.timeout = .init(connect: .seconds(5), read: .seconds(60))
        http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: config)
    }

    deinit { try? http.syncShutdown() }

    public func shutdown() async { try? await http.shutdown() }

    public var subscription: String { configuration.subscription }

    // MARK: Paths

    public func groupPath(_ group: String) -> String { "/subscriptions/\(subscription)/resourceGroups/\(group)" }
    public func resourcePath(_ group: String, _ type: ResourceType, _ name: String? = nil) -> String {
        groupPath(group) + "/providers/Microsoft.Network/\(type.rawValue)" + (name.map { "/\($0)" } ?? "")
    }
    public func resourceID(_ group: String, _ type: ResourceType, _ name: String) -> String { resourcePath(group, type, name) }

    // MARK: Raw calls

    public struct RawResponse: Sendable {
        public var status: Int
        public var headers: [(String, String)]
        public var body: Data
        public func header(_ name: String) -> String? { headers.first { $0.0.lowercased() == name.lowercased() }?.1 }
    }

    /// One HTTP call. Paths get `api-version` appended.
    public func raw(_ method: HTTPMethod, _ path: String, body: Data? = nil, headers extra: [(String, String)] = []) async throws(ClientError) -> RawResponse {
        let sep = path.contains("?") ? "&" : "?"
        let url = path.hasPrefix("http") ? path : configuration.endpoint + path + "\(sep)api-version=\(Self.apiVersion)"
        var request = HTTPClientRequest(url: url)
        request.method = method
        request.headers.add(name: "Authorization", value: "Bearer \(configuration.token)")
        request.headers.add(name: "Accept", value: "application/json")
        for (k, v) in extra { request.headers.add(name: k, value: v) }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        do {
            let response = try await http.execute(request, timeout: .seconds(60))
            let buffer = try await response.body.collect(upTo: 64 * 1024 * 1024)
            return RawResponse(status: Int(response.status.code), headers: response.headers.map { ($0.name, $0.value) }, body: Data(buffer.readableBytesView))
        } catch {
            throw .transport("\(error)")
        }
    }

    /// A call that must succeed (2xx); an ARM error body becomes `.api`.
    @discardableResult
    public func call(_ method: HTTPMethod, _ path: String, body: Data? = nil, headers: [(String, String)] = []) async throws(ClientError) -> RawResponse {
        let r = try await raw(method, path, body: body, headers: headers)
        guard (200..<300).contains(r.status) else {
            if var e = try? JSONDecoder().decode(ARMErrorBody.self, from: r.body).error {
                e.status = r.status
                throw .api(e)
            }
            throw .unexpected(status: r.status, body: String(decoding: r.body, as: UTF8.self))
        }
        return r
    }

    /// Follows `Azure-AsyncOperation` until the operation ends (bounded by `timeout`).
    public func waitForOperation(_ response: RawResponse, timeout: Duration = .seconds(120)) async throws(ClientError) {
        guard let url = response.header("Azure-AsyncOperation") else { return }
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let r = try await call(.GET, url)
            struct Status: Decodable { var status: String; var error: ARMError? }
            guard let s = try? JSONDecoder().decode(Status.self, from: r.body) else {
                throw .unexpected(status: r.status, body: String(decoding: r.body, as: UTF8.self))
            }
            switch s.status {
            case "Succeeded": return
            case "Failed", "Canceled":
                throw .api(s.error ?? ARMError(status: 200, code: "OperationFailed", message: "The operation ended \(s.status)."))
            default:
                try? await Task.sleep(for: .milliseconds(100))
            }
        }
        throw .transport("the operation did not finish within \(timeout)")
    }

    // MARK: Typed calls

    public func createGroup(_ name: String, location: String = "local") async throws(ClientError) -> ResourceGroup {
        let r = try await call(.PUT, groupPath(name), body: Data("{\"location\":\"\(location)\"}".utf8))
        return try decode(ResourceGroup.self, r.body)
    }

    /// PUT a resource and wait for its long-running operation; returns the final state.
    public func put<P>(_ group: String, _ type: ResourceType, _ name: String, _ resource: ARMResource<P>) async throws(ClientError) -> ARMResource<P> {
        let body: Data
        do { body = try JSONEncoder.arm.encode(resource) } catch { throw .transport("cannot encode: \(error)") }
        let r = try await call(.PUT, resourcePath(group, type, name), body: body)
        if r.header("Azure-AsyncOperation") != nil {
            try await waitForOperation(r)
            return try await get(group, type, name, as: P.self)
        }
        return try decode(ARMResource<P>.self, r.body)
    }

    public func putRaw(_ group: String, _ type: ResourceType, _ name: String, json: Data) async throws(ClientError) -> Data {
        let r = try await call(.PUT, resourcePath(group, type, name), body: json)
        if r.header("Azure-AsyncOperation") != nil {
            try await waitForOperation(r)
            return try await call(.GET, resourcePath(group, type, name)).body
        }
        return r.body
    }

    public func get<P>(_ group: String, _ type: ResourceType, _ name: String, as: P.Type) async throws(ClientError) -> ARMResource<P> {
        try decode(ARMResource<P>.self, try await call(.GET, resourcePath(group, type, name)).body)
    }

    public func list<P>(_ group: String?, _ type: ResourceType, as: P.Type) async throws(ClientError) -> [ARMResource<P>] {
        let path = group.map { resourcePath($0, type) } ?? "/subscriptions/\(subscription)/providers/Microsoft.Network/\(type.rawValue)"
        return try decode(ListEnvelope<ARMResource<P>>.self, try await call(.GET, path).body).value
    }

    /// DELETE and wait for a long-running delete to finish. Returns false if it did not exist.
    @discardableResult
    public func delete(_ group: String, _ type: ResourceType, _ name: String) async throws(ClientError) -> Bool {
        let r = try await call(.DELETE, resourcePath(group, type, name))
        if r.status == 202 { try await waitForOperation(r) }
        return r.status != 204
    }

    public func decode<T: Decodable>(_ type: T.Type, _ data: Data) throws(ClientError) -> T {
        do { return try JSONDecoder().decode(T.self, from: data) } catch {
            throw .unexpected(status: 200, body: "could not decode \(T.self): \(error); body: \(String(decoding: data.prefix(300), as: UTF8.self))")
        }
    }
}

/// `{"value": [...]}`.
public struct ListEnvelope<T: Decodable>: Decodable { public var value: [T] }
