import Foundation
import Testing
import GatewayModel

@Suite("Virtual network gateway rules")
struct GatewayTests {
    let subnetTarget = "properties.ipConfigurations[0].properties.subnet.id"

    // MARK: The seed's central rule

    @Test func oneGatewayPerTypePerVnet() async throws {
        let lab = try await Lab.make()
        try await lab.hub("vnet1", "10.1.0.0/16", gateway: "gw1")
        try await lab.ip("ip2")
        let err = await expectRefusal(409, "VnetAlreadyHasGatewayOfType", target: subnetTarget,
                                      mentions: ["'vnet1'", "'gw1'", "Vpn", "one Vpn and one ExpressRoute"], lab: lab) {
            try await lab.put(.virtualNetworkGateways, "gw2", gatewayBody(vnet: "vnet1", ip: "ip2"))
        }
        #expect(err != nil)
        // A PolicyBased second one is the same type.
        await expectRefusal(409, "VnetAlreadyHasGatewayOfType", lab: lab) {
            try await lab.put(.virtualNetworkGateways, "gw2", gatewayBody(vnet: "vnet1", ip: "ip2", vpnType: "PolicyBased", sku: "Basic"))
        }
        // One Vpn plus one ExpressRoute is accepted; a second ExpressRoute is not.
        let er = try await lab.gateway("er1", vnet: "vnet1", type: "ExpressRoute")
        #expect(er.properties.gatewayType == .ExpressRoute && er.properties.vpnType == nil)
        await expectRefusal(409, "VnetAlreadyHasGatewayOfType", target: subnetTarget, mentions: ["ExpressRoute", "'er1'"], lab: lab) {
            try await lab.put(.virtualNetworkGateways, "er2", gatewayBody(vnet: "vnet1", ip: nil, type: "ExpressRoute", sku: "ErGw2AZ"))
        }
        // The same gateway re-PUT is not a second gateway.
        try await lab.put(.virtualNetworkGateways, "gw1", gatewayBody(vnet: "vnet1", ip: "gw1-ip"))
        #expect(await lab.world.gateways(inVNet: vnetID("vnet1")).count == 2)
    }

    @Test func expressRouteGatewayNeedsNoPublicIP() async throws {
        let lab = try await Lab.make()
        try await lab.vnet("v", ["10.1.0.0/16"], gatewaySubnet: "10.1.255.0/27")
        let g = try #require(try await lab.put(.virtualNetworkGateways, "er", gatewayBody(vnet: "v", ip: nil, type: "ExpressRoute", sku: "ErGw1AZ")).gateway)
        #expect(g.properties.ipConfigurations?.first?.properties.publicIPAddress == nil)
    }

    // MARK: GatewaySubnet

    @Test func subnetMustBeNamedGatewaySubnet() async throws {
        let lab = try await Lab.make()
        try await lab.vnet("v", ["10.1.0.0/16"], subnets: [("Frontend", "10.1.0.0/27"), ("gatewaysubnet", "10.1.1.0/27")])
        try await lab.ip("ip")
        await expectRefusal(400, "GatewaySubnetRequired", target: subnetTarget, mentions: ["'Frontend'", "GatewaySubnet"], lab: lab) {
            try await lab.put(.virtualNetworkGateways, "gw", gatewayBody(vnet: "v", ip: "ip", subnet: "Frontend"))
        }
        await expectRefusal(400, "GatewaySubnetRequired", target: subnetTarget, mentions: ["'gatewaysubnet'"], lab: lab) {
            try await lab.put(.virtualNetworkGateways, "gw", gatewayBody(vnet: "v", ip: "ip", subnet: "gatewaysubnet"))
        }
        await expectRefusal(400, "ReferencedResourceNotFound", target: subnetTarget, mentions: ["no subnet named 'GatewaySubnet'"], lab: lab) {
            try await lab.put(.virtualNetworkGateways, "gw", gatewayBody(vnet: "v", ip: "ip"))
        }
        await expectRefusal(400, "ReferencedResourceNotFound", target: subnetTarget, mentions: ["ghost"], lab: lab) {
            try await lab.put(.virtualNetworkGateways, "gw", gatewayBody(vnet: "ghost", ip: "ip"))
        }
        await expectRefusal(400, "MissingRequiredProperty", target: "properties.ipConfigurations", lab: lab) {
            try await lab.put(.virtualNetworkGateways, "gw", props(["gatewayType": "Vpn"]))
        }
        try await lab.vnet("v", ["10.1.0.0/16"], gatewaySubnet: "10.1.2.0/27", subnets: [("Frontend", "10.1.0.0/27")])
        try await lab.put(.virtualNetworkGateways, "gw", gatewayBody(vnet: "v", ip: "ip"))
    }

