import ArgumentParser
import Foundation
import GatewayClient
import GatewayModel

/// Table columns of gateways; `publicIPs` maps lowercased public IP resource ids to addresses
/// (looked up once per listing, so the table shows addresses instead of resource names).
func vnetGatewayColumns(publicIPs: [String: String]) -> [Column] {
    [
        col("Name", "name"), groupColumn,
        col("Type", "properties.gatewayType"), dashed(col("VpnType", "properties.vpnType")), col("Sku", "properties.sku.name"),
        ("Generation", { row in
            switch jsonString(row, "properties.vpnGatewayGeneration") {
            case "Generation1": return "Gen1"
            case "Generation2": return "Gen2"
            case "None", "": return "-"
            case let other: return other
            }
        }),
        ("PublicIP", { row in
            let configs = (jsonValue(row, "properties.ipConfigurations") as? [[String: Any]]) ?? []
            let ips = configs.compactMap { cfg -> String? in
                let ref = jsonString(cfg, "properties.publicIPAddress.id")
                guard !ref.isEmpty else { return nil }
                return publicIPs[ref.lowercased()] ?? idName(ref)
            }
            return ips.isEmpty ? "-" : ips.joined(separator: ",")
        }),
        ("BGP", { row in
            guard (jsonValue(row, "properties.enableBgp") as? Bool) == true else { return "off" }
            let asn = jsonString(row, "properties.bgpSettings.asn")
            return asn.isEmpty ? "on" : "AS\(asn)"
        }),
        col("State", "properties.provisioningState"),
    ]
}

/// Prints gateways; for a table, first resolves their public IP resources to addresses.
func printGateways(_ c: GatewayClient, _ format: OutputFormat, _ body: Data) async {
    var addresses: [String: String] = [:]
    if format == .table {
        let obj = (try? JSONSerialization.jsonObject(with: body)) ?? [:]
        let rows = ((obj as? [String: Any])?["value"] as? [Any]) ?? [obj]
        let refs = Set(rows.flatMap { row in
            ((jsonValue(row, "properties.ipConfigurations") as? [[String: Any]]) ?? []).map { jsonString($0, "properties.publicIPAddress.id") }
        }.filter { !$0.isEmpty })
        for ref in refs {
            // One GET per public IP; a failure just leaves the resource name in the table.
            if let r = try? await c.call(.GET, ref), let ip = jsonObject(r.body)["properties"] as? [String: Any], let a = ip["ipAddress"] as? String {
                addresses[ref.lowercased()] = a
            }
        }
    }
    printOutput(format, json: body, columns: vnetGatewayColumns(publicIPs: addresses))
}

extension VpnAuthenticationType: ExpressibleByArgument, ARMEnumArgument {}

/// Point-to-site flags, shared by create and update.
struct P2SOptions: ParsableArguments {
    @Option(name: .customLong("address-prefixes"), parsing: .upToNextOption,
            help: "Point-to-site client address pool (properties.vpnClientConfiguration.vpnClientAddressPool), e.g. 172.16.201.0/24.")
    var addressPrefixes: [String] = []
    @Option(name: .customLong("client-protocol"), parsing: .upToNextOption, help: "Point-to-site protocols (default SSTP).")
    var clientProtocols: [VpnClientProtocol] = []
    @Option(name: .customLong("root-cert-name"), help: "Name of a trusted client root certificate to upload.")
    var rootCertName: String?
    @Option(name: .customLong("root-cert-data"), help: "The root certificate: base64 DER (PEM body), PEM text, or a path to a .cer/.pem file.")
    var rootCertData: String?
    @Option(name: .customLong("root-cert-file"), help: "Path of the root certificate file (PEM or DER); alternative to --root-cert-data.")
    var rootCertFile: String?
    @Option(name: .customLong("vpn-auth-type"), parsing: .upToNextOption, help: "Point-to-site authentication: Certificate and/or Password (MS-CHAPv2 users, see --client-user).")
    var authTypes: [VpnAuthenticationType] = []
    @Option(name: .customLong("client-user"), parsing: .singleValue,
            help: "A point-to-site user NAME=PASSWORD (vpngw extension, properties.vpnClientConfiguration.vpnClientUsers; repeatable; replaces a user of the same name).")
    var clientUsers: [String] = []

