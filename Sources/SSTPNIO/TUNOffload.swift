// TUN offloads for the point-to-site TUN (the S2S data plane's TCPOffload pieces, shaped for
// SSTP): with IFF_VNET_HDR + TUNSETOFFLOAD(CSUM|TSO4|TSO_ECN) every read and write carries a
// 10-byte virtio_net_hdr. Reads may be 64 KiB TCP super-packets, cut here into MSS segments
// before they are framed into PPP/SSTP (the segment size is the flow's gso_size, i.e. the MSS
// the PPP client announced in its SYN); writes of in-order TCP segments of one flow are merged
// into one super-packet (GRO in reverse), so a client's upload costs one TUN write per ~45 segments.
// Nothing here allocates per packet.
import DataPlane
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// What the P2S TUN offloads did since the device was opened (any thread reads; the reader
/// thread and the event loops add).
public struct TUNOffloadStats: Sendable, Equatable {
    /// IFF_VNET_HDR + TSO are on for this device.
    public var enabled = false
    /// TCP super-packets read from the TUN and the segments cut from them.
    public var superPacketsRead: UInt64 = 0
    public var segmentsFromSuperPackets: UInt64 = 0
    /// Non-GSO reads whose partial checksum (NEEDS_CSUM) was completed here.
    public var checksumsCompleted: UInt64 = 0
    /// TUN writes of merged TCP segments and the segments they carried.
    public var coalescedWrites: UInt64 = 0
    public var coalescedSegments: UInt64 = 0
    /// Reads that could not be segmented or checksummed (dropped).
    public var rejected: UInt64 = 0
    public init() {}

    /// One line for logs: "TUN super-packets 12 → 480 segments, …".
    public var summary: String {
        guard enabled else { return "offloads off" }
        return "TUN super-packets \(superPacketsRead) → \(segmentsFromSuperPackets) segments, checksums completed \(checksumsCompleted), "
            + "TUN coalesced \(coalescedWrites) writes (\(coalescedSegments) segments), rejected \(rejected)"
    }
}

/// Lock-free counters behind TUNOffloadStats.
public final class TUNOffloadCounters: Sendable {
    let superPacketsRead = Atomic<UInt64>(0)
    let segmentsFromSuperPackets = Atomic<UInt64>(0)
    let checksumsCompleted = Atomic<UInt64>(0)
    let coalescedWrites = Atomic<UInt64>(0)
    let coalescedSegments = Atomic<UInt64>(0)
    let rejected = Atomic<UInt64>(0)
    public init() {}

    public func snapshot(enabled: Bool) -> TUNOffloadStats {
        var s = TUNOffloadStats()
        s.enabled = enabled
        s.superPacketsRead = superPacketsRead.load(ordering: .relaxed)
        s.segmentsFromSuperPackets = segmentsFromSuperPackets.load(ordering: .relaxed)
        s.checksumsCompleted = checksumsCompleted.load(ordering: .relaxed)
        s.coalescedWrites = coalescedWrites.load(ordering: .relaxed)
        s.coalescedSegments = coalescedSegments.load(ordering: .relaxed)
        s.rejected = rejected.load(ordering: .relaxed)
        return s
    }
}

/// What one read from an offloading TUN carried.
public enum TUNReadOutcome: Equatable, Sendable {
    /// One packet, complete (its partial checksum, if any, completed in place).
    case plain(checksumCompleted: Bool)
    /// A TCP super-packet cut into this many segments.
    case segmented(Int)
    case rejected(OffloadRejection)
}

public enum TUNReadOffload {
    /// The read buffer for one read: vnet header + the largest IPv4 packet.
    public static let readBytes = VirtioNetHeader.length + 65536
    /// Scratch for one segment.
    public static let scratchBytes = 65536

    /// Hands each IPv4 packet of one read (`length` bytes at `read`, starting with the vnet header)
    /// to `body`: the packet itself, or each MSS segment of a super-packet, written to `scratch`
    /// one after the other (valid only during the call). The packet's checksum is completed in place.
    @inline(__always)
    public static func forEachPacket(read: UnsafeMutableRawPointer, length n: Int, scratch: UnsafeMutableRawPointer, scratchCapacity: Int,
                                     _ body: (UnsafeRawBufferPointer) -> Void) -> TUNReadOutcome {
        guard n > VirtioNetHeader.length else { return .rejected(.truncatedHeader) }
        let header = VirtioNetHeader(loadingFrom: read)
        let packet = read + VirtioNetHeader.length
        let length = n - VirtioNetHeader.length
        if header.gsoType == VirtioNetHeader.gsoNone {
            var completed = false
            if header.flags & VirtioNetHeader.needsChecksum != 0 {
                guard TCPSegmentation.completeChecksum(packet, length: length, header: header) else { return .rejected(.checksumOutOfRange) }
                completed = true
            }
            body(UnsafeRawBufferPointer(start: packet, count: length))
            return .plain(checksumCompleted: completed)
        }
        var rejection: OffloadRejection?
        guard let segmentation = TCPSegmentation(header, packet: packet, length: length, rejection: &rejection) else {
            return .rejected(rejection ?? .malformedSuperPacket)
        }
        guard segmentation.headerLength + segmentation.segmentSize <= scratchCapacity else { return .rejected(.malformedSuperPacket) }
        for index in 0..<segmentation.count {
            let n = segmentation.write(segment: index, from: packet, to: scratch)
            body(UnsafeRawBufferPointer(start: scratch, count: n))
        }
        return .segmented(segmentation.count)
    }
}

