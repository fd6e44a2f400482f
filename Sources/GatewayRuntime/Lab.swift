import Foundation
import GatewayModel
import Logging

/// Lab mode: materialises the resource model on this one machine with network namespaces.
///
/// - `<p>-inet`: the "internet", a bridge holding the TEST-NET public addresses' router.
/// - one namespace per virtual network (`<p>-n…`): its router; a gateway's agent runs here, with the
///   gateway's public IP on a veth to the internet bridge; one "VM" namespace (`<p>-m…`) per subnet
///   (the VM holds the subnet's .4, the router its .1).
/// - VNet peering: a veth between the two routers with routes for each other's address space.
/// - a local network gateway tagged `vpngw-lab: site` becomes a site: a namespace holding its
///   gatewayIpAddress and running strongSwan (kernel-libipsec) configured from the connections to
///   it, with a LAN "VM" on its first prefix.
/// Names carry a per-lab prefix so several labs never collide; `teardown` removes them all.
public final class LabNetwork: @unchecked Sendable {
    public let prefix: String
    let directory: URL
    let logger: Logger
    private let lock = NSLock()
    private var built: Set<String> = []   // namespaces we made
    private var siteConfigs: [String: String] = [:]
    private var sitePIDs: [String: Int32] = [:]
    private var peeringLinks: Set<String> = []
    private var transitRoutes: Set<TransitRoute> = []

    public init(prefix: String, directory: URL, logger: Logger) {
        self.prefix = prefix
        self.directory = directory
        self.logger = logger
    }

    // MARK: Names

    static func short(_ id: String) -> String { String(fnv1a32(id.lowercased()), radix: 36) }
    public func vnetNamespace(_ vnetID: String) -> String { "\(prefix)-n\(Self.short(vnetID))" }
    public func vmNamespace(_ subnetID: String) -> String { "\(prefix)-m\(Self.short(subnetID))" }
    public func siteNamespace(_ lngID: String) -> String { "\(prefix)-s\(Self.short(lngID))" }
    public func siteLANNamespace(_ lngID: String) -> String { "\(prefix)-l\(Self.short(lngID))" }
    var internet: String { "\(prefix)-inet" }

    public static func isLabSite(_ lng: LocalNetworkGateway) -> Bool {
        lng.tags?["vpngw-lab"]?.lowercased() == "site"
    }

    // MARK: Sync

    /// Brings the namespaces in line with the world. Idempotent; returns the namespace each Vpn
    /// gateway's agent runs in.
    public func sync(_ world: World) -> [String: String] {
        lock.withLock {
            ensureInternet()
            var wanted: Set<String> = [internet]
            var gatewayNamespaces: [String: String] = [:]
            let vnets = world.virtualNetworks
            for v in vnets {
                guard let vid = v.id else { continue }
                let ns = vnetNamespace(vid)
                wanted.insert(ns)
                ensureNamespace(ns, router: true)
                for subnet in v.properties.subnets ?? [] where subnet.name != "GatewaySubnet" {
                    guard let sid = subnet.id, let prefix = subnet.properties.prefixes.first(where: { $0.family == .v4 }) else { continue }
                    let vm = vmNamespace(sid)
                    wanted.insert(vm)
                    ensureVM(vm, router: ns, prefix: prefix)
                }
                for gw in world.gateways(inVNet: vid) where gw.properties.gatewayType == .Vpn {
                    if let ip = world.publicIP(gw.properties.ipConfigurations?.first?.properties.publicIPAddress?.id)?.properties.ipAddress {
                        ensurePublicAddress(ns, address: ip)
                        gatewayNamespaces[(gw.id ?? "").lowercased()] = ns
                    }
                }
            }
            syncPeerings(world)
            for lng in world.localGateways where Self.isLabSite(lng) {
                guard let lid = lng.id, let ip = lng.properties.gatewayIpAddress else { continue }
                let ns = siteNamespace(lid), lan = siteLANNamespace(lid)
                wanted.insert(ns); wanted.insert(lan)
                ensureNamespace(ns, router: true)
                ensurePublicAddress(ns, address: ip)
                if let first = lng.properties.localNetworkAddressSpace?.prefixes.first(where: { $0.family == .v4 }) {
                    ensureVM(lan, router: ns, prefix: first)
                }
                syncSite(lng, world: world)
            }
            for ns in built.subtracting(wanted) { deleteNamespace(ns) }
            return gatewayNamespaces
        }
    }

