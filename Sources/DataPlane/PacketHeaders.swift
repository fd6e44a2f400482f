/// Views over inner IP packets in a raw buffer: just what the forwarding path reads or rewrites.
/// All functions check lengths; none allocates.
enum IPv4Packet {
    /// Destination address of an IPv4 packet at `start`, or nil if it is not a whole IPv4 header.
    @inline(__always)
    static func destination(_ p: UnsafeMutableRawPointer, length: Int) -> UInt32? {
        guard length >= 20 else { return nil }
        let vihl = p.load(as: UInt8.self)
        guard vihl >> 4 == 4 else { return nil }
        return UInt32(bigEndian: p.loadUnaligned(fromByteOffset: 16, as: UInt32.self))
    }

    @inline(__always)
    static func source(_ p: UnsafeMutableRawPointer, length: Int) -> UInt32? {
        guard length >= 20, p.load(as: UInt8.self) >> 4 == 4 else { return nil }
        return UInt32(bigEndian: p.loadUnaligned(fromByteOffset: 12, as: UInt32.self))
    }

    /// TCP MSS clamping (RFC 879/6691): lowers the MSS option of a TCP SYN to `maximum` and
    /// patches the TCP checksum incrementally (RFC 1624). Returns true if it rewrote the packet.
    @discardableResult
    static func clampTCPMSS(_ p: UnsafeMutableRawPointer, length: Int, maximum: UInt16) -> Bool {
        guard length >= 40 else { return false }
        let ihl = Int(p.load(as: UInt8.self) & 0x0f) * 4
        guard ihl >= 20, p.load(fromByteOffset: 9, as: UInt8.self) == 6 else { return false }
        // Only the first fragment carries the TCP header.
        let fragment = UInt16(bigEndian: p.loadUnaligned(fromByteOffset: 6, as: UInt16.self)) & 0x1fff
        guard fragment == 0, length >= ihl + 20 else { return false }
        let tcp = p + ihl
        let flags = tcp.load(fromByteOffset: 13, as: UInt8.self)
        guard flags & 0x02 != 0 else { return false }  // SYN
        let dataOffset = Int(tcp.load(fromByteOffset: 12, as: UInt8.self) >> 4) * 4
        guard dataOffset > 20, ihl + dataOffset <= length else { return false }
        var i = 20
        while i < dataOffset {
            let kind = tcp.load(fromByteOffset: i, as: UInt8.self)
            if kind == 0 { break }
            if kind == 1 { i += 1; continue }
            guard i + 1 < dataOffset else { break }
            let optionLength = Int(tcp.load(fromByteOffset: i + 1, as: UInt8.self))
            guard optionLength >= 2, i + optionLength <= dataOffset else { break }
            if kind == 2 && optionLength == 4 {
                let old = UInt16(bigEndian: tcp.loadUnaligned(fromByteOffset: i + 2, as: UInt16.self))
                guard old > maximum else { return false }
                tcp.storeBytes(of: maximum.bigEndian, toByteOffset: i + 2, as: UInt16.self)
                let oldSum = UInt16(bigEndian: tcp.loadUnaligned(fromByteOffset: 16, as: UInt16.self))
                // RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m')
                var sum = UInt32(~oldSum) + UInt32(~old) + UInt32(maximum)
                sum = (sum & 0xffff) + (sum >> 16)
                sum = (sum & 0xffff) + (sum >> 16)
                tcp.storeBytes(of: (~UInt16(truncatingIfNeeded: sum)).bigEndian, toByteOffset: 16, as: UInt16.self)
                return true
            }
            i += optionLength
        }
        return false
    }
}

/// IPv4 address helpers for configuration (not the packet path).
public enum IPv4 {
    public static func parse(_ s: String) -> UInt32? {
        let parts = s.split(separator: ".")
        guard parts.count == 4 else { return nil }
        var v: UInt32 = 0
        for p in parts { guard let o = UInt8(p) else { return nil }; v = v << 8 | UInt32(o) }
        return v
    }
    public static func format(_ v: UInt32) -> String { "\(v >> 24).\(v >> 16 & 0xff).\(v >> 8 & 0xff).\(v & 0xff)" }
}

/// Longest-prefix match over IPv4 routes. Small tables (a gateway's sites) are scanned in order of
/// decreasing prefix length, which beats a trie below a few hundred routes and never allocates.
struct IPv4RouteTable {
    struct Entry { var network: UInt32; var mask: UInt32; var length: Int; var tunnel: Int }
    private(set) var entries: [Entry] = []

    mutating func set(_ routes: [(network: UInt32, length: Int, tunnel: Int)]) {
        entries = routes.map { r in
            let mask: UInt32 = r.length == 0 ? 0 : ~UInt32(0) << UInt32(32 - r.length)
            return Entry(network: r.network & mask, mask: mask, length: r.length, tunnel: r.tunnel)
        }.sorted { $0.length > $1.length }
    }

    @inline(__always)
    func lookup(_ address: UInt32) -> Int? {
        for e in entries where address & e.mask == e.network { return e.tunnel }
        return nil
    }
}
