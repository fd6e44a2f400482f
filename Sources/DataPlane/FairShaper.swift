/// The gateway's SKU bandwidth shared by all its tunnels: a token bucket for the aggregate, plus
/// max-min fairness while it is congested (below a quarter of the bucket, a tunnel that has used
/// more than an equal share of the current 100 ms window is dropped first), so one busy site
/// cannot starve another.
/// Owned by one packet thread; no allocation once every tunnel has been seen.
struct FairShaper {
    private let bytesPerSecond: Double
    private let burst: Double
    private var tokens: Double
    private var last: ContinuousClock.Instant?
    private var windowStart: ContinuousClock.Instant?
    private var windowBytes: [Int: Int] = [:]
    private var windowTotal = 0

    init(megabitsPerSecond: Int) {
        bytesPerSecond = Double(megabitsPerSecond) * 1_000_000 / 8
        // 200 ms of traffic: a policer without a queue needs room for TCP's window bursts or TCP
        // never fills the cap (measured: 5 ms → 58 %, 50 ms → 67 %, 200 ms → 97 % of a 100 Mbit/s
        // cap with two sites); over an 8 s transfer the overshoot stays under 3 %.
        burst = max(64 * 1500, bytesPerSecond * 0.2)
        tokens = burst
    }

    mutating func refill(now: ContinuousClock.Instant) {
        if let last {
            let elapsed = last.duration(to: now)
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            tokens = min(burst, tokens + seconds * bytesPerSecond)
        }
        last = now
        if let start = windowStart, start.duration(to: now) < .milliseconds(100) { return }
        windowStart = now
        for key in windowBytes.keys { windowBytes[key] = 0 }
        windowTotal = 0
    }

    /// True if `bytes` of `tunnel` may pass now.
    mutating func admit(bytes: Int, tunnel: Int) -> Bool {
        let size = Double(bytes)
        guard tokens >= size else { return false }
        if tokens < burst / 4 {
            let active = windowBytes.values.reduce(0) { $0 + ($1 > 0 ? 1 : 0) }
            if active > 1, let used = windowBytes[tunnel], used * active > windowTotal + bytes * active { return false }
        }
        tokens -= size
        windowBytes[tunnel, default: 0] += bytes
        windowTotal += bytes
        return true
    }
}
