// IKE SA rekeying (RFC 7296 §1.3.2, §2.8, §2.18) in place: the `IKESA` value takes the new SPIs
// and keys and keeps its CHILD SAs, so the data plane sees no change at all. The replaced SA is
// kept as a "retired" SA that still answers the peer (a retransmitted rekey request, its Delete)
// until it is deleted — by the rekey initiator, with an INFORMATIONAL Delete on the old SA.
//
// Collisions: two IKE rekeys at once (§2.8.2) — the new SA created with the lowest of the four
// nonces is deleted by its creator, the winner deletes the old SA; an IKE rekey meeting a CHILD
// exchange — answered TEMPORARY_FAILURE as strongSwan does, and retried later by its initiator.

/// Our side of a CREATE_CHILD_SA that rekeys the IKE SA.
struct PendingIKERekey: Sendable {
    var newInitiatorSPI: UInt64
    var nonce: [UInt8]
    var keyPair: KeyExchangeKeyPair
    var proposals: [Proposal]
}

/// An IKE SA replaced by a rekey, or made redundant by a collision: it answers requests (with
/// cached responses for retransmits) and may carry one request of ours (normally its Delete).
struct RetiringIKESA: Sendable {
    var context: IKESAContext
    var role: IKESA.Role
    var nextRequestID: UInt32
    var outstanding: OutstandingRequest?
    var cachedResponse: (messageID: UInt32, datagrams: [[UInt8]])?
    /// Retransmit our request then, or, with nothing outstanding, forget the SA then.
    var deadline: IKEInstant
}

extension IKESA {
    /// Our SPI of the current IKE SA (the driver's key for it).
    public var localSPI: UInt64 { role == .initiator ? initiatorSPI : responderSPI }

    /// Our SPIs of the current SA and of retired ones still answering: datagrams naming any of
    /// them belong to this value.
    public var localSPIs: [UInt64] {
        [localSPI] + retiring.map { $0.role == .initiator ? $0.context.initiatorSPI : $0.context.responderSPI }
    }

    /// A request of ours is awaiting its response (window size 1: no new exchange until it is done).
    public var hasOutstandingRequest: Bool { outstanding != nil }

    /// RFC 7296 §2.4: whether our IKE_AUTH request carries N(INITIAL_CONTACT). The driver may
    /// change it until IKE_AUTH is sent (it knows whether another SA with the peer appeared meanwhile).
    public var sendsInitialContact: Bool {
        get { configuration.sendInitialContact }
        set { configuration.sendInitialContact = newValue }
    }

    /// How long a retired SA with nothing of ours outstanding waits for the peer's Delete: the
    /// peer's whole retransmission schedule (assumed like ours).
    var retirementGrace: Duration {
        var total = Duration.zero
        for attempt in 0...configuration.retransmission.maximumRetransmits {
            total += configuration.retransmission.timeout(afterAttempt: attempt)
        }
        return total
    }

    // MARK: Initiator

    /// The DH group for a rekey: the current SA's while we still offer it (strongSwan does the
    /// same), else our first configured one.
    func ikeRekeyGroup(current: IKESAContext) -> DHGroup? {
        if configuration.ikeSuites.contains(where: { $0.dhGroup == current.suite.dhGroup }) { return current.suite.dhGroup }
        return configuration.ikeSuites.first?.dhGroup
    }