    var isEmpty: Bool { addressPrefixes.isEmpty && clientProtocols.isEmpty && rootCertName == nil && rootCertData == nil && rootCertFile == nil && authTypes.isEmpty && clientUsers.isEmpty }

    func validate() throws {
        if rootCertData != nil && rootCertFile != nil { throw ValidationError("Give --root-cert-data or --root-cert-file, not both.") }
        if (rootCertData != nil || rootCertFile != nil) != (rootCertName != nil) {
            throw ValidationError("--root-cert-name goes with --root-cert-data or --root-cert-file.")
        }
        for u in clientUsers where !u.contains("=") || u.hasPrefix("=") {
            throw ValidationError("--client-user wants NAME=PASSWORD, got '\(u)'.")
        }
    }

    /// The root certificate entry, if one was given.
    func rootCertificate() throws -> [String: Any]? {
        guard let rootCertName else { return nil }
        let data: String
        if let rootCertFile { data = try certificateData(file: rootCertFile) } else { data = try certificateData(fromFileOrText: rootCertData ?? "") }
        return ["name": rootCertName, "properties": ["publicCertData": data]]
    }

    /// Applies the flags to a vpnClientConfiguration object (a root certificate replaces the one
    /// of the same name, or is added).
    func apply(to existing: [String: Any], cert: [String: Any]?) -> [String: Any] {
        var vpc = existing
        if !addressPrefixes.isEmpty { vpc["vpnClientAddressPool"] = ["addressPrefixes": addressPrefixes] }
        if !clientProtocols.isEmpty { vpc["vpnClientProtocols"] = clientProtocols.map(\.rawValue) }
        if !authTypes.isEmpty { vpc["vpnAuthenticationTypes"] = authTypes.map(\.rawValue) }
        if !clientUsers.isEmpty {
            var users = (vpc["vpnClientUsers"] as? [[String: Any]]) ?? []
            for entry in clientUsers {
                let eq = entry.firstIndex(of: "=")!
                let name = String(entry[..<eq]), password = String(entry[entry.index(after: eq)...])
                users.removeAll { ($0["name"] as? String)?.lowercased() == name.lowercased() }
                users.append(["name": name, "password": password])
            }
            vpc["vpnClientUsers"] = users
        }
        if let cert {
            var roots = (vpc["vpnClientRootCertificates"] as? [[String: Any]]) ?? []
            let name = (cert["name"] as? String ?? "").lowercased()
            roots.removeAll { ($0["name"] as? String)?.lowercased() == name }
            roots.append(cert)
            vpc["vpnClientRootCertificates"] = roots
        }
        return vpc
    }
}

