/// What arrived in a UDP datagram on the NAT-T port (RFC 3948 §2).
public enum UDPEncapsulatedDatagram: Sendable, Hashable {
    /// An ESP packet starting at offset 0, with this SPI (never 0).
    case esp(spi: UInt32)
    /// An IKE message after the 4-byte non-ESP marker; the message starts at `messageOffset`.
    case ike(messageOffset: Int)
    /// A NAT-keepalive: the single byte 0xFF (RFC 3948 §2.3).
    case natKeepalive
    /// Too short to be either, or an empty IKE message.
    case malformed
}

/// RFC 3948 UDP encapsulation: telling ESP, IKE and keepalives apart on port 4500.
public enum ESPUDPEncapsulation {
    public static let port: UInt16 = 4500
    /// RFC 3948 §2.2: four zero bytes where an ESP SPI would be.
    public static let nonESPMarkerLength = 4
    public static let natKeepaliveByte: UInt8 = 0xFF
    /// RFC 7296 §3.1: the fixed IKE header.
    static let ikeHeaderLength = 28

    public static func classify(_ datagram: UnsafeRawBufferPointer) -> UDPEncapsulatedDatagram {
        if datagram.count == 1 {
            return datagram[0] == natKeepaliveByte ? .natKeepalive : .malformed
        }
        guard datagram.count >= nonESPMarkerLength else { return .malformed }
        let leading = datagram.loadBigEndianUInt32(at: 0)
        if leading == 0 {
            guard datagram.count >= nonESPMarkerLength + ikeHeaderLength else { return .malformed }
            return .ike(messageOffset: nonESPMarkerLength)
        }
        guard datagram.count >= ESPHeader.length else { return .malformed }
        return .esp(spi: leading)
    }

    /// The SPI of an ESP packet (raw or UDP-encapsulated), for the SAD lookup; nil if too short
    /// or 0 (reserved, RFC 4303 §2.1).
    public static func spi(ofESPPacket packet: UnsafeRawBufferPointer) -> UInt32? {
        guard packet.count >= ESPHeader.length else { return nil }
        let spi = packet.loadBigEndianUInt32(at: ESPHeader.spiOffset)
        return spi == 0 ? nil : spi
    }
}

/// The inbound half of the SAD (RFC 4301 §4.4.2): SPI → inbound SA.
/// Packets for SPIs it does not hold are dropped and counted here.
public final class ESPSADatabase {
    private var inbound: [UInt32: ESPInboundSA] = [:]
    /// Drops decided before any SA was found (unknown SPI, too short to carry one).
    public private(set) var drops = ESPDropCounters()

    public init() {}

    public var count: Int { inbound.count }
    public var spis: Dictionary<UInt32, ESPInboundSA>.Keys { inbound.keys }

    /// Adds or replaces the SA for its SPI. During a rekey both old and new SAs are installed.
    public func install(_ sa: ESPInboundSA) {
        inbound[sa.spi] = sa
    }

    @discardableResult
    public func remove(spi: UInt32) -> ESPInboundSA? {
        inbound.removeValue(forKey: spi)
    }

    public func inboundSA(spi: UInt32) -> ESPInboundSA? {
        inbound[spi]
    }

    /// Looks up the SA by SPI and opens the packet in place.
    public func open(_ buffer: UnsafeMutableRawBufferPointer, packet: Range<Int>) -> ESPOpenResult {
        guard packet.lowerBound >= 0, packet.upperBound <= buffer.count, packet.count >= ESPHeader.length else {
            drops.record(.truncated)
            return .dropped(.truncated)
        }
        let spi = UnsafeRawBufferPointer(rebasing: buffer[packet]).loadBigEndianUInt32(at: ESPHeader.spiOffset)
        guard let sa = inbound[spi] else {
            drops.record(.unknownSPI)
            return .dropped(.unknownSPI)
        }
        return sa.open(buffer, packet: packet)
    }
}
