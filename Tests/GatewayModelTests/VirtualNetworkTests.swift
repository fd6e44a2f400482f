import Foundation
import Testing
import GatewayModel

@Suite("Virtual network rules")
struct VirtualNetworkTests {
    @Test func addressSpaceRequired() async throws {
        let lab = try await Lab.make()
        await expectRefusal(400, "MissingRequiredProperty", target: "properties.addressSpace.addressPrefixes", mentions: ["10.1.0.0/16"], lab: lab) {
            try await lab.put(.virtualNetworks, "v", vnetBody(prefixes: []))
        }
        await expectRefusal(400, "MissingRequiredProperty", target: "properties.addressSpace.addressPrefixes", lab: lab) {
            try await lab.put(.virtualNetworks, "v", props([:]))
        }
        let v = try await lab.vnet("v", ["10.1.0.0/16", "10.2.0.0/16", "fd00:1::/48"],
                                   subnets: [("web", "10.1.0.0/24"), ("db", "10.2.0.0/24"), ("v6", "fd00:1::/64")])
        #expect(v.properties.provisioningState == .Succeeded)
        #expect(v.properties.subnets?.first?.id == subnetID("v", "web"))
    }

    @Test func addressSpaceMustNotOverlapItself() async throws {
        let lab = try await Lab.make()
        await expectRefusal(400, "AddressPrefixesOverlap", target: "properties.addressSpace.addressPrefixes[1]",
                            mentions: ["10.1.1.0/24", "10.1.0.0/16"], lab: lab) {
            try await lab.put(.virtualNetworks, "v", vnetBody(prefixes: ["10.1.0.0/16", "10.1.1.0/24"]))
        }
        try await lab.vnet("v", ["10.1.0.0/16", "10.3.0.0/16"])
    }

    @Test func subnetsInsideTheSpace() async throws {
        let lab = try await Lab.make()
        await expectRefusal(400, "NetcfgSubnetRangeOutsideVnet", target: "properties.subnets[1].properties.addressPrefix",
                            mentions: ["web", "10.2.0.0/24", "10.1.0.0/16"], lab: lab) {
            try await lab.put(.virtualNetworks, "v", vnetBody(prefixes: ["10.1.0.0/16"], subnets: [("a", "10.1.0.0/24"), ("web", "10.2.0.0/24")]))
        }
        await expectRefusal(400, "NetcfgSubnetRangeOutsideVnet", target: "properties.subnets[0].properties.addressPrefix",
                            mentions: ["10.0.0.0/8"], lab: lab) {
            try await lab.put(.virtualNetworks, "v", vnetBody(prefixes: ["10.1.0.0/16"], subnets: [("wide", "10.0.0.0/8")]))
        }
        await expectRefusal(400, "MissingRequiredProperty", target: "properties.subnets[0].properties.addressPrefix", lab: lab) {
            try await lab.put(.virtualNetworks, "v", props(["addressSpace": ["addressPrefixes": ["10.1.0.0/16"]], "subnets": [["name": "a"]]]))
        }
        try await lab.vnet("v", ["10.1.0.0/16"], subnets: [("whole", "10.1.0.0/16")])
    }

    @Test func subnetsMustNotOverlap() async throws {
        let lab = try await Lab.make()
        await expectRefusal(400, "NetcfgSubnetRangesOverlap", target: "properties.subnets[1].properties.addressPrefix",
                            mentions: ["'b'", "'a'", "10.1.0.128/25"], lab: lab) {
            try await lab.put(.virtualNetworks, "v", vnetBody(prefixes: ["10.1.0.0/16"], subnets: [("a", "10.1.0.0/24"), ("b", "10.1.0.128/25")]))
        }
        try await lab.vnet("v", ["10.1.0.0/16"], subnets: [("a", "10.1.0.0/25"), ("b", "10.1.0.128/25")])
    }

    @Test func subnetNamesUniqueAndValid() async throws {
        let lab = try await Lab.make()
        await expectRefusal(400, "DuplicateResourceName", target: "properties.subnets[1].name", mentions: ["Web"], lab: lab) {
            try await lab.put(.virtualNetworks, "v", vnetBody(prefixes: ["10.1.0.0/16"], subnets: [("web", "10.1.0.0/24"), ("Web", "10.1.1.0/24")]))
        }
        await expectRefusal(400, "InvalidRequestFormat", target: "properties.subnets[0].name", mentions: ["bad name"], lab: lab) {
            try await lab.put(.virtualNetworks, "v", vnetBody(prefixes: ["10.1.0.0/16"], subnets: [("bad name", "10.1.0.0/24")]))
        }
        try await lab.vnet("v", ["10.1.0.0/16"], subnets: [("web", "10.1.0.0/24"), ("web2", "10.1.1.0/24")])
    }

