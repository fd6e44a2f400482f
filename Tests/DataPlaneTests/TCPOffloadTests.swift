import CAllocationCounter
import Foundation
import PacketTestSupport
import Testing
@testable import DataPlane

/// An IPv4/TCP packet 10.1.0.4:40000 → 10.2.0.4:5201 with a 12-byte timestamp option.
private func tcpPacket(seq: UInt32, payload: [UInt8], flags: UInt8 = 0x10, ack: UInt32 = 0x01020304,
                       id: UInt16 = 0x1234, options: [UInt8] = [1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2]) -> [UInt8] {
    referenceTCPPacket(source: [10, 1, 0, 4], destination: [10, 2, 0, 4], sourcePort: 40000, destinationPort: 5201,
                       seq: seq, ack: ack, payload: payload, flags: flags, id: id, options: options)
}

private func pattern(_ n: Int, seed: Int = 7) -> [UInt8] { (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ seed &+ $0 >> 8) } }

/// Runs the segmenter over a super-packet as the kernel would hand it over (vnet header separate).
private func segment(_ superPacket: [UInt8], gsoSize: Int, gsoType: UInt8 = VirtioNetHeader.gsoTCPv4) -> [[UInt8]]? {
    let header = VirtioNetHeader(flags: VirtioNetHeader.needsChecksum, gsoType: gsoType, headerLength: 52, gsoSize: UInt16(gsoSize),
                                 checksumStart: 20, checksumOffset: 16)
    return superPacket.withUnsafeBytes { raw -> [[UInt8]]? in
        var rejection: OffloadRejection?
        guard let s = TCPSegmentation(header, packet: raw.baseAddress!, length: raw.count, rejection: &rejection) else { return nil }
        let out = UnsafeMutableRawPointer.allocate(byteCount: 70_000, alignment: 16)
        defer { out.deallocate() }
        return (0..<s.count).map { i in
            let n = s.write(segment: i, from: raw.baseAddress!, to: out)
            return Array(UnsafeRawBufferPointer(start: out, count: n))
        }
    }
}

