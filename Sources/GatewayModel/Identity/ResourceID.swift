/// The top-level Microsoft.Network resource types this gateway serves.
/// Subnets and peerings are children of `virtualNetworks` and live inside its document.
public enum ResourceType: String, CaseIterable, Sendable, Codable, Hashable {
    case virtualNetworks
    case publicIPAddresses
    case virtualNetworkGateways
    case localNetworkGateways
    case connections
    case expressRouteCircuits

    /// The ARM `type` string, e.g. `Microsoft.Network/virtualNetworks`.
    public var armType: String { "Microsoft.Network/\(rawValue)" }

    /// Case-insensitive lookup, as ARM matches path segments.
    public init?(segment: String) {
        guard let t = ResourceType.allCases.first(where: { $0.rawValue.caseInsensitiveCompare(segment) }) else { return nil }
        self = t
    }

    /// The singular noun users know it by, for messages.
    public var noun: String {
        switch self {
        case .virtualNetworks: "virtual network"
        case .publicIPAddresses: "public IP address"
        case .virtualNetworkGateways: "virtual network gateway"
        case .localNetworkGateways: "local network gateway"
        case .connections: "connection"
        case .expressRouteCircuits: "ExpressRoute circuit"
        }
    }
}

extension String {
    func caseInsensitiveCompare(_ other: String) -> Bool { lowercased() == other.lowercased() }
}

/// Identifies one top-level resource. Names compare case-insensitively (ARM semantics), so the
/// key lowercases them while `name` keeps the spelling the user first gave.
public struct ResourceKey: Hashable, Sendable, Comparable {
    public let subscription: String
    public let resourceGroup: String
    public let type: ResourceType
    public let name: String

    public init(subscription: String, resourceGroup: String, type: ResourceType, name: String) {
        self.subscription = subscription.lowercased()
        self.resourceGroup = resourceGroup.lowercased()
        self.type = type
        self.name = name.lowercased()
    }

    public static func < (a: ResourceKey, b: ResourceKey) -> Bool {
        (a.subscription, a.resourceGroup, a.type.rawValue, a.name) < (b.subscription, b.resourceGroup, b.type.rawValue, b.name)
    }
}

/// A parsed ARM resource id:
/// `/subscriptions/{s}/resourceGroups/{g}/providers/Microsoft.Network/{type}/{name}[/{childType}/{childName}]`.
public struct ResourceID: Hashable, Sendable, CustomStringConvertible {
    public var subscription: String
    public var resourceGroup: String
    public var type: ResourceType
    public var name: String
    public var child: (type: String, name: String)?

    public init(subscription: String, resourceGroup: String, type: ResourceType, name: String, child: (type: String, name: String)? = nil) {
        self.subscription = subscription; self.resourceGroup = resourceGroup
        self.type = type; self.name = name; self.child = child
    }

    public init?(parsing text: String) {
        let parts = text.split(separator: "/").map(String.init)
        guard parts.count == 8 || parts.count == 10,
              parts[0].caseInsensitiveCompare("subscriptions"),
              parts[2].caseInsensitiveCompare("resourceGroups"),
              parts[4].caseInsensitiveCompare("providers"),
              parts[5].caseInsensitiveCompare("Microsoft.Network"),
              let type = ResourceType(segment: parts[6]) else { return nil }
        self.init(subscription: parts[1], resourceGroup: parts[3], type: type, name: parts[7],
                  child: parts.count == 10 ? (parts[8], parts[9]) : nil)
    }

    public var key: ResourceKey { ResourceKey(subscription: subscription, resourceGroup: resourceGroup, type: type, name: name) }
    public var parent: ResourceID { ResourceID(subscription: subscription, resourceGroup: resourceGroup, type: type, name: name) }

    public var description: String {
        var s = "/subscriptions/\(subscription)/resourceGroups/\(resourceGroup)/providers/Microsoft.Network/\(type.rawValue)/\(name)"
        if let child { s += "/\(child.type)/\(child.name)" }
        return s
    }

    public static func == (a: ResourceID, b: ResourceID) -> Bool {
        a.key == b.key && a.child?.type.lowercased() == b.child?.type.lowercased() && a.child?.name.lowercased() == b.child?.name.lowercased()
    }
    public func hash(into h: inout Hasher) {
        h.combine(key); h.combine(child?.type.lowercased()); h.combine(child?.name.lowercased())
    }
}

/// ARM resource names: 1–80 characters of letters, digits, `_`, `.`, `-`; starting with a letter
/// or digit and ending with a letter, digit or `_` (Azure's Microsoft.Network naming rule).
public enum ResourceName {
    public static func validate(_ name: String, field: String) throws(ARMError) {
        let allowed = name.unicodeScalars.allSatisfy { s in
            s.isASCII && (s.properties.isAlphabetic || ("0"..."9").contains(s) || s == "_" || s == "." || s == "-")
        }
        guard (1...80).contains(name.count), allowed,
              let first = name.unicodeScalars.first, first.properties.isAlphabetic || ("0"..."9").contains(first),
              let last = name.unicodeScalars.last, last.properties.isAlphabetic || ("0"..."9").contains(last) || last == "_"
        else {
            throw ARMError.invalid(field, "'\(name)' is not a valid name: use 1–80 letters, digits, '_', '.', '-', starting with a letter or digit and ending with a letter, digit or '_'")
        }
    }
}
