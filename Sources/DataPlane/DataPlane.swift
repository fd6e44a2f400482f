import CDataPlane
import ESP
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Why the forwarding path dropped a packet (never thrown; counted).
public enum ForwardingDrop: Int, CaseIterable, Sendable, CustomStringConvertible {
    case notIPv4, noRoute, noOutboundSA, sealRefused, unknownSPI, espDropped, tunWriteFailed, udpSendFailed, innerSourceNotAllowed, bandwidthCap

    public var description: String {
        switch self {
        case .notIPv4: "not an IPv4 packet"
        case .noRoute: "no route to a tunnel"
        case .noOutboundSA: "tunnel has no outbound SA yet"
        case .sealRefused: "ESP seal refused (lifetime or sequence numbers exhausted)"
        case .unknownSPI: "ESP with an unknown SPI"
        case .espDropped: "ESP packet failed inbound processing (see ESP drop reasons)"
        case .tunWriteFailed: "write to the TUN device failed"
        case .udpSendFailed: "UDP send failed"
        case .innerSourceNotAllowed: "inner source address outside the tunnel's remote prefixes"
        case .bandwidthCap: "over the gateway's SKU bandwidth (shared fairly by its tunnels)"
        }
    }
}

/// Per-tunnel traffic counters.
public struct TunnelCounters: Sendable, Equatable {
    public var packetsOut: UInt64 = 0
    public var bytesOut: UInt64 = 0
    public var packetsIn: UInt64 = 0
    public var bytesIn: UInt64 = 0
    public var lastInbound: ContinuousClock.Instant?
    public init() {}
}

/// A snapshot of the data plane's counters.
public struct DataPlaneCounters: Sendable {
    public var tunnels: [Int: TunnelCounters] = [:]
    public var drops: [ForwardingDrop: UInt64] = [:]
    public var espDrops: [ESPDropReason: UInt64] = [:]
    public var ikeDatagrams: UInt64 = 0
    public var keepalives: UInt64 = 0
    public var outboundCapDrops: UInt64 = 0
    public var inboundCapDrops: UInt64 = 0
}

/// The userspace ESP data plane: one TUN device and UDP sockets (IKE 500, NAT-T 4500) on
/// dedicated threads with plain syscalls.
///
/// Thread ownership (the invariant that makes this lock-free per packet):
/// - the **outbound thread** reads TUN, owns every `ESPOutboundSA` and the route table;
/// - the **inbound thread** reads UDP 4500, owns every `ESPInboundSA` (the SAD);
/// - the **IKE thread** reads UDP 500;
/// - control calls (`install…`, `remove…`) only enqueue commands that the owning thread applies
///   between batches, so make-before-break is a matter of command order.
public final class DataPlane: @unchecked Sendable {
    public struct Configuration: Sendable {
        public var tunName: String
        public var tunMTU: Int
        /// Local public address (host byte order) the UDP sockets bind to; 0 = any.
        public var localAddress: UInt32
        public var ikePort: UInt16
        public var nattPort: UInt16
        /// TCP MSS clamp for SYNs crossing the tunnel (Azure's 1350); 0 disables.
        public var mssClamp: UInt16
        public var socketBufferBytes: Int32
        /// The gateway's SKU throughput, shared by all its tunnels, in each direction; nil: no cap.
        public var rateLimitMbps: Int?
        public init(tunName: String = "vpngw%d", tunMTU: Int = 1400, localAddress: UInt32 = 0, ikePort: UInt16 = 500,
                    nattPort: UInt16 = 4500, mssClamp: UInt16 = 1350, socketBufferBytes: Int32 = 7 << 20, rateLimitMbps: Int? = nil) {
            self.tunName = tunName; self.tunMTU = tunMTU; self.localAddress = localAddress
            self.ikePort = ikePort; self.nattPort = nattPort; self.mssClamp = mssClamp; self.socketBufferBytes = socketBufferBytes
            self.rateLimitMbps = rateLimitMbps
        }
    }

    public struct StartError: Error, CustomStringConvertible { public var description: String }

    /// Receives IKE datagrams (non-ESP-marker already stripped on 4500): bytes, peer address
    /// (host order), peer port, local port.
    public typealias IKEHandler = @Sendable ([UInt8], UInt32, UInt16, UInt16) -> Void

