// SSTP packets ([MS-SSTP] §2.2, protocols.md §4.2): a 4-byte header (Version 0x10, C bit,
// 12-bit Length including the header), then either one PPP frame (data) or a control message
// (MessageType, NumAttributes, attributes with their own 12-bit lengths).
// Invariants: parse never traps; it refuses truncated, oversized, bad-version input and any
// packet whose declared lengths and attribute count do not add up exactly, with a structured
// error. This file imports nothing, so the fuzz target (Fuzz/sstp_parse) compiles it alone.

/// Why bytes were not an SSTP packet.
public enum SSTPParseError: Error, Equatable, Sendable {
    case truncated(needed: Int, available: Int)
    /// [MS-SSTP] §2.2.1: only version 1.0 (0x10) exists.
    case unsupportedVersion(UInt8)
    /// Length below the header (4, or 8 for a control packet).
    case lengthTooSmall(Int)
    case unknownMessageType(UInt16)
    /// An attribute's length is below 4 or runs past the packet.
    case invalidAttributeLength(id: UInt8, length: Int)
    /// NumAttributes disagrees with the attributes actually present (or bytes are left over).
    case attributeCountMismatch(declared: Int, found: Int)
    /// A known attribute whose value has the wrong size for its type.
    case invalidAttributeValue(SSTPAttributeID)
}

/// [MS-SSTP] §2.2.1 limits.
public enum SSTPLimits {
    public static let maxPacket = 0x0FFF
    public static let headerLength = 4
    /// Attributes per control message; the spec defines five types.
    public static let maxAttributes = 16
}

/// [MS-SSTP] §2.2.3 message types.
public enum SSTPMessageType: UInt16, Sendable, CaseIterable {
    case callConnectRequest = 0x0001
    case callConnectAck = 0x0002
    case callConnectNak = 0x0003
    case callConnected = 0x0004
    case callAbort = 0x0005
    case callDisconnect = 0x0006
    case callDisconnectAck = 0x0007
    case echoRequest = 0x0008
    case echoResponse = 0x0009
}

/// [MS-SSTP] §2.2.4 attribute IDs.
public enum SSTPAttributeID: UInt8, Sendable {
    case noError = 0
    case encapsulatedProtocolID = 1
    case statusInfo = 2
    case cryptoBinding = 3
    case cryptoBindingRequest = 4
}

/// [MS-SSTP] §2.2.10 hash protocol bitmask / identifier.
public struct SSTPHashProtocols: OptionSet, Sendable, Hashable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public static let sha1 = SSTPHashProtocols(rawValue: 0x01)
    public static let sha256 = SSTPHashProtocols(rawValue: 0x02)
}

/// [MS-SSTP] §2.2.7 status values of STATUS_INFO.
public enum SSTPStatus: UInt32, Sendable {
    case noError = 0
    case duplicateAttribute = 1
    case unrecognizedAttribute = 2
    case invalidAttributeValueLength = 3
    case valueNotSupported = 4
    case unacceptedFrameReceived = 5
    case retryCountExceeded = 6
    case invalidFrameReceived = 7
    case negotiationTimeout = 8
    case attributeNotSupportedInMessage = 9
    case requiredAttributeMissing = 0x0A
    case statusInfoNotSupportedInMessage = 0x0B
}

/// One attribute, as a typed value where the type is known.
public enum SSTPAttribute: Equatable, Sendable {
    /// §2.2.5: 0x0001 = PPP.
    case encapsulatedProtocolID(UInt16)
    /// §2.2.7: the attribute the status is about, the status, and the offending value (≤ 64 bytes).
    case statusInfo(attributeID: UInt8, status: UInt32, value: [UInt8])
    /// §2.2.10: hash protocol chosen, nonce (32), certificate hash (32), compound MAC (32).
    case cryptoBinding(hashProtocol: UInt8, nonce: [UInt8], certificateHash: [UInt8], compoundMAC: [UInt8])
    /// §2.2.9: hash protocols offered and the nonce (32). Attribute length is always 0x28.
    case cryptoBindingRequest(hashProtocols: SSTPHashProtocols, nonce: [UInt8])
    /// Any other ID (including NO_ERROR), kept verbatim.
    case other(id: UInt8, value: [UInt8])

