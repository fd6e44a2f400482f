#if canImport(Glibc)
import Glibc
#endif

/// Segmentation and coalescing offloads between a TUN device opened with IFF_VNET_HDR and the
/// ESP path. The kernel hands us TCP super-packets (TSO, up to 64 KiB) and takes coalesced ones
/// back (GRO in reverse), so a 64 KiB burst costs one TUN read or write instead of ~45.
///
/// Everything here works on raw memory, checks every length it reads, and never allocates.

/// `struct virtio_net_hdr` (include/uapi/linux/virtio_net.h): the 10 bytes in front of every packet
/// on a TUN with IFF_VNET_HDR. Multi-byte fields are in host (little-endian) order on Linux.
public struct VirtioNetHeader: Equatable, Sendable {
    public static let length = 10
    /// VIRTIO_NET_HDR_F_NEEDS_CSUM: the L4 checksum at csumStart+csumOffset is a partial
    /// (pseudo-header) sum to be completed over [csumStart, end).
    public static let needsChecksum: UInt8 = 1
    public static let gsoNone: UInt8 = 0
    public static let gsoTCPv4: UInt8 = 1
    public static let gsoUDP: UInt8 = 3
    public static let gsoTCPv6: UInt8 = 4
    public static let gsoUDPL4: UInt8 = 5
    public static let gsoECN: UInt8 = 0x80

    public var flags: UInt8 = 0
    public var gsoType: UInt8 = 0
    public var headerLength: UInt16 = 0
    public var gsoSize: UInt16 = 0
    public var checksumStart: UInt16 = 0
    public var checksumOffset: UInt16 = 0

    public init(flags: UInt8 = 0, gsoType: UInt8 = 0, headerLength: UInt16 = 0, gsoSize: UInt16 = 0,
                checksumStart: UInt16 = 0, checksumOffset: UInt16 = 0) {
        self.flags = flags; self.gsoType = gsoType; self.headerLength = headerLength; self.gsoSize = gsoSize
        self.checksumStart = checksumStart; self.checksumOffset = checksumOffset
    }

    @inline(__always)
    public init(loadingFrom p: UnsafeRawPointer) {
        flags = p.load(as: UInt8.self)
        gsoType = p.load(fromByteOffset: 1, as: UInt8.self)
        headerLength = UInt16(littleEndian: p.loadUnaligned(fromByteOffset: 2, as: UInt16.self))
        gsoSize = UInt16(littleEndian: p.loadUnaligned(fromByteOffset: 4, as: UInt16.self))
        checksumStart = UInt16(littleEndian: p.loadUnaligned(fromByteOffset: 6, as: UInt16.self))
        checksumOffset = UInt16(littleEndian: p.loadUnaligned(fromByteOffset: 8, as: UInt16.self))
    }

    @inline(__always)
    public func store(to p: UnsafeMutableRawPointer) {
        p.storeBytes(of: flags, as: UInt8.self)
        p.storeBytes(of: gsoType, toByteOffset: 1, as: UInt8.self)
        p.storeBytes(of: headerLength.littleEndian, toByteOffset: 2, as: UInt16.self)
        p.storeBytes(of: gsoSize.littleEndian, toByteOffset: 4, as: UInt16.self)
        p.storeBytes(of: checksumStart.littleEndian, toByteOffset: 6, as: UInt16.self)
        p.storeBytes(of: checksumOffset.littleEndian, toByteOffset: 8, as: UInt16.self)
    }

    /// No offload: a whole packet with a complete checksum.
    @inline(__always)
    public static func storePlain(to p: UnsafeMutableRawPointer) {
        (p).initializeMemory(as: UInt8.self, repeating: 0, count: length)
    }
}

/// RFC 1071 Internet checksum arithmetic with a wide accumulator.
public enum InternetChecksum {
    /// One's-complement sum of `count` bytes at `p` added to `initial` (not folded, not inverted).
    @inline(__always)
    public static func sum(_ p: UnsafeRawPointer, count: Int, initial: UInt64 = 0) -> UInt64 {
        var acc = initial
        var i = 0
        // 8 bytes at a time: add the four big-endian 16-bit words via two 32-bit halves.
        while i + 8 <= count {
            let v = UInt64(bigEndian: p.loadUnaligned(fromByteOffset: i, as: UInt64.self))
            acc &+= (v >> 32) &+ (v & 0xffff_ffff)
            i += 8
        }
        while i + 2 <= count {
            acc &+= UInt64(UInt16(bigEndian: p.loadUnaligned(fromByteOffset: i, as: UInt16.self)))
            i += 2
        }
        if i < count { acc &+= UInt64(p.load(fromByteOffset: i, as: UInt8.self)) << 8 }
        return acc
    }

