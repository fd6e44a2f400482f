// Message validity as a table (RFC 7296 §1.2–§1.5, §3; RFC 7383 for SKF): which payloads each
// exchange and direction may carry, how many, and whether they travel inside SK. Checked once:
// the outer chain in `IKEMessage.parse`, the inner chain when SK is opened.

public enum PayloadPlacement: Hashable, Sendable {
    /// Payloads travel in the clear (IKE_SA_INIT).
    case plain
    /// All payloads travel inside one SK (or a set of SKF fragments).
    case encrypted
}

public struct PayloadCount: Hashable, Sendable {
    public var minimum: Int
    public var maximum: Int

    public static let exactlyOne = PayloadCount(minimum: 1, maximum: 1)
    public static let optional = PayloadCount(minimum: 0, maximum: 1)
    public static let any = PayloadCount(minimum: 0, maximum: Int.max)
}

public struct MessageShape: Sendable {
    public var placement: PayloadPlacement
    public var counts: [PayloadType: PayloadCount]
}

public enum MessageRules {
    public struct Key: Hashable, Sendable {
        public var exchange: ExchangeType
        public var isResponse: Bool
    }

    public static let knownExchanges: Set<ExchangeType> = [.ikeSAInit, .ikeAuth, .createChildSA, .informational]

    public static let table: [Key: MessageShape] = [
        // HDR, SAi1, KEi, Ni, [N+], [V+]  (a COOKIE retry puts N(COOKIE) first)
        Key(exchange: .ikeSAInit, isResponse: false): MessageShape(placement: .plain, counts: [
            .securityAssociation: .exactlyOne, .keyExchange: .exactlyOne, .nonce: .exactlyOne,
            .notify: .any, .vendorID: .any,
        ]),
        // HDR, SAr1, KEr, Nr, [CERTREQ], [N+], [V+]  — or N(error/COOKIE) alone
        Key(exchange: .ikeSAInit, isResponse: true): MessageShape(placement: .plain, counts: [
            .securityAssociation: .exactlyOne, .keyExchange: .exactlyOne, .nonce: .exactlyOne,
            .certificateRequest: .any, .notify: .any, .vendorID: .any,
        ]),
        // SK {IDi, [CERT+], [N(INITIAL_CONTACT)], [CERTREQ+], [IDr], AUTH, [CP], SAi2, TSi, TSr, [N+], [V+]}
        // AUTH, SA and TS are optional at the table level: EAP omits AUTH in the first request and
        // "childless" IKE_AUTH (RFC 6023) omits SA/TS. The state machine requires what it needs.
        Key(exchange: .ikeAuth, isResponse: false): MessageShape(placement: .encrypted, counts: [
            .identificationInitiator: .exactlyOne, .certificate: .any, .certificateRequest: .any,
            .identificationResponder: .optional, .authentication: .optional, .configuration: .optional,
            .securityAssociation: .optional, .trafficSelectorInitiator: .optional,
            .trafficSelectorResponder: .optional, .notify: .any, .vendorID: .any, .eap: .optional,
        ]),
        // SK {IDr, [CERT+], AUTH, [CP], SAr2, TSi, TSr, [N+], [V+]} — or N(error) alone
        Key(exchange: .ikeAuth, isResponse: true): MessageShape(placement: .encrypted, counts: [
            .identificationResponder: .optional, .certificate: .any, .authentication: .optional,
            .configuration: .optional, .securityAssociation: .optional, .trafficSelectorInitiator: .optional,
            .trafficSelectorResponder: .optional, .notify: .any, .vendorID: .any, .eap: .optional,
        ]),
        // SK {[N(REKEY_SA)], SA, Ni, [KEi], [TSi, TSr]}
        Key(exchange: .createChildSA, isResponse: false): MessageShape(placement: .encrypted, counts: [
            .securityAssociation: .exactlyOne, .nonce: .exactlyOne, .keyExchange: .optional,
            .trafficSelectorInitiator: .optional, .trafficSelectorResponder: .optional,
            .notify: .any, .vendorID: .any,
        ]),
        // SK {SA, Nr, [KEr], [TSi, TSr]} — or N(error) alone
        Key(exchange: .createChildSA, isResponse: true): MessageShape(placement: .encrypted, counts: [
            .securityAssociation: .exactlyOne, .nonce: .exactlyOne, .keyExchange: .optional,
            .trafficSelectorInitiator: .optional, .trafficSelectorResponder: .optional,
            .notify: .any, .vendorID: .any,
        ]),
        // SK {[N], [D], [CP]} in both directions; an empty SK is a liveness check.
        Key(exchange: .informational, isResponse: false): MessageShape(placement: .encrypted, counts: [
            .notify: .any, .delete: .any, .configuration: .optional, .vendorID: .any,
        ]),
        Key(exchange: .informational, isResponse: true): MessageShape(placement: .encrypted, counts: [
            .notify: .any, .delete: .any, .configuration: .optional, .vendorID: .any,
        ]),
    ]

