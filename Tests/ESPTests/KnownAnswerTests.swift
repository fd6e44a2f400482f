import Testing
@testable import ESP

/// Published vectors, one suite per transform. Sources are named on each test.
@Suite("Known-answer vectors")
struct KnownAnswerTests {
    // MARK: AES-GCM — McGrew & Viega, "The Galois/Counter Mode of Operation", test cases 3, 4, 15, 16
    // (96-bit IV cafebabe‖facedbaddecaf888 = RFC 4106 salt ‖ explicit IV).

    static let gcmKey128 = hex("feffe9928665731c6d6a8f9467308308")
    static let gcmKey256 = hex("feffe9928665731c6d6a8f9467308308 feffe9928665731c6d6a8f9467308308")
    static let gcmSalt = hex("cafebabe")
    static let gcmIV = hex("facedbaddecaf888")
    static let gcmPlaintext = hex("""
        d9313225f88406e5a55909c5aff5269a 86a7a9531534f7da2e4c303d8a318a72
        1c3c0c95956809532fcf0e2449a6b525 b16aedf5aa0de657ba637b391aafd255
        """)
    static let gcmAAD = hex("feedfacedeadbeeffeedfacedeadbeefabaddad2")

    struct AEADVector: Sendable, CustomStringConvertible {
        let name: String
        let key: [UInt8]
        let aad: [UInt8]
        let plaintext: [UInt8]
        let ciphertextAndTag: [UInt8]
        var description: String { name }
    }

    static let gcmVectors: [AEADVector] = [
        AEADVector(name: "GCM TC3 (AES-128, no AAD)", key: gcmKey128, aad: [], plaintext: gcmPlaintext,
                   ciphertextAndTag: hex("""
                    42831ec2217774244b7221b784d0d49c e3aa212f2c02a4e035c17e2329aca12e
                    21d514b25466931c7d8f6a5aac84aa05 1ba30b396a0aac973d58e091473f5985
                    4d5c2af327cd64a62cf35abd2ba6fab4
                    """)),
        AEADVector(name: "GCM TC4 (AES-128, 20-byte AAD)", key: gcmKey128, aad: gcmAAD,
                   plaintext: Array(gcmPlaintext.prefix(60)),
                   ciphertextAndTag: hex("""
                    42831ec2217774244b7221b784d0d49c e3aa212f2c02a4e035c17e2329aca12e
                    21d514b25466931c7d8f6a5aac84aa05 1ba30b396a0aac973d58e091
                    5bc94fbc3221a5db94fae95ae7121a47
                    """)),
        AEADVector(name: "GCM TC15 (AES-256, no AAD)", key: gcmKey256, aad: [], plaintext: gcmPlaintext,
                   ciphertextAndTag: hex("""
                    522dc1f099567d07f47f37a32a84427d 643a8cdcbfe5c0c97598a2bd2555d1aa
                    8cb08e48590dbb3da7b08b1056828838 c5f61e6393ba7a0abcc9f662898015ad
                    b094dac5d93471bdec1a502270e3cc6c
                    """)),
        AEADVector(name: "GCM TC16 (AES-256, 20-byte AAD)", key: gcmKey256, aad: gcmAAD,
                   plaintext: Array(gcmPlaintext.prefix(60)),
                   ciphertextAndTag: hex("""
                    522dc1f099567d07f47f37a32a84427d 643a8cdcbfe5c0c97598a2bd2555d1aa
                    8cb08e48590dbb3da7b08b1056828838 c5f61e6393ba7a0abcc9f662
                    76fc6ece0f4e1768cddf8853bb2d551b
                    """)),
    ]

    @Test("AES-GCM seals and opens the McGrew–Viega vectors", arguments: gcmVectors)
    func aesGCMVectors(_ vector: AEADVector) throws {
        let transform = try AESGCMTransform(key: vector.key, salt: Self.gcmSalt)
        var text = vector.plaintext
        var tag = [UInt8](repeating: 0, count: 16)
        let sealed = Self.runAEAD(transform.aead, aad: vector.aad, text: &text, tag: &tag, encrypt: true)
        #expect(sealed)
        #expect(text + tag == vector.ciphertextAndTag)

        let opened = Self.runAEAD(transform.aead, aad: vector.aad, text: &text, tag: &tag, encrypt: false)
        #expect(opened)
        #expect(text == vector.plaintext)

        var forgedTag = tag
        forgedTag[15] ^= 1
        var again = Array(vector.ciphertextAndTag.prefix(vector.plaintext.count))
        #expect(!Self.runAEAD(transform.aead, aad: vector.aad, text: &again, tag: &forgedTag, encrypt: false))
    }

