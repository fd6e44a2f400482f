// Asynchronous HDLC-like framing (RFC 1662 §4): what `sstpc --nolaunchpppd` speaks on its stdio
// (protocols.md §4.9) — 0x7E flags, 0x7D escapes (octet XOR 0x20) for the flag, the escape and
// every octet below 0x20 (ACCM 0xFFFFFFFF, the safe default), and a 16-bit FCS (RFC 1662 §C.2).
// SSTP itself carries frames without any of this; only the stdio harness and
// `vpngw p2s connect` need it. Imports nothing.
// Invariants: the decoder never holds more than `maxFrame` octets of one frame, drops frames
// with a bad FCS or that are too short, and never traps.

public enum HDLC {
    /// RFC 1662 §C.2 table-free FCS-16 (CRC-16/X.25: reflected 0x8408, init 0xFFFF).
    public static func fcs16<Bytes: Sequence<UInt8>>(_ bytes: Bytes, initial: UInt16 = 0xFFFF) -> UInt16 {
        var fcs = initial
        for byte in bytes {
            fcs ^= UInt16(byte)
            for _ in 0..<8 { fcs = fcs & 1 == 1 ? (fcs >> 1) ^ 0x8408 : fcs >> 1 }
        }
        return fcs
    }

    /// The residue of a frame whose FCS is correct (RFC 1662 §C.2 PPPGOODFCS16).
    public static let goodFCS: UInt16 = 0xF0B8

    /// One PPP frame (FF 03 + protocol + information, as PPPFrame.emit gives) → flagged, escaped octets.
    public static func encode(_ frame: [UInt8]) -> [UInt8] {
        let fcs = ~fcs16(frame)
        var out: [UInt8] = [0x7E]
        out.reserveCapacity(frame.count * 2 + 6)
        for byte in frame + [UInt8(fcs & 0xFF), UInt8(fcs >> 8)] {
            if byte < 0x20 || byte == 0x7E || byte == 0x7D {
                out.append(0x7D)
                out.append(byte ^ 0x20)
            } else {
                out.append(byte)
            }
        }
        out.append(0x7E)
        return out
    }
}

/// Cuts an async-HDLC octet stream into PPP frames (FCS checked and removed).
public struct HDLCDecoder: Sendable {
    public let maxFrame: Int
    var current: [UInt8] = []
    var escaped = false
    var overflow = false
    /// Frames dropped for a bad FCS, being too short or too long.
    public private(set) var droppedFrames = 0

    public init(maxFrame: Int = PPPLimits.maxFrame + 4) { self.maxFrame = maxFrame }

    /// Feeds octets; returns the complete frames they finished.
    public mutating func feed<Bytes: Sequence<UInt8>>(_ bytes: Bytes) -> [[UInt8]] {
        var frames: [[UInt8]] = []
        for byte in bytes {
            switch byte {
            case 0x7E:
                if !current.isEmpty || overflow {
                    if !overflow, current.count >= 4, HDLC.fcs16(current) == HDLC.goodFCS {
                        frames.append(Array(current.dropLast(2)))
                    } else {
                        droppedFrames += 1
                    }
                }
                current.removeAll(keepingCapacity: true)
                escaped = false
                overflow = false
            case 0x7D:
                escaped = true
            default:
                guard !overflow else { continue }
                guard current.count < maxFrame + 2 else {
                    overflow = true
                    current.removeAll(keepingCapacity: true)
                    continue
                }
                current.append(escaped ? byte ^ 0x20 : byte)
                escaped = false
            }
        }
        return frames
    }
}
