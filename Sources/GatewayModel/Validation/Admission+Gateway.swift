import Foundation

extension Admission {
    // MARK: Virtual network gateway

    func admitGateway(_ input: VirtualNetworkGateway, id: ResourceID, location: String, world: World) throws(ARMError) -> VirtualNetworkGateway {
        let old = world.gateway(id.description)
        var r = input
        r.id = id.description; r.name = id.name; r.type = id.type.armType
        r.location = r.location ?? old?.location ?? location
        if r.tags == nil { r.tags = old?.tags }
        r.etag = nil
        var p = r.properties

        let gatewayType = p.gatewayType ?? old?.properties.gatewayType ?? .Vpn
        if let oldType = old?.properties.gatewayType, oldType != gatewayType {
            throw ARMError.conflict("GatewayTypeCannotChange", "properties.gatewayType",
                "gatewayType cannot change from \(oldType.rawValue) to \(gatewayType.rawValue). Delete the gateway and create a new one.")
        }
        p.gatewayType = gatewayType

        // SKU: properties.sku (ARM) or the envelope's sku.
        let skuText = p.sku?.name ?? r.sku?.name ?? old?.properties.sku?.name ?? (gatewayType == .Vpn ? "VpnGw1" : "ErGw1AZ")
        guard let sku = GatewaySKU(caseInsensitive: skuText) else {
            throw ARMError.invalid("properties.sku.name", "'\(skuText)' is not allowed; allowed values: \(GatewaySKU.allowedList)")
        }
        guard sku.gatewayTypes.contains(gatewayType) else {
            let fitting = GatewaySKU.allCases.filter { $0.gatewayTypes.contains(gatewayType) }.map(\.rawValue)
            throw ARMError.rule("InvalidGatewaySkuForGatewayType", "properties.sku.name",
                "SKU \(sku.rawValue) is not available for gatewayType \(gatewayType.rawValue); allowed: \(fitting.joined(separator: ", ")).")
        }
        p.sku = ResourceSKU(name: sku.rawValue, tier: sku.tier, capacity: p.sku?.capacity ?? 2)
        r.sku = nil

        if gatewayType == .Vpn {
            let vpnType = p.vpnType ?? old?.properties.vpnType ?? .RouteBased
            if let oldVpn = old?.properties.vpnType, oldVpn != vpnType {
                throw ARMError.conflict("VpnTypeCannotChange", "properties.vpnType",
                    "vpnType is fixed at creation (\(oldVpn.rawValue)); it cannot become \(vpnType.rawValue). To change it, delete the connections and the gateway, then create the gateway again with vpnType \(vpnType.rawValue) (the public IP resource can be reused).")
            }
            p.vpnType = vpnType
            let generation = p.vpnGatewayGeneration ?? old?.properties.vpnGatewayGeneration ?? sku.defaultGeneration
            guard sku.generations.contains(generation) else {
                throw ARMError.rule("InvalidGatewayGeneration", "properties.vpnGatewayGeneration",
                    "SKU \(sku.rawValue) exists only as \(sku.generations.map(\.rawValue).sorted().joined(separator: " or ")), not \(generation.rawValue).")
            }
            if let oldGen = old?.properties.vpnGatewayGeneration, oldGen != generation {
                throw ARMError.conflict("GatewayGenerationCannotChange", "properties.vpnGatewayGeneration",
                    "vpnGatewayGeneration cannot change from \(oldGen.rawValue) to \(generation.rawValue); delete and recreate the gateway.")
            }
            p.vpnGatewayGeneration = generation
            if vpnType == .PolicyBased && sku != .Basic {
                throw ARMError.rule("PolicyBasedGatewayRequiresBasicSku", "properties.sku.name",
                    "A PolicyBased gateway is available only with the Basic SKU (got \(sku.rawValue)). Use vpnType RouteBased for \(sku.rawValue).")
            }
        } else {
            p.vpnType = nil
            p.vpnGatewayGeneration = p.vpnGatewayGeneration == .None ? .None : nil
            if p.vpnClientConfiguration != nil {
                throw ARMError.rule("ExpressRouteGatewayCannotHaveP2S", "properties.vpnClientConfiguration",
                    "Point-to-site is configured on the Vpn gateway of the virtual network, not on an ExpressRoute gateway.")
            }
        }

        // Resize: same family and generation, never from Basic.
        if let oldSkuName = old?.properties.sku?.name, let oldSku = GatewaySKU(caseInsensitive: oldSkuName), oldSku != sku {
            if oldSku == .Basic || sku == .Basic || oldSku.family != sku.family {
                throw ARMError.conflict("GatewaySkuCannotBeResized", "properties.sku.name",
                    "A \(oldSku.rawValue) gateway cannot be resized to \(sku.rawValue): resizing stays within one SKU family (\(oldSku.family)) and never involves Basic. Delete and recreate the gateway to change family.")
            }
        }

        let activeActive = p.activeActive ?? false
        p.activeActive = activeActive
        if activeActive && (sku == .Basic || p.vpnType == .PolicyBased) {
            throw ARMError.rule("ActiveActiveNotSupported", "properties.activeActive",
                "Active-active needs a RouteBased gateway with a SKU other than Basic (this one is \(p.vpnType?.rawValue ?? gatewayType.rawValue) \(sku.rawValue)).")
        }

        // ipConfigurations → GatewaySubnet of one VNet + public IPs.
        var configs = p.ipConfigurations ?? old?.properties.ipConfigurations ?? []
        guard !configs.isEmpty else {
            throw ARMError.missing("properties.ipConfigurations", "one entry with properties.subnet.id (the VNet's GatewaySubnet) and properties.publicIPAddress.id")
        }
        let expected = activeActive ? 2 : 1
        guard configs.count == expected else {
            throw ARMError.rule("InvalidIpConfigurationCount", "properties.ipConfigurations",
                "A gateway with activeActive=\(activeActive) takes exactly \(expected) ipConfiguration\(expected == 1 ? "" : "s"); got \(configs.count).")
        }
        var vnetKey: ResourceKey?
        var vnet: VirtualNetwork?
        var gatewaySubnet: Subnet?
        var usedIPs: Set<ResourceKey> = []
        for i in configs.indices {
            let field = "properties.ipConfigurations[\(i)]"
            let name = configs[i].name ?? (i == 0 ? "default" : "activeActive")
            try ResourceName.validate(name, field: "\(field).name")
            guard let subnetRef = configs[i].properties.subnet?.id else {
                throw ARMError.missing("\(field).properties.subnet.id", "the id of the virtual network's GatewaySubnet")
            }
            guard let sid = ResourceID(parsing: subnetRef), sid.type == .virtualNetworks, let child = sid.child,
                  child.type.lowercased() == "subnets" else {
                throw ARMError.invalid("\(field).properties.subnet.id", "'\(subnetRef)' is not a subnet id (…/virtualNetworks/VNET/subnets/GatewaySubnet)")
            }
            guard child.name == "GatewaySubnet" else {
                throw ARMError.rule("GatewaySubnetRequired", "\(field).properties.subnet.id",
                    "A gateway can only be placed in a subnet named exactly 'GatewaySubnet'; '\(child.name)' is not. Add a GatewaySubnet (/27 or larger recommended) to the virtual network.")
            }
            guard let v = world.virtualNetwork(sid.parent.description) else {
                throw ARMError(status: 400, code: "ReferencedResourceNotFound", message: "\(field).properties.subnet: virtual network '\(sid.parent)' was not found.", target: "\(field).properties.subnet.id")
            }
            if let vnetKey, vnetKey != sid.key {
                throw ARMError.rule("IpConfigurationsInDifferentVnets", "\(field).properties.subnet.id", "All ipConfigurations of a gateway must use the same virtual network's GatewaySubnet.")
            }
            if let oldVNet = old.flatMap({ world.vnetID(ofGateway: $0) }), ResourceID(parsing: oldVNet)?.key != sid.key {
                throw ARMError.conflict("GatewayVnetCannotChange", "\(field).properties.subnet.id", "A gateway cannot move to another virtual network; delete and recreate it.")
            }
            vnetKey = sid.key; vnet = v
            guard let subnet = v.properties.subnets?.first(where: { $0.name == "GatewaySubnet" }) else {
                throw ARMError(status: 400, code: "ReferencedResourceNotFound", message: "Virtual network '\(v.name ?? "")' has no subnet named 'GatewaySubnet'. Add one (/27 or larger recommended) first.", target: "\(field).properties.subnet.id")
            }
            gatewaySubnet = subnet
            configs[i].name = name
            configs[i].id = ResourceID(subscription: id.subscription, resourceGroup: id.resourceGroup, type: .virtualNetworkGateways,
                                       name: id.name, child: ("ipConfigurations", name)).description
            configs[i].etag = nil
            configs[i].properties.subnet = Reference(id: subnet.id ?? subnetRef)
            configs[i].properties.privateIPAllocationMethod = configs[i].properties.privateIPAllocationMethod ?? .Dynamic
            configs[i].properties.provisioningState = .Succeeded
            if let ipRef = configs[i].properties.publicIPAddress?.id {
                guard let ipID = ResourceID(parsing: ipRef), ipID.type == .publicIPAddresses, let ip = world.publicIP(ipRef) else {
                    throw ARMError(status: 400, code: "ReferencedResourceNotFound", message: "\(field).properties.publicIPAddress: public IP address '\(ipRef)' was not found.", target: "\(field).properties.publicIPAddress.id")
                }
                guard usedIPs.insert(ipID.key).inserted else {
                    throw ARMError.rule("PublicIPAddressInUse", "\(field).properties.publicIPAddress.id", "Each ipConfiguration needs its own public IP; '\(ip.name ?? "")' is given twice.")
                }
                if let holder = world.gateways.first(where: { g in
                    ResourceID(parsing: g.id ?? "")?.key != id.key &&
                    g.properties.ipConfigurations?.contains { $0.properties.publicIPAddress.flatMap { ResourceID(parsing: $0.id)?.key } == ipID.key } == true
                }) {
                    throw ARMError.conflict("PublicIPAddressInUse", "\(field).properties.publicIPAddress.id",
                        "Public IP '\(ip.name ?? "")' (\(ip.properties.ipAddress ?? "")) is already used by gateway '\(holder.name ?? "")'.")
                }
                configs[i].properties.publicIPAddress = Reference(id: ip.id ?? ipRef)
                configs[i].properties.privateIPAddress = nil
            } else if gatewayType == .Vpn {
                throw ARMError.missing("\(field).properties.publicIPAddress.id", "a Vpn gateway needs a public IP address resource")
            }
        }
        p.ipConfigurations = configs
        guard let vnet, let vnetID = vnet.id, let gatewaySubnet else { throw ARMError.missing("properties.ipConfigurations") }

        // The seed's central rule: one gateway of each type per virtual network.
        let others = world.gateways(inVNet: vnetID).filter { ResourceID(parsing: $0.id ?? "")?.key != id.key }
        if let same = others.first(where: { $0.properties.gatewayType == gatewayType }) {
            throw ARMError.conflict("VnetAlreadyHasGatewayOfType", "properties.ipConfigurations[0].properties.subnet.id",
                "Virtual network '\(vnet.name ?? "")' already has a \(gatewayType.rawValue) gateway ('\(same.name ?? "")'). Each virtual network can have only one gateway per gatewayType: one Vpn and one ExpressRoute.")
        }
        // A VNet that uses a peer's gateways (useRemoteGateways) cannot have its own.
        if old == nil, let usesRemote = vnet.properties.virtualNetworkPeerings?.first(where: { $0.properties.useRemoteGateways == true }) {
            throw ARMError.conflict("VnetUsesRemoteGateways", "properties.ipConfigurations[0].properties.subnet.id",
                "Virtual network '\(vnet.name ?? "")' uses the remote gateways of its peer through peering '\(usesRemote.name ?? "")' (useRemoteGateways). Set useRemoteGateways to false on that peering before creating a gateway here.")
        }
        let coexisting = others.first
        // GatewaySubnet size: /29 or larger; /27 or larger when Vpn and ExpressRoute coexist.
        let needed = coexisting == nil ? 29 : 27
        for prefix in gatewaySubnet.properties.prefixes where prefix.family == .v4 && prefix.length > needed {
            throw ARMError.rule("GatewaySubnetTooSmall", "properties.ipConfigurations[0].properties.subnet.id",
                coexisting == nil
                ? "GatewaySubnet \(prefix) of '\(vnet.name ?? "")' is too small: a gateway needs /29 or larger (/27 recommended)."
                : "GatewaySubnet \(prefix) of '\(vnet.name ?? "")' is too small for a Vpn and an ExpressRoute gateway side by side: they need /27 or larger.")
        }
        if let coexisting {
            let vpn = gatewayType == .Vpn ? (p.vpnType, sku) : (coexisting.properties.vpnType, coexisting.properties.sku.flatMap { GatewaySKU(caseInsensitive: $0.name ?? "") } ?? .VpnGw1)
            if vpn.0 != .RouteBased || vpn.1 == .Basic {
                throw ARMError.rule("CoexistenceRequiresRouteBasedVpnGateway", "properties.vpnType",
                    "A Vpn gateway can coexist with an ExpressRoute gateway only when it is RouteBased and not Basic (the Vpn gateway here is \(vpn.0?.rawValue ?? "?") \(vpn.1.rawValue)).")
            }
        }

        // BGP.
        let enableBgp = p.enableBgp ?? false
        p.enableBgp = enableBgp
        if enableBgp {
            if gatewayType == .Vpn && (!sku.supportsBGP || p.vpnType == .PolicyBased) {
                throw ARMError.rule("BgpNotSupported", "properties.enableBgp",
                    "BGP needs a RouteBased gateway with a SKU other than Basic (this one is \(p.vpnType?.rawValue ?? "") \(sku.rawValue)).")
            }
            var bgp = p.bgpSettings ?? BgpSettings()
            let asn = bgp.asn ?? 65515
            try BGPRules.validateGatewayASN(asn, field: "properties.bgpSettings.asn")
            bgp.asn = asn
            bgp.peerWeight = bgp.peerWeight ?? 0
            // The BGP speaker's address comes from GatewaySubnet: its last usable IPv4 addresses.
            if let v4 = gatewaySubnet.properties.prefixes.first(where: { $0.family == .v4 }) {
                let last = v4.address.adding(v4.size - 2)
                var addrs = [last.description]
                if activeActive { addrs.insert(v4.address.adding(v4.size - 3).description, at: 0) }
                bgp.bgpPeeringAddress = addrs.joined(separator: ",")
                bgp.bgpPeeringAddresses = zip(configs, addrs).map { cfg, a in
                    IPConfigurationBgpPeeringAddress(ipconfigurationId: cfg.id, defaultBgpIpAddresses: [a], customBgpIpAddresses: [], tunnelIpAddresses: [])
                }
            }
            p.bgpSettings = bgp
        } else if let asn = p.bgpSettings?.asn {
            try BGPRules.validateGatewayASN(asn, field: "properties.bgpSettings.asn")
        }

        // Point-to-site.
        if var vpc = p.vpnClientConfiguration {
            vpc = try admitP2S(vpc, gateway: id, vnet: vnet, vpnType: p.vpnType, sku: sku, world: world)
            p.vpnClientConfiguration = vpc
        }

        // Existing connections must still fit (PolicyBased ↔ connection count etc. can't change,
        // but a SKU downsize can drop the tunnel limit below what is in use).
        if old != nil {
            let tunnels = world.connections(onGateway: id.description).filter { $0.properties.connectionType != .ExpressRoute }.count
            if tunnels > sku.maxTunnels {
                throw ARMError.conflict("TooManyTunnelsForSku", "properties.sku.name",
                    "SKU \(sku.rawValue) allows \(sku.maxTunnels) site-to-site/VNet-to-VNet tunnels, but \(tunnels) connections use this gateway.")
            }
        }

        p.provisioningState = .Succeeded
        p.resourceGuid = old?.properties.resourceGuid ?? context.newGUID()
        r.properties = p
        return r
    }

