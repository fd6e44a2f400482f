// RFC 7296 §3.2: the generic payload header and payload chains.
// Invariant: a chain parse consumes exactly the bytes given; each payload's length covers its header.

public enum Payload: Hashable, Sendable {
    case securityAssociation(SecurityAssociationPayload)
    case keyExchange(KeyExchangePayload)
    case identificationInitiator(IdentificationPayload)
    case identificationResponder(IdentificationPayload)
    case certificate(CertificatePayload)
    case certificateRequest(CertificatePayload)
    case authentication(AuthenticationPayload)
    case nonce(NoncePayload)
    case notify(NotifyPayload)
    case delete(DeletePayload)
    case vendorID([UInt8])
    case trafficSelectorInitiator(TrafficSelectorPayload)
    case trafficSelectorResponder(TrafficSelectorPayload)
    case encrypted(EncryptedPayload)
    case configuration(ConfigurationPayload)
    case eap([UInt8])
    case encryptedFragment(EncryptedFragmentPayload)
    /// RFC 7296 §2.5: an unknown payload without the critical bit; kept so it can be skipped.
    case unrecognized(type: PayloadType, body: [UInt8])

    public var type: PayloadType {
        switch self {
        case .securityAssociation: return .securityAssociation
        case .keyExchange: return .keyExchange
        case .identificationInitiator: return .identificationInitiator
        case .identificationResponder: return .identificationResponder
        case .certificate: return .certificate
        case .certificateRequest: return .certificateRequest
        case .authentication: return .authentication
        case .nonce: return .nonce
        case .notify: return .notify
        case .delete: return .delete
        case .vendorID: return .vendorID
        case .trafficSelectorInitiator: return .trafficSelectorInitiator
        case .trafficSelectorResponder: return .trafficSelectorResponder
        case .encrypted: return .encrypted
        case .configuration: return .configuration
        case .eap: return .eap
        case .encryptedFragment: return .encryptedFragment
        case let .unrecognized(type, _): return type
        }
    }

    /// Payload body (after the generic header) as sent on the wire.
    public var bodyBytes: [UInt8] {
        var out: [UInt8] = []
        emitBody(into: &out)
        return out
    }

    func emitBody(into out: inout [UInt8]) {
        switch self {
        case let .securityAssociation(p): p.emitBody(into: &out)
        case let .keyExchange(p): p.emitBody(into: &out)
        case let .identificationInitiator(p), let .identificationResponder(p): p.emitBody(into: &out)
        case let .certificate(p), let .certificateRequest(p): p.emitBody(into: &out)
        case let .authentication(p): p.emitBody(into: &out)
        case let .nonce(p): p.emitBody(into: &out)
        case let .notify(p): p.emitBody(into: &out)
        case let .delete(p): p.emitBody(into: &out)
        case let .vendorID(data), let .eap(data): out.append(contentsOf: data)
        case let .trafficSelectorInitiator(p), let .trafficSelectorResponder(p): p.emitBody(into: &out)
        case let .encrypted(p): out.append(contentsOf: p.protectedBody)
        case let .configuration(p): p.emitBody(into: &out)
        case let .encryptedFragment(p):
            out.appendU16(p.fragmentNumber)
            out.appendU16(p.totalFragments)
            out.append(contentsOf: p.protectedBody)
        case let .unrecognized(_, body): out.append(contentsOf: body)
        }
    }

    /// Next Payload value this payload's own header carries when it is last in a chain: SK/SKF
    /// point at their first inner payload (RFC 7296 §3.14), everything else at NONE.
    var nextPayloadWhenLast: PayloadType {
        switch self {
        case let .encrypted(p): return p.firstInnerPayload
        case let .encryptedFragment(p): return p.firstInnerPayload
        default: return .none
        }
    }

