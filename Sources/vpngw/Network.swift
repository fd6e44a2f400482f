import ArgumentParser

struct Network: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "network",
        abstract: "Manage network resources, as `az network` does.",
        subcommands: [VNet.self])
}
