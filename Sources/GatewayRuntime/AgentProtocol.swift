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
    /// The SKU's aggregate throughput, shared by all tunnels (per direction); nil: uncapped.
    public var bandwidthMbps: Int?
    /// Point-to-site (SSTP) server, when the gateway's vpnClientConfiguration lists SSTP.
    public var p2s: AgentP2S?
    public init(gateway: String, localAddress: String, tunName: String, tunnels: [AgentTunnel], namespace: String? = nil, p2s: AgentP2S? = nil) {
        self.gateway = gateway; self.localAddress = localAddress; self.tunName = tunName; self.tunnels = tunnels; self.namespace = namespace
        self.p2s = p2s
    }
}

/// The SSTP server of a gateway (issue 5), from `properties.vpnClientConfiguration`.
/// Users and revoked thumbprints apply to the running server; a change of address, port, pool,
/// certificate or TUN restarts it.
public struct AgentP2S: Codable, Sendable, Equatable {
    /// TCP port on the gateway's public address (Azure: 443).
    public var port: Int
    /// vpnClientAddressPool (IPv4; the first prefix is used).
    public var pool: String
    /// The P2S TUN device (the pool is routed through it).
    public var tunName: String
    /// Password (MS-CHAPv2) users: name → password; empty unless Password authentication is on.
    public var users: [AgentP2SUser]
    /// Certificate authentication: trusted roots (base64 DER) and revoked client thumbprints (SHA-1 hex).
    public var rootCertificates: [String]
    public var revokedThumbprints: [String]
    public var authenticationTypes: [String]
    /// The SKU's SSTP limit (GatewaySKU.maxSSTPClients).
    public var maxSessions: Int
    /// The server certificate (generated once per gateway by the agent if missing; CN = certificateCN).
    public var certificatePath: String
    public var keyPath: String
    public var certificateCN: String
    /// What clients may reach besides the pool: the VNet, peered VNets that use this gateway
    /// (useRemoteGateways / allowGatewayTransit) and the gateway's sites; nil: no filter.
    public var reachablePrefixes: [String]?
    /// TUN offloads on the P2S TUN (TSO super-packets, coalesced writes); nil: on.
    public var tunOffloads: Bool?
    public init(port: Int = 443, pool: String, tunName: String, users: [AgentP2SUser], rootCertificates: [String], revokedThumbprints: [String],
                authenticationTypes: [String], maxSessions: Int, certificatePath: String, keyPath: String, certificateCN: String) {
        self.port = port; self.pool = pool; self.tunName = tunName; self.users = users; self.rootCertificates = rootCertificates
        self.revokedThumbprints = revokedThumbprints; self.authenticationTypes = authenticationTypes; self.maxSessions = maxSessions
        self.certificatePath = certificatePath; self.keyPath = keyPath; self.certificateCN = certificateCN
    }
}

public struct AgentP2SUser: Codable, Sendable, Equatable {
    public var name: String
    public var password: String
    public init(name: String, password: String) { self.name = name; self.password = password }
}

/// One live point-to-site session as the agent reports it.
public struct AgentP2SSession: Codable, Sendable, Equatable {
    /// vpnConnectionId: stable for the session's life.
    public var id: String
    public var user: String?
    public var address: String
    /// The client's public address and port.
    public var peer: String
    public var connected: Bool
    public var bytesIn: UInt64
    public var bytesOut: UInt64
    /// Packets of this session dropped by the data path (bandwidth cap, not reachable, …).
    public var packetsDropped: UInt64?
    public var since: Date
    public init(id: String, user: String?, address: String, peer: String, connected: Bool, bytesIn: UInt64, bytesOut: UInt64,
                packetsDropped: UInt64? = nil, since: Date) {
        self.id = id; self.user = user; self.address = address; self.peer = peer; self.connected = connected
        self.bytesIn = bytesIn; self.bytesOut = bytesOut; self.packetsDropped = packetsDropped; self.since = since
    }
}

