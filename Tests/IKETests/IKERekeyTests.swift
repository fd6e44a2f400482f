import Testing
@testable import IKE

/// IKE SA rekeying (RFC 7296 §1.3.2, §2.8, §2.18) between two peers in one process.
@Suite struct IKERekeyTests {
    static let x25519 = IKECipherSuite(encryption: .aesGCM16(keyBits: 256), integrity: nil, prf: .hmacSHA2_256, dhGroup: .curve25519)
    static let modp2048 = IKECipherSuite(encryption: .aesGCM16(keyBits: 256), integrity: nil, prf: .hmacSHA2_256, dhGroup: .modp2048)

    static func context(_ sa: IKESA) -> IKESAContext? {
        if case let .established(context) = sa.state { return context }
        return nil
    }

    static func rekeyReports(_ actions: [IKESAAction]) -> [IKESAReport] {
        TwoPeers.reports(actions).filter { if case .ikeSARekeyed = $0 { return true } else { return false } }
    }

    static func established(_ peers: inout TwoPeers) {
        peers.start()
        peers.run()
        peers.initiatorActions.removeAll()
        peers.responderActions.removeAll()
    }

    /// Both sides agree on the current IKE SA, its CHILD SAs are untouched, nothing is left retiring,
    /// and the new SA carries liveness checks and a CHILD rekey both ways.
    func expectHealthyAfterRekey(_ peers: inout TwoPeers, childrenBefore: (i: [ChildSAInstallation], r: [ChildSAInstallation]),
                                 oldSPIs: (UInt64, UInt64)) throws {
        #expect(peers.initiator.phase == .established && peers.responder.phase == .established)
        #expect(peers.initiator.initiatorSPI == peers.responder.initiatorSPI)
        #expect(peers.initiator.responderSPI == peers.responder.responderSPI)
        #expect((peers.initiator.initiatorSPI, peers.initiator.responderSPI) != oldSPIs)
        #expect(peers.initiator.initiatorSPI != oldSPIs.0 && peers.initiator.responderSPI != oldSPIs.1)
        // Exactly one side is the new SA's initiator.
        #expect(peers.initiator.role != peers.responder.role)
        // CHILD SAs moved unchanged: same SPIs, same keys; the data plane was not touched.
        #expect(peers.initiator.childSAs == childrenBefore.i && peers.responder.childSAs == childrenBefore.r)
        let touched = (peers.initiatorActions + peers.responderActions).contains {
            switch $0 {
            case .installChildSA, .uninstallChildSA: return true
            default: return false
            }
        }
        #expect(!touched)
        #expect(peers.initiator.retiring.isEmpty && peers.responder.retiring.isEmpty)
        #expect(peers.initiator.localSPIs.count == 1 && peers.responder.localSPIs.count == 1)
        let i = try #require(Self.context(peers.initiator))
        let r = try #require(Self.context(peers.responder))
        #expect(i.keys == r.keys)
        // Liveness both ways on the new SA.
        peers.initiatorActions.removeAll()
        peers.responderActions.removeAll()
        peers.absorb(peers.initiator.handle(.checkLiveness, now: peers.now), fromInitiator: true)
        peers.run()
        peers.absorb(peers.responder.handle(.checkLiveness, now: peers.now), fromInitiator: false)
        peers.run()
        #expect(TwoPeers.reports(peers.initiatorActions).contains(.livenessConfirmed))
        #expect(TwoPeers.reports(peers.responderActions).contains(.livenessConfirmed))
        // A CHILD rekey on the new SA (keys from the new SK_d) gives matching SAs.
        let child = try #require(peers.initiator.childSAs.first)
        peers.absorb(peers.initiator.handle(.rekeyChildSA(inboundSPI: child.inboundSPI), now: peers.now), fromInitiator: true)
        peers.run()
        #expect(peers.initiator.childSAs.count == 1 && peers.responder.childSAs.count == 1)
        let newI = try #require(peers.initiator.childSAs.first)
        let newR = try #require(peers.responder.childSAs.first)
        #expect(newI.inboundSPI != child.inboundSPI)
        #expect(newI.outboundKeys == newR.inboundKeys && newI.inboundKeys == newR.outboundKeys)
    }

