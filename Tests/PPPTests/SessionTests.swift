import Testing
@testable import PPP

/// Two sessions wired back to back in one process; frames are delivered in order, timers are
/// fired by advancing a fake clock when nothing is in flight.
struct Wire {
    var server: PPPSession
    var client: PPPSession
    var now = PPPInstant.zero
    var serverLog: [PPPAction] = []
    var clientLog: [PPPAction] = []
    var toServer: [[UInt8]] = []
    var toClient: [[UInt8]] = []
    var serverTimer: PPPInstant?
    var clientTimer: PPPInstant?
    /// Optional tap that can rewrite or drop frames going to the server.
    var tapToServer: (@Sendable ([UInt8]) -> [UInt8]?)?

    init(server: PPPServerConfiguration, client: PPPClientConfiguration) {
        self.server = PPPSession(role: .server(server), random: CountingRandom(seed: 1))
        self.client = PPPSession(role: .client(client), random: CountingRandom(seed: 2))
    }

    mutating func absorb(_ actions: [PPPAction], fromServer: Bool) {
        for action in actions {
            switch action {
            case .send(let frame):
                if fromServer { toClient.append(frame) } else if let tap = tapToServer { if let f = tap(frame) { toServer.append(f) } } else { toServer.append(frame) }
            case .armTimer(let deadline):
                if fromServer { serverTimer = deadline } else { clientTimer = deadline }
            default:
                break
            }
            if fromServer { serverLog.append(action) } else { clientLog.append(action) }
        }
    }

    mutating func run(maxSteps: Int = 10_000) {
        absorb(client.start(now: now), fromServer: false)
        absorb(server.start(now: now), fromServer: true)
        var steps = 0
        while steps < maxSteps {
            steps += 1
            if !toServer.isEmpty {
                let frame = toServer.removeFirst()
                absorb(server.handle(frame: frame, now: now), fromServer: true)
            } else if !toClient.isEmpty {
                let frame = toClient.removeFirst()
                absorb(client.handle(frame: frame, now: now), fromServer: false)
            } else if let next = [serverTimer, clientTimer].compactMap({ $0 }).min() {
                now = max(now, next)
                if serverTimer == next { serverTimer = nil; absorb(server.handleTimer(now: now), fromServer: true) }
                if clientTimer == next { clientTimer = nil; absorb(client.handleTimer(now: now), fromServer: false) }
            } else {
                break
            }
        }
    }
}

let serverConfig = PPPServerConfiguration(
    users: ["alice": MSCHAPv2Credential(password: "secret"), "User": MSCHAPv2Credential(password: "clientPass")],
    localAddress: PPPIPv4Address(172, 16, 0, 1), clientAddress: PPPIPv4Address(172, 16, 0, 10),
    dns: [PPPIPv4Address(10, 0, 0, 4), PPPIPv4Address(10, 0, 0, 5)])

extension [PPPAction] {
    var failures: [PPPFailure] { compactMap { if case .failed(let f) = $0 { f } else { nil } } }
    var networkUps: [(PPPIPv4Address, PPPIPv4Address, [PPPIPv4Address])] {
        compactMap { if case .networkUp(let l, let p, let d) = $0 { (l, p, d) } else { nil } }
    }
    var keys: [(String, [UInt8], [UInt8])] {
        compactMap { if case .authenticated(let u, let s, let r) = $0 { (u, s, r) } else { nil } }
    }
}

@Suite struct PPPSessionTests {
    @Test func serverAndClientReachNetworkUpWithMatchingKeys() throws {
        var wire = Wire(server: serverConfig, client: PPPClientConfiguration(userName: "alice", password: "secret"))
        wire.run()
        #expect(wire.serverLog.failures.isEmpty && wire.clientLog.failures.isEmpty)
        let serverUp = try #require(wire.serverLog.networkUps.first)
        let clientUp = try #require(wire.clientLog.networkUps.first)
        #expect(serverUp.0 == PPPIPv4Address(172, 16, 0, 1) && serverUp.1 == PPPIPv4Address(172, 16, 0, 10))
        #expect(clientUp.0 == PPPIPv4Address(172, 16, 0, 10) && clientUp.1 == PPPIPv4Address(172, 16, 0, 1))
        #expect(clientUp.2 == [PPPIPv4Address(10, 0, 0, 4), PPPIPv4Address(10, 0, 0, 5)])
        let serverKeys = try #require(wire.serverLog.keys.first)
        let clientKeys = try #require(wire.clientLog.keys.first)
        #expect(serverKeys.0 == "alice" && clientKeys.0 == "alice")
        #expect(serverKeys.1 == clientKeys.2 && serverKeys.2 == clientKeys.1, "server send = client receive and vice versa")
        #expect(serverKeys.1.count == 16 && serverKeys.1 != serverKeys.2)
        #expect(wire.server.phase == .network && wire.client.phase == .network)
        // The authenticated action precedes networkUp on both sides.
        let order = wire.serverLog.compactMap { action -> Int? in
            switch action { case .authenticated: 0; case .networkUp: 1; default: nil }
        }
        #expect(order == [0, 1])

        // IPv4 flows both ways once the network is up.
        let packet: [UInt8] = [0x45, 0, 0, 20] + [UInt8](repeating: 7, count: 16)
        let frame = try #require(wire.client.frameIPv4(packet))
        #expect(wire.server.handle(frame: frame, now: wire.now) == [.received(protocolNumber: .ipv4, packet: packet)])
    }

