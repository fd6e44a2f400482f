// The Encrypted payload (RFC 7296 §3.14) and Encrypted Fragment payload (RFC 7383 §2.5).
// CBC: IV(16) ‖ E(payloads ‖ padding ‖ pad length) ‖ ICV, the ICV over the message from the
//      IKE header through the ciphertext; checked before decrypting.
// AEAD (RFC 5282 §5, RFC 7634 §3): IV(8), nonce = salt(4) ‖ IV, AAD = everything before the IV
//      (IKE header ‖ SK or SKF header), ICV = the 16-byte tag.
import COpenSSL
import Crypto

/// Everything that can go wrong opening a protected message: its framing or its crypto.
public enum IKEMessageError: Error, Equatable, Hashable, Sendable, CustomStringConvertible {
    case parse(IKEParseError)
    case crypto(IKECryptoError)

    public var description: String {
        switch self {
        case let .parse(error): return error.description
        case let .crypto(error): return error.description
        }
    }
}

/// One direction's SK keys: the sender seals with them, the receiver opens with them.
public struct SKProtection: Sendable {
    public let encryption: EncryptionAlgorithm
    public let integrity: IntegrityAlgorithm?
    /// Cipher key, followed by the 4-byte salt for AEAD ciphers.
    public let encryptionKey: [UInt8]
    public let integrityKey: [UInt8]

    public init(encryption: EncryptionAlgorithm, integrity: IntegrityAlgorithm?, encryptionKey: [UInt8],
                integrityKey: [UInt8]) throws(IKECryptoError) {
        guard encryptionKey.count == encryption.keyMaterialLength else {
            throw .invalidKeyLength(context: "SK_e", expected: encryption.keyMaterialLength, actual: encryptionKey.count)
        }
        let integrityLength = encryption.isAEAD ? 0 : (integrity?.keyLength ?? 0)
        guard encryption.isAEAD || integrity != nil else { throw .missingTransform(.integrity) }
        guard integrityKey.count == integrityLength else {
            throw .invalidKeyLength(context: "SK_a", expected: integrityLength, actual: integrityKey.count)
        }
        self.encryption = encryption
        self.integrity = encryption.isAEAD ? nil : integrity
        self.encryptionKey = encryptionKey
        self.integrityKey = integrityKey
    }

    /// The SK_ei/SK_ai (initiator→responder) and SK_er/SK_ar protections for an IKE SA.
    public static func directions(suite: IKECipherSuite, keys: IKESAKeys) throws(IKECryptoError)
        -> (initiatorToResponder: SKProtection, responderToInitiator: SKProtection) {
        (try SKProtection(encryption: suite.encryption, integrity: suite.integrity, encryptionKey: keys.skEi, integrityKey: keys.skAi),
         try SKProtection(encryption: suite.encryption, integrity: suite.integrity, encryptionKey: keys.skEr, integrityKey: keys.skAr))
    }

    var icvLength: Int { encryption.isAEAD ? encryption.icvLength : (integrity?.outputLength ?? 0) }

    func paddingLength(innerLength: Int) -> Int {
        let block = encryption.blockSize
        return (block - (innerLength + 1) % block) % block
    }

    /// IV ‖ ciphertext ‖ ICV length for `innerLength` bytes of payloads.
    public func protectedBodyLength(innerLength: Int) -> Int {
        encryption.ivLength + innerLength + paddingLength(innerLength: innerLength) + 1 + icvLength
    }

    // MARK: Whole messages

    /// Builds HDR, SK{payloads}. `header` supplies SPIs, exchange, flags and message ID.
    public func seal(header: IKEHeader, payloads: [Payload], random: some RandomSource) throws(IKECryptoError) -> [UInt8] {
        let inner = PayloadChain.emit(payloads)
        let bodyLength = protectedBodyLength(innerLength: inner.count)
        var header = header
        header.nextPayload = .encrypted
        header.length = UInt32(IKEHeader.length + 4 + bodyLength)
        var prefix = header.bytes
        prefix.append((payloads.first?.type ?? .none).rawValue)
        prefix.append(0)
        prefix.appendU16(UInt16(truncatingIfNeeded: 4 + bodyLength))
        return prefix + (try protect(prefix: prefix, plaintext: inner, iv: random.bytes(encryption.ivLength)))
    }

