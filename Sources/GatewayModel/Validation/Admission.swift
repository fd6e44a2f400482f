import Foundation

/// What the admission rules need from outside: time, fresh GUIDs, shared keys and public IPs.
/// Injected so that the rules stay pure and replayable in tests.
public struct AdmissionContext: Sendable {
    public var newGUID: @Sendable () -> String
    public var newSharedKey: @Sendable () -> String
    /// Allocates a free public address of the version from the server's pool, avoiding `inUse`.
    public var allocatePublicIP: @Sendable (_ version: IPVersion, _ inUse: Set<String>) -> String?

    public init(newGUID: @escaping @Sendable () -> String = { UUID().uuidString.lowercased() },
                newSharedKey: @escaping @Sendable () -> String = { AdmissionContext.randomKey() },
                allocatePublicIP: @escaping @Sendable (IPVersion, Set<String>) -> String? = { _, _ in nil }) {
        self.newGUID = newGUID; self.newSharedKey = newSharedKey; self.allocatePublicIP = allocatePublicIP
    }

    public static func randomKey() -> String {
        let alphabet = Array("ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789")
        var rng = SystemRandomNumberGenerator()
        return String((0..<32).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] })
    }

    /// A pool allocator over `prefix`, skipping the network address and `.1` (the lab's router).
    public static func poolAllocator(_ pools: [IPPrefix]) -> @Sendable (IPVersion, Set<String>) -> String? {
        return { version, inUse in
            for pool in pools where (pool.family == .v4) == (version == .IPv4) {
                let count = min(pool.size, 1 << 20)
                var offset: UInt64 = 2
                while offset < count - (pool.family == .v4 ? 1 : 0) {
                    let candidate = pool.address.adding(offset).description
                    if !inUse.contains(candidate) { return candidate }
                    offset += 1
                }
            }
            return nil
        }
    }
}

/// Azure's rules for every resource, applied to a PUT or a DELETE against the current world.
/// A PUT returns the normalised resource to store (ids, defaults, provisioningState filled); a
/// refused request throws an `ARMError` naming the field, the value and what is allowed.
public struct Admission: Sendable {
    public var context: AdmissionContext
    public init(context: AdmissionContext = .init()) { self.context = context }

    // MARK: Resource groups

    public func putGroup(subscription: String, name: String, body: Data, world: World) throws(ARMError) -> ResourceGroup {
        try ResourceName.validateGroup(name)
        struct Body: Decodable { var location: String?; var tags: [String: String]? }
        let b = try decodeBody(Body.self, body.isEmpty ? Data("{}".utf8) : body)
        let existing = world.groups[GroupKey(subscription: subscription, name: name)]
        guard let location = b.location ?? existing?.location else {
            throw ARMError.missing("location", "give the region name of the group, e.g. \"local\"")
        }
        if let existing, let old = existing.location, old.lowercased() != location.lowercased() {
            throw ARMError.conflict("InvalidResourceGroupLocation", "location",
                "Resource group '\(name)' already exists in location '\(old)'; it cannot move to '\(location)'.")
        }
        var g = ResourceGroup(name: existing?.name ?? name, location: location, tags: b.tags)
        g.id = "/subscriptions/\(subscription)/resourceGroups/\(g.name!)"
        g.type = "Microsoft.Resources/resourceGroups"
        g.properties = .init(provisioningState: .Succeeded)
        return g
    }

    // MARK: PUT

    public func put(_ id: ResourceID, body: Data, world: World) throws(ARMError) -> AnyResource {
        try ResourceName.validate(id.name, field: "name")
        guard let group = world.groups[GroupKey(subscription: id.subscription, name: id.resourceGroup)] else {
            throw ARMError(status: 404, code: "ResourceGroupNotFound",
                           message: "Resource group '\(id.resourceGroup)' could not be found. Create it first (vpngw group create -n \(id.resourceGroup)).",
                           target: "resourceGroup")
        }
        let canonicalID = ResourceID(subscription: id.subscription, resourceGroup: group.name ?? id.resourceGroup,
                                     type: id.type, name: world[id.key]?.name ?? id.name)
        let existing = world[id.key]
        let decoded = try AnyResource.decode(id.type, from: body.isEmpty ? Data("{}".utf8) : body)
        let location = group.location ?? "local"
        switch decoded {
        case .virtualNetwork(let r):
            return .virtualNetwork(try admitVirtualNetwork(r, id: canonicalID, location: location, world: world))
        case .publicIPAddress(let r):
            return .publicIPAddress(try admitPublicIP(r, id: canonicalID, location: location, world: world))
        case .virtualNetworkGateway(let r):
            return .virtualNetworkGateway(try admitGateway(r, id: canonicalID, location: location, world: world))
        case .localNetworkGateway(let r):
            return .localNetworkGateway(try admitLocalGateway(r, id: canonicalID, location: location, world: world))
        case .connection(let r):
            return .connection(try admitConnection(r, id: canonicalID, location: location, world: world))
        case .expressRouteCircuit(let r):
            return .expressRouteCircuit(try admitCircuit(r, id: canonicalID, location: location, existing: existing, world: world))
        }
    }

