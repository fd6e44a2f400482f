// The algorithms this implementation supports, with their RFC key and output sizes, and their
// mapping to and from IANA transforms (RFC 7296 §3.3.2).

/// RFC 7296 §3.3.2 Transform Type 2; RFC 4868 for SHA-2.
public enum PRFAlgorithm: UInt16, CaseIterable, Hashable, Sendable, CustomStringConvertible {
    case hmacSHA1 = 2
    case hmacSHA2_256 = 5
    case hmacSHA2_384 = 6
    case hmacSHA2_512 = 7

    /// Output (and preferred key) length in bytes (RFC 7296 §2.13, RFC 4868 §2.4).
    public var outputLength: Int {
        switch self {
        case .hmacSHA1: return 20
        case .hmacSHA2_256: return 32
        case .hmacSHA2_384: return 48
        case .hmacSHA2_512: return 64
        }
    }

    public var transform: Transform { Transform(type: .prf, id: rawValue) }
    public var description: String { transform.description }
}

/// RFC 7296 §3.3.2 Transform Type 3; RFC 2404 (SHA1-96), RFC 4868 (SHA-2 truncated to half).
public enum IntegrityAlgorithm: UInt16, CaseIterable, Hashable, Sendable, CustomStringConvertible {
    case hmacSHA1_96 = 2
    case hmacSHA2_256_128 = 12
    case hmacSHA2_384_192 = 13
    case hmacSHA2_512_256 = 14

    public var keyLength: Int {
        switch self {
        case .hmacSHA1_96: return 20
        case .hmacSHA2_256_128: return 32
        case .hmacSHA2_384_192: return 48
        case .hmacSHA2_512_256: return 64
        }
    }

    /// Truncated ICV length in bytes.
    public var outputLength: Int {
        switch self {
        case .hmacSHA1_96: return 12
        case .hmacSHA2_256_128: return 16
        case .hmacSHA2_384_192: return 24
        case .hmacSHA2_512_256: return 32
        }
    }

    public var transform: Transform { Transform(type: .integrity, id: rawValue) }
    public var description: String { transform.description }
}

/// RFC 7296 §3.3.2 Transform Type 1 (AES-CBC: RFC 3602; AES-GCM-16: RFC 5282; ChaCha20-Poly1305: RFC 7634).
public enum EncryptionAlgorithm: Hashable, Sendable, CustomStringConvertible {
    case aesCBC(keyBits: Int)
    case aesGCM16(keyBits: Int)
    case chacha20Poly1305

    public static let supported: [EncryptionAlgorithm] = [
        .aesGCM16(keyBits: 256), .aesGCM16(keyBits: 128), .chacha20Poly1305,
        .aesCBC(keyBits: 256), .aesCBC(keyBits: 128),
    ]

    public init?(transform: Transform) {
        guard transform.type == .encryption, !transform.hasUnknownAttributes else { return nil }
        switch (transform.id, transform.keyLength) {
        case (TransformID.encrAES_CBC, 128?): self = .aesCBC(keyBits: 128)
        case (TransformID.encrAES_CBC, 256?): self = .aesCBC(keyBits: 256)
        case (TransformID.encrAES_GCM_16, 128?): self = .aesGCM16(keyBits: 128)
        case (TransformID.encrAES_GCM_16, 256?): self = .aesGCM16(keyBits: 256)
        case (TransformID.encrCHACHA20_POLY1305, nil): self = .chacha20Poly1305
        default: return nil
        }
    }

    public var transform: Transform {
        switch self {
        case let .aesCBC(bits): return Transform(type: .encryption, id: TransformID.encrAES_CBC, keyLength: UInt16(bits))
        case let .aesGCM16(bits): return Transform(type: .encryption, id: TransformID.encrAES_GCM_16, keyLength: UInt16(bits))
        case .chacha20Poly1305: return Transform(type: .encryption, id: TransformID.encrCHACHA20_POLY1305)
        }
    }

    public var isAEAD: Bool {
        switch self {
        case .aesCBC: return false
        case .aesGCM16, .chacha20Poly1305: return true
        }
    }

    public var keyLength: Int {
        switch self {
        case let .aesCBC(bits), let .aesGCM16(bits): return bits / 8
        case .chacha20Poly1305: return 32
        }
    }

    /// RFC 5282 §7.1 / RFC 7634 §2: AEAD keying material carries a 4-byte salt after the key.
    public var saltLength: Int { isAEAD ? 4 : 0 }
    public var keyMaterialLength: Int { keyLength + saltLength }

    /// IV carried in the SK payload: a full block for CBC, 8 bytes for the AEADs.
    public var ivLength: Int { isAEAD ? 8 : 16 }
    public var icvLength: Int { isAEAD ? 16 : 0 }
    /// Plaintext alignment the IKE padding must reach.
    public var blockSize: Int { isAEAD ? 1 : 16 }

    public var description: String { transform.description }
}

/// RFC 7296 §3.3.2 Transform Type 4: DH groups (RFC 2409, RFC 3526, RFC 5903, RFC 8031).
public enum DHGroup: UInt16, CaseIterable, Hashable, Sendable, CustomStringConvertible {
    case modp1024 = 2
    case modp2048 = 14
    case ecp256 = 19
    case ecp384 = 20
    case ecp521 = 21
    case curve25519 = 31

    /// Length of the KE payload data and of the shared secret g^ir.
    public var publicValueLength: Int {
        switch self {
        case .modp1024: return 128
        case .modp2048: return 256
        case .ecp256: return 64
        case .ecp384: return 96
        case .ecp521: return 132
        case .curve25519: return 32
        }
    }