    // MARK: Peerings

    @Test func peeringRemoteMustExistNotSelfNoOverlap() async throws {
        let lab = try await Lab.make()
        try await lab.vnet("b", ["10.2.0.0/16"])
        try await lab.vnet("c", ["10.1.128.0/17"])
        let t = "properties.virtualNetworkPeerings[0].properties.remoteVirtualNetwork.id"
        await expectRefusal(400, "ReferencedResourceNotFound", target: t, mentions: ["ghost"], lab: lab) {
            try await lab.put(.virtualNetworks, "a", vnetBody(prefixes: ["10.1.0.0/16"], peerings: [peering("p", remote: "ghost")]))
        }
        await expectRefusal(400, "CannotPeerVnetWithItself", target: t, lab: lab) {
            try await lab.put(.virtualNetworks, "a", vnetBody(prefixes: ["10.1.0.0/16"], peerings: [peering("p", remote: "A")]))
        }
        await expectRefusal(400, "VnetAddressSpacesOverlap", target: t, mentions: ["'c'", "10.1.128.0/17", "10.1.0.0/16"], lab: lab) {
            try await lab.put(.virtualNetworks, "a", vnetBody(prefixes: ["10.1.0.0/16"], peerings: [peering("p", remote: "c")]))
        }
        await expectRefusal(400, "InvalidRequestFormat", target: t, mentions: ["not a virtual network id"], lab: lab) {
            try await lab.put(.virtualNetworks, "a", props(["addressSpace": ["addressPrefixes": ["10.1.0.0/16"]],
                "virtualNetworkPeerings": [["name": "p", "properties": ["remoteVirtualNetwork": ["id": ipID("b")]]]]]))
        }
        await expectRefusal(400, "DuplicateResourceName", target: "properties.virtualNetworkPeerings[1].name", lab: lab) {
            try await lab.put(.virtualNetworks, "a", vnetBody(prefixes: ["10.1.0.0/16"], peerings: [peering("p", remote: "b"), peering("P", remote: "b")]))
        }
        let a = try await lab.vnet("a", ["10.1.0.0/16"], peerings: [peering("to-b", remote: "b")])
        let p = try #require(a.properties.virtualNetworkPeerings?.first)
        #expect(p.properties.allowGatewayTransit == false && p.properties.useRemoteGateways == false && p.properties.allowVirtualNetworkAccess == true)
    }

    @Test func peeredAddressSpaceCannotGrowIntoThePeer() async throws {
        let lab = try await Lab.make()
        try await lab.vnet("b", ["10.2.0.0/16"])
        try await lab.vnet("a", ["10.1.0.0/16"], peerings: [peering("to-b", remote: "b")])
        await expectRefusal(409, "VnetAddressSpacesOverlap", target: "properties.addressSpace.addressPrefixes", mentions: ["'a'", "to-b", "10.1.0.0/16"], lab: lab) {
            try await lab.put(.virtualNetworks, "b", vnetBody(prefixes: ["10.2.0.0/16", "10.1.0.0/24"]))
        }
        await expectRefusal(400, "VnetAddressSpacesOverlap", mentions: ["10.2.0.0/24"], lab: lab) {
            try await lab.put(.virtualNetworks, "a", vnetBody(prefixes: ["10.1.0.0/16", "10.2.0.0/24"], peerings: [peering("to-b", remote: "b")]))
        }
        try await lab.vnet("b", ["10.2.0.0/16", "10.3.0.0/16"])
    }