    static func parseBody(type: PayloadType, body: ByteReader, nextPayload: PayloadType) throws(IKEParseError) -> Payload {
        var copy = body
        switch type {
        case .securityAssociation: return .securityAssociation(try .parse(body: body))
        case .keyExchange: return .keyExchange(try .parse(body: body))
        case .identificationInitiator: return .identificationInitiator(try .parse(body: body))
        case .identificationResponder: return .identificationResponder(try .parse(body: body))
        case .certificate: return .certificate(try .parse(body: body))
        case .certificateRequest: return .certificateRequest(try .parse(body: body))
        case .authentication: return .authentication(try .parse(body: body))
        case .nonce: return .nonce(try .parse(body: body))
        case .notify: return .notify(try .parse(body: body))
        case .delete: return .delete(try .parse(body: body))
        case .vendorID: return .vendorID(copy.readRest())
        case .trafficSelectorInitiator: return .trafficSelectorInitiator(try .parse(body: body))
        case .trafficSelectorResponder: return .trafficSelectorResponder(try .parse(body: body))
        case .encrypted: return .encrypted(EncryptedPayload(firstInnerPayload: nextPayload, protectedBody: copy.readRest()))
        case .configuration: return .configuration(try .parse(body: body))
        case .eap: return .eap(copy.readRest())
        case .encryptedFragment: return .encryptedFragment(try .parse(body: body, nextPayload: nextPayload))
        default: return .unrecognized(type: type, body: copy.readRest())
        }
    }
}

public enum PayloadChain {
    /// Parses a chain that starts with `first` and must fill `reader` exactly. SK and SKF end the
    /// chain: their Next Payload names the first payload inside the encryption (RFC 7296 §3.14).
    public static func parse(first: PayloadType, _ reader: inout ByteReader) throws(IKEParseError) -> [Payload] {
        var payloads: [Payload] = []
        var next = first
        while next != .none {
            let current = next
            guard !reader.isAtEnd else {
                throw .truncated(context: "payload \(current) announced by previous Next Payload", needed: 4, available: 0)
            }
            next = PayloadType(rawValue: try reader.readU8("\(current) next payload"))
            let flags = try reader.readU8("\(current) flags")
            let length = Int(try reader.readU16("\(current) payload length"))
            guard length >= 4 else { throw .invalidLength(context: "\(current) payload", value: length) }
            guard reader.remaining >= length - 4 else {
                throw .lengthMismatch(context: "\(current) payload", declared: length, actual: reader.remaining + 4)
            }
            let body = try reader.subReader(length - 4, "\(current) payload body")
            let isCritical = flags & 0x80 != 0
            if !current.isKnown && isCritical {
                throw .unsupportedCriticalPayload(type: current.rawValue)
            }
            payloads.append(try Payload.parseBody(type: current, body: body, nextPayload: next))
            if current == .encrypted || current == .encryptedFragment {
                guard reader.isAtEnd else { throw .encryptedPayloadNotLast }
                return payloads
            }
        }
        guard reader.isAtEnd else {
            throw .lengthMismatch(context: "payload chain", declared: reader.end - reader.remaining, actual: reader.end)
        }
        return payloads
    }

    /// Emits payloads with their generic headers; returns the chain's first payload type.
    @discardableResult
    public static func emit(_ payloads: [Payload], into out: inout [UInt8]) -> PayloadType {
        for (index, payload) in payloads.enumerated() {
            let next = index + 1 < payloads.count ? payloads[index + 1].type : payload.nextPayloadWhenLast
            let start = out.count
            out.append(next.rawValue)
            out.append(0)  // critical bit clear: RFC 7296 §3.2 for payload types defined there
            out.appendU16(0)
            payload.emitBody(into: &out)
            out.setU16(UInt16(truncatingIfNeeded: out.count - start), at: start + 2)
        }
        return payloads.first?.type ?? .none
    }

    public static func emit(_ payloads: [Payload]) -> [UInt8] {
        var out: [UInt8] = []
        emit(payloads, into: &out)
        return out
    }
}
