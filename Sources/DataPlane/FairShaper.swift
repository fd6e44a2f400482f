/// The gateway's SKU bandwidth shared by all its tunnels: a token bucket for the aggregate, plus
/// max-min fairness while it is congested (below a quarter of the bucket, a tunnel that has used
/// more than an equal share of the current 100 ms window is dropped first), so one busy site
/// cannot starve another.
/// The bucket is either this shaper's own (one packet thread) or a `BandwidthBudget` shared with
/// the point-to-site server of the same gateway (BandwidthBudget.swift): then every connection of
/// the gateway, S2S and P2S, draws from one figure per direction.
/// Owned by one packet thread; no allocation once every tunnel has been seen.
struct FairShaper {
    private let bytesPerSecond: Double
    private let burst: Double
    private var tokens: Double
    private var last: ContinuousClock.Instant?
    private var windowStart: ContinuousClock.Instant?
    private var windowBytes: [Int: Int] = [:]
    private var windowTotal = 0
    private let shared: BandwidthBudget?
    private var sharedNow: Int64 = 0

    init(megabitsPerSecond: Int) {
        self.init(ownBucketMegabitsPerSecond: megabitsPerSecond)
    }

    private init(ownBucketMegabitsPerSecond megabitsPerSecond: Int) {
        bytesPerSecond = Double(megabitsPerSecond) * 1_000_000 / 8
        // 200 ms of traffic: a policer without a queue needs room for TCP's window bursts or TCP
        // never fills the cap (measured: 5 ms → 58 %, 50 ms → 67 %, 200 ms → 97 % of a 100 Mbit/s
        // cap with two sites); over an 8 s transfer the overshoot stays under 3 %.
        burst = max(64 * 1500, bytesPerSecond * 0.2)
        tokens = burst
        shared = nil
    }

    /// Draws from a budget shared with other threads (the gateway's P2S server).
    init(budget: BandwidthBudget) {
        budget.attached.add(1, ordering: .relaxed)
        bytesPerSecond = budget.bytesPerSecond
        burst = budget.burstBytes
        tokens = 0
        shared = budget
    }

    mutating func refill(now: ContinuousClock.Instant) {
        if shared != nil {
            sharedNow = BandwidthBudget.now()
        } else {
            if let last {
                let elapsed = last.duration(to: now)
                let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
                tokens = min(burst, tokens + seconds * bytesPerSecond)
            }
            last = now
        }
        if let start = windowStart, start.duration(to: now) < .milliseconds(100) { return }
        windowStart = now
        for key in windowBytes.keys { windowBytes[key] = 0 }
        windowTotal = 0
    }

    /// True if `bytes` of `tunnel` may pass now.
    mutating func admit(bytes: Int, tunnel: Int) -> Bool {
        let size = Double(bytes)
        let congested: Bool
        if let shared {
            congested = shared.availableFraction(now: sharedNow) < 0.25
        } else {
            guard tokens >= size else { return false }
            congested = tokens < burst / 4
        }
        if congested {
            let active = windowBytes.values.reduce(0) { $0 + ($1 > 0 ? 1 : 0) }
            if active > 1, let used = windowBytes[tunnel], used * active > windowTotal + bytes * active { return false }
        }
        if let shared {
            guard shared.admit(bytes: bytes, now: sharedNow) else { return false }
        } else {
            tokens -= size
        }
        windowBytes[tunnel, default: 0] += bytes
        windowTotal += bytes
        return true
    }
}