    @Test("GatewaySubnet /29 or larger", arguments: [("10.1.255.0/29", true), ("10.1.255.0/30", false), ("10.1.255.0/24", true)])
    func gatewaySubnetSize(prefix: String, ok: Bool) async throws {
        let lab = try await Lab.make()
        try await lab.vnet("v", ["10.1.0.0/16"], gatewaySubnet: prefix)
        try await lab.ip("ip")
        if ok {
            try await lab.put(.virtualNetworkGateways, "gw", gatewayBody(vnet: "v", ip: "ip"))
        } else {
            await expectRefusal(400, "GatewaySubnetTooSmall", target: subnetTarget, mentions: [prefix, "/29"], lab: lab) {
                try await lab.put(.virtualNetworkGateways, "gw", gatewayBody(vnet: "v", ip: "ip"))
            }
        }
    }

    @Test func coexistenceNeedsSlash27() async throws {
        let lab = try await Lab.make()
        try await lab.vnet("v", ["10.1.0.0/16"], gatewaySubnet: "10.1.255.0/28")
        try await lab.gateway("vpn", vnet: "v")
        await expectRefusal(400, "GatewaySubnetTooSmall", target: subnetTarget, mentions: ["10.1.255.0/28", "/27", "ExpressRoute"], lab: lab) {
            try await lab.put(.virtualNetworkGateways, "er", gatewayBody(vnet: "v", ip: nil, type: "ExpressRoute", sku: "ErGw1AZ"))
        }
        let ok = try await Lab.make()
        try await ok.hub("v", "10.1.0.0/16", gateway: "vpn")
        try await ok.put(.virtualNetworkGateways, "er", gatewayBody(vnet: "v", ip: nil, type: "ExpressRoute", sku: "ErGw1AZ"))
    }

    @Test("coexistence requires a RouteBased, non-Basic Vpn gateway", arguments: [("RouteBased", "Basic"), ("PolicyBased", "Basic")])
    func coexistenceRequiresRouteBased(vpnType: String, sku: String) async throws {
        // Vpn first, then ExpressRoute.
        let lab = try await Lab.make()
        try await lab.hub("v", "10.1.0.0/16", gateway: "vpn", vpnType: vpnType, sku: sku)
        await expectRefusal(400, "CoexistenceRequiresRouteBasedVpnGateway", target: "properties.vpnType", mentions: [vpnType, "Basic"], lab: lab) {
            try await lab.put(.virtualNetworkGateways, "er", gatewayBody(vnet: "v", ip: nil, type: "ExpressRoute", sku: "ErGw1AZ"))
        }
        // ExpressRoute first, then Vpn.
        let lab2 = try await Lab.make()
        try await lab2.vnet("v", ["10.1.0.0/16"], gatewaySubnet: "10.1.255.0/27")
        try await lab2.put(.virtualNetworkGateways, "er", gatewayBody(vnet: "v", ip: nil, type: "ExpressRoute", sku: "ErGw1AZ"))
        try await lab2.ip("ip")
        await expectRefusal(400, "CoexistenceRequiresRouteBasedVpnGateway", mentions: [vpnType], lab: lab2) {
            try await lab2.put(.virtualNetworkGateways, "vpn", gatewayBody(vnet: "v", ip: "ip", vpnType: vpnType, sku: sku))
        }
        try await lab2.put(.virtualNetworkGateways, "vpn", gatewayBody(vnet: "v", ip: "ip", sku: "VpnGw2"))
    }

    // MARK: vpnType, SKU, generation