    @Test func wrongPasswordFailsWith691OnTheClient() throws {
        var wire = Wire(server: serverConfig, client: PPPClientConfiguration(userName: "alice", password: "wrong"))
        wire.run()
        let clientFailure = try #require(wire.clientLog.failures.first)
        guard case .authenticationRejected(let message) = clientFailure else {
            Issue.record("unexpected failure \(clientFailure)")
            return
        }
        #expect(message.error == 691 && message.retry == false && message.version == 3)
        #expect(wire.serverLog.failures.first == .authenticationFailed(user: "alice"))
        #expect(wire.serverLog.networkUps.isEmpty && wire.clientLog.networkUps.isEmpty)
        #expect(wire.serverLog.keys.isEmpty && wire.clientLog.keys.isEmpty)
        // Both ends tear LCP down.
        #expect(wire.server.phase == .dead && wire.client.phase == .dead)
        #expect(wire.serverLog.failures.count == 1 && wire.clientLog.failures.count == 1)
    }

    @Test func unknownUserFailsToo() {
        var wire = Wire(server: serverConfig, client: PPPClientConfiguration(userName: "mallory", password: "secret"))
        wire.run()
        #expect(wire.serverLog.failures.first == .authenticationFailed(user: "mallory"))
    }

    @Test func forgedSuccessIsRefusedByTheClient() throws {
        // A server that does not know the password cannot produce S= (RFC 2759 §8.8).
        var client = PPPSession(role: .client(PPPClientConfiguration(userName: "alice", password: "secret")), random: CountingRandom(seed: 3))
        var server = PPPSession(role: .server(serverConfig), random: CountingRandom(seed: 4))
        var toServer = client.start(now: .zero).sentFrames, toClient = server.start(now: .zero).sentFrames
        var clientActions: [PPPAction] = []
        for _ in 0..<20 {
            let forServer = toServer; toServer = []
            for f in forServer { toClient += server.handle(frame: f, now: .zero).sentFrames.map { frame in
                // Rewrite a Success into one with a wrong authenticator string.
                if frame.count > 8, frame[2] == 0xC2, frame[3] == 0x23, frame[4] == 3 {
                    var forged = frame
                    forged[10] = forged[10] == UInt8(ascii: "0") ? UInt8(ascii: "1") : UInt8(ascii: "0")
                    return forged
                }
                return frame
            } }
            let forClient = toClient; toClient = []
            for f in forClient {
                let actions = client.handle(frame: f, now: .zero)
                clientActions += actions
                toServer += actions.sentFrames
            }
        }
        #expect(clientActions.failures.first == .authenticatorResponseMismatch)
        #expect(clientActions.keys.isEmpty)
    }

    @Test func silentPeerTimesOutAfterMaxConfigure() {
        var server = PPPSession(role: .server(serverConfig), random: CountingRandom(seed: 5))
        var actions = server.start(now: .zero)
        var sent = actions.sentFrames.count
        var now = PPPInstant.zero
        for _ in 0..<50 {
            guard case .armTimer(let deadline)? = actions.last(where: { if case .armTimer = $0 { true } else { false } }) else { break }
            now = deadline
            actions = server.handleTimer(now: now)
            sent += actions.sentFrames.count
            if !actions.failures.isEmpty { break }
        }
        #expect(actions.failures == [.noResponse(.lcp)])
        #expect(sent == 10, "Max-Configure Configure-Requests, then give up")
        #expect(actions.contains(.linkDown))
        #expect(now == PPPInstant.zero + .seconds(30))
    }

