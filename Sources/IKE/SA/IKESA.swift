// One IKE SA as a pure state machine: IKE_SA_INIT and IKE_AUTH with a pre-shared key, as initiator
// or responder (RFC 7296 §1.2, §2.15), with the first CHILD SA piggy-backed. Events and `now` in,
// actions out. Window size 1 (§2.3): one outstanding request, retransmitted by the initiator;
// the responder re-sends its cached response to a duplicate request.

/// Keys and context of an IKE SA once IKE_SA_INIT is done.
struct IKESAContext: Sendable {
    var suite: IKECipherSuite
    var keys: IKESAKeys
    var initiatorSPI: UInt64
    var responderSPI: UInt64
    var nonceInitiator: [UInt8]
    var nonceResponder: [UInt8]
    /// The IKE_SA_INIT messages as last sent (RFC 7296 §2.15: RealMessage1/2, cookie included).
    var initRequest: [UInt8]
    var initResponse: [UInt8]
    var outbound: SKProtection
    var inbound: SKProtection
}

/// Our side of a CREATE_CHILD_SA that creates a CHILD SA (RFC 7296 §1.3.1) or rekeys one (§1.3.3).
struct PendingChildCreation: Sendable {
    /// The inbound SPI of the CHILD SA being rekeyed; nil for an additional CHILD SA.
    var replacing: UInt32?
    var newInboundSPI: UInt32
    var nonce: [UInt8]
    var keyPair: KeyExchangeKeyPair?
    var proposals: [Proposal]
    var selectors: TrafficSelectorPolicy
}

/// A request we sent and keep retransmitting until its response arrives.
struct OutstandingRequest: Sendable {
    enum Purpose: Sendable {
        case ikeSAInit
        case ikeAuth
        case liveness
        case delete
        case createChild(PendingChildCreation)
        case deleteChild(inboundSPI: UInt32)
        case rekeyIKE(PendingIKERekey)
    }

    var purpose: Purpose
    var messageID: UInt32
    /// One datagram, or every SKF fragment of the message (RFC 7383 §2.6.1: all are retransmitted).
    var datagrams: [[UInt8]]
    var transmissions: Int
}

public struct IKESA: Sendable {
    public enum Role: Hashable, Sendable {
        case initiator
        case responder
    }

    /// Coarse state for callers; the machine's own state carries the data.
    public enum Phase: Hashable, Sendable {
        case idle
        case initSent
        case authSent
        case awaitingAuth
        case established
        case failed
        case deleted
    }

    enum State: Sendable {
        case idle
        case initiatorInitSent(keyPair: KeyExchangeKeyPair, nonce: [UInt8], cookie: [UInt8]?)
        case initiatorAuthSent(IKESAContext, childSPI: UInt32)
        case responderAwaitingAuth(IKESAContext)
        case established(IKESAContext)
        case failed(IKEFailureCause)
        case deleted
    }

    /// Which side initiated the current IKE SA; after a rekey, the side that initiated the rekey.
    public internal(set) var role: Role
    /// Settable within the module (tests): a changed policy applies from the next rekey on.
    public internal(set) var configuration: IKEPeerConfiguration
    public internal(set) var initiatorSPI: UInt64
    public internal(set) var responderSPI: UInt64 = 0
    var state: State = .idle
    var outstanding: OutstandingRequest?
    var nextRequestID: UInt32 = 0
    /// Responder: the last response, re-sent byte-identical to a duplicate request.
    var cachedResponse: (messageID: UInt32, datagrams: [[UInt8]])?
    /// RFC 7383: both sides sent IKEV2_FRAGMENTATION_SUPPORTED in IKE_SA_INIT.
    public private(set) var fragmentationNegotiated = false
    var reassembly: (messageID: UInt32, isResponse: Bool, reassembler: FragmentReassembler)?
    /// RFC 7296 §2.8.1: the peer rekeyed a CHILD SA (keyed by our old inbound SPI) while our own
    /// rekey of it was outstanding; its nonces decide which of the two new SAs survives.
    var rekeyCollisions: [UInt32: (peerNonce: [UInt8], ourNonce: [UInt8])] = [:]
    /// CHILD SAs installed by this IKE SA, for deletes and diagnostics.
    public internal(set) var childSAs: [ChildSAInstallation] = []
    /// Old (rekeyed) and redundant (collision) IKE SAs that still answer until deleted.
    var retiring: [RetiringIKESA] = []
    /// RFC 7296 §2.8.2: the peer's IKE rekey, answered while ours was outstanding; its nonces
    /// and ours decide which new IKE SA survives.
    var ikeRekeyCollision: IKESAContext?
    let random: any RandomSource

    public init(role: Role, configuration: IKEPeerConfiguration, random: any RandomSource) {
        self.role = role
        self.configuration = configuration
        self.random = random
        var spi: UInt64 = 0
        if role == .initiator {
            while spi == 0 { spi = random.uint64() }
        }
        self.initiatorSPI = spi
    }

    public var phase: Phase {
        switch state {
        case .idle: return .idle
        case .initiatorInitSent: return .initSent
        case .initiatorAuthSent: return .authSent
        case .responderAwaitingAuth: return .awaitingAuth
        case .established: return .established
        case .failed: return .failed
        case .deleted: return .deleted
        }
    }

    public var failureCause: IKEFailureCause? {
        if case let .failed(cause) = state { return cause }
        return nil
    }

    /// Feeds one event; returns what to do, in order.
    public mutating func handle(_ event: IKESAEvent, now: IKEInstant) -> [IKESAAction] {
        switch event {
        case .start:
            guard role == .initiator, case .idle = state else { return [.report(.messageDropped("start in \(phase)"))] }
            return startInitiator(now: now)
        case let .timerFired(timer):
            switch timer {
            case .retransmit: return retransmit(now: now)
            case .retiredSAs: return retiredSAsTimerFired(now: now)
            }
        case let .received(bytes):
            return receive(bytes, now: now)
        case .checkLiveness:
            return sendInformational(payloads: [], purpose: .liveness, now: now)
        case .delete:
            return sendInformational(payloads: [.delete(DeletePayload(protocolID: .ike, spiSize: 0, spis: []))],
                                     purpose: .delete, now: now)
        case let .rekeyChildSA(inboundSPI):
            guard let old = childSAs.first(where: { $0.inboundSPI == inboundSPI }) else {
                return [.report(.messageDropped("no CHILD SA with inbound SPI \(inboundSPI)"))]
            }
            return startChildCreation(replacing: old.inboundSPI,
                                      selectors: TrafficSelectorPolicy(local: old.localSelectors, remote: old.remoteSelectors),
                                      keyExchangeGroup: configuration.childSuites.first?.dhGroup, now: now)
        case let .createChildSA(selectors):
            return startChildCreation(replacing: nil, selectors: selectors,
                                      keyExchangeGroup: configuration.childSuites.first?.dhGroup, now: now)
        case .rekeyIKESA:
            return startIKERekey(group: nil, now: now)
        case let .deleteChildSA(inboundSPI):
            guard childSAs.contains(where: { $0.inboundSPI == inboundSPI }) else {
                return [.report(.messageDropped("no CHILD SA with inbound SPI \(inboundSPI)"))]
            }
            var spi: [UInt8] = []
            spi.appendU32(inboundSPI)
            return sendInformational(payloads: [.delete(DeletePayload(protocolID: .esp, spiSize: 4, spis: [spi]))],
                                     purpose: .deleteChild(inboundSPI: inboundSPI), now: now)
        }
    }

    // MARK: Initiator

