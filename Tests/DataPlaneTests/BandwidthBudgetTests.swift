import Foundation
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

    /// Several threads draw at once: what passes over a second stays within rate × time + burst.
    @Test func sharedAcrossThreads() async {
        let budget = BandwidthBudget(megabitsPerSecond: 80)   // 10 MB/s, burst 2 MB
        let start = BandwidthBudget.now()
        let totals = await withTaskGroup(of: Int.self) { group in
            for _ in 0..<4 {
                group.addTask {
                    var bytes = 0
                    while BandwidthBudget.now() - start < 300_000_000 {
                        if budget.admit(bytes: 1500, now: BandwidthBudget.now()) { bytes += 1500 }
                    }
                    return bytes
                }
            }
            var sum = 0
            for await b in group { sum += b }
            return sum
        }
        let allowed = 10_000_000.0 * 0.3 + budget.burstBytes
        #expect(Double(totals) <= allowed * 1.02, "\(totals) B passed, at most \(allowed)")
        #expect(Double(totals) >= allowed * 0.8, "\(totals) B passed, expected about \(allowed)")
        #expect(budget.totals.admittedBytes == UInt64(totals))
    }

    /// FairShaper over a shared budget still shares fairly between its tunnels when congested.
    @Test func fairShaperDrawsFromSharedBudget() {
        let gateway = GatewayBandwidth(megabitsPerSecond: 100)
        var shaper = FairShaper(budget: gateway.outbound)
        #expect(gateway.attachedShapers == 1)
        shaper.refill(now: .now)
        var passed = 0
        for i in 0..<4000 where shaper.admit(bytes: 1000, tunnel: i % 2) { passed += 1 }
        #expect(passed >= 2490 && passed <= 2510)
        // The P2S side drawing from the same budget finds it spent.
        #expect(gateway.outbound.availableFraction(now: BandwidthBudget.now()) < 0.05)
        #expect(gateway.inbound.admit(bytes: 1000, now: BandwidthBudget.now()))
    }
}
