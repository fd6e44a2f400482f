// Crypto binding ([MS-SSTP] §3.2.5.2.2–§3.2.5.2.4, protocols.md §4.4, verified vectors):
//   HLAK (client) = MasterSendKey | MasterReceiveKey, (server) = MasterReceiveKey | MasterSendKey,
//   truncated or zero-padded to 32 bytes; no keys → 32 zero bytes.
//   CMK = HMAC-H(HLAK, "SSTP inner method derived CMK" | LEN (16-bit little-endian) | 0x01),
//   LEN = 32 (SHA-256) or 20 (SHA-1).
//   CompoundMAC = HMAC-H(CMK, the 112-byte CALL_CONNECTED packet with the MAC field zeroed),
//   SHA-1 results right-padded with zeros to 32 bytes; the certificate hash likewise.
// This is what stops a TLS man-in-the-middle: only the server checks it (sstpc never does).
import Crypto

public enum SSTPCryptoBinding {
    /// Offset of the 32-byte Compound MAC field inside the 112-byte CALL_CONNECTED packet.
    public static let macOffset = 80
    public static let callConnectedLength = 112

    public static func hlak(firstKey: [UInt8], secondKey: [UInt8]) -> [UInt8] {
        let joined = Array((firstKey + secondKey).prefix(32))
        return joined + [UInt8](repeating: 0, count: 32 - joined.count)
    }

    /// The server's HLAK from its own MPPE master keys (MasterReceiveKey | MasterSendKey).
    public static func serverHLAK(masterSendKey: [UInt8], masterReceiveKey: [UInt8]) -> [UInt8] {
        hlak(firstKey: masterReceiveKey, secondKey: masterSendKey)
    }

    /// The client's HLAK from its own MPPE master keys (MasterSendKey | MasterReceiveKey).
    public static func clientHLAK(masterSendKey: [UInt8], masterReceiveKey: [UInt8]) -> [UInt8] {
        hlak(firstKey: masterSendKey, secondKey: masterReceiveKey)
    }

    static let seed = Array("SSTP inner method derived CMK".utf8)

    public static func cmk(hlak: [UInt8], hash: SSTPHashProtocols) -> [UInt8] {
        let length: UInt16 = hash == .sha1 ? 20 : 32
        let data = seed + [UInt8(length & 0xFF), UInt8(length >> 8), 0x01]
        return mac(key: hlak, data: data, hash: hash)
    }

    /// HMAC-SHA256 or HMAC-SHA1 (unpadded).
    public static func mac(key: [UInt8], data: [UInt8], hash: SSTPHashProtocols) -> [UInt8] {
        let key = SymmetricKey(data: key)
        if hash == .sha1 { return Array(HMAC<Insecure.SHA1>.authenticationCode(for: data, using: key)) }
        return Array(HMAC<SHA256>.authenticationCode(for: data, using: key))
    }

    /// The 32-byte Compound MAC field for a CALL_CONNECTED packet (its MAC field is zeroed here).
    public static func compoundMAC(callConnected packet: [UInt8], hlak: [UInt8], hash: SSTPHashProtocols) -> [UInt8] {
        var zeroed = packet
        if zeroed.count >= macOffset + 32 {
            for i in macOffset..<(macOffset + 32) { zeroed[i] = 0 }
        }
        return pad32(mac(key: cmk(hlak: hlak, hash: hash), data: zeroed, hash: hash))
    }

    /// The certificate hash field: SHA-256 or SHA-1 of the server's leaf certificate DER, padded.
    public static func certificateHash(der: [UInt8], hash: SSTPHashProtocols) -> [UInt8] {
        if hash == .sha1 { return pad32(Array(Insecure.SHA1.hash(data: der))) }
        return Array(SHA256.hash(data: der))
    }

    static func pad32(_ bytes: [UInt8]) -> [UInt8] { bytes + [UInt8](repeating: 0, count: max(0, 32 - bytes.count)) }

    /// Builds a complete CALL_CONNECTED (client side).
    public static func callConnected(nonce: [UInt8], certificateDER: [UInt8], hlak: [UInt8], hash: SSTPHashProtocols) -> [UInt8] {
        let unsigned = SSTPPacket.control(SSTPControlMessage(.callConnected, [
            .cryptoBinding(hashProtocol: hash.rawValue, nonce: nonce, certificateHash: certificateHash(der: certificateDER, hash: hash),
                           compoundMAC: [UInt8](repeating: 0, count: 32)),
        ])).emit()
        var packet = unsigned
        packet.replaceSubrange(macOffset..<(macOffset + 32), with: compoundMAC(callConnected: unsigned, hlak: hlak, hash: hash))
        return packet
    }

    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var diff: UInt8 = 0
        for i in a.indices { diff |= a[i] ^ b[i] }
        return diff == 0
    }
}