    @Test func initiatorRekeysTheIKESAAndKeepsItsChildSAs() throws {
        var peers = TwoPeers()
        Self.established(&peers)
        let oldSPIs = (peers.initiator.initiatorSPI, peers.initiator.responderSPI)
        let oldContext = try #require(Self.context(peers.initiator))
        let children = (peers.initiator.childSAs, peers.responder.childSAs)
        peers.absorb(peers.initiator.handle(.rekeyIKESA, now: peers.now), fromInitiator: true)
        peers.run()
        let newSPIs = (peers.initiator.initiatorSPI, peers.initiator.responderSPI)
        let rekeyed = IKESAReport.ikeSARekeyed(oldInitiatorSPI: oldSPIs.0, oldResponderSPI: oldSPIs.1,
                                              newInitiatorSPI: newSPIs.0, newResponderSPI: newSPIs.1)
        #expect(Self.rekeyReports(peers.initiatorActions) == [rekeyed])
        #expect(Self.rekeyReports(peers.responderActions) == [rekeyed])
        // The rekey initiator deleted the old SA; both sides report it gone.
        let gone = IKESAReport.retiredIKESADeleted(initiatorSPI: oldSPIs.0, responderSPI: oldSPIs.1)
        #expect(TwoPeers.reports(peers.initiatorActions).contains(gone) && TwoPeers.reports(peers.responderActions).contains(gone))
        #expect(peers.initiator.role == .initiator && peers.responder.role == .responder)
        let newContext = try #require(Self.context(peers.initiator))
        #expect(newContext.keys.skD != oldContext.keys.skD && newContext.keys.skEi != oldContext.keys.skEi)
        try expectHealthyAfterRekey(&peers, childrenBefore: children, oldSPIs: oldSPIs)
    }

    @Test func oldSPIsAreNoLongerAcceptedAfterTheRekey() throws {
        var peers = TwoPeers()
        Self.established(&peers)
        let old = try #require(Self.context(peers.initiator))
        peers.absorb(peers.initiator.handle(.rekeyIKESA, now: peers.now), fromInitiator: true)
        peers.run()
        #expect(peers.responder.retiring.isEmpty)
        // A liveness check sealed with the old SA's keys and SPIs (a later message ID) is dropped.
        let header = IKEHeader(initiatorSPI: old.initiatorSPI, responderSPI: old.responderSPI, exchangeType: .informational,
                               flags: .initiator, messageID: 7)
        let stale = try old.outbound.seal(header: header, payloads: [], random: TestRandom(seed: 3))
        let actions = peers.responder.handle(.received(stale), now: peers.now)
        #expect(!actions.contains { if case .send = $0 { return true } else { return false } })
        #expect(TwoPeers.reports(actions).count == 1)
        #expect(peers.responder.phase == .established)
        // So is a CREATE_CHILD_SA on the old SA.
        let createHeader = IKEHeader(initiatorSPI: old.initiatorSPI, responderSPI: old.responderSPI, exchangeType: .createChildSA,
                                     flags: .initiator, messageID: 8)
        let staleCreate = try old.outbound.seal(header: createHeader, payloads: [.nonce(NoncePayload(data: repeated(1, 32)))],
                                                random: TestRandom(seed: 4))
        #expect(TwoPeers.installs(peers.responder.handle(.received(staleCreate), now: peers.now)).isEmpty)
    }

    @Test func responderRekeysTheIKESAAndBecomesItsInitiator() throws {
        let pfs = [ChildCipherSuite(encryption: .aesGCM16(keyBits: 128), integrity: nil, dhGroup: .ecp256)]
        var peers = TwoPeers(initiatorSuites: [Self.modp2048], responderSuites: [Self.modp2048], initiatorChild: pfs, responderChild: pfs)
        Self.established(&peers)
        let oldSPIs = (peers.initiator.initiatorSPI, peers.initiator.responderSPI)
        let children = (peers.initiator.childSAs, peers.responder.childSAs)
        peers.absorb(peers.responder.handle(.rekeyIKESA, now: peers.now), fromInitiator: false)
        peers.run()
        // The rekey's initiator is the new SA's original initiator (RFC 7296 §2.18): roles swap.
        #expect(peers.responder.role == .initiator && peers.initiator.role == .responder)
        #expect(peers.responder.localSPI == peers.responder.initiatorSPI)
        #expect(Self.rekeyReports(peers.initiatorActions).count == 1 && Self.rekeyReports(peers.responderActions).count == 1)
        #expect(Self.context(peers.initiator)?.suite.dhGroup == .modp2048)
        try expectHealthyAfterRekey(&peers, childrenBefore: children, oldSPIs: oldSPIs)
        // And again, from the other side, on the rekeyed SA (message IDs restart at 0 per SA).
        let second = (peers.initiator.initiatorSPI, peers.initiator.responderSPI)
        peers.initiatorActions.removeAll()
        peers.responderActions.removeAll()
        peers.absorb(peers.initiator.handle(.rekeyIKESA, now: peers.now), fromInitiator: true)
        peers.run()
        #expect(Self.rekeyReports(peers.initiatorActions).count == 1)
        #expect(peers.initiator.role == .initiator && peers.responder.role == .responder)
        try expectHealthyAfterRekey(&peers, childrenBefore: (peers.initiator.childSAs, peers.responder.childSAs), oldSPIs: second)
    }

