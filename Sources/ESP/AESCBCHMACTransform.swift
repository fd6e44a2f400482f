import COpenSSL

/// RFC 3602 AES-CBC with an RFC 2404 / RFC 4868 HMAC ICV (encrypt-then-MAC, RFC 4303 §3.3.2).
///
/// The ICV covers `SPI ‖ Seq ‖ IV ‖ ciphertext`, followed by Seq-hi when ESN is in use
/// (RFC 4303 §2.2.1, §3.3.2.1). The IV must be unpredictable (RFC 3602 §2.3): it is
/// E_K(ivSalt ‖ seq), the forward cipher applied to a per-SA unique nonce (NIST SP 800-38A
/// Appendix C), so sealing needs neither a random-number call nor a second key.
/// Encryption and decryption need different AES key schedules, so the context for a direction
/// is made on its first use and reused from then on; an SA direction only ever uses one.
public final class AESCBCHMACTransform: ESPTransform {
    public let integrity: ESPIntegrityAlgorithm
    private let cipher: OpaquePointer
    private let key: UnsafeMutableBufferPointer<UInt8>
    private var encryptor: OpaquePointer?
    private var decryptor: OpaquePointer?
    private let authenticator: any MessageAuthenticator
    private let ivSalt: UInt64
    /// 16 zero bytes (the IV for deriving a packet IV) followed by room for a full digest.
    private let scratch: UnsafeMutablePointer<UInt8>
    private static let zeroIVOffset = 0
    private static let digestOffset = 16
    private static let scratchLength = 16 + 64
    private static let blockLength = 16

    public var ivLength: Int { Self.blockLength }
    public var icvLength: Int { integrity.icvLength }
    public var paddingAlignment: Int { Self.blockLength }
    public var ciphertextBlockLength: Int { Self.blockLength }

    /// Separate encryption and integrity keys as IKEv2 hands them over (RFC 7296 §2.17 order).
    /// `ivSalt` makes the IV nonces of this SA distinct from any other SA's; it is drawn from
    /// OpenSSL's DRBG when not given.
    public init(encryptionKey: [UInt8], integrityKey: [UInt8], integrity: ESPIntegrityAlgorithm,
                ivSalt: UInt64? = nil) throws(ESPConfigurationError) {
        switch encryptionKey.count {
        case 16: cipher = EVP_aes_128_cbc()
        case 24: cipher = EVP_aes_192_cbc()
        case 32: cipher = EVP_aes_256_cbc()
        default: throw .invalidKeyLength(expected: 32, actual: encryptionKey.count)
        }
        guard integrityKey.count == integrity.keyLength else {
            throw .invalidKeyLength(expected: integrity.keyLength, actual: integrityKey.count)
        }
        if let ivSalt {
            self.ivSalt = ivSalt
        } else {
            var drawn: UInt64 = 0
            let ok = withUnsafeMutableBytes(of: &drawn) {
                RAND_bytes($0.baseAddress!.assumingMemoryBound(to: UInt8.self), 8) == 1
            }
            guard ok else { throw .cryptoInitializationFailed("RAND_bytes") }
            self.ivSalt = drawn
        }
        self.integrity = integrity
        key = .allocate(capacity: encryptionKey.count)
        _ = key.initialize(from: encryptionKey)
        authenticator = makeAuthenticator(integrity, key: integrityKey)
        scratch = .allocate(capacity: Self.scratchLength)
        scratch.initialize(repeating: 0, count: Self.scratchLength)
    }

    deinit {
        if let encryptor { EVP_CIPHER_CTX_free(encryptor) }
        if let decryptor { EVP_CIPHER_CTX_free(decryptor) }
        OPENSSL_cleanse(key.baseAddress, key.count)
        key.deallocate()
        OPENSSL_cleanse(scratch, Self.scratchLength)
        scratch.deallocate()
    }

    private func makeContext(encrypt: Bool) -> OpaquePointer? {
        guard let context = EVP_CIPHER_CTX_new() else { return nil }
        guard EVP_CipherInit_ex(context, cipher, nil, key.baseAddress, nil, encrypt ? 1 : 0) == 1,
              EVP_CIPHER_CTX_set_padding(context, 0) == 1 else {
            EVP_CIPHER_CTX_free(context)
            return nil
        }
        return context
    }