    @Test func echoRequestIsAnsweredAndUnknownProtocolsRejected() throws {
        var wire = Wire(server: serverConfig, client: PPPClientConfiguration(userName: "alice", password: "secret"))
        wire.run()
        let echo = PPPControlPacket(code: 9, identifier: 77, data: [1, 2, 3, 4, 0xAA]).frame(.lcp)
        let reply = try #require(wire.server.handle(frame: echo, now: wire.now).sentFrames.first)
        let parsed = try PPPControlPacket.parse(Array(try PPPFrame.parse(reply).information))
        #expect(parsed.code == 10 && parsed.identifier == 77 && parsed.data.count == 5 && parsed.data.last == 0xAA)
        // CCP (pppd offers Deflate/BSD) → Protocol-Reject carrying the protocol number.
        let ccp = PPPControlPacket(code: 1, identifier: 1, data: [0x1A, 0x04, 0x78, 0x00]).frame(.ccp)
        let rejectFrame = try #require(wire.server.handle(frame: ccp, now: wire.now).sentFrames.first)
        let reject = try PPPControlPacket.parse(try PPPFrame.parse(rejectFrame).information)
        #expect(reject.code == 8 && Array(reject.data.prefix(2)) == [0x80, 0xFD])
    }

    @Test func peerTerminateEndsTheSession() {
        var wire = Wire(server: serverConfig, client: PPPClientConfiguration(userName: "alice", password: "secret"))
        wire.run()
        let actions = wire.server.handle(frame: PPPControlPacket(code: 5, identifier: 9, data: []).frame(.lcp), now: wire.now)
        #expect(actions.failures == [.peerTerminated])
        #expect(actions.sentFrames.first.map { $0[4] } == 6, "Terminate-Ack")
    }
}

extension [PPPAction] {
    var sentFrames: [[UInt8]] { compactMap { if case .send(let f) = $0 { f } else { nil } } }
}

@Suite struct PPPRobustnessTests {
    /// A server in the Establish phase, after our Configure-Request went out.
    func freshServer() -> PPPSession {
        var server = PPPSession(role: .server(serverConfig), random: CountingRandom(seed: 9))
        _ = server.start(now: .zero)
        return server
    }

    @Test func optionFloodIsRejected() throws {
        var server = freshServer()
        // More options than PPPLimits.maxOptions: the packet is discarded.
        let flood: [UInt8] = (0..<200).flatMap { _ -> [UInt8] in [0x40, 2] }
        #expect(server.handle(frame: PPPControlPacket(code: 1, identifier: 1, data: flood).frame(.lcp), now: .zero).sentFrames.isEmpty)
        // 30 unknown options: one Configure-Reject listing them all.
        let unknown: [UInt8] = (0..<30).flatMap { i -> [UInt8] in [UInt8(0x40 + i), 3, 0] }
        let reply = try #require(server.handle(frame: PPPControlPacket(code: 1, identifier: 2, data: unknown).frame(.lcp), now: .zero).sentFrames.first)
        let packet = try PPPControlPacket.parse(try PPPFrame.parse(reply).information)
        #expect(packet.code == 4 && packet.data == unknown)
        // Option with a length running past the packet: discarded.
        #expect(server.handle(frame: PPPControlPacket(code: 1, identifier: 3, data: [1, 200, 5, 220]).frame(.lcp), now: .zero).sentFrames.isEmpty)
    }

    @Test func nakLoopBecomesRejectAfterMaxFailureAndIsBounded() throws {
        var server = freshServer()
        let badMRU = PPPControlPacket(code: 1, identifier: 0, data: [1, 4, 0xFF, 0xFF])  // MRU 65535 > 4091
        var codes: [UInt8] = []
        var failures: [PPPFailure] = []
        for i in 0..<60 {
            var request = badMRU
            request.identifier = UInt8(i)
            let actions = server.handle(frame: request.frame(.lcp), now: .zero)
            failures += actions.failures
            for frame in actions.sentFrames {
                let p = try PPPControlPacket.parse(try PPPFrame.parse(frame).information)
                if p.identifier == UInt8(i), p.code == 3 || p.code == 4 { codes.append(p.code) }
            }
            if !failures.isEmpty { break }
        }
        #expect(Array(codes.prefix(5)) == [3, 3, 3, 3, 3], "Naks up to Max-Failure")
        #expect(codes.dropFirst(5).allSatisfy { $0 == 4 }, "then Rejects")
        #expect(failures == [.negotiationDidNotConverge(.lcp)])
    }

