// MS-CHAPv2 computations (RFC 2759 §8) and MPPE key derivation (RFC 3079 §3).
// Pure functions over bytes; the PPP authentication protocol that uses them is in
// Session/MSCHAPv2Authenticator.swift. SHA-1 comes from swift-crypto, MD4 and DES from this module.
import Crypto

public enum MSCHAPv2 {
    /// RFC 2759 §8.3 NtPasswordHash: MD4 of the password in UTF-16 little-endian ("Unicode").
    public static func ntPasswordHash(password: String) -> [UInt8] {
        var unicode: [UInt8] = []
        for unit in password.utf16 { unicode.append(UInt8(truncatingIfNeeded: unit)); unicode.append(UInt8(unit >> 8)) }
        return MD4.hash(unicode)
    }

    /// RFC 2759 §8.4 HashNtPasswordHash: MD4 of the 16-byte password hash.
    public static func hashNtPasswordHash(_ passwordHash: [UInt8]) -> [UInt8] { MD4.hash(passwordHash) }

    /// RFC 2759 §8.2 ChallengeHash: first 8 bytes of SHA1(PeerChallenge | AuthenticatorChallenge | UserName).
    /// UserName excludes any domain prefix ("DOMAIN\user" → "user"), per §8.2's note.
    public static func challengeHash(peerChallenge: [UInt8], authenticatorChallenge: [UInt8], userName: String) -> [UInt8] {
        var sha = Insecure.SHA1()
        sha.update(data: peerChallenge)
        sha.update(data: authenticatorChallenge)
        sha.update(data: Array(strippingDomain(userName).utf8))
        return Array(Array(sha.finalize()).prefix(8))
    }

    /// "DOMAIN\user" → "user" (RFC 2759 §8.2).
    public static func strippingDomain(_ userName: String) -> String {
        if let slash = userName.lastIndex(of: "\\") { return String(userName[userName.index(after: slash)...]) }
        return userName
    }

    /// RFC 2759 §8.5 ChallengeResponse: the 16-byte hash zero-padded to 21 bytes, split into three
    /// 7-byte DES keys, each encrypting the 8-byte challenge → 24 bytes.
    public static func challengeResponse(challenge: [UInt8], passwordHash: [UInt8]) -> [UInt8] {
        let padded = passwordHash + [UInt8](repeating: 0, count: 21 - passwordHash.count)
        var out: [UInt8] = []
        for i in 0..<3 {
            out += DES.encryptBlock(key: DES.expand56BitKey(Array(padded[(i * 7)..<(i * 7 + 7)])), block: challenge)
        }
        return out
    }

    /// RFC 2759 §8.1 GenerateNTResponse.
    public static func generateNTResponse(authenticatorChallenge: [UInt8], peerChallenge: [UInt8],
                                          userName: String, password: String) -> [UInt8] {
        let challenge = challengeHash(peerChallenge: peerChallenge, authenticatorChallenge: authenticatorChallenge, userName: userName)
        return challengeResponse(challenge: challenge, passwordHash: ntPasswordHash(password: password))
    }

    static let magic1 = Array("Magic server to client signing constant".utf8)
    static let magic2 = Array("Pad to make it do more than one iteration".utf8)

    /// RFC 2759 §8.7 GenerateAuthenticatorResponse → "S=" followed by 40 upper-case hex digits.
    public static func generateAuthenticatorResponse(password: String, ntResponse: [UInt8], peerChallenge: [UInt8],
                                                     authenticatorChallenge: [UInt8], userName: String) -> String {
        generateAuthenticatorResponse(passwordHash: ntPasswordHash(password: password), ntResponse: ntResponse,
                                      peerChallenge: peerChallenge, authenticatorChallenge: authenticatorChallenge,
                                      userName: userName)
    }

    /// Same, from the stored NT password hash (a server need not keep the clear-text password).
    public static func generateAuthenticatorResponse(passwordHash: [UInt8], ntResponse: [UInt8], peerChallenge: [UInt8],
                                                     authenticatorChallenge: [UInt8], userName: String) -> String {
        let passwordHashHash = hashNtPasswordHash(passwordHash)
        var first = Insecure.SHA1()
        first.update(data: passwordHashHash)
        first.update(data: ntResponse)
        first.update(data: magic1)
        let digest = Array(first.finalize())
        let challenge = challengeHash(peerChallenge: peerChallenge, authenticatorChallenge: authenticatorChallenge, userName: userName)
        var second = Insecure.SHA1()
        second.update(data: digest)
        second.update(data: challenge)
        second.update(data: magic2)
        return "S=" + hexUpper(Array(second.finalize()))
    }

