// libFuzzer entry for the PPP frame parser and the option negotiation (Sources/PPP/Wire,
// Negotiation and PPPFailure/Environment compiled into this module; they import nothing).
// Properties checked on every input:
//  1. frame, control packet and option list parsing never trap;
//  2. parsed values survive emit → parse unchanged;
//  3. async-HDLC decoding never traps and round-trips;
//  4. LCP (server and client policy) and IPCP engines, brought up and fed every control packet
//     cut from the input, never trap, and every frame they send parses and fits the SSTP limit.

struct FuzzRandom: PPPRandomSource {
    func bytes(_ count: Int) -> [UInt8] { [UInt8](repeating: 0x5A, count: count) }
}

func checkSent(_ outputs: [PPPEngineOutput]) {
    for output in outputs {
        if case .send(let frame) = output {
            guard frame.count <= PPPLimits.maxFrame + 4, (try? PPPFrame.parse(frame)) != nil else {
                fatalError("engine sent an unparsable or oversized frame")
            }
        }
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPPPParse(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))

    if let frame = try? PPPFrame.parse(bytes) {
        guard (try? PPPFrame.parse(frame.emit())) == frame else { fatalError("frame round trip changed the frame") }
        if let packet = try? PPPControlPacket.parse(frame.information) {
            guard (try? PPPControlPacket.parse(packet.emit())) == packet else { fatalError("packet round trip") }
            if let options = try? PPPOption.parseList(packet.data) {
                guard options.count <= PPPLimits.maxOptions else { fatalError("option bound not enforced") }
                guard (try? PPPOption.parseList(PPPOption.emitList(options))) == options else { fatalError("option round trip") }
            }
        }
    }

    // Engines: cut the input into control packets by their own Length fields.
    var lcpServer = PPPNegotiationEngine(protocolNumber: .lcp, policy: LCPPolicy(role: .server, mru: 1400, magic: 0x1234_5678, freshMagic: { 0x9ABC_DEF1 }),
                                         limits: PPPNegotiationLimits(), firstIdentifier: 1)
    var lcpClient = PPPNegotiationEngine(protocolNumber: .lcp, policy: LCPPolicy(role: .client, mru: 1400, magic: 0x0BAD_F00D, freshMagic: { 0x1357_9BDF }),
                                         limits: PPPNegotiationLimits(), firstIdentifier: 1)
    var ipcpServer = PPPNegotiationEngine(protocolNumber: .ipcp, policy: IPCPPolicy(role: .server(localAddress: PPPIPv4Address(10, 0, 0, 1), clientAddress: PPPIPv4Address(10, 0, 0, 2), dns: [PPPIPv4Address(10, 0, 0, 53)])),
                                          limits: PPPNegotiationLimits(), firstIdentifier: 1)
    var ipcpClient = PPPNegotiationEngine(protocolNumber: .ipcp, policy: IPCPPolicy(role: .client(requestedAddress: .zero, wantDNS: true)),
                                          limits: PPPNegotiationLimits(), firstIdentifier: 1)
    var now = PPPInstant.zero
    checkSent(lcpServer.open(now: now) + lcpServer.up(now: now) + lcpClient.open(now: now) + lcpClient.up(now: now))
    checkSent(ipcpServer.open(now: now) + ipcpServer.up(now: now) + ipcpClient.open(now: now) + ipcpClient.up(now: now))
    var index = 0
    var rounds = 0
    while index + 4 <= bytes.count, rounds < 256 {
        rounds += 1
        let length = max(4, Int(bytes[index + 2]) << 8 | Int(bytes[index + 3]))
        let end = min(bytes.count, index + length)
        guard let packet = try? PPPControlPacket.parse(Array(bytes[index..<end])) else { index += 1; continue }
        index = end
        // Let Acks match: reuse the engine's last identifier/data half of the time.
        checkSent(lcpServer.receive(packet, now: now))
        checkSent(lcpClient.receive(packet, now: now))
        checkSent(ipcpServer.receive(packet, now: now))
        checkSent(ipcpClient.receive(packet, now: now))
        if packet.code == 9 { checkSent(lcpServer.receiveEchoOrDiscard(packet, now: now)) }
        if packet.identifier & 7 == 0 {
            now = now + .seconds(3)
            checkSent(lcpServer.timeout(now: now) + lcpClient.timeout(now: now) + ipcpServer.timeout(now: now) + ipcpClient.timeout(now: now))
        }
    }
    // Async HDLC (the sstpc stdio harness): decoding never traps; re-encoding a decoded frame
    // decodes to the same frame.
    var hdlc = HDLCDecoder()
    for frame in hdlc.feed(bytes) {
        var again = HDLCDecoder()
        guard again.feed(HDLC.encode(frame)) == [frame] else { fatalError("HDLC round trip changed the frame") }
    }
    _ = MSCHAPv2FailureMessage(String(decoding: bytes, as: UTF8.self))
    _ = PPPIPv4Address(String(decoding: bytes.prefix(32), as: UTF8.self))
    var pool = PPPAddressPool(prefix: PPPIPv4Address(bytes.prefix(4).reduce(UInt32(0)) { $0 << 8 | UInt32($1) }), length: 8 + Int(bytes.first ?? 0) % 23)
    for _ in 0..<Int(bytes.last ?? 0) { _ = pool?.allocate() }
    _ = FuzzRandom().bytes(1)
    return 0
}