    @Test func garbageFramesNeverCrash() {
        var generator = SplitMix(seed: 42)
        for phaseSetup in 0..<3 {
            var wire = Wire(server: serverConfig, client: PPPClientConfiguration(userName: "alice", password: "secret"))
            if phaseSetup > 0 { wire.run() }
            var server = phaseSetup == 2 ? wire.server : freshServer()
            var client = wire.client
            for _ in 0..<3000 {
                let length = Int(generator.next() % 64)
                var bytes = (0..<length).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
                // Bias towards real protocol numbers and codes so the parsers go deep.
                if length >= 8, generator.next() % 2 == 0 {
                    let protocols: [[UInt8]] = [[0xC0, 0x21], [0xC2, 0x23], [0x80, 0x21], [0x00, 0x21], [0x80, 0xFD]]
                    let p = protocols[Int(generator.next() % 5)]
                    bytes[0] = 0xFF; bytes[1] = 0x03; bytes[2] = p[0]; bytes[3] = p[1]
                    bytes[4] = UInt8(generator.next() % 12)
                    bytes[6] = 0; bytes[7] = UInt8(length - 4)
                }
                _ = server.handle(frame: bytes, now: .zero)
                _ = client.handle(frame: bytes, now: .zero)
            }
        }
    }

    @Test func frameFormsAndErrors() throws {
        #expect(try PPPFrame.parse([0xFF, 0x03, 0xC0, 0x21, 1]) == PPPFrame(protocolNumber: .lcp, information: [1]))
        #expect(try PPPFrame.parse([0xC0, 0x21, 1]) == PPPFrame(protocolNumber: .lcp, information: [1]))
        #expect(try PPPFrame.parse([0xFF, 0x03, 0x21, 0x45]) == PPPFrame(protocolNumber: .ipv4, information: [0x45]))
        #expect(try PPPFrame.parse([0x21, 0x45]) == PPPFrame(protocolNumber: .ipv4, information: [0x45]))
        #expect(throws: PPPParseError.invalidProtocolField) { try PPPFrame.parse([0xC0, 0x20]) }
        #expect(throws: PPPParseError.truncated(needed: 3, available: 2)) { try PPPFrame.parse([0xFF, 0x03]) }
        #expect(throws: PPPParseError.invalidPacketLength(3, available: 4)) { try PPPControlPacket.parse([1, 1, 0, 3]) }
        #expect(throws: PPPParseError.invalidOptionLength(type: 1, length: 1)) { try PPPOption.parseList([1, 1]) }
        // Padding beyond Length is dropped (RFC 1661 §5).
        #expect(try PPPControlPacket.parse([9, 1, 0, 5, 0xAA, 0, 0]).data == [0xAA])
    }

    @Test func stateTableMatchesRFC1661Shape() {
        #expect(PPPStateTable.table.count == PPPAutomatonEvent.allCases.count)
        for (event, row) in PPPStateTable.table { #expect(row.count == 10, "\(event)") }
        #expect(PPPStateTable.transition(.stopped, .receiveConfigureRequestGood)
                == PPPTransition(actions: [.initializeRestartCount, .sendConfigureRequest, .sendConfigureAck], next: .ackSent))
        #expect(PPPStateTable.transition(.opened, .receiveTerminateRequest)
                == PPPTransition(actions: [.thisLayerDown, .zeroRestartCount, .sendTerminateAck], next: .stopping))
        #expect(PPPStateTable.transition(.ackRcvd, .receiveConfigureRequestGood)
                == PPPTransition(actions: [.sendConfigureAck, .thisLayerUp], next: .opened))
        #expect(PPPStateTable.transition(.initial, .receiveConfigureAck) == nil)
    }

    @Test func addressPool() {
        var pool = PPPAddressPool(prefix: PPPIPv4Address(172, 16, 0, 0), length: 29, reserved: [PPPIPv4Address(172, 16, 0, 1)])!
        var got: [PPPIPv4Address] = []
        while let a = pool.allocate() { got.append(a) }
        #expect(got.map(\.description) == ["172.16.0.2", "172.16.0.3", "172.16.0.4", "172.16.0.5", "172.16.0.6"])
        pool.release(PPPIPv4Address(172, 16, 0, 4))
        #expect(pool.allocate() == PPPIPv4Address(172, 16, 0, 4))
        #expect(PPPIPv4Address("10.1.2.3") == PPPIPv4Address(10, 1, 2, 3) && PPPIPv4Address("10.1.2") == nil)
    }
}

struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
