import Testing
@testable import IKE

/// Two IKE SAs in one process, joined by an in-memory wire, driven by a mock clock.
struct TwoPeers {
    var initiator: IKESA
    var responder: IKESA
    var now = IKEInstant.zero
    var initiatorActions: [IKESAAction] = []
    var responderActions: [IKESAAction] = []
    /// Datagrams in flight: (to responder?, bytes).
    var wire: [(toResponder: Bool, bytes: [UInt8])] = []
    /// Drops the next datagram whose index (0-based, over all sends) is in this set.
    var dropSends: Set<Int> = []
    var sendCount = 0

    static let initiatorEndpoint = IKEEndpoint(address: [192, 0, 2, 1])
    static let responderEndpoint = IKEEndpoint(address: [198, 51, 100, 7])

    init(initiatorPSK: String = "correct horse", responderPSK: String = "correct horse",
         initiatorSuites: [IKECipherSuite] = DefaultProposals.vpngwDefault.ike,
         responderSuites: [IKECipherSuite] = DefaultProposals.vpngwDefault.ike,
         initiatorChild: [ChildCipherSuite] = DefaultProposals.vpngwDefault.child,
         responderChild: [ChildCipherSuite] = DefaultProposals.vpngwDefault.child,
         initiatorSelectors: TrafficSelectorPolicy = .routeBased, responderSelectors: TrafficSelectorPolicy = .routeBased,
         responderExpects: IdentificationPayload? = nil, maximumMessageLength: Int = 1248) {
        initiator = IKESA(role: .initiator, configuration: IKEPeerConfiguration(
            local: Self.initiatorEndpoint, remote: Self.responderEndpoint, preSharedKey: ascii(initiatorPSK),
            ikeSuites: initiatorSuites, childSuites: initiatorChild, trafficSelectors: initiatorSelectors,
            maximumMessageLength: maximumMessageLength), random: TestRandom(seed: 11))
        responder = IKESA(role: .responder, configuration: IKEPeerConfiguration(
            local: Self.responderEndpoint, remote: Self.initiatorEndpoint, remoteIdentity: responderExpects,
            preSharedKey: ascii(responderPSK), ikeSuites: responderSuites, childSuites: responderChild,
            trafficSelectors: responderSelectors, maximumMessageLength: maximumMessageLength), random: TestRandom(seed: 22))
    }

    mutating func absorb(_ actions: [IKESAAction], fromInitiator: Bool) {
        if fromInitiator { initiatorActions += actions } else { responderActions += actions }
        for case let .send(bytes) in actions {
            defer { sendCount += 1 }
            if dropSends.contains(sendCount) { continue }
            wire.append((fromInitiator, bytes))
        }
    }

    mutating func start() {
        absorb(initiator.handle(.start, now: now), fromInitiator: true)
    }

    /// Delivers datagrams until the wire is empty.
    mutating func run() {
        var guardCount = 0
        while !wire.isEmpty && guardCount < 100 {
            guardCount += 1
            let (toResponder, bytes) = wire.removeFirst()
            if toResponder {
                absorb(responder.handle(.received(bytes), now: now), fromInitiator: false)
            } else {
                absorb(initiator.handle(.received(bytes), now: now), fromInitiator: true)
            }
        }
    }

    mutating func advance(to instant: IKEInstant) {
        now = instant
    }

    mutating func fireInitiatorRetransmit() {
        absorb(initiator.handle(.timerFired(.retransmit), now: now), fromInitiator: true)
    }

    static func installs(_ actions: [IKESAAction]) -> [ChildSAInstallation] {
        actions.compactMap { if case let .installChildSA(child) = $0 { return child } else { return nil } }
    }

    static func reports(_ actions: [IKESAAction]) -> [IKESAReport] {
        actions.compactMap { if case let .report(report) = $0 { return report } else { return nil } }
    }

    static func lastDeadline(_ actions: [IKESAAction]) -> IKEInstant? {
        actions.compactMap { if case let .armTimer(_, deadline) = $0 { return deadline } else { return nil } }.last
    }
}

