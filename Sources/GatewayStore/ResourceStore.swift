import Foundation
import GatewayModel

/// One change to desired state; a `commit` applies a list of them in one transaction.
public enum StoreChange: Sendable {
    case putGroup(GroupKey, ResourceGroup)
    case deleteGroup(GroupKey)
    case put(ResourceKey, AnyResource)
    case delete(ResourceKey)
    case putOperation(OperationRecord)
}

/// A long-running operation as ARM's `Azure-AsyncOperation` URL reports it.
public struct OperationRecord: Codable, Sendable, Equatable {
    public enum Status: String, Codable, Sendable { case InProgress, Succeeded, Failed, Canceled }
    public var id: String
    public var resourceID: String
    public var status: Status
    public var startTime: Date
    public var endTime: Date?
    public var error: ARMError?
    public init(id: String, resourceID: String, status: Status, startTime: Date, endTime: Date? = nil, error: ARMError? = nil) {
        self.id = id; self.resourceID = resourceID; self.status = status; self.startTime = startTime; self.endTime = endTime; self.error = error
    }
}

/// Durable desired state. Implementations: SQLite (GRDB) for one node; PostgreSQL for a cluster
/// sharing one control plane (same protocol). `commit` is atomic and durable when it returns:
/// an acknowledged write survives the process being killed at any moment.
public protocol ResourceStore: Sendable {
    func loadWorld() throws -> World
    func commit(_ changes: [StoreChange]) throws
    func operation(_ id: String) throws -> OperationRecord?
}

/// Errors from the store, never shown raw to API users (the API maps them to 500 with a request id).
public struct StoreError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// For tests: keeps everything in memory.
public final class InMemoryResourceStore: ResourceStore, @unchecked Sendable {
    private let lock = NSLock()
    private var world = World()
    private var operations: [String: OperationRecord] = [:]
    public init() {}
    public func loadWorld() throws -> World { lock.withLock { world } }
    public func commit(_ changes: [StoreChange]) throws {
        lock.withLock {
            for change in changes {
                switch change {
                case .putGroup(let k, let g): world.groups[k] = g
                case .deleteGroup(let k): world.groups[k] = nil
                case .put(let k, let r): world.resources[k] = r
                case .delete(let k): world.resources[k] = nil
                case .putOperation(let op): operations[op.id] = op
                }
            }
        }
    }
    public func operation(_ id: String) throws -> OperationRecord? { lock.withLock { operations[id] } }
}
