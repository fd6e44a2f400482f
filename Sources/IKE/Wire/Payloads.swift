// RFC 7296 §3.4–§3.16 and RFC 7383 §2.5: payload bodies (everything after the 4-byte generic header).

/// RFC 7296 §3.4.
public struct KeyExchangePayload: Hashable, Sendable {
    public var group: UInt16
    public var data: [UInt8]

    public init(group: UInt16, data: [UInt8]) {
        self.group = group
        self.data = data
    }

    static func parse(body: ByteReader) throws(IKEParseError) -> KeyExchangePayload {
        var reader = body
        let group = try reader.readU16("KE DH group")
        _ = try reader.readU16("KE reserved")
        return KeyExchangePayload(group: group, data: reader.readRest())
    }

    func emitBody(into out: inout [UInt8]) {
        out.appendU16(group)
        out.appendU16(0)
        out.append(contentsOf: data)
    }
}

/// RFC 7296 §3.5 (IDi and IDr share the layout).
public struct IdentificationPayload: Hashable, Sendable {
    public var idType: IDType
    public var data: [UInt8]

    public init(idType: IDType, data: [UInt8]) {
        self.idType = idType
        self.data = data
    }

    /// The bytes RFC 7296 §2.15 MACs: ID Type, 3 reserved octets, identification data.
    public var bodyBytes: [UInt8] {
        var out: [UInt8] = []
        emitBody(into: &out)
        return out
    }

    static func parse(body: ByteReader) throws(IKEParseError) -> IdentificationPayload {
        var reader = body
        let type = IDType(rawValue: try reader.readU8("ID type"))
        _ = try reader.readBytes(3, "ID reserved")
        let data = reader.readRest()
        if let expected = type.fixedLength, data.count != expected {
            throw .lengthMismatch(context: "\(type) data", declared: expected, actual: data.count)
        }
        return IdentificationPayload(idType: type, data: data)
    }

    func emitBody(into out: inout [UInt8]) {
        out.append(idType.rawValue)
        out.append(contentsOf: [0, 0, 0])
        out.append(contentsOf: data)
    }
}

extension IDType {
    var fixedLength: Int? {
        switch rawValue {
        case 1: return 4
        case 5: return 16
        default: return nil
        }
    }
}

/// RFC 7296 §3.6 / §3.7: CERT and CERTREQ carry an encoding byte and opaque data.
public struct CertificatePayload: Hashable, Sendable {
    public var encoding: UInt8
    public var data: [UInt8]

    public init(encoding: UInt8, data: [UInt8]) {
        self.encoding = encoding
        self.data = data
    }

    static func parse(body: ByteReader) throws(IKEParseError) -> CertificatePayload {
        var reader = body
        let encoding = try reader.readU8("certificate encoding")
        return CertificatePayload(encoding: encoding, data: reader.readRest())
    }

    func emitBody(into out: inout [UInt8]) {
        out.append(encoding)
        out.append(contentsOf: data)
    }
}

/// RFC 7296 §3.8.
public struct AuthenticationPayload: Hashable, Sendable {
    public var method: AuthMethod
    public var data: [UInt8]

    public init(method: AuthMethod, data: [UInt8]) {
        self.method = method
        self.data = data
    }

    static func parse(body: ByteReader) throws(IKEParseError) -> AuthenticationPayload {
        var reader = body
        let method = AuthMethod(rawValue: try reader.readU8("AUTH method"))
        _ = try reader.readBytes(3, "AUTH reserved")
        return AuthenticationPayload(method: method, data: reader.readRest())
    }

    func emitBody(into out: inout [UInt8]) {
        out.append(method.rawValue)
        out.append(contentsOf: [0, 0, 0])
        out.append(contentsOf: data)
    }
}

/// RFC 7296 §3.9: 16 to 256 octets.
public struct NoncePayload: Hashable, Sendable {
    public static let validLengths = 16...256
    public var data: [UInt8]

    public init(data: [UInt8]) { self.data = data }

    static func parse(body: ByteReader) throws(IKEParseError) -> NoncePayload {
        var reader = body
        let data = reader.readRest()
        guard validLengths.contains(data.count) else { throw .invalidLength(context: "Nonce", value: data.count) }
        return NoncePayload(data: data)
    }

    func emitBody(into out: inout [UInt8]) { out.append(contentsOf: data) }
}

/// RFC 7296 §3.10.
public struct NotifyPayload: Hashable, Sendable {
    public var protocolID: ProtocolID
    public var spi: [UInt8]
    public var type: NotifyType
    public var data: [UInt8]

    public init(protocolID: ProtocolID = .none, spi: [UInt8] = [], type: NotifyType, data: [UInt8] = []) {
        self.protocolID = protocolID
        self.spi = spi
        self.type = type
        self.data = data
    }

