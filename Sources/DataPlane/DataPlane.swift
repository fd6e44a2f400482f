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
    case offloadRejected, rawESPUnavailable

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
        case .offloadRejected: "TUN offload packet that could not be segmented or checksummed"
        case .rawESPUnavailable: "tunnel uses raw ESP (IP protocol 50) but the raw socket could not be opened"
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

/// What the offloads did: each super-packet or coalesced write replaced that many per-packet syscalls.
public struct OffloadCounters: Sendable, Equatable {
    /// TCP super-packets read from the TUN (TSO) and the segments cut from them.
    public var tunSuperPacketsRead: UInt64 = 0
    public var tunSegmentsFromSuperPackets: UInt64 = 0
    /// sendmsg calls with UDP_SEGMENT and the datagrams they carried.
    public var udpGSOMessages: UInt64 = 0
    public var udpGSODatagrams: UInt64 = 0
    /// UDP_SEGMENT failed once on this path and was turned off.
    public var udpGSODisabled = false
    /// Receives that carried several coalesced datagrams (UDP_GRO) and those datagrams.
    public var groReceives: UInt64 = 0
    public var groDatagrams: UInt64 = 0
    /// TUN writes of merged TCP segments and the segments merged.
    public var tunCoalescedWrites: UInt64 = 0
    public var tunCoalescedSegments: UInt64 = 0
    /// ESP datagrams received on the raw IP protocol 50 socket.
    public var rawESPReceived: UInt64 = 0
    public init() {}
}

/// A snapshot of the data plane's counters.
public struct DataPlaneCounters: Sendable {
    public var offload = OffloadCounters()
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
        /// The gateway's SKU budget shared with its point-to-site server (one per direction); when
        /// set it replaces `rateLimitMbps`' private buckets, so S2S and P2S together stay under the SKU.
        public var bandwidth: GatewayBandwidth?
        /// TUN TSO + coalesced writes (IFF_VNET_HDR) and UDP GSO/GRO on 4500, each used when the
        /// kernel accepts it. Off: one syscall per packet (the path before offloads, for comparison).
        public var offloads: Bool
        public init(tunName: String = "vpngw%d", tunMTU: Int = 1400, localAddress: UInt32 = 0, ikePort: UInt16 = 500,
                    nattPort: UInt16 = 4500, mssClamp: UInt16 = 1350, socketBufferBytes: Int32 = 7 << 20, rateLimitMbps: Int? = nil,
                    offloads: Bool = true) {
            self.tunName = tunName; self.tunMTU = tunMTU; self.localAddress = localAddress
            self.ikePort = ikePort; self.nattPort = nattPort; self.mssClamp = mssClamp; self.socketBufferBytes = socketBufferBytes
            self.rateLimitMbps = rateLimitMbps; self.offloads = offloads; self.bandwidth = nil
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
    /// Raw IP protocol 50 socket for tunnels without UDP encapsulation; -1 if it could not be opened.
    private var rawFD: Int32 = -1
    private var tunOffload = false
    private var udpGSO = false
    private var udpGRO = false
    /// Whether SAs with `peerPort == 0` can be carried (the raw IP protocol 50 socket is open).
    public var rawESPAvailable: Bool { rawFD >= 0 }
    /// What `start` enabled, in words (for logs): offloads and raw ESP availability.
    public private(set) var capabilities: [String] = []
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
        var fd: Int32 = -1
        if configuration.offloads {
            fd = vpngw_tun_open_offload(configuration.tunName, &name, 32)
            if fd >= 0 { tunOffload = true } else { capabilities.append("TUN offloads unavailable (\(String(cString: strerror(-fd))))") }
        }
        if fd < 0 { fd = vpngw_tun_open(configuration.tunName, &name, 32) }
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
        if configuration.offloads {
            udpGSO = vpngw_udp_gso_supported(nattFD) == 1
            udpGRO = vpngw_udp_enable_gro(nattFD) == 0
        }
        capabilities.append(configuration.offloads
            ? "offloads: TUN TSO/coalescing \(tunOffload ? "on" : "off"), UDP GSO \(udpGSO ? "on" : "off"), UDP GRO \(udpGRO ? "on" : "off")"
            : "offloads: off")
        rawFD = vpngw_raw_esp_socket(addr, configuration.socketBufferBytes)
        if rawFD < 0 {
            capabilities.append("raw ESP (IP protocol 50) unavailable: \(String(cString: strerror(-rawFD)))")
            rawFD = -1
        } else {
            capabilities.append("raw ESP (IP protocol 50) ready")
        }
        _ = vpngw_set_nonblocking(tunFD, 1)
        running.store(true, ordering: .releasing)
        // Thread.name set before start does not reach the kernel on Linux: each thread names itself.
        let outbound = Thread { [unowned self] in vpngw_set_thread_name("vpngw-out"); self.outboundLoop() }
        let inbound = Thread { [unowned self] in vpngw_set_thread_name("vpngw-in"); self.inboundLoop() }
        let ike = Thread { [unowned self] in vpngw_set_thread_name("vpngw-ike"); self.ikeLoop() }
        threads = [outbound, inbound, ike]
        for t in threads { t.start() }
    }