struct VNetGateway: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vnet-gateway", abstract: "Manage virtual network gateways (VPN and ExpressRoute).",
        discussion: """
        A gateway lives in the GatewaySubnet of one virtual network; each network \
        can have one Vpn and one ExpressRoute gateway. A Vpn gateway also needs a \
        public IP resource.

        Examples:
          vpngw network vnet subnet create -g rg1 --vnet-name vnet1 \\
            -n GatewaySubnet --address-prefixes 10.1.255.0/27
          vpngw network public-ip create -g rg1 -n gw1-ip
          vpngw network vnet-gateway create -g rg1 -n gw1 --vnet vnet1 \\
            --public-ip-address gw1-ip --sku VpnGw1
          vpngw network vnet-gateway list -g rg1 -o table
        """,
        subcommands: [Create.self, Show.self, List.self, Update.self, Delete.self, Reset.self, VpnClient.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a virtual network gateway.",
            discussion: """
            The gateway goes into the GatewaySubnet of --vnet. Two public IPs make \
            an active-active gateway. For point-to-site, give the client pool with \
            --address-prefixes and a trusted root certificate with --root-cert-name \
            and --root-cert-file (or --root-cert-data).

            A Vpn gateway, route-based, second generation:
              vpngw network vnet-gateway create -g rg1 -n gw1 --vnet vnet1 \\
                --public-ip-address gw1-ip --gateway-type Vpn \\
                --vpn-type RouteBased --sku VpnGw2 --vpn-gateway-generation Generation2

            Active-active with BGP:
              vpngw network vnet-gateway create -g rg1 -n gw1 --vnet vnet1 \\
                --public-ip-address gw1-ip gw1-ip2 --sku VpnGw1 \\
                --enable-bgp --asn 65010

            With point-to-site (SSTP, certificate authentication):
              vpngw network vnet-gateway create -g rg1 -n gw1 --vnet vnet1 \\
                --public-ip-address gw1-ip --sku VpnGw1 \\
                --address-prefixes 172.16.201.0/24 --client-protocol SSTP \\
                --root-cert-name root1 --root-cert-file root.pem

            An ExpressRoute gateway (no public IP needed):
              vpngw network vnet-gateway create -g rg1 -n ergw --vnet vnet1 \\
                --gateway-type ExpressRoute --sku ErGw1AZ
            """)
        @OptionGroup var resource: ResourceOptions
        @Option(name: .customLong("vnet"), help: "Virtual network (name in the group, or resource id) whose GatewaySubnet holds the gateway.")
        var vnet: String
        @Option(name: [.customLong("public-ip-address"), .customLong("public-ip-addresses")], parsing: .upToNextOption,
                help: "Public IP resource(s), name or id: one, or two for active-active (repeatable).")
        var publicIPs: [String] = []
        @Option(name: .customLong("gateway-type"), help: "Gateway type (default Vpn).") var gatewayType: GatewayType?
        @Option(name: .customLong("vpn-type"), help: "VPN type (default RouteBased; PolicyBased needs --sku Basic).") var vpnType: VpnType?
        @Option(name: .customLong("sku"), help: "Gateway SKU (default VpnGw1 for Vpn, ErGw1AZ for ExpressRoute).") var sku: GatewaySKU?
        @Option(name: .customLong("vpn-gateway-generation"), help: "Gateway generation (default: the SKU's).") var generation: VpnGatewayGeneration?
        @Option(name: .customLong("asn"), help: "The gateway's BGP ASN (default 65515; used with --enable-bgp).") var asn: Int64?
        @Option(name: .customLong("bgp-peering-weight"), help: "BGP peer weight (0–100).") var peerWeight: Int?
        @Flag(name: .customLong("enable-bgp"), help: "Run BGP on the gateway.") var enableBgp = false
        @Flag(name: .customLong("active-active"), help: "Two instances, one per public IP (implied by two public IPs).") var activeActive = false
        @OptionGroup var p2s: P2SOptions
        @OptionGroup var common: CommonCreateOptions
        @Flag(name: .customLong("no-wait"), help: "Do not wait for the long-running operation to finish.") var noWait = false
        @OptionGroup var client: ClientOptions
        func run() async throws {
            let cert = try p2s.rootCertificate()
            try await runClient(client) { c in
                let subnetID = resourceRef(c, resource.group, .virtualNetworks, vnet) + "/subnets/GatewaySubnet"
                let configs: [[String: Any]] = (publicIPs.isEmpty ? [nil] : publicIPs.map { Optional($0) }).enumerated().map { i, ip in
                    var props: [String: Any] = ["subnet": ["id": subnetID], "privateIPAllocationMethod": "Dynamic"]
                    if let ip { props["publicIPAddress"] = ["id": resourceRef(c, resource.group, .publicIPAddresses, ip)] }
                    return ["name": i == 0 ? "default" : "activeActive", "properties": props]
                }
                var vpc: [String: Any]? = nil
                if !p2s.isEmpty { vpc = p2s.apply(to: [:], cert: cert) }
                var bgp: [String: Any]? = nil
                if asn != nil || peerWeight != nil {
                    bgp = [:]
                    if let asn { bgp?["asn"] = asn }
                    if let peerWeight { bgp?["peerWeight"] = peerWeight }
                }
                let body = jsonBody([
                    "location": common.location, "tags": common.tagsValue,
                    "properties.ipConfigurations": configs,
                    "properties.gatewayType": gatewayType?.rawValue, "properties.vpnType": vpnType?.rawValue,
                    "properties.sku": sku.map { ["name": $0.rawValue, "tier": $0.rawValue] },
                    "properties.vpnGatewayGeneration": generation?.rawValue,
                    "properties.activeActive": activeActive || publicIPs.count > 1,
                    "properties.enableBgp": enableBgp, "properties.bgpSettings": bgp,
                    "properties.vpnClientConfiguration": vpc,
                ])
                let out = try await putResource(c, resource.group, .virtualNetworkGateways, resource.name, body: body, noWait: noWait)
                await printGateways(c, client.output, out)
            }
        }
    }
    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a virtual network gateway.",
            discussion: "Example:\n  vpngw network vnet-gateway show -g rg1 -n gw1 -o table")
        @OptionGroup var resource: ResourceOptions
        @OptionGroup var client: ClientOptions
        func run() async throws {
            try await runClient(client) { c in
                await printGateways(c, client.output, try await c.call(.GET, c.resourcePath(resource.group, .virtualNetworkGateways, resource.name)).body)
            }
        }
    }
    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List virtual network gateways (of a group, or of the subscription).",
            discussion: "Example:\n  vpngw network vnet-gateway list -g rg1 -o table")
        @Option(name: [.customShort("g"), .customLong("resource-group")], help: "Resource group (default: all).") var group: String?
        @OptionGroup var client: ClientOptions
        func run() async throws {
            try await runClient(client) { c in
                await printGateways(c, client.output, try await c.call(.GET, listPath(c, group, .virtualNetworkGateways)).body)
            }
        }
    }
    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Resize a gateway, or change its BGP, point-to-site settings or tags.",
            discussion: """
            Only the flags given change. A resize stays within one SKU family and \
            generation (VpnGw1 to VpnGw2: yes; Basic to VpnGw1: no). A root \
            certificate replaces the one of the same name.

            Examples:
              vpngw network vnet-gateway update -g rg1 -n gw1 --sku VpnGw2
              vpngw network vnet-gateway update -g rg1 -n gw1 \\
                --address-prefixes 172.16.201.0/24 \\
                --root-cert-name root1 --root-cert-file root.pem
              vpngw network vnet-gateway update -g rg1 -n gw1 --remove-root-cert root1
            """)
        @OptionGroup var resource: ResourceOptions
        @Option(name: .customLong("sku"), help: "New SKU (resize).") var sku: GatewaySKU?
        @Option(name: .customLong("enable-bgp"), help: "Run BGP on the gateway.") var enableBgp: BoolArgument?
        @Option(name: .customLong("asn"), help: "The gateway's BGP ASN.") var asn: Int64?
        @Option(name: .customLong("bgp-peering-weight"), help: "BGP peer weight (0–100).") var peerWeight: Int?
        @OptionGroup var p2s: P2SOptions
        @Option(name: .customLong("remove-root-cert"), help: "Name of a client root certificate to remove.") var removeRootCert: String?
        @Option(name: .customLong("remove-client-user"), parsing: .singleValue, help: "Name of a point-to-site user to remove (their live sessions end); repeatable.")
        var removeClientUsers: [String] = []
        @Option(name: .customLong("tags"), parsing: .upToNextOption, help: "Space-separated tags: key[=value] ... (replaces all tags).") var tags: [String] = []
        @Flag(name: .customLong("no-wait"), help: "Do not wait for the long-running operation to finish.") var noWait = false
        @OptionGroup var client: ClientOptions
        func run() async throws {
            let cert = try p2s.rootCertificate()
            try await runClient(client) { c in
                let current = try await c.call(.GET, c.resourcePath(resource.group, .virtualNetworkGateways, resource.name)).body
                var obj = jsonObject(jsonMerge(current, jsonBody([
                    "properties.sku": sku.map { ["name": $0.rawValue, "tier": $0.rawValue] },
                    "properties.enableBgp": enableBgp?.value, "properties.bgpSettings.asn": asn, "properties.bgpSettings.peerWeight": peerWeight,
                ])))
                var props = obj["properties"] as? [String: Any] ?? [:]
                if !p2s.isEmpty || removeRootCert != nil || !removeClientUsers.isEmpty {
                    var vpc = p2s.apply(to: props["vpnClientConfiguration"] as? [String: Any] ?? [:], cert: cert)
                    if let removeRootCert {
                        var roots = (vpc["vpnClientRootCertificates"] as? [[String: Any]]) ?? []
                        roots.removeAll { ($0["name"] as? String)?.lowercased() == removeRootCert.lowercased() }
                        vpc["vpnClientRootCertificates"] = roots
                    }
                    if !removeClientUsers.isEmpty {
                        let gone = Set(removeClientUsers.map { $0.lowercased() })
                        var users = (vpc["vpnClientUsers"] as? [[String: Any]]) ?? []
                        let before = users.count
                        users.removeAll { gone.contains((($0["name"] as? String) ?? "").lowercased()) }
                        if users.count == before { throw ValidationError("no point-to-site user named \(removeClientUsers.joined(separator: ", ")) on gateway '\(resource.name)'") }
                        vpc["vpnClientUsers"] = users
                    }
                    props["vpnClientConfiguration"] = vpc
                }
                obj["properties"] = props
                if !tags.isEmpty { obj["tags"] = parseTags(tags) }
                let out = try await putResource(c, resource.group, .virtualNetworkGateways, resource.name, body: jsonData(obj), noWait: noWait)
                await printGateways(c, client.output, out)
            }
        }
    }
    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a virtual network gateway (refused while connections use it).",
            discussion: "Example:\n  vpngw network vnet-gateway delete -g rg1 -n gw1")
        @OptionGroup var resource: ResourceOptions
        @OptionGroup var client: ClientOptions
        func run() async throws {
            try await runClient(client) { c in
                let existed = try await c.delete(resource.group, .virtualNetworkGateways, resource.name)
                print(existed ? "Deleted virtual network gateway '\(resource.name)'." : "Virtual network gateway '\(resource.name)' did not exist.")
            }
        }
    }
    struct Reset: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Reset a gateway: restart it and renegotiate all its tunnels.",
            discussion: """
            Connections drop and come back; configuration is kept.

            Example:
              vpngw network vnet-gateway reset -g rg1 -n gw1
            """)
        @OptionGroup var resource: ResourceOptions
        @Flag(name: .customLong("no-wait"), help: "Do not wait for the reset to finish.") var noWait = false
        @OptionGroup var client: ClientOptions
        func run() async throws {
            try await runClient(client) { c in
                try await postAction(c, c.resourcePath(resource.group, .virtualNetworkGateways, resource.name) + "/reset", noWait: noWait)
                print(noWait ? "Reset of virtual network gateway '\(resource.name)' started." : "Reset virtual network gateway '\(resource.name)'.")
            }
        }
    }
}

