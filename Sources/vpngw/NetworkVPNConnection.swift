import ArgumentParser
import Foundation
import GatewayClient
import GatewayModel

/// Connection columns; `reasonWidth` shortens the reason in listings (show prints it whole).
func vpnConnectionColumns(reasonWidth: Int = .max) -> [Column] { [
    col("Name", "name"), col("Type", "properties.connectionType"),
    refColumn("Gateway1", ["properties.virtualNetworkGateway1.id"]),
    refColumn("Remote", ["properties.localNetworkGateway2.id", "properties.virtualNetworkGateway2.id", "properties.peer.id"]),
    ("Protocol", { row in let p = jsonString(row, "properties.connectionProtocol"); return p.isEmpty ? "-" : p }),
    ("Status", { row in let s = jsonString(row, "properties.connectionStatus"); return s.isEmpty ? "Unknown" : s }),
    ("Reason", { row in
        let s = jsonString(row, "properties.connectionStatusReason")
        if s.isEmpty { return "-" }
        return s.count <= reasonWidth ? s : String(s.prefix(reasonWidth - 1)) + "…"
    }),
    ("In", { row in humanBytes(jsonValue(row, "properties.ingressBytesTransferred") ?? NSNumber(value: 0)) }),
    ("Out", { row in humanBytes(jsonValue(row, "properties.egressBytesTransferred") ?? NSNumber(value: 0)) }),
] }

/// A custom IPsec/IKE policy in Azure's field names (all eight are needed for a policy; the server
/// says which one is missing).
struct IpsecPolicyOptions: ParsableArguments {
    @Option(name: .customLong("ike-encryption"), help: "IKE (phase 1) encryption.") var ikeEncryption: IkeEncryption?
    @Option(name: .customLong("ike-integrity"), help: "IKE (phase 1) integrity.") var ikeIntegrity: IkeIntegrity?
    @Option(name: .customLong("dh-group"), help: "IKE (phase 1) Diffie-Hellman group.") var dhGroup: DhGroup?
    @Option(name: .customLong("ipsec-encryption"), help: "IPsec (phase 2) encryption.") var ipsecEncryption: IpsecEncryption?
    @Option(name: .customLong("ipsec-integrity"), help: "IPsec (phase 2) integrity.") var ipsecIntegrity: IpsecIntegrity?
    @Option(name: .customLong("pfs-group"), help: "IPsec (phase 2) PFS group.") var pfsGroup: PfsGroup?
    @Option(name: .customLong("sa-lifetime"), help: "IPsec SA lifetime in seconds (e.g. 27000).") var saLifetime: Int?
    @Option(name: .customLong("sa-max-size"), help: "IPsec SA data size limit in kilobytes (e.g. 102400000).") var saMaxSize: Int?

    /// The policy object, or nil when no policy flag was given.
    var policy: [String: Any]? {
        let fields: [String: Any?] = [
            "ikeEncryption": ikeEncryption?.rawValue, "ikeIntegrity": ikeIntegrity?.rawValue, "dhGroup": dhGroup?.rawValue,
            "ipsecEncryption": ipsecEncryption?.rawValue, "ipsecIntegrity": ipsecIntegrity?.rawValue, "pfsGroup": pfsGroup?.rawValue,
            "saLifeTimeSeconds": saLifetime, "saDataSizeKilobytes": saMaxSize,
        ]
        let given = fields.compactMapValues { $0 }
        return given.isEmpty ? nil : given
    }
}

/// Flags a connection can change after creation.
struct ConnectionSettingsOptions: ParsableArguments {
    @Option(name: .customLong("routing-weight"), help: "Routing weight.") var routingWeight: Int?
    @Option(name: .customLong("dpd-timeout-seconds"), help: "Dead peer detection timeout in seconds (default 45).") var dpdTimeout: Int?
    @Option(name: .customLong("connection-mode"), help: "Who starts the tunnel (default Default: both).") var connectionMode: ConnectionMode?
}

