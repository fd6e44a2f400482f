import Foundation
import Testing
import GatewayModel

@Suite("Deleting resources in use")
struct DeleteTests {
    func inUse(_ id: ResourceID) -> String { id.description }

    @Test func vnetWithGateway() async throws {
        let lab = try await Lab.make()
        try await lab.hub("vnet1", "10.1.0.0/16", gateway: "gw1")
        await expectRefusal(409, "InUseResourceCannotBeDeleted", target: inUse(rid(.virtualNetworks, "vnet1")),
                            mentions: ["'vnet1'", "virtual network gateway 'gw1'", "Delete the gateway first"], lab: lab) {
            try await lab.delete(.virtualNetworks, "vnet1")
        }
        await expectRefusal(409, "InUseResourceCannotBeDeleted", target: inUse(rid(.publicIPAddresses, "gw1-ip")),
                            mentions: ["'gw1-ip'", "virtual network gateway 'gw1'"], lab: lab) {
            try await lab.delete(.publicIPAddresses, "gw1-ip")
        }
        try await lab.delete(.virtualNetworkGateways, "gw1")
        try await lab.delete(.publicIPAddresses, "gw1-ip")
        try await lab.delete(.virtualNetworks, "vnet1")
        #expect(await lab.world.resources.isEmpty)
    }

    @Test func gatewayWithConnectionsNamesThem() async throws {
        let lab = try await Lab.make()
        try await lab.hub("vnet1", "10.1.0.0/16", gateway: "gw1")
        try await lab.site("site1", ["192.168.1.0/24"])
        try await lab.site("site2", ["192.168.2.0/24"])
        try await lab.connection("c1", connectionBody(gw1: "gw1", site: "site1"))
        try await lab.connection("c2", connectionBody(gw1: "gw1", site: "site2"))
        await expectRefusal(409, "InUseResourceCannotBeDeleted", target: inUse(rid(.virtualNetworkGateways, "gw1")),
                            mentions: ["connection 'c1'", "connection 'c2'", "Delete the connections first"], lab: lab) {
            try await lab.delete(.virtualNetworkGateways, "gw1")
        }
        await expectRefusal(409, "InUseResourceCannotBeDeleted", target: inUse(rid(.localNetworkGateways, "site1")),
                            mentions: ["'site1'", "connection 'c1'"], lab: lab) {
            try await lab.delete(.localNetworkGateways, "site1")
        }
        try await lab.delete(.connections, "c1")
        try await lab.delete(.localNetworkGateways, "site1")
        await expectRefusal(409, "InUseResourceCannotBeDeleted", mentions: ["connection 'c2'"], lab: lab) {
            try await lab.delete(.virtualNetworkGateways, "gw1")
        }
        try await lab.delete(.connections, "c2")
        try await lab.delete(.virtualNetworkGateways, "gw1")
        #expect(await lab.world.gateways.isEmpty)
    }

    @Test func vnet2vnetPeerGatewayIsInUse() async throws {
        let lab = try await Lab.make()
        try await lab.hub("vnet1", "10.1.0.0/16", gateway: "gw1")
        try await lab.hub("vnet2", "10.2.0.0/16", gateway: "gw2")
        try await lab.connection("1to2", connectionBody(type: "Vnet2Vnet", gw1: "gw1", gw2: "gw2"))
        await expectRefusal(409, "InUseResourceCannotBeDeleted", mentions: ["connection '1to2'"], lab: lab) {
            try await lab.delete(.virtualNetworkGateways, "gw2")
        }
    }

    @Test func circuitWithConnections() async throws {
        let lab = try await Lab.make()
        try await lab.vnet("vnet1", ["10.1.0.0/16"], gatewaySubnet: "10.1.255.0/27")
        try await lab.gateway("er", vnet: "vnet1", type: "ExpressRoute")
        try await lab.put(.expressRouteCircuits, "circuit", circuitBody())
        try await lab.connection("erc", connectionBody(type: "ExpressRoute", gw1: "er", circuit: "circuit"))
        await expectRefusal(409, "InUseResourceCannotBeDeleted", target: inUse(rid(.expressRouteCircuits, "circuit")),
                            mentions: ["'circuit'", "connection 'erc'"], lab: lab) {
            try await lab.delete(.expressRouteCircuits, "circuit")
        }
        try await lab.delete(.connections, "erc")
        try await lab.delete(.expressRouteCircuits, "circuit")
    }

