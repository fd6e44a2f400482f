import Foundation
import Testing
import GatewayModel

@Suite("Connection rules")
struct ConnectionTests {
    /// vnet1 (10.1/16) with gateway gw1, site1 (192.168.1.0/24).
    func s2s(sku: String = "VpnGw1", vpnType: String = "RouteBased", enableBgp: Bool? = nil) async throws -> Lab {
        let lab = try await Lab.make()
        try await lab.hub("vnet1", "10.1.0.0/16", gateway: "gw1", vpnType: vpnType, sku: sku, enableBgp: enableBgp)
        try await lab.site("site1", ["192.168.1.0/24"])
        return lab
    }

    @Test func connectionTypeRequiredAndVPNClientRefused() async throws {
        let lab = try await s2s()
        await expectRefusal(400, "MissingRequiredProperty", target: "properties.connectionType", mentions: ["IPsec", "Vnet2Vnet", "ExpressRoute"], lab: lab) {
            try await lab.put(.connections, "c", connectionBody(type: nil, gw1: "gw1", site: "site1"))
        }
        await expectRefusal(400, "InvalidConnectionType", target: "properties.connectionType", mentions: ["VPNClient", "vpnClientConfiguration"], lab: lab) {
            try await lab.put(.connections, "c", connectionBody(type: "VPNClient", gw1: "gw1"))
        }
        await expectRefusal(400, "InvalidRequestFormat", target: "properties.connectionType", mentions: ["'SiteToSite'", "IPsec, Vnet2Vnet, ExpressRoute, VPNClient"], lab: lab) {
            try await lab.put(.connections, "c", connectionBody(type: "SiteToSite", gw1: "gw1", site: "site1"))
        }
        let c = try await lab.connection("c", connectionBody(type: "ipsec", gw1: "gw1", site: "site1"))
        #expect(c.properties.connectionType == .IPsec && c.properties.connectionProtocol == .IKEv2)
        #expect(c.properties.dpdTimeoutSeconds == 45)
    }

    @Test func gateway1MustExist() async throws {
        let lab = try await s2s()
        await expectRefusal(400, "MissingRequiredProperty", target: "properties.virtualNetworkGateway1.id", lab: lab) {
            try await lab.put(.connections, "c", connectionBody(gw1: nil, site: "site1"))
        }
        await expectRefusal(400, "ReferencedResourceNotFound", target: "properties.virtualNetworkGateway1.id", mentions: ["ghost"], lab: lab) {
            try await lab.put(.connections, "c", connectionBody(gw1: "ghost", site: "site1"))
        }
    }

    @Test func ipsecNeedsVpnGatewayAndExistingSite() async throws {
        let lab = try await s2s()
        await expectRefusal(400, "MissingRequiredProperty", target: "properties.localNetworkGateway2.id", lab: lab) {
            try await lab.put(.connections, "c", connectionBody(gw1: "gw1"))
        }
        await expectRefusal(400, "ReferencedResourceNotFound", target: "properties.localNetworkGateway2.id", mentions: ["nosite"], lab: lab) {
            try await lab.put(.connections, "c", connectionBody(gw1: "gw1", site: "nosite"))
        }
        try await lab.gateway("er", vnet: "vnet1", type: "ExpressRoute")
        await expectRefusal(400, "GatewayTypeMismatch", target: "properties.virtualNetworkGateway1.id", mentions: ["'er'", "Vpn gateway"], lab: lab) {
            try await lab.put(.connections, "c", connectionBody(gw1: "er", site: "site1"))
        }
        try await lab.connection("c", connectionBody(gw1: "gw1", site: "site1"))
    }

