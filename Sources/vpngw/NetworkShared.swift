import ArgumentParser
import Foundation
import GatewayClient
import GatewayModel

// Helpers shared by the `vpngw network ...` commands beyond `vnet`.

/// The model's string enums as flag values: case-insensitive, and a bad value is refused with
/// the allowed values listed (ArgumentParser reads them from `allValueStrings`).
public protocol ARMEnumArgument: ARMEnum, ExpressibleByArgument {}
extension ARMEnumArgument {
    public init?(argument: String) { self.init(caseInsensitive: argument) }
    public static var allValueStrings: [String] { allCases.map(\.rawValue) }
    public var defaultValueDescription: String { rawValue }
}
extension GatewayType: ExpressibleByArgument, ARMEnumArgument {}
extension VpnType: ExpressibleByArgument, ARMEnumArgument {}
extension VpnGatewayGeneration: ExpressibleByArgument, ARMEnumArgument {}
extension GatewaySKU: ExpressibleByArgument, ARMEnumArgument {}
extension VpnClientProtocol: ExpressibleByArgument, ARMEnumArgument {}
extension ConnectionProtocol: ExpressibleByArgument, ARMEnumArgument {}
extension ConnectionMode: ExpressibleByArgument, ARMEnumArgument {}
extension IPVersion: ExpressibleByArgument, ARMEnumArgument {}
extension IPAllocationMethod: ExpressibleByArgument, ARMEnumArgument {}
extension IkeEncryption: ExpressibleByArgument, ARMEnumArgument {}
extension IkeIntegrity: ExpressibleByArgument, ARMEnumArgument {}
extension IpsecEncryption: ExpressibleByArgument, ARMEnumArgument {}
extension IpsecIntegrity: ExpressibleByArgument, ARMEnumArgument {}
extension DhGroup: ExpressibleByArgument, ARMEnumArgument {}
extension PfsGroup: ExpressibleByArgument, ARMEnumArgument {}

/// CLI-only enums for values the model keeps as plain strings.
enum PublicIPSku: String, ARMEnumArgument { case Basic, Standard }
enum CircuitSkuTier: String, ARMEnumArgument { case Local, Standard, Premium, Basic }
enum CircuitSkuFamily: String, ARMEnumArgument { case MeteredData, UnlimitedData }
enum CircuitPeeringType: String, ARMEnumArgument { case AzurePrivatePeering, MicrosoftPeering, AzurePublicPeering }

/// `true`/`false` for az-style `--enable-bgp {true,false}` on update.
enum BoolArgument: String, ExpressibleByArgument, CaseIterable {
    case `true`, `false`
    var value: Bool { self == .true }
    init?(argument: String) {
        switch argument.lowercased() {
        case "true", "yes", "1": self = .true
        case "false", "no", "0": self = .false
        default: return nil
        }
    }
}

/// A resource given by name (in `group`) or by full resource id (any group).
func resourceRef(_ c: GatewayClient, _ group: String, _ type: ResourceType, _ nameOrID: String) -> String {
    nameOrID.hasPrefix("/") ? nameOrID : c.resourceID(group, type, nameOrID)
}

/// Collection path of a type: in one group, or across the subscription.
func listPath(_ c: GatewayClient, _ group: String?, _ type: ResourceType) -> String {
    group.map { c.resourcePath($0, type) } ?? "/subscriptions/\(c.subscription)/providers/Microsoft.Network/\(type.rawValue)"
}

/// Last segment of a resource id (its name), or "" for none.
func idName(_ id: String?) -> String {
    guard let id, !id.isEmpty else { return "" }
    return String(id.split(separator: "/").last ?? "")
}

/// Column: the resource group, read from the id.
let groupColumn: Column = ("ResourceGroup", { (ResourceID(parsing: jsonString($0, "id"))?.resourceGroup) ?? "" })

