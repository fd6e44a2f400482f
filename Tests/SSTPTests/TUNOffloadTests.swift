import CAllocationCounter
import DataPlane
import Foundation
import PacketTestSupport
import SSTP
import Testing
@testable import SSTPNIO

// The P2S TUN offloads (SSTPNIO/TUNOffload.swift): reads cut into MSS segments, writes merged
// per flow with the flow's order kept. Reference helpers are plain byte arrays.

/// IPv4/TCP 172.16.201.2:40000 → 10.1.0.2:5201 (a P2S client's upload), 12-byte timestamp option.
private func tcpPacket(seq: UInt32, payload: [UInt8], flags: UInt8 = 0x10, sourcePort: UInt16 = 40000, id: UInt16 = 0x1234) -> [UInt8] {
    referenceTCPPacket(source: [172, 16, 201, 2], destination: [10, 1, 0, 2], sourcePort: sourcePort, destinationPort: 5201,
                       seq: seq, ack: 0x1001, payload: payload, flags: flags, id: id)
}

private func pattern(_ n: Int, seed: Int = 3) -> [UInt8] { (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 17 &+ seed &+ $0 >> 9) } }

/// What a writer handed to the "TUN": whole write(2)s, the vnet header split off.
private final class FakeTUN {
    var writes: [(header: VirtioNetHeader, packet: [UInt8])] = []
    var refuse = false
    func writer(groups: Int = 4, counters: TUNOffloadCounters? = nil) -> TUNCoalescingWriter {
        TUNCoalescingWriter(groups: groups, counters: counters, writeFramed: { [unowned self] p, n in
            writes.append((VirtioNetHeader(loadingFrom: p), Array(UnsafeRawBufferPointer(start: p + 10, count: n - 10))))
            return !refuse
        }, writePlain: { [unowned self] packet in
            writes.append((VirtioNetHeader(), Array(packet)))
            return !refuse
        })
    }
    /// Every write as the packets the kernel would see after segmenting GSO writes.
    var packets: [[UInt8]] {
        writes.flatMap { w -> [[UInt8]] in
            guard w.header.gsoType != 0 else { return [w.packet] }
            var bytes = [UInt8](repeating: 0, count: 10) + w.packet
            bytes.withUnsafeMutableBytes { w.header.store(to: $0.baseAddress!) }
            var out: [[UInt8]] = []
            let scratch = UnsafeMutableRawPointer.allocate(byteCount: 65536, alignment: 16)
            defer { scratch.deallocate() }
            _ = bytes.withUnsafeMutableBytes { raw in
                TUNReadOffload.forEachPacket(read: raw.baseAddress!, length: raw.count, scratch: scratch, scratchCapacity: 65536) { out.append(Array($0)) }
            }
            return out
        }
    }
}

private func write(_ w: TUNCoalescingWriter, _ packet: [UInt8]) { packet.withUnsafeBytes { w.write($0) } }

@Suite("P2S TUN offloads: segmented reads, coalesced writes")
struct TUNOffloadTests {
    @Test("A run of in-order segments becomes one GSO write; segmenting it again gives the same packets")
    func coalescesRun() throws {
        let tun = FakeTUN(), counters = TUNOffloadCounters()
        let w = tun.writer(counters: counters)
        let mss = 1348
        let packets = (0..<40).map { tcpPacket(seq: 1000 + UInt32($0 * mss), payload: pattern(mss, seed: $0), id: UInt16(0x1234 + $0)) }
        for p in packets { write(w, p) }
        #expect(tun.writes.isEmpty, "nothing is written before the batch ends")
        w.flush()
        let one = try #require(tun.writes.first)
        #expect(tun.writes.count == 1)
        #expect(one.header.gsoType == VirtioNetHeader.gsoTCPv4 && one.header.gsoSize == UInt16(mss))
        #expect(one.header.flags == VirtioNetHeader.needsChecksum && one.header.checksumStart == 20 && one.header.checksumOffset == 16)
        #expect(be16(one.packet, 2) == one.packet.count && one.packet.count == 52 + 40 * mss)
        let again = tun.packets
        #expect(again.count == 40)
        for (i, p) in again.enumerated() {
            #expect(checksumsValid(p))
            #expect(Array(p[20...]) == Array(packets[i][20...]), "segment \(i): TCP header and payload")
        }
        let stats = counters.snapshot(enabled: true)
        #expect(stats.coalescedWrites == 1 && stats.coalescedSegments == 40)
    }

