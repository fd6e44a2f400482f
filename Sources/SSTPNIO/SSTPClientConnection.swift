// Our own SSTP client core (`SSTPClientCall`) over a direct swift-nio-ssl connection: the
// `--engine native` path of `vpngw p2s connect`, the load generator and the benchmarks.
// The server certificate is not verified (like sstpc --cert-warn) but its DER is what the
// crypto binding hashes, so a TLS-terminating proxy is still detected by the server.
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS
import PPP
import SSTP

public struct SSTPClientOptions: Sendable {
    public var host: String
    public var port: Int
    public var user: String
    public var password: String
    public var timers = SSTPTimers()
    /// Certificate authentication (EAP-TLS): PEM certificate (leaf first) and key files.
    public var certificateFile: String?
    public var keyFile: String?
    /// Received IPv4 packets once connected, straight from the receive buffer (valid only during
    /// the call; on the event loop) instead of `.packets` events.
    public var deliverIPv4: (@Sendable (UnsafeRawBufferPointer) -> Void)?
    /// Called after the packets of one read event went to `deliverIPv4` (flush a coalescing TUN writer).
    public var deliverIPv4End: (@Sendable () -> Void)?

    public init(host: String, port: Int, user: String, password: String) {
        self.host = host
        self.port = port
        self.user = user
        self.password = password
    }
}

public enum SSTPClientEvent: Sendable {
    case connected(localIP: PPPIPv4Address, peerIP: PPPIPv4Address, dns: [PPPIPv4Address])
    case packets([[UInt8]])
    case closed(SSTPCloseReason)
}

public final class SSTPClientConnection: @unchecked Sendable {
    let channel: any Channel
    let handler: NIOLoopBound<SSTPClientHandler>
    let eapTLSBox: NIOLockedValueBox<String?>

    init(channel: any Channel, handler: SSTPClientHandler) {
        self.channel = channel
        self.handler = NIOLoopBound(handler, eventLoop: channel.eventLoop)
        eapTLSBox = handler.eapTLSVersion
    }

    /// Certificate sessions, once connected: the EAP-TLS variant used, "TLS 1.3 (RFC 9190)" or
    /// "TLS 1.2 (RFC 5216)"; nil for password sessions or before the connection is up (any thread).
    public var eapTLSVersion: String? { eapTLSBox.withLockedValue { $0 } }

    /// Connects, runs TLS and the SSTP/PPP client; events arrive on the channel's event loop.
    public static func connect(group: any EventLoopGroup, options: SSTPClientOptions,
                               onEvent: @escaping @Sendable (SSTPClientEvent) -> Void) -> EventLoopFuture<SSTPClientConnection> {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.certificateVerification = .none
        tls.minimumTLSVersion = .tlsv12
        let context: NIOSSLContext
        do { context = try NIOSSLContext(configuration: tls) } catch { return group.next().makeFailedFuture(error) }
        let box = NIOLockedValueBox<SSTPClientHandler?>(nil)
        return ClientBootstrap(group: group)
            .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .channelOption(ChannelOptions.writeBufferWaterMark, value: .init(low: 256 * 1024, high: 1024 * 1024))
            .connectTimeout(.seconds(10))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let handler = SSTPClientHandler(options: options, onEvent: onEvent)
                    box.withLockedValue { $0 = handler }
                    try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: context, serverHostname: nil))
                    try channel.pipeline.syncOperations.addHandler(handler)
                }
            }
            .connect(host: options.host, port: options.port)
            .map { channel in SSTPClientConnection(channel: channel, handler: box.withLockedValue { $0! }) }
    }

    /// IPv4 packets to the server (any thread).
    public func send(_ packets: [[UInt8]]) {
        let handler = self.handler
        channel.eventLoop.execute { handler.value.sendUp(packets) }
    }

    /// Packets framed with SSTPDataFastPath by the caller (one TLS write for the whole batch).
    public func sendFramed(_ buffer: ByteBuffer) {
        let handler = self.handler
        channel.eventLoop.execute { handler.value.sendFramed(buffer) }
    }

    public func disconnect(reason: String = "user hung up") {
        let handler = self.handler
        channel.eventLoop.execute { handler.value.disconnect(reason: reason) }
    }

    public var closeFuture: EventLoopFuture<Void> { channel.closeFuture }
    public var eventLoop: any EventLoop { channel.eventLoop }
}

