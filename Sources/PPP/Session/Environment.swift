// Clock and randomness are injected (ARCHITECTURE.md §2): the session never reads a clock or
// draws randomness itself, so an exchange replays byte-for-byte in a test.

/// A point in time, in nanoseconds of a monotonic clock chosen by the caller.
public struct PPPInstant: Comparable, Hashable, Sendable, CustomStringConvertible {
    public var nanoseconds: Int64

    public init(nanoseconds: Int64) { self.nanoseconds = nanoseconds }

    public static let zero = PPPInstant(nanoseconds: 0)

    public static func < (lhs: PPPInstant, rhs: PPPInstant) -> Bool { lhs.nanoseconds < rhs.nanoseconds }

    public static func + (lhs: PPPInstant, rhs: Duration) -> PPPInstant {
        let (seconds, attoseconds) = rhs.components
        return PPPInstant(nanoseconds: lhs.nanoseconds &+ seconds &* 1_000_000_000 &+ attoseconds / 1_000_000_000)
    }

    public var description: String { "t+\(Double(nanoseconds) / 1e9)s" }
}

public protocol PPPRandomSource: Sendable {
    func bytes(_ count: Int) -> [UInt8]
}

/// The operating system's CSPRNG.
public struct SystemPPPRandom: PPPRandomSource {
    public init() {}

    public func bytes(_ count: Int) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
    }
}
