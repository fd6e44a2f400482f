// The option negotiation automaton of RFC 1661 §4, with the state transition table of §4.1
// kept as data: the rows below are the RFC's table, cell for cell ("-" = the event cannot occur
// in that state and is ignored; "r", "p", "x" suffixes are the RFC's footnotes — restart option,
// passive option, crossed connection — and change nothing here). The table is parsed once and
// a unit test checks its shape. No clock: the restart timer is a deadline the owner tracks.

/// RFC 1661 §4.2 states, in the table's column order.
public enum PPPAutomatonState: Int, CaseIterable, Sendable {
    case initial = 0, starting, closed, stopped, closing, stopping, reqSent, ackRcvd, ackSent, opened

    /// States in which the restart timer runs (RFC 1661 §4.6).
    public var restartTimerRuns: Bool {
        switch self {
        case .closing, .stopping, .reqSent, .ackRcvd, .ackSent: true
        case .initial, .starting, .closed, .stopped, .opened: false
        }
    }
}

/// RFC 1661 §4.3 events.
public enum PPPAutomatonEvent: CaseIterable, Sendable {
    case up, down, open, close
    case timeoutPlus, timeoutMinus
    case receiveConfigureRequestGood, receiveConfigureRequestBad
    case receiveConfigureAck, receiveConfigureNakOrReject
    case receiveTerminateRequest, receiveTerminateAck
    case receiveUnknownCode
    case receiveCodeRejectPermitted, receiveCodeRejectCatastrophic
    case receiveEchoOrDiscard
}

/// RFC 1661 §4.4 actions.
public enum PPPAutomatonAction: String, Sendable {
    case thisLayerUp = "tlu", thisLayerDown = "tld", thisLayerStarted = "tls", thisLayerFinished = "tlf"
    case initializeRestartCount = "irc", zeroRestartCount = "zrc"
    case sendConfigureRequest = "scr", sendConfigureAck = "sca", sendConfigureNak = "scn"
    case sendTerminateRequest = "str", sendTerminateAck = "sta", sendCodeReject = "scj", sendEchoReply = "ser"
}

public struct PPPTransition: Equatable, Sendable {
    public var actions: [PPPAutomatonAction]
    public var next: PPPAutomatonState
}

public enum PPPStateTable {
    /// RFC 1661 §4.1, one row per event; columns are states 0…9.
    static let rows: [(PPPAutomatonEvent, String)] = [
        (.up, "2 | irc,scr/6 | - | - | - | - | - | - | - | -"),
        (.down, "- | - | 0 | tls/1 | 0 | 1 | 1 | 1 | 1 | tld/1"),
        (.open, "tls/1 | 1 | irc,scr/6 | 3r | 5r | 5r | 6 | 7 | 8 | 9r"),
        (.close, "0 | tlf/0 | 2 | 2 | 4 | 4 | irc,str/4 | irc,str/4 | irc,str/4 | tld,irc,str/4"),
        (.timeoutPlus, "- | - | - | - | str/4 | str/5 | scr/6 | scr/6 | scr/8 | -"),
        (.timeoutMinus, "- | - | - | - | tlf/2 | tlf/3 | tlf/3p | tlf/3p | tlf/3p | -"),
        (.receiveConfigureRequestGood, "- | - | sta/2 | irc,scr,sca/8 | 4 | 5 | sca/8 | sca,tlu/9 | sca/8 | tld,scr,sca/8"),
        (.receiveConfigureRequestBad, "- | - | sta/2 | irc,scr,scn/6 | 4 | 5 | scn/6 | scn/7 | scn/6 | tld,scr,scn/6"),
        (.receiveConfigureAck, "- | - | sta/2 | sta/3 | 4 | 5 | irc/7 | scr/6x | irc,tlu/9 | tld,scr/6x"),
        (.receiveConfigureNakOrReject, "- | - | sta/2 | sta/3 | 4 | 5 | irc,scr/6 | scr/6x | irc,scr/8 | tld,scr/6x"),
        (.receiveTerminateRequest, "- | - | sta/2 | sta/3 | sta/4 | sta/5 | sta/6 | sta/6 | sta/6 | tld,zrc,sta/5"),
        (.receiveTerminateAck, "- | - | 2 | 3 | tlf/2 | tlf/3 | 6 | 6 | 8 | tld,scr/6"),
        (.receiveUnknownCode, "- | - | scj/2 | scj/3 | scj/4 | scj/5 | scj/6 | scj/7 | scj/8 | scj/9"),
        (.receiveCodeRejectPermitted, "- | - | 2 | 3 | 4 | 5 | 6 | 6 | 8 | 9"),
        (.receiveCodeRejectCatastrophic, "- | - | tlf/2 | tlf/3 | tlf/2 | tlf/3 | tlf/3 | tlf/3 | tlf/3 | tld,irc,str/5"),
        (.receiveEchoOrDiscard, "- | - | 2 | 3 | 4 | 5 | 6 | 7 | 8 | ser/9"),
    ]

    /// The parsed table: table[event][state.rawValue]; nil = "-".
    public static let table: [PPPAutomatonEvent: [PPPTransition?]] = {
        var table: [PPPAutomatonEvent: [PPPTransition?]] = [:]
        for (event, row) in rows {
            table[event] = row.split(separator: "|").map { parseCell($0.trimmingSpaces()) }
        }
        return table
    }()

    static func parseCell(_ cell: String) -> PPPTransition? {
        if cell == "-" { return nil }
        let parts = cell.split(separator: "/")
        let actionText = parts.count == 2 ? String(parts[0]) : ""
        let stateText = String(parts[parts.count - 1])
        // The state is the leading digit; a footnote letter may follow.
        guard let digit = stateText.first?.wholeNumberValue, let next = PPPAutomatonState(rawValue: digit) else {
            preconditionFailure("RFC 1661 table cell '\(cell)' has no state")
        }
        let actions = actionText.split(separator: ",").map { name -> PPPAutomatonAction in
            guard let action = PPPAutomatonAction(rawValue: String(name)) else { preconditionFailure("unknown action \(name)") }
            return action
        }
        return PPPTransition(actions: actions, next: next)
    }

    public static func transition(_ state: PPPAutomatonState, _ event: PPPAutomatonEvent) -> PPPTransition? {
        table[event]?[state.rawValue] ?? nil
    }
}

extension Substring {
    func trimmingSpaces() -> String {
        String(drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed())
    }
}

/// RFC 1661 §4.6 counters and timer values.
public struct PPPNegotiationLimits: Sendable, Equatable {
    public var maxConfigure = 10
    public var maxTerminate = 2
    public var maxFailure = 5
    /// Configure-Requests received plus Naks/Rejects received before Opened; beyond it the
    /// negotiation is declared non-converging (bounds Configure-Request loops from a hostile peer).
    public var maxNegotiationRounds = 40
    public var restartInterval: Duration = .seconds(3)

    public init() {}
}