@Suite("TUN offloads: TSO in software and coalesced writes")
struct TCPOffloadTests {
    @Test("RFC 1071 §3 example: the sum of 0001 f203 f4f5 f6f7 is ddf2")
    func rfc1071Example() {
        let bytes: [UInt8] = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]
        let folded = bytes.withUnsafeBytes { InternetChecksum.fold(InternetChecksum.sum($0.baseAddress!, count: 8)) }
        #expect(folded == 0xddf2)
        // Odd lengths and every alignment agree with the plain reference.
        let data = pattern(1501)
        for start in 0..<8 {
            for length in [0, 1, 2, 3, 7, 8, 9, 15, 64, 1493] {
                let slice = Array(data[start..<(start + length)])
                let ours = data.withUnsafeBytes { ~InternetChecksum.fold(InternetChecksum.sum($0.baseAddress! + start, count: length)) }
                #expect(ours == referenceChecksum(slice), "start \(start) length \(length)")
            }
        }
    }

    @Test("virtio_net_hdr is 10 little-endian bytes")
    func virtioHeaderLayout() {
        let h = VirtioNetHeader(flags: 1, gsoType: 1, headerLength: 0x0134, gsoSize: 0x0548, checksumStart: 20, checksumOffset: 16)
        var bytes = [UInt8](repeating: 0xee, count: 10)
        bytes.withUnsafeMutableBytes { h.store(to: $0.baseAddress!) }
        #expect(bytes == [1, 1, 0x34, 0x01, 0x48, 0x05, 20, 0, 16, 0])
        #expect(bytes.withUnsafeBytes { VirtioNetHeader(loadingFrom: $0.baseAddress!) } == h)
    }

    @Test("A 64 KiB super-packet becomes MSS segments with their own lengths, ids, sequence numbers, flags and checksums",
          arguments: [(1348, 0x19 as UInt8), (1000, 0x10), (536, 0x18), (1448, 0x91)])
    func segmentation(mss: Int, flags: UInt8) throws {
        let payload = pattern(65_000 - 52)
        let seq: UInt32 = 0xffff_f000   // wraps during the run
        var superPacket = tcpPacket(seq: seq, payload: payload, flags: flags)
        superPacket[10] = 0; superPacket[11] = 0   // the kernel leaves checksums for us to fill
        let segments = try #require(segment(superPacket, gsoSize: mss))
        #expect(segments.count == (payload.count + mss - 1) / mss)
        var rebuilt: [UInt8] = []
        for (i, s) in segments.enumerated() {
            #expect(checksumsValid(s), "segment \(i)")
            #expect(be16(s, 2) == s.count)
            #expect(be16(s, 4) == (0x1234 + i) & 0xffff)
            #expect(be32(s, 24) == seq &+ UInt32(i * mss))
            let f = s[33]
            let last = i == segments.count - 1
            #expect(f & 0x01 == (last ? flags & 0x01 : 0), "FIN only on the last")
            #expect(f & 0x08 == (last ? flags & 0x08 : 0), "PSH only on the last")
            #expect(f & 0x80 == (i == 0 ? flags & 0x80 : 0), "CWR only on the first")
            #expect(f & 0x10 == 0x10)
            #expect(Array(s[40..<52]) == Array(superPacket[40..<52]), "options copied")
            if !last { #expect(s.count == 52 + mss) }
            rebuilt += s[52...]
        }
        #expect(rebuilt == payload)
    }

    @Test("Super-packets that are not TCPv4 GSO are refused, never half-cut")
    func segmentationRejects() {
        let p = tcpPacket(seq: 1, payload: pattern(3000))
        #expect(segment(p, gsoSize: 1000, gsoType: VirtioNetHeader.gsoTCPv6) == nil)
        #expect(segment(p, gsoSize: 1000, gsoType: VirtioNetHeader.gsoUDPL4) == nil)
        #expect(segment(p, gsoSize: 0) == nil)
        #expect(segment(Array(p[0..<30]), gsoSize: 1000) == nil)
        var udp = p; udp[9] = 17
        #expect(segment(udp, gsoSize: 1000) == nil)
        var badOffset = p; badOffset[32] = 0xf0   // TCP header longer than the packet
        #expect(segment(Array(badOffset[0..<56]), gsoSize: 1000) == nil)
    }

    @Test("A partial checksum (NEEDS_CSUM) is completed to what the full computation gives")
    func completesPartialChecksum() {
        var p = tcpPacket(seq: 99, payload: pattern(777))
        let expected = Array(p[36..<38])
        // Kernel convention for CHECKSUM_PARTIAL: the field holds the folded pseudo-header sum.
        let pseudo = p.withUnsafeBytes { InternetChecksum.pseudoHeaderIPv4($0.baseAddress!, proto: 6, length: p.count - 20) }
        let partial = InternetChecksum.fold(pseudo)
        p[36] = UInt8(partial >> 8); p[37] = UInt8(partial & 0xff)
        let header = VirtioNetHeader(flags: VirtioNetHeader.needsChecksum, checksumStart: 20, checksumOffset: 16)
        let ok = p.withUnsafeMutableBytes { TCPSegmentation.completeChecksum($0.baseAddress!, length: $0.count, header: header) }
        #expect(ok)
        #expect(Array(p[36..<38]) == expected)
        let outOfRange = VirtioNetHeader(flags: VirtioNetHeader.needsChecksum, checksumStart: 2000, checksumOffset: 16)
        #expect(!p.withUnsafeMutableBytes { TCPSegmentation.completeChecksum($0.baseAddress!, length: $0.count, header: outOfRange) })
    }

    /// Coalesces `packets` through one group; returns what would be written (vnet header + packet).
    private func coalesce(_ packets: [[UInt8]]) -> (appended: Int, written: [UInt8]) {
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: 70_000, alignment: 16)
        defer { buffer.deallocate() }
        var group = TCPCoalescingGroup(buffer: buffer, capacity: 70_000)
        var appended = 0
        for (i, p) in packets.enumerated() {
            p.withUnsafeBytes { raw in
                if i == 0 { group.start(raw.baseAddress!, length: raw.count); appended = 1 }
                else if group.append(raw.baseAddress!, length: raw.count) { appended += 1 }
            }
        }
        let (out, n) = group.finish()
        return (appended, Array(UnsafeRawBufferPointer(start: out, count: n)))
    }

    @Test("In-order segments of one flow coalesce into a packet the kernel re-segments into the same segments")
    func coalescingRoundTrip() throws {
        let mss = 1348
        let payload = pattern(mss * 40 + 500)
        let original = tcpPacket(seq: 5000, payload: payload, flags: 0x18)
        let segments = try #require(segment(original, gsoSize: mss))
        for s in segments { #expect(s.withUnsafeBytes { TCPCoalescingGroup.eligible($0.baseAddress!, length: $0.count) }) }
        let (appended, written) = coalesce(segments)
        #expect(appended == segments.count)
        let header = written.withUnsafeBytes { VirtioNetHeader(loadingFrom: $0.baseAddress!) }
        #expect(header == VirtioNetHeader(flags: VirtioNetHeader.needsChecksum, gsoType: VirtioNetHeader.gsoTCPv4, headerLength: 52,
                                          gsoSize: UInt16(mss), checksumStart: 20, checksumOffset: 16))
        let merged = Array(written[10...])
        #expect(be16(merged, 2) == merged.count)
        #expect(referenceChecksum(Array(merged[0..<20])) == 0, "IP header checksum valid")
        #expect(Array(merged[52...]) == payload)
        #expect(merged[33] & 0x08 != 0, "PSH of the last segment kept")
        // What the kernel does with it: completes the partial checksum per segment.
        let again = try #require(segment(merged, gsoSize: mss))
        #expect(again.count == segments.count)
        for (a, b) in zip(again, segments) { #expect(Array(a[20...]) == Array(b[20...])) }
    }

    @Test("Segments that GRO would not merge stay apart")
    func coalescingRules() throws {
        let a = tcpPacket(seq: 1000, payload: pattern(1000))
        let next = tcpPacket(seq: 2000, payload: pattern(1000, seed: 3))
        #expect(coalesce([a, next]).appended == 2)
        #expect(coalesce([a, tcpPacket(seq: 2001, payload: pattern(1000))]).appended == 1, "sequence gap")
        #expect(coalesce([a, tcpPacket(seq: 2000, payload: pattern(1001))]).appended == 1, "bigger than the first")
        #expect(coalesce([a, tcpPacket(seq: 2000, payload: pattern(1000), ack: 9)]).appended == 1, "different ACK")
        #expect(coalesce([a, tcpPacket(seq: 2000, payload: pattern(1000), options: [1, 1, 8, 10, 0, 0, 0, 2, 0, 0, 0, 2])]).appended == 1, "options differ")
        #expect(coalesce([a, tcpPacket(seq: 2000, payload: pattern(500)), tcpPacket(seq: 2500, payload: pattern(500))]).appended == 2,
                "a short segment closes the group")
        #expect(coalesce([tcpPacket(seq: 1000, payload: pattern(1000), flags: 0x18), next]).appended == 1, "PSH closes the group")
        // Eligibility: flags other than ACK/PSH, no payload, options in IP, bad checksums.
        for (flags, why) in [(0x12 as UInt8, "SYN"), (0x11, "FIN"), (0x14, "RST"), (0x30, "URG"), (0x50, "ECE"), (0x08, "no ACK")] {
            let p = tcpPacket(seq: 1, payload: pattern(10), flags: flags)
            #expect(!p.withUnsafeBytes { TCPCoalescingGroup.eligible($0.baseAddress!, length: $0.count) }, "\(why)")
        }
        let empty = tcpPacket(seq: 1, payload: [])
        #expect(!empty.withUnsafeBytes { TCPCoalescingGroup.eligible($0.baseAddress!, length: $0.count) })
        var corrupted = tcpPacket(seq: 1, payload: pattern(100)); corrupted[80] ^= 1
        #expect(!corrupted.withUnsafeBytes { TCPCoalescingGroup.eligible($0.baseAddress!, length: $0.count) })
        var fragment = tcpPacket(seq: 1, payload: pattern(100)); fragment[6] = 0x20; fillChecksums(&fragment)
        #expect(!fragment.withUnsafeBytes { TCPCoalescingGroup.eligible($0.baseAddress!, length: $0.count) })
        // Flow identity: another port is another flow.
        var other = next; other[21] ^= 1; fillChecksums(&other)
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: 70_000, alignment: 16)
        defer { buffer.deallocate() }
        var group = TCPCoalescingGroup(buffer: buffer, capacity: 70_000)
        a.withUnsafeBytes { group.start($0.baseAddress!, length: $0.count) }
        #expect(next.withUnsafeBytes { group.sameFlow($0.baseAddress!, length: $0.count) })
        #expect(!other.withUnsafeBytes { group.sameFlow($0.baseAddress!, length: $0.count) })
        // A single packet is written as is, behind a zero vnet header.
        let (p, n) = group.finish()
        let single = Array(UnsafeRawBufferPointer(start: p, count: n))
        #expect(single == [UInt8](repeating: 0, count: 10) + a)
    }

    @Test("Coalescing stops at 64 KiB")
    func coalescingSizeLimit() throws {
        let mss = 1448
        let payload = pattern(mss * 60)
        let segments = try #require(segment(tcpPacket(seq: 0, payload: Array(payload[0..<(mss * 44)])), gsoSize: mss))
            + (try #require(segment(tcpPacket(seq: UInt32(mss * 44), payload: Array(payload[(mss * 44)...])), gsoSize: mss)))
        let (appended, written) = coalesce(segments)
        #expect(written.count - 10 <= 65535)
        #expect(appended == (65535 - 52) / mss)
    }

    @Test("Random bytes never crash the segmenter or the coalescer (bounded)")
    func randomInput() {
        var rng = SystemRandomNumberGenerator()
        let out = UnsafeMutableRawPointer.allocate(byteCount: 70_000, alignment: 16)
        defer { out.deallocate() }
        let groupBuffer = UnsafeMutableRawPointer.allocate(byteCount: 70_000, alignment: 16)
        defer { groupBuffer.deallocate() }
        for round in 0..<3000 {
            let n = Int.random(in: 0..<200, using: &rng) + (round % 3 == 0 ? 1400 : 0)
            var bytes = (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) }
            if n > 40 && round % 2 == 0 { bytes[0] = 0x45; bytes[9] = 6 }   // get past the first checks
            let header = VirtioNetHeader(flags: UInt8.random(in: 0...1, using: &rng), gsoType: [1, 1, 4, 0x81][round % 4],
                                         headerLength: UInt16.random(in: 0...100, using: &rng), gsoSize: UInt16.random(in: 0...2000, using: &rng),
                                         checksumStart: UInt16.random(in: 0...300, using: &rng), checksumOffset: UInt16.random(in: 0...300, using: &rng))
            bytes.withUnsafeMutableBytes { raw in
                guard let base = raw.baseAddress else { return }
                var rejection: OffloadRejection?
                if let s = TCPSegmentation(header, packet: base, length: raw.count, rejection: &rejection), s.count < 200 {
                    for i in 0..<s.count { _ = s.write(segment: i, from: base, to: out) }
                }
                _ = TCPSegmentation.completeChecksum(base, length: raw.count, header: header)
                var group = TCPCoalescingGroup(buffer: groupBuffer, capacity: 70_000)
                if TCPCoalescingGroup.eligible(base, length: raw.count) {
                    group.start(base, length: raw.count)
                    _ = group.append(base, length: raw.count)
                    _ = group.finish()
                }
            }
        }
    }

    @Test("Segmenting and coalescing allocate nothing")
    func noAllocations() throws {
        let original = tcpPacket(seq: 1, payload: pattern(1348 * 40))
        let header = VirtioNetHeader(flags: 1, gsoType: 1, headerLength: 52, gsoSize: 1348, checksumStart: 20, checksumOffset: 16)
        let source = UnsafeMutableRawPointer.allocate(byteCount: original.count, alignment: 16)
        defer { source.deallocate() }
        original.withUnsafeBytes { source.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        let slots = UnsafeMutableRawPointer.allocate(byteCount: 64 * 2048, alignment: 16)
        defer { slots.deallocate() }
        let groupBuffer = UnsafeMutableRawPointer.allocate(byteCount: 70_000, alignment: 16)
        defer { groupBuffer.deallocate() }
        var written = 0
        let counted = vpngwAllocations {
            for _ in 0..<100 {
                var rejection: OffloadRejection?
                guard let s = TCPSegmentation(header, packet: source, length: original.count, rejection: &rejection) else { return }
                var group = TCPCoalescingGroup(buffer: groupBuffer, capacity: 70_000)
                for i in 0..<s.count {
                    let slot = slots + i * 2048
                    let n = s.write(segment: i, from: source, to: slot)
                    if TCPCoalescingGroup.eligible(slot, length: n) {
                        if group.isEmpty { group.start(slot, length: n) } else { _ = group.append(slot, length: n) }
                    }
                }
                written += group.finish().1
            }
        }
        #expect(written == 100 * (original.count + 10))
        #expect(counted == 0)
    }
}

private func vpngwAllocations(_ body: () -> Void) -> Int {
    vpngw_allocation_counting_begin()
    body()
    return vpngw_allocation_counting_end()
}