    public var id: UInt8 {
        switch self {
        case .encapsulatedProtocolID: SSTPAttributeID.encapsulatedProtocolID.rawValue
        case .statusInfo: SSTPAttributeID.statusInfo.rawValue
        case .cryptoBinding: SSTPAttributeID.cryptoBinding.rawValue
        case .cryptoBindingRequest: SSTPAttributeID.cryptoBindingRequest.rawValue
        case .other(let id, _): id
        }
    }

    var value: [UInt8] {
        switch self {
        case .encapsulatedProtocolID(let p): [UInt8(p >> 8), UInt8(p & 0xFF)]
        case .statusInfo(let attributeID, let status, let value):
            [0, 0, 0, attributeID, UInt8(status >> 24), UInt8((status >> 16) & 0xFF), UInt8((status >> 8) & 0xFF), UInt8(status & 0xFF)] + value
        case .cryptoBinding(let hashProtocol, let nonce, let certificateHash, let compoundMAC):
            [0, 0, 0, hashProtocol] + nonce + certificateHash + compoundMAC
        case .cryptoBindingRequest(let hashProtocols, let nonce):
            [0, 0, 0, hashProtocols.rawValue] + nonce
        case .other(_, let value): value
        }
    }

    static func decode(id: UInt8, value: [UInt8]) throws(SSTPParseError) -> SSTPAttribute {
        guard let known = SSTPAttributeID(rawValue: id) else { return .other(id: id, value: value) }
        switch known {
        case .noError:
            return .other(id: id, value: value)
        case .encapsulatedProtocolID:
            guard value.count == 2 else { throw .invalidAttributeValue(known) }
            return .encapsulatedProtocolID(UInt16(value[0]) << 8 | UInt16(value[1]))
        case .statusInfo:
            guard value.count >= 8, value.count <= 8 + 64 else { throw .invalidAttributeValue(known) }
            let status = value[4..<8].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            return .statusInfo(attributeID: value[3], status: status, value: Array(value[8...]))
        case .cryptoBinding:
            guard value.count == 100 else { throw .invalidAttributeValue(known) }
            return .cryptoBinding(hashProtocol: value[3], nonce: Array(value[4..<36]),
                                  certificateHash: Array(value[36..<68]), compoundMAC: Array(value[68..<100]))
        case .cryptoBindingRequest:
            guard value.count == 36 else { throw .invalidAttributeValue(known) }
            return .cryptoBindingRequest(hashProtocols: SSTPHashProtocols(rawValue: value[3]), nonce: Array(value[4..<36]))
        }
    }
}

public struct SSTPControlMessage: Equatable, Sendable {
    public var type: SSTPMessageType
    public var attributes: [SSTPAttribute]

    public init(_ type: SSTPMessageType, _ attributes: [SSTPAttribute] = []) {
        self.type = type
        self.attributes = attributes
    }
}

public enum SSTPPacket: Equatable, Sendable {
    /// One PPP frame.
    case data([UInt8])
    case control(SSTPControlMessage)

    /// Total length of the packet at the start of `bytes`, once its header is there.
    /// nil: fewer than 4 bytes. Throws on a bad version or a length below the header.
    public static func length<Bytes: RandomAccessCollection<UInt8>>(peeking bytes: Bytes) throws(SSTPParseError) -> Int? where Bytes.Index == Int {
        guard bytes.count >= 4 else { return nil }
        let base = bytes.startIndex
        guard bytes[base] == 0x10 else { throw .unsupportedVersion(bytes[base]) }
        let length = Int(bytes[base + 2] & 0x0F) << 8 | Int(bytes[base + 3])
        let minimum = bytes[base + 1] & 0x01 == 1 ? 8 : 4
        guard length >= minimum else { throw .lengthTooSmall(length) }
        return length
    }