    @Test func policyBasedOnlyWithBasic() async throws {
        let lab = try await Lab.make()
        try await lab.vnet("v", ["10.1.0.0/16"], gatewaySubnet: "10.1.255.0/27")
        try await lab.ip("ip")
        await expectRefusal(400, "PolicyBasedGatewayRequiresBasicSku", target: "properties.sku.name", mentions: ["PolicyBased", "VpnGw1", "RouteBased"], lab: lab) {
            try await lab.put(.virtualNetworkGateways, "gw", gatewayBody(vnet: "v", ip: "ip", vpnType: "PolicyBased", sku: "VpnGw1"))
        }
        let g = try #require(try await lab.put(.virtualNetworkGateways, "gw", gatewayBody(vnet: "v", ip: "ip", vpnType: "PolicyBased", sku: "Basic")).gateway)
        #expect(g.properties.vpnType == .PolicyBased && g.properties.sku?.name == "Basic")
    }

    @Test func typesAndGenerationAreImmutable() async throws {
        let lab = try await Lab.make()
        try await lab.hub("v", "10.1.0.0/16", gateway: "gw", sku: "Basic")
        await expectRefusal(409, "VpnTypeCannotChange", target: "properties.vpnType",
                            mentions: ["RouteBased", "PolicyBased", "delete", "create the gateway again"], lab: lab) {
            try await lab.put(.virtualNetworkGateways, "gw", gatewayBody(vnet: "v", ip: "gw-ip", vpnType: "PolicyBased", sku: "Basic"))
        }
        await expectRefusal(409, "GatewayTypeCannotChange", target: "properties.gatewayType",
                            mentions: ["Vpn", "ExpressRoute", "Delete the gateway and create a new one"], lab: lab) {
            try await lab.put(.virtualNetworkGateways, "gw", gatewayBody(vnet: "v", ip: "gw-ip", type: "ExpressRoute", sku: "ErGw1AZ"))
        }
        let lab2 = try await Lab.make()
        try await lab2.hub("v", "10.1.0.0/16", gateway: "gw", sku: "VpnGw2")
        #expect(try await lab2.get(.virtualNetworkGateways, "gw").gateway?.properties.vpnGatewayGeneration == .Generation1)
        await expectRefusal(409, "GatewayGenerationCannotChange", target: "properties.vpnGatewayGeneration",
                            mentions: ["Generation1", "Generation2", "delete and recreate"], lab: lab2) {
            try await lab2.put(.virtualNetworkGateways, "gw", gatewayBody(vnet: "v", ip: "gw-ip", sku: "VpnGw2", generation: "Generation2"))
        }
        // Re-PUT with the same settings (and settings left out) is accepted.
        try await lab2.put(.virtualNetworkGateways, "gw", gatewayBody(vnet: "v", ip: "gw-ip", vpnType: nil, sku: nil))
    }

    @Test func gatewayCannotMoveToAnotherVnet() async throws {
        let lab = try await Lab.make()
        try await lab.hub("v", "10.1.0.0/16", gateway: "gw")
        try await lab.vnet("w", ["10.2.0.0/16"], gatewaySubnet: "10.2.255.0/27")
        await expectRefusal(409, "GatewayVnetCannotChange", target: subnetTarget, lab: lab) {
            try await lab.put(.virtualNetworkGateways, "gw", gatewayBody(vnet: "w", ip: "gw-ip"))
        }
    }

    @Test("SKU must exist for the gateway type", arguments: [
        ("Vpn", "ErGw1AZ", false), ("ExpressRoute", "VpnGw1", false), ("ExpressRoute", "Basic", false),
        ("Vpn", "Standard", true), ("ExpressRoute", "Standard", true), ("ExpressRoute", "UltraPerformance", true), ("Vpn", "VpnGw3AZ", true),
    ])
    func skuForType(type: String, sku: String, ok: Bool) async throws {
        let lab = try await Lab.make()
        try await lab.vnet("v", ["10.1.0.0/16"], gatewaySubnet: "10.1.255.0/27")
        try await lab.ip("ip")
        let b = gatewayBody(vnet: "v", ip: "ip", type: type, sku: sku)
        if ok {
            let g = try #require(try await lab.put(.virtualNetworkGateways, "gw", b).gateway)
            #expect(g.properties.sku?.name == sku)
        } else {
            await expectRefusal(400, "InvalidGatewaySkuForGatewayType", target: "properties.sku.name", mentions: [sku, type, "allowed:"], lab: lab) {
                try await lab.put(.virtualNetworkGateways, "gw", b)
            }
        }
    }