    @Test func lostRekeyResponseIsAnsweredFromTheOldSAsCache() throws {
        var peers = TwoPeers()
        Self.established(&peers)
        let oldSPIs = (peers.initiator.initiatorSPI, peers.initiator.responderSPI)
        let children = (peers.initiator.childSAs, peers.responder.childSAs)
        peers.dropSends = [peers.sendCount + 1]  // the CREATE_CHILD_SA response
        peers.absorb(peers.initiator.handle(.rekeyIKESA, now: peers.now), fromInitiator: true)
        peers.run()
        // The responder already moved to the new SA; the old one answers on.
        #expect(peers.responder.initiatorSPI != oldSPIs.0)
        #expect(peers.responder.retiring.count == 1)
        #expect(peers.initiator.initiatorSPI == oldSPIs.0 && peers.initiator.hasOutstandingRequest)
        let deadline = try #require(TwoPeers.lastDeadline(peers.initiatorActions))
        peers.advance(to: deadline)
        peers.fireInitiatorRetransmit()
        peers.run()
        // One new SA only: the retransmit got the cached response, not a second SA.
        #expect(Self.rekeyReports(peers.responderActions).count == 1 && Self.rekeyReports(peers.initiatorActions).count == 1)
        try expectHealthyAfterRekey(&peers, childrenBefore: children, oldSPIs: oldSPIs)
    }