    mutating func startIKERekey(group requested: DHGroup?, now: IKEInstant) -> [IKESAAction] {
        guard case let .established(context) = state else {
            return [.report(.messageDropped("IKE SA rekey in \(phase)"))]
        }
        guard outstanding == nil else { return [.report(.messageDropped("a request is already outstanding"))] }
        guard let group = requested ?? ikeRekeyGroup(current: context) else {
            return [.report(.ikeSARekeyFailed(.protocolViolation("no IKE proposals configured")))]
        }
        var newSPI: UInt64 = 0
        while newSPI == 0 { newSPI = random.uint64() }
        let nonce = random.bytes(32)
        let keyPair: KeyExchangeKeyPair
        do {
            keyPair = try KeyExchangeKeyPair.generate(group: group, random: random)
        } catch {
            return [.report(.ikeSARekeyFailed(.cryptoFailure(error)))]
        }
        var spiBytes: [UInt8] = []
        spiBytes.appendU64(newSPI)
        let proposals = configuration.ikeSuites.enumerated().map {
            $0.element.proposal(number: UInt8(truncatingIfNeeded: $0.offset + 1), spi: spiBytes)
        }
        let payloads: [Payload] = [
            .securityAssociation(SecurityAssociationPayload(proposals: proposals)),
            .nonce(NoncePayload(data: nonce)),
            .keyExchange(KeyExchangePayload(group: group.rawValue, data: keyPair.publicValue)),
        ]
        let messageID = nextRequestID
        nextRequestID += 1
        let header = IKEHeader(initiatorSPI: initiatorSPI, responderSPI: responderSPI, exchangeType: .createChildSA,
                               flags: role == .initiator ? .initiator : [], messageID: messageID)
        do {
            let datagrams = try protect(context: context, header: header, payloads: payloads)
            let pending = PendingIKERekey(newInitiatorSPI: newSPI, nonce: nonce, keyPair: keyPair, proposals: proposals)
            return sendRequest(.rekeyIKE(pending), messageID: messageID, datagrams: datagrams, now: now)
        } catch {
            return [.report(.ikeSARekeyFailed(.cryptoFailure(error)))]
        }
    }

    mutating func handleIKERekeyResponse(_ payloads: [Payload], pending: PendingIKERekey, context: IKESAContext,
                                         now: IKEInstant) -> [IKESAAction] {
        outstanding = nil
        var actions: [IKESAAction] = [.cancelTimer(.retransmit)]
        let collision = ikeRekeyCollision
        ikeRekeyCollision = nil
        // Our rekey did not happen; if the peer's did meanwhile, its new SA is the one (the peer,
        // seeing no collision, deletes the old SA).
        func failed(_ cause: IKEFailureCause) -> [IKESAAction] {
            guard let collision else { return actions + [.report(.ikeSARekeyFailed(cause))] }
            return actions + [.report(.ikeSARekeyFailed(cause))] + adopt(collision, role: .responder, now: now) + retiredSAsTimer()
        }
        if let invalidKE = payloads.notify(.invalidKEPayload), invalidKE.data.count == 2, collision == nil {
            let requested = UInt16(invalidKE.data[0]) << 8 | UInt16(invalidKE.data[1])
            if let group = DHGroup(rawValue: requested), group != pending.keyPair.group,
               configuration.ikeSuites.contains(where: { $0.dhGroup == group }) {
                return actions + [.report(.retryingWithKeyExchangeGroup(requested))] + startIKERekey(group: group, now: now)
            }
            return failed(.unacceptableKeyExchangeGroup(requested: requested))
        }
        if let error = payloads.notifies.first(where: { $0.type.isError }) {
            return failed(.refusedByPeer(error.type))
        }
        guard let sa = payloads.securityAssociation, sa.proposals.count == 1, let nonceR = payloads.nonce,
              let ke = payloads.keyExchange else {
            return failed(.protocolViolation("IKE rekey response lacks SA, Nonce or KE"))
        }
        let chosen: Proposal
        switch ProposalSelection.verifyResponse(offered: pending.proposals, chosen: sa.proposals[0]) {
        case let .success(proposal): chosen = proposal
        case let .failure(mismatch): return failed(.noProposalChosen(mismatch))
        }
        guard chosen.spi.count == 8 else {
            return failed(.protocolViolation("IKE SA SPI of \(chosen.spi.count) bytes in the rekey response"))
        }
        let newResponderSPI = chosen.spi.reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        guard newResponderSPI != 0 else { return failed(.protocolViolation("zero responder SPI in the rekey response")) }
        guard ke.group == pending.keyPair.group.rawValue else {
            return failed(.cryptoFailure(.keyExchangeGroupMismatch(expected: pending.keyPair.group.rawValue, received: ke.group)))
        }
        let ours: IKESAContext
        do {
            let suite = try IKECipherSuite(proposal: chosen)
            guard suite.dhGroup == pending.keyPair.group else {
                return failed(.cryptoFailure(.keyExchangeGroupMismatch(expected: pending.keyPair.group.rawValue, received: suite.dhGroup.rawValue)))
            }
            ours = try rekeyedContext(old: context, suite: suite, keyPair: pending.keyPair, peerPublic: ke.data,
                                      nonceI: pending.nonce, nonceR: nonceR.data,
                                      initiatorSPI: pending.newInitiatorSPI, responderSPI: newResponderSPI, weInitiated: true)
        } catch {
            return failed(.cryptoFailure(error))
        }
        if let collision {
            // RFC 7296 §2.8.2: the new SA created with the lowest of the four nonces is redundant
            // and deleted by its creator; the other survives, and its creator deletes the old SA.
            let lower = { (a: [UInt8], b: [UInt8]) in b.lexicographicallyPrecedes(a) ? b : a }
            let ourLowest = lower(ours.nonceInitiator, ours.nonceResponder)
            let theirLowest = lower(collision.nonceInitiator, collision.nonceResponder)
            if ourLowest.lexicographicallyPrecedes(theirLowest) {
                // Lost: the peer's SA is the one; ours goes (we created it, we delete it). The
                // old SA waits for the peer's Delete.
                actions += adopt(collision, role: .responder, now: now)
                retiring.append(RetiringIKESA(context: ours, role: .initiator, nextRequestID: 0, outstanding: nil,
                                              cachedResponse: nil, deadline: now))
                actions += deleteRetired(at: retiring.count - 1, now: now)
                return actions + retiredSAsTimer()
            }
            // Won: the peer deletes its redundant SA, which we keep answering until then.
            retiring.append(RetiringIKESA(context: collision, role: .responder, nextRequestID: 0, outstanding: nil,
                                          cachedResponse: nil, deadline: now + retirementGrace))
        }
        actions += adopt(ours, role: .initiator, now: now)
        // The rekey initiator deletes the old IKE SA (RFC 7296 §1.3.2).
        if let old = retiring.firstIndex(where: { $0.context.initiatorSPI == context.initiatorSPI && $0.context.responderSPI == context.responderSPI }) {
            actions += deleteRetired(at: old, now: now)
        }
        return actions + retiredSAsTimer()
    }