    mutating func startInitiator(now: IKEInstant) -> [IKESAAction] {
        guard let group = configuration.ikeSuites.first?.dhGroup else {
            return fail(.protocolViolation("no IKE proposals configured"))
        }
        return sendInitRequest(group: group, cookie: nil, now: now)
    }

    mutating func sendInitRequest(group: DHGroup, cookie: [UInt8]?, now: IKEInstant) -> [IKESAAction] {
        let keyPair: KeyExchangeKeyPair
        // A cookie retry repeats the original request (RFC 7296 §2.6): same nonce, same KE value.
        if case let .initiatorInitSent(previousPair, _, _) = state, previousPair.group == group {
            keyPair = previousPair
        } else {
            do {
                keyPair = try KeyExchangeKeyPair.generate(group: group, random: random)
            } catch {
                return fail(.cryptoFailure(error))
            }
        }
        let nonce: [UInt8]
        if case let .initiatorInitSent(_, previous, _) = state { nonce = previous } else { nonce = random.bytes(32) }
        var payloads: [Payload] = []
        if let cookie { payloads.append(.notify(NotifyPayload(type: .cookie, data: cookie))) }
        payloads += [
            .securityAssociation(SecurityAssociationPayload(proposals: ikeProposals())),
            .keyExchange(KeyExchangePayload(group: group.rawValue, data: keyPair.publicValue)),
            .nonce(NoncePayload(data: nonce)),
        ]
        payloads += natDetectionNotifies(responderSPI: 0)
        payloads.append(.notify(NotifyPayload(type: .ikev2FragmentationSupported)))
        let header = IKEHeader(initiatorSPI: initiatorSPI, responderSPI: 0, exchangeType: .ikeSAInit,
                               flags: .initiator, messageID: 0)
        let bytes = IKEMessage(header: header, payloads: payloads).emit()
        state = .initiatorInitSent(keyPair: keyPair, nonce: nonce, cookie: cookie)
        nextRequestID = 1
        return sendRequest(.ikeSAInit, messageID: 0, datagrams: [bytes], now: now)
    }

    func ikeProposals() -> [Proposal] {
        configuration.ikeSuites.enumerated().map { $0.element.proposal(number: UInt8(truncatingIfNeeded: $0.offset + 1)) }
    }

    func childProposals(spi: UInt32) -> [Proposal] {
        var spiBytes: [UInt8] = []
        spiBytes.appendU32(spi)
        return configuration.childSuites.enumerated().map {
            $0.element.proposal(number: UInt8(truncatingIfNeeded: $0.offset + 1), spi: spiBytes)
        }
    }

    func natDetectionNotifies(responderSPI: UInt64) -> [Payload] {
        [
            // With forced encapsulation the source hash names an address we do not have, so the
            // peer sees us "behind a NAT" and both sides move to UDP 4500 (strongSwan's encap=yes).
            .notify(NotifyPayload(type: .natDetectionSourceIP, data: natDetectionHash(
                initiatorSPI: initiatorSPI, responderSPI: responderSPI,
                endpoint: configuration.forceUDPEncapsulation ? IKEEndpoint(address: [0, 0, 0, 0], port: 0) : configuration.local))),
            .notify(NotifyPayload(type: .natDetectionDestinationIP, data: natDetectionHash(
                initiatorSPI: initiatorSPI, responderSPI: responderSPI, endpoint: configuration.remote))),
        ]
    }

    /// RFC 7296 §2.23: the peer's source hash checks its address, its destination hash ours.
    func natReport(payloads: [Payload]) -> IKESAAction? {
        guard payloads.notify(.natDetectionSourceIP) != nil, let destination = payloads.notify(.natDetectionDestinationIP) else {
            return nil
        }
        let expectedSource = natDetectionHash(initiatorSPI: initiatorSPI, responderSPI: responderSPI, endpoint: configuration.remote)
        // Several source hashes may be present (multi-homed peer); any match means no NAT.
        let remoteBehindNAT = !payloads.notifies.contains { $0.type == .natDetectionSourceIP && $0.data == expectedSource }
        let localBehindNAT = destination.data != natDetectionHash(initiatorSPI: initiatorSPI, responderSPI: responderSPI,
                                                                  endpoint: configuration.local)
        return .report(.natDetected(localBehindNAT: localBehindNAT, remoteBehindNAT: remoteBehindNAT))
    }

    mutating func handleInitResponse(_ message: IKEMessage, raw: [UInt8], now: IKEInstant) -> [IKESAAction] {
        guard case let .initiatorInitSent(keyPair, nonce, cookie) = state else {
            return [.report(.messageDropped("IKE_SA_INIT response in \(phase)"))]
        }
        let payloads = message.payloads
        if let cookieNotify = payloads.notify(.cookie) {
            // RFC 7296 §2.6: repeat the request with N(COOKIE) first.
            outstanding = nil
            return [.cancelTimer(.retransmit), .report(.retryingWithCookie)]
                + sendInitRequest(group: keyPair.group, cookie: cookieNotify.data, now: now)
        }
        if let invalidKE = payloads.notify(.invalidKEPayload) {
            // RFC 7296 §1.2: retry with the group the responder asked for, if we offer it.
            guard invalidKE.data.count == 2 else { return fail(.protocolViolation("INVALID_KE_PAYLOAD without a group")) }
            let requested = UInt16(invalidKE.data[0]) << 8 | UInt16(invalidKE.data[1])
            guard let group = DHGroup(rawValue: requested), configuration.ikeSuites.contains(where: { $0.dhGroup == group }),
                  group != keyPair.group else {
                return [.cancelTimer(.retransmit)] + fail(.unacceptableKeyExchangeGroup(requested: requested))
            }
            outstanding = nil
            return [.cancelTimer(.retransmit), .report(.retryingWithKeyExchangeGroup(requested))]
                + sendInitRequest(group: group, cookie: cookie, now: now)
        }
        if let error = payloads.notifies.first(where: { $0.type.isError }) {
            return [.cancelTimer(.retransmit)] + fail(.refusedByPeer(error.type))
        }
        guard let sa = payloads.securityAssociation, sa.proposals.count == 1, let ke = payloads.keyExchange,
              let nonceR = payloads.nonce else {
            return fail(.protocolViolation("IKE_SA_INIT response lacks SA, KE or Nonce"))
        }
        let chosen: Proposal
        switch ProposalSelection.verifyResponse(offered: ikeProposals(), chosen: sa.proposals[0]) {
        case let .success(proposal): chosen = proposal
        case let .failure(mismatch): return [.cancelTimer(.retransmit)] + fail(.noProposalChosen(mismatch))
        }
        let suite: IKECipherSuite
        do {
            suite = try IKECipherSuite(proposal: chosen)
        } catch {
            return fail(.cryptoFailure(error))
        }
        guard ke.group == keyPair.group.rawValue, suite.dhGroup == keyPair.group else {
            return fail(.cryptoFailure(.keyExchangeGroupMismatch(expected: keyPair.group.rawValue, received: ke.group)))
        }
        responderSPI = message.header.responderSPI
        guard let initRequest = outstanding?.datagrams.first else { return fail(.protocolViolation("no outstanding IKE_SA_INIT")) }
        let context: IKESAContext
        do {
            context = try makeContext(suite: suite, keyPair: keyPair, peerPublic: ke.data, nonceI: nonce,
                                      nonceR: nonceR.data, initRequest: initRequest, initResponse: raw)
        } catch {
            return [.cancelTimer(.retransmit)] + fail(.cryptoFailure(error))
        }
        outstanding = nil
        fragmentationNegotiated = payloads.notify(.ikev2FragmentationSupported) != nil
        var actions: [IKESAAction] = [.cancelTimer(.retransmit)]
        if let nat = natReport(payloads: payloads) { actions.append(nat) }
        return actions + sendAuthRequest(context: context, now: now)
    }

