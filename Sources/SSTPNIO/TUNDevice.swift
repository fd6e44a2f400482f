// A TUN device (CDataPlane's shims) with one dedicated reader thread: packets read from the
// kernel are handed to `onPackets` in batches; `write` may be called from any thread (one
// write(2) per packet, which the kernel serialises).
// With `offloads` the device is opened with IFF_VNET_HDR + TSO (TUNOffload.swift): the reader
// cuts super-packets into MSS segments before `onPacket`, `write` puts a zero vnet header in
// front, and `makeWriter()` gives a thread its own coalescing writer. If the kernel refuses the
// offloads the device falls back to plain packets (`offloadError` says why).
import CDataPlane
import DataPlane
import Foundation
import NIOConcurrencyHelpers

public final class TUNDevice: @unchecked Sendable {
    public let fd: Int32
    public let name: String
    public let mtu: Int
    /// IFF_VNET_HDR + TSO are on: every read and write carries a virtio_net_hdr.
    public let offloads: Bool
    /// Why offloads were asked for but are off (the kernel refused them); nil otherwise.
    public let offloadError: String?
    public let offloadCounters = TUNOffloadCounters()
    private let running = NIOLockedValueBox(false)
    private let done = NIOLockedValueBox(true)
    public private(set) var readErrors = 0

    public init(name: String, mtu: Int, offloads: Bool = false) throws {
        var out = [CChar](repeating: 0, count: 32)
        var fd: Int32 = -1
        var offloadError: String?
        if offloads {
            fd = vpngw_tun_open_offload(name, &out, 32)
            if fd < 0 { offloadError = "TUN offloads unavailable (\(String(cString: strerror(-fd))))" }
        }
        self.offloads = fd >= 0
        self.offloadError = offloadError
        if fd < 0 { fd = vpngw_tun_open(name, &out, 32) }
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

    /// One IPv4 packet to the kernel, straight from a receive buffer (behind a zero vnet header
    /// when offloads are on).
    @discardableResult
    @inline(__always)
    public func write(_ packet: UnsafeRawBufferPointer) -> Bool {
        guard offloads else { return Foundation.write(fd, packet.baseAddress, packet.count) == packet.count }
        return withUnsafeTemporaryAllocation(of: iovec.self, capacity: 2) { iov in
            iov[0] = iovec(iov_base: UnsafeMutableRawPointer(mutating: TUNDevice.zeroHeader), iov_len: VirtioNetHeader.length)
            iov[1] = iovec(iov_base: UnsafeMutableRawPointer(mutating: packet.baseAddress), iov_len: packet.count)
            return writev(fd, iov.baseAddress, 2) == packet.count + VirtioNetHeader.length
        }
    }

    /// A virtio_net_hdr of zeros (no offload), shared by every plain write.
    nonisolated(unsafe) static let zeroHeader: UnsafeRawPointer = {
        let p = UnsafeMutableRawPointer.allocate(byteCount: 16, alignment: 16)
        p.initializeMemory(as: UInt8.self, repeating: 0, count: 16)
        return UnsafeRawPointer(p)
    }()

    /// A writer for one thread (an event loop): with offloads it merges TCP segments of a flow
    /// until `flush()`; without, it writes each packet at once.
    public func makeWriter(groups: Int = 4) -> TUNCoalescingWriter {
        let fd = self.fd
        return TUNCoalescingWriter(groups: offloads ? groups : 0, counters: offloadCounters,
                                   writeFramed: { p, n in Foundation.write(fd, p, n) == n },
                                   writePlain: { [self] packet in self.write(packet) })
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
    /// With offloads a wake-up also ends once `batchBytes` of packets were handed over (a read
    /// may carry 64 KiB).
    public func startReader(batch: Int = 64, batchBytes: Int = 192 * 1024, beginBatch: @escaping @Sendable () -> Void,
                            onPacket: @escaping @Sendable (UnsafeRawBufferPointer) -> Void, endBatch: @escaping @Sendable () -> Void) {
        running.withLockedValue { $0 = true }
        done.withLockedValue { $0 = false }
        let fd = self.fd
        let offloads = self.offloads
        let counters = offloadCounters
        let thread = Thread { [self] in
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: TUNReadOffload.readBytes, alignment: 16)
            defer { buffer.deallocate() }
            let scratch = UnsafeMutableRawPointer.allocate(byteCount: offloads ? TUNReadOffload.scratchBytes : 1, alignment: 16)
            defer { scratch.deallocate() }
            while running.withLockedValue({ $0 }) {
                let ready = vpngw_wait_readable(fd, 50)
                if ready <= 0 { continue }
                beginBatch()
                var count = 0, bytes = 0
                while count < batch, bytes < batchBytes {
                    let n = Foundation.read(fd, buffer.baseAddress, buffer.count)
                    if n <= 0 { break }
                    count += 1
                    guard offloads else {
                        onPacket(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
                        continue
                    }
                    bytes += n
                    switch TUNReadOffload.forEachPacket(read: buffer.baseAddress!, length: n, scratch: scratch,
                                                        scratchCapacity: TUNReadOffload.scratchBytes, onPacket) {
                    case .plain(let completed):
                        if completed { counters.checksumsCompleted.wrappingAdd(1, ordering: .relaxed) }
                    case .segmented(let segments):
                        counters.superPacketsRead.wrappingAdd(1, ordering: .relaxed)
                        counters.segmentsFromSuperPackets.wrappingAdd(UInt64(segments), ordering: .relaxed)
                    case .rejected:
                        counters.rejected.wrappingAdd(1, ordering: .relaxed)
                    }
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
