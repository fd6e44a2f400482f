import Foundation

extension Admission {
    // MARK: Connection

    func admitConnection(_ input: Connection, id: ResourceID, location: String, world: World) throws(ARMError) -> Connection {
        var old: Connection?
        if case .connection(let c)? = world[id.key] { old = c }
        var r = input
        r.id = id.description; r.name = id.name; r.type = id.type.armType
        r.location = r.location ?? old?.location ?? location
        if r.tags == nil { r.tags = old?.tags }
        try VpngwTags.validate(r.tags)
        r.etag = nil
        var p = r.properties

        guard let type = p.connectionType ?? old?.properties.connectionType else {
            throw ARMError.missing("properties.connectionType", "one of IPsec (site-to-site), Vnet2Vnet, ExpressRoute")
        }
        if let oldType = old?.properties.connectionType, oldType != type {
            throw ARMError.conflict("ConnectionTypeCannotChange", "properties.connectionType", "connectionType cannot change from \(oldType.rawValue) to \(type.rawValue); delete and recreate the connection.")
        }
        if type == .VPNClient {
            throw ARMError.rule("InvalidConnectionType", "properties.connectionType",
                "VPNClient connections are not created as resources: configure point-to-site on the gateway (properties.vpnClientConfiguration).")
        }
        p.connectionType = type

        // Endpoints.
        guard let gw1Ref = p.virtualNetworkGateway1?.id ?? old?.properties.virtualNetworkGateway1?.id else {
            throw ARMError.missing("properties.virtualNetworkGateway1.id", "the id of this side's virtual network gateway")
        }
        guard let gw1 = world.gateway(gw1Ref) else {
            throw ARMError(status: 400, code: "ReferencedResourceNotFound", message: "properties.virtualNetworkGateway1: gateway '\(gw1Ref)' was not found.", target: "properties.virtualNetworkGateway1.id")
        }
        func same(_ a: String?, _ b: String?) -> Bool { a.flatMap { ResourceID(parsing: $0)?.key } == b.flatMap { ResourceID(parsing: $0)?.key } }
        if let old, !same(old.properties.virtualNetworkGateway1?.id, gw1.id) {
            throw ARMError.conflict("ConnectionEndpointCannotChange", "properties.virtualNetworkGateway1.id", "A connection's gateways cannot change; delete and recreate the connection.")
        }
        p.virtualNetworkGateway1 = Reference(id: gw1.id ?? gw1Ref)
        let sku1 = gw1.properties.sku.flatMap { GatewaySKU(caseInsensitive: $0.name ?? "") } ?? .VpnGw1
        let gw1VNet = world.vnetID(ofGateway: gw1)

        switch type {
        case .ExpressRoute:
            guard gw1.properties.gatewayType == .ExpressRoute else {
                throw ARMError.rule("GatewayTypeMismatch", "properties.virtualNetworkGateway1.id",
                    "An ExpressRoute connection needs an ExpressRoute gateway; '\(gw1.name ?? "")' is a Vpn gateway.")
            }
            guard let peerRef = p.peer?.id ?? old?.properties.peer?.id else {
                throw ARMError.missing("properties.peer.id", "the id of the ExpressRoute circuit")
            }
            guard let circuit = world.circuit(peerRef) else {
                throw ARMError(status: 400, code: "ReferencedResourceNotFound", message: "properties.peer: ExpressRoute circuit '\(peerRef)' was not found.", target: "properties.peer.id")
            }
            guard circuit.properties.peerings?.contains(where: { $0.properties.peeringType == "AzurePrivatePeering" }) == true else {
                throw ARMError.rule("CircuitHasNoPrivatePeering", "properties.peer.id",
                    "ExpressRoute circuit '\(circuit.name ?? "")' has no AzurePrivatePeering; add one before connecting a gateway.")
            }
            if p.sharedKey != nil { throw ARMError.rule("SharedKeyNotAllowed", "properties.sharedKey", "ExpressRoute connections take no shared key.") }
            if p.ipsecPolicies?.isEmpty == false { throw ARMError.rule("IpsecPolicyNotAllowed", "properties.ipsecPolicies", "Custom IPsec/IKE policies are not available for ExpressRoute connections.") }
            p.peer = Reference(id: circuit.id ?? peerRef)
            p.localNetworkGateway2 = nil; p.virtualNetworkGateway2 = nil
            p.routingWeight = p.routingWeight ?? 0
            p.connectionProtocol = nil; p.dpdTimeoutSeconds = nil; p.connectionMode = nil
        case .IPsec, .Vnet2Vnet:
            guard gw1.properties.gatewayType == .Vpn else {
                throw ARMError.rule("GatewayTypeMismatch", "properties.virtualNetworkGateway1.id",
                    "An \(type.rawValue) connection needs a Vpn gateway; '\(gw1.name ?? "")' is an ExpressRoute gateway.")
            }
            let policyBased = gw1.properties.vpnType == .PolicyBased
            // Site prefixes or the remote VNet.
            var remoteSpace: [IPPrefix] = []
            var remoteName = ""
            if type == .IPsec {
                guard let lngRef = p.localNetworkGateway2?.id ?? old?.properties.localNetworkGateway2?.id else {
                    throw ARMError.missing("properties.localNetworkGateway2.id", "the id of the local network gateway (the on-premises site)")
                }
                guard let lng = world.localGateway(lngRef) else {
                    throw ARMError(status: 400, code: "ReferencedResourceNotFound", message: "properties.localNetworkGateway2: local network gateway '\(lngRef)' was not found.", target: "properties.localNetworkGateway2.id")
                }
                if let old, !same(old.properties.localNetworkGateway2?.id, lng.id) {
                    throw ARMError.conflict("ConnectionEndpointCannotChange", "properties.localNetworkGateway2.id", "A connection's local network gateway cannot change; delete and recreate the connection.")
                }
                if let dup = world.connections(onGateway: gw1.id ?? "").first(where: {
                    !same($0.id, id.description) && same($0.properties.localNetworkGateway2?.id, lng.id)
                }) {
                    throw ARMError.conflict("DuplicateConnection", "properties.localNetworkGateway2.id",
                        "Gateway '\(gw1.name ?? "")' already has connection '\(dup.name ?? "")' to local network gateway '\(lng.name ?? "")'.")
                }
                p.localNetworkGateway2 = Reference(id: lng.id ?? lngRef)
                p.virtualNetworkGateway2 = nil; p.peer = nil
                remoteSpace = lng.properties.localNetworkAddressSpace?.prefixes ?? []
                remoteName = lng.name ?? ""
                try checkSiteFits(remoteSpace, site: remoteName, gateway: gw1, world: world, excludingConnection: id.description,
                                  field: "properties.localNetworkGateway2.id", status: 400)
            } else {
                guard let gw2Ref = p.virtualNetworkGateway2?.id ?? old?.properties.virtualNetworkGateway2?.id else {
                    throw ARMError.missing("properties.virtualNetworkGateway2.id", "the id of the other virtual network's gateway")
                }
                guard let gw2 = world.gateway(gw2Ref) else {
                    throw ARMError(status: 400, code: "ReferencedResourceNotFound", message: "properties.virtualNetworkGateway2: gateway '\(gw2Ref)' was not found.", target: "properties.virtualNetworkGateway2.id")
                }
                if same(gw1.id, gw2.id) {
                    throw ARMError.rule("CannotConnectGatewayToItself", "properties.virtualNetworkGateway2.id", "virtualNetworkGateway1 and virtualNetworkGateway2 are the same gateway.")
                }
                if let old, !same(old.properties.virtualNetworkGateway2?.id, gw2.id) {
                    throw ARMError.conflict("ConnectionEndpointCannotChange", "properties.virtualNetworkGateway2.id", "A connection's gateways cannot change; delete and recreate the connection.")
                }
                for (gw, field) in [(gw1, "properties.virtualNetworkGateway1.id"), (gw2, "properties.virtualNetworkGateway2.id")] {
                    guard gw.properties.gatewayType == .Vpn, gw.properties.vpnType == .RouteBased else {
                        throw ARMError.rule("Vnet2VnetRequiresRouteBased", field,
                            "VNet-to-VNet connections need RouteBased Vpn gateways on both sides; '\(gw.name ?? "")' is \(gw.properties.vpnType?.rawValue ?? gw.properties.gatewayType?.rawValue ?? "").")
                    }
                }
                if let dup = world.connections.first(where: {
                    !same($0.id, id.description) && same($0.properties.virtualNetworkGateway1?.id, gw1.id) && same($0.properties.virtualNetworkGateway2?.id, gw2.id)
                }) {
                    throw ARMError.conflict("DuplicateConnection", "properties.virtualNetworkGateway2.id", "Connection '\(dup.name ?? "")' already joins these two gateways in this direction.")
                }
                p.virtualNetworkGateway2 = Reference(id: gw2.id ?? gw2Ref)
                p.localNetworkGateway2 = nil; p.peer = nil
                let gw2VNet = world.vnetID(ofGateway: gw2)
                remoteSpace = world.addressSpace(ofVNet: gw2VNet)
                remoteName = ResourceID(parsing: gw2VNet ?? "")?.name ?? ""
                try checkSiteFits(remoteSpace, site: remoteName, gateway: gw1, world: world, excludingConnection: id.description,
                                  sameNetwork: gw2VNet, field: "properties.virtualNetworkGateway2.id", status: 400)
            }

            // PolicyBased: one site-to-site connection, IKEv1, no VNet-to-VNet, no BGP.
            let otherTunnels = world.connections(onGateway: gw1.id ?? "").filter { !same($0.id, id.description) && $0.properties.connectionType != .ExpressRoute }
            if policyBased {
                if type == .Vnet2Vnet {
                    throw ARMError.rule("PolicyBasedGatewayDoesNotSupportVnet2Vnet", "properties.virtualNetworkGateway1.id", "PolicyBased gateway '\(gw1.name ?? "")' cannot make VNet-to-VNet connections; use RouteBased gateways.")
                }
                if let first = otherTunnels.first {
                    throw ARMError.rule("PolicyBasedGatewaySupportsOneConnection", "properties.virtualNetworkGateway1.id",
                        "PolicyBased gateway '\(gw1.name ?? "")' already has connection '\(first.name ?? "")'; a PolicyBased gateway supports one site-to-site connection. Multi-site needs a RouteBased gateway.")
                }
            }
            if otherTunnels.count >= sku1.maxTunnels {
                throw ARMError.conflict("TooManyTunnelsForSku", "properties.virtualNetworkGateway1.id",
                    "Gateway '\(gw1.name ?? "")' (\(sku1.rawValue)) already has \(otherTunnels.count) of its \(sku1.maxTunnels) site-to-site/VNet-to-VNet tunnels. Resize the gateway or remove a connection.")
            }

            // Protocol: PolicyBased = IKEv1; Basic RouteBased = IKEv2; VNet-to-VNet = IKEv2.
            let proto = p.connectionProtocol ?? old?.properties.connectionProtocol ?? (policyBased ? .IKEv1 : .IKEv2)
            if let oldProto = old?.properties.connectionProtocol, oldProto != proto {
                throw ARMError.conflict("ConnectionProtocolCannotChange", "properties.connectionProtocol", "connectionProtocol cannot change from \(oldProto.rawValue) to \(proto.rawValue) after creation; delete and recreate the connection.")
            }
            if policyBased && proto != .IKEv1 {
                throw ARMError.rule("PolicyBasedRequiresIKEv1", "properties.connectionProtocol", "PolicyBased gateways speak IKEv1 only; set connectionProtocol IKEv1 or use a RouteBased gateway.")
            }
            if !policyBased && sku1 == .Basic && proto != .IKEv2 {
                throw ARMError.rule("BasicRouteBasedRequiresIKEv2", "properties.connectionProtocol", "RouteBased Basic gateways speak IKEv2 only.")
            }
            if type == .Vnet2Vnet && proto != .IKEv2 {
                throw ARMError.rule("Vnet2VnetRequiresIKEv2", "properties.connectionProtocol", "VNet-to-VNet connections use IKEv2.")
            }
            p.connectionProtocol = proto

            // Shared key: generated when absent (Azure does so per connection).
            let key = p.sharedKey ?? old?.properties.sharedKey ?? context.newSharedKey()
            try SharedKeyRule.validate(key, field: "properties.sharedKey")
            p.sharedKey = key

            let dpd = p.dpdTimeoutSeconds ?? old?.properties.dpdTimeoutSeconds ?? 45
            guard (9...3600).contains(dpd) else {
                throw ARMError.invalid("properties.dpdTimeoutSeconds", "\(dpd) is outside the allowed 9–3600 seconds (default 45; 30–45 recommended)")
            }
            p.dpdTimeoutSeconds = dpd
            p.connectionMode = p.connectionMode ?? .Default
            p.routingWeight = p.routingWeight ?? 0
            p.usePolicyBasedTrafficSelectors = p.usePolicyBasedTrafficSelectors ?? false

            // Custom IPsec/IKE policy.
            let policies = p.ipsecPolicies ?? []
            if !policies.isEmpty {
                if sku1 == .Basic {
                    throw ARMError.rule("IpsecPolicyNotSupportedOnBasic", "properties.ipsecPolicies", "Custom IPsec/IKE policies are not available with the Basic SKU.")
                }
                if policies.count > 1 {
                    throw ARMError.rule("OnlyOneIpsecPolicy", "properties.ipsecPolicies", "A connection takes one custom IPsec/IKE policy; got \(policies.count).")
                }
                try IpsecPolicyRules.validate(policies[0], field: "properties.ipsecPolicies[0]")
            }
            for (i, ts) in (p.trafficSelectorPolicies ?? []).enumerated() {
                if ts.localAddressRanges?.isEmpty != false { throw ARMError.missing("properties.trafficSelectorPolicies[\(i)].localAddressRanges") }
                if ts.remoteAddressRanges?.isEmpty != false { throw ARMError.missing("properties.trafficSelectorPolicies[\(i)].remoteAddressRanges") }
            }

            // BGP on the connection needs it on the gateway and the site.
            let bgp = p.enableBgp ?? false
            p.enableBgp = bgp
            if bgp {
                if gw1.properties.enableBgp != true {
                    throw ARMError.rule("BgpNotEnabledOnGateway", "properties.enableBgp", "Gateway '\(gw1.name ?? "")' does not have enableBgp set; enable BGP on the gateway first.")
                }
                if type == .IPsec, world.localGateway(p.localNetworkGateway2?.id)?.properties.bgpSettings?.asn == nil {
                    throw ARMError.rule("BgpSettingsMissingOnLocalGateway", "properties.enableBgp", "Local network gateway '\(remoteName)' has no bgpSettings (asn, bgpPeeringAddress).")
                }
                if type == .Vnet2Vnet, world.gateway(p.virtualNetworkGateway2?.id)?.properties.enableBgp != true {
                    throw ARMError.rule("BgpNotEnabledOnGateway", "properties.enableBgp", "The remote gateway does not have enableBgp set.")
                }
            }
            _ = gw1VNet
        case .VPNClient:
            break
        }

        // Observed state starts unknown; the reconciler fills it in.
        p.connectionStatus = nil; p.connectionStatusReason = nil; p.negotiatedAlgorithms = nil
        p.ingressBytesTransferred = nil; p.egressBytesTransferred = nil; p.tunnelConnectionStatus = nil
        p.provisioningState = .Succeeded
        p.resourceGuid = old?.properties.resourceGuid ?? context.newGUID()
        r.properties = p
        return r
    }
}

