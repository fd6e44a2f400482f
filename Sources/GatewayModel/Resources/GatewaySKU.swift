/// Virtual network gateway SKUs with Azure's published limits
/// (features.md §1.2: `includes/vpn-gateway-table-gwtype-aggtput-include.md`, legacy table).
public enum GatewaySKU: String, ARMEnum {
    case Basic
    case VpnGw1, VpnGw2, VpnGw3, VpnGw4, VpnGw5
    case VpnGw1AZ, VpnGw2AZ, VpnGw3AZ, VpnGw4AZ, VpnGw5AZ
    case ErGw1AZ, ErGw2AZ, ErGw3AZ
    case Standard, HighPerformance, UltraPerformance

    /// The gateway types this SKU exists for.
    public var gatewayTypes: Set<GatewayType> {
        switch self {
        case .Basic, .VpnGw1, .VpnGw2, .VpnGw3, .VpnGw4, .VpnGw5,
             .VpnGw1AZ, .VpnGw2AZ, .VpnGw3AZ, .VpnGw4AZ, .VpnGw5AZ: [.Vpn]
        case .ErGw1AZ, .ErGw2AZ, .ErGw3AZ, .UltraPerformance: [.ExpressRoute]
        case .Standard, .HighPerformance: [.Vpn, .ExpressRoute]
        }
    }

    /// Generations a Vpn gateway of this SKU may have (Basic and VpnGw1 are Generation1 only,
    /// VpnGw4/5 Generation2 only). Legacy and ExpressRoute SKUs carry no generation.
    public var generations: Set<VpnGatewayGeneration> {
        switch self {
        case .Basic, .VpnGw1, .VpnGw1AZ: [.Generation1]
        case .VpnGw2, .VpnGw3, .VpnGw2AZ, .VpnGw3AZ: [.Generation1, .Generation2]
        case .VpnGw4, .VpnGw5, .VpnGw4AZ, .VpnGw5AZ: [.Generation2]
        case .Standard, .HighPerformance, .ErGw1AZ, .ErGw2AZ, .ErGw3AZ, .UltraPerformance: [.Generation1, .None]
        }
    }

    public var defaultGeneration: VpnGatewayGeneration {
        switch self {
        case .VpnGw4, .VpnGw5, .VpnGw4AZ, .VpnGw5AZ: .Generation2
        case .ErGw1AZ, .ErGw2AZ, .ErGw3AZ, .UltraPerformance: .None
        default: .Generation1
        }
    }

    /// Site-to-site + VNet-to-VNet tunnels.
    public var maxTunnels: Int {
        switch self {
        case .Basic, .Standard: 10
        case .VpnGw1, .VpnGw2, .VpnGw3, .VpnGw1AZ, .VpnGw2AZ, .VpnGw3AZ, .HighPerformance: 30
        case .VpnGw4, .VpnGw5, .VpnGw4AZ, .VpnGw5AZ: 100
        case .ErGw1AZ, .ErGw2AZ, .ErGw3AZ, .UltraPerformance: 0
        }
    }

    /// Point-to-site SSTP sessions (always 128 where P2S exists).
    public var maxSSTPClients: Int {
        switch self {
        case .ErGw1AZ, .ErGw2AZ, .ErGw3AZ, .UltraPerformance: 0
        default: 128
        }
    }

    /// Point-to-site IKEv2/OpenVPN sessions.
    public var maxIKEv2Clients: Int {
        switch self {
        case .Basic, .Standard, .HighPerformance, .ErGw1AZ, .ErGw2AZ, .ErGw3AZ, .UltraPerformance: 0
        case .VpnGw1, .VpnGw1AZ: 250
        case .VpnGw2, .VpnGw2AZ: 500
        case .VpnGw3, .VpnGw3AZ: 1000
        case .VpnGw4, .VpnGw4AZ: 5000
        case .VpnGw5, .VpnGw5AZ: 10000
        }
    }

    /// Aggregate throughput benchmark in Mbit/s, shared by all connections (S2S + P2S).
    public func throughputMbps(generation: VpnGatewayGeneration, gatewayType: GatewayType) -> Int {
        switch self {
        case .Basic: 100
        case .Standard: gatewayType == .ExpressRoute ? 1000 : 100
        case .HighPerformance: gatewayType == .ExpressRoute ? 2000 : 200
        case .UltraPerformance: 10000
        case .ErGw1AZ: 1000
        case .ErGw2AZ: 2000
        case .ErGw3AZ: 10000
        case .VpnGw1, .VpnGw1AZ: 650
        case .VpnGw2, .VpnGw2AZ: generation == .Generation2 ? 1250 : 1000
        case .VpnGw3, .VpnGw3AZ: generation == .Generation2 ? 2500 : 1250
        case .VpnGw4, .VpnGw4AZ: 5000
        case .VpnGw5, .VpnGw5AZ: 10000
        }
    }

    /// Everything except Basic: BGP, active-active, custom IPsec policy, P2S IKEv2, gateway transit.
    public var isBasic: Bool { self == .Basic }
    public var supportsBGP: Bool { !isBasic && gatewayTypes.contains(.Vpn) }
    public var supportsExpressRouteCoexistence: Bool { !isBasic }

    public var tier: String { rawValue }

    /// SKU "family" for resize: a resize stays within a family and a generation.
    public var family: String {
        switch self {
        case .Basic: "Basic"
        case .VpnGw1, .VpnGw2, .VpnGw3, .VpnGw4, .VpnGw5: "VpnGw"
        case .VpnGw1AZ, .VpnGw2AZ, .VpnGw3AZ, .VpnGw4AZ, .VpnGw5AZ: "VpnGwAZ"
        case .ErGw1AZ, .ErGw2AZ, .ErGw3AZ: "ErGwAZ"
        case .Standard, .HighPerformance, .UltraPerformance: "Legacy"
        }
    }
}
