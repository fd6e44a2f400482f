import PPP

func hex(_ s: String) -> [UInt8] {
    let digits = Array(s.filter { $0.isHexDigit }.utf8)
    var out: [UInt8] = []
    var i = 0
    while i + 1 < digits.count {
        out.append(UInt8(String(decoding: digits[i...i + 1], as: UTF8.self), radix: 16)!)
        i += 2
    }
    return out
}

func hexString(_ bytes: [UInt8]) -> String { bytes.map { String($0, radix: 16).leftPad() }.joined() }

extension String {
    func leftPad() -> String { count == 1 ? "0" + self : self }
}

/// Deterministic randomness so exchanges replay byte-for-byte.
struct CountingRandom: PPPRandomSource {
    let seed: UInt8
    func bytes(_ count: Int) -> [UInt8] { (0..<count).map { UInt8(truncatingIfNeeded: Int(seed) &* 31 &+ $0 &* 7) } }
}
