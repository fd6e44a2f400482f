// RFC 7296 §3.1: the IKE header and whole messages.

public struct IKEHeaderFlags: OptionSet, Hashable, Sendable {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let initiator = IKEHeaderFlags(rawValue: 0x08)
    public static let version = IKEHeaderFlags(rawValue: 0x10)
    public static let response = IKEHeaderFlags(rawValue: 0x20)
}

public struct IKEHeader: Hashable, Sendable {
    public static let length = 28

    public var initiatorSPI: UInt64
    public var responderSPI: UInt64
    public var nextPayload: PayloadType
    public var majorVersion: UInt8
    public var minorVersion: UInt8
    public var exchangeType: ExchangeType
    public var flags: IKEHeaderFlags
    public var messageID: UInt32
    public var length: UInt32

    public init(initiatorSPI: UInt64, responderSPI: UInt64, nextPayload: PayloadType = .none,
                majorVersion: UInt8 = 2, minorVersion: UInt8 = 0, exchangeType: ExchangeType,
                flags: IKEHeaderFlags, messageID: UInt32, length: UInt32 = 0) {
        self.initiatorSPI = initiatorSPI
        self.responderSPI = responderSPI
        self.nextPayload = nextPayload
        self.majorVersion = majorVersion
        self.minorVersion = minorVersion
        self.exchangeType = exchangeType
        self.flags = flags
        self.messageID = messageID
        self.length = length
    }

    public var isResponse: Bool { flags.contains(.response) }
    public var isFromInitiator: Bool { flags.contains(.initiator) }

    public static func parse(_ reader: inout ByteReader) throws(IKEParseError) -> IKEHeader {
        let spiI = try reader.readU64("IKE header initiator SPI")
        let spiR = try reader.readU64("IKE header responder SPI")
        let next = PayloadType(rawValue: try reader.readU8("IKE header next payload"))
        let version = try reader.readU8("IKE header version")
        let exchange = ExchangeType(rawValue: try reader.readU8("IKE header exchange type"))
        let flags = IKEHeaderFlags(rawValue: try reader.readU8("IKE header flags"))
        let messageID = try reader.readU32("IKE header message ID")
        let length = try reader.readU32("IKE header length")
        return IKEHeader(initiatorSPI: spiI, responderSPI: spiR, nextPayload: next, majorVersion: version >> 4,
                         minorVersion: version & 0x0f, exchangeType: exchange, flags: flags,
                         messageID: messageID, length: length)
    }

    public func emit(into out: inout [UInt8]) {
        out.appendU64(initiatorSPI)
        out.appendU64(responderSPI)
        out.append(nextPayload.rawValue)
        out.append(majorVersion << 4 | (minorVersion & 0x0f))
        out.append(exchangeType.rawValue)
        out.append(flags.rawValue)
        out.appendU32(messageID)
        out.appendU32(length)
    }

    public var bytes: [UInt8] {
        var out: [UInt8] = []
        emit(into: &out)
        return out
    }
}

public struct IKEMessage: Hashable, Sendable {
    /// Largest datagram we accept: an IPv4 UDP payload cannot exceed this.
    public static let defaultMaximumLength = 65_507

    public var header: IKEHeader
    public var payloads: [Payload]

    public init(header: IKEHeader, payloads: [Payload]) {
        self.header = header
        self.payloads = payloads
    }

    /// Parses and validates a whole datagram (after any non-ESP marker). The outer payloads are
    /// checked against `MessageRules`; payloads inside SK are checked when they are opened.
    public static func parse(_ bytes: [UInt8], maximumLength: Int = defaultMaximumLength) throws(IKEParseError) -> IKEMessage {
        guard bytes.count <= maximumLength else { throw .oversized(length: bytes.count, limit: maximumLength) }
        var reader = ByteReader(bytes)
        let header = try IKEHeader.parse(&reader)
        guard header.majorVersion == 2 else { throw .unsupportedMajorVersion(header.majorVersion) }
        guard Int(header.length) == bytes.count else {
            throw .lengthMismatch(context: "IKE header", declared: Int(header.length), actual: bytes.count)
        }
        guard MessageRules.knownExchanges.contains(header.exchangeType) else {
            throw .unknownExchangeType(header.exchangeType.rawValue)
        }
        let payloads = try PayloadChain.parse(first: header.nextPayload, &reader)
        try MessageRules.validateOuter(exchange: header.exchangeType, isResponse: header.isResponse, payloads: payloads)
        return IKEMessage(header: header, payloads: payloads)
    }

    /// Emits header and payloads, filling in Next Payload and Length.
    public func emit() -> [UInt8] {
        var out: [UInt8] = []
        var header = self.header
        header.nextPayload = payloads.first?.type ?? .none
        header.emit(into: &out)
        PayloadChain.emit(payloads, into: &out)
        out.setU32(UInt32(truncatingIfNeeded: out.count), at: 24)
        return out
    }

    public var notifies: [NotifyPayload] {
        payloads.compactMap { if case let .notify(n) = $0 { return n } else { return nil } }
    }
}

extension Array where Element == Payload {
    public var notifies: [NotifyPayload] {
        compactMap { if case let .notify(n) = $0 { return n } else { return nil } }
    }

    public func notify(_ type: NotifyType) -> NotifyPayload? {
        notifies.first { $0.type == type }
    }

    public var securityAssociation: SecurityAssociationPayload? {
        for case let .securityAssociation(p) in self { return p }
        return nil
    }

    public var keyExchange: KeyExchangePayload? {
        for case let .keyExchange(p) in self { return p }
        return nil
    }

    public var nonce: NoncePayload? {
        for case let .nonce(p) in self { return p }
        return nil
    }

    public var identificationInitiator: IdentificationPayload? {
        for case let .identificationInitiator(p) in self { return p }
        return nil
    }

    public var identificationResponder: IdentificationPayload? {
        for case let .identificationResponder(p) in self { return p }
        return nil
    }

    public var authentication: AuthenticationPayload? {
        for case let .authentication(p) in self { return p }
        return nil
    }

    public var trafficSelectorsInitiator: TrafficSelectorPayload? {
        for case let .trafficSelectorInitiator(p) in self { return p }
        return nil
    }

    public var trafficSelectorsResponder: TrafficSelectorPayload? {
        for case let .trafficSelectorResponder(p) in self { return p }
        return nil
    }
}
