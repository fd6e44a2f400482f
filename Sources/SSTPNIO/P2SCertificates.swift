// Certificates for point-to-site certificate authentication (Azure's flow): a self-signed root CA
// whose public part is uploaded as a vpnClientRootCertificate, and client certificates it signs.
// Used by `vpngw p2s make-cert` and the tests. P-256/ECDSA-SHA256 (OpenSSL SECLEVEL 2 accepts it).
import Crypto
import Foundation
import NIOSSL
import SwiftASN1
import X509

public struct P2SCertificate: Sendable {
    public var certificate: Certificate
    public var key: P256.Signing.PrivateKey
    public var der: [UInt8]

    public var certificatePEM: String { (try? certificate.serializeAsPEM().pemString) ?? "" }
    public var keyPEM: String { key.pemRepresentation }
    /// The ARM `publicCertData`: base64 DER without PEM armour.
    public var publicCertData: String { Data(der).base64EncodedString() }
    /// SHA-1 of the DER, uppercase hex (what vpnClientRevokedCertificates lists).
    public var thumbprint: String { SSTPClientCertificatePolicy.thumbprint(der: der) }

    public func nioChain() throws -> [NIOSSLCertificate] { [try NIOSSLCertificate(bytes: der, format: .der)] }
    public func nioKey() throws -> NIOSSLPrivateKey { try NIOSSLPrivateKey(bytes: Array(keyPEM.utf8), format: .pem) }

    /// A self-signed root CA, valid ten years.
    public static func makeRoot(commonName: String) throws -> P2SCertificate {
        let key = P256.Signing.PrivateKey()
        let name = try DistinguishedName { CommonName(commonName); OrganizationName("vpngw") }
        let now = Date()
        let certificate = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: .init(key.publicKey),
            notValidBefore: now.addingTimeInterval(-3600), notValidAfter: now.addingTimeInterval(10 * 365 * 86400),
            issuer: name, subject: name, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: nil))
                Critical(KeyUsage(keyCertSign: true, cRLSign: true))
            }, issuerPrivateKey: .init(key))
        return try P2SCertificate(certificate: certificate, key: key)
    }

    /// A client certificate (clientAuth) signed by `issuer`, valid `days`.
    public static func makeClient(commonName: String, issuer: P2SCertificate, days: Int = 365) throws -> P2SCertificate {
        let key = P256.Signing.PrivateKey()
        let name = try DistinguishedName { CommonName(commonName) }
        let now = Date()
        let certificate = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: .init(key.publicKey),
            notValidBefore: now.addingTimeInterval(-3600), notValidAfter: now.addingTimeInterval(Double(days) * 86400),
            issuer: issuer.certificate.subject, subject: name, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
                try ExtendedKeyUsage([.clientAuth])
            }, issuerPrivateKey: .init(issuer.key))
        return try P2SCertificate(certificate: certificate, key: key)
    }

    init(certificate: Certificate, key: P256.Signing.PrivateKey) throws {
        self.certificate = certificate
        self.key = key
        var serializer = DER.Serializer()
        try serializer.serialize(certificate)
        der = serializer.serializedBytes
    }

    /// Loads a root made by `makeRoot` (PEM certificate, PEM P-256 key) to issue more clients.
    public static func load(certificateFile: String, keyFile: String) throws -> P2SCertificate {
        let certificate = try Certificate(pemEncoded: try String(contentsOfFile: certificateFile, encoding: .utf8))
        let key = try P256.Signing.PrivateKey(pemRepresentation: try String(contentsOfFile: keyFile, encoding: .utf8))
        return try P2SCertificate(certificate: certificate, key: key)
    }

    /// Loads a PEM certificate and PEM private key (P-256 from make-cert, or any key NIOSSL reads).
    public static func loadNIO(certificateFile: String, keyFile: String) throws -> (chain: [NIOSSLCertificate], key: NIOSSLPrivateKey, leafDER: [UInt8]) {
        let chain = try NIOSSLCertificate.fromPEMFile(certificateFile)
        guard let leaf = chain.first else { throw SSTPServerError.invalidCertificate("no certificate in \(certificateFile)") }
        return (chain, try NIOSSLPrivateKey(file: keyFile, format: .pem), try leaf.toDERBytes())
    }
}
