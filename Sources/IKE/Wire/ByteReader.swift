// Checked big-endian reader and writer over `[UInt8]` (RFC 7296 §3: all fields are network order).
// Invariant: a read never touches bytes outside `[offset, end)`; running out is `IKEParseError.truncated`.

public struct ByteReader: Sendable {
    public let bytes: [UInt8]
    public private(set) var offset: Int
    public let end: Int

    public init(_ bytes: [UInt8]) {
        self.bytes = bytes
        self.offset = 0
        self.end = bytes.count
    }

    init(bytes: [UInt8], offset: Int, end: Int) {
        self.bytes = bytes
        self.offset = offset
        self.end = end
    }

    public var remaining: Int { end - offset }
    public var isAtEnd: Bool { offset >= end }

    mutating func require(_ count: Int, _ context: String) throws(IKEParseError) {
        guard count >= 0, remaining >= count else {
            throw .truncated(context: context, needed: count, available: remaining)
        }
    }

    public mutating func readU8(_ context: String) throws(IKEParseError) -> UInt8 {
        try require(1, context)
        defer { offset += 1 }
        return bytes[offset]
    }

    public mutating func readU16(_ context: String) throws(IKEParseError) -> UInt16 {
        try require(2, context)
        defer { offset += 2 }
        return UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1])
    }

    public mutating func readU32(_ context: String) throws(IKEParseError) -> UInt32 {
        try require(4, context)
        var value: UInt32 = 0
        for i in 0..<4 { value = value << 8 | UInt32(bytes[offset + i]) }
        offset += 4
        return value
    }

    public mutating func readU64(_ context: String) throws(IKEParseError) -> UInt64 {
        try require(8, context)
        var value: UInt64 = 0
        for i in 0..<8 { value = value << 8 | UInt64(bytes[offset + i]) }
        offset += 8
        return value
    }

    public mutating func readBytes(_ count: Int, _ context: String) throws(IKEParseError) -> [UInt8] {
        try require(count, context)
        defer { offset += count }
        return Array(bytes[offset..<offset + count])
    }

    public mutating func readRest() -> [UInt8] {
        defer { offset = end }
        return Array(bytes[offset..<end])
    }

    /// A reader over the next `count` bytes; this reader skips past them.
    public mutating func subReader(_ count: Int, _ context: String) throws(IKEParseError) -> ByteReader {
        try require(count, context)
        defer { offset += count }
        return ByteReader(bytes: bytes, offset: offset, end: offset + count)
    }
}

extension Array where Element == UInt8 {
    mutating func appendU16(_ value: UInt16) {
        append(UInt8(truncatingIfNeeded: value >> 8))
        append(UInt8(truncatingIfNeeded: value))
    }

    mutating func appendU32(_ value: UInt32) {
        for shift in stride(from: 24, through: 0, by: -8) { append(UInt8(truncatingIfNeeded: value >> UInt32(shift))) }
    }

    mutating func appendU64(_ value: UInt64) {
        for shift in stride(from: 56, through: 0, by: -8) { append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
    }

    mutating func setU16(_ value: UInt16, at index: Int) {
        self[index] = UInt8(truncatingIfNeeded: value >> 8)
        self[index + 1] = UInt8(truncatingIfNeeded: value)
    }

    mutating func setU32(_ value: UInt32, at index: Int) {
        for i in 0..<4 { self[index + i] = UInt8(truncatingIfNeeded: value >> UInt32(24 - 8 * i)) }
    }
}

/// Lower-case hex, for diagnostics and tests.
public func hexString(_ bytes: some Sequence<UInt8>) -> String {
    let digits = Array("0123456789abcdef")
    var out = ""
    for byte in bytes {
        out.append(digits[Int(byte >> 4)])
        out.append(digits[Int(byte & 0x0f)])
    }
    return out
}