    /// RFC 2759 §8.8 CheckAuthenticatorResponse (constant-time over the 42 characters).
    public static func checkAuthenticatorResponse(password: String, ntResponse: [UInt8], peerChallenge: [UInt8],
                                                  authenticatorChallenge: [UInt8], userName: String,
                                                  receivedResponse: String) -> Bool {
        let expected = generateAuthenticatorResponse(password: password, ntResponse: ntResponse, peerChallenge: peerChallenge,
                                                     authenticatorChallenge: authenticatorChallenge, userName: userName)
        return constantTimeEqual(Array(expected.utf8), Array(receivedResponse.uppercased().utf8))
    }

    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var diff: UInt8 = 0
        for i in a.indices { diff |= a[i] ^ b[i] }
        return diff == 0
    }

    static func hexUpper(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        for b in bytes { out.append(digits[Int(b >> 4)]); out.append(digits[Int(b & 0xF)]) }
        return String(decoding: out, as: UTF8.self)
    }
}

/// MPPE keys from MS-CHAPv2 (RFC 3079 §3). The 16-byte master send/receive keys are what
/// SSTP's HLAK is built from ([MS-SSTP] §3.2.5.2.2; protocols.md §4.4).
public enum MPPE {
    static let magic1 = Array("This is the MPPE Master Key".utf8)
    static let magic2 = Array("On the client side, this is the send key; on the server side, it is the receive key.".utf8)
    static let magic3 = Array("On the client side, this is the receive key; on the server side, it is the send key.".utf8)
    static let shaPad1 = [UInt8](repeating: 0x00, count: 40)
    static let shaPad2 = [UInt8](repeating: 0xF2, count: 40)

    /// RFC 3079 §3.4 GetMasterKey: SHA1(PasswordHashHash | NTResponse | Magic1)[0..<16].
    public static func masterKey(passwordHashHash: [UInt8], ntResponse: [UInt8]) -> [UInt8] {
        var sha = Insecure.SHA1()
        sha.update(data: passwordHashHash)
        sha.update(data: ntResponse)
        sha.update(data: magic1)
        return Array(Array(sha.finalize()).prefix(16))
    }

    /// RFC 3079 §3.4 GetAsymmetricStartKey. Magic2 for the client's send = server's receive key,
    /// Magic3 for the client's receive = server's send key.
    public static func asymmetricStartKey(masterKey: [UInt8], keyLength: Int = 16, isSend: Bool, isServer: Bool) -> [UInt8] {
        let magic = isSend ? (isServer ? magic3 : magic2) : (isServer ? magic2 : magic3)
        var sha = Insecure.SHA1()
        sha.update(data: masterKey.prefix(16))
        sha.update(data: shaPad1)
        sha.update(data: magic)
        sha.update(data: shaPad2)
        return Array(Array(sha.finalize()).prefix(keyLength))
    }

    /// RFC 3079 §3.2 GetNewKeyFromSHA (the initial session key is this over StartKey twice).
    public static func newKeyFromSHA(startKey: [UInt8], sessionKey: [UInt8], keyLength: Int = 16) -> [UInt8] {
        var sha = Insecure.SHA1()
        sha.update(data: startKey.prefix(keyLength))
        sha.update(data: shaPad1)
        sha.update(data: sessionKey.prefix(keyLength))
        sha.update(data: shaPad2)
        return Array(Array(sha.finalize()).prefix(keyLength))
    }

    /// The pair of 16-byte master keys of one side after a successful MS-CHAPv2 exchange.
    public static func masterKeys(passwordHash: [UInt8], ntResponse: [UInt8], isServer: Bool) -> (send: [UInt8], receive: [UInt8]) {
        let master = masterKey(passwordHashHash: MSCHAPv2.hashNtPasswordHash(passwordHash), ntResponse: ntResponse)
        return (asymmetricStartKey(masterKey: master, isSend: true, isServer: isServer),
                asymmetricStartKey(masterKey: master, isSend: false, isServer: isServer))
    }
}