    @Test func unknownSkuListsAllowedValues() async throws {
        let lab = try await Lab.make()
        try await lab.vnet("v", ["10.1.0.0/16"], gatewaySubnet: "10.1.255.0/27")
        try await lab.ip("ip")
        await expectRefusal(400, "InvalidRequestFormat", target: "properties.sku.name", mentions: ["VpnGw9", "allowed values", "VpnGw5AZ"], lab: lab) {
            try await lab.put(.virtualNetworkGateways, "gw", gatewayBody(vnet: "v", ip: "ip", sku: "VpnGw9"))
        }
        // SKU names are case-insensitive and normalised.
        let g = try #require(try await lab.put(.virtualNetworkGateways, "gw", gatewayBody(vnet: "v", ip: "ip", sku: "vpngw2")).gateway)
        #expect(g.properties.sku?.name == "VpnGw2")
    }

    @Test("generation per SKU", arguments: [
        ("Basic", "Generation1", true), ("Basic", "Generation2", false),
        ("VpnGw1", "Generation1", true), ("VpnGw1", "Generation2", false), ("VpnGw1AZ", "Generation2", false),
        ("VpnGw2", "Generation2", true), ("VpnGw3", "Generation1", true),
        ("VpnGw4", "Generation1", false), ("VpnGw4", "Generation2", true), ("VpnGw5", "Generation1", false), ("VpnGw5AZ", "Generation2", true),
    ])
    func generation(sku: String, generation: String, ok: Bool) async throws {
        let lab = try await Lab.make()
        try await lab.vnet("v", ["10.1.0.0/16"], gatewaySubnet: "10.1.255.0/27")
        try await lab.ip("ip")
        let b = gatewayBody(vnet: "v", ip: "ip", sku: sku, generation: generation)
        if ok {
            try await lab.put(.virtualNetworkGateways, "gw", b)
        } else {
            await expectRefusal(400, "InvalidGatewayGeneration", target: "properties.vpnGatewayGeneration", mentions: [sku, generation], lab: lab) {
                try await lab.put(.virtualNetworkGateways, "gw", b)
            }
        }
    }

    @Test func defaultGenerationFollowsTheSku() async throws {
        let lab = try await Lab.make()
        try await lab.hub("v", "10.1.0.0/16", gateway: "gw", sku: "VpnGw4")
        #expect(try await lab.get(.virtualNetworkGateways, "gw").gateway?.properties.vpnGatewayGeneration == .Generation2)
    }

    @Test("resize within a family only, never Basic", arguments: [
        ("VpnGw1", "VpnGw2", true), ("VpnGw2", "VpnGw3", true), ("VpnGw3", "VpnGw2", true), ("VpnGw1AZ", "VpnGw3AZ", true),
        ("Standard", "HighPerformance", true),
        ("VpnGw1", "VpnGw1AZ", false), ("VpnGw2AZ", "VpnGw2", false), ("Basic", "VpnGw1", false), ("VpnGw1", "Basic", false),
        ("Standard", "VpnGw1", false),
    ])
    func resize(from: String, to: String, ok: Bool) async throws {
        let lab = try await Lab.make()
        try await lab.hub("v", "10.1.0.0/16", gateway: "gw", sku: from)
        let b = gatewayBody(vnet: "v", ip: "gw-ip", sku: to)
        if ok {
            let g = try #require(try await lab.put(.virtualNetworkGateways, "gw", b).gateway)
            #expect(g.properties.sku?.name == to)
        } else {
            await expectRefusal(409, "GatewaySkuCannotBeResized", target: "properties.sku.name", mentions: [from, to, "Delete and recreate"], lab: lab) {
                try await lab.put(.virtualNetworkGateways, "gw", b)
            }
        }
    }

