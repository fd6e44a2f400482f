import Testing
@testable import IKE

/// INITIAL_CONTACT (RFC 7296 §2.4, §3.10.1), CHILD SA byte/time lifetimes (RFC 4301 §4.4.2.1)
/// and the ESP encapsulation decision (RFC 3948 vs raw ESP, RFC 7296 §2.23).
@Suite struct InitialContactTests {
    /// The initiator's IKE_AUTH request, opened with the responder's keys.
    static func authRequestPayloads(_ peers: TwoPeers) throws -> [Payload] {
        let sends = peers.initiatorActions.compactMap { if case let .send(bytes) = $0 { return bytes } else { return nil } }
        let bytes = try #require(sends.count >= 2 ? sends[1] : nil)
        let message = try IKEMessage.parse(bytes)
        #expect(message.header.exchangeType == .ikeAuth)
        let context = try #require(IKERekeyTests.context(peers.responder))
        return try context.inbound.open(message, rawBytes: bytes)
    }

    @Test func sentByDefaultAndSurfacedAfterAuthentication() throws {
        var peers = TwoPeers()
        peers.start()
        peers.run()
        #expect(peers.responder.phase == .established)
        #expect(try Self.authRequestPayloads(peers).notify(.initialContact) != nil)
        let reports = TwoPeers.reports(peers.responderActions)
        let established = try #require(reports.firstIndex { if case .ikeSAEstablished = $0 { return true } else { return false } })
        let contact = try #require(reports.firstIndex(of: .initialContact))
        #expect(established < contact)
        // The initiator got no INITIAL_CONTACT back (only the IKE_AUTH request carries it).
        #expect(!TwoPeers.reports(peers.initiatorActions).contains(.initialContact))
    }

    @Test func notSentWhileTheDriverHoldsAnotherIKESA() throws {
        var peers = TwoPeers()
        peers.initiator.configuration.sendInitialContact = false
        peers.start()
        peers.run()
        #expect(peers.responder.phase == .established)
        #expect(try Self.authRequestPayloads(peers).notify(.initialContact) == nil)
        #expect(!TwoPeers.reports(peers.responderActions).contains(.initialContact))
    }

    @Test func theDriverCanWithdrawItUntilIKEAUTHIsSent() throws {
        var peers = TwoPeers()
        peers.start()
        #expect(peers.initiator.sendsInitialContact)
        // Another SA with the peer appeared while IKE_SA_INIT was under way.
        peers.initiator.sendsInitialContact = false
        peers.run()
        #expect(peers.responder.phase == .established)
        #expect(try Self.authRequestPayloads(peers).notify(.initialContact) == nil)
    }

    @Test func ignoredWhenTheSenderFailsAuthentication() {
        var peers = TwoPeers(initiatorPSK: "correct horse", responderPSK: "battery staple")
        peers.start()
        peers.run()
        #expect(peers.responder.phase == .failed)
        #expect(!TwoPeers.reports(peers.responderActions).contains(.initialContact))
    }
}

@Suite struct ChildSALifetimeTests {
    static let t0 = IKEInstant(nanoseconds: 5_000_000_000)

    @Test func softByteLimitRekeysBeforeTheTime() {
        let policy = ChildSALifetimePolicy(rekeyAfter: .seconds(3600), rekeyAfterBytes: 4_000_000)
        let usage = ChildSAUsage(inboundSPI: 0x1234, installedAt: Self.t0, policy: policy, jitter: 0,
                                 bytesIn: 10_000, bytesOut: 50_000)
        #expect(usage.softBytes == 4_000_000)
        #expect(usage.hardBytes == 4_400_000)
        // Bytes count from the counters at installation, the busier direction decides.
        #expect(usage.verdict(now: Self.t0 + .seconds(1), bytesIn: 10_000 + 3_999_999, bytesOut: 50_000) == .active)
        #expect(usage.verdict(now: Self.t0 + .seconds(1), bytesIn: 10_000 + 1_000, bytesOut: 50_000 + 4_000_000) == .rekey(.bytes))
        #expect(usage.verdict(now: Self.t0 + .seconds(1), bytesIn: 10_000 + 4_000_000, bytesOut: 50_000) == .rekey(.bytes))
        #expect(usage.bytesCarried(bytesIn: 10_000 + 7, bytesOut: 50_000 + 9) == 9)
        // Counters that went backwards (a restarted data plane) count as nothing carried.
        #expect(usage.bytesCarried(bytesIn: 0, bytesOut: 0) == 0)
    }

    @Test func timeStillRekeysAnIdleSA() {
        let policy = ChildSALifetimePolicy(rekeyAfter: .seconds(100), rekeyAfterBytes: 4_000_000)
        let usage = ChildSAUsage(inboundSPI: 1, installedAt: Self.t0, policy: policy, jitter: 0, bytesIn: 0, bytesOut: 0)
        #expect(usage.verdict(now: Self.t0 + .seconds(99), bytesIn: 10, bytesOut: 10) == .active)
        #expect(usage.verdict(now: Self.t0 + .seconds(100), bytesIn: 10, bytesOut: 10) == .rekey(.time))
    }