    @Test func expressRouteConnection() async throws {
        let lab = try await s2s()
        try await lab.gateway("er", vnet: "vnet1", type: "ExpressRoute")
        try await lab.put(.expressRouteCircuits, "circuit", circuitBody())
        try await lab.put(.expressRouteCircuits, "msonly", circuitBody(privatePeering: false))
        await expectRefusal(400, "GatewayTypeMismatch", target: "properties.virtualNetworkGateway1.id", mentions: ["ExpressRoute gateway", "'gw1'"], lab: lab) {
            try await lab.put(.connections, "c", connectionBody(type: "ExpressRoute", gw1: "gw1", circuit: "circuit"))
        }
        await expectRefusal(400, "MissingRequiredProperty", target: "properties.peer.id", lab: lab) {
            try await lab.put(.connections, "c", connectionBody(type: "ExpressRoute", gw1: "er"))
        }
        await expectRefusal(400, "ReferencedResourceNotFound", target: "properties.peer.id", mentions: ["nocircuit"], lab: lab) {
            try await lab.put(.connections, "c", connectionBody(type: "ExpressRoute", gw1: "er", circuit: "nocircuit"))
        }
        await expectRefusal(400, "CircuitHasNoPrivatePeering", target: "properties.peer.id", mentions: ["'msonly'", "AzurePrivatePeering"], lab: lab) {
            try await lab.put(.connections, "c", connectionBody(type: "ExpressRoute", gw1: "er", circuit: "msonly"))
        }
        await expectRefusal(400, "SharedKeyNotAllowed", target: "properties.sharedKey", lab: lab) {
            try await lab.put(.connections, "c", connectionBody(type: "ExpressRoute", gw1: "er", circuit: "circuit", sharedKey: "abc"))
        }
        let c = try await lab.connection("c", connectionBody(type: "ExpressRoute", gw1: "er", circuit: "circuit"))
        #expect(c.properties.sharedKey == nil && c.properties.connectionProtocol == nil)
    }

    @Test func circuitRules() async throws {
        let lab = try await Lab.make()
        await expectRefusal(400, "InvalidRequestFormat", target: "properties.serviceProviderProperties.bandwidthInMbps", mentions: ["123", "1000"], lab: lab) {
            try await lab.put(.expressRouteCircuits, "c", circuitBody(bandwidth: 123))
        }
        await expectRefusal(400, "MissingRequiredProperty", target: "properties.serviceProviderProperties", lab: lab) {
            try await lab.put(.expressRouteCircuits, "c", props([:]))
        }
        try await lab.put(.expressRouteCircuits, "c", circuitBody(bandwidth: 1000))
    }

    // MARK: Multi-site, PolicyBased, Basic

    @Test func multiSiteOnRouteBasedOnly() async throws {
        let lab = try await s2s()
        try await lab.site("site2", ["192.168.2.0/24"])
        try await lab.connection("c1", connectionBody(gw1: "gw1", site: "site1"))
        try await lab.connection("c2", connectionBody(gw1: "gw1", site: "site2"))

        let pb = try await s2s(sku: "Basic", vpnType: "PolicyBased")
        try await pb.site("site2", ["192.168.2.0/24"])
        let c1 = try await pb.connection("c1", connectionBody(gw1: "gw1", site: "site1"))
        #expect(c1.properties.connectionProtocol == .IKEv1)
        await expectRefusal(400, "PolicyBasedGatewaySupportsOneConnection", target: "properties.virtualNetworkGateway1.id", mentions: ["'c1'", "RouteBased"], lab: pb) {
            try await pb.put(.connections, "c2", connectionBody(gw1: "gw1", site: "site2", protocol: "IKEv1"))
        }
        // Re-PUT of the one connection is not a second one.
        try await pb.connection("c1", connectionBody(gw1: "gw1", site: "site1", protocol: "IKEv1"))
    }

    @Test func policyBasedIKEv1OnlyNoVnet2Vnet() async throws {
        let lab = try await s2s(sku: "Basic", vpnType: "PolicyBased")
        await expectRefusal(400, "PolicyBasedRequiresIKEv1", target: "properties.connectionProtocol", mentions: ["IKEv1"], lab: lab) {
            try await lab.put(.connections, "c", connectionBody(gw1: "gw1", site: "site1", protocol: "IKEv2"))
        }
        try await lab.hub("vnet2", "10.2.0.0/16", gateway: "gw2")
        await expectRefusal(400, "Vnet2VnetRequiresRouteBased", target: "properties.virtualNetworkGateway1.id", mentions: ["'gw1'", "PolicyBased"], lab: lab) {
            try await lab.put(.connections, "v2v", connectionBody(type: "Vnet2Vnet", gw1: "gw1", gw2: "gw2"))
        }
        await expectRefusal(400, "Vnet2VnetRequiresRouteBased", target: "properties.virtualNetworkGateway2.id", mentions: ["'gw1'"], lab: lab) {
            try await lab.put(.connections, "v2v", connectionBody(type: "Vnet2Vnet", gw1: "gw2", gw2: "gw1"))
        }
        try await lab.connection("c", connectionBody(gw1: "gw1", site: "site1", protocol: "IKEv1"))
    }

