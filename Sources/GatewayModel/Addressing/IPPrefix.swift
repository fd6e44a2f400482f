/// IPv4 and IPv6 addresses and CIDR prefixes, with the overlap and containment checks the
/// resource rules need. Addresses are held as 128-bit values (IPv4 in the low 32 bits) so one
/// code path serves both families.
public struct IPAddress: Hashable, Sendable, Comparable, CustomStringConvertible {
    public enum Family: Sendable, Hashable { case v4, v6 }
    public let family: Family
    /// High and low 64 bits; IPv4 lives in `low`'s lower 32 bits.
    public let high: UInt64
    public let low: UInt64

    public init(v4 value: UInt32) { family = .v4; high = 0; low = UInt64(value) }
    public init(v6High: UInt64, low: UInt64) { family = .v6; high = v6High; self.low = low }

    public var bitWidth: Int { family == .v4 ? 32 : 128 }
    public var v4Value: UInt32 { UInt32(truncatingIfNeeded: low) }

    public static func < (a: IPAddress, b: IPAddress) -> Bool {
        if a.family != b.family { return a.family == .v4 }
        return (a.high, a.low) < (b.high, b.low)
    }

    /// Parses dotted-quad IPv4 or RFC 4291 §2.2 text IPv6 (with `::` and an embedded IPv4 tail).
    public init?(_ text: some StringProtocol) {
        if text.contains(":") {
            guard let (h, l) = IPAddress.parseV6(String(text)) else { return nil }
            self.init(v6High: h, low: l)
        } else {
            guard let v = IPAddress.parseV4(String(text)) else { return nil }
            self.init(v4: v)
        }
    }

    static func parseV4(_ text: String) -> UInt32? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var value: UInt32 = 0
        for part in parts {
            guard !part.isEmpty, part.count <= 3, part.allSatisfy({ $0.isASCII && $0.isNumber }),
                  let octet = UInt32(part), octet <= 255 else { return nil }
            // Leading zeros are refused: "010" is octal to some parsers and decimal to others.
            if part.count > 1 && part.first == "0" { return nil }
            value = value << 8 | octet
        }
        return value
    }

    static func parseV6(_ text: String) -> (UInt64, UInt64)? {
        var groups: [UInt16] = []
        var tail: [UInt16] = []
        let halves = text.components(separatedBy: "::")
        guard halves.count <= 2 else { return nil }
        func parseGroups(_ s: String, allowV4Tail: Bool) -> [UInt16]? {
            if s.isEmpty { return [] }
            var out: [UInt16] = []
            let items = s.split(separator: ":", omittingEmptySubsequences: false)
            for (index, item) in items.enumerated() {
                if allowV4Tail && index == items.count - 1 && item.contains(".") {
                    guard let v4 = parseV4(String(item)) else { return nil }
                    out.append(UInt16(v4 >> 16)); out.append(UInt16(v4 & 0xffff))
                    continue
                }
                // Hex digits only: UInt16(_:radix:) would also take a sign ("+1", "-0").
                guard !item.isEmpty, item.count <= 4, item.allSatisfy({ $0.isASCII && $0.isHexDigit }),
                      let g = UInt16(item, radix: 16) else { return nil }
                out.append(g)
            }
            return out
        }
        if halves.count == 2 {
            guard let a = parseGroups(halves[0], allowV4Tail: false),
                  let b = parseGroups(halves[1], allowV4Tail: true), a.count + b.count <= 7 else { return nil }
            groups = a; tail = b
            groups += Array(repeating: 0, count: 8 - a.count - b.count) + tail
        } else {
            guard let a = parseGroups(halves[0], allowV4Tail: true), a.count == 8 else { return nil }
            groups = a
        }
        var h: UInt64 = 0, l: UInt64 = 0
        for i in 0..<4 { h = h << 16 | UInt64(groups[i]) }
        for i in 4..<8 { l = l << 16 | UInt64(groups[i]) }
        return (h, l)
    }

    public var description: String {
        switch family {
        case .v4:
            let v = v4Value
            return "\(v >> 24).\(v >> 16 & 0xff).\(v >> 8 & 0xff).\(v & 0xff)"
        case .v6:
            var groups: [UInt16] = []
            for i in (0..<4).reversed() { groups.append(UInt16(truncatingIfNeeded: high >> (UInt64(i) * 16))) }
            for i in (0..<4).reversed() { groups.append(UInt16(truncatingIfNeeded: low >> (UInt64(i) * 16))) }
            // RFC 5952 §4.2: compress the longest run (≥ 2) of zero groups, first one on ties.
            var bestStart = -1, bestLen = 0, i = 0
            while i < 8 {
                if groups[i] == 0 {
                    var j = i
                    while j < 8 && groups[j] == 0 { j += 1 }
                    if j - i > bestLen && j - i >= 2 { bestStart = i; bestLen = j - i }
                    i = j
                } else { i += 1 }
            }
            let hex = groups.map { String($0, radix: 16) }
            if bestStart < 0 { return hex.joined(separator: ":") }
            let left = hex[0..<bestStart].joined(separator: ":")
            let right = hex[(bestStart + bestLen)...].joined(separator: ":")
            return left + "::" + right
        }
    }

    /// The address with every bit past `length` cleared.
    public func masked(to length: Int) -> IPAddress {
        switch family {
        case .v4:
            let mask: UInt32 = length == 0 ? 0 : ~UInt32(0) << UInt32(32 - length)
            return IPAddress(v4: v4Value & mask)
        case .v6:
            let hMask: UInt64 = length >= 64 ? ~0 : (length == 0 ? 0 : ~UInt64(0) << UInt64(64 - length))
            let lMask: UInt64 = length <= 64 ? 0 : (length >= 128 ? ~0 : ~UInt64(0) << UInt64(128 - length))
            return IPAddress(v6High: high & hMask, low: low & lMask)
        }
    }

    /// Adds `offset` (may overflow into the next prefix; callers check containment).
    public func adding(_ offset: UInt64) -> IPAddress {
        switch family {
        case .v4: return IPAddress(v4: v4Value &+ UInt32(truncatingIfNeeded: offset))
        case .v6:
            let (l, carry) = low.addingReportingOverflow(offset)
            return IPAddress(v6High: high &+ (carry ? 1 : 0), low: l)
        }
    }
}

