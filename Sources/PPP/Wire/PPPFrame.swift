// PPP frames as carried inside SSTP data packets ([MS-SSTP] §2.2.1, protocols.md §4.5):
// one frame per packet, no HDLC flag, escaping or FCS. The Address/Control field (FF 03) may be
// present or absent (ACFC, RFC 1661 §6.6) and the Protocol field may be one or two octets
// (PFC, RFC 1661 §6.5), so the parser accepts all four forms; the emitter always writes the full
// uncompressed form (FF 03 + two-octet protocol), which every peer must accept (RFC 1661 §6.5/6.6).
// This file imports nothing, so the fuzz target (Fuzz/ppp_parse) compiles it alone.

/// PPP Protocol field values (RFC 1661 §2, IANA "PPP DLL Protocol Numbers").
public struct PPPProtocol: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let ipv4 = PPPProtocol(rawValue: 0x0021)
    public static let ipv6 = PPPProtocol(rawValue: 0x0057)
    public static let ipcp = PPPProtocol(rawValue: 0x8021)
    public static let ipv6cp = PPPProtocol(rawValue: 0x8057)
    public static let ccp = PPPProtocol(rawValue: 0x80FD)
    public static let lcp = PPPProtocol(rawValue: 0xC021)
    public static let pap = PPPProtocol(rawValue: 0xC023)
    public static let chap = PPPProtocol(rawValue: 0xC223)
    public static let eap = PPPProtocol(rawValue: 0xC227)

    public var description: String {
        switch self {
        case .ipv4: "IPv4"
        case .ipv6: "IPv6"
        case .ipcp: "IPCP"
        case .ipv6cp: "IPv6CP"
        case .ccp: "CCP"
        case .lcp: "LCP"
        case .pap: "PAP"
        case .chap: "CHAP"
        case .eap: "EAP"
        default: "0x" + String(rawValue, radix: 16, uppercase: true)
        }
    }
}

/// Why bytes were not a PPP frame, control packet or option list.
public enum PPPParseError: Error, Equatable, Sendable {
    /// Fewer octets than the structure needs.
    case truncated(needed: Int, available: Int)
    /// RFC 1661 §2: the Protocol field's low octet must be odd and its high octet even.
    case invalidProtocolField
    /// RFC 1661 §5: a control packet's Length is below 4 or beyond the octets received.
    case invalidPacketLength(UInt16, available: Int)
    /// RFC 1661 §6: an option's Length is below 2 or runs past the packet.
    case invalidOptionLength(type: UInt8, length: UInt8)
    /// More options than any legitimate peer sends (flood bound, PPPLimits.maxOptions).
    case tooManyOptions
    /// A frame larger than the SSTP length field can carry (PPPLimits.maxFrame).
    case frameTooLong(Int)
}

/// Hard bounds on anything parsed from the peer.
public enum PPPLimits {
    /// SSTP's 12-bit length minus its 4-byte header (protocols.md §4.5).
    public static let maxFrame = 4091
    /// Options per Configure-* packet; LCP defines fewer than 32 types.
    public static let maxOptions = 32
}

/// One PPP frame: protocol + information field.
public struct PPPFrame: Equatable, Sendable {
    public var protocolNumber: PPPProtocol
    public var information: [UInt8]

    public init(protocolNumber: PPPProtocol, information: [UInt8]) {
        self.protocolNumber = protocolNumber
        self.information = information
    }

    /// Parses one frame in any of the four ACFC/PFC forms.
    public static func parse<Bytes: RandomAccessCollection<UInt8>>(_ bytes: Bytes) throws(PPPParseError) -> PPPFrame where Bytes.Index == Int {
        guard bytes.count <= PPPLimits.maxFrame + 2 else { throw .frameTooLong(bytes.count) }
        var index = bytes.startIndex
        if bytes.count >= 2, bytes[index] == 0xFF, bytes[index + 1] == 0x03 { index += 2 }
        guard index < bytes.endIndex else { throw .truncated(needed: index - bytes.startIndex + 1, available: bytes.count) }
        let first = bytes[index]
        let protocolNumber: UInt16
        if first & 1 == 1 {
            // PFC: a single odd octet is the whole field (RFC 1661 §6.5).
            protocolNumber = UInt16(first)
            index += 1
        } else {
            guard index + 1 < bytes.endIndex else { throw .truncated(needed: index - bytes.startIndex + 2, available: bytes.count) }
            let second = bytes[index + 1]
            guard second & 1 == 1 else { throw .invalidProtocolField }
            protocolNumber = UInt16(first) << 8 | UInt16(second)
            index += 2
        }
        return PPPFrame(protocolNumber: PPPProtocol(rawValue: protocolNumber), information: Array(bytes[index...]))
    }