    /// Fills the envelope fields every resource carries.
    private func envelope<P>(_ r: inout ARMResource<P>, id: ResourceID, location: String, existing: ARMResource<P>?) {
        r.id = id.description
        r.name = id.name
        r.type = id.type.armType
        r.location = r.location ?? existing?.location ?? location
        if r.tags == nil { r.tags = existing?.tags }
        r.etag = nil
    }

    private func existing<P>(_ world: World, _ id: ResourceID, as: P.Type) -> ARMResource<P>? {
        switch world[id.key] {
        case .virtualNetwork(let r)?: return r as? ARMResource<P>
        case .publicIPAddress(let r)?: return r as? ARMResource<P>
        case .virtualNetworkGateway(let r)?: return r as? ARMResource<P>
        case .localNetworkGateway(let r)?: return r as? ARMResource<P>
        case .connection(let r)?: return r as? ARMResource<P>
        case .expressRouteCircuit(let r)?: return r as? ARMResource<P>
        case nil: return nil
        }
    }

    // MARK: Virtual network

    func admitVirtualNetwork(_ input: VirtualNetwork, id: ResourceID, location: String, world: World) throws(ARMError) -> VirtualNetwork {
        let old = existing(world, id, as: VirtualNetworkProperties.self)
        var r = input
        envelope(&r, id: id, location: location, existing: old)
        var p = r.properties
        let space = p.addressSpace?.prefixes ?? []
        guard !space.isEmpty else {
            throw ARMError.missing("properties.addressSpace.addressPrefixes", "give at least one CIDR prefix, e.g. [\"10.1.0.0/16\"]")
        }
        try noOverlapWithin(space, field: "properties.addressSpace.addressPrefixes")

        // Subnets: unique names, inside the address space, not overlapping one another.
        var subnets = p.subnets ?? []
        var seen: [String: Int] = [:]
        for i in subnets.indices {
            let field = "properties.subnets[\(i)]"
            guard let name = subnets[i].name else { throw ARMError.missing("\(field).name") }
            try ResourceName.validate(name, field: "\(field).name")
            if let j = seen[name.lowercased()] {
                throw ARMError.rule("DuplicateResourceName", "\(field).name", "Subnet name '\(name)' is used twice (properties.subnets[\(j)] and [\(i)]).")
            }
            seen[name.lowercased()] = i
            let prefixes = subnets[i].properties.prefixes
            guard !prefixes.isEmpty else {
                throw ARMError.missing("\(field).properties.addressPrefix", "give the subnet's CIDR prefix, inside \(space.listed)")
            }
            for prefix in prefixes where !space.contains(where: { $0.contains(prefix) }) {
                throw ARMError.rule("NetcfgSubnetRangeOutsideVnet", "\(field).properties.addressPrefix",
                    "Subnet '\(name)' prefix \(prefix) is not inside the virtual network's address space (\(space.listed)).")
            }
            subnets[i].id = ResourceID(subscription: id.subscription, resourceGroup: id.resourceGroup, type: .virtualNetworks,
                                       name: id.name, child: ("subnets", name)).description
            subnets[i].type = "Microsoft.Network/virtualNetworks/subnets"
            subnets[i].etag = nil
            subnets[i].properties.provisioningState = .Succeeded
            subnets[i].properties.ipConfigurations = nil
        }
        for i in subnets.indices {
            for j in subnets.indices where j > i {
                if let (a, b) = subnets[i].properties.prefixes.firstOverlap(with: subnets[j].properties.prefixes) {
                    throw ARMError.rule("NetcfgSubnetRangesOverlap", "properties.subnets[\(j)].properties.addressPrefix",
                        "Subnet '\(subnets[j].name!)' (\(b)) overlaps subnet '\(subnets[i].name!)' (\(a)).")
                }
            }
        }
        p.subnets = subnets

        // A subnet holding a gateway cannot be removed or resized while the gateway exists.
        for gw in world.gateways(inVNet: id.description) {
            for cfg in gw.properties.ipConfigurations ?? [] {
                guard let sid = cfg.properties.subnet?.id, let subnetName = ResourceID(parsing: sid)?.child?.name else { continue }
                let oldPrefixes = old?.properties.subnets?.first { $0.name?.lowercased() == subnetName.lowercased() }?.properties.prefixes
                guard let now = subnets.first(where: { $0.name?.lowercased() == subnetName.lowercased() }) else {
                    throw ARMError.conflict("InUseSubnetCannotBeDeleted", "properties.subnets",
                        "Subnet '\(subnetName)' is in use by virtual network gateway '\(gw.name ?? "")' and cannot be removed. Delete the gateway first.")
                }
                if let oldPrefixes, oldPrefixes != now.properties.prefixes {
                    throw ARMError.conflict("InUseSubnetCannotBeUpdated", "properties.subnets",
                        "Subnet '\(subnetName)' is in use by virtual network gateway '\(gw.name ?? "")'; its prefix \(oldPrefixes.listed) cannot change while the gateway exists.")
                }
            }
        }

        // Peerings.
        var peerings = p.virtualNetworkPeerings ?? []
        var peeringNames: Set<String> = []
        var usingRemote: [String] = []
        for i in peerings.indices {
            let field = "properties.virtualNetworkPeerings[\(i)]"
            guard let name = peerings[i].name else { throw ARMError.missing("\(field).name") }
            try ResourceName.validate(name, field: "\(field).name")
            guard peeringNames.insert(name.lowercased()).inserted else {
                throw ARMError.rule("DuplicateResourceName", "\(field).name", "Peering name '\(name)' is used twice.")
            }
            let previous = old?.properties.virtualNetworkPeerings?.first { $0.name?.lowercased() == name.lowercased() }
            peerings[i] = try admitPeering(peerings[i], index: i, vnetID: id, space: space, world: world, previous: previous)
            if peerings[i].properties.useRemoteGateways == true { usingRemote.append(name) }
        }
        if usingRemote.count > 1 {
            throw ARMError.rule("OnlyOnePeeringCanUseRemoteGateways", "properties.virtualNetworkPeerings",
                "Only one peering of a virtual network may set useRemoteGateways; '\(usingRemote.joined(separator: "', '"))' all do.")
        }
        if !usingRemote.isEmpty, let gw = world.gateways(inVNet: id.description).first {
            throw ARMError.conflict("VnetHasGatewayCannotUseRemoteGateways", "properties.virtualNetworkPeerings",
                "Peering '\(usingRemote[0])' sets useRemoteGateways, but this virtual network has its own gateway '\(gw.name ?? "")'.")
        }
        // A peer using this VNet's gateways (useRemoteGateways) keeps needing our allowGatewayTransit.
        for (spoke, spokePeering) in world.peeringsPointing(at: id.description) where spokePeering.properties.useRemoteGateways == true {
            let spokeKey = ResourceID(parsing: spoke.id ?? "")?.key
            guard spokeKey != id.key else { continue }
            let mine = peerings.first { $0.properties.remoteVirtualNetwork.flatMap { ResourceID(parsing: $0.id)?.key } == spokeKey }
            if mine?.properties.allowGatewayTransit != true {
                throw ARMError.conflict("PeeringUsedForGatewayTransit", "properties.virtualNetworkPeerings",
                    "Virtual network '\(spoke.name ?? "")' uses this network's gateway through its peering '\(spokePeering.name ?? "")' (useRemoteGateways), so the peering to it must stay, with allowGatewayTransit true. Set useRemoteGateways to false on '\(spoke.name ?? "")' first.")
            }
        }
        p.virtualNetworkPeerings = peerings

        // The address space must not overlap anything it is joined to.
        if let old, old.properties.addressSpace?.prefixes != space {
            try checkJoinedSpaces(ofVNet: id.description, space: space, world: world)
        }
        for (otherVNet, peering) in world.peeringsPointing(at: id.description)
        where ResourceID(parsing: otherVNet.id ?? "")?.key != id.key {
            if let (a, b) = space.firstOverlap(with: otherVNet.properties.addressSpace?.prefixes ?? []) {
                throw ARMError.conflict("VnetAddressSpacesOverlap", "properties.addressSpace.addressPrefixes",
                    "Address prefix \(a) overlaps \(b) of virtual network '\(otherVNet.name ?? "")', which is peered with this one through peering '\(peering.name ?? "")'.")
            }
        }

        p.provisioningState = .Succeeded
        p.resourceGuid = old?.properties.resourceGuid ?? context.newGUID()
        r.properties = p
        return r
    }

