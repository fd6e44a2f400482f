import Testing
import PPP
@testable import SSTP

let serverCertificate: [UInt8] = Array("30820122 fake leaf certificate DER bytes for the binding".utf8)
let proxyCertificate: [UInt8] = Array("30820122 the TLS-terminating proxy's own certificate".utf8)

func serverConfiguration(hashes: SSTPHashProtocols = [.sha1, .sha256]) -> SSTPServerConfiguration {
    SSTPServerConfiguration(
        certificateDER: serverCertificate, hashProtocols: hashes,
        ppp: PPPServerConfiguration(users: ["alice": MSCHAPv2Credential(password: "secret")],
                                    localAddress: PPPIPv4Address(172, 16, 0, 1), clientAddress: PPPIPv4Address(172, 16, 0, 10),
                                    dns: [PPPIPv4Address(10, 0, 0, 4)]),
        httpDate: "Sun, 29 Nov 2026 12:00:00 GMT")
}

func clientConfiguration(password: String = "secret", certificate: [UInt8] = serverCertificate) -> SSTPClientConfiguration {
    SSTPClientConfiguration(host: "10.99.0.1", serverCertificateDER: certificate,
                            ppp: PPPClientConfiguration(userName: "alice", password: password))
}

/// Server and client wired through an in-memory "TLS" stream; bytes may be split arbitrarily.
struct Call {
    var server: SSTPServerCall
    var client: SSTPClientCall
    var now = PPPInstant.zero
    var serverLog: [SSTPServerAction] = []
    var clientLog: [SSTPClientAction] = []
    var toServer: [[UInt8]] = []
    var toClient: [[UInt8]] = []
    var serverTimer: PPPInstant?
    var clientTimer: PPPInstant?
    var serverClosed = false
    var clientClosed = false
    /// Deliver the stream in chunks of this size (exercises reassembly).
    var chunk = Int.max
    /// EAP-TLS: how the "owner" judges the client chain (SSTPClientCertificatePolicy in the server).
    var verify: (@Sendable ([[UInt8]]) -> EAPTLSPeerVerdict)?
    var pendingChain: [[UInt8]]?

    init(server: SSTPServerConfiguration, client: SSTPClientConfiguration) {
        self.server = SSTPServerCall(configuration: server, random: FixedRandom(seed: 11))
        self.client = SSTPClientCall(configuration: client, random: FixedRandom(seed: 12))
    }

    mutating func absorbServer(_ actions: [SSTPServerAction]) {
        for action in actions {
            serverLog.append(action)
            switch action {
            case .send(let bytes): toClient.append(bytes)
            case .armTimer(let deadline): serverTimer = deadline
            case .close: serverClosed = true
            case .verifyClientCertificate(let chain): pendingChain = chain
            case .authenticated, .connected, .deliver: break
            }
        }
    }

    mutating func absorbClient(_ actions: [SSTPClientAction]) {
        for action in actions {
            clientLog.append(action)
            switch action {
            case .send(let bytes): toServer.append(bytes)
            case .armTimer(let deadline): clientTimer = deadline
            case .close: clientClosed = true
            case .bound, .connected, .deliver: break
            }
        }
    }

    mutating func run(until done: (Call) -> Bool = { _ in false }) {
        if serverLog.isEmpty { absorbServer(server.start(now: now)) }
        if clientLog.isEmpty { absorbClient(client.start(now: now)) }
        for _ in 0..<10_000 {
            if done(self) { return }
            if let chain = pendingChain {
                pendingChain = nil
                absorbServer(server.clientCertificateVerdict(verify?(chain) ?? .refused(reason: "no verifier"), now: now))
                continue
            }
            if !toServer.isEmpty {
                let bytes = toServer.removeFirst()
                if serverClosed { continue }
                for start in stride(from: 0, to: bytes.count, by: min(chunk, bytes.count)) {
                    absorbServer(server.handle(bytes: Array(bytes[start..<min(bytes.count, start + chunk)]), now: now))
                }
            } else if !toClient.isEmpty {
                let bytes = toClient.removeFirst()
                if clientClosed { continue }
                for start in stride(from: 0, to: bytes.count, by: min(chunk, bytes.count)) {
                    absorbClient(client.handle(bytes: Array(bytes[start..<min(bytes.count, start + chunk)]), now: now))
                }
            } else if serverClosed && !clientClosed {
                clientClosed = true
                absorbClient(client.transportClosed(now: now))
            } else if clientClosed && !serverClosed {
                serverClosed = true
                absorbServer(server.transportClosed(now: now))
            } else if serverClosed && clientClosed {
                return
            } else if let next = [serverTimer, clientTimer].compactMap({ $0 }).min() {
                now = max(now, next)
                if serverTimer == next { serverTimer = nil; absorbServer(server.handleTimer(now: now)) }
                if clientTimer == next { clientTimer = nil; absorbClient(client.handleTimer(now: now)) }
            } else {
                return
            }
        }
    }