struct VPNConnection: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vpn-connection", abstract: "Manage VPN connections (site-to-site, VNet-to-VNet, ExpressRoute).",
        discussion: """
        A connection joins a virtual network gateway (--vnet-gateway1) to an \
        on-premises site (--local-gateway2: type IPsec), to another gateway \
        (--vnet-gateway2: type Vnet2Vnet, made on each side with the same shared \
        key), or to an ExpressRoute circuit (--express-route-circuit2).

        `show` tells whether the tunnel is up: connectionStatus, and \
        connectionStatusReason for why it is not.

        Examples:
          vpngw network vpn-connection create -g rg1 -n c1 --vnet-gateway1 gw1 \\
            --local-gateway2 site1 --shared-key 'abc123'
          vpngw network vpn-connection list -g rg1 -o table
          vpngw network vpn-connection show -g rg1 -n c1
        """,
        subcommands: [Create.self, Show.self, List.self, Update.self, Delete.self, Reset.self, SharedKey.self, IpsecPolicy.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a VPN connection.",
            discussion: """
            The connection type follows from the remote end: --local-gateway2 \
            (IPsec), --vnet-gateway2 (Vnet2Vnet) or --express-route-circuit2 \
            (ExpressRoute). Each takes a name in the group or the full resource id \
            of a resource in another group. Without --shared-key the server \
            generates one (read it with `vpn-connection shared-key show`).

            Site-to-site:
              vpngw network vpn-connection create -g rg1 -n c1 --vnet-gateway1 gw1 \\
                --local-gateway2 site1 --shared-key 'abc123'

            VNet-to-VNet, to gw2 in group rg2 (then the same from gw2 back to gw1):
              GW2=$(vpngw network vnet-gateway show -g rg2 -n gw2 | jq -r .id)
              vpngw network vpn-connection create -g rg1 -n gw1-to-gw2 \\
                --vnet-gateway1 gw1 --vnet-gateway2 "$GW2" --shared-key 'abc123'

            With a custom IPsec/IKE policy (all eight fields):
              vpngw network vpn-connection create -g rg1 -n c1 --vnet-gateway1 gw1 \\
                --local-gateway2 site1 --shared-key 'abc123' \\
                --ike-encryption AES256 --ike-integrity SHA256 --dh-group DHGroup14 \\
                --ipsec-encryption GCMAES256 --ipsec-integrity GCMAES256 \\
                --pfs-group None --sa-lifetime 27000 --sa-max-size 102400000
            """)
        @OptionGroup var resource: ResourceOptions
        @Option(name: .customLong("vnet-gateway1"), help: "This side's virtual network gateway (name or resource id).") var gateway1: String
        @Option(name: .customLong("local-gateway2"), help: "The on-premises site: a local network gateway (name or id). Makes an IPsec connection.") var localGateway2: String?
        @Option(name: .customLong("vnet-gateway2"), help: "The other virtual network gateway (name or id). Makes a Vnet2Vnet connection.") var gateway2: String?
        @Option(name: .customLong("express-route-circuit2"), help: "An ExpressRoute circuit (name or id). Makes an ExpressRoute connection.") var circuit2: String?
        @Option(name: .customLong("shared-key"), help: "IPsec pre-shared key (default: generated).") var sharedKey: String?
        @Option(name: .customLong("connection-protocol"), help: "IKE version (default IKEv2; IKEv1 on PolicyBased gateways).") var proto: ConnectionProtocol?
        @Flag(name: .customLong("enable-bgp"), help: "Run BGP over this connection (the gateway and the site need BGP settings).") var enableBgp = false
        @Flag(name: .customLong("use-policy-based-traffic-selectors"), help: "Negotiate one traffic selector per prefix pair (for policy-based devices).") var policySelectors = false
        @OptionGroup var settings: ConnectionSettingsOptions
        @OptionGroup(title: "Custom IPsec/IKE policy") var ipsec: IpsecPolicyOptions
        @OptionGroup var common: CommonCreateOptions
        @OptionGroup var client: ClientOptions

        func validate() throws {
            let remotes = [localGateway2, gateway2, circuit2].compactMap { $0 }
            if remotes.count != 1 {
                throw ValidationError("Give exactly one remote end: --local-gateway2 (site-to-site), --vnet-gateway2 (VNet-to-VNet) or --express-route-circuit2.")
            }
        }

        func run() async throws {
            try await runClient(client) { c in
                let g = resource.group
                let type = localGateway2 != nil ? "IPsec" : gateway2 != nil ? "Vnet2Vnet" : "ExpressRoute"
                let body = jsonBody([
                    "location": common.location, "tags": common.tagsValue,
                    "properties.connectionType": type,
                    "properties.virtualNetworkGateway1.id": resourceRef(c, g, .virtualNetworkGateways, gateway1),
                    "properties.localNetworkGateway2.id": localGateway2.map { resourceRef(c, g, .localNetworkGateways, $0) },
                    "properties.virtualNetworkGateway2.id": gateway2.map { resourceRef(c, g, .virtualNetworkGateways, $0) },
                    "properties.peer.id": circuit2.map { resourceRef(c, g, .expressRouteCircuits, $0) },
                    "properties.sharedKey": sharedKey, "properties.connectionProtocol": proto?.rawValue,
                    "properties.enableBgp": enableBgp ? true : nil,
                    "properties.usePolicyBasedTrafficSelectors": policySelectors ? true : nil,
                    "properties.dpdTimeoutSeconds": settings.dpdTimeout, "properties.routingWeight": settings.routingWeight,
                    "properties.connectionMode": settings.connectionMode?.rawValue,
                    "properties.ipsecPolicies": ipsec.policy.map { [$0] },
                ])
                printOutput(client.output, json: try await c.putRaw(g, .connections, resource.name, json: body), columns: vpnConnectionColumns())
            }
        }
    }
    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a connection, with its status, why it is not connected, and bytes in/out.",
            discussion: """
            connectionStatus is Unknown, Connecting, Connected or NotConnected; \
            connectionStatusReason says why a connection is not up (for example: \
            the peer does not answer, or the IKE proposals do not match). \
            ingressBytesTransferred and egressBytesTransferred count the traffic.

            Example:
              vpngw network vpn-connection show -g rg1 -n c1 -o table
            """)
        @OptionGroup var resource: ResourceOptions
        @OptionGroup var client: ClientOptions
        func run() async throws {
            try await runClient(client) { c in
                var obj = jsonObject(try await c.call(.GET, c.resourcePath(resource.group, .connections, resource.name)).body)
                // The observed state is always shown, even before the gateway reported any.
                var props = obj["properties"] as? [String: Any] ?? [:]
                if props["connectionStatus"] == nil { props["connectionStatus"] = "Unknown" }
                if props["connectionStatusReason"] == nil { props["connectionStatusReason"] = NSNull() }
                if props["ingressBytesTransferred"] == nil { props["ingressBytesTransferred"] = 0 }
                if props["egressBytesTransferred"] == nil { props["egressBytesTransferred"] = 0 }
                obj["properties"] = props
                printOutput(client.output, json: jsonData(obj), columns: vpnConnectionColumns())
            }
        }
    }
    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List connections (of a group, or of the subscription).",
            discussion: "Long reasons are shortened; `show` prints them whole.\n\nExample:\n  vpngw network vpn-connection list -g rg1 -o table")
        @Option(name: [.customShort("g"), .customLong("resource-group")], help: "Resource group (default: all).") var group: String?
        @OptionGroup var client: ClientOptions
        func run() async throws {
            try await runClient(client) { c in
                printOutput(client.output, json: try await c.call(.GET, listPath(c, group, .connections)).body, columns: vpnConnectionColumns(reasonWidth: 60))
            }
        }
    }
    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Change a connection's shared key, BGP, DPD, traffic selectors, IPsec policy or tags.",
            discussion: """
            Only the flags given change. The endpoints, type and protocol are fixed \
            at creation. IPsec policy flags replace the whole custom policy; \
            --clear-ipsec-policy returns to the default proposals.

            Example:
              vpngw network vpn-connection update -g rg1 -n c1 \\
                --dpd-timeout-seconds 30 --enable-bgp true
            """)
        @OptionGroup var resource: ResourceOptions
        @Option(name: .customLong("shared-key"), help: "New pre-shared key.") var sharedKey: String?
        @Option(name: .customLong("enable-bgp"), help: "Run BGP over this connection.") var enableBgp: BoolArgument?
        @Option(name: .customLong("use-policy-based-traffic-selectors"), help: "One traffic selector per prefix pair (policy-based devices).") var policySelectors: BoolArgument?
        @OptionGroup var settings: ConnectionSettingsOptions
        @OptionGroup(title: "Custom IPsec/IKE policy") var ipsec: IpsecPolicyOptions
        @Flag(name: .customLong("clear-ipsec-policy"), help: "Remove the custom IPsec/IKE policy.") var clearPolicy = false
        @Option(name: .customLong("tags"), parsing: .upToNextOption, help: "Space-separated tags: key[=value] ... (replaces all tags).") var tags: [String] = []
        @OptionGroup var client: ClientOptions
        func run() async throws {
            try await runClient(client) { c in
                let current = try await c.call(.GET, c.resourcePath(resource.group, .connections, resource.name)).body
                var obj = jsonObject(jsonMerge(current, jsonBody([
                    "properties.sharedKey": sharedKey, "properties.enableBgp": enableBgp?.value,
                    "properties.usePolicyBasedTrafficSelectors": policySelectors?.value,
                    "properties.dpdTimeoutSeconds": settings.dpdTimeout, "properties.routingWeight": settings.routingWeight,
                    "properties.connectionMode": settings.connectionMode?.rawValue,
                ])))
                var props = obj["properties"] as? [String: Any] ?? [:]
                if clearPolicy { props["ipsecPolicies"] = [] as [Any] }
                if let policy = ipsec.policy { props["ipsecPolicies"] = [policy] }
                obj["properties"] = props
                if !tags.isEmpty { obj["tags"] = parseTags(tags) }
                printOutput(client.output, json: try await c.putRaw(resource.group, .connections, resource.name, json: jsonData(obj)), columns: vpnConnectionColumns())
            }
        }
    }
    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a connection (its tunnel goes down).",
            discussion: "Example:\n  vpngw network vpn-connection delete -g rg1 -n c1")
        @OptionGroup var resource: ResourceOptions
        @OptionGroup var client: ClientOptions
        func run() async throws {
            try await runClient(client) { c in
                let existed = try await c.delete(resource.group, .connections, resource.name)
                print(existed ? "Deleted connection '\(resource.name)'." : "Connection '\(resource.name)' did not exist.")
            }
        }
    }
    struct Reset: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Reset a connection: tear its tunnel down and negotiate it again.",
            discussion: "Example:\n  vpngw network vpn-connection reset -g rg1 -n c1")
        @OptionGroup var resource: ResourceOptions
        @Flag(name: .customLong("no-wait"), help: "Do not wait for the reset to finish.") var noWait = false
        @OptionGroup var client: ClientOptions
        func run() async throws {
            try await runClient(client) { c in
                try await postAction(c, c.resourcePath(resource.group, .connections, resource.name) + "/resetconnection", noWait: noWait)
                print(noWait ? "Reset of connection '\(resource.name)' started." : "Reset connection '\(resource.name)'.")
            }
        }
    }

    // MARK: shared-key

    /// `--connection-name` as az spells it for shared-key commands, `-n/--name` too.
    struct ConnectionName: ParsableArguments {
        @Option(name: [.customShort("g"), .customLong("resource-group")], help: "Resource group.") var group: String
        @Option(name: [.customShort("n"), .customLong("connection-name"), .customLong("name")], help: "Connection name.") var name: String
    }
    static let sharedKeyColumns: [Column] = [col("Value", "value")]

    struct SharedKey: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "shared-key", abstract: "Show, set or regenerate a connection's IPsec pre-shared key.",
            discussion: """
            Both ends must use the same key: for site-to-site, configure the \
            on-premises device with it; for VNet-to-VNet, set it on both connections.

            Examples:
              vpngw network vpn-connection shared-key show -g rg1 --connection-name c1
              vpngw network vpn-connection shared-key update -g rg1 \\
                --connection-name c1 --value 'abc123'
              vpngw network vpn-connection shared-key reset -g rg1 \\
                --connection-name c1 --key-length 64
            """,
            subcommands: [SharedKeyShow.self, SharedKeyUpdate.self, SharedKeyReset.self])
    }
    struct SharedKeyShow: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "show", abstract: "Show the shared key.",
            discussion: "Example:\n  vpngw network vpn-connection shared-key show -g rg1 --connection-name c1")
        @OptionGroup var connection: ConnectionName
        @OptionGroup var client: ClientOptions
        func run() async throws {
            try await runClient(client) { c in
                let r = try await c.call(.GET, c.resourcePath(connection.group, .connections, connection.name) + "/sharedkey")
                printOutput(client.output, json: r.body, columns: VPNConnection.sharedKeyColumns)
            }
        }
    }
    struct SharedKeyUpdate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "update", abstract: "Set the shared key (printable ASCII, 1–128 characters).",
            discussion: "Example:\n  vpngw network vpn-connection shared-key update -g rg1 \\\n    --connection-name c1 --value 'abc123'")
        @OptionGroup var connection: ConnectionName
        @Option(name: .customLong("value"), help: "The new key.") var value: String
        @OptionGroup var client: ClientOptions
        func run() async throws {
            try await runClient(client) { c in
                let r = try await c.call(.PUT, c.resourcePath(connection.group, .connections, connection.name) + "/sharedkey", body: jsonData(["value": value]))
                printOutput(client.output, json: r.body, columns: VPNConnection.sharedKeyColumns)
            }
        }
    }
    struct SharedKeyReset: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "reset", abstract: "Replace the shared key with a random one.",
            discussion: """
            Prints the new key. The tunnel renegotiates with it, so give the other \
            end the new key too.

            Example:
              vpngw network vpn-connection shared-key reset -g rg1 \\
                --connection-name c1 --key-length 32
            """)
        @OptionGroup var connection: ConnectionName
        @Option(name: .customLong("key-length"), help: "Length of the new key (1–128).") var keyLength: Int = 32
        @OptionGroup var client: ClientOptions
        func run() async throws {
            try await runClient(client) { c in
                let path = c.resourcePath(connection.group, .connections, connection.name) + "/sharedkey"
                try await c.call(.POST, path + "/reset", body: jsonData(["keyLength": keyLength]))
                printOutput(client.output, json: try await c.call(.GET, path).body, columns: VPNConnection.sharedKeyColumns)
            }
        }
    }

    // MARK: ipsec-policy (az's separate commands for the same policy)

    static let ipsecPolicyColumns: [Column] = [
        col("IkeEncryption", "ikeEncryption"), col("IkeIntegrity", "ikeIntegrity"), col("DhGroup", "dhGroup"),
        col("IpsecEncryption", "ipsecEncryption"), col("IpsecIntegrity", "ipsecIntegrity"), col("PfsGroup", "pfsGroup"),
        col("SaLifetime", "saLifeTimeSeconds"), col("SaMaxSizeKB", "saDataSizeKilobytes"),
    ]

    struct IpsecPolicy: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "ipsec-policy", abstract: "Manage a connection's custom IPsec/IKE policy.",
            discussion: """
            One custom policy per connection; all eight fields are needed. Without \
            one, the gateway offers Azure's default proposals.

            Examples:
              vpngw network vpn-connection ipsec-policy add -g rg1 \\
                --connection-name c1 \\
                --ike-encryption AES256 --ike-integrity SHA256 --dh-group DHGroup14 \\
                --ipsec-encryption GCMAES256 --ipsec-integrity GCMAES256 \\
                --pfs-group None --sa-lifetime 27000 --sa-max-size 102400000
              vpngw network vpn-connection ipsec-policy list -g rg1 \\
                --connection-name c1 -o table
              vpngw network vpn-connection ipsec-policy clear -g rg1 --connection-name c1
            """,
            subcommands: [IpsecPolicyAdd.self, IpsecPolicyList.self, IpsecPolicyClear.self])
    }
    static func setPolicies(_ c: GatewayClient, _ connection: ConnectionName, _ policies: [[String: Any]]) async throws(ClientError) -> Data {
        var obj = jsonObject(try await c.call(.GET, c.resourcePath(connection.group, .connections, connection.name)).body)
        var props = obj["properties"] as? [String: Any] ?? [:]
        props["ipsecPolicies"] = policies
        obj["properties"] = props
        let out = try await c.putRaw(connection.group, .connections, connection.name, json: jsonData(obj))
        return jsonData(["value": (jsonObject(out)["properties"] as? [String: Any])?["ipsecPolicies"] ?? []])
    }
    struct IpsecPolicyAdd: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "add", abstract: "Set the custom IPsec/IKE policy (replaces the current one).",
            discussion: "Example:\n  vpngw network vpn-connection ipsec-policy add -g rg1 --connection-name c1 \\\n    --ike-encryption AES256 --ike-integrity SHA256 --dh-group DHGroup14 \\\n    --ipsec-encryption GCMAES256 --ipsec-integrity GCMAES256 \\\n    --pfs-group None --sa-lifetime 27000 --sa-max-size 102400000")
        @OptionGroup var connection: ConnectionName
        @OptionGroup var ipsec: IpsecPolicyOptions
        @OptionGroup var client: ClientOptions
        func run() async throws {
            try await runClient(client) { c in
                let policies = try await VPNConnection.setPolicies(c, connection, ipsec.policy.map { [$0] } ?? [])
                let json = client.output == .json ? jsonData(jsonObject(policies)["value"] ?? []) : policies
                printOutput(client.output, json: json, columns: VPNConnection.ipsecPolicyColumns)
            }
        }
    }
    struct IpsecPolicyList: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "Show the custom IPsec/IKE policy (empty: Azure's default proposals).",
            discussion: "Example:\n  vpngw network vpn-connection ipsec-policy list -g rg1 --connection-name c1")
        @OptionGroup var connection: ConnectionName
        @OptionGroup var client: ClientOptions
        func run() async throws {
            try await runClient(client) { c in
                let obj = jsonObject(try await c.call(.GET, c.resourcePath(connection.group, .connections, connection.name)).body)
                let policies = (obj["properties"] as? [String: Any])?["ipsecPolicies"] ?? []
                printOutput(client.output, json: client.output == .json ? jsonData(policies) : jsonData(["value": policies]), columns: VPNConnection.ipsecPolicyColumns)
            }
        }
    }
    struct IpsecPolicyClear: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "clear", abstract: "Remove the custom IPsec/IKE policy (back to the default proposals).",
            discussion: "Example:\n  vpngw network vpn-connection ipsec-policy clear -g rg1 --connection-name c1")
        @OptionGroup var connection: ConnectionName
        @OptionGroup var client: ClientOptions
        func run() async throws {
            try await runClient(client) { c in
                _ = try await VPNConnection.setPolicies(c, connection, [])
                print("Cleared the custom IPsec/IKE policy of connection '\(connection.name)'.")
            }
        }
    }
}
