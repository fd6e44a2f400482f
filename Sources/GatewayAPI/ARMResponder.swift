import Foundation
import GatewayControl
import GatewayModel
import GatewayStore
import HTTPTypes
import Hummingbird
import Logging
import NIOCore

/// Serves the ARM-shaped REST API:
/// `/subscriptions/{s}/resourceGroups/{g}/providers/Microsoft.Network/{type}/{name}[/{child}/{name}]`.
/// Path segments match case-insensitively; every call needs `Authorization: Bearer <token>`
/// (checked before routing); errors are `{"error":{"code","message","target"}}`.
public struct ARMResponder: HTTPResponder {
    public typealias Context = BasicRequestContext

    let service: ResourceService
    let tokens: TokenStore
    let scheme: String
    let logger: Logger

    public init(service: ResourceService, tokens: TokenStore, scheme: String, logger: Logger) {
        self.service = service; self.tokens = tokens; self.scheme = scheme; self.logger = logger
    }

    public func respond(to request: Request, context: Context) async throws -> Response {
        let requestID = UUID().uuidString.lowercased()
        var response: Response
        do {
            response = try await route(request, requestID: requestID)
        } catch let error as ARMError {
            response = Self.error(error)
        } catch {
            logger.error("request \(requestID) failed: \(error)")
            response = Self.error(ARMError(status: 500, code: "InternalServerError", message: "Unexpected error; request id \(requestID)."))
        }
        response.headers[.init("x-ms-request-id")!] = requestID
        return response
    }

    // MARK: Routing

