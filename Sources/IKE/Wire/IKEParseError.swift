// Every way a received IKE message can be refused by the parser. Each case names what was wrong
// so the NIO layer can answer per RFC 7296 §2.21 (INVALID_SYNTAX, UNSUPPORTED_CRITICAL_PAYLOAD,
// INVALID_MAJOR_VERSION) or drop and count.

public enum IKEParseError: Error, Equatable, Hashable, Sendable, CustomStringConvertible {
    /// Fewer bytes than a field or a declared length needs.
    case truncated(context: String, needed: Int, available: Int)
    /// A length field disagrees with the bytes actually present.
    case lengthMismatch(context: String, declared: Int, actual: Int)
    /// A length field is impossible on its own (e.g. a payload shorter than its own header).
    case invalidLength(context: String, value: Int)
    /// Larger than the configured maximum message size.
    case oversized(length: Int, limit: Int)
    /// RFC 7296 §3.1: a major version other than 2 → INVALID_MAJOR_VERSION.
    case unsupportedMajorVersion(UInt8)
    /// RFC 7296 §2.5: an unknown payload with the critical bit set → UNSUPPORTED_CRITICAL_PAYLOAD.
    case unsupportedCriticalPayload(type: UInt8)
    /// An exchange type this implementation does not know.
    case unknownExchangeType(UInt8)
    /// A field holds a value the RFC forbids.
    case invalidValue(context: String, value: Int)
    /// The SK/SKF payload must be the last payload of the outer chain (RFC 7296 §3.14).
    case encryptedPayloadNotLast
    /// Message-validity table violations (see `MessageRules`).
    case payloadNotAllowed(payload: PayloadType, exchange: ExchangeType, isResponse: Bool)
    case payloadMustBeEncrypted(payload: PayloadType, exchange: ExchangeType)
    case missingPayload(payload: PayloadType, exchange: ExchangeType, isResponse: Bool)
    case tooManyPayloads(payload: PayloadType, count: Int, limit: Int, exchange: ExchangeType)
    case missingEncryptedPayload(exchange: ExchangeType)

    /// The notify type an RFC 7296 responder answers with, when one applies.
    public var notifyResponse: NotifyType? {
        switch self {
        case .unsupportedCriticalPayload: return .unsupportedCriticalPayload
        case .unsupportedMajorVersion: return .invalidMajorVersion
        case .oversized, .unknownExchangeType: return nil
        case .truncated, .lengthMismatch, .invalidLength, .invalidValue, .encryptedPayloadNotLast,
             .payloadNotAllowed, .payloadMustBeEncrypted, .missingPayload, .tooManyPayloads,
             .missingEncryptedPayload:
            return .invalidSyntax
        }
    }

    public var description: String {
        switch self {
        case let .truncated(context, needed, available):
            return "truncated \(context): needs \(needed) bytes, \(available) present"
        case let .lengthMismatch(context, declared, actual):
            return "\(context) length says \(declared) bytes but \(actual) are present"
        case let .invalidLength(context, value):
            return "\(context) has impossible length \(value)"
        case let .oversized(length, limit):
            return "message of \(length) bytes exceeds the limit of \(limit)"
        case let .unsupportedMajorVersion(major):
            return "IKE major version \(major) is not 2"
        case let .unsupportedCriticalPayload(type):
            return "unknown payload type \(type) marked critical"
        case let .unknownExchangeType(type):
            return "unknown exchange type \(type)"
        case let .invalidValue(context, value):
            return "\(context) has invalid value \(value)"
        case .encryptedPayloadNotLast:
            return "SK/SKF payload is not the last payload"
        case let .payloadNotAllowed(payload, exchange, isResponse):
            return "\(payload) is not allowed in \(exchange) \(isResponse ? "response" : "request")"
        case let .payloadMustBeEncrypted(payload, exchange):
            return "\(payload) must be inside SK in \(exchange)"
        case let .missingPayload(payload, exchange, isResponse):
            return "\(exchange) \(isResponse ? "response" : "request") lacks required \(payload)"
        case let .tooManyPayloads(payload, count, limit, exchange):
            return "\(count) \(payload) payloads in \(exchange), at most \(limit) allowed"
        case let .missingEncryptedPayload(exchange):
            return "\(exchange) carries no SK payload"
        }
    }
}
