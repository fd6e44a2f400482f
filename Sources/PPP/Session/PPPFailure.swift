// Why a PPP session ended. Structured so the SSTP layer, the log and the API can say why.

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