    private func route(_ request: Request, requestID: String) async throws -> Response {
        // Authentication comes before routing: an unknown path without a token is still 401.
        guard let auth = request.headers[.authorization], auth.lowercased().hasPrefix("bearer ") else {
            throw ARMError(status: 401, code: "AuthenticationFailed", message: "Authentication failed. The 'Authorization' header is missing; send 'Authorization: Bearer <token>' (the token is in the server's data directory, tokens.json).")
        }
        guard let token = tokens.lookup(String(auth.dropFirst(7)).trimmingCharacters(in: .whitespaces)) else {
            throw ARMError(status: 401, code: "InvalidAuthenticationToken", message: "The access token is invalid.")
        }
        let path = request.uri.path
        let seg = path.split(separator: "/").map { String($0).removingPercentEncoding ?? String($0) }
        let low = seg.map { $0.lowercased() }
        let method = request.method

        if low == ["openapi.json"] {
            guard method == .get else { throw Self.methodNotAllowed(method) }
            return Self.json(.ok, OpenAPIDocument.json)
        }
        guard low.count >= 2, low[0] == "subscriptions" else {
            throw ARMError(status: 404, code: "NotFound", message: "No API at '\(path)'. Resources live under /subscriptions/{subscriptionId}/resourceGroups/{group}/providers/Microsoft.Network/…; see /openapi.json.")
        }
        let sub = seg[1]
        if token.subscription != "*" && token.subscription.lowercased() != sub.lowercased() {
            throw ARMError(status: 403, code: "AuthorizationFailed", message: "The token '\(token.name)' is scoped to subscription '\(token.subscription)' and cannot act on subscription '\(sub)'.")
        }
        var body = request
        let maxBody = ResourceService.maxBodyBytes
        func readBody() async throws -> Data {
            do {
                let buffer = try await body.collectBody(upTo: maxBody)
                return Data(buffer.readableBytesView)
            } catch {
                throw ARMError(status: 413, code: "RequestEntityTooLarge", message: "The request body is larger than \(maxBody / 1024 / 1024) MiB.")
            }
        }
        let ifMatch = request.headers[.ifMatch]
        let ifNoneMatch = request.headers[.ifNoneMatch]

        // /subscriptions/{s}/resourcegroups[/{g}]
        if low.count == 3, low[2] == "resourcegroups" {
            guard method == .get else { throw Self.methodNotAllowed(method) }
            return try Self.jsonList(await service.groups(subscription: sub))
        }
        if low.count == 4, low[2] == "resourcegroups" {
            let g = seg[3]
            switch method {
            case .put:
                let data = try await readBody()
                let (group, created) = try await service.putGroup(subscription: sub, name: g, body: data)
                return try Self.json(created ? .created : .ok, JSONEncoder.arm.encode(group))
            case .get:
                return try Self.json(.ok, JSONEncoder.arm.encode(await service.group(subscription: sub, name: g)))
            case .delete:
                return try await service.deleteGroup(subscription: sub, name: g) ? Self.empty(.ok) : Self.empty(.noContent)
            case .head:
                _ = try await service.group(subscription: sub, name: g)
                return Self.empty(.noContent)
            default: throw Self.methodNotAllowed(method)
            }
        }
        // /subscriptions/{s}/providers/Microsoft.Network/...
        if low.count >= 5, low[2] == "providers", low[3] == "microsoft.network" {
            if low.count == 8, low[4] == "locations", low[6] == "operations" {
                return try await operationStatus(seg[7])
            }
            if low.count == 8, low[4] == "locations", low[6] == "operationresults" {
                return try await operationResult(seg[7], request: request, sub: sub, location: seg[5])
            }
            if low.count == 5, let type = ResourceType(segment: seg[4]) {
                guard method == .get else { throw Self.methodNotAllowed(method) }
                return try Self.jsonRaw(await service.list(subscription: sub, group: nil, type: type).map { $0.encoded() })
            }
            throw ARMError(status: 404, code: "InvalidResourceType", message: "'\(seg[4])' is not a resource type served here; types: \(ResourceType.allCases.map(\.rawValue).joined(separator: ", ")).")
        }
        // /subscriptions/{s}/resourceGroups/{g}/providers/Microsoft.Network/{type}[/{name}[/...]]
        guard low.count >= 7, low[2] == "resourcegroups", low[4] == "providers", low[5] == "microsoft.network" else {
            throw ARMError(status: 404, code: "NotFound", message: "No API at '\(path)'; see /openapi.json.")
        }
        let group = seg[3]
        guard let type = ResourceType(segment: seg[6]) else {
            throw ARMError(status: 404, code: "InvalidResourceType", message: "'\(seg[6])' is not a resource type served here; types: \(ResourceType.allCases.map(\.rawValue).joined(separator: ", ")).")
        }
        if low.count == 7 {
            guard method == .get else { throw Self.methodNotAllowed(method) }
            return try Self.jsonRaw(await service.list(subscription: sub, group: group, type: type).map { $0.encoded() })
        }
        let id = ResourceID(subscription: sub, resourceGroup: group, type: type, name: seg[7])
        let location = (try? await service.group(subscription: sub, name: group).location) ?? "local"
        if low.count == 8 {
            switch method {
            case .put:
                let data = try await readBody()
                let result = try await service.put(id, body: data, ifMatch: ifMatch, ifNoneMatch: ifNoneMatch)
                var headers = HTTPFields()
                headers[.eTag] = result.resource.etag
                if let op = result.operation { addOperationHeaders(&headers, op: op, request: request, sub: sub, location: location) }
                return Self.json(result.created ? .created : .ok, result.resource.encoded(), headers: headers)
            case .get:
                let r = try await service.get(id)
                var headers = HTTPFields()
                headers[.eTag] = r.etag
                return Self.json(.ok, r.encoded(), headers: headers)
            case .patch:
                let data = try await readBody()
                let r = try await service.patchTags(id, body: data, ifMatch: ifMatch)
                var headers = HTTPFields()
                headers[.eTag] = r.etag
                return Self.json(.ok, r.encoded(), headers: headers)
            case .delete:
                let (existed, op) = try await service.delete(id, ifMatch: ifMatch)
                guard existed else { return Self.empty(.noContent) }
                if let op {
                    var headers = HTTPFields()
                    addOperationHeaders(&headers, op: op, request: request, sub: sub, location: location)
                    return Self.empty(.accepted, headers: headers)
                }
                return Self.empty(.ok)
            default: throw Self.methodNotAllowed(method)
            }
        }
        // Actions and child collections.
        let action = low[8]
        if type == .connections && action == "sharedkey" {
            if low.count == 10 && low[9] == "reset" {
                guard method == .post else { throw Self.methodNotAllowed(method) }
                struct Reset: Decodable { var keyLength: Int? }
                let data = try await readBody()
                let length = try decodeBody(Reset.self, data.isEmpty ? Data("{}".utf8) : data).keyLength ?? 32
                _ = try await service.resetSharedKey(id, keyLength: length)
                return Self.json(.ok, Data("{\"keyLength\":\(length)}".utf8))
            }
            guard low.count == 9 else { throw ARMError(status: 404, code: "NotFound", message: "No API at '\(path)'.") }
            switch method {
            case .get:
                let key = try await service.sharedKey(id)
                return try Self.json(.ok, JSONEncoder.arm.encode(["value": key]))
            case .put:
                struct SetKey: Decodable { var value: String }
                let value = try decodeBody(SetKey.self, try await readBody()).value
                _ = try await service.setSharedKey(id, value: value)
                return try Self.json(.ok, JSONEncoder.arm.encode(["value": value]))
            default: throw Self.methodNotAllowed(method)
            }
        }
        if low.count == 9, (type == .virtualNetworkGateways && action == "reset") || (type == .connections && action == "resetconnection") {
            guard method == .post else { throw Self.methodNotAllowed(method) }
            let op = try await service.reset(id)
            var headers = HTTPFields()
            addOperationHeaders(&headers, op: op, request: request, sub: sub, location: location)
            return Self.empty(.accepted, headers: headers)
        }
        // Point-to-site: live sessions, disconnect, and what a client needs (vpngw extension).
        if type == .virtualNetworkGateways, low.count == 9,
           ["getvpnclientconnectionhealth", "disconnectvirtualnetworkgatewayvpnconnections", "vpnclientconfiguration"].contains(action) {
            switch action {
            case "getvpnclientconnectionhealth":
                // Azure's SDK POSTs (begin_get_vpnclient_connection_health); GET is accepted too.
                guard method == .post || method == .get else { throw Self.methodNotAllowed(method) }
                return try Self.jsonList(await service.vpnClientConnectionHealth(id))
            case "disconnectvirtualnetworkgatewayvpnconnections":
                guard method == .post else { throw Self.methodNotAllowed(method) }
                struct Disconnect: Decodable { var vpnConnectionIds: [String]? }
                let data = try await readBody()
                let ids = try decodeBody(Disconnect.self, data.isEmpty ? Data("{}".utf8) : data).vpnConnectionIds ?? []
                let ended = try await service.disconnectVpnClientConnections(id, ids: ids)
                return try Self.json(.ok, JSONEncoder.arm.encode(["value": ended]))
            default:
                guard method == .post || method == .get else { throw Self.methodNotAllowed(method) }
                return try Self.json(.ok, JSONEncoder.arm.encode(await service.vpnClientProfile(id)))
            }
        }
        guard let collection = ChildCollection(parent: type, segment: seg[8]) else {
            throw ARMError(status: 404, code: "NotFound", message: "'\(seg[8])' is not a child collection or action of \(type.rawValue).")
        }
        if low.count == 9 {
            guard method == .get else { throw Self.methodNotAllowed(method) }
            return try Self.jsonRaw(await service.listChildren(id, collection))
        }
        guard low.count == 10 else { throw ARMError(status: 404, code: "NotFound", message: "No API at '\(path)'.") }
        let childName = seg[9]
        switch method {
        case .put:
            let (json, created) = try await service.putChild(id, collection, name: childName, body: try await readBody())
            return Self.json(created ? .created : .ok, json)
        case .get:
            return Self.json(.ok, try await service.getChild(id, collection, name: childName))
        case .delete:
            return try await service.deleteChild(id, collection, name: childName) ? Self.empty(.ok) : Self.empty(.noContent)
        default: throw Self.methodNotAllowed(method)
        }
    }

