import Testing
@testable import IKE

/// NIST CAVP SP 800-135 IKEv2 KDF vector (HMAC-SHA-1, 8-byte nonces, 1024-bit g^ir), the set
/// protocols.md §1.12 points to: SKEYSEED, the IKE SA DKM, CHILD SA DKM with and without PFS,
/// and the rekeyed SKEYSEED (RFC 7296 §2.14, §2.17, §2.18).
@Suite struct NISTKDFVectorTests {
    static let ni = hex("3651fef5c9c35e93")
    static let nr = hex("c09a8b90a3f04d59")
    static let gir = hex("""
        d084a30166a50fb7325c3960874a839449ef9741c2f4f947d0201dd8c1269273d79509f37e3ca3eb4fa2fe2a28254e28
        9cd3f34dad4eb4df1a07685a4b8a94fa61e2491f7598b3ce65547ff133b3f63d1ac4175eaa695033f3cedb026a6873a3
        6455172a8540b8a5d23a0143bed0390ee49b168269d75fffee9fb62be965993c
        """)
    static let girNew = hex("""
        52f00ab174c25d5b7139ae5ff4e8e9eddee5992d2e36adf8a559ffd90dab1442e4fbe429d320c0f33552a17d1557fa41
        ea70e8fb916c4fa27ed52b5f8ebd8461afa78f1159159a64055ac5f6319e29c28eae58cbc6847770f32c3fed1d047504
        84f854790f95e9ec01bc5bc461f24966462e359511329305038e94deb6dd42c2
        """)
    static let spiI = hex("8e5c3ae507221684")
    static let spiR = hex("b1f201bb155c3acd")
    static let skeyseed = hex("cd2e8050137832245f1dbacc6e4f0a92f94d45d6")
    static let dkm = hex("""
        6f1b12cad3cbe097b35430356d869d54cddb0198ec859174d53ceb92dddedbe2436db69f60977c58fa63bbb667f8d369
        20b109baae8f6c61a9ac49feda01843225d080ec5539d5881a25521ffb2a0a91874a9c0a27fcc2d717eb8963a9e3a89c
        7ab264757284c28cf8c3ca40576f4220b052b1fb8e9ad60ba3c80557323331a8cbb89f20
        """)
    static let childDKM = hex("""
        4727dc0ef94eb326ce131cf282fb652faa638ad0ddae3786a11bcc0309876009f8c485de011ad962c5b1ca8a41ff8145
        445749079c5686e26ffebbc342f06981f3da745e11ca0976424d1f8caec623d59dc7186deb20a27b411d1dcb70a36544
        0bf7de905088b0692e8addc094e18d1939bdb67e89798ca6b239e2ccb81c2409dac0106c
        """)
    static let childPFSDKM = hex("""
        b109c21ad4c0797768c1cec9e63554681e48f224bca7f23c20c4ea7041983451e9aa1d5408656c8a975ff1b9d9a12c75
        ffeb64bdecb30174664cccb4e14f1c377b7f6d1525af77c7092aac3e47f917ebae8297fb5539d2008ce830823a09cc19
        7361d4a289c72745f6ce9fefe812be5bf55b3200fbb82e41a4a40877d3fe106db909707b
        """)
    static let rekeyedSKEYSEED = hex("3b03bce748c96d5e8306918d2ff89b68f0648da3")

    @Test func skeyseed() {
        #expect(KeyDerivation.skeyseed(prf: .hmacSHA1, nonceInitiator: Self.ni, nonceResponder: Self.nr,
                                       sharedSecret: Self.gir) == Self.skeyseed)
    }

    @Test func ikeSAKeyingMaterial() throws {
        let stream = try PRFAlgorithm.hmacSHA1.prfPlus(key: Self.skeyseed, seed: Self.ni + Self.nr + Self.spiI + Self.spiR,
                                                       length: Self.dkm.count)
        #expect(stream == Self.dkm)
        // The same stream through the key split: AES-CBC-128 / HMAC-SHA1-96 / PRF-HMAC-SHA1 takes 3×20 + 2×20 + 2×16 bytes.
        let suite = IKECipherSuite(encryption: .aesCBC(keyBits: 128), integrity: .hmacSHA1_96, prf: .hmacSHA1, dhGroup: .modp1024)
        let keys = try KeyDerivation.ikeSAKeys(suite: suite, skeyseed: Self.skeyseed, nonceInitiator: Self.ni, nonceResponder: Self.nr,
                                               initiatorSPI: 0x8e5c_3ae5_0722_1684, responderSPI: 0xb1f2_01bb_155c_3acd)
        let joined = keys.skD + keys.skAi + keys.skAr + keys.skEi + keys.skEr + keys.skPi + keys.skPr
        #expect(joined == Array(Self.dkm.prefix(joined.count)))
    }

    @Test func childSAKeyingMaterialWithoutPFS() throws {
        let skD = Array(Self.dkm.prefix(20))
        #expect(try PRFAlgorithm.hmacSHA1.prfPlus(key: skD, seed: Self.ni + Self.nr, length: Self.childDKM.count) == Self.childDKM)
        let suite = ChildCipherSuite(encryption: .aesCBC(keyBits: 256), integrity: .hmacSHA1_96)
        let keys = try KeyDerivation.childSAKeys(prf: .hmacSHA1, skD: skD, suite: suite, nonceInitiator: Self.ni, nonceResponder: Self.nr)
        let joined = keys.initiatorToResponder.encryptionKey + keys.initiatorToResponder.integrityKey
            + keys.responderToInitiator.encryptionKey + keys.responderToInitiator.integrityKey
        #expect(joined == Array(Self.childDKM.prefix(joined.count)))
    }

    @Test func childSAKeyingMaterialWithPFS() throws {
        let skD = Array(Self.dkm.prefix(20))
        let suite = ChildCipherSuite(encryption: .aesGCM16(keyBits: 256), integrity: nil, dhGroup: .modp1024)
        let keys = try KeyDerivation.childSAKeys(prf: .hmacSHA1, skD: skD, suite: suite, nonceInitiator: Self.ni, nonceResponder: Self.nr,
                                                 pfsSharedSecret: Self.girNew)
        #expect(keys.initiatorToResponder.encryptionKey + keys.responderToInitiator.encryptionKey == Array(Self.childPFSDKM.prefix(72)))
    }

    @Test func rekeyedSKEYSEED() {
        let skD = Array(Self.dkm.prefix(20))
        #expect(KeyDerivation.rekeyedSKEYSEED(oldPRF: .hmacSHA1, oldSKd: skD, newSharedSecret: Self.girNew,
                                              nonceInitiator: Self.ni, nonceResponder: Self.nr) == Self.rekeyedSKEYSEED)
    }
}