    @Test func allowGatewayTransitNeedsANonBasicGateway() async throws {
        let lab = try await Lab.make()
        try await lab.vnet("spoke", ["10.9.0.0/16"])
        try await lab.vnet("hub", ["10.1.0.0/16"], gatewaySubnet: "10.1.255.0/27")
        let t = "properties.virtualNetworkPeerings[0].properties.allowGatewayTransit"
        let withTransit = vnetBody(prefixes: ["10.1.0.0/16"], subnets: [("GatewaySubnet", "10.1.255.0/27")],
                                   peerings: [peering("to-spoke", remote: "spoke", allowGatewayTransit: true)])
        await expectRefusal(400, "GatewayTransitNeedsGateway", target: t, mentions: ["to-spoke", "no gateway"], lab: lab) {
            try await lab.put(.virtualNetworks, "hub", withTransit)
        }
        try await lab.gateway("basic", vnet: "hub", sku: "Basic")
        await expectRefusal(400, "GatewayTransitNotSupportedOnBasic", target: t, mentions: ["Basic", "basic"], lab: lab) {
            try await lab.put(.virtualNetworks, "hub", withTransit)
        }
        // A VpnGw1 hub may offer transit.
        let lab2 = try await Lab.make()
        try await lab2.vnet("spoke", ["10.9.0.0/16"])
        try await lab2.hub("hub", "10.1.0.0/16", gateway: "gw")
        let hub = try #require(try await lab2.put(.virtualNetworks, "hub", withTransit).virtualNetwork)
        #expect(hub.properties.virtualNetworkPeerings?.first?.properties.allowGatewayTransit == true)
    }

    /// hub (10.1/16, gateway `gw`) ← spoke (10.9/16).
    func hubAndSpoke(sku: String = "VpnGw1", hubTransit: Bool? = true) async throws -> Lab {
        let lab = try await Lab.make()
        try await lab.vnet("spoke", ["10.9.0.0/16"])
        try await lab.hub("hub", "10.1.0.0/16", gateway: "gw", sku: sku)
        if let hubTransit {
            try await lab.vnet("hub", ["10.1.0.0/16"], gatewaySubnet: "10.1.255.0/27",
                               peerings: [peering("to-spoke", remote: "spoke", allowGatewayTransit: hubTransit)])
        }
        return lab
    }

    @Test func useRemoteGatewaysNeedsRemoteGatewayAndItsTransit() async throws {
        let t = "properties.virtualNetworkPeerings[0].properties.useRemoteGateways"
        let spokeBody = vnetBody(prefixes: ["10.9.0.0/16"], peerings: [peering("to-hub", remote: "hub", useRemoteGateways: true)])

        let noGateway = try await Lab.make()
        try await noGateway.vnet("hub", ["10.1.0.0/16"])
        try await noGateway.vnet("spoke", ["10.9.0.0/16"])
        await expectRefusal(400, "RemoteVnetHasNoGateway", target: t, mentions: ["'hub'", "to-hub"], lab: noGateway) {
            try await noGateway.put(.virtualNetworks, "spoke", spokeBody)
        }

        let noTransit = try await hubAndSpoke(hubTransit: false)
        await expectRefusal(400, "RemotePeeringDoesNotAllowGatewayTransit", target: t, mentions: ["to-spoke", "allowGatewayTransit"], lab: noTransit) {
            try await noTransit.put(.virtualNetworks, "spoke", spokeBody)
        }

        let noBackPeering = try await hubAndSpoke(hubTransit: nil)
        await expectRefusal(400, "RemotePeeringDoesNotAllowGatewayTransit", target: t, mentions: ["'hub'", "allowGatewayTransit"], lab: noBackPeering) {
            try await noBackPeering.put(.virtualNetworks, "spoke", spokeBody)
        }

        let ok = try await hubAndSpoke()
        let spoke = try #require(try await ok.put(.virtualNetworks, "spoke", spokeBody).virtualNetwork)
        #expect(spoke.properties.virtualNetworkPeerings?.first?.properties.useRemoteGateways == true)
    }

