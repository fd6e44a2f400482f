import Foundation
import GatewayModel
import GatewayStore
import Logging

/// Brings a resource's running state in line with its desired state. The reconciler (data plane)
/// implements it; without one, provisioning completes at once.
public protocol Provisioner: Sendable {
    func provision(_ resource: AnyResource) async throws(ARMError)
    func deprovision(_ resource: AnyResource) async throws(ARMError)
    func reset(_ resource: AnyResource) async throws(ARMError)
    func observed(_ key: ResourceKey) -> ObservedConnection?
    // Point-to-site (defaults in PointToSite.swift: no data plane, no sessions).
    /// Live sessions of a gateway; nil when the gateway runs no point-to-site server here.
    func vpnClientSessions(_ gateway: ResourceKey) -> [VpnClientConnectionHealthDetail]?
    /// Ends the given sessions; returns the ids that were found and ended.
    func disconnectVpnClients(_ gateway: ResourceKey, ids: [String]) async -> [String]
    /// The server certificate (PEM) of a gateway's point-to-site server, its port, and why it is not running (if so).
    func vpnClientServer(_ gateway: ResourceKey) -> VpnClientServerState
}

/// A provisioner with nothing to run: every operation succeeds immediately.
public struct ImmediateProvisioner: Provisioner {
    public init() {}
    public func provision(_ resource: AnyResource) async throws(ARMError) {}
    public func deprovision(_ resource: AnyResource) async throws(ARMError) {}
    public func reset(_ resource: AnyResource) async throws(ARMError) {}
    public func observed(_ key: ResourceKey) -> ObservedConnection? { nil }
}

/// The result of a write: the resource as the client should see it, whether it was created, and
/// the long-running operation that finishes it (if any).
public struct WriteResult: Sendable {
    public var resource: AnyResource
    public var created: Bool
    public var operation: OperationRecord?
}