/// The write side: IPv4 packets for an offloading TUN, in-order TCP segments of a flow merged
/// (TCPCoalescingGroup: GRO's rules, each segment's checksums verified), everything else written
/// alone behind a zero vnet header. Owned by one thread (an event loop): `write` packets of a
/// batch, then `flush()` at the batch's end so latency does not grow. A flow's order is kept: its
/// group is flushed before a packet of the same flow that cannot join it is written.
public final class TUNCoalescingWriter {
    /// Bytes that start with the vnet header (a finished group) → the TUN; false: refused.
    public typealias FramedSink = (UnsafeRawPointer, Int) -> Bool
    /// One packet without a vnet header → the TUN (behind a zero header); false: refused.
    public typealias PlainSink = (UnsafeRawBufferPointer) -> Bool

    public let groupCount: Int
    private let groupBytes = VirtioNetHeader.length + 65536
    private let memory: UnsafeMutableRawPointer
    private let groups: UnsafeMutablePointer<TCPCoalescingGroup>
    private var nextVictim = 0
    private var pending = 0
    private let writeFramed: FramedSink
    private let writePlain: PlainSink
    private let counters: TUNOffloadCounters?
    /// Packets whose TUN write failed since the last `takeFailures()`.
    public private(set) var failedPackets = 0
    /// Since creation (also published to `counters`).
    public private(set) var coalescedWrites = 0
    public private(set) var coalescedSegments = 0

    /// `groups` 0: no merging (a TUN without offloads), every packet goes to `writePlain` at once.
    public init(groups: Int = 4, counters: TUNOffloadCounters? = nil, writeFramed: @escaping FramedSink, writePlain: @escaping PlainSink) {
        groupCount = max(0, groups)
        memory = UnsafeMutableRawPointer.allocate(byteCount: max(1, groupCount * groupBytes), alignment: 64)
        self.groups = UnsafeMutablePointer<TCPCoalescingGroup>.allocate(capacity: max(1, groupCount))
        for k in 0..<groupCount {
            (self.groups + k).initialize(to: TCPCoalescingGroup(buffer: memory + k * groupBytes, capacity: groupBytes))
        }
        self.counters = counters
        self.writeFramed = writeFramed
        self.writePlain = writePlain
    }

    deinit {
        groups.deinitialize(count: groupCount)
        groups.deallocate()
        memory.deallocate()
    }

    /// One IPv4 packet for the TUN (copied if it may be merged; written now otherwise).
    @inline(__always)
    public func write(_ packet: UnsafeRawBufferPointer) {
        guard groupCount > 0, let p = packet.baseAddress else {
            if !writePlain(packet) { failedPackets += 1 }
            return
        }
        let length = packet.count
        var same = -1
        if pending > 0 {
            for k in 0..<groupCount where groups[k].sameFlow(p, length: length) { same = k; break }
        }
        guard length + VirtioNetHeader.length <= groupBytes, TCPCoalescingGroup.eligible(p, length: length) else {
            if same >= 0 { flushGroup(same) }     // keep the flow's order
            if !writePlain(packet) { failedPackets += 1 }
            return
        }
        if same >= 0 {
            if groups[same].append(p, length: length) { return }
            flushGroup(same)
            groups[same].start(p, length: length)
            pending += 1
            return
        }
        var k = -1
        if pending < groupCount {
            for g in 0..<groupCount where groups[g].isEmpty { k = g; break }
        }
        if k < 0 { k = nextVictim; nextVictim = (nextVictim + 1) % groupCount; flushGroup(k) }
        groups[k].start(p, length: length)
        pending += 1
    }

    /// Writes every open group (end of a batch).
    @inline(__always)
    public func flush() {
        guard pending > 0 else { return }
        for k in 0..<groupCount { flushGroup(k) }
    }

    /// Failed packets since the last call (the caller counts them as drops).
    @inline(__always)
    public func takeFailures() -> Int {
        defer { failedPackets = 0 }
        return failedPackets
    }

    @inline(__always)
    private func flushGroup(_ k: Int) {
        let segments = groups[k].segments
        guard segments > 0 else { return }
        pending -= 1
        let (p, n) = groups[k].finish()
        if segments > 1 {
            coalescedWrites += 1
            coalescedSegments += segments
            counters?.coalescedWrites.wrappingAdd(1, ordering: .relaxed)
            counters?.coalescedSegments.wrappingAdd(UInt64(segments), ordering: .relaxed)
        }
        if !writeFramed(p, n) { failedPackets += segments }
    }
}