    @Test func hubKeepsTransitWhileASpokeUsesIt() async throws {
        let lab = try await hubAndSpoke()
        try await lab.vnet("spoke", ["10.9.0.0/16"], peerings: [peering("to-hub", remote: "hub", useRemoteGateways: true)])
        await expectRefusal(409, "PeeringUsedForGatewayTransit", target: "properties.virtualNetworkPeerings", mentions: ["'spoke'", "to-hub", "useRemoteGateways"], lab: lab) {
            try await lab.put(.virtualNetworks, "hub", vnetBody(prefixes: ["10.1.0.0/16"], subnets: [("GatewaySubnet", "10.1.255.0/27")],
                                                               peerings: [peering("to-spoke", remote: "spoke", allowGatewayTransit: false)]))
        }
        await expectRefusal(409, "PeeringUsedForGatewayTransit", lab: lab) {
            try await lab.service.deleteChild(rid(.virtualNetworks, "hub"), .virtualNetworkPeerings, name: "to-spoke")
        }
        // Other edits of the hub are fine; once the spoke lets go, so is dropping transit.
        try await lab.vnet("hub", ["10.1.0.0/16"], gatewaySubnet: "10.1.255.0/27", subnets: [("web", "10.1.0.0/24")],
                           peerings: [peering("to-spoke", remote: "spoke", allowGatewayTransit: true)])
        try await lab.vnet("spoke", ["10.9.0.0/16"], peerings: [peering("to-hub", remote: "hub")])
        #expect(try await lab.service.deleteChild(rid(.virtualNetworks, "hub"), .virtualNetworkPeerings, name: "to-spoke"))
    }

    @Test func useRemoteGatewaysRefusedWithBasicRemote() async throws {
        let lab = try await Lab.make()
        try await lab.vnet("spoke", ["10.9.0.0/16"])
        try await lab.hub("hub", "10.1.0.0/16", gateway: "gw", sku: "Basic")
        try await lab.vnet("hub", ["10.1.0.0/16"], gatewaySubnet: "10.1.255.0/27", peerings: [peering("to-spoke", remote: "spoke")])
        await expectRefusal(400, "GatewayTransitNotSupportedOnBasic", target: "properties.virtualNetworkPeerings[0].properties.useRemoteGateways", mentions: ["Basic"], lab: lab) {
            try await lab.put(.virtualNetworks, "spoke", vnetBody(prefixes: ["10.9.0.0/16"], peerings: [peering("to-hub", remote: "hub", useRemoteGateways: true)]))
        }
    }

    @Test func onlyOnePeeringMayUseRemoteGateways() async throws {
        let lab = try await Lab.make()
        try await lab.vnet("spoke", ["10.9.0.0/16"])
        for (hub, prefix) in [("hub1", "10.1.0.0/16"), ("hub2", "10.2.0.0/16")] {
            try await lab.hub(hub, prefix, gateway: "\(hub)-gw")
            try await lab.vnet(hub, [prefix], gatewaySubnet: gatewaySubnet(of: prefix), peerings: [peering("to-spoke", remote: "spoke", allowGatewayTransit: true)])
        }
        await expectRefusal(400, "OnlyOnePeeringCanUseRemoteGateways", target: "properties.virtualNetworkPeerings", mentions: ["to-hub1", "to-hub2"], lab: lab) {
            try await lab.put(.virtualNetworks, "spoke", vnetBody(prefixes: ["10.9.0.0/16"], peerings: [
                peering("to-hub1", remote: "hub1", useRemoteGateways: true), peering("to-hub2", remote: "hub2", useRemoteGateways: true)]))
        }
        try await lab.vnet("spoke", ["10.9.0.0/16"], peerings: [
            peering("to-hub1", remote: "hub1", useRemoteGateways: true), peering("to-hub2", remote: "hub2")])
    }

    @Test func useRemoteGatewaysNotWithOwnGateway() async throws {
        let lab = try await hubAndSpoke()
        try await lab.vnet("spoke", ["10.9.0.0/16"], gatewaySubnet: "10.9.255.0/27")
        try await lab.gateway("spoke-gw", vnet: "spoke")
        await expectRefusal(409, "VnetHasGatewayCannotUseRemoteGateways", target: "properties.virtualNetworkPeerings", mentions: ["spoke-gw", "to-hub"], lab: lab) {
            try await lab.put(.virtualNetworks, "spoke", vnetBody(prefixes: ["10.9.0.0/16"], subnets: [("GatewaySubnet", "10.9.255.0/27")],
                                                                 peerings: [peering("to-hub", remote: "hub", useRemoteGateways: true)]))
        }
    }

    @Test func noOwnGatewayWhileUsingRemoteGateways() async throws {
        let lab = try await hubAndSpoke()
        try await lab.vnet("spoke", ["10.9.0.0/16"], gatewaySubnet: "10.9.255.0/27", peerings: [peering("to-hub", remote: "hub", useRemoteGateways: true)])
        try await lab.ip("spoke-ip")
        await expectRefusal(409, "VnetUsesRemoteGateways", mentions: ["to-hub", "useRemoteGateways"], lab: lab) {
            try await lab.put(.virtualNetworkGateways, "spoke-gw", gatewayBody(vnet: "spoke", ip: "spoke-ip"))
        }
    }

