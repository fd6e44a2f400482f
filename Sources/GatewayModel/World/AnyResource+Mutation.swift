import Foundation

extension AnyResource {
    /// Applies `body` to the envelope of whichever resource this is.
    public func mapEnvelope(_ body: (inout String?, inout [String: String]?) -> Void) -> AnyResource {
        switch self {
        case .virtualNetwork(var r): body(&r.etag, &r.tags); return .virtualNetwork(r)
        case .publicIPAddress(var r): body(&r.etag, &r.tags); return .publicIPAddress(r)
        case .virtualNetworkGateway(var r): body(&r.etag, &r.tags); return .virtualNetworkGateway(r)
        case .localNetworkGateway(var r): body(&r.etag, &r.tags); return .localNetworkGateway(r)
        case .connection(var r): body(&r.etag, &r.tags); return .connection(r)
        case .expressRouteCircuit(var r): body(&r.etag, &r.tags); return .expressRouteCircuit(r)
        }
    }

    public func withEtag(_ etag: String) -> AnyResource { mapEnvelope { e, _ in e = etag } }
    public func withTags(_ tags: [String: String]?) -> AnyResource { mapEnvelope { _, t in t = tags } }

    public var provisioningState: ProvisioningState? {
        switch self {
        case .virtualNetwork(let r): r.properties.provisioningState
        case .publicIPAddress(let r): r.properties.provisioningState
        case .virtualNetworkGateway(let r): r.properties.provisioningState
        case .localNetworkGateway(let r): r.properties.provisioningState
        case .connection(let r): r.properties.provisioningState
        case .expressRouteCircuit(let r): r.properties.provisioningState
        }
    }

    public func withProvisioningState(_ state: ProvisioningState) -> AnyResource {
        switch self {
        case .virtualNetwork(var r): r.properties.provisioningState = state; return .virtualNetwork(r)
        case .publicIPAddress(var r): r.properties.provisioningState = state; return .publicIPAddress(r)
        case .virtualNetworkGateway(var r): r.properties.provisioningState = state; return .virtualNetworkGateway(r)
        case .localNetworkGateway(var r): r.properties.provisioningState = state; return .localNetworkGateway(r)
        case .connection(var r): r.properties.provisioningState = state; return .connection(r)
        case .expressRouteCircuit(var r): r.properties.provisioningState = state; return .expressRouteCircuit(r)
        }
    }

    /// Resource types whose creation involves the data plane and so runs as a long-running
    /// operation (`Azure-AsyncOperation`).
    public var isLongRunning: Bool {
        switch self {
        case .virtualNetworkGateway, .connection: true
        case .virtualNetwork, .publicIPAddress, .localNetworkGateway, .expressRouteCircuit: false
        }
    }
}

/// Child collections that live inside a parent document (`…/virtualNetworks/v/subnets/s`).
public enum ChildCollection: String, CaseIterable, Sendable {
    case subnets, virtualNetworkPeerings, peerings

    public var parentType: ResourceType {
        switch self {
        case .subnets, .virtualNetworkPeerings: .virtualNetworks
        case .peerings: .expressRouteCircuits
        }
    }
    public var armType: String { "\(parentType.armType)/\(rawValue)" }
    public var noun: String {
        switch self {
        case .subnets: "subnet"
        case .virtualNetworkPeerings: "virtual network peering"
        case .peerings: "ExpressRoute circuit peering"
        }
    }
    public init?(parent: ResourceType, segment: String) {
        guard let c = ChildCollection.allCases.first(where: { $0.parentType == parent && $0.rawValue.lowercased() == segment.lowercased() }) else { return nil }
        self = c
    }
}
