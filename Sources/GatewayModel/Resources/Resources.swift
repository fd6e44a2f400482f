/// Resources in the JSON shape of Azure's Microsoft.Network REST API (same property names), so an
/// Azure user's JSON and SDK bodies decode as they are. Read-only properties are filled by the
/// server; a client may send them and they are ignored.

/// Properties of every resource type have defaults, so a body without `properties` decodes.
public protocol ResourceProperties: Codable, Sendable, Equatable {
    init()
}

/// `{"id": "..."}` reference to another resource (the SDK may send a whole object; only `id` counts).
public struct Reference: Codable, Sendable, Equatable, Hashable {
    public var id: String
    public init(id: String) { self.id = id }
}

public struct ResourceSKU: Codable, Sendable, Equatable {
    public var name: String?
    public var tier: String?
    public var capacity: Int?
    public var family: String?
    public init(name: String? = nil, tier: String? = nil, capacity: Int? = nil, family: String? = nil) {
        self.name = name; self.tier = tier; self.capacity = capacity; self.family = family
    }
}

/// ARM's envelope: id, name, type, location, tags, etag, sku, properties.
public struct ARMResource<Properties: ResourceProperties>: Codable, Sendable, Equatable {
    public var id: String?
    public var name: String?
    public var type: String?
    public var location: String?
    public var tags: [String: String]?
    public var etag: String?
    public var sku: ResourceSKU?
    public var properties: Properties

    public init(id: String? = nil, name: String? = nil, type: String? = nil, location: String? = nil,
                tags: [String: String]? = nil, etag: String? = nil, sku: ResourceSKU? = nil, properties: Properties = .init()) {
        self.id = id; self.name = name; self.type = type; self.location = location
        self.tags = tags; self.etag = etag; self.sku = sku; self.properties = properties
    }

    enum CodingKeys: String, CodingKey { case id, name, type, location, tags, etag, sku, properties }
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decodeIfPresent(String.self, forKey: .id)
        name = try c.decodeIfPresent(String.self, forKey: .name)
        type = try c.decodeIfPresent(String.self, forKey: .type)
        location = try c.decodeIfPresent(String.self, forKey: .location)
        tags = try c.decodeIfPresent([String: String].self, forKey: .tags)
        etag = try c.decodeIfPresent(String.self, forKey: .etag)
        sku = try c.decodeIfPresent(ResourceSKU.self, forKey: .sku)
        properties = try c.decodeIfPresent(Properties.self, forKey: .properties) ?? Properties()
    }
}

public struct AddressSpace: Codable, Sendable, Equatable {
    public var addressPrefixes: [IPPrefix]?
    public init(addressPrefixes: [IPPrefix]? = nil) { self.addressPrefixes = addressPrefixes }
    public var prefixes: [IPPrefix] { addressPrefixes ?? [] }
}

// MARK: Virtual network

public struct SubnetProperties: ResourceProperties {
    public var addressPrefix: IPPrefix?
    public var addressPrefixes: [IPPrefix]?
    public var provisioningState: ProvisioningState?
    /// Read-only: gateway ipConfigurations placed in this subnet.
    public var ipConfigurations: [Reference]?
    public init() {}
    /// All prefixes of the subnet, whichever of the two fields carried them.
    public var prefixes: [IPPrefix] { (addressPrefix.map { [$0] } ?? []) + (addressPrefixes ?? []) }
}
public typealias Subnet = ARMResource<SubnetProperties>

public struct VirtualNetworkPeeringProperties: ResourceProperties {
    public var remoteVirtualNetwork: Reference?
    public var allowVirtualNetworkAccess: Bool?
    public var allowForwardedTraffic: Bool?
    public var allowGatewayTransit: Bool?
    public var useRemoteGateways: Bool?
    /// Read-only.
    public var peeringState: PeeringState?
    public var remoteAddressSpace: AddressSpace?
    public var provisioningState: ProvisioningState?
    public init() {}
}
public typealias VirtualNetworkPeering = ARMResource<VirtualNetworkPeeringProperties>

public struct VirtualNetworkProperties: ResourceProperties {
    public var addressSpace: AddressSpace?
    public var subnets: [Subnet]?
    public var virtualNetworkPeerings: [VirtualNetworkPeering]?
    public var provisioningState: ProvisioningState?
    public var resourceGuid: String?
    public init() {}
}
public typealias VirtualNetwork = ARMResource<VirtualNetworkProperties>

// MARK: Public IP address