    func makeContext(suite: IKECipherSuite, keyPair: KeyExchangeKeyPair, peerPublic: [UInt8], nonceI: [UInt8],
                     nonceR: [UInt8], initRequest: [UInt8], initResponse: [UInt8]) throws(IKECryptoError) -> IKESAContext {
        let shared = try keyPair.sharedSecret(peerPublicValue: peerPublic)
        let skeyseed = KeyDerivation.skeyseed(prf: suite.prf, nonceInitiator: nonceI, nonceResponder: nonceR, sharedSecret: shared)
        let keys = try KeyDerivation.ikeSAKeys(suite: suite, skeyseed: skeyseed, nonceInitiator: nonceI, nonceResponder: nonceR,
                                               initiatorSPI: initiatorSPI, responderSPI: responderSPI)
        let directions = try SKProtection.directions(suite: suite, keys: keys)
        let isInitiator = role == .initiator
        return IKESAContext(suite: suite, keys: keys, initiatorSPI: initiatorSPI, responderSPI: responderSPI,
                            nonceInitiator: nonceI, nonceResponder: nonceR, initRequest: initRequest, initResponse: initResponse,
                            outbound: isInitiator ? directions.initiatorToResponder : directions.responderToInitiator,
                            inbound: isInitiator ? directions.responderToInitiator : directions.initiatorToResponder)
    }

    mutating func sendAuthRequest(context: IKESAContext, now: IKEInstant) -> [IKESAAction] {
        let childSPI = newChildSPI()
        let identity = configuration.localIdentity
        let signed = PSKAuthentication.signedOctets(prf: context.suite.prf, realMessage: context.initRequest,
                                                    peerNonce: context.nonceResponder, skP: context.keys.skPi,
                                                    identification: identity)
        let auth = PSKAuthentication.authData(prf: context.suite.prf, sharedSecret: configuration.preSharedKey, signedOctets: signed)
        var payloads: [Payload] = [.identificationInitiator(identity)]
        if configuration.sendInitialContact { payloads.append(.notify(NotifyPayload(type: .initialContact))) }
        if let remoteIdentity = configuration.remoteIdentity { payloads.append(.identificationResponder(remoteIdentity)) }
        payloads += [
            .authentication(AuthenticationPayload(method: .sharedKeyMIC, data: auth)),
            .securityAssociation(SecurityAssociationPayload(proposals: childProposals(spi: childSPI))),
            .trafficSelectorInitiator(TrafficSelectorPayload(selectors: configuration.trafficSelectors.local)),
            .trafficSelectorResponder(TrafficSelectorPayload(selectors: configuration.trafficSelectors.remote)),
        ]
        let messageID = nextRequestID
        nextRequestID += 1
        let header = IKEHeader(initiatorSPI: initiatorSPI, responderSPI: responderSPI, exchangeType: .ikeAuth,
                               flags: .initiator, messageID: messageID)
        let datagrams: [[UInt8]]
        do {
            datagrams = try protect(context: context, header: header, payloads: payloads)
        } catch {
            return fail(.cryptoFailure(error))
        }
        state = .initiatorAuthSent(context, childSPI: childSPI)
        return sendRequest(.ikeAuth, messageID: messageID, datagrams: datagrams, now: now)
    }

    mutating func handleAuthResponse(_ payloads: [Payload], context: IKESAContext, childSPI: UInt32) -> [IKESAAction] {
        outstanding = nil
        var actions: [IKESAAction] = [.cancelTimer(.retransmit)]
        if payloads.notify(.authenticationFailed) != nil {
            return actions + fail(.authenticationRejectedByPeer)
        }
        guard let idr = payloads.identificationResponder, let auth = payloads.authentication else {
            if let error = payloads.notifies.first(where: { $0.type.isError }) {
                return actions + fail(.refusedByPeer(error.type))
            }
            return actions + fail(.protocolViolation("IKE_AUTH response lacks IDr or AUTH"))
        }
        if let expected = configuration.remoteIdentity, expected != idr {
            return actions + fail(.identityMismatch(expected: expected, received: idr))
        }
        let signed = PSKAuthentication.signedOctets(prf: context.suite.prf, realMessage: context.initResponse,
                                                    peerNonce: context.nonceInitiator, skP: context.keys.skPr, identification: idr)
        let expectedAuth = PSKAuthentication.authData(prf: context.suite.prf, sharedSecret: configuration.preSharedKey,
                                                      signedOctets: signed)
        guard auth.method == .sharedKeyMIC, constantTimeEqual(auth.data, expectedAuth) else {
            return actions + fail(.pskMismatch)
        }
        state = .established(context)
        actions.append(.report(.ikeSAEstablished(suite: context.suite, initiatorSPI: initiatorSPI, responderSPI: responderSPI)))
        if payloads.notify(.initialContact) != nil { actions.append(.report(.initialContact)) }
        // The CHILD SA: a refusal here leaves the IKE SA standing (RFC 7296 §1.2).
        if let error = payloads.notifies.first(where: { $0.type.isError }) {
            return actions + [.report(.childSAFailed(.refusedByPeer(error.type)))]
        }
        guard let sa = payloads.securityAssociation, sa.proposals.count == 1,
              let tsi = payloads.trafficSelectorsInitiator, let tsr = payloads.trafficSelectorsResponder else {
            return actions + [.report(.childSAFailed(.protocolViolation("IKE_AUTH response lacks SA, TSi or TSr")))]
        }
        let chosen: Proposal
        switch ProposalSelection.verifyResponse(offered: childProposals(spi: childSPI), chosen: sa.proposals[0],
                                                options: ProposalSelectionOptions(ignoreKeyExchange: true)) {
        case let .success(proposal): chosen = proposal
        case let .failure(mismatch): return actions + [.report(.childSAFailed(.noProposalChosen(mismatch)))]
        }
        switch TrafficSelectorNarrowing.acceptAsInitiator(tsi: tsi.selectors, tsr: tsr.selectors, policy: configuration.trafficSelectors) {
        case .success: break
        case let .failure(mismatch): return actions + [.report(.childSAFailed(.trafficSelectorsUnacceptable(mismatch)))]
        }
        guard chosen.spi.count == 4 else {
            return actions + [.report(.childSAFailed(.protocolViolation("CHILD SA SPI of \(chosen.spi.count) bytes")))]
        }
        let peerSPI = chosen.spi.reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        return actions + installChild(context: context, proposal: chosen, inboundSPI: childSPI, outboundSPI: peerSPI,
                                      localSelectors: tsi.selectors, remoteSelectors: tsr.selectors)
    }

