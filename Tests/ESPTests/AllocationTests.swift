import CAllocationCounter
import Testing
@testable import ESP

/// Counts malloc-family calls made by this thread while `body` runs.
func allocations(_ body: () -> Void) -> Int {
    vpngw_allocation_counting_begin()
    body()
    return vpngw_allocation_counting_end()
}

final class Probe {
    var value = 0
}

@Suite("Zero allocations per packet")
struct AllocationTests {
    @Test("The counter sees allocations (so a zero below means zero)")
    func counterCounts() {
        var kept: [Probe] = []
        let counted = allocations {
            kept.append(Probe())
        }
        #expect(vpngw_allocation_counter_is_active() != 0)
        #expect(counted >= 1)
        #expect(kept.count == 1)
    }

    @Test("10,000 seal + open round trips allocate nothing, from the very first packet", arguments: ESPCipherSuite.all, [false, true])
    func sealAndOpen(_ suite: ESPCipherSuite, extendedSequenceNumbers: Bool) throws {
        let (outbound, inbound) = try makeSAPair(suite, extendedSequenceNumbers: extendedSequenceNumbers)
        let database = ESPSADatabase()
        database.install(inbound)
        let buffer = PacketBuffer(for: outbound, payload: innerPacket(length: 1400))
        let payload = buffer.payload
        let storage = buffer.storage
        let template = innerPacket(length: 1400)
        var failures = 0
        var replays = 0
        let counted = allocations {
            for _ in 0..<10_000 {
                switch outbound.seal(storage, payload: payload, nextHeader: .ipv4) {
                case .sealed(let range):
                    if case .dropped = database.open(storage, packet: range) { failures += 1 }
                    // The replay path and the drop counters must not allocate either.
                    if case .dropped(.replayed) = inbound.open(storage, packet: range) { replays += 1 }
                case .refused:
                    failures += 1
                }
            }
        }
        #expect(counted == 0)
        #expect(failures == 0)
        #expect(replays == 10_000)
        #expect(inbound.counters.packets == 10_000)
        // The inner packet survived its round trips byte for byte.
        #expect(buffer.bytes(payload) == template)
    }

    @Test("Dropped packets allocate nothing either")
    func drops() throws {
        let (outbound, inbound) = try makeSAPair(.aes128GCM16)
        let buffer = PacketBuffer(for: outbound, payload: innerPacket(length: 200))
        guard case .sealed(let range) = outbound.seal(buffer.storage, payload: buffer.payload, nextHeader: .ipv4) else {
            Issue.record("not sealed")
            return
        }
        buffer.storage[range.upperBound - 1] ^= 1
        let counted = allocations {
            for _ in 0..<1_000 {
                _ = inbound.open(buffer.storage, packet: range)
                _ = inbound.open(buffer.storage, packet: range.lowerBound..<range.lowerBound + 10)
            }
        }
        #expect(counted == 0)
        #expect(inbound.counters.drops.authenticationFailed == 1_000)
        #expect(inbound.counters.drops.truncated == 1_000)
    }
}
