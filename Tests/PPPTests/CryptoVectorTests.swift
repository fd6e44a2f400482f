import Testing
@testable import PPP

@Suite struct MD4Tests {
    // RFC 1320 §A.5 test suite.
    static let suite: [(String, String)] = [
        ("", "31d6cfe0d16ae931b73c59d7e0c089c0"),
        ("a", "bde52cb31de33e46245e05fbdbd6fb24"),
        ("abc", "a448017aaf21d8525fc10ae87aa6729d"),
        ("message digest", "d9130a8164549fe818874806e1c7014b"),
        ("abcdefghijklmnopqrstuvwxyz", "d79e1c308aa5bbcdeea8ed63df412da9"),
        ("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", "043f8582f241db351ce627e153e7f0e4"),
        ("12345678901234567890123456789012345678901234567890123456789012345678901234567890", "e33b4ddc9c38f2199c3e7b164fcc0536"),
    ]

    @Test func rfc1320Suite() {
        for (input, digest) in Self.suite {
            #expect(hexString(MD4.hash(Array(input.utf8))) == digest, "MD4(\"\(input)\")")
        }
    }
}

@Suite struct DESTests {
    // Known answers: the classic worked example (key 133457799BBCDFF1), the Stallings example
    // (key 0E329232EA6D0D73 → zero ciphertext), the all-zero key/plaintext, and NIST SP 800-17
    // variable-plaintext rows (key 0101010101010101).
    static let vectors: [(key: String, plain: String, cipher: String)] = [
        ("133457799BBCDFF1", "0123456789ABCDEF", "85E813540F0AB405"),
        ("0E329232EA6D0D73", "8787878787878787", "0000000000000000"),
        ("0000000000000000", "0000000000000000", "8CA64DE9C1B123A7"),
        ("0101010101010101", "8000000000000000", "95F8A5E5DD31D900"),
        ("0101010101010101", "4000000000000000", "DD7F121CA5015619"),
        ("0101010101010101", "0000000000000001", "166B40B44ABA4BD6"),
        ("FFFFFFFFFFFFFFFF", "FFFFFFFFFFFFFFFF", "7359B2163E4EDC58"),
    ]

    @Test func knownAnswers() {
        for v in Self.vectors {
            #expect(hexString(DES.encryptBlock(key: hex(v.key), block: hex(v.plain))) == v.cipher.lowercased(), "DES \(v.key) \(v.plain)")
        }
    }

    @Test func parityBitsAreIgnored() {
        #expect(DES.encryptBlock(key: hex("123557799BBCDFF0"), block: hex("0123456789ABCDEF"))
                == DES.encryptBlock(key: hex("133457799BBCDFF1"), block: hex("0123456789ABCDEF")))
    }
}

/// RFC 2759 §9.2 worked example and RFC 3079 §3.5.3 (128-bit keys); protocols.md §4.4 orientation.
@Suite struct MSCHAPv2VectorTests {
    static let user = "User"
    static let password = "clientPass"
    static let authChallenge = hex("5B5D7C7D7B3F2F3E3C2C602132262628")
    static let peerChallenge = hex("21402324255E262A28295F2B3A337C7E")
    static let ntResponse = hex("82309ECD8D708B5EA08FAA3981CD83544233114A3D85D6DF")

    @Test func rfc2759Chain() {
        #expect(hexString(MSCHAPv2.challengeHash(peerChallenge: Self.peerChallenge, authenticatorChallenge: Self.authChallenge,
                                                 userName: Self.user)) == "d02e4386bce91226")
        let passwordHash = MSCHAPv2.ntPasswordHash(password: Self.password)
        #expect(hexString(passwordHash) == "44ebba8d5312b8d611474411f56989ae")
        #expect(hexString(MSCHAPv2.hashNtPasswordHash(passwordHash)) == "41c00c584bd2d91c4017a2a12fa59f3f")
        #expect(MSCHAPv2.generateNTResponse(authenticatorChallenge: Self.authChallenge, peerChallenge: Self.peerChallenge,
                                            userName: Self.user, password: Self.password) == Self.ntResponse)
        let s = MSCHAPv2.generateAuthenticatorResponse(password: Self.password, ntResponse: Self.ntResponse,
                                                       peerChallenge: Self.peerChallenge,
                                                       authenticatorChallenge: Self.authChallenge, userName: Self.user)
        #expect(s == "S=407A5589115FD0D6209F510FE9C04566932CDA56")
        #expect(MSCHAPv2.checkAuthenticatorResponse(password: Self.password, ntResponse: Self.ntResponse,
                                                    peerChallenge: Self.peerChallenge, authenticatorChallenge: Self.authChallenge,
                                                    userName: Self.user, receivedResponse: "S=407A5589115FD0D6209F510FE9C04566932CDA56"))
        #expect(!MSCHAPv2.checkAuthenticatorResponse(password: "wrong", ntResponse: Self.ntResponse,
                                                     peerChallenge: Self.peerChallenge, authenticatorChallenge: Self.authChallenge,
                                                     userName: Self.user, receivedResponse: s))
        // Domain prefixes are not part of the ChallengeHash (RFC 2759 §8.2).
        #expect(MSCHAPv2.challengeHash(peerChallenge: Self.peerChallenge, authenticatorChallenge: Self.authChallenge, userName: "CORP\\User")
                == MSCHAPv2.challengeHash(peerChallenge: Self.peerChallenge, authenticatorChallenge: Self.authChallenge, userName: "User"))
    }

    @Test func rfc3079Keys() {
        let passwordHashHash = hex("41C00C584BD2D91C4017A2A12FA59F3F")
        let master = MPPE.masterKey(passwordHashHash: passwordHashHash, ntResponse: Self.ntResponse)
        #expect(hexString(master) == "fdece3717a8c838cb388e527ae3cdd31")
        // RFC 3079 §3.5.3: SendStartKey128 (server side) and the first session key.
        let serverSend = MPPE.asymmetricStartKey(masterKey: master, isSend: true, isServer: true)
        #expect(hexString(serverSend) == "8b7cdc149b993a1ba118cb153f56dccb")
        #expect(hexString(MPPE.newKeyFromSHA(startKey: serverSend, sessionKey: serverSend)) == "405cb2247a7956e6e211007ae27b22d4")
        // protocols.md §4.4: Magic2 key = client send = server receive.
        let keysServer = MPPE.masterKeys(passwordHash: MSCHAPv2.ntPasswordHash(password: Self.password), ntResponse: Self.ntResponse, isServer: true)
        let keysClient = MPPE.masterKeys(passwordHash: MSCHAPv2.ntPasswordHash(password: Self.password), ntResponse: Self.ntResponse, isServer: false)
        #expect(hexString(keysServer.receive) == "d5f0e9521e3ea9589645e86051c82226")
        #expect(hexString(keysServer.send) == "8b7cdc149b993a1ba118cb153f56dccb")
        #expect(keysClient.send == keysServer.receive && keysClient.receive == keysServer.send)
    }
}
