import Testing
@testable import IKE

/// PRF known answers: RFC 2202 (HMAC-SHA1) and RFC 4231 / RFC 4868 §2.7.1 (HMAC-SHA2 PRFs).
@Suite struct PRFVectorTests {
    struct Vector: Sendable, CustomTestStringConvertible {
        var prf: PRFAlgorithm
        var key: [UInt8]
        var data: [UInt8]
        var output: String
        var testDescription: String { "\(prf) key \(key.count)B data \(data.count)B" }
    }

    static let hiThere = ascii("Hi There")
    static let largerKeyText = ascii("Test Using Larger Than Block-Size Key - Hash Key First")
    static let key25 = hex("0102030405060708090a0b0c0d0e0f10111213141516171819")

    static let vectors: [Vector] = [
        // RFC 2202 §3 test cases 1, 2, 3, 4, 6
        Vector(prf: .hmacSHA1, key: repeated(0x0b, 20), data: hiThere, output: "b617318655057264e28bc0b6fb378c8ef146be00"),
        Vector(prf: .hmacSHA1, key: ascii("Jefe"), data: ascii("what do ya want for nothing?"),
               output: "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"),
        Vector(prf: .hmacSHA1, key: repeated(0xaa, 20), data: repeated(0xdd, 50), output: "125d7342b9ac11cd91a39af48aa17b4f63f175d3"),
        Vector(prf: .hmacSHA1, key: key25, data: repeated(0xcd, 50), output: "4c9007f4026250c6bc8414f9bf50c86c2d7235da"),
        Vector(prf: .hmacSHA1, key: repeated(0xaa, 80), data: largerKeyText, output: "aa4ae5e15272d00e95705637ce8a3b55ed402112"),
        // RFC 4868 §2.7.1 / RFC 4231 test cases 1, 3, 4, 6
        Vector(prf: .hmacSHA2_256, key: repeated(0x0b, 20), data: hiThere,
               output: "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
        Vector(prf: .hmacSHA2_256, key: repeated(0xaa, 20), data: repeated(0xdd, 50),
               output: "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"),
        Vector(prf: .hmacSHA2_256, key: key25, data: repeated(0xcd, 50),
               output: "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"),
        Vector(prf: .hmacSHA2_256, key: repeated(0xaa, 131), data: largerKeyText,
               output: "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"),
        Vector(prf: .hmacSHA2_384, key: repeated(0x0b, 20), data: hiThere,
               output: "afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59cfaea9ea9076ede7f4af152e8b2fa9cb6"),
        Vector(prf: .hmacSHA2_384, key: repeated(0xaa, 20), data: repeated(0xdd, 50),
               output: "88062608d3e6ad8a0aa2ace014c8a86f0aa635d947ac9febe83ef4e55966144b2a5ab39dc13814b94e3ab6e101a34f27"),
        Vector(prf: .hmacSHA2_384, key: key25, data: repeated(0xcd, 50),
               output: "3e8a69b7783c25851933ab6290af6ca77a9981480850009cc5577c6e1f573b4e6801dd23c4a7d679ccf8a386c674cffb"),
        Vector(prf: .hmacSHA2_512, key: repeated(0x0b, 20), data: hiThere,
               output: "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cdedaa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854"),
        Vector(prf: .hmacSHA2_512, key: repeated(0xaa, 20), data: repeated(0xdd, 50),
               output: "fa73b0089d56a284efb0f0756c890be9b1b5dbdd8ee81a3655f83e33b2279d39bf3e848279a722c806b485a47e67c807b946a337bee8942674278859e13292fb"),
        Vector(prf: .hmacSHA2_512, key: key25, data: repeated(0xcd, 50),
               output: "b0ba465637458c6990e5a8c5f61d4af7e576d97ff94b872de76f8050361ee3dba91ca5c11aa25eb4d679275cc5788063a5f19741120c4f2de2adebeb10a298dd"),
    ]

    @Test(arguments: vectors) func knownAnswer(_ vector: Vector) {
        #expect(hexString(vector.prf.compute(key: vector.key, data: vector.data)) == vector.output)
    }
}

/// Integrity known answers: RFC 2202 truncated to 96 bits (RFC 2404) and RFC 4868 §2.7.2.
@Suite struct IntegrityVectorTests {
    struct Vector: Sendable, CustomTestStringConvertible {
        var algorithm: IntegrityAlgorithm
        var key: [UInt8]
        var data: [UInt8]
        var icv: String
        var testDescription: String { "\(algorithm) key \(key.count)B" }
    }

    static let jefe = ascii("what do ya want for nothing?")