    /// Derives and records a CHILD SA. KEYMAT order follows the exchange that created it: the
    /// exchange initiator's outbound keys come first (RFC 7296 §2.17). IKE_AUTH uses the
    /// IKE_SA_INIT nonces and no PFS; CREATE_CHILD_SA its own nonces and optional g^ir.
    mutating func installChild(context: IKESAContext, proposal: Proposal, inboundSPI: UInt32, outboundSPI: UInt32,
                               localSelectors: [TrafficSelector], remoteSelectors: [TrafficSelector],
                               exchangeInitiator: Bool? = nil, nonces: (initiator: [UInt8], responder: [UInt8])? = nil,
                               pfsSharedSecret: [UInt8]? = nil, replacing: UInt32? = nil) -> [IKESAAction] {
        do {
            var suite = try ChildCipherSuite(proposal: proposal)
            if pfsSharedSecret == nil { suite.dhGroup = nil }
            let keys = try KeyDerivation.childSAKeys(prf: context.suite.prf, skD: context.keys.skD, suite: suite,
                                                     nonceInitiator: nonces?.initiator ?? context.nonceInitiator,
                                                     nonceResponder: nonces?.responder ?? context.nonceResponder,
                                                     pfsSharedSecret: pfsSharedSecret)
            let isInitiator = exchangeInitiator ?? (role == .initiator)
            let installation = ChildSAInstallation(
                suite: suite, inboundSPI: inboundSPI, outboundSPI: outboundSPI,
                inboundKeys: isInitiator ? keys.responderToInitiator : keys.initiatorToResponder,
                outboundKeys: isInitiator ? keys.initiatorToResponder : keys.responderToInitiator,
                localSelectors: localSelectors, remoteSelectors: remoteSelectors)
            childSAs.append(installation)
            let report: IKESAReport = replacing.map { .childSARekeyed(oldInboundSPI: $0, newInboundSPI: inboundSPI) }
                ?? .childSAEstablished(suite: suite, inboundSPI: inboundSPI, outboundSPI: outboundSPI)
            return [.installChildSA(installation), .report(report)]
        } catch {
            return [.report(.childSAFailed(.cryptoFailure(error)))]
        }
    }

    func newChildSPI() -> UInt32 {
        var spi: UInt32 = 0
        while spi < 256 { spi = random.uint32() }  // 1–255 are reserved (RFC 4303 §2.1)
        return spi
    }

    // MARK: Responder

    mutating func handleInitRequest(_ message: IKEMessage, raw: [UInt8]) -> [IKESAAction] {
        if case .idle = state {} else {
            if let cached = cachedResponse, cached.messageID == 0 { return cached.datagrams.map { .send($0) } }
            return [.report(.messageDropped("IKE_SA_INIT request in \(phase)"))]
        }
        initiatorSPI = message.header.initiatorSPI
        let payloads = message.payloads
        guard let sa = payloads.securityAssociation, let ke = payloads.keyExchange, let nonceI = payloads.nonce else {
            return fail(.protocolViolation("IKE_SA_INIT request lacks SA, KE or Nonce"))
        }
        let ours = ikeProposals()
        // Prefer a proposal whose DH group is the one the KE payload already carries (saves a round trip).
        let withOfferedGroup = sa.proposals.map { proposal -> Proposal in
            guard proposal.transforms.contains(where: { $0.type == .keyExchange && $0.id == ke.group }) else { return proposal }
            var narrowed = proposal
            narrowed.transforms.removeAll { $0.type == .keyExchange && $0.id != ke.group }
            return narrowed
        }
        let chosen: Proposal
        switch ProposalSelection.select(ours: ours, theirs: withOfferedGroup) {
        case let .success(proposal):
            chosen = proposal
        case .failure:
            switch ProposalSelection.select(ours: ours, theirs: sa.proposals) {
            case let .success(proposal): chosen = proposal
            case let .failure(mismatch):
                return [.send(refusal(to: message.header, notify: NotifyPayload(type: .noProposalChosen)))]
                    + fail(.noProposalChosen(mismatch))
            }
        }
        let suite: IKECipherSuite
        do {
            suite = try IKECipherSuite(proposal: chosen)
        } catch {
            return fail(.cryptoFailure(error))
        }
        guard ke.group == suite.dhGroup.rawValue else {
            // RFC 7296 §1.2: stay stateless and name the group we want.
            var group: [UInt8] = []
            group.appendU16(suite.dhGroup.rawValue)
            state = .idle
            return [.send(refusal(to: message.header, notify: NotifyPayload(type: .invalidKEPayload, data: group))),
                    .report(.messageDropped("INVALID_KE_PAYLOAD: peer sent group \(ke.group), we chose \(suite.dhGroup)"))]
        }
        while responderSPI == 0 { responderSPI = random.uint64() }
        let nonceR = random.bytes(32)
        let context: IKESAContext
        let keyPair: KeyExchangeKeyPair
        do {
            keyPair = try KeyExchangeKeyPair.generate(group: suite.dhGroup, random: random)
        } catch {
            return fail(.cryptoFailure(error))
        }
        var responsePayloads: [Payload] = [
            .securityAssociation(SecurityAssociationPayload(proposals: [chosen])),
            .keyExchange(KeyExchangePayload(group: suite.dhGroup.rawValue, data: keyPair.publicValue)),
            .nonce(NoncePayload(data: nonceR)),
        ]
        responsePayloads += natDetectionNotifies(responderSPI: responderSPI)
        responsePayloads.append(.notify(NotifyPayload(type: .ikev2FragmentationSupported)))
        let header = IKEHeader(initiatorSPI: initiatorSPI, responderSPI: responderSPI, exchangeType: .ikeSAInit,
                               flags: .response, messageID: 0)
        let response = IKEMessage(header: header, payloads: responsePayloads).emit()
        do {
            context = try makeContext(suite: suite, keyPair: keyPair, peerPublic: ke.data, nonceI: nonceI.data, nonceR: nonceR,
                                      initRequest: raw, initResponse: response)
        } catch {
            return fail(.cryptoFailure(error))
        }
        state = .responderAwaitingAuth(context)
        cachedResponse = (0, [response])
        fragmentationNegotiated = payloads.notify(.ikev2FragmentationSupported) != nil
        var actions: [IKESAAction] = [.send(response)]
        // The request's NAT-D hashes were computed with SPIr = 0.
        let spiR = responderSPI
        responderSPI = 0
        if let nat = natReport(payloads: payloads) { actions.append(nat) }
        responderSPI = spiR
        return actions
    }

    func refusal(to request: IKEHeader, notify: NotifyPayload) -> [UInt8] {
        let header = IKEHeader(initiatorSPI: request.initiatorSPI, responderSPI: 0, exchangeType: request.exchangeType,
                               flags: .response, messageID: request.messageID)
        return IKEMessage(header: header, payloads: [.notify(notify)]).emit()
    }