    func admitPeering(_ input: VirtualNetworkPeering, index i: Int, vnetID: ResourceID, space: [IPPrefix], world: World,
                      previous: VirtualNetworkPeering? = nil) throws(ARMError) -> VirtualNetworkPeering {
        let field = "properties.virtualNetworkPeerings[\(i)]"
        var peering = input
        let name = peering.name ?? ""
        guard let remoteRef = peering.properties.remoteVirtualNetwork?.id else {
            throw ARMError.missing("\(field).properties.remoteVirtualNetwork.id", "the id of the virtual network to peer with")
        }
        guard let remoteID = ResourceID(parsing: remoteRef), remoteID.type == .virtualNetworks, remoteID.child == nil else {
            throw ARMError.invalid("\(field).properties.remoteVirtualNetwork.id", "'\(remoteRef)' is not a virtual network id (/subscriptions/…/providers/Microsoft.Network/virtualNetworks/NAME)")
        }
        if remoteID.key == vnetID.key {
            throw ARMError.rule("CannotPeerVnetWithItself", "\(field).properties.remoteVirtualNetwork.id", "A virtual network cannot be peered with itself.")
        }
        guard let remote = world.virtualNetwork(remoteRef) else {
            throw ARMError(status: 400, code: "ReferencedResourceNotFound", message: "\(field).properties.remoteVirtualNetwork: virtual network '\(remoteRef)' was not found.", target: "\(field).properties.remoteVirtualNetwork.id")
        }
        if let (a, b) = space.firstOverlap(with: remote.properties.addressSpace?.prefixes ?? []) {
            throw ARMError.rule("VnetAddressSpacesOverlap", "\(field).properties.remoteVirtualNetwork.id",
                "Cannot peer with '\(remote.name ?? "")': its address prefix \(b) overlaps \(a) of this virtual network.")
        }
        if peering.properties.allowGatewayTransit == true {
            guard let gw = world.gateways(inVNet: vnetID.description).first else {
                throw ARMError.rule("GatewayTransitNeedsGateway", "\(field).properties.allowGatewayTransit",
                    "Peering '\(name)' sets allowGatewayTransit, but this virtual network has no gateway. Create the gateway first or set it to false.")
            }
            if gw.properties.sku.flatMap({ GatewaySKU(caseInsensitive: $0.name ?? "") }) == .Basic {
                throw ARMError.rule("GatewayTransitNotSupportedOnBasic", "\(field).properties.allowGatewayTransit",
                    "Gateway transit is not available with the Basic SKU of gateway '\(gw.name ?? "")'; resize or recreate it as VpnGw1 or larger.")
            }
        }
        if peering.properties.useRemoteGateways == true {
            guard let gw = world.gateways(inVNet: remote.id ?? "").first else {
                throw ARMError.rule("RemoteVnetHasNoGateway", "\(field).properties.useRemoteGateways",
                    "Peering '\(name)' sets useRemoteGateways, but virtual network '\(remote.name ?? "")' has no gateway.")
            }
            if gw.properties.sku.flatMap({ GatewaySKU(caseInsensitive: $0.name ?? "") }) == .Basic {
                throw ARMError.rule("GatewayTransitNotSupportedOnBasic", "\(field).properties.useRemoteGateways",
                    "Gateway transit is not available with the Basic SKU of gateway '\(gw.name ?? "")'.")
            }
            let back = remote.properties.virtualNetworkPeerings?.first {
                $0.properties.remoteVirtualNetwork.flatMap { ResourceID(parsing: $0.id)?.key } == vnetID.key
            }
            guard let back else {
                throw ARMError.rule("RemotePeeringDoesNotAllowGatewayTransit", "\(field).properties.useRemoteGateways",
                    "Peering '\(name)' sets useRemoteGateways, but '\(remote.name ?? "")' has no peering back to this virtual network. Add one on '\(remote.name ?? "")' with allowGatewayTransit set to true first.")
            }
            if back.properties.allowGatewayTransit != true {
                throw ARMError.rule("RemotePeeringDoesNotAllowGatewayTransit", "\(field).properties.useRemoteGateways",
                    "Peering '\(name)' sets useRemoteGateways, but the peering '\(back.name ?? "")' on '\(remote.name ?? "")' does not set allowGatewayTransit.")
            }
            // Through the remote gateways this VNet joins their sites, remote VNets and P2S pools.
            for remoteGateway in world.gateways(inVNet: remote.id ?? "") {
                for (what, prefixes) in joinedSpaces(ofGateway: remoteGateway, world: world, excludingVNet: vnetID.description) {
                    if let (a, b) = space.firstOverlap(with: prefixes) {
                        throw ARMError.rule("AddressSpaceOverlapsConnectedNetwork", "\(field).properties.useRemoteGateways",
                            "Address prefix \(a) overlaps \(b) of \(what), which peering '\(name)' would reach through gateway '\(remoteGateway.name ?? "")' of '\(remote.name ?? "")'.")
                    }
                }
            }
        }
        peering.id = ResourceID(subscription: vnetID.subscription, resourceGroup: vnetID.resourceGroup, type: .virtualNetworks,
                                name: vnetID.name, child: ("virtualNetworkPeerings", name)).description
        peering.type = "Microsoft.Network/virtualNetworks/virtualNetworkPeerings"
        peering.etag = nil
        peering.properties.remoteVirtualNetwork = Reference(id: remote.id ?? remoteRef)
        peering.properties.allowVirtualNetworkAccess = peering.properties.allowVirtualNetworkAccess ?? true
        peering.properties.allowForwardedTraffic = peering.properties.allowForwardedTraffic ?? false
        peering.properties.allowGatewayTransit = peering.properties.allowGatewayTransit ?? false
        peering.properties.useRemoteGateways = peering.properties.useRemoteGateways ?? false
        peering.properties.provisioningState = .Succeeded
        // Stored state is only ever Disconnected (the remote side deleted its peering, as Azure
        // reports it); it sticks until this peering is deleted and re-created with another remote.
        let sameRemote = previous?.properties.remoteVirtualNetwork.flatMap { ResourceID(parsing: $0.id)?.key } == remoteID.key
        peering.properties.peeringState = previous?.properties.peeringState == .Disconnected && sameRemote ? .Disconnected : nil
        peering.properties.remoteAddressSpace = nil
        return peering
    }

