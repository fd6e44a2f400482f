// Stateless cookies (RFC 7296 §2.6): once half-open IKE SAs pass a threshold, the responder
// answers IKE_SA_INIT with N(COOKIE) alone and keeps no state until the initiator repeats the
// request with that cookie first. Cookie = VersionIDofSecret(4) | SHA-256(Ni | IPi | SPIi | secret).
import Crypto

public struct CookieGuard: Sendable {
    public enum Decision: Hashable, Sendable {
        /// Go on: create (or feed) the responder IKE SA.
        case proceed
        /// Send these bytes (HDR, N(COOKIE)) and forget the request.
        case demandCookie([UInt8])
    }

    /// Half-open SAs at or above which cookies are demanded (strongSwan's default is 30).
    public var threshold: Int
    private var secretVersion: UInt32 = 0
    private var secret: [UInt8]
    /// The previous secret stays valid for one rotation so in-flight retries still pass.
    private var previousSecret: [UInt8]?

    public init(threshold: Int = 30, random: some RandomSource) {
        self.threshold = threshold
        self.secret = random.bytes(32)
    }

    /// RFC 7296 §2.6: change the secret regularly; cookies under the old one expire after this.
    public mutating func rotateSecret(random: some RandomSource) {
        previousSecret = secret
        secret = random.bytes(32)
        secretVersion &+= 1
    }

    public func cookie(initiatorSPI: UInt64, nonce: [UInt8], source: IKEEndpoint) -> [UInt8] {
        cookie(version: secretVersion, secret: secret, initiatorSPI: initiatorSPI, nonce: nonce, source: source)
    }

    func cookie(version: UInt32, secret: [UInt8], initiatorSPI: UInt64, nonce: [UInt8], source: IKEEndpoint) -> [UInt8] {
        var input = nonce + source.address
        input.appendU64(initiatorSPI)
        input += secret
        var out: [UInt8] = []
        out.appendU32(version)
        return out + Array(SHA256.hash(data: input))
    }

    /// Decides on one IKE_SA_INIT request from `source`, given how many SAs are half-open now.
    public func check(_ request: IKEMessage, from source: IKEEndpoint, halfOpen: Int) -> Decision {
        guard halfOpen >= threshold else { return .proceed }
        let spi = request.header.initiatorSPI
        let nonce = request.payloads.nonce?.data ?? []
        if case let .notify(first)? = request.payloads.first, first.type == .cookie, first.data.count >= 4 {
            let version = first.data.prefix(4).reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            var candidates: [(UInt32, [UInt8])] = [(secretVersion, secret)]
            if let previousSecret { candidates.append((secretVersion &- 1, previousSecret)) }
            for (candidateVersion, candidateSecret) in candidates where candidateVersion == version {
                let expected = cookie(version: candidateVersion, secret: candidateSecret, initiatorSPI: spi, nonce: nonce, source: source)
                if constantTimeEqual(first.data, expected) { return .proceed }
            }
        }
        let header = IKEHeader(initiatorSPI: spi, responderSPI: 0, exchangeType: .ikeSAInit, flags: .response, messageID: 0)
        let reply = IKEMessage(header: header, payloads: [
            .notify(NotifyPayload(type: .cookie, data: cookie(initiatorSPI: spi, nonce: nonce, source: source))),
        ])
        return .demandCookie(reply.emit())
    }
}

extension IKEHeader {
    /// The header alone, for routing a datagram to its IKE SA before a full parse
    /// (RFC 7296 §3.1; the NIO layer keys SAs by SPIi, and SPIr once known).
    public static func peek(_ bytes: [UInt8]) throws(IKEParseError) -> IKEHeader {
        var reader = ByteReader(bytes)
        let header = try IKEHeader.parse(&reader)
        guard header.majorVersion == 2 else { throw .unsupportedMajorVersion(header.majorVersion) }
        return header
    }
}