    var serverClose: SSTPCloseReason? { serverLog.compactMap { if case .close(let r) = $0 { r } else { nil } }.first }
    var clientClose: SSTPCloseReason? { clientLog.compactMap { if case .close(let r) = $0 { r } else { nil } }.first }
    var serverConnected: Bool { serverLog.contains { if case .connected = $0 { true } else { false } } }
    var clientConnected: Bool { clientLog.contains { if case .connected = $0 { true } else { false } } }
}

@Suite struct SSTPCallTests {
    @Test(arguments: [Int.max, 7, 1]) func fullCallReachesConnectedWithBindingVerified(chunk: Int) throws {
        var call = Call(server: serverConfiguration(), client: clientConfiguration())
        call.chunk = chunk
        call.run(until: { $0.serverConnected && $0.clientConnected })
        #expect(call.serverClose == nil && call.clientClose == nil)
        #expect(call.server.state == .connected && call.client.state == .connected)
        #expect(call.serverLog.contains(.connected(user: "alice", clientAddress: PPPIPv4Address(172, 16, 0, 10))))
        #expect(call.clientLog.contains(.connected(localIP: PPPIPv4Address(172, 16, 0, 10), peerIP: PPPIPv4Address(172, 16, 0, 1),
                                                   dns: [PPPIPv4Address(10, 0, 0, 4)])))
        #expect(call.clientLog.contains(.bound(hashProtocol: .sha256)))
        // The first server write is exactly the HTTP answer, in one piece.
        #expect(call.serverLog.first { if case .send = $0 { true } else { false } }
                == .send(SSTPHTTP.okResponse(date: "Sun, 29 Nov 2026 12:00:00 GMT")))

        // IPv4 both ways.
        let packet: [UInt8] = [0x45, 0, 0, 24] + [UInt8](repeating: 9, count: 20)
        let up = try #require(call.client.frameIPv4(packet))
        #expect(call.server.handle(bytes: up, now: call.now) == [.deliver(packet)])
        let down = try #require(call.server.frameIPv4(packet))
        #expect(call.client.handle(bytes: down, now: call.now).contains(.deliver(packet)))
    }

    @Test func sha1OnlyServerIsBoundWithSHA1() {
        var call = Call(server: serverConfiguration(hashes: .sha1), client: clientConfiguration())
        call.run(until: { $0.serverConnected && $0.clientConnected })
        #expect(call.serverConnected && call.clientLog.contains(.bound(hashProtocol: .sha1)))
    }

    @Test func tamperedBindingAborts() {
        // A TLS-terminating proxy: the client hashes the proxy's certificate, not ours.
        var call = Call(server: serverConfiguration(), client: clientConfiguration(certificate: proxyCertificate))
        call.run()
        #expect(call.serverClose == .cryptoBindingFailed(.certificateHashMismatch))
        #expect(!call.serverConnected)
        // The server sent CALL_ABORT with STATUS_INFO about CRYPTO_BINDING.
        let abort = SSTPControlMessage.withStatus(.callAbort, attribute: 3, status: .valueNotSupported)
        #expect(call.serverLog.contains(.send(abort)))
        #expect(call.clientClose == .peerAborted(status: SSTPStatus.valueNotSupported.rawValue))
        #expect(!call.serverLog.contains { if case .deliver = $0 { true } else { false } })
    }

    @Test func forgedMACAborts() throws {
        // Drive the server by hand to CALL_CONNECTED, then flip one bit of the MAC.
        var call = Call(server: serverConfiguration(), client: clientConfiguration())
        call.run(until: { c in c.toServer.first.map { $0.count == 112 && $0[5] == 4 } ?? false })
        var connected = try #require(call.toServer.first)
        connected[100] ^= 1
        let actions = call.server.handle(bytes: connected, now: call.now)
        #expect(actions.contains(.close(.cryptoBindingFailed(.compoundMACMismatch))))
    }

    @Test func wrongPasswordEndsTheCallWith691() throws {
        var call = Call(server: serverConfiguration(), client: clientConfiguration(password: "wrong"))
        call.run()
        #expect(call.serverClose == .pppFailed(.authenticationFailed(user: "alice")))
        guard case .pppFailed(.authenticationRejected(let message)) = try #require(call.clientClose) else {
            Issue.record("client closed with \(String(describing: call.clientClose))")
            return
        }
        #expect(message.error == 691)
        #expect(!call.serverConnected && !call.clientConnected)
    }

    @Test func notSSTPIsRefused() {
        var server = SSTPServerCall(configuration: serverConfiguration(), random: FixedRandom(seed: 1))
        _ = server.start(now: .zero)
        let actions = server.handle(bytes: Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8), now: .zero)
        #expect(actions == [.send(SSTPHTTP.errorResponse(for: .wrongMethod("GET"))), .close(.httpRefused(.wrongMethod("GET")))])
        #expect(server.handle(bytes: [1, 2, 3], now: .zero).isEmpty)
    }

    @Test func slowClientTimesOut() {
        var server = SSTPServerCall(configuration: serverConfiguration(), random: FixedRandom(seed: 1))
        #expect(server.start(now: .zero) == [.armTimer(deadline: .zero + .seconds(60))])
        _ = server.handle(bytes: Array("SSTP_DUPLEX".utf8), now: .zero + .seconds(10))
        #expect(server.handleTimer(now: .zero + .seconds(59)).isEmpty)
        #expect(server.handleTimer(now: .zero + .seconds(60)) == [.close(.negotiationTimeout)])
    }

    @Test func admissionRefusalIsNakWithStatusThenClose() throws {
        // The gateway is full: a valid CALL_CONNECT_REQUEST gets CALL_CONNECT_NAK (with STATUS_INFO,
        // which sstpc needs) and the call ends with the reason; no PPP is started.
        var configuration = serverConfiguration()
        configuration.refusal = "session limit 128 reached"
        var call = Call(server: configuration, client: clientConfiguration())
        call.run()
        #expect(call.serverClose == .refused("session limit 128 reached"))
        #expect(call.clientClose == .connectRefused(status: SSTPStatus.retryCountExceeded.rawValue))
        let sends = call.serverLog.compactMap { if case .send(let b) = $0 { b } else { nil } }
        #expect(sends.count == 2)  // the HTTP answer, then the NAK
        guard case .control(let nak) = try SSTPPacket.parse(sends[1]) else { Issue.record("not a control packet"); return }
        #expect(nak.type == .callConnectNak && nak.status == SSTPStatus.retryCountExceeded.rawValue)
    }

    @Test func wrongEncapsulationIsNakdThenAborted() {
        var server = SSTPServerCall(configuration: serverConfiguration(), random: FixedRandom(seed: 1))
        _ = server.start(now: .zero)
        _ = server.handle(bytes: SSTPHTTPTests.sstpcHello, now: .zero)
        let bad = SSTPPacket.control(SSTPControlMessage(.callConnectRequest, [.encapsulatedProtocolID(2)])).emit()
        for _ in 0..<3 {
            let actions = server.handle(bytes: bad, now: .zero)
            #expect(actions.count == 1)
            guard case .send(let nak) = actions.first, case .control(let m) = try? SSTPPacket.parse(nak) else { Issue.record("no NAK"); return }
            #expect(m.type == .callConnectNak)
        }
        #expect(server.handle(bytes: bad, now: .zero).last == .close(.unsupportedEncapsulation))
    }

    @Test func garbageAfterHelloAbortsWithoutCrashing() {
        var generator = SplitMix(seed: 7)
        for round in 0..<300 {
            var server = SSTPServerCall(configuration: serverConfiguration(), random: FixedRandom(seed: 1))
            _ = server.start(now: .zero)
            _ = server.handle(bytes: SSTPHTTPTests.sstpcHello, now: .zero)
            if round % 2 == 0 { _ = server.handle(bytes: hex("10 01 00 0E 00 01 00 01 00 01 00 06 00 01"), now: .zero) }
            for _ in 0..<20 {
                var bytes = (0..<Int(generator.next() % 40)).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
                if bytes.count >= 4, generator.next() % 2 == 0 {
                    bytes[0] = 0x10; bytes[1] = UInt8(generator.next() % 2); bytes[2] = 0; bytes[3] = UInt8(bytes.count)
                }
                let actions = server.handle(bytes: bytes, now: .zero)
                if actions.contains(where: { if case .close = $0 { true } else { false } }) { break }
            }
        }
    }

    @Test func echoAndHelloTimer() throws {
        var call = Call(server: serverConfiguration(), client: clientConfiguration())
        call.run(until: { $0.serverConnected && $0.clientConnected })
        let echo = SSTPPacket.control(SSTPControlMessage(.echoRequest)).emit()
        #expect(call.server.handle(bytes: echo, now: call.now).first == .send(SSTPPacket.control(SSTPControlMessage(.echoResponse)).emit()))
        // Silence: an ECHO_REQUEST after 60 s, an abort 60 s later.
        let t0 = call.now
        let probe = call.server.handleTimer(now: t0 + .seconds(60))
        #expect(probe.first == .send(echo))
        let end = call.server.handleTimer(now: t0 + .seconds(120))
        #expect(end.last == .close(.helloTimeout))
    }

    @Test func peerDisconnectIsAcked() {
        var call = Call(server: serverConfiguration(), client: clientConfiguration())
        call.run(until: { $0.serverConnected && $0.clientConnected })
        let disconnect = SSTPControlMessage.withStatus(.callDisconnect, status: .noError)
        #expect(call.server.handle(bytes: disconnect, now: call.now)
                == [.send(SSTPPacket.control(SSTPControlMessage(.callDisconnectAck)).emit()), .close(.peerDisconnected)])
    }

    @Test func localDisconnect() {
        var call = Call(server: serverConfiguration(), client: clientConfiguration())
        call.run(until: { $0.serverConnected && $0.clientConnected })
        _ = call.server.disconnect(reason: "user deleted", now: call.now)
        #expect(call.server.state == .disconnecting)
        let actions = call.server.handle(bytes: SSTPPacket.control(SSTPControlMessage(.callDisconnectAck)).emit(), now: call.now)
        #expect(actions == [.close(.closedLocally("user deleted"))])
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
