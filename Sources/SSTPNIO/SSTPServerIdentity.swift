// The SSTP server's TLS identity: a leaf certificate whose subject CN is the name clients dial
// (sstpc compares only the CN, protocols.md §4.1), and its key. The crypto binding hashes exactly
// `certificateDER`, so the TLS layer must present these bytes as the leaf.
import Crypto
import Foundation
import NIOSSL
import SwiftASN1
import X509

public struct SSTPServerIdentity: Sendable {
    public var certificateChain: [NIOSSLCertificate]
    public var privateKey: NIOSSLPrivateKey
    /// DER of the leaf (what CALL_CONNECTED's certificate hash covers).
    public var certificateDER: [UInt8]
    /// PEM of the leaf, for `--ca-cert` on clients.
    public var certificatePEM: String
    /// PEM of the private key when we generated it (to keep it across restarts).
    public var privateKeyPEM: String? = nil

    /// A self-signed P-256 certificate with subject CN = `commonName` (and a SAN for it), valid ten years.
    public static func selfSigned(commonName: String) throws -> SSTPServerIdentity {
        let now = Date()
        let key = P256.Signing.PrivateKey()
        let certificateKey = Certificate.PrivateKey(key)
        let name = try DistinguishedName { CommonName(commonName); OrganizationName("vpngw") }
        let san: GeneralName
        if let v4 = ipv4Octets(commonName) { san = .ipAddress(ASN1OctetString(contentBytes: ArraySlice(v4))) } else { san = .dnsName(commonName) }
        let certificate = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: certificateKey.publicKey,
            notValidBefore: now.addingTimeInterval(-3600), notValidAfter: now.addingTimeInterval(10 * 365 * 86400),
            issuer: name, subject: name, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                KeyUsage(digitalSignature: true)
                try ExtendedKeyUsage([.serverAuth])
                SubjectAlternativeNames([san])
            }, issuerPrivateKey: certificateKey)
        var serializer = DER.Serializer()
        try serializer.serialize(certificate)
        let der = serializer.serializedBytes
        return SSTPServerIdentity(
            certificateChain: [try NIOSSLCertificate(bytes: der, format: .der)],
            privateKey: try NIOSSLPrivateKey(bytes: Array(key.derRepresentation), format: .der),
            certificateDER: der, certificatePEM: try certificate.serializeAsPEM().pemString, privateKeyPEM: key.pemRepresentation)
    }

    /// A generated identity kept in two files: loaded if both exist and the certificate names
    /// `commonName`, otherwise generated (self-signed) and written (the key with mode 0600).
    public static func loadOrCreate(certificateFile: String, keyFile: String, commonName: String) throws -> SSTPServerIdentity {
        let fm = FileManager.default
        if fm.fileExists(atPath: certificateFile), fm.fileExists(atPath: keyFile),
           let existing = try? load(certificateFile: certificateFile, keyFile: keyFile),
           let cert = try? Certificate(derEncoded: existing.certificateDER),
           cert.subject.description.contains("CN=\(commonName)") {
            return existing
        }
        let fresh = try selfSigned(commonName: commonName)
        fm.createFile(atPath: keyFile, contents: Data((fresh.privateKeyPEM ?? "").utf8), attributes: [.posixPermissions: 0o600])
        try fresh.certificatePEM.write(toFile: certificateFile, atomically: true, encoding: .utf8)
        return fresh
    }

    /// The operator's certificate chain (leaf first) and key, PEM files.
    public static func load(certificateFile: String, keyFile: String) throws -> SSTPServerIdentity {
        let chain = try NIOSSLCertificate.fromPEMFile(certificateFile)
        guard let leaf = chain.first else { throw SSTPServerError.invalidCertificate("no certificate in \(certificateFile)") }
        let pem = try String(contentsOfFile: certificateFile, encoding: .utf8)
        return SSTPServerIdentity(certificateChain: chain, privateKey: try NIOSSLPrivateKey(file: keyFile, format: .pem),
                                  certificateDER: try leaf.toDERBytes(), certificatePEM: pem)
    }
}

public enum SSTPServerError: Error, CustomStringConvertible {
    case invalidCertificate(String)
    case tun(String)
    case invalidArgument(String)

    public var description: String {
        switch self {
        case .invalidCertificate(let s): "certificate: \(s)"
        case .tun(let s): "TUN: \(s)"
        case .invalidArgument(let s): s
        }
    }
}

func ipv4Octets(_ s: String) -> [UInt8]? {
    let parts = s.split(separator: ".", omittingEmptySubsequences: false)
    guard parts.count == 4 else { return nil }
    let bytes = parts.compactMap { UInt8($0) }
    return bytes.count == 4 ? bytes : nil
}