    static func parse(body: ByteReader) throws(IKEParseError) -> NotifyPayload {
        var reader = body
        let protocolID = ProtocolID(rawValue: try reader.readU8("Notify protocol id"))
        let spiSize = Int(try reader.readU8("Notify SPI size"))
        let type = NotifyType(rawValue: try reader.readU16("Notify type"))
        let spi = try reader.readBytes(spiSize, "Notify SPI")
        return NotifyPayload(protocolID: protocolID, spi: spi, type: type, data: reader.readRest())
    }

    func emitBody(into out: inout [UInt8]) {
        out.append(protocolID.rawValue)
        out.append(UInt8(truncatingIfNeeded: spi.count))
        out.appendU16(type.rawValue)
        out.append(contentsOf: spi)
        out.append(contentsOf: data)
    }
}

/// RFC 7296 §3.11.
public struct DeletePayload: Hashable, Sendable {
    public var protocolID: ProtocolID
    public var spiSize: UInt8
    public var spis: [[UInt8]]

    public init(protocolID: ProtocolID, spiSize: UInt8, spis: [[UInt8]]) {
        self.protocolID = protocolID
        self.spiSize = spiSize
        self.spis = spis
    }

    static func parse(body: ByteReader) throws(IKEParseError) -> DeletePayload {
        var reader = body
        let protocolID = ProtocolID(rawValue: try reader.readU8("Delete protocol id"))
        let spiSize = try reader.readU8("Delete SPI size")
        let count = Int(try reader.readU16("Delete SPI count"))
        // IKE SA deletes carry no SPIs (size 0); CHILD deletes carry 4-byte SPIs.
        guard spiSize == 0 || spiSize == 4 || spiSize == 8 else {
            throw .invalidValue(context: "Delete SPI size", value: Int(spiSize))
        }
        guard reader.remaining == count * Int(spiSize) else {
            throw .lengthMismatch(context: "Delete SPIs", declared: count * Int(spiSize), actual: reader.remaining)
        }
        var spis: [[UInt8]] = []
        if spiSize > 0 {
            for _ in 0..<count { spis.append(try reader.readBytes(Int(spiSize), "Delete SPI")) }
        }
        return DeletePayload(protocolID: protocolID, spiSize: spiSize, spis: spis)
    }

    func emitBody(into out: inout [UInt8]) {
        out.append(protocolID.rawValue)
        out.append(spiSize)
        out.appendU16(UInt16(truncatingIfNeeded: spis.count))
        for spi in spis { out.append(contentsOf: spi) }
    }
}

/// RFC 7296 §3.13.1.
public struct TrafficSelector: Hashable, Sendable {
    public var type: TrafficSelectorType
    public var ipProtocol: UInt8
    public var startPort: UInt16
    public var endPort: UInt16
    public var startAddress: [UInt8]
    public var endAddress: [UInt8]

    public init(type: TrafficSelectorType, ipProtocol: UInt8 = 0, startPort: UInt16 = 0, endPort: UInt16 = 65535,
                startAddress: [UInt8], endAddress: [UInt8]) {
        self.type = type
        self.ipProtocol = ipProtocol
        self.startPort = startPort
        self.endPort = endPort
        self.startAddress = startAddress
        self.endAddress = endAddress
    }

    static func parse(_ reader: inout ByteReader) throws(IKEParseError) -> TrafficSelector {
        let type = TrafficSelectorType(rawValue: try reader.readU8("TS type"))
        let ipProtocol = try reader.readU8("TS IP protocol")
        let length = Int(try reader.readU16("TS selector length"))
        guard let addressLength = type.addressLength else {
            throw .invalidValue(context: "TS type", value: Int(type.rawValue))
        }
        guard length == 8 + 2 * addressLength else {
            throw .lengthMismatch(context: "\(type) selector", declared: length, actual: 8 + 2 * addressLength)
        }
        let startPort = try reader.readU16("TS start port")
        let endPort = try reader.readU16("TS end port")
        let start = try reader.readBytes(addressLength, "TS start address")
        let end = try reader.readBytes(addressLength, "TS end address")
        return TrafficSelector(type: type, ipProtocol: ipProtocol, startPort: startPort, endPort: endPort,
                               startAddress: start, endAddress: end)
    }

    func emit(into out: inout [UInt8]) {
        out.append(type.rawValue)
        out.append(ipProtocol)
        out.appendU16(UInt16(truncatingIfNeeded: 8 + startAddress.count + endAddress.count))
        out.appendU16(startPort)
        out.appendU16(endPort)
        out.append(contentsOf: startAddress)
        out.append(contentsOf: endAddress)
    }
}