    /// Stops the threads (they notice within their poll timeout) and closes the descriptors.
    public func stop() {
        guard running.exchange(false, ordering: .acquiringAndReleasing) else { return }
        // Threads poll with a 50 ms timeout; wait for them to leave their loops.
        let deadline = ContinuousClock.now + .seconds(2)
        while exited.load(ordering: .acquiring) < threads.count && ContinuousClock.now < deadline { usleep(5_000) }
        for fd in [tunFD, nattFD, ikeFD, rawFD] where fd >= 0 { close(fd) }
        tunFD = -1; nattFD = -1; ikeFD = -1; rawFD = -1
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

    // MARK: Outbound: TUN → (segment) → route → ESP seal → UDP (GSO) or raw ESP

    private static let batchSize = 64
    private static let headroom = 64
    private static let slotSize = 2048 + 128
    /// Sealed datagrams one pass may hold before it sends: a few 64 KiB super-packets' segments.
    private static let outboundSlots = 256
    /// One TUN read with offloads: vnet header + a 64 KiB super-packet.
    private static let superPacketBytes = VirtioNetHeader.length + 65536
    /// UDP_SEGMENT limits: UDP_MAX_SEGMENTS (include/linux/udp.h) and a byte budget well under the
    /// device's gso_max_size (65536 on veth). That limit is checked against the whole frame,
    /// link-layer header included (gso_features_check): a 65504-byte payload + UDP/IP + Ethernet
    /// crosses it and the kernel silently segments in software, which loses what GSO buys.
    private static let maxSegmentsPerSend = 64
    private static let maxBytesPerSend = 61_440
    /// Bytes kept free after an inner packet for ESP padding and ICV (seal refuses if short).
    private static let tailroomReserve = 320

    private struct OutboundTunnel {
        var sa: ESPOutboundSA
        var peer: UInt32
        /// UDP port of the peer's NAT-T socket; 0 = raw ESP (IP protocol 50).
        var peerPort: UInt16
    }

    private func outboundLoop() {
        defer { exited.add(1, ordering: .releasing) }
        let slotSize = Self.slotSize, headroom = Self.headroom
        let offload = tunOffload
        let slots = offload ? Self.outboundSlots : Self.batchSize
        let memory = UnsafeMutableRawBufferPointer.allocate(byteCount: slots * slotSize, alignment: 64)
        defer { memory.deallocate() }
        let superPacket = UnsafeMutableRawPointer.allocate(byteCount: offload ? Self.superPacketBytes : 1, alignment: 64)
        defer { superPacket.deallocate() }
        let spans = UnsafeMutablePointer<vpngw_span>.allocate(capacity: slots)
        defer { spans.deallocate() }
        let spanPeer = UnsafeMutablePointer<UInt32>.allocate(capacity: slots)
        defer { spanPeer.deallocate() }
        let spanPort = UnsafeMutablePointer<UInt16>.allocate(capacity: slots)
        defer { spanPort.deallocate() }
        let messages = UnsafeMutablePointer<vpngw_gso_message>.allocate(capacity: slots)
        defer { messages.deallocate() }
        var routes = IPv4RouteTable()
        var tunnels: [Int: OutboundTunnel] = [:]
        var drops = [UInt64](repeating: 0, count: ForwardingDrop.allCases.count)
        var perTunnel: [Int: (packets: UInt64, bytes: UInt64)] = [:]
        var stats = OffloadCounters()
        var gso = udpGSO
        let mtu = configuration.tunMTU
        let mss = configuration.mssClamp
        var batchesSincePublish = 0
        var nextPublish = ContinuousClock.now
        var shaper = configuration.bandwidth.map { FairShaper(budget: $0.outbound) } ?? configuration.rateLimitMbps.map { FairShaper(megabitsPerSecond: $0) }
        var used = 0

        /// Routes, shapes and seals the packet at slot+headroom; on success it becomes span `used`.
        func forward(_ slot: UnsafeMutableRawPointer, _ n: Int) {
            let packet = slot + headroom
            guard let destination = IPv4Packet.destination(packet, length: n) else { drops[ForwardingDrop.notIPv4.rawValue] += 1; return }
            guard let t = routes.lookup(destination) else { drops[ForwardingDrop.noRoute.rawValue] += 1; return }
            guard let tunnel = tunnels[t] else { drops[ForwardingDrop.noOutboundSA.rawValue] += 1; return }
            if tunnel.peerPort == 0 && rawFD < 0 { drops[ForwardingDrop.rawESPUnavailable.rawValue] += 1; return }
            if shaper != nil, !shaper!.admit(bytes: n, tunnel: t) { drops[ForwardingDrop.bandwidthCap.rawValue] += 1; return }
            if mss > 0 { IPv4Packet.clampTCPMSS(packet, length: n, maximum: mss) }
            let buffer = UnsafeMutableRawBufferPointer(start: slot, count: slotSize)
            switch tunnel.sa.seal(buffer, payload: headroom..<(headroom + n), nextHeader: .ipv4) {
            case .sealed(let range):
                spans[used] = vpngw_span(data: (slot + range.lowerBound).assumingMemoryBound(to: UInt8.self), length: UInt32(range.count))
                spanPeer[used] = tunnel.peer
                spanPort[used] = tunnel.peerPort
                used += 1
                perTunnel[t, default: (0, 0)].packets &+= 1
                perTunnel[t, default: (0, 0)].bytes &+= UInt64(n)
            case .refused:
                drops[ForwardingDrop.sealRefused.rawValue] += 1
            }
        }

        /// Sends spans 0..<used: consecutive equal-sized datagrams to one UDP peer go out as one
        /// UDP_SEGMENT message (the last may be shorter); raw ESP goes one datagram per message.
        func flush(from start: Int = 0) {
            guard used > start else { used = 0; return }
            var count = 0
            var i = start
            while i < used {
                let size = spans[i].length
                var j = i + 1
                if gso && spanPort[i] != 0 {
                    var total = Int(size)
                    while j < used, j - i < Self.maxSegmentsPerSend, spanPeer[j] == spanPeer[i], spanPort[j] == spanPort[i],
                          spans[j].length <= size, total + Int(spans[j].length) <= Self.maxBytesPerSend {
                        total += Int(spans[j].length)
                        j += 1
                        if spans[j - 1].length < size { break }
                    }
                }
                messages[count] = vpngw_gso_message(addr_be: spanPeer[i].bigEndian, port: spanPort[i],
                                                    segment_size: j - i > 1 ? UInt16(size) : 0,
                                                    first_span: UInt32(i), span_count: UInt32(j - i))
                count += 1
                i = j
            }
            // Runs of messages for one socket, at most batchSize per sendmmsg.
            var m = 0
            while m < count {
                let raw = messages[m].port == 0
                var end = m + 1
                while end < count, end - m < Self.batchSize, (messages[end].port == 0) == raw { end += 1 }
                let sent = Int(vpngw_udp_send_gso_batch(raw ? rawFD : nattFD, messages + m, Int32(end - m), spans))
                if sent < 0 && !raw && gso && (sent == -Int(EIO) || sent == -Int(EINVAL)) {
                    // The path cannot segment (e.g. no checksum offload): GSO off for good, and
                    // everything from this message on goes again, one datagram per message.
                    gso = false
                    stats.udpGSODisabled = true
                    flush(from: Int(messages[m].first_span))
                    return
                }
                for k in m..<end {
                    if k - m < sent {
                        if messages[k].segment_size > 0 { stats.udpGSOMessages &+= 1; stats.udpGSODatagrams &+= UInt64(messages[k].span_count) }
                    } else {
                        drops[ForwardingDrop.udpSendFailed.rawValue] += UInt64(messages[k].span_count)
                    }
                }
                m = end
            }
            used = 0
        }

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
            var reads = 0
            shaper?.refill(now: ContinuousClock.now)
            while reads < Self.batchSize {
                if !offload {
                    let slot = memory.baseAddress! + used * slotSize
                    let n = read(tunFD, slot + headroom, mtu + 64)
                    if n <= 0 { break }
                    reads += 1
                    forward(slot, n)
                    if used == slots { flush() }
                    continue
                }
                let n = read(tunFD, superPacket, Self.superPacketBytes)
                if n <= 0 { break }
                reads += 1
                guard n > VirtioNetHeader.length else { drops[ForwardingDrop.notIPv4.rawValue] += 1; continue }
                let header = VirtioNetHeader(loadingFrom: superPacket)
                let packet = superPacket + VirtioNetHeader.length
                let length = n - VirtioNetHeader.length
                if header.gsoType == VirtioNetHeader.gsoNone {
                    guard length <= slotSize - headroom - Self.tailroomReserve else { drops[ForwardingDrop.offloadRejected.rawValue] += 1; continue }
                    if header.flags & VirtioNetHeader.needsChecksum != 0,
                       !TCPSegmentation.completeChecksum(packet, length: length, header: header) {
                        drops[ForwardingDrop.offloadRejected.rawValue] += 1; continue
                    }
                    if used == slots { flush() }
                    let slot = memory.baseAddress! + used * slotSize
                    (slot + headroom).copyMemory(from: packet, byteCount: length)
                    forward(slot, length)
                    continue
                }
                var rejection: OffloadRejection?
                guard let segmentation = TCPSegmentation(header, packet: packet, length: length, rejection: &rejection),
                      segmentation.headerLength + segmentation.segmentSize <= slotSize - headroom - Self.tailroomReserve else {
                    drops[ForwardingDrop.offloadRejected.rawValue] += 1; continue
                }
                stats.tunSuperPacketsRead &+= 1
                stats.tunSegmentsFromSuperPackets &+= UInt64(segmentation.count)
                for index in 0..<segmentation.count {
                    if used == slots { flush() }
                    let slot = memory.baseAddress! + used * slotSize
                    let segmentLength = segmentation.write(segment: index, from: packet, to: slot + headroom)
                    forward(slot, segmentLength)
                }
                // Keep room for the next super-packet's segments in this pass.
                if used + 48 > slots { flush() }
            }
            flush()
            // Publish at least every 20 ms under load: byte lifetimes are judged from these
            // counters, and one batch can be 64 super-packets (4 MB).
            batchesSincePublish += 1
            if reads < Self.batchSize || batchesSincePublish >= 64 || ContinuousClock.now >= nextPublish {
                batchesSincePublish = 0
                nextPublish = ContinuousClock.now + Self.publishInterval
                publishOutbound(perTunnel: perTunnel, drops: drops, stats: stats)
            }
        }
        publishOutbound(perTunnel: perTunnel, drops: drops, stats: stats)
    }

