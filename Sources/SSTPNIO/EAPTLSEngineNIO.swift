// The TLS half of EAP-TLS (RFC 5216) for the pure PPP core: swift-nio-ssl's NIOSSLHandler inside
// an EmbeddedChannel, so TLS records go in and out as bytes and no TLS is written by hand.
//   TLS 1.2 only (RFC 5216; TLS 1.3 EAP-TLS is RFC 9190 with other keys and a commitment message).
//   Keys: NIOSSL exposes no SSL_export_keying_material. The exporter of RFC 5705 without context
//   is PRF(master_secret, label, client_random ‖ server_random) (RFC 5705 §4), so the engine takes
//   client_random and master_secret from NIOSSL's public `keyLogCallback` (NSS key-log line
//   "CLIENT_RANDOM <cr> <ms>"), server_random and the cipher suite (which fixes the PRF hash)
//   from the ServerHello record it relays anyway, and computes the TLS 1.2 PRF with swift-crypto.
//   Client certificates: the server's NIOSSL hands the chain to a custom verification callback
//   (BoringSSL still checks CertificateVerify, i.e. possession of the key) whose promise stays open:
//   the handshake pauses (`pendingPeerVerification`) until the owner (`SSTPClientCertificatePolicy`:
//   chain to a gateway root with swift-certificates' Verifier, not revoked) decides. Accepted → our
//   ChangeCipherSpec/Finished; refused → BoringSSL's alert goes to the client *instead of* our
//   Finished (RFC 5216 §2.1.3; wpa_supplicant ignores an EAP-Failure after the server's Finished).
import Crypto
import Foundation
import NIOCore
import NIOEmbedded
import NIOSSL
import NIOTLS
import PPP
import SwiftASN1
import X509

public final class NIOEAPTLSEngine: EAPTLSEngine, @unchecked Sendable {
    let channel = EmbeddedChannel()
    let isServer: Bool
    let observer = Observer()
    let secrets = KeyLogBox()
    var serverRandom: [UInt8]?
    var cipherSuite: UInt16?
    var sawServerFlight = false

