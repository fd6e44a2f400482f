// A TUN device (CDataPlane's shims) with one dedicated reader thread: packets read from the
// kernel are handed to `onPackets` in batches; `write` may be called from any thread (one
// write(2) per packet, which the kernel serialises).
import CDataPlane
import Foundation
import NIOConcurrencyHelpers

public final class TUNDevice: @unchecked Sendable {
    public let fd: Int32
    public let name: String
    public let mtu: Int
    private let running = NIOLockedValueBox(false)
    private let done = NIOLockedValueBox(true)
    public private(set) var readErrors = 0

    public init(name: String, mtu: Int) throws {
        var out = [CChar](repeating: 0, count: 32)
        let fd = vpngw_tun_open(name, &out, 32)
        guard fd >= 0 else { throw SSTPServerError.tun("cannot open \(name): \(String(cString: strerror(-fd)))") }
        self.fd = fd
        self.name = String(decoding: out.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        self.mtu = mtu
        let rc = vpngw_if_set_mtu_up(self.name, Int32(mtu))
        guard rc == 0 else {
            close(fd)
            throw SSTPServerError.tun("cannot set MTU/up on \(self.name): \(String(cString: strerror(-rc)))")
        }
        _ = vpngw_set_nonblocking(fd, 1)
    }

    deinit { close(fd) }

    /// One IPv4 packet to the kernel.
    @discardableResult
    public func write(_ packet: [UInt8]) -> Bool {
        packet.withUnsafeBytes { write($0) }
    }

    /// One IPv4 packet to the kernel, straight from a receive buffer.
    @discardableResult
    @inline(__always)
    public func write(_ packet: UnsafeRawBufferPointer) -> Bool {
        Foundation.write(fd, packet.baseAddress, packet.count) == packet.count
    }

    /// Starts the reader thread: batches of up to `batch` packets per wake-up, as arrays.
    public func startReader(batch: Int = 64, onPackets: @escaping @Sendable ([[UInt8]]) -> Void) {
        final class Collector: @unchecked Sendable { var packets: [[UInt8]] = [] }
        let collector = Collector()
        startReader(batch: batch, beginBatch: {}, onPacket: { collector.packets.append(Array($0)) }, endBatch: {
            if !collector.packets.isEmpty { onPackets(collector.packets) }
            collector.packets = []
        })
    }

    /// Starts the reader thread without a copy per packet: per wake-up `beginBatch`, then
    /// `onPacket` for each of up to `batch` packets (the bytes are valid only during the call,
    /// in one buffer reused for the device's life), then `endBatch`. All on the reader thread.
    public func startReader(batch: Int = 64, beginBatch: @escaping @Sendable () -> Void,
                            onPacket: @escaping @Sendable (UnsafeRawBufferPointer) -> Void, endBatch: @escaping @Sendable () -> Void) {
        running.withLockedValue { $0 = true }
        done.withLockedValue { $0 = false }
        let fd = self.fd
        let thread = Thread { [self] in
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 65536, alignment: 16)
            defer { buffer.deallocate() }
            while running.withLockedValue({ $0 }) {
                let ready = vpngw_wait_readable(fd, 50)
                if ready <= 0 { continue }
                beginBatch()
                var count = 0
                while count < batch {
                    let n = Foundation.read(fd, buffer.baseAddress, buffer.count)
                    if n <= 0 { break }
                    count += 1
                    onPacket(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
                }
                endBatch()
            }
            done.withLockedValue { $0 = true }
        }
        thread.name = "sstp-tun-\(name)"
        thread.start()
    }

    /// Stops the reader (it notices within 50 ms).
    public func stop() {
        running.withLockedValue { $0 = false }
        for _ in 0..<100 where !done.withLockedValue({ $0 }) { usleep(5_000) }
    }
}

/// The destination of an IPv4 packet (host order); nil if it is not IPv4.
@inline(__always)
func ipv4Destination(_ packet: [UInt8]) -> UInt32? {
    guard packet.count >= 20, packet[0] >> 4 == 4 else { return nil }
    return UInt32(packet[16]) << 24 | UInt32(packet[17]) << 16 | UInt32(packet[18]) << 8 | UInt32(packet[19])
}

/// The destination of an IPv4 packet (host order); nil if it is not IPv4.
@inline(__always)
func ipv4Destination(_ packet: UnsafeRawBufferPointer) -> UInt32? {
    guard packet.count >= 20, packet[0] >> 4 == 4 else { return nil }
    return UInt32(packet[16]) << 24 | UInt32(packet[17]) << 16 | UInt32(packet[18]) << 8 | UInt32(packet[19])
}

/// The source of an IPv4 packet (host order); the caller checked it is IPv4.
@inline(__always)
func ipv4Source(_ packet: UnsafeRawBufferPointer) -> UInt32 {
    UInt32(packet[12]) << 24 | UInt32(packet[13]) << 16 | UInt32(packet[14]) << 8 | UInt32(packet[15])
}

/// Runs `ip ARGS…` (routes and addresses on the TUN device).
public func runIPCommand(_ args: [String]) throws {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: FileManager.default.fileExists(atPath: "/usr/sbin/ip") ? "/usr/sbin/ip" : "/sbin/ip")
    p.arguments = args
    try p.run()
    p.waitUntilExit()
    guard p.terminationStatus == 0 else { throw SSTPServerError.tun("ip \(args.joined(separator: " ")) failed (exit \(p.terminationStatus))") }
}
