/// A string enum in Azure's spelling. Decoding is case-insensitive (as ARM is) and normalises to
/// the canonical spelling; an unknown value fails with a message that lists the allowed values.
public protocol ARMEnum: RawRepresentable<String>, CaseIterable, Codable, Sendable, Hashable {}

extension ARMEnum {
    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let value = Self.allCases.first(where: { $0.rawValue.lowercased() == text.lowercased() }) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                debugDescription: "'\(text)' is not allowed; allowed values: \(Self.allowedList)"))
        }
        self = value
    }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(rawValue)
    }
    public static var allowedList: String { allCases.map(\.rawValue).joined(separator: ", ") }

    /// Case-insensitive parse for CLI flags.
    public init?(caseInsensitive text: String) {
        guard let v = Self.allCases.first(where: { $0.rawValue.lowercased() == text.lowercased() }) else { return nil }
        self = v
    }
}

public enum ProvisioningState: String, ARMEnum { case Succeeded, Updating, Deleting, Failed }

public enum GatewayType: String, ARMEnum { case Vpn, ExpressRoute }
public enum VpnType: String, ARMEnum { case RouteBased, PolicyBased }
public enum VpnGatewayGeneration: String, ARMEnum { case None, Generation1, Generation2 }

public enum ConnectionType: String, ARMEnum { case IPsec, Vnet2Vnet, ExpressRoute, VPNClient }
public enum ConnectionProtocol: String, ARMEnum { case IKEv1, IKEv2 }
public enum ConnectionMode: String, ARMEnum { case Default, InitiatorOnly, ResponderOnly }
public enum ConnectionStatus: String, ARMEnum { case Unknown, Connecting, Connected, NotConnected }

public enum IPAllocationMethod: String, ARMEnum { case Static, Dynamic }
public enum IPVersion: String, ARMEnum { case IPv4, IPv6 }
public enum PeeringState: String, ARMEnum { case Initiated, Connected, Disconnected }

public enum VpnClientProtocol: String, ARMEnum { case SSTP, IkeV2, OpenVPN }
public enum VpnAuthenticationType: String, ARMEnum { case Certificate, Radius, AAD, Password }

// MARK: Custom IPsec/IKE policy (Azure's enum names, features.md §1.3)

public enum IkeEncryption: String, ARMEnum { case DES, DES3, AES128, AES192, AES256, GCMAES128, GCMAES256 }
public enum IkeIntegrity: String, ARMEnum { case MD5, SHA1, SHA256, SHA384, GCMAES128, GCMAES256 }
public enum IpsecEncryption: String, ARMEnum { case None, DES, DES3, AES128, AES192, AES256, GCMAES128, GCMAES192, GCMAES256 }
public enum IpsecIntegrity: String, ARMEnum { case MD5, SHA1, SHA256, GCMAES128, GCMAES192, GCMAES256 }
public enum DhGroup: String, ARMEnum { case None, DHGroup1, DHGroup2, DHGroup14, DHGroup2048, ECP256, ECP384, DHGroup24 }
public enum PfsGroup: String, ARMEnum { case None, PFS1, PFS2, PFS2048, ECP256, ECP384, PFS24, PFS14, PFSMM }