    mutating func handleAuthRequest(_ payloads: [Payload], header: IKEHeader, context: IKESAContext) -> [IKESAAction] {
        guard let idi = payloads.identificationInitiator, let auth = payloads.authentication else {
            return respondAndFail([.notify(NotifyPayload(type: .authenticationFailed))], header: header, context: context,
                                  cause: .protocolViolation("IKE_AUTH request lacks IDi or AUTH"))
        }
        if let expected = configuration.remoteIdentity, expected != idi {
            return respondAndFail([.notify(NotifyPayload(type: .authenticationFailed))], header: header, context: context,
                                  cause: .identityMismatch(expected: expected, received: idi))
        }
        let signed = PSKAuthentication.signedOctets(prf: context.suite.prf, realMessage: context.initRequest,
                                                    peerNonce: context.nonceResponder, skP: context.keys.skPi, identification: idi)
        let expectedAuth = PSKAuthentication.authData(prf: context.suite.prf, sharedSecret: configuration.preSharedKey,
                                                      signedOctets: signed)
        guard auth.method == .sharedKeyMIC, constantTimeEqual(auth.data, expectedAuth) else {
            return respondAndFail([.notify(NotifyPayload(type: .authenticationFailed))], header: header, context: context,
                                  cause: .pskMismatch)
        }
        let identity = configuration.localIdentity
        let ourSigned = PSKAuthentication.signedOctets(prf: context.suite.prf, realMessage: context.initResponse,
                                                       peerNonce: context.nonceInitiator, skP: context.keys.skPr,
                                                       identification: identity)
        let ourAuth = PSKAuthentication.authData(prf: context.suite.prf, sharedSecret: configuration.preSharedKey,
                                                 signedOctets: ourSigned)
        var response: [Payload] = [.identificationResponder(identity),
                                   .authentication(AuthenticationPayload(method: .sharedKeyMIC, data: ourAuth))]
        var actions: [IKESAAction] = [.report(.ikeSAEstablished(suite: context.suite, initiatorSPI: initiatorSPI,
                                                                 responderSPI: responderSPI))]
        // Only now that the peer is authenticated may its INITIAL_CONTACT end other SAs (§2.4).
        if payloads.notify(.initialContact) != nil { actions.append(.report(.initialContact)) }
        var childActions: [IKESAAction] = []
        switch negotiateChild(payloads) {
        case let .success((chosenTheirs, tsi, tsr)):
            let childSPI = newChildSPI()
            var ourAnswer = chosenTheirs
            ourAnswer.spi = []
            ourAnswer.spi.appendU32(childSPI)
            let peerSPI = chosenTheirs.spi.reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            response += [.securityAssociation(SecurityAssociationPayload(proposals: [ourAnswer])),
                         .trafficSelectorInitiator(TrafficSelectorPayload(selectors: tsi)),
                         .trafficSelectorResponder(TrafficSelectorPayload(selectors: tsr))]
            childActions = installChild(context: context, proposal: chosenTheirs, inboundSPI: childSPI, outboundSPI: peerSPI,
                                        localSelectors: tsr, remoteSelectors: tsi)
        case let .failure(refusal):
            response.append(.notify(refusal.notify))
            childActions = [.report(.childSAFailed(refusal.cause))]
        }
        let datagrams: [[UInt8]]
        do {
            datagrams = try protect(context: context, header: responseHeader(for: header), payloads: response)
        } catch {
            return fail(.cryptoFailure(error))
        }
        state = .established(context)
        cachedResponse = (header.messageID, datagrams)
        return datagrams.map { .send($0) } + actions + childActions
    }

    struct ChildRefusal: Error {
        var notify: NotifyPayload
        var cause: IKEFailureCause
    }

    func negotiateChild(_ payloads: [Payload]) -> Result<(Proposal, [TrafficSelector], [TrafficSelector]), ChildRefusal> {
        guard let sa = payloads.securityAssociation, let tsi = payloads.trafficSelectorsInitiator,
              let tsr = payloads.trafficSelectorsResponder else {
            return .failure(ChildRefusal(notify: NotifyPayload(type: .noProposalChosen),
                                         cause: .protocolViolation("IKE_AUTH request lacks SA, TSi or TSr")))
        }
        let chosen: Proposal
        switch ProposalSelection.select(ours: childProposals(spi: 0), theirs: sa.proposals,
                                        options: ProposalSelectionOptions(ignoreKeyExchange: true)) {
        case let .success(proposal): chosen = proposal
        case let .failure(mismatch):
            return .failure(ChildRefusal(notify: NotifyPayload(type: .noProposalChosen), cause: .noProposalChosen(mismatch)))
        }
        guard chosen.spi.count == 4 else {
            return .failure(ChildRefusal(notify: NotifyPayload(type: .invalidSyntax),
                                         cause: .protocolViolation("CHILD SA SPI of \(chosen.spi.count) bytes")))
        }
        switch TrafficSelectorNarrowing.narrowAsResponder(tsi: tsi.selectors, tsr: tsr.selectors, policy: configuration.trafficSelectors) {
        case let .success(narrowed): return .success((chosen, narrowed.tsi, narrowed.tsr))
        case let .failure(mismatch):
            return .failure(ChildRefusal(notify: NotifyPayload(type: .tsUnacceptable), cause: .trafficSelectorsUnacceptable(mismatch)))
        }
    }

    /// The response's header: the request's SPIs (current or retired SA) and the I flag set when
    /// the request's was clear (we are that SA's original initiator).
    func responseHeader(for request: IKEHeader) -> IKEHeader {
        IKEHeader(initiatorSPI: request.initiatorSPI, responderSPI: request.responderSPI, exchangeType: request.exchangeType,
                  flags: request.flags.contains(.initiator) ? .response : [.initiator, .response], messageID: request.messageID)
    }

    mutating func respondAndFail(_ payloads: [Payload], header: IKEHeader, context: IKESAContext,
                                 cause: IKEFailureCause) -> [IKESAAction] {
        var actions: [IKESAAction] = []
        if let datagrams = try? protect(context: context, header: responseHeader(for: header), payloads: payloads) {
            cachedResponse = (header.messageID, datagrams)
            actions += datagrams.map { .send($0) }
        }
        return actions + fail(cause)
    }

    // MARK: Established

    mutating func handleInformationalRequest(_ payloads: [Payload], header: IKEHeader, context: IKESAContext) -> [IKESAAction] {
        var deletesIKE = false
        var deletedInbound: [UInt32] = []
        for case let .delete(delete) in payloads {
            switch delete.protocolID {
            case .ike:
                deletesIKE = true
            case .esp, .ah:
                // The peer names its inbound SPIs, which are our outbound ones (RFC 7296 §1.4.1).
                let outbound = delete.spis.filter { $0.count == 4 }.map { $0.reduce(UInt32(0)) { $0 << 8 | UInt32($1) } }
                for child in childSAs where outbound.contains(child.outboundSPI) { deletedInbound.append(child.inboundSPI) }
            default:
                continue
            }
        }
        var response: [Payload] = []
        if !deletesIKE && !deletedInbound.isEmpty {
            let spis = deletedInbound.map { spi -> [UInt8] in
                var bytes: [UInt8] = []
                bytes.appendU32(spi)
                return bytes
            }
            response.append(.delete(DeletePayload(protocolID: .esp, spiSize: 4, spis: spis)))
        }
        guard let datagrams = try? protect(context: context, header: responseHeader(for: header), payloads: response) else {
            return [.report(.messageDropped("could not seal INFORMATIONAL response"))]
        }
        cachedResponse = (header.messageID, datagrams)
        if deletesIKE {
            state = .deleted
            outstanding = nil
            childSAs.removeAll()
            retiring.removeAll()
            return datagrams.map { .send($0) } + [.cancelTimer(.retransmit), .report(.deletedByPeer)]
        }
        var actions: [IKESAAction] = datagrams.map { .send($0) }
        if !deletedInbound.isEmpty {
            childSAs.removeAll { deletedInbound.contains($0.inboundSPI) }
            actions += deletedInbound.map { .uninstallChildSA(inboundSPI: $0) }
            actions.append(.report(.childSAsDeletedByPeer(inboundSPIs: deletedInbound)))
        }
        return actions
    }

    /// Starts an INFORMATIONAL exchange of our own (window size 1: only when nothing is outstanding).
    mutating func sendInformational(payloads: [Payload], purpose: OutstandingRequest.Purpose, now: IKEInstant) -> [IKESAAction] {
        guard case let .established(context) = state else {
            return [.report(.messageDropped("INFORMATIONAL request in \(phase)"))]
        }
        guard outstanding == nil else { return [.report(.messageDropped("a request is already outstanding"))] }
        let messageID = nextRequestID
        nextRequestID += 1
        let header = IKEHeader(initiatorSPI: initiatorSPI, responderSPI: responderSPI, exchangeType: .informational,
                               flags: role == .initiator ? .initiator : [], messageID: messageID)
        do {
            let datagrams = try protect(context: context, header: header, payloads: payloads)
            return sendRequest(purpose, messageID: messageID, datagrams: datagrams, now: now)
        } catch {
            return [.report(.messageDropped("could not seal INFORMATIONAL request: \(error)"))]
        }
    }