    static let vectors: [Vector] = [
        Vector(algorithm: .hmacSHA1_96, key: repeated(0x0b, 20), data: ascii("Hi There"), icv: "b617318655057264e28bc0b6"),
        Vector(algorithm: .hmacSHA1_96, key: repeated(0xaa, 20), data: repeated(0xdd, 50), icv: "125d7342b9ac11cd91a39af4"),
        Vector(algorithm: .hmacSHA2_256_128, key: repeated(0x0b, 32), data: ascii("Hi There"), icv: "198a607eb44bfbc69903a0f1cf2bbdc5"),
        Vector(algorithm: .hmacSHA2_256_128, key: Array(repeating: ascii("Jefe"), count: 8).flatMap { $0 }, data: jefe,
               icv: "167f928588c5cc2eef8e3093caa0e87c"),
        Vector(algorithm: .hmacSHA2_256_128, key: repeated(0xaa, 32), data: repeated(0xdd, 50), icv: "cdcb1220d1ecccea91e53aba3092f962"),
        Vector(algorithm: .hmacSHA2_384_192, key: repeated(0x0b, 48), data: ascii("Hi There"),
               icv: "b6a8d5636f5c6a7224f9977dcf7ee6c7fb6d0c48cbdee973"),
        Vector(algorithm: .hmacSHA2_384_192, key: Array(repeating: ascii("Jefe"), count: 12).flatMap { $0 }, data: jefe,
               icv: "2c7353974f1842fd66d53c452ca42122b28c0b594cfb184d"),
        Vector(algorithm: .hmacSHA2_384_192, key: repeated(0xaa, 48), data: repeated(0xdd, 50),
               icv: "809f439be00274321d4a538652164b53554a508184a0c316"),
        Vector(algorithm: .hmacSHA2_512_256, key: repeated(0x0b, 64), data: ascii("Hi There"),
               icv: "637edc6e01dce7e6742a99451aae82df23da3e92439e590e43e761b33e910fb8"),
        Vector(algorithm: .hmacSHA2_512_256, key: Array(repeating: ascii("Jefe"), count: 16).flatMap { $0 }, data: jefe,
               icv: "cb370917ae8a7ce28cfd1d8f4705d6141c173b2a9362c15df235dfb251b15454"),
        Vector(algorithm: .hmacSHA2_512_256, key: repeated(0xaa, 64), data: repeated(0xdd, 50),
               icv: "2ee7acd783624ca9398710f3ee05ae41b9f9b0510c87e49e586cc9bf961733d8"),
    ]

    @Test(arguments: vectors) func knownAnswer(_ vector: Vector) {
        #expect(hexString(vector.algorithm.checksum(key: vector.key, data: vector.data)) == vector.icv)
    }
}

@Suite struct KeyDerivationTests {
    /// prf+ with HMAC-SHA-256, key 0x0b × 20, seed "Hi There": the output stream strongSwan's
    /// test_prf_plus.c checks in 3/6/7/16/8/8/14/20/40-byte reads (T1 = prf(K, S | 0x01)).
    @Test func prfPlusKnownAnswer() throws {
        let expected = hex("""
            b9bdc0 8988b4c2b75a a93e596ac84205 fa2ddde1bf7a2572067b00e14b237732
            830509981ad2f94a 8c32a47daa2255b6 60c436347ae756a6edc023477d80
            9590e682f61d9c04b06b4ad971a34c8147fa6679
            2ff1434b93c722b32e12f48832ebc15ce2369ce71fe9b7b81e5704c14d0f5280a6ec626e992d7a9f
            """)
        let output = try PRFAlgorithm.hmacSHA2_256.prfPlus(key: repeated(0x0b, 20), seed: ascii("Hi There"), length: expected.count)
        #expect(output == expected)
    }

    @Test func prfPlusStopsAfter255Blocks() throws {
        #expect(try PRFAlgorithm.hmacSHA2_256.prfPlus(key: [1], seed: [2], length: 255 * 32).count == 8160)
        #expect(throws: IKECryptoError.prfPlusOutputTooLong(requested: 8161, maximum: 8160)) {
            try PRFAlgorithm.hmacSHA2_256.prfPlus(key: [1], seed: [2], length: 8161)
        }
    }

