// Asynchronous HDLC-like framing (RFC 1662 §4): what `sstpc --nolaunchpppd` speaks on its stdio
// (protocols.md §4.9) — 0x7E flags, 0x7D escapes (octet XOR 0x20) for the flag, the escape and
// every octet below 0x20 (ACCM 0xFFFFFFFF, the safe default), and a 16-bit FCS (RFC 1662 §C.2).
// SSTP itself carries frames without any of this; only the stdio harness and
// `vpngw p2s connect` need it. Imports nothing.
// Invariants: the decoder never holds more than `maxFrame` octets of one frame, drops frames
// with a bad FCS or that are too short, and never traps.

public enum HDLC {
    /// RFC 1662 §C.2 FCS-16 (CRC-16/X.25: reflected 0x8408, init 0xFFFF), table-driven.
    public static func fcs16<Bytes: Sequence<UInt8>>(_ bytes: Bytes, initial: UInt16 = 0xFFFF) -> UInt16 {
        // Callers in other modules get this unspecialised: hand contiguous storage to the
        // non-generic loop instead of paying witness calls per octet.
        if let fcs = bytes.withContiguousStorageIfAvailable({ fcs16(UnsafeRawBufferPointer($0), initial: initial) }) { return fcs }
        return fcs16(Array(bytes), initial: initial)
    }

    public static func fcs16(_ bytes: UnsafeRawBufferPointer, initial: UInt16 = 0xFFFF) -> UInt16 {
        fcsTable.withUnsafeBufferPointer { table in
            var fcs = initial
            for byte in bytes { fcs = (fcs >> 8) ^ table[Int((fcs ^ UInt16(byte)) & 0xFF)] }
            return fcs
        }
    }

    /// RFC 1662 §C.2 fcstab: the FCS of each octet value, bit by bit.
    static let fcsTable: [UInt16] = (0..<256).map { (value: Int) -> UInt16 in
        var v = UInt16(value)
        for _ in 0..<8 { v = v & 1 == 1 ? (v >> 1) ^ 0x8408 : v >> 1 }
        return v
    }

    /// The residue of a frame whose FCS is correct (RFC 1662 §C.2 PPPGOODFCS16).
    public static let goodFCS: UInt16 = 0xF0B8

    /// One PPP frame (FF 03 + protocol + information, as PPPFrame.emit gives) → flagged, escaped octets.
    public static func encode(_ frame: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        encode(prefix: [], frame, appendingTo: &out)
        return out
    }

    /// Appends the flagged, escaped frame `prefix ‖ frame` to `out` (several frames share one
    /// buffer and one write; the prefix spares callers a concatenated copy per packet).
    public static func encode(prefix: [UInt8] = [], _ frame: [UInt8], appendingTo out: inout [UInt8]) {
        let fcs = ~fcs16(frame, initial: fcs16(prefix))
        out.reserveCapacity(out.count + (prefix.count + frame.count) * 2 + 6)
        out.append(0x7E)
        @inline(__always) func put(_ byte: UInt8) {
            if byte < 0x20 || byte == 0x7E || byte == 0x7D {
                out.append(0x7D)
                out.append(byte ^ 0x20)
            } else {
                out.append(byte)
            }
        }
        for byte in prefix { put(byte) }
        for byte in frame { put(byte) }
        put(UInt8(fcs & 0xFF))
        put(UInt8(fcs >> 8))
        out.append(0x7E)
    }
}

/// Cuts an async-HDLC octet stream into PPP frames (FCS checked and removed).
public struct HDLCDecoder: Sendable {
    public let maxFrame: Int
    var current: [UInt8] = []
    var escaped = false
    var overflow = false
    var fcs: UInt16 = 0xFFFF
    /// Frames dropped for a bad FCS, being too short or too long.
    public private(set) var droppedFrames = 0

    public init(maxFrame: Int = PPPLimits.maxFrame + 4) { self.maxFrame = maxFrame }

    /// Feeds octets; returns the complete frames they finished.
    public mutating func feed<Bytes: Sequence<UInt8>>(_ bytes: Bytes) -> [[UInt8]] {
        if let frames = bytes.withContiguousStorageIfAvailable({ feed(UnsafeRawBufferPointer($0)) }) { return frames }
        return Array(bytes).withUnsafeBytes { feed($0) }
    }

    /// The decoder proper: non-generic, the FCS kept running as octets arrive (one table lookup
    /// per octet, no second pass over the frame).
    public mutating func feed(_ bytes: UnsafeRawBufferPointer) -> [[UInt8]] {
        var frames: [[UInt8]] = []
        HDLC.fcsTable.withUnsafeBufferPointer { table in
            let n = bytes.count
            var i = 0
            while i < n {
                let byte = bytes[i]
                if byte == 0x7E {
                    if !current.isEmpty || overflow {
                        if !overflow, current.count >= 4, fcs == HDLC.goodFCS {
                            frames.append(Array(current[0..<(current.count - 2)]))
                        } else {
                            droppedFrames += 1
                        }
                    }
                    current.removeAll(keepingCapacity: true)
                    fcs = 0xFFFF
                    escaped = false
                    overflow = false
                    i += 1
                    continue
                }
                if byte == 0x7D { escaped = true; i += 1; continue }
                // A run of plain octets up to the next flag or escape (the first one unescaped
                // if an escape preceded it): appended in one go, FCS updated octet by octet.
                var end = i + 1
                while end < n, bytes[end] != 0x7E, bytes[end] != 0x7D { end += 1 }
                if overflow { i = end; escaped = false; continue }
                guard current.count + (end - i) <= maxFrame + 2 else {
                    overflow = true
                    current.removeAll(keepingCapacity: true)
                    i = end
                    escaped = false
                    continue
                }
                let first = escaped ? byte ^ 0x20 : byte
                escaped = false
                current.append(first)
                fcs = (fcs >> 8) ^ table[Int((fcs ^ UInt16(first)) & 0xFF)]
                if end > i + 1 {
                    let run = UnsafeRawBufferPointer(rebasing: bytes[(i + 1)..<end])
                    current.append(contentsOf: run)
                    for octet in run { fcs = (fcs >> 8) ^ table[Int((fcs ^ UInt16(octet)) & 0xFF)] }
                }
                i = end
            }
        }
        return frames
    }
}