    public static func shape(exchange: ExchangeType, isResponse: Bool) -> MessageShape? {
        table[Key(exchange: exchange, isResponse: isResponse)]
    }

    /// Checks the payloads outside any encryption.
    public static func validateOuter(exchange: ExchangeType, isResponse: Bool, payloads: [Payload]) throws(IKEParseError) {
        guard let shape = shape(exchange: exchange, isResponse: isResponse) else {
            throw .unknownExchangeType(exchange.rawValue)
        }
        switch shape.placement {
        case .plain:
            try validateCounts(shape: shape, exchange: exchange, isResponse: isResponse, payloads: payloads)
        case .encrypted:
            var sawEncrypted = false
            for payload in payloads {
                switch payload.type {
                case .encrypted, .encryptedFragment:
                    sawEncrypted = true
                case let type where !type.isKnown:
                    continue  // RFC 7296 §2.5: skip unrecognized non-critical payloads
                case let type:
                    throw .payloadMustBeEncrypted(payload: type, exchange: exchange)
                }
            }
            guard sawEncrypted else { throw .missingEncryptedPayload(exchange: exchange) }
        }
    }

    /// Checks the payloads found inside SK (or a reassembled SKF set).
    public static func validateInner(exchange: ExchangeType, isResponse: Bool, payloads: [Payload]) throws(IKEParseError) {
        guard let shape = shape(exchange: exchange, isResponse: isResponse) else {
            throw .unknownExchangeType(exchange.rawValue)
        }
        guard shape.placement == .encrypted else {
            throw .payloadNotAllowed(payload: .encrypted, exchange: exchange, isResponse: isResponse)
        }
        try validateCounts(shape: shape, exchange: exchange, isResponse: isResponse, payloads: payloads)
    }

    static func validateCounts(shape: MessageShape, exchange: ExchangeType, isResponse: Bool,
                               payloads: [Payload]) throws(IKEParseError) {
        var seen: [PayloadType: Int] = [:]
        for payload in payloads where payload.type.isKnown {
            guard let limit = shape.counts[payload.type] else {
                throw .payloadNotAllowed(payload: payload.type, exchange: exchange, isResponse: isResponse)
            }
            let count = seen[payload.type, default: 0] + 1
            guard count <= limit.maximum else {
                throw .tooManyPayloads(payload: payload.type, count: count, limit: limit.maximum, exchange: exchange)
            }
            seen[payload.type] = count
        }
        // A response made of notifies only, one of them an error or COOKIE, is a refusal
        // (RFC 7296 §1.2, §2.6, §2.21) and need not carry the mandatory payloads.
        let isRefusal = payloads.notifies.contains { $0.type.isError || $0.type == .cookie }
        if isRefusal && payloads.allSatisfy({ $0.type == .notify || $0.type == .vendorID || !$0.type.isKnown }) {
            return
        }
        for (type, limit) in shape.counts.sorted(by: { $0.key.rawValue < $1.key.rawValue }) where limit.minimum > 0 {
            if seen[type, default: 0] < limit.minimum {
                throw .missingPayload(payload: type, exchange: exchange, isResponse: isResponse)
            }
        }
    }
}