    public let configuration: Configuration
    public private(set) var tunDeviceName = ""
    private var tunFD: Int32 = -1
    private var nattFD: Int32 = -1
    private var ikeFD: Int32 = -1
    private let running = Atomic<Bool>(false)
    private var threads: [Thread] = []
    private let ikeHandler: Mutex<IKEHandler?> = Mutex(nil)

    // Commands to the packet threads; `pending` is checked without locking each batch.
    private enum OutboundCommand {
        case setRoutes([(network: UInt32, length: Int, tunnel: Int)])
        case installOutbound(tunnel: Int, sa: ESPSAConfiguration, peer: UInt32, peerPort: UInt16)
        case removeOutbound(tunnel: Int)
    }
    private enum InboundCommand {
        case installInbound(tunnel: Int, sa: ESPSAConfiguration)
        case removeInbound(spi: UInt32)
    }
    private let outboundCommands = Mutex<[OutboundCommand]>([])
    private let inboundCommands = Mutex<[InboundCommand]>([])
    private let outboundPending = Atomic<Bool>(false)
    private let inboundPending = Atomic<Bool>(false)
    private let published = Mutex(DataPlaneCounters())

    public init(_ configuration: Configuration) {
        self.configuration = configuration
    }

    deinit { stop() }

    /// Opens the TUN device and sockets and starts the packet threads.
    public func start(ikeHandler: @escaping IKEHandler) throws {
        self.ikeHandler.withLock { $0 = ikeHandler }
        var name = [CChar](repeating: 0, count: 32)
        let fd = vpngw_tun_open(configuration.tunName, &name, 32)
        guard fd >= 0 else { throw StartError(description: "cannot open TUN device \(configuration.tunName): \(String(cString: strerror(-fd)))") }
        tunFD = fd
        tunDeviceName = String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let rc = vpngw_if_set_mtu_up(tunDeviceName, Int32(configuration.tunMTU))
        guard rc == 0 else { throw StartError(description: "cannot set MTU/up on \(tunDeviceName): \(String(cString: strerror(-rc)))") }
        let addr = configuration.localAddress.bigEndian
        nattFD = vpngw_udp4_socket(addr, configuration.nattPort, configuration.socketBufferBytes)
        guard nattFD >= 0 else { throw StartError(description: "cannot bind UDP \(IPv4.format(configuration.localAddress)):\(configuration.nattPort): \(String(cString: strerror(-nattFD)))") }
        ikeFD = vpngw_udp4_socket(addr, configuration.ikePort, 1 << 20)
        guard ikeFD >= 0 else { throw StartError(description: "cannot bind UDP \(IPv4.format(configuration.localAddress)):\(configuration.ikePort): \(String(cString: strerror(-ikeFD)))") }
        _ = vpngw_set_nonblocking(tunFD, 1)
        running.store(true, ordering: .releasing)
        let outbound = Thread { [unowned self] in self.outboundLoop() }
        outbound.name = "vpngw-out"
        let inbound = Thread { [unowned self] in self.inboundLoop() }
        inbound.name = "vpngw-in"
        let ike = Thread { [unowned self] in self.ikeLoop() }
        ike.name = "vpngw-ike"
        threads = [outbound, inbound, ike]
        for t in threads { t.start() }
    }

    /// Stops the threads (they notice within their poll timeout) and closes the descriptors.
    public func stop() {
        guard running.exchange(false, ordering: .acquiringAndReleasing) else { return }
        // Threads poll with a 50 ms timeout; wait for them to leave their loops.
        let deadline = ContinuousClock.now + .seconds(2)
        while exited.load(ordering: .acquiring) < threads.count && ContinuousClock.now < deadline { usleep(5_000) }
        for fd in [tunFD, nattFD, ikeFD] where fd >= 0 { close(fd) }
        tunFD = -1; nattFD = -1; ikeFD = -1
    }
    private let exited = Atomic<Int>(0)

    // MARK: Control

    /// Routes inner destinations to tunnels (route-based: the sites' prefixes).
    public func setRoutes(_ routes: [(network: UInt32, length: Int, tunnel: Int)]) {
        enqueue(.setRoutes(routes))
    }

    /// Installs a CHILD_SA pair for a tunnel. The inbound SA is installed first so the peer's
    /// first packets under the new SA are accepted before we switch our outbound (make-before-break).
    public func installChildSA(tunnel: Int, inbound: ESPSAConfiguration, outbound: ESPSAConfiguration, peer: UInt32, peerPort: UInt16) {
        inboundCommands.withLock { $0.append(.installInbound(tunnel: tunnel, sa: inbound)) }
        inboundPending.store(true, ordering: .releasing)
        enqueue(.installOutbound(tunnel: tunnel, sa: outbound, peer: peer, peerPort: peerPort))
    }