    @Test func basicRouteBasedIKEv2Only() async throws {
        let lab = try await s2s(sku: "Basic")
        await expectRefusal(400, "BasicRouteBasedRequiresIKEv2", target: "properties.connectionProtocol", mentions: ["IKEv2"], lab: lab) {
            try await lab.put(.connections, "c", connectionBody(gw1: "gw1", site: "site1", protocol: "IKEv1"))
        }
        try await lab.connection("c", connectionBody(gw1: "gw1", site: "site1", protocol: "IKEv2"))
        // IKEv1 is fine on VpnGw1.
        let gw1 = try await s2s()
        try await gw1.connection("c", connectionBody(gw1: "gw1", site: "site1", protocol: "IKEv1"))
    }

    @Test func basicTunnelLimitIsTen() async throws {
        let lab = try await s2s(sku: "Basic")
        for i in 0..<11 { try await lab.site("s\(i)", ["192.168.\(100 + i).0/24"]) }
        for i in 0..<10 { try await lab.connection("c\(i)", connectionBody(gw1: "gw1", site: "s\(i)")) }
        await expectRefusal(409, "TooManyTunnelsForSku", target: "properties.virtualNetworkGateway1.id", mentions: ["'gw1'", "Basic", "10 of its 10"], lab: lab) {
            try await lab.put(.connections, "c10", connectionBody(gw1: "gw1", site: "s10"))
        }
        // Re-PUT of an existing one at the limit is fine; after a delete there is room again.
        try await lab.connection("c3", connectionBody(gw1: "gw1", site: "s3"))
        try await lab.delete(.connections, "c0")
        try await lab.connection("c10", connectionBody(gw1: "gw1", site: "s10"))
    }

    // MARK: Overlap

    @Test func siteMustNotOverlapVnetOrOtherSites() async throws {
        let lab = try await s2s()
        try await lab.site("inside", ["10.1.5.0/24"])
        try await lab.site("dup", ["192.168.0.0/16"])
        try await lab.connection("c1", connectionBody(gw1: "gw1", site: "site1"))
        await expectRefusal(400, "AddressSpaceOverlap", target: "properties.localNetworkGateway2.id", mentions: ["10.1.5.0/24", "'inside'", "virtual network 'vnet1'"], lab: lab) {
            try await lab.put(.connections, "c2", connectionBody(gw1: "gw1", site: "inside"))
        }
        await expectRefusal(400, "AddressSpaceOverlap", target: "properties.localNetworkGateway2.id", mentions: ["192.168.0.0/16", "'site1'"], lab: lab) {
            try await lab.put(.connections, "c2", connectionBody(gw1: "gw1", site: "dup"))
        }
    }

    @Test func siteMustNotOverlapP2SPool() async throws {
        let lab = try await Lab.make()
        try await lab.hub("vnet1", "10.1.0.0/16", gateway: "gw1", p2s: p2sConfig(pool: ["172.16.201.0/24"]))
        try await lab.site("site", ["172.16.0.0/16"])
        await expectRefusal(400, "AddressSpaceOverlap", mentions: ["172.16.201.0/24", "point-to-site"], lab: lab) {
            try await lab.put(.connections, "c", connectionBody(gw1: "gw1", site: "site"))
        }
    }

    @Test func vnetAddressSpaceCannotGrowIntoJoinedNetworks() async throws {
        let lab = try await Lab.make()
        try await lab.hub("vnet1", "10.1.0.0/16", gateway: "gw1", p2s: p2sConfig(pool: ["172.16.201.0/24"]))
        try await lab.site("site1", ["192.168.1.0/24"])
        try await lab.connection("c1", connectionBody(gw1: "gw1", site: "site1"))
        let t = "properties.addressSpace.addressPrefixes"
        await expectRefusal(409, "AddressSpaceOverlapsConnectedNetwork", target: t, mentions: ["192.168.0.0/16", "192.168.1.0/24", "'site1'"], lab: lab) {
            try await lab.put(.virtualNetworks, "vnet1", vnetBody(prefixes: ["10.1.0.0/16", "192.168.0.0/16"], subnets: [("GatewaySubnet", "10.1.255.0/27")]))
        }
        await expectRefusal(409, "AddressSpaceOverlapsConnectedNetwork", target: t, mentions: ["172.16.0.0/16", "point-to-site"], lab: lab) {
            try await lab.put(.virtualNetworks, "vnet1", vnetBody(prefixes: ["10.1.0.0/16", "172.16.0.0/16"], subnets: [("GatewaySubnet", "10.1.255.0/27")]))
        }
        try await lab.vnet("vnet1", ["10.1.0.0/16", "10.5.0.0/16"], gatewaySubnet: "10.1.255.0/27")
    }

