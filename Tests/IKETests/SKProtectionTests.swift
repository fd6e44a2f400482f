import Testing
@testable import IKE

@Suite struct SKProtectionTests {
    /// RFC 7634 Appendix B: an INFORMATIONAL request protected with ChaCha20-Poly1305.
    static let rfc7634Key = hex("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f a0a1a2a3")
    static let rfc7634Message = hex("""
        c0c1c2c3c4c5c6c7 d0d1d2d3d4d5d6d7 2e 20 25 00 00000009 00000045
        29 00 0029
        1011121314151617
        610394701f8d017f7c129248896b71bf e25236efd7cdc670669063 15b2
        """)

    @Test func rfc7634IKEv2ExampleOpens() throws {
        let message = try IKEMessage.parse(Self.rfc7634Message)
        #expect(message.header.exchangeType == .informational)
        #expect(message.header.messageID == 9)
        let protection = try SKProtection(encryption: .chacha20Poly1305, integrity: nil, encryptionKey: Self.rfc7634Key, integrityKey: [])
        let payloads = try protection.open(message, rawBytes: Self.rfc7634Message)
        #expect(payloads == [.notify(NotifyPayload(type: .setWindowSize, data: [0, 0, 0, 0x0a]))])
    }

    @Test func rfc7634IKEv2ExampleSealsByteForByte() throws {
        let protection = try SKProtection(encryption: .chacha20Poly1305, integrity: nil, encryptionKey: Self.rfc7634Key, integrityKey: [])
        let prefix = Array(Self.rfc7634Message.prefix(32))
        let body = try protection.protect(prefix: prefix, plaintext: hex("0000000c000040010000000a"), iv: hex("1011121314151617"))
        #expect(prefix + body == Self.rfc7634Message)
    }

    /// McGrew & Viega GCM test cases 4 (AES-128) and 16 (AES-256) in RFC 4106/5282 framing
    /// (key ‖ salt, 8-byte IV), as strongSwan's aes_gcm.c carries them.
    @Test(arguments: [
        (hex("feffe9928665731c6d6a8f9467308308 cafebabe"), "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e0915bc94fbc3221a5db94fae95ae7121a47"),
        (hex("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308 cafebabe"), "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f66276fc6ece0f4e1768cddf8853bb2d551b"),
    ])
    func gcmKnownAnswer(keyMaterial: [UInt8], expected: String) throws {
        let plaintext = hex("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39")
        let aad = hex("feedfacedeadbeeffeedfacedeadbeefabaddad2")
        let algorithm = EncryptionAlgorithm.aesGCM16(keyBits: (keyMaterial.count - 4) * 8)
        let sealed = try AEAD.seal(algorithm, keyMaterial: keyMaterial, iv: hex("facedbaddecaf888"),
                                   plaintext: plaintext, aad: aad)
        #expect(hexString(sealed) == expected)
        #expect(try AEAD.open(algorithm, keyMaterial: keyMaterial, iv: hex("facedbaddecaf888"), sealed: sealed, aad: aad) == plaintext)
    }

    static let suites: [(EncryptionAlgorithm, IntegrityAlgorithm?)] = [
        (.aesCBC(keyBits: 128), .hmacSHA1_96), (.aesCBC(keyBits: 256), .hmacSHA2_256_128),
        (.aesCBC(keyBits: 256), .hmacSHA2_384_192), (.aesCBC(keyBits: 128), .hmacSHA2_512_256),
        (.aesGCM16(keyBits: 128), nil), (.aesGCM16(keyBits: 256), nil), (.chacha20Poly1305, nil),
    ]

    static func protection(_ encryption: EncryptionAlgorithm, _ integrity: IntegrityAlgorithm?, seed: UInt8) throws -> SKProtection {
        try SKProtection(encryption: encryption, integrity: integrity,
                         encryptionKey: repeated(seed, encryption.keyMaterialLength),
                         integrityKey: encryption.isAEAD ? [] : repeated(seed &+ 1, integrity!.keyLength))
    }

    static let authPayloads: [Payload] = [
        .identificationInitiator(IdentificationPayload(idType: .ipv4Address, data: [192, 0, 2, 1])),
        .authentication(AuthenticationPayload(method: .sharedKeyMIC, data: repeated(0x42, 32))),
        .securityAssociation(SecurityAssociationPayload(proposals: [ChildCipherSuite(encryption: .aesGCM16(keyBits: 256), integrity: nil).proposal(spi: [1, 2, 3, 4])])),
        .trafficSelectorInitiator(TrafficSelectorPayload(selectors: [TrafficSelector(type: .ipv4AddressRange, startAddress: [0, 0, 0, 0], endAddress: [255, 255, 255, 255])])),
        .trafficSelectorResponder(TrafficSelectorPayload(selectors: [TrafficSelector(type: .ipv4AddressRange, startAddress: [0, 0, 0, 0], endAddress: [255, 255, 255, 255])])),
    ]