    @Test func jitterLowersBothSoftLimitsButNotTheHardOne() {
        let policy = ChildSALifetimePolicy(rekeyAfter: .seconds(1000), rekeyAfterBytes: 10_000_000)
        let usage = ChildSAUsage(inboundSPI: 1, installedAt: .zero, policy: policy, jitter: 0.05, bytesIn: 0, bytesOut: 0)
        #expect(usage.softBytes == 9_500_000)
        #expect(usage.rekeyAt == IKEInstant.zero + .seconds(950))
        #expect(usage.hardBytes == 11_000_000)
        // Jitter is capped at 10 %.
        let capped = ChildSAUsage(inboundSPI: 1, installedAt: .zero, policy: policy, jitter: 0.7, bytesIn: 0, bytesOut: 0)
        #expect(capped.softBytes == 9_000_000)
    }

    @Test func hardByteLimitExpiresTheSA() {
        let policy = ChildSALifetimePolicy(rekeyAfterBytes: 1_000_000, hardBytes: 2_000_000)
        let usage = ChildSAUsage(inboundSPI: 1, installedAt: .zero, policy: policy, jitter: 0, bytesIn: 0, bytesOut: 0)
        #expect(usage.verdict(now: .zero, bytesIn: 1_999_999, bytesOut: 0) == .rekey(.bytes))
        #expect(usage.verdict(now: .zero, bytesIn: 0, bytesOut: 2_000_000) == .expired)
        // Only a hard limit: no rekey, but the end.
        let hardOnly = ChildSAUsage(inboundSPI: 1, installedAt: .zero, policy: ChildSALifetimePolicy(hardBytes: 500),
                                    jitter: 0, bytesIn: 0, bytesOut: 0)
        #expect(hardOnly.verdict(now: .zero + .seconds(100_000), bytesIn: 499, bytesOut: 0) == .active)
        #expect(hardOnly.verdict(now: .zero, bytesIn: 500, bytesOut: 0) == .expired)
    }

    @Test func noLimitsNeverRekey() {
        let usage = ChildSAUsage(inboundSPI: 1, installedAt: .zero, policy: ChildSALifetimePolicy(), jitter: 0.05, bytesIn: 0, bytesOut: 0)
        #expect(!usage.hasByteLimits)
        #expect(usage.verdict(now: .zero + .seconds(1_000_000), bytesIn: .max, bytesOut: .max) == .active)
        #expect(ChildSALifetimePolicy.defaultHardBytes(forSoft: .max) == .max)
    }

    /// A driver's loop over a mock clock and fake counters: 40 MB at 5 MB/s with a 4 MB soft
    /// limit rekeys about ten times, every SA stays under the hard limit, and the time limit
    /// never fires.
    @Test func drivenByFakeCountersRekeysEveryFewMegabytes() {
        let policy = ChildSALifetimePolicy(rekeyAfter: .seconds(3600), rekeyAfterBytes: 4 << 20)
        let random = TestRandom(seed: 7)
        func jitter() -> Double { Double(random.uint64() % 1000) / 10_000.0 }
        var now = IKEInstant.zero
        var bytesIn: UInt64 = 0, bytesOut: UInt64 = 0
        var usage = ChildSAUsage(inboundSPI: 1, installedAt: now, policy: policy, jitter: jitter(), bytesIn: 0, bytesOut: 0)
        var rekeys = 0, expiries = 0, maxCarried: UInt64 = 0
        for tick in 0..<400 {  // 20 ms ticks, 8 s
            now = now + .milliseconds(20)
            bytesOut += 100_000
            bytesIn += 20_000
            maxCarried = max(maxCarried, usage.bytesCarried(bytesIn: bytesIn, bytesOut: bytesOut))
            switch usage.verdict(now: now, bytesIn: bytesIn, bytesOut: bytesOut) {
            case .rekey(.bytes) where !usage.rekeyStarted:
                // The rekey completes on the next tick: a new SA from the current counters.
                usage.rekeyStarted = true
                rekeys += 1
                usage = ChildSAUsage(inboundSPI: UInt32(tick + 2), installedAt: now, policy: policy, jitter: jitter(),
                                     bytesIn: bytesIn, bytesOut: bytesOut)
            case .rekey(.time): Issue.record("time limit fired")
            case .expired: expiries += 1
            default: break
            }
        }
        #expect(rekeys >= 9 && rekeys <= 12)
        #expect(expiries == 0)
        #expect(maxCarried < (4 << 20) + (4 << 20) / 10)
    }
}

@Suite struct ESPEncapsulationTests {
    @Test func udpIsAlwaysUDP() {
        let d = ESPEncapsulationDecision.decide(requested: .udp, localBehindNAT: false, remoteBehindNAT: false, ikeMovedToNATTPort: false)
        #expect(d == ESPEncapsulationDecision(encapsulation: .udp))
        #expect(d.encapsulation.description == "ESP in UDP 4500")
    }