    final class Observer: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = ByteBuffer
        var complete = false
        var error: String?
        var peerChain: [[UInt8]] = []
        /// Open while the handshake waits for the owner's verdict on `peerChain`.
        var pendingVerification: EventLoopPromise<NIOSSLVerificationResult>?
        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if let tls = event as? TLSUserEvent, case .handshakeCompleted = tls { complete = true }
        }
        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            if self.error == nil { self.error = "\(error)" }
        }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {}  // no application data in EAP-TLS
    }

    final class KeyLogBox: @unchecked Sendable {
        var clientRandom: [UInt8]?
        var masterSecret: [UInt8]?
        func take(_ line: ByteBuffer) {
            let text = String(buffer: line).trimmingCharacters(in: .whitespacesAndNewlines)
            let parts = text.split(separator: " ")
            guard parts.count == 3, parts[0] == "CLIENT_RANDOM" else { return }
            clientRandom = Self.unhex(parts[1])
            masterSecret = Self.unhex(parts[2])
        }
        static func unhex<S: StringProtocol>(_ s: S) -> [UInt8]? {
            var out: [UInt8] = []
            var it = s.makeIterator()
            while let h = it.next() {
                guard let l = it.next(), let v = UInt8(String([h, l]), radix: 16) else { return nil }
                out.append(v)
            }
            return out
        }
    }

    /// Server role: our certificate and key (the gateway's SSTP identity); any client chain is
    /// recorded for the owner's decision.
    public init(serverChain: [NIOSSLCertificate], privateKey: NIOSSLPrivateKey) throws {
        isServer = true
        var tls = TLSConfiguration.makeServerConfiguration(certificateChain: serverChain.map { .certificate($0) }, privateKey: .privateKey(privateKey))
        tls.minimumTLSVersion = .tlsv12
        tls.maximumTLSVersion = .tlsv12
        tls.certificateVerification = .noHostnameVerification  // request (and require) a client certificate
        tls.trustRoots = .certificates([])  // the custom callback decides; do not load the system store per session
        let secrets = self.secrets
        tls.keyLogCallback = { secrets.take($0) }
        let context = try NIOSSLContext(configuration: tls)
        let observer = self.observer
        let handler = NIOSSLServerHandler(context: context) { certificates, promise in
            observer.peerChain = certificates.compactMap { try? $0.toDERBytes() }
            observer.pendingVerification = promise  // resolvePeerVerification(accepted:) completes it
        }
        try channel.pipeline.syncOperations.addHandler(handler)
        try channel.pipeline.syncOperations.addHandler(observer)
    }

    /// Client role: our certificate chain (leaf first) and key. The server's certificate is not
    /// checked here: the SSTP crypto binding ties this inner TLS to the outer one, whose server
    /// certificate the client already judged.
    public init(clientChain: [NIOSSLCertificate], privateKey: NIOSSLPrivateKey) throws {
        isServer = false
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.minimumTLSVersion = .tlsv12
        tls.maximumTLSVersion = .tlsv12
        tls.certificateVerification = .none
        tls.certificateChain = clientChain.map { .certificate($0) }
        tls.privateKey = .privateKey(privateKey)
        let secrets = self.secrets
        tls.keyLogCallback = { secrets.take($0) }
        let context = try NIOSSLContext(configuration: tls)
        try channel.pipeline.syncOperations.addHandler(try NIOSSLClientHandler(context: context, serverHostname: nil))
        try channel.pipeline.syncOperations.addHandler(observer)
    }

    public func start() -> [UInt8] {
        _ = try? channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        let out = drain()
        if isServer, !out.isEmpty { noteServerFlight(out) }
        return out
    }

    public func feed(_ bytes: [UInt8]) -> [UInt8] {
        if isServer, !channel.isActive, observer.error == nil { _ = try? channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait() }
        if !isServer { noteServerFlight(bytes) }
        do { try channel.writeInbound(ByteBuffer(bytes: bytes)) } catch { if observer.error == nil { observer.error = "\(error)" } }
        let out = drain()
        if isServer { noteServerFlight(out) }
        return out
    }

    func drain() -> [UInt8] {
        // Deferred work (e.g. the verification promise's continuation) runs on the embedded loop.
        channel.embeddedEventLoop.run()
        var out: [UInt8] = []
        while let buffer = try? channel.readOutbound(as: ByteBuffer.self) {
            out += buffer.readableBytesView
        }
        return out
    }

    /// The first bytes the server sends begin with the ServerHello record (TLS 1.2, in clear).
    func noteServerFlight(_ bytes: [UInt8]) {
        guard !sawServerFlight, !bytes.isEmpty else { return }
        sawServerFlight = true
        // record: 16 03 0x len(2) | handshake: 02 len(3) | version(2) | random(32) | sid_len | sid | suite(2)
        guard bytes.count >= 44, bytes[0] == 0x16, bytes[5] == 0x02 else { return }
        serverRandom = Array(bytes[11..<43])
        let sidLength = Int(bytes[43])
        guard bytes.count >= 44 + sidLength + 2 else { return }
        cipherSuite = UInt16(bytes[44 + sidLength]) << 8 | UInt16(bytes[45 + sidLength])
    }

    public var pendingPeerVerification: [[UInt8]]? { observer.pendingVerification == nil ? nil : observer.peerChain }

    public func resolvePeerVerification(accepted: Bool) -> [UInt8] {
        guard let promise = observer.pendingVerification else { return [] }
        observer.pendingVerification = nil
        promise.succeed(accepted ? .certificateVerified : .failed)
        return drain()
    }

    public var isComplete: Bool { observer.complete && observer.error == nil }
    public var failureReason: String? { observer.error }
    public var peerCertificateChain: [[UInt8]] { observer.peerChain }

    public func exportKeyingMaterial(label: String, length: Int) -> [UInt8]? {
        guard isComplete, let clientRandom = secrets.clientRandom, let master = secrets.masterSecret,
              let serverRandom, let cipherSuite else { return nil }
        return TLS12PRF.compute(secret: master, label: Array(label.utf8), seed: clientRandom + serverRandom, length: length,
                                sha384: TLS12PRF.usesSHA384(cipherSuite))
    }
}

/// The TLS 1.2 PRF (RFC 5246 §5): P_<hash>(secret, label ‖ seed).
public enum TLS12PRF {
    /// TLS 1.2 suites whose PRF is SHA-384 (RFC 5289, RFC 5288); all others use SHA-256.
    public static func usesSHA384(_ suite: UInt16) -> Bool {
        [0x009D, 0x009F, 0x00A3, 0x00A5, 0x00A7, 0x00AD, 0xC024, 0xC028, 0xC02C, 0xC030, 0xC02E, 0xC032].contains(suite)
    }