@Suite struct IKESATests {
    func expectMatchingChildren(_ peers: TwoPeers) throws {
        let i = try #require(TwoPeers.installs(peers.initiatorActions).first)
        let r = try #require(TwoPeers.installs(peers.responderActions).first)
        #expect(i.suite == r.suite)
        #expect(i.outboundSPI == r.inboundSPI && i.inboundSPI == r.outboundSPI)
        #expect(i.outboundKeys == r.inboundKeys && i.inboundKeys == r.outboundKeys)
        #expect(i.outboundKeys != i.inboundKeys)
        #expect(i.localSelectors == r.remoteSelectors && i.remoteSelectors == r.localSelectors)
        #expect(i.outboundKeys.encryptionKey.count == i.suite.encryption.keyMaterialLength)
    }

    @Test func initAndAuthEstablishWithMatchingChildKeys() throws {
        var peers = TwoPeers()
        peers.start()
        peers.run()
        #expect(peers.initiator.phase == .established)
        #expect(peers.responder.phase == .established)
        try expectMatchingChildren(peers)
        let expectedSuite = IKECipherSuite(encryption: .aesGCM16(keyBits: 256), integrity: nil, prf: .hmacSHA2_256, dhGroup: .curve25519)
        #expect(TwoPeers.reports(peers.initiatorActions).contains(.ikeSAEstablished(
            suite: expectedSuite, initiatorSPI: peers.initiator.initiatorSPI, responderSPI: peers.initiator.responderSPI)))
        #expect(TwoPeers.reports(peers.responderActions).contains(.natDetected(localBehindNAT: false, remoteBehindNAT: false)))
        #expect(peers.initiatorActions.contains(.cancelTimer(.retransmit)))
        // Two exchanges, four datagrams.
        #expect(peers.sendCount == 4)
    }

    @Test(arguments: [
        IKECipherSuite(encryption: .aesCBC(keyBits: 256), integrity: .hmacSHA1_96, prf: .hmacSHA1, dhGroup: .modp1024),
        IKECipherSuite(encryption: .aesCBC(keyBits: 128), integrity: .hmacSHA2_256_128, prf: .hmacSHA2_256, dhGroup: .modp2048),
        IKECipherSuite(encryption: .aesGCM16(keyBits: 128), integrity: nil, prf: .hmacSHA2_384, dhGroup: .ecp384),
        IKECipherSuite(encryption: .chacha20Poly1305, integrity: nil, prf: .hmacSHA2_512, dhGroup: .ecp521),
        IKECipherSuite(encryption: .aesCBC(keyBits: 256), integrity: .hmacSHA2_512_256, prf: .hmacSHA2_256, dhGroup: .ecp256),
    ])
    func everySuiteEstablishes(_ suite: IKECipherSuite) throws {
        var peers = TwoPeers(initiatorSuites: [suite], responderSuites: [suite],
                             initiatorChild: DefaultProposals.azureRouteBased.child, responderChild: DefaultProposals.azureRouteBased.child)
        peers.start()
        peers.run()
        #expect(peers.initiator.phase == .established && peers.responder.phase == .established)
        try expectMatchingChildren(peers)
    }

    @Test func azureDefaultsAgainstAzureDefaults() throws {
        let azure = DefaultProposals.azureRouteBased
        var peers = TwoPeers(initiatorSuites: azure.ike, responderSuites: azure.ike,
                             initiatorChild: azure.child, responderChild: azure.child + azure.childAcceptedAsResponder)
        peers.start()
        peers.run()
        try expectMatchingChildren(peers)
        #expect(TwoPeers.installs(peers.initiatorActions).first?.suite == ChildCipherSuite(encryption: .aesGCM16(keyBits: 256), integrity: nil))
    }

    @Test func wrongPSKIsReportedAsPSKMismatch() {
        var peers = TwoPeers(initiatorPSK: "correct horse", responderPSK: "battery staple")
        peers.start()
        peers.run()
        #expect(peers.responder.failureCause == .pskMismatch)
        #expect(TwoPeers.reports(peers.responderActions).contains(.failed(.pskMismatch)))
        #expect(peers.initiator.failureCause == .authenticationRejectedByPeer)
        #expect(TwoPeers.installs(peers.initiatorActions).isEmpty && TwoPeers.installs(peers.responderActions).isEmpty)
        #expect(IKEFailureCause.pskMismatch.description.contains("PSK mismatch"))
    }

    @Test func identityMismatchIsNotReportedAsPSKMismatch() {
        let expected = IdentificationPayload(idType: .fqdn, data: ascii("branch.example"))
        var peers = TwoPeers(responderExpects: expected)
        peers.start()
        peers.run()
        #expect(peers.responder.failureCause == .identityMismatch(expected: expected, received: TwoPeers.initiatorEndpoint.identification))
        #expect(peers.initiator.failureCause == .authenticationRejectedByPeer)
    }

    @Test func invalidKEPayloadRetriesWithTheRequestedGroup() throws {
        let initiatorSuites = [
            IKECipherSuite(encryption: .aesGCM16(keyBits: 256), integrity: nil, prf: .hmacSHA2_256, dhGroup: .curve25519),
            IKECipherSuite(encryption: .aesGCM16(keyBits: 256), integrity: nil, prf: .hmacSHA2_256, dhGroup: .modp2048),
        ]
        let responderSuites = [IKECipherSuite(encryption: .aesGCM16(keyBits: 256), integrity: nil, prf: .hmacSHA2_256, dhGroup: .modp2048)]
        var peers = TwoPeers(initiatorSuites: initiatorSuites, responderSuites: responderSuites)
        peers.start()
        peers.run()
        #expect(TwoPeers.reports(peers.initiatorActions).contains(.retryingWithKeyExchangeGroup(14)))
        #expect(peers.initiator.phase == .established && peers.responder.phase == .established)
        try expectMatchingChildren(peers)
    }

    @Test func noCommonProposalIsExplained() {
        var peers = TwoPeers(initiatorSuites: DefaultProposals.azureRouteBased.ike, responderSuites: DefaultProposals.vpngwDefault.ike)
        peers.start()
        peers.run()
        guard case let .noProposalChosen(mismatch)? = peers.responder.failureCause else {
            Issue.record("responder should explain NO_PROPOSAL_CHOSEN, got \(String(describing: peers.responder.failureCause))")
            return
        }
        #expect(mismatch.description.contains("they offered ENCR_AES_CBC-256, PRF_HMAC_SHA1, AUTH_HMAC_SHA1_96, MODP_1024"))
        #expect(peers.initiator.failureCause == .refusedByPeer(.noProposalChosen))
    }

    @Test func trafficSelectorMismatchKeepsTheIKESA() {
        let initiatorPolicy = TrafficSelectorPolicy(local: [.prefix([10, 1, 0, 0], length: 16)], remote: [.prefix([10, 2, 0, 0], length: 16)])
        let responderPolicy = TrafficSelectorPolicy(local: [.prefix([10, 2, 0, 0], length: 16)], remote: [.prefix([10, 9, 0, 0], length: 16)])
        var peers = TwoPeers(initiatorSelectors: initiatorPolicy, responderSelectors: responderPolicy)
        peers.start()
        peers.run()
        #expect(peers.initiator.phase == .established && peers.responder.phase == .established)
        #expect(TwoPeers.installs(peers.responderActions).isEmpty)
        #expect(TwoPeers.reports(peers.initiatorActions).contains(.childSAFailed(.refusedByPeer(.tsUnacceptable))))
        let responderChildFailure = TwoPeers.reports(peers.responderActions).first {
            if case .childSAFailed = $0 { return true } else { return false }
        }
        guard case let .childSAFailed(.trafficSelectorsUnacceptable(mismatch))? = responderChildFailure else {
            Issue.record("responder should name the selectors")
            return
        }
        #expect(mismatch.description.contains("10.1.0.0/16") && mismatch.description.contains("10.9.0.0/16"))
    }

    @Test func policyBasedSelectorsAreNarrowed() throws {
        let initiatorPolicy = TrafficSelectorPolicy(local: [.prefix([10, 1, 0, 0], length: 16)], remote: [.prefix([10, 2, 0, 0], length: 16)])
        let responderPolicy = TrafficSelectorPolicy(local: [.prefix([10, 2, 0, 0], length: 16)], remote: [.prefix([10, 1, 1, 0], length: 24)])
        var peers = TwoPeers(initiatorSelectors: initiatorPolicy, responderSelectors: responderPolicy)
        peers.start()
        peers.run()
        try expectMatchingChildren(peers)
        #expect(TwoPeers.installs(peers.initiatorActions).first?.localSelectors == [.prefix([10, 1, 1, 0], length: 24)])
    }

    @Test func lostResponseIsRetransmittedAndAnsweredFromCache() throws {
        var peers = TwoPeers()
        peers.dropSends = [3]  // the IKE_AUTH response
        peers.start()
        peers.run()
        #expect(peers.initiator.phase == .authSent)
        #expect(peers.responder.phase == .established)
        let deadline = try #require(TwoPeers.lastDeadline(peers.initiatorActions))
        #expect(deadline == IKEInstant.zero + .seconds(4))
        peers.advance(to: deadline)
        peers.fireInitiatorRetransmit()
        peers.run()
        #expect(peers.initiator.phase == .established)
        #expect(TwoPeers.installs(peers.responderActions).count == 1)
        try expectMatchingChildren(peers)
    }

    @Test func silentPeerIsReportedAfterTheRetransmits() {
        var peers = TwoPeers()
        peers.start()
        peers.wire.removeAll()
        var deadlines: [IKEInstant] = []
        for _ in 0..<6 {
            guard let deadline = TwoPeers.lastDeadline(peers.initiatorActions) else { break }
            deadlines.append(deadline)
            peers.initiatorActions.removeAll()
            peers.advance(to: deadline)
            peers.fireInitiatorRetransmit()
        }
        #expect(peers.initiator.failureCause == .noResponse(retransmits: 5))
        // 4 s, then ×1.8 each time (4, 7.2, 12.96, 23.3, 42.0 s), the last wait capped at 60 s:
        // deadlines 4, 11.2, 24.16, 47.49, 89.48, 149.48 s.
        #expect(deadlines.count == 6)
        #expect(deadlines.first == IKEInstant.zero + .seconds(4))
        #expect(abs(Double(deadlines.last!.nanoseconds) / 1e9 - 149.48) < 0.01)
    }

    @Test func livenessChecksRunBothWays() {
        var peers = TwoPeers()
        peers.start()
        peers.run()
        peers.absorb(peers.initiator.handle(.checkLiveness, now: peers.now), fromInitiator: true)
        peers.absorb(peers.responder.handle(.checkLiveness, now: peers.now), fromInitiator: false)
        peers.run()
        #expect(TwoPeers.reports(peers.initiatorActions).contains(.livenessConfirmed))
        #expect(TwoPeers.reports(peers.responderActions).contains(.livenessConfirmed))
        #expect(peers.initiator.phase == .established && peers.responder.phase == .established)
    }

    @Test func deadPeerIsNoticedByTheLivenessCheck() {
        var peers = TwoPeers()
        peers.start()
        peers.run()
        peers.initiatorActions.removeAll()
        peers.absorb(peers.initiator.handle(.checkLiveness, now: peers.now), fromInitiator: true)
        for _ in 0..<6 {
            peers.wire.removeAll()  // the responder is gone
            guard let deadline = TwoPeers.lastDeadline(peers.initiatorActions) else { break }
            peers.initiatorActions.removeAll()
            peers.advance(to: deadline)
            peers.fireInitiatorRetransmit()
        }
        #expect(peers.initiator.failureCause == .noResponse(retransmits: 5))
    }

    @Test func deleteTearsDownBothSides() {
        var peers = TwoPeers()
        peers.start()
        peers.run()
        #expect(peers.initiator.childSAs.count == 1 && peers.responder.childSAs.count == 1)
        peers.absorb(peers.initiator.handle(.delete, now: peers.now), fromInitiator: true)
        peers.run()
        #expect(peers.initiator.phase == .deleted && peers.responder.phase == .deleted)
        #expect(TwoPeers.reports(peers.initiatorActions).contains(.deleted))
        #expect(TwoPeers.reports(peers.responderActions).contains(.deletedByPeer))
        #expect(peers.initiator.childSAs.isEmpty && peers.responder.childSAs.isEmpty)
    }

    @Test func childDeleteIsAnsweredWithOurInboundSPI() throws {
        var peers = TwoPeers()
        peers.start()
        peers.run()
        let context = try #require({ () -> IKESAContext? in
            if case let .established(context) = peers.initiator.state { return context }
            return nil
        }())
        let child = try #require(peers.initiator.childSAs.first)
        var spi: [UInt8] = []
        spi.appendU32(child.inboundSPI)
        let header = IKEHeader(initiatorSPI: peers.initiator.initiatorSPI, responderSPI: peers.initiator.responderSPI,
                               exchangeType: .informational, flags: .initiator, messageID: 2)
        let request = try context.outbound.seal(header: header, payloads: [.delete(DeletePayload(protocolID: .esp, spiSize: 4, spis: [spi]))],
                                                random: TestRandom(seed: 5))
        let actions = peers.responder.handle(.received(request), now: peers.now)
        guard case let .send(response)? = actions.first else {
            Issue.record("no INFORMATIONAL response")
            return
        }
        let message = try IKEMessage.parse(response)
        #expect(message.header.isResponse && message.header.messageID == 2)
        var expected: [UInt8] = []
        expected.appendU32(child.outboundSPI)  // the responder's inbound SPI
        #expect(try context.inbound.open(message, rawBytes: response) == [.delete(DeletePayload(protocolID: .esp, spiSize: 4, spis: [expected]))])
        #expect(TwoPeers.reports(actions) == [.childSAsDeletedByPeer(inboundSPIs: [child.outboundSPI])])
        #expect(peers.responder.childSAs.isEmpty)
        // A retransmitted request gets the cached answer, byte for byte.
        #expect(peers.responder.handle(.received(request), now: peers.now) == [.send(response)])
    }

    static func isFragment(_ bytes: [UInt8]) -> Bool {
        (try? IKEMessage.parse(bytes))?.payloads.last?.type == .encryptedFragment
    }

    @Test func largeMessagesTravelAsFragments() throws {
        var peers = TwoPeers(maximumMessageLength: 160)
        peers.start()
        peers.run()
        #expect(peers.initiator.fragmentationNegotiated && peers.responder.fragmentationNegotiated)
        #expect(peers.initiator.phase == .established && peers.responder.phase == .established)
        try expectMatchingChildren(peers)
        let fragments = (peers.initiatorActions + peers.responderActions).compactMap { action -> [UInt8]? in
            if case let .send(bytes) = action, Self.isFragment(bytes) { return bytes }
            return nil
        }
        #expect(fragments.count >= 4)
        #expect(fragments.allSatisfy { $0.count <= 160 })
    }

    @Test func lostFragmentIsRecoveredByRetransmittingAll() throws {
        var peers = TwoPeers(maximumMessageLength: 160)
        peers.dropSends = [3]  // the second fragment of the IKE_AUTH request
        peers.start()
        peers.run()
        #expect(peers.initiator.phase == .authSent && peers.responder.phase == .awaitingAuth)
        let deadline = try #require(TwoPeers.lastDeadline(peers.initiatorActions))
        peers.advance(to: deadline)
        peers.fireInitiatorRetransmit()
        peers.run()
        #expect(peers.initiator.phase == .established && peers.responder.phase == .established)
        try expectMatchingChildren(peers)
    }

    func expectMatchingCurrentChildren(_ peers: TwoPeers) throws {
        #expect(peers.initiator.childSAs.count == 1 && peers.responder.childSAs.count == 1)
        let i = try #require(peers.initiator.childSAs.first)
        let r = try #require(peers.responder.childSAs.first)
        #expect(i.outboundSPI == r.inboundSPI && i.inboundSPI == r.outboundSPI)
        #expect(i.outboundKeys == r.inboundKeys && i.inboundKeys == r.outboundKeys)
        #expect(i.localSelectors == r.remoteSelectors && i.remoteSelectors == r.localSelectors)
    }

    @Test func childRekeyWithoutPFSMakesBeforeBreaking() throws {
        var peers = TwoPeers()
        peers.start()
        peers.run()
        let old = try #require(peers.initiator.childSAs.first)
        peers.initiatorActions.removeAll()
        peers.responderActions.removeAll()
        peers.absorb(peers.initiator.handle(.rekeyChildSA(inboundSPI: old.inboundSPI), now: peers.now), fromInitiator: true)
        peers.run()
        try expectMatchingCurrentChildren(peers)
        let new = try #require(peers.initiator.childSAs.first)
        #expect(new.inboundSPI != old.inboundSPI && new.outboundKeys != old.outboundKeys)
        // Installed before the old one is removed, on both sides.
        let iInstall = try #require(peers.initiatorActions.firstIndex { if case .installChildSA = $0 { return true } else { return false } })
        let iRemove = try #require(peers.initiatorActions.firstIndex(of: .uninstallChildSA(inboundSPI: old.inboundSPI)))
        #expect(iInstall < iRemove)
        #expect(peers.responderActions.contains(.uninstallChildSA(inboundSPI: old.outboundSPI)))
        #expect(TwoPeers.reports(peers.initiatorActions).contains(.childSARekeyed(oldInboundSPI: old.inboundSPI, newInboundSPI: new.inboundSPI)))
    }

    @Test func childRekeyWithPFSStartedByTheResponder() throws {
        let pfs = [ChildCipherSuite(encryption: .aesGCM16(keyBits: 128), integrity: nil, dhGroup: .curve25519)]
        var peers = TwoPeers(initiatorChild: pfs, responderChild: pfs)
        peers.start()
        peers.run()
        let old = try #require(peers.responder.childSAs.first)
        peers.absorb(peers.responder.handle(.rekeyChildSA(inboundSPI: old.inboundSPI), now: peers.now), fromInitiator: false)
        peers.run()
        try expectMatchingCurrentChildren(peers)
        let new = try #require(peers.responder.childSAs.first)
        #expect(new.suite.dhGroup == .curve25519)
        #expect(new.inboundSPI != old.inboundSPI)
        // Two rekeys in a row: message IDs advance on the responder's own counter.
        peers.absorb(peers.responder.handle(.rekeyChildSA(inboundSPI: new.inboundSPI), now: peers.now), fromInitiator: false)
        peers.run()
        try expectMatchingCurrentChildren(peers)
        #expect(peers.responder.childSAs.first?.inboundSPI != new.inboundSPI)
    }

    @Test func pfsMismatchOnRekeyKeepsTheOldSA() throws {
        let withPFS = [ChildCipherSuite(encryption: .aesGCM16(keyBits: 128), integrity: nil, dhGroup: .ecp256)]
        let withoutPFS = [ChildCipherSuite(encryption: .aesGCM16(keyBits: 128), integrity: nil)]
        var peers = TwoPeers(initiatorChild: withPFS, responderChild: withoutPFS)
        peers.start()
        peers.run()
        try expectMatchingChildren(peers)  // IKE_AUTH ignores the DH transform
        let old = try #require(peers.initiator.childSAs.first)
        peers.absorb(peers.initiator.handle(.rekeyChildSA(inboundSPI: old.inboundSPI), now: peers.now), fromInitiator: true)
        peers.run()
        #expect(TwoPeers.reports(peers.initiatorActions).contains(.childSAFailed(.refusedByPeer(.noProposalChosen))))
        let responderFailure = TwoPeers.reports(peers.responderActions).first { if case .childSAFailed = $0 { return true } else { return false } }
        guard case let .childSAFailed(.noProposalChosen(mismatch))? = responderFailure else {
            Issue.record("responder should explain the PFS mismatch")
            return
        }
        #expect(mismatch.description.contains("no common DH (we: none; they: ECP_256)"))
        #expect(peers.initiator.childSAs == [old])
    }

    @Test func additionalChildSAForASecondPrefixPair() throws {
        let net = { (a: UInt8, b: UInt8) in TrafficSelector.prefix([a, b, 0, 0], length: 16) }
        var peers = TwoPeers(
            initiatorSelectors: TrafficSelectorPolicy(local: [net(10, 1)], remote: [net(10, 2)]),
            responderSelectors: TrafficSelectorPolicy(local: [net(10, 2), net(10, 4)], remote: [net(10, 1), net(10, 3)]))
        peers.start()
        peers.run()
        peers.absorb(peers.initiator.handle(.createChildSA(TrafficSelectorPolicy(local: [net(10, 3)], remote: [net(10, 4)])),
                                            now: peers.now), fromInitiator: true)
        peers.run()
        #expect(peers.initiator.childSAs.count == 2 && peers.responder.childSAs.count == 2)
        let second = try #require(peers.initiator.childSAs.last)
        let partner = try #require(peers.responder.childSAs.first { $0.inboundSPI == second.outboundSPI })
        #expect(second.inboundKeys == partner.outboundKeys && second.outboundKeys == partner.inboundKeys)
        #expect(second.localSelectors == [net(10, 3)] && partner.localSelectors == [net(10, 4)])
        // A pair outside the responder's policy is refused, naming the selectors; the others stay.
        peers.absorb(peers.initiator.handle(.createChildSA(TrafficSelectorPolicy(local: [net(10, 5)], remote: [net(10, 4)])),
                                            now: peers.now), fromInitiator: true)
        peers.run()
        #expect(TwoPeers.reports(peers.initiatorActions).contains(.childSAFailed(.refusedByPeer(.tsUnacceptable))))
        #expect(peers.initiator.childSAs.count == 2)
    }

    @Test(arguments: [UInt64(1), 2, 3, 4, 5, 6])
    func simultaneousChildRekeysLeaveExactlyOnePair(seed: UInt64) throws {
        let pfs = [ChildCipherSuite(encryption: .aesGCM16(keyBits: 256), integrity: nil, dhGroup: seed % 2 == 0 ? .curve25519 : nil)]
        var peers = TwoPeers(initiatorChild: pfs, responderChild: pfs)
        // Different seeds give different nonces: seeds 1, 4, 6 keep one side's new SA, 2, 3, 5 the other's.
        peers.initiator = IKESA(role: .initiator, configuration: peers.initiator.configuration, random: TestRandom(seed: seed * 101))
        peers.responder = IKESA(role: .responder, configuration: peers.responder.configuration, random: TestRandom(seed: seed * 707))
        peers.start()
        peers.run()
        let oldI = try #require(peers.initiator.childSAs.first)
        let oldR = try #require(peers.responder.childSAs.first)
        peers.initiatorActions.removeAll()
        peers.responderActions.removeAll()
        // Both sides start a rekey of the same CHILD SA before either request arrives.
        peers.absorb(peers.initiator.handle(.rekeyChildSA(inboundSPI: oldI.inboundSPI), now: peers.now), fromInitiator: true)
        peers.absorb(peers.responder.handle(.rekeyChildSA(inboundSPI: oldR.inboundSPI), now: peers.now), fromInitiator: false)
        peers.run()
        try expectMatchingCurrentChildren(peers)
        #expect(peers.initiator.childSAs.first?.inboundSPI != oldI.inboundSPI)
        #expect(peers.initiatorActions.contains(.uninstallChildSA(inboundSPI: oldI.inboundSPI)))
        #expect(peers.responderActions.contains(.uninstallChildSA(inboundSPI: oldR.inboundSPI)))
        // Three SA pairs were created or existed; two are gone on each side, each installed pair removed once.
        let installsI = TwoPeers.installs(peers.initiatorActions).map(\.inboundSPI)
        let removalsI = peers.initiatorActions.compactMap { if case let .uninstallChildSA(spi) = $0 { return spi } else { return nil } }
        #expect(installsI.count == 2 && removalsI.count == 2)
        #expect(Set(installsI + [oldI.inboundSPI]).subtracting(removalsI) == [peers.initiator.childSAs[0].inboundSPI])
    }

    @Test func rekeyRetriesWithThePFSGroupThePeerWants() throws {
        let initiatorChild = [ChildCipherSuite(encryption: .aesGCM16(keyBits: 128), integrity: nil, dhGroup: .ecp256),
                              ChildCipherSuite(encryption: .aesGCM16(keyBits: 128), integrity: nil, dhGroup: .curve25519)]
        let responderChild = [ChildCipherSuite(encryption: .aesGCM16(keyBits: 128), integrity: nil, dhGroup: .curve25519)]
        var peers = TwoPeers(initiatorChild: initiatorChild, responderChild: responderChild)
        peers.start()
        peers.run()
        let old = try #require(peers.initiator.childSAs.first)
        peers.absorb(peers.initiator.handle(.rekeyChildSA(inboundSPI: old.inboundSPI), now: peers.now), fromInitiator: true)
        peers.run()
        #expect(TwoPeers.reports(peers.initiatorActions).contains(.retryingWithKeyExchangeGroup(31)))
        try expectMatchingCurrentChildren(peers)
        #expect(peers.initiator.childSAs.first?.suite.dhGroup == .curve25519)
        #expect(peers.initiator.childSAs.first?.inboundSPI != old.inboundSPI)
    }

    @Test func garbageIsDroppedWithADiagnostic() {
        var peers = TwoPeers()
        let actions = peers.responder.handle(.received([1, 2, 3]), now: .zero)
        #expect(TwoPeers.reports(actions).count == 1)
        #expect(peers.responder.phase == .idle)
    }
}