    @Test("A flow's order is kept: its group is written before a packet of the flow that cannot join")
    func keepsFlowOrder() {
        let tun = FakeTUN()
        let w = tun.writer()
        let a = tcpPacket(seq: 1, payload: pattern(1000)), b = tcpPacket(seq: 1001, payload: pattern(1000, seed: 9))
        let ack = tcpPacket(seq: 2001, payload: [], flags: 0x10)              // no payload: not mergeable
        let gap = tcpPacket(seq: 9001, payload: pattern(1000, seed: 5))       // out of order: new group
        let other = tcpPacket(seq: 77, payload: pattern(1000, seed: 4), sourcePort: 40001)
        for p in [a, other, b, ack, gap] { write(w, p) }
        // a+b merged, written when the ACK came; the ACK alone; then at the flush other and gap.
        #expect(tun.writes.count == 2)
        #expect(tun.writes[0].header.gsoType == VirtioNetHeader.gsoTCPv4 && tun.writes[0].packet.count == 52 + 2000)
        #expect(tun.writes[1].header == VirtioNetHeader() && tun.writes[1].packet == ack)
        w.flush()
        #expect(tun.writes.count == 4)
        #expect(Set([tun.writes[2].packet, tun.writes[3].packet]) == Set([other, gap]), "single-segment groups are plain packets")
        #expect(tun.writes[2].header == VirtioNetHeader() && tun.writes[3].header == VirtioNetHeader())
        let flowA = tun.packets.filter { be16($0, 20) == 40000 }.map { be32($0, 24) }
        #expect(flowA == [1, 1001, 2001, 9001])
    }

    @Test("Corrupted segments, PSH and more flows than groups")
    func mergeLimits() {
        let tun = FakeTUN()
        let w = tun.writer(groups: 2)
        var bad = tcpPacket(seq: 1, payload: pattern(500))
        bad[60] ^= 0xff                                                       // checksum no longer valid
        write(w, bad)
        #expect(tun.writes.count == 1 && tun.writes[0].packet == bad, "not merged, passed on for the kernel to judge")
        write(w, tcpPacket(seq: 1, payload: pattern(500), flags: 0x18))       // PSH closes its group
        write(w, tcpPacket(seq: 501, payload: pattern(500)))
        #expect(tun.writes.count == 2, "the PSH segment's group could take nothing more and went out")
        for port in UInt16(50000)..<50003 { write(w, tcpPacket(seq: 1, payload: pattern(100), sourcePort: port)) }  // evicts
        w.flush()
        let seqs = tun.packets.filter { be16($0, 20) == 40000 }.map { be32($0, 24) }
        #expect(seqs == [1, 1, 501])
        #expect(tun.packets.count == 6)
    }

    @Test("Without groups every packet is written at once; failures are counted")
    func passthroughAndFailures() {
        let tun = FakeTUN()
        let w = tun.writer(groups: 0)
        write(w, tcpPacket(seq: 1, payload: pattern(100)))
        #expect(tun.writes.count == 1)
        let c = FakeTUN(); c.refuse = true
        let w2 = c.writer()
        for i in 0..<3 { write(w2, tcpPacket(seq: 1 + UInt32(i * 100), payload: pattern(100))) }
        w2.flush()
        #expect(w2.takeFailures() == 3 && w2.takeFailures() == 0)
    }

