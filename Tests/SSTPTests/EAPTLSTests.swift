// EAP-TLS (RFC 5216) end to end in one process: the pure PPP core in both roles with the real
// TLS engine (swift-nio-ssl in an EmbeddedChannel), the certificate policy, and the SSTP binding.
import Foundation
import Testing
import NIOSSL
import X509
@testable import PPP
@testable import SSTP
@testable import SSTPNIO

struct PKI {
    let root: P2SCertificate
    let client: P2SCertificate
    let otherRoot: P2SCertificate
    let stranger: P2SCertificate
    let server: SSTPServerIdentity

    static let shared: PKI = {
        let root = try! P2SCertificate.makeRoot(commonName: "P2SRootCert")
        let other = try! P2SCertificate.makeRoot(commonName: "SomeoneElsesRoot")
        return PKI(root: root, client: try! P2SCertificate.makeClient(commonName: "alice-laptop", issuer: root),
                   otherRoot: other, stranger: try! P2SCertificate.makeClient(commonName: "mallory", issuer: other),
                   server: try! SSTPServerIdentity.selfSigned(commonName: "10.99.0.1"))
    }()

    /// Both TLS versions unless narrowed; `tls` pins one (the tests' knob for TLS 1.2 vs 1.3).
    func serverSetup(fragmentSize: Int = 1000, tls: TLSVersion? = nil) -> EAPTLSServerSetup {
        let server = self.server
        return EAPTLSServerSetup(fragmentSize: fragmentSize) {
            try NIOEAPTLSEngine(serverChain: server.certificateChain, privateKey: server.privateKey,
                                minimumTLSVersion: tls ?? .tlsv12, maximumTLSVersion: tls ?? .tlsv13)
        }
    }

    func clientSetup(_ cert: P2SCertificate, fragmentSize: Int = 1000, tls: TLSVersion? = nil) -> EAPTLSClientSetup {
        EAPTLSClientSetup(identity: "alice-laptop", fragmentSize: fragmentSize) {
            try NIOEAPTLSEngine(clientChain: try cert.nioChain(), privateKey: try cert.nioKey(),
                                minimumTLSVersion: tls ?? .tlsv12, maximumTLSVersion: tls ?? .tlsv13)
        }
    }
}

/// Two PPP sessions back to back; `.verifyPeer` answered by `verify`.
struct PPPPair {
    var server: PPPSession
    var client: PPPSession
    var serverLog: [PPPAction] = []
    var clientLog: [PPPAction] = []
    var verify: @Sendable ([[UInt8]]) async -> EAPTLSPeerVerdict
    var eapFramesToServer = 0

    init(server: PPPServerConfiguration, client: PPPClientConfiguration, verify: @escaping @Sendable ([[UInt8]]) async -> EAPTLSPeerVerdict) {
        self.server = PPPSession(role: .server(server), random: SystemPPPRandom())
        self.client = PPPSession(role: .client(client), random: SystemPPPRandom())
        self.verify = verify
    }

    mutating func run() async {
        var toServer: [[UInt8]] = [], toClient: [[UInt8]] = []
        func split(_ actions: [PPPAction], into queue: inout [[UInt8]], log: inout [PPPAction]) -> [[UInt8]] {
            var chains: [[UInt8]] = []
            for a in actions {
                log.append(a)
                if case .send(let f) = a { queue.append(f) }
                if case .verifyPeer(let chain) = a { chains = chain }
            }
            return chains
        }
        _ = split(client.start(now: .zero), into: &toServer, log: &clientLog)
        _ = split(server.start(now: .zero), into: &toClient, log: &serverLog)
        for _ in 0..<2000 {
            if let f = toServer.first {
                toServer.removeFirst()
                if (try? PPPFrame.parse(f))?.protocolNumber == .eap { eapFramesToServer += 1 }
                let chain = split(server.handle(frame: f, now: .zero), into: &toClient, log: &serverLog)
                if !chain.isEmpty {
                    let verdict = await verify(chain)
                    _ = split(server.peerCertificateVerdict(verdict, now: .zero), into: &toClient, log: &serverLog)
                }
            } else if let f = toClient.first {
                toClient.removeFirst()
                _ = split(client.handle(frame: f, now: .zero), into: &toServer, log: &clientLog)
            } else { break }
        }
    }