public struct PublicIPAddressProperties: ResourceProperties {
    public var publicIPAllocationMethod: IPAllocationMethod?
    public var publicIPAddressVersion: IPVersion?
    /// Operator-given, or allocated from the server's public IP pool when absent.
    public var ipAddress: String?
    /// Read-only: the gateway ipConfiguration using it.
    public var ipConfiguration: Reference?
    public var idleTimeoutInMinutes: Int?
    public var provisioningState: ProvisioningState?
    public var resourceGuid: String?
    public init() {}
}
public typealias PublicIPAddress = ARMResource<PublicIPAddressProperties>

// MARK: Virtual network gateway

public struct GatewayIPConfigurationProperties: ResourceProperties {
    public var privateIPAllocationMethod: IPAllocationMethod?
    public var subnet: Reference?
    public var publicIPAddress: Reference?
    public var privateIPAddress: String?
    public var provisioningState: ProvisioningState?
    public init() {}
}
public typealias GatewayIPConfiguration = ARMResource<GatewayIPConfigurationProperties>

public struct IPConfigurationBgpPeeringAddress: Codable, Sendable, Equatable {
    public var ipconfigurationId: String?
    public var defaultBgpIpAddresses: [String]?
    public var customBgpIpAddresses: [String]?
    public var tunnelIpAddresses: [String]?
}

public struct BgpSettings: Codable, Sendable, Equatable {
    public var asn: Int64?
    public var bgpPeeringAddress: String?
    public var peerWeight: Int?
    public var bgpPeeringAddresses: [IPConfigurationBgpPeeringAddress]?
    public init(asn: Int64? = nil, bgpPeeringAddress: String? = nil, peerWeight: Int? = nil) {
        self.asn = asn; self.bgpPeeringAddress = bgpPeeringAddress; self.peerWeight = peerWeight
    }
}

public struct VpnClientRootCertificateProperties: ResourceProperties {
    /// Base64 DER of the root certificate (Azure's field: no PEM armour).
    public var publicCertData: String?
    public var provisioningState: ProvisioningState?
    public init() {}
}
public typealias VpnClientRootCertificate = ARMResource<VpnClientRootCertificateProperties>

public struct VpnClientRevokedCertificateProperties: ResourceProperties {
    /// Hex SHA-1 thumbprint of the revoked client certificate.
    public var thumbprint: String?
    public var provisioningState: ProvisioningState?
    public init() {}
}
public typealias VpnClientRevokedCertificate = ARMResource<VpnClientRevokedCertificateProperties>

public struct RadiusServer: Codable, Sendable, Equatable {
    public var radiusServerAddress: String?
    public var radiusServerScore: Int?
    public var radiusServerSecret: String?
}

/// A point-to-site user for MS-CHAPv2 password authentication (vpngw extension; Azure uses RADIUS).
public struct VpnClientUser: Codable, Sendable, Equatable {
    public var name: String
    public var password: String?
    public init(name: String, password: String?) { self.name = name; self.password = password }
}

public struct VpnClientConfiguration: Codable, Sendable, Equatable {
    public var vpnClientAddressPool: AddressSpace?
    public var vpnClientProtocols: [VpnClientProtocol]?
    public var vpnAuthenticationTypes: [VpnAuthenticationType]?
    public var vpnClientRootCertificates: [VpnClientRootCertificate]?
    public var vpnClientRevokedCertificates: [VpnClientRevokedCertificate]?
    public var radiusServers: [RadiusServer]?
    public var radiusServerAddress: String?
    public var radiusServerSecret: String?
    public var vpnClientUsers: [VpnClientUser]?
    public init() {}
}

public struct VirtualNetworkGatewayProperties: ResourceProperties {
    public var ipConfigurations: [GatewayIPConfiguration]?
    public var gatewayType: GatewayType?
    public var vpnType: VpnType?
    public var vpnGatewayGeneration: VpnGatewayGeneration?
    public var sku: ResourceSKU?
    public var activeActive: Bool?
    public var enableBgp: Bool?
    public var bgpSettings: BgpSettings?
    public var vpnClientConfiguration: VpnClientConfiguration?
    public var enablePrivateIpAddress: Bool?
    public var disableIPSecReplayProtection: Bool?
    public var provisioningState: ProvisioningState?
    public var resourceGuid: String?
    public init() {}
}
public typealias VirtualNetworkGateway = ARMResource<VirtualNetworkGatewayProperties>

// MARK: Local network gateway

public struct LocalNetworkGatewayProperties: ResourceProperties {
    public var localNetworkAddressSpace: AddressSpace?
    public var gatewayIpAddress: String?
    public var fqdn: String?
    public var bgpSettings: BgpSettings?
    public var provisioningState: ProvisioningState?
    public var resourceGuid: String?
    public init() {}
}
public typealias LocalNetworkGateway = ARMResource<LocalNetworkGatewayProperties>

// MARK: Connection

