import IKE

/// Proposals written the way strongSwan's swanctl.conf writes them, so a site's configuration
/// reads the same on both ends: `aes128gcm16-prfsha256-x25519` (IKE), `aes256-sha256-modp2048` (ESP with PFS).
public enum ProposalName {
    public struct ParseError: Error, CustomStringConvertible {
        public var description: String
    }

    static func encryption(_ t: String) -> EncryptionAlgorithm? {
        switch t {
        case "aes128", "aes128cbc": .aesCBC(keyBits: 128)
        case "aes256", "aes256cbc": .aesCBC(keyBits: 256)
        case "aes128gcm16", "aes128gcm": .aesGCM16(keyBits: 128)
        case "aes256gcm16", "aes256gcm": .aesGCM16(keyBits: 256)
        case "chacha20poly1305": .chacha20Poly1305
        default: nil
        }
    }
    static func integrity(_ t: String) -> IntegrityAlgorithm? {
        switch t {
        case "sha1", "sha": .hmacSHA1_96
        case "sha256", "sha2_256": .hmacSHA2_256_128
        case "sha384", "sha2_384": .hmacSHA2_384_192
        case "sha512", "sha2_512": .hmacSHA2_512_256
        default: nil
        }
    }
    static func prf(_ t: String) -> PRFAlgorithm? {
        switch t {
        case "prfsha1": .hmacSHA1
        case "prfsha256": .hmacSHA2_256
        case "prfsha384": .hmacSHA2_384
        case "prfsha512": .hmacSHA2_512
        default: nil
        }
    }
    static func group(_ t: String) -> DHGroup? {
        switch t {
        case "modp1024": .modp1024
        case "modp2048": .modp2048
        case "ecp256": .ecp256
        case "ecp384": .ecp384
        case "ecp521": .ecp521
        case "x25519", "curve25519": .curve25519
        default: nil
        }
    }

    static let known = "encryption aes128 aes256 aes128gcm16 aes256gcm16 chacha20poly1305; integrity sha1 sha256 sha384 sha512; prf prfsha1 prfsha256 prfsha384 prfsha512; groups modp1024 modp2048 ecp256 ecp384 ecp521 x25519"

    public static func ike(_ text: String) throws(ParseError) -> IKECipherSuite {
        var enc: EncryptionAlgorithm?, integ: IntegrityAlgorithm?, p: PRFAlgorithm?, g: DHGroup?
        for token in text.lowercased().split(separator: "-").map(String.init) {
            if let e = encryption(token) { enc = e } else if let i = integrity(token) { integ = i }
            else if let x = prf(token) { p = x } else if let d = group(token) { g = d }
            else { throw ParseError(description: "'\(token)' in IKE proposal '\(text)' is not supported; known: \(known)") }
        }
        guard let enc else { throw ParseError(description: "IKE proposal '\(text)' names no encryption algorithm") }
        guard let g else { throw ParseError(description: "IKE proposal '\(text)' names no DH group (e.g. -modp2048 or -x25519)") }
        if enc.isAEAD && integ != nil { throw ParseError(description: "IKE proposal '\(text)': an AEAD cipher takes no integrity algorithm") }
        if !enc.isAEAD && integ == nil { throw ParseError(description: "IKE proposal '\(text)': \(enc) needs an integrity algorithm (e.g. -sha256)") }
        let derivedPRF: PRFAlgorithm? = switch integ {
        case .hmacSHA1_96?: .hmacSHA1
        case .hmacSHA2_256_128?: .hmacSHA2_256
        case .hmacSHA2_384_192?: .hmacSHA2_384
        case .hmacSHA2_512_256?: .hmacSHA2_512
        case nil: nil
        }
        guard let prfAlgorithm = p ?? derivedPRF else { throw ParseError(description: "IKE proposal '\(text)': give a PRF with an AEAD cipher (e.g. -prfsha256)") }
        return IKECipherSuite(encryption: enc, integrity: integ, prf: prfAlgorithm, dhGroup: g)
    }

    public static func esp(_ text: String) throws(ParseError) -> ChildCipherSuite {
        var enc: EncryptionAlgorithm?, integ: IntegrityAlgorithm?, g: DHGroup?, esn = false
        for token in text.lowercased().split(separator: "-").map(String.init) {
            if let e = encryption(token) { enc = e } else if let i = integrity(token) { integ = i }
            else if let d = group(token) { g = d } else if token == "esn" { esn = true } else if token == "noesn" { esn = false }
            else { throw ParseError(description: "'\(token)' in ESP proposal '\(text)' is not supported; known: \(known); esn noesn") }
        }
        guard let enc else { throw ParseError(description: "ESP proposal '\(text)' names no encryption algorithm") }
        if enc.isAEAD && integ != nil { throw ParseError(description: "ESP proposal '\(text)': an AEAD cipher takes no integrity algorithm") }
        if !enc.isAEAD && integ == nil { throw ParseError(description: "ESP proposal '\(text)': \(enc) needs an integrity algorithm (e.g. -sha256)") }
        return ChildCipherSuite(encryption: enc, integrity: integ, dhGroup: g, extendedSequenceNumbers: esn)
    }
}