/// Shared keys: printable ASCII, 1–128 characters.
public enum SharedKeyRule {
    public static func validate(_ key: String, field: String) throws(ARMError) {
        guard (1...128).contains(key.count) else {
            throw ARMError.invalid(field, "the shared key must be 1–128 characters long (got \(key.count))")
        }
        if let bad = key.unicodeScalars.first(where: { !($0.value >= 0x20 && $0.value < 0x7f) }) {
            throw ARMError.invalid(field, "the shared key may contain printable ASCII only; U+\(String(bad.value, radix: 16, uppercase: true)) is not allowed")
        }
    }
}

/// Custom IPsec/IKE policy rules (features.md §1.3): complete, Azure's names, GCM pairing,
/// lifetimes; and only what vpngw's IKE and ESP implement — the rest is refused by name.
public enum IpsecPolicyRules {
    public static let supportedIkeEncryption: [IkeEncryption] = [.AES128, .AES256, .GCMAES128, .GCMAES256]
    public static let supportedIkeIntegrity: [IkeIntegrity] = [.SHA1, .SHA256, .SHA384, .GCMAES128, .GCMAES256]
    public static let supportedDhGroups: [DhGroup] = [.DHGroup2, .DHGroup14, .DHGroup2048, .ECP256, .ECP384]
    public static let supportedIpsecEncryption: [IpsecEncryption] = [.AES128, .AES256, .GCMAES128, .GCMAES256]
    public static let supportedIpsecIntegrity: [IpsecIntegrity] = [.SHA1, .SHA256, .GCMAES128, .GCMAES256]
    public static let supportedPfsGroups: [PfsGroup] = [.None, .PFS2, .PFS2048, .PFS14, .ECP256, .ECP384]