    private func publishOutbound(perTunnel: [Int: (packets: UInt64, bytes: UInt64)], drops: [UInt64], stats: OffloadCounters) {
        published.withLock { p in
            for (t, c) in perTunnel { p.tunnels[t, default: TunnelCounters()].packetsOut = c.packets; p.tunnels[t, default: TunnelCounters()].bytesOut = c.bytes }
            for d in [ForwardingDrop.notIPv4, .noRoute, .noOutboundSA, .sealRefused, .udpSendFailed, .offloadRejected, .rawESPUnavailable] { p.drops[d] = drops[d.rawValue] }
            p.outboundCapDrops = drops[ForwardingDrop.bandwidthCap.rawValue]
            p.offload.tunSuperPacketsRead = stats.tunSuperPacketsRead
            p.offload.tunSegmentsFromSuperPackets = stats.tunSegmentsFromSuperPackets
            p.offload.udpGSOMessages = stats.udpGSOMessages
            p.offload.udpGSODatagrams = stats.udpGSODatagrams
            p.offload.udpGSODisabled = stats.udpGSODisabled
        }
    }

    // MARK: Inbound: UDP 4500 (GRO) or raw ESP → classify → ESP open → TUN (coalesced)

    private static let inboundGROSlots = 32
    private static let groSlotBytes = 65536
    private static let coalescingGroups = 4
    private static let publishInterval = Duration.milliseconds(20)