    /// Removes an inbound SA (after a rekey, once the old one has drained).
    public func removeInboundSA(spi: UInt32) {
        inboundCommands.withLock { $0.append(.removeInbound(spi: spi)) }
        inboundPending.store(true, ordering: .releasing)
    }

    public func removeTunnel(_ tunnel: Int) { enqueue(.removeOutbound(tunnel: tunnel)) }

    private func enqueue(_ c: OutboundCommand) {
        outboundCommands.withLock { $0.append(c) }
        outboundPending.store(true, ordering: .releasing)
    }

    /// Sends an IKE message. On the NAT-T port the caller's bytes get the non-ESP marker prepended.
    public func sendIKE(_ bytes: [UInt8], to peer: UInt32, port: UInt16, fromNATTPort: Bool) {
        let fd = fromNATTPort ? nattFD : ikeFD
        guard fd >= 0 else { return }
        var message = fromNATTPort ? [0, 0, 0, 0] + bytes : bytes
        message.withUnsafeMutableBytes { raw in
            var slot = vpngw_datagram(data: raw.baseAddress!.assumingMemoryBound(to: UInt8.self), capacity: UInt32(raw.count),
                                      length: UInt32(raw.count), addr_be: peer.bigEndian, port: port)
            _ = vpngw_udp_send_batch(fd, &slot, 1)
        }
    }

    public var counters: DataPlaneCounters { published.withLock { $0 } }

    // MARK: Outbound: TUN → route → ESP seal → UDP

    private static let batchSize = 64
    private static let headroom = 64
    private static let slotSize = 2048 + 128

    private struct OutboundTunnel {
        var sa: ESPOutboundSA
        var peer: UInt32
        var peerPort: UInt16
    }

    private func outboundLoop() {
        defer { exited.add(1, ordering: .releasing) }
        let batch = Self.batchSize, slotSize = Self.slotSize, headroom = Self.headroom
        let memory = UnsafeMutableRawBufferPointer.allocate(byteCount: batch * slotSize, alignment: 64)
        defer { memory.deallocate() }
        let datagrams = UnsafeMutablePointer<vpngw_datagram>.allocate(capacity: batch)
        defer { datagrams.deallocate() }
        var routes = IPv4RouteTable()
        var tunnels: [Int: OutboundTunnel] = [:]
        var drops = [UInt64](repeating: 0, count: ForwardingDrop.allCases.count)
        var perTunnel: [Int: (packets: UInt64, bytes: UInt64)] = [:]
        let mtu = configuration.tunMTU
        let mss = configuration.mssClamp
        var batchesSincePublish = 0
        var shaper = configuration.rateLimitMbps.map { FairShaper(megabitsPerSecond: $0) }

        while running.load(ordering: .relaxed) {
            if outboundPending.load(ordering: .acquiring) {
                outboundPending.store(false, ordering: .relaxed)
                let commands = outboundCommands.withLock { c -> [OutboundCommand] in defer { c.removeAll() }; return c }
                for command in commands {
                    switch command {
                    case .setRoutes(let r): routes.set(r)
                    case .installOutbound(let t, let config, let peer, let port):
                        if let sa = try? config.makeOutboundSA(installedAt: .now) {
                            tunnels[t] = OutboundTunnel(sa: sa, peer: peer, peerPort: port)
                        }
                    case .removeOutbound(let t): tunnels[t] = nil
                    }
                }
            }
            if vpngw_wait_readable(tunFD, 50) <= 0 { continue }
            var count = 0
            var reads = 0
            shaper?.refill(now: ContinuousClock.now)
            while reads < batch {
                let slot = memory.baseAddress! + reads * slotSize
                let n = read(tunFD, slot + headroom, mtu + 64)
                if n <= 0 { break }
                reads += 1
                let packet = slot + headroom
                guard let destination = IPv4Packet.destination(packet, length: n) else { drops[ForwardingDrop.notIPv4.rawValue] += 1; continue }
                guard let t = routes.lookup(destination) else { drops[ForwardingDrop.noRoute.rawValue] += 1; continue }
                guard let tunnel = tunnels[t] else { drops[ForwardingDrop.noOutboundSA.rawValue] += 1; continue }
                if shaper != nil, !shaper!.admit(bytes: n, tunnel: t) { drops[ForwardingDrop.bandwidthCap.rawValue] += 1; continue }
                if mss > 0 { IPv4Packet.clampTCPMSS(packet, length: n, maximum: mss) }
                let buffer = UnsafeMutableRawBufferPointer(start: slot, count: slotSize)
                switch tunnel.sa.seal(buffer, payload: headroom..<(headroom + n), nextHeader: .ipv4) {
                case .sealed(let range):
                    datagrams[count] = vpngw_datagram(data: (slot + range.lowerBound).assumingMemoryBound(to: UInt8.self),
                                                      capacity: UInt32(range.count), length: UInt32(range.count),
                                                      addr_be: tunnel.peer.bigEndian, port: tunnel.peerPort)
                    count += 1
                    perTunnel[t, default: (0, 0)].packets &+= 1
                    perTunnel[t, default: (0, 0)].bytes &+= UInt64(n)
                case .refused:
                    drops[ForwardingDrop.sealRefused.rawValue] += 1
                }
            }
            if count > 0 {
                let sent = vpngw_udp_send_batch(nattFD, datagrams, Int32(count))
                if sent < count { drops[ForwardingDrop.udpSendFailed.rawValue] += UInt64(count - max(0, Int(sent))) }
            }
            batchesSincePublish += 1
            if batchesSincePublish >= 64 || reads < batch {
                batchesSincePublish = 0
                publishOutbound(perTunnel: perTunnel, drops: drops)
            }
        }
        publishOutbound(perTunnel: perTunnel, drops: drops)
    }

