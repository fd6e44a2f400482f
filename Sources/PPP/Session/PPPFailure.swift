// Why a PPP session ended. Structured so the SSTP layer, the log and the API can say why.
// Imports nothing (the fuzz target Fuzz/ppp_parse compiles it with Wire/ and Negotiation/).

public enum PPPFailure: Error, Equatable, Sendable {
    /// LCP or an NCP kept renegotiating beyond PPPNegotiationLimits.maxNegotiationRounds.
    case negotiationDidNotConverge(PPPProtocol)
    /// The restart counter ran out with no answer (RFC 1661 §4.6 TO-).
    case noResponse(PPPProtocol)
    /// The peer refused MS-CHAPv2 (Nak'd it for another method, or Rejected it).
    case authenticationProtocolRefused
    /// Server role: unknown user or wrong password (Failure E=691 sent).
    case authenticationFailed(user: String)
    /// Client role: the server sent an MS-CHAPv2 Failure (E=691 for a wrong password).
    case authenticationRejected(MSCHAPv2FailureMessage)
    /// Client role: the server's "S=" did not prove knowledge of the password (RFC 2759 §8.8).
    case authenticatorResponseMismatch
    /// Server role (EAP-TLS): the client certificate was refused (unknown root, revoked, TLS
    /// failure); EAP-Failure sent.
    case certificateRefused(reason: String)
    /// Client role: the server sent EAP-Failure (with our TLS engine's reason, if it had one).
    case eapFailure(tls: String?)
    /// Server role: the Challenge was retransmitted Max-Configure times without a Response.
    case authenticationTimeout
    /// The peer asked us to authenticate with something we cannot do (client role).
    case authenticationRequiredButUnsupported
    /// Client role: the server rejected IP-Address and none was configured.
    case noAddressAssigned
    /// The peer Protocol-Rejected LCP's companion we depend on (IPCP) or Code-Rejected a core code.
    case protocolRejected(PPPProtocol)
    /// The peer sent Terminate-Request.
    case peerTerminated
    /// We closed the link (administrative close, e.g. session deleted).
    case closedLocally(reason: String)
}

/// The fields of an MS-CHAPv2 Failure message (RFC 2759 §6): "E=eeeeeeeeee R=r C=cccc… V=vvvvvvvvvv M=<msg>".
public struct MSCHAPv2FailureMessage: Equatable, Sendable {
    public var error: Int?
    public var retry: Bool
    public var version: Int?
    public var message: String

    public init(_ text: String) {
        error = nil
        retry = false
        version = nil
        message = ""
        var rest = Substring(text)
        while !rest.isEmpty {
            if rest.hasPrefix("M=") {
                message = String(rest.dropFirst(2))
                break
            }
            let field = rest.prefix { $0 != " " }
            rest = rest.dropFirst(field.count).drop { $0 == " " }
            if field.hasPrefix("E=") { error = Int(field.dropFirst(2)) }
            if field.hasPrefix("R=") { retry = field.dropFirst(2) == "1" }
            if field.hasPrefix("V=") { version = Int(field.dropFirst(2)) }
        }
    }
}