    static func runAEAD(_ aead: OpenSSLAEAD, aad: [UInt8], text: inout [UInt8], tag: inout [UInt8], encrypt: Bool) -> Bool {
        let textCount = text.count
        let aadBytes = aad.isEmpty ? [0] : aad
        return gcmIV.withUnsafeBufferPointer { iv in
            aadBytes.withUnsafeBufferPointer { aadPointer in
                text.withUnsafeMutableBufferPointer { textPointer in
                    tag.withUnsafeMutableBufferPointer { tagPointer in
                        aead.process(iv: iv.baseAddress!, aad: aadPointer.baseAddress!, aadLength: aad.count,
                                     text: textPointer.baseAddress!, textLength: textCount,
                                     tag: tagPointer.baseAddress!, encrypt: encrypt)
                    }
                }
            }
        }
    }

    // MARK: AES-GCM as ESP — draft-mcgrew-gcm-test-01 test case 1: SPI 0x4321 with an extended
    // sequence number 0x87654321_00000000, so the AAD is SPI ‖ Seq-hi ‖ Seq-lo (RFC 4106 §5).

    @Test("AES-128-GCM ESP packet of draft-mcgrew-gcm-test-01 case 1 (ESN) opens and re-seals")
    func aesGCMESPPacket() throws {
        let key = hex("4c80cdefbb5d10da906ac73c3613a634")
        let salt = hex("2e443b68")
        let header = hex("00004321 00000000")
        let sequenceNumberHigh: UInt32 = 0x8765_4321
        let iv = hex("4956ed7e3b244cfe")
        let plaintext = hex("""
            4500004869 9a000080114db7c0a80102 c0a801010a9bf15638d301000001000000000000
            045f736970045f7564700373697009637962657263697479 02646b0000210001 01020201
            """)
        let ciphertextAndICV = hex("""
            fecf537e729d5b07dc30df528dd22b76 8d1b98736696a6fd348509fa13ceac34
            cfa2436f14a3f3cf65925bf1f4a13c5d 15b21e1884f5ff6247aeabb786b93bce
            61bc17d768fd9732 459018148f6cbe722fd04796562dfdb4
            """)
        let wire = header + iv + ciphertextAndICV

        // Sealing with the published IV reproduces the packet.
        let sealer = try AESGCMTransform(key: key, salt: salt)
        var packet = header + iv + plaintext + [UInt8](repeating: 0, count: 16)
        let sealed = packet.withUnsafeMutableBytes { sealer.sealKeepingIV(packet: $0, sequenceNumberHigh: sequenceNumberHigh) }
        #expect(sealed)
        #expect(packet == wire)

        // An ESN inbound SA whose window sits just below 0x87654321_00000000 reconstructs the high
        // half, authenticates and decrypts. The next header is 1, which a tunnel-mode SA refuses
        // after authentication, so the decrypted bytes are still in the buffer.
        let inbound = try ESPInboundSA(spi: 0x4321, transform: try AESGCMTransform(keyMaterial: key + salt),
                                       extendedSequenceNumbers: true, installedAt: testEpoch)
        inbound.markReceived(0x8765_4320_FFFF_FF00)
        let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: wire.count, alignment: 16)
        defer { storage.deallocate() }
        storage.copyBytes(from: wire)
        #expect(inbound.open(storage, packet: 0..<wire.count) == .dropped(.unsupportedNextHeader))
        #expect(Array(storage[16..<16 + plaintext.count]) == plaintext)
        #expect(inbound.highestSequenceNumber == 0x8765_4321_0000_0000)
        #expect(inbound.counters.drops.unsupportedNextHeader == 1)

