import Foundation
import Testing
import GatewayModel
import GatewayControl
import GatewayStore

@Suite("ResourceService")
struct ServiceTests {
    @Test func etags() async throws {
        let lab = try await Lab.make()
        let first = try await lab.put(.localNetworkGateways, "s", localGatewayBody())
        let etag = try #require(first.etag)
        #expect(try await lab.get(.localNetworkGateways, "s").etag == etag)
        await expectRefusal(412, "PreconditionFailed", target: "If-Match", mentions: ["W/\"stale\""], lab: lab) {
            try await lab.put(.localNetworkGateways, "s", localGatewayBody(prefixes: ["192.168.2.0/24"]), ifMatch: "W/\"stale\"")
        }
        await expectRefusal(412, "PreconditionFailed", target: "If-None-Match", lab: lab) {
            try await lab.put(.localNetworkGateways, "s", localGatewayBody(), ifNoneMatch: "*")
        }
        await expectRefusal(412, "PreconditionFailed", target: "If-Match", mentions: ["does not exist"], lab: lab) {
            try await lab.put(.localNetworkGateways, "new", localGatewayBody(), ifMatch: etag)
        }
        await expectRefusal(412, "PreconditionFailed", target: "If-Match", lab: lab) {
            try await lab.delete(.localNetworkGateways, "s", ifMatch: "W/\"stale\"")
        }
        await expectRefusal(412, "PreconditionFailed", target: "If-Match", lab: lab) {
            try await lab.service.patchTags(rid(.localNetworkGateways, "s"), body: body(["tags": ["a": "b"]]), ifMatch: "W/\"stale\"")
        }
        let second = try await lab.put(.localNetworkGateways, "s", localGatewayBody(prefixes: ["192.168.2.0/24"]), ifMatch: etag)
        #expect(second.etag != nil && second.etag != etag)
        try await lab.put(.localNetworkGateways, "s", localGatewayBody(), ifMatch: "*")
        try await lab.put(.localNetworkGateways, "fresh", localGatewayBody(), ifNoneMatch: "*")
        let tagged = try await lab.service.patchTags(rid(.localNetworkGateways, "s"), body: body(["tags": ["env": "lab"]]), ifMatch: nil)
        #expect(tagged.localGateway?.tags == ["env": "lab"])
        try await lab.delete(.localNetworkGateways, "fresh", ifMatch: try await lab.get(.localNetworkGateways, "fresh").etag)
    }

    @Test func putIsIdempotent() async throws {
        let lab = try await Lab.make()
        let a = try await lab.service.put(rid(.virtualNetworks, "v"), body: vnetBody(prefixes: ["10.1.0.0/16"]))
        let b = try await lab.service.put(rid(.virtualNetworks, "V"), body: vnetBody(prefixes: ["10.1.0.0/16"]))
        #expect(a.created && !b.created)
        #expect(a.resource.virtualNetwork?.properties.resourceGuid == b.resource.virtualNetwork?.properties.resourceGuid)
        #expect(b.resource.virtualNetwork?.name == "v", "the first spelling of a name is kept")
    }

    @Test func refusedRequestLeavesNothingBehind() async throws {
        let store = InMemoryResourceStore()
        let service = try ResourceService(store: store)
        _ = try await service.putGroup(subscription: Fx.sub, name: Fx.rg, body: body(["location": "local"]))
        _ = try await service.put(rid(.virtualNetworks, "v"), body: vnetBody(prefixes: ["10.1.0.0/16"], subnets: [("GatewaySubnet", "10.1.255.0/30")]))
        _ = try await service.put(rid(.publicIPAddresses, "ip"), body: publicIPBody(address: "203.0.113.1"))
        let before = try store.loadWorld().resources
        for (type, name, data) in [
            (ResourceType.virtualNetworkGateways, "gw", gatewayBody(vnet: "v", ip: "ip")),             // subnet too small
            (.connections, "c", connectionBody(gw1: "gw", site: "nosite")),                             // no gateway
            (.virtualNetworks, "v", vnetBody(prefixes: ["10.1.0.0/16", "10.1.0.0/24"])),                // overlap
            (.publicIPAddresses, "ip2", publicIPBody(address: "203.0.113.1")),                          // taken
        ] {
            do {
                _ = try await service.put(rid(type, name), body: data)
                Issue.record("\(type) \(name) accepted")
            } catch {
                #expect(error.status >= 400)
            }
        }
        #expect(try store.loadWorld().resources == before)
        #expect(await service.snapshot.resources == before)
        #expect(try store.loadWorld().resources.count == 2)
    }

