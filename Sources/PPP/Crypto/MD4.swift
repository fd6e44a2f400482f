// MD4 message digest (RFC 1320). swift-crypto has none, and MS-CHAPv2's NtPasswordHash
// (RFC 2759 §8.3) needs it. Only used on short inputs (passwords), so clarity beats speed.
// Invariant: output is always 16 bytes; input of any length (including empty) is accepted.

public enum MD4 {
    /// RFC 1320 §3: pad to 448 mod 512 bits, append the 64-bit little-endian bit length, then run
    /// three rounds of 16 operations over each 16-word block.
    public static func hash<Bytes: Collection<UInt8>>(_ input: Bytes) -> [UInt8] {
        var message = Array(input)
        let bitLength = UInt64(message.count) &* 8
        message.append(0x80)
        while message.count % 64 != 56 { message.append(0) }
        for shift in stride(from: 0, to: 64, by: 8) { message.append(UInt8(truncatingIfNeeded: bitLength >> UInt64(shift))) }

        var a: UInt32 = 0x6745_2301, b: UInt32 = 0xefcd_ab89, c: UInt32 = 0x98ba_dcfe, d: UInt32 = 0x1032_5476
        var x = [UInt32](repeating: 0, count: 16)
        for blockStart in stride(from: 0, to: message.count, by: 64) {
            for i in 0..<16 {
                let o = blockStart + i * 4
                x[i] = UInt32(message[o]) | UInt32(message[o + 1]) << 8 | UInt32(message[o + 2]) << 16 | UInt32(message[o + 3]) << 24
            }
            let (aa, bb, cc, dd) = (a, b, c, d)
            // Round 1 (§3.4): F(X,Y,Z) = XY v not(X) Z, shifts 3 7 11 19.
            func f(_ x: UInt32, _ y: UInt32, _ z: UInt32) -> UInt32 { (x & y) | (~x & z) }
            func g(_ x: UInt32, _ y: UInt32, _ z: UInt32) -> UInt32 { (x & y) | (x & z) | (y & z) }
            func h(_ x: UInt32, _ y: UInt32, _ z: UInt32) -> UInt32 { x ^ y ^ z }
            func rotl(_ v: UInt32, _ s: UInt32) -> UInt32 { (v << s) | (v >> (32 - s)) }
            for i in stride(from: 0, to: 16, by: 4) {
                a = rotl(a &+ f(b, c, d) &+ x[i], 3)
                d = rotl(d &+ f(a, b, c) &+ x[i + 1], 7)
                c = rotl(c &+ f(d, a, b) &+ x[i + 2], 11)
                b = rotl(b &+ f(c, d, a) &+ x[i + 3], 19)
            }
            // Round 2: G, constant 0x5A827999, word order 0 4 8 12 / 1 5 9 13 …, shifts 3 5 9 13.
            for i in 0..<4 {
                a = rotl(a &+ g(b, c, d) &+ x[i] &+ 0x5a82_7999, 3)
                d = rotl(d &+ g(a, b, c) &+ x[i + 4] &+ 0x5a82_7999, 5)
                c = rotl(c &+ g(d, a, b) &+ x[i + 8] &+ 0x5a82_7999, 9)
                b = rotl(b &+ g(c, d, a) &+ x[i + 12] &+ 0x5a82_7999, 13)
            }
            // Round 3: H, constant 0x6ED9EBA1, word order 0 8 4 12 / 2 10 6 14 / 1 9 5 13 / 3 11 7 15.
            for i in [0, 2, 1, 3] {
                a = rotl(a &+ h(b, c, d) &+ x[i] &+ 0x6ed9_eba1, 3)
                d = rotl(d &+ h(a, b, c) &+ x[i + 8] &+ 0x6ed9_eba1, 9)
                c = rotl(c &+ h(d, a, b) &+ x[i + 4] &+ 0x6ed9_eba1, 11)
                b = rotl(b &+ h(c, d, a) &+ x[i + 12] &+ 0x6ed9_eba1, 15)
            }
            a = a &+ aa; b = b &+ bb; c = c &+ cc; d = d &+ dd
        }
        var out: [UInt8] = []
        out.reserveCapacity(16)
        for word in [a, b, c, d] {
            for shift in stride(from: 0, to: 32, by: 8) { out.append(UInt8(truncatingIfNeeded: word >> UInt32(shift))) }
        }
        return out
    }
}