    /// Address spaces joined to a VNet (sites and VNets reached through its gateway, peers, P2S
    /// pools) must not overlap its new space.
    func checkJoinedSpaces(ofVNet vnetID: String, space: [IPPrefix], world: World) throws(ARMError) {
        for gw in world.gateways(inVNet: vnetID) {
            for (what, prefixes) in joinedSpaces(ofGateway: gw, world: world, excludingVNet: vnetID) {
                if let (a, b) = space.firstOverlap(with: prefixes) {
                    throw ARMError.conflict("AddressSpaceOverlapsConnectedNetwork", "properties.addressSpace.addressPrefixes",
                        "Address prefix \(a) overlaps \(b) of \(what), which is joined to this virtual network.")
                }
            }
        }
    }

    /// Prefixes reached through a gateway: sites of its connections, remote VNets, its P2S pool.
    func joinedSpaces(ofGateway gw: VirtualNetworkGateway, world: World, excludingVNet: String? = nil, excludingConnection: String? = nil) -> [(String, [IPPrefix])] {
        var out: [(String, [IPPrefix])] = []
        let gwKey = ResourceID(parsing: gw.id ?? "")?.key
        for c in world.connections(onGateway: gw.id ?? "") where c.id?.lowercased() != excludingConnection?.lowercased() {
            if let lng = world.localGateway(c.properties.localNetworkGateway2?.id) {
                out.append(("local network gateway '\(lng.name ?? "")' (connection '\(c.name ?? "")')", lng.properties.localNetworkAddressSpace?.prefixes ?? []))
            }
            for ref in [c.properties.virtualNetworkGateway1, c.properties.virtualNetworkGateway2].compactMap({ $0 })
            where ResourceID(parsing: ref.id)?.key != gwKey {
                if let other = world.gateway(ref.id), let vnet = world.vnetID(ofGateway: other),
                   vnet.lowercased() != excludingVNet?.lowercased() {
                    out.append(("virtual network '\(ResourceID(parsing: vnet)?.name ?? vnet)' (connection '\(c.name ?? "")')", world.addressSpace(ofVNet: vnet)))
                }
            }
        }
        if let pool = gw.properties.vpnClientConfiguration?.vpnClientAddressPool?.prefixes, !pool.isEmpty {
            out.append(("the point-to-site client pool of gateway '\(gw.name ?? "")'", pool))
        }
        return out
    }

