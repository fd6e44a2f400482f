import Testing
@testable import IKE

@Suite struct KeyExchangeTests {
    struct Vector: Sendable, CustomTestStringConvertible {
        var group: DHGroup
        var privateI: String
        var privateR: String
        var publicI: String
        var publicR: String
        var shared: String
        var testDescription: String { group.description }
    }

    /// RFC 5903 §8.1 (ECP-256), RFC 5114 Appendix A (ECP) and RFC 7748 §6.1 / RFC 8031 Appendix A (X25519).
    static let vectors: [Vector] = [
        Vector(group: .ecp256,
               privateI: "C88F01F510D9AC3F70A292DAA2316DE544E9AAB8AFE84049C62A9C57862D1433",
               privateR: "C6EF9C5D78AE012A011164ACB397CE2088685D8F06BF9BE0B283AB46476BEE53",
               publicI: "DAD0B65394221CF9B051E1FECA5787D098DFE637FC90B9EF945D0C3772581180 5271A0461CDB8252D61F1C456FA3E59AB1F45B33ACCF5F58389E0577B8990BB3",
               publicR: "D12DFB5289C8D4F81208B70270398C342296970A0BCCB74C736FC7554494BF63 56FBF3CA366CC23E8157854C13C58D6AAC23F046ADA30F8353E74F33039872AB",
               shared: "D6840F6B42F6EDAFD13116E0E12565202FEF8E9ECE7DCE03812464D04B9442DE"),
        // RFC 5114 Appendix A.6–A.8: the same NIST curves, as strongSwan's ecp.c test vectors carry them.
        Vector(group: .ecp256,
               privateI: "814264145f2f56f2e96a8e337a1284993faf432a5abce59e867b7291d507a3af",
               privateR: "2ce1788ec197e096db95a200cc0ab26a19ce6bccad562b8eee1b593761cf7f41",
               publicI: "2af502f3be8952f2c9b5a8d4160d09e97165be50bc42ae4a5e8d3b4ba83aeb15eb0faf4ca986c4d38681a0f9872d79d56795bd4bff6e6de3c0f5015ece5efd85",
               publicR: "b120de4aa36492795346e8de6c2c8646ae06aaea279fa775b3ab0715f6ce51b09f1b7eece20d7b5ed8ec685fa3f071d83727027092a8411385c34dde5708b2b6",
               shared: "dd0f5396219d1ea393310412d19a08f1f5811e9dc8ec8eea7f80d21c820c2788"),
        Vector(group: .ecp384,
               privateI: "d27335ea71664af244dd14e9fd1260715dfd8a7965571c48d709ee7a7962a156d706a90cbcb5df2986f05feadb9376f1",
               privateR: "52d1791fdb4b70f89c0f00d456c2f7023b6125262c36a7df1f80231121cce3d39be52e00c194a4132c4a6c768bcd94d2",
               publicI: "793148f1787634d5da4c6d9074417d05e057ab62f82054d10ee6b0403d6279547e6a8ea9d1fd77427d016fe27a8b8c66c6c41294331d23e6f480f4fb4cd40504c947392e94f4c3f06b8f398bb29e42368f7a685923de3b67baced214a1a1d128",
               publicR: "5cd42ab9c41b5347f74b8d4efb708b3d5b36db65915359b44abc17647b6b9999789d72a84865ae2f223f12b5a1abc120e171458feaa939aaa3a8bfac46b404bd8f6d5b348c0fa4d80ceca16356ca933240bde8723415a8ece035b0edf36755de",
               shared: "5ea1fc4af7256d2055981b110575e0a8cae53160137d904c59d926eb1b8456e427aa8a4540884c37de159a58028abc0e"),
        Vector(group: .ecp521,
               privateI: "0113f82da825735e3d97276683b2b74277bad27335ea71664af2430cc4f33459b9669ee78b3ffb9b8683015d344dcbfef6fb9af4c6c470be254516cd3c1a1fb47362",
               privateR: "00cee3480d8645a17d249f2776d28bae616952d1791fdb4b70f7c3378732aa1b22928448bcd1dc2496d435b01048066ebe4f72903c361b1a9dc1193dc2c9d0891b96",
               publicI: "01ebb34dd75721abf8adc9dbed17889cbb9765d90a7c60f2cef007bb0f2b26e14881fd4442e689d61cb2dd046ee30e3ffd20f9a45bbdf6413d583a2dbf59924fd35c00f6b632d194c0388e22d8437e558c552ae195adfd153f92d74908351b2f8c4eda94edb0916d1b53c020b5eecaed1a5fc38a233e4830587bb2ee3489b3b42a5a86a4",
               publicR: "010ebfafc6e85e08d24bfffcc1a4511db0e634beeb1b6dec8c5939ae44766201af6200430ba97c8ac6a0e9f08b33ce7e9feeb5ba4ee5e0d81510c24295b8a08d023500a4a6ec300df9e257b0372b5e7abfef093436719a77887ebb0b18cf8099b9f4212b6e30a1419c18e029d36863cc9d448f4dba4d2a0e60711be572915fbd4fef2695",
               shared: "00cdea89621cfa46b132f9e4cfe2261cde2d4368eb5656634c7cc98c7a00cde54ed1866a0dd3e6126c9d2f845daff82ceb1da08f5d87521bb0ebeca77911169c20cc"),
        Vector(group: .curve25519,
               privateI: "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a",
               privateR: "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb",
               publicI: "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a",
               publicR: "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f",
               shared: "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742"),
        Vector(group: .curve25519,
               privateI: "75 1f b4 30 86 55 b4 76 b6 78 9b 73 25 f9 ea 8c dd d1 6a 58 53 3f f6 d9 e6 00 09 46 4a 5f 9d 94",
               privateR: "0a 54 64 52 53 29 0d 60 dd ad d0 e0 30 ba cd 9e 55 01 ef dc 22 07 55 a1 e9 78 f1 b8 39 a0 56 88",
               publicI: "48 d5 dd d4 06 12 57 ba 16 6f a3 f9 bb db 74 f1 a4 e8 1c 08 93 84 fa 77 f7 90 70 9f 0d fb c7 66",
               publicR: "0b e7 c1 f5 aa d8 7d 7e 44 86 62 67 32 98 a4 43 47 8b 85 97 45 17 9e af 56 4c 79 c0 ef 6e ee 25",
               shared: "c7 49 50 60 7a 12 32 7f 32 04 d9 4b 68 25 bf b0 68 b7 f8 31 9a 9e 37 08 ed 3d 43 ce 81 30 c9 50"),
    ]

