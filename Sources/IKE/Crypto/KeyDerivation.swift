// Keying material for IKE and CHILD SAs: RFC 7296 §2.14 (IKE SA), §2.17 (CHILD SA), §2.18 (IKE rekey).

/// SK_d | SK_ai | SK_ar | SK_ei | SK_er | SK_pi | SK_pr, split in that order (RFC 7296 §2.14).
public struct IKESAKeys: Hashable, Sendable {
    public var skD: [UInt8]
    public var skAi: [UInt8]
    public var skAr: [UInt8]
    /// For AEAD ciphers: key ‖ 4-byte salt (RFC 5282 §7.1, RFC 7634 §2).
    public var skEi: [UInt8]
    public var skEr: [UInt8]
    public var skPi: [UInt8]
    public var skPr: [UInt8]
}

/// One direction of an ESP SA: cipher key (with salt for AEAD) and integrity key (empty for AEAD).
public struct ChildSADirectionKeys: Hashable, Sendable {
    public var encryptionKey: [UInt8]
    public var integrityKey: [UInt8]
}

/// RFC 7296 §2.17: initiator→responder keys come first, then responder→initiator.
public struct ChildSAKeys: Hashable, Sendable {
    public var initiatorToResponder: ChildSADirectionKeys
    public var responderToInitiator: ChildSADirectionKeys
}

public enum KeyDerivation {
    /// SKEYSEED = prf(Ni | Nr, g^ir) (RFC 7296 §2.14; HMAC PRFs take the whole nonce pair as key).
    public static func skeyseed(prf: PRFAlgorithm, nonceInitiator: [UInt8], nonceResponder: [UInt8],
                                sharedSecret: [UInt8]) -> [UInt8] {
        prf.compute(key: nonceInitiator + nonceResponder, data: sharedSecret)
    }

    /// SKEYSEED = prf(SK_d (old), g^ir (new) | Ni | Nr) with the old SA's PRF (RFC 7296 §2.18).
    public static func rekeyedSKEYSEED(oldPRF: PRFAlgorithm, oldSKd: [UInt8], newSharedSecret: [UInt8],
                                       nonceInitiator: [UInt8], nonceResponder: [UInt8]) -> [UInt8] {
        oldPRF.compute(key: oldSKd, data: newSharedSecret + nonceInitiator + nonceResponder)
    }

    /// {SK_d | SK_ai | SK_ar | SK_ei | SK_er | SK_pi | SK_pr} = prf+(SKEYSEED, Ni | Nr | SPIi | SPIr).
    public static func ikeSAKeys(suite: IKECipherSuite, skeyseed: [UInt8], nonceInitiator: [UInt8],
                                 nonceResponder: [UInt8], initiatorSPI: UInt64,
                                 responderSPI: UInt64) throws(IKECryptoError) -> IKESAKeys {
        var seed = nonceInitiator + nonceResponder
        seed.appendU64(initiatorSPI)
        seed.appendU64(responderSPI)
        let prfLength = suite.prf.outputLength
        let integrityLength = suite.integrity?.keyLength ?? 0
        let encryptionLength = suite.encryption.keyMaterialLength
        let total = 3 * prfLength + 2 * integrityLength + 2 * encryptionLength
        let stream = try suite.prf.prfPlus(key: skeyseed, seed: seed, length: total)
        var cursor = 0
        func take(_ count: Int) -> [UInt8] {
            defer { cursor += count }
            return Array(stream[cursor..<cursor + count])
        }
        let skD = take(prfLength)
        let skAi = take(integrityLength)
        let skAr = take(integrityLength)
        let skEi = take(encryptionLength)
        let skEr = take(encryptionLength)
        let skPi = take(prfLength)
        let skPr = take(prfLength)
        return IKESAKeys(skD: skD, skAi: skAi, skAr: skAr, skEi: skEi, skEr: skEr, skPi: skPi, skPr: skPr)
    }

    /// KEYMAT = prf+(SK_d, Ni | Nr), or prf+(SK_d, g^ir (new) | Ni | Nr) with PFS (RFC 7296 §2.17).
    /// In IKE_AUTH the nonces are those of IKE_SA_INIT.
    public static func childSAKeys(prf: PRFAlgorithm, skD: [UInt8], suite: ChildCipherSuite,
                                   nonceInitiator: [UInt8], nonceResponder: [UInt8],
                                   pfsSharedSecret: [UInt8]? = nil) throws(IKECryptoError) -> ChildSAKeys {
        let seed = (pfsSharedSecret ?? []) + nonceInitiator + nonceResponder
        let encryptionLength = suite.encryption.keyMaterialLength
        let integrityLength = suite.integrity?.keyLength ?? 0
        let stream = try prf.prfPlus(key: skD, seed: seed, length: 2 * (encryptionLength + integrityLength))
        var cursor = 0
        func take(_ count: Int) -> [UInt8] {
            defer { cursor += count }
            return Array(stream[cursor..<cursor + count])
        }
        let outbound = ChildSADirectionKeys(encryptionKey: take(encryptionLength), integrityKey: take(integrityLength))
        let inbound = ChildSADirectionKeys(encryptionKey: take(encryptionLength), integrityKey: take(integrityLength))
        return ChildSAKeys(initiatorToResponder: outbound, responderToInitiator: inbound)
    }
}

/// RFC 7296 §2.15: AUTH for a pre-shared key.
public enum PSKAuthentication {
    /// The 17 ASCII octets "Key Pad for IKEv2", no terminating NUL.
    public static let keyPad: [UInt8] = Array("Key Pad for IKEv2".utf8)

    /// <SignedOctets> = RealMessage | NonceOfPeer | prf(SK_p, IDType | RESERVED | IDData).
    /// For the initiator: RealMessage1, Nr, SK_pi, IDi body; for the responder: RealMessage2, Ni, SK_pr, IDr body.
    public static func signedOctets(prf: PRFAlgorithm, realMessage: [UInt8], peerNonce: [UInt8],
                                    skP: [UInt8], identification: IdentificationPayload) -> [UInt8] {
        realMessage + peerNonce + prf.compute(key: skP, data: identification.bodyBytes)
    }

    /// AUTH = prf(prf(Shared Secret, "Key Pad for IKEv2"), <SignedOctets>).
    public static func authData(prf: PRFAlgorithm, sharedSecret: [UInt8], signedOctets: [UInt8]) -> [UInt8] {
        prf.compute(key: prf.compute(key: sharedSecret, data: keyPad), data: signedOctets)
    }
}
