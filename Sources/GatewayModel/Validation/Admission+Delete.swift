import Foundation

extension Admission {
    /// Refuses deleting a resource that another resource still uses (409 naming the user).
    public func checkDelete(_ id: ResourceID, world: World) throws(ARMError) {
        guard let resource = world[id.key] else { throw ARMError.notFound(id.type.noun, id.description) }
        /// `users` are (kind, name) pairs: "connection 'c1', connection 'c2' and peering 'p'".
        func refuse(_ users: [(String, String)], _ hint: String) throws(ARMError) {
            guard !users.isEmpty else { return }
            let items = users.sorted { ($0.0, $0.1) < ($1.0, $1.1) }.map { "\($0.0) '\($0.1)'" }
            let list = items.count == 1 ? items[0] : items.dropLast().joined(separator: ", ") + " and " + items.last!
            throw ARMError.conflict("InUseResourceCannotBeDeleted", id.description,
                "The \(id.type.noun) '\(resource.name)' is in use by \(list). \(hint)")
        }
        switch resource {
        case .virtualNetwork(let v):
            try refuse(world.gateways(inVNet: v.id ?? "").map { ("virtual network gateway", $0.name ?? "") }, "Delete the gateway first.")
        case .publicIPAddress:
            try refuse(world.gateways.filter { g in
                g.properties.ipConfigurations?.contains { $0.properties.publicIPAddress.flatMap { ResourceID(parsing: $0.id)?.key } == id.key } == true
            }.map { ("virtual network gateway", $0.name ?? "") }, "Delete the gateway first.")
        case .virtualNetworkGateway(let g):
            try refuse(world.connections(onGateway: g.id ?? "").map { ("connection", $0.name ?? "") }, "Delete the connections first.")
            if let vnet = world.vnetID(ofGateway: g) {
                try refuse(world.peeringsPointing(at: vnet).filter { $0.1.properties.useRemoteGateways == true }
                    .map { ("peering", "\($0.1.name ?? "")' of virtual network '\($0.0.name ?? "")' (useRemoteGateways") },
                    "Set useRemoteGateways to false on those peerings first.")
            }
        case .localNetworkGateway:
            try refuse(world.connections.filter { $0.properties.localNetworkGateway2.flatMap { ResourceID(parsing: $0.id)?.key } == id.key }
                .map { ("connection", $0.name ?? "") }, "Delete the connections first.")
        case .connection:
            break
        case .expressRouteCircuit:
            try refuse(world.connections.filter { $0.properties.peer.flatMap { ResourceID(parsing: $0.id)?.key } == id.key }
                .map { ("connection", $0.name ?? "") }, "Delete the connections first.")
        }
    }

    /// Deleting a resource group deletes everything in it, provided nothing outside the group
    /// depends on it. Returns the keys to delete, dependants first.
    public func planGroupDelete(_ group: GroupKey, world: World) throws(ARMError) -> [ResourceKey] {
        let inside = world.resources.keys.filter { $0.subscription == group.subscription && $0.resourceGroup == group.name }
        var remaining = world
        let order: [ResourceType] = [.connections, .virtualNetworkGateways, .localNetworkGateways, .expressRouteCircuits, .publicIPAddresses, .virtualNetworks]
        var planned: [ResourceKey] = []
        for type in order {
            for key in inside.filter({ $0.type == type }).sorted() {
                let rid = ResourceID(parsing: world[key]!.id)!
                // Dependants inside the group are already gone; a user left is outside it.
                try checkDelete(rid, world: remaining)
                remaining.resources[key] = nil
                planned.append(key)
            }
        }
        return planned
    }
}

/// Builds the read view of a stored resource: derived, read-only properties that depend on other
/// resources (back-references, peering state, connection status) are computed here and never stored.
public struct ResourceView: Sendable {
    public var observed: @Sendable (ResourceKey) -> ObservedConnection?
    public init(observed: @escaping @Sendable (ResourceKey) -> ObservedConnection? = { _ in nil }) { self.observed = observed }

