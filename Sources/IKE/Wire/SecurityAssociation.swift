// RFC 7296 §3.3: Security Association payload = proposals, each a list of transforms.

/// RFC 7296 §3.3.5 transform attribute; only Key Length (14, TV format) is defined for IKEv2.
public struct TransformAttribute: Hashable, Sendable {
    public enum Value: Hashable, Sendable {
        case short(UInt16)      // AF = 1 (TV)
        case variable([UInt8])  // AF = 0 (TLV)
    }

    public static let keyLengthType: UInt16 = 14

    public var type: UInt16
    public var value: Value

    public init(type: UInt16, value: Value) {
        self.type = type
        self.value = value
    }

    static func parse(_ reader: inout ByteReader) throws(IKEParseError) -> TransformAttribute {
        let typeField = try reader.readU16("transform attribute type")
        let type = typeField & 0x7fff
        if typeField & 0x8000 != 0 {
            return TransformAttribute(type: type, value: .short(try reader.readU16("transform attribute value")))
        }
        let length = Int(try reader.readU16("transform attribute length"))
        return TransformAttribute(type: type, value: .variable(try reader.readBytes(length, "transform attribute value")))
    }

    func emit(into out: inout [UInt8]) {
        switch value {
        case let .short(v):
            out.appendU16(type | 0x8000)
            out.appendU16(v)
        case let .variable(bytes):
            out.appendU16(type & 0x7fff)
            out.appendU16(UInt16(truncatingIfNeeded: bytes.count))
            out.append(contentsOf: bytes)
        }
    }
}

/// RFC 7296 §3.3.2. Identity for negotiation is (type, id, key length); other attributes ride along.
public struct Transform: Hashable, Sendable, CustomStringConvertible {
    public var type: TransformType
    public var id: UInt16
    public var attributes: [TransformAttribute]

    public init(type: TransformType, id: UInt16, keyLength: UInt16? = nil) {
        self.type = type
        self.id = id
        self.attributes = keyLength.map { [TransformAttribute(type: TransformAttribute.keyLengthType, value: .short($0))] } ?? []
    }

    public init(type: TransformType, id: UInt16, attributes: [TransformAttribute]) {
        self.type = type
        self.id = id
        self.attributes = attributes
    }

    /// Key Length attribute in bits (RFC 7296 §3.3.5), if present.
    public var keyLength: UInt16? {
        for attribute in attributes where attribute.type == TransformAttribute.keyLengthType {
            if case let .short(bits) = attribute.value { return bits }
        }
        return nil
    }

    /// RFC 7296 §3.3.6: a transform with an attribute we do not understand must not be chosen.
    public var hasUnknownAttributes: Bool {
        attributes.contains { $0.type != TransformAttribute.keyLengthType }
    }

    /// Two transforms are the same choice when type, ID and key length agree.
    public func matches(_ other: Transform) -> Bool {
        type == other.type && id == other.id && keyLength == other.keyLength
    }

    /// IANA name plus key length, e.g. "ENCR_AES_GCM_16-256".
    public var description: String {
        let name = TransformID.name(type: type, id: id)
        if let keyLength { return "\(name)-\(keyLength)" }
        return name
    }

    // RFC 7296 §3.3.2: Last Substruc (0 or 3), RESERVED, Transform Length, Type, RESERVED, ID, attributes.
    static func parse(_ reader: inout ByteReader) throws(IKEParseError) -> (Transform, isLast: Bool) {
        let lastSubstructure = try reader.readU8("transform last-substructure")
        guard lastSubstructure == 0 || lastSubstructure == 3 else {
            throw .invalidValue(context: "transform last-substructure", value: Int(lastSubstructure))
        }
        _ = try reader.readU8("transform reserved")
        let length = Int(try reader.readU16("transform length"))
        guard length >= 8 else { throw .invalidLength(context: "transform", value: length) }
        var body = try reader.subReader(length - 4, "transform")
        let type = TransformType(rawValue: try body.readU8("transform type"))
        _ = try body.readU8("transform reserved")
        let id = try body.readU16("transform id")
        var attributes: [TransformAttribute] = []
        while !body.isAtEnd {
            attributes.append(try TransformAttribute.parse(&body))
        }
        return (Transform(type: type, id: id, attributes: attributes), lastSubstructure == 0)
    }

    func emit(into out: inout [UInt8], isLast: Bool) {
        let start = out.count
        out.append(isLast ? 0 : 3)
        out.append(0)
        out.appendU16(0)
        out.append(type.rawValue)
        out.append(0)
        out.appendU16(id)
        for attribute in attributes { attribute.emit(into: &out) }
        out.setU16(UInt16(truncatingIfNeeded: out.count - start), at: start + 2)
    }
}

