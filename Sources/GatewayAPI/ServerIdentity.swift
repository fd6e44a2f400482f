import Crypto
import Foundation
import SwiftASN1
import X509

/// The API's TLS identity: the operator's certificate and key, or a self-signed pair generated at
/// first start and kept in the data directory (key file mode 0600).
public struct ServerIdentity: Sendable {
    public var certificatePEM: String
    public var privateKeyPEM: String

    public init(certificatePEM: String, privateKeyPEM: String) {
        self.certificatePEM = certificatePEM; self.privateKeyPEM = privateKeyPEM
    }

    /// PEM of the certificate clients should trust (the generated CA), when generated here.
    public var trustAnchorPEM: String?

    /// Loads the API identity from `directory`, creating on first use a private CA
    /// (`api-ca.pem`) and a server certificate it signed for `names` (`api-cert.pem`, `api-key.pem`).
    public static func loadOrCreate(in directory: URL, names: [String]) throws -> ServerIdentity {
        let caURL = directory.appendingPathComponent("api-ca.pem")
        let certURL = directory.appendingPathComponent("api-cert.pem")
        let keyURL = directory.appendingPathComponent("api-key.pem")
        if let ca = try? String(contentsOf: caURL, encoding: .utf8), let cert = try? String(contentsOf: certURL, encoding: .utf8),
           let key = try? String(contentsOf: keyURL, encoding: .utf8) {
            var identity = ServerIdentity(certificatePEM: cert, privateKeyPEM: key)
            identity.trustAnchorPEM = ca
            return identity
        }
        let identity = try generated(names: names)
        try Data(identity.privateKeyPEM.utf8).write(to: keyURL, options: .atomic)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: keyURL.path)
        try Data(identity.certificatePEM.utf8).write(to: certURL, options: .atomic)
        try Data((identity.trustAnchorPEM ?? "").utf8).write(to: caURL, options: .atomic)
        return identity
    }

    /// A P-256 CA valid for ten years and a server certificate it signed for the DNS names / IPs.
    /// The CA key is not kept: nothing else is ever signed with it.
    public static func generated(names: [String]) throws -> ServerIdentity {
        let now = Date()
        let caKey = Certificate.PrivateKey(P256.Signing.PrivateKey())
        let caName = try DistinguishedName { CommonName("vpngw API CA"); OrganizationName("vpngw") }
        let ca = try Certificate(version: .v3, serialNumber: .init(), publicKey: caKey.publicKey,
                                 notValidBefore: now.addingTimeInterval(-3600), notValidAfter: now.addingTimeInterval(10 * 365 * 86400),
                                 issuer: caName, subject: caName, signatureAlgorithm: .ecdsaWithSHA256,
                                 extensions: try Certificate.Extensions {
                                     Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                                     KeyUsage(keyCertSign: true)
                                 }, issuerPrivateKey: caKey)
        let key = P256.Signing.PrivateKey()
        let leafKey = Certificate.PrivateKey(key)
        var sans: [GeneralName] = []
        for n in names {
            if let v4 = IPv4Literal(n) { sans.append(.ipAddress(ASN1OctetStringBytes(v4))) } else { sans.append(.dnsName(n)) }
        }
        let leaf = try Certificate(version: .v3, serialNumber: .init(), publicKey: leafKey.publicKey,
                                   notValidBefore: now.addingTimeInterval(-3600), notValidAfter: now.addingTimeInterval(10 * 365 * 86400),
                                   issuer: caName, subject: try DistinguishedName { CommonName("vpngw API"); OrganizationName("vpngw") },
                                   signatureAlgorithm: .ecdsaWithSHA256,
                                   extensions: try Certificate.Extensions {
                                       Critical(BasicConstraints.notCertificateAuthority)
                                       KeyUsage(digitalSignature: true)
                                       try ExtendedKeyUsage([.serverAuth])
                                       SubjectAlternativeNames(sans)
                                   }, issuerPrivateKey: caKey)
        let caPEM = try ca.serializeAsPEM().pemString
        var identity = ServerIdentity(certificatePEM: try leaf.serializeAsPEM().pemString + "\n" + caPEM, privateKeyPEM: key.pemRepresentation)
        identity.trustAnchorPEM = caPEM
        return identity
    }
}

private func IPv4Literal(_ s: String) -> [UInt8]? {
    let parts = s.split(separator: ".")
    guard parts.count == 4 else { return nil }
    let bytes = parts.compactMap { UInt8($0) }
    return bytes.count == 4 ? bytes : nil
}

private func ASN1OctetStringBytes(_ b: [UInt8]) -> ASN1OctetString { ASN1OctetString(contentBytes: b[...]) }
