import Testing
import PPP
@testable import SSTP

@Suite struct SSTPDataFastPathTests {
    let ip: [UInt8] = [0x45, 0, 0, 24] + [UInt8](repeating: 7, count: 20)

    @Test func headerMatchesTheCore() {
        var framed = [UInt8](repeating: 0, count: 8 + ip.count)
        framed.withUnsafeMutableBytes { SSTPDataFastPath.writeIPv4Header($0.baseAddress!, ipLength: ip.count) }
        framed.replaceSubrange(8..., with: ip)
        #expect(framed == SSTPPacket.dataHeader(frameLength: ip.count + 4) + [0xFF, 0x03, 0x00, 0x21] + ip)
        framed.withUnsafeBytes { raw in
            #expect(SSTPDataFastPath.packetLength(raw) == framed.count)
            #expect(SSTPDataFastPath.ipv4Offset(raw) == 8)
        }
    }

    @Test func compressedFieldsAndOtherPackets() {
        func offset(_ bytes: [UInt8]) -> Int? { bytes.withUnsafeBytes { SSTPDataFastPath.ipv4Offset($0) } }
        let header: [UInt8] = [0x10, 0x00, 0x00, 0x00]
        #expect(offset(header + [0x00, 0x21] + ip) == 6)            // ACFC
        #expect(offset(header + [0x21] + ip) == 5)                  // ACFC + PFC
        #expect(offset(header + [0xFF, 0x03, 0x21] + ip) == 7)      // PFC
        #expect(offset(header + [0xFF, 0x03, 0xC0, 0x21, 1, 1, 0, 4]) == nil)   // LCP
        #expect(offset(header + [0xFF, 0x03, 0x80, 0x21, 1, 1, 0, 4]) == nil)   // IPCP
        #expect(offset([0x10, 0x01, 0x00, 0x08, 0x00, 0x08, 0x00, 0x00]) == nil) // control (echo)
        #expect(offset(header + [0xFF, 0x03, 0x00, 0x21]) == nil)   // no packet behind the header
        let bad: [UInt8] = [0x20, 0x00, 0x00, 0x10]
        #expect(bad.withUnsafeBytes { SSTPDataFastPath.packetLength($0) } == nil)
        let short: [UInt8] = [0x10, 0x01, 0x00, 0x06]
        #expect(short.withUnsafeBytes { SSTPDataFastPath.packetLength($0) } == nil)
    }
}