    @inline(__always)
    public static func fold(_ sum: UInt64) -> UInt16 {
        var s = sum
        while s >> 16 != 0 { s = (s & 0xffff) &+ (s >> 16) }
        return UInt16(truncatingIfNeeded: s)
    }

    /// IPv4 pseudo-header (RFC 793 §3.1) for protocol `proto` and L4 length `length`, unfolded.
    @inline(__always)
    public static func pseudoHeaderIPv4(_ ip: UnsafeRawPointer, proto: UInt8, length: Int) -> UInt64 {
        sum(ip + 12, count: 8) &+ UInt64(proto) &+ UInt64(length)
    }

    /// Recomputes the IPv4 header checksum in place (header length from IHL).
    @inline(__always)
    public static func fixIPv4Header(_ ip: UnsafeMutableRawPointer) {
        let ihl = Int(ip.load(as: UInt8.self) & 0x0f) * 4
        ip.storeBytes(of: UInt16(0), toByteOffset: 10, as: UInt16.self)
        ip.storeBytes(of: (~fold(sum(ip, count: ihl))).bigEndian, toByteOffset: 10, as: UInt16.self)
    }
}

/// Why a packet read from the offloading TUN was not turned into segments.
public enum OffloadRejection: Equatable, Sendable {
    case truncatedHeader, unsupportedGSOType, malformedSuperPacket, checksumOutOfRange
}

/// TSO in software (what the NIC would do): splits a TCP/IPv4 super-packet described by a
/// virtio_net_hdr into MSS-sized segments with their own IP length, id, checksums, sequence
/// numbers and flags (FIN/PSH on the last only, CWR on the first only — as tcp_gso_segment).
public struct TCPSegmentation {
    public let header: VirtioNetHeader
    /// IP + TCP header bytes repeated in every segment.
    public let headerLength: Int
    public let payloadLength: Int
    public let segmentSize: Int
    public var count: Int { payloadLength == 0 ? 1 : (payloadLength + segmentSize - 1) / segmentSize }

    /// Validates the super-packet at `p` (starting at the IPv4 header, `length` bytes, the vnet
    /// header already stripped). nil + rejection when it is not a TCPv4 GSO packet we can split.
    public init?(_ header: VirtioNetHeader, packet p: UnsafeRawPointer, length: Int, rejection: inout OffloadRejection?) {
        self.header = header
        guard header.gsoType & ~VirtioNetHeader.gsoECN == VirtioNetHeader.gsoTCPv4 else { rejection = .unsupportedGSOType; return nil }
        guard length >= 40, p.load(as: UInt8.self) >> 4 == 4 else { rejection = .malformedSuperPacket; return nil }
        let ihl = Int(p.load(as: UInt8.self) & 0x0f) * 4
        guard ihl >= 20, length >= ihl + 20, p.load(fromByteOffset: 9, as: UInt8.self) == 6 else { rejection = .malformedSuperPacket; return nil }
        let tcpLength = Int(p.load(fromByteOffset: ihl + 12, as: UInt8.self) >> 4) * 4
        guard tcpLength >= 20, length >= ihl + tcpLength else { rejection = .malformedSuperPacket; return nil }
        let mss = Int(header.gsoSize)
        guard mss > 0 else { rejection = .malformedSuperPacket; return nil }
        headerLength = ihl + tcpLength
        payloadLength = length - headerLength
        segmentSize = mss
    }

    /// Writes segment `index` (0..<count) as a complete IPv4/TCP packet at `out`; returns its length.
    /// `out` needs headerLength + segmentSize bytes and must not overlap `p`.
    @inline(__always)
    public func write(segment index: Int, from p: UnsafeRawPointer, to out: UnsafeMutableRawPointer) -> Int {
        let ihl = Int(p.load(as: UInt8.self) & 0x0f) * 4
        let offset = index * segmentSize
        let chunk = min(segmentSize, payloadLength - offset)
        let total = headerLength + chunk
        out.copyMemory(from: p, byteCount: headerLength)
        (out + headerLength).copyMemory(from: p + headerLength + offset, byteCount: chunk)
        // IPv4: total length, identification + index, checksum.
        out.storeBytes(of: UInt16(total).bigEndian, toByteOffset: 2, as: UInt16.self)
        let id = UInt16(bigEndian: p.loadUnaligned(fromByteOffset: 4, as: UInt16.self)) &+ UInt16(truncatingIfNeeded: index)
        out.storeBytes(of: id.bigEndian, toByteOffset: 4, as: UInt16.self)
        InternetChecksum.fixIPv4Header(out)
        // TCP: sequence number, flags, checksum.
        let tcp = out + ihl
        let seq = UInt32(bigEndian: p.loadUnaligned(fromByteOffset: ihl + 4, as: UInt32.self)) &+ UInt32(truncatingIfNeeded: offset)
        tcp.storeBytes(of: seq.bigEndian, toByteOffset: 4, as: UInt32.self)
        var flags = p.load(fromByteOffset: ihl + 13, as: UInt8.self)
        let isLast = offset + chunk >= payloadLength
        if !isLast { flags &= ~UInt8(0x09) }       // FIN, PSH only on the last segment
        if index > 0 { flags &= ~UInt8(0x80) }     // CWR only on the first
        tcp.storeBytes(of: flags, toByteOffset: 13, as: UInt8.self)
        let tcpTotal = total - ihl
        tcp.storeBytes(of: UInt16(0), toByteOffset: 16, as: UInt16.self)
        let s = InternetChecksum.sum(tcp, count: tcpTotal, initial: InternetChecksum.pseudoHeaderIPv4(out, proto: 6, length: tcpTotal))
        tcp.storeBytes(of: (~InternetChecksum.fold(s)).bigEndian, toByteOffset: 16, as: UInt16.self)
        return total
    }