    public var sharedSecretLength: Int {
        switch self {
        case .modp1024, .modp2048, .curve25519: return publicValueLength
        case .ecp256, .ecp384, .ecp521: return publicValueLength / 2
        }
    }

    public var transform: Transform { Transform(type: .keyExchange, id: rawValue) }
    public var description: String { transform.description }
}

/// The negotiated IKE SA algorithms.
public struct IKECipherSuite: Hashable, Sendable, CustomStringConvertible {
    public var encryption: EncryptionAlgorithm
    /// nil for AEAD ciphers (RFC 5282 §8: no separate integrity transform).
    public var integrity: IntegrityAlgorithm?
    public var prf: PRFAlgorithm
    public var dhGroup: DHGroup

    public init(encryption: EncryptionAlgorithm, integrity: IntegrityAlgorithm?, prf: PRFAlgorithm, dhGroup: DHGroup) {
        self.encryption = encryption
        self.integrity = integrity
        self.prf = prf
        self.dhGroup = dhGroup
    }

    /// Reads a selected IKE proposal (one transform per type).
    public init(proposal: Proposal) throws(IKECryptoError) {
        guard let encr = proposal.transforms(ofType: .encryption).first else { throw .missingTransform(.encryption) }
        guard let encryption = EncryptionAlgorithm(transform: encr) else { throw .unsupportedTransform(encr) }
        guard let prfTransform = proposal.transforms(ofType: .prf).first else { throw .missingTransform(.prf) }
        guard let prf = PRFAlgorithm(rawValue: prfTransform.id) else { throw .unsupportedTransform(prfTransform) }
        guard let dhTransform = proposal.transforms(ofType: .keyExchange).first else { throw .missingTransform(.keyExchange) }
        guard let dh = DHGroup(rawValue: dhTransform.id) else { throw .unsupportedTransform(dhTransform) }
        var integrity: IntegrityAlgorithm?
        if let integ = proposal.transforms(ofType: .integrity).first, integ.id != TransformID.integNone {
            guard let algorithm = IntegrityAlgorithm(rawValue: integ.id) else { throw .unsupportedTransform(integ) }
            integrity = algorithm
        }
        if !encryption.isAEAD && integrity == nil { throw .missingTransform(.integrity) }
        self.init(encryption: encryption, integrity: encryption.isAEAD ? nil : integrity, prf: prf, dhGroup: dh)
    }

    public func proposal(number: UInt8 = 1, spi: [UInt8] = []) -> Proposal {
        var transforms = [encryption.transform, prf.transform]
        if let integrity { transforms.append(integrity.transform) }
        transforms.append(dhGroup.transform)
        return Proposal(number: number, protocolID: .ike, spi: spi, transforms: transforms)
    }

    public var description: String {
        ([encryption.description] + (integrity.map { [$0.description] } ?? []) + [prf.description, dhGroup.description])
            .joined(separator: "/")
    }
}

/// The negotiated CHILD SA (ESP) algorithms.
public struct ChildCipherSuite: Hashable, Sendable, CustomStringConvertible {
    public var encryption: EncryptionAlgorithm
    public var integrity: IntegrityAlgorithm?
    /// PFS group for CREATE_CHILD_SA; nil without PFS.
    public var dhGroup: DHGroup?
    public var extendedSequenceNumbers: Bool

    public init(encryption: EncryptionAlgorithm, integrity: IntegrityAlgorithm?, dhGroup: DHGroup? = nil,
                extendedSequenceNumbers: Bool = false) {
        self.encryption = encryption
        self.integrity = integrity
        self.dhGroup = dhGroup
        self.extendedSequenceNumbers = extendedSequenceNumbers
    }

    public init(proposal: Proposal) throws(IKECryptoError) {
        guard let encr = proposal.transforms(ofType: .encryption).first else { throw .missingTransform(.encryption) }
        guard let encryption = EncryptionAlgorithm(transform: encr) else { throw .unsupportedTransform(encr) }
        var integrity: IntegrityAlgorithm?
        if let integ = proposal.transforms(ofType: .integrity).first, integ.id != TransformID.integNone {
            guard let algorithm = IntegrityAlgorithm(rawValue: integ.id) else { throw .unsupportedTransform(integ) }
            integrity = algorithm
        }
        if !encryption.isAEAD && integrity == nil { throw .missingTransform(.integrity) }
        var dhGroup: DHGroup?
        if let dh = proposal.transforms(ofType: .keyExchange).first, dh.id != TransformID.dhNone {
            guard let group = DHGroup(rawValue: dh.id) else { throw .unsupportedTransform(dh) }
            dhGroup = group
        }
        let esn = proposal.transforms(ofType: .extendedSequenceNumbers).first?.id == TransformID.esnYes
        self.init(encryption: encryption, integrity: encryption.isAEAD ? nil : integrity, dhGroup: dhGroup,
                  extendedSequenceNumbers: esn)
    }

    public func proposal(number: UInt8 = 1, spi: [UInt8] = []) -> Proposal {
        var transforms = [encryption.transform]
        if let integrity { transforms.append(integrity.transform) }
        if let dhGroup { transforms.append(dhGroup.transform) }
        transforms.append(Transform(type: .extendedSequenceNumbers,
                                    id: extendedSequenceNumbers ? TransformID.esnYes : TransformID.esnNo))
        return Proposal(number: number, protocolID: .esp, spi: spi, transforms: transforms)
    }

    public var description: String {
        var parts = [encryption.description]
        if let integrity { parts.append(integrity.description) }
        if let dhGroup { parts.append(dhGroup.description) }
        parts.append(extendedSequenceNumbers ? "ESN" : "NO_ESN")
        return parts.joined(separator: "/")
    }
}
