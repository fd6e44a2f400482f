// Failures of the IKE crypto suite: structured, so diagnostics can say which step failed.

public enum IKECryptoError: Error, Equatable, Hashable, Sendable, CustomStringConvertible {
    /// RFC 7296 §2.13: prf+ may produce at most 255 blocks.
    case prfPlusOutputTooLong(requested: Int, maximum: Int)
    case unsupportedTransform(Transform)
    case missingTransform(TransformType)
    case invalidKeyLength(context: String, expected: Int, actual: Int)
    /// RFC 6989 / RFC 5903 / RFC 8031: the peer's public value failed validation.
    case invalidPeerPublicValue(group: UInt16, reason: String)
    case keyExchangeGroupMismatch(expected: UInt16, received: UInt16)
    case integrityCheckFailed
    case decryptionFailed
    case invalidPadding(length: Int)
    case protectedBodyTooShort(length: Int, minimum: Int)
    case ciphertextNotBlockAligned(length: Int)
    case openSSLFailure(String)

    public var description: String {
        switch self {
        case let .prfPlusOutputTooLong(requested, maximum): return "prf+ asked for \(requested) bytes, at most \(maximum)"
        case let .unsupportedTransform(t): return "unsupported transform \(t)"
        case let .missingTransform(type): return "proposal lacks a \(type) transform"
        case let .invalidKeyLength(context, expected, actual): return "\(context) key is \(actual) bytes, expected \(expected)"
        case let .invalidPeerPublicValue(group, reason): return "peer public value for DH group \(group) rejected: \(reason)"
        case let .keyExchangeGroupMismatch(expected, received): return "KE payload for group \(received), negotiated \(expected)"
        case .integrityCheckFailed: return "integrity check of SK payload failed"
        case .decryptionFailed: return "SK payload failed to decrypt or authenticate"
        case let .invalidPadding(length): return "SK padding length \(length) exceeds the plaintext"
        case let .protectedBodyTooShort(length, minimum): return "SK payload body of \(length) bytes, at least \(minimum) needed"
        case let .ciphertextNotBlockAligned(length): return "CBC ciphertext of \(length) bytes is not block aligned"
        case let .openSSLFailure(call): return "OpenSSL call \(call) failed"
        }
    }
}