    @Test func localGatewayPrefixUpdateMustStillFit() async throws {
        let lab = try await s2s()
        try await lab.site("site2", ["192.168.2.0/24"])
        try await lab.connection("c1", connectionBody(gw1: "gw1", site: "site1"))
        try await lab.connection("c2", connectionBody(gw1: "gw1", site: "site2"))
        let t = "properties.localNetworkAddressSpace.addressPrefixes"
        await expectRefusal(409, "AddressSpaceOverlap", target: t, mentions: ["10.1.7.0/24", "virtual network 'vnet1'"], lab: lab) {
            try await lab.put(.localNetworkGateways, "site1", localGatewayBody(prefixes: ["192.168.1.0/24", "10.1.7.0/24"]))
        }
        await expectRefusal(409, "AddressSpaceOverlap", target: t, mentions: ["192.168.2.0/24", "'site2'"], lab: lab) {
            try await lab.put(.localNetworkGateways, "site1", localGatewayBody(prefixes: ["192.168.0.0/16"]))
        }
        try await lab.site("site1", ["192.168.1.0/24", "192.168.3.0/24"])
    }

    // MARK: Vnet2Vnet

    @Test func vnet2vnetRules() async throws {
        let lab = try await Lab.make()
        try await lab.hub("vnet1", "10.1.0.0/16", gateway: "gw1")
        try await lab.hub("vnet2", "10.2.0.0/16", gateway: "gw2")
        try await lab.hub("clash", "10.1.0.0/16", gateway: "gw3")
        await expectRefusal(400, "CannotConnectGatewayToItself", target: "properties.virtualNetworkGateway2.id", lab: lab) {
            try await lab.put(.connections, "x", connectionBody(type: "Vnet2Vnet", gw1: "gw1", gw2: "gw1"))
        }
        await expectRefusal(400, "MissingRequiredProperty", target: "properties.virtualNetworkGateway2.id", lab: lab) {
            try await lab.put(.connections, "x", connectionBody(type: "Vnet2Vnet", gw1: "gw1"))
        }
        await expectRefusal(400, "AddressSpaceOverlap", target: "properties.virtualNetworkGateway2.id", mentions: ["10.1.0.0/16", "'clash'"], lab: lab) {
            try await lab.put(.connections, "x", connectionBody(type: "Vnet2Vnet", gw1: "gw1", gw2: "gw3"))
        }
        await expectRefusal(400, "Vnet2VnetRequiresIKEv2", target: "properties.connectionProtocol", lab: lab) {
            try await lab.put(.connections, "x", connectionBody(type: "Vnet2Vnet", gw1: "gw1", gw2: "gw2", protocol: "IKEv1"))
        }
        try await lab.connection("1to2", connectionBody(type: "Vnet2Vnet", gw1: "gw1", gw2: "gw2", sharedKey: "k"))
        await expectRefusal(409, "DuplicateConnection", target: "properties.virtualNetworkGateway2.id", mentions: ["'1to2'"], lab: lab) {
            try await lab.put(.connections, "again", connectionBody(type: "Vnet2Vnet", gw1: "gw1", gw2: "gw2", sharedKey: "k"))
        }
        // An ExpressRoute gateway on the far side is refused.
        try await lab.gateway("er", vnet: "vnet2", type: "ExpressRoute")
        await expectRefusal(400, "Vnet2VnetRequiresRouteBased", target: "properties.virtualNetworkGateway2.id", mentions: ["'er'"], lab: lab) {
            try await lab.put(.connections, "x", connectionBody(type: "Vnet2Vnet", gw1: "gw1", gw2: "er"))
        }
    }

