import Testing
@testable import ESP

/// Deterministic pseudo-random numbers (SplitMix64) so that a failing sequence can be replayed.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// The trivially correct window: a set of everything accepted plus the highest.
struct SetReplayModel {
    let size: UInt64
    var seen: Set<UInt64> = []
    var highest: UInt64 = 0

    func verdict(_ sequenceNumber: UInt64) -> ESPReplayVerdict {
        if sequenceNumber == 0 { return .outsideWindow }
        if sequenceNumber > highest { return .fresh }
        if highest - sequenceNumber >= size { return .outsideWindow }
        return seen.contains(sequenceNumber) ? .replayed : .fresh
    }

    mutating func mark(_ sequenceNumber: UInt64) {
        seen.insert(sequenceNumber)
        highest = max(highest, sequenceNumber)
    }
}

@Suite("Anti-replay window")
struct ReplayWindowTests {
    @Test("Duplicate, too old, far ahead, and the exact window edge")
    func edges() throws {
        var window = try ESPReplayWindow(size: 1024, extendedSequenceNumbers: false)
        #expect(window.check(0) == .outsideWindow)
        #expect(window.check(1) == .fresh)
        window.mark(1)
        #expect(window.check(1) == .replayed)
        window.mark(2000)
        #expect(window.check(2000) == .replayed)
        #expect(window.check(976) == .outsideWindow)   // 2000 - 976 = 1024: just behind
        #expect(window.check(977) == .fresh)           // 2000 - 977 = 1023: the oldest slot
        window.mark(977)
        #expect(window.check(977) == .replayed)
        #expect(window.check(1) == .outsideWindow)
        window.mark(5_000_000)                         // far ahead: the whole ring is cleared
        #expect(window.check(2000) == .outsideWindow)
        #expect(window.check(5_000_000 - 1023) == .fresh)
        #expect(window.check(4_999_999) == .fresh)
        #expect(window.check(5_000_001) == .fresh)
    }

