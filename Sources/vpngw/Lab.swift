import ArgumentParser
import Foundation
import GatewayClient
import GatewayRuntime

/// `vpngw lab …`: explore the lab that `vpngw serve --data-plane lab` builds.
struct LabCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lab", abstract: "Explore the lab network (serve --data-plane lab).",
        discussion: """
        In lab mode every virtual network is a namespace with one "VM" per subnet (at the subnet's .4),
        gateways run in their VNet's namespace, and local network gateways tagged vpngw-lab=site
        are strongSwan sites with a LAN VM at their first prefix's .4. Examples:
          vpngw lab exec -g rg --vnet vnet1 --subnet vms -- ping -c 3 192.168.1.4
          vpngw lab exec -g rg --site site1 -- ping -c 3 10.1.0.4
          vpngw lab namespaces
        """,
        subcommands: [Exec.self, Namespaces.self])

    static func lab(_ client: ClientOptions) throws -> (LabNetwork, ClientConfiguration) {
        let config = try client.configuration()
        let lab = LabNetwork(prefix: "vl" + String(config.subscription.prefix(4)), directory: URL(fileURLWithPath: "/tmp"), logger: .init(label: "lab"))
        return (lab, config)
    }

    struct Exec: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Run a command inside a lab VM (or a site's LAN VM).")
        @Option(name: [.customShort("g"), .customLong("resource-group")], help: "Resource group.") var group: String
        @Option(name: .customLong("vnet"), help: "Virtual network of the VM.") var vnet: String?
        @Option(name: .customLong("subnet"), help: "Subnet of the VM.") var subnet: String?
        @Option(name: .customLong("site"), help: "Local network gateway (lab site): run in its LAN VM.") var site: String?
        @Flag(name: .customLong("router"), help: "Run in the VNet's router/gateway namespace (or the site's strongSwan namespace) instead.") var router = false
        @OptionGroup var client: ClientOptions
        @Argument(parsing: .captureForPassthrough, help: "The command, after --.") var command: [String]

        func run() async throws {
            let (lab, config) = try LabCommand.lab(client)
            let base = "/subscriptions/\(config.subscription)/resourceGroups/\(group)/providers/Microsoft.Network"
            let ns: String
            if let site {
                let id = "\(base)/localNetworkGateways/\(site)"
                ns = router ? lab.siteNamespace(id) : lab.siteLANNamespace(id)
            } else if let vnet {
                let vid = "\(base)/virtualNetworks/\(vnet)"
                if router { ns = lab.vnetNamespace(vid) } else {
                    guard let subnet else { throw ValidationError("give --subnet (or --router)") }
                    ns = lab.vmNamespace("\(vid)/subnets/\(subnet)")
                }
            } else {
                throw ValidationError("give --vnet VNET --subnet SUBNET, or --site LNG")
            }
            let args = command.first == "--" ? Array(command.dropFirst()) : command
            guard !args.isEmpty else { throw ValidationError("give the command after --, e.g. -- ping -c 3 10.2.0.4") }
            // Become the command (exec), so daemons, signals and exit codes behave as if run directly.
            let argv = ["ip", "netns", "exec", ns] + args
            var cArgs = argv.map { strdup($0) } + [nil]
            execv("/usr/sbin/ip", &cArgs)
            throw ValidationError("cannot run ip netns exec: \(String(cString: strerror(errno)))")
        }
    }

    struct Namespaces: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the lab's namespaces.")
        @OptionGroup var client: ClientOptions
        func run() async throws {
            let (lab, _) = try LabCommand.lab(client)
            for ns in LabNetwork.existingNamespaces() where ns.hasPrefix(lab.prefix + "-") { print(ns) }
        }
    }
}