/// A CIDR prefix in canonical form (host bits zero), e.g. `10.1.0.0/16` or `fd00:1::/64`.
public struct IPPrefix: Hashable, Sendable, CustomStringConvertible, Codable {
    public let address: IPAddress
    public let length: Int

    public enum ParseError: Error, Sendable, Equatable, CustomStringConvertible {
        case notCIDR(String)
        case badAddress(String)
        case badLength(String, max: Int)
        case hostBitsSet(String, canonical: String)

        public var description: String {
            switch self {
            case .notCIDR(let s): return "'\(s)' is not a CIDR prefix (expected address/length, e.g. 10.1.0.0/16)"
            case .badAddress(let s): return "'\(s)' does not start with a valid IPv4 or IPv6 address"
            case .badLength(let s, let max): return "'\(s)' has a prefix length outside 0–\(max)"
            case .hostBitsSet(let s, let c): return "'\(s)' has host bits set; did you mean \(c)?"
            }
        }
    }

    public init(address: IPAddress, length: Int) {
        self.address = address.masked(to: length)
        self.length = length
    }

    /// Strict parse: host bits must be zero, as Azure requires for address spaces and subnets.
    public init(parsing text: String) throws(ParseError) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2 else { throw .notCIDR(text) }
        guard let addr = IPAddress(parts[0]) else { throw .badAddress(text) }
        guard parts[1].allSatisfy({ $0.isASCII && $0.isNumber }), !parts[1].isEmpty, parts[1].count <= 3,
              let len = Int(parts[1]), len <= addr.bitWidth else { throw .badLength(text, max: addr.bitWidth) }
        let canonical = IPPrefix(address: addr, length: len)
        guard canonical.address == addr else { throw .hostBitsSet(text, canonical: canonical.description) }
        self = canonical
    }

    public var description: String { "\(address)/\(length)" }
    public var family: IPAddress.Family { address.family }

    public func contains(_ other: IPPrefix) -> Bool {
        other.family == family && other.length >= length && other.address.masked(to: length) == address
    }
    public func contains(_ addr: IPAddress) -> Bool {
        addr.family == family && addr.masked(to: length) == address
    }
    public func overlaps(_ other: IPPrefix) -> Bool { contains(other) || other.contains(self) }

    /// Number of addresses, saturating at UInt64.max for huge IPv6 prefixes.
    public var size: UInt64 {
        let hostBits = address.bitWidth - length
        return hostBits >= 64 ? .max : UInt64(1) << UInt64(hostBits)
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        do { self = try IPPrefix(parsing: text) } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.description))
        }
    }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}

extension Sequence where Element == IPPrefix {
    /// The first pair (a from self, b from other) that overlaps, if any.
    public func firstOverlap(with other: some Sequence<IPPrefix>) -> (IPPrefix, IPPrefix)? {
        for a in self { for b in other where a.overlaps(b) { return (a, b) } }
        return nil
    }
}