final class SSTPClientHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let options: SSTPClientOptions
    let onEvent: @Sendable (SSTPClientEvent) -> Void
    var context: ChannelHandlerContext?
    var call: SSTPClientCall?
    var timer: Scheduled<Void>?
    var closed = false
    var reported = false
    var partial: ByteBuffer?
    /// The EAP-TLS engine of this call (certificate sessions), for its negotiated version.
    let eapEngine = NIOLockedValueBox<NIOEAPTLSEngine?>(nil)
    let eapTLSVersion = NIOLockedValueBox<String?>(nil)

    init(options: SSTPClientOptions, onEvent: @escaping @Sendable (SSTPClientEvent) -> Void) {
        self.options = options
        self.onEvent = onEvent
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let tls = event as? TLSUserEvent, case .handshakeCompleted = tls {
            let der = (try? context.pipeline.syncOperations.handler(type: NIOSSLClientHandler.self).peerCertificate?.toDERBytes()) ?? []
            var ppp = PPPClientConfiguration(userName: options.user, password: options.password)
            if let certificateFile = options.certificateFile, let keyFile = options.keyFile,
               let loaded = try? P2SCertificate.loadNIO(certificateFile: certificateFile, keyFile: keyFile) {
                let (chain, key) = (loaded.chain, loaded.key)
                let engineBox = eapEngine
                ppp.eapTLS = EAPTLSClientSetup(identity: options.user) {
                    let engine = try NIOEAPTLSEngine(clientChain: chain, privateKey: key)
                    engineBox.withLockedValue { $0 = engine }
                    return engine
                }
            }
            var configuration = SSTPClientConfiguration(host: options.host, correlationID: "{\(UUID().uuidString)}", serverCertificateDER: der, ppp: ppp)
            configuration.timers = options.timers
            call = SSTPClientCall(configuration: configuration, random: SystemPPPRandom())
            run(call!.start(now: pppNow()))
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        guard call != nil, !closed else { return }
        let now = pppNow()
        guard let deliver = options.deliverIPv4, call!.dataFastPathOpen || partial != nil else {
            run(call!.handle(bytes: buffer.readBytes(length: buffer.readableBytes) ?? [], now: now))
            return
        }
        // Connected: whole packets are cut here; IPv4 goes out from this buffer (as the server).
        if var held = partial {
            partial = nil
            held.writeBuffer(&buffer)
            buffer = held
        }
        call!.noteReceived(now: now)
        defer { options.deliverIPv4End?() }
        while !closed, call != nil, call!.dataFastPathOpen, buffer.readableBytes >= 4 {
            guard let length = buffer.withUnsafeReadableBytes({ SSTPDataFastPath.packetLength($0) }), buffer.readableBytes >= length else { break }
            let delivered = buffer.withUnsafeReadableBytes { raw -> Bool in
                let packet = UnsafeRawBufferPointer(rebasing: raw[0..<length])
                guard let offset = SSTPDataFastPath.ipv4Offset(packet) else { return false }
                deliver(UnsafeRawBufferPointer(rebasing: packet[offset...]))
                return true
            }
            if delivered {
                buffer.moveReaderIndex(forwardBy: length)
            } else {
                run(call!.handle(bytes: buffer.readBytes(length: length) ?? [], now: now))
            }
        }
        guard buffer.readableBytes > 0, !closed, call != nil else { return }
        if call!.dataFastPathOpen, buffer.withUnsafeReadableBytes({ $0.count < 4 || SSTPDataFastPath.packetLength($0) != nil }) {
            partial = buffer
        } else {
            run(call!.handle(bytes: buffer.readBytes(length: buffer.readableBytes) ?? [], now: now))
        }
    }

    func sendFramed(_ buffer: ByteBuffer) {
        guard let context, let call, !closed, call.canSendData, context.channel.isWritable else { return }
        context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if call != nil, !closed { run(call!.transportClosed(now: pppNow())) }
        if !reported { reported = true; onEvent(.closed(.transportClosed)) }
        timer?.cancel()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if !reported { reported = true; onEvent(.closed(.closedLocally("\(error)"))) }
        context.close(promise: nil)
    }

    func sendUp(_ packets: [[UInt8]]) {
        guard let context, let call, !closed else { return }
        var wrote = false
        for packet in packets {
            guard let framed = call.frameIPv4(packet) else { continue }
            context.write(wrapOutboundOut(context.channel.allocator.buffer(bytes: framed)), promise: nil)
            wrote = true
        }
        if wrote { context.flush() }
    }

    func disconnect(reason: String) {
        guard call != nil, !closed else { context?.close(promise: nil); return }
        run(call!.disconnect(reason: reason, now: pppNow()))
    }

    func run(_ actions: [SSTPClientAction]) {
        guard let context else { return }
        var wrote = false
        var delivered: [[UInt8]] = []
        for action in actions {
            switch action {
            case .send(let bytes):
                context.write(wrapOutboundOut(context.channel.allocator.buffer(bytes: bytes)), promise: nil)
                wrote = true
            case .armTimer(let deadline):
                timer?.cancel()
                let loopSelf = NIOLoopBound(self, eventLoop: context.eventLoop)
                timer = context.eventLoop.scheduleTask(deadline: NIODeadline.uptimeNanoseconds(UInt64(max(0, deadline.nanoseconds)))) {
                    loopSelf.value.fire()
                }
            case .bound:
                break
            case .connected(let local, let peer, let dns):
                if let engine = eapEngine.withLockedValue({ $0 }) {
                    eapTLSVersion.withLockedValue { $0 = engine.negotiatedTLS13 ? "TLS 1.3 (RFC 9190)" : "TLS 1.2 (RFC 5216)" }
                }
                onEvent(.connected(localIP: local, peerIP: peer, dns: dns))
            case .deliver(let packet):
                delivered.append(packet)
            case .close(let reason):
                closed = true
                timer?.cancel()
                if !delivered.isEmpty { onEvent(.packets(delivered)); delivered = [] }
                if !reported { reported = true; onEvent(.closed(reason)) }
                if wrote { context.flush() }
                wrote = false
                context.close(promise: nil)
            }
        }
        if !delivered.isEmpty { onEvent(.packets(delivered)) }
        if wrote { context.flush() }
    }

    func fire() {
        timer = nil
        guard call != nil, !closed else { return }
        run(call!.handleTimer(now: pppNow()))
    }
}