    /// Removes every namespace of this lab (ours by prefix), and the processes in them.
    public func teardown() {
        lock.withLock {
            for (_, pid) in sitePIDs { kill(pid, SIGKILL) }
            sitePIDs = [:]
            for ns in Self.existingNamespaces() where ns.hasPrefix(prefix + "-") { deleteNamespace(ns) }
            built = []
            peeringLinks = []
            transitRoutes = []
            siteConfigs = [:]
        }
    }

    // MARK: Building blocks

    private func ensureInternet() {
        guard !built.contains(internet) else { return }
        if !Self.existingNamespaces().contains(internet) {
            run(["ip", "netns", "add", internet])
            nsRun(internet, ["ip", "link", "set", "lo", "up"])
            nsRun(internet, ["ip", "link", "add", "br0", "type", "bridge"])
            nsRun(internet, ["ip", "link", "set", "br0", "up"])
        }
        built.insert(internet)
    }

    private func ensureNamespace(_ ns: String, router: Bool) {
        guard !built.contains(ns) else { return }
        if !Self.existingNamespaces().contains(ns) {
            run(["ip", "netns", "add", ns])
            nsRun(ns, ["ip", "link", "set", "lo", "up"])
            if router { nsRun(ns, ["sysctl", "-qw", "net.ipv4.ip_forward=1"]) }
        }
        built.insert(ns)
    }

    /// The namespace's leg on the internet bridge, holding a public /24 address.
    private func ensurePublicAddress(_ ns: String, address: String) {
        let leg = "pub" + Self.short(ns + address).prefix(8)
        let has = nsOutput(ns, ["ip", "-o", "-4", "addr", "show"]).contains(" \(address)/")
        guard !has else { return }
        run(["ip", "link", "add", String(leg), "netns", ns, "type", "veth", "peer", "name", String(("b" + leg).prefix(15)), "netns", internet])
        nsRun(internet, ["ip", "link", "set", String(("b" + leg).prefix(15)), "master", "br0", "up"])
        nsRun(ns, ["ip", "addr", "add", "\(address)/24", "dev", String(leg)])
        nsRun(ns, ["ip", "link", "set", String(leg), "up"])
    }

    /// A "VM" namespace at the prefix's .4, its router at .1.
    private func ensureVM(_ vm: String, router: String, prefix: IPPrefix) {
        guard !built.contains(vm) else { return }
        ensureNamespace(vm, router: false)
        let gatewayAddress = prefix.address.adding(1).description
        let vmAddress = prefix.address.adding(4).description
        let leg = "v" + Self.short(vm).prefix(10)
        let has = nsOutput(vm, ["ip", "-o", "-4", "addr", "show"]).contains(" \(vmAddress)/")
        if !has {
            run(["ip", "link", "add", String(leg), "netns", vm, "type", "veth", "peer", "name", String(("r" + leg).prefix(15)), "netns", router])
            nsRun(router, ["ip", "addr", "add", "\(gatewayAddress)/\(prefix.length)", "dev", String(("r" + leg).prefix(15))])
            nsRun(router, ["ip", "link", "set", String(("r" + leg).prefix(15)), "up"])
            nsRun(vm, ["ip", "addr", "add", "\(vmAddress)/\(prefix.length)", "dev", String(leg)])
            nsRun(vm, ["ip", "link", "set", String(leg), "up"])
            nsRun(vm, ["ip", "route", "add", "default", "via", gatewayAddress])
        }
    }