extension VNetGateway {
    /// `vpngw network vnet-gateway vpn-client …`: point-to-site sessions and client profile.
    struct VpnClient: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "vpn-client", abstract: "Point-to-site: live sessions, disconnect, client profile.",
            discussion: """
            Examples:
              vpngw network vnet-gateway vpn-client list-sessions -g rg1 -n gw1 -o table
              vpngw network vnet-gateway vpn-client disconnect -g rg1 -n gw1 --vpn-connection-ids sstp-1234-1
              vpngw network vnet-gateway vpn-client disconnect -g rg1 -n gw1 --user alice
              vpngw network vnet-gateway vpn-client generate -g rg1 -n gw1
            """,
            subcommands: [ListSessions.self, Disconnect.self, Generate.self])

        struct ListSessions: AsyncParsableCommand {
            static let configuration = CommandConfiguration(commandName: "list-sessions",
                abstract: "List live point-to-site sessions (getvpnclientconnectionhealth).")
            @OptionGroup var resource: ResourceOptions
            @OptionGroup var client: ClientOptions
            func run() async throws {
                try await runClient(client) { c in
                    let r = try await c.call(.POST, c.resourcePath(resource.group, .virtualNetworkGateways, resource.name) + "/getvpnclientconnectionhealth")
                    printOutput(client.output, json: r.body, columns: [
                        col("Id", "vpnConnectionId"), col("User", "vpnUserName"), col("Address", "privateIpAddress"), col("From", "publicIpAddress"),
                        ("In", { humanBytes(jsonValue($0, "ingressBytesTransferred")) }), ("Out", { humanBytes(jsonValue($0, "egressBytesTransferred")) }),
                        col("Since", "vpnConnectionTime"), ("Seconds", { jsonString($0, "vpnConnectionDuration") }),
                    ])
                }
            }
        }

        struct Disconnect: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "End point-to-site sessions (disconnectVirtualNetworkGatewayVpnConnections).",
                discussion: "Give session ids from list-sessions, or --user to end every session of a user.")
            @OptionGroup var resource: ResourceOptions
            @Option(name: .customLong("vpn-connection-ids"), parsing: .upToNextOption, help: "vpnConnectionId values to end.") var ids: [String] = []
            @Option(name: .customLong("user"), help: "End every session of this user.") var user: String?
            @OptionGroup var client: ClientOptions
            func validate() throws {
                if ids.isEmpty && user == nil { throw ValidationError("give --vpn-connection-ids or --user") }
            }
            func run() async throws {
                try await runClient(client) { c in
                    var wanted = ids
                    if let user {
                        wanted += try await c.vpnClientSessions(resource.group, resource.name)
                            .filter { ($0.vpnUserName ?? "").lowercased() == user.lowercased() }.map(\.vpnConnectionId)
                    }
                    let ended = wanted.isEmpty ? [] : try await c.disconnectVpnClients(resource.group, resource.name, ids: wanted)
                    for id in ended { print("Disconnected \(id).") }
                    let missing = Set(wanted).subtracting(ended)
                    if !missing.isEmpty || wanted.isEmpty {
                        FileHandle.standardError.write(Data("error: no live session \(user.map { "of user \($0)" } ?? missing.sorted().joined(separator: ", ")) on gateway '\(resource.name)'\n".utf8))
                        throw ExitCode(1)
                    }
                }
            }
        }

        struct Generate: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Print what a point-to-site user needs: server, CA certificate, ready command lines.")
            @OptionGroup var resource: ResourceOptions
            @OptionGroup var profile: ClientProfileOptions
            @OptionGroup var client: ClientOptions
            func run() async throws {
                try await runClient(client) { c in
                    try await printClientProfile(c, group: resource.group, gateway: resource.name, user: profile.user, caFile: profile.caFile, json: profile.json || client.output == .json && CommandLine.arguments.contains { $0 == "-o" || $0 == "--output" })
                }
            }
        }
    }
}

