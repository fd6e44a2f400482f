import Foundation
import GatewayAPI
import GatewayClient
import GatewayControl
import GatewayModel
import GatewayStore
import Testing

@Suite("REST API")
struct APIRoundTripTests {
    let g = "/subscriptions/sub1/resourceGroups/rg1"
    var net: String { g + "/providers/Microsoft.Network" }

    @Test("every call needs a bearer token; a scoped token is refused for another subscription")
    func authentication() async throws {
        try await withTestServer { client, tokens, config in
            var anonymous = config
            anonymous.token = "nope"
            let bad = try GatewayClient(anonymous)
            let r1 = try await bad.raw(.GET, "/subscriptions/sub1/resourcegroups")
            #expect(r1.status == 401)
            #expect(armError(r1)?.code == "InvalidAuthenticationToken")
            let r2 = try await bad.raw(.GET, "/no/such/path")
            #expect(r2.status == 401, "auth is checked before routing")
            await bad.shutdown()

            let scoped = try tokens.add(name: "team-a", subscription: "sub-a")
            var scopedConfig = config
            scopedConfig.token = scoped.token
            let a = try GatewayClient(scopedConfig)
            let r3 = try await a.raw(.GET, "/subscriptions/sub1/resourcegroups")
            #expect(r3.status == 403)
            #expect(armError(r3)?.code == "AuthorizationFailed")
            let r4 = try await a.raw(.GET, "/subscriptions/sub-a/resourcegroups")
            #expect(r4.status == 200)
            await a.shutdown()

            let ok = try await client.raw(.GET, "/subscriptions/sub1/resourcegroups")
            #expect(ok.status == 200)
        }
    }