    @Test func vnet2vnetStatus() async throws {
        let lab = try await Lab.make()
        try await lab.hub("vnet1", "10.1.0.0/16", gateway: "gw1")
        try await lab.hub("vnet2", "10.2.0.0/16", gateway: "gw2")
        try await lab.connection("1to2", connectionBody(type: "Vnet2Vnet", gw1: "gw1", gw2: "gw2", sharedKey: "same-key"))
        var c = try #require(try await lab.get(.connections, "1to2").connection)
        #expect(c.properties.connectionStatus == .NotConnected)
        #expect(c.properties.connectionStatusReason?.contains("Waiting for the connection from 'gw2'") == true)

        try await lab.connection("2to1", connectionBody(type: "Vnet2Vnet", gw1: "gw2", gw2: "gw1", sharedKey: "other-key"))
        c = try #require(try await lab.get(.connections, "1to2").connection)
        #expect(c.properties.connectionStatus == .NotConnected)
        #expect(c.properties.connectionStatusReason?.contains("shared key differs") == true)
        #expect(c.properties.connectionStatusReason?.contains("'2to1'") == true)

        try await lab.connection("2to1", connectionBody(type: "Vnet2Vnet", gw1: "gw2", gw2: "gw1", sharedKey: "same-key"))
        for name in ["1to2", "2to1"] {
            c = try #require(try await lab.get(.connections, name).connection)
            #expect(c.properties.connectionStatus == .Unknown)
            #expect(c.properties.connectionStatusReason == nil)
        }
    }

    // MARK: Shared key, DPD

    @Test func sharedKeyGeneratedWhenAbsent() async throws {
        let lab = try await s2s()
        let c = try await lab.connection("c", connectionBody(gw1: "gw1", site: "site1"))
        #expect(c.properties.sharedKey == nil, "as in Azure, reads do not carry the key; …/sharedkey does")
        #expect(try await lab.service.sharedKey(rid(.connections, "c")) == Fx.generatedKey)
        // A re-PUT without a key keeps it.
        _ = try await lab.connection("c", connectionBody(gw1: "gw1", site: "site1"))
        #expect(try await lab.service.sharedKey(rid(.connections, "c")) == Fx.generatedKey)
    }

    @Test("shared key printable ASCII 1–128", arguments: [
        ("a", true), (String(repeating: "k", count: 128), true), ("Abc 123 ~!@#$%^&*()", true),
        ("", false), (String(repeating: "k", count: 129), false), ("abc\u{01}def", false), ("tab\there", false),
        ("naïve", false), ("abc\u{7f}", false),
    ])
    func sharedKey(key: String, ok: Bool) async throws {
        let lab = try await s2s()
        let b = connectionBody(gw1: "gw1", site: "site1", sharedKey: key)
        if ok {
            _ = try await lab.connection("c", b)
            #expect(try await lab.service.sharedKey(rid(.connections, "c")) == key)
        } else {
            await expectRefusal(400, "InvalidRequestFormat", target: "properties.sharedKey", mentions: [key.count == 0 || key.count > 128 ? "1–128" : "printable ASCII"], lab: lab) {
                try await lab.put(.connections, "c", b)
            }
        }
    }

    @Test func sharedKeyActions() async throws {
        let lab = try await s2s()
        try await lab.connection("c", connectionBody(gw1: "gw1", site: "site1", sharedKey: "first"))
        #expect(try await lab.service.setSharedKey(rid(.connections, "c"), value: "second") == "second")
        try await lab.settle(.connections, "c")
        #expect(try await lab.service.sharedKey(rid(.connections, "c")) == "second")
        await expectRefusal(400, "InvalidRequestFormat", target: "value", lab: lab) {
            try await lab.service.setSharedKey(rid(.connections, "c"), value: String(repeating: "x", count: 129))
        }
        let reset = try await lab.service.resetSharedKey(rid(.connections, "c"), keyLength: 100)
        #expect(reset.count == 100)
        try await lab.settle(.connections, "c")
        await expectRefusal(400, "InvalidRequestFormat", target: "keyLength", lab: lab) {
            try await lab.service.resetSharedKey(rid(.connections, "c"), keyLength: 129)
        }
    }

    @Test("DPD timeout 9–3600", arguments: [(9, true), (45, true), (3600, true), (8, false), (3601, false), (0, false)])
    func dpd(seconds: Int, ok: Bool) async throws {
        let lab = try await s2s()
        let b = connectionBody(gw1: "gw1", site: "site1", dpd: seconds)
        if ok {
            #expect(try await lab.connection("c", b).properties.dpdTimeoutSeconds == seconds)
        } else {
            await expectRefusal(400, "InvalidRequestFormat", target: "properties.dpdTimeoutSeconds", mentions: ["\(seconds)", "9–3600"], lab: lab) {
                try await lab.put(.connections, "c", b)
            }
        }
    }

    // MARK: Custom IPsec/IKE policy