    func admitP2S(_ input: VpnClientConfiguration, gateway id: ResourceID, vnet: VirtualNetwork, vpnType: VpnType?, sku: GatewaySKU, world: World) throws(ARMError) -> VpnClientConfiguration {
        var vpc = input
        let base = "properties.vpnClientConfiguration"
        if vpnType == .PolicyBased {
            throw ARMError.rule("PointToSiteNotSupportedOnPolicyBased", base,
                "Point-to-site needs a RouteBased gateway; PolicyBased gateways do not support it. Recreate the gateway as RouteBased.")
        }
        let pool = vpc.vpnClientAddressPool?.prefixes ?? []
        guard !pool.isEmpty else {
            throw ARMError.missing("\(base).vpnClientAddressPool.addressPrefixes", "the prefix client addresses are handed out from, e.g. [\"172.16.201.0/24\"]")
        }
        try noOverlapWithin(pool, field: "\(base).vpnClientAddressPool.addressPrefixes")
        var joined: [(String, [IPPrefix])] = [("virtual network '\(vnet.name ?? "")'", vnet.properties.addressSpace?.prefixes ?? [])]
        for peering in vnet.properties.virtualNetworkPeerings ?? [] {
            if let remote = world.virtualNetwork(peering.properties.remoteVirtualNetwork?.id) {
                joined.append(("peered virtual network '\(remote.name ?? "")'", remote.properties.addressSpace?.prefixes ?? []))
            }
        }
        for (spoke, _) in world.peeringsPointing(at: vnet.id ?? "") {
            joined.append(("peered virtual network '\(spoke.name ?? "")'", spoke.properties.addressSpace?.prefixes ?? []))
        }
        if let gw = world.gateway(id.description) {
            var withoutPool = gw
            withoutPool.properties.vpnClientConfiguration = nil
            joined += joinedSpaces(ofGateway: withoutPool, world: world)
        }
        for (what, prefixes) in joined {
            if let (a, b) = pool.firstOverlap(with: prefixes) {
                throw ARMError.rule("VpnClientAddressPoolOverlaps", "\(base).vpnClientAddressPool.addressPrefixes",
                    "Client address pool \(a) overlaps \(b) of \(what). Pick a pool outside every network the clients reach.")
            }
        }
        let protocols = vpc.vpnClientProtocols ?? [.SSTP]
        for (i, proto) in protocols.enumerated() {
            switch proto {
            case .SSTP: break
            case .IkeV2:
                throw ARMError.rule("VpnClientProtocolNotSupported", "\(base).vpnClientProtocols[\(i)]",
                    sku.maxIKEv2Clients == 0
                    ? "IkeV2 point-to-site is not available with the \(sku.rawValue) SKU; use SSTP."
                    : "IkeV2 point-to-site is not implemented by vpngw yet; use SSTP.")
            case .OpenVPN:
                throw ARMError.rule("VpnClientProtocolNotSupported", "\(base).vpnClientProtocols[\(i)]", "OpenVPN point-to-site is not implemented by vpngw; use SSTP.")
            }
        }
        vpc.vpnClientProtocols = protocols
        let auth = vpc.vpnAuthenticationTypes ?? [.Certificate]
        for (i, a) in auth.enumerated() {
            switch a {
            case .Certificate, .Password: break
            case .Radius:
                throw ARMError.rule("VpnAuthenticationTypeNotSupported", "\(base).vpnAuthenticationTypes[\(i)]", "RADIUS is not implemented by vpngw yet; use Certificate or Password (vpnClientUsers).")
            case .AAD:
                throw ARMError.rule("VpnAuthenticationTypeNotSupported", "\(base).vpnAuthenticationTypes[\(i)]", "AAD authentication needs OpenVPN, which vpngw does not serve; use Certificate or Password.")
            }
        }
        vpc.vpnAuthenticationTypes = auth
        let roots = vpc.vpnClientRootCertificates ?? []
        if roots.count > 20 {
            throw ARMError.rule("TooManyRootCertificates", "\(base).vpnClientRootCertificates", "At most 20 root certificates can be uploaded; got \(roots.count).")
        }
        var rootNames: Set<String> = []
        for i in roots.indices {
            let field = "\(base).vpnClientRootCertificates[\(i)]"
            guard let name = roots[i].name else { throw ARMError.missing("\(field).name") }
            guard rootNames.insert(name.lowercased()).inserted else { throw ARMError.rule("DuplicateResourceName", "\(field).name", "Root certificate name '\(name)' is used twice.") }
            guard let data = roots[i].properties.publicCertData else {
                throw ARMError.missing("\(field).properties.publicCertData", "the base64 DER of the root certificate (the PEM body without the BEGIN/END lines)")
            }
            let compact = data.filter { !$0.isWhitespace }
            guard let der = Data(base64Encoded: compact), der.count > 16, der.first == 0x30 else {
                throw ARMError.invalid("\(field).properties.publicCertData", "not base64 of a DER X.509 certificate (paste the PEM body without the BEGIN/END lines)")
            }
            vpc.vpnClientRootCertificates?[i].properties.publicCertData = compact
            vpc.vpnClientRootCertificates?[i].id = ResourceID(subscription: id.subscription, resourceGroup: id.resourceGroup, type: .virtualNetworkGateways, name: id.name, child: ("vpnClientRootCertificates", name)).description
            vpc.vpnClientRootCertificates?[i].properties.provisioningState = .Succeeded
        }
        for i in (vpc.vpnClientRevokedCertificates ?? []).indices {
            let field = "\(base).vpnClientRevokedCertificates[\(i)]"
            guard let name = vpc.vpnClientRevokedCertificates?[i].name else { throw ARMError.missing("\(field).name") }
            guard let tp = vpc.vpnClientRevokedCertificates?[i].properties.thumbprint else { throw ARMError.missing("\(field).properties.thumbprint") }
            let hex = tp.filter { !$0.isWhitespace && $0 != ":" }.uppercased()
            guard hex.count == 40, hex.allSatisfy({ $0.isHexDigit }) else {
                throw ARMError.invalid("\(field).properties.thumbprint", "'\(tp)' is not a SHA-1 thumbprint (40 hex digits)")
            }
            vpc.vpnClientRevokedCertificates?[i].properties.thumbprint = hex
            vpc.vpnClientRevokedCertificates?[i].id = ResourceID(subscription: id.subscription, resourceGroup: id.resourceGroup, type: .virtualNetworkGateways, name: id.name, child: ("vpnClientRevokedCertificates", name)).description
            vpc.vpnClientRevokedCertificates?[i].properties.provisioningState = .Succeeded
        }
        var userNames: Set<String> = []
        for (i, user) in (vpc.vpnClientUsers ?? []).enumerated() {
            let field = "\(base).vpnClientUsers[\(i)]"
            guard !user.name.isEmpty, user.name.count <= 64, user.name.unicodeScalars.allSatisfy({ $0.isASCII && $0.value > 0x20 && $0.value < 0x7f }) else {
                throw ARMError.invalid("\(field).name", "'\(user.name)' is not a valid user name (1–64 printable ASCII characters, no spaces)")
            }
            guard userNames.insert(user.name.lowercased()).inserted else { throw ARMError.rule("DuplicateResourceName", "\(field).name", "User '\(user.name)' is listed twice.") }
            guard let pw = user.password, (1...128).contains(pw.count) else {
                throw ARMError.invalid("\(field).password", "give a password of 1–128 characters")
            }
        }
        if auth.contains(.Password) && (vpc.vpnClientUsers ?? []).isEmpty {
            throw ARMError.missing("\(base).vpnClientUsers", "Password authentication needs at least one user {\"name\",\"password\"}")
        }
        return vpc
    }
}