    // MARK: Responder

    mutating func handleIKERekeyRequest(_ payloads: [Payload], header: IKEHeader, context: IKESAContext,
                                        now: IKEInstant) -> [IKESAAction] {
        func refuse(_ notify: NotifyPayload, _ cause: IKEFailureCause) -> [IKESAAction] {
            guard let datagrams = try? protect(context: context, header: responseHeader(for: header), payloads: [.notify(notify)]) else {
                return [.report(.ikeSARekeyFailed(cause))]
            }
            cachedResponse = (header.messageID, datagrams)
            return datagrams.map { .send($0) } + [.report(.ikeSARekeyFailed(cause))]
        }
        switch outstanding?.purpose {
        case .createChild?, .delete?:
            // A CHILD SA of ours is half-open (or the IKE SA is going): strongSwan answers the same.
            return refuse(NotifyPayload(type: .temporaryFailure),
                          .protocolViolation("peer's IKE rekey refused with TEMPORARY_FAILURE: an exchange of ours is under way"))
        default:
            break
        }
        guard let sa = payloads.securityAssociation, let nonceI = payloads.nonce, let ke = payloads.keyExchange else {
            return refuse(NotifyPayload(type: .invalidSyntax), .protocolViolation("IKE rekey request lacks SA, Nonce or KE"))
        }
        let ours = configuration.ikeSuites.enumerated().map { $0.element.proposal(number: UInt8(truncatingIfNeeded: $0.offset + 1)) }
        // As in IKE_SA_INIT: prefer a proposal with the group the KE payload already carries.
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
            case let .failure(mismatch): return refuse(NotifyPayload(type: .noProposalChosen), .noProposalChosen(mismatch))
            }
        }
        guard chosen.spi.count == 8 else {
            return refuse(NotifyPayload(type: .invalidSyntax), .protocolViolation("IKE SA SPI of \(chosen.spi.count) bytes in a rekey"))
        }
        let newInitiatorSPI = chosen.spi.reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        guard newInitiatorSPI != 0 else {
            return refuse(NotifyPayload(type: .invalidSyntax), .protocolViolation("zero initiator SPI in an IKE rekey"))
        }
        let suite: IKECipherSuite
        do {
            suite = try IKECipherSuite(proposal: chosen)
        } catch {
            return refuse(NotifyPayload(type: .noProposalChosen), .cryptoFailure(error))
        }
        guard ke.group == suite.dhGroup.rawValue else {
            // RFC 7296 §1.3.2 / §1.2: name the group we want; the initiator retries with it.
            var group: [UInt8] = []
            group.appendU16(suite.dhGroup.rawValue)
            let datagrams = (try? protect(context: context, header: responseHeader(for: header),
                                          payloads: [.notify(NotifyPayload(type: .invalidKEPayload, data: group))])) ?? []
            if !datagrams.isEmpty { cachedResponse = (header.messageID, datagrams) }
            return datagrams.map { .send($0) }
                + [.report(.messageDropped("IKE rekey: peer sent KE group \(ke.group), we chose \(suite.dhGroup); answered INVALID_KE_PAYLOAD"))]
        }
        var newResponderSPI: UInt64 = 0
        while newResponderSPI == 0 { newResponderSPI = random.uint64() }
        let nonceR = random.bytes(32)
        let new: IKESAContext
        let keyPair: KeyExchangeKeyPair
        do {
            keyPair = try KeyExchangeKeyPair.generate(group: suite.dhGroup, random: random)
            new = try rekeyedContext(old: context, suite: suite, keyPair: keyPair, peerPublic: ke.data, nonceI: nonceI.data,
                                     nonceR: nonceR, initiatorSPI: newInitiatorSPI, responderSPI: newResponderSPI, weInitiated: false)
        } catch {
            return refuse(NotifyPayload(type: .invalidSyntax), .cryptoFailure(error))
        }
        var answer = chosen
        answer.spi = []
        answer.spi.appendU64(newResponderSPI)
        let response: [Payload] = [
            .securityAssociation(SecurityAssociationPayload(proposals: [answer])),
            .nonce(NoncePayload(data: nonceR)),
            .keyExchange(KeyExchangePayload(group: keyPair.group.rawValue, data: keyPair.publicValue)),
        ]
        guard let datagrams = try? protect(context: context, header: responseHeader(for: header), payloads: response) else {
            return [.report(.messageDropped("could not seal the IKE rekey response"))]
        }
        cachedResponse = (header.messageID, datagrams)
        let sends = datagrams.map { IKESAAction.send($0) }
        if case .rekeyIKE? = outstanding?.purpose {
            // Simultaneous IKE rekeys: decided when our own response arrives.
            ikeRekeyCollision = new
            return sends
        }
        // The old SA answers until the rekey initiator deletes it; from now on we use the new one.
        return sends + adopt(new, role: .responder, now: now) + retiredSAsTimer()
    }

    // MARK: Switching SAs

    /// SKEYSEED = prf(SK_d (old), g^ir (new) | Ni | Nr) with the old PRF; keys with the new suite (§2.18).
    func rekeyedContext(old: IKESAContext, suite: IKECipherSuite, keyPair: KeyExchangeKeyPair, peerPublic: [UInt8],
                        nonceI: [UInt8], nonceR: [UInt8], initiatorSPI: UInt64, responderSPI: UInt64,
                        weInitiated: Bool) throws(IKECryptoError) -> IKESAContext {
        let shared = try keyPair.sharedSecret(peerPublicValue: peerPublic)
        let skeyseed = KeyDerivation.rekeyedSKEYSEED(oldPRF: old.suite.prf, oldSKd: old.keys.skD, newSharedSecret: shared,
                                                     nonceInitiator: nonceI, nonceResponder: nonceR)
        let keys = try KeyDerivation.ikeSAKeys(suite: suite, skeyseed: skeyseed, nonceInitiator: nonceI, nonceResponder: nonceR,
                                               initiatorSPI: initiatorSPI, responderSPI: responderSPI)
        let directions = try SKProtection.directions(suite: suite, keys: keys)
        return IKESAContext(suite: suite, keys: keys, initiatorSPI: initiatorSPI, responderSPI: responderSPI,
                            nonceInitiator: nonceI, nonceResponder: nonceR, initRequest: [], initResponse: [],
                            outbound: weInitiated ? directions.initiatorToResponder : directions.responderToInitiator,
                            inbound: weInitiated ? directions.responderToInitiator : directions.initiatorToResponder)
    }

    /// Retires the current SA (with any request of ours still outstanding on it) and makes `new`
    /// current: new SPIs, keys, message IDs from 0; the CHILD SAs stay as they are.
    mutating func adopt(_ new: IKESAContext, role newRole: Role, now: IKEInstant) -> [IKESAAction] {
        guard case let .established(old) = state else { return [] }
        var actions: [IKESAAction] = []
        var retired = RetiringIKESA(context: old, role: role, nextRequestID: nextRequestID, outstanding: outstanding,
                                    cachedResponse: cachedResponse, deadline: now + retirementGrace)
        if let request = outstanding {
            actions.append(.cancelTimer(.retransmit))
            retired.deadline = now + configuration.retransmission.timeout(afterAttempt: request.transmissions - 1)
        }
        retiring.append(retired)
        state = .established(new)
        initiatorSPI = new.initiatorSPI
        responderSPI = new.responderSPI
        role = newRole
        nextRequestID = 0
        outstanding = nil
        cachedResponse = nil
        reassembly = nil
        actions.append(.report(.ikeSARekeyed(oldInitiatorSPI: old.initiatorSPI, oldResponderSPI: old.responderSPI,
                                             newInitiatorSPI: new.initiatorSPI, newResponderSPI: new.responderSPI)))
        return actions
    }

    /// Sends an INFORMATIONAL Delete for the retired SA at `index`, on that SA.
    mutating func deleteRetired(at index: Int, now: IKEInstant) -> [IKESAAction] {
        var retired = retiring[index]
        let messageID = retired.nextRequestID
        retired.nextRequestID += 1
        let header = IKEHeader(initiatorSPI: retired.context.initiatorSPI, responderSPI: retired.context.responderSPI,
                               exchangeType: .informational, flags: retired.role == .initiator ? .initiator : [], messageID: messageID)
        guard let datagrams = try? protect(context: retired.context, header: header,
                                           payloads: [.delete(DeletePayload(protocolID: .ike, spiSize: 0, spis: []))]) else {
            retiring.remove(at: index)
            return [.report(.retiredIKESADeleted(initiatorSPI: retired.context.initiatorSPI, responderSPI: retired.context.responderSPI))]
        }
        retired.outstanding = OutstandingRequest(purpose: .delete, messageID: messageID, datagrams: datagrams, transmissions: 1)
        retired.deadline = now + configuration.retransmission.timeout(afterAttempt: 0)
        retiring[index] = retired
        return datagrams.map { .send($0) }
    }

    /// The retired SAs' timer, armed at the earliest deadline (or cancelled when none is left).
    func retiredSAsTimer() -> [IKESAAction] {
        guard let earliest = retiring.map(\.deadline).min() else { return [.cancelTimer(.retiredSAs)] }
        return [.armTimer(.retiredSAs, deadline: earliest)]
    }

    mutating func retiredSAsTimerFired(now: IKEInstant) -> [IKESAAction] {
        var actions: [IKESAAction] = []
        var index = 0
        while index < retiring.count {
            var retired = retiring[index]
            guard retired.deadline <= now else {
                index += 1
                continue
            }
            if var request = retired.outstanding, request.transmissions - 1 < configuration.retransmission.maximumRetransmits {
                request.transmissions += 1
                retired.outstanding = request
                retired.deadline = now + configuration.retransmission.timeout(afterAttempt: request.transmissions - 1)
                retiring[index] = retired
                actions += request.datagrams.map { .send($0) }
                index += 1
            } else {
                // Our Delete went unanswered, or the peer never deleted the SA: forget it.
                retiring.remove(at: index)
                actions.append(.report(.retiredIKESADeleted(initiatorSPI: retired.context.initiatorSPI,
                                                            responderSPI: retired.context.responderSPI)))
            }
        }
        return actions + retiredSAsTimer()
    }

    /// A datagram on a retired SA: cached answers to retransmits, its Delete, liveness checks,
    /// CHILD deletes; new exchanges are refused with TEMPORARY_FAILURE (the SA is going).
    mutating func receiveOnRetired(_ index: Int, message: IKEMessage, raw: [UInt8], now: IKEInstant) -> [IKESAAction] {
        let header = message.header
        var retired = retiring[index]
        let spis = (initiator: retired.context.initiatorSPI, responder: retired.context.responderSPI)
        if !header.isResponse, let cached = retired.cachedResponse, cached.messageID == header.messageID {
            if case let .encryptedFragment(fragment)? = message.payloads.last, fragment.fragmentNumber != 1 { return [] }
            return cached.datagrams.map { .send($0) }
        }
        var request: OutstandingRequest?
        if header.isResponse {
            guard let outstanding = retired.outstanding, outstanding.messageID == header.messageID else {
                return [.report(.messageDropped("response to message ID \(header.messageID) we did not send on a retired IKE SA"))]
            }
            request = outstanding
        }
        let payloads: [Payload]
        switch openPayloads(message, raw: raw, context: retired.context) {
        case let .payloads(opened): payloads = opened
        case .incomplete: return []
        case let .failed(error): return [.report(.messageDropped("retired IKE SA: \(error)"))]
        }
        if let request {
            retired.outstanding = nil
            retired.deadline = now + retirementGrace
            retiring[index] = retired
            var actions: [IKESAAction] = []
            switch request.purpose {
            case .delete:
                retiring.remove(at: index)
                actions.append(.report(.retiredIKESADeleted(initiatorSPI: spis.initiator, responderSPI: spis.responder)))
            case .liveness:
                actions.append(.report(.livenessConfirmed))
            case let .deleteChild(inboundSPI):
                childSAs.removeAll { $0.inboundSPI == inboundSPI }
                actions.append(.uninstallChildSA(inboundSPI: inboundSPI))
            case .ikeSAInit, .ikeAuth, .createChild, .rekeyIKE:
                break
            }
            return actions + retiredSAsTimer()
        }
        var response: [Payload] = []
        var deletesIKE = false
        var deletedInbound: [UInt32] = []
        switch header.exchangeType {
        case .informational:
            for case let .delete(delete) in payloads {
                switch delete.protocolID {
                case .ike:
                    deletesIKE = true
                case .esp, .ah:
                    let outbound = delete.spis.filter { $0.count == 4 }.map { $0.reduce(UInt32(0)) { $0 << 8 | UInt32($1) } }
                    for child in childSAs where outbound.contains(child.outboundSPI) { deletedInbound.append(child.inboundSPI) }
                default:
                    continue
                }
            }
            if !deletesIKE && !deletedInbound.isEmpty {
                response.append(.delete(DeletePayload(protocolID: .esp, spiSize: 4, spis: deletedInbound.map { spi -> [UInt8] in
                    var bytes: [UInt8] = []
                    bytes.appendU32(spi)
                    return bytes
                })))
            }
        case .createChildSA:
            response.append(.notify(NotifyPayload(type: .temporaryFailure)))
        default:
            return [.report(.messageDropped("\(header.exchangeType) request on a retired IKE SA"))]
        }
        guard let datagrams = try? protect(context: retired.context, header: responseHeader(for: header), payloads: response) else {
            return [.report(.messageDropped("could not seal a response on a retired IKE SA"))]
        }
        var actions: [IKESAAction] = datagrams.map { .send($0) }
        if deletesIKE {
            // Deleting the old IKE SA does not touch the CHILD SAs: they moved to the new one.
            retiring.remove(at: index)
            actions.append(.report(.retiredIKESADeleted(initiatorSPI: spis.initiator, responderSPI: spis.responder)))
            return actions + retiredSAsTimer()
        }
        retired.cachedResponse = (header.messageID, datagrams)
        retiring[index] = retired
        if !deletedInbound.isEmpty {
            childSAs.removeAll { deletedInbound.contains($0.inboundSPI) }
            actions += deletedInbound.map { .uninstallChildSA(inboundSPI: $0) }
            actions.append(.report(.childSAsDeletedByPeer(inboundSPIs: deletedInbound)))
        }
        return actions
    }
}