    @Test("Reads: a super-packet is cut at gso_size (the MSS), a partial checksum is completed, garbage is refused")
    func reads() throws {
        let payload = pattern(20_000)
        var superPacket = tcpPacket(seq: 0xffff_ff00, payload: payload, flags: 0x18)
        superPacket[10] = 0; superPacket[11] = 0
        let mss = 1360
        let header = VirtioNetHeader(flags: 1, gsoType: VirtioNetHeader.gsoTCPv4, headerLength: 52, gsoSize: UInt16(mss), checksumStart: 20, checksumOffset: 16)
        var read = [UInt8](repeating: 0, count: 10) + superPacket
        read.withUnsafeMutableBytes { header.store(to: $0.baseAddress!) }
        let scratch = UnsafeMutableRawPointer.allocate(byteCount: TUNReadOffload.scratchBytes, alignment: 16)
        defer { scratch.deallocate() }
        var segments: [[UInt8]] = []
        let outcome = read.withUnsafeMutableBytes {
            TUNReadOffload.forEachPacket(read: $0.baseAddress!, length: $0.count, scratch: scratch, scratchCapacity: TUNReadOffload.scratchBytes) { segments.append(Array($0)) }
        }
        #expect(outcome == .segmented((20_000 + mss - 1) / mss))
        #expect(segments.dropLast().allSatisfy { $0.count == 52 + mss })
        #expect(segments.allSatisfy { $0.count + SSTPDataFastPath.ipv4Overhead <= SSTPLimits.maxPacket })
        #expect(segments.allSatisfy(checksumsValid))
        #expect(segments.map { $0[20...].dropFirst(32) }.reduce([], +) == payload[...])
        #expect(segments.last![33] == 0x18 && segments.first![33] == 0x10)

        // Non-GSO with NEEDS_CSUM: the field holds the pseudo-header sum; completed in place.
        var plain = tcpPacket(seq: 5, payload: pattern(300))
        let pseudo = referenceChecksum(Array(plain[12..<20]) + [0, 6, UInt8((plain.count - 20) >> 8), UInt8((plain.count - 20) & 0xff)])
        plain[36] = UInt8(~pseudo >> 8); plain[37] = UInt8(~pseudo & 0xff)
        var read2 = [UInt8](repeating: 0, count: 10) + plain
        read2.withUnsafeMutableBytes { VirtioNetHeader(flags: 1, checksumStart: 20, checksumOffset: 16).store(to: $0.baseAddress!) }
        var got: [[UInt8]] = []
        let o2 = read2.withUnsafeMutableBytes {
            TUNReadOffload.forEachPacket(read: $0.baseAddress!, length: $0.count, scratch: scratch, scratchCapacity: 65536) { got.append(Array($0)) }
        }
        #expect(o2 == .plain(checksumCompleted: true) && got.count == 1 && checksumsValid(got[0]))

        var short = [UInt8](repeating: 0, count: 8)
        let o3 = short.withUnsafeMutableBytes {
            TUNReadOffload.forEachPacket(read: $0.baseAddress!, length: $0.count, scratch: scratch, scratchCapacity: 65536) { _ in }
        }
        #expect(o3 == .rejected(.truncatedHeader))
        var udpGSO = read
        udpGSO[1] = VirtioNetHeader.gsoUDPL4
        let o4 = udpGSO.withUnsafeMutableBytes {
            TUNReadOffload.forEachPacket(read: $0.baseAddress!, length: $0.count, scratch: scratch, scratchCapacity: 65536) { _ in }
        }
        #expect(o4 == .rejected(.unsupportedGSOType))
    }

    @Test("Segmenting reads and coalescing writes allocate nothing")
    func noAllocations() {
        let mss = 1360
        var superPacket = [UInt8](repeating: 0, count: 10) + tcpPacket(seq: 1, payload: pattern(mss * 40))
        superPacket.withUnsafeMutableBytes {
            VirtioNetHeader(flags: 1, gsoType: 1, headerLength: 52, gsoSize: UInt16(mss), checksumStart: 20, checksumOffset: 16).store(to: $0.baseAddress!)
        }
        let read = UnsafeMutableRawPointer.allocate(byteCount: superPacket.count, alignment: 16)
        defer { read.deallocate() }
        let scratch = UnsafeMutableRawPointer.allocate(byteCount: 65536, alignment: 16)
        defer { scratch.deallocate() }
        nonisolated(unsafe) var framed = 0, plain = 0
        let w = TUNCoalescingWriter(groups: 4, counters: TUNOffloadCounters(), writeFramed: { _, n in framed += n; return true },
                                    writePlain: { p in plain += p.count; return true })
        var outcome = TUNReadOutcome.plain(checksumCompleted: false)
        let counted = allocations {
            for _ in 0..<50 {
                superPacket.withUnsafeBytes { read.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
                outcome = TUNReadOffload.forEachPacket(read: read, length: superPacket.count, scratch: scratch, scratchCapacity: 65536) { w.write($0) }
                w.flush()
            }
        }
        #expect(outcome == .segmented(40))
        #expect(framed == 50 * superPacket.count && plain == 0)
        #expect(counted == 0)
    }
}

private func allocations(_ body: () -> Void) -> Int {
    vpngw_allocation_counting_begin()
    body()
    return vpngw_allocation_counting_end()
}
