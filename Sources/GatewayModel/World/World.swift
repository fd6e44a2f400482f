import Foundation

/// One stored resource of any top-level type.
public enum AnyResource: Sendable, Equatable {
    case virtualNetwork(VirtualNetwork)
    case publicIPAddress(PublicIPAddress)
    case virtualNetworkGateway(VirtualNetworkGateway)
    case localNetworkGateway(LocalNetworkGateway)
    case connection(Connection)
    case expressRouteCircuit(ExpressRouteCircuit)

    public var type: ResourceType {
        switch self {
        case .virtualNetwork: .virtualNetworks
        case .publicIPAddress: .publicIPAddresses
        case .virtualNetworkGateway: .virtualNetworkGateways
        case .localNetworkGateway: .localNetworkGateways
        case .connection: .connections
        case .expressRouteCircuit: .expressRouteCircuits
        }
    }

    public var id: String {
        switch self {
        case .virtualNetwork(let r): r.id ?? ""
        case .publicIPAddress(let r): r.id ?? ""
        case .virtualNetworkGateway(let r): r.id ?? ""
        case .localNetworkGateway(let r): r.id ?? ""
        case .connection(let r): r.id ?? ""
        case .expressRouteCircuit(let r): r.id ?? ""
        }
    }
    public var name: String { ResourceID(parsing: id)?.name ?? "" }
    public var etag: String? {
        switch self {
        case .virtualNetwork(let r): r.etag
        case .publicIPAddress(let r): r.etag
        case .virtualNetworkGateway(let r): r.etag
        case .localNetworkGateway(let r): r.etag
        case .connection(let r): r.etag
        case .expressRouteCircuit(let r): r.etag
        }
    }

    public func encoded() -> Data {
        let e = JSONEncoder.arm
        switch self {
        case .virtualNetwork(let r): return (try? e.encode(r)) ?? Data()
        case .publicIPAddress(let r): return (try? e.encode(r)) ?? Data()
        case .virtualNetworkGateway(let r): return (try? e.encode(r)) ?? Data()
        case .localNetworkGateway(let r): return (try? e.encode(r)) ?? Data()
        case .connection(let r): return (try? e.encode(r)) ?? Data()
        case .expressRouteCircuit(let r): return (try? e.encode(r)) ?? Data()
        }
    }

    /// Decodes a request body or a stored document of the given type. Type errors name the JSON
    /// path of the offending field.
    public static func decode(_ type: ResourceType, from data: Data) throws(ARMError) -> AnyResource {
        switch type {
        case .virtualNetworks: return .virtualNetwork(try decodeBody(VirtualNetwork.self, data))
        case .publicIPAddresses: return .publicIPAddress(try decodeBody(PublicIPAddress.self, data))
        case .virtualNetworkGateways: return .virtualNetworkGateway(try decodeBody(VirtualNetworkGateway.self, data))
        case .localNetworkGateways: return .localNetworkGateway(try decodeBody(LocalNetworkGateway.self, data))
        case .connections: return .connection(try decodeBody(Connection.self, data))
        case .expressRouteCircuits: return .expressRouteCircuit(try decodeBody(ExpressRouteCircuit.self, data))
        }
    }
}

extension JSONEncoder {
    public static var arm: JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return e
    }
}

/// Decodes JSON into `T`, turning `DecodingError` into a 400 that names the field path
/// (`properties.addressSpace.addressPrefixes[0]`) and what was wrong with it.
public func decodeBody<T: Decodable>(_ type: T.Type, _ data: Data) throws(ARMError) -> T {
    do {
        return try JSONDecoder().decode(T.self, from: data)
    } catch let error as DecodingError {
        func path(_ keys: [any CodingKey]) -> String {
            var out = ""
            for k in keys {
                if let i = k.intValue { out += "[\(i)]" } else { out += out.isEmpty ? k.stringValue : ".\(k.stringValue)" }
            }
            return out.isEmpty ? "body" : out
        }
        switch error {
        case .typeMismatch(let t, let ctx):
            throw ARMError.invalid(path(ctx.codingPath), "expected \(jsonTypeName(t))")
        case .valueNotFound(let t, let ctx):
            throw ARMError.invalid(path(ctx.codingPath), "expected \(jsonTypeName(t)), found null")
        case .keyNotFound(let key, let ctx):
            throw ARMError.missing(path(ctx.codingPath + [key]))
        case .dataCorrupted(let ctx):
            if ctx.codingPath.isEmpty {
                throw ARMError(status: 400, code: "InvalidRequestContent", message: "The request body is not valid JSON: \(ctx.underlyingError.map { "\($0)" } ?? ctx.debugDescription)")
            }
            throw ARMError.invalid(path(ctx.codingPath), ctx.debugDescription)
        @unknown default:
            throw ARMError(status: 400, code: "InvalidRequestContent", message: "\(error)")
        }
    } catch {
        throw ARMError(status: 400, code: "InvalidRequestContent", message: "The request body could not be read: \(error)")
    }
}