public struct AgentP2SStatus: Codable, Sendable, Equatable {
    /// "address:port" while the server listens; nil when it is not running.
    public var listening: String?
    public var error: String?
    public var sessions: [AgentP2SSession]
    /// The last refusals / failures (newest last).
    public var log: [String]
    /// Data-path drops since the server started, by reason (SSTPDropReason: bandwidthCapInbound,
    /// bandwidthCapOutbound, notReachable, noSession, …); only non-zero reasons.
    public var drops: [String: UInt64]?
    /// The SKU budget the sessions draw from (Mbit/s per direction), and how many of the site-to-site
    /// data plane's shapers draw from the same budget (2 when S2S and P2S share it); nil: uncapped.
    public var bandwidthMbps: Int?
    public var sharedWithSiteToSite: Int?
    /// The P2S TUN's offloads: "on", "off" or why the kernel refused them; and their counters
    /// (tunSuperPacketsRead, tunSegmentsFromSuperPackets, tunChecksumsCompleted, tunCoalescedWrites,
    /// tunCoalescedSegments, offloadRejected). nil: server not running.
    public var offloads: String?
    public var offloadCounters: [String: UInt64]?
    public init(listening: String?, error: String?, sessions: [AgentP2SSession], log: [String],
                drops: [String: UInt64]? = nil, bandwidthMbps: Int? = nil, sharedWithSiteToSite: Int? = nil,
                offloads: String? = nil, offloadCounters: [String: UInt64]? = nil) {
        self.listening = listening; self.error = error; self.sessions = sessions; self.log = log
        self.drops = drops; self.bandwidthMbps = bandwidthMbps; self.sharedWithSiteToSite = sharedWithSiteToSite
        self.offloads = offloads; self.offloadCounters = offloadCounters
    }
}

/// A request to end point-to-site sessions, written by the reconciler as its own file
/// (`<stem>.disconnect.<uuid>.json`) next to the agent's config; the agent applies and removes it
/// within a second.
public struct AgentDisconnectRequest: Codable, Sendable, Equatable {
    public var sessionIDs: [String]
    public var reason: String
    public init(sessionIDs: [String], reason: String) { self.sessionIDs = sessionIDs; self.reason = reason }
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
    /// Policy-based traffic selectors (usePolicyBasedTrafficSelectors): our prefixes and the
    /// peer's, proposed as their cross product; nil: route-based (0.0.0.0/0 both ways).
    public var localSelectors: [String]?
    public var remoteSelectors: [String]?
    /// CHILD SA byte lifetime in KB (ipsecPolicies[].saDataSizeKilobytes; Azure's default
    /// 102400000 without a policy): rekey once an SA carried this much; nil: no byte limit.
    public var childRekeyKilobytes: Int?
    /// "udp" (nil: ESP in UDP 4500 always) or "raw" (IP protocol 50 unless a NAT is detected),
    /// from the connection tag `vpngw-esp-encapsulation`.
    public var espEncapsulation: String?
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
    /// The SSTP server, when configured.
    public var p2s: AgentP2SStatus?
    public init(pid: Int32, updatedAt: Date, error: String? = nil, tunnels: [String: AgentTunnelStatus] = [:], p2s: AgentP2SStatus? = nil) {
        self.pid = pid; self.updatedAt = updatedAt; self.error = error; self.tunnels = tunnels; self.p2s = p2s
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
    /// "ESP in UDP 4500" or "raw ESP (IP protocol 50)" once a CHILD SA is installed.
    public var espEncapsulation: String?
    public var childRekeys: Int?
    public var ikeRekeys: Int?
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
    /// Disconnect request files of the agent whose config is `configURL`.
    public static func disconnectRequestPrefix(configURL: URL) -> String {
        configURL.deletingPathExtension().lastPathComponent + ".disconnect."
    }

    public static func write<T: Encodable>(_ value: T, to url: URL) throws {
        try JSONEncoder.agent.encode(value).write(to: url, options: .atomic)
    }
    public static func read<T: Decodable>(_ type: T.Type, from url: URL) -> T? {
        guard let data = try? Data(contentsOf: url) else { return nil }
        return try? JSONDecoder.agent.decode(T.self, from: data)
    }
}

/// FNV-1a 32-bit: the stable short hash behind agent file names, TUN names, tunnel ids and lab
/// namespace names (the same resource id always maps to the same name across restarts).
func fnv1a32(_ text: String) -> UInt32 {
    var h: UInt32 = 2166136261
    for b in text.utf8 { h = (h ^ UInt32(b)) &* 16777619 }
    return h
}