    // MARK: Long-running operations

    private func baseURL(_ request: Request) -> String {
        let host = request.head.authority ?? "localhost"
        return "\(scheme)://\(host)"
    }

    private func addOperationHeaders(_ headers: inout HTTPFields, op: OperationRecord, request: Request, sub: String, location: String) {
        let base = "\(baseURL(request))/subscriptions/\(sub)/providers/Microsoft.Network/locations/\(location)"
        headers[.init("Azure-AsyncOperation")!] = "\(base)/operations/\(op.id)?api-version=2024-05-01"
        headers[.location] = "\(base)/operationResults/\(op.id)?api-version=2024-05-01"
        headers[.retryAfter] = "1"
    }

    private func operationStatus(_ id: String) async throws -> Response {
        let op = try await service.operation(id)
        var body: [String: Any] = ["id": op.id, "name": op.id, "status": op.status.rawValue,
                                   "startTime": ISO8601DateFormatter().string(from: op.startTime)]
        if let end = op.endTime { body["endTime"] = ISO8601DateFormatter().string(from: end) }
        if let e = op.error { body["error"] = ["code": e.code, "message": e.message, "target": e.target ?? ""] }
        var headers = HTTPFields()
        if op.status == .InProgress { headers[.retryAfter] = "1" }
        return Self.json(.ok, try JSONSerialization.data(withJSONObject: body, options: [.sortedKeys]), headers: headers)
    }

