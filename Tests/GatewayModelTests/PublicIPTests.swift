import Foundation
import Testing
import GatewayModel

@Suite("Public IP address rules")
struct PublicIPTests {
    @Test func givenAddressValidatedAndNormalised() async throws {
        let lab = try await Lab.make()
        for bad in ["203.0.113.256", "203.0.113", "not-an-ip", "203.0.113.01"] {
            await expectRefusal(400, "InvalidRequestFormat", target: "properties.ipAddress", mentions: ["'\(bad)'"], lab: lab) {
                try await lab.put(.publicIPAddresses, "ip", publicIPBody(address: bad))
            }
        }
        await expectRefusal(400, "InvalidRequestFormat", target: "properties.ipAddress", mentions: ["IPv6"], lab: lab) {
            try await lab.put(.publicIPAddresses, "ip", publicIPBody(address: "203.0.113.5", version: "IPv6"))
        }
        await expectRefusal(400, "InvalidRequestFormat", target: "properties.ipAddress", mentions: ["IPv4"], lab: lab) {
            try await lab.put(.publicIPAddresses, "ip", publicIPBody(address: "2001:db8::5"))
        }
        await expectRefusal(400, "InvalidRequestFormat", target: "sku.name", mentions: ["Premium", "Basic, Standard"], lab: lab) {
            try await lab.put(.publicIPAddresses, "ip", publicIPBody(address: "203.0.113.5", sku: "Premium"))
        }
        let v4 = try await lab.ip("ip4", address: "203.0.113.5")
        #expect(v4.properties.ipAddress == "203.0.113.5" && v4.properties.publicIPAddressVersion == .IPv4)
        #expect(v4.properties.publicIPAllocationMethod == .Static && v4.sku?.name == "Standard")
        let v6 = try await lab.ip("ip6", address: "2001:DB8:0:0::5", version: "IPv6")
        #expect(v6.properties.ipAddress == "2001:db8::5")
    }

    @Test func addressesAreUnique() async throws {
        let lab = try await Lab.make()
        try await lab.ip("first", address: "203.0.113.5")
        try await lab.ip("first6", address: "2001:db8::5", version: "IPv6")
        await expectRefusal(409, "PublicIPAddressInUse", target: "properties.ipAddress", mentions: ["203.0.113.5", "'first'"], lab: lab) {
            try await lab.put(.publicIPAddresses, "second", publicIPBody(address: "203.0.113.5"))
        }
        await expectRefusal(409, "PublicIPAddressInUse", target: "properties.ipAddress", mentions: ["2001:db8::5", "'first6'"], lab: lab) {
            try await lab.put(.publicIPAddresses, "second", publicIPBody(address: "2001:0DB8::0005", version: "IPv6"))
        }
        // Re-PUT of the holder with its own address is fine.
        try await lab.ip("first", address: "203.0.113.5")
        try await lab.ip("second", address: "203.0.113.6")
    }

    @Test func allocatedFromThePool() async throws {
        let lab = try await Lab.make()
        try await lab.ip("given", address: "198.51.100.2")
        let a = try await lab.ip("a")
        let b = try await lab.ip("b")
        let c = try await lab.ip("c6", version: "IPv6")
        #expect(a.properties.ipAddress == "198.51.100.3")
        #expect(b.properties.ipAddress == "198.51.100.4")
        #expect(c.properties.ipAddress == "2001:db8:ffff::2")
        // A re-PUT without an address keeps the allocated one.
        #expect(try await lab.ip("a").properties.ipAddress == "198.51.100.3")
    }

    @Test func poolExhaustion() async throws {
        let lab = try await Lab.make(pool: ["198.51.100.0/30"])
        #expect(try await lab.ip("only").properties.ipAddress == "198.51.100.2")
        await expectRefusal(400, "PublicIPAddressPoolExhausted", target: "properties.ipAddress", mentions: ["IPv4", "--public-ip-pool", "properties.ipAddress"], lab: lab) {
            try await lab.put(.publicIPAddresses, "more", publicIPBody())
        }
        await expectRefusal(400, "PublicIPAddressPoolExhausted", mentions: ["IPv6"], lab: lab) {
            try await lab.put(.publicIPAddresses, "v6", publicIPBody(version: "IPv6"))
        }
        try await lab.delete(.publicIPAddresses, "only")
        #expect(try await lab.ip("more").properties.ipAddress == "198.51.100.2")
    }

    @Test func poolAllocatorSkipsNetworkRouterAndBroadcast() {
        let alloc = AdmissionContext.poolAllocator([try! IPPrefix(parsing: "192.0.2.0/29")])
        var used: Set<String> = []
        while let next = alloc(.IPv4, used) { used.insert(next) }
        #expect(used == ["192.0.2.2", "192.0.2.3", "192.0.2.4", "192.0.2.5", "192.0.2.6"])
        #expect(alloc(.IPv6, []) == nil)
        #expect(AdmissionContext.poolAllocator([try! IPPrefix(parsing: "192.0.2.1/32")])(.IPv4, []) == nil)
    }

    @Test func addressFixedWhileUsedByAGateway() async throws {
        let lab = try await Lab.make()
        try await lab.hub("v", "10.1.0.0/16", gateway: "gw")
        let current = try #require(try await lab.get(.publicIPAddresses, "gw-ip").publicIP?.properties.ipAddress)
        await expectRefusal(409, "PublicIPAddressInUse", target: "properties.ipAddress", mentions: ["cannot change from \(current)", "'gw'"], lab: lab) {
            try await lab.put(.publicIPAddresses, "gw-ip", publicIPBody(address: "203.0.113.77"))
        }
        try await lab.put(.publicIPAddresses, "gw-ip", publicIPBody(address: current))
        // An unused one may move.
        try await lab.ip("free", address: "203.0.113.70")
        #expect(try await lab.ip("free", address: "203.0.113.71").properties.ipAddress == "203.0.113.71")
    }

    @Test func versionCannotChange() async throws {
        let lab = try await Lab.make()
        try await lab.ip("ip")
        await expectRefusal(409, "PublicIPAddressVersionCannotChange", target: "properties.publicIPAddressVersion", mentions: ["IPv4", "IPv6"], lab: lab) {
            try await lab.put(.publicIPAddresses, "ip", publicIPBody(version: "IPv6"))
        }
        try await lab.put(.publicIPAddresses, "ip", publicIPBody(version: "IPv4"))
    }
}
