import ArgumentParser
import Foundation
import GatewayClient
import GatewayModel

/// The data directory: --data-dir, $VPNGW_DATA_DIR, /var/lib/vpngw for root, ~/.vpngw otherwise.
func defaultDataDirectory() -> String {
    if let env = ProcessInfo.processInfo.environment["VPNGW_DATA_DIR"], !env.isEmpty { return env }
    if getuid() == 0 { return "/var/lib/vpngw" }
    return (ProcessInfo.processInfo.environment["HOME"] ?? ".") + "/.vpngw"
}

/// Options every client command takes: where the API is and which subscription to act on.
struct ClientOptions: ParsableArguments {
    @Option(name: .customLong("data-dir"), help: "Data directory of the local `vpngw serve` (its client.json says where the API is). Default: $VPNGW_DATA_DIR, /var/lib/vpngw as root, else ~/.vpngw.")
    var dataDir: String?

    @Option(name: .customLong("endpoint"), help: "API base URL, e.g. https://127.0.0.1:8443 (overrides client.json; or $VPNGW_ENDPOINT).")
    var endpoint: String?

    @Option(name: .customLong("subscription"), help: "Subscription id (default: the server's own subscription from client.json).")
    var subscription: String?

    @Option(name: [.customShort("o"), .customLong("output")], help: "Output format: json or table.")
    var output: OutputFormat = .json

    func configuration() throws -> ClientConfiguration {
        let env = ProcessInfo.processInfo.environment
        let dir = dataDir ?? defaultDataDirectory()
        let file = URL(fileURLWithPath: dir).appendingPathComponent("client.json")
        var config: ClientConfiguration
        if let loaded = try? ClientConfiguration.load(from: file) {
            config = loaded
        } else if let ep = endpoint ?? env["VPNGW_ENDPOINT"], let token = env["VPNGW_TOKEN"] {
            config = ClientConfiguration(endpoint: ep, token: token, subscription: subscription ?? "default", caCertificatePEM: nil)
        } else {
            throw ValidationError("Cannot find the vpngw API: no \(file.path). Start `vpngw serve --data-dir \(dir)`, pass --data-dir, or set VPNGW_ENDPOINT and VPNGW_TOKEN.")
        }
        if let endpoint { config.endpoint = endpoint }
        if let t = env["VPNGW_TOKEN"] { config.token = t }
        if let subscription { config.subscription = subscription }
        return config
    }

    func client() throws -> GatewayClient { try GatewayClient(configuration()) }
}

enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case json, table
}

/// Runs a client action, printing ARM errors as `error: CODE: message (field: target)` and
/// exiting non-zero.
func runClient(_ options: ClientOptions, _ body: (GatewayClient) async throws -> Void) async throws {
    let client = try options.client()
    do {
        try await body(client)
        await client.shutdown()
    } catch let e as ClientError {
        await client.shutdown()
        switch e {
        case .api(let arm):
            var line = "error: \(arm.code): \(arm.message)"
            if let t = arm.target, !t.hasPrefix("/"), !arm.message.contains(t) { line += " (field: \(t))" }
            FileHandle.standardError.write(Data((line + "\n").utf8))
        default:
            FileHandle.standardError.write(Data("error: \(e)\n".utf8))
        }
        throw ExitCode(1)
    }
}

/// Prints JSON pretty, or a table of the given columns.
/// A table column: header and how to read the cell from a decoded JSON row.
typealias Column = (String, @Sendable (Any) -> String)

func printOutput(_ format: OutputFormat, json: Data, columns: [Column] = []) {
    switch format {
    case .json:
        if let obj = try? JSONSerialization.jsonObject(with: json),
           let pretty = try? JSONSerialization.data(withJSONObject: obj, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]) {
            print(String(decoding: pretty, as: UTF8.self))
        } else {
            print(String(decoding: json, as: UTF8.self))
        }
    case .table:
        let obj = try? JSONSerialization.jsonObject(with: json)
        let rows: [Any]
        if let dict = obj as? [String: Any], let value = dict["value"] as? [Any] { rows = value } else if let obj { rows = [obj] } else { rows = [] }
        printTable(rows.map { row in columns.map { $0.1(row) } }, headers: columns.map(\.0))
    }
}

func printTable(_ rows: [[String]], headers: [String]) {
    var widths = headers.map(\.count)
    for r in rows { for (i, c) in r.enumerated() { widths[i] = max(widths[i], c.count) } }
    func line(_ cells: [String]) -> String {
        cells.enumerated().map { i, c in c.padding(toLength: widths[i], withPad: " ", startingAt: 0) }.joined(separator: "  ").trimmingCharacters(in: .whitespaces)
    }
    print(line(headers))
    print(line(widths.map { String(repeating: "-", count: $0) }))
    for r in rows { print(line(r)) }
}

/// Reads a value at a dotted path (`properties.sku.name`) from decoded JSON.
func jsonValue(_ obj: Any, _ path: String) -> Any? {
    var cur: Any? = obj
    for key in path.split(separator: ".") {
        cur = (cur as? [String: Any])?[String(key)]
    }
    return cur
}

func jsonString(_ obj: Any, _ path: String) -> String {
    switch jsonValue(obj, path) {
    case let s as String: return s
    case let n as NSNumber: return n.stringValue
    case let a as [Any]: return a.map { "\($0)" }.joined(separator: ",")
    case nil: return ""
    case let other?: return "\(other)"
    }
}

/// Column helper: `col("Name", "name")`.
func col(_ header: String, _ path: String) -> Column { (header, { jsonString($0, path) }) }
