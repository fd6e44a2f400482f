// `vpngw p2s connect` on Linux without kernel PPP: the real `sstpc --nolaunchpppd` does TLS and
// SSTP; we are the PPP peer on its stdio (async HDLC, protocols.md §4.9) with the PPP core in the
// client role, hand sstpc the MPPE keys over its plugin socket so it can send CALL_CONNECTED,
// and carry IPv4 through a TUN device. sstpc 1.0.18 quirks handled here (protocols.md addendum):
//  1. a loopback relay in front of the server holds the server's first bytes until sstpc sleeps
//     in epoll_wait (its start-up hang);
//  2. no --user/--password for sstpc (they switch the plugin socket off);
//  3. one socketpair as stdin and stdout;  4. ended with SIGTERM;  6. http_proxy cleared.
import CDataPlane
import Foundation
import NIOConcurrencyHelpers
import PPP

public struct SSTPCDriverOptions: Sendable {
    public var server: String
    public var port: Int = 443
    public var user: String
    public var password: String
    public var ipparam: String
    public var sstpcPath = "/usr/sbin/sstpc"
    public var sstpcLogLevel = 1
    public var relay = true
    public var extraArguments: [String] = []

    public init(server: String, user: String, password: String, ipparam: String) {
        self.server = server
        self.user = user
        self.password = password
        self.ipparam = ipparam
    }
}

public final class SSTPCDriver: @unchecked Sendable {
    public enum Outcome: Sendable {
        case pppFailed(PPPFailure)
        case sstpcExited(Int32)
        case stopped
    }

    let options: SSTPCDriverOptions
    let log: @Sendable (String) -> Void
    let onUp: @Sendable (PPPIPv4Address, PPPIPv4Address, [PPPIPv4Address]) -> Void
    let onPackets: @Sendable ([[UInt8]]) -> Void
    var fd: Int32 = -1
    var process: Process?
    let writeLock = NIOLock()
    let state = NIOLockedValueBox<(networkUp: Bool, stop: Bool)>((false, false))

    public init(options: SSTPCDriverOptions, log: @escaping @Sendable (String) -> Void,
                onUp: @escaping @Sendable (PPPIPv4Address, PPPIPv4Address, [PPPIPv4Address]) -> Void,
                onPackets: @escaping @Sendable ([[UInt8]]) -> Void) {
        self.options = options
        self.log = log
        self.onUp = onUp
        self.onPackets = onPackets
    }

    /// Asks `run` to end (SIGTERM handler, any thread).
    public func stop() { state.withLockedValue { $0.stop = true } }

    /// FF 03 (RFC 1662 address/control) + protocol 0x0021 (IPv4), in front of every data packet.
    static let ipv4FrameHeader: [UInt8] = [0xFF, 0x03, 0x00, 0x21]

    /// IPv4 packets towards the server (TUN reader thread).
    public func send(_ packets: [[UInt8]]) {
        guard state.withLockedValue({ $0.networkUp }) else { return }
        var out: [UInt8] = []
        for packet in packets { HDLC.encode(prefix: Self.ipv4FrameHeader, packet, appendingTo: &out) }
        writeAll(out)
    }

    func writeAll(_ bytes: [UInt8]) {
        writeLock.withLock {
            var offset = 0
            while offset < bytes.count {
                let n = bytes.withUnsafeBytes { Foundation.write(fd, $0.baseAddress! + offset, $0.count - offset) }
                if n < 0 {
                    if errno == EINTR || errno == EAGAIN { _ = vpngw_wait_readable(-1, 1); continue }
                    return
                }
                offset += n
            }
        }
    }

    /// Spawns sstpc and runs PPP until it fails, sstpc exits, or `stop()`.
    public func run() throws -> Outcome {
        var pair: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &pair) == 0 else { throw SSTPServerError.invalidArgument("socketpair: \(errno)") }
        fd = pair[0]
        defer { close(pair[0]) }

        var target = "\(options.server):\(options.port)"
        var relay: HoldingRelay?
        if options.relay {
            let r = try HoldingRelay(upstreamHost: options.server, upstreamPort: options.port, log: log)
            relay = r
            target = "127.0.0.1:\(r.port)"
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: options.sstpcPath)
        p.arguments = ["--nolaunchpppd", "--ipparam", options.ipparam, "--cert-warn", "--log-stderr", "--log-level", "\(options.sstpcLogLevel)"]
            + options.extraArguments + [target]
        var env = ProcessInfo.processInfo.environment
        for k in ["http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"] { env.removeValue(forKey: k) }
        p.environment = env
        let child = FileHandle(fileDescriptor: pair[1], closeOnDealloc: false)
        p.standardInput = child
        p.standardOutput = child
        try p.run()
        close(pair[1])
        process = p
        relay?.start(watchPID: p.processIdentifier)
        log("sstpc \(p.processIdentifier) started: \(p.arguments!.joined(separator: " "))")
        defer {
            if p.isRunning { kill(p.processIdentifier, SIGTERM) }
            for _ in 0..<40 where p.isRunning { usleep(50_000) }
            if p.isRunning { kill(p.processIdentifier, SIGKILL) }
            relay?.close()
        }