    @Test("create, read, list, update and delete the seed's resources; long-running operations complete")
    func roundTrip() async throws {
        try await withTestServer { c, _, _ in
            let net = self.net
            #expect(try await c.raw(.PUT, self.g, body: json(#"{"location":"westeurope"}"#)).status == 201)
            #expect(try await c.raw(.PUT, self.g, body: json(#"{"location":"westeurope"}"#)).status == 200, "PUT is idempotent")

            let vnet = try await c.raw(.PUT, net + "/virtualNetworks/vnet1", body: json(#"{"properties":{"addressSpace":{"addressPrefixes":["10.1.0.0/16"]},"subnets":[{"name":"default","properties":{"addressPrefix":"10.1.0.0/24"}},{"name":"GatewaySubnet","properties":{"addressPrefix":"10.1.255.0/27"}}]}}"#))
            #expect(vnet.status == 201)
            #expect(vnet.header("ETag")?.hasPrefix("W/") == true)
            #expect(object(vnet.body)["location"] as? String == "westeurope", "location defaults to the group's")

            let ip = try await c.raw(.PUT, net + "/publicIPAddresses/gw1-ip", body: json("{}"))
            #expect(ip.status == 201)
            let address = (object(ip.body)["properties"] as? [String: Any])?["ipAddress"] as? String
            #expect(address == "198.51.100.2", "allocated from the pool")

            let gwBody = #"{"properties":{"gatewayType":"Vpn","vpnType":"RouteBased","sku":{"name":"VpnGw1","tier":"VpnGw1"},"ipConfigurations":[{"name":"default","properties":{"subnet":{"id":"/subscriptions/sub1/resourceGroups/rg1/providers/Microsoft.Network/virtualNetworks/vnet1/subnets/GatewaySubnet"},"publicIPAddress":{"id":"/subscriptions/sub1/resourceGroups/rg1/providers/Microsoft.Network/publicIPAddresses/gw1-ip"}}}]}}"#
            let gw = try await c.raw(.PUT, net + "/virtualNetworkGateways/gw1", body: json(gwBody))
            #expect(gw.status == 201)
            #expect((object(gw.body)["properties"] as? [String: Any])?["provisioningState"] as? String == "Updating")
            let asyncURL = try #require(gw.header("Azure-AsyncOperation"))
            #expect(asyncURL.hasPrefix("https://127.0.0.1:"), "the status URL names this server exactly")
            #expect(gw.header("Location") != nil)
            try await c.waitForOperation(gw)
            let gwNow = object(try await c.call(.GET, net + "/virtualNetworkGateways/gw1").body)
            #expect((gwNow["properties"] as? [String: Any])?["provisioningState"] as? String == "Succeeded")
            let ipNow = object(try await c.call(.GET, net + "/publicIPAddresses/gw1-ip").body)
            #expect(((ipNow["properties"] as? [String: Any])?["ipConfiguration"] as? [String: Any])?["id"] as? String != nil, "public IP shows its user")

            // The seed's central rule, over the wire.
            let ip2 = try await c.raw(.PUT, net + "/publicIPAddresses/gw2-ip", body: json("{}"))
            #expect(ip2.status == 201)
            let second = try await c.raw(.PUT, net + "/virtualNetworkGateways/gw2", body: json(gwBody.replacingOccurrences(of: "gw1-ip", with: "gw2-ip")))
            #expect(second.status == 409)
            #expect(armError(second)?.code == "VnetAlreadyHasGatewayOfType")
            #expect(try await c.raw(.GET, net + "/virtualNetworkGateways/gw2").status == 404, "a refused request leaves nothing behind")

            let lng = try await c.raw(.PUT, net + "/localNetworkGateways/site1", body: json(#"{"properties":{"gatewayIpAddress":"203.0.113.10","localNetworkAddressSpace":{"addressPrefixes":["192.168.1.0/24"]}}}"#))
            #expect(lng.status == 201)
            let conn = try await c.raw(.PUT, net + "/connections/c1", body: json(#"{"properties":{"connectionType":"IPsec","virtualNetworkGateway1":{"id":"/subscriptions/sub1/resourceGroups/rg1/providers/Microsoft.Network/virtualNetworkGateways/gw1"},"localNetworkGateway2":{"id":"/subscriptions/sub1/resourceGroups/rg1/providers/Microsoft.Network/localNetworkGateways/site1"},"sharedKey":"abc123"}}"#))
            #expect(conn.status == 201)
            try await c.waitForOperation(conn)
            let connNow = object(try await c.call(.GET, net + "/connections/c1").body)
            let props = try #require(connNow["properties"] as? [String: Any])
            #expect(props["connectionProtocol"] as? String == "IKEv2")
            #expect(props["connectionStatus"] as? String == "Unknown", "connectionStatus is always present")
            #expect(props["dpdTimeoutSeconds"] as? Int == 45)

            // Shared key actions.
            #expect(object(try await c.call(.GET, net + "/connections/c1/sharedkey").body)["value"] as? String == "abc123")
            _ = try await c.call(.PUT, net + "/connections/c1/sharedkey", body: json(#"{"value":"NewKey-42"}"#))
            #expect(object(try await c.call(.GET, net + "/connections/c1/sharedkey").body)["value"] as? String == "NewKey-42")
            _ = try await c.call(.POST, net + "/connections/c1/sharedkey/reset", body: json(#"{"keyLength":40}"#))
            let reset = object(try await c.call(.GET, net + "/connections/c1/sharedkey").body)["value"] as? String
            #expect(reset?.count == 40)
            let badKey = try await c.raw(.PUT, net + "/connections/c1/sharedkey", body: json("{\"value\":\"" + String(repeating: "k", count: 129) + "\"}"))
            #expect(badKey.status == 400)

            // Resets are long-running operations.
            let gr = try await c.raw(.POST, net + "/virtualNetworkGateways/gw1/reset")
            #expect(gr.status == 202)
            try await c.waitForOperation(gr)
            let cr = try await c.raw(.POST, net + "/connections/c1/resetconnection")
            #expect(cr.status == 202)

            // Lists, per group and per subscription; case-insensitive segments.
            let list = object(try await c.call(.GET, "/subscriptions/sub1/resourcegroups/RG1/providers/microsoft.network/virtualnetworkgateways").body)
            #expect((list["value"] as? [Any])?.count == 1)
            let subList = object(try await c.call(.GET, "/subscriptions/sub1/providers/Microsoft.Network/publicIPAddresses").body)
            #expect((subList["value"] as? [Any])?.count == 2)

            // Tags and etags.
            let etag = try #require(try await c.call(.GET, net + "/localNetworkGateways/site1").header("ETag"))
            let patched = try await c.raw(.PATCH, net + "/localNetworkGateways/site1", body: json(#"{"tags":{"env":"lab"}}"#), headers: [("If-Match", etag)])
            #expect(patched.status == 200)
            #expect((object(patched.body)["tags"] as? [String: String])?["env"] == "lab")
            let stale = try await c.raw(.PATCH, net + "/localNetworkGateways/site1", body: json(#"{"tags":{}}"#), headers: [("If-Match", etag)])
            #expect(stale.status == 412)
            let createOnly = try await c.raw(.PUT, net + "/localNetworkGateways/site1", body: json("{}"), headers: [("If-None-Match", "*")])
            #expect(createOnly.status == 412)

            // Deleting what is in use is refused at once; then delete in order.
            let inUse = try await c.raw(.DELETE, net + "/virtualNetworkGateways/gw1")
            #expect(inUse.status == 409)
            #expect(armError(inUse)?.message.contains("c1") == true)
            #expect(try await c.delete("rg1", .connections, "c1"))
            #expect(try await c.delete("rg1", .virtualNetworkGateways, "gw1"))
            #expect(try await c.raw(.GET, net + "/virtualNetworkGateways/gw1").status == 404)
            #expect(try await c.raw(.DELETE, net + "/virtualNetworkGateways/gw1").status == 204)
            #expect(try await c.delete("rg1", .localNetworkGateways, "site1"))

            // Child resources.
            let sub = try await c.raw(.PUT, net + "/virtualNetworks/vnet1/subnets/apps", body: json(#"{"properties":{"addressPrefix":"10.1.1.0/24"}}"#))
            #expect(sub.status == 201)
            #expect(object(try await c.call(.GET, net + "/virtualNetworks/vnet1/subnets").body)["value"].map { ($0 as? [Any])?.count } == 3)
            #expect(try await c.raw(.DELETE, net + "/virtualNetworks/vnet1/subnets/apps").status == 200)

            // Deleting the group removes the rest.
            #expect(try await c.raw(.DELETE, self.g).status == 200)
            #expect(try await c.raw(.GET, net + "/virtualNetworks/vnet1").status == 404)
        }
    }

    @Test("bad input gets a clear ARM error and no crash")
    func badInput() async throws {
        try await withTestServer { c, _, _ in
            let net = self.net
            _ = try await c.call(.PUT, self.g, body: json(#"{"location":"local"}"#))
            let malformed = try await c.raw(.PUT, net + "/virtualNetworks/v", body: json("{\"properties\": {"))
            #expect(malformed.status == 400)
            #expect(armError(malformed)?.code == "InvalidRequestContent")
            let wrongType = try await c.raw(.PUT, net + "/virtualNetworks/v", body: json(#"{"properties":{"addressSpace":{"addressPrefixes":"10.0.0.0/16"}}}"#))
            #expect(wrongType.status == 400)
            #expect(armError(wrongType)?.target == "properties.addressSpace.addressPrefixes")
            let badEnum = try await c.raw(.PUT, net + "/localNetworkGateways/l", body: json(#"{"properties":{"gatewayIpAddress":"203.0.113.1","localNetworkAddressSpace":{"addressPrefixes":["192.168.0.0/24"]},"bgpSettings":{"asn":"x"}}}"#))
            #expect(badEnum.status == 400)
            let badName = try await c.raw(.PUT, net + "/virtualNetworks/-bad-", body: json(#"{"properties":{"addressSpace":{"addressPrefixes":["10.0.0.0/16"]}}}"#))
            #expect(badName.status == 400)
            #expect(armError(badName)?.message.contains("not a valid name") == true)
            let big = Data(repeating: UInt8(ascii: " "), count: 5 * 1024 * 1024)
            let tooBig = try await c.raw(.PUT, net + "/virtualNetworks/v", body: big)
            #expect(tooBig.status == 413)
            let unknown = try await c.raw(.GET, net + "/firewalls")
            #expect(unknown.status == 404)
            #expect(armError(unknown)?.code == "InvalidResourceType")
            let noGroup = try await c.raw(.PUT, "/subscriptions/sub1/resourceGroups/nope/providers/Microsoft.Network/virtualNetworks/v", body: json(#"{"properties":{"addressSpace":{"addressPrefixes":["10.0.0.0/16"]}}}"#))
            #expect(noGroup.status == 404)
            #expect(armError(noGroup)?.code == "ResourceGroupNotFound")
            let method = try await c.raw(.POST, net + "/virtualNetworks/v")
            #expect(method.status == 405)
            // The server still serves after all of that.
            #expect(try await c.raw(.GET, net + "/virtualNetworks").status == 200)
        }
    }

    @Test("peering state: Initiated, Connected, Disconnected when the other side goes, Connected again when it returns")
    func peeringStates() async throws {
        try await withTestServer { c, _, _ in
            let net = self.net
            _ = try await c.call(.PUT, self.g, body: json(#"{"location":"local"}"#))
            for (name, prefix) in [("a", "10.1.0.0/16"), ("b", "10.2.0.0/16")] {
                _ = try await c.call(.PUT, net + "/virtualNetworks/\(name)", body: json(#"{"properties":{"addressSpace":{"addressPrefixes":["\#(prefix)"]}}}"#))
            }
            func peering(_ vnet: String, _ remote: String) -> Data {
                json(#"{"properties":{"remoteVirtualNetwork":{"id":"/subscriptions/sub1/resourceGroups/rg1/providers/Microsoft.Network/virtualNetworks/\#(remote)"}}}"#)
            }
            func state(_ vnet: String, _ name: String) async throws -> String? {
                ((object(try await c.call(.GET, net + "/virtualNetworks/\(vnet)/virtualNetworkPeerings/\(name)").body))["properties"] as? [String: Any])?["peeringState"] as? String
            }
            _ = try await c.call(.PUT, net + "/virtualNetworks/a/virtualNetworkPeerings/a-b", body: peering("a", "b"))
            #expect(try await state("a", "a-b") == "Initiated")
            _ = try await c.call(.PUT, net + "/virtualNetworks/b/virtualNetworkPeerings/b-a", body: peering("b", "a"))
            #expect(try await state("a", "a-b") == "Connected")
            #expect(try await state("b", "b-a") == "Connected")
            _ = try await c.call(.DELETE, net + "/virtualNetworks/b/virtualNetworkPeerings/b-a")
            #expect(try await state("a", "a-b") == "Disconnected", "the remaining side reports the loss, as Azure does")
            // An unrelated change to VNet a keeps the state.
            _ = try await c.call(.PATCH, net + "/virtualNetworks/a", body: json(#"{"tags":{"x":"y"}}"#))
            #expect(try await state("a", "a-b") == "Disconnected")
            _ = try await c.call(.PUT, net + "/virtualNetworks/b/virtualNetworkPeerings/b-a", body: peering("b", "a"))
            #expect(try await state("a", "a-b") == "Connected")
        }
    }

    @Test("the OpenAPI document lists every resource path")
    func openAPI() async throws {
        try await withTestServer { c, _, _ in
            let doc = object(try await c.call(.GET, "/openapi.json").body)
            #expect(doc["openapi"] as? String == "3.0.3")
            let paths = try #require(doc["paths"] as? [String: Any])
            for type in ResourceType.allCases {
                #expect(paths["/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Network/\(type.rawValue)/{name}"] != nil)
            }
        }
    }

    @Test("state survives a restart of the service (SQLite)")
    func restartKeepsEverything() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vpngw-restart-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let dbPath = dir.appendingPathComponent("state.sqlite").path
        let net = self.net
        try await withTestServer(store: try SQLiteResourceStore(path: dbPath), dataDir: dir) { c, _, _ in
            _ = try await c.call(.PUT, self.g, body: json(#"{"location":"local"}"#))
            _ = try await c.call(.PUT, net + "/virtualNetworks/vnet1", body: json(#"{"properties":{"addressSpace":{"addressPrefixes":["10.1.0.0/16"]},"subnets":[{"name":"GatewaySubnet","properties":{"addressPrefix":"10.1.255.0/27"}}]}}"#))
            _ = try await c.call(.PUT, net + "/localNetworkGateways/site1", body: json(#"{"properties":{"gatewayIpAddress":"203.0.113.10","localNetworkAddressSpace":{"addressPrefixes":["192.168.1.0/24"]}}}"#))
        }
        try await withTestServer(store: try SQLiteResourceStore(path: dbPath), dataDir: dir) { c, _, _ in
            let v = object(try await c.call(.GET, net + "/virtualNetworks/vnet1").body)
            #expect(((v["properties"] as? [String: Any])?["subnets"] as? [Any])?.count == 1)
            #expect(try await c.raw(.GET, net + "/localNetworkGateways/site1").status == 200)
        }
    }
}