    static func keys(_ log: [PPPAction]) -> (user: String, send: [UInt8], receive: [UInt8])? {
        for a in log { if case .authenticated(let u, let s, let r) = a { return (u, s, r) } }
        return nil
    }
    static func failure(_ log: [PPPAction]) -> PPPFailure? {
        for a in log { if case .failed(let f) = a { return f } }
        return nil
    }
    static func networkUp(_ log: [PPPAction]) -> Bool { log.contains { if case .networkUp = $0 { true } else { false } } }
}

func eapServerConfig(_ pki: PKI, methods: [PPPAuthenticationProtocol] = [.eap], fragmentSize: Int = 1000, tls: TLSVersion? = nil) -> PPPServerConfiguration {
    PPPServerConfiguration(users: ["bob": MSCHAPv2Credential(password: "pw")], localAddress: PPPIPv4Address(172, 16, 0, 1),
                           clientAddress: PPPIPv4Address(172, 16, 0, 10), authentication: methods, eapTLS: pki.serverSetup(fragmentSize: fragmentSize, tls: tls))
}

/// The TLS versions the parameterized tests run with (nil = both allowed, TLS 1.3 negotiated).
let tlsVersions: [TLSVersion?] = [.tlsv12, .tlsv13, nil]

/// `EAPTLSServerExchange` (bare EAP) against `EAPTLSClient`, packet by packet. `intercept` sees each
/// packet for the client first and may replace it (nil = deliver unchanged).
struct BareEAPRun {
    var server: EAPTLSServerExchange
    var client: EAPTLSClient
    var serverEvents: [EAPTLSServerExchange.Event] = []
    var clientOutputs: [EAPOutput] = []
    /// EAP packets the server sent, in order, and how many had been sent when the verdict came.
    var toClient: [[UInt8]] = []
    var sentBeforeVerdict = 0

    init(server: EAPTLSServerSetup, client: EAPTLSClientSetup) {
        self.server = EAPTLSServerExchange(setup: server, identifier: 7)
        self.client = EAPTLSClient(setup: client)
    }

    mutating func run(verify: ([[UInt8]]) async -> EAPTLSPeerVerdict, intercept: (([UInt8]) -> [UInt8]?)? = nil) async {
        var pending = server.start(), queue: [[UInt8]] = []
        for _ in 0..<300 {
            while !pending.isEmpty {
                let event = pending.removeFirst()
                serverEvents.append(event)
                switch event {
                case .send(let p): queue.append(p); toClient.append(p)
                case .verifyPeer(let chain):
                    sentBeforeVerdict = toClient.count
                    pending += server.verdict(await verify(chain))
                default: break
                }
            }
            guard !queue.isEmpty else { break }
            var packet = queue.removeFirst()
            if let replaced = intercept?(packet) { packet = replaced }
            guard let parsed = EAPPacket.parse(packet) else { break }
            for out in client.receive(parsed) {
                clientOutputs.append(out)
                if case .send(let frame) = out { pending += server.receive((try! PPPFrame.parse(frame)).information) }
            }
        }
    }

    var serverKeys: (send: [UInt8], receive: [UInt8])? {
        for e in serverEvents { if case .succeeded(_, let s, let r) = e { return (s, r) } }
        return nil
    }
    var clientKeys: (send: [UInt8], receive: [UInt8])? {
        for o in clientOutputs { if case .succeeded(_, let s, let r) = o { return (s, r) } }
        return nil
    }
    var serverFailure: PPPFailure? {
        for e in serverEvents { if case .failed(let f) = e { return f } }
        return nil
    }
    var clientFailure: PPPFailure? {
        for o in clientOutputs { if case .failed(let f) = o { return f } }
        return nil
    }
    /// EAP codes the server sent after the verdict (1 Request, 3 Success, 4 Failure).
    var codesAfterVerdict: [UInt8] { toClient.dropFirst(sentBeforeVerdict).map { $0[0] } }
}

@Suite struct EAPTLSTests {
    let pki = PKI.shared

    var policy: SSTPClientCertificatePolicy { SSTPClientCertificatePolicy(roots: [pki.root.certificate], revoked: []) }

