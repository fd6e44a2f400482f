// Named proposal sets. Azure's defaults come from reference/features.md §1.3 (azure-docs
// "Default IPsec/IKE parameters"); entries we cannot implement are listed, never dropped silently.

/// An entry of a published proposal set that this implementation refuses, and why.
public struct UnsupportedProposalEntry: Hashable, Sendable, CustomStringConvertible {
    public var entry: String
    public var reason: String

    public var description: String { "\(entry): \(reason)" }
}

public struct NamedProposalSet: Sendable {
    public var name: String
    public var ike: [IKECipherSuite]
    /// CHILD SA suites as initiator, in preference order.
    public var child: [ChildCipherSuite]
    /// Additional CHILD suites accepted as responder (after `child`).
    public var childAcceptedAsResponder: [ChildCipherSuite]
    public var unsupported: [UnsupportedProposalEntry]

    /// One IKE proposal per suite, numbered from 1 (RFC 7296 §3.3.1).
    public func ikeProposals(spi: [UInt8] = []) -> [Proposal] {
        ike.enumerated().map { $0.element.proposal(number: UInt8($0.offset + 1), spi: spi) }
    }

    public func childProposals(spi: [UInt8], asResponder: Bool = false) -> [Proposal] {
        let suites = asResponder ? child + childAcceptedAsResponder : child
        return suites.enumerated().map { $0.element.proposal(number: UInt8(truncatingIfNeeded: $0.offset + 1), spi: spi) }
    }
}

public enum DefaultProposals {
    static let noTripleDES = "3DES is not implemented (swift-crypto has no DES; RFC 8247 demotes it to MAY)"
    static let noDES = "DES is not implemented (RFC 8221: MUST NOT)"
    static let noGroup1 = "DH group 1 (MODP-768) is not implemented (RFC 8247: MUST NOT)"
    static let noGroup24 = "DH group 24 (MODP-2048-256, RFC 5114) is not implemented (RFC 8247: SHOULD NOT)"

    /// Azure route-based VPN gateway, IKEv2 defaults: IKE with DH group 2 only, encryption/hash
    /// AES256+SHA1, AES256+SHA256, AES128+SHA1, AES128+SHA256 (3DES entries refused); CHILD SA
    /// offers as initiator GCM-AES256, AES256/SHA1, AES256/SHA256, AES128/SHA1 without PFS, and as
    /// responder also PFS 2 and 14 variants.
    public static let azureRouteBased: NamedProposalSet = {
        func ike(_ bits: Int, _ integrity: IntegrityAlgorithm) -> IKECipherSuite {
            IKECipherSuite(encryption: .aesCBC(keyBits: bits), integrity: integrity,
                           prf: integrity == .hmacSHA1_96 ? .hmacSHA1 : .hmacSHA2_256, dhGroup: .modp1024)
        }
        func esp(_ bits: Int, _ integrity: IntegrityAlgorithm, pfs: DHGroup? = nil) -> ChildCipherSuite {
            ChildCipherSuite(encryption: .aesCBC(keyBits: bits), integrity: integrity, dhGroup: pfs)
        }
        return NamedProposalSet(
            name: "AzureRouteBasedDefault",
            ike: [ike(256, .hmacSHA1_96), ike(256, .hmacSHA2_256_128), ike(128, .hmacSHA1_96), ike(128, .hmacSHA2_256_128)],
            child: [
                ChildCipherSuite(encryption: .aesGCM16(keyBits: 256), integrity: nil),
                esp(256, .hmacSHA1_96),
                esp(256, .hmacSHA2_256_128),
                esp(128, .hmacSHA1_96),
            ],
            childAcceptedAsResponder: [
                esp(256, .hmacSHA1_96, pfs: .modp1024), esp(256, .hmacSHA1_96, pfs: .modp2048),
                esp(128, .hmacSHA1_96, pfs: .modp1024), esp(128, .hmacSHA1_96, pfs: .modp2048),
                esp(256, .hmacSHA2_256_128, pfs: .modp1024), esp(256, .hmacSHA2_256_128, pfs: .modp2048),
                esp(128, .hmacSHA2_256_128),
                esp(128, .hmacSHA2_256_128, pfs: .modp1024), esp(128, .hmacSHA2_256_128, pfs: .modp2048),
            ],
            unsupported: [
                UnsupportedProposalEntry(entry: "IKE 3DES+SHA1 / MODP_1024", reason: noTripleDES),
                UnsupportedProposalEntry(entry: "IKE 3DES+SHA256 / MODP_1024", reason: noTripleDES),
                UnsupportedProposalEntry(entry: "ESP 3DES/SHA1", reason: noTripleDES),
                UnsupportedProposalEntry(entry: "ESP 3DES/SHA256", reason: noTripleDES),
                UnsupportedProposalEntry(entry: "ESP DES/SHA1", reason: noDES),
                UnsupportedProposalEntry(entry: "ESP AES256/SHA1, AES128/SHA1, AES256/SHA256, AES128/SHA256 with PFS 1", reason: noGroup1),
                UnsupportedProposalEntry(entry: "ESP AES256/SHA1, AES256/SHA256 with PFS 24", reason: noGroup24),
            ])
    }()

    /// Our own preference when no policy says otherwise: AEAD first, fast groups first (RFC 8247
    /// MUSTs included), and strongSwan's default IKE choice reachable.
    public static let vpngwDefault = NamedProposalSet(
        name: "VpngwDefault",
        ike: [
            IKECipherSuite(encryption: .aesGCM16(keyBits: 256), integrity: nil, prf: .hmacSHA2_256, dhGroup: .curve25519),
            IKECipherSuite(encryption: .aesGCM16(keyBits: 128), integrity: nil, prf: .hmacSHA2_256, dhGroup: .curve25519),
            IKECipherSuite(encryption: .aesCBC(keyBits: 128), integrity: .hmacSHA2_256_128, prf: .hmacSHA2_256, dhGroup: .curve25519),
            IKECipherSuite(encryption: .aesCBC(keyBits: 256), integrity: .hmacSHA2_256_128, prf: .hmacSHA2_256, dhGroup: .ecp256),
            IKECipherSuite(encryption: .aesCBC(keyBits: 256), integrity: .hmacSHA2_256_128, prf: .hmacSHA2_256, dhGroup: .modp2048),
        ],
        child: [
            ChildCipherSuite(encryption: .aesGCM16(keyBits: 128), integrity: nil),
            ChildCipherSuite(encryption: .aesGCM16(keyBits: 256), integrity: nil),
            ChildCipherSuite(encryption: .chacha20Poly1305, integrity: nil),
            ChildCipherSuite(encryption: .aesCBC(keyBits: 128), integrity: .hmacSHA2_256_128),
            ChildCipherSuite(encryption: .aesCBC(keyBits: 256), integrity: .hmacSHA2_256_128),
        ],
        childAcceptedAsResponder: [],
        unsupported: [])
}