    mutating func handleInformationalResponse(_ payloads: [Payload]) -> [IKESAAction] {
        guard let request = outstanding else { return [] }
        outstanding = nil
        switch request.purpose {
        case .delete:
            state = .deleted
            childSAs.removeAll()
            return [.cancelTimer(.retransmit), .report(.deleted)]
        case .liveness:
            return [.cancelTimer(.retransmit), .report(.livenessConfirmed)]
        case let .deleteChild(inboundSPI):
            // Make-before-break: the old SA goes only now that its replacement is installed.
            childSAs.removeAll { $0.inboundSPI == inboundSPI }
            return [.cancelTimer(.retransmit), .uninstallChildSA(inboundSPI: inboundSPI)]
        case .ikeSAInit, .ikeAuth, .createChild, .rekeyIKE:
            return [.cancelTimer(.retransmit)]
        }
    }

    // MARK: CREATE_CHILD_SA (new CHILD SA §1.3.1, CHILD SA rekey §1.3.3, §2.8)

    /// The CHILD proposals for CREATE_CHILD_SA: the configured suites, PFS groups included.
    func rekeyProposals(spi: UInt32) -> [Proposal] { childProposals(spi: spi) }

    mutating func startChildCreation(replacing: UInt32?, selectors: TrafficSelectorPolicy, keyExchangeGroup: DHGroup?,
                                     now: IKEInstant) -> [IKESAAction] {
        guard case let .established(context) = state else {
            return [.report(.messageDropped("CREATE_CHILD_SA in \(phase)"))]
        }
        guard outstanding == nil else { return [.report(.messageDropped("a request is already outstanding"))] }
        let newSPI = newChildSPI()
        let nonce = random.bytes(32)
        let proposals = rekeyProposals(spi: newSPI)
        var keyPair: KeyExchangeKeyPair?
        if let group = keyExchangeGroup {
            do {
                keyPair = try KeyExchangeKeyPair.generate(group: group, random: random)
            } catch {
                return [.report(.childSAFailed(.cryptoFailure(error)))]
            }
        }
        var payloads: [Payload] = []
        if let replacing {
            var oldSPI: [UInt8] = []
            oldSPI.appendU32(replacing)
            payloads.append(.notify(NotifyPayload(protocolID: .esp, spi: oldSPI, type: .rekeySA)))
        }
        payloads += [
            .securityAssociation(SecurityAssociationPayload(proposals: proposals)),
            .nonce(NoncePayload(data: nonce)),
        ]
        if let keyPair { payloads.append(.keyExchange(KeyExchangePayload(group: keyPair.group.rawValue, data: keyPair.publicValue))) }
        payloads += [.trafficSelectorInitiator(TrafficSelectorPayload(selectors: selectors.local)),
                     .trafficSelectorResponder(TrafficSelectorPayload(selectors: selectors.remote))]
        let messageID = nextRequestID
        nextRequestID += 1
        let header = IKEHeader(initiatorSPI: initiatorSPI, responderSPI: responderSPI, exchangeType: .createChildSA,
                               flags: role == .initiator ? .initiator : [], messageID: messageID)
        do {
            let datagrams = try protect(context: context, header: header, payloads: payloads)
            let pending = PendingChildCreation(replacing: replacing, newInboundSPI: newSPI, nonce: nonce, keyPair: keyPair,
                                               proposals: proposals, selectors: selectors)
            return sendRequest(.createChild(pending), messageID: messageID, datagrams: datagrams, now: now)
        } catch {
            return [.report(.childSAFailed(.cryptoFailure(error)))]
        }
    }

    mutating func handleCreateChildRequest(_ payloads: [Payload], header: IKEHeader, context: IKESAContext,
                                           now: IKEInstant) -> [IKESAAction] {
        func refuse(_ notify: NotifyPayload, _ cause: IKEFailureCause) -> [IKESAAction] {
            guard let datagrams = try? protect(context: context, header: responseHeader(for: header), payloads: [.notify(notify)]) else {
                return [.report(.childSAFailed(cause))]
            }
            cachedResponse = (header.messageID, datagrams)
            return datagrams.map { .send($0) } + [.report(.childSAFailed(cause))]
        }
        if let sa = payloads.securityAssociation, !sa.proposals.isEmpty, sa.proposals.allSatisfy({ $0.protocolID == .ike }) {
            return handleIKERekeyRequest(payloads, header: header, context: context, now: now)
        }
        if case .rekeyIKE? = outstanding?.purpose {
            // Our IKE rekey is under way: strongSwan's answer to a CHILD exchange meanwhile (§2.8.2
            // allows either; the peer retries on the new IKE SA).
            return refuse(NotifyPayload(type: .temporaryFailure),
                          .protocolViolation("peer's CHILD exchange refused with TEMPORARY_FAILURE: our IKE SA rekey is under way"))
        }
        var old: ChildSAInstallation?
        if let rekey = payloads.notify(.rekeySA) {
            guard rekey.protocolID == .esp, rekey.spi.count == 4 else {
                return refuse(NotifyPayload(type: .invalidSyntax), .protocolViolation("REKEY_SA for \(rekey.protocolID) is not supported"))
            }
            let peerOldInbound = rekey.spi.reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            guard let found = childSAs.first(where: { $0.outboundSPI == peerOldInbound }) else {
                return refuse(NotifyPayload(protocolID: .esp, spi: rekey.spi, type: .childSANotFound),
                              .protocolViolation("REKEY_SA for unknown CHILD SA \(peerOldInbound)"))
            }
            old = found
        }
        guard let sa = payloads.securityAssociation, let nonceI = payloads.nonce else {
            return refuse(NotifyPayload(type: .invalidSyntax), .protocolViolation("CREATE_CHILD_SA lacks SA or Nonce"))
        }
        guard sa.proposals.allSatisfy({ $0.protocolID == .esp }) else {
            // IKE SA rekeying (SA with protocol IKE) is not implemented yet (RFC 7296 §1.3.2).
            return refuse(NotifyPayload(type: .noProposalChosen), .protocolViolation("IKE SA rekey is not supported yet"))
        }
        let chosen: Proposal
        switch ProposalSelection.select(ours: rekeyProposals(spi: 0), theirs: sa.proposals) {
        case let .success(proposal): chosen = proposal
        case let .failure(mismatch): return refuse(NotifyPayload(type: .noProposalChosen), .noProposalChosen(mismatch))
        }
        guard chosen.spi.count == 4 else {
            return refuse(NotifyPayload(type: .invalidSyntax), .protocolViolation("CHILD SA SPI of \(chosen.spi.count) bytes"))
        }
        let suite: ChildCipherSuite
        do {
            suite = try ChildCipherSuite(proposal: chosen)
        } catch {
            return refuse(NotifyPayload(type: .noProposalChosen), .cryptoFailure(error))
        }
        // PFS: the KE payload must carry the chosen group (RFC 7296 §1.3: else INVALID_KE_PAYLOAD).
        var keyPair: KeyExchangeKeyPair?
        var shared: [UInt8]?
        if let group = suite.dhGroup {
            guard let ke = payloads.keyExchange, ke.group == group.rawValue else {
                var data: [UInt8] = []
                data.appendU16(group.rawValue)
                return refuse(NotifyPayload(type: .invalidKEPayload, data: data),
                              .protocolViolation("CREATE_CHILD_SA KE does not carry group \(group)"))
            }
            do {
                let pair = try KeyExchangeKeyPair.generate(group: group, random: random)
                shared = try pair.sharedSecret(peerPublicValue: ke.data)
                keyPair = pair
            } catch {
                return refuse(NotifyPayload(type: .invalidSyntax), .cryptoFailure(error))
            }
        }
        guard let tsi = payloads.trafficSelectorsInitiator?.selectors ?? old?.remoteSelectors,
              let tsr = payloads.trafficSelectorsResponder?.selectors ?? old?.localSelectors else {
            return refuse(NotifyPayload(type: .invalidSyntax), .protocolViolation("CREATE_CHILD_SA lacks TSi/TSr"))
        }
        let narrowed: (tsi: [TrafficSelector], tsr: [TrafficSelector])
        switch TrafficSelectorNarrowing.narrowAsResponder(tsi: tsi, tsr: tsr, policy: configuration.trafficSelectors) {
        case let .success(result): narrowed = result
        case let .failure(mismatch): return refuse(NotifyPayload(type: .tsUnacceptable), .trafficSelectorsUnacceptable(mismatch))
        }
        let newSPI = newChildSPI()
        let nonceR = random.bytes(32)
        var answer = chosen
        answer.spi = []
        answer.spi.appendU32(newSPI)
        var response: [Payload] = [.securityAssociation(SecurityAssociationPayload(proposals: [answer])), .nonce(NoncePayload(data: nonceR))]
        if let keyPair { response.append(.keyExchange(KeyExchangePayload(group: keyPair.group.rawValue, data: keyPair.publicValue))) }
        response += [.trafficSelectorInitiator(TrafficSelectorPayload(selectors: narrowed.tsi)),
                     .trafficSelectorResponder(TrafficSelectorPayload(selectors: narrowed.tsr))]
        guard let datagrams = try? protect(context: context, header: responseHeader(for: header), payloads: response) else {
            return [.report(.messageDropped("could not seal CREATE_CHILD_SA response"))]
        }
        cachedResponse = (header.messageID, datagrams)
        if let old, case let .createChild(pending)? = outstanding?.purpose, pending.replacing == old.inboundSPI {
            rekeyCollisions[old.inboundSPI] = (nonceI.data, nonceR)
        }
        let peerSPI = chosen.spi.reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        // The new SA is installed at once; the old one stays until the peer deletes it (make-before-break).
        return datagrams.map { .send($0) }
            + installChild(context: context, proposal: chosen, inboundSPI: newSPI, outboundSPI: peerSPI,
                           localSelectors: narrowed.tsr, remoteSelectors: narrowed.tsi, exchangeInitiator: false,
                           nonces: (nonceI.data, nonceR), pfsSharedSecret: shared, replacing: old?.inboundSPI)
    }