    /// Builds the SKF fragments of HDR, SK{payloads}, each no longer than `maximumMessageLength`
    /// (RFC 7383 §2.5: every fragment protected on its own, Next Payload only in fragment 1).
    public func sealFragments(header: IKEHeader, payloads: [Payload], maximumMessageLength: Int,
                              random: some RandomSource) throws(IKECryptoError) -> [[UInt8]] {
        let inner = PayloadChain.emit(payloads)
        let overhead = IKEHeader.length + 8 + encryption.ivLength + icvLength + 1
        var capacity = maximumMessageLength - overhead
        if encryption.blockSize > 1 { capacity = ((capacity + 1) / encryption.blockSize) * encryption.blockSize - 1 }
        guard capacity > 0 else {
            throw .protectedBodyTooShort(length: maximumMessageLength, minimum: overhead + encryption.blockSize)
        }
        let chunks = stride(from: 0, to: max(inner.count, 1), by: capacity).map {
            Array(inner[$0..<min($0 + capacity, inner.count)])
        }
        var messages: [[UInt8]] = []
        for (index, chunk) in chunks.enumerated() {
            let bodyLength = protectedBodyLength(innerLength: chunk.count)
            var fragmentHeader = header
            fragmentHeader.nextPayload = .encryptedFragment
            fragmentHeader.length = UInt32(IKEHeader.length + 8 + bodyLength)
            var prefix = fragmentHeader.bytes
            prefix.append(index == 0 ? (payloads.first?.type ?? .none).rawValue : 0)
            prefix.append(0)
            prefix.appendU16(UInt16(truncatingIfNeeded: 8 + bodyLength))
            prefix.appendU16(UInt16(index + 1))
            prefix.appendU16(UInt16(chunks.count))
            messages.append(prefix + (try protect(prefix: prefix, plaintext: chunk, iv: random.bytes(encryption.ivLength))))
        }
        return messages
    }

    /// Opens the SK payload of `message` (parsed from `rawBytes`) and returns the inner payloads,
    /// checked against the message-validity table.
    public func open(_ message: IKEMessage, rawBytes: [UInt8]) throws(IKEMessageError) -> [Payload] {
        guard case let .encrypted(sk)? = message.payloads.last(where: { $0.type == .encrypted }) else {
            throw .parse(.missingEncryptedPayload(exchange: message.header.exchangeType))
        }
        let prefix = Array(rawBytes.prefix(rawBytes.count - sk.protectedBody.count))
        let plaintext: [UInt8]
        do {
            plaintext = try unprotect(prefix: prefix, body: sk.protectedBody)
        } catch {
            throw .crypto(error)
        }
        return try Self.parseInner(first: sk.firstInnerPayload, plaintext: plaintext, header: message.header)
    }

    /// Opens one SKF fragment: returns its plaintext slice of the inner payload chain.
    public func openFragment(_ message: IKEMessage, rawBytes: [UInt8]) throws(IKEMessageError) -> (EncryptedFragmentPayload, [UInt8]) {
        guard case let .encryptedFragment(fragment)? = message.payloads.last(where: { $0.type == .encryptedFragment }) else {
            throw .parse(.missingEncryptedPayload(exchange: message.header.exchangeType))
        }
        let prefix = Array(rawBytes.prefix(rawBytes.count - fragment.protectedBody.count))
        do {
            return (fragment, try unprotect(prefix: prefix, body: fragment.protectedBody))
        } catch {
            throw .crypto(error)
        }
    }

    static func parseInner(first: PayloadType, plaintext: [UInt8], header: IKEHeader) throws(IKEMessageError) -> [Payload] {
        do {
            var reader = ByteReader(plaintext)
            let payloads = try PayloadChain.parse(first: first, &reader)
            try MessageRules.validateInner(exchange: header.exchangeType, isResponse: header.isResponse, payloads: payloads)
            return payloads
        } catch {
            throw .parse(error)
        }
    }

    // MARK: The SK body

