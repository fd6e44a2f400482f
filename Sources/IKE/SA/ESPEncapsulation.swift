// How a tunnel's CHILD SAs travel: ESP in UDP 4500 (RFC 3948) or raw ESP, IP protocol 50
// (RFC 4303). The decision is pure: what the operator asked for and what NAT detection
// (RFC 7296 §2.23) found.

public enum ESPEncapsulation: String, Sendable, Hashable, Codable, CaseIterable, CustomStringConvertible {
    /// RFC 3948 UDP encapsulation on port 4500 (NAT-D faked so the peer agrees).
    case udp
    /// Raw ESP (IP protocol 50) unless a NAT is detected.
    case raw

    public var description: String {
        switch self {
        case .udp: "ESP in UDP 4500"
        case .raw: "raw ESP (IP protocol 50)"
        }
    }

    /// `udp`/`raw`, any case; nil for anything else.
    public init?(name: String) {
        self.init(rawValue: name.lowercased())
    }
}

/// The encapsulation a negotiation ends up with, and why when it differs from the request.
public struct ESPEncapsulationDecision: Sendable, Hashable {
    public var encapsulation: ESPEncapsulation
    /// Set when `raw` was requested but UDP is used.
    public var fallbackReason: String?

    public init(encapsulation: ESPEncapsulation, fallbackReason: String? = nil) {
        self.encapsulation = encapsulation; self.fallbackReason = fallbackReason
    }

    /// - Parameters:
    ///   - requested: the tunnel's setting.
    ///   - localBehindNAT, remoteBehindNAT: the NAT-D result; nil when the peer sent no NAT-D.
    ///   - ikeMovedToNATTPort: the peer's IKE arrives on UDP 4500 (it switched, e.g. it forces
    ///     encapsulation although the NAT-D hashes matched).
    public static func decide(requested: ESPEncapsulation, localBehindNAT: Bool?, remoteBehindNAT: Bool?,
                              ikeMovedToNATTPort: Bool) -> ESPEncapsulationDecision {
        guard requested == .raw else { return ESPEncapsulationDecision(encapsulation: .udp) }
        let local = localBehindNAT ?? false, remote = remoteBehindNAT ?? false
        if local || remote {
            let who = local && remote ? "both sides are" : local ? "we are" : "the peer is"
            return ESPEncapsulationDecision(
                encapsulation: .udp,
                fallbackReason: "NAT detected (\(who) behind a NAT, or the peer forces UDP encapsulation): raw ESP cannot cross it, falling back to ESP in UDP 4500")
        }
        if ikeMovedToNATTPort {
            return ESPEncapsulationDecision(
                encapsulation: .udp,
                fallbackReason: "the peer moved IKE to UDP 4500: falling back to ESP in UDP 4500")
        }
        return ESPEncapsulationDecision(encapsulation: .raw)
    }
}
