import COpenSSL

/// A hash usable by `PrecomputedHMAC`: a plain C state struct that copies by value.
protocol HMACHash {
    associatedtype State
    static var blockLength: Int { get }
    static var digestLength: Int { get }
    static func makeState() -> State
    static func update(_ state: inout State, _ bytes: UnsafeRawPointer, _ count: Int)
    static func finish(_ state: inout State, into digest: UnsafeMutablePointer<UInt8>)
}

enum SHA1Hash: HMACHash {
    static var blockLength: Int { 64 }
    static var digestLength: Int { 20 }
    static func makeState() -> SHA_CTX {
        var state = SHA_CTX()
        SHA1_Init(&state)
        return state
    }
    static func update(_ state: inout SHA_CTX, _ bytes: UnsafeRawPointer, _ count: Int) {
        SHA1_Update(&state, bytes, count)
    }
    static func finish(_ state: inout SHA_CTX, into digest: UnsafeMutablePointer<UInt8>) {
        SHA1_Final(digest, &state)
    }
}

enum SHA256Hash: HMACHash {
    static var blockLength: Int { 64 }
    static var digestLength: Int { 32 }
    static func makeState() -> SHA256_CTX {
        var state = SHA256_CTX()
        SHA256_Init(&state)
        return state
    }
    static func update(_ state: inout SHA256_CTX, _ bytes: UnsafeRawPointer, _ count: Int) {
        SHA256_Update(&state, bytes, count)
    }
    static func finish(_ state: inout SHA256_CTX, into digest: UnsafeMutablePointer<UInt8>) {
        SHA256_Final(digest, &state)
    }
}

enum SHA384Hash: HMACHash {
    static var blockLength: Int { 128 }
    static var digestLength: Int { 48 }
    static func makeState() -> SHA512_CTX {
        var state = SHA512_CTX()
        SHA384_Init(&state)
        return state
    }
    static func update(_ state: inout SHA512_CTX, _ bytes: UnsafeRawPointer, _ count: Int) {
        SHA384_Update(&state, bytes, count)
    }
    static func finish(_ state: inout SHA512_CTX, into digest: UnsafeMutablePointer<UInt8>) {
        SHA384_Final(digest, &state)
    }
}

enum SHA512Hash: HMACHash {
    static var blockLength: Int { 128 }
    static var digestLength: Int { 64 }
    static func makeState() -> SHA512_CTX {
        var state = SHA512_CTX()
        SHA512_Init(&state)
        return state
    }
    static func update(_ state: inout SHA512_CTX, _ bytes: UnsafeRawPointer, _ count: Int) {
        SHA512_Update(&state, bytes, count)
    }
    static func finish(_ state: inout SHA512_CTX, into digest: UnsafeMutablePointer<UInt8>) {
        SHA512_Final(digest, &state)
    }
}

/// HMAC over one message plus an optional 4-byte big-endian suffix (the ESN high half).
protocol MessageAuthenticator: AnyObject {
    var digestLength: Int { get }
    /// Writes the full, untruncated MAC (`digestLength` bytes) to `digest`.
    func authenticate(_ message: UnsafeRawBufferPointer, suffix: UInt32?, into digest: UnsafeMutablePointer<UInt8>)
}

/// RFC 2104 HMAC with the keyed inner and outer states computed once: a packet costs two state
/// copies and no allocation (OpenSSL 3.0's EVP_MAC re-init allocates twice per call).
final class PrecomputedHMAC<Hash: HMACHash>: MessageAuthenticator {
    private var innerPrefix: Hash.State
    private var outerPrefix: Hash.State

    var digestLength: Int { Hash.digestLength }

    init(key: [UInt8]) {
        var block = [UInt8](repeating: 0, count: Hash.blockLength)
        if key.count > Hash.blockLength {
            var state = Hash.makeState()
            key.withUnsafeBytes { Hash.update(&state, $0.baseAddress!, $0.count) }
            block.withUnsafeMutableBufferPointer { Hash.finish(&state, into: $0.baseAddress!) }
        } else {
            block.replaceSubrange(0..<key.count, with: key)
        }
        var innerPad = block.map { $0 ^ 0x36 }
        var outerPad = block.map { $0 ^ 0x5c }
        innerPrefix = Hash.makeState()
        outerPrefix = Hash.makeState()
        innerPad.withUnsafeBytes { Hash.update(&innerPrefix, $0.baseAddress!, $0.count) }
        outerPad.withUnsafeBytes { Hash.update(&outerPrefix, $0.baseAddress!, $0.count) }
        for index in block.indices {
            block[index] = 0
            innerPad[index] = 0
            outerPad[index] = 0
        }
    }

    deinit {
        withUnsafeMutableBytes(of: &innerPrefix) { OPENSSL_cleanse($0.baseAddress, $0.count) }
        withUnsafeMutableBytes(of: &outerPrefix) { OPENSSL_cleanse($0.baseAddress, $0.count) }
    }

    func authenticate(_ message: UnsafeRawBufferPointer, suffix: UInt32?, into digest: UnsafeMutablePointer<UInt8>) {
        var inner = innerPrefix
        if let base = message.baseAddress, message.count > 0 {
            Hash.update(&inner, base, message.count)
        }
        if let suffix {
            var suffixBytes = suffix.bigEndian
            withUnsafeBytes(of: &suffixBytes) { Hash.update(&inner, $0.baseAddress!, 4) }
        }
        Hash.finish(&inner, into: digest)
        var outer = outerPrefix
        Hash.update(&outer, digest, Hash.digestLength)
        Hash.finish(&outer, into: digest)
    }
}

func makeAuthenticator(_ integrity: ESPIntegrityAlgorithm, key: [UInt8]) -> any MessageAuthenticator {
    switch integrity {
    case .hmacSHA1_96: PrecomputedHMAC<SHA1Hash>(key: key)
    case .hmacSHA256_128: PrecomputedHMAC<SHA256Hash>(key: key)
    case .hmacSHA384_192: PrecomputedHMAC<SHA384Hash>(key: key)
    case .hmacSHA512_256: PrecomputedHMAC<SHA512Hash>(key: key)
    }
}