    /// Parses exactly one packet occupying all of `bytes`.
    public static func parse<Bytes: RandomAccessCollection<UInt8>>(_ bytes: Bytes) throws(SSTPParseError) -> SSTPPacket where Bytes.Index == Int {
        guard let length = try length(peeking: bytes) else { throw .truncated(needed: 4, available: bytes.count) }
        guard bytes.count >= length else { throw .truncated(needed: length, available: bytes.count) }
        guard bytes.count == length else { throw .attributeCountMismatch(declared: length, found: bytes.count) }
        let base = bytes.startIndex
        if bytes[base + 1] & 0x01 == 0 { return .data(Array(bytes[(base + 4)...])) }

        let rawType = UInt16(bytes[base + 4]) << 8 | UInt16(bytes[base + 5])
        guard let type = SSTPMessageType(rawValue: rawType) else { throw .unknownMessageType(rawType) }
        let declared = Int(bytes[base + 6]) << 8 | Int(bytes[base + 7])
        guard declared <= SSTPLimits.maxAttributes else { throw .attributeCountMismatch(declared: declared, found: 0) }
        var attributes: [SSTPAttribute] = []
        var index = base + 8
        while index < bytes.endIndex {
            guard index + 4 <= bytes.endIndex else { throw .truncated(needed: index - base + 4, available: bytes.count) }
            let id = bytes[index + 1]
            let attributeLength = Int(bytes[index + 2] & 0x0F) << 8 | Int(bytes[index + 3])
            guard attributeLength >= 4, index + attributeLength <= bytes.endIndex else {
                throw .invalidAttributeLength(id: id, length: attributeLength)
            }
            guard attributes.count < declared else { throw .attributeCountMismatch(declared: declared, found: attributes.count + 1) }
            attributes.append(try SSTPAttribute.decode(id: id, value: Array(bytes[(index + 4)..<(index + attributeLength)])))
            index += attributeLength
        }
        guard attributes.count == declared else { throw .attributeCountMismatch(declared: declared, found: attributes.count) }
        return .control(SSTPControlMessage(type, attributes))
    }

    /// The packet's bytes. Precondition: it fits the 12-bit length (callers bound PPP frames by the MRU).
    public func emit() -> [UInt8] {
        switch self {
        case .data(let frame):
            return SSTPPacket.dataHeader(frameLength: frame.count) + frame
        case .control(let message):
            var body: [UInt8] = [UInt8(message.type.rawValue >> 8), UInt8(message.type.rawValue & 0xFF),
                                 UInt8(message.attributes.count >> 8), UInt8(message.attributes.count & 0xFF)]
            for attribute in message.attributes {
                let value = attribute.value
                let length = value.count + 4
                body += [0, attribute.id, UInt8((length >> 8) & 0x0F), UInt8(length & 0xFF)] + value
            }
            let length = body.count + 4
            precondition(length <= SSTPLimits.maxPacket, "SSTP control packet too long")
            return [0x10, 0x01, UInt8((length >> 8) & 0x0F), UInt8(length & 0xFF)] + body
        }
    }

    /// The 4-byte header of a data packet carrying a `frameLength`-byte PPP frame.
    public static func dataHeader(frameLength: Int) -> [UInt8] {
        let length = frameLength + 4
        precondition(length <= SSTPLimits.maxPacket, "SSTP data packet too long")
        return [0x10, 0x00, UInt8((length >> 8) & 0x0F), UInt8(length & 0xFF)]
    }
}

/// Cuts the TLS byte stream into packets. Invariant: holds at most one partial packet
/// (≤ 4095 bytes) plus what the caller appended since the last drain.
public struct SSTPStreamDecoder: Sendable {
    var buffer: [UInt8] = []
    var start = 0

    public init() {}

    public var bufferedBytes: Int { buffer.count - start }