/// Desired state: the single writer that admits changes against the current world, commits them
/// durably in one transaction, then updates the in-memory world that serves reads.
public actor ResourceService {
    private var world: World
    private let store: any ResourceStore
    private let admission: Admission
    private let provisioner: any Provisioner
    private let logger: Logger
    /// Bodies larger than this are refused before parsing.
    public static let maxBodyBytes = 4 * 1024 * 1024
    public static let maxResourcesPerGroup = 20_000

    public init(store: any ResourceStore, admission: Admission = Admission(), provisioner: any Provisioner = ImmediateProvisioner(),
                logger: Logger = Logger(label: "vpngw.resources")) throws {
        self.store = store
        self.admission = admission
        self.provisioner = provisioner
        self.logger = logger
        self.world = try store.loadWorld()
        for key in world.resources.keys { groupCounts[GroupKey(subscription: key.subscription, name: key.resourceGroup), default: 0] += 1 }
    }

    /// Resources per group, kept in step with `world` so the quota check is O(1).
    private var groupCounts: [GroupKey: Int] = [:]

    private func setResource(_ key: ResourceKey, _ resource: AnyResource?) {
        let group = GroupKey(subscription: key.subscription, name: key.resourceGroup)
        switch (world.resources[key] != nil, resource != nil) {
        case (false, true): groupCounts[group, default: 0] += 1
        case (true, false): groupCounts[group, default: 1] -= 1
        default: break
        }
        world.resources[key] = resource
    }

    /// Resumes operations that were in flight when the process stopped: every resource left in
    /// Updating or Deleting is provisioned or deleted again.
    public func resumeInterruptedOperations() {
        for (key, resource) in world.resources {
            switch resource.provisioningState {
            case .Updating?: startProvisioning(key: key, operation: nil)
            case .Deleting?: startDeleting(key: key, operation: nil)
            default: break
            }
        }
    }

    public var snapshot: World { world }

    /// The provisioner, for point-to-site queries (PointToSite.swift).
    var pointToSite: any Provisioner { provisioner }

    private var view: ResourceView {
        let p = provisioner
        return ResourceView(observed: { p.observed($0) })
    }

    private func newEtag() -> String { "W/\"\(UUID().uuidString.lowercased())\"" }

    // MARK: Resource groups

    public func putGroup(subscription: String, name: String, body: Data) throws(ARMError) -> (ResourceGroup, created: Bool) {
        let key = GroupKey(subscription: subscription, name: name)
        let group = try admission.putGroup(subscription: subscription, name: name, body: body, world: world)
        try commit([.putGroup(key, group)])
        let created = world.groups[key] == nil
        world.groups[key] = group
        return (group, created)
    }

    public func group(subscription: String, name: String) throws(ARMError) -> ResourceGroup {
        guard let g = world.groups[GroupKey(subscription: subscription, name: name)] else {
            throw ARMError(status: 404, code: "ResourceGroupNotFound", message: "Resource group '\(name)' could not be found.", target: name)
        }
        return g
    }

    public func groups(subscription: String) -> [ResourceGroup] {
        let sub = subscription.lowercased()
        return world.groups.filter { $0.key.subscription == sub }.sorted { $0.key < $1.key }.map(\.value)
    }

    /// Deletes the group and everything in it, dependants first, in one transaction.
    public func deleteGroup(subscription: String, name: String) throws(ARMError) -> Bool {
        let key = GroupKey(subscription: subscription, name: name)
        guard world.groups[key] != nil else { return false }
        let plan = try admission.planGroupDelete(key, world: world)
        let removed = plan.compactMap { world.resources[$0] }
        try commit(plan.map { .delete($0) } + [.deleteGroup(key)])
        for k in plan { setResource(k, nil) }
        world.groups[key] = nil
        let p = provisioner
        Task { for r in removed { try? await p.deprovision(r) } }
        return true
    }

    // MARK: Top-level resources

    public func put(_ id: ResourceID, body: Data, ifMatch: String? = nil, ifNoneMatch: String? = nil) throws(ARMError) -> WriteResult {
        let existing = world[id.key]
        try checkPreconditions(existing: existing, ifMatch: ifMatch, ifNoneMatch: ifNoneMatch)
        if existing == nil {
            let count = groupCounts[GroupKey(subscription: id.subscription, name: id.resourceGroup)] ?? 0
            if count >= Self.maxResourcesPerGroup {
                throw ARMError.conflict("ResourceQuotaExceeded", "resourceGroup", "Resource group '\(id.resourceGroup)' already holds \(count) resources, the most one group may hold (\(Self.maxResourcesPerGroup)).")
            }
        }
        if case .connection(let c)? = existing, c.properties.provisioningState == .Deleting {
            throw ARMError.conflict("AnotherOperationInProgress", id.description, "The \(id.type.noun) is being deleted.")
        }
        var admitted = try admission.put(id, body: body, world: world).withEtag(newEtag())
        let disconnected = peeringsDisconnected(by: existing, becoming: admitted)
        var operation: OperationRecord?
        if admitted.isLongRunning {
            admitted = admitted.withProvisioningState(.Updating)
            operation = OperationRecord(id: UUID().uuidString.lowercased(), resourceID: admitted.id, status: .InProgress, startTime: Date())
        }
        try commit([.put(id.key, admitted)] + disconnected.map { .put($0.0, $0.1) } + (operation.map { [.putOperation($0)] } ?? []))
        setResource(id.key, admitted)
        for (k, r) in disconnected { setResource(k, r) }
        if let operation { startProvisioning(key: id.key, operation: operation) }
        return WriteResult(resource: view.view(admitted, world: world), created: existing == nil, operation: operation)
    }

    /// When one side of a peering is removed, the other side's peering shows Disconnected (as in
    /// Azure). Unlike Azure, re-creating the removed side reconnects it without re-creating the
    /// other one. Returns the remote VNets whose stored peering state changes.
    private func peeringsDisconnected(by old: AnyResource?, becoming new: AnyResource) -> [(ResourceKey, AnyResource)] {
        guard case .virtualNetwork(let after) = new, let myKey = ResourceID(parsing: after.id ?? "")?.key else { return [] }
        var before: VirtualNetwork?
        if case .virtualNetwork(let b)? = old { before = b }
        func remotes(_ v: VirtualNetwork?) -> Set<ResourceKey> {
            Set((v?.properties.virtualNetworkPeerings ?? []).compactMap { $0.properties.remoteVirtualNetwork.flatMap { ResourceID(parsing: $0.id)?.key } })
        }
        let had = remotes(before), has = remotes(after)
        var out: [(ResourceKey, AnyResource)] = []
        for (keys, state) in [(had.subtracting(has), PeeringState.Disconnected), (has.subtracting(had), nil)] {
            for remoteKey in keys {
                guard case .virtualNetwork(var remote)? = world[remoteKey] else { continue }
                var changed = false
                for i in (remote.properties.virtualNetworkPeerings ?? []).indices
                where remote.properties.virtualNetworkPeerings![i].properties.remoteVirtualNetwork.flatMap({ ResourceID(parsing: $0.id)?.key }) == myKey
                    && remote.properties.virtualNetworkPeerings![i].properties.peeringState != state {
                    remote.properties.virtualNetworkPeerings![i].properties.peeringState = state
                    changed = true
                }
                if changed { out.append((remoteKey, AnyResource.virtualNetwork(remote).withEtag(newEtag()))) }
            }
        }
        return out
    }

    public func get(_ id: ResourceID) throws(ARMError) -> AnyResource {
        guard let r = world[id.key] else { throw ARMError.notFound(id.type.noun, id.description) }
        return view.view(r, world: world)
    }

    /// Lists resources of a type in a subscription, optionally in one group, sorted by name.
    public func list(subscription: String, group: String?, type: ResourceType) throws(ARMError) -> [AnyResource] {
        let sub = subscription.lowercased(), g = group?.lowercased()
        if let group, world.groups[GroupKey(subscription: subscription, name: group)] == nil {
            throw ARMError(status: 404, code: "ResourceGroupNotFound", message: "Resource group '\(group)' could not be found.", target: group)
        }
        let v = view
        return world.resources
            .filter { $0.key.type == type && $0.key.subscription == sub && (g == nil || $0.key.resourceGroup == g) }
            .sorted { $0.key < $1.key }
            .map { v.view($0.value, world: world) }
    }

    /// Deletes a resource. Long-running types go to Deleting and finish in the background.
    public func delete(_ id: ResourceID, ifMatch: String? = nil) throws(ARMError) -> (existed: Bool, operation: OperationRecord?) {
        guard let existing = world[id.key] else { return (false, nil) }
        try checkPreconditions(existing: existing, ifMatch: ifMatch, ifNoneMatch: nil)
        try admission.checkDelete(id, world: world)
        if existing.isLongRunning {
            if existing.provisioningState == .Deleting {
                return (true, nil)
            }
            let deleting = existing.withProvisioningState(.Deleting)
            let op = OperationRecord(id: UUID().uuidString.lowercased(), resourceID: existing.id, status: .InProgress, startTime: Date())
            try commit([.put(id.key, deleting), .putOperation(op)])
            setResource(id.key, deleting)
            startDeleting(key: id.key, operation: op)
            return (true, op)
        }
        try commit([.delete(id.key)])
        setResource(id.key, nil)
        return (true, nil)
    }

    /// PATCH: only `tags` is updatable this way (as in ARM's TagsObject).
    public func patchTags(_ id: ResourceID, body: Data, ifMatch: String?) throws(ARMError) -> AnyResource {
        guard let existing = world[id.key] else { throw ARMError.notFound(id.type.noun, id.description) }
        try checkPreconditions(existing: existing, ifMatch: ifMatch, ifNoneMatch: nil)
        struct Tags: Decodable { var tags: [String: String]? }
        let tags = try decodeBody(Tags.self, body)
        let updated = existing.withTags(tags.tags ?? [:]).withEtag(newEtag())
        try commit([.put(id.key, updated)])
        setResource(id.key, updated)
        return view.view(updated, world: world)
    }

    private func checkPreconditions(existing: AnyResource?, ifMatch: String?, ifNoneMatch: String?) throws(ARMError) {
        if let ifMatch {
            guard let existing else {
                throw ARMError(status: 412, code: "PreconditionFailed", message: "If-Match was given but the resource does not exist.", target: "If-Match")
            }
            if ifMatch != "*" && ifMatch != existing.etag {
                throw ARMError(status: 412, code: "PreconditionFailed", message: "If-Match \(ifMatch) does not match the current etag \(existing.etag ?? "")): the resource changed since you read it.", target: "If-Match")
            }
        }
        if ifNoneMatch == "*", existing != nil {
            throw ARMError(status: 412, code: "PreconditionFailed", message: "If-None-Match: * was given but the resource already exists.", target: "If-None-Match")
        }
    }

    // MARK: Child resources (subnets, peerings): edits of the parent document

    public func putChild(_ parent: ResourceID, _ collection: ChildCollection, name: String, body: Data) throws(ARMError) -> (json: Data, created: Bool) {
        try ResourceName.validate(name, field: "name")
        guard let existing = world[parent.key] else { throw ARMError.notFound(parent.type.noun, parent.description) }
        var doc = try jsonObject(existing.encoded())
        var child = try jsonObject(body.isEmpty ? Data("{}".utf8) : body)
        child["name"] = name
        var props = doc["properties"] as? [String: Any] ?? [:]
        var items = props[collection.rawValue] as? [[String: Any]] ?? []
        let index = items.firstIndex { ($0["name"] as? String)?.lowercased() == name.lowercased() }
        if let index { child["name"] = items[index]["name"]; items[index] = child } else { items.append(child) }
        props[collection.rawValue] = items
        doc["properties"] = props
        let result = try put(parent, body: try jsonData(doc))
        let json = try childJSON(result.resource, collection, name: name)
        return (json, index == nil)
    }

    public func getChild(_ parent: ResourceID, _ collection: ChildCollection, name: String) throws(ARMError) -> Data {
        try childJSON(try get(parent), collection, name: name)
    }

    public func listChildren(_ parent: ResourceID, _ collection: ChildCollection) throws(ARMError) -> [Data] {
        let doc = try jsonObject(try get(parent).encoded())
        let items = (doc["properties"] as? [String: Any])?[collection.rawValue] as? [[String: Any]] ?? []
        return try items.map { item throws(ARMError) in try jsonData(item) }
    }

    public func deleteChild(_ parent: ResourceID, _ collection: ChildCollection, name: String) throws(ARMError) -> Bool {
        guard let existing = world[parent.key] else { return false }
        var doc = try jsonObject(existing.encoded())
        var props = doc["properties"] as? [String: Any] ?? [:]
        var items = props[collection.rawValue] as? [[String: Any]] ?? []
        guard let index = items.firstIndex(where: { ($0["name"] as? String)?.lowercased() == name.lowercased() }) else { return false }
        items.remove(at: index)
        props[collection.rawValue] = items
        doc["properties"] = props
        do {
            _ = try put(parent, body: try jsonData(doc))
        } catch {
            // A refusal of the edited parent (e.g. the subnet holds a gateway) is a refusal of the delete.
            throw ARMError(status: error.status == 400 ? 409 : error.status, code: error.code, message: error.message, target: error.target)
        }
        return true
    }

    private func childJSON(_ parent: AnyResource, _ collection: ChildCollection, name: String) throws(ARMError) -> Data {
        let doc = try jsonObject(parent.encoded())
        let items = (doc["properties"] as? [String: Any])?[collection.rawValue] as? [[String: Any]] ?? []
        guard let item = items.first(where: { ($0["name"] as? String)?.lowercased() == name.lowercased() }) else {
            throw ARMError.notFound(collection.noun, "\(parent.id)/\(collection.rawValue)/\(name)")
        }
        return try jsonData(item)
    }

    private func jsonObject(_ data: Data) throws(ARMError) -> [String: Any] {
        guard let obj = try? JSONSerialization.jsonObject(with: data), let dict = obj as? [String: Any] else {
            throw ARMError(status: 400, code: "InvalidRequestContent", message: "The request body must be a JSON object.")
        }
        return dict
    }
    private func jsonData(_ obj: Any) throws(ARMError) -> Data {
        guard let d = try? JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys, .withoutEscapingSlashes]) else {
            throw ARMError(status: 500, code: "InternalServerError", message: "could not encode JSON")
        }
        return d
    }

    // MARK: Actions

    public func sharedKey(_ id: ResourceID) throws(ARMError) -> String {
        guard case .connection(let c)? = world[id.key] else { throw ARMError.notFound("connection", id.description) }
        guard let key = c.properties.sharedKey else {
            throw ARMError.rule("NoSharedKey", "sharedKey", "Connection '\(c.name ?? "")' is \(c.properties.connectionType?.rawValue ?? "") and has no shared key.")
        }
        return key
    }

    public func setSharedKey(_ id: ResourceID, value: String) throws(ARMError) -> String {
        guard case .connection(var c)? = world[id.key] else { throw ARMError.notFound("connection", id.description) }
        guard c.properties.connectionType == .IPsec || c.properties.connectionType == .Vnet2Vnet else {
            throw ARMError.rule("SharedKeyNotAllowed", "value", "Only IPsec and Vnet2Vnet connections have a shared key.")
        }
        try SharedKeyRule.validate(value, field: "value")
        c.properties.sharedKey = value
        let body = AnyResource.connection(c).encoded()
        _ = try put(id, body: body)
        return value
    }

    public func resetSharedKey(_ id: ResourceID, keyLength: Int) throws(ARMError) -> String {
        guard (1...128).contains(keyLength) else {
            throw ARMError.invalid("keyLength", "\(keyLength) is outside 1–128")
        }
        var key = ""
        while key.count < keyLength { key += AdmissionContext.randomKey() }
        return try setSharedKey(id, value: String(key.prefix(keyLength)))
    }

    /// Gateway or connection reset: re-applies the running state without changing desired state.
    public func reset(_ id: ResourceID) throws(ARMError) -> OperationRecord {
        guard let r = world[id.key] else { throw ARMError.notFound(id.type.noun, id.description) }
        let op = OperationRecord(id: UUID().uuidString.lowercased(), resourceID: r.id, status: .InProgress, startTime: Date())
        try commit([.putOperation(op)])
        let p = provisioner
        Task {
            var done = op
            do { try await p.reset(r); done.status = .Succeeded } catch { done.status = .Failed; done.error = error as? ARMError ?? ARMError(status: 500, code: "InternalServerError", message: "\(error)") }
            done.endTime = Date()
            await self.finish(done)
        }
        return op
    }

    public func operation(_ id: String) throws(ARMError) -> OperationRecord {
        let op: OperationRecord?
        do { op = try store.operation(id) } catch { throw ARMError(status: 500, code: "InternalServerError", message: "\(error)") }
        guard let op else { throw ARMError.notFound("operation", id) }
        return op
    }

    // MARK: Long-running operations

    private func startProvisioning(key: ResourceKey, operation: OperationRecord?) {
        guard let resource = world[key] else { return }
        let p = provisioner
        Task {
            var outcome: ARMError?
            do { try await p.provision(resource) } catch { outcome = error as? ARMError ?? ARMError(status: 500, code: "InternalServerError", message: "\(error)") }
            await self.finishProvisioning(key: key, etag: resource.etag, error: outcome, operation: operation)
        }
    }

    private func finishProvisioning(key: ResourceKey, etag: String?, error: ARMError?, operation: OperationRecord?) {
        var changes: [StoreChange] = []
        // A newer PUT may have replaced the resource meanwhile; its own operation finishes it.
        if let current = world[key], current.etag == etag, current.provisioningState == .Updating {
            let done = current.withProvisioningState(error == nil ? .Succeeded : .Failed)
            changes.append(.put(key, done))
        }
        if var op = operation {
            op.status = error == nil ? .Succeeded : .Failed
            op.error = error
            op.endTime = Date()
            changes.append(.putOperation(op))
        }
        do {
            try store.commit(changes)
            for case .put(let k, let r) in changes { setResource(k, r) }
        } catch {
            logger.error("could not record the end of provisioning of \(key.name): \(error)")
        }
        if let error { logger.warning("provisioning \(key.type.rawValue)/\(key.name) failed: \(error.message)") }
    }

    private func startDeleting(key: ResourceKey, operation: OperationRecord?) {
        guard let resource = world[key] else { return }
        let p = provisioner
        Task {
            var outcome: ARMError?
            do { try await p.deprovision(resource) } catch { outcome = error as? ARMError ?? ARMError(status: 500, code: "InternalServerError", message: "\(error)") }
            await self.finishDeleting(key: key, error: outcome, operation: operation)
        }
    }

    private func finishDeleting(key: ResourceKey, error: ARMError?, operation: OperationRecord?) {
        var changes: [StoreChange] = []
        if error == nil { changes.append(.delete(key)) } else if let r = world[key] { changes.append(.put(key, r.withProvisioningState(.Failed))) }
        if var op = operation {
            op.status = error == nil ? .Succeeded : .Failed
            op.error = error
            op.endTime = Date()
            changes.append(.putOperation(op))
        }
        do {
            try store.commit(changes)
            if error == nil { setResource(key, nil) } else if case .put(let k, let r) = changes[0] { setResource(k, r) }
        } catch {
            logger.error("could not record the deletion of \(key.name): \(error)")
        }
    }

    private func finish(_ op: OperationRecord) {
        do { try store.commit([.putOperation(op)]) } catch { logger.error("could not record operation \(op.id): \(error)") }
    }

    private func commit(_ changes: [StoreChange]) throws(ARMError) {
        do { try store.commit(changes) } catch {
            logger.error("store commit failed: \(error)")
            throw ARMError(status: 500, code: "InternalServerError", message: "The change could not be stored: \(error)")
        }
    }
}