    private func inboundLoop() {
        defer { exited.add(1, ordering: .releasing) }
        let gro = udpGRO
        let slots = gro ? Self.inboundGROSlots : Self.batchSize
        let slotBytes = gro ? Self.groSlotBytes : Self.slotSize
        let memory = UnsafeMutableRawBufferPointer.allocate(byteCount: slots * slotBytes, alignment: 64)
        defer { memory.deallocate() }
        let datagrams = UnsafeMutablePointer<vpngw_gro_datagram>.allocate(capacity: slots)
        defer { datagrams.deallocate() }
        let offload = tunOffload
        let groupBytes = VirtioNetHeader.length + 65536
        let groupMemory = UnsafeMutableRawPointer.allocate(byteCount: offload ? Self.coalescingGroups * groupBytes : 1, alignment: 64)
        defer { groupMemory.deallocate() }
        var groups = (0..<(offload ? Self.coalescingGroups : 0)).map { TCPCoalescingGroup(buffer: groupMemory + $0 * groupBytes, capacity: groupBytes) }
        var nextVictim = 0
        let sad = ESPSADatabase()
        var tunnelOfSPI: [UInt32: Int] = [:]
        var perTunnel: [Int: (packets: UInt64, bytes: UInt64)] = [:]
        var drops = [UInt64](repeating: 0, count: ForwardingDrop.allCases.count)
        var ike: UInt64 = 0, keepalives: UInt64 = 0
        var stats = OffloadCounters()
        var batchesSincePublish = 0
        var nextPublish = ContinuousClock.now
        var shaper = configuration.bandwidth.map { FairShaper(budget: $0.inbound) } ?? configuration.rateLimitMbps.map { FairShaper(megabitsPerSecond: $0) }

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

        /// Writes one packet that has at least VirtioNetHeader.length bytes of scratch before it.
        func writeSingle(_ p: UnsafeMutableRawPointer, _ length: Int) {
            if offload {
                VirtioNetHeader.storePlain(to: p - VirtioNetHeader.length)
                if write(tunFD, p - VirtioNetHeader.length, length + VirtioNetHeader.length) < 0 { drops[ForwardingDrop.tunWriteFailed.rawValue] += 1 }
            } else if write(tunFD, p, length) < 0 {
                drops[ForwardingDrop.tunWriteFailed.rawValue] += 1
            }
        }

        func flushGroup(_ k: Int) {
            let segments = groups[k].segments
            guard segments > 0 else { return }
            let (p, n) = groups[k].finish()
            if segments > 1 { stats.tunCoalescedWrites &+= 1; stats.tunCoalescedSegments &+= UInt64(segments) }
            if write(tunFD, p, n) < 0 { drops[ForwardingDrop.tunWriteFailed.rawValue] += UInt64(segments) }
        }

        /// Hands a decrypted inner packet to the kernel, merging TCP runs when offloads are on.
        func deliver(_ p: UnsafeMutableRawPointer, _ length: Int) {
            guard offload else { writeSingle(p, length); return }
            var same = -1
            for k in 0..<groups.count where groups[k].sameFlow(p, length: length) { same = k; break }
            if TCPCoalescingGroup.eligible(p, length: length) {
                if same >= 0 {
                    if groups[same].append(p, length: length) { return }
                    flushGroup(same)
                    groups[same].start(p, length: length)
                    return
                }
                var k = -1
                for g in 0..<groups.count where groups[g].isEmpty { k = g; break }
                if k < 0 { k = nextVictim; nextVictim = (nextVictim + 1) % groups.count; flushGroup(k) }
                groups[k].start(p, length: length)
            } else {
                if same >= 0 { flushGroup(same) }     // keep the flow's order
                writeSingle(p, length)
            }
        }

        func open(_ base: UnsafeMutableRawPointer, capacity: Int, esp: Range<Int>, spi: UInt32) {
            let buffer = UnsafeMutableRawBufferPointer(start: base, count: capacity)
            switch sad.open(buffer, packet: esp) {
            case .payload(let inner, _):
                let t = tunnelOfSPI[spi] ?? -1
                if shaper != nil, !shaper!.admit(bytes: inner.count, tunnel: t) {
                    drops[ForwardingDrop.bandwidthCap.rawValue] += 1
                    return
                }
                deliver(base + inner.lowerBound, inner.count)
                perTunnel[t, default: (0, 0)].packets &+= 1
                perTunnel[t, default: (0, 0)].bytes &+= UInt64(inner.count)
            case .dropped:
                drops[ForwardingDrop.espDropped.rawValue] += 1
            }
        }

        /// One UDP datagram on 4500 at base+offset: keepalive, IKE (non-ESP marker) or ESP.
        func handleUDP(_ base: UnsafeMutableRawPointer, capacity: Int, offset: Int, length: Int, peer: UInt32, port: UInt16) {
            let view = UnsafeRawBufferPointer(start: base + offset, count: length)
            switch ESPUDPEncapsulation.classify(view) {
            case .natKeepalive:
                keepalives += 1
            case .ike(let skip):
                ike += 1
                let bytes = [UInt8](view[skip...])
                ikeHandler.withLock { $0 }?(bytes, peer, port, configuration.nattPort)
            case .esp(let spi):
                open(base, capacity: capacity, esp: offset..<(offset + length), spi: spi)
            case .malformed:
                drops[ForwardingDrop.espDropped.rawValue] += 1
            }
        }

        /// One raw IP protocol 50 datagram: the IPv4 header, then ESP.
        func handleRaw(_ base: UnsafeMutableRawPointer, capacity: Int, length: Int) {
            guard length >= 28, base.load(as: UInt8.self) >> 4 == 4 else { drops[ForwardingDrop.espDropped.rawValue] += 1; return }
            let ihl = Int(base.load(as: UInt8.self) & 0x0f) * 4
            guard ihl >= 20, length >= ihl + 8, base.load(fromByteOffset: 9, as: UInt8.self) == 50 else { drops[ForwardingDrop.espDropped.rawValue] += 1; return }
            let spi = UInt32(bigEndian: base.loadUnaligned(fromByteOffset: ihl, as: UInt32.self))
            stats.rawESPReceived &+= 1
            open(base, capacity: capacity, esp: ihl..<length, spi: spi)
        }

        func receive(_ fd: Int32, raw: Bool) {
            for i in 0..<slots {
                datagrams[i] = vpngw_gro_datagram(data: (memory.baseAddress! + i * slotBytes).assumingMemoryBound(to: UInt8.self),
                                                  capacity: UInt32(slotBytes), length: 0, addr_be: 0, port: 0, segment_size: 0)
            }
            let n = Int(vpngw_udp_recv_gro_batch(fd, datagrams, Int32(slots), 0))
            guard n > 0 else { return }
            // An SA installed while we waited must be in place before the peer's first packet
            // under it is looked up (make-before-break).
            applyCommands()
            shaper?.refill(now: ContinuousClock.now)
            for i in 0..<n {
                let base = memory.baseAddress! + i * slotBytes
                let length = Int(datagrams[i].length)
                if raw { handleRaw(base, capacity: slotBytes, length: length); continue }
                let segment = datagrams[i].segment_size > 0 ? Int(datagrams[i].segment_size) : length
                if segment < length { stats.groReceives &+= 1; stats.groDatagrams &+= UInt64((length + segment - 1) / segment) }
                let peer = UInt32(bigEndian: datagrams[i].addr_be), port = datagrams[i].port
                var offset = 0
                while offset < length {
                    handleUDP(base, capacity: slotBytes, offset: offset, length: min(segment, length - offset), peer: peer, port: port)
                    offset += segment
                }
            }
            for k in 0..<groups.count { flushGroup(k) }
            batchesSincePublish += 1
            if n < slots || batchesSincePublish >= 64 || ContinuousClock.now >= nextPublish {
                batchesSincePublish = 0
                nextPublish = ContinuousClock.now + Self.publishInterval
                publishInbound(perTunnel: perTunnel, drops: drops, sad: sad, ike: ike, keepalives: keepalives, stats: stats)
            }
        }

        while running.load(ordering: .relaxed) {
            applyCommands()
            let ready = vpngw_wait_readable2(nattFD, rawFD, 50)
            if ready <= 0 { continue }
            if ready & 1 != 0 { receive(nattFD, raw: false) }
            if ready & 2 != 0 { receive(rawFD, raw: true) }
        }
    }

    private func publishInbound(perTunnel: [Int: (packets: UInt64, bytes: UInt64)], drops: [UInt64], sad: ESPSADatabase, ike: UInt64, keepalives: UInt64, stats: OffloadCounters) {
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
            p.offload.groReceives = stats.groReceives
            p.offload.groDatagrams = stats.groDatagrams
            p.offload.tunCoalescedWrites = stats.tunCoalescedWrites
            p.offload.tunCoalescedSegments = stats.tunCoalescedSegments
            p.offload.rawESPReceived = stats.rawESPReceived
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