    // MARK: Public IP

    func admitPublicIP(_ input: PublicIPAddress, id: ResourceID, location: String, world: World) throws(ARMError) -> PublicIPAddress {
        let old = existing(world, id, as: PublicIPAddressProperties.self)
        var r = input
        envelope(&r, id: id, location: location, existing: old)
        var p = r.properties
        let version = p.publicIPAddressVersion ?? old?.properties.publicIPAddressVersion ?? .IPv4
        p.publicIPAddressVersion = version
        p.publicIPAllocationMethod = p.publicIPAllocationMethod ?? .Static
        let skuName = r.sku?.name ?? old?.sku?.name ?? "Standard"
        guard ["basic", "standard"].contains(skuName.lowercased()) else {
            throw ARMError.invalid("sku.name", "'\(skuName)' is not allowed; allowed values: Basic, Standard")
        }
        r.sku = ResourceSKU(name: skuName.lowercased() == "basic" ? "Basic" : "Standard", tier: "Regional")
        var inUse = Set(world.publicIPs.compactMap { $0.properties.ipAddress })
        if let mine = old?.properties.ipAddress { inUse.remove(mine) }
        let usedBy = world.gateways.first { gw in
            gw.properties.ipConfigurations?.contains { $0.properties.publicIPAddress.flatMap { ResourceID(parsing: $0.id)?.key } == id.key } == true
        }
        if let oldVersion = old?.properties.publicIPAddressVersion, oldVersion != version {
            throw ARMError.conflict("PublicIPAddressVersionCannotChange", "properties.publicIPAddressVersion",
                "publicIPAddressVersion cannot change from \(oldVersion.rawValue) to \(version.rawValue); create a new \(version.rawValue) public IP address instead.")
        }
        if let given = p.ipAddress {
            guard let addr = IPAddress(given) else {
                throw ARMError.invalid("properties.ipAddress", "'\(given)' is not an IPv4 or IPv6 address")
            }
            guard (addr.family == .v4) == (version == .IPv4) else {
                throw ARMError.invalid("properties.ipAddress", "'\(given)' is not an \(version.rawValue) address (publicIPAddressVersion is \(version.rawValue))")
            }
            p.ipAddress = addr.description
            if inUse.contains(addr.description) {
                let owner = world.publicIPs.first { $0.properties.ipAddress == addr.description }
                throw ARMError.conflict("PublicIPAddressInUse", "properties.ipAddress",
                    "Address \(addr) is already held by public IP '\(owner?.name ?? "")'.")
            }
            if let oldAddr = old?.properties.ipAddress, oldAddr != addr.description, let usedBy {
                throw ARMError.conflict("PublicIPAddressInUse", "properties.ipAddress",
                    "The address cannot change from \(oldAddr) while gateway '\(usedBy.name ?? "")' uses this public IP.")
            }
        } else if let oldAddr = old?.properties.ipAddress {
            p.ipAddress = oldAddr
        } else {
            guard let allocated = context.allocatePublicIP(version, inUse) else {
                throw ARMError.rule("PublicIPAddressPoolExhausted", "properties.ipAddress",
                    "No \(version.rawValue) address is free in the server's public IP pool (vpngw serve --public-ip-pool). Give properties.ipAddress explicitly.")
            }
            p.ipAddress = allocated
        }
        p.ipConfiguration = nil
        p.idleTimeoutInMinutes = p.idleTimeoutInMinutes ?? 4
        p.provisioningState = .Succeeded
        p.resourceGuid = old?.properties.resourceGuid ?? context.newGUID()
        r.properties = p
        return r
    }