    @Test func tls12PRFMatchesOpenSSL() {
        // `openssl kdf -keylen 64 -kdfopt digest:SHA256 -kdfopt hexsecret:… -kdfopt hexseed:<"test label"‖seed> TLS1-PRF`
        let out = TLS12PRF.compute(secret: hex("9bbe436ba940f017b17652849a71db35"), label: Array("test label".utf8),
                                   seed: hex("a0ba9f936cda311827a6f796ffd5198c"), length: 64)
        #expect(out == hex("E3F229BA727BE17B8D122620557CD453C2AAB21D07C3D495329B52D4E61EDB5A6B301791E90D35C9C9A46B4E14BAF9AF0FA022F7077DEF17ABFD3797C0564BAB"))
        let out384 = TLS12PRF.compute(secret: hex("9bbe436ba940f017b17652849a71db35"), label: Array("test label".utf8),
                                      seed: hex("a0ba9f936cda311827a6f796ffd5198c"), length: 64, sha384: true)
        #expect(out384 == hex("DD88775CD827187B67A3F7652B5C13F715791CC46E0274A6D3FB16651103DEFC544CD8AFB68369A219BB918B8B21DDB1764AF0A70339E6DEC085E574F655851B"))
    }

    /// RFC 8446 §7.5 against OpenSSL 3.0: `openssl s_client -tls1_3 -ciphersuites <suite>
    /// -keylogfile … -keymatexport EXPORTER_EAP_TLS_Key_Material -keymatexportlen 128` (no context,
    /// which TLS 1.3 defines as the empty context); the secret is the key log's EXPORTER_SECRET.
    @Test func tls13ExporterMatchesOpenSSL() {
        let label = Array("EXPORTER_EAP_TLS_Key_Material".utf8)
        let sha256 = TLS13Exporter.compute(exporterSecret: hex("322b926ce2b51f518dcb87864b9376eb68d5f3290fd0949fe68afe94fc323495"),
                                           label: label, context: [], length: 128)
        #expect(sha256 == hex("FDC6547688D4002B9C3E8CFE0610ADA10DE0E3BA31D28390089CCC0C49C97AC3737707F279BB9C4059A6A318ADAF6E8C"
                              + "3741461930122CE6310C86C17272CEA128B391EE8D46731EA640C2873F747FDA55E347B94EF56099E44F0D9E9754A492"
                              + "E57EBA743B84D940C843D5FD037A124C032C5C5A767B2A9BD361F238890518C1"))
        let sha384 = TLS13Exporter.compute(exporterSecret: hex("5b845eedf65321cfcf11e2d15a23572c653a8c26d28db83ed927d2a00111442d6327113b17b7b5ada9d97cd9d44fb711"),
                                           label: label, context: [], length: 128)
        #expect(sha384 == hex("70A841CF9DC632DD147A605FD8B1A65800E085A1B9B0BB3ACB975B0DDCFA946065C82786C54CD2C05AC0E1A1EB2CD846"
                              + "A4F64203BCF4838AD906D5E1C50AF7AE5FF2D30C5015DE3C39F1E18064C1E6427AE52769B84B9A192687B8EB1FC605"
                              + "BC1FA822E081E2FFDA2120295389C7D1B847FC22C560B552878807CE63AEC7F5D3"))
        #expect(TLS13Exporter.compute(exporterSecret: [UInt8](repeating: 1, count: 20), label: label, context: [], length: 64) == nil)
    }

    @Test func sstpClientEAPTLSBindingVector() {
        // sstp-client src/sstp-cmac.c sstp_test_tls (Win 8.1 ↔ Win2K19 RAS, EAP-TLS): HLAK = MSK[0..<32].
        let msk = hex("bb2c17edbaa643b3d511eb9848792b7cab5f5d709fe9bdf89b5deaf5a8c17db7") + hex("6db2817cdc55aa42c3a1ff3389be08e2effe8b2dc719074a43cfbb8acf7414ce")
        // Our orientation: client send = MSK[0..<32]; server receive = MSK[0..<32].
        let clientHLAK = SSTPCryptoBinding.clientHLAK(masterSendKey: Array(msk[0..<32]), masterReceiveKey: Array(msk[32..<64]))
        let serverHLAK = SSTPCryptoBinding.serverHLAK(masterSendKey: Array(msk[32..<64]), masterReceiveKey: Array(msk[0..<32]))
        #expect(clientHLAK == serverHLAK)
        let packet = hex("10010070000400010003006800000002")
            + hex("388a1ecbf302ba02f9f372ce37488ec36b71a28b5e1b19fbe44d5465a631c463")
            + hex("7ff150176fa8e38a1f402d11ff89ff11b66505ad7f9ae81205277ba4a6b9ef9d") + [UInt8](repeating: 0, count: 32)
        #expect(packet.count == 112)
        #expect(SSTPCryptoBinding.compoundMAC(callConnected: packet, hlak: clientHLAK, hash: .sha256)
                == hex("fe6473c7d183914e483fea1b12a6e760a4da16b62fab12a0a1e54e0ec325b24e"))
    }

    @Test(arguments: tlsVersions) func pppEAPTLSReachesNetworkUpWithMatchingKeys(tls: TLSVersion?) async {
        let policy = self.policy
        var pair = PPPPair(server: eapServerConfig(pki, tls: tls),
                           client: PPPClientConfiguration(userName: "alice-laptop", password: "", eapTLS: pki.clientSetup(pki.client, tls: tls)),
                           verify: { await policy.verify(chain: $0).verdict })
        await pair.run()
        #expect(PPPPair.failure(pair.serverLog) == nil)
        #expect(PPPPair.failure(pair.clientLog) == nil)
        #expect(PPPPair.networkUp(pair.serverLog))
        #expect(PPPPair.networkUp(pair.clientLog))
        let s = PPPPair.keys(pair.serverLog), c = PPPPair.keys(pair.clientLog)
        #expect(s?.user == "alice-laptop")
        #expect(s != nil && c != nil)
        #expect(s?.send == c?.receive && s?.receive == c?.send)
        #expect(s?.send.count == 32)
        guard let s, let c else { return }
        let sh = SSTPCryptoBinding.serverHLAK(masterSendKey: s.send, masterReceiveKey: s.receive)
        let ch = SSTPCryptoBinding.clientHLAK(masterSendKey: c.send, masterReceiveKey: c.receive)
        #expect(sh == ch && sh != [UInt8](repeating: 0, count: 32))
    }

    @Test(arguments: [TLSVersion.tlsv12, .tlsv13]) func smallFragmentsReassemble(tls: TLSVersion) async {
        let policy = self.policy
        var pair = PPPPair(server: eapServerConfig(pki, fragmentSize: 100),
                           client: PPPClientConfiguration(userName: "x", password: "", eapTLS: pki.clientSetup(pki.client, fragmentSize: 77, tls: tls)),
                           verify: { await policy.verify(chain: $0).verdict })
        await pair.run()
        #expect(PPPPair.networkUp(pair.serverLog) && PPPPair.networkUp(pair.clientLog))
        #expect(pair.eapFramesToServer > 10)
    }

    @Test(arguments: [TLSVersion.tlsv12, .tlsv13]) func unknownRootRefused(tls: TLSVersion) async {
        let policy = self.policy
        var pair = PPPPair(server: eapServerConfig(pki),
                           client: PPPClientConfiguration(userName: "m", password: "", eapTLS: pki.clientSetup(pki.stranger, tls: tls)),
                           verify: { await policy.verify(chain: $0).verdict })
        await pair.run()
        guard case .certificateRefused(let reason) = PPPPair.failure(pair.serverLog) else { Issue.record("not refused"); return }
        #expect(reason.contains("does not chain"))
        // The refusal reached the client as a TLS alert before EAP-Failure, so it can say why.
        guard case .eapFailure(let tls) = PPPPair.failure(pair.clientLog) else { Issue.record("client did not fail"); return }
        #expect(tls?.contains("CERTIFICATE_UNKNOWN") == true)
        #expect(!PPPPair.networkUp(pair.serverLog))
    }

    /// The TLS record content types the server sent in EAP-TLS Requests, split at `.verifyPeer`.
    static func serverRecords(_ log: [PPPAction]) -> (before: [UInt8], after: [UInt8]) {
        var before: [UInt8] = [], after: [UInt8] = [], verified = false
        for action in log {
            if case .verifyPeer = action { verified = true }
            guard case .send(let frame) = action, let f = try? PPPFrame.parse(frame), f.protocolNumber == .eap,
                  let packet = EAPPacket.parse(f.information), packet.type == EAPType.tls,
                  let message = EAPTLSMessage.parse(packet.typeData) else { continue }
            if verified { after += message.data } else { before += message.data }
        }
        func types(_ stream: [UInt8]) -> [UInt8] {
            var out: [UInt8] = [], i = 0
            while i + 5 <= stream.count {
                out.append(stream[i])
                i += 5 + (Int(stream[i + 3]) << 8 | Int(stream[i + 4]))
            }
            return out
        }
        return (types(before), types(after))
    }

    /// RFC 5216 §2.1.3 / wpa_supplicant interop (Tests/netns/eap_tls_interop.sh): the client
    /// certificate is judged *during* the handshake. A refused chain gets a TLS alert (record type
    /// 21) and never our ChangeCipherSpec/Finished — a peer that has seen the server's Finished
    /// treats the authentication as unconditionally successful and ignores a later EAP-Failure.
    /// TLS 1.2 (in TLS 1.3 our Finished precedes the client's Certificate; see tls13… below).
    @Test func refusalIsATLSAlertBeforeOurFinished() async {
        let policy = self.policy
        var refused = PPPPair(server: eapServerConfig(pki),
                              client: PPPClientConfiguration(userName: "m", password: "", eapTLS: pki.clientSetup(pki.stranger, tls: .tlsv12)),
                              verify: { await policy.verify(chain: $0).verdict })
        await refused.run()
        let r = Self.serverRecords(refused.serverLog)
        #expect(!r.before.isEmpty && r.before.allSatisfy { $0 == 22 })  // ServerHello…ServerHelloDone only
        #expect(r.after == [21])           // the alert, no ChangeCipherSpec (20) and no Finished
        #expect(PPPPair.failure(refused.serverLog).map { if case .certificateRefused = $0 { true } else { false } } == true)

        var accepted = PPPPair(server: eapServerConfig(pki),
                               client: PPPClientConfiguration(userName: "a", password: "", eapTLS: pki.clientSetup(pki.client, tls: .tlsv12)),
                               verify: { await policy.verify(chain: $0).verdict })
        await accepted.run()
        let a = Self.serverRecords(accepted.serverLog)
        #expect(!a.before.isEmpty && a.before.allSatisfy { $0 == 22 })
        #expect(a.after == [22, 20, 22])   // NewSessionTicket, ChangeCipherSpec, Finished: only after the verdict
        #expect(PPPPair.networkUp(accepted.serverLog) && PPPPair.networkUp(accepted.clientLog))
    }

    /// `EAPTLSServerExchange` (bare EAP, what `vpngw p2s eap-tls-server` runs) against our client:
    /// Success, and its keys are the client's mirrored, MSK = receive ‖ send.
    @Test func bareEAPExchangeAgreesWithClient() async {
        let policy = self.policy
        var server = EAPTLSServerExchange(setup: pki.serverSetup(fragmentSize: 200), identifier: 7)
        var client = EAPTLSClient(setup: pki.clientSetup(pki.client, fragmentSize: 150))
        var toClient: [[UInt8]] = [], serverKeys: (send: [UInt8], receive: [UInt8])?, clientKeys: (send: [UInt8], receive: [UInt8])?
        var pending = server.start()
        for _ in 0..<200 {
            while !pending.isEmpty {
                switch pending.removeFirst() {
                case .send(let p): toClient.append(p)
                case .verifyPeer(let chain): pending += server.verdict(await policy.verify(chain: chain).verdict)
                case .succeeded(_, let s, let r): serverKeys = (s, r)
                case .failed(let f): Issue.record("server failed: \(f)")
                }
            }
            guard !toClient.isEmpty else { break }
            let packet = toClient.removeFirst()
            #expect(packet.count == Int(packet[2]) << 8 | Int(packet[3]))  // bare EAP, no PPP header
            for out in client.receive(EAPPacket.parse(packet)!) {
                switch out {
                case .send(let frame): pending += server.receive((try! PPPFrame.parse(frame)).information)
                case .succeeded(_, let s, let r): clientKeys = (s, r)
                default: break
                }
            }
        }
        #expect(server.isDone && server.peerIdentity == "alice-laptop")
        #expect(serverKeys != nil && serverKeys?.send == clientKeys?.receive && serverKeys?.receive == clientKeys?.send)
    }

    @Test(arguments: [TLSVersion.tlsv12, .tlsv13]) func revokedRefused(tls: TLSVersion) async {
        let policy = SSTPClientCertificatePolicy(roots: [pki.root.certificate], revoked: [pki.client.thumbprint.lowercased()])
        var pair = PPPPair(server: eapServerConfig(pki),
                           client: PPPClientConfiguration(userName: "a", password: "", eapTLS: pki.clientSetup(pki.client, tls: tls)),
                           verify: { await policy.verify(chain: $0).verdict })
        await pair.run()
        guard case .certificateRefused(let reason) = PPPPair.failure(pair.serverLog) else { Issue.record("not refused"); return }
        #expect(reason.contains("revoked"))
        #expect(!PPPPair.networkUp(pair.clientLog))
    }

    @Test func bothMethodsClientChoosesByNak() async {
        // Server prefers EAP; a password-only client Naks it for MS-CHAPv2.
        var pair = PPPPair(server: eapServerConfig(pki, methods: [.eap, .msCHAPv2]),
                           client: PPPClientConfiguration(userName: "bob", password: "pw"), verify: { _ in .refused(reason: "unused") })
        await pair.run()
        #expect(PPPPair.keys(pair.serverLog)?.user == "bob")
        #expect(PPPPair.networkUp(pair.clientLog))
        // And a certificate client against the same server uses EAP-TLS.
        let policy = self.policy
        var cert = PPPPair(server: eapServerConfig(pki, methods: [.msCHAPv2, .eap]),
                           client: PPPClientConfiguration(userName: "a", password: "", eapTLS: pki.clientSetup(pki.client)),
                           verify: { await policy.verify(chain: $0).verdict })
        await cert.run()
        #expect(PPPPair.keys(cert.serverLog)?.user == "alice-laptop")
    }

    @Test(arguments: tlsVersions) func sstpCallWithEAPTLSBindsAndConnects(tls: TLSVersion?) {
        var server = serverConfiguration()
        server.ppp = eapServerConfig(pki)
        var client = clientConfiguration()
        client.ppp = PPPClientConfiguration(userName: "alice-laptop", password: "", eapTLS: pki.clientSetup(pki.client, tls: tls))
        var call = Call(server: server, client: client)
        let expected = pki.client.thumbprint
        call.verify = { SSTPClientCertificatePolicy.thumbprint(der: $0.first ?? []) == expected ? .accepted(identity: "alice-laptop") : .refused(reason: "?") }
        call.run()
        #expect(call.server.state == .connected)
        #expect(call.serverLog.contains { if case .connected(let user, _) = $0 { user == "alice-laptop" } else { false } })
    }

    /// The versions through the bare exchange: TLS 1.3 (RFC 9190) ends with a Request carrying
    /// our NewSessionTickets and the protected success indication — the client decrypts exactly
    /// 0x00 — and EAP-Success only after the client's ack; the MSK is RFC 9190's exporter
    /// (Key_Material[0..<64]), not RFC 5216's label. TLS 1.2 stays as it was: no application data.
    @Test(arguments: [TLSVersion.tlsv12, .tlsv13]) func versionsSuccessIndicationAndKeys(tls: TLSVersion) async {
        let policy = self.policy
        var run = BareEAPRun(server: pki.serverSetup(), client: pki.clientSetup(pki.client, tls: tls))
        await run.run(verify: { await policy.verify(chain: $0).verdict })
        guard let engine = run.client.engine, let client = run.clientKeys, let server = run.serverKeys else {
            Issue.record("no success: server \(String(describing: run.serverFailure)) client \(String(describing: run.clientFailure))"); return
        }
        #expect(server.send == client.receive && server.receive == client.send)
        let codes = run.codesAfterVerdict
        #expect(codes.count >= 2 && codes.last == EAPCode.success && codes.dropLast().allSatisfy { $0 == EAPCode.request })
        let msk = client.send + client.receive
        if tls == .tlsv13 {
            #expect(engine.negotiatedTLS13)
            #expect(engine.receivedApplicationData == EAPTLS13.commitment)
            let material = engine.exportKeyingMaterial(label: "EXPORTER_EAP_TLS_Key_Material", context: [0x0D], length: 128)
            #expect(material.map { Array($0[0..<64]) } == msk)
            #expect(engine.exportKeyingMaterial(label: "EXPORTER_EAP_TLS_Key_Material", context: nil, length: 64) != Array(msk))
            #expect(engine.exportKeyingMaterial(label: "client EAP encryption", context: nil, length: 64) != Array(msk))
        } else {
            #expect(!engine.negotiatedTLS13)
            #expect(engine.receivedApplicationData.isEmpty)
            #expect(engine.exportKeyingMaterial(label: "client EAP encryption", context: nil, length: 64) == Array(msk))
        }
    }

    /// RFC 9190 refusal: the client's Certificate comes after our Finished in TLS 1.3, so the
    /// refusal is an (encrypted) certificate_unknown alert in place of the success indication, then
    /// EAP-Failure; the client never sees 0x00.
    @Test func tls13RefusalIsAnAlertWithoutSuccessIndication() async {
        let policy = self.policy
        var run = BareEAPRun(server: pki.serverSetup(), client: pki.clientSetup(pki.stranger, tls: .tlsv13))
        await run.run(verify: { await policy.verify(chain: $0).verdict })
        #expect(run.client.engine?.negotiatedTLS13 == true)
        #expect(run.client.engine?.receivedApplicationData == [])
        #expect(run.codesAfterVerdict == [EAPCode.request, EAPCode.failure])
        guard case .certificateRefused(let reason) = run.serverFailure else { Issue.record("server did not refuse"); return }
        #expect(reason.contains("does not chain"))
        guard case .eapFailure(let tls) = run.clientFailure else { Issue.record("client did not fail"); return }
        #expect(tls?.contains("CERTIFICATE_UNKNOWN") == true)
        #expect(run.clientKeys == nil && run.serverKeys == nil)
    }

    /// RFC 9190 §2.5 on the client: an EAP-Success in place of the success indication (e.g. forged,
    /// EAP-Success is unprotected) is a failure, not keys.
    @Test func tls13ClientRefusesSuccessWithoutIndication() async {
        final class Flag: @unchecked Sendable { var verdictGiven = false }
        let flag = Flag()
        var run = BareEAPRun(server: pki.serverSetup(), client: pki.clientSetup(pki.client, tls: .tlsv13))
        await run.run(verify: { _ in flag.verdictGiven = true; return .accepted(identity: "alice") },
                      intercept: { packet in
                          guard flag.verdictGiven, packet[0] == EAPCode.request else { return nil }
                          return [EAPCode.success, packet[1], 0, 4]
                      })
        #expect(run.clientKeys == nil)
        guard case .eapFailure(let why) = run.clientFailure else { Issue.record("client did not fail"); return }
        #expect(why?.contains("protected success indication") == true)
    }

    /// A TLS 1.3-only client against a server narrowed to TLS 1.2: protocol_version alert, Failure.
    @Test func tls13OnlyClientAgainstTLS12OnlyServer() async {
        var run = BareEAPRun(server: pki.serverSetup(tls: .tlsv12), client: pki.clientSetup(pki.client, tls: .tlsv13))
        await run.run(verify: { _ in .accepted(identity: "x") })
        guard case .certificateRefused(let reason) = run.serverFailure else { Issue.record("server did not refuse"); return }
        #expect(reason.contains("UNSUPPORTED_PROTOCOL"))
        #expect(run.clientFailure != nil && run.clientKeys == nil)
    }

    @Test func garbageEAPIsHarmless() {
        // Truncated, oversized-length and unknown-code EAP frames, then a bogus L length: no crash, no success.
        var session = PPPSession(role: .server(eapServerConfig(pki)), random: SystemPPPRandom())
        _ = session.start(now: .zero)
        for junk: [UInt8] in [[], [1], [2, 0, 0xFF, 0xFF, 13], [9, 9, 0, 4], [2, 0, 0, 5, 13]] {
            _ = session.handle(frame: PPPFrame(protocolNumber: .eap, information: junk).emit(), now: .zero)
        }
        #expect(session.authenticatedUser == nil)
    }
}
