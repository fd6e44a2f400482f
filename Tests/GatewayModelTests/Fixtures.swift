import Foundation
import Testing
import GatewayModel
import GatewayControl
import GatewayStore

// MARK: Ids

enum Fx {
    static let sub = "00000000-0000-0000-0000-0000000000aa"
    static let rg = "rg1"
    /// Deterministic shared key handed out when a connection gives none.
    static let generatedKey = "GeneratedSharedKey0123456789abcd"
}

func rid(_ type: ResourceType, _ name: String, group: String = Fx.rg) -> ResourceID {
    ResourceID(subscription: Fx.sub, resourceGroup: group, type: type, name: name)
}
func vnetID(_ name: String, group: String = Fx.rg) -> String { rid(.virtualNetworks, name, group: group).description }
func subnetID(_ vnet: String, _ subnet: String = "GatewaySubnet", group: String = Fx.rg) -> String {
    ResourceID(subscription: Fx.sub, resourceGroup: group, type: .virtualNetworks, name: vnet, child: ("subnets", subnet)).description
}
func ipID(_ name: String, group: String = Fx.rg) -> String { rid(.publicIPAddresses, name, group: group).description }
func gwID(_ name: String, group: String = Fx.rg) -> String { rid(.virtualNetworkGateways, name, group: group).description }
func lngID(_ name: String, group: String = Fx.rg) -> String { rid(.localNetworkGateways, name, group: group).description }
func circuitID(_ name: String, group: String = Fx.rg) -> String { rid(.expressRouteCircuits, name, group: group).description }

// MARK: JSON bodies

typealias JSON = [String: Any]

func body(_ object: JSON) -> Data {
    try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
}
func props(_ p: JSON) -> Data { body(["properties": p]) }

func vnetBody(prefixes: [String], subnets: [(String, String)] = [], peerings: [JSON] = []) -> Data {
    var p: JSON = ["addressSpace": ["addressPrefixes": prefixes]]
    if !subnets.isEmpty { p["subnets"] = subnets.map { ["name": $0.0, "properties": ["addressPrefix": $0.1]] as JSON } }
    if !peerings.isEmpty { p["virtualNetworkPeerings"] = peerings }
    return props(p)
}

func peering(_ name: String, remote: String, group: String = Fx.rg, allowGatewayTransit: Bool? = nil, useRemoteGateways: Bool? = nil) -> JSON {
    var p: JSON = ["remoteVirtualNetwork": ["id": vnetID(remote, group: group)]]
    if let allowGatewayTransit { p["allowGatewayTransit"] = allowGatewayTransit }
    if let useRemoteGateways { p["useRemoteGateways"] = useRemoteGateways }
    return ["name": name, "properties": p]
}

func publicIPBody(address: String? = nil, version: String? = nil, sku: String? = nil) -> Data {
    var p: JSON = [:]
    if let address { p["ipAddress"] = address }
    if let version { p["publicIPAddressVersion"] = version }
    var b: JSON = ["properties": p]
    if let sku { b["sku"] = ["name": sku] }
    return body(b)
}

/// A gateway body; `vnet`, `ip`, `ip2` are names in `group`. `ip: nil` leaves the public IP out.
func gatewayBody(vnet: String, ip: String?, ip2: String? = nil, type: String = "Vpn", vpnType: String? = "RouteBased",
                 sku: String? = "VpnGw1", generation: String? = nil, activeActive: Bool? = nil,
                 enableBgp: Bool? = nil, asn: Int64? = nil, p2s: JSON? = nil,
                 subnet: String = "GatewaySubnet", group: String = Fx.rg) -> Data {
    func config(_ name: String, _ ip: String?) -> JSON {
        var c: JSON = ["subnet": ["id": subnetID(vnet, subnet, group: group)]]
        if let ip { c["publicIPAddress"] = ["id": ipID(ip, group: group)] }
        return ["name": name, "properties": c]
    }
    var configs = [config("default", ip)]
    if let ip2 { configs.append(config("activeActive", ip2)) }
    var p: JSON = ["gatewayType": type, "ipConfigurations": configs]
    if let vpnType, type == "Vpn" { p["vpnType"] = vpnType }
    if let sku { p["sku"] = ["name": sku, "tier": sku] }
    if let generation { p["vpnGatewayGeneration"] = generation }
    if let activeActive { p["activeActive"] = activeActive }
    if let enableBgp { p["enableBgp"] = enableBgp }
    if let asn { p["bgpSettings"] = ["asn": asn] }
    if let p2s { p["vpnClientConfiguration"] = p2s }
    return props(p)
}