    @Test func ipsecPolicyAccepted() async throws {
        let lab = try await s2s()
        for policy in [ipsecPolicy(), ipsecPolicy(["ipsecEncryption": "GCMAES256", "ipsecIntegrity": "GCMAES256"]),
                       ipsecPolicy(["ikeEncryption": "GCMAES128", "ikeIntegrity": "GCMAES128", "dhGroup": "ECP256", "pfsGroup": "None"]),
                       ipsecPolicy(["saLifeTimeSeconds": 300, "saDataSizeKilobytes": 1024])] {
            let c = try await lab.connection("c", connectionBody(gw1: "gw1", site: "site1", ipsecPolicies: [policy]))
            #expect(c.properties.ipsecPolicies?.count == 1)
        }
    }

    @Test("incomplete policy names the missing field", arguments: [
        "ikeEncryption", "ikeIntegrity", "dhGroup", "ipsecEncryption", "ipsecIntegrity", "pfsGroup", "saLifeTimeSeconds", "saDataSizeKilobytes",
    ])
    func ipsecPolicyIncomplete(field: String) async throws {
        let lab = try await s2s()
        await expectRefusal(400, "MissingRequiredProperty", target: "properties.ipsecPolicies[0].\(field)", mentions: [field], lab: lab) {
            try await lab.put(.connections, "c", connectionBody(gw1: "gw1", site: "site1", ipsecPolicies: [ipsecPolicy([field: NSNull()])]))
        }
    }

    @Test func ipsecPolicyOneOnlyNotOnBasic() async throws {
        let lab = try await s2s()
        await expectRefusal(400, "OnlyOneIpsecPolicy", target: "properties.ipsecPolicies", mentions: ["2"], lab: lab) {
            try await lab.put(.connections, "c", connectionBody(gw1: "gw1", site: "site1", ipsecPolicies: [ipsecPolicy(), ipsecPolicy()]))
        }
        let basic = try await s2s(sku: "Basic")
        await expectRefusal(400, "IpsecPolicyNotSupportedOnBasic", target: "properties.ipsecPolicies", mentions: ["Basic"], lab: basic) {
            try await basic.put(.connections, "c", connectionBody(gw1: "gw1", site: "site1", ipsecPolicies: [ipsecPolicy()]))
        }
    }

    @Test("GCM pairing", arguments: [
        (["ipsecEncryption": "GCMAES256", "ipsecIntegrity": "SHA256"], "IpsecGcmMismatch", "ipsecIntegrity"),
        (["ipsecEncryption": "AES256", "ipsecIntegrity": "GCMAES256"], "IpsecGcmMismatch", "ipsecIntegrity"),
        (["ipsecEncryption": "GCMAES128", "ipsecIntegrity": "GCMAES256"], "IpsecGcmMismatch", "ipsecIntegrity"),
        (["ikeEncryption": "AES256", "ikeIntegrity": "GCMAES256"], "IkeGcmMismatch", "ikeIntegrity"),
    ] as [([String: String], String, String)])
    func gcm(overrides: [String: String], code: String, field: String) async throws {
        let lab = try await s2s()
        await expectRefusal(400, code, target: "properties.ipsecPolicies[0].\(field)", mentions: Array(overrides.values), lab: lab) {
            try await lab.put(.connections, "c", connectionBody(gw1: "gw1", site: "site1", ipsecPolicies: [ipsecPolicy(overrides)]))
        }
    }

    @Test("unsupported values are refused naming the supported ones", arguments: [
        ("ipsecEncryption", "DES3", "AES128, AES256, GCMAES128, GCMAES256"),
        ("ipsecEncryption", "GCMAES192", "AES128, AES256, GCMAES128, GCMAES256"),
        ("ikeEncryption", "DES", "AES128, AES256, GCMAES128, GCMAES256"),
        ("ikeIntegrity", "MD5", "SHA1, SHA256, SHA384"),
        ("dhGroup", "DHGroup24", "DHGroup2, DHGroup14, DHGroup2048, ECP256, ECP384"),
        ("dhGroup", "DHGroup1", "DHGroup14"),
        ("pfsGroup", "PFSMM", "None, PFS2, PFS2048, PFS14, ECP256, ECP384"),
        ("pfsGroup", "PFS24", "PFS2048"),
    ])
    func unsupportedPolicyValue(field: String, value: String, supported: String) async throws {
        let lab = try await s2s()
        await expectRefusal(400, "UnsupportedIpsecPolicyValue", target: "properties.ipsecPolicies[0].\(field)", mentions: [value, supported], lab: lab) {
            try await lab.put(.connections, "c", connectionBody(gw1: "gw1", site: "site1", ipsecPolicies: [ipsecPolicy([field: value])]))
        }
    }