    /// FF 03 + two-octet protocol + information.
    public func emit() -> [UInt8] {
        var out: [UInt8] = [0xFF, 0x03, UInt8(protocolNumber.rawValue >> 8), UInt8(protocolNumber.rawValue & 0xFF)]
        out.reserveCapacity(4 + information.count)
        out += information
        return out
    }
}

/// Code/Identifier/Length/Data, the packet shape shared by LCP, NCPs and CHAP (RFC 1661 §5,
/// RFC 1994 §4). Octets beyond Length are padding and are dropped (RFC 1661 §5).
public struct PPPControlPacket: Equatable, Sendable {
    public var code: UInt8
    public var identifier: UInt8
    public var data: [UInt8]

    public init(code: UInt8, identifier: UInt8, data: [UInt8]) {
        self.code = code
        self.identifier = identifier
        self.data = data
    }

    public static func parse(_ bytes: [UInt8]) throws(PPPParseError) -> PPPControlPacket {
        guard bytes.count >= 4 else { throw .truncated(needed: 4, available: bytes.count) }
        let length = UInt16(bytes[2]) << 8 | UInt16(bytes[3])
        guard length >= 4, Int(length) <= bytes.count else { throw .invalidPacketLength(length, available: bytes.count) }
        return PPPControlPacket(code: bytes[0], identifier: bytes[1], data: Array(bytes[4..<Int(length)]))
    }

    public func emit() -> [UInt8] {
        let length = 4 + data.count
        return [code, identifier, UInt8(truncatingIfNeeded: length >> 8), UInt8(truncatingIfNeeded: length)] + data
    }

    /// The whole PPP frame carrying this packet.
    public func frame(_ protocolNumber: PPPProtocol) -> [UInt8] {
        PPPFrame(protocolNumber: protocolNumber, information: emit()).emit()
    }
}

/// One Type/Length/Data configuration option (RFC 1661 §6).
public struct PPPOption: Equatable, Hashable, Sendable {
    public var type: UInt8
    public var data: [UInt8]

    public init(type: UInt8, data: [UInt8]) {
        self.type = type
        self.data = data
    }

    /// Parses a Configure-* packet's data; bounded by PPPLimits.maxOptions.
    public static func parseList(_ bytes: [UInt8]) throws(PPPParseError) -> [PPPOption] {
        var options: [PPPOption] = []
        var index = 0
        while index < bytes.count {
            guard index + 2 <= bytes.count else { throw .truncated(needed: index + 2, available: bytes.count) }
            let type = bytes[index], length = bytes[index + 1]
            guard length >= 2, index + Int(length) <= bytes.count else { throw .invalidOptionLength(type: type, length: length) }
            guard options.count < PPPLimits.maxOptions else { throw .tooManyOptions }
            options.append(PPPOption(type: type, data: Array(bytes[(index + 2)..<(index + Int(length))])))
            index += Int(length)
        }
        return options
    }

    public static func emitList(_ options: [PPPOption]) -> [UInt8] {
        var out: [UInt8] = []
        for option in options {
            out.append(option.type)
            out.append(UInt8(truncatingIfNeeded: option.data.count + 2))
            out += option.data
        }
        return out
    }

    /// A 16- or 32-bit big-endian value, when the data has exactly that size.
    public var uint16: UInt16? { data.count == 2 ? UInt16(data[0]) << 8 | UInt16(data[1]) : nil }
    public var uint32: UInt32? { data.count == 4 ? data.reduce(UInt32(0)) { $0 << 8 | UInt32($1) } : nil }

    public static func uint16(_ type: UInt8, _ value: UInt16) -> PPPOption {
        PPPOption(type: type, data: [UInt8(value >> 8), UInt8(value & 0xFF)])
    }

    public static func uint32(_ type: UInt8, _ value: UInt32) -> PPPOption {
        PPPOption(type: type, data: [UInt8(value >> 24), UInt8((value >> 16) & 0xFF), UInt8((value >> 8) & 0xFF), UInt8(value & 0xFF)])
    }
}

/// An IPv4 address as IPCP carries it (RFC 1332 §3.3): four octets, network order.
public struct PPPIPv4Address: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var value: UInt32
    public init(_ value: UInt32) { self.value = value }
    public init(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) {
        value = UInt32(a) << 24 | UInt32(b) << 16 | UInt32(c) << 8 | UInt32(d)
    }

    /// Dotted-quad text; nil for anything else.
    public init?(_ text: String) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var v: UInt32 = 0
        for part in parts {
            guard let octet = UInt8(part) else { return nil }
            v = v << 8 | UInt32(octet)
        }
        value = v
    }

    public static let zero = PPPIPv4Address(0)
    public var octets: [UInt8] { [UInt8(value >> 24), UInt8((value >> 16) & 0xFF), UInt8((value >> 8) & 0xFF), UInt8(value & 0xFF)] }
    public var description: String { octets.map(String.init).joined(separator: ".") }
    public static func < (lhs: PPPIPv4Address, rhs: PPPIPv4Address) -> Bool { lhs.value < rhs.value }
}