/// A DER-looking certificate body (admission checks base64 and the SEQUENCE tag).
let fakeCertData = Data([0x30, 0x82, 0x01, 0x0a] + (0..<60).map { UInt8($0) }).base64EncodedString()

func p2sConfig(pool: [String]? = ["172.16.201.0/24"], protocols: [String]? = nil, auth: [String]? = nil,
               rootCount: Int = 0, rootData: String = fakeCertData, revoked: [String] = [], users: [(String, String)] = []) -> JSON {
    var c: JSON = [:]
    if let pool { c["vpnClientAddressPool"] = ["addressPrefixes": pool] }
    if let protocols { c["vpnClientProtocols"] = protocols }
    if let auth { c["vpnAuthenticationTypes"] = auth }
    if rootCount > 0 {
        c["vpnClientRootCertificates"] = (0..<rootCount).map { ["name": "root\($0)", "properties": ["publicCertData": rootData]] as JSON }
    }
    if !revoked.isEmpty {
        c["vpnClientRevokedCertificates"] = revoked.enumerated().map { ["name": "revoked\($0.offset)", "properties": ["thumbprint": $0.element]] as JSON }
    }
    if !users.isEmpty { c["vpnClientUsers"] = users.map { ["name": $0.0, "password": $0.1] as JSON } }
    return c
}

func localGatewayBody(ip: String? = "203.0.113.10", fqdn: String? = nil, prefixes: [String]? = ["192.168.1.0/24"],
                      asn: Int64? = nil, bgpPeeringAddress: String? = nil) -> Data {
    var p: JSON = [:]
    if let ip { p["gatewayIpAddress"] = ip }
    if let fqdn { p["fqdn"] = fqdn }
    if let prefixes { p["localNetworkAddressSpace"] = ["addressPrefixes": prefixes] }
    if asn != nil || bgpPeeringAddress != nil {
        var b: JSON = [:]
        if let asn { b["asn"] = asn }
        if let bgpPeeringAddress { b["bgpPeeringAddress"] = bgpPeeringAddress }
        p["bgpSettings"] = b
    }
    return props(p)
}

/// A connection body; gateways, site and circuit are names in `group`.
func connectionBody(type: String? = "IPsec", gw1: String?, site: String? = nil, gw2: String? = nil, circuit: String? = nil,
                    sharedKey: String? = nil, protocol proto: String? = nil, dpd: Int? = nil, enableBgp: Bool? = nil,
                    ipsecPolicies: [JSON]? = nil, group: String = Fx.rg, gw1Group: String? = nil) -> Data {
    var p: JSON = [:]
    if let type { p["connectionType"] = type }
    if let gw1 { p["virtualNetworkGateway1"] = ["id": gwID(gw1, group: gw1Group ?? group)] }
    if let site { p["localNetworkGateway2"] = ["id": lngID(site, group: group)] }
    if let gw2 { p["virtualNetworkGateway2"] = ["id": gwID(gw2, group: group)] }
    if let circuit { p["peer"] = ["id": circuitID(circuit, group: group)] }
    if let sharedKey { p["sharedKey"] = sharedKey }
    if let proto { p["connectionProtocol"] = proto }
    if let dpd { p["dpdTimeoutSeconds"] = dpd }
    if let enableBgp { p["enableBgp"] = enableBgp }
    if let ipsecPolicies { p["ipsecPolicies"] = ipsecPolicies }
    return props(p)
}

/// A complete custom IPsec/IKE policy; `overrides` replace fields, `NSNull()` removes one.
func ipsecPolicy(_ overrides: JSON = [:]) -> JSON {
    var p: JSON = [
        "saLifeTimeSeconds": 27000, "saDataSizeKilobytes": 102_400_000,
        "ipsecEncryption": "AES256", "ipsecIntegrity": "SHA256",
        "ikeEncryption": "AES256", "ikeIntegrity": "SHA256",
        "dhGroup": "DHGroup14", "pfsGroup": "PFS2048",
    ]
    for (k, v) in overrides { if v is NSNull { p[k] = nil } else { p[k] = v } }
    return p
}

func circuitBody(privatePeering: Bool = true, bandwidth: Int = 100) -> Data {
    var p: JSON = ["serviceProviderProperties": ["serviceProviderName": "Lab", "peeringLocation": "Lab1", "bandwidthInMbps": bandwidth]]
    let type = privatePeering ? "AzurePrivatePeering" : "MicrosoftPeering"
    p["peerings"] = [["name": type, "properties": [
        "peeringType": type, "peerASN": 65020, "vlanId": 100,
        "primaryPeerAddressPrefix": "192.168.100.0/30", "secondaryPeerAddressPrefix": "192.168.100.4/30",
    ]] as JSON]
    return props(p)
}