    @Test func responderForgetsTheOldSAWhenItsDeleteNeverComes() throws {
        var peers = TwoPeers()
        Self.established(&peers)
        let oldSPIs = (peers.initiator.initiatorSPI, peers.initiator.responderSPI)
        peers.dropSends = [peers.sendCount + 2, peers.sendCount + 3]  // the Delete of the old SA and its answer
        peers.absorb(peers.initiator.handle(.rekeyIKESA, now: peers.now), fromInitiator: true)
        peers.run()
        #expect(peers.responder.retiring.count == 1 && peers.initiator.retiring.count == 1)
        #expect(peers.responder.localSPIs.count == 2)
        // The retired SAs' timer: the initiator retransmits its Delete (and eventually gives up), the
        // responder forgets the old SA after the grace period.
        peers.dropSends = []
        let deadline = try #require(peers.responderActions.compactMap { action -> IKEInstant? in
            if case let .armTimer(.retiredSAs, deadline) = action { return deadline } else { return nil }
        }.last)
        peers.advance(to: deadline)
        peers.absorb(peers.initiator.handle(.timerFired(.retiredSAs), now: peers.now), fromInitiator: true)
        peers.absorb(peers.responder.handle(.timerFired(.retiredSAs), now: peers.now), fromInitiator: false)
        peers.run()
        #expect(peers.responder.retiring.isEmpty)
        #expect(TwoPeers.reports(peers.responderActions).contains(.retiredIKESADeleted(initiatorSPI: oldSPIs.0, responderSPI: oldSPIs.1)))
        #expect(peers.initiator.phase == .established && peers.responder.phase == .established)
    }

    @Test(arguments: [UInt64(1), 2, 3, 4, 5, 6, 7, 8])
    func simultaneousIKERekeysLeaveOneIKESA(seed: UInt64) throws {
        var peers = TwoPeers()
        peers.initiator = IKESA(role: .initiator, configuration: peers.initiator.configuration, random: TestRandom(seed: seed * 131))
        peers.responder = IKESA(role: .responder, configuration: peers.responder.configuration, random: TestRandom(seed: seed * 977))
        Self.established(&peers)
        let oldSPIs = (peers.initiator.initiatorSPI, peers.initiator.responderSPI)
        let children = (peers.initiator.childSAs, peers.responder.childSAs)
        // Both start an IKE rekey before either request arrives.
        peers.absorb(peers.initiator.handle(.rekeyIKESA, now: peers.now), fromInitiator: true)
        peers.absorb(peers.responder.handle(.rekeyIKESA, now: peers.now), fromInitiator: false)
        peers.run()
        // Three IKE SAs existed (old + two new); both sides end on the same one, the others deleted.
        #expect(Self.rekeyReports(peers.initiatorActions).count == 1 && Self.rekeyReports(peers.responderActions).count == 1)
        let deletedI = TwoPeers.reports(peers.initiatorActions).filter { if case .retiredIKESADeleted = $0 { return true } else { return false } }
        let deletedR = TwoPeers.reports(peers.responderActions).filter { if case .retiredIKESADeleted = $0 { return true } else { return false } }
        #expect(deletedI.count == 2 && deletedR.count == 2)
        try expectHealthyAfterRekey(&peers, childrenBefore: children, oldSPIs: oldSPIs)
    }

    @Test func simultaneousIKERekeysAreWonByEitherSide() {
        // Across seeds, each side's new SA survives sometimes (the lowest nonce decides).
        var survivorInitiatedByFirstInitiator = Set<Bool>()
        for seed in UInt64(1)...8 {
            var peers = TwoPeers()
            peers.initiator = IKESA(role: .initiator, configuration: peers.initiator.configuration, random: TestRandom(seed: seed * 131))
            peers.responder = IKESA(role: .responder, configuration: peers.responder.configuration, random: TestRandom(seed: seed * 977))
            Self.established(&peers)
            peers.absorb(peers.initiator.handle(.rekeyIKESA, now: peers.now), fromInitiator: true)
            peers.absorb(peers.responder.handle(.rekeyIKESA, now: peers.now), fromInitiator: false)
            peers.run()
            survivorInitiatedByFirstInitiator.insert(peers.initiator.role == .initiator)
        }
        #expect(survivorInitiatedByFirstInitiator == [true, false])
    }

    @Test func ikeRekeyMeetingAChildRekeyIsRefusedThenRetried() throws {
        var peers = TwoPeers()
        Self.established(&peers)
        let oldSPIs = (peers.initiator.initiatorSPI, peers.initiator.responderSPI)
        let child = try #require(peers.responder.childSAs.first)
        // The initiator rekeys the IKE SA while the responder rekeys the CHILD SA.
        peers.absorb(peers.initiator.handle(.rekeyIKESA, now: peers.now), fromInitiator: true)
        peers.absorb(peers.responder.handle(.rekeyChildSA(inboundSPI: child.inboundSPI), now: peers.now), fromInitiator: false)
        peers.run()
        // Each refused the other's exchange with TEMPORARY_FAILURE (strongSwan's behaviour); nothing changed.
        #expect(TwoPeers.reports(peers.initiatorActions).contains(.ikeSARekeyFailed(.refusedByPeer(.temporaryFailure))))
        #expect(TwoPeers.reports(peers.responderActions).contains(.childSAFailed(.refusedByPeer(.temporaryFailure))))
        #expect((peers.initiator.initiatorSPI, peers.initiator.responderSPI) == oldSPIs)
        #expect(peers.responder.childSAs == [child])
        #expect(!peers.initiator.hasOutstandingRequest && !peers.responder.hasOutstandingRequest)
        // Retried one after the other, both succeed; the CHILD rekey runs on the new IKE SA.
        peers.absorb(peers.initiator.handle(.rekeyIKESA, now: peers.now), fromInitiator: true)
        peers.run()
        #expect(peers.initiator.initiatorSPI != oldSPIs.0 && peers.responder.initiatorSPI == peers.initiator.initiatorSPI)
        peers.absorb(peers.responder.handle(.rekeyChildSA(inboundSPI: child.inboundSPI), now: peers.now), fromInitiator: false)
        peers.run()
        #expect(peers.responder.childSAs.count == 1 && peers.responder.childSAs.first?.inboundSPI != child.inboundSPI)
        let i = try #require(peers.initiator.childSAs.first)
        let r = try #require(peers.responder.childSAs.first)
        #expect(i.outboundKeys == r.inboundKeys && i.inboundKeys == r.outboundKeys)
    }

    @Test func ourLivenessCheckOnTheOldSACompletesAfterThePeersRekey() throws {
        var peers = TwoPeers()
        Self.established(&peers)
        let oldSPIs = (peers.initiator.initiatorSPI, peers.initiator.responderSPI)
        let children = (peers.initiator.childSAs, peers.responder.childSAs)
        // The responder rekeys the IKE SA while the initiator's liveness check is in flight: the
        // check is answered on the old SA, which the initiator keeps until it is deleted.
        peers.absorb(peers.responder.handle(.rekeyIKESA, now: peers.now), fromInitiator: false)
        peers.absorb(peers.initiator.handle(.checkLiveness, now: peers.now), fromInitiator: true)
        peers.run()
        #expect(TwoPeers.reports(peers.initiatorActions).contains(.livenessConfirmed))
        #expect(peers.initiator.role == .responder && peers.responder.role == .initiator)
        try expectHealthyAfterRekey(&peers, childrenBefore: children, oldSPIs: oldSPIs)
    }

    @Test func invalidKEOnTheRekeyRetriesWithTheGroupThePeerWants() throws {
        var peers = TwoPeers(initiatorSuites: [Self.x25519, Self.modp2048], responderSuites: [Self.x25519, Self.modp2048])
        Self.established(&peers)
        #expect(Self.context(peers.initiator)?.suite.dhGroup == .curve25519)
        let oldSPIs = (peers.initiator.initiatorSPI, peers.initiator.responderSPI)
        let children = (peers.initiator.childSAs, peers.responder.childSAs)
        // The responder's policy changed to MODP-2048 only: it applies from the next rekey on.
        peers.responder.configuration.ikeSuites = [Self.modp2048]
        peers.absorb(peers.initiator.handle(.rekeyIKESA, now: peers.now), fromInitiator: true)
        peers.run()
        #expect(TwoPeers.reports(peers.initiatorActions).contains(.retryingWithKeyExchangeGroup(14)))
        #expect(Self.context(peers.initiator)?.suite.dhGroup == .modp2048)
        #expect(Self.context(peers.responder)?.suite.dhGroup == .modp2048)
        try expectHealthyAfterRekey(&peers, childrenBefore: children, oldSPIs: oldSPIs)
    }

    @Test func rekeyWithoutACommonProposalFailsTheRekeyOnly() throws {
        var peers = TwoPeers(initiatorSuites: [Self.x25519], responderSuites: [Self.x25519])
        Self.established(&peers)
        let oldSPIs = (peers.initiator.initiatorSPI, peers.initiator.responderSPI)
        peers.responder.configuration.ikeSuites = [Self.modp2048]
        peers.absorb(peers.initiator.handle(.rekeyIKESA, now: peers.now), fromInitiator: true)
        peers.run()
        #expect(TwoPeers.reports(peers.initiatorActions).contains(.ikeSARekeyFailed(.refusedByPeer(.noProposalChosen))))
        let explained = TwoPeers.reports(peers.responderActions).contains {
            if case let .ikeSARekeyFailed(.noProposalChosen(mismatch)) = $0 { return mismatch.description.contains("MODP_2048") }
            return false
        }
        #expect(explained)
        #expect((peers.initiator.initiatorSPI, peers.initiator.responderSPI) == oldSPIs)
        #expect(peers.initiator.phase == .established && peers.responder.phase == .established)
        peers.absorb(peers.initiator.handle(.checkLiveness, now: peers.now), fromInitiator: true)
        peers.run()
        #expect(TwoPeers.reports(peers.initiatorActions).contains(.livenessConfirmed))
    }

    @Test func rekeyRequestLostForGoodFailsTheIKESA() throws {
        var peers = TwoPeers()
        Self.established(&peers)
        peers.absorb(peers.initiator.handle(.rekeyIKESA, now: peers.now), fromInitiator: true)
        for _ in 0..<6 {
            peers.wire.removeAll()
            guard let deadline = TwoPeers.lastDeadline(peers.initiatorActions) else { break }
            peers.initiatorActions.removeAll()
            peers.advance(to: deadline)
            peers.fireInitiatorRetransmit()
        }
        #expect(peers.initiator.failureCause == .noResponse(retransmits: 5))
    }
}