    private func publishOutbound(perTunnel: [Int: (packets: UInt64, bytes: UInt64)], drops: [UInt64]) {
        published.withLock { p in
            for (t, c) in perTunnel { p.tunnels[t, default: TunnelCounters()].packetsOut = c.packets; p.tunnels[t, default: TunnelCounters()].bytesOut = c.bytes }
            for d in [ForwardingDrop.notIPv4, .noRoute, .noOutboundSA, .sealRefused, .udpSendFailed] { p.drops[d] = drops[d.rawValue] }
            p.outboundCapDrops = drops[ForwardingDrop.bandwidthCap.rawValue]
        }
    }

    // MARK: Inbound: UDP 4500 → classify → ESP open → TUN

    private func inboundLoop() {
        defer { exited.add(1, ordering: .releasing) }
        let batch = Self.batchSize, slotSize = Self.slotSize
        let memory = UnsafeMutableRawBufferPointer.allocate(byteCount: batch * slotSize, alignment: 64)
        defer { memory.deallocate() }
        let datagrams = UnsafeMutablePointer<vpngw_datagram>.allocate(capacity: batch)
        defer { datagrams.deallocate() }
        let sad = ESPSADatabase()
        var tunnelOfSPI: [UInt32: Int] = [:]
        var perTunnel: [Int: (packets: UInt64, bytes: UInt64)] = [:]
        var drops = [UInt64](repeating: 0, count: ForwardingDrop.allCases.count)
        var ike: UInt64 = 0, keepalives: UInt64 = 0
        var batchesSincePublish = 0
        var shaper = configuration.rateLimitMbps.map { FairShaper(megabitsPerSecond: $0) }

        func applyCommands() {
            guard inboundPending.load(ordering: .acquiring) else { return }
            inboundPending.store(false, ordering: .relaxed)
            let commands = inboundCommands.withLock { c -> [InboundCommand] in defer { c.removeAll() }; return c }
            for command in commands {
                switch command {
                case .installInbound(let t, let config):
                    if let sa = try? config.makeInboundSA(installedAt: .now) { sad.install(sa); tunnelOfSPI[config.spi] = t }
                case .removeInbound(let spi):
                    _ = sad.remove(spi: spi); tunnelOfSPI[spi] = nil
                }
            }
        }
        while running.load(ordering: .relaxed) {
            applyCommands()
            for i in 0..<batch {
                datagrams[i] = vpngw_datagram(data: (memory.baseAddress! + i * slotSize).assumingMemoryBound(to: UInt8.self),
                                              capacity: UInt32(slotSize), length: 0, addr_be: 0, port: 0)
            }
            let n = Int(vpngw_udp_recv_batch(nattFD, datagrams, Int32(batch), 50))
            if n <= 0 { continue }
            // An SA installed while we waited must be in place before the peer's first packet
            // under it is looked up (make-before-break).
            applyCommands()
            shaper?.refill(now: ContinuousClock.now)
            for i in 0..<n {
                let slot = memory.baseAddress! + i * slotSize
                let length = Int(datagrams[i].length)
                let view = UnsafeRawBufferPointer(start: slot, count: length)
                switch ESPUDPEncapsulation.classify(view) {
                case .natKeepalive:
                    keepalives += 1
                case .ike(let offset):
                    ike += 1
                    let bytes = [UInt8](view[offset...])
                    let peer = UInt32(bigEndian: datagrams[i].addr_be)
                    let port = datagrams[i].port
                    ikeHandler.withLock { $0 }?(bytes, peer, port, configuration.nattPort)
                case .esp(let spi):
                    let buffer = UnsafeMutableRawBufferPointer(start: slot, count: slotSize)
                    switch sad.open(buffer, packet: 0..<length) {
                    case .payload(let inner, _):
                        let t = tunnelOfSPI[spi] ?? -1
                        if shaper != nil, !shaper!.admit(bytes: inner.count, tunnel: t) {
                            drops[ForwardingDrop.bandwidthCap.rawValue] += 1
                        } else if write(tunFD, slot + inner.lowerBound, inner.count) < 0 {
                            drops[ForwardingDrop.tunWriteFailed.rawValue] += 1
                        } else {
                            perTunnel[t, default: (0, 0)].packets &+= 1
                            perTunnel[t, default: (0, 0)].bytes &+= UInt64(inner.count)
                        }
                    case .dropped:
                        drops[ForwardingDrop.espDropped.rawValue] += 1
                    }
                case .malformed:
                    drops[ForwardingDrop.espDropped.rawValue] += 1
                }
            }
            batchesSincePublish += 1
            if batchesSincePublish >= 64 || n < batch {
                batchesSincePublish = 0
                publishInbound(perTunnel: perTunnel, drops: drops, sad: sad, ike: ike, keepalives: keepalives)
            }
        }
    }

