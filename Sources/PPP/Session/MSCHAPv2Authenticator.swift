// MS-CHAPv2 as a PPP authentication protocol (RFC 2759 §3–§6, CHAP framing of RFC 1994 §4).
// Server role: Challenge → check Response against the user table → Success "S=…" or
// Failure "E=691 R=0 C=… V=3". Client role: answer the Challenge, verify the "S=" of Success.
// Both produce the RFC 3079 master keys in their own orientation (client send = server receive).

/// A user the server accepts. Only the NT password hash (RFC 2759 §8.3) is kept.
public struct MSCHAPv2Credential: Sendable, Equatable {
    public var ntPasswordHash: [UInt8]
    public init(password: String) { ntPasswordHash = MSCHAPv2.ntPasswordHash(password: password) }
    public init(ntPasswordHash: [UInt8]) { self.ntPasswordHash = ntPasswordHash }
}

enum CHAPCode {
    static let challenge: UInt8 = 1
    static let response: UInt8 = 2
    static let success: UInt8 = 3
    static let failure: UInt8 = 4
}

/// The outcome of one authentication packet.
enum AuthenticatorOutput: Equatable, Sendable {
    case send([UInt8])
    case succeeded(user: String, masterSendKey: [UInt8], masterReceiveKey: [UInt8])
    case failed(PPPFailure)
}

struct MSCHAPv2Server: Sendable {
    let name: String
    let users: [String: MSCHAPv2Credential]
    var challenge: [UInt8] = []
    var identifier: UInt8 = 0
    var retransmissions = 0
    var deadline: PPPInstant?
    /// Kept to resend Success when the client repeats its Response (Success lost).
    var successPacket: [UInt8]?
    var done = false

    /// Sends the Challenge (RFC 2759 §3): Value-Size 16, 16 random octets, our name.
    mutating func start(random: any PPPRandomSource, identifier: UInt8, now: PPPInstant, limits: PPPNegotiationLimits) -> [AuthenticatorOutput] {
        challenge = random.bytes(16)
        self.identifier = identifier
        retransmissions = 0
        deadline = now + limits.restartInterval
        return [.send(challengeFrame())]
    }

    func challengeFrame() -> [UInt8] {
        PPPControlPacket(code: CHAPCode.challenge, identifier: identifier, data: [16] + challenge + Array(name.utf8)).frame(.chap)
    }

    mutating func timeout(now: PPPInstant, limits: PPPNegotiationLimits) -> [AuthenticatorOutput] {
        guard !done, let deadline, now >= deadline else { return [] }
        retransmissions += 1
        if retransmissions >= limits.maxConfigure {
            self.deadline = nil
            done = true
            return [.failed(.authenticationTimeout)]
        }
        self.deadline = now + limits.restartInterval
        return [.send(challengeFrame())]
    }

