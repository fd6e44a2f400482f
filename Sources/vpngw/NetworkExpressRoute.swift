import ArgumentParser
import Foundation
import GatewayClient
import GatewayModel

let expressRouteColumns: [Column] = [
    col("Name", "name"), groupColumn,
    col("Provider", "properties.serviceProviderProperties.serviceProviderName"),
    col("PeeringLocation", "properties.serviceProviderProperties.peeringLocation"),
    ("Bandwidth", { row in
        let mbps = jsonString(row, "properties.serviceProviderProperties.bandwidthInMbps")
        return mbps.isEmpty ? "" : "\(mbps) Mbps"
    }),
    col("Sku", "sku.name"),
    col("CircuitState", "properties.circuitProvisioningState"),
    col("ProviderState", "properties.serviceProviderProvisioningState"),
    dashed(("Peerings", { row in ((jsonValue(row, "properties.peerings") as? [[String: Any]]) ?? []).compactMap { $0["name"] as? String }.joined(separator: ",") })),
    col("State", "properties.provisioningState"),
]

let circuitPeeringColumns: [Column] = [
    col("Name", "name"), col("PeerASN", "properties.peerASN"),
    col("PrimaryPeerSubnet", "properties.primaryPeerAddressPrefix"), col("SecondaryPeerSubnet", "properties.secondaryPeerAddressPrefix"),
    col("VlanId", "properties.vlanId"), col("PeeringState", "properties.state"), col("State", "properties.provisioningState"),
]