    private func publishInbound(perTunnel: [Int: (packets: UInt64, bytes: UInt64)], drops: [UInt64], sad: ESPSADatabase, ike: UInt64, keepalives: UInt64) {
        published.withLock { p in
            let now = ContinuousClock.now
            for (t, c) in perTunnel {
                if p.tunnels[t, default: TunnelCounters()].packetsIn != c.packets { p.tunnels[t, default: TunnelCounters()].lastInbound = now }
                p.tunnels[t, default: TunnelCounters()].packetsIn = c.packets
                p.tunnels[t, default: TunnelCounters()].bytesIn = c.bytes
            }
            for d in [ForwardingDrop.tunWriteFailed, .espDropped, .unknownSPI] { p.drops[d] = drops[d.rawValue] }
            p.inboundCapDrops = drops[ForwardingDrop.bandwidthCap.rawValue]
            p.drops[.bandwidthCap] = p.inboundCapDrops + p.outboundCapDrops
            var esp: [ESPDropReason: UInt64] = [:]
            for reason in ESPDropReason.allCases { esp[reason] = sad.drops[reason] }
            for spi in sad.spis { if let sa = sad.inboundSA(spi: spi) { for reason in ESPDropReason.allCases { esp[reason, default: 0] += sa.counters.drops[reason] } } }
            p.espDrops = esp
            p.ikeDatagrams = ike
            p.keepalives = keepalives
        }
    }

    // MARK: IKE on port 500

    private func ikeLoop() {
        defer { exited.add(1, ordering: .releasing) }
        let size = 65536
        let memory = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 16)
        defer { memory.deallocate() }
        var slot = vpngw_datagram(data: memory.baseAddress!.assumingMemoryBound(to: UInt8.self), capacity: UInt32(size), length: 0, addr_be: 0, port: 0)
        while running.load(ordering: .relaxed) {
            slot.capacity = UInt32(size)
            let n = vpngw_udp_recv_batch(ikeFD, &slot, 1, 50)
            guard n > 0 else { continue }
            let bytes = [UInt8](UnsafeRawBufferPointer(start: memory.baseAddress, count: Int(slot.length)))
            ikeHandler.withLock { $0 }?(bytes, UInt32(bigEndian: slot.addr_be), slot.port, configuration.ikePort)
        }
    }
}
