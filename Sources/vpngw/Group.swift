import ArgumentParser
import Foundation
import GatewayClient

struct Group: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "group", abstract: "Manage resource groups (every resource lives in one).",
        subcommands: [Create.self, Show.self, List.self, Delete.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create or update a resource group.")
        @Option(name: [.customShort("n"), .customLong("name")], help: "Resource group name.") var name: String
        @Option(name: [.customShort("l"), .customLong("location")], help: "Location (region label).") var location = "local"
        @OptionGroup var client: ClientOptions
        func run() async throws {
            try await runClient(client) { c in
                let r = try await c.call(.PUT, c.groupPath(name), body: Data("{\"location\":\"\(location)\"}".utf8))
                printOutput(client.output, json: r.body, columns: [col("Name", "name"), col("Location", "location"), col("State", "properties.provisioningState")])
            }
        }
    }
    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a resource group.")
        @Option(name: [.customShort("n"), .customLong("name")], help: "Resource group name.") var name: String
        @OptionGroup var client: ClientOptions
        func run() async throws {
            try await runClient(client) { c in
                let r = try await c.call(.GET, c.groupPath(name))
                printOutput(client.output, json: r.body, columns: [col("Name", "name"), col("Location", "location"), col("State", "properties.provisioningState")])
            }
        }
    }
    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List resource groups.")
        @OptionGroup var client: ClientOptions
        func run() async throws {
            try await runClient(client) { c in
                let r = try await c.call(.GET, "/subscriptions/\(c.subscription)/resourcegroups")
                printOutput(client.output, json: r.body, columns: [col("Name", "name"), col("Location", "location"), col("State", "properties.provisioningState")])
            }
        }
    }
    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a resource group and everything in it.")
        @Option(name: [.customShort("n"), .customLong("name")], help: "Resource group name.") var name: String
        @OptionGroup var client: ClientOptions
        func run() async throws {
            try await runClient(client) { c in
                let r = try await c.call(.DELETE, c.groupPath(name))
                print(r.status == 204 ? "Resource group '\(name)' did not exist." : "Deleted resource group '\(name)'.")
            }
        }
    }
}