    /// Completes a partial checksum (VIRTIO_NET_HDR_F_NEEDS_CSUM on a non-GSO packet): the field
    /// at start+offset holds the pseudo-header sum; the result covers [start, length).
    @inline(__always)
    public static func completeChecksum(_ p: UnsafeMutableRawPointer, length: Int, header: VirtioNetHeader) -> Bool {
        let start = Int(header.checksumStart), field = start + Int(header.checksumOffset)
        guard start < length, field + 2 <= length else { return false }
        let s = InternetChecksum.sum(p + start, count: length - start)
        var folded = ~InternetChecksum.fold(s)
        // UDP (RFC 768): a computed zero is sent as all ones; harmless for TCP (never zero there).
        if folded == 0 && header.checksumOffset == 6 { folded = 0xffff }
        p.storeBytes(of: folded.bigEndian, toByteOffset: field, as: UInt16.self)
        return true
    }
}

/// GRO in reverse for the TUN write side: consecutive in-order TCP/IPv4 segments of one flow are
/// merged into one super-packet the kernel accepts with a virtio_net_hdr (gso TCPv4, partial
/// checksum), so the receiving stack sees one 64 KiB packet instead of ~45.
///
/// Merge rules (a subset of the kernel's tcp_gro_receive, so the result is what GRO would make):
/// IPv4 without options or fragmentation; same addresses, ports, TOS, TTL, DF, ACK number and TCP
/// options; ACK only (PSH allowed, it closes the group); payload > 0; each segment's sequence
/// number follows the group; all segments but the last exactly `gsoSize`; ≤ 65535 bytes; each
/// segment's own checksums valid (we do not vouch for what the far end sent).
public struct TCPCoalescingGroup {
    /// Buffer owned by the caller: VirtioNetHeader.length bytes of vnet header, then the packet.
    public let buffer: UnsafeMutableRawPointer
    public let capacity: Int
    public private(set) var length = 0           // IP packet bytes after the vnet header
    public private(set) var segments = 0
    private var gsoSize = 0
    private var nextSequence: UInt32 = 0
    private var closed = false
    private var headerLength = 0

    public init(buffer: UnsafeMutableRawPointer, capacity: Int) {
        self.buffer = buffer; self.capacity = capacity
    }

    public var isEmpty: Bool { segments == 0 }
    private var packet: UnsafeMutableRawPointer { buffer + VirtioNetHeader.length }

    /// Whether the packet at `p` may start or join a group at all (and is checksum-valid).
    @inline(__always)
    public static func eligible(_ p: UnsafeRawPointer, length: Int) -> Bool {
        guard length >= 40, p.load(as: UInt8.self) == 0x45, p.load(fromByteOffset: 9, as: UInt8.self) == 6 else { return false }
        let total = Int(UInt16(bigEndian: p.loadUnaligned(fromByteOffset: 2, as: UInt16.self)))
        guard total == length else { return false }
        let frag = UInt16(bigEndian: p.loadUnaligned(fromByteOffset: 6, as: UInt16.self))
        guard frag & 0x3fff == 0 else { return false }                 // no MF, offset 0
        let tcpLength = Int(p.load(fromByteOffset: 32, as: UInt8.self) >> 4) * 4
        guard tcpLength >= 20, length > 20 + tcpLength else { return false }   // payload > 0
        let flags = p.load(fromByteOffset: 33, as: UInt8.self)
        guard flags & ~UInt8(0x18) == 0, flags & 0x10 != 0 else { return false } // ACK, maybe PSH
        guard InternetChecksum.fold(InternetChecksum.sum(p, count: 20)) == 0xffff else { return false }
        let s = InternetChecksum.sum(p + 20, count: length - 20, initial: InternetChecksum.pseudoHeaderIPv4(p, proto: 6, length: length - 20))
        return InternetChecksum.fold(s) == 0xffff
    }

