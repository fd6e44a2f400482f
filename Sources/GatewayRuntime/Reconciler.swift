import Foundation
import GatewayControl
import GatewayModel
import Logging
import Synchronization

/// Brings running state in line with desired state: one `vpngw gateway-agent` process per Vpn
/// gateway whose public IP this host holds, configured with one tunnel per connection.
/// A change to one connection rewrites its gateway's agent config; the agent applies the
/// difference, so the other tunnels never notice.
public final class Reconciler: Provisioner, @unchecked Sendable {
    public struct Options: Sendable {
        /// Where agent configs, status files and pidfiles live.
        public var directory: URL
        /// The vpngw executable that runs agents.
        public var executable: String
        /// Lab mode: the namespaces that stand in for the network; nil in host mode.
        public var lab: LabNetwork?
        /// Ignore SKU bandwidth caps (an explicit operator choice, e.g. for lab benchmarks).
        public var liftBandwidthCaps: Bool
        public init(directory: URL, executable: String, lab: LabNetwork? = nil, liftBandwidthCaps: Bool = false) {
            self.directory = directory; self.executable = executable; self.lab = lab; self.liftBandwidthCaps = liftBandwidthCaps
        }
    }

    private let options: Options
    private let logger: Logger
    private let state = Mutex(State())
    private struct State {
        var agents: [String: Agent] = [:]          // gateway id (lowercased) → agent
        var statuses: [String: AgentStatus] = [:]  // gateway id → last status
        var connectionTunnel: [ResourceKey: (gateway: String, tunnel: Int)] = [:]
        var notRunning: [ResourceKey: String] = [:]  // connection → why it has no tunnel
        var generations: [ResourceKey: Int] = [:]
        var gatewayIDs: [ResourceKey: String] = [:]  // gateway key → lowercased id (agents' key)
        var p2s: [String: AgentP2S] = [:]            // gateway id → its SSTP server config
        var p2sNotRunning: [String: String] = [:]    // gateway id → why its SSTP server does not run
    }
    private struct Agent { var pid: Int32; var configURL: URL; var statusURL: URL }
    private var snapshot: (@Sendable () async -> World)?
    private var refresher: Task<Void, Never>?

    public init(options: Options, logger: Logger) {
        self.options = options
        self.logger = logger
    }