    /// IV ‖ E(plaintext ‖ padding ‖ pad length) ‖ ICV; `prefix` is every message byte before the IV.
    public func protect(prefix: [UInt8], plaintext: [UInt8], iv: [UInt8]) throws(IKECryptoError) -> [UInt8] {
        guard iv.count == encryption.ivLength else {
            throw .invalidKeyLength(context: "SK IV", expected: encryption.ivLength, actual: iv.count)
        }
        let padding = paddingLength(innerLength: plaintext.count)
        let padded = plaintext + [UInt8](repeating: 0, count: padding) + [UInt8(padding)]
        switch encryption {
        case .aesCBC:
            let ciphertext = try AESCBC.crypt(encrypt: true, key: encryptionKey, iv: iv, input: padded)
            let icv = integrity!.checksum(key: integrityKey, data: prefix + iv + ciphertext)
            return iv + ciphertext + icv
        case .aesGCM16, .chacha20Poly1305:
            return iv + (try AEAD.seal(encryption, keyMaterial: encryptionKey, iv: iv, plaintext: padded, aad: prefix))
        }
    }

    /// Reverses `protect`: verifies, decrypts, strips the padding.
    public func unprotect(prefix: [UInt8], body: [UInt8]) throws(IKECryptoError) -> [UInt8] {
        let minimum = encryption.ivLength + icvLength + encryption.blockSize
        guard body.count >= minimum else { throw .protectedBodyTooShort(length: body.count, minimum: minimum) }
        let iv = Array(body[0..<encryption.ivLength])
        let padded: [UInt8]
        switch encryption {
        case .aesCBC:
            let ciphertext = Array(body[encryption.ivLength..<(body.count - icvLength)])
            let icv = Array(body[(body.count - icvLength)...])
            let expected = integrity!.checksum(key: integrityKey, data: prefix + iv + ciphertext)
            guard constantTimeEqual(icv, expected) else { throw .integrityCheckFailed }
            guard ciphertext.count % 16 == 0 else { throw .ciphertextNotBlockAligned(length: ciphertext.count) }
            padded = try AESCBC.crypt(encrypt: false, key: encryptionKey, iv: iv, input: ciphertext)
        case .aesGCM16, .chacha20Poly1305:
            padded = try AEAD.open(encryption, keyMaterial: encryptionKey, iv: iv,
                                   sealed: Array(body[encryption.ivLength...]), aad: prefix)
        }
        guard let padLength = padded.last, Int(padLength) + 1 <= padded.count else {
            throw .invalidPadding(length: Int(padded.last ?? 0))
        }
        return Array(padded.prefix(padded.count - Int(padLength) - 1))
    }
}

/// RFC 7383 §2.6: collects the decrypted fragments of one message until all have arrived.
public struct FragmentReassembler: Sendable {
    public private(set) var totalFragments: UInt16 = 0
    public private(set) var firstInnerPayload: PayloadType = .none
    private var pieces: [UInt16: [UInt8]] = [:]

    public init() {}

    /// Adds one opened fragment; returns the first inner payload type and the whole inner chain
    /// once every fragment is present. Duplicates are ignored; a changed total restarts collection
    /// only if it grows (RFC 7383 §2.6.1).
    public mutating func add(_ fragment: EncryptedFragmentPayload, plaintext: [UInt8]) -> (PayloadType, [UInt8])? {
        if fragment.totalFragments > totalFragments {
            totalFragments = fragment.totalFragments
            pieces = pieces.filter { $0.key <= fragment.totalFragments }
        } else if fragment.totalFragments < totalFragments {
            return nil
        }
        if pieces[fragment.fragmentNumber] == nil { pieces[fragment.fragmentNumber] = plaintext }
        if fragment.fragmentNumber == 1 { firstInnerPayload = fragment.firstInnerPayload }
        guard pieces.count == Int(totalFragments) else { return nil }
        var whole: [UInt8] = []
        for number in 1...totalFragments { whole.append(contentsOf: pieces[number] ?? []) }
        return (firstInnerPayload, whole)
    }

    /// Parses a reassembled chain and checks it against the validity table.
    public static func payloads(first: PayloadType, innerBytes: [UInt8], header: IKEHeader) throws(IKEMessageError) -> [Payload] {
        try SKProtection.parseInner(first: first, plaintext: innerBytes, header: header)
    }
}