struct ExpressRoute: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "express-route", abstract: "Manage ExpressRoute circuits and their peerings.",
        discussion: """
        A circuit is a private link through a connectivity provider. Once it has \
        an AzurePrivatePeering, connect it to a virtual network through an \
        ExpressRoute gateway.

        Examples:
          vpngw network express-route create -g rg1 -n er1 --bandwidth 200 \\
            --provider Equinix --peering-location "Silicon Valley"
          vpngw network express-route peering create -g rg1 --circuit-name er1 \\
            --peering-type AzurePrivatePeering --peer-asn 65020 --vlan-id 200 \\
            --primary-peer-subnet 192.168.100.0/30 \\
            --secondary-peer-subnet 192.168.100.4/30
          vpngw network vnet-gateway create -g rg1 -n ergw --vnet vnet1 \\
            --gateway-type ExpressRoute --sku ErGw1AZ
          vpngw network vpn-connection create -g rg1 -n er-conn \\
            --vnet-gateway1 ergw --express-route-circuit2 er1
        """,
        subcommands: [Create.self, Show.self, List.self, Update.self, Delete.self, PeeringCommand.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create or update an ExpressRoute circuit.",
            discussion: """
            Example:
              vpngw network express-route create -g rg1 -n er1 --bandwidth 200 \\
                --provider Equinix --peering-location "Silicon Valley" \\
                --sku-tier Standard --sku-family MeteredData
            """)
        @OptionGroup var resource: ResourceOptions
        @Option(name: .customLong("bandwidth"), help: "Bandwidth in Mbps (50, 100, 200, 500, 1000, 2000, 5000 or 10000).") var bandwidth: Int
        @Option(name: .customLong("provider"), help: "Connectivity provider name.") var provider: String
        @Option(name: .customLong("peering-location"), help: "Peering location (the provider's site).") var peeringLocation: String
        @Option(name: .customLong("sku-tier"), help: "SKU tier (default Standard).") var skuTier: CircuitSkuTier?
        @Option(name: .customLong("sku-family"), help: "SKU family (default MeteredData).") var skuFamily: CircuitSkuFamily?
        @Flag(name: .customLong("allow-classic-operations"), help: "Allow classic (ASM) operations on the circuit.") var allowClassic = false
        @OptionGroup var common: CommonCreateOptions
        @OptionGroup var client: ClientOptions
        func run() async throws {
            try await runClient(client) { c in
                // Peerings are child resources: keep existing ones when this create updates a circuit.
                var peerings: [Any]? = nil
                if let r = try? await c.call(.GET, c.resourcePath(resource.group, .expressRouteCircuits, resource.name)) {
                    peerings = (jsonObject(r.body)["properties"] as? [String: Any])?["peerings"] as? [Any]
                }
                let body = jsonBody([
                    "location": common.location, "tags": common.tagsValue,
                    "sku.tier": skuTier?.rawValue, "sku.family": skuFamily?.rawValue,
                    "properties.serviceProviderProperties": ["serviceProviderName": provider, "peeringLocation": peeringLocation, "bandwidthInMbps": bandwidth] as [String: Any],
                    "properties.allowClassicOperations": allowClassic ? true : nil,
                    "properties.peerings": peerings,
                ])
                printOutput(client.output, json: try await c.putRaw(resource.group, .expressRouteCircuits, resource.name, json: body), columns: expressRouteColumns)
            }
        }
    }
    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show an ExpressRoute circuit (with its service key and peerings).",
            discussion: "Example:\n  vpngw network express-route show -g rg1 -n er1 -o table")
        @OptionGroup var resource: ResourceOptions
        @OptionGroup var client: ClientOptions
        func run() async throws {
            try await runClient(client) { c in
                printOutput(client.output, json: try await c.call(.GET, c.resourcePath(resource.group, .expressRouteCircuits, resource.name)).body, columns: expressRouteColumns)
            }
        }
    }
    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List ExpressRoute circuits (of a group, or of the subscription).",
            discussion: "Example:\n  vpngw network express-route list -o table")
        @Option(name: [.customShort("g"), .customLong("resource-group")], help: "Resource group (default: all).") var group: String?
        @OptionGroup var client: ClientOptions
        func run() async throws {
            try await runClient(client) { c in
                printOutput(client.output, json: try await c.call(.GET, listPath(c, group, .expressRouteCircuits)).body, columns: expressRouteColumns)
            }
        }
    }
    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Change a circuit's bandwidth, SKU or tags.",
            discussion: """
            Only the flags given change.

            Example:
              vpngw network express-route update -g rg1 -n er1 --bandwidth 500 \\
                --sku-tier Premium
            """)
        @OptionGroup var resource: ResourceOptions
        @Option(name: .customLong("bandwidth"), help: "Bandwidth in Mbps.") var bandwidth: Int?
        @Option(name: .customLong("sku-tier"), help: "New SKU tier.") var skuTier: CircuitSkuTier?
        @Option(name: .customLong("sku-family"), help: "New SKU family.") var skuFamily: CircuitSkuFamily?
        @Option(name: .customLong("allow-classic-operations"), help: "Allow classic (ASM) operations.") var allowClassic: BoolArgument?
        @Option(name: .customLong("tags"), parsing: .upToNextOption, help: "Space-separated tags: key[=value] ... (replaces all tags).") var tags: [String] = []
        @OptionGroup var client: ClientOptions
        func run() async throws {
            try await runClient(client) { c in
                let current = try await c.call(.GET, c.resourcePath(resource.group, .expressRouteCircuits, resource.name)).body
                var obj = jsonObject(jsonMerge(current, jsonBody([
                    "properties.serviceProviderProperties.bandwidthInMbps": bandwidth,
                    "sku.tier": skuTier?.rawValue, "sku.family": skuFamily?.rawValue,
                    "properties.allowClassicOperations": allowClassic?.value,
                ])))
                if var sku = obj["sku"] as? [String: Any], skuTier != nil || skuFamily != nil {
                    sku["name"] = nil   // derived by the server from tier and family
                    obj["sku"] = sku
                }
                if !tags.isEmpty { obj["tags"] = parseTags(tags) }
                printOutput(client.output, json: try await c.putRaw(resource.group, .expressRouteCircuits, resource.name, json: jsonData(obj)), columns: expressRouteColumns)
            }
        }
    }
    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete an ExpressRoute circuit (refused while connections use it).",
            discussion: "Example:\n  vpngw network express-route delete -g rg1 -n er1")
        @OptionGroup var resource: ResourceOptions
        @OptionGroup var client: ClientOptions
        func run() async throws {
            try await runClient(client) { c in
                let existed = try await c.delete(resource.group, .expressRouteCircuits, resource.name)
                print(existed ? "Deleted ExpressRoute circuit '\(resource.name)'." : "ExpressRoute circuit '\(resource.name)' did not exist.")
            }
        }
    }

    // MARK: peering

    struct CircuitOptions: ParsableArguments {
        @Option(name: [.customShort("g"), .customLong("resource-group")], help: "Resource group.") var group: String
        @Option(name: .customLong("circuit-name"), help: "ExpressRoute circuit.") var circuit: String
    }

    struct PeeringCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "peering", abstract: "Manage a circuit's BGP peerings (AzurePrivatePeering links virtual networks).",
            discussion: """
            Examples:
              vpngw network express-route peering create -g rg1 --circuit-name er1 \\
                --peering-type AzurePrivatePeering --peer-asn 65020 --vlan-id 200 \\
                --primary-peer-subnet 192.168.100.0/30 \\
                --secondary-peer-subnet 192.168.100.4/30
              vpngw network express-route peering list -g rg1 --circuit-name er1 -o table
            """,
            subcommands: [PeeringCreate.self, PeeringShow.self, PeeringList.self, PeeringDelete.self])
    }
    struct PeeringCreate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "create", abstract: "Create or update a circuit peering.",
            discussion: """
            The peering is named after its type. Each of the two links needs a /30 \
            (primary and secondary), and the peering a VLAN id.

            Example:
              vpngw network express-route peering create -g rg1 --circuit-name er1 \\
                --peering-type AzurePrivatePeering --peer-asn 65020 --vlan-id 200 \\
                --primary-peer-subnet 192.168.100.0/30 \\
                --secondary-peer-subnet 192.168.100.4/30
            """, aliases: ["update"])
        @OptionGroup var circuit: CircuitOptions
        @Option(name: .customLong("peering-type"), help: "Peering type; also the peering's name.") var peeringType: CircuitPeeringType = .AzurePrivatePeering
        @Option(name: .customLong("peer-asn"), help: "Your side's BGP ASN.") var peerASN: Int64
        @Option(name: .customLong("primary-peer-subnet"), help: "/30 of the primary link, e.g. 192.168.100.0/30.") var primary: String
        @Option(name: .customLong("secondary-peer-subnet"), help: "/30 of the secondary link, e.g. 192.168.100.4/30.") var secondary: String
        @Option(name: .customLong("vlan-id"), help: "VLAN id (1–4094).") var vlanID: Int
        @OptionGroup var client: ClientOptions
        func run() async throws {
            try await runClient(client) { c in
                let body = jsonBody(["properties.peeringType": peeringType.rawValue, "properties.peerASN": peerASN,
                                     "properties.primaryPeerAddressPrefix": primary, "properties.secondaryPeerAddressPrefix": secondary,
                                     "properties.vlanId": vlanID])
                let r = try await c.call(.PUT, c.resourcePath(circuit.group, .expressRouteCircuits, circuit.circuit) + "/peerings/\(peeringType.rawValue)", body: body)
                printOutput(client.output, json: r.body, columns: circuitPeeringColumns)
            }
        }
    }
    struct PeeringShow: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "show", abstract: "Show a circuit peering.",
            discussion: "Example:\n  vpngw network express-route peering show -g rg1 --circuit-name er1 \\\n    -n AzurePrivatePeering")
        @OptionGroup var circuit: CircuitOptions
        @Option(name: [.customShort("n"), .customLong("name")], help: "Peering name (its type).") var name: String = "AzurePrivatePeering"
        @OptionGroup var client: ClientOptions
        func run() async throws {
            try await runClient(client) { c in
                let r = try await c.call(.GET, c.resourcePath(circuit.group, .expressRouteCircuits, circuit.circuit) + "/peerings/\(name)")
                printOutput(client.output, json: r.body, columns: circuitPeeringColumns)
            }
        }
    }
    struct PeeringList: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List a circuit's peerings.",
            discussion: "Example:\n  vpngw network express-route peering list -g rg1 --circuit-name er1 -o table")
        @OptionGroup var circuit: CircuitOptions
        @OptionGroup var client: ClientOptions
        func run() async throws {
            try await runClient(client) { c in
                let r = try await c.call(.GET, c.resourcePath(circuit.group, .expressRouteCircuits, circuit.circuit) + "/peerings")
                printOutput(client.output, json: r.body, columns: circuitPeeringColumns)
            }
        }
    }
    struct PeeringDelete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "delete", abstract: "Delete a circuit peering.",
            discussion: "Example:\n  vpngw network express-route peering delete -g rg1 --circuit-name er1 \\\n    -n AzurePrivatePeering")
        @OptionGroup var circuit: CircuitOptions
        @Option(name: [.customShort("n"), .customLong("name")], help: "Peering name (its type).") var name: String = "AzurePrivatePeering"
        @OptionGroup var client: ClientOptions
        func run() async throws {
            try await runClient(client) { c in
                let r = try await c.call(.DELETE, c.resourcePath(circuit.group, .expressRouteCircuits, circuit.circuit) + "/peerings/\(name)")
                print(r.status == 204 ? "Peering '\(name)' did not exist." : "Deleted peering '\(name)'.")
            }
        }
    }
}