// MARK: Lab: a ResourceService over an in-memory store, one resource group ready

struct Lab {
    let service: ResourceService

    static let defaultPool = ["198.51.100.0/24", "2001:db8:ffff::/120"]

    static func make(pool: [String] = defaultPool, groups: [String] = [Fx.rg], provisioner: any Provisioner = ImmediateProvisioner()) async throws -> Lab {
        let prefixes = try pool.map { try IPPrefix(parsing: $0) }
        let context = AdmissionContext(newGUID: { UUID().uuidString.lowercased() },
                                       newSharedKey: { Fx.generatedKey },
                                       allocatePublicIP: AdmissionContext.poolAllocator(prefixes))
        let service = try ResourceService(store: InMemoryResourceStore(), admission: Admission(context: context), provisioner: provisioner)
        let lab = Lab(service: service)
        for g in groups { try await lab.group(g) }
        return lab
    }

    func group(_ name: String) async throws {
        _ = try await service.putGroup(subscription: Fx.sub, name: name, body: body(["location": "local"]))
    }

    /// PUT; a long-running write is awaited until its operation has finished.
    @discardableResult
    func put(_ type: ResourceType, _ name: String, _ data: Data, group: String = Fx.rg,
             ifMatch: String? = nil, ifNoneMatch: String? = nil) async throws -> AnyResource {
        let result = try await service.put(rid(type, name, group: group), body: data, ifMatch: ifMatch, ifNoneMatch: ifNoneMatch)
        if let op = result.operation { try await awaitOperation(op.id) }
        return result.resource
    }

    func get(_ type: ResourceType, _ name: String, group: String = Fx.rg) async throws -> AnyResource {
        try await service.get(rid(type, name, group: group))
    }

    func delete(_ type: ResourceType, _ name: String, group: String = Fx.rg, ifMatch: String? = nil) async throws {
        let (_, op) = try await service.delete(rid(type, name, group: group), ifMatch: ifMatch)
        if let op { try await awaitOperation(op.id) }
    }

    /// Polls an operation until it is no longer InProgress (bounded: 10 s).
    @discardableResult
    func awaitOperation(_ id: String) async throws -> OperationRecord {
        for _ in 0..<1000 {
            let op = try await service.operation(id)
            if op.status != .InProgress { return op }
            try await Task.sleep(for: .milliseconds(10))
        }
        Issue.record("operation \(id) did not finish within 10 s")
        return try await service.operation(id)
    }

    /// Waits until a resource written behind the Lab's back (actions) is no longer Updating.
    func settle(_ type: ResourceType, _ name: String, group: String = Fx.rg) async throws {
        for _ in 0..<1000 {
            if try await get(type, name, group: group).provisioningState != .Updating { return }
            try await Task.sleep(for: .milliseconds(10))
        }
        Issue.record("\(name) stayed Updating")
    }

    // Scenario builders (each one is itself an accepted request).

    @discardableResult
    func vnet(_ name: String, _ prefixes: [String], gatewaySubnet: String? = nil, subnets: [(String, String)] = [],
              peerings: [JSON] = [], group: String = Fx.rg) async throws -> VirtualNetwork {
        let all = (gatewaySubnet.map { [("GatewaySubnet", $0)] } ?? []) + subnets
        guard case .virtualNetwork(let v) = try await put(.virtualNetworks, name, vnetBody(prefixes: prefixes, subnets: all, peerings: peerings), group: group)
        else { throw Unexpected() }
        return v
    }

    @discardableResult
    func ip(_ name: String, address: String? = nil, version: String? = nil, group: String = Fx.rg) async throws -> PublicIPAddress {
        guard case .publicIPAddress(let r) = try await put(.publicIPAddresses, name, publicIPBody(address: address, version: version), group: group)
        else { throw Unexpected() }
        return r
    }

