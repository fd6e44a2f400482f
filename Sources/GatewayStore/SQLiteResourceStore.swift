import Foundation
import GatewayModel
import GRDB

/// Desired state in SQLite through GRDB: WAL journal, one transaction per change, schema
/// migrations from the first version on. With WAL and `synchronous=NORMAL` a committed
/// transaction survives the process being killed (only an OS crash may lose the last commits);
/// `durability: .full` fsyncs every commit for power-loss safety.
public final class SQLiteResourceStore: ResourceStore, Sendable {
    public enum Durability: Sendable { case normal, full }
    private let db: DatabasePool
    public let path: String

    public init(path: String, durability: Durability = .normal) throws {
        self.path = path
        var config = Configuration()
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = \(durability == .full ? "FULL" : "NORMAL")")
        }
        config.busyMode = .timeout(5)
        do {
            db = try DatabasePool(path: path, configuration: config)
            try Self.migrator.migrate(db)
        } catch {
            throw StoreError("cannot open the state database at \(path): \(error)")
        }
    }

    static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("v1: groups, resources, operations") { db in
            try db.create(table: "resource_group") { t in
                t.column("subscription", .text).notNull()
                t.column("name", .text).notNull()
                t.column("doc", .blob).notNull()
                t.primaryKey(["subscription", "name"])
            }
            try db.create(table: "resource") { t in
                t.column("subscription", .text).notNull()
                t.column("resource_group", .text).notNull()
                t.column("type", .text).notNull()
                t.column("name", .text).notNull()
                t.column("doc", .blob).notNull()
                t.column("updated_at", .double).notNull()
                t.primaryKey(["subscription", "resource_group", "type", "name"])
            }
            try db.create(table: "operation") { t in
                t.column("id", .text).primaryKey()
                t.column("doc", .blob).notNull()
            }
        }
        return m
    }

    public func loadWorld() throws -> World {
        do {
            return try db.read { db in
                var world = World()
                for row in try Row.fetchAll(db, sql: "SELECT subscription, name, doc FROM resource_group") {
                    let data: Data = row["doc"]
                    let g = try JSONDecoder().decode(ResourceGroup.self, from: data)
                    world.groups[GroupKey(subscription: row["subscription"], name: row["name"])] = g
                }
                for row in try Row.fetchAll(db, sql: "SELECT subscription, resource_group, type, name, doc FROM resource") {
                    let typeName: String = row["type"]
                    guard let type = ResourceType(rawValue: typeName) else { throw StoreError("unknown resource type '\(typeName)' in the database") }
                    let data: Data = row["doc"]
                    let resource = try AnyResource.decode(type, from: data)
                    let key = ResourceKey(subscription: row["subscription"], resourceGroup: row["resource_group"], type: type, name: row["name"])
                    world.resources[key] = resource
                }
                return world
            }
        } catch let e as StoreError { throw e } catch {
            throw StoreError("cannot read the state database at \(path): \(error)")
        }
    }

    public func commit(_ changes: [StoreChange]) throws {
        let now = Date().timeIntervalSince1970
        do {
            try db.write { db in
                for change in changes {
                    switch change {
                    case .putGroup(let k, let g):
                        try db.execute(sql: "INSERT OR REPLACE INTO resource_group (subscription, name, doc) VALUES (?, ?, ?)",
                                       arguments: [k.subscription, k.name, try JSONEncoder.arm.encode(g)])
                    case .deleteGroup(let k):
                        try db.execute(sql: "DELETE FROM resource_group WHERE subscription = ? AND name = ?", arguments: [k.subscription, k.name])
                    case .put(let k, let r):
                        try db.execute(sql: "INSERT OR REPLACE INTO resource (subscription, resource_group, type, name, doc, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
                                       arguments: [k.subscription, k.resourceGroup, k.type.rawValue, k.name, r.encoded(), now])
                    case .delete(let k):
                        try db.execute(sql: "DELETE FROM resource WHERE subscription = ? AND resource_group = ? AND type = ? AND name = ?",
                                       arguments: [k.subscription, k.resourceGroup, k.type.rawValue, k.name])
                    case .putOperation(let op):
                        try db.execute(sql: "INSERT OR REPLACE INTO operation (id, doc) VALUES (?, ?)", arguments: [op.id, try JSONEncoder.arm.encode(op)])
                    }
                }
            }
        } catch {
            throw StoreError("cannot write the state database at \(path): \(error)")
        }
    }

    public func operation(_ id: String) throws -> OperationRecord? {
        do {
            return try db.read { db in
                guard let data = try Data.fetchOne(db, sql: "SELECT doc FROM operation WHERE id = ?", arguments: [id]) else { return nil }
                return try JSONDecoder().decode(OperationRecord.self, from: data)
            }
        } catch {
            throw StoreError("cannot read operation \(id): \(error)")
        }
    }
}
