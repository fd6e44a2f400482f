// LCP options (RFC 1661 §6) for PPP inside SSTP (protocols.md §4.5): MRU, Magic-Number and the
// Authentication-Protocol: MS-CHAPv2 (C223 with algorithm 0x81, RFC 2759 §2) and/or EAP (C227,
// RFC 3748, carrying EAP-TLS). The server offers its first allowed method and switches when the
// client Naks with another allowed one (Azure: Password and Certificate both on → client's choice). ACCM (RFC 1662 §7.1) is acknowledged and
// ignored (no HDLC inside SSTP); PFC and ACFC are rejected (the parser still accepts both forms).

public enum LCPOptionType {
    public static let mru: UInt8 = 1
    public static let accm: UInt8 = 2
    public static let authenticationProtocol: UInt8 = 3
    public static let magicNumber: UInt8 = 5
    public static let protocolFieldCompression: UInt8 = 7
    public static let addressControlFieldCompression: UInt8 = 8
}

/// The authentication protocol negotiated in LCP.
public enum PPPAuthenticationProtocol: Equatable, Sendable {
    /// CHAP with algorithm 0x81 (RFC 2759 §2).
    case msCHAPv2
    /// RFC 3748 (EAP-TLS inside).
    case eap

    var optionData: [UInt8] {
        switch self {
        case .msCHAPv2: [0xC2, 0x23, 0x81]
        case .eap: [0xC2, 0x27]
        }
    }

    init?(optionData: [UInt8]) {
        switch optionData {
        case [0xC2, 0x23, 0x81]: self = .msCHAPv2
        case [0xC2, 0x27]: self = .eap
        default: return nil
        }
    }
}

/// The LCP policy for either role. The server requires MS-CHAPv2 from the peer; the client
/// authenticates itself with MS-CHAPv2 and refuses to be asked for anything else.
public struct LCPPolicy: PPPOptionPolicy {
    public enum Role: Sendable { case server, client }

    public let role: Role
    /// What we ask the peer to send us at most (our MRU).
    public var localMRU: UInt16
    public var localMagic: UInt32
    public var requestMRU = true
    public var requestMagic = true
    /// Agreed values.
    public private(set) var peerMRU: UInt16 = 1500
    public private(set) var peerMagic: UInt32 = 0
    /// Set when the peer asked us to authenticate (client role).
    public private(set) var peerRequiresAuthentication: PPPAuthenticationProtocol?
    /// Server: the methods we accept, in order of preference; client: the methods we can do.
    public let authentication: [PPPAuthenticationProtocol]
    /// Server: the method in our current Configure-Request (the agreed one once LCP is open).
    public private(set) var requestedAuthentication: PPPAuthenticationProtocol
    /// Draws a fresh magic number on a loop-back suspicion (RFC 1661 §6.4).
    let freshMagic: @Sendable () -> UInt32

    public static let minimumMRU: UInt16 = 128

    init(role: Role, mru: UInt16, magic: UInt32, authentication: [PPPAuthenticationProtocol] = [.msCHAPv2],
         freshMagic: @escaping @Sendable () -> UInt32) {
        self.role = role
        self.authentication = authentication.isEmpty ? [.msCHAPv2] : authentication
        self.requestedAuthentication = self.authentication[0]
        self.localMRU = min(mru, UInt16(PPPLimits.maxFrame))
        self.localMagic = magic == 0 ? 1 : magic
        self.freshMagic = freshMagic
    }

    public func requestOptions() -> [PPPOption] {
        var options: [PPPOption] = []
        if requestMRU { options.append(.uint16(LCPOptionType.mru, localMRU)) }
        if role == .server { options.append(PPPOption(type: LCPOptionType.authenticationProtocol, data: requestedAuthentication.optionData)) }
        if requestMagic { options.append(.uint32(LCPOptionType.magicNumber, localMagic)) }
        return options
    }

    public mutating func evaluate(peerRequest: [PPPOption], mustNotNak: Bool) -> PPPRequestVerdict {
        var naks: [PPPOption] = [], rejects: [PPPOption] = []
        var mru: UInt16 = 1500, magic: UInt32 = 0, auth: PPPAuthenticationProtocol?
        var seen = Set<UInt8>()
        for option in peerRequest {
            // A repeated option type is malformed for every LCP option we know: reject the repeat.
            guard seen.insert(option.type).inserted else { rejects.append(option); continue }
            switch option.type {
            case LCPOptionType.mru:
                guard let value = option.uint16 else { rejects.append(option); continue }
                let clamped = min(max(value, Self.minimumMRU), UInt16(PPPLimits.maxFrame))
                if clamped != value { naks.append(.uint16(LCPOptionType.mru, clamped)) } else { mru = value }
            case LCPOptionType.accm:
                if option.data.count != 4 { rejects.append(option) }
            case LCPOptionType.authenticationProtocol:
                switch role {
                case .server:
                    rejects.append(option)  // we do not authenticate ourselves to the client
                case .client:
                    if let protocolChoice = PPPAuthenticationProtocol(optionData: option.data), authentication.contains(protocolChoice) {
                        auth = protocolChoice
                    } else {
                        naks.append(PPPOption(type: LCPOptionType.authenticationProtocol, data: authentication[0].optionData))
                    }
                }
            case LCPOptionType.magicNumber:
                guard let value = option.uint32 else { rejects.append(option); continue }
                if value == 0 || (requestMagic && value == localMagic) {
                    // RFC 1661 §6.4: zero is invalid; equal to ours suggests a looped-back link.
                    naks.append(.uint32(LCPOptionType.magicNumber, freshMagic() | 1))
                } else {
                    magic = value
                }
            default:
                rejects.append(option)  // includes PFC (7) and ACFC (8)
            }
        }
        if !rejects.isEmpty { return .reject(rejects) }
        if !naks.isEmpty { return mustNotNak ? .reject(peerRequest.filter { o in naks.contains { $0.type == o.type } }) : .nak(naks) }
        peerMRU = mru
        peerMagic = magic
        peerRequiresAuthentication = auth
        return .ack
    }

    public mutating func acknowledged(_ options: [PPPOption]) {}

    public mutating func nakReceived(_ options: [PPPOption]) -> PPPFailure? {
        for option in options {
            switch option.type {
            case LCPOptionType.mru:
                if let value = option.uint16, value >= Self.minimumMRU { localMRU = min(value, UInt16(PPPLimits.maxFrame)) }
            case LCPOptionType.magicNumber:
                localMagic = freshMagic() | 1
            case LCPOptionType.authenticationProtocol:
                // The peer proposes another method: take it if allowed (server role).
                if role == .server {
                    guard let proposed = PPPAuthenticationProtocol(optionData: option.data), authentication.contains(proposed) else {
                        return .authenticationProtocolRefused
                    }
                    requestedAuthentication = proposed
                }
            default:
                break
            }
        }
        return nil
    }

    public mutating func rejectReceived(_ options: [PPPOption]) -> PPPFailure? {
        for option in options {
            switch option.type {
            case LCPOptionType.mru: requestMRU = false
            case LCPOptionType.magicNumber: requestMagic = false
            case LCPOptionType.authenticationProtocol: if role == .server { return .authenticationProtocolRefused }
            default: break
            }
        }
        return nil
    }
}