    @Test("Sliding by less than a block, by whole blocks and across the ring keeps exactly the window")
    func slides() throws {
        var window = try ESPReplayWindow(size: 128, extendedSequenceNumbers: false)
        for sequenceNumber in stride(from: UInt64(1), through: 1000, by: 1) { window.mark(sequenceNumber) }
        for sequenceNumber in UInt64(873)...1000 { #expect(window.check(sequenceNumber) == .replayed) }
        #expect(window.check(872) == .outsideWindow)
        window.mark(1063)                              // slide by 63 within the ring
        for sequenceNumber in UInt64(1001)...1062 { #expect(window.check(sequenceNumber) == .fresh) }
        for sequenceNumber in UInt64(936)...1000 { #expect(window.check(sequenceNumber) == .replayed) }
        #expect(window.check(935) == .outsideWindow)
        window.mark(1063 + 64 * 3)                     // slide by exactly three blocks
        for sequenceNumber in UInt64(1063 + 64 * 3 - 127)...(1063 + 64 * 3 - 1) { #expect(window.check(sequenceNumber) == .fresh) }
    }

    @Test("Differential: random arrivals agree with the Set model", arguments: [64, 100, 1024, 4096])
    func differential(size: Int) throws {
        var generator = SplitMix64(state: UInt64(size) &* 7919)
        var window = try ESPReplayWindow(size: size, extendedSequenceNumbers: false)
        var model = SetReplayModel(size: UInt64(size))
        let span = Int64(size)
        for step in 0..<60_000 {
            let roll = Int.random(in: 0..<100, using: &generator)
            let delta: Int64 = switch roll {
            case 0..<2: Int64.random(in: span...(span * 40), using: &generator)       // far ahead
            case 2..<40: Int64.random(in: 1...8, using: &generator)                   // in order
            case 40..<60: 0                                                           // duplicate of the highest
            default: -Int64.random(in: 0...(span + span / 2), using: &generator)      // reordered or old
            }
            let candidate = Int64(model.highest) + delta
            let sequenceNumber = UInt64(max(0, min(candidate, Int64(UInt32.max))))
            let expected = model.verdict(sequenceNumber)
            let actual = window.check(sequenceNumber)
            #expect(actual == expected, "step \(step): seq \(sequenceNumber) highest \(model.highest)")
            guard actual == expected else { return }
            // One in five fresh arrivals fails authentication and must leave no trace.
            if expected == .fresh, Int.random(in: 0..<5, using: &generator) != 0 {
                window.mark(sequenceNumber)
                model.mark(sequenceNumber)
            }
            #expect(window.highest == model.highest)
        }
    }

    @Test("ESN: the high half is reconstructed across the 2^32 boundary (RFC 4303 Appendix A2.2)")
    func esnReconstruction() throws {
        var window = try ESPReplayWindow(size: 1024, extendedSequenceNumbers: true)
        #expect(window.reconstruct(low: 1) == 1)
        #expect(window.reconstruct(low: 0) == 0)
        #expect(window.reconstruct(low: UInt32.max) == nil)          // would be below zero
        window.mark(0xFFFF_FF00)                                      // Case A, just below the wrap
        #expect(window.reconstruct(low: 0xFFFF_FFFF) == 0xFFFF_FFFF)
        #expect(window.reconstruct(low: 5) == 0x1_0000_0005)          // past the wrap
        #expect(window.reconstruct(low: 0xFFFF_FF00 - 1023) == 0xFFFF_FF00 - 1023)
        window.mark(0x1_0000_0010)                                    // Case B: window spans the wrap
        #expect(window.reconstruct(low: 0xFFFF_FFF0) == 0xFFFF_FFF0)
        #expect(window.reconstruct(low: 0x20) == 0x1_0000_0020)
        #expect(window.check(0xFFFF_FF00) == .replayed)
        #expect(window.check(0xFFFF_FFF0) == .fresh)
    }

    @Test("Differential with ESN: a random walk across several 2^32 boundaries")
    func esnDifferential() throws {
        var generator = SplitMix64(state: 42)
        let size = 1024
        var window = try ESPReplayWindow(size: size, extendedSequenceNumbers: true)
        var model = SetReplayModel(size: UInt64(size))
        // Start just below the first wrap.
        window.mark(0xFFFF_F000)
        model.mark(0xFFFF_F000)
        for step in 0..<40_000 {
            let roll = Int.random(in: 0..<100, using: &generator)
            let delta: Int64 = switch roll {
            case 0..<3: Int64.random(in: 1...(1 << 30), using: &generator)            // big jump ahead
            case 3..<50: Int64.random(in: 1...64, using: &generator)
            case 50..<60: 0
            default: -Int64.random(in: 0..<Int64(size), using: &generator)            // inside the window
            }
            let trueNumber = UInt64(Int64(model.highest) + delta)
            let reconstructed = window.reconstruct(low: UInt32(truncatingIfNeeded: trueNumber))
            #expect(reconstructed == trueNumber, "step \(step): \(trueNumber) highest \(model.highest)")
            guard let reconstructed else { return }
            let expected = model.verdict(trueNumber)
            #expect(window.check(reconstructed) == expected)
            if expected == .fresh {
                window.mark(reconstructed)
                model.mark(trueNumber)
            }
        }
        #expect(model.highest > 0x3_0000_0000)
    }

    @Test("Window sizes below 64 are rejected")
    func sizeValidation() {
        #expect(throws: ESPConfigurationError.invalidReplayWindowSize(32)) {
            _ = try ESPReplayWindow(size: 32, extendedSequenceNumbers: false)
        }
    }

    @Test("Through an SA: shuffled delivery with duplicates matches the model", arguments: [false, true])
    func saDifferential(extendedSequenceNumbers: Bool) throws {
        let (outbound, inbound) = try makeSAPair(.aes128GCM16, extendedSequenceNumbers: extendedSequenceNumbers,
                                                 replayWindowSize: 64)
        var model = SetReplayModel(size: 64)
        if extendedSequenceNumbers {
            // Both ends well into the SA's life, just below the 2^32 boundary.
            outbound.skipSequenceNumbers(to: 0xFFFF_FFF0)
            inbound.markReceived(0xFFFF_FFF0)
            model.mark(0xFFFF_FFF0)
        }
        var packets: [(UInt64, [UInt8])] = []
        for _ in 0..<400 {
            let packet = try #require(sealToBytes(outbound, payload: innerPacket(length: 48)))
            packets.append((outbound.lastSequenceNumber, packet))
        }
        var generator = SplitMix64(state: 7)
        var deliveries: [(UInt64, [UInt8])] = []
        for (index, packet) in packets.enumerated() {
            deliveries.append(packet)
            if Int.random(in: 0..<4, using: &generator) == 0 {
                deliveries.append(packets[max(0, index - Int.random(in: 0..<100, using: &generator))])
            }
        }
        // Local reordering: swap neighbours within a small distance.
        for index in deliveries.indices.dropLast(8) where Int.random(in: 0..<3, using: &generator) == 0 {
            deliveries.swapAt(index, index + Int.random(in: 1...8, using: &generator))
        }
        var expectedDrops = ESPDropCounters()
        for (sequenceNumber, packet) in deliveries {
            let verdict = model.verdict(sequenceNumber)
            let (result, _) = openBytes(inbound, packet)
            switch verdict {
            case .fresh:
                #expect(result == .payload(16..<64, .ipv4))
                model.mark(sequenceNumber)
            case .replayed:
                #expect(result == .dropped(.replayed))
                expectedDrops.record(.replayed)
            case .outsideWindow:
                // With ESN a packet from before the window reads as one from the next 2^32
                // subspace and fails its ICV instead (RFC 4303 Appendix A2.2); either way it is dropped.
                if extendedSequenceNumbers, result == .dropped(.authenticationFailed) {
                    expectedDrops.record(.authenticationFailed)
                } else {
                    #expect(result == .dropped(.outsideWindow))
                    expectedDrops.record(.outsideWindow)
                }
            }
        }
        #expect(inbound.counters.drops == expectedDrops)
        #expect(inbound.highestSequenceNumber == outbound.lastSequenceNumber)
        #expect(inbound.counters.packets == UInt64(model.seen.count - (extendedSequenceNumbers ? 1 : 0)))
    }

    @Test("ESN: a packet whose high half the receiver guesses wrongly fails authentication and marks nothing")
    func esnWrongGuess() throws {
        let (outbound, inbound) = try makeSAPair(.chacha20Poly1305, extendedSequenceNumbers: true)
        let (early, _) = try makeSAPair(.chacha20Poly1305, extendedSequenceNumbers: true)
        for _ in 0..<5 { #expect(openBytes(inbound, try #require(sealToBytes(early, payload: [0x45]))).1 == [0x45]) }
        outbound.skipSequenceNumbers(to: 0x1_0000_0009)
        let wrapped = try #require(sealToBytes(outbound, payload: [0x45]))     // seq 2^32 + 10, low half 10
        #expect(openBytes(inbound, wrapped).0 == .dropped(.authenticationFailed))
        #expect(inbound.highestSequenceNumber == 5)
    }
}
