import Foundation

/// What the control plane asks one gateway agent (`vpngw gateway-agent`) to run: the gateway's
/// data plane on its public address and one IKE tunnel per connection. Written as JSON by the
/// reconciler; the agent re-reads it when it changes and touches only the tunnels that changed.
public struct AgentConfig: Codable, Sendable, Equatable {
    public var gateway: String
    public var localAddress: String
    public var tunName: String
    public var tunnels: [AgentTunnel]
    /// Lab mode: the network namespace the agent runs in.
    public var namespace: String?
    public init(gateway: String, localAddress: String, tunName: String, tunnels: [AgentTunnel], namespace: String? = nil) {
        self.gateway = gateway; self.localAddress = localAddress; self.tunName = tunName; self.tunnels = tunnels; self.namespace = namespace
    }
}

public struct AgentTunnel: Codable, Sendable, Equatable {
    public var id: Int
    /// The connection's resource id.
    public var connection: String
    public var peerAddress: String
    public var psk: String
    public var remotePrefixes: [String]
    /// both, initiate, respond.
    public var mode: String
    /// strongSwan-style names; nil: vpngw's default set.
    public var ikeProposals: [String]?
    public var espProposals: [String]?
    public var dpdTimeoutSeconds: Int
    public var childRekeySeconds: Int?
    /// Bumped by a connection reset so the agent renegotiates this tunnel only.
    public var generation: Int
    public init(id: Int, connection: String, peerAddress: String, psk: String, remotePrefixes: [String], mode: String,
                ikeProposals: [String]?, espProposals: [String]?, dpdTimeoutSeconds: Int, childRekeySeconds: Int?, generation: Int = 0) {
        self.id = id; self.connection = connection; self.peerAddress = peerAddress; self.psk = psk
        self.remotePrefixes = remotePrefixes; self.mode = mode; self.ikeProposals = ikeProposals; self.espProposals = espProposals
        self.dpdTimeoutSeconds = dpdTimeoutSeconds; self.childRekeySeconds = childRekeySeconds; self.generation = generation
    }
}

/// What an agent reports back (rewritten atomically about once a second).
public struct AgentStatus: Codable, Sendable, Equatable {
    public var pid: Int32
    public var updatedAt: Date
    /// Set when the agent could not start its data plane (e.g. the address is not on this host).
    public var error: String?
    public var tunnels: [String: AgentTunnelStatus]
    public init(pid: Int32, updatedAt: Date, error: String? = nil, tunnels: [String: AgentTunnelStatus] = [:]) {
        self.pid = pid; self.updatedAt = updatedAt; self.error = error; self.tunnels = tunnels
    }
}

public struct AgentTunnelStatus: Codable, Sendable, Equatable {
    /// Connecting, Connected, NotConnected.
    public var state: String
    public var reason: String?
    public var establishedAt: Date?
    public var ikeSuite: String?
    public var childSuite: String?
    public var bytesIn: UInt64
    public var bytesOut: UInt64
    public var log: [String]
    public init(state: String, reason: String?, establishedAt: Date?, ikeSuite: String?, childSuite: String?, bytesIn: UInt64, bytesOut: UInt64, log: [String]) {
        self.state = state; self.reason = reason; self.establishedAt = establishedAt; self.ikeSuite = ikeSuite
        self.childSuite = childSuite; self.bytesIn = bytesIn; self.bytesOut = bytesOut; self.log = log
    }
}

extension JSONEncoder {
    static var agent: JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        e.dateEncodingStrategy = .iso8601
        return e
    }
}
extension JSONDecoder {
    static var agent: JSONDecoder {
        let d = JSONDecoder()
        d.dateDecodingStrategy = .iso8601
        return d
    }
}

public enum AgentFiles {
    public static func write<T: Encodable>(_ value: T, to url: URL) throws {
        try JSONEncoder.agent.encode(value).write(to: url, options: .atomic)
    }
    public static func read<T: Decodable>(_ type: T.Type, from url: URL) -> T? {
        guard let data = try? Data(contentsOf: url) else { return nil }
        return try? JSONDecoder.agent.decode(T.self, from: data)
    }
}