private func jsonTypeName(_ t: Any.Type) -> String {
    switch t {
    case is String.Type: return "a string"
    case is Bool.Type: return "a boolean (true or false)"
    case is Int.Type, is Int64.Type: return "an integer"
    case is Double.Type: return "a number"
    default:
        let n = "\(t)"
        if n.hasPrefix("Array") { return "an array" }
        if n.hasPrefix("Dictionary") { return "an object" }
        return "an object (\(n))"
    }
}

public struct GroupKey: Hashable, Sendable, Comparable {
    public let subscription: String
    public let name: String
    public init(subscription: String, name: String) {
        self.subscription = subscription.lowercased(); self.name = name.lowercased()
    }
    public static func < (a: GroupKey, b: GroupKey) -> Bool { (a.subscription, a.name) < (b.subscription, b.name) }
}

/// The whole desired state: resource groups and resources. A value; the store persists it and the
/// API serves reads from it.
public struct World: Sendable {
    public var groups: [GroupKey: ResourceGroup] = [:]
    public var resources: [ResourceKey: AnyResource] = [:]

    public init() {}

    public subscript(key: ResourceKey) -> AnyResource? { resources[key] }

    public func resource(_ id: String) -> AnyResource? {
        ResourceID(parsing: id).flatMap { resources[$0.key] }
    }

    public var virtualNetworks: [VirtualNetwork] {
        resources.values.compactMap { if case .virtualNetwork(let r) = $0 { return r }; return nil }
    }
    public var gateways: [VirtualNetworkGateway] {
        resources.values.compactMap { if case .virtualNetworkGateway(let r) = $0 { return r }; return nil }
    }
    public var connections: [Connection] {
        resources.values.compactMap { if case .connection(let r) = $0 { return r }; return nil }
    }
    public var localGateways: [LocalNetworkGateway] {
        resources.values.compactMap { if case .localNetworkGateway(let r) = $0 { return r }; return nil }
    }
    public var publicIPs: [PublicIPAddress] {
        resources.values.compactMap { if case .publicIPAddress(let r) = $0 { return r }; return nil }
    }

    public func virtualNetwork(_ id: String?) -> VirtualNetwork? {
        guard let id, case .virtualNetwork(let r)? = resource(id) else { return nil }; return r
    }
    public func gateway(_ id: String?) -> VirtualNetworkGateway? {
        guard let id, case .virtualNetworkGateway(let r)? = resource(id) else { return nil }; return r
    }
    public func localGateway(_ id: String?) -> LocalNetworkGateway? {
        guard let id, case .localNetworkGateway(let r)? = resource(id) else { return nil }; return r
    }
    public func publicIP(_ id: String?) -> PublicIPAddress? {
        guard let id, case .publicIPAddress(let r)? = resource(id) else { return nil }; return r
    }
    public func circuit(_ id: String?) -> ExpressRouteCircuit? {
        guard let id, case .expressRouteCircuit(let r)? = resource(id) else { return nil }; return r
    }

    /// The VNet a gateway sits in (through its first ipConfiguration's subnet).
    public func vnetID(ofGateway gw: VirtualNetworkGateway) -> String? {
        guard let subnet = gw.properties.ipConfigurations?.first?.properties.subnet?.id,
              let sid = ResourceID(parsing: subnet) else { return nil }
        return sid.parent.description
    }

    public func gateways(inVNet vnet: String) -> [VirtualNetworkGateway] {
        let key = ResourceID(parsing: vnet)?.key
        return gateways.filter { g in vnetID(ofGateway: g).flatMap { ResourceID(parsing: $0)?.key } == key }
    }

    public func connections(onGateway gatewayID: String) -> [Connection] {
        let key = ResourceID(parsing: gatewayID)?.key
        return connections.filter { c in
            [c.properties.virtualNetworkGateway1?.id, c.properties.virtualNetworkGateway2?.id]
                .contains { $0.flatMap { ResourceID(parsing: $0)?.key } == key }
        }
    }

    /// VNets that have a peering pointing at `vnetID`.
    public func peeringsPointing(at vnetID: String) -> [(VirtualNetwork, VirtualNetworkPeering)] {
        let key = ResourceID(parsing: vnetID)?.key
        var out: [(VirtualNetwork, VirtualNetworkPeering)] = []
        for v in virtualNetworks {
            for p in v.properties.virtualNetworkPeerings ?? []
            where p.properties.remoteVirtualNetwork.flatMap({ ResourceID(parsing: $0.id)?.key }) == key {
                out.append((v, p))
            }
        }
        return out
    }

    public func addressSpace(ofVNet id: String?) -> [IPPrefix] {
        virtualNetwork(id)?.properties.addressSpace?.prefixes ?? []
    }
}

extension Array where Element == IPPrefix {
    var listed: String { map(\.description).joined(separator: ", ") }
}
