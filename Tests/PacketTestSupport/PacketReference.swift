// Plain, slow reference code for packet tests (byte arrays, no pointers), shared by the data
// plane's and the P2S TUN's offload tests so both check against the same independent oracle.

/// RFC 1071 Internet checksum of `bytes` (inverted, ready to store).
public func referenceChecksum(_ bytes: [UInt8]) -> UInt16 {
    var sum: UInt32 = 0
    var i = 0
    while i + 1 < bytes.count { sum += UInt32(bytes[i]) << 8 | UInt32(bytes[i + 1]); i += 2 }
    if i < bytes.count { sum += UInt32(bytes[i]) << 8 }
    while sum >> 16 != 0 { sum = (sum & 0xffff) + (sum >> 16) }
    return ~UInt16(sum)
}

public func be16(_ b: [UInt8], _ o: Int) -> Int { Int(b[o]) << 8 | Int(b[o + 1]) }
public func be32(_ b: [UInt8], _ o: Int) -> UInt32 { UInt32(b[o]) << 24 | UInt32(b[o + 1]) << 16 | UInt32(b[o + 2]) << 8 | UInt32(b[o + 3]) }

/// Whether an IPv4 packet's header checksum and its L4 checksum (RFC 793/768 pseudo-header with
/// the packet's own protocol) verify.
public func checksumsValid(_ p: [UInt8]) -> Bool {
    let ihl = Int(p[0] & 0x0f) * 4
    guard referenceChecksum(Array(p[0..<ihl])) == 0 else { return false }
    let l4 = Array(p[ihl...])
    let pseudo = Array(p[12..<20]) + [0, p[9], UInt8(l4.count >> 8), UInt8(l4.count & 0xff)]
    return referenceChecksum(pseudo + l4) == 0
}

/// Sets the IPv4 header checksum and the TCP checksum of a packet built by hand.
public func fillChecksums(_ p: inout [UInt8]) {
    let ihl = Int(p[0] & 0x0f) * 4
    p[10] = 0; p[11] = 0
    let ip = referenceChecksum(Array(p[0..<ihl])); p[10] = UInt8(ip >> 8); p[11] = UInt8(ip & 0xff)
    p[ihl + 16] = 0; p[ihl + 17] = 0
    let tcp = Array(p[ihl...])
    let pseudo = Array(p[12..<20]) + [0, 6, UInt8(tcp.count >> 8), UInt8(tcp.count & 0xff)]
    let c = referenceChecksum(pseudo + tcp); p[ihl + 16] = UInt8(c >> 8); p[ihl + 17] = UInt8(c & 0xff)
}

/// An IPv4/TCP packet (DF, TTL 64, window 501) with valid checksums; `options` default to a
/// 12-byte timestamp option (NOP NOP TS).
public func referenceTCPPacket(source: [UInt8], destination: [UInt8], sourcePort: UInt16, destinationPort: UInt16,
                               seq: UInt32, ack: UInt32, payload: [UInt8], flags: UInt8 = 0x10, id: UInt16 = 0x1234,
                               options: [UInt8] = [1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2]) -> [UInt8] {
    let tcpLength = 20 + options.count
    let total = 20 + tcpLength + payload.count
    var p: [UInt8] = [0x45, 0, UInt8(total >> 8 & 0xff), UInt8(total & 0xff), UInt8(id >> 8), UInt8(id & 0xff), 0x40, 0, 64, 6, 0, 0]
    p += source + destination
    p += [UInt8(sourcePort >> 8), UInt8(sourcePort & 0xff), UInt8(destinationPort >> 8), UInt8(destinationPort & 0xff)]
    p += [UInt8(seq >> 24), UInt8(seq >> 16 & 0xff), UInt8(seq >> 8 & 0xff), UInt8(seq & 0xff)]
    p += [UInt8(ack >> 24), UInt8(ack >> 16 & 0xff), UInt8(ack >> 8 & 0xff), UInt8(ack & 0xff)]
    p += [UInt8(tcpLength / 4) << 4, flags, 0x01, 0xf5, 0, 0, 0, 0]
    p += options + payload
    fillChecksums(&p)
    return p
}