        var session = PPPSession(role: .client(PPPClientConfiguration(userName: options.user, password: options.password)), random: SystemPPPRandom())
        var decoder = HDLCDecoder()
        var deadline: PPPInstant?
        var failure: PPPFailure?
        var keysSent = false
        func apply(_ actions: [PPPAction]) -> Bool {
            var out: [UInt8] = []
            var packets: [[UInt8]] = []
            var done = false
            for action in actions {
                switch action {
                case .send(let frame): HDLC.encode(frame, appendingTo: &out)
                case .armTimer(let d): deadline = d
                case .authenticated(_, let send, let receive):
                    if !out.isEmpty { writeAll(out); out = [] }
                    if !keysSent { keysSent = true; sendKeys(send: send, receive: receive) }
                case .networkUp(let local, let peer, let dns):
                    if !out.isEmpty { writeAll(out); out = [] }
                    state.withLockedValue { $0.networkUp = true }
                    onUp(local, peer, dns)
                case .received(let proto, let packet): if proto == .ipv4 { packets.append(packet) }
                case .failed(let f): failure = f
                case .linkDown: done = true
                case .verifyPeer: break  // server role only
                }
            }
            if !out.isEmpty { writeAll(out) }
            if !packets.isEmpty { onPackets(packets) }
            return done
        }
        func now() -> PPPInstant { PPPInstant(nanoseconds: Int64(DispatchTime.now().uptimeNanoseconds)) }

        var linkDown = apply(session.start(now: now()))
        var buffer = [UInt8](repeating: 0, count: 65536)
        var text: [UInt8] = []
        while !linkDown {
            if state.withLockedValue({ $0.stop }) {
                linkDown = apply(session.close(reason: "user hung up", now: now()))
                usleep(200_000)
                return .stopped
            }
            if !p.isRunning { return failure.map { .pppFailed($0) } ?? .sstpcExited(p.terminationStatus) }
            var wait: Int32 = 100
            if let d = deadline {
                let ms = (d.nanoseconds - now().nanoseconds) / 1_000_000
                wait = Int32(max(0, min(Int64(wait), ms)))
            }
            let ready = vpngw_wait_readable(fd, wait)
            if ready > 0 {
                let n = buffer.withUnsafeMutableBytes { Foundation.read(fd, $0.baseAddress, $0.count) }
                if n == 0 { break }
                if n > 0 {
                    let chunk = buffer[0..<n]
                    // sstpc writes its fatal "**Error:" text into the same stream (addendum 3): only
                    // chunks without any HDLC flag can be that text.
                    if !chunk.contains(0x7E) {
                        text += chunk.filter { $0 >= 0x20 && $0 < 0x7F || $0 == 0x0A }
                        if text.count > 4096 { text.removeFirst(text.count - 4096) }
                        if let s = String(bytes: text, encoding: .utf8), s.contains("\n") {
                            for line in s.split(separator: "\n") where line.contains("rror") { log("sstpc: \(line)") }
                            text = []
                        }
                    }
                    let frames = buffer.withUnsafeBytes { decoder.feed(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
                    var actions: [PPPAction] = []
                    let t = now()
                    for frame in frames { actions += session.handle(frame: frame, now: t) }
                    linkDown = apply(actions)
                }
            }
            if let d = deadline, now() >= d {
                deadline = nil
                linkDown = apply(session.handleTimer(now: now())) || linkDown
            }
        }
        usleep(200_000)  // let the last Terminate-Ack / Failure leave
        return failure.map { .pppFailed($0) } ?? .sstpcExited(p.isRunning ? 0 : p.terminationStatus)
    }

    /// The pppd plugin's AUTH message (include/sstp-api.h): magic, length, type, then
    /// MPPE_SEND (1) and MPPE_RECV (2) attributes, host byte order, 32-bit aligned.
    func sendKeys(send: [UInt8], receive: [UInt8]) {
        var body: [UInt8] = []
        for (type, key) in [(UInt16(1), send), (UInt16(2), receive)] {
            body += le16(type) + le16(UInt16(key.count)) + key
            while body.count % 4 != 0 { body.append(0) }
        }
        let message = le32(0x7373_7470) + le16(UInt16(body.count)) + le16(1) + body
        let path = "/var/run/sstpc/sstpc-\(options.ipparam)"
        let s = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard s >= 0 else { log("plugin socket: \(errno)"); return }
        defer { close(s) }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, b) in path.utf8.prefix(raw.count - 1).enumerated() { raw[i] = b }
        }
        let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(s, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
        guard rc == 0 else { log("cannot connect to sstpc's plugin socket \(path): errno \(errno)"); return }
        _ = message.withUnsafeBytes { Foundation.write(s, $0.baseAddress, $0.count) }
        var ack = [UInt8](repeating: 0, count: 8)
        if vpngw_wait_readable(s, 3000) > 0 { _ = ack.withUnsafeMutableBytes { Foundation.read(s, $0.baseAddress, 8) } }
        log("MPPE keys handed to sstpc (\(path))")
    }
}