    @Test func longRunningOperationsReachSucceeded() async throws {
        let lab = try await Lab.make()
        try await lab.vnet("v", ["10.1.0.0/16"], gatewaySubnet: "10.1.255.0/27")
        try await lab.ip("ip")
        let result = try await lab.service.put(rid(.virtualNetworkGateways, "gw"), body: gatewayBody(vnet: "v", ip: "ip"))
        #expect(result.created)
        #expect(result.resource.provisioningState == .Updating)
        let op = try #require(result.operation)
        #expect(op.resourceID == gwID("gw"))
        let done = try await lab.awaitOperation(op.id)
        #expect(done.status == .Succeeded && done.endTime != nil && done.error == nil)
        #expect(try await lab.get(.virtualNetworkGateways, "gw").provisioningState == .Succeeded)

        // Short-running types have no operation.
        let site = try await lab.service.put(rid(.localNetworkGateways, "site"), body: localGatewayBody())
        #expect(site.operation == nil && site.resource.provisioningState == .Succeeded)

        // Connections are long-running too.
        let c = try await lab.service.put(rid(.connections, "c"), body: connectionBody(gw1: "gw", site: "site"))
        #expect(c.resource.provisioningState == .Updating)
        #expect(try await lab.awaitOperation(try #require(c.operation).id).status == .Succeeded)

        // Delete: Deleting, then gone.
        let (existed, delOp) = try await lab.service.delete(rid(.connections, "c"))
        #expect(existed)
        #expect(try await lab.awaitOperation(try #require(delOp).id).status == .Succeeded)
        await expectRefusal(404, "ResourceNotFound", lab: lab) { try await lab.get(.connections, "c") }
        await expectRefusal(404, "ResourceNotFound", lab: lab) { try await lab.service.operation("no-such-operation") }
    }

    struct FailingProvisioner: Provisioner {
        func provision(_ resource: AnyResource) async throws(ARMError) {
            throw ARMError(status: 500, code: "DataPlaneFailed", message: "no route to the lab")
        }
        func deprovision(_ resource: AnyResource) async throws(ARMError) {}
        func reset(_ resource: AnyResource) async throws(ARMError) {}
        func observed(_ key: ResourceKey) -> ObservedConnection? { nil }
    }