@Suite struct CookieGuardTests {
    @Test func cookiesAreDemandedAboveTheThresholdAndHonoured() throws {
        var peers = TwoPeers()
        let cookieGuard = CookieGuard(threshold: 1, random: TestRandom(seed: 99))
        peers.start()
        var demanded = 0
        // Deliver by hand: every IKE_SA_INIT request passes the guard first, with one SA "half open".
        while !peers.wire.isEmpty {
            let (toResponder, bytes) = peers.wire.removeFirst()
            if toResponder, let header = try? IKEHeader.peek(bytes), header.exchangeType == .ikeSAInit {
                switch cookieGuard.check(try IKEMessage.parse(bytes), from: TwoPeers.initiatorEndpoint, halfOpen: 1) {
                case let .demandCookie(reply):
                    demanded += 1
                    peers.absorb(peers.initiator.handle(.received(reply), now: peers.now), fromInitiator: true)
                    continue
                case .proceed:
                    break
                }
            }
            if toResponder {
                peers.absorb(peers.responder.handle(.received(bytes), now: peers.now), fromInitiator: false)
            } else {
                peers.absorb(peers.initiator.handle(.received(bytes), now: peers.now), fromInitiator: true)
            }
        }
        #expect(demanded == 1)
        #expect(TwoPeers.reports(peers.initiatorActions).contains(.retryingWithCookie))
        // AUTH covers the retried request with its cookie (RFC 7296 §2.15), so both sides agree.
        #expect(peers.initiator.phase == .established && peers.responder.phase == .established)
    }

