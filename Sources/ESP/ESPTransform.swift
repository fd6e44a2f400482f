/// The cryptographic half of an SA direction: it seals and opens one ESP packet in place.
///
/// The packet handed to both calls is laid out per RFC 4303 §2:
/// `SPI(4) ‖ Seq(4) ‖ IV(ivLength) ‖ payload ‖ padding ‖ padLength(1) ‖ nextHeader(1) ‖ ICV(icvLength)`.
/// The SA writes the header and trailer; the transform owns the IV, the ciphertext and the ICV.
/// Implementations keep one cipher context (and one MAC state) for their lifetime and allocate
/// nothing per call. A transform belongs to one thread at a time.
public protocol ESPTransform: AnyObject {
    var ivLength: Int { get }
    var icvLength: Int { get }
    /// `payload ‖ padding ‖ trailer` must be a multiple of this (RFC 4303 §2.4: at least 4).
    var paddingAlignment: Int { get }
    /// The cipher's block: ciphertext must be a whole number of these (1 for stream-like AEADs).
    var ciphertextBlockLength: Int { get }

    /// Makes whatever per-direction state the first packet would otherwise create (CBC needs a
    /// separate decryption key schedule), so that no packet ever allocates. SAs call it once.
    func prepare(for direction: ESPDirection) throws(ESPConfigurationError)

    /// Writes the IV, encrypts `[8 + ivLength, count - icvLength)` in place and writes the ICV.
    /// `sequenceNumber` is the full 64-bit counter; its high half enters the ICV/AAD only when
    /// `extendedSequenceNumbers` is set (RFC 4303 §2.2.1). Returns false only if the cipher failed.
    func seal(packet: UnsafeMutableRawBufferPointer, sequenceNumber: UInt64, extendedSequenceNumbers: Bool) -> Bool

    /// Verifies the ICV and decrypts `[8 + ivLength, count - icvLength)` in place.
    /// `sequenceNumberHigh` is the reconstructed ESN high half, nil without ESN.
    /// Returns false when the packet is not authentic; the buffer is then garbage.
    func open(packet: UnsafeMutableRawBufferPointer, sequenceNumberHigh: UInt32?) -> Bool
}

public enum ESPDirection: Sendable, Hashable {
    case outbound
    case inbound
}

extension ESPTransform {
    public func prepare(for direction: ESPDirection) throws(ESPConfigurationError) {}
}

enum ESPHeader {
    static let length = 8
    static let trailerLength = 2
    static let spiOffset = 0
    static let sequenceNumberOffset = 4
}

extension UnsafeMutableRawBufferPointer {
    @inline(__always)
    func storeBigEndian(_ value: UInt32, at offset: Int) {
        storeBytes(of: value.bigEndian, toByteOffset: offset, as: UInt32.self)
    }

    @inline(__always)
    func storeBigEndian(_ value: UInt64, at offset: Int) {
        storeBytes(of: value.bigEndian, toByteOffset: offset, as: UInt64.self)
    }
}

extension UnsafeRawBufferPointer {
    @inline(__always)
    func loadBigEndianUInt32(at offset: Int) -> UInt32 {
        UInt32(bigEndian: loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }
}

extension UnsafeMutableRawBufferPointer {
    @inline(__always)
    func loadBigEndianUInt32(at offset: Int) -> UInt32 {
        UInt32(bigEndian: loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }
}