    static let authHeader = IKEHeader(initiatorSPI: 0xAAAA, responderSPI: 0xBBBB, exchangeType: .ikeAuth, flags: .initiator, messageID: 1)

    @Test(arguments: suites.indices) func roundTrip(_ index: Int) throws {
        let (encryption, integrity) = Self.suites[index]
        let protection = try Self.protection(encryption, integrity, seed: 7)
        let bytes = try protection.seal(header: Self.authHeader, payloads: Self.authPayloads, random: TestRandom(seed: 1))
        let message = try IKEMessage.parse(bytes)
        #expect(Int(message.header.length) == bytes.count)
        #expect(try protection.open(message, rawBytes: bytes) == Self.authPayloads)
    }

    @Test(arguments: suites.indices) func tamperingIsDetected(_ index: Int) throws {
        let (encryption, integrity) = Self.suites[index]
        let protection = try Self.protection(encryption, integrity, seed: 7)
        var bytes = try protection.seal(header: Self.authHeader, payloads: Self.authPayloads, random: TestRandom(seed: 1))
        bytes[bytes.count - 20] ^= 0x01
        let message = try IKEMessage.parse(bytes)
        let expected: IKEMessageError = encryption.isAEAD ? .crypto(.decryptionFailed) : .crypto(.integrityCheckFailed)
        #expect(throws: expected) { try protection.open(message, rawBytes: bytes) }
        // A header change is covered too (ICV / AAD span the IKE header).
        var headerChanged = try protection.seal(header: Self.authHeader, payloads: Self.authPayloads, random: TestRandom(seed: 1))
        headerChanged[23] ^= 0x02
        let reparsed = try IKEMessage.parse(headerChanged)
        #expect(throws: expected) { try protection.open(reparsed, rawBytes: headerChanged) }
    }

    @Test func wrongKeyFailsWithoutCrashing() throws {
        let sender = try Self.protection(.aesCBC(keyBits: 256), .hmacSHA2_256_128, seed: 1)
        let receiver = try Self.protection(.aesCBC(keyBits: 256), .hmacSHA2_256_128, seed: 2)
        let bytes = try sender.seal(header: Self.authHeader, payloads: Self.authPayloads, random: TestRandom(seed: 5))
        #expect(throws: IKEMessageError.crypto(.integrityCheckFailed)) { try receiver.open(try IKEMessage.parse(bytes), rawBytes: bytes) }
    }

    @Test func innerPayloadsAreCheckedAgainstTheTable() throws {
        let protection = try Self.protection(.aesGCM16(keyBits: 128), nil, seed: 3)
        let bytes = try protection.seal(header: Self.authHeader, payloads: [.nonce(NoncePayload(data: repeated(1, 16)))],
                                        random: TestRandom(seed: 1))
        #expect(throws: IKEMessageError.parse(.payloadNotAllowed(payload: .nonce, exchange: .ikeAuth, isResponse: false))) {
            try protection.open(try IKEMessage.parse(bytes), rawBytes: bytes)
        }
    }

    @Test func shortBodiesAreRefused() throws {
        let protection = try Self.protection(.aesCBC(keyBits: 128), .hmacSHA1_96, seed: 3)
        #expect(throws: IKECryptoError.protectedBodyTooShort(length: 10, minimum: 44)) {
            try protection.unprotect(prefix: [], body: repeated(0, 10))
        }
    }

    @Test(arguments: [EncryptionAlgorithm.aesCBC(keyBits: 256), .aesGCM16(keyBits: 256)])
    func fragmentsReassemble(_ encryption: EncryptionAlgorithm) throws {
        let protection = try Self.protection(encryption, encryption.isAEAD ? nil : .hmacSHA2_256_128, seed: 9)
        let big: [Payload] = Self.authPayloads + [.certificate(CertificatePayload(encoding: 4, data: repeated(0x5a, 1500)))]
        let fragments = try protection.sealFragments(header: Self.authHeader, payloads: big, maximumMessageLength: 576,
                                                     random: TestRandom(seed: 2))
        #expect(fragments.count > 2)
        #expect(fragments.allSatisfy { $0.count <= 576 })
        var reassembler = FragmentReassembler()
        var result: (PayloadType, [UInt8])?
        // Out of order and with a duplicate.
        for bytes in (fragments.reversed() + [fragments[0]]) {
            let message = try IKEMessage.parse(bytes)
            let (fragment, plaintext) = try protection.openFragment(message, rawBytes: bytes)
            if let done = reassembler.add(fragment, plaintext: plaintext) { result = done }
        }
        let (first, inner) = try #require(result)
        #expect(try FragmentReassembler.payloads(first: first, innerBytes: inner, header: Self.authHeader) == big)
    }
}