    public static func validate(_ p: IpsecPolicy, field: String) throws(ARMError) {
        func need<T>(_ v: T?, _ name: String, _ allowed: [T]) throws(ARMError) -> T where T: ARMEnum {
            guard let v else {
                throw ARMError.missing("\(field).\(name)", "a custom policy must be complete; allowed: \(allowed.map(\.rawValue).joined(separator: ", "))")
            }
            guard allowed.contains(v) else {
                throw ARMError.rule("UnsupportedIpsecPolicyValue", "\(field).\(name)",
                    "\(v.rawValue) is not supported by vpngw for \(name); supported: \(allowed.map(\.rawValue).joined(separator: ", ")).")
            }
            return v
        }
        let ikeEnc = try need(p.ikeEncryption, "ikeEncryption", supportedIkeEncryption)
        let ikeInt = try need(p.ikeIntegrity, "ikeIntegrity", supportedIkeIntegrity)
        _ = try need(p.dhGroup, "dhGroup", supportedDhGroups)
        let enc = try need(p.ipsecEncryption, "ipsecEncryption", supportedIpsecEncryption)
        let integ = try need(p.ipsecIntegrity, "ipsecIntegrity", supportedIpsecIntegrity)
        _ = try need(p.pfsGroup, "pfsGroup", supportedPfsGroups)
        guard let life = p.saLifeTimeSeconds else { throw ARMError.missing("\(field).saLifeTimeSeconds", "at least 300 (default 27000)") }
        guard life >= 300, life <= 172_799 else { throw ARMError.invalid("\(field).saLifeTimeSeconds", "\(life) is outside 300–172799 seconds") }
        guard let kb = p.saDataSizeKilobytes else { throw ARMError.missing("\(field).saDataSizeKilobytes", "at least 1024 (default 102400000)") }
        guard kb >= 1024 else { throw ARMError.invalid("\(field).saDataSizeKilobytes", "\(kb) is below the minimum 1024 KB") }
        // GCM for IPsec encryption requires the same GCM as integrity, and only then.
        let encIsGCM = enc.rawValue.hasPrefix("GCM"), integIsGCM = integ.rawValue.hasPrefix("GCM")
        if encIsGCM || integIsGCM, enc.rawValue != integ.rawValue {
            throw ARMError.rule("IpsecGcmMismatch", "\(field).ipsecIntegrity",
                "With GCM, ipsecEncryption and ipsecIntegrity must name the same algorithm (e.g. both GCMAES256); got \(enc.rawValue) and \(integ.rawValue).")
        }
        if ikeInt.rawValue.hasPrefix("GCM") && ikeEnc.rawValue != ikeInt.rawValue {
            throw ARMError.rule("IkeGcmMismatch", "\(field).ikeIntegrity",
                "ikeIntegrity \(ikeInt.rawValue) needs ikeEncryption \(ikeInt.rawValue); got \(ikeEnc.rawValue).")
        }
    }
}
