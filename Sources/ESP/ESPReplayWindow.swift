/// What the anti-replay window says about a (reconstructed) sequence number.
public enum ESPReplayVerdict: Sendable, Hashable {
    /// Ahead of the window or inside it and unseen.
    case fresh
    /// Inside the window and already marked.
    case replayed
    /// Behind the window, or 0 (sequence numbers start at 1, RFC 4303 §3.3.3).
    case outsideWindow
}

/// RFC 4303 §3.4.3 anti-replay window as an RFC 6479 ring of 64-bit blocks, with ESN high-half
/// reconstruction per RFC 4303 Appendix A2.2.
///
/// Invariants: `highest` is the largest sequence number marked (0 before the first);
/// a number `s` with `highest - size < s <= highest` is marked iff its bit is set; the ring holds
/// more than `size` bits, so sliding forward only clears whole blocks that fell out of the window.
/// Check before authentication, `mark` only after (RFC 4303 §3.4.3).
public struct ESPReplayWindow: ~Copyable {
    public let size: Int
    public private(set) var highest: UInt64 = 0
    public let extendedSequenceNumbers: Bool
    private let blocks: UnsafeMutablePointer<UInt64>
    private let blockCount: Int
    private let blockIndexMask: UInt64

    public static let defaultSize = 1024

    /// `size` is the number of sequence numbers the window accepts behind the highest, at least 64.
    public init(size: Int = ESPReplayWindow.defaultSize, extendedSequenceNumbers: Bool) throws(ESPConfigurationError) {
        guard size >= 64, size <= 1 << 20 else { throw .invalidReplayWindowSize(size) }
        self.size = size
        self.extendedSequenceNumbers = extendedSequenceNumbers
        let neededBlocks = (size + 63) / 64 + 1
        var count = 1
        while count < neededBlocks { count <<= 1 }
        blockCount = count
        blockIndexMask = UInt64(count - 1)
        blocks = .allocate(capacity: count)
        blocks.initialize(repeating: 0, count: count)
    }

    deinit {
        blocks.deallocate()
    }

    /// The full 64-bit number a received low half stands for: itself without ESN; with ESN the
    /// high half is guessed from the window (RFC 4303 Appendix A2.2). nil when the guess would be
    /// below zero, i.e. the packet lies behind the very first window.
    public func reconstruct(low: UInt32) -> UInt64? {
        guard extendedSequenceNumbers else { return UInt64(low) }
        let windowSize = UInt32(truncatingIfNeeded: min(size, Int(UInt32.max)))
        let highestLow = UInt32(truncatingIfNeeded: highest)
        let highestHigh = UInt32(truncatingIfNeeded: highest >> 32)
        let bottom = highestLow &- windowSize &+ 1
        let high: UInt32
        if highestLow >= windowSize - 1 {
            // Case A: the window lies within one 2^32 subspace.
            if low >= bottom {
                high = highestHigh
            } else {
                guard highestHigh < UInt32.max else { return nil }
                high = highestHigh + 1
            }
        } else {
            // Case B: the window spans the boundary into the previous subspace.
            if low >= bottom {
                guard highestHigh > 0 else { return nil }
                high = highestHigh - 1
            } else {
                high = highestHigh
            }
        }
        return UInt64(high) << 32 | UInt64(low)
    }

    public func check(_ sequenceNumber: UInt64) -> ESPReplayVerdict {
        if sequenceNumber == 0 { return .outsideWindow }
        if sequenceNumber > highest { return .fresh }
        if highest - sequenceNumber >= UInt64(size) { return .outsideWindow }
        let block = blocks[Int((sequenceNumber >> 6) & blockIndexMask)]
        return block & (1 << (sequenceNumber & 63)) == 0 ? .fresh : .replayed
    }

    /// Records an authenticated packet. Slides the window when it moves `highest` forward.
    /// Precondition: `check(sequenceNumber) == .fresh`.
    public mutating func mark(_ sequenceNumber: UInt64) {
        if sequenceNumber > highest {
            let oldBlock = highest >> 6
            let newBlock = sequenceNumber >> 6
            let advance = newBlock - oldBlock
            if advance >= UInt64(blockCount) {
                blocks.update(repeating: 0, count: blockCount)
            } else if advance > 0 {
                var block = oldBlock + 1
                while block <= newBlock {
                    blocks[Int(block & blockIndexMask)] = 0
                    block += 1
                }
            }
            highest = sequenceNumber
        }
        blocks[Int((sequenceNumber >> 6) & blockIndexMask)] |= 1 << (sequenceNumber & 63)
    }
}