    @Test(arguments: vectors) func knownAnswer(_ vector: Vector) throws {
        let initiator = try KeyExchangeKeyPair(group: vector.group, privateScalar: hex(vector.privateI))
        let responder = try KeyExchangeKeyPair(group: vector.group, privateScalar: hex(vector.privateR))
        #expect(initiator.publicValue == hex(vector.publicI))
        #expect(responder.publicValue == hex(vector.publicR))
        #expect(try initiator.sharedSecret(peerPublicValue: responder.publicValue) == hex(vector.shared))
        #expect(try responder.sharedSecret(peerPublicValue: initiator.publicValue) == hex(vector.shared))
    }

    @Test(arguments: DHGroup.allCases) func bothSidesAgree(_ group: DHGroup) throws {
        let random = TestRandom(seed: UInt64(group.rawValue))
        let a = try KeyExchangeKeyPair.generate(group: group, random: random)
        let b = try KeyExchangeKeyPair.generate(group: group, random: random)
        #expect(a.publicValue.count == group.publicValueLength)
        let shared = try a.sharedSecret(peerPublicValue: b.publicValue)
        #expect(shared.count == group.sharedSecretLength)
        #expect(shared == (try b.sharedSecret(peerPublicValue: a.publicValue)))
        // Deterministic under the injected source.
        let again = try KeyExchangeKeyPair.generate(group: group, random: TestRandom(seed: UInt64(group.rawValue)))
        #expect(again.publicValue == a.publicValue)
    }

    @Test func modpPrimesAreTheRFCGroups() {
        let group2 = MODP.primeBytes(.modp1024)
        let group14 = MODP.primeBytes(.modp2048)
        #expect(group2.count == 128 && group14.count == 256)
        // RFC 2409 §6.2 and RFC 3526 §3: both start FFFFFFFF FFFFFFFF C90FDAA2 2168C234 and end in 64 one bits.
        #expect(Array(group2.prefix(16)) == hex("FFFFFFFFFFFFFFFFC90FDAA22168C234"))
        #expect(Array(group14.prefix(16)) == hex("FFFFFFFFFFFFFFFFC90FDAA22168C234"))
        #expect(Array(group2.suffix(8)) == repeated(0xff, 8) && Array(group14.suffix(8)) == repeated(0xff, 8))
        #expect(hexString(group2.suffix(16)) == "49286651ece65381ffffffffffffffff")
        #expect(hexString(group14.suffix(16)) == "15728e5a8aacaa68ffffffffffffffff")
    }

    @Test func modpGeneratorToTheFirstPowersIsTwo() throws {
        let pair = try KeyExchangeKeyPair(group: .modp1024, privateScalar: [1])
        #expect(pair.publicValue == repeated(0, 127) + [2])
        let square = try pair.sharedSecret(peerPublicValue: repeated(0, 127) + [3])
        #expect(square == repeated(0, 127) + [3])
    }

    @Test func modpRejectsDegeneratePeerValues() throws {
        let pair = try KeyExchangeKeyPair.generate(group: .modp2048, random: TestRandom(seed: 9))
        var pMinusOne = MODP.primeBytes(.modp2048)
        pMinusOne[255] -= 1
        for bad in [repeated(0, 256), repeated(0, 255) + [1], pMinusOne, MODP.primeBytes(.modp2048)] {
            #expect(throws: IKECryptoError.invalidPeerPublicValue(group: 14, reason: "outside 1 < y < p-1 (RFC 6989)")) {
                try pair.sharedSecret(peerPublicValue: bad)
            }
        }
        #expect(throws: IKECryptoError.invalidPeerPublicValue(group: 14, reason: "3 bytes, expected 256")) {
            try pair.sharedSecret(peerPublicValue: [1, 2, 3])
        }
    }

    @Test func ecpRejectsPointsOffTheCurve() throws {
        let pair = try KeyExchangeKeyPair.generate(group: .ecp256, random: TestRandom(seed: 3))
        var bad = pair.publicValue
        bad[63] ^= 1
        #expect(throws: IKECryptoError.invalidPeerPublicValue(group: 19, reason: "not a valid point on the curve")) {
            try pair.sharedSecret(peerPublicValue: bad)
        }
    }

    @Test func x25519RejectsLowOrderPoints() throws {
        let pair = try KeyExchangeKeyPair.generate(group: .curve25519, random: TestRandom(seed: 4))
        #expect(throws: IKECryptoError.self) { try pair.sharedSecret(peerPublicValue: repeated(0, 32)) }
    }
}