    private func syncPeerings(_ world: World) {
        var wantedPairs: Set<String> = []
        var wantedTransit: Set<TransitRoute> = []
        for v in world.virtualNetworks {
            for p in v.properties.virtualNetworkPeerings ?? [] {
                guard let a = v.id, let b = p.properties.remoteVirtualNetwork?.id, let remote = world.virtualNetwork(b) else { continue }
                // One link per pair, made when both sides have their peering (state Connected).
                let back = remote.properties.virtualNetworkPeerings?.contains { ResourceID(parsing: $0.properties.remoteVirtualNetwork?.id ?? "")?.key == ResourceID(parsing: a)?.key } ?? false
                guard back else { continue }
                // The pair's lower id holds .1 and leg "a", the other .2 and leg "b", whichever side is seen first.
                let ids = [a.lowercased(), b.lowercased()].sorted()
                let pair = ids.joined(separator: "|")
                let n = Int(Self.pairIndex(pair))
                let low = "169.254.\(100 + n / 64).\((n % 64) * 4 + 1)", high = "169.254.\(100 + n / 64).\((n % 64) * 4 + 2)"
                func linkAddress(_ id: String) -> String { id.lowercased() == ids[0] ? low : high }
                let linkA = linkAddress(a), linkB = linkAddress(b)
                if !wantedPairs.contains(pair) && !peeringLinks.contains(pair) {
                    peeringLinks.insert(pair)
                    let leg = "p" + Self.short(pair).prefix(9)
                    let nsLow = vnetNamespace(ids[0]), nsHigh = vnetNamespace(ids[1])
                    run(["ip", "link", "add", "\(leg)a", "netns", nsLow, "type", "veth", "peer", "name", "\(leg)b", "netns", nsHigh])
                    nsRun(nsLow, ["ip", "addr", "add", "\(low)/30", "dev", "\(leg)a"]); nsRun(nsLow, ["ip", "link", "set", "\(leg)a", "up"])
                    nsRun(nsHigh, ["ip", "addr", "add", "\(high)/30", "dev", "\(leg)b"]); nsRun(nsHigh, ["ip", "link", "set", "\(leg)b", "up"])
                    for prefix in remote.properties.addressSpace?.prefixes ?? [] where prefix.family == .v4 {
                        nsRun(vnetNamespace(a), ["ip", "route", "replace", prefix.description, "via", linkB])
                    }
                    for prefix in v.properties.addressSpace?.prefixes ?? [] where prefix.family == .v4 {
                        nsRun(vnetNamespace(b), ["ip", "route", "replace", prefix.description, "via", linkA])
                    }
                }
                wantedPairs.insert(pair)
                // Gateway transit: the spoke reaches the hub's sites through the hub (kept in step
                // with the hub's connections, not only those that existed when the link was made).
                for (spoke, hub, via) in [(v, remote, linkB), (remote, v, linkA)] {
                    let usesRemote = spoke.properties.virtualNetworkPeerings?.contains {
                        ResourceID(parsing: $0.properties.remoteVirtualNetwork?.id ?? "")?.key == ResourceID(parsing: hub.id ?? "")?.key && $0.properties.useRemoteGateways == true
                    } ?? false
                    guard usesRemote, let hubID = hub.id else { continue }
                    for gw in world.gateways(inVNet: hubID) {
                        // The hub gateway's point-to-site clients: the spoke routes their pool back through the hub.
                        if let vpc = gw.properties.vpnClientConfiguration, (vpc.vpnClientProtocols ?? [.SSTP]).contains(.SSTP) {
                            for prefix in vpc.vpnClientAddressPool?.prefixes ?? [] where prefix.family == .v4 {
                                wantedTransit.insert(TransitRoute(namespace: vnetNamespace(spoke.id ?? ""), prefix: prefix.description, via: via))
                            }
                        }
                        for c in world.connections(onGateway: gw.id ?? "") {
                            for prefix in world.localGateway(c.properties.localNetworkGateway2?.id)?.properties.localNetworkAddressSpace?.prefixes ?? [] where prefix.family == .v4 {
                                wantedTransit.insert(TransitRoute(namespace: vnetNamespace(spoke.id ?? ""), prefix: prefix.description, via: via))
                            }
                        }
                    }
                }
            }
        }
        // A peering deleted on either side: the link (and the routes through it) goes.
        for pair in peeringLinks.subtracting(wantedPairs) {
            let ids = pair.split(separator: "|").map(String.init)
            let leg = "p" + Self.short(pair).prefix(9)
            if let first = ids.first { nsRun(vnetNamespace(first), ["ip", "link", "del", "\(leg)a"]) }
            peeringLinks.remove(pair)
        }
        for r in transitRoutes.subtracting(wantedTransit) {
            nsRun(r.namespace, ["ip", "route", "del", r.prefix, "via", r.via])
        }
        for r in wantedTransit.subtracting(transitRoutes) {
            nsRun(r.namespace, ["ip", "route", "replace", r.prefix, "via", r.via])
        }
        transitRoutes = wantedTransit
    }