/// Column: the name of the resource a reference at `path` points to (`….id`), prefixed with its
/// group when that differs from the row's own group.
func refColumn(_ header: String, _ paths: [String]) -> Column {
    (header, { row in
        for p in paths {
            let ref = jsonString(row, p)
            guard !ref.isEmpty else { continue }
            let own = ResourceID(parsing: jsonString(row, "id"))?.resourceGroup.lowercased()
            if let rid = ResourceID(parsing: ref) {
                return rid.resourceGroup.lowercased() == own ? rid.name : "\(rid.resourceGroup)/\(rid.name)"
            }
            return idName(ref)
        }
        return ""
    })
}

/// A column that shows "-" for an empty cell, so sparse tables still read as rows.
func dashed(_ c: Column) -> Column { (c.0, { row in let v = c.1(row); return v.isEmpty ? "-" : v }) }

/// Column: tags as `k=v,k=v`.
let tagsColumn: Column = ("Tags", { row in
    ((jsonValue(row, "tags") as? [String: Any]) ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
})

/// Byte counts for people: 0 B, 1.5 KiB, 20.0 MiB.
func humanBytes(_ value: Any?) -> String {
    guard let n = (value as? NSNumber)?.doubleValue else { return "" }
    let units = ["B", "KiB", "MiB", "GiB", "TiB"]
    var v = n, i = 0
    while v >= 1024 && i < units.count - 1 { v /= 1024; i += 1 }
    return i == 0 ? "\(Int(v)) B" : String(format: "%.1f %@", v, units[i])
}

/// Decoded JSON object of a response body (empty when not an object).
func jsonObject(_ data: Data) -> [String: Any] {
    (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
}

func jsonData(_ obj: Any) -> Data {
    (try? JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
}

/// Options for tags and location, as every az create takes them.
struct CommonCreateOptions: ParsableArguments {
    @Option(name: [.customShort("l"), .customLong("location")], help: "Location (default: the group's).") var location: String?
    @Option(name: .customLong("tags"), parsing: .upToNextOption, help: "Space-separated tags: key[=value] ...") var tags: [String] = []
    var tagsValue: [String: String]? { tags.isEmpty ? nil : parseTags(tags) }
}

/// PUT a body and either wait for the long-running operation (then GET the result) or, with
/// --no-wait, print what the server accepted.
func putResource(_ c: GatewayClient, _ group: String, _ type: ResourceType, _ name: String, body: Data, noWait: Bool) async throws(ClientError) -> Data {
    if noWait { return try await c.call(.PUT, c.resourcePath(group, type, name), body: body).body }
    return try await c.putRaw(group, type, name, json: body)
}

/// POST an action that answers 202 + Azure-AsyncOperation, and wait for it unless told not to.
func postAction(_ c: GatewayClient, _ path: String, body: Data? = nil, noWait: Bool = false) async throws(ClientError) {
    let r = try await c.call(.POST, path, body: body)
    if r.status == 202 && !noWait { try await c.waitForOperation(r) }
}

/// The base64 DER a root certificate is uploaded as, from base64 text, PEM text, or a PEM/DER file.
func certificateData(fromFileOrText text: String) throws -> String {
    if FileManager.default.fileExists(atPath: text) { return try certificateData(file: text) }
    return pemBody(text)
}

func certificateData(file path: String) throws -> String {
    guard let data = FileManager.default.contents(atPath: path) else { throw ValidationError("Cannot read certificate file \(path).") }
    if data.first == 0x30 { return data.base64EncodedString() }   // DER
    return pemBody(String(decoding: data, as: UTF8.self))
}

/// The base64 body of the first PEM CERTIFICATE block, or the text itself without whitespace.
func pemBody(_ text: String) -> String {
    if let begin = text.range(of: "-----BEGIN CERTIFICATE-----"),
       let end = text.range(of: "-----END CERTIFICATE-----", range: begin.upperBound..<text.endIndex) {
        return text[begin.upperBound..<end.lowerBound].filter { !$0.isWhitespace }
    }
    return text.filter { !$0.isWhitespace }
}
