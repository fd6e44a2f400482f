import COpenSSL

/// An RFC 4106 / RFC 7634 style AEAD over one reused `EVP_CIPHER_CTX`, keyed once.
/// Nonce = salt(4) ‖ IV(8); AAD = SPI ‖ Seq (8 bytes) or SPI ‖ Seq-hi ‖ Seq-lo with ESN (RFC 4106 §5).
/// GCM and ChaCha20-Poly1305 use the same key schedule both ways, so one context serves both
/// directions: `EVP_CipherInit_ex` with only an IV flips it without re-keying.
final class OpenSSLAEAD {
    static let ivLength = 8
    static let tagLength = 16
    private static let textOffset = ESPHeader.length + ivLength

    private let context: OpaquePointer
    /// salt ‖ IV, then 12 bytes of ESN AAD, then a spill slot for `EVP_CipherFinal_ex`.
    private let scratch: UnsafeMutablePointer<UInt8>
    private static let nonceOffset = 0
    private static let aadOffset = 12
    private static let finalOffset = 24
    private static let scratchLength = 24 + 32

    init(cipher: OpaquePointer, key: [UInt8], salt: [UInt8]) throws(ESPConfigurationError) {
        guard salt.count == 4 else { throw .invalidKeyLength(expected: 4, actual: salt.count) }
        guard let context = EVP_CIPHER_CTX_new() else {
            throw .cryptoInitializationFailed("EVP_CIPHER_CTX_new")
        }
        self.context = context
        scratch = .allocate(capacity: Self.scratchLength)
        scratch.initialize(repeating: 0, count: Self.scratchLength)
        for index in 0..<4 { scratch[Self.nonceOffset + index] = salt[index] }
        let keyed = key.withUnsafeBufferPointer {
            EVP_CipherInit_ex(context, cipher, nil, $0.baseAddress, nil, 1) == 1
        }
        guard keyed else {
            EVP_CIPHER_CTX_free(context)
            scratch.deallocate()
            throw .cryptoInitializationFailed("EVP_CipherInit_ex")
        }
    }

    deinit {
        EVP_CIPHER_CTX_free(context)
        OPENSSL_cleanse(scratch, Self.scratchLength)
        scratch.deallocate()
    }

    /// Encrypts or decrypts the packet in place using the IV already in the packet.
    func crypt(packet: UnsafeMutableRawBufferPointer, sequenceNumberHigh: UInt32?, encrypt: Bool) -> Bool {
        let icvOffset = packet.count - Self.tagLength
        let textLength = icvOffset - Self.textOffset
        guard textLength >= 0, let base = packet.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return false }
        let aad: UnsafePointer<UInt8>
        let aadLength: Int
        if let sequenceNumberHigh {
            let esnAAD = scratch + Self.aadOffset
            esnAAD.update(from: base, count: 4)
            UnsafeMutableRawPointer(esnAAD + 4).storeBytes(of: sequenceNumberHigh.bigEndian, as: UInt32.self)
            (esnAAD + 8).update(from: base + ESPHeader.sequenceNumberOffset, count: 4)
            aad = UnsafePointer(esnAAD)
            aadLength = 12
        } else {
            aad = UnsafePointer(base)
            aadLength = ESPHeader.length
        }
        return process(iv: base + ESPHeader.length, aad: aad, aadLength: aadLength,
                       text: base + Self.textOffset, textLength: textLength,
                       tag: base + icvOffset, encrypt: encrypt)
    }

    /// The bare AEAD: nonce = salt ‖ `iv`(8), text processed in place, 16-byte tag written or checked.
    func process(iv: UnsafePointer<UInt8>, aad: UnsafePointer<UInt8>, aadLength: Int,
                 text: UnsafeMutablePointer<UInt8>, textLength: Int,
                 tag: UnsafeMutablePointer<UInt8>, encrypt: Bool) -> Bool {
        (scratch + Self.nonceOffset + 4).update(from: iv, count: Self.ivLength)
        var written: Int32 = 0
        guard EVP_CipherInit_ex(context, nil, nil, nil, scratch + Self.nonceOffset, encrypt ? 1 : 0) == 1 else {
            return false
        }
        if aadLength > 0 {
            guard EVP_CipherUpdate(context, nil, &written, aad, Int32(aadLength)) == 1 else { return false }
        }
        if textLength > 0 {
            guard EVP_CipherUpdate(context, text, &written, text, Int32(textLength)) == 1 else { return false }
        }
        if encrypt {
            guard EVP_CipherFinal_ex(context, scratch + Self.finalOffset, &written) == 1 else { return false }
            return EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_AEAD_GET_TAG, Int32(Self.tagLength), tag) == 1
        } else {
            guard EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_AEAD_SET_TAG, Int32(Self.tagLength), tag) == 1 else {
                return false
            }
            return EVP_CipherFinal_ex(context, scratch + Self.finalOffset, &written) > 0
        }
    }
}