/// RFC 7296 §3.3.1.
public struct Proposal: Hashable, Sendable, CustomStringConvertible {
    public var number: UInt8
    public var protocolID: ProtocolID
    public var spi: [UInt8]
    public var transforms: [Transform]

    public init(number: UInt8, protocolID: ProtocolID, spi: [UInt8] = [], transforms: [Transform]) {
        self.number = number
        self.protocolID = protocolID
        self.spi = spi
        self.transforms = transforms
    }

    public func transforms(ofType type: TransformType) -> [Transform] {
        transforms.filter { $0.type == type }
    }

    /// "ENCR_AES_GCM_16-256, PRF_HMAC_SHA2_256, MODP_2048" in transform-type order.
    public var description: String {
        let sorted = transforms.enumerated().sorted { ($0.element.type, $0.offset) < ($1.element.type, $1.offset) }
        return "\(protocolID):" + sorted.map { $0.element.description }.joined(separator: "/")
    }

    static func parse(_ reader: inout ByteReader) throws(IKEParseError) -> (Proposal, isLast: Bool) {
        let lastSubstructure = try reader.readU8("proposal last-substructure")
        guard lastSubstructure == 0 || lastSubstructure == 2 else {
            throw .invalidValue(context: "proposal last-substructure", value: Int(lastSubstructure))
        }
        _ = try reader.readU8("proposal reserved")
        let length = Int(try reader.readU16("proposal length"))
        guard length >= 8 else { throw .invalidLength(context: "proposal", value: length) }
        var body = try reader.subReader(length - 4, "proposal")
        let number = try body.readU8("proposal number")
        let protocolID = ProtocolID(rawValue: try body.readU8("proposal protocol id"))
        let spiSize = Int(try body.readU8("proposal SPI size"))
        let transformCount = Int(try body.readU8("proposal transform count"))
        let spi = try body.readBytes(spiSize, "proposal SPI")
        var transforms: [Transform] = []
        var sawLast = false
        while !body.isAtEnd {
            guard !sawLast else { throw .invalidValue(context: "transform after last transform", value: transforms.count) }
            let (transform, isLast) = try Transform.parse(&body)
            transforms.append(transform)
            sawLast = isLast
        }
        guard transforms.count == transformCount else {
            throw .lengthMismatch(context: "proposal transform count", declared: transformCount, actual: transforms.count)
        }
        guard transformCount == 0 || sawLast else {
            throw .invalidValue(context: "proposal last transform marker", value: transformCount)
        }
        return (Proposal(number: number, protocolID: protocolID, spi: spi, transforms: transforms), lastSubstructure == 0)
    }

    func emit(into out: inout [UInt8], isLast: Bool) {
        let start = out.count
        out.append(isLast ? 0 : 2)
        out.append(0)
        out.appendU16(0)
        out.append(number)
        out.append(protocolID.rawValue)
        out.append(UInt8(truncatingIfNeeded: spi.count))
        out.append(UInt8(truncatingIfNeeded: transforms.count))
        out.append(contentsOf: spi)
        for (index, transform) in transforms.enumerated() {
            transform.emit(into: &out, isLast: index == transforms.count - 1)
        }
        out.setU16(UInt16(truncatingIfNeeded: out.count - start), at: start + 2)
    }
}

public struct SecurityAssociationPayload: Hashable, Sendable {
    public var proposals: [Proposal]

    public init(proposals: [Proposal]) { self.proposals = proposals }

    static func parse(body: ByteReader) throws(IKEParseError) -> SecurityAssociationPayload {
        var reader = body
        var proposals: [Proposal] = []
        var sawLast = false
        while !reader.isAtEnd {
            guard !sawLast else { throw .invalidValue(context: "proposal after last proposal", value: proposals.count) }
            let (proposal, isLast) = try Proposal.parse(&reader)
            proposals.append(proposal)
            sawLast = isLast
        }
        guard !proposals.isEmpty else { throw .invalidLength(context: "SA payload without proposals", value: 0) }
        guard sawLast else { throw .invalidValue(context: "SA last proposal marker", value: proposals.count) }
        return SecurityAssociationPayload(proposals: proposals)
    }

    func emitBody(into out: inout [UInt8]) {
        for (index, proposal) in proposals.enumerated() {
            proposal.emit(into: &out, isLast: index == proposals.count - 1)
        }
    }
}
