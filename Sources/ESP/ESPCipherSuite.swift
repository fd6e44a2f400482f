/// ESP encryption transforms this core implements (IKEv2 transform type 1).
public enum ESPEncryptionAlgorithm: Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// RFC 4106, ENCR_AES_GCM_16 (20) with a 128-bit key.
    case aes128GCM16
    /// RFC 4106, ENCR_AES_GCM_16 (20) with a 256-bit key.
    case aes256GCM16
    /// RFC 7634, ENCR_CHACHA20_POLY1305 (28).
    case chacha20Poly1305
    /// RFC 3602, ENCR_AES_CBC (12) with a 128-bit key.
    case aes128CBC
    /// RFC 3602, ENCR_AES_CBC (12) with a 256-bit key.
    case aes256CBC

    public var isAEAD: Bool {
        switch self {
        case .aes128GCM16, .aes256GCM16, .chacha20Poly1305: true
        case .aes128CBC, .aes256CBC: false
        }
    }

    public var keyLength: Int {
        switch self {
        case .aes128GCM16, .aes128CBC: 16
        case .aes256GCM16, .aes256CBC, .chacha20Poly1305: 32
        }
    }

    /// RFC 4106 §8.1 / RFC 7634 §2: 4 bytes of KEYMAT after the key form the nonce salt.
    public var saltLength: Int {
        switch self {
        case .aes128GCM16, .aes256GCM16, .chacha20Poly1305: 4
        case .aes128CBC, .aes256CBC: 0
        }
    }

    public var description: String {
        switch self {
        case .aes128GCM16: "aes128gcm16"
        case .aes256GCM16: "aes256gcm16"
        case .chacha20Poly1305: "chacha20poly1305"
        case .aes128CBC: "aes128cbc"
        case .aes256CBC: "aes256cbc"
        }
    }
}

/// ESP integrity transforms (IKEv2 transform type 3) for the non-AEAD ciphers.
public enum ESPIntegrityAlgorithm: Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// RFC 2404, AUTH_HMAC_SHA1_96 (2).
    case hmacSHA1_96
    /// RFC 4868, AUTH_HMAC_SHA2_256_128 (12).
    case hmacSHA256_128
    /// RFC 4868, AUTH_HMAC_SHA2_384_192 (13).
    case hmacSHA384_192
    /// RFC 4868, AUTH_HMAC_SHA2_512_256 (14).
    case hmacSHA512_256

    /// RFC 4868 §2.1.1 / RFC 2404 §3: the key is as long as the hash output.
    public var keyLength: Int {
        switch self {
        case .hmacSHA1_96: 20
        case .hmacSHA256_128: 32
        case .hmacSHA384_192: 48
        case .hmacSHA512_256: 64
        }
    }

    /// Truncated ICV length carried in the packet.
    public var icvLength: Int {
        switch self {
        case .hmacSHA1_96: 12
        case .hmacSHA256_128: 16
        case .hmacSHA384_192: 24
        case .hmacSHA512_256: 32
        }
    }

    public var description: String {
        switch self {
        case .hmacSHA1_96: "sha1_96"
        case .hmacSHA256_128: "sha256_128"
        case .hmacSHA384_192: "sha384_192"
        case .hmacSHA512_256: "sha512_256"
        }
    }
}

/// Why an SA or transform could not be built. Raised at SA setup, never per packet.
public enum ESPConfigurationError: Error, Hashable, Sendable {
    case invalidKeyLength(expected: Int, actual: Int)
    /// AEAD ciphers take no integrity transform; CBC requires one (RFC 8221 §5).
    case integrityMismatch(ESPEncryptionAlgorithm, ESPIntegrityAlgorithm?)
    case invalidReplayWindowSize(Int)
    case cryptoInitializationFailed(String)
}

/// One negotiated ESP proposal: an encryption transform and, for CBC, its integrity transform.
public struct ESPCipherSuite: Sendable, Hashable, CustomStringConvertible {
    public let encryption: ESPEncryptionAlgorithm
    public let integrity: ESPIntegrityAlgorithm?

    public init(encryption: ESPEncryptionAlgorithm, integrity: ESPIntegrityAlgorithm? = nil) throws(ESPConfigurationError) {
        guard encryption.isAEAD == (integrity == nil) else {
            throw .integrityMismatch(encryption, integrity)
        }
        self.encryption = encryption
        self.integrity = integrity
    }

    public static let aes128GCM16 = try! ESPCipherSuite(encryption: .aes128GCM16)
    public static let aes256GCM16 = try! ESPCipherSuite(encryption: .aes256GCM16)
    public static let chacha20Poly1305 = try! ESPCipherSuite(encryption: .chacha20Poly1305)

    /// Every suite this core implements, AEAD first.
    public static var all: [ESPCipherSuite] {
        var suites: [ESPCipherSuite] = [.aes128GCM16, .aes256GCM16, .chacha20Poly1305]
        for cipher in [ESPEncryptionAlgorithm.aes128CBC, .aes256CBC] {
            for integrity in ESPIntegrityAlgorithm.allCases {
                suites.append(try! ESPCipherSuite(encryption: cipher, integrity: integrity))
            }
        }
        return suites
    }

    /// KEYMAT bytes one SA direction consumes (RFC 7296 §2.17): encryption key (‖ salt), then integrity key.
    public var keyMaterialLength: Int {
        encryption.keyLength + encryption.saltLength + (integrity?.keyLength ?? 0)
    }

    /// Builds the transform from one direction's KEYMAT slice, split in RFC 7296 §2.17 order.
    public func makeTransform(keyMaterial: [UInt8]) throws(ESPConfigurationError) -> any ESPTransform {
        guard keyMaterial.count == keyMaterialLength else {
            throw .invalidKeyLength(expected: keyMaterialLength, actual: keyMaterial.count)
        }
        switch encryption {
        case .aes128GCM16, .aes256GCM16:
            return try AESGCMTransform(keyMaterial: keyMaterial)
        case .chacha20Poly1305:
            return try ChaCha20Poly1305Transform(keyMaterial: keyMaterial)
        case .aes128CBC, .aes256CBC:
            guard let integrity else { throw .integrityMismatch(encryption, nil) }
            let split = encryption.keyLength
            return try AESCBCHMACTransform(
                encryptionKey: Array(keyMaterial[..<split]),
                integrityKey: Array(keyMaterial[split...]),
                integrity: integrity)
        }
    }

    public var description: String {
        if let integrity { "\(encryption)-\(integrity)" } else { "\(encryption)" }
    }
}