    @Test func downsizeBelowTunnelsInUseRefused() async throws {
        let lab = try await Lab.make()
        try await lab.hub("v", "10.1.0.0/16", gateway: "gw", sku: "HighPerformance")
        for i in 0..<11 {
            try await lab.site("s\(i)", ["192.168.\(i).0/24"])
            try await lab.connection("c\(i)", connectionBody(gw1: "gw", site: "s\(i)"))
        }
        await expectRefusal(409, "TooManyTunnelsForSku", target: "properties.sku.name", mentions: ["Standard", "10", "11"], lab: lab) {
            try await lab.put(.virtualNetworkGateways, "gw", gatewayBody(vnet: "v", ip: "gw-ip", sku: "Standard"))
        }
    }

    // MARK: Active-active and public IPs

    @Test func activeActiveNeedsTwoConfigurationsAndNonBasic() async throws {
        let lab = try await Lab.make()
        try await lab.vnet("v", ["10.1.0.0/16"], gatewaySubnet: "10.1.255.0/27")
        try await lab.ip("ip1"); try await lab.ip("ip2")
        await expectRefusal(400, "InvalidIpConfigurationCount", target: "properties.ipConfigurations", mentions: ["activeActive=true", "2", "got 1"], lab: lab) {
            try await lab.put(.virtualNetworkGateways, "gw", gatewayBody(vnet: "v", ip: "ip1", activeActive: true))
        }
        await expectRefusal(400, "InvalidIpConfigurationCount", target: "properties.ipConfigurations", mentions: ["activeActive=false", "got 2"], lab: lab) {
            try await lab.put(.virtualNetworkGateways, "gw", gatewayBody(vnet: "v", ip: "ip1", ip2: "ip2"))
        }
        await expectRefusal(400, "ActiveActiveNotSupported", target: "properties.activeActive", mentions: ["Basic"], lab: lab) {
            try await lab.put(.virtualNetworkGateways, "gw", gatewayBody(vnet: "v", ip: "ip1", ip2: "ip2", sku: "Basic", activeActive: true))
        }
        await expectRefusal(400, "ActiveActiveNotSupported", mentions: ["PolicyBased"], lab: lab) {
            try await lab.put(.virtualNetworkGateways, "gw", gatewayBody(vnet: "v", ip: "ip1", ip2: "ip2", vpnType: "PolicyBased", sku: "Basic", activeActive: true))
        }
        await expectRefusal(400, "PublicIPAddressInUse", target: "properties.ipConfigurations[1].properties.publicIPAddress.id", mentions: ["ip1"], lab: lab) {
            try await lab.put(.virtualNetworkGateways, "gw", gatewayBody(vnet: "v", ip: "ip1", ip2: "ip1", activeActive: true))
        }
        let g = try #require(try await lab.put(.virtualNetworkGateways, "gw", gatewayBody(vnet: "v", ip: "ip1", ip2: "ip2", sku: "VpnGw2", activeActive: true)).gateway)
        #expect(g.properties.ipConfigurations?.count == 2 && g.properties.activeActive == true)
    }

    @Test func vpnGatewayNeedsItsOwnPublicIP() async throws {
        let lab = try await Lab.make()
        try await lab.hub("v1", "10.1.0.0/16", gateway: "gw1")
        try await lab.vnet("v2", ["10.2.0.0/16"], gatewaySubnet: "10.2.255.0/27")
        await expectRefusal(400, "MissingRequiredProperty", target: "properties.ipConfigurations[0].properties.publicIPAddress.id", mentions: ["public IP"], lab: lab) {
            try await lab.put(.virtualNetworkGateways, "gw2", gatewayBody(vnet: "v2", ip: nil))
        }
        await expectRefusal(400, "ReferencedResourceNotFound", target: "properties.ipConfigurations[0].properties.publicIPAddress.id", mentions: ["nope"], lab: lab) {
            try await lab.put(.virtualNetworkGateways, "gw2", gatewayBody(vnet: "v2", ip: "nope"))
        }
        await expectRefusal(409, "PublicIPAddressInUse", target: "properties.ipConfigurations[0].properties.publicIPAddress.id", mentions: ["gw1-ip", "'gw1'"], lab: lab) {
            try await lab.put(.virtualNetworkGateways, "gw2", gatewayBody(vnet: "v2", ip: "gw1-ip"))
        }
        try await lab.gateway("gw2", vnet: "v2")
        let ip = try #require(try await lab.get(.publicIPAddresses, "gw2-ip").publicIP)
        #expect(ip.properties.ipConfiguration?.id == gwID("gw2") + "/ipConfigurations/default")
    }