/// Shared by `vnet-gateway vpn-client generate` and `p2s client-config`.
func printClientProfile(_ c: GatewayClient, group: String, gateway: String, user: String, caFile: String?, json: Bool) async throws {
    let r = try await c.call(.POST, c.resourcePath(group, .virtualNetworkGateways, gateway) + "/vpnclientconfiguration")
    let p = try c.decode(VpnClientProfileInfo.self, r.body)
    let caPath = caFile ?? "\(gateway)-ca.pem"
    if let caFile, let pem = p.serverCertificatePEM { try pem.write(toFile: caFile, atomically: true, encoding: .utf8) }
    if json { printOutput(.json, json: r.body); return }
    let port = p.port == 443 ? "" : " --port \(p.port)"
    let routes = (p.routes ?? []).map { " --route \($0)" }.joined()
    print("""
    Point-to-site profile of gateway '\(gateway)'
      server:          \(p.serverAddress):\(p.port) (SSTP; the certificate's CN is \(p.serverAddress))
      protocols:       \((p.protocols ?? []).joined(separator: ", "))
      authentication:  \((p.authenticationTypes ?? []).joined(separator: ", "))
      address pool:    \((p.addressPool ?? []).joined(separator: ", "))
      routes:          \((p.routes ?? []).joined(separator: ", "))
    """)
    if let status = p.status { print("  status:          \(status)") }
    print("")
    print("With vpngw on the client (Linux, no kernel PPP needed):")
    print("  vpngw p2s connect --server \(p.serverAddress)\(port) --user \(user) --password PASSWORD\(routes)")
    print("")
    print("With sstpc and pppd (the server certificate below saved as \(caPath)):")
    let hostPort = p.port == 443 ? p.serverAddress : "\(p.serverAddress):\(p.port)"
    print("  sstpc --ca-cert \(caPath) --user \(user) --password PASSWORD \(hostPort) usepeerdns require-mschap-v2 noauth noipdefault nobsdcomp nodeflate")
    print("  (or, without kernel PPP: sstpc --nolaunchpppd ... driven by `vpngw p2s connect --engine sstpc`)")
    print("")
    if let pem = p.serverCertificatePEM {
        print("Server certificate (trust it as the CA):")
        print(pem.trimmingCharacters(in: .whitespacesAndNewlines))
    } else {
        print("The server certificate is not generated yet (the gateway's SSTP server has not started).")
    }
}