func le16(_ v: UInt16) -> [UInt8] { [UInt8(v & 0xFF), UInt8(v >> 8)] }
func le32(_ v: UInt32) -> [UInt8] { [UInt8(v & 0xFF), UInt8((v >> 8) & 0xFF), UInt8((v >> 16) & 0xFF), UInt8(v >> 24)] }

/// A one-connection TCP relay on 127.0.0.1 that holds the server's first bytes until the watched
/// process sleeps in epoll_wait (/proc/PID/wchan), bounded at 3 s (protocols.md addendum 1).
final class HoldingRelay: @unchecked Sendable {
    let listener: Int32
    let port: Int
    let upstreamHost: String
    let upstreamPort: Int
    let log: @Sendable (String) -> Void
    let fds = NIOLockedValueBox<[Int32]>([])

    init(upstreamHost: String, upstreamPort: Int, log: @escaping @Sendable (String) -> Void) throws {
        self.upstreamHost = upstreamHost
        self.upstreamPort = upstreamPort
        self.log = log
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.listener = listener
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        addr.sin_port = 0
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, len) == 0 && listen(listener, 1) == 0 && getsockname(listener, $0, &len) == 0 }
        }
        guard ok else { throw SSTPServerError.invalidArgument("relay: cannot listen on loopback (errno \(errno))") }
        port = Int(UInt16(bigEndian: addr.sin_port))
    }

    func start(watchPID pid: Int32) {
        let thread = Thread { [self] in
            guard vpngw_wait_readable(listener, 15_000) > 0 else { log("relay: sstpc never connected"); return }
            let client = accept(listener, nil, nil)
            guard client >= 0 else { return }
            guard let upstream = connectTCP(upstreamHost, upstreamPort) else {
                log("relay: cannot connect to \(upstreamHost):\(upstreamPort)"); Foundation.close(client); return
            }
            fds.withLockedValue { $0 += [client, upstream] }
            for fd in [client, upstream] { var one: Int32 = 1; setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(4)) }
            let up = Thread { Self.pump(from: client, to: upstream, hold: nil) }
            up.start()
            Self.pump(from: upstream, to: client, hold: pid)
        }
        thread.start()
    }

    func close() {
        Foundation.close(listener)
        for fd in fds.withLockedValue({ $0 }) { shutdown(fd, Int32(SHUT_RDWR)) }
    }

    static func pump(from: Int32, to: Int32, hold pid: Int32?) {
        var buffer = [UInt8](repeating: 0, count: 65536)
        var first = pid != nil
        while true {
            let n = buffer.withUnsafeMutableBytes { Foundation.read(from, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            if first, let pid {
                first = false
                for _ in 0..<600 {
                    let wchan = (try? String(contentsOfFile: "/proc/\(pid)/wchan", encoding: .utf8)) ?? ""
                    if wchan.contains("epoll") { break }
                    usleep(5_000)
                }
            }
            var offset = 0
            while offset < n {
                let w = buffer.withUnsafeBytes { Foundation.write(to, $0.baseAddress! + offset, n - offset) }
                if w <= 0 { shutdown(from, Int32(SHUT_RDWR)); shutdown(to, Int32(SHUT_RDWR)); return }
                offset += w
            }
        }
        shutdown(to, Int32(SHUT_WR))
    }
}

func connectTCP(_ host: String, _ port: Int) -> Int32? {
    guard let octets = ipv4Octets(host) else { return nil }
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = UInt16(port).bigEndian
    addr.sin_addr.s_addr = (UInt32(octets[0]) << 24 | UInt32(octets[1]) << 16 | UInt32(octets[2]) << 8 | UInt32(octets[3])).bigEndian
    let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
    if rc != 0 { close(fd); return nil }
    return fd
}