    @Test func gatewayUsedByPeeredSpoke() async throws {
        let lab = try await Lab.make()
        try await lab.vnet("spoke", ["10.9.0.0/16"])
        try await lab.hub("hub", "10.1.0.0/16", gateway: "gw")
        try await lab.vnet("hub", ["10.1.0.0/16"], gatewaySubnet: "10.1.255.0/27", peerings: [peering("to-spoke", remote: "spoke", allowGatewayTransit: true)])
        try await lab.vnet("spoke", ["10.9.0.0/16"], peerings: [peering("to-hub", remote: "hub", useRemoteGateways: true)])
        await expectRefusal(409, "InUseResourceCannotBeDeleted", mentions: ["peering 'to-hub'", "'spoke'", "useRemoteGateways"], lab: lab) {
            try await lab.delete(.virtualNetworkGateways, "gw")
        }
        try await lab.vnet("spoke", ["10.9.0.0/16"], peerings: [peering("to-hub", remote: "hub")])
        try await lab.vnet("hub", ["10.1.0.0/16"], gatewaySubnet: "10.1.255.0/27", peerings: [peering("to-spoke", remote: "spoke")])
        try await lab.delete(.virtualNetworkGateways, "gw")
    }

    @Test func missingResource() async throws {
        let lab = try await Lab.make()
        let (existed, op) = try await lab.service.delete(rid(.virtualNetworks, "nothing"))
        #expect(!existed && op == nil)
        #expect(throws: ARMError.notFound("virtual network", rid(.virtualNetworks, "nothing").description)) {
            try Admission().checkDelete(rid(.virtualNetworks, "nothing"), world: World())
        }
        await expectRefusal(404, "ResourceNotFound", mentions: ["nothing"], lab: lab) {
            try await lab.get(.virtualNetworks, "nothing")
        }
    }

    // MARK: Resource groups

    @Test func groupDeleteRemovesEverything() async throws {
        let lab = try await Lab.make(groups: [Fx.rg, "keep"])
        try await lab.hub("vnet1", "10.1.0.0/16", gateway: "gw1", enableBgp: true)
        try await lab.gateway("er", vnet: "vnet1", type: "ExpressRoute")
        try await lab.site("site1", ["192.168.1.0/24"])
        try await lab.connection("c1", connectionBody(gw1: "gw1", site: "site1"))
        try await lab.put(.expressRouteCircuits, "circuit", circuitBody())
        try await lab.connection("erc", connectionBody(type: "ExpressRoute", gw1: "er", circuit: "circuit"))
        try await lab.site("other", ["192.168.9.0/24"], group: "keep")

        let plan = try Admission().planGroupDelete(GroupKey(subscription: Fx.sub, name: Fx.rg), world: await lab.world)
        #expect(plan.count == 9)
        #expect(plan.prefix(2).allSatisfy { $0.type == .connections })
        #expect(plan.last?.type == .virtualNetworks)

        #expect(try await lab.service.deleteGroup(subscription: Fx.sub, name: Fx.rg))
        let world = await lab.world
        #expect(world.resources.keys.allSatisfy { $0.resourceGroup == "keep" })
        #expect(world.resources.count == 1)
        #expect(world.groups[GroupKey(subscription: Fx.sub, name: Fx.rg)] == nil)
        await expectRefusal(404, "ResourceGroupNotFound", lab: lab) {
            try await lab.service.list(subscription: Fx.sub, group: Fx.rg, type: .virtualNetworks)
        }
        #expect(try await lab.service.deleteGroup(subscription: Fx.sub, name: Fx.rg) == false)
    }

    @Test func groupDeleteRefusedWhenUsedFromAnotherGroup() async throws {
        let lab = try await Lab.make(groups: [Fx.rg, "onprem"])
        try await lab.hub("vnet1", "10.1.0.0/16", gateway: "gw1")
        try await lab.site("site", ["192.168.1.0/24"], group: "onprem")
        try await lab.connection("c", connectionBody(gw1: "gw1", site: "site", group: "onprem", gw1Group: Fx.rg), group: "onprem")
        await expectRefusal(409, "InUseResourceCannotBeDeleted", mentions: ["'gw1'", "connection 'c'"], lab: lab) {
            try await lab.service.deleteGroup(subscription: Fx.sub, name: Fx.rg)
        }
        #expect(await lab.world.groups[GroupKey(subscription: Fx.sub, name: Fx.rg)] != nil)
        // Deleting the group holding the connection and the site is fine.
        #expect(try await lab.service.deleteGroup(subscription: Fx.sub, name: "onprem"))
        #expect(try await lab.service.deleteGroup(subscription: Fx.sub, name: Fx.rg))
        #expect(await lab.world.resources.isEmpty)
    }
}