    @Test("lifetime minimums", arguments: [("saLifeTimeSeconds", 299), ("saLifeTimeSeconds", 172_800), ("saDataSizeKilobytes", 1023)])
    func lifetimes(field: String, value: Int) async throws {
        let lab = try await s2s()
        await expectRefusal(400, "InvalidRequestFormat", target: "properties.ipsecPolicies[0].\(field)", mentions: ["\(value)"], lab: lab) {
            try await lab.put(.connections, "c", connectionBody(gw1: "gw1", site: "site1", ipsecPolicies: [ipsecPolicy([field: value])]))
        }
    }

    @Test func unknownPolicyEnumListsAllowed() async throws {
        let lab = try await s2s()
        await expectRefusal(400, "InvalidRequestFormat", target: "properties.ipsecPolicies[0].ipsecEncryption", mentions: ["'AES512'", "allowed values", "GCMAES256"], lab: lab) {
            try await lab.put(.connections, "c", connectionBody(gw1: "gw1", site: "site1", ipsecPolicies: [ipsecPolicy(["ipsecEncryption": "AES512"])]))
        }
    }

    // MARK: BGP on the connection

    @Test func enableBgpNeedsGatewayAndSiteBgp() async throws {
        let noBgp = try await s2s()
        await expectRefusal(400, "BgpNotEnabledOnGateway", target: "properties.enableBgp", mentions: ["'gw1'"], lab: noBgp) {
            try await noBgp.put(.connections, "c", connectionBody(gw1: "gw1", site: "site1", enableBgp: true))
        }
        let lab = try await s2s(enableBgp: true)
        await expectRefusal(400, "BgpSettingsMissingOnLocalGateway", target: "properties.enableBgp", mentions: ["'site1'", "bgpSettings"], lab: lab) {
            try await lab.put(.connections, "c", connectionBody(gw1: "gw1", site: "site1", enableBgp: true))
        }
        try await lab.site("bgpsite", ["192.168.255.1/32"], asn: 65010)
        let c = try await lab.connection("c", connectionBody(gw1: "gw1", site: "bgpsite", enableBgp: true))
        #expect(c.properties.enableBgp == true)
    }

    // MARK: Immutability and duplicates

    @Test func immutableFields() async throws {
        let lab = try await s2s()
        try await lab.site("site2", ["192.168.2.0/24"])
        try await lab.hub("vnet2", "10.2.0.0/16", gateway: "gw2")
        try await lab.connection("c", connectionBody(gw1: "gw1", site: "site1"))
        await expectRefusal(409, "ConnectionTypeCannotChange", target: "properties.connectionType", mentions: ["IPsec", "Vnet2Vnet", "delete and recreate"], lab: lab) {
            try await lab.put(.connections, "c", connectionBody(type: "Vnet2Vnet", gw1: "gw1", gw2: "gw2"))
        }
        await expectRefusal(409, "ConnectionProtocolCannotChange", target: "properties.connectionProtocol", mentions: ["IKEv2", "IKEv1"], lab: lab) {
            try await lab.put(.connections, "c", connectionBody(gw1: "gw1", site: "site1", protocol: "IKEv1"))
        }
        await expectRefusal(409, "ConnectionEndpointCannotChange", target: "properties.localNetworkGateway2.id", lab: lab) {
            try await lab.put(.connections, "c", connectionBody(gw1: "gw1", site: "site2"))
        }
        await expectRefusal(409, "ConnectionEndpointCannotChange", target: "properties.virtualNetworkGateway1.id", lab: lab) {
            try await lab.put(.connections, "c", connectionBody(gw1: "gw2", site: "site1"))
        }
        // Mutable fields change freely.
        let c = try await lab.connection("c", connectionBody(gw1: "gw1", site: "site1", sharedKey: "new-key", dpd: 30))
        #expect(try await lab.service.sharedKey(rid(.connections, "c")) == "new-key")
        #expect(c.properties.dpdTimeoutSeconds == 30)
    }

