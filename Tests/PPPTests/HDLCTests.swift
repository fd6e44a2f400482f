import Testing
@testable import PPP

@Suite struct HDLCTests {
    @Test func fcsCheckValue() {
        // CRC-16/X.25 check value over "123456789" (the RFC 1662 FCS, complemented).
        #expect(~HDLC.fcs16(Array("123456789".utf8)) == 0x906E)
    }

    @Test func roundTripWithEscapes() {
        let frame = PPPControlPacket(code: 1, identifier: 0x7E, data: [0x02, 0x06, 0, 0, 0, 0, 0x7D, 0x11]).frame(.lcp)
        let encoded = HDLC.encode(frame)
        #expect(encoded.first == 0x7E && encoded.last == 0x7E)
        #expect(!encoded.dropFirst().dropLast().contains(0x7E))
        #expect(!encoded.dropFirst().dropLast().contains { $0 < 0x20 })
        var decoder = HDLCDecoder()
        // Two frames back to back, delivered one octet at a time, with garbage between.
        var got: [[UInt8]] = []
        for byte in encoded + [0x41, 0x42] + encoded { got += decoder.feed([byte]) }
        #expect(got == [frame, frame])
        #expect(decoder.droppedFrames == 1, "the garbage between two flags is one bad frame")
    }

    @Test func corruptedFramesAreDropped() {
        var encoded = HDLC.encode(PPPFrame(protocolNumber: .ipv4, information: [0x45, 1, 2, 3]).emit())
        encoded[5] ^= 0x01
        var decoder = HDLCDecoder()
        #expect(decoder.feed(encoded).isEmpty && decoder.droppedFrames == 1)
        var small = HDLCDecoder(maxFrame: 8)
        #expect(small.feed(HDLC.encode([UInt8](repeating: 0x55, count: 100))).isEmpty && small.droppedFrames == 1)
    }

    @Test func everyOctetRoundTripsInAnyChunking() {
        let body = (0..<600).map { UInt8(truncatingIfNeeded: $0 &* 37) }   // every value, flags and escapes included
        let header: [UInt8] = [0xFF, 0x03, 0x00, 0x21]
        var stream: [UInt8] = []
        HDLC.encode(prefix: header, body, appendingTo: &stream)
        #expect(stream == HDLC.encode(header + body), "prefix form equals the concatenated frame")
        HDLC.encode(header + Array(body.reversed()), appendingTo: &stream)
        for chunk in [1, 2, 7, 64, 1500, stream.count] {
            var decoder = HDLCDecoder()
            var got: [[UInt8]] = []
            var i = 0
            while i < stream.count {
                let part = Array(stream[i..<min(stream.count, i + chunk)])
                got += part.withUnsafeBytes { decoder.feed($0) }
                i += chunk
            }
            #expect(got == [header + body, header + Array(body.reversed())], "chunk \(chunk)")
            #expect(decoder.droppedFrames == 0)
        }
        // The generic entry point (any Sequence) agrees with the raw one.
        var generic = HDLCDecoder()
        #expect(generic.feed(stream[...]) == [header + body, header + Array(body.reversed())])
        #expect(HDLC.fcs16(body[...]) == body.withUnsafeBytes { HDLC.fcs16($0) })
    }
}
