import ArgumentParser
import Foundation
import GatewayClient
import GatewayModel

let localGatewayColumns: [Column] = [
    col("Name", "name"), groupColumn,
    ("GatewayIP", { row in
        let ip = jsonString(row, "properties.gatewayIpAddress")
        return ip.isEmpty ? jsonString(row, "properties.fqdn") : ip
    }),
    dashed(col("AddressPrefixes", "properties.localNetworkAddressSpace.addressPrefixes")),
    ("BGP", { row in
        let asn = jsonString(row, "properties.bgpSettings.asn")
        guard !asn.isEmpty else { return "-" }
        let addr = jsonString(row, "properties.bgpSettings.bgpPeeringAddress")
        return addr.isEmpty ? "AS\(asn)" : "AS\(asn) \(addr)"
    }),
    col("State", "properties.provisioningState"),
]

struct LocalGateway: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "local-gateway", abstract: "Manage local network gateways (the on-premises VPN device and its prefixes).",
        discussion: """
        A local network gateway describes the other end of a site-to-site \
        connection: the on-premises device's public address (or DNS name) and the \
        prefixes reached through it, or its BGP speaker that announces them.

        Examples:
          vpngw network local-gateway create -g rg1 -n site1 \\
            --gateway-ip-address 203.0.113.10 --local-address-prefixes 192.168.1.0/24
          vpngw network local-gateway list -g rg1 -o table
        """,
        subcommands: [Create.self, Show.self, List.self, Update.self, Delete.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create or update a local network gateway.",
            discussion: """
            Give --local-address-prefixes, or BGP settings (--asn and \
            --bgp-peering-address) to learn the prefixes over BGP.

            Static prefixes:
              vpngw network local-gateway create -g rg1 -n site1 \\
                --gateway-ip-address 203.0.113.10 \\
                --local-address-prefixes 192.168.1.0/24 192.168.2.0/24

            A device known by name, with BGP:
              vpngw network local-gateway create -g rg1 -n site2 \\
                --fqdn vpn.example.com --asn 65050 --bgp-peering-address 10.51.255.254
            """)
        @OptionGroup var resource: ResourceOptions
        @Option(name: .customLong("gateway-ip-address"), help: "Public IP address of the on-premises VPN device.") var gatewayIP: String?
        @Option(name: .customLong("fqdn"), help: "DNS name of the on-premises VPN device (instead of --gateway-ip-address).") var fqdn: String?
        @Option(name: .customLong("local-address-prefixes"), parsing: .upToNextOption, help: "On-premises prefixes reached through this site.") var prefixes: [String] = []
        @Option(name: .customLong("asn"), help: "BGP ASN of the on-premises speaker.") var asn: Int64?
        @Option(name: .customLong("bgp-peering-address"), help: "BGP address of the on-premises speaker.") var bgpAddress: String?
        @Option(name: .customLong("peer-weight"), help: "BGP peer weight.") var peerWeight: Int?
        @OptionGroup var common: CommonCreateOptions
        @OptionGroup var client: ClientOptions
        func run() async throws {
            let body = jsonBody(["location": common.location, "tags": common.tagsValue,
                                 "properties.gatewayIpAddress": gatewayIP, "properties.fqdn": fqdn,
                                 "properties.localNetworkAddressSpace.addressPrefixes": prefixes.isEmpty ? nil : prefixes,
                                 "properties.bgpSettings.asn": asn, "properties.bgpSettings.bgpPeeringAddress": bgpAddress,
                                 "properties.bgpSettings.peerWeight": peerWeight])
            try await runClient(client) { c in
                printOutput(client.output, json: try await c.putRaw(resource.group, .localNetworkGateways, resource.name, json: body), columns: localGatewayColumns)
            }
        }
    }
    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a local network gateway.",
            discussion: "Example:\n  vpngw network local-gateway show -g rg1 -n site1 -o table")
        @OptionGroup var resource: ResourceOptions
        @OptionGroup var client: ClientOptions
        func run() async throws {
            try await runClient(client) { c in
                printOutput(client.output, json: try await c.call(.GET, c.resourcePath(resource.group, .localNetworkGateways, resource.name)).body, columns: localGatewayColumns)
            }
        }
    }
    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List local network gateways (of a group, or of the subscription).",
            discussion: "Example:\n  vpngw network local-gateway list -g rg1 -o table")
        @Option(name: [.customShort("g"), .customLong("resource-group")], help: "Resource group (default: all).") var group: String?
        @OptionGroup var client: ClientOptions
        func run() async throws {
            try await runClient(client) { c in
                printOutput(client.output, json: try await c.call(.GET, listPath(c, group, .localNetworkGateways)).body, columns: localGatewayColumns)
            }
        }
    }
    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Change a local network gateway's address, prefixes, BGP settings or tags.",
            discussion: """
            Only the flags given change; --local-address-prefixes replaces the whole \
            list. New prefixes must not overlap the networks its connections join.

            Examples:
              vpngw network local-gateway update -g rg1 -n site1 \\
                --local-address-prefixes 192.168.1.0/24 192.168.3.0/24
              vpngw network local-gateway update -g rg1 -n site1 \\
                --gateway-ip-address 203.0.113.11
            """)
        @OptionGroup var resource: ResourceOptions
        @Option(name: .customLong("gateway-ip-address"), help: "Public IP address of the on-premises VPN device.") var gatewayIP: String?
        @Option(name: .customLong("fqdn"), help: "DNS name of the on-premises VPN device.") var fqdn: String?
        @Option(name: .customLong("local-address-prefixes"), parsing: .upToNextOption, help: "On-premises prefixes (replaces the list).") var prefixes: [String] = []
        @Option(name: .customLong("asn"), help: "BGP ASN of the on-premises speaker.") var asn: Int64?
        @Option(name: .customLong("bgp-peering-address"), help: "BGP address of the on-premises speaker.") var bgpAddress: String?
        @Option(name: .customLong("peer-weight"), help: "BGP peer weight.") var peerWeight: Int?
        @Option(name: .customLong("tags"), parsing: .upToNextOption, help: "Space-separated tags: key[=value] ... (replaces all tags).") var tags: [String] = []
        @OptionGroup var client: ClientOptions
        func run() async throws {
            try await runClient(client) { c in
                let current = try await c.call(.GET, c.resourcePath(resource.group, .localNetworkGateways, resource.name)).body
                var obj = jsonObject(jsonMerge(current, jsonBody([
                    "properties.gatewayIpAddress": gatewayIP, "properties.fqdn": fqdn,
                    "properties.localNetworkAddressSpace.addressPrefixes": prefixes.isEmpty ? nil : prefixes,
                    "properties.bgpSettings.asn": asn, "properties.bgpSettings.bgpPeeringAddress": bgpAddress,
                    "properties.bgpSettings.peerWeight": peerWeight,
                ])))
                if !tags.isEmpty { obj["tags"] = parseTags(tags) }
                // A new IP address replaces a DNS name and vice versa.
                if var props = obj["properties"] as? [String: Any] {
                    if gatewayIP != nil && fqdn == nil { props["fqdn"] = nil }
                    if fqdn != nil && gatewayIP == nil { props["gatewayIpAddress"] = nil }
                    obj["properties"] = props
                }
                printOutput(client.output, json: try await c.putRaw(resource.group, .localNetworkGateways, resource.name, json: jsonData(obj)), columns: localGatewayColumns)
            }
        }
    }
    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a local network gateway (refused while connections use it).",
            discussion: "Example:\n  vpngw network local-gateway delete -g rg1 -n site1")
        @OptionGroup var resource: ResourceOptions
        @OptionGroup var client: ClientOptions
        func run() async throws {
            try await runClient(client) { c in
                let existed = try await c.delete(resource.group, .localNetworkGateways, resource.name)
                print(existed ? "Deleted local network gateway '\(resource.name)'." : "Local network gateway '\(resource.name)' did not exist.")
            }
        }
    }
}
