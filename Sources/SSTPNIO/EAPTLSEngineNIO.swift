// The TLS half of EAP-TLS (RFC 5216) for the pure PPP core: swift-nio-ssl's NIOSSLHandler inside
// an EmbeddedChannel, so TLS records go in and out as bytes and no TLS is written by hand.
//   TLS 1.2 (RFC 5216) and TLS 1.3 (RFC 9190), both by default; the owner may narrow the range.
//   Keys: NIOSSL exposes no SSL_export_keying_material, so the engine computes the exporter itself
//   from secrets BoringSSL hands NIOSSL's public `keyLogCallback` (NSS key-log format):
//   TLS 1.2: RFC 5705 §4, PRF(master_secret, label, client_random ‖ server_random [‖ context]),
//     master_secret from "CLIENT_RANDOM <cr> <ms>", server_random and the cipher suite (which
//     fixes the PRF hash) from the ServerHello record it relays anyway.
//   TLS 1.3: RFC 8446 §7.5, HKDF-Expand-Label(Derive-Secret(exporter_master_secret, label, ""),
//     "exporter", Hash(context), length), exporter_master_secret from "EXPORTER_SECRET <cr> <s>"
//     (BoringSSL tls13_derive_application_secrets), the hash from its length (32: SHA-256, 48: SHA-384).
//   TLS 1.3 application data: the server writes RFC 9190's success indication through the
//   handler (`sendApplicationData`); the client collects what it decrypts (`receivedApplicationData`).
//   Session tickets: NIOSSL has no switch for them; a TLS 1.3 server sends NewSessionTickets when
//   the client offers psk_key_exchange_modes. They precede the success indication, as RFC 9190
//   §2.1.1 allows, and can never resume (every engine is a new SSL_CTX with fresh ticket keys).
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
        /// Decrypted application data from the peer (TLS 1.3 EAP-TLS: the server's 0x00).
        var applicationData: [UInt8] = []
        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if let tls = event as? TLSUserEvent, case .handshakeCompleted = tls { complete = true }
        }
        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            if self.error == nil { self.error = "\(error)" }
        }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            // Bounded: EAP-TLS carries at most the one-byte success indication.
            let bytes = unwrapInboundIn(data).readableBytesView
            if applicationData.count + bytes.count <= 64 { applicationData += bytes } else if error == nil { error = "unexpected TLS application data" }
        }
    }

    final class KeyLogBox: @unchecked Sendable {
        var clientRandom: [UInt8]?
        var masterSecret: [UInt8]?
        /// TLS 1.3's exporter_master_secret; logged only when TLS 1.3 was negotiated.
        var exporterSecret: [UInt8]?
        func take(_ line: ByteBuffer) {
            let text = String(buffer: line).trimmingCharacters(in: .whitespacesAndNewlines.union(CharacterSet(charactersIn: "\0")))
            let parts = text.split(separator: " ")
            guard parts.count == 3 else { return }
            switch parts[0] {
            case "CLIENT_RANDOM":
                clientRandom = Self.unhex(parts[1])
                masterSecret = Self.unhex(parts[2])
            case "EXPORTER_SECRET":
                clientRandom = Self.unhex(parts[1])
                exporterSecret = Self.unhex(parts[2])
            default:
                break
            }
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
    /// recorded for the owner's decision. TLS 1.2 and 1.3 unless narrowed (tests).
    public init(serverChain: [NIOSSLCertificate], privateKey: NIOSSLPrivateKey,
                minimumTLSVersion: TLSVersion = .tlsv12, maximumTLSVersion: TLSVersion = .tlsv13) throws {
        isServer = true
        var tls = TLSConfiguration.makeServerConfiguration(certificateChain: serverChain.map { .certificate($0) }, privateKey: .privateKey(privateKey))
        tls.minimumTLSVersion = minimumTLSVersion
        tls.maximumTLSVersion = maximumTLSVersion
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
    public init(clientChain: [NIOSSLCertificate], privateKey: NIOSSLPrivateKey,
                minimumTLSVersion: TLSVersion = .tlsv12, maximumTLSVersion: TLSVersion = .tlsv13) throws {
        isServer = false
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.minimumTLSVersion = minimumTLSVersion
        tls.maximumTLSVersion = maximumTLSVersion
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

    /// The first bytes the server sends begin with the ServerHello record (in clear, both versions).
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

    public var negotiatedTLS13: Bool { secrets.exporterSecret != nil }
    public var receivedApplicationData: [UInt8] { observer.applicationData }

    public func sendApplicationData(_ bytes: [UInt8]) -> [UInt8] {
        guard isComplete else { return [] }
        channel.writeAndFlush(ByteBuffer(bytes: bytes), promise: nil)
        return drain()
    }

    public func exportKeyingMaterial(label: String, context: [UInt8]?, length: Int) -> [UInt8]? {
        guard isComplete else { return nil }
        if let exporterSecret = secrets.exporterSecret {
            return TLS13Exporter.compute(exporterSecret: exporterSecret, label: Array(label.utf8), context: context ?? [], length: length)
        }
        guard let clientRandom = secrets.clientRandom, let master = secrets.masterSecret, let serverRandom, let cipherSuite else { return nil }
        var seed = clientRandom + serverRandom
        if let context {  // RFC 5705 §4: a present context (even empty) is length-prefixed into the seed
            guard context.count <= 0xFFFF else { return nil }
            seed += [UInt8(context.count >> 8), UInt8(context.count & 0xFF)] + context
        }
        return TLS12PRF.compute(secret: master, label: Array(label.utf8), seed: seed, length: length,
                                sha384: TLS12PRF.usesSHA384(cipherSuite))
    }
}

/// The TLS 1.3 exporter (RFC 8446 §7.5) from exporter_master_secret, whose length names the hash
/// (every TLS 1.3 suite is SHA-256 or SHA-384 based).
public enum TLS13Exporter {
    /// nil when the secret is neither 32 (SHA-256) nor 48 (SHA-384) bytes, or length > 255 × hash.
    public static func compute(exporterSecret: [UInt8], label: [UInt8], context: [UInt8], length: Int) -> [UInt8]? {
        switch exporterSecret.count {
        case 32: compute(SHA256.self, exporterSecret, label, context, length)
        case 48: compute(SHA384.self, exporterSecret, label, context, length)
        default: nil
        }
    }

    static func compute<H: HashFunction>(_: H.Type, _ secret: [UInt8], _ label: [UInt8], _ context: [UInt8], _ length: Int) -> [UInt8]? {
        guard length <= 255 * H.Digest.byteCount, label.count <= 249 else { return nil }
        // Derive-Secret(Secret, Label, "") = HKDF-Expand-Label(Secret, Label, Hash(""), Hash.length)
        let derived = expandLabel(H.self, secret: secret, label: label, context: Array(H.hash(data: [UInt8]())), length: H.Digest.byteCount)
        return expandLabel(H.self, secret: derived, label: Array("exporter".utf8), context: Array(H.hash(data: context)), length: length)
    }

    /// HKDF-Expand-Label (RFC 8446 §7.1): info = uint16 length ‖ <"tls13 " ‖ label> ‖ <context>.
    public static func expandLabel<H: HashFunction>(_: H.Type, secret: [UInt8], label: [UInt8], context: [UInt8], length: Int) -> [UInt8] {
        let fullLabel = Array("tls13 ".utf8) + label
        let info = [UInt8(length >> 8), UInt8(length & 0xFF), UInt8(fullLabel.count)] + fullLabel + [UInt8(context.count)] + context
        let key = HKDF<H>.expand(pseudoRandomKey: SymmetricKey(data: secret), info: info, outputByteCount: length)
        return key.withUnsafeBytes { Array($0) }
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
