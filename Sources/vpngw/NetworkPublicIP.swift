import ArgumentParser
import Foundation
import GatewayClient
import GatewayModel

let publicIPColumns: [Column] = [
    col("Name", "name"), groupColumn, col("Location", "location"), col("Address", "properties.ipAddress"),
    col("Version", "properties.publicIPAddressVersion"), col("Allocation", "properties.publicIPAllocationMethod"), col("Sku", "sku.name"),
    dashed(("UsedBy", { row in
        // ipConfiguration: …/virtualNetworkGateways/GW/ipConfigurations/CFG → GW
        let ref = jsonString(row, "properties.ipConfiguration.id")
        return ResourceID(parsing: ref)?.name ?? ""
    })),
    col("State", "properties.provisioningState"),
]

struct PublicIP: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "public-ip", abstract: "Manage public IP addresses (the address a VPN gateway answers on).",
        discussion: """
        A Vpn gateway needs one public IP resource (two when active-active). Give \
        the address with --ip-address, or leave it out and the server allocates \
        one from its pool (`vpngw serve --public-ip-pool`).

        Examples:
          vpngw network public-ip create -g rg1 -n gw1-ip
          vpngw network public-ip create -g rg1 -n gw1-ip2 --ip-address 203.0.113.7
          vpngw network public-ip list -g rg1 -o table
        """,
        subcommands: [Create.self, Show.self, List.self, Update.self, Delete.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create or update a public IP address.",
            discussion: """
            Without --ip-address the server picks a free address from its public \
            IP pool.

            Examples:
              vpngw network public-ip create -g rg1 -n gw1-ip --sku Standard
              vpngw network public-ip create -g rg1 -n gw1-ip6 --version IPv6 \\
                --ip-address 2001:db8::10
            """)
        @OptionGroup var resource: ResourceOptions
        @Option(name: .customLong("ip-address"), help: "The address to hold (default: allocated from the server's pool).") var ipAddress: String?
        @Option(name: .customLong("version"), help: "IP version (default IPv4).") var version: IPVersion?
        @Option(name: .customLong("sku"), help: "SKU (default Standard).") var sku: PublicIPSku?
        @Option(name: .customLong("allocation-method"), help: "Allocation method (default Static).") var allocation: IPAllocationMethod?
        @Option(name: .customLong("idle-timeout"), help: "Idle timeout in minutes (default 4).") var idleTimeout: Int?
        @OptionGroup var common: CommonCreateOptions
        @OptionGroup var client: ClientOptions
        func run() async throws {
            let body = jsonBody(["location": common.location, "tags": common.tagsValue, "sku.name": sku?.rawValue,
                                 "properties.ipAddress": ipAddress, "properties.publicIPAddressVersion": version?.rawValue,
                                 "properties.publicIPAllocationMethod": allocation?.rawValue, "properties.idleTimeoutInMinutes": idleTimeout])
            try await runClient(client) { c in
                printOutput(client.output, json: try await c.putRaw(resource.group, .publicIPAddresses, resource.name, json: body), columns: publicIPColumns)
            }
        }
    }
    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a public IP address.",
            discussion: "Example:\n  vpngw network public-ip show -g rg1 -n gw1-ip -o table")
        @OptionGroup var resource: ResourceOptions
        @OptionGroup var client: ClientOptions
        func run() async throws {
            try await runClient(client) { c in
                printOutput(client.output, json: try await c.call(.GET, c.resourcePath(resource.group, .publicIPAddresses, resource.name)).body, columns: publicIPColumns)
            }
        }
    }
    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List public IP addresses (of a group, or of the subscription).",
            discussion: "Example:\n  vpngw network public-ip list -o table")
        @Option(name: [.customShort("g"), .customLong("resource-group")], help: "Resource group (default: all).") var group: String?
        @OptionGroup var client: ClientOptions
        func run() async throws {
            try await runClient(client) { c in
                printOutput(client.output, json: try await c.call(.GET, listPath(c, group, .publicIPAddresses)).body, columns: publicIPColumns)
            }
        }
    }
    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Change a public IP address's SKU, idle timeout or tags.",
            discussion: """
            Only the flags given change; everything else is kept.

            Example:
              vpngw network public-ip update -g rg1 -n gw1-ip --tags env=prod
            """)
        @OptionGroup var resource: ResourceOptions
        @Option(name: .customLong("sku"), help: "New SKU.") var sku: PublicIPSku?
        @Option(name: .customLong("idle-timeout"), help: "Idle timeout in minutes.") var idleTimeout: Int?
        @Option(name: .customLong("tags"), parsing: .upToNextOption, help: "Space-separated tags: key[=value] ... (replaces all tags).") var tags: [String] = []
        @OptionGroup var client: ClientOptions
        func run() async throws {
            try await runClient(client) { c in
                let current = try await c.call(.GET, c.resourcePath(resource.group, .publicIPAddresses, resource.name)).body
                var merged = jsonMerge(current, jsonBody(["sku.name": sku?.rawValue, "properties.idleTimeoutInMinutes": idleTimeout]))
                if !tags.isEmpty {   // tags replace, not merge
                    var obj = jsonObject(merged); obj["tags"] = parseTags(tags); merged = jsonData(obj)
                }
                printOutput(client.output, json: try await c.putRaw(resource.group, .publicIPAddresses, resource.name, json: merged), columns: publicIPColumns)
            }
        }
    }
    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a public IP address (refused while a gateway uses it).",
            discussion: "Example:\n  vpngw network public-ip delete -g rg1 -n gw1-ip")
        @OptionGroup var resource: ResourceOptions
        @OptionGroup var client: ClientOptions
        func run() async throws {
            try await runClient(client) { c in
                let existed = try await c.delete(resource.group, .publicIPAddresses, resource.name)
                print(existed ? "Deleted public IP address '\(resource.name)'." : "Public IP address '\(resource.name)' did not exist.")
            }
        }
    }
}