    /// A gateway with its own fresh public IP named `<name>-ip` (and `<name>-ip2` when active-active).
    @discardableResult
    func gateway(_ name: String, vnet: String, type: String = "Vpn", vpnType: String = "RouteBased", sku: String? = nil,
                 activeActive: Bool? = nil, enableBgp: Bool? = nil, asn: Int64? = nil, p2s: JSON? = nil,
                 group: String = Fx.rg) async throws -> VirtualNetworkGateway {
        let sku = sku ?? (type == "Vpn" ? "VpnGw1" : "ErGw1AZ")
        try await ip("\(name)-ip", group: group)
        if activeActive == true { try await ip("\(name)-ip2", group: group) }
        let b = gatewayBody(vnet: vnet, ip: "\(name)-ip", ip2: activeActive == true ? "\(name)-ip2" : nil, type: type, vpnType: vpnType,
                            sku: sku, activeActive: activeActive, enableBgp: enableBgp, asn: asn, p2s: p2s, group: group)
        guard case .virtualNetworkGateway(let g) = try await put(.virtualNetworkGateways, name, b, group: group) else { throw Unexpected() }
        return g
    }

    /// A VNet with a /27 GatewaySubnet at the top of its first /16 and a Vpn gateway in it.
    @discardableResult
    func hub(_ vnet: String, _ prefix: String, gateway: String, vpnType: String = "RouteBased", sku: String = "VpnGw1",
             enableBgp: Bool? = nil, p2s: JSON? = nil, group: String = Fx.rg) async throws -> VirtualNetworkGateway {
        try await self.vnet(vnet, [prefix], gatewaySubnet: gatewaySubnet(of: prefix), group: group)
        return try await self.gateway(gateway, vnet: vnet, vpnType: vpnType, sku: sku, enableBgp: enableBgp, p2s: p2s, group: group)
    }

    @discardableResult
    func site(_ name: String, _ prefixes: [String], ip: String = "203.0.113.10", asn: Int64? = nil, group: String = Fx.rg) async throws -> LocalNetworkGateway {
        guard case .localNetworkGateway(let r) = try await put(.localNetworkGateways, name,
            localGatewayBody(ip: ip, prefixes: prefixes, asn: asn, bgpPeeringAddress: asn == nil ? nil : "192.168.255.1"), group: group)
        else { throw Unexpected() }
        return r
    }

    @discardableResult
    func connection(_ name: String, _ data: Data, group: String = Fx.rg) async throws -> Connection {
        guard case .connection(let c) = try await put(.connections, name, data, group: group) else { throw Unexpected() }
        return c
    }

    var world: World { get async { await service.snapshot } }
}

struct Unexpected: Error {}

/// "10.1.0.0/16" → "10.1.255.0/27".
func gatewaySubnet(of prefix: String, length: Int = 27) -> String {
    let parts = prefix.split(separator: ".")
    return "\(parts[0]).\(parts[1]).255.0/\(length)"
}

// MARK: Expectations

/// Asserts that `operation` is refused with the given status and code, that `target` matches and
/// the message mentions every string in `mentions`; and, when `lab` is given, that the refused
/// request left the world exactly as it was.
@discardableResult
func expectRefusal(_ status: Int, _ code: String, target: String? = nil, mentions: [String] = [], lab: Lab? = nil,
                   sourceLocation: SourceLocation = #_sourceLocation,
                   _ operation: () async throws -> Any) async -> ARMError? {
    let before = await lab?.world
    do {
        let accepted = try await operation()
        Issue.record("expected \(status) \(code), but the request was accepted: \(accepted)", sourceLocation: sourceLocation)
        return nil
    } catch let error as ARMError {
        #expect(error.status == status, "status of \(error)", sourceLocation: sourceLocation)
        #expect(error.code == code, "code of \(error)", sourceLocation: sourceLocation)
        if let target { #expect(error.target == target, "target of \(error)", sourceLocation: sourceLocation) }
        for m in mentions { #expect(error.message.contains(m), "message should mention '\(m)': \(error.message)", sourceLocation: sourceLocation) }
        if let lab, let before {
            let after = await lab.world
            #expect(after.resources == before.resources, "a refused request changed the resources", sourceLocation: sourceLocation)
            #expect(after.groups == before.groups, "a refused request changed the groups", sourceLocation: sourceLocation)
        }
        return error
    } catch {
        Issue.record("expected ARMError \(code), got \(error)", sourceLocation: sourceLocation)
        return nil
    }
}

extension AnyResource {
    var gateway: VirtualNetworkGateway? { if case .virtualNetworkGateway(let r) = self { return r }; return nil }
    var connection: Connection? { if case .connection(let r) = self { return r }; return nil }
    var virtualNetwork: VirtualNetwork? { if case .virtualNetwork(let r) = self { return r }; return nil }
    var publicIP: PublicIPAddress? { if case .publicIPAddress(let r) = self { return r }; return nil }
    var localGateway: LocalNetworkGateway? { if case .localNetworkGateway(let r) = self { return r }; return nil }
}