    // MARK: BGP

    @Test func bgpNotOnBasicOrPolicyBased() async throws {
        for (vpnType, sku) in [("RouteBased", "Basic"), ("PolicyBased", "Basic")] {
            let lab = try await Lab.make()
            try await lab.vnet("v", ["10.1.0.0/16"], gatewaySubnet: "10.1.255.0/27")
            try await lab.ip("ip")
            await expectRefusal(400, "BgpNotSupported", target: "properties.enableBgp", mentions: [vpnType, "Basic"], lab: lab) {
                try await lab.put(.virtualNetworkGateways, "gw", gatewayBody(vnet: "v", ip: "ip", vpnType: vpnType, sku: sku, enableBgp: true))
            }
        }
        let lab = try await Lab.make()
        let g = try await lab.hub("v", "10.1.0.0/16", gateway: "gw", enableBgp: true)
        #expect(g.properties.bgpSettings?.asn == 65515)
        #expect(g.properties.bgpSettings?.bgpPeeringAddress == "10.1.255.30")
    }

    @Test("gateway ASN", arguments: [
        (Int64(65515), true), (65010, true), (64512, true), (65521, true), (4_200_000_000, true),
        (65517, false), (65520, false), (8075, false), (12076, false), (23456, false), (64500, false), (65535, false),
    ])
    func gatewayASN(asn: Int64, ok: Bool) async throws {
        let lab = try await Lab.make()
        try await lab.vnet("v", ["10.1.0.0/16"], gatewaySubnet: "10.1.255.0/27")
        try await lab.ip("ip")
        let b = gatewayBody(vnet: "v", ip: "ip", enableBgp: true, asn: asn)
        if ok {
            #expect(try await lab.put(.virtualNetworkGateways, "gw", b).gateway?.properties.bgpSettings?.asn == asn)
        } else {
            await expectRefusal(400, "ReservedAsn", target: "properties.bgpSettings.asn", mentions: ["\(asn)", "reserved"], lab: lab) {
                try await lab.put(.virtualNetworkGateways, "gw", b)
            }
        }
    }

    @Test("ASN out of range", arguments: [Int64(0), 4_294_967_295, -1])
    func asnRange(asn: Int64) async throws {
        let lab = try await Lab.make()
        try await lab.vnet("v", ["10.1.0.0/16"], gatewaySubnet: "10.1.255.0/27")
        try await lab.ip("ip")
        await expectRefusal(400, "InvalidRequestFormat", target: "properties.bgpSettings.asn", mentions: ["\(asn)", "1–4294967294"], lab: lab) {
            try await lab.put(.virtualNetworkGateways, "gw", gatewayBody(vnet: "v", ip: "ip", enableBgp: true, asn: asn))
        }
        await expectRefusal(400, "InvalidRequestFormat", target: "properties.bgpSettings.asn", lab: lab) {
            try await lab.put(.localNetworkGateways, "site", localGatewayBody(asn: asn))
        }
    }

    // MARK: Point-to-site

    let p2sBase = "properties.vpnClientConfiguration"

    func p2sLab() async throws -> Lab {
        let lab = try await Lab.make()
        try await lab.vnet("v", ["10.1.0.0/16"], gatewaySubnet: "10.1.255.0/27")
        try await lab.ip("ip")
        return lab
    }

