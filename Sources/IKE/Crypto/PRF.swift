// PRFs, prf+ (RFC 7296 §2.13) and integrity ICVs (RFC 2404, RFC 4868) over swift-crypto HMAC.
// Control-plane rate only; the ESP data plane has its own reused contexts.
import Crypto

func hmac<H: HashFunction>(_: H.Type, key: [UInt8], data: [UInt8]) -> [UInt8] {
    Array(HMAC<H>.authenticationCode(for: data, using: SymmetricKey(data: key)))
}

extension PRFAlgorithm {
    /// prf(K, S).
    public func compute(key: [UInt8], data: [UInt8]) -> [UInt8] {
        switch self {
        case .hmacSHA1: return hmac(Insecure.SHA1.self, key: key, data: data)
        case .hmacSHA2_256: return hmac(SHA256.self, key: key, data: data)
        case .hmacSHA2_384: return hmac(SHA384.self, key: key, data: data)
        case .hmacSHA2_512: return hmac(SHA512.self, key: key, data: data)
        }
    }

    /// prf+(K, S) = T1 | T2 | …, T1 = prf(K, S | 0x01), Tn = prf(K, Tn-1 | S | n); n is one octet,
    /// so at most 255 blocks (RFC 7296 §2.13).
    public func prfPlus(key: [UInt8], seed: [UInt8], length: Int) throws(IKECryptoError) -> [UInt8] {
        let maximum = 255 * outputLength
        guard length <= maximum else { throw .prfPlusOutputTooLong(requested: length, maximum: maximum) }
        var output: [UInt8] = []
        output.reserveCapacity(length + outputLength)
        var previous: [UInt8] = []
        var counter: UInt8 = 1
        while output.count < length {
            previous = compute(key: key, data: previous + seed + [counter])
            output.append(contentsOf: previous)
            counter &+= 1
        }
        return Array(output.prefix(length))
    }
}

extension IntegrityAlgorithm {
    /// The truncated ICV over `data`.
    public func checksum(key: [UInt8], data: [UInt8]) -> [UInt8] {
        let full: [UInt8]
        switch self {
        case .hmacSHA1_96: full = hmac(Insecure.SHA1.self, key: key, data: data)
        case .hmacSHA2_256_128: full = hmac(SHA256.self, key: key, data: data)
        case .hmacSHA2_384_192: full = hmac(SHA384.self, key: key, data: data)
        case .hmacSHA2_512_256: full = hmac(SHA512.self, key: key, data: data)
        }
        return Array(full.prefix(outputLength))
    }
}

/// Constant-time comparison for ICVs and AUTH values.
public func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    guard a.count == b.count else { return false }
    var difference: UInt8 = 0
    for i in 0..<a.count { difference |= a[i] ^ b[i] }
    return difference == 0
}