    /// Starts the group with an eligible packet.
    public mutating func start(_ p: UnsafeRawPointer, length: Int) {
        precondition(length + VirtioNetHeader.length <= capacity)
        packet.copyMemory(from: p, byteCount: length)
        self.length = length
        segments = 1
        headerLength = 20 + Int(p.load(fromByteOffset: 32, as: UInt8.self) >> 4) * 4
        gsoSize = length - headerLength
        nextSequence = UInt32(bigEndian: p.loadUnaligned(fromByteOffset: 24, as: UInt32.self)) &+ UInt32(gsoSize)
        closed = p.load(fromByteOffset: 33, as: UInt8.self) & 0x08 != 0
    }

    /// Same flow (addresses and ports) as the group, whether or not it can be appended.
    @inline(__always)
    public func sameFlow(_ p: UnsafeRawPointer, length: Int) -> Bool {
        guard segments > 0, length >= 24, p.load(fromByteOffset: 9, as: UInt8.self) == 6 else { return false }
        let ihl = Int(p.load(as: UInt8.self) & 0x0f) * 4
        guard length >= ihl + 4 else { return false }
        return p.loadUnaligned(fromByteOffset: 12, as: UInt64.self) == packet.loadUnaligned(fromByteOffset: 12, as: UInt64.self)
            && p.loadUnaligned(fromByteOffset: ihl, as: UInt32.self) == packet.loadUnaligned(fromByteOffset: 20, as: UInt32.self)
    }

    /// Appends an eligible packet of the same flow if the merge rules allow; false leaves the group unchanged.
    public mutating func append(_ p: UnsafeRawPointer, length: Int) -> Bool {
        guard segments > 0, !closed else { return false }
        let h = 20 + Int(p.load(fromByteOffset: 32, as: UInt8.self) >> 4) * 4
        let payload = length - h
        guard h == headerLength, payload > 0, payload <= gsoSize,
              self.length + payload + VirtioNetHeader.length <= capacity, self.length + payload <= 65535 else { return false }
        // TOS (byte 1), DF (byte 6), TTL (byte 8) equal; ACK number equal; options equal.
        guard p.load(fromByteOffset: 1, as: UInt8.self) == packet.load(fromByteOffset: 1, as: UInt8.self),
              p.load(fromByteOffset: 6, as: UInt8.self) == packet.load(fromByteOffset: 6, as: UInt8.self),
              p.load(fromByteOffset: 8, as: UInt8.self) == packet.load(fromByteOffset: 8, as: UInt8.self),
              p.loadUnaligned(fromByteOffset: 28, as: UInt32.self) == packet.loadUnaligned(fromByteOffset: 28, as: UInt32.self),
              UInt32(bigEndian: p.loadUnaligned(fromByteOffset: 24, as: UInt32.self)) == nextSequence,
              memcmp(p + 40, packet + 40, h - 40) == 0 else { return false }
        (packet + self.length).copyMemory(from: p + h, byteCount: payload)
        self.length += payload
        segments += 1
        nextSequence &+= UInt32(payload)
        let flags = p.load(fromByteOffset: 33, as: UInt8.self)
        if flags & 0x08 != 0 { packet.storeBytes(of: packet.load(fromByteOffset: 33, as: UInt8.self) | 0x08, toByteOffset: 33, as: UInt8.self) }
        // A short segment or PSH ends what GRO would merge.
        if payload < gsoSize || flags & 0x08 != 0 { closed = true }
        return true
    }

    /// Finalises headers and the vnet header; returns (pointer, byte count) to write to the TUN.
    /// The group is empty afterwards.
    public mutating func finish() -> (UnsafeRawPointer, Int) {
        defer { segments = 0; length = 0; closed = false }
        if segments == 1 {
            VirtioNetHeader.storePlain(to: buffer)
            return (UnsafeRawPointer(buffer), length + VirtioNetHeader.length)
        }
        packet.storeBytes(of: UInt16(length).bigEndian, toByteOffset: 2, as: UInt16.self)
        InternetChecksum.fixIPv4Header(packet)
        // CHECKSUM_PARTIAL convention: the field holds the folded pseudo-header sum, not inverted.
        let pseudo = InternetChecksum.pseudoHeaderIPv4(packet, proto: 6, length: length - 20)
        packet.storeBytes(of: InternetChecksum.fold(pseudo).bigEndian, toByteOffset: 36, as: UInt16.self)
        VirtioNetHeader(flags: VirtioNetHeader.needsChecksum, gsoType: VirtioNetHeader.gsoTCPv4,
                        headerLength: UInt16(headerLength), gsoSize: UInt16(gsoSize),
                        checksumStart: 20, checksumOffset: 16).store(to: buffer)
        return (UnsafeRawPointer(buffer), length + VirtioNetHeader.length)
    }
}