    @Test func p2sOnlyOnRouteBasedAndVpn() async throws {
        let lab = try await p2sLab()
        await expectRefusal(400, "PointToSiteNotSupportedOnPolicyBased", target: p2sBase, mentions: ["RouteBased"], lab: lab) {
            try await lab.put(.virtualNetworkGateways, "gw", gatewayBody(vnet: "v", ip: "ip", vpnType: "PolicyBased", sku: "Basic", p2s: p2sConfig()))
        }
        await expectRefusal(400, "ExpressRouteGatewayCannotHaveP2S", target: p2sBase, lab: lab) {
            try await lab.put(.virtualNetworkGateways, "gw", gatewayBody(vnet: "v", ip: nil, type: "ExpressRoute", sku: "ErGw1AZ", p2s: p2sConfig()))
        }
        let g = try #require(try await lab.put(.virtualNetworkGateways, "gw", gatewayBody(vnet: "v", ip: "ip", p2s: p2sConfig(rootCount: 1))).gateway)
        let vpc = try #require(g.properties.vpnClientConfiguration)
        #expect(vpc.vpnClientProtocols == [.SSTP] && vpc.vpnAuthenticationTypes == [.Certificate])
        // SSTP on Basic RouteBased works too.
        let basic = try await p2sLab()
        try await basic.put(.virtualNetworkGateways, "gw", gatewayBody(vnet: "v", ip: "ip", sku: "Basic", p2s: p2sConfig()))
    }

    @Test func p2sPoolRequiredAndNotOverlapping() async throws {
        let lab = try await p2sLab()
        let t = "\(p2sBase).vpnClientAddressPool.addressPrefixes"
        await expectRefusal(400, "MissingRequiredProperty", target: t, lab: lab) {
            try await lab.put(.virtualNetworkGateways, "gw", gatewayBody(vnet: "v", ip: "ip", p2s: p2sConfig(pool: nil)))
        }
        await expectRefusal(400, "VpnClientAddressPoolOverlaps", target: t, mentions: ["10.1.200.0/24", "virtual network 'v'"], lab: lab) {
            try await lab.put(.virtualNetworkGateways, "gw", gatewayBody(vnet: "v", ip: "ip", p2s: p2sConfig(pool: ["10.1.200.0/24"])))
        }
        await expectRefusal(400, "AddressPrefixesOverlap", target: "\(t)[1]", lab: lab) {
            try await lab.put(.virtualNetworkGateways, "gw", gatewayBody(vnet: "v", ip: "ip", p2s: p2sConfig(pool: ["172.16.0.0/16", "172.16.1.0/24"])))
        }
        // Peered VNet.
        try await lab.vnet("peer", ["10.2.0.0/16"])
        try await lab.vnet("v", ["10.1.0.0/16"], gatewaySubnet: "10.1.255.0/27", peerings: [peering("to-peer", remote: "peer")])
        await expectRefusal(400, "VpnClientAddressPoolOverlaps", target: t, mentions: ["10.2.0.0/24", "peered virtual network 'peer'"], lab: lab) {
            try await lab.put(.virtualNetworkGateways, "gw", gatewayBody(vnet: "v", ip: "ip", p2s: p2sConfig(pool: ["10.2.0.0/24"])))
        }
        // Connected site: the pool is added after the connection exists.
        try await lab.put(.virtualNetworkGateways, "gw", gatewayBody(vnet: "v", ip: "ip"))
        try await lab.site("site", ["172.16.201.0/24"])
        try await lab.connection("c", connectionBody(gw1: "gw", site: "site"))
        await expectRefusal(400, "VpnClientAddressPoolOverlaps", target: t, mentions: ["172.16.201.0/24", "'site'"], lab: lab) {
            try await lab.put(.virtualNetworkGateways, "gw", gatewayBody(vnet: "v", ip: "ip", p2s: p2sConfig(pool: ["172.16.201.0/24"])))
        }
        try await lab.put(.virtualNetworkGateways, "gw", gatewayBody(vnet: "v", ip: "ip", p2s: p2sConfig(pool: ["172.16.202.0/24"])))
    }

    @Test("unsupported P2S protocols and auth types are refused by name", arguments: [
        (["SSTP", "IkeV2"], ["Certificate"], "VpnClientProtocolNotSupported", "vpnClientProtocols[1]", "IkeV2"),
        (["OpenVPN"], ["Certificate"], "VpnClientProtocolNotSupported", "vpnClientProtocols[0]", "OpenVPN"),
        (["SSTP"], ["Radius"], "VpnAuthenticationTypeNotSupported", "vpnAuthenticationTypes[0]", "RADIUS"),
        (["SSTP"], ["Certificate", "AAD"], "VpnAuthenticationTypeNotSupported", "vpnAuthenticationTypes[1]", "AAD"),
    ])
    func p2sUnsupported(protocols: [String], auth: [String], code: String, field: String, name: String) async throws {
        let lab = try await p2sLab()
        await expectRefusal(400, code, target: "\(p2sBase).\(field)", mentions: [name, "vpngw"], lab: lab) {
            try await lab.put(.virtualNetworkGateways, "gw", gatewayBody(vnet: "v", ip: "ip", p2s: p2sConfig(protocols: protocols, auth: auth)))
        }
    }