    public mutating func append<Bytes: Sequence<UInt8>>(_ bytes: Bytes) {
        if start > 0 && start >= buffer.count / 2 {
            buffer.removeFirst(start)
            start = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// The next complete packet and its raw bytes (needed for the crypto binding MAC), or nil.
    public mutating func next() throws(SSTPParseError) -> (packet: SSTPPacket, raw: [UInt8])? {
        let view = buffer[start...]
        guard let length = try SSTPPacket.length(peeking: view), view.count >= length else { return nil }
        let raw = Array(buffer[start..<(start + length)])
        start += length
        return (try SSTPPacket.parse(raw), raw)
    }

    /// Bytes left over (e.g. after the HTTP header, or when switching framing).
    public mutating func drain() -> [UInt8] {
        defer { buffer = []; start = 0 }
        return Array(buffer[start...])
    }
}

/// The IPv4 data path without the packet enum or any array: the I/O layer frames packets straight
/// into its send buffers and hands received IPv4 to the TUN device from the receive buffer, while
/// every other packet (control, LCP, IPCP, echo) still goes through the call's state machine.
/// SSTP carries PPP without HDLC (no flags, escaping or FCS; [MS-SSTP] §2.2.2), so this is only
/// the 4-byte SSTP header and the PPP address/control/protocol fields.
public enum SSTPDataFastPath {
    /// SSTP header (4) + PPP FF 03 00 21 before every IPv4 packet we send.
    public static let ipv4Overhead = 8

    /// Writes the 8 header bytes of a data packet carrying an `ipLength`-byte IPv4 packet.
    /// Precondition: ipLength + 8 ≤ SSTPLimits.maxPacket.
    @inline(__always)
    public static func writeIPv4Header(_ to: UnsafeMutableRawPointer, ipLength: Int) {
        let length = ipLength + ipv4Overhead
        to.storeBytes(of: 0x10, toByteOffset: 0, as: UInt8.self)
        to.storeBytes(of: 0x00, toByteOffset: 1, as: UInt8.self)
        to.storeBytes(of: UInt8((length >> 8) & 0x0F), toByteOffset: 2, as: UInt8.self)
        to.storeBytes(of: UInt8(length & 0xFF), toByteOffset: 3, as: UInt8.self)
        to.storeBytes(of: 0xFF, toByteOffset: 4, as: UInt8.self)
        to.storeBytes(of: 0x03, toByteOffset: 5, as: UInt8.self)
        to.storeBytes(of: 0x00, toByteOffset: 6, as: UInt8.self)
        to.storeBytes(of: 0x21, toByteOffset: 7, as: UInt8.self)
    }

    /// The length of the packet starting at `header` (≥ 4 readable bytes), or nil when the
    /// header is not valid SSTP 1.0 (the state machine then refuses it with the exact reason).
    @inline(__always)
    public static func packetLength(_ header: UnsafeRawBufferPointer) -> Int? {
        guard header.count >= 4, header[0] == 0x10 else { return nil }
        let length = Int(header[2] & 0x0F) << 8 | Int(header[3])
        return length >= (header[1] & 0x01 == 1 ? 8 : 4) ? length : nil
    }

    /// For one whole SSTP packet: the offset of the IPv4 packet if it is a data packet carrying a
    /// PPP IPv4 frame (with or without address/control and protocol field compression); nil for
    /// anything else.
    @inline(__always)
    public static func ipv4Offset(_ packet: UnsafeRawBufferPointer) -> Int? {
        guard packet.count > 5, packet[1] & 0x01 == 0 else { return nil }
        var i = 4
        if packet[4] == 0xFF && packet[5] == 0x03 { i = 6 }
        guard i < packet.count else { return nil }
        if packet[i] == 0x21 { i += 1 }   // PFC: the one-octet protocol field
        else if packet[i] == 0x00, i + 1 < packet.count, packet[i + 1] == 0x21 { i += 2 }
        else { return nil }
        return i < packet.count ? i : nil
    }
}