    /// Connects the reconciler to the desired state and starts its refresh loop. Agents left
    /// behind by a previous run (e.g. after `kill -9`) are stopped first.
    public func attach(_ snapshot: @escaping @Sendable () async -> World) async {
        self.snapshot = snapshot
        try? FileManager.default.createDirectory(at: options.directory, withIntermediateDirectories: true)
        cleanUpStaleAgents()
        options.lab?.teardown()
        await reconcileAll()
        // Self-healing: re-reconcile every few seconds (a crashed agent restarts, a VNet change
        // reaches the lab), and read statuses every second.
        refresher = Task { [weak self] in
            var tick = 0
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(1))
                tick += 1
                if tick % 3 == 0 { await self?.reconcileAll() } else { self?.readStatuses() }
            }
        }
    }

    public func shutdown() {
        refresher?.cancel()
        let agents = state.withLock { s in defer { s.agents = [:] }; return s.agents }
        for (_, a) in agents { stopProcess(a.pid) }
        options.lab?.teardown()
    }

    // MARK: Provisioner

    public func provision(_ resource: AnyResource) async throws(ARMError) {
        switch resource {
        case .virtualNetworkGateway, .connection:
            await reconcileAll()
        case .virtualNetwork, .publicIPAddress, .localNetworkGateway, .expressRouteCircuit:
            break
        }
    }

    public func deprovision(_ resource: AnyResource) async throws(ARMError) {
        await reconcileAll(excluding: ResourceID(parsing: resource.id)?.key)
    }

    public func reset(_ resource: AnyResource) async throws(ARMError) {
        guard let key = ResourceID(parsing: resource.id)?.key else { return }
        switch resource {
        case .connection:
            state.withLock { $0.generations[key, default: 0] += 1 }
            await reconcileAll()
        case .virtualNetworkGateway:
            // Restart the gateway's agent: every tunnel renegotiates.
            let gw = resource.id.lowercased()
            let agent = state.withLock { s in defer { s.agents[gw] = nil }; return s.agents[gw] }
            if let agent { stopProcess(agent.pid) }
            await reconcileAll()
        default:
            break
        }
    }

    public func observed(_ key: ResourceKey) -> ObservedConnection? {
        state.withLock { s in
            if let why = s.notRunning[key] { return ObservedConnection(status: .NotConnected, reason: why) }
            guard let (gateway, tunnel) = s.connectionTunnel[key] else { return nil }
            guard let status = s.statuses[gateway] else { return ObservedConnection(status: .Connecting, reason: "starting the gateway's data plane") }
            if let error = status.error { return ObservedConnection(status: .NotConnected, reason: error) }
            guard let t = status.tunnels[String(tunnel)] else { return ObservedConnection(status: .Connecting) }
            let s: ConnectionStatus = switch t.state {
            case "Connected": .Connected
            case "NotConnected": .NotConnected
            default: .Connecting
            }
            let established = t.establishedAt.map { ISO8601DateFormatter().string(from: $0) }
            return ObservedConnection(status: s, reason: s == .Connected ? nil : t.reason,
                                      ingressBytes: Int64(t.bytesIn), egressBytes: Int64(t.bytesOut),
                                      tunnels: [TunnelConnectionHealth(tunnel: "\(status.pid)", connectionStatus: s,
                                                                       ingressBytesTransferred: Int64(t.bytesIn), egressBytesTransferred: Int64(t.bytesOut),
                                                                       lastConnectionEstablishedUtcTime: established)],
                                      algorithms: t.ikeSuite.map { "IKE \($0); ESP \(t.childSuite ?? "?")" })
        }
    }

    // MARK: Reconcile

    /// Computes every gateway's agent config from the world and applies the differences.
    public func reconcileAll(excluding: ResourceKey? = nil) async {
        guard let snapshot else { return }
        let world = await snapshot()
        let localAddresses = Self.localIPv4Addresses()
        let labNamespaces = options.lab?.sync(world) ?? [:]
        var wanted: [String: AgentConfig] = [:]
        var tunnelOf: [ResourceKey: (String, Int)] = [:]
        var notRunning: [ResourceKey: String] = [:]
        var gatewayIDs: [ResourceKey: String] = [:]
        var p2sConfigs: [String: AgentP2S] = [:]
        var p2sNotRunning: [String: String] = [:]
        let generations = state.withLock { $0.generations }

        for gw in world.gateways where gw.properties.gatewayType == .Vpn && gw.properties.provisioningState != .Deleting {
            guard let gwKey = ResourceID(parsing: gw.id ?? "")?.key, gwKey != excluding else { continue }
            gatewayIDs[gwKey] = (gw.id ?? "").lowercased()
            let connections = world.connections(onGateway: gw.id ?? "").filter {
                ResourceID(parsing: $0.id ?? "")?.key != excluding && $0.properties.provisioningState != .Deleting &&
                ResourceID(parsing: $0.properties.virtualNetworkGateway1?.id ?? "")?.key == gwKey
            }
            guard let address = publicAddress(of: gw, world: world) else {
                p2sNotRunning[(gw.id ?? "").lowercased()] = "gateway '\(gw.name ?? "")' has no public IP address"
                for c in connections { if let k = ResourceID(parsing: c.id ?? "")?.key { notRunning[k] = "gateway '\(gw.name ?? "")' has no public IP address" } }
                continue
            }
            let namespace = labNamespaces[(gw.id ?? "").lowercased()]
            guard namespace != nil || localAddresses.contains(address) else {
                p2sNotRunning[(gw.id ?? "").lowercased()] = "gateway '\(gw.name ?? "")' public IP \(address) is not configured on this host"
                for c in connections {
                    if let k = ResourceID(parsing: c.id ?? "")?.key {
                        notRunning[k] = "gateway '\(gw.name ?? "")' public IP \(address) is not configured on this host; add it to an interface (host mode) or run the lab (vpngw lab)"
                    }
                }
                continue
            }
            var tunnels: [AgentTunnel] = []
            for c in connections {
                guard let ckey = ResourceID(parsing: c.id ?? "")?.key else { continue }
                switch tunnel(for: c, gateway: gw, localAddress: address, world: world, generation: generations[ckey] ?? 0) {
                case .success(let t):
                    tunnels.append(t)
                    tunnelOf[ckey] = ((gw.id ?? "").lowercased(), t.id)
                case .failure(let why):
                    notRunning[ckey] = why.message
                }
            }
            var config = AgentConfig(gateway: gw.id ?? "", localAddress: address,
                                     tunName: Self.tunName(for: gw.id ?? ""), tunnels: tunnels, namespace: namespace)
            if !options.liftBandwidthCaps, let sku = GatewaySKU(caseInsensitive: gw.properties.sku?.name ?? "") {
                config.bandwidthMbps = sku.throughputMbps(generation: gw.properties.vpnGatewayGeneration ?? .Generation1, gatewayType: .Vpn)
            }
            config.p2s = pointToSite(gw, address: address, world: world)
            if let p2s = config.p2s { p2sConfigs[(gw.id ?? "").lowercased()] = p2s }
            wanted[(gw.id ?? "").lowercased()] = config
        }
        apply(wanted)
        state.withLock { s in
            s.connectionTunnel = tunnelOf.mapValues { (gateway: $0.0, tunnel: $0.1) }
            s.notRunning = notRunning
            s.gatewayIDs = gatewayIDs
            s.p2s = p2sConfigs
            s.p2sNotRunning = p2sNotRunning
        }
        readStatuses()
    }

    private struct Refusal: Error { var message: String }

    private func tunnel(for c: Connection, gateway gw: VirtualNetworkGateway, localAddress: String, world: World, generation: Int) -> Result<AgentTunnel, Refusal> {
        let p = c.properties
        guard let psk = p.sharedKey else { return .failure(Refusal(message: "the connection has no shared key")) }
        var peer: String
        var prefixes: [String]
        var mode: String
        switch p.connectionType {
        case .IPsec?:
            guard let lng = world.localGateway(p.localNetworkGateway2?.id) else { return .failure(Refusal(message: "local network gateway not found")) }
            guard let ip = lng.properties.gatewayIpAddress else {
                return .failure(Refusal(message: "local network gateway '\(lng.name ?? "")' names an FQDN; vpngw resolves only gatewayIpAddress so far"))
            }
            peer = ip
            prefixes = (lng.properties.localNetworkAddressSpace?.prefixes ?? []).filter { $0.family == .v4 }.map(\.description)
            mode = switch p.connectionMode ?? .Default {
            case .Default: "both"
            case .InitiatorOnly: "initiate"
            case .ResponderOnly: "respond"
            }
        case .Vnet2Vnet?:
            guard let gw2 = world.gateway(p.virtualNetworkGateway2?.id), let remote = publicAddress(of: gw2, world: world) else {
                return .failure(Refusal(message: "the remote gateway or its public IP is missing"))
            }
            let reverse = world.connections.first {
                ResourceID(parsing: $0.properties.virtualNetworkGateway1?.id ?? "")?.key == ResourceID(parsing: gw2.id ?? "")?.key &&
                ResourceID(parsing: $0.properties.virtualNetworkGateway2?.id ?? "")?.key == ResourceID(parsing: gw.id ?? "")?.key
            }
            guard let reverse, reverse.properties.sharedKey == psk else {
                return .failure(Refusal(message: "waiting for the reverse connection from '\(gw2.name ?? "")' with the same shared key"))
            }
            peer = remote
            prefixes = world.addressSpace(ofVNet: world.vnetID(ofGateway: gw2)).filter { $0.family == .v4 }.map(\.description)
            // The other gateway's point-to-site clients are reached through it too.
            if Self.servesSSTP(gw2) {
                prefixes += (gw2.properties.vpnClientConfiguration?.vpnClientAddressPool?.prefixes ?? []).filter { $0.family == .v4 }.map(\.description)
            }
            // Both ends are ours: the lower address initiates, so one IKE SA results, not two.
            mode = (IPAddress(localAddress) ?? IPAddress(v4: 0)) < (IPAddress(remote) ?? IPAddress(v4: 0)) ? "both" : "respond"
        default:
            return .failure(Refusal(message: "\(p.connectionType?.rawValue ?? "this") connections carry no IPsec tunnel"))
        }
        var ike: [String]?, esp: [String]?, rekey: Int?
        // Azure's SA data size without a custom policy: 102400000 KB.
        var kilobytes = Self.defaultSADataSizeKilobytes
        if let policy = p.ipsecPolicies?.first {
            (ike, esp) = Self.proposalNames(policy)
            rekey = policy.saLifeTimeSeconds
            kilobytes = policy.saDataSizeKilobytes ?? kilobytes
        }
        let id = Self.tunnelID(for: c.id ?? "")
        var tunnel = AgentTunnel(id: id, connection: c.id ?? "", peerAddress: peer, psk: psk, remotePrefixes: prefixes, mode: mode,
                                 ikeProposals: ike, espProposals: esp, dpdTimeoutSeconds: p.dpdTimeoutSeconds ?? 45,
                                 childRekeySeconds: rekey, generation: generation)
        tunnel.childRekeyKilobytes = kilobytes
        // vpngw-only: raw ESP (IP protocol 50) by tag; absent or "udp": ESP in UDP 4500.
        if let e = VpngwTags.value(VpngwTags.espEncapsulation, in: c.tags)?.lowercased() {
            guard VpngwTags.espEncapsulationValues.contains(e) else {
                return .failure(Refusal(message: "tag \(VpngwTags.espEncapsulation) '\(e)' must be udp or raw"))
            }
            if e == "raw" { tunnel.espEncapsulation = e }
        }
        // Policy-based selectors: VNet prefixes × site prefixes (Azure proposes custom
        // trafficSelectorPolicies when it initiates; the cross product otherwise).
        if p.usePolicyBasedTrafficSelectors == true || gw.properties.vpnType == .PolicyBased {
            if let custom = p.trafficSelectorPolicies, !custom.isEmpty {
                tunnel.localSelectors = custom.flatMap { $0.localAddressRanges ?? [] }.filter { $0.family == .v4 }.map(\.description)
                tunnel.remoteSelectors = custom.flatMap { $0.remoteAddressRanges ?? [] }.filter { $0.family == .v4 }.map(\.description)
            } else {
                tunnel.localSelectors = world.addressSpace(ofVNet: world.vnetID(ofGateway: gw)).filter { $0.family == .v4 }.map(\.description)
                tunnel.remoteSelectors = prefixes
            }
        }
        return .success(tunnel)
    }

    // MARK: Point-to-site

    static func servesSSTP(_ gw: VirtualNetworkGateway) -> Bool {
        guard let vpc = gw.properties.vpnClientConfiguration, !(vpc.vpnClientAddressPool?.prefixes ?? []).isEmpty else { return false }
        return (vpc.vpnClientProtocols ?? [.SSTP]).contains(.SSTP)
    }

    /// The agent's SSTP server from the gateway's vpnClientConfiguration (nil: none).
    private func pointToSite(_ gw: VirtualNetworkGateway, address: String, world: World) -> AgentP2S? {
        guard Self.servesSSTP(gw), let vpc = gw.properties.vpnClientConfiguration,
              let pool = vpc.vpnClientAddressPool?.prefixes.first(where: { $0.family == .v4 }) else { return nil }
        let auth = vpc.vpnAuthenticationTypes ?? [.Certificate]
        let users = auth.contains(.Password)
            ? (vpc.vpnClientUsers ?? []).compactMap { u in u.password.map { AgentP2SUser(name: u.name, password: $0) } }
            : []
        let roots = auth.contains(.Certificate) ? (vpc.vpnClientRootCertificates ?? []).compactMap(\.properties.publicCertData) : []
        let revoked = (vpc.vpnClientRevokedCertificates ?? []).compactMap(\.properties.thumbprint)
        let sku = GatewaySKU(caseInsensitive: gw.properties.sku?.name ?? "")
        let stem = fileStem((gw.id ?? "").lowercased())
        // One certificate per gateway and address, generated by the agent the first time and kept.
        let certStem = options.directory.appendingPathComponent("\(stem)-p2s-\(address)").path
        var p2s = AgentP2S(port: Self.p2sPort, pool: pool.description, tunName: Self.p2sTunName(for: gw.id ?? ""), users: users,
                           rootCertificates: roots, revokedThumbprints: revoked, authenticationTypes: auth.map(\.rawValue),
                           maxSessions: sku?.maxSSTPClients ?? 128, certificatePath: certStem + "-cert.pem", keyPath: certStem + "-key.pem",
                           certificateCN: address)
        p2s.reachablePrefixes = Self.p2sReachable(gw, world: world)
        return p2s
    }

    /// What the gateway's point-to-site clients may reach (the same in host and lab mode): the
    /// gateway's VNet, every peered VNet whose peering uses this gateway (useRemoteGateways, which
    /// admission allows only against allowGatewayTransit), the sites of its IPsec connections and
    /// the VNets of its VNet-to-VNet connections. A peered VNet without gateway transit is not in
    /// the list: the agent drops client packets to it (and its packets to clients), as Azure does.
    static func p2sReachable(_ gw: VirtualNetworkGateway, world: World) -> [String] {
        var out: [String] = []
        if let vnet = world.vnetID(ofGateway: gw) {
            out += world.addressSpace(ofVNet: vnet).filter { $0.family == .v4 }.map(\.description)
            for (spoke, peering) in world.peeringsPointing(at: vnet) where peering.properties.useRemoteGateways == true {
                out += (spoke.properties.addressSpace?.prefixes ?? []).filter { $0.family == .v4 }.map(\.description)
            }
        }
        for c in world.connections(onGateway: gw.id ?? "") {
            if let lng = world.localGateway(c.properties.localNetworkGateway2?.id) {
                out += (lng.properties.localNetworkAddressSpace?.prefixes ?? []).filter { $0.family == .v4 }.map(\.description)
            }
            if c.properties.connectionType == .Vnet2Vnet {
                for other in [c.properties.virtualNetworkGateway1?.id, c.properties.virtualNetworkGateway2?.id] {
                    guard let g = world.gateway(other), ResourceID(parsing: g.id ?? "")?.key != ResourceID(parsing: gw.id ?? "")?.key else { continue }
                    out += world.addressSpace(ofVNet: world.vnetID(ofGateway: g)).filter { $0.family == .v4 }.map(\.description)
                }
            }
        }
        var seen: Set<String> = []
        return out.filter { seen.insert($0).inserted }
    }

    /// TCP port of every gateway's SSTP server ($VPNGW_P2S_PORT overrides 443).
    static var p2sPort: Int { ProcessInfo.processInfo.environment["VPNGW_P2S_PORT"].flatMap(Int.init) ?? 443 }

    static func p2sTunName(for gatewayID: String) -> String { "vgp" + String(fnv1a32(gatewayID.lowercased()), radix: 16) }

    public func vpnClientSessions(_ gateway: ResourceKey) -> [VpnClientConnectionHealthDetail]? {
        readStatuses()
        return state.withLock { s -> [VpnClientConnectionHealthDetail]? in
            guard let gw = s.gatewayIDs[gateway], s.p2s[gw] != nil, let status = s.statuses[gw]?.p2s else { return nil }
            let now = Date()
            let iso = ISO8601DateFormatter()
            return status.sessions.filter(\.connected).map { x in
                VpnClientConnectionHealthDetail(vpnConnectionId: x.id, vpnConnectionDuration: Int64(max(0, now.timeIntervalSince(x.since))),
                                                vpnConnectionTime: iso.string(from: x.since), publicIpAddress: x.peer, privateIpAddress: x.address,
                                                vpnUserName: x.user ?? "", egressBytesTransferred: Int64(x.bytesOut), ingressBytesTransferred: Int64(x.bytesIn))
            }
        }
    }

    public func disconnectVpnClients(_ gateway: ResourceKey, ids: [String]) async -> [String] {
        guard let live = vpnClientSessions(gateway) else { return [] }
        let wanted = Set(ids.map { $0.lowercased() })
        let found = live.map(\.vpnConnectionId).filter { wanted.contains($0.lowercased()) }
        guard !found.isEmpty, let gw = state.withLock({ $0.gatewayIDs[gateway] }), let agent = state.withLock({ $0.agents[gw] }) else { return [] }
        let url = options.directory.appendingPathComponent(AgentFiles.disconnectRequestPrefix(configURL: agent.configURL) + UUID().uuidString.lowercased() + ".json")
        do { try AgentFiles.write(AgentDisconnectRequest(sessionIDs: found, reason: "disconnected through the API"), to: url) } catch {
            logger.error("cannot write \(url.path): \(error)")
            return []
        }
        // The agent picks the request up within a second; wait until the sessions are gone (bounded).
        for _ in 0..<40 {
            try? await Task.sleep(for: .milliseconds(100))
            let still = Set((vpnClientSessions(gateway) ?? []).map(\.vpnConnectionId))
            if found.allSatisfy({ !still.contains($0) }) { break }
        }
        return found
    }

    public func vpnClientServer(_ gateway: ResourceKey) -> VpnClientServerState {
        state.withLock { s in
            guard let gw = s.gatewayIDs[gateway] else {
                return VpnClientServerState(certificatePEM: nil, port: Self.p2sPort, status: "the gateway runs no data plane here")
            }
            if let why = s.p2sNotRunning[gw] { return VpnClientServerState(certificatePEM: nil, port: Self.p2sPort, status: why) }
            guard let p2s = s.p2s[gw] else {
                return VpnClientServerState(certificatePEM: nil, port: Self.p2sPort, status: "vpnClientConfiguration does not list SSTP")
            }
            let pem = try? String(contentsOfFile: p2s.certificatePath, encoding: .utf8)
            var status: String? = nil
            if let p = s.statuses[gw]?.p2s {
                if let e = p.error { status = e } else if p.listening == nil { status = "starting" }
            } else {
                status = "starting"
            }
            return VpnClientServerState(certificatePEM: pem, port: p2s.port, status: status)
        }
    }

    private func publicAddress(of gw: VirtualNetworkGateway, world: World) -> String? {
        world.publicIP(gw.properties.ipConfigurations?.first?.properties.publicIPAddress?.id)?.properties.ipAddress
    }

    /// Azure's custom policy names → strongSwan-style proposal names.
    static func proposalNames(_ p: IpsecPolicy) -> ([String], [String]) {
        func enc(_ e: String) -> String {
            switch e { case "AES128": "aes128"; case "AES256": "aes256"; case "GCMAES128": "aes128gcm16"; case "GCMAES256": "aes256gcm16"; default: e.lowercased() }
        }
        func integ(_ i: String) -> String { i.lowercased() }
        func group(_ g: String) -> String? {
            switch g {
            case "DHGroup2", "PFS2": "modp1024"
            case "DHGroup14", "DHGroup2048", "PFS2048", "PFS14": "modp2048"
            case "ECP256": "ecp256"
            case "ECP384": "ecp384"
            default: nil
            }
        }
        let ikeEnc = enc(p.ikeEncryption?.rawValue ?? "AES256"), ikeInt = integ(p.ikeIntegrity?.rawValue ?? "SHA256")
        let dh = group(p.dhGroup?.rawValue ?? "DHGroup2") ?? "modp1024"
        let ike = ikeEnc.contains("gcm") ? "\(ikeEnc)-prf\(ikeInt.hasPrefix("gcm") ? "sha256" : ikeInt)-\(dh)" : "\(ikeEnc)-\(ikeInt)-\(dh)"
        let espEnc = enc(p.ipsecEncryption?.rawValue ?? "AES256")
        var esp = espEnc.contains("gcm") ? espEnc : "\(espEnc)-\(integ(p.ipsecIntegrity?.rawValue ?? "SHA1"))"
        if let pfs = p.pfsGroup.flatMap({ group($0.rawValue) }) { esp += "-\(pfs)" }
        return ([ike], [esp])
    }

    /// Azure's SA data size (KB) for connections without a custom IPsec policy.
    static let defaultSADataSizeKilobytes = 102_400_000

    static func tunnelID(for connectionID: String) -> Int { Int(fnv1a32(connectionID.lowercased()) & 0x7fff_ffff) }

    static func tunName(for gatewayID: String) -> String { "vgw" + String(fnv1a32(gatewayID.lowercased()), radix: 16) }

    // MARK: Agents

    private func fileStem(_ gateway: String) -> String { Self.tunName(for: gateway) }

    private func apply(_ wanted: [String: AgentConfig]) {
        let current = state.withLock { $0.agents }
        for (gw, agent) in current where wanted[gw] == nil {
            logger.info("stopping the agent of \(gw)")
            stopProcess(agent.pid)
            state.withLock { $0.agents[gw] = nil; $0.statuses[gw] = nil }
            try? FileManager.default.removeItem(at: agent.configURL)
            try? FileManager.default.removeItem(at: agent.statusURL)
        }
        for (gw, config) in wanted {
            let stem = fileStem(gw)
            let configURL = options.directory.appendingPathComponent("\(stem).json")
            let statusURL = options.directory.appendingPathComponent("\(stem).status.json")
            if AgentFiles.read(AgentConfig.self, from: configURL) != config {
                do { try AgentFiles.write(config, to: configURL) } catch { logger.error("cannot write \(configURL.path): \(error)") }
            }
            if let agent = current[gw], kill(agent.pid, 0) == 0 { continue }
            // A status left by a previous agent would claim tunnels the new one has not built yet.
            try? FileManager.default.removeItem(at: statusURL)
            let process = Process()
            if let ns = config.namespace {
                process.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
                process.arguments = ["netns", "exec", ns, options.executable, "gateway-agent", "--config", configURL.path, "--status", statusURL.path]
            } else {
                process.executableURL = URL(fileURLWithPath: options.executable)
                process.arguments = ["gateway-agent", "--config", configURL.path, "--status", statusURL.path]
            }
            let log = options.directory.appendingPathComponent("\(stem).log")
            FileManager.default.createFile(atPath: log.path, contents: nil)
            process.standardOutput = try? FileHandle(forWritingTo: log)
            process.standardError = process.standardOutput
            do {
                try process.run()
                let pid = process.processIdentifier
                try? Data("\(pid)".utf8).write(to: options.directory.appendingPathComponent("\(stem).pid"))
                state.withLock { $0.agents[gw] = Agent(pid: pid, configURL: configURL, statusURL: statusURL) }
                logger.info("started the agent of \(config.gateway) on \(config.localAddress) (pid \(pid))")
            } catch {
                logger.error("cannot start the agent of \(gw): \(error)")
            }
        }
    }

    private func readStatuses() {
        let agents = state.withLock { $0.agents }
        var statuses: [String: AgentStatus] = [:]
        for (gw, a) in agents {
            if let s = AgentFiles.read(AgentStatus.self, from: a.statusURL) { statuses[gw] = s }
        }
        state.withLock { $0.statuses = statuses }
    }

    private func cleanUpStaleAgents() {
        guard let files = try? FileManager.default.contentsOfDirectory(at: options.directory, includingPropertiesForKeys: nil) else { return }
        for f in files where f.pathExtension == "pid" {
            if let text = try? String(contentsOf: f, encoding: .utf8), let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)),
               Self.isAgent(pid) {
                logger.info("stopping agent pid \(pid) left by a previous run")
                stopProcess(pid)
            }
            try? FileManager.default.removeItem(at: f)
        }
    }

    /// Only kill what is really one of our agents (the pid may have been reused).
    private static func isAgent(_ pid: Int32) -> Bool {
        guard let cmd = try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8) else { return false }
        return cmd.contains("gateway-agent")
    }

    private func stopProcess(_ pid: Int32) {
        guard pid > 0, kill(pid, SIGTERM) == 0 else { return }
        for _ in 0..<50 {
            if kill(pid, 0) != 0 { return }
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid { return }
            usleep(50_000)
        }
        kill(pid, SIGKILL)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
    }

    /// IPv4 addresses configured on this host's (namespace's) interfaces.
    static func localIPv4Addresses() -> Set<String> {
        var out: Set<String> = []
        var ifap: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&ifap) == 0, let first = ifap else { return out }
        defer { freeifaddrs(ifap) }
        var cursor: UnsafeMutablePointer<ifaddrs>? = first
        while let ifa = cursor {
            if let addr = ifa.pointee.ifa_addr, addr.pointee.sa_family == sa_family_t(AF_INET) {
                addr.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { sin in
                    let v = UInt32(bigEndian: sin.pointee.sin_addr.s_addr)
                    out.insert("\(v >> 24).\(v >> 16 & 0xff).\(v >> 8 & 0xff).\(v & 0xff)")
                }
            }
            cursor = ifa.pointee.ifa_next
        }
        return out
    }
}
