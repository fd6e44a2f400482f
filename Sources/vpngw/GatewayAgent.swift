import ArgumentParser
import DataPlane
import Foundation
import GatewayModel
import GatewayRuntime
import IKE
import Tunnels

/// `vpngw gateway-agent`: runs one gateway's data plane and tunnels as the reconciler configured
/// them. Started and stopped by `vpngw serve`; re-reads its config file when it changes and
/// applies only the difference (an unchanged tunnel keeps its SAs).
struct GatewayAgentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gateway-agent", abstract: "Run one gateway's data plane (started by `vpngw serve`).",
        shouldDisplay: false)

    @Option(name: .customLong("config"), help: "Agent config (JSON) written by the reconciler.") var configPath: String
    @Option(name: .customLong("status"), help: "Where to write status (JSON) every second.") var statusPath: String

    func run() async throws {
        let configURL = URL(fileURLWithPath: configPath)
        let statusURL = URL(fileURLWithPath: statusPath)
        let pid = getpid()
        guard let config = AgentFiles.read(AgentConfig.self, from: configURL) else {
            try? AgentFiles.write(AgentStatus(pid: pid, updatedAt: Date(), error: "cannot read the agent config \(configPath)"), to: statusURL)
            throw ExitCode(1)
        }
        guard let local = IPv4.parse(config.localAddress) else {
            try? AgentFiles.write(AgentStatus(pid: pid, updatedAt: Date(), error: "local address \(config.localAddress) is not IPv4"), to: statusURL)
            throw ExitCode(1)
        }
        // The SKU figure is one budget per direction for S2S and P2S together (Azure: aggregate
        // throughput): the data plane's threads and the P2S server all draw from it.
        let bandwidth = config.bandwidthMbps.map { GatewayBandwidth(megabitsPerSecond: $0) }
        var planeConfiguration = DataPlane.Configuration(tunName: config.tunName, localAddress: local, rateLimitMbps: config.bandwidthMbps)
        planeConfiguration.bandwidth = bandwidth
        let plane = DataPlane(planeConfiguration)
        let service = TunnelService(plane: plane)
        var applied: [Int: AgentTunnel] = [:]
        var definitions: [TunnelDefinition] = []
        var errors: [Int: String] = [:]
        for t in config.tunnels {
            switch Self.definition(t, local: local) {
            case .success(let d): definitions.append(d); applied[t.id] = t
            case .failure(let e): errors[t.id] = e.description
            }
        }
        do {
            try service.start(definitions)
        } catch {
            try? AgentFiles.write(AgentStatus(pid: pid, updatedAt: Date(), error: "cannot start the data plane on \(config.localAddress): \(error)"), to: statusURL)
            throw ExitCode(1)
        }
        for t in applied.values { Self.routes(t.remotePrefixes, add: true, dev: plane.tunDeviceName) }
        emit("agent for \(config.gateway) up on \(config.localAddress), TUN \(plane.tunDeviceName), \(applied.count) tunnel(s), bandwidth \(config.bandwidthMbps.map { "\($0) Mbit/s per direction" } ?? "uncapped"); \(plane.capabilities.joined(separator: "; "))")

        let p2s = AgentP2SRunner(localAddress: config.localAddress, configURL: configURL, bandwidth: bandwidth)
        p2s.apply(config.p2s)
        let state = AgentState(applied: applied, errors: errors, modified: Self.mtime(configURL))
        state.p2s = p2s
        _ = await waitForTermination(every: 1) {
            state.tick(service: service, plane: plane, configURL: configURL, statusURL: statusURL, local: local, pid: pid)
        }
        p2s.stop()
        service.stop()
        emit("agent for \(config.gateway) stopped")
    }

    static func mtime(_ url: URL) -> Date? {
        (try? FileManager.default.attributesOfItem(atPath: url.path))?[.modificationDate] as? Date
    }

    static func routes(_ prefixes: [String], add: Bool, dev: String) {
        for p in prefixes { try? runIP(add ? ["route", "replace", p, "dev", dev] : ["route", "del", p, "dev", dev]) }
    }

    struct DefinitionError: Error, CustomStringConvertible { var description: String }

    static func definition(_ t: AgentTunnel, local: UInt32) -> Result<TunnelDefinition, DefinitionError> {
        guard let peer = IPv4.parse(t.peerAddress) else { return .failure(DefinitionError(description: "peer \(t.peerAddress) is not IPv4")) }
        var prefixes: [(network: UInt32, length: Int)] = []
        for p in t.remotePrefixes {
            guard let prefix = try? IPPrefix(parsing: p), prefix.family == .v4 else { continue }
            prefixes.append((prefix.address.v4Value, prefix.length))
        }
        var d = TunnelDefinition(id: t.id, name: t.connection, localAddress: local, peerAddress: peer,
                                 preSharedKey: Array(t.psk.utf8), remotePrefixes: prefixes)
        do {
            if let names = t.ikeProposals { d.ikeSuites = try names.map { n throws(ProposalName.ParseError) in try ProposalName.ike(n) } }
            if let names = t.espProposals { d.childSuites = try names.map { n throws(ProposalName.ParseError) in try ProposalName.esp(n) } }
        } catch {
            return .failure(DefinitionError(description: error.description))
        }
        d.mode = t.mode == "initiate" ? .initiatorOnly : t.mode == "respond" ? .responderOnly : .initiateAndRespond
        if let local = t.localSelectors, let remote = t.remoteSelectors {
            func selectors(_ list: [String]) -> [TrafficSelector] {
                list.compactMap { try? IPPrefix(parsing: $0) }.filter { $0.family == .v4 }.map { p in
                    let v = p.address.v4Value
                    return TrafficSelector.prefix([UInt8(v >> 24), UInt8(v >> 16 & 0xff), UInt8(v >> 8 & 0xff), UInt8(v & 0xff)], length: p.length)
                }
            }
            d.trafficSelectors = TrafficSelectorPolicy(local: selectors(local), remote: selectors(remote))
        }
        d.dpdTimeout = .seconds(t.dpdTimeoutSeconds)
        if let r = t.childRekeySeconds { d.childRekeyAfter = .seconds(r) }
        if let kb = t.childRekeyKilobytes {
            guard kb > 0 else { return .failure(DefinitionError(description: "childRekeyKilobytes \(kb) is not positive")) }
            d.childRekeyAfterBytes = UInt64(kb) * 1024
        }
        if let name = t.espEncapsulation {
            guard let e = ESPEncapsulation(name: name) else {
                return .failure(DefinitionError(description: "espEncapsulation '\(name)' must be udp or raw"))
            }
            d.espEncapsulation = e
        }
        return .success(d)
    }
}