        // Without ESN the same bytes do not authenticate.
        let plain = try ESPInboundSA(spi: 0x4321, transform: try AESGCMTransform(keyMaterial: key + salt),
                                     extendedSequenceNumbers: false, installedAt: testEpoch)
        plain.markReceived(1)
        #expect(openBytes(plain, wire).0 == .dropped(.outsideWindow))
    }

    // MARK: ChaCha20-Poly1305 — RFC 7634 Appendix A ESP example.

    static let chachaKeyMaterial = hex("808182838485868788898a8b8c8d8e8f 909192939495969798999a9b9c9d9e9f a0a1a2a3")
    static let chachaHeaderAndIV = hex("01020304 00000005 1011121314151617")
    static let chachaInner = hex("""
        45000054a6f200004001e778c6336405 c000020508005b7a3a080000553bec10
        0007362708090a0b0c0d0e0f10111213 1415161718191a1b1c1d1e1f20212223
        2425262728292a2b2c2d2e2f30313233 34353637
        """)
    static let chachaCiphertextAndICV = hex("""
        24039428b97f417e3c13753a4f05087b 67c352e6a7fab1b982d466ef407ae5c6
        14ee8099d52844eb61aa95dfab4c02f7 2aa71e7c4c4f64c9befe2facc638e8f3
        cbec163fac469b502773f6fb94e664da 9165b82829f641e076aaa8266b7fb0f7
        b11b369907e1ad43
        """)

    @Test("ChaCha20-Poly1305 reproduces and opens the RFC 7634 Appendix A ESP packet")
    func chachaESPPacket() throws {
        let wire = Self.chachaHeaderAndIV + Self.chachaCiphertextAndICV
        let sealer = try ChaCha20Poly1305Transform(keyMaterial: Self.chachaKeyMaterial)
        var packet = Self.chachaHeaderAndIV + Self.chachaInner + hex("01020204") + [UInt8](repeating: 0, count: 16)
        let sealed = packet.withUnsafeMutableBytes { sealer.sealKeepingIV(packet: $0, sequenceNumberHigh: nil) }
        #expect(sealed)
        #expect(packet == wire)

        let inbound = try ESPInboundSA(spi: 0x0102_0304,
                                       transform: try ChaCha20Poly1305Transform(keyMaterial: Self.chachaKeyMaterial),
                                       extendedSequenceNumbers: false, installedAt: testEpoch)
        let (result, inner) = openBytes(inbound, wire)
        #expect(result == .payload(16..<16 + Self.chachaInner.count, .ipv4))
        #expect(inner == Self.chachaInner)
        #expect(inbound.counters.packets == 1)
        #expect(inbound.counters.bytes == UInt64(Self.chachaInner.count))
    }

    @Test("ChaCha20-Poly1305 through the cipher suite factory splits key ‖ salt")
    func chachaFactory() throws {
        let wire = Self.chachaHeaderAndIV + Self.chachaCiphertextAndICV
        let configuration = ESPSAConfiguration(spi: 0x0102_0304, suite: .chacha20Poly1305,
                                               keyMaterial: Self.chachaKeyMaterial)
        let inbound = try configuration.makeInboundSA(installedAt: testEpoch)
        #expect(openBytes(inbound, wire).1 == Self.chachaInner)
    }

    // MARK: AES-CBC — RFC 3602 §4 cases 1–3 (AES-128), NIST SP 800-38A F.2.5 (AES-256).

    struct CBCVector: Sendable, CustomStringConvertible {
        let name: String
        let key: [UInt8]
        let iv: [UInt8]
        let plaintext: [UInt8]
        let ciphertext: [UInt8]
        var description: String { name }
    }

    static let cbcVectors: [CBCVector] = [
        CBCVector(name: "RFC 3602 case 1", key: hex("06a9214036b8a15b512e03d534120006"),
                  iv: hex("3dafba429d9eb430b422da802c9fac41"), plaintext: Array("Single block msg".utf8),
                  ciphertext: hex("e353779c1079aeb82708942dbe77181a")),
        CBCVector(name: "RFC 3602 case 2", key: hex("c286696d887c9aa0611bbb3e2025a45a"),
                  iv: hex("562e17996d093d28ddb3ba695a2e6f58"), plaintext: Array(0...31),
                  ciphertext: hex("d296cd94c2cccf8a3a863028b5e1dc0a 7586602d253cfff91b8266bea6d61ab1")),
        CBCVector(name: "RFC 3602 case 3", key: hex("56e47a38c5598974bc46903dba290349"),
                  iv: hex("8ce82eefbea0da3c44699ed7db51b7d9"), plaintext: Array(0xa0...0xdf),
                  ciphertext: hex("""
                    c30e32ffedc0774e6aff6af0869f71aa 0f3af07a9a31a9c684db207eb0ef8e4e
                    35907aa632c3ffdf868bb7b29d3d46ad 83ce9f9a102ee99d49a53e87f4c3da55
                    """)),
        CBCVector(name: "SP 800-38A F.2.5 (AES-256)",
                  key: hex("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4"),
                  iv: hex("000102030405060708090a0b0c0d0e0f"),
                  plaintext: hex("6bc1bee22e409f96e93d7e117393172a ae2d8a571e03ac9c9eb76fac45af8e51"),
                  ciphertext: hex("f58c4c04d6e5f1ba779eabfb5f7bfbd6 9cfc4e967edb808d679f777bc6702c7d")),
    ]

    @Test("AES-CBC encrypts the published vectors in place and the ICV covers header ‖ IV ‖ ciphertext",
          arguments: cbcVectors)
    func aesCBCVectors(_ vector: CBCVector) throws {
        let integrityKey = [UInt8](repeating: 0x0b, count: 32)
        let transform = try AESCBCHMACTransform(encryptionKey: vector.key, integrityKey: integrityKey,
                                                integrity: .hmacSHA256_128)
        let header = hex("00001234 00000001")
        var packet = header + vector.iv + vector.plaintext + [UInt8](repeating: 0, count: 16)
        let sealed = packet.withUnsafeMutableBytes { transform.sealKeepingIV(packet: $0, sequenceNumberHigh: nil) }
        #expect(sealed)
        let ciphertextRange = 24..<24 + vector.ciphertext.count
        #expect(Array(packet[ciphertextRange]) == vector.ciphertext)
        let expectedICV = transform.fullMAC(of: Array(packet[..<ciphertextRange.upperBound])).prefix(16)
        #expect(Array(packet[ciphertextRange.upperBound...]) == Array(expectedICV))

        let opened = packet.withUnsafeMutableBytes { transform.open(packet: $0, sequenceNumberHigh: nil) }
        #expect(opened)
        #expect(Array(packet[ciphertextRange]) == vector.plaintext)
    }

    // MARK: HMAC — RFC 2202 (SHA-1), RFC 4231 (SHA-2), RFC 4868 §2.7 (truncated ESP ICVs).

    static let hiThere = Array("Hi There".utf8)
    static let jefeData = Array("what do ya want for nothing?".utf8)
    static let largeKeyData = Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8)

    @Test("HMAC-SHA1 matches RFC 2202 cases 1, 2, 3 and 6")
    func hmacSHA1() {
        #expect(mac(SHA1Hash.self, [UInt8](repeating: 0x0b, count: 20), Self.hiThere)
                == hex("b617318655057264e28bc0b6fb378c8ef146be00"))
        #expect(mac(SHA1Hash.self, Array("Jefe".utf8), Self.jefeData)
                == hex("effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"))
        #expect(mac(SHA1Hash.self, [UInt8](repeating: 0xaa, count: 20), [UInt8](repeating: 0xdd, count: 50))
                == hex("125d7342b9ac11cd91a39af48aa17b4f63f175d3"))
        #expect(mac(SHA1Hash.self, [UInt8](repeating: 0xaa, count: 80), Self.largeKeyData)
                == hex("aa4ae5e15272d00e95705637ce8a3b55ed402112"))
    }

    @Test("HMAC-SHA-256/384/512 match RFC 4231 cases 1 and 6")
    func hmacSHA2() {
        let key1 = [UInt8](repeating: 0x0b, count: 20)
        let key6 = [UInt8](repeating: 0xaa, count: 131)
        #expect(mac(SHA256Hash.self, key1, Self.hiThere)
                == hex("b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"))
        #expect(mac(SHA384Hash.self, key1, Self.hiThere)
                == hex("afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59cfaea9ea9076ede7f4af152e8b2fa9cb6"))
        #expect(mac(SHA512Hash.self, key1, Self.hiThere)
                == hex("87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cdedaa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854"))
        #expect(mac(SHA256Hash.self, key6, Self.largeKeyData)
                == hex("60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"))
        #expect(mac(SHA384Hash.self, key6, Self.largeKeyData)
                == hex("4ece084485813e9088d2c63a041bc5b44f9ef1012a2b588f3cd11f05033ac4c60c2ef6ab4030fe8296248df163f44952"))
        #expect(mac(SHA512Hash.self, key6, Self.largeKeyData)
                == hex("80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b013783f8f3526b56d037e05f2598bd0fd2215d6a1e5295e64f73f63f0aec8b915a985d786598"))
    }

    struct TruncatedMACVector: Sendable, CustomStringConvertible {
        let integrity: ESPIntegrityAlgorithm
        let key: [UInt8]
        let data: [UInt8]
        let icv: [UInt8]
        var description: String { "\(integrity) \(icv.prefix(2).map { String($0, radix: 16) })" }
    }

    static let truncatedVectors: [TruncatedMACVector] = [
        TruncatedMACVector(integrity: .hmacSHA1_96, key: [UInt8](repeating: 0x0b, count: 20), data: hiThere,
                           icv: hex("b617318655057264e28bc0b6")),
        TruncatedMACVector(integrity: .hmacSHA256_128, key: [UInt8](repeating: 0x0b, count: 32), data: hiThere,
                           icv: hex("198a607eb44bfbc69903a0f1cf2bbdc5")),
        TruncatedMACVector(integrity: .hmacSHA384_192, key: [UInt8](repeating: 0x0b, count: 48), data: hiThere,
                           icv: hex("b6a8d5636f5c6a7224f9977dcf7ee6c7fb6d0c48cbdee973")),
        TruncatedMACVector(integrity: .hmacSHA512_256, key: [UInt8](repeating: 0x0b, count: 64), data: hiThere,
                           icv: hex("637edc6e01dce7e6742a99451aae82df23da3e92439e590e43e761b33e910fb8")),
        TruncatedMACVector(integrity: .hmacSHA256_128, key: Array(String(repeating: "Jefe", count: 8).utf8),
                           data: jefeData, icv: hex("167f928588c5cc2eef8e3093caa0e87c")),
        TruncatedMACVector(integrity: .hmacSHA384_192, key: Array(String(repeating: "Jefe", count: 12).utf8),
                           data: jefeData, icv: hex("2c7353974f1842fd66d53c452ca42122b28c0b594cfb184d")),
        TruncatedMACVector(integrity: .hmacSHA512_256, key: Array(String(repeating: "Jefe", count: 16).utf8),
                           data: jefeData, icv: hex("cb370917ae8a7ce28cfd1d8f4705d6141c173b2a9362c15df235dfb251b15454")),
    ]

    @Test("ESP integrity keys of the negotiated length give the RFC 4868 / RFC 2404 truncated ICVs",
          arguments: truncatedVectors)
    func truncatedICV(_ vector: TruncatedMACVector) throws {
        let transform = try AESCBCHMACTransform(encryptionKey: [UInt8](repeating: 1, count: 16),
                                                integrityKey: vector.key, integrity: vector.integrity)
        #expect(transform.icvLength == vector.icv.count)
        #expect(Array(transform.fullMAC(of: vector.data).prefix(transform.icvLength)) == vector.icv)
    }

    private func mac<Hash: HMACHash>(_ hash: Hash.Type, _ key: [UInt8], _ data: [UInt8]) -> [UInt8] {
        let authenticator = PrecomputedHMAC<Hash>(key: key)
        var digest = [UInt8](repeating: 0, count: Hash.digestLength)
        data.withUnsafeBytes { bytes in
            digest.withUnsafeMutableBufferPointer { authenticator.authenticate(bytes, suffix: nil, into: $0.baseAddress!) }
        }
        return digest
    }
}