    // MARK: Local network gateway

    func admitLocalGateway(_ input: LocalNetworkGateway, id: ResourceID, location: String, world: World) throws(ARMError) -> LocalNetworkGateway {
        let old = existing(world, id, as: LocalNetworkGatewayProperties.self)
        var r = input
        envelope(&r, id: id, location: location, existing: old)
        var p = r.properties
        if let ip = p.gatewayIpAddress {
            guard let addr = IPAddress(ip) else {
                throw ARMError.invalid("properties.gatewayIpAddress", "'\(ip)' is not an IPv4 or IPv6 address")
            }
            p.gatewayIpAddress = addr.description
        } else if let fqdn = p.fqdn {
            try validateFQDN(fqdn, field: "properties.fqdn")
        } else {
            throw ARMError.missing("properties.gatewayIpAddress", "give the on-premises VPN device's public IP (or properties.fqdn)")
        }
        let prefixes = p.localNetworkAddressSpace?.prefixes ?? []
        if let bgp = p.bgpSettings {
            guard let asn = bgp.asn else { throw ARMError.missing("properties.bgpSettings.asn", "the on-premises BGP speaker's ASN") }
            try BGPRules.validatePeerASN(asn, field: "properties.bgpSettings.asn")
            if let addr = bgp.bgpPeeringAddress, IPAddress(addr) == nil {
                throw ARMError.invalid("properties.bgpSettings.bgpPeeringAddress", "'\(addr)' is not an IP address")
            }
        } else if prefixes.isEmpty {
            throw ARMError.missing("properties.localNetworkAddressSpace.addressPrefixes",
                                   "give the on-premises prefixes, e.g. [\"192.168.1.0/24\"] (or bgpSettings to learn them over BGP)")
        }
        try noOverlapWithin(prefixes, field: "properties.localNetworkAddressSpace.addressPrefixes")
        // The new prefixes must still fit every connection using this site (a new site has none;
        // skipping the scan keeps creating many sites linear).
        for c in old == nil ? [] : world.connections where c.properties.localNetworkGateway2.flatMap({ ResourceID(parsing: $0.id)?.key }) == id.key {
            guard let gw = world.gateway(c.properties.virtualNetworkGateway1?.id) else { continue }
            try checkSiteFits(prefixes, site: id.name, gateway: gw, world: world, excludingConnection: c.id,
                              field: "properties.localNetworkAddressSpace.addressPrefixes", status: 409)
        }
        p.provisioningState = .Succeeded
        p.resourceGuid = old?.properties.resourceGuid ?? context.newGUID()
        r.properties = p
        return r
    }