/// An ICMP echo request from `source` to `destination` (for the load generator's pings).
public func icmpEchoRequest(source: PPPIPv4Address, destination: PPPIPv4Address, identifier: UInt16, sequence: UInt16, payload: Int = 32) -> [UInt8] {
    var icmp: [UInt8] = [8, 0, 0, 0, UInt8(identifier >> 8), UInt8(identifier & 0xFF), UInt8(sequence >> 8), UInt8(sequence & 0xFF)]
    icmp += (0..<payload).map { UInt8(truncatingIfNeeded: $0) }
    let c1 = internetChecksum(icmp)
    icmp[2] = UInt8(c1 >> 8); icmp[3] = UInt8(c1 & 0xFF)
    let total = 20 + icmp.count
    var ip: [UInt8] = [0x45, 0, UInt8(total >> 8), UInt8(total & 0xFF), 0, 0, 0x40, 0, 64, 1, 0, 0]
    ip += source.octets + destination.octets
    let c2 = internetChecksum(ip)
    ip[10] = UInt8(c2 >> 8); ip[11] = UInt8(c2 & 0xFF)
    return ip + icmp
}

/// (source, identifier, sequence) of an ICMP echo reply, else nil.
public func icmpEchoReply(_ packet: [UInt8]) -> (source: PPPIPv4Address, identifier: UInt16, sequence: UInt16)? {
    guard packet.count >= 28, packet[0] >> 4 == 4, packet[9] == 1 else { return nil }
    let ihl = Int(packet[0] & 0x0F) * 4
    guard packet.count >= ihl + 8, packet[ihl] == 0 else { return nil }
    let src = PPPIPv4Address(packet[12], packet[13], packet[14], packet[15])
    return (src, UInt16(packet[ihl + 4]) << 8 | UInt16(packet[ihl + 5]), UInt16(packet[ihl + 6]) << 8 | UInt16(packet[ihl + 7]))
}

func internetChecksum(_ bytes: [UInt8]) -> UInt16 {
    var sum: UInt32 = 0
    var i = 0
    while i + 1 < bytes.count { sum += UInt32(bytes[i]) << 8 | UInt32(bytes[i + 1]); i += 2 }
    if i < bytes.count { sum += UInt32(bytes[i]) << 8 }
    while sum >> 16 != 0 { sum = (sum & 0xFFFF) + (sum >> 16) }
    return ~UInt16(sum)
}
