import Foundation
import Testing
import GatewayModel

/// vpngw-only settings carried as tags: `vpngw-esp-encapsulation` on a connection.
@Suite("vpngw tags")
struct VpngwTagTests {
    func tagged(_ body: Data, _ tags: [String: String]) throws -> Data {
        var json = try #require(try JSONSerialization.jsonObject(with: body) as? [String: Any])
        json["tags"] = tags
        return try JSONSerialization.data(withJSONObject: json)
    }

    @Test func espEncapsulationTagIsUDPOrRaw() async throws {
        let lab = try await Lab.make()
        try await lab.hub("vnet1", "10.1.0.0/16", gateway: "gw1", vpnType: "RouteBased", sku: "VpnGw1", enableBgp: nil)
        try await lab.site("site1", ["192.168.1.0/24"])
        await expectRefusal(400, "InvalidRequestFormat", target: "tags.vpngw-esp-encapsulation", mentions: ["'gre'", "udp or raw"], lab: lab) {
            try await lab.put(.connections, "c", try tagged(connectionBody(gw1: "gw1", site: "site1"), ["vpngw-esp-encapsulation": "gre"]))
        }
        // Tag names match case-insensitively, values too.
        let c = try await lab.connection("c", try tagged(connectionBody(gw1: "gw1", site: "site1"), ["VPNGW-ESP-Encapsulation": "Raw"]))
        #expect(VpngwTags.value(VpngwTags.espEncapsulation, in: c.tags) == "Raw")
        let d = try await lab.connection("c", try tagged(connectionBody(gw1: "gw1", site: "site1"), ["vpngw-esp-encapsulation": "udp", "env": "lab"]))
        #expect(VpngwTags.value(VpngwTags.espEncapsulation, in: d.tags) == "udp")
        #expect(VpngwTags.value(VpngwTags.espEncapsulation, in: nil) == nil)
    }
}