/// AES-CBC without padding through OpenSSL EVP (RFC 3602; IKE pads itself).
enum AESCBC {
    static func crypt(encrypt: Bool, key: [UInt8], iv: [UInt8], input: [UInt8]) throws(IKECryptoError) -> [UInt8] {
        guard let context = EVP_CIPHER_CTX_new() else { throw .openSSLFailure("EVP_CIPHER_CTX_new") }
        defer { EVP_CIPHER_CTX_free(context) }
        let cipher: OpaquePointer?
        switch key.count {
        case 16: cipher = EVP_aes_128_cbc()
        case 32: cipher = EVP_aes_256_cbc()
        default: throw .invalidKeyLength(context: "AES-CBC", expected: 32, actual: key.count)
        }
        guard EVP_CipherInit_ex(context, cipher, nil, key, iv, encrypt ? 1 : 0) == 1 else {
            throw .openSSLFailure("EVP_CipherInit_ex")
        }
        EVP_CIPHER_CTX_set_padding(context, 0)
        var output = [UInt8](repeating: 0, count: input.count + 16)
        let produced: Int32? = output.withUnsafeMutableBufferPointer { buffer -> Int32? in
            var updateLength: Int32 = 0
            var finalLength: Int32 = 0
            guard EVP_CipherUpdate(context, buffer.baseAddress, &updateLength, input, Int32(input.count)) == 1,
                  EVP_CipherFinal_ex(context, buffer.baseAddress! + Int(updateLength), &finalLength) == 1 else {
                return nil
            }
            return updateLength + finalLength
        }
        guard let produced else { throw encrypt ? .openSSLFailure("EVP_CipherUpdate") : .decryptionFailed }
        return Array(output.prefix(Int(produced)))
    }
}

/// AES-GCM-16 and ChaCha20-Poly1305 with a salt ‖ 8-byte IV nonce (RFC 5282 §4, RFC 7634 §2).
enum AEAD {
    static func seal(_ algorithm: EncryptionAlgorithm, keyMaterial: [UInt8], iv: [UInt8], plaintext: [UInt8],
                     aad: [UInt8]) throws(IKECryptoError) -> [UInt8] {
        let key = SymmetricKey(data: keyMaterial.prefix(keyMaterial.count - 4))
        let nonceBytes = Array(keyMaterial.suffix(4)) + iv
        do {
            switch algorithm {
            case .aesGCM16:
                let box = try AES.GCM.seal(plaintext, using: key, nonce: AES.GCM.Nonce(data: nonceBytes), authenticating: aad)
                return Array(box.ciphertext) + Array(box.tag)
            case .chacha20Poly1305:
                let box = try ChaChaPoly.seal(plaintext, using: key, nonce: ChaChaPoly.Nonce(data: nonceBytes), authenticating: aad)
                return Array(box.ciphertext) + Array(box.tag)
            case .aesCBC:
                throw IKECryptoError.unsupportedTransform(algorithm.transform)
            }
        } catch let error as IKECryptoError {
            throw error
        } catch {
            throw .openSSLFailure("AEAD seal")
        }
    }

    static func open(_ algorithm: EncryptionAlgorithm, keyMaterial: [UInt8], iv: [UInt8], sealed: [UInt8],
                     aad: [UInt8]) throws(IKECryptoError) -> [UInt8] {
        guard sealed.count >= 16 else { throw .protectedBodyTooShort(length: sealed.count, minimum: 16) }
        let key = SymmetricKey(data: keyMaterial.prefix(keyMaterial.count - 4))
        let nonceBytes = Array(keyMaterial.suffix(4)) + iv
        let ciphertext = sealed.prefix(sealed.count - 16)
        let tag = sealed.suffix(16)
        do {
            switch algorithm {
            case .aesGCM16:
                let box = try AES.GCM.SealedBox(nonce: AES.GCM.Nonce(data: nonceBytes), ciphertext: ciphertext, tag: tag)
                return Array(try AES.GCM.open(box, using: key, authenticating: aad))
            case .chacha20Poly1305:
                let box = try ChaChaPoly.SealedBox(nonce: ChaChaPoly.Nonce(data: nonceBytes), ciphertext: ciphertext, tag: tag)
                return Array(try ChaChaPoly.open(box, using: key, authenticating: aad))
            case .aesCBC:
                throw IKECryptoError.unsupportedTransform(algorithm.transform)
            }
        } catch let error as IKECryptoError {
            throw error
        } catch {
            throw .decryptionFailed
        }
    }
}
