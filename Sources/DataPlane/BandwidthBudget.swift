// The gateway's SKU throughput as one budget per direction that every packet thread of the agent
// draws from: the site-to-site data plane's threads (through FairShaper) and the point-to-site
// server's TUN reader and event loops. Azure's SKU figure is the aggregate of all connections,
// S2S and P2S together.
import Foundation
import Synchronization

/// A token bucket shared by several threads without a lock: GCRA (the "virtual scheduling"
/// form of a token bucket), one atomic theoretical-arrival time in nanoseconds. Admitting a
/// packet moves that time forward by the packet's cost; a packet is refused when it would
/// push it more than the burst ahead of now. One compare-and-swap per packet, no refill step.
public final class BandwidthBudget: Sendable {
    public let bytesPerSecond: Double
    /// Bytes that may pass at once after an idle period.
    public let burstBytes: Double
    private let nanosPerByte: Double
    private let burstNanos: Int64
    private let arrival = Atomic<Int64>(0)
    private let admittedBytes = Atomic<UInt64>(0)
    private let refusedPackets = Atomic<UInt64>(0)
    /// FairShapers drawing from this budget.
    let attached = Atomic<Int>(0)

    /// `burstSeconds`: 200 ms, as the data plane's FairShaper (a policer without a queue needs
    /// room for TCP's window bursts or TCP never fills the cap).
    public init(megabitsPerSecond: Int, burstSeconds: Double = 0.2) {
        bytesPerSecond = Double(max(1, megabitsPerSecond)) * 1_000_000 / 8
        burstBytes = max(64 * 1500, bytesPerSecond * burstSeconds)
        nanosPerByte = 1e9 / bytesPerSecond
        burstNanos = Int64(burstBytes * nanosPerByte)
    }

    /// Monotonic nanoseconds (CLOCK_MONOTONIC), the clock every caller passes as `now`.
    @inline(__always)
    public static func now() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }

    /// True (and the bytes are spent) if `bytes` may pass at `now`.
    @inline(__always)
    public func admit(bytes: Int, now: Int64) -> Bool {
        let cost = Int64(Double(bytes) * nanosPerByte)
        var current = arrival.load(ordering: .relaxed)
        // Bounded: a CAS only fails when another thread admitted a packet in between.
        for _ in 0..<64 {
            let next = max(current, now) &+ cost
            if next &- now > burstNanos {
                refusedPackets.add(1, ordering: .relaxed)
                return false
            }
            let (exchanged, original) = arrival.compareExchange(expected: current, desired: next, ordering: .relaxed)
            if exchanged {
                admittedBytes.add(UInt64(bytes), ordering: .relaxed)
                return true
            }
            current = original
        }
        refusedPackets.add(1, ordering: .relaxed)
        return false
    }

    /// The share of the burst that is available at `now` (0…1); FairShaper's congestion signal.
    @inline(__always)
    public func availableFraction(now: Int64) -> Double {
        let backlog = max(0, arrival.load(ordering: .relaxed) &- now)
        return 1 - Double(backlog) / Double(burstNanos)
    }

    /// Totals since start: bytes admitted and packets refused, by every consumer.
    public var totals: (admittedBytes: UInt64, refusedPackets: UInt64) {
        (admittedBytes.load(ordering: .relaxed), refusedPackets.load(ordering: .relaxed))
    }
}

/// One gateway's SKU throughput: a budget per direction, shared by its S2S tunnels and its P2S
/// sessions. `inbound` is traffic towards the VNet (sites and clients → VNet), `outbound` traffic
/// from it (VNet → sites and clients).
public final class GatewayBandwidth: Sendable {
    public let megabitsPerSecond: Int
    public let inbound: BandwidthBudget
    public let outbound: BandwidthBudget

    public init(megabitsPerSecond: Int) {
        self.megabitsPerSecond = megabitsPerSecond
        inbound = BandwidthBudget(megabitsPerSecond: megabitsPerSecond)
        outbound = BandwidthBudget(megabitsPerSecond: megabitsPerSecond)
    }

    /// How many data-plane shapers draw from this budget (FairShaper(budget:); status: 2 when
    /// both directions of the site-to-site data plane share it with the P2S server).
    public var attachedShapers: Int { inbound.attached.load(ordering: .relaxed) + outbound.attached.load(ordering: .relaxed) }
}