    @Test func forgedOrStaleCookiesAreRefused() throws {
        var cookieGuard = CookieGuard(threshold: 0, random: TestRandom(seed: 1))
        let source = IKEEndpoint(address: [203, 0, 113, 9])
        func request(cookie: [UInt8]?) -> IKEMessage {
            var payloads: [Payload] = []
            if let cookie { payloads.append(.notify(NotifyPayload(type: .cookie, data: cookie))) }
            payloads += [.securityAssociation(SecurityAssociationPayload(proposals: DefaultProposals.vpngwDefault.ikeProposals())),
                         .keyExchange(KeyExchangePayload(group: 31, data: repeated(9, 32))), .nonce(NoncePayload(data: repeated(3, 32)))]
            return IKEMessage(header: IKEHeader(initiatorSPI: 77, responderSPI: 0, exchangeType: .ikeSAInit, flags: .initiator,
                                                messageID: 0), payloads: payloads)
        }
        let good = cookieGuard.cookie(initiatorSPI: 77, nonce: repeated(3, 32), source: source)
        #expect(cookieGuard.check(request(cookie: good), from: source, halfOpen: 5) == .proceed)
        var forged = good
        forged[10] ^= 1
        guard case .demandCookie = cookieGuard.check(request(cookie: forged), from: source, halfOpen: 5) else {
            Issue.record("a forged cookie must not pass")
            return
        }
        guard case .demandCookie = cookieGuard.check(request(cookie: good), from: IKEEndpoint(address: [203, 0, 113, 10]), halfOpen: 5) else {
            Issue.record("a cookie is bound to the source address")
            return
        }
        cookieGuard.rotateSecret(random: TestRandom(seed: 2))
        #expect(cookieGuard.check(request(cookie: good), from: source, halfOpen: 5) == .proceed)
        cookieGuard.rotateSecret(random: TestRandom(seed: 3))
        #expect(cookieGuard.check(request(cookie: good), from: source, halfOpen: 5) != .proceed)
    }
}

