import Testing
@testable import PPP

@Suite struct EAPFramingTests {
    @Test func eapTLSMessageRoundTrip() {
        let m = EAPTLSMessage(flags: EAPTLSFlags.lengthIncluded | EAPTLSFlags.moreFragments, totalLength: 3000, data: [1, 2, 3])
        #expect(m.emit() == [0xC0, 0, 0, 0x0B, 0xB8, 1, 2, 3])
        #expect(EAPTLSMessage.parse(m.emit()) == m)
        #expect(EAPTLSMessage.parse([0x80, 0, 0]) == nil)  // L without the 4-byte length
        #expect(EAPTLSMessage.parse([]) == nil)
        #expect(EAPTLSMessage(flags: 0).isAck)
        let p = EAPPacket(code: EAPCode.request, identifier: 7, type: EAPType.tls, typeData: [EAPTLSFlags.start])
        #expect(p.frame() == [0xFF, 0x03, 0xC2, 0x27, 1, 7, 0, 6, 13, 0x20])
        #expect(EAPPacket.parse(Array(p.frame().dropFirst(4))) == p)
        #expect(EAPPacket.parse([3, 7, 0, 4]) == EAPPacket(code: EAPCode.success, identifier: 7))
        #expect(EAPPacket.parse([1, 7, 0, 4]) == nil)  // Request without a Type
        #expect(EAPPacket.parse([9, 7, 0, 4]) == nil)
    }

    @Test func fragmentationAndReassembly() {
        let payload = (0..<2500).map { UInt8(truncatingIfNeeded: $0) }
        var out = EAPTLSFragmenter(fragmentSize: 1000)
        out.queue(payload)
        var fragments: [EAPTLSMessage] = []
        while out.hasPendingOutput { fragments.append(out.nextFragment()) }
        #expect(fragments.count == 3)
        #expect(fragments[0].flags == EAPTLSFlags.lengthIncluded | EAPTLSFlags.moreFragments && fragments[0].totalLength == 2500)
        #expect(fragments[1].flags == EAPTLSFlags.moreFragments && fragments[1].totalLength == nil)
        #expect(fragments[2].flags == 0 && fragments[2].data.count == 500)
        var inbound = EAPTLSFragmenter(fragmentSize: 1000)
        #expect(inbound.receive(fragments[0]) == .needMore)
        #expect(inbound.receive(fragments[1]) == .needMore)
        #expect(inbound.receive(fragments[2]) == .complete(payload))
        // A single small message carries no L flag.
        var one = EAPTLSFragmenter(fragmentSize: 1000)
        one.queue([1, 2, 3])
        #expect(one.nextFragment() == EAPTLSMessage(flags: 0, data: [1, 2, 3]))
    }

    @Test func reassemblyRejectsLies() {
        var f = EAPTLSFragmenter(fragmentSize: 100)
        #expect(f.receive(EAPTLSMessage(flags: EAPTLSFlags.lengthIncluded | EAPTLSFlags.moreFragments, totalLength: 10, data: [UInt8](repeating: 0, count: 11)))
                == .invalid("EAP-TLS fragments exceed the announced length 10"))
        var g = EAPTLSFragmenter(fragmentSize: 100)
        if case .invalid = g.receive(EAPTLSMessage(flags: EAPTLSFlags.lengthIncluded, totalLength: 1 << 30, data: [])) {} else { Issue.record("huge L accepted") }
        var h = EAPTLSFragmenter(fragmentSize: 100)
        #expect(h.receive(EAPTLSMessage(flags: EAPTLSFlags.lengthIncluded | EAPTLSFlags.moreFragments, totalLength: 20, data: [1])) == .needMore)
        if case .invalid = h.receive(EAPTLSMessage(flags: 0, data: [2])) {} else { Issue.record("short message accepted") }
        var flood = EAPTLSFragmenter(fragmentSize: 100)
        var result = EAPTLSFragmenter.Reassembly.needMore
        for _ in 0..<100 where result == .needMore { result = flood.receive(EAPTLSMessage(flags: EAPTLSFlags.moreFragments, data: [UInt8](repeating: 0, count: 1000))) }
        if case .invalid = result {} else { Issue.record("unbounded reassembly") }
    }

    @Test func lcpServerOffersEAPAndSwitchesOnNak() {
        var policy = LCPPolicy(role: .server, mru: 1400, magic: 5, authentication: [.eap, .msCHAPv2], freshMagic: { 7 })
        #expect(policy.requestOptions().contains(PPPOption(type: LCPOptionType.authenticationProtocol, data: [0xC2, 0x27])))
        #expect(policy.nakReceived([PPPOption(type: LCPOptionType.authenticationProtocol, data: [0xC2, 0x23, 0x81])]) == nil)
        #expect(policy.requestedAuthentication == .msCHAPv2)
        var only = LCPPolicy(role: .server, mru: 1400, magic: 5, authentication: [.eap], freshMagic: { 7 })
        #expect(only.nakReceived([PPPOption(type: LCPOptionType.authenticationProtocol, data: [0xC2, 0x23, 0x81])]) == .authenticationProtocolRefused)
        var client = LCPPolicy(role: .client, mru: 1400, magic: 5, authentication: [.eap], freshMagic: { 7 })
        #expect(client.evaluate(peerRequest: [PPPOption(type: LCPOptionType.authenticationProtocol, data: [0xC2, 0x23, 0x81])], mustNotNak: false)
                == .nak([PPPOption(type: LCPOptionType.authenticationProtocol, data: [0xC2, 0x27])]))
    }
}