/// The agent's once-a-second work: apply config changes, publish status.
final class AgentState: @unchecked Sendable {
    private let lock = NSLock()
    private var applied: [Int: AgentTunnel]
    private var errors: [Int: String]
    private var modified: Date?
    /// The point-to-site server (GatewayAgentP2S.swift).
    var p2s: AgentP2SRunner?

    init(applied: [Int: AgentTunnel], errors: [Int: String], modified: Date?) {
        self.applied = applied; self.errors = errors; self.modified = modified
    }

    func tick(service: TunnelService, plane: DataPlane, configURL: URL, statusURL: URL, local: UInt32, pid: Int32) {
        lock.withLock {
            let m = GatewayAgentCommand.mtime(configURL)
            if m != modified, let config = AgentFiles.read(AgentConfig.self, from: configURL) {
                modified = m
                p2s?.apply(config.p2s)
                let wanted = Dictionary(config.tunnels.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
                for (id, old) in applied where wanted[id] == nil {
                    service.removeTunnel(id)
                    GatewayAgentCommand.routes(old.remotePrefixes, add: false, dev: plane.tunDeviceName)
                    applied[id] = nil
                    emit("removed tunnel \(old.connection)")
                }
                errors = errors.filter { wanted[$0.key] != nil }
                for (id, t) in wanted where applied[id] != t {
                    switch GatewayAgentCommand.definition(t, local: local) {
                    case .success(let d):
                        if let old = applied[id] {
                            GatewayAgentCommand.routes(old.remotePrefixes.filter { !t.remotePrefixes.contains($0) }, add: false, dev: plane.tunDeviceName)
                        }
                        service.upsert(d)
                        GatewayAgentCommand.routes(t.remotePrefixes, add: true, dev: plane.tunDeviceName)
                        applied[id] = t
                        errors[id] = nil
                        emit("applied tunnel \(t.connection)")
                    case .failure(let e):
                        errors[id] = e.description
                    }
                }
            }
            let counters = service.counters
            var tunnels: [String: AgentTunnelStatus] = [:]
            for (id, _) in applied {
                let s = service.status(id)
                let c = counters.tunnels[id]
                tunnels[String(id)] = AgentTunnelStatus(state: s?.state.rawValue ?? "Connecting", reason: s?.reason,
                                                        establishedAt: s?.establishedAt, ikeSuite: s?.ikeSuite, childSuite: s?.childSuite,
                                                        bytesIn: c?.bytesIn ?? 0, bytesOut: c?.bytesOut ?? 0, log: Array((s?.log ?? []).suffix(10)))
                tunnels[String(id)]?.espEncapsulation = s?.espEncapsulation
                tunnels[String(id)]?.childRekeys = s?.childRekeys
                tunnels[String(id)]?.ikeRekeys = s?.ikeRekeys
            }
            for (id, e) in errors {
                tunnels[String(id)] = AgentTunnelStatus(state: "NotConnected", reason: e, establishedAt: nil, ikeSuite: nil, childSuite: nil, bytesIn: 0, bytesOut: 0, log: [])
            }
            p2s?.tick()
            try? AgentFiles.write(AgentStatus(pid: pid, updatedAt: Date(), tunnels: tunnels, p2s: p2s?.status()), to: statusURL)
        }
    }
}