    @Test func duplicateConnectionToTheSameSite() async throws {
        let lab = try await s2s()
        try await lab.connection("c1", connectionBody(gw1: "gw1", site: "site1"))
        await expectRefusal(409, "DuplicateConnection", target: "properties.localNetworkGateway2.id", mentions: ["'gw1'", "'c1'", "'site1'"], lab: lab) {
            try await lab.put(.connections, "c2", connectionBody(gw1: "gw1", site: "site1"))
        }
        // The same site from another gateway is a different connection.
        try await lab.hub("vnet2", "10.2.0.0/16", gateway: "gw2")
        try await lab.connection("c2", connectionBody(gw1: "gw2", site: "site1"))
    }
}

@Suite("Local network gateway rules")
struct LocalNetworkGatewayTests {
    @Test func addressOrFqdnRequiredAndValid() async throws {
        let lab = try await Lab.make()
        await expectRefusal(400, "MissingRequiredProperty", target: "properties.gatewayIpAddress", mentions: ["fqdn"], lab: lab) {
            try await lab.put(.localNetworkGateways, "s", localGatewayBody(ip: nil))
        }
        for bad in ["203.0.113", "203.0.113.256", "vpn.example.com", "::g"] {
            await expectRefusal(400, "InvalidRequestFormat", target: "properties.gatewayIpAddress", mentions: ["'\(bad)'"], lab: lab) {
                try await lab.put(.localNetworkGateways, "s", localGatewayBody(ip: bad))
            }
        }
        for bad in ["vpn_1.example.com", "-vpn.example.com", "vpn..example.com", "vpn.example.com.", String(repeating: "a", count: 64) + ".com"] {
            await expectRefusal(400, "InvalidRequestFormat", target: "properties.fqdn", mentions: ["not a valid DNS name"], lab: lab) {
                try await lab.put(.localNetworkGateways, "s", localGatewayBody(ip: nil, fqdn: bad))
            }
        }
        try await lab.put(.localNetworkGateways, "byname", localGatewayBody(ip: nil, fqdn: "vpn-1.example.com"))
        let v6 = try #require(try await lab.put(.localNetworkGateways, "v6", localGatewayBody(ip: "2001:DB8:0::1")).localGateway)
        #expect(v6.properties.gatewayIpAddress == "2001:db8::1")
    }

    @Test func prefixesRequiredUnlessBgp() async throws {
        let lab = try await Lab.make()
        await expectRefusal(400, "MissingRequiredProperty", target: "properties.localNetworkAddressSpace.addressPrefixes", mentions: ["bgpSettings"], lab: lab) {
            try await lab.put(.localNetworkGateways, "s", localGatewayBody(prefixes: nil))
        }
        await expectRefusal(400, "MissingRequiredProperty", target: "properties.localNetworkAddressSpace.addressPrefixes", lab: lab) {
            try await lab.put(.localNetworkGateways, "s", localGatewayBody(prefixes: []))
        }
        try await lab.put(.localNetworkGateways, "s", localGatewayBody(prefixes: nil, asn: 65010, bgpPeeringAddress: "192.168.255.1"))
        await expectRefusal(400, "InvalidRequestFormat", target: "properties.bgpSettings.bgpPeeringAddress", mentions: ["'bogus'"], lab: lab) {
            try await lab.put(.localNetworkGateways, "t", localGatewayBody(prefixes: nil, asn: 65010, bgpPeeringAddress: "bogus"))
        }
    }

    @Test func prefixesMustNotOverlapEachOther() async throws {
        let lab = try await Lab.make()
        await expectRefusal(400, "AddressPrefixesOverlap", target: "properties.localNetworkAddressSpace.addressPrefixes[2]", mentions: ["192.168.1.128/25", "192.168.1.0/24"], lab: lab) {
            try await lab.put(.localNetworkGateways, "s", localGatewayBody(prefixes: ["192.168.1.0/24", "192.168.2.0/24", "192.168.1.128/25"]))
        }
        try await lab.put(.localNetworkGateways, "s", localGatewayBody(prefixes: ["192.168.1.0/24", "192.168.2.0/24", "fd00:9::/48"]))
    }

    @Test("local gateway ASN", arguments: [(Int64(65010), true), (65515, false), (65517, false), (64496, false)])
    func localASN(asn: Int64, ok: Bool) async throws {
        let lab = try await Lab.make()
        let b = localGatewayBody(asn: asn)
        if ok {
            try await lab.put(.localNetworkGateways, "s", b)
        } else {
            await expectRefusal(400, "ReservedAsn", target: "properties.bgpSettings.asn", mentions: ["\(asn)"], lab: lab) {
                try await lab.put(.localNetworkGateways, "s", b)
            }
        }
    }
}