/// RFC 4106 AES-GCM with a 16-byte ICV (ENCR_AES_GCM_16). The explicit IV is the 64-bit sequence
/// number, unique per packet within the SA (RFC 4106 §3.1).
public final class AESGCMTransform: ESPTransform {
    let aead: OpenSSLAEAD

    public var ivLength: Int { OpenSSLAEAD.ivLength }
    public var icvLength: Int { OpenSSLAEAD.tagLength }
    public var paddingAlignment: Int { 4 }
    public var ciphertextBlockLength: Int { 1 }

    /// `key` is 16, 24 or 32 bytes; `salt` the 4 KEYMAT bytes after it (RFC 4106 §8.1).
    public init(key: [UInt8], salt: [UInt8]) throws(ESPConfigurationError) {
        let cipher: OpaquePointer
        switch key.count {
        case 16: cipher = EVP_aes_128_gcm()
        case 24: cipher = EVP_aes_192_gcm()
        case 32: cipher = EVP_aes_256_gcm()
        default: throw .invalidKeyLength(expected: 32, actual: key.count)
        }
        aead = try OpenSSLAEAD(cipher: cipher, key: key, salt: salt)
    }

    /// One direction's KEYMAT: key ‖ salt(4).
    public convenience init(keyMaterial: [UInt8]) throws(ESPConfigurationError) {
        guard keyMaterial.count > 4 else { throw .invalidKeyLength(expected: 36, actual: keyMaterial.count) }
        try self.init(key: Array(keyMaterial.dropLast(4)), salt: Array(keyMaterial.suffix(4)))
    }

    public func seal(packet: UnsafeMutableRawBufferPointer, sequenceNumber: UInt64, extendedSequenceNumbers: Bool) -> Bool {
        packet.storeBigEndian(sequenceNumber, at: ESPHeader.length)
        return aead.crypt(packet: packet,
                          sequenceNumberHigh: extendedSequenceNumbers ? UInt32(truncatingIfNeeded: sequenceNumber >> 32) : nil,
                          encrypt: true)
    }

    public func open(packet: UnsafeMutableRawBufferPointer, sequenceNumberHigh: UInt32?) -> Bool {
        aead.crypt(packet: packet, sequenceNumberHigh: sequenceNumberHigh, encrypt: false)
    }

    /// Seals with the IV the caller already placed in the packet (known-answer tests).
    func sealKeepingIV(packet: UnsafeMutableRawBufferPointer, sequenceNumberHigh: UInt32?) -> Bool {
        aead.crypt(packet: packet, sequenceNumberHigh: sequenceNumberHigh, encrypt: true)
    }
}

/// RFC 7634 ChaCha20-Poly1305 for ESP: 32-byte key, 4-byte salt, 8-byte IV (the sequence number).
public final class ChaCha20Poly1305Transform: ESPTransform {
    let aead: OpenSSLAEAD

    public var ivLength: Int { OpenSSLAEAD.ivLength }
    public var icvLength: Int { OpenSSLAEAD.tagLength }
    /// RFC 7634 §3: no block alignment beyond ESP's 4 bytes.
    public var paddingAlignment: Int { 4 }
    public var ciphertextBlockLength: Int { 1 }

    public init(key: [UInt8], salt: [UInt8]) throws(ESPConfigurationError) {
        guard key.count == 32 else { throw .invalidKeyLength(expected: 32, actual: key.count) }
        aead = try OpenSSLAEAD(cipher: EVP_chacha20_poly1305(), key: key, salt: salt)
    }

    /// One direction's KEYMAT: key(32) ‖ salt(4) (RFC 7634 §4).
    public convenience init(keyMaterial: [UInt8]) throws(ESPConfigurationError) {
        guard keyMaterial.count == 36 else { throw .invalidKeyLength(expected: 36, actual: keyMaterial.count) }
        try self.init(key: Array(keyMaterial.prefix(32)), salt: Array(keyMaterial.suffix(4)))
    }

    public func seal(packet: UnsafeMutableRawBufferPointer, sequenceNumber: UInt64, extendedSequenceNumbers: Bool) -> Bool {
        packet.storeBigEndian(sequenceNumber, at: ESPHeader.length)
        return aead.crypt(packet: packet,
                          sequenceNumberHigh: extendedSequenceNumbers ? UInt32(truncatingIfNeeded: sequenceNumber >> 32) : nil,
                          encrypt: true)
    }

    public func open(packet: UnsafeMutableRawBufferPointer, sequenceNumberHigh: UInt32?) -> Bool {
        aead.crypt(packet: packet, sequenceNumberHigh: sequenceNumberHigh, encrypt: false)
    }

    func sealKeepingIV(packet: UnsafeMutableRawBufferPointer, sequenceNumberHigh: UInt32?) -> Bool {
        aead.crypt(packet: packet, sequenceNumberHigh: sequenceNumberHigh, encrypt: true)
    }
}