    private func operationResult(_ id: String, request: Request, sub: String, location: String) async throws -> Response {
        let op = try await service.operation(id)
        switch op.status {
        case .InProgress:
            var headers = HTTPFields()
            headers[.location] = "\(baseURL(request))/subscriptions/\(sub)/providers/Microsoft.Network/locations/\(location)/operationResults/\(op.id)?api-version=2024-05-01"
            headers[.retryAfter] = "1"
            return Self.empty(.accepted, headers: headers)
        case .Succeeded: return Self.empty(.noContent)
        case .Failed, .Canceled:
            throw op.error ?? ARMError(status: 500, code: "OperationFailed", message: "The operation \(op.status.rawValue).")
        }
    }

    // MARK: Responses

    static func json(_ status: HTTPResponse.Status, _ data: Data, headers: HTTPFields = [:]) -> Response {
        var h = headers
        h[.contentType] = "application/json; charset=utf-8"
        return Response(status: status, headers: h, body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }

    static func jsonList<T: Encodable>(_ items: [T]) throws -> Response {
        jsonRaw(try items.map { try JSONEncoder.arm.encode($0) })
    }

    /// `{"value":[...]}` from already-encoded items.
    static func jsonRaw(_ items: [Data]) -> Response {
        var out = Data("{\"value\":[".utf8)
        for (i, d) in items.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            out.append(d)
        }
        out.append(contentsOf: Array("]}".utf8))
        return json(.ok, out)
    }

    static func empty(_ status: HTTPResponse.Status, headers: HTTPFields = [:]) -> Response {
        Response(status: status, headers: headers, body: ResponseBody())
    }

    static func error(_ e: ARMError) -> Response {
        let data = (try? JSONEncoder.arm.encode(ARMErrorBody(error: e))) ?? Data()
        var headers = HTTPFields()
        headers[.init("x-ms-error-code")!] = e.code
        if e.status == 401 { headers[.wwwAuthenticate] = "Bearer" }
        return json(HTTPResponse.Status(code: e.status), data, headers: headers)
    }

    static func methodNotAllowed(_ m: HTTPRequest.Method) -> ARMError {
        ARMError(status: 405, code: "MethodNotAllowed", message: "\(m.rawValue) is not allowed here.")
    }
}