/// RFC 7296 §3.13 (TSi and TSr share the layout).
public struct TrafficSelectorPayload: Hashable, Sendable {
    public var selectors: [TrafficSelector]

    public init(selectors: [TrafficSelector]) { self.selectors = selectors }

    static func parse(body: ByteReader) throws(IKEParseError) -> TrafficSelectorPayload {
        var reader = body
        let count = Int(try reader.readU8("TS count"))
        _ = try reader.readBytes(3, "TS reserved")
        guard count > 0 else { throw .invalidValue(context: "TS count", value: 0) }
        var selectors: [TrafficSelector] = []
        for _ in 0..<count { selectors.append(try TrafficSelector.parse(&reader)) }
        guard reader.isAtEnd else {
            throw .lengthMismatch(context: "TS payload", declared: body.remaining - reader.remaining, actual: body.remaining)
        }
        return TrafficSelectorPayload(selectors: selectors)
    }

    func emitBody(into out: inout [UInt8]) {
        out.append(UInt8(truncatingIfNeeded: selectors.count))
        out.append(contentsOf: [0, 0, 0])
        for selector in selectors { selector.emit(into: &out) }
    }
}

/// RFC 7296 §3.15.1.
public struct ConfigurationAttribute: Hashable, Sendable {
    public var type: UInt16
    public var value: [UInt8]

    public init(type: UInt16, value: [UInt8]) {
        self.type = type
        self.value = value
    }
}

/// RFC 7296 §3.15.
public struct ConfigurationPayload: Hashable, Sendable {
    public var configurationType: ConfigurationType
    public var attributes: [ConfigurationAttribute]

    public init(configurationType: ConfigurationType, attributes: [ConfigurationAttribute]) {
        self.configurationType = configurationType
        self.attributes = attributes
    }

    static func parse(body: ByteReader) throws(IKEParseError) -> ConfigurationPayload {
        var reader = body
        let type = ConfigurationType(rawValue: try reader.readU8("CP type"))
        _ = try reader.readBytes(3, "CP reserved")
        var attributes: [ConfigurationAttribute] = []
        while !reader.isAtEnd {
            let attributeType = try reader.readU16("CP attribute type") & 0x7fff
            let length = Int(try reader.readU16("CP attribute length"))
            attributes.append(ConfigurationAttribute(type: attributeType, value: try reader.readBytes(length, "CP attribute value")))
        }
        return ConfigurationPayload(configurationType: type, attributes: attributes)
    }

    func emitBody(into out: inout [UInt8]) {
        out.append(configurationType.rawValue)
        out.append(contentsOf: [0, 0, 0])
        for attribute in attributes {
            out.appendU16(attribute.type & 0x7fff)
            out.appendU16(UInt16(truncatingIfNeeded: attribute.value.count))
            out.append(contentsOf: attribute.value)
        }
    }
}

/// RFC 7296 §3.14: the SK payload. `firstInnerPayload` is the generic header's Next Payload;
/// `protectedBody` is IV ‖ ciphertext ‖ ICV, opened by `SKProtection`.
public struct EncryptedPayload: Hashable, Sendable {
    public var firstInnerPayload: PayloadType
    public var protectedBody: [UInt8]

    public init(firstInnerPayload: PayloadType, protectedBody: [UInt8]) {
        self.firstInnerPayload = firstInnerPayload
        self.protectedBody = protectedBody
    }
}

/// RFC 7383 §2.5: SKF = Fragment Number ‖ Total Fragments ‖ IV ‖ ciphertext ‖ ICV.
/// Only fragment 1 carries a meaningful Next Payload (the first inner payload type).
public struct EncryptedFragmentPayload: Hashable, Sendable {
    public var firstInnerPayload: PayloadType
    public var fragmentNumber: UInt16
    public var totalFragments: UInt16
    public var protectedBody: [UInt8]

    public init(firstInnerPayload: PayloadType, fragmentNumber: UInt16, totalFragments: UInt16, protectedBody: [UInt8]) {
        self.firstInnerPayload = firstInnerPayload
        self.fragmentNumber = fragmentNumber
        self.totalFragments = totalFragments
        self.protectedBody = protectedBody
    }

    static func parse(body: ByteReader, nextPayload: PayloadType) throws(IKEParseError) -> EncryptedFragmentPayload {
        var reader = body
        let number = try reader.readU16("SKF fragment number")
        let total = try reader.readU16("SKF total fragments")
        // RFC 7383 §2.6: number 0, total 0, or number > total are invalid.
        guard number >= 1, total >= 1, number <= total else {
            throw .invalidValue(context: "SKF fragment \(number) of", value: Int(total))
        }
        return EncryptedFragmentPayload(firstInnerPayload: nextPayload, fragmentNumber: number,
                                        totalFragments: total, protectedBody: reader.readRest())
    }
}