    @Test func skeyseedAndKeySplitFollowRFC7296Section2_14() throws {
        let ni = repeated(0x11, 32), nr = repeated(0x22, 32), shared = repeated(0x33, 256)
        let skeyseed = KeyDerivation.skeyseed(prf: .hmacSHA2_256, nonceInitiator: ni, nonceResponder: nr, sharedSecret: shared)
        #expect(skeyseed == PRFAlgorithm.hmacSHA2_256.compute(key: ni + nr, data: shared))
        let suite = IKECipherSuite(encryption: .aesCBC(keyBits: 256), integrity: .hmacSHA2_256_128, prf: .hmacSHA2_256, dhGroup: .modp2048)
        let keys = try KeyDerivation.ikeSAKeys(suite: suite, skeyseed: skeyseed, nonceInitiator: ni, nonceResponder: nr,
                                               initiatorSPI: 0x0102_0304_0506_0708, responderSPI: 0x1112_1314_1516_1718)
        let stream = try PRFAlgorithm.hmacSHA2_256.prfPlus(
            key: skeyseed, seed: ni + nr + hex("0102030405060708 1112131415161718"), length: 32 * 3 + 32 * 2 + 32 * 2)
        #expect(keys.skD == Array(stream[0..<32]))
        #expect(keys.skAi == Array(stream[32..<64]))
        #expect(keys.skAr == Array(stream[64..<96]))
        #expect(keys.skEi == Array(stream[96..<128]))
        #expect(keys.skEr == Array(stream[128..<160]))
        #expect(keys.skPi == Array(stream[160..<192]))
        #expect(keys.skPr == Array(stream[192..<224]))
    }

    @Test func aeadKeysCarryTheSalt() throws {
        let suite = IKECipherSuite(encryption: .aesGCM16(keyBits: 256), integrity: nil, prf: .hmacSHA2_384, dhGroup: .ecp384)
        let keys = try KeyDerivation.ikeSAKeys(suite: suite, skeyseed: repeated(1, 48), nonceInitiator: repeated(2, 32),
                                               nonceResponder: repeated(3, 32), initiatorSPI: 1, responderSPI: 2)
        #expect(keys.skAi.isEmpty && keys.skAr.isEmpty)
        #expect(keys.skEi.count == 36 && keys.skEr.count == 36)
        #expect(keys.skD.count == 48 && keys.skPi.count == 48 && keys.skPr.count == 48)
    }

    @Test func childKeymatWithAndWithoutPFS() throws {
        let skD = repeated(0x44, 32), ni = repeated(0x55, 32), nr = repeated(0x66, 32), gir = repeated(0x77, 32)
        let cbc = ChildCipherSuite(encryption: .aesCBC(keyBits: 128), integrity: .hmacSHA1_96)
        let keys = try KeyDerivation.childSAKeys(prf: .hmacSHA2_256, skD: skD, suite: cbc, nonceInitiator: ni, nonceResponder: nr)
        let stream = try PRFAlgorithm.hmacSHA2_256.prfPlus(key: skD, seed: ni + nr, length: 2 * (16 + 20))
        #expect(keys.initiatorToResponder == ChildSADirectionKeys(encryptionKey: Array(stream[0..<16]), integrityKey: Array(stream[16..<36])))
        #expect(keys.responderToInitiator == ChildSADirectionKeys(encryptionKey: Array(stream[36..<52]), integrityKey: Array(stream[52..<72])))

        let gcm = ChildCipherSuite(encryption: .aesGCM16(keyBits: 128), integrity: nil, dhGroup: .curve25519)
        let pfs = try KeyDerivation.childSAKeys(prf: .hmacSHA2_256, skD: skD, suite: gcm, nonceInitiator: ni, nonceResponder: nr,
                                                pfsSharedSecret: gir)
        let pfsStream = try PRFAlgorithm.hmacSHA2_256.prfPlus(key: skD, seed: gir + ni + nr, length: 40)
        #expect(pfs.initiatorToResponder.encryptionKey == Array(pfsStream[0..<20]))
        #expect(pfs.responderToInitiator.encryptionKey == Array(pfsStream[20..<40]))
        #expect(pfs.initiatorToResponder.integrityKey.isEmpty)
    }

    @Test func pskAuthFollowsRFC7296Section2_15() {
        let prf = PRFAlgorithm.hmacSHA2_256
        let id = IdentificationPayload(idType: .ipv4Address, data: [192, 0, 2, 1])
        let signed = PSKAuthentication.signedOctets(prf: prf, realMessage: [1, 2, 3], peerNonce: [4, 5], skP: [6], identification: id)
        #expect(signed == [1, 2, 3, 4, 5] + prf.compute(key: [6], data: [1, 0, 0, 0, 192, 0, 2, 1]))
        let auth = PSKAuthentication.authData(prf: prf, sharedSecret: ascii("secret"), signedOctets: signed)
        #expect(auth == prf.compute(key: prf.compute(key: ascii("secret"), data: ascii("Key Pad for IKEv2")), data: signed))
        #expect(PSKAuthentication.keyPad.count == 17)
    }
}
