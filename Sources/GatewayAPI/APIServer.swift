import Foundation
import GatewayControl
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOCore
import NIOSSL

/// The REST API server: HTTPS by default (generated or operator certificate); plain HTTP only
/// when asked and only on a loopback address.
public struct APIServer: Sendable {
    public enum Transport: Sendable {
        case https(ServerIdentity)
        case plainHTTPOnLoopback
    }
    public var host: String
    public var port: Int
    public var transport: Transport
    public var service: ResourceService
    public var tokens: TokenStore
    public var logger: Logger

    public init(host: String, port: Int, transport: Transport, service: ResourceService, tokens: TokenStore, logger: Logger) {
        self.host = host; self.port = port; self.transport = transport
        self.service = service; self.tokens = tokens; self.logger = logger
    }

    public struct ConfigurationError: Error, CustomStringConvertible { public var description: String }

    /// Builds the Hummingbird application. `onRunning` receives the bound port (useful with port 0).
    public func application(onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) throws -> some ApplicationProtocol {
        let scheme: String
        let server: HTTPServerBuilder
        switch transport {
        case .https(let identity):
            scheme = "https"
            let chain = try NIOSSLCertificate.fromPEMBytes(Array(identity.certificatePEM.utf8)).map { NIOSSLCertificateSource.certificate($0) }
            let key = try NIOSSLPrivateKey(bytes: Array(identity.privateKeyPEM.utf8), format: .pem)
            var tls = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key))
            tls.minimumTLSVersion = .tlsv12
            server = try .tls(.http1(), tlsConfiguration: tls)
        case .plainHTTPOnLoopback:
            guard ["127.0.0.1", "::1", "localhost"].contains(host) || host.hasPrefix("127.") else {
                throw ConfigurationError(description: "plain HTTP is only allowed on a loopback address (got \(host)); drop --insecure-http or listen on 127.0.0.1")
            }
            scheme = "http"
            server = .http1()
        }
        let responder = ARMResponder(service: service, tokens: tokens, scheme: scheme, logger: logger)
        return Application(
            responder: responder,
            server: server,
            configuration: .init(address: .hostname(host, port: port), serverName: "vpngw"),
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? 0) },
            logger: logger
        )
    }
}