/// Corrupted and truncated copies of every datagram of a handshake, fed to both established
/// peers: each is dropped or answered from the cache, and neither SA leaves `established`.
@Suite struct CorruptedTrafficTests {
    @Test func establishedPeersSurviveCorruptedDatagrams() {
        var peers = TwoPeers()
        peers.start()
        peers.run()
        peers.absorb(peers.initiator.handle(.checkLiveness, now: peers.now), fromInitiator: true)
        peers.run()
        let datagrams = (peers.initiatorActions + peers.responderActions).compactMap { action -> [UInt8]? in
            if case let .send(bytes) = action { return bytes } else { return nil }
        }
        #expect(datagrams.count == 6)
        let random = TestRandom(seed: 2024)
        var mutants: [[UInt8]] = []
        for datagram in datagrams {
            for length in stride(from: 0, to: datagram.count, by: 7) { mutants.append(Array(datagram.prefix(length))) }
            for _ in 0..<40 {
                var copy = datagram
                let position = Int(random.uint32() % UInt32(copy.count))
                copy[position] ^= UInt8(1 << (random.uint32() % 8))
                mutants.append(copy)
            }
            mutants.append(datagram + [0])
        }
        var responder = peers.responder
        var initiator = peers.initiator
        for mutant in mutants {
            _ = responder.handle(.received(mutant), now: peers.now)
            _ = initiator.handle(.received(mutant), now: peers.now)
        }
        #expect(responder.phase == .established && initiator.phase == .established)
        #expect(responder.childSAs == peers.responder.childSAs && initiator.childSAs == peers.initiator.childSAs)
    }
}