    public static func compute(secret: [UInt8], label: [UInt8], seed: [UInt8], length: Int, sha384: Bool = false) -> [UInt8] {
        sha384 ? pHash(SHA384.self, secret: secret, seed: label + seed, length: length)
               : pHash(SHA256.self, secret: secret, seed: label + seed, length: length)
    }

    static func pHash<H: HashFunction>(_: H.Type, secret: [UInt8], seed: [UInt8], length: Int) -> [UInt8] {
        let key = SymmetricKey(data: secret)
        var out: [UInt8] = []
        var a = seed
        while out.count < length {
            a = Array(HMAC<H>.authenticationCode(for: a, using: key))
            out += Array(HMAC<H>.authenticationCode(for: a + seed, using: key))
        }
        return Array(out.prefix(length))
    }
}

/// Azure's certificate authentication: the client certificate must chain to one of the gateway's
/// vpnClientRootCertificates and its SHA-1 thumbprint must not be in vpnClientRevokedCertificates.
public struct SSTPClientCertificatePolicy: Sendable {
    public var roots: [Certificate]
    /// Uppercase hex SHA-1 thumbprints.
    public var revoked: Set<String>

    public init(roots: [Certificate], revoked: [String]) {
        self.roots = roots
        self.revoked = Set(revoked.map(Self.normalize))
    }

    /// Roots as base64 DER (the ARM `publicCertData`) or PEM; unparsable entries are named in `errors`.
    public static func parseRoots(_ data: [String]) -> (roots: [Certificate], errors: [String]) {
        var roots: [Certificate] = [], errors: [String] = []
        for (i, text) in data.enumerated() {
            let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
            if trimmed.hasPrefix("-----BEGIN"), let c = try? Certificate(pemEncoded: trimmed) { roots.append(c); continue }
            let b64 = trimmed.replacingOccurrences(of: "\n", with: "").replacingOccurrences(of: "\r", with: "").replacingOccurrences(of: " ", with: "")
            if let der = Data(base64Encoded: b64), let c = try? Certificate(derEncoded: Array(der)) { roots.append(c) } else { errors.append("root certificate #\(i + 1) does not parse") }
        }
        return (roots, errors)
    }

    public static func normalize(_ thumbprint: String) -> String {
        thumbprint.uppercased().filter { $0.isHexDigit }
    }

    public static func thumbprint(der: [UInt8]) -> String {
        Insecure.SHA1.hash(data: der).map { String(format: "%02X", $0) }.joined()
    }

    public static func commonName(_ certificate: Certificate) -> String? {
        for rdn in certificate.subject {
            for attribute in rdn where attribute.type == .RDNAttributeType.commonName {
                let text = "\(attribute.value)"
                return text
            }
        }
        return nil
    }

    /// The verdict for a chain (leaf first) and the leaf's thumbprint.
    public func verify(chain: [[UInt8]], now: Date = Date()) async -> (verdict: EAPTLSPeerVerdict, thumbprint: String?) {
        guard let leafDER = chain.first else { return (.refused(reason: "the client sent no certificate"), nil) }
        let thumbprint = Self.thumbprint(der: leafDER)
        guard let leaf = try? Certificate(derEncoded: leafDER) else { return (.refused(reason: "client certificate \(thumbprint) does not parse"), thumbprint) }
        let name = Self.commonName(leaf) ?? thumbprint
        if revoked.contains(thumbprint) {
            return (.refused(reason: "client certificate \(name) (thumbprint \(thumbprint)) is revoked (vpnClientRevokedCertificates)"), thumbprint)
        }
        guard !roots.isEmpty else { return (.refused(reason: "no vpnClientRootCertificates are configured"), thumbprint) }
        let intermediates = chain.dropFirst().compactMap { try? Certificate(derEncoded: $0) }
        var verifier = Verifier(rootCertificates: CertificateStore(roots)) { RFC5280Policy(validationTime: now) }
        switch await verifier.validate(leaf: leaf, intermediates: CertificateStore(intermediates)) {
        case .validCertificate:
            return (.accepted(identity: name), thumbprint)
        case .couldNotValidate(let failures):
            let why = failures.first.map { "\($0.policyFailureReason)" } ?? "no chain to a vpnClientRootCertificate"
            return (.refused(reason: "client certificate \(name) (thumbprint \(thumbprint)) does not chain to a vpnClientRootCertificate: \(why)"), thumbprint)
        }
    }
}
