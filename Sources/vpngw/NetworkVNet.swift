import ArgumentParser
import Foundation
import GatewayClient
import GatewayModel

/// Options naming one resource: `-g GROUP -n NAME`.
struct ResourceOptions: ParsableArguments {
    @Option(name: [.customShort("g"), .customLong("resource-group")], help: "Resource group.") var group: String
    @Option(name: [.customShort("n"), .customLong("name")], help: "Resource name.") var name: String
}

/// Builds a JSON object from key paths, skipping nils: `["properties.addressSpace.addressPrefixes": [...]]`.
func jsonBody(_ fields: [String: Any?]) -> Data {
    var root: [String: Any] = [:]
    func set(_ dict: inout [String: Any], _ keys: ArraySlice<Substring>, _ value: Any) {
        let k = String(keys.first!)
        if keys.count == 1 { dict[k] = value; return }
        var child = dict[k] as? [String: Any] ?? [:]
        set(&child, keys.dropFirst(), value)
        dict[k] = child
    }
    for (path, value) in fields { if let value { set(&root, path.split(separator: ".")[...], value) } }
    return (try? JSONSerialization.data(withJSONObject: root, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
}

/// Merges `patch` into the JSON object `base` (objects recursively, everything else replaced).
func jsonMerge(_ base: Data, _ patch: Data) -> Data {
    func merge(_ a: Any, _ b: Any) -> Any {
        guard var da = a as? [String: Any], let db = b as? [String: Any] else { return b }
        for (k, v) in db { da[k] = da[k].map { merge($0, v) } ?? v }
        return da
    }
    guard let a = try? JSONSerialization.jsonObject(with: base), let b = try? JSONSerialization.jsonObject(with: patch) else { return patch }
    return (try? JSONSerialization.data(withJSONObject: merge(a, b), options: [.sortedKeys, .withoutEscapingSlashes])) ?? patch
}

let vnetColumns: [Column] = [col("Name", "name"), col("ResourceGroup", "id"), col("Location", "location"), col("AddressSpace", "properties.addressSpace.addressPrefixes"),
                   col("Subnets", "properties.subnets"), col("State", "properties.provisioningState")].map { c -> Column in
    switch c.0 {
    case "ResourceGroup": return (c.0, { (ResourceID(parsing: jsonString($0, "id"))?.resourceGroup) ?? "" })
    case "Subnets": return (c.0, { ((jsonValue($0, "properties.subnets") as? [[String: Any]]) ?? []).compactMap { $0["name"] as? String }.joined(separator: ",") })
    default: return c
    }
}

struct VNet: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vnet", abstract: "Manage virtual networks (address space, subnets, peerings).",
        subcommands: [Create.self, Show.self, List.self, Update.self, Delete.self, SubnetCommand.self, PeeringCommand.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create or update a virtual network.",
            discussion: "Example: vpngw network vnet create -g rg1 -n vnet1 --address-prefixes 10.1.0.0/16 --subnet-name default --subnet-prefixes 10.1.0.0/24")
        @OptionGroup var resource: ResourceOptions
        @Option(name: .customLong("address-prefixes"), parsing: .upToNextOption, help: "Address space, one or more CIDR prefixes (IPv4 or IPv6).") var addressPrefixes: [String] = ["10.0.0.0/16"]
        @Option(name: .customLong("subnet-name"), help: "Create a first subnet with this name.") var subnetName: String?
        @Option(name: .customLong("subnet-prefixes"), parsing: .upToNextOption, help: "Prefixes of the first subnet.") var subnetPrefixes: [String] = []
        @Option(name: [.customShort("l"), .customLong("location")], help: "Location (default: the group's).") var location: String?
        @OptionGroup var client: ClientOptions
        func run() async throws {
            var subnets: [[String: Any]]? = nil
            if let subnetName {
                subnets = [["name": subnetName, "properties": ["addressPrefixes": subnetPrefixes.isEmpty ? [addressPrefixes[0]] : subnetPrefixes]]]
            }
            let body = jsonBody(["location": location, "properties.addressSpace.addressPrefixes": addressPrefixes, "properties.subnets": subnets])
            try await runClient(client) { c in
                let out = try await c.putRaw(resource.group, .virtualNetworks, resource.name, json: body)
                printOutput(client.output, json: out, columns: vnetColumns)
            }
        }
    }
    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a virtual network.")
        @OptionGroup var resource: ResourceOptions
        @OptionGroup var client: ClientOptions
        func run() async throws {
            try await runClient(client) { c in
                printOutput(client.output, json: try await c.call(.GET, c.resourcePath(resource.group, .virtualNetworks, resource.name)).body, columns: vnetColumns)
            }
        }
    }
    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List virtual networks (of a group, or of the subscription).")
        @Option(name: [.customShort("g"), .customLong("resource-group")], help: "Resource group (default: all).") var group: String?
        @OptionGroup var client: ClientOptions
        func run() async throws {
            try await runClient(client) { c in
                let path = group.map { c.resourcePath($0, .virtualNetworks) } ?? "/subscriptions/\(c.subscription)/providers/Microsoft.Network/virtualNetworks"
                printOutput(client.output, json: try await c.call(.GET, path).body, columns: vnetColumns)
            }
        }
    }
    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Change a virtual network's address space or tags.")
        @OptionGroup var resource: ResourceOptions
        @Option(name: .customLong("address-prefixes"), parsing: .upToNextOption, help: "New address space.") var addressPrefixes: [String] = []
        @Option(name: .customLong("tags"), parsing: .upToNextOption, help: "Tags as key=value.") var tags: [String] = []
        @OptionGroup var client: ClientOptions
        func run() async throws {
            try await runClient(client) { c in
                let current = try await c.call(.GET, c.resourcePath(resource.group, .virtualNetworks, resource.name)).body
                let patch = jsonBody(["properties.addressSpace.addressPrefixes": addressPrefixes.isEmpty ? nil : addressPrefixes,
                                      "tags": tags.isEmpty ? nil : parseTags(tags)])
                let out = try await c.putRaw(resource.group, .virtualNetworks, resource.name, json: jsonMerge(current, patch))
                printOutput(client.output, json: out, columns: vnetColumns)
            }
        }
    }
    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a virtual network (refused while a gateway uses it).")
        @OptionGroup var resource: ResourceOptions
        @OptionGroup var client: ClientOptions
        func run() async throws {
            try await runClient(client) { c in
                let existed = try await c.delete(resource.group, .virtualNetworks, resource.name)
                print(existed ? "Deleted virtual network '\(resource.name)'." : "Virtual network '\(resource.name)' did not exist.")
            }
        }
    }

    struct SubnetCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "subnet", abstract: "Manage subnets of a virtual network (GatewaySubnet holds the gateway).",
            subcommands: [SubnetCreate.self, SubnetShow.self, SubnetList.self, SubnetDelete.self])
    }
    struct SubnetCreate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "create", abstract: "Create or update a subnet.",
            discussion: "A gateway needs a subnet named exactly GatewaySubnet, /29 or larger (/27 when Vpn and ExpressRoute gateways coexist).",
            aliases: ["update"])
        @OptionGroup var parent: VNetParentOptions
        @Option(name: [.customShort("n"), .customLong("name")], help: "Subnet name.") var name: String
        @Option(name: .customLong("address-prefixes"), parsing: .upToNextOption, help: "Subnet prefixes, inside the VNet's address space.") var prefixes: [String]
        @OptionGroup var client: ClientOptions
        func run() async throws {
            try await runClient(client) { c in
                let r = try await c.call(.PUT, parent.path(c) + "/subnets/\(name)", body: jsonBody(["properties.addressPrefixes": prefixes]))
                printOutput(client.output, json: r.body, columns: [col("Name", "name"), col("Prefixes", "properties.addressPrefixes"), col("State", "properties.provisioningState")])
            }
        }
    }
    struct SubnetShow: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "show", abstract: "Show a subnet.")
        @OptionGroup var parent: VNetParentOptions
        @Option(name: [.customShort("n"), .customLong("name")], help: "Subnet name.") var name: String
        @OptionGroup var client: ClientOptions
        func run() async throws {
            try await runClient(client) { c in
                let r = try await c.call(.GET, parent.path(c) + "/subnets/\(name)")
                printOutput(client.output, json: r.body, columns: [col("Name", "name"), col("Prefixes", "properties.addressPrefixes"), col("State", "properties.provisioningState")])
            }
        }
    }
    struct SubnetList: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List the subnets of a virtual network.")
        @OptionGroup var parent: VNetParentOptions
        @OptionGroup var client: ClientOptions
        func run() async throws {
            try await runClient(client) { c in
                let r = try await c.call(.GET, parent.path(c) + "/subnets")
                printOutput(client.output, json: r.body, columns: [col("Name", "name"), col("Prefixes", "properties.addressPrefixes"), col("State", "properties.provisioningState")])
            }
        }
    }
    struct SubnetDelete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "delete", abstract: "Delete a subnet (refused while a gateway is in it).")
        @OptionGroup var parent: VNetParentOptions
        @Option(name: [.customShort("n"), .customLong("name")], help: "Subnet name.") var name: String
        @OptionGroup var client: ClientOptions
        func run() async throws {
            try await runClient(client) { c in
                let r = try await c.call(.DELETE, parent.path(c) + "/subnets/\(name)")
                print(r.status == 204 ? "Subnet '\(name)' did not exist." : "Deleted subnet '\(name)'.")
            }
        }
    }

    struct PeeringCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "peering", abstract: "Manage VNet peerings (create one on each side).",
            subcommands: [PeeringCreate.self, PeeringShow.self, PeeringList.self, PeeringDelete.self])
    }
    struct PeeringCreate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "create", abstract: "Create or update a peering from --vnet-name to --remote-vnet.",
            discussion: "Gateway transit: --allow-gateway-transit on the hub's peering, --use-remote-gateways on the spoke's.", aliases: ["update"])
        @OptionGroup var parent: VNetParentOptions
        @Option(name: [.customShort("n"), .customLong("name")], help: "Peering name.") var name: String
        @Option(name: .customLong("remote-vnet"), help: "Remote virtual network: a name in the same group, or a full resource id.") var remote: String
        @Flag(name: .customLong("allow-forwarded-traffic"), help: "Accept traffic forwarded from the remote network.") var allowForwarded = false
        @Flag(name: .customLong("allow-gateway-transit"), help: "Let the remote network use this network's gateway.") var allowTransit = false
        @Flag(name: .customLong("use-remote-gateways"), help: "Use the remote network's gateway.") var useRemote = false
        @OptionGroup var client: ClientOptions
        func run() async throws {
            try await runClient(client) { c in
                let remoteID = remote.hasPrefix("/") ? remote : c.resourceID(parent.group, .virtualNetworks, remote)
                let body = jsonBody(["properties.remoteVirtualNetwork.id": remoteID, "properties.allowForwardedTraffic": allowForwarded,
                                     "properties.allowGatewayTransit": allowTransit, "properties.useRemoteGateways": useRemote, "properties.allowVirtualNetworkAccess": true])
                let r = try await c.call(.PUT, parent.path(c) + "/virtualNetworkPeerings/\(name)", body: body)
                printOutput(client.output, json: r.body, columns: peeringColumns)
            }
        }
    }
    static let peeringColumns: [Column] = [col("Name", "name"), col("Remote", "properties.remoteVirtualNetwork.id"), col("State", "properties.peeringState"),
                                 col("GatewayTransit", "properties.allowGatewayTransit"), col("UseRemoteGateways", "properties.useRemoteGateways")]
    struct PeeringShow: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "show", abstract: "Show a peering.")
        @OptionGroup var parent: VNetParentOptions
        @Option(name: [.customShort("n"), .customLong("name")], help: "Peering name.") var name: String
        @OptionGroup var client: ClientOptions
        func run() async throws {
            try await runClient(client) { c in
                printOutput(client.output, json: try await c.call(.GET, parent.path(c) + "/virtualNetworkPeerings/\(name)").body, columns: peeringColumns)
            }
        }
    }
    struct PeeringList: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List the peerings of a virtual network.")
        @OptionGroup var parent: VNetParentOptions
        @OptionGroup var client: ClientOptions
        func run() async throws {
            try await runClient(client) { c in
                printOutput(client.output, json: try await c.call(.GET, parent.path(c) + "/virtualNetworkPeerings").body, columns: peeringColumns)
            }
        }
    }
    struct PeeringDelete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "delete", abstract: "Delete a peering.")
        @OptionGroup var parent: VNetParentOptions
        @Option(name: [.customShort("n"), .customLong("name")], help: "Peering name.") var name: String
        @OptionGroup var client: ClientOptions
        func run() async throws {
            try await runClient(client) { c in
                let r = try await c.call(.DELETE, parent.path(c) + "/virtualNetworkPeerings/\(name)")
                print(r.status == 204 ? "Peering '\(name)' did not exist." : "Deleted peering '\(name)'.")
            }
        }
    }
}

func parseTags(_ items: [String]) -> [String: String] {
    var out: [String: String] = [:]
    for item in items {
        let parts = item.split(separator: "=", maxSplits: 1)
        out[String(parts[0])] = parts.count > 1 ? String(parts[1]) : ""
    }
    return out
}

/// `-g GROUP --vnet-name VNET`: the virtual network a subnet or peering belongs to.
struct VNetParentOptions: ParsableArguments {
    @Option(name: [.customShort("g"), .customLong("resource-group")], help: "Resource group.") var group: String
    @Option(name: .customLong("vnet-name"), help: "Virtual network.") var vnet: String
    func path(_ c: GatewayClient) -> String { c.resourcePath(group, .virtualNetworks, vnet) }
}