    mutating func handleCreateChildResponse(_ payloads: [Payload], context: IKESAContext, now: IKEInstant) -> [IKESAAction] {
        if let request = outstanding, case let .rekeyIKE(pending) = request.purpose {
            return handleIKERekeyResponse(payloads, pending: pending, context: context, now: now)
        }
        guard let request = outstanding, case let .createChild(pending) = request.purpose else {
            outstanding = nil
            return [.cancelTimer(.retransmit)]
        }
        outstanding = nil
        var actions: [IKESAAction] = [.cancelTimer(.retransmit)]
        if let invalidKE = payloads.notify(.invalidKEPayload), invalidKE.data.count == 2 {
            // RFC 7296 §1.3: retry once with the PFS group the peer wants, if we offer it.
            let requested = UInt16(invalidKE.data[0]) << 8 | UInt16(invalidKE.data[1])
            if let group = DHGroup(rawValue: requested), group != pending.keyPair?.group,
               configuration.childSuites.contains(where: { $0.dhGroup == group }) {
                return actions + [.report(.retryingWithKeyExchangeGroup(requested))]
                    + startChildCreation(replacing: pending.replacing, selectors: pending.selectors, keyExchangeGroup: group, now: now)
            }
        }
        if let error = payloads.notifies.first(where: { $0.type.isError }) {
            return actions + [.report(.childSAFailed(.refusedByPeer(error.type)))]
        }
        guard let sa = payloads.securityAssociation, sa.proposals.count == 1, let nonceR = payloads.nonce else {
            return actions + [.report(.childSAFailed(.protocolViolation("CREATE_CHILD_SA response lacks SA or Nonce")))]
        }
        let chosen: Proposal
        switch ProposalSelection.verifyResponse(offered: pending.proposals, chosen: sa.proposals[0]) {
        case let .success(proposal): chosen = proposal
        case let .failure(mismatch): return actions + [.report(.childSAFailed(.noProposalChosen(mismatch)))]
        }
        var shared: [UInt8]?
        if let keyPair = pending.keyPair {
            guard let ke = payloads.keyExchange, ke.group == keyPair.group.rawValue else {
                return actions + [.report(.childSAFailed(.protocolViolation("CREATE_CHILD_SA response lacks KE for PFS")))]
            }
            do {
                shared = try keyPair.sharedSecret(peerPublicValue: ke.data)
            } catch {
                return actions + [.report(.childSAFailed(.cryptoFailure(error)))]
            }
        }
        let tsi = payloads.trafficSelectorsInitiator?.selectors ?? pending.selectors.local
        let tsr = payloads.trafficSelectorsResponder?.selectors ?? pending.selectors.remote
        if case let .failure(mismatch) = TrafficSelectorNarrowing.acceptAsInitiator(tsi: tsi, tsr: tsr, policy: pending.selectors) {
            return actions + [.report(.childSAFailed(.trafficSelectorsUnacceptable(mismatch)))]
        }
        guard chosen.spi.count == 4 else {
            return actions + [.report(.childSAFailed(.protocolViolation("CHILD SA SPI of \(chosen.spi.count) bytes")))]
        }
        let peerSPI = chosen.spi.reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        let installed = installChild(context: context, proposal: chosen, inboundSPI: pending.newInboundSPI, outboundSPI: peerSPI,
                                     localSelectors: tsi, remoteSelectors: tsr, exchangeInitiator: true,
                                     nonces: (pending.nonce, nonceR.data), pfsSharedSecret: shared, replacing: pending.replacing)
        guard let replaced = pending.replacing else { return actions + installed }
        if let collision = rekeyCollisions.removeValue(forKey: replaced) {
            // RFC 7296 §2.8.1: the SA created with the lowest of the four nonces is deleted by its
            // creator; the other new SA survives and the winner deletes the old one.
            let lower = { (a: [UInt8], b: [UInt8]) in b.lexicographicallyPrecedes(a) ? b : a }
            let ours = lower(pending.nonce, nonceR.data)
            let theirs = lower(collision.peerNonce, collision.ourNonce)
            if ours.lexicographicallyPrecedes(theirs) {
                var redundant: [UInt8] = []
                redundant.appendU32(pending.newInboundSPI)
                let quiet = installed.filter { if case .report = $0 { return false } else { return true } }
                return actions + quiet
                    + sendInformational(payloads: [.delete(DeletePayload(protocolID: .esp, spiSize: 4, spis: [redundant]))],
                                        purpose: .deleteChild(inboundSPI: pending.newInboundSPI), now: now)
            }
        }
        actions += installed
        // The rekey initiator deletes the old SA (RFC 7296 §2.8), naming its own inbound SPI.
        var oldSPI: [UInt8] = []
        oldSPI.appendU32(replaced)
        return actions + sendInformational(payloads: [.delete(DeletePayload(protocolID: .esp, spiSize: 4, spis: [oldSPI]))],
                                           purpose: .deleteChild(inboundSPI: replaced), now: now)
    }