    /// Site prefixes must not overlap the gateway's VNet, the spokes using it, its other sites and
    /// its P2S pool.
    /// `sameNetwork` is the VNet whose space `prefixes` is (Vnet2Vnet): the reverse connection
    /// joins that same VNet and is no overlap.
    func checkSiteFits(_ prefixes: [IPPrefix], site: String, gateway gw: VirtualNetworkGateway, world: World,
                       excludingConnection: String?, sameNetwork: String? = nil, field: String, status: Int) throws(ARMError) {
        var joined: [(String, [IPPrefix])] = []
        if let vnet = world.vnetID(ofGateway: gw) {
            joined.append(("virtual network '\(ResourceID(parsing: vnet)?.name ?? vnet)'", world.addressSpace(ofVNet: vnet)))
            for (spoke, peering) in world.peeringsPointing(at: vnet) where peering.properties.useRemoteGateways == true {
                joined.append(("peered virtual network '\(spoke.name ?? "")' (uses this gateway)", spoke.properties.addressSpace?.prefixes ?? []))
            }
        }
        joined += joinedSpaces(ofGateway: gw, world: world, excludingVNet: sameNetwork, excludingConnection: excludingConnection)
        for (what, other) in joined {
            if let (a, b) = prefixes.firstOverlap(with: other) {
                throw ARMError(status: status, code: "AddressSpaceOverlap",
                    message: "Prefix \(a) of '\(site)' overlaps \(b) of \(what), reached through gateway '\(gw.name ?? "")'. Address spaces joined by a connection must not overlap.",
                    target: field)
            }
        }
    }

    // MARK: ExpressRoute circuit

    func admitCircuit(_ input: ExpressRouteCircuit, id: ResourceID, location: String, existing old: AnyResource?, world: World) throws(ARMError) -> ExpressRouteCircuit {
        let old = existing(world, id, as: ExpressRouteCircuitProperties.self)
        var r = input
        envelope(&r, id: id, location: location, existing: old)
        var p = r.properties
        guard let sp = p.serviceProviderProperties else {
            throw ARMError.missing("properties.serviceProviderProperties", "serviceProviderName, peeringLocation and bandwidthInMbps")
        }
        guard let provider = sp.serviceProviderName, !provider.isEmpty else { throw ARMError.missing("properties.serviceProviderProperties.serviceProviderName") }
        guard let loc = sp.peeringLocation, !loc.isEmpty else { throw ARMError.missing("properties.serviceProviderProperties.peeringLocation") }
        let allowed = [50, 100, 200, 500, 1000, 2000, 5000, 10000]
        guard let bw = sp.bandwidthInMbps else { throw ARMError.missing("properties.serviceProviderProperties.bandwidthInMbps", "one of \(allowed.map(String.init).joined(separator: ", "))") }
        guard allowed.contains(bw) else {
            throw ARMError.invalid("properties.serviceProviderProperties.bandwidthInMbps", "\(bw) is not allowed; allowed values: \(allowed.map(String.init).joined(separator: ", "))")
        }
        let tiers = ["Local", "Standard", "Premium", "Basic"], families = ["MeteredData", "UnlimitedData"]
        let tier = r.sku?.tier ?? old?.sku?.tier ?? "Standard"
        let family = r.sku?.family ?? old?.sku?.family ?? "MeteredData"
        guard let t = tiers.first(where: { $0.lowercased() == tier.lowercased() }) else {
            throw ARMError.invalid("sku.tier", "'\(tier)' is not allowed; allowed values: \(tiers.joined(separator: ", "))")
        }
        guard let f = families.first(where: { $0.lowercased() == family.lowercased() }) else {
            throw ARMError.invalid("sku.family", "'\(family)' is not allowed; allowed values: \(families.joined(separator: ", "))")
        }
        r.sku = ResourceSKU(name: "\(t)_\(f)", tier: t, family: f)
        var peerings = p.peerings ?? []
        for i in peerings.indices {
            let field = "properties.peerings[\(i)]"
            let name = peerings[i].name ?? "AzurePrivatePeering"
            let types = ["AzurePrivatePeering", "MicrosoftPeering", "AzurePublicPeering"]
            let type = peerings[i].properties.peeringType ?? name
            guard let pt = types.first(where: { $0.lowercased() == type.lowercased() }) else {
                throw ARMError.invalid("\(field).properties.peeringType", "'\(type)' is not allowed; allowed values: \(types.joined(separator: ", "))")
            }
            guard let asn = peerings[i].properties.peerASN else { throw ARMError.missing("\(field).properties.peerASN") }
            try BGPRules.validatePeerASN(asn, field: "\(field).properties.peerASN")
            for (k, v) in [("primaryPeerAddressPrefix", peerings[i].properties.primaryPeerAddressPrefix),
                           ("secondaryPeerAddressPrefix", peerings[i].properties.secondaryPeerAddressPrefix)] {
                guard let v else { throw ARMError.missing("\(field).properties.\(k)", "a /30 for the link, e.g. 192.168.100.0/30") }
                guard v.family == .v4 ? v.length == 30 : v.length == 126 else {
                    throw ARMError.invalid("\(field).properties.\(k)", "\(v) must be a /30 (IPv4) or /126 (IPv6)")
                }
            }
            guard let vlan = peerings[i].properties.vlanId, (1...4094).contains(vlan) else {
                throw ARMError.invalid("\(field).properties.vlanId", "\(peerings[i].properties.vlanId.map(String.init) ?? "missing"): give a VLAN id in 1–4094")
            }
            peerings[i].name = name
            peerings[i].properties.peeringType = pt
            peerings[i].id = ResourceID(subscription: id.subscription, resourceGroup: id.resourceGroup, type: .expressRouteCircuits,
                                        name: id.name, child: ("peerings", name)).description
            peerings[i].properties.state = "Enabled"
            peerings[i].properties.provisioningState = .Succeeded
        }
        p.peerings = peerings
        p.circuitProvisioningState = "Enabled"
        p.serviceProviderProvisioningState = "Provisioned"
        p.serviceKey = old?.properties.serviceKey ?? context.newGUID()
        p.provisioningState = .Succeeded
        r.properties = p
        return r
    }