public struct IpsecPolicy: Codable, Sendable, Equatable {
    public var saLifeTimeSeconds: Int?
    public var saDataSizeKilobytes: Int?
    public var ipsecEncryption: IpsecEncryption?
    public var ipsecIntegrity: IpsecIntegrity?
    public var ikeEncryption: IkeEncryption?
    public var ikeIntegrity: IkeIntegrity?
    public var dhGroup: DhGroup?
    public var pfsGroup: PfsGroup?
    public init() {}
}

public struct TrafficSelectorPolicy: Codable, Sendable, Equatable {
    public var localAddressRanges: [IPPrefix]?
    public var remoteAddressRanges: [IPPrefix]?
}

public struct TunnelConnectionHealth: Codable, Sendable, Equatable {
    public var tunnel: String?
    public var connectionStatus: ConnectionStatus?
    public var ingressBytesTransferred: Int64?
    public var egressBytesTransferred: Int64?
    public var lastConnectionEstablishedUtcTime: String?
    public init(tunnel: String? = nil, connectionStatus: ConnectionStatus? = nil, ingressBytesTransferred: Int64? = nil,
                egressBytesTransferred: Int64? = nil, lastConnectionEstablishedUtcTime: String? = nil) {
        self.tunnel = tunnel; self.connectionStatus = connectionStatus
        self.ingressBytesTransferred = ingressBytesTransferred; self.egressBytesTransferred = egressBytesTransferred
        self.lastConnectionEstablishedUtcTime = lastConnectionEstablishedUtcTime
    }
}

public struct ConnectionProperties: ResourceProperties {
    public var connectionType: ConnectionType?
    public var virtualNetworkGateway1: Reference?
    public var virtualNetworkGateway2: Reference?
    public var localNetworkGateway2: Reference?
    public var peer: Reference?
    public var sharedKey: String?
    public var connectionProtocol: ConnectionProtocol?
    public var connectionMode: ConnectionMode?
    public var routingWeight: Int?
    public var dpdTimeoutSeconds: Int?
    public var enableBgp: Bool?
    public var usePolicyBasedTrafficSelectors: Bool?
    public var ipsecPolicies: [IpsecPolicy]?
    public var trafficSelectorPolicies: [TrafficSelectorPolicy]?
    public var expressRouteGatewayBypass: Bool?
    public var authorizationKey: String?
    // Read-only, observed state.
    public var connectionStatus: ConnectionStatus?
    /// vpngw extension: why the connection is not connected, in plain words.
    public var connectionStatusReason: String?
    /// vpngw extension: the IKE and ESP algorithms negotiated for the running tunnel.
    public var negotiatedAlgorithms: String?
    public var ingressBytesTransferred: Int64?
    public var egressBytesTransferred: Int64?
    public var tunnelConnectionStatus: [TunnelConnectionHealth]?
    public var provisioningState: ProvisioningState?
    public var resourceGuid: String?
    public init() {}
}
public typealias Connection = ARMResource<ConnectionProperties>

// MARK: ExpressRoute circuit

public struct ServiceProviderProperties: Codable, Sendable, Equatable {
    public var serviceProviderName: String?
    public var peeringLocation: String?
    public var bandwidthInMbps: Int?
}

public struct ExpressRouteCircuitPeeringProperties: ResourceProperties {
    public var peeringType: String?
    public var peerASN: Int64?
    public var primaryPeerAddressPrefix: IPPrefix?
    public var secondaryPeerAddressPrefix: IPPrefix?
    public var vlanId: Int?
    public var state: String?
    public var provisioningState: ProvisioningState?
    public init() {}
}
public typealias ExpressRouteCircuitPeering = ARMResource<ExpressRouteCircuitPeeringProperties>

public struct ExpressRouteCircuitProperties: ResourceProperties {
    public var serviceProviderProperties: ServiceProviderProperties?
    public var bandwidthInGbps: Double?
    public var peerings: [ExpressRouteCircuitPeering]?
    public var allowClassicOperations: Bool?
    public var circuitProvisioningState: String?
    public var serviceProviderProvisioningState: String?
    public var serviceKey: String?
    public var provisioningState: ProvisioningState?
    public init() {}
}
public typealias ExpressRouteCircuit = ARMResource<ExpressRouteCircuitProperties>

// MARK: Resource group (Microsoft.Resources)

public struct ResourceGroup: Codable, Sendable, Equatable {
    public var id: String?
    public var name: String?
    public var type: String?
    public var location: String?
    public var tags: [String: String]?
    public var properties: Properties?
    public struct Properties: Codable, Sendable, Equatable { public var provisioningState: ProvisioningState? }
    public init(name: String, location: String, tags: [String: String]? = nil) {
        self.name = name; self.location = location; self.tags = tags
    }
}