    // MARK: Common

    mutating func receive(_ bytes: [UInt8], now: IKEInstant) -> [IKESAAction] {
        let message: IKEMessage
        do {
            message = try IKEMessage.parse(bytes)
        } catch {
            return [.report(.messageDropped("unparsable: \(error)"))]
        }
        let header = message.header
        if let index = retiring.firstIndex(where: { $0.context.initiatorSPI == header.initiatorSPI
                                                    && $0.context.responderSPI == header.responderSPI }) {
            return receiveOnRetired(index, message: message, raw: bytes, now: now)
        }
        guard header.initiatorSPI == initiatorSPI || (role == .responder && initiatorSPI == 0) else {
            return [.report(.messageDropped("unknown initiator SPI"))]
        }
        if header.isResponse {
            guard let outstanding, outstanding.messageID == header.messageID else {
                return [.report(.messageDropped("response to message ID \(header.messageID) we did not send"))]
            }
        } else if let cached = cachedResponse, cached.messageID == header.messageID, header.exchangeType != .ikeSAInit {
            // RFC 7296 §2.1: a retransmitted request gets the same answer; for a fragmented
            // request only its first fragment triggers it (RFC 7383 §2.6.1).
            if case let .encryptedFragment(fragment)? = message.payloads.last, fragment.fragmentNumber != 1 { return [] }
            return cached.datagrams.map { .send($0) }
        }
        if case .established = state, header.responderSPI != responderSPI {
            return [.report(.messageDropped("unknown responder SPI"))]
        }
        switch (state, header.exchangeType, header.isResponse) {
        case (.initiatorInitSent, .ikeSAInit, true):
            return handleInitResponse(message, raw: bytes, now: now)
        case (.idle, .ikeSAInit, false), (.responderAwaitingAuth, .ikeSAInit, false):
            guard role == .responder else { return [.report(.messageDropped("IKE_SA_INIT request to an initiator"))] }
            return handleInitRequest(message, raw: bytes)
        case let (.initiatorAuthSent(context, childSPI), .ikeAuth, true):
            guard header.responderSPI == responderSPI else { return [.report(.messageDropped("unknown responder SPI"))] }
            switch openPayloads(message, raw: bytes, context: context) {
            case let .payloads(payloads): return handleAuthResponse(payloads, context: context, childSPI: childSPI)
            case .incomplete: return []
            case let .failed(error): return [.report(.messageDropped("IKE_AUTH response: \(error)"))]
            }
        case let (.responderAwaitingAuth(context), .ikeAuth, false):
            guard header.responderSPI == responderSPI, header.messageID == 1 else {
                return [.report(.messageDropped("IKE_AUTH with SPI or message ID out of place"))]
            }
            switch openPayloads(message, raw: bytes, context: context) {
            case let .payloads(payloads): return handleAuthRequest(payloads, header: header, context: context)
            case .incomplete: return []
            case let .failed(error): return [.report(.messageDropped("IKE_AUTH request: \(error)"))]
            }
        case let (.established(context), .informational, false):
            switch openPayloads(message, raw: bytes, context: context) {
            case let .payloads(payloads): return handleInformationalRequest(payloads, header: header, context: context)
            case .incomplete: return []
            case let .failed(error): return [.report(.messageDropped("INFORMATIONAL: \(error)"))]
            }
        case let (.established(context), .createChildSA, false):
            switch openPayloads(message, raw: bytes, context: context) {
            case let .payloads(payloads): return handleCreateChildRequest(payloads, header: header, context: context, now: now)
            case .incomplete: return []
            case let .failed(error): return [.report(.messageDropped("CREATE_CHILD_SA: \(error)"))]
            }
        case let (.established(context), .createChildSA, true):
            switch openPayloads(message, raw: bytes, context: context) {
            case let .payloads(payloads): return handleCreateChildResponse(payloads, context: context, now: now)
            case .incomplete: return []
            case let .failed(error): return [.report(.messageDropped("CREATE_CHILD_SA response: \(error)"))]
            }
        case let (.established(context), .informational, true):
            switch openPayloads(message, raw: bytes, context: context) {
            case let .payloads(payloads): return handleInformationalResponse(payloads)
            case .incomplete: return []
            case let .failed(error): return [.report(.messageDropped("INFORMATIONAL response: \(error)"))]
            }
        default:
            return [.report(.messageDropped("\(header.exchangeType) \(header.isResponse ? "response" : "request") in \(phase)"))]
        }
    }

    enum Opened {
        case payloads([Payload])
        /// A fragment was stored; the message is not complete yet.
        case incomplete
        case failed(IKEMessageError)
    }

    /// Opens SK, or adds an SKF fragment to the reassembly of its message (RFC 7383 §2.6).
    mutating func openPayloads(_ message: IKEMessage, raw: [UInt8], context: IKESAContext) -> Opened {
        guard message.payloads.last?.type == .encryptedFragment else {
            do {
                return .payloads(try context.inbound.open(message, rawBytes: raw))
            } catch {
                return .failed(error)
            }
        }
        let header = message.header
        do {
            let (fragment, plaintext) = try context.inbound.openFragment(message, rawBytes: raw)
            var reassembler = FragmentReassembler()
            if let pending = reassembly, pending.messageID == header.messageID, pending.isResponse == header.isResponse {
                reassembler = pending.reassembler
            }
            let complete = reassembler.add(fragment, plaintext: plaintext)
            reassembly = (header.messageID, header.isResponse, reassembler)
            guard let (first, inner) = complete else { return .incomplete }
            reassembly = nil
            return .payloads(try FragmentReassembler.payloads(first: first, innerBytes: inner, header: header))
        } catch {
            return .failed(error)
        }
    }

    /// SK, or SKF fragments when fragmentation was negotiated and the message would not fit.
    func protect(context: IKESAContext, header: IKEHeader, payloads: [Payload]) throws(IKECryptoError) -> [[UInt8]] {
        let whole = try context.outbound.seal(header: header, payloads: payloads, random: random)
        guard fragmentationNegotiated, whole.count > configuration.maximumMessageLength else { return [whole] }
        return try context.outbound.sealFragments(header: header, payloads: payloads,
                                                  maximumMessageLength: configuration.maximumMessageLength, random: random)
    }

    mutating func sendRequest(_ purpose: OutstandingRequest.Purpose, messageID: UInt32, datagrams: [[UInt8]],
                              now: IKEInstant) -> [IKESAAction] {
        outstanding = OutstandingRequest(purpose: purpose, messageID: messageID, datagrams: datagrams, transmissions: 1)
        return datagrams.map { .send($0) }
            + [.armTimer(.retransmit, deadline: now + configuration.retransmission.timeout(afterAttempt: 0))]
    }

    mutating func retransmit(now: IKEInstant) -> [IKESAAction] {
        guard var request = outstanding else { return [] }
        let retransmits = request.transmissions - 1
        guard retransmits < configuration.retransmission.maximumRetransmits else {
            outstanding = nil
            if case .delete = request.purpose {
                state = .deleted
                childSAs.removeAll()
                return [.report(.deleted)]
            }
            return fail(.noResponse(retransmits: retransmits))
        }
        request.transmissions += 1
        outstanding = request
        let wait = configuration.retransmission.timeout(afterAttempt: request.transmissions - 1)
        return request.datagrams.map { .send($0) } + [.armTimer(.retransmit, deadline: now + wait)]
    }

    mutating func fail(_ cause: IKEFailureCause) -> [IKESAAction] {
        state = .failed(cause)
        outstanding = nil
        return [.report(.failed(cause))]
    }
}