    mutating func receive(_ packet: PPPControlPacket, random: any PPPRandomSource) -> [AuthenticatorOutput] {
        guard packet.code == CHAPCode.response, packet.identifier == identifier else { return [] }  // RFC 1994 §4.2: stale id → discard
        if let successPacket { return [.send(successPacket)] }
        guard !done else { return [] }
        // Response (RFC 2759 §4): Value-Size 49 | Peer-Challenge 16 | Reserved 8 | NT-Response 24 | Flags 1 | Name
        guard packet.data.count >= 50, packet.data[0] == 49 else { return [] }
        let peerChallenge = Array(packet.data[1..<17])
        let ntResponse = Array(packet.data[25..<49])
        let userName = String(decoding: packet.data[50...], as: UTF8.self)
        deadline = nil
        done = true
        let credential = users[userName] ?? users[MSCHAPv2.strippingDomain(userName)]
        if let credential {
            let expected = MSCHAPv2.challengeResponse(
                challenge: MSCHAPv2.challengeHash(peerChallenge: peerChallenge, authenticatorChallenge: challenge, userName: userName),
                passwordHash: credential.ntPasswordHash)
            if MSCHAPv2.constantTimeEqual(expected, ntResponse) {
                let authenticator = MSCHAPv2.generateAuthenticatorResponse(
                    passwordHash: credential.ntPasswordHash, ntResponse: ntResponse, peerChallenge: peerChallenge,
                    authenticatorChallenge: challenge, userName: userName)
                let success = PPPControlPacket(code: CHAPCode.success, identifier: identifier,
                                               data: Array((authenticator + " M=Access granted").utf8)).frame(.chap)
                successPacket = success
                let keys = MPPE.masterKeys(passwordHash: credential.ntPasswordHash, ntResponse: ntResponse, isServer: true)
                return [.send(success), .succeeded(user: userName, masterSendKey: keys.send, masterReceiveKey: keys.receive)]
            }
        }
        // RFC 2759 §6: E=691 (authentication failure), R=0 (no retry), C=new challenge, V=3.
        let message = "E=691 R=0 C=\(MSCHAPv2.hexUpper(random.bytes(16))) V=3 M=Authentication failed"
        return [.send(PPPControlPacket(code: CHAPCode.failure, identifier: identifier, data: Array(message.utf8)).frame(.chap)),
                .failed(.authenticationFailed(user: userName))]
    }
}

struct MSCHAPv2Client: Sendable {
    let userName: String
    let password: String
    var pending: (identifier: UInt8, authenticatorChallenge: [UInt8], peerChallenge: [UInt8], ntResponse: [UInt8])?
    var done = false

    mutating func receive(_ packet: PPPControlPacket, random: any PPPRandomSource) -> [AuthenticatorOutput] {
        guard !done else { return [] }
        switch packet.code {
        case CHAPCode.challenge:
            guard packet.data.count >= 17, packet.data[0] == 16 else { return [] }
            let authenticatorChallenge = Array(packet.data[1..<17])
            // A retransmitted Challenge (same id and value) gets the same Response.
            if let pending, pending.identifier != packet.identifier || pending.authenticatorChallenge != authenticatorChallenge {
                self.pending = nil
            }
            let peerChallenge = pending?.peerChallenge ?? random.bytes(16)
            let ntResponse = MSCHAPv2.generateNTResponse(authenticatorChallenge: authenticatorChallenge, peerChallenge: peerChallenge,
                                                         userName: userName, password: password)
            pending = (packet.identifier, authenticatorChallenge, peerChallenge, ntResponse)
            let value = peerChallenge + [UInt8](repeating: 0, count: 8) + ntResponse + [0]
            return [.send(PPPControlPacket(code: CHAPCode.response, identifier: packet.identifier,
                                           data: [49] + value + Array(userName.utf8)).frame(.chap))]
        case CHAPCode.success:
            guard let pending, packet.identifier == pending.identifier else { return [] }
            done = true
            // RFC 2759 §5: "S=<40 hex>" then optionally " M=…"; a wrong S= fails the link (§8.8).
            let text = String(decoding: packet.data, as: UTF8.self)
            let received = String(text.prefix(42))
            guard MSCHAPv2.checkAuthenticatorResponse(password: password, ntResponse: pending.ntResponse, peerChallenge: pending.peerChallenge,
                                                      authenticatorChallenge: pending.authenticatorChallenge, userName: userName,
                                                      receivedResponse: received) else {
                return [.failed(.authenticatorResponseMismatch)]
            }
            let keys = MPPE.masterKeys(passwordHash: MSCHAPv2.ntPasswordHash(password: password), ntResponse: pending.ntResponse, isServer: false)
            return [.succeeded(user: userName, masterSendKey: keys.send, masterReceiveKey: keys.receive)]
        case CHAPCode.failure:
            guard let pending, packet.identifier == pending.identifier else { return [] }
            done = true
            let text = String(decoding: packet.data, as: UTF8.self)
            return [.failed(.authenticationRejected(MSCHAPv2FailureMessage(text)))]
        default:
            return []
        }
    }
}
