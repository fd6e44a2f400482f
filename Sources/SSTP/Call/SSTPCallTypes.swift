// Types shared by the server and client call state machines.
import PPP

/// Why a call ended; carried to the log and the API.
public enum SSTPCloseReason: Error, Equatable, Sendable {
    /// The HTTP request was not SSTP (answered with an HTTP error, then closed).
    case httpRefused(SSTPHTTPError)
    /// Client side: the server's HTTP answer was not acceptable.
    case httpResponseRejected(SSTPHTTPError)
    /// Bytes that are not SSTP after the HTTP exchange (CALL_ABORT sent).
    case malformedPacket(SSTPParseError)
    /// A control message not allowed in the current state ([MS-SSTP] §3.2.5, CALL_ABORT sent).
    case unexpectedMessage(SSTPMessageType)
    /// Data before the call was set up.
    case unexpectedData
    /// Admission refused the call (session limit reached): CALL_CONNECT_NAK with STATUS_INFO sent.
    case refused(String)
    /// CALL_CONNECT_REQUEST kept asking for something other than PPP.
    case unsupportedEncapsulation
    /// Client side: the server sent CALL_CONNECT_NAK.
    case connectRefused(status: UInt32?)
    /// The negotiation timer (60 s) ran out before CALL_CONNECTED.
    case negotiationTimeout
    /// The crypto binding in CALL_CONNECTED did not verify (a TLS man-in-the-middle, or a bug).
    case cryptoBindingFailed(SSTPBindingFailure)
    /// Client side: CALL_CONNECT_ACK without exactly one usable CRYPTO_BINDING_REQ.
    case invalidCryptoBindingRequest
    /// PPP ended (wrong password, negotiation failure, terminate).
    case pppFailed(PPPFailure)
    case peerAborted(status: UInt32?)
    case peerDisconnected
    /// No answer to our ECHO_REQUEST within the hello interval.
    case helloTimeout
    case closedLocally(String)
    /// TLS closed or EOF (sstpc's way of hanging up, protocols.md §4.3).
    case transportClosed
}

public enum SSTPBindingFailure: Equatable, Sendable {
    /// CALL_CONNECTED without a CRYPTO_BINDING attribute.
    case missing
    /// CALL_CONNECTED arrived before PPP authentication produced the HLAK.
    case notAuthenticated
    case nonceMismatch
    /// The client chose a hash we did not offer.
    case hashProtocolNotOffered(UInt8)
    /// The client saw another certificate: a TLS-terminating proxy sits in the middle.
    case certificateHashMismatch
    case compoundMACMismatch
}

/// The timers of one call as deadlines ([MS-SSTP] §3.1.2 / §3.2.2; protocols.md §4.3).
public struct SSTPTimers: Sendable, Equatable {
    /// From TLS accept to CALL_CONNECTED.
    public var negotiation: Duration = .seconds(60)
    /// Silence before we send ECHO_REQUEST, and then the wait for its answer.
    public var hello: Duration = .seconds(60)
    /// Wait for CALL_DISCONNECT_ACK after our CALL_DISCONNECT.
    public var disconnect: Duration = .seconds(5)

    public init() {}
}

extension SSTPControlMessage {
    /// STATUS_INFO about `attribute` ([MS-SSTP] §2.2.7); sstpc cannot parse Abort/Disconnect/Nak
    /// without one (protocols.md addendum 9).
    static func withStatus(_ type: SSTPMessageType, attribute: UInt8 = 0, status: SSTPStatus, value: [UInt8] = []) -> [UInt8] {
        SSTPPacket.control(SSTPControlMessage(type, [.statusInfo(attributeID: attribute, status: status.rawValue, value: Array(value.prefix(64)))])).emit()
    }

    var status: UInt32? {
        for attribute in attributes { if case .statusInfo(_, let status, _) = attribute { return status } }
        return nil
    }
}
