import Foundation
import Synchronization
import Testing
@testable import DataPlane

@Suite struct BandwidthBudgetTests {
    /// 100 Mbit/s = 12.5 MB/s; burst 200 ms = 2.5 MB.
    @Test func burstThenRate() {
        let budget = BandwidthBudget(megabitsPerSecond: 100)
        let t0: Int64 = 1_000_000_000
        var passed = 0
        for _ in 0..<10_000 where budget.admit(bytes: 1000, now: t0) { passed += 1 }
        #expect(passed >= 2490 && passed <= 2510, "the burst is 200 ms of the rate: \(passed) KB")
        #expect(!budget.admit(bytes: 1000, now: t0))
        // 100 ms later, 1.25 MB more may pass.
        var later = 0
        for _ in 0..<10_000 where budget.admit(bytes: 1000, now: t0 + 100_000_000) { later += 1 }
        #expect(later >= 1240 && later <= 1260, "refill at the rate: \(later) KB in 100 ms")
        #expect(budget.availableFraction(now: t0 + 100_000_000) < 0.01)
        #expect(budget.availableFraction(now: t0 + 400_000_000) == 1)
    }

    /// Several OS threads draw at once: what passes stays within rate × (the span they ran) + burst,
    /// and the CAS loop loses nothing (the budget's own total equals what the threads counted).
    /// The span is measured, not assumed, so a busy machine (tests run in parallel) cannot make
    /// the bound wrong; the lower bound only asks that the budget was actually used.
    @Test func sharedAcrossThreads() {
        let budget = BandwidthBudget(megabitsPerSecond: 80)   // 10 MB/s, burst 2 MB
        let results = Mutex<[(bytes: Int, first: Int64, last: Int64)]>([])
        let threads = (0..<4).map { _ in
            Thread {
                let first = BandwidthBudget.now()
                var bytes = 0
                var last = first
                while last - first < 300_000_000 {
                    last = BandwidthBudget.now()
                    if budget.admit(bytes: 1500, now: last) { bytes += 1500 }
                }
                results.withLock { $0.append((bytes, first, last)) }
            }
        }
        for t in threads { t.start() }
        let deadline = Date().addingTimeInterval(20)
        while results.withLock({ $0.count }) < 4 && Date() < deadline { usleep(10_000) }
        let r = results.withLock { $0 }
        #expect(r.count == 4)
        let totals = r.reduce(0) { $0 + $1.bytes }
        let span = Double((r.map(\.last).max() ?? 0) - (r.map(\.first).min() ?? 0)) / 1e9
        let allowed = 10_000_000.0 * span + budget.burstBytes
        #expect(Double(totals) <= allowed * 1.02, "\(totals) B passed in \(span) s, at most \(allowed)")
        #expect(Double(totals) >= budget.burstBytes, "\(totals) B passed: the budget was used")
        #expect(budget.totals.admittedBytes == UInt64(totals))
    }

    /// FairShaper over a shared budget still shares fairly between its tunnels when congested.
    @Test func fairShaperDrawsFromSharedBudget() {
        let gateway = GatewayBandwidth(megabitsPerSecond: 100)
        var shaper = FairShaper(budget: gateway.outbound)
        #expect(gateway.attachedShapers == 1)
        let spentAt = BandwidthBudget.now()
        shaper.refill(now: .now)
        var passed = 0
        for i in 0..<4000 where shaper.admit(bytes: 1000, tunnel: i % 2) { passed += 1 }
        #expect(passed >= 2490 && passed <= 2510)
        // The P2S side drawing from the same budget finds it spent: nearly empty, give or take
        // what refilled while this thread was descheduled (tests run in parallel; burst = 200 ms).
        let checkedAt = BandwidthBudget.now()
        let refilled = Double(checkedAt - spentAt) / 200_000_000
        #expect(gateway.outbound.availableFraction(now: checkedAt) < 0.05 + refilled)
        #expect(gateway.inbound.admit(bytes: 1000, now: BandwidthBudget.now()))
    }
}