    public func view(_ resource: AnyResource, world: World) -> AnyResource {
        switch resource {
        case .virtualNetwork(var v):
            let myKey = ResourceID(parsing: v.id ?? "")?.key
            for i in (v.properties.virtualNetworkPeerings ?? []).indices {
                let remoteID = v.properties.virtualNetworkPeerings![i].properties.remoteVirtualNetwork?.id
                if let remote = world.virtualNetwork(remoteID) {
                    let back = remote.properties.virtualNetworkPeerings?.contains {
                        $0.properties.remoteVirtualNetwork.flatMap { ResourceID(parsing: $0.id)?.key } == myKey
                    } ?? false
                    let stored = v.properties.virtualNetworkPeerings![i].properties.peeringState
                    v.properties.virtualNetworkPeerings![i].properties.peeringState = stored == .Disconnected ? .Disconnected : (back ? .Connected : .Initiated)
                    v.properties.virtualNetworkPeerings![i].properties.remoteAddressSpace = remote.properties.addressSpace
                } else {
                    v.properties.virtualNetworkPeerings![i].properties.peeringState = .Disconnected
                }
            }
            let gateways = world.gateways(inVNet: v.id ?? "")
            for i in (v.properties.subnets ?? []).indices {
                let sid = v.properties.subnets![i].id.flatMap(ResourceID.init(parsing:))
                let refs = gateways.flatMap { $0.properties.ipConfigurations ?? [] }
                    .filter { $0.properties.subnet.flatMap { ResourceID(parsing: $0.id) } == sid }
                    .compactMap { $0.id.map(Reference.init(id:)) }
                v.properties.subnets![i].properties.ipConfigurations = refs.isEmpty ? nil : refs
            }
            return .virtualNetwork(v)
        case .publicIPAddress(var ip):
            let key = ResourceID(parsing: ip.id ?? "")?.key
            for gw in world.gateways {
                if let cfg = gw.properties.ipConfigurations?.first(where: { $0.properties.publicIPAddress.flatMap { ResourceID(parsing: $0.id)?.key } == key }) {
                    ip.properties.ipConfiguration = cfg.id.map(Reference.init(id:))
                }
            }
            return .publicIPAddress(ip)
        case .connection(var c):
            let key = ResourceID(parsing: c.id ?? "")?.key
            var status: ConnectionStatus = .Unknown
            var reason: String?
            if c.properties.connectionType == .Vnet2Vnet {
                let reverse = world.connections.first {
                    $0.properties.virtualNetworkGateway1.flatMap { ResourceID(parsing: $0.id)?.key } == c.properties.virtualNetworkGateway2.flatMap { ResourceID(parsing: $0.id)?.key } &&
                    $0.properties.virtualNetworkGateway2.flatMap { ResourceID(parsing: $0.id)?.key } == c.properties.virtualNetworkGateway1.flatMap { ResourceID(parsing: $0.id)?.key }
                }
                if let reverse {
                    if reverse.properties.sharedKey != c.properties.sharedKey {
                        status = .NotConnected
                        reason = "The shared key differs from the one on the reverse connection '\(reverse.name ?? "")'; VNet-to-VNet needs the same key on both connections."
                    }
                } else {
                    status = .NotConnected
                    let gw2 = c.properties.virtualNetworkGateway2.flatMap { ResourceID(parsing: $0.id)?.name } ?? "the remote gateway"
                    reason = "Waiting for the connection from '\(gw2)' back to this gateway: VNet-to-VNet needs a connection resource on each side with the same shared key."
                }
            }
            if reason == nil, let key, let o = observed(key) {
                status = o.status
                reason = o.reason
                c.properties.ingressBytesTransferred = o.ingressBytes
                c.properties.egressBytesTransferred = o.egressBytes
                c.properties.tunnelConnectionStatus = o.tunnels.isEmpty ? nil : o.tunnels
                c.properties.negotiatedAlgorithms = o.algorithms
            } else {
                c.properties.ingressBytesTransferred = 0
                c.properties.egressBytesTransferred = 0
            }
            c.properties.connectionStatus = status
            c.properties.connectionStatusReason = reason
            // As in Azure, the key is read only through …/connections/{name}/sharedkey.
            c.properties.sharedKey = nil
            return .connection(c)
        case .virtualNetworkGateway, .localNetworkGateway, .expressRouteCircuit:
            return resource
        }
    }
}

/// What the running data plane reports about one connection.
public struct ObservedConnection: Sendable, Equatable {
    public var status: ConnectionStatus
    public var reason: String?
    public var ingressBytes: Int64
    public var egressBytes: Int64
    public var tunnels: [TunnelConnectionHealth]
    public var algorithms: String?
    public init(status: ConnectionStatus, reason: String? = nil, ingressBytes: Int64 = 0, egressBytes: Int64 = 0, tunnels: [TunnelConnectionHealth] = [], algorithms: String? = nil) {
        self.status = status; self.reason = reason; self.ingressBytes = ingressBytes; self.egressBytes = egressBytes; self.tunnels = tunnels
        self.algorithms = algorithms
    }
}
