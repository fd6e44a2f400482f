// libFuzzer target for the TUN offload code (Sources/DataPlane/TCPOffload.swift), built into one
// module with it by Fuzz/run-offload-fuzz.sh.
//
// Input: 10 bytes of virtio_net_hdr, then a packet as the kernel would hand it over. Invariants
// (a trap when one breaks):
//   - segmentation never writes more than headerLength + segmentSize per segment, and every
//     segment of a valid super-packet has a correct IPv4 header checksum and TCP checksum;
//   - completing a partial checksum stays inside the packet;
//   - coalescing the segments back gives a packet no longer than 65535 bytes whose payload is the
//     concatenation of the merged segments' payloads.

let scratchSize = 70_000
nonisolated(unsafe) let segmentBuffer = UnsafeMutableRawPointer.allocate(byteCount: scratchSize, alignment: 16)
nonisolated(unsafe) let groupBuffer = UnsafeMutableRawPointer.allocate(byteCount: scratchSize, alignment: 16)

func folded(_ p: UnsafeRawPointer, _ n: Int, _ initial: UInt64 = 0) -> UInt16 { InternetChecksum.fold(InternetChecksum.sum(p, count: n, initial: initial)) }

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= VirtioNetHeader.length else { return 0 }
    let header = VirtioNetHeader(loadingFrom: UnsafeRawPointer(data))
    let length = size - VirtioNetHeader.length
    // A private, writable copy with a guard region the code must not touch.
    let packet = UnsafeMutableRawPointer.allocate(byteCount: length + 64, alignment: 16)
    defer { packet.deallocate() }
    packet.copyMemory(from: data + VirtioNetHeader.length, byteCount: length)
    (packet + length).initializeMemory(as: UInt8.self, repeating: 0xa5, count: 64)

    var rejection: OffloadRejection?
    if let s = TCPSegmentation(header, packet: packet, length: length, rejection: &rejection) {
        guard s.headerLength + s.segmentSize <= scratchSize, s.count <= 4096 else { return 0 }
        var group = TCPCoalescingGroup(buffer: groupBuffer, capacity: scratchSize)
        var merged = 0
        for i in 0..<s.count {
            let n = s.write(segment: i, from: packet, to: segmentBuffer)
            if n > s.headerLength + s.segmentSize || n < s.headerLength { fatalError("segment \(i) has \(n) bytes") }
            let ihl = Int(segmentBuffer.load(as: UInt8.self) & 0x0f) * 4
            if folded(segmentBuffer, ihl) != 0xffff { fatalError("IPv4 header checksum of segment \(i)") }
            let pseudo = InternetChecksum.pseudoHeaderIPv4(segmentBuffer, proto: 6, length: n - ihl)
            if folded(segmentBuffer + ihl, n - ihl, pseudo) != 0xffff { fatalError("TCP checksum of segment \(i)") }
            if TCPCoalescingGroup.eligible(segmentBuffer, length: n) {
                if group.isEmpty { group.start(segmentBuffer, length: n); merged = n - s.headerLength }
                else if group.append(segmentBuffer, length: n) { merged += n - s.headerLength }
            }
        }
        if !group.isEmpty {
            let h = group.length - merged
            let (out, total) = group.finish()
            if total - VirtioNetHeader.length > 65535 { fatalError("coalesced packet over 64 KiB") }
            if total - VirtioNetHeader.length != h + merged { fatalError("coalesced length") }
            _ = out
        }
    }
    _ = TCPSegmentation.completeChecksum(packet, length: length, header: header)
    for i in 0..<64 where (packet + length + i).load(as: UInt8.self) != 0xa5 { fatalError("wrote past the packet") }
    return 0
}