    // MARK: Helpers

    func noOverlapWithin(_ prefixes: [IPPrefix], field: String) throws(ARMError) {
        for i in prefixes.indices {
            for j in prefixes.indices where j > i && prefixes[i].overlaps(prefixes[j]) {
                throw ARMError.rule("AddressPrefixesOverlap", "\(field)[\(j)]", "Prefix \(prefixes[j]) overlaps \(prefixes[i]) in the same list.")
            }
        }
    }

    func validateFQDN(_ fqdn: String, field: String) throws(ARMError) {
        let labels = fqdn.split(separator: ".", omittingEmptySubsequences: false)
        let ok = fqdn.count <= 253 && labels.count >= 1 && labels.allSatisfy { l in
            (1...63).contains(l.count) && l.first != "-" && l.last != "-" &&
            l.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "-") }
        }
        if !ok { throw ARMError.invalid(field, "'\(fqdn)' is not a valid DNS name") }
    }
}

extension ResourceName {
    /// Resource group names: 1–90 letters, digits, `_ . - ( )`, not ending with a period.
    public static func validateGroup(_ name: String) throws(ARMError) {
        let ok = (1...90).contains(name.count) && !name.hasSuffix(".") && name.unicodeScalars.allSatisfy {
            $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "_.-()".unicodeScalars.contains($0))
        }
        if !ok {
            throw ARMError.invalid("resourceGroupName", "'\(name)' is not a valid resource group name: use 1–90 letters, digits, '_', '.', '-', '(' or ')', not ending with '.'")
        }
    }
}

/// BGP ASN rules (features.md §1.8).
public enum BGPRules {
    /// ASNs reserved by Azure and IANA; 65515 is the gateway's own default and allowed there only.
    public static func reservedReason(_ asn: Int64) -> String? {
        switch asn {
        case 8074, 8075, 12076: return "reserved by Azure"
        case 65515: return "the gateway's own default ASN"
        case 65517...65520: return "reserved by Azure"
        case 23456: return "reserved by IANA (AS_TRANS)"
        case 64496...64511: return "reserved by IANA for documentation"
        case 65535...65551: return "reserved by IANA"
        default: return nil
        }
    }

    public static func validateRange(_ asn: Int64, field: String) throws(ARMError) {
        guard (1...4_294_967_294).contains(asn) else {
            throw ARMError.invalid(field, "\(asn) is outside 1–4294967294")
        }
    }

    public static func validatePeerASN(_ asn: Int64, field: String) throws(ARMError) {
        try validateRange(asn, field: field)
        if let reason = reservedReason(asn) {
            throw ARMError.rule("ReservedAsn", field, "ASN \(asn) is \(reason) and cannot be used here; use a private ASN in 64512–65514 or 65521–65534, or your public ASN.")
        }
    }

    public static func validateGatewayASN(_ asn: Int64, field: String) throws(ARMError) {
        try validateRange(asn, field: field)
        if asn != 65515, let reason = reservedReason(asn) {
            throw ARMError.rule("ReservedAsn", field, "ASN \(asn) is \(reason) and cannot be used here; keep the default 65515 or use a private ASN in 64512–65514 or 65521–65534.")
        }
    }
}