    @Test func spokeUsingRemoteGatewaysMustNotOverlapTheHubsSites() async throws {
        let lab = try await hubAndSpoke()
        try await lab.site("site", ["10.9.0.0/24"])
        try await lab.connection("c", connectionBody(gw1: "gw", site: "site"))
        await expectRefusal(400, "AddressSpaceOverlapsConnectedNetwork", mentions: ["10.9.0.0/24", "'site'"], lab: lab) {
            try await lab.put(.virtualNetworks, "spoke", vnetBody(prefixes: ["10.9.0.0/16"], peerings: [peering("to-hub", remote: "hub", useRemoteGateways: true)]))
        }
        // Without transit the spoke does not reach the site, and may overlap it.
        try await lab.vnet("spoke", ["10.9.0.0/16"], peerings: [peering("to-hub", remote: "hub")])
    }

    // MARK: Subnet holding a gateway

    @Test func gatewaySubnetCannotBeRemovedOrResized() async throws {
        let lab = try await Lab.make()
        try await lab.hub("vnet1", "10.1.0.0/16", gateway: "gw1")
        await expectRefusal(409, "InUseSubnetCannotBeDeleted", target: "properties.subnets", mentions: ["GatewaySubnet", "gw1"], lab: lab) {
            try await lab.put(.virtualNetworks, "vnet1", vnetBody(prefixes: ["10.1.0.0/16"]))
        }
        await expectRefusal(409, "InUseSubnetCannotBeUpdated", target: "properties.subnets", mentions: ["GatewaySubnet", "gw1", "10.1.255.0/27"], lab: lab) {
            try await lab.put(.virtualNetworks, "vnet1", vnetBody(prefixes: ["10.1.0.0/16"], subnets: [("GatewaySubnet", "10.1.255.0/26")]))
        }
        await expectRefusal(409, "InUseSubnetCannotBeDeleted", mentions: ["gw1"], lab: lab) {
            try await lab.service.deleteChild(rid(.virtualNetworks, "vnet1"), .subnets, name: "GatewaySubnet")
        }
        // Other subnets come and go.
        try await lab.vnet("vnet1", ["10.1.0.0/16"], gatewaySubnet: "10.1.255.0/27", subnets: [("web", "10.1.0.0/24")])
        #expect(try await lab.service.deleteChild(rid(.virtualNetworks, "vnet1"), .subnets, name: "web"))
        // Once the gateway is gone the subnet may change.
        try await lab.delete(.virtualNetworkGateways, "gw1")
        try await lab.vnet("vnet1", ["10.1.0.0/16"], gatewaySubnet: "10.1.255.0/26")
    }

    @Test func gatewaySubnetShownWithItsIpConfigurations() async throws {
        let lab = try await Lab.make()
        try await lab.hub("vnet1", "10.1.0.0/16", gateway: "gw1")
        let v = try #require(try await lab.get(.virtualNetworks, "vnet1").virtualNetwork)
        let refs = v.properties.subnets?.first { $0.name == "GatewaySubnet" }?.properties.ipConfigurations
        #expect(refs?.map(\.id) == [gwID("gw1") + "/ipConfigurations/default"])
    }

    @Test func peeringStateInitiatedConnectedDisconnected() async throws {
        let lab = try await Lab.make()
        try await lab.vnet("b", ["10.2.0.0/16"])
        try await lab.vnet("a", ["10.1.0.0/16"], peerings: [peering("a-to-b", remote: "b")])
        func state(_ v: String) async throws -> VirtualNetworkPeeringProperties? {
            try await lab.get(.virtualNetworks, v).virtualNetwork?.properties.virtualNetworkPeerings?.first?.properties
        }
        #expect(try await state("a")?.peeringState == .Initiated)
        try await lab.vnet("b", ["10.2.0.0/16"], peerings: [peering("b-to-a", remote: "a")])
        #expect(try await state("a")?.peeringState == .Connected)
        #expect(try await state("b")?.peeringState == .Connected)
        #expect(try await state("a")?.remoteAddressSpace?.prefixes.map(\.description) == ["10.2.0.0/16"])
        try await lab.delete(.virtualNetworks, "b")
        #expect(try await state("a")?.peeringState == .Disconnected)
    }
}