    private struct TransitRoute: Hashable { var namespace: String; var prefix: String; var via: String }

    static func pairIndex(_ pair: String) -> UInt32 { fnv1a32(pair) % 4096 }

    /// strongSwan in the site namespace, one connection per vpngw connection to this site.
    private func syncSite(_ lng: LocalNetworkGateway, world: World) {
        guard let lid = lng.id, let ip = lng.properties.gatewayIpAddress else { return }
        let ns = siteNamespace(lid)
        let dir = directory.appendingPathComponent("site-\(Self.short(lid))")
        var conns = ""
        var secrets = ""
        for c in world.connections where ResourceID(parsing: c.properties.localNetworkGateway2?.id ?? "")?.key == ResourceID(parsing: lid)?.key {
            guard let gw = world.gateway(c.properties.virtualNetworkGateway1?.id),
                  let gwIP = world.publicIP(gw.properties.ipConfigurations?.first?.properties.publicIPAddress?.id)?.properties.ipAddress,
                  let key = c.properties.sharedKey, let vnet = world.vnetID(ofGateway: gw) else { continue }
            var remote = world.addressSpace(ofVNet: vnet).filter { $0.family == .v4 }.map(\.description)
            for (spoke, peering) in world.peeringsPointing(at: vnet) where peering.properties.useRemoteGateways == true {
                remote += (spoke.properties.addressSpace?.prefixes ?? []).filter { $0.family == .v4 }.map(\.description)
            }
            // The gateway's point-to-site clients reach the site through the tunnel too.
            if let vpc = gw.properties.vpnClientConfiguration, (vpc.vpnClientProtocols ?? [.SSTP]).contains(.SSTP) {
                remote += (vpc.vpnClientAddressPool?.prefixes ?? []).filter { $0.family == .v4 }.map(\.description)
            }
            let local = (lng.properties.localNetworkAddressSpace?.prefixes ?? []).filter { $0.family == .v4 }.map(\.description)
            // Transit between the sites of one gateway: the gateway routes tunnel → tunnel, so this
            // site's selectors also cover the other sites' prefixes. (A tunnel already up keeps the
            // selectors it negotiated until it is next established, as a real device would.)
            for other in world.connections(onGateway: gw.id ?? "") where other.properties.connectionType == .IPsec &&
                ResourceID(parsing: other.properties.virtualNetworkGateway1?.id ?? "")?.key == ResourceID(parsing: gw.id ?? "")?.key {
                guard let olng = world.localGateway(other.properties.localNetworkGateway2?.id),
                      ResourceID(parsing: olng.id ?? "")?.key != ResourceID(parsing: lid)?.key else { continue }
                for p in olng.properties.localNetworkAddressSpace?.prefixes ?? [] where p.family == .v4 {
                    let s = p.description
                    if !remote.contains(s) && !local.contains(s) { remote.append(s) }
                }
            }
            let name = "c" + Self.short(c.id ?? "")
            // The site initiates only when vpngw will not (ResponderOnly). Both initiating at once
            // left two IKE SAs per tunnel, and with start_action=start every reload of a changed
            // config (e.g. another site's prefixes added for transit) tears the site's SAs down and
            // re-initiates them, so a change to one connection cost the others packets.
            let startAction = c.properties.connectionMode == .ResponderOnly ? "start" : "none"
            conns += """
              \(name) {
                version = 2
                mobike = no
                local_addrs = \(ip)
                remote_addrs = \(gwIP)
                proposals = aes256-sha256-modp2048,aes128gcm16-prfsha256-x25519,aes256-sha1-modp1024,default
                dpd_delay = 10s
                local { auth = psk
                        id = \(ip) }
                remote { auth = psk
                         id = \(gwIP) }
                children {
                  net {
                    local_ts = \(local.joined(separator: ","))
                    remote_ts = \(remote.joined(separator: ","))
                    esp_proposals = aes128gcm16,aes256gcm16,aes256-sha256,default
                    start_action = \(startAction)
                    dpd_action = restart
                  }
                }
              }

            """
            secrets += "  ike-\(name) { id-a = \(ip)\n    id-b = \(gwIP)\n    secret = \"\(key.replacingOccurrences(of: "\"", with: "\\\""))\" }\n"
        }
        let swanctl = "connections {\n\(conns)}\nsecrets {\n\(secrets)}\n"
        guard siteConfigs[lid.lowercased()] != swanctl else { return }
        siteConfigs[lid.lowercased()] = swanctl
        try? FileManager.default.createDirectory(at: dir.appendingPathComponent("run"), withIntermediateDirectories: true)
        for sub in ["x509", "x509ca", "private"] { try? FileManager.default.createDirectory(at: dir.appendingPathComponent(sub), withIntermediateDirectories: true) }
        let conf = """
        charon {
          load_modular = no
          load = openssl random nonce pem pkcs1 x509 pubkey aes sha1 sha2 hmac kdf gcm chapoly curve25519 kernel-libipsec kernel-netlink socket-default vici updown
          install_virtual_ip = no
          retransmit_timeout = 1
          retransmit_tries = 3
          filelog { log { path = \(dir.path)/charon.log
                          time_format = %T
                          default = 1
                          flush_line = yes } }
          plugins {
            vici { socket = unix://\(dir.path)/charon.vici }
            kernel-netlink { roam_events = no }
          }
        }
        swanctl { load = pem pkcs1 x509 pubkey openssl random nonce }
        """
        try? conf.write(to: dir.appendingPathComponent("strongswan.conf"), atomically: true, encoding: .utf8)
        try? swanctl.write(to: dir.appendingPathComponent("swanctl.conf"), atomically: true, encoding: .utf8)
        if sitePIDs[lid.lowercased()] == nil || kill(sitePIDs[lid.lowercased()]!, 0) != 0 {
            try? FileManager.default.removeItem(at: dir.appendingPathComponent("charon.vici"))
            // A charon killed with the previous serve leaves its pidfile; the new one would refuse to start.
            try? FileManager.default.removeItem(at: dir.appendingPathComponent("run/charon.pid"))
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
            p.arguments = ["netns", "exec", ns, "sh", "-c", "mount --bind '\(dir.path)/run' /run && exec /usr/lib/ipsec/charon"]
            p.environment = ["STRONGSWAN_CONF": dir.appendingPathComponent("strongswan.conf").path, "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"]
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            do {
                try p.run()
                sitePIDs[lid.lowercased()] = p.processIdentifier
            } catch {
                logger.error("cannot start strongSwan for site \(lng.name ?? ""): \(error)")
                return
            }
            for _ in 0..<100 where !FileManager.default.fileExists(atPath: dir.appendingPathComponent("charon.vici").path) { usleep(50_000) }
        }
        let load = Process()
        load.executableURL = URL(fileURLWithPath: "/usr/sbin/swanctl")
        load.arguments = ["--load-all", "--uri", "unix://\(dir.path)/charon.vici", "--file", dir.appendingPathComponent("swanctl.conf").path]
        load.environment = ["STRONGSWAN_CONF": dir.appendingPathComponent("strongswan.conf").path]
        load.standardOutput = FileHandle.nullDevice
        load.standardError = FileHandle.nullDevice
        try? load.run()
        load.waitUntilExit()
    }

    private func deleteNamespace(_ ns: String) {
        for pid in nsOutput("", ["ip", "netns", "pids", ns]).split(whereSeparator: \.isWhitespace).compactMap({ Int32($0) }) {
            kill(pid, SIGKILL)
        }
        run(["ip", "netns", "del", ns])
        built.remove(ns)
    }

    public static func existingNamespaces() -> [String] {
        let out = LabNetwork.output(["ip", "netns", "list"])
        return out.split(separator: "\n").compactMap { $0.split(separator: " ").first.map(String.init) }
    }

    // MARK: Processes

    @discardableResult
    private func run(_ args: [String]) -> Int32 { Self.run(args) }
    private func nsRun(_ ns: String, _ args: [String]) { Self.run(["ip", "netns", "exec", ns] + args) }
    private func nsOutput(_ ns: String, _ args: [String]) -> String {
        Self.output(ns.isEmpty ? args : ["ip", "netns", "exec", ns] + args)
    }

    @discardableResult
    static func run(_ args: [String]) -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = args
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        do { try p.run() } catch { return -1 }
        p.waitUntilExit()
        return p.terminationStatus
    }

    static func output(_ args: [String]) -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = args
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = FileHandle.nullDevice
        do { try p.run() } catch { return "" }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }
}