    @Test func failedProvisioningIsReported() async throws {
        let lab = try await Lab.make(provisioner: FailingProvisioner())
        try await lab.vnet("v", ["10.1.0.0/16"], gatewaySubnet: "10.1.255.0/27")
        try await lab.ip("ip")
        let result = try await lab.service.put(rid(.virtualNetworkGateways, "gw"), body: gatewayBody(vnet: "v", ip: "ip"))
        let done = try await lab.awaitOperation(try #require(result.operation).id)
        #expect(done.status == .Failed)
        #expect(done.error?.code == "DataPlaneFailed")
        #expect(try await lab.get(.virtualNetworkGateways, "gw").provisioningState == .Failed)
    }

    // MARK: Bad input

    @Test func malformedJSON() async throws {
        let lab = try await Lab.make()
        for text in ["{", "not json", "{\"properties\": }"] {
            await expectRefusal(400, "InvalidRequestContent", mentions: ["not valid JSON"], lab: lab) {
                try await lab.put(.virtualNetworks, "v", Data(text.utf8))
            }
        }
        await expectRefusal(400, "InvalidRequestFormat", target: "body", mentions: ["an object"], lab: lab) {
            try await lab.put(.virtualNetworks, "v", Data("[]".utf8))
        }
    }

    @Test("wrong JSON types name the path", arguments: [
        (ResourceType.virtualNetworks, #"{"properties":{"addressSpace":{"addressPrefixes":"10.0.0.0/16"}}}"#, "properties.addressSpace.addressPrefixes", "an array"),
        (.virtualNetworks, #"{"properties":{"addressSpace":{"addressPrefixes":[16]}}}"#, "properties.addressSpace.addressPrefixes[0]", "a string"),
        (.connections, #"{"properties":{"connectionType":"IPsec","dpdTimeoutSeconds":"x"}}"#, "properties.dpdTimeoutSeconds", "an integer"),
        (.virtualNetworkGateways, #"{"properties":{"enableBgp":"yes"}}"#, "properties.enableBgp", "a boolean"),
        (.localNetworkGateways, #"{"tags":["a"]}"#, "tags", "an object"),
        (.virtualNetworks, #"{"properties":{"subnets":[{"name":"a","properties":{"addressPrefix":null}},{"name":7}]}}"#, "properties.subnets[1].name", "a string"),
    ])
    func wrongTypes(type: ResourceType, json: String, path: String, expected: String) async throws {
        let lab = try await Lab.make()
        await expectRefusal(400, "InvalidRequestFormat", target: path, mentions: [path, "expected \(expected)"], lab: lab) {
            try await lab.put(type, "x", Data(json.utf8))
        }
    }

    @Test("unknown enum values list the allowed ones", arguments: [
        (ResourceType.virtualNetworkGateways, #"{"properties":{"gatewayType":"Vpnn"}}"#, "properties.gatewayType", "Vpn, ExpressRoute"),
        (.virtualNetworkGateways, #"{"properties":{"vpnType":"Both"}}"#, "properties.vpnType", "RouteBased, PolicyBased"),
        (.connections, #"{"properties":{"connectionProtocol":"IKEv3"}}"#, "properties.connectionProtocol", "IKEv1, IKEv2"),
        (.publicIPAddresses, #"{"properties":{"publicIPAddressVersion":"IPv5"}}"#, "properties.publicIPAddressVersion", "IPv4, IPv6"),
        (.virtualNetworkGateways, #"{"properties":{"vpnClientConfiguration":{"vpnClientProtocols":["SSTP","PPTP"]}}}"#, "properties.vpnClientConfiguration.vpnClientProtocols[1]", "SSTP, IkeV2, OpenVPN"),
    ])
    func unknownEnums(type: ResourceType, json: String, path: String, allowed: String) async throws {
        let lab = try await Lab.make()
        await expectRefusal(400, "InvalidRequestFormat", target: path, mentions: ["is not allowed; allowed values: \(allowed)"], lab: lab) {
            try await lab.put(type, "x", Data(json.utf8))
        }
    }

    @Test func badCIDRInBodySuggestsCanonical() async throws {
        let lab = try await Lab.make()
        await expectRefusal(400, "InvalidRequestFormat", target: "properties.addressSpace.addressPrefixes[0]", mentions: ["10.0.0.1/16", "did you mean 10.0.0.0/16"], lab: lab) {
            try await lab.put(.virtualNetworks, "v", vnetBody(prefixes: ["10.0.0.1/16"]))
        }
        await expectRefusal(400, "InvalidRequestFormat", target: "properties.subnets[0].properties.addressPrefix", mentions: ["10.0.0.0/33"], lab: lab) {
            try await lab.put(.virtualNetworks, "v", vnetBody(prefixes: ["10.0.0.0/16"], subnets: [("a", "10.0.0.0/33")]))
        }
    }

    @Test func tenThousandLocalGatewaysInOneGroup() async throws {
        let lab = try await Lab.make()
        let clock = ContinuousClock()
        let started = clock.now
        for i in 0..<10_000 {
            let data = localGatewayBody(ip: "203.0.\(113 + i / 250 % 2).\(i % 250 + 1)", prefixes: ["10.\(i / 256).\(i % 256).0/24"])
            _ = try await lab.service.put(rid(.localNetworkGateways, "site-\(i)"), body: data)
        }
        let created = clock.now - started
        let listStarted = clock.now
        let all = try await lab.service.list(subscription: Fx.sub, group: Fx.rg, type: .localNetworkGateways)
        let listed = clock.now - listStarted
        print("10,000 local network gateways: created in \(created), listed in \(listed)")
        #expect(all.count == 10_000)
        #expect(try await lab.service.list(subscription: Fx.sub, group: nil, type: .localNetworkGateways).count == 10_000)
        #expect(all.first?.name == "site-0")
    }
}