    @Test func p2sCertificates() async throws {
        let lab = try await p2sLab()
        await expectRefusal(400, "TooManyRootCertificates", target: "\(p2sBase).vpnClientRootCertificates", mentions: ["20", "21"], lab: lab) {
            try await lab.put(.virtualNetworkGateways, "gw", gatewayBody(vnet: "v", ip: "ip", p2s: p2sConfig(rootCount: 21)))
        }
        for bad in ["not base64!!", Data("hello world, not a certificate".utf8).base64EncodedString()] {
            await expectRefusal(400, "InvalidRequestFormat", target: "\(p2sBase).vpnClientRootCertificates[0].properties.publicCertData", mentions: ["base64", "DER"], lab: lab) {
                try await lab.put(.virtualNetworkGateways, "gw", gatewayBody(vnet: "v", ip: "ip", p2s: p2sConfig(rootCount: 1, rootData: bad)))
            }
        }
        for bad in ["XYZ", String(repeating: "a", count: 39), String(repeating: "g", count: 40)] {
            await expectRefusal(400, "InvalidRequestFormat", target: "\(p2sBase).vpnClientRevokedCertificates[0].properties.thumbprint", mentions: ["'\(bad)'", "40 hex"], lab: lab) {
                try await lab.put(.virtualNetworkGateways, "gw", gatewayBody(vnet: "v", ip: "ip", p2s: p2sConfig(revoked: [bad])))
            }
        }
        let thumb = "a1:b2:c3:d4:e5:f6:07:18:29:3a:4b:5c:6d:7e:8f:90:a1:b2:c3:d4"
        let g = try #require(try await lab.put(.virtualNetworkGateways, "gw", gatewayBody(vnet: "v", ip: "ip",
            p2s: p2sConfig(rootCount: 20, rootData: String(fakeCertData.prefix(20)) + "\n" + String(fakeCertData.dropFirst(20)), revoked: [thumb]))).gateway)
        let vpc = try #require(g.properties.vpnClientConfiguration)
        #expect(vpc.vpnClientRootCertificates?.count == 20)
        #expect(vpc.vpnClientRootCertificates?.first?.properties.publicCertData == fakeCertData)
        #expect(vpc.vpnClientRevokedCertificates?.first?.properties.thumbprint == "A1B2C3D4E5F60718293A4B5C6D7E8F90A1B2C3D4")
    }

    @Test func passwordAuthNeedsUsers() async throws {
        let lab = try await p2sLab()
        await expectRefusal(400, "MissingRequiredProperty", target: "\(p2sBase).vpnClientUsers", mentions: ["Password"], lab: lab) {
            try await lab.put(.virtualNetworkGateways, "gw", gatewayBody(vnet: "v", ip: "ip", p2s: p2sConfig(auth: ["Password"])))
        }
        await expectRefusal(400, "InvalidRequestFormat", target: "\(p2sBase).vpnClientUsers[0].name", lab: lab) {
            try await lab.put(.virtualNetworkGateways, "gw", gatewayBody(vnet: "v", ip: "ip", p2s: p2sConfig(auth: ["Password"], users: [("has space", "pw")])))
        }
        await expectRefusal(400, "DuplicateResourceName", target: "\(p2sBase).vpnClientUsers[1].name", lab: lab) {
            try await lab.put(.virtualNetworkGateways, "gw", gatewayBody(vnet: "v", ip: "ip", p2s: p2sConfig(auth: ["Password"], users: [("alice", "a"), ("Alice", "b")])))
        }
        try await lab.put(.virtualNetworkGateways, "gw", gatewayBody(vnet: "v", ip: "ip", p2s: p2sConfig(auth: ["Password"], users: [("alice", "s3cret")])))
    }
}
