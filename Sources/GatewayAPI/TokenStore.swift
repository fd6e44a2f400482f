import Crypto
import Foundation

/// Bearer tokens in `tokens.json` (mode 0600) in the data directory. The first start makes an
/// admin token for every subscription; scoped tokens allow one subscription only.
public final class TokenStore: @unchecked Sendable {
    public struct Token: Codable, Sendable, Equatable {
        public var name: String
        public var token: String
        /// `*` for every subscription, or one subscription id.
        public var subscription: String
    }
    private let url: URL
    private let lock = NSLock()
    private var cached: [Token] = []
    private var cachedModified: Date?

    public init(directory: URL) throws {
        url = directory.appendingPathComponent("tokens.json")
        if !FileManager.default.fileExists(atPath: url.path) {
            try write([Token(name: "admin", token: Self.newToken(), subscription: "*")])
        }
        _ = tokens()
    }

    public static func newToken() -> String {
        var rng = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &rng) }
        return "vpngw_" + bytes.map { String(format: "%02x", $0) }.joined()
    }

    /// Re-reads the file when it changed, so `vpngw token create` takes effect without a restart.
    public func tokens() -> [Token] {
        lock.withLock {
            let modified = (try? FileManager.default.attributesOfItem(atPath: url.path))?[.modificationDate] as? Date
            if modified != cachedModified || cached.isEmpty,
               let data = try? Data(contentsOf: url), let list = try? JSONDecoder().decode([Token].self, from: data) {
                cached = list
                cachedModified = modified
            }
            return cached
        }
    }

    public var adminToken: String? { tokens().first { $0.subscription == "*" }?.token }

    public func add(name: String, subscription: String) throws -> Token {
        let t = Token(name: name, token: Self.newToken(), subscription: subscription)
        try write(tokens() + [t])
        return t
    }

    /// Constant-time comparison against every known token.
    public func lookup(_ presented: String) -> Token? {
        let p = Array(SHA256.hash(data: Data(presented.utf8)))
        var found: Token?
        for t in tokens() {
            let h = Array(SHA256.hash(data: Data(t.token.utf8)))
            var diff: UInt8 = 0
            for i in 0..<h.count { diff |= h[i] ^ p[i] }
            if diff == 0 { found = t }
        }
        return found
    }

    private func write(_ list: [Token]) throws {
        let data = try JSONEncoder().encode(list)
        try data.write(to: url, options: .atomic)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: url.path)
    }
}