    private func encryptionContext() -> OpaquePointer? {
        if let encryptor { return encryptor }
        encryptor = makeContext(encrypt: true)
        return encryptor
    }

    private func decryptionContext() -> OpaquePointer? {
        if let decryptor { return decryptor }
        decryptor = makeContext(encrypt: false)
        return decryptor
    }

    public func prepare(for direction: ESPDirection) throws(ESPConfigurationError) {
        let context = switch direction {
        case .outbound: encryptionContext()
        case .inbound: decryptionContext()
        }
        guard context != nil else { throw .cryptoInitializationFailed("EVP_CipherInit_ex") }
    }

    public func seal(packet: UnsafeMutableRawBufferPointer, sequenceNumber: UInt64, extendedSequenceNumbers: Bool) -> Bool {
        guard packet.count >= ESPHeader.length + Self.blockLength,
              let base = packet.baseAddress?.assumingMemoryBound(to: UInt8.self),
              let context = encryptionContext() else { return false }
        packet.storeBigEndian(ivSalt, at: ESPHeader.length)
        packet.storeBigEndian(sequenceNumber, at: ESPHeader.length + 8)
        let iv = base + ESPHeader.length
        var written: Int32 = 0
        guard EVP_CipherInit_ex(context, nil, nil, nil, scratch + Self.zeroIVOffset, 1) == 1,
              EVP_CipherUpdate(context, iv, &written, iv, Int32(Self.blockLength)) == 1 else { return false }
        return sealKeepingIV(packet: packet,
                             sequenceNumberHigh: extendedSequenceNumbers ? UInt32(truncatingIfNeeded: sequenceNumber >> 32) : nil)
    }

    /// Encrypts with the IV already in the packet, then appends the ICV.
    func sealKeepingIV(packet: UnsafeMutableRawBufferPointer, sequenceNumberHigh: UInt32?) -> Bool {
        let textOffset = ESPHeader.length + Self.blockLength
        let icvOffset = packet.count - icvLength
        let textLength = icvOffset - textOffset
        guard textLength > 0, textLength % Self.blockLength == 0,
              let base = packet.baseAddress?.assumingMemoryBound(to: UInt8.self),
              let context = encryptionContext() else { return false }
        let text = base + textOffset
        var written: Int32 = 0
        guard EVP_CipherInit_ex(context, nil, nil, nil, base + ESPHeader.length, 1) == 1,
              EVP_CipherUpdate(context, text, &written, text, Int32(textLength)) == 1,
              Int(written) == textLength else { return false }
        let digest = scratch + Self.digestOffset
        authenticator.authenticate(UnsafeRawBufferPointer(rebasing: packet[..<icvOffset]),
                                   suffix: sequenceNumberHigh, into: digest)
        (base + icvOffset).update(from: digest, count: icvLength)
        return true
    }

    public func open(packet: UnsafeMutableRawBufferPointer, sequenceNumberHigh: UInt32?) -> Bool {
        let textOffset = ESPHeader.length + Self.blockLength
        let icvOffset = packet.count - icvLength
        let textLength = icvOffset - textOffset
        guard textLength > 0, textLength % Self.blockLength == 0,
              let base = packet.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return false }
        let digest = scratch + Self.digestOffset
        authenticator.authenticate(UnsafeRawBufferPointer(rebasing: packet[..<icvOffset]),
                                   suffix: sequenceNumberHigh, into: digest)
        guard CRYPTO_memcmp(digest, base + icvOffset, icvLength) == 0 else { return false }
        guard let context = decryptionContext() else { return false }
        let text = base + textOffset
        var written: Int32 = 0
        return EVP_CipherInit_ex(context, nil, nil, nil, base + ESPHeader.length, 0) == 1
            && EVP_CipherUpdate(context, text, &written, text, Int32(textLength)) == 1
            && Int(written) == textLength
    }

    /// The full HMAC of `message` under this SA's integrity key (known-answer tests).
    func fullMAC(of message: [UInt8]) -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: authenticator.digestLength)
        message.withUnsafeBytes { bytes in
            digest.withUnsafeMutableBufferPointer { authenticator.authenticate(bytes, suffix: nil, into: $0.baseAddress!) }
        }
        return digest
    }
}