    @Test func rawWithoutNATIsRaw() {
        #expect(ESPEncapsulationDecision.decide(requested: .raw, localBehindNAT: false, remoteBehindNAT: false,
                                                ikeMovedToNATTPort: false).encapsulation == .raw)
        // A peer that sent no NAT-D at all: nothing says there is a NAT.
        #expect(ESPEncapsulationDecision.decide(requested: .raw, localBehindNAT: nil, remoteBehindNAT: nil,
                                                ikeMovedToNATTPort: false).encapsulation == .raw)
        #expect(ESPEncapsulation.raw.description == "raw ESP (IP protocol 50)")
    }

    @Test(arguments: [(true, false), (false, true), (true, true)])
    func rawFallsBackToUDPBehindANAT(_ nat: (Bool, Bool)) throws {
        let d = ESPEncapsulationDecision.decide(requested: .raw, localBehindNAT: nat.0, remoteBehindNAT: nat.1, ikeMovedToNATTPort: false)
        #expect(d.encapsulation == .udp)
        let why = try #require(d.fallbackReason)
        #expect(why.contains("NAT detected") && why.contains("UDP 4500"))
    }

    @Test func rawFallsBackWhenThePeerMovesIKEToPort4500() {
        let d = ESPEncapsulationDecision.decide(requested: .raw, localBehindNAT: false, remoteBehindNAT: false, ikeMovedToNATTPort: true)
        #expect(d.encapsulation == .udp)
        #expect(d.fallbackReason?.contains("moved IKE to UDP 4500") == true)
    }

    @Test func namesParse() {
        #expect(ESPEncapsulation(name: "RAW") == .raw)
        #expect(ESPEncapsulation(name: "udp") == .udp)
        #expect(ESPEncapsulation(name: "esp") == nil)
    }

    /// Honest NAT-D on both sides (raw requested by both): no NAT seen, so raw ESP.
    @Test func honestNATDetectionBetweenTwoRawPeersMeansRaw() throws {
        var peers = TwoPeers()
        peers.start()
        peers.run()
        let seen = TwoPeers.reports(peers.initiatorActions + peers.responderActions).compactMap { r -> (Bool, Bool)? in
            if case let .natDetected(l, r) = r { return (l, r) } else { return nil }
        }
        #expect(seen.count == 2)
        for (local, remote) in seen {
            #expect(ESPEncapsulationDecision.decide(requested: .raw, localBehindNAT: local, remoteBehindNAT: remote,
                                                    ikeMovedToNATTPort: false).encapsulation == .raw)
        }
    }

    /// A peer that forces UDP encapsulation (fakes its NAT-D, as `udp` tunnels and strongSwan's
    /// encap=yes do) makes a raw tunnel fall back to UDP 4500.
    @Test func aPeerForcingEncapsulationMakesRawFallBack() throws {
        var peers = TwoPeers()
        peers.responder.configuration.forceUDPEncapsulation = true
        peers.start()
        peers.run()
        let report = try #require(TwoPeers.reports(peers.initiatorActions).first { if case .natDetected = $0 { return true } else { return false } })
        guard case let .natDetected(local, remote) = report else { return }
        #expect(!local && remote)
        let d = ESPEncapsulationDecision.decide(requested: .raw, localBehindNAT: local, remoteBehindNAT: remote, ikeMovedToNATTPort: false)
        #expect(d.encapsulation == .udp && d.fallbackReason != nil)
    }
}

@Suite struct DeleteChildSATests {
    /// The hard-limit path: delete the CHILD SA (INFORMATIONAL Delete), both sides uninstall it, the
    /// IKE SA stays and a new CHILD SA can be created on it.
    @Test func deleteThenCreateAnew() throws {
        var peers = TwoPeers()
        IKERekeyTests.established(&peers)
        let child = try #require(peers.initiator.childSAs.first)
        peers.absorb(peers.initiator.handle(.deleteChildSA(inboundSPI: child.inboundSPI), now: peers.now), fromInitiator: true)
        peers.run()
        #expect(peers.initiator.childSAs.isEmpty && peers.responder.childSAs.isEmpty)
        #expect(peers.initiatorActions.contains(.uninstallChildSA(inboundSPI: child.inboundSPI)))
        #expect(TwoPeers.reports(peers.responderActions).contains(.childSAsDeletedByPeer(inboundSPIs: [child.outboundSPI])))
        #expect(peers.initiator.phase == .established && peers.responder.phase == .established)
        // Unknown SPI: nothing sent.
        let unknown = peers.initiator.handle(.deleteChildSA(inboundSPI: child.inboundSPI), now: peers.now)
        #expect(!unknown.contains { if case .send = $0 { return true } else { return false } })
        peers.absorb(peers.initiator.handle(.createChildSA(.routeBased), now: peers.now), fromInitiator: true)
        peers.run()
        let i = try #require(peers.initiator.childSAs.first)
        let r = try #require(peers.responder.childSAs.first)
        #expect(i.inboundSPI != child.inboundSPI)
        #expect(i.outboundKeys == r.inboundKeys && i.outboundSPI == r.inboundSPI)
    }
}
