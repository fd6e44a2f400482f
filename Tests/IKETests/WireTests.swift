import Testing
@testable import IKE

/// An IKE_SA_INIT request laid out by hand from RFC 7296 §3.1–§3.10, in the shape strongSwan 5.9
/// sends with default proposals (SA KE No N(NATD_S_IP) N(NATD_D_IP) N(FRAG_SUP)).
let capturedIKESAInitRequest: [UInt8] = hex("""
    1122334455667788 0000000000000000 21 20 22 08 00000000 000000d8
    22 00 0030
       00 00 002c 01 01 00 04
          03 00 000c 01 00 000c 800e0080
          03 00 0008 03 00 000c
          03 00 0008 02 00 0005
          00 00 0008 04 00 001f
    28 00 0028 001f 0000 0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20
    29 00 0024 a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf
    29 00 001c 00 00 4004 303132333435363738393a3b3c3d3e3f40414243
    29 00 001c 00 00 4005 505152535455565758595a5b5c5d5e5f60616263
    00 00 0008 00 00 402e
    """)

@Suite struct WireFormatTests {
    @Test func capturedIKESAInitParsesToTheRFCLayout() throws {
        let message = try IKEMessage.parse(capturedIKESAInitRequest)
        #expect(message.header.initiatorSPI == 0x1122_3344_5566_7788)
        #expect(message.header.responderSPI == 0)
        #expect(message.header.exchangeType == .ikeSAInit)
        #expect(message.header.flags == .initiator)
        #expect(message.header.majorVersion == 2)
        #expect(message.payloads.map(\.type) == [.securityAssociation, .keyExchange, .nonce, .notify, .notify, .notify])
        let proposal = try #require(message.payloads.securityAssociation?.proposals.first)
        #expect(proposal.protocolID == .ike)
        #expect(proposal.transforms.map(\.description)
                == ["ENCR_AES_CBC-128", "AUTH_HMAC_SHA2_256_128", "PRF_HMAC_SHA2_256", "CURVE_25519"])
        #expect(message.payloads.keyExchange?.group == 31)
        #expect(message.payloads.keyExchange?.data.count == 32)
        #expect(message.payloads.nonce?.data.count == 32)
        #expect(message.notifies.map(\.type) == [.natDetectionSourceIP, .natDetectionDestinationIP, .ikev2FragmentationSupported])
        #expect(message.emit() == capturedIKESAInitRequest)
        let suite = try IKECipherSuite(proposal: proposal)
        #expect(suite == IKECipherSuite(encryption: .aesCBC(keyBits: 128), integrity: .hmacSHA2_256_128,
                                        prf: .hmacSHA2_256, dhGroup: .curve25519))
    }

    @Test func everyPayloadRoundTrips() throws {
        let v4Selector = TrafficSelector(type: .ipv4AddressRange, startAddress: [10, 1, 0, 0], endAddress: [10, 1, 255, 255])
        let v6Selector = TrafficSelector(type: .ipv6AddressRange, ipProtocol: 6, startPort: 443, endPort: 443,
                                         startAddress: repeated(0, 16), endAddress: repeated(0xff, 16))
        let payloads: [Payload] = [
            .securityAssociation(SecurityAssociationPayload(proposals: [
                Proposal(number: 1, protocolID: .esp, spi: [1, 2, 3, 4], transforms: [
                    Transform(type: .encryption, id: TransformID.encrAES_GCM_16, keyLength: 256),
                    Transform(type: .extendedSequenceNumbers, id: 0),
                ]),
                Proposal(number: 2, protocolID: .esp, spi: [1, 2, 3, 4], transforms: [
                    Transform(type: .encryption, id: TransformID.encrAES_CBC, keyLength: 128),
                    Transform(type: .integrity, id: TransformID.integHMAC_SHA2_256_128),
                    Transform(type: .encryption, id: 99, attributes: [TransformAttribute(type: 200, value: .variable([9, 9]))]),
                ]),
            ])),
            .keyExchange(KeyExchangePayload(group: 14, data: repeated(7, 256))),
            .identificationInitiator(IdentificationPayload(idType: .ipv4Address, data: [192, 0, 2, 1])),
            .identificationResponder(IdentificationPayload(idType: .fqdn, data: ascii("gw.example"))),
            .certificate(CertificatePayload(encoding: 4, data: [0x30, 0x82, 0x01])),
            .certificateRequest(CertificatePayload(encoding: 4, data: repeated(0xab, 20))),
            .authentication(AuthenticationPayload(method: .sharedKeyMIC, data: repeated(1, 32))),
            .nonce(NoncePayload(data: repeated(2, 32))),
            .notify(NotifyPayload(protocolID: .esp, spi: [0, 0, 0, 9], type: .rekeySA)),
            .notify(NotifyPayload(type: .cookie, data: repeated(3, 20))),
            .notify(NotifyPayload(type: .invalidKEPayload, data: [0, 14])),
            .delete(DeletePayload(protocolID: .esp, spiSize: 4, spis: [[1, 2, 3, 4], [5, 6, 7, 8]])),
            .delete(DeletePayload(protocolID: .ike, spiSize: 0, spis: [])),
            .vendorID(ascii("vpngw")),
            .trafficSelectorInitiator(TrafficSelectorPayload(selectors: [v4Selector])),
            .trafficSelectorResponder(TrafficSelectorPayload(selectors: [v4Selector, v6Selector])),
            .configuration(ConfigurationPayload(configurationType: .request, attributes: [
                ConfigurationAttribute(type: ConfigurationAttributeType.internalIP4Address, value: []),
                ConfigurationAttribute(type: ConfigurationAttributeType.internalIP4DNS, value: [10, 0, 0, 53]),
            ])),
            .eap([1, 2, 0, 4]),
            .unrecognized(type: PayloadType(rawValue: 120), body: [1, 2, 3]),
            .encrypted(EncryptedPayload(firstInnerPayload: .identificationInitiator, protectedBody: repeated(5, 48))),
        ]
        let bytes = PayloadChain.emit(payloads)
        var reader = ByteReader(bytes)
        let parsed = try PayloadChain.parse(first: payloads[0].type, &reader)
        #expect(parsed == payloads)
        #expect(PayloadChain.emit(parsed) == bytes)
    }

    @Test func fragmentPayloadRoundTrips() throws {
        let fragment = EncryptedFragmentPayload(firstInnerPayload: .identificationInitiator, fragmentNumber: 1,
                                                totalFragments: 3, protectedBody: repeated(9, 40))
        let bytes = PayloadChain.emit([.encryptedFragment(fragment)])
        var reader = ByteReader(bytes)
        #expect(try PayloadChain.parse(first: .encryptedFragment, &reader) == [.encryptedFragment(fragment)])
    }

    @Test func headerRoundTrips() throws {
        let header = IKEHeader(initiatorSPI: 1, responderSPI: 2, nextPayload: .encrypted, exchangeType: .ikeAuth,
                               flags: [.initiator], messageID: 1, length: 28)
        var reader = ByteReader(header.bytes)
        #expect(try IKEHeader.parse(&reader) == header)
    }
}

@Suite struct InvalidInputTests {
    func parseError(_ bytes: [UInt8]) -> IKEParseError? {
        do {
            _ = try IKEMessage.parse(bytes)
            return nil
        } catch {
            return error
        }
    }

    /// Replaces bytes and rewrites the header length to the new size.
    func patched(_ bytes: [UInt8], at offset: Int, with replacement: [UInt8]) -> [UInt8] {
        var out = bytes
        out.replaceSubrange(offset..<offset + replacement.count, with: replacement)
        return out
    }

    func withLength(_ bytes: [UInt8]) -> [UInt8] {
        var out = bytes
        out.setU32(UInt32(out.count), at: 24)
        return out
    }

    @Test func truncatedHeader() {
        #expect(parseError(Array(capturedIKESAInitRequest.prefix(20)))
                == .truncated(context: "IKE header message ID", needed: 4, available: 0))
    }

    @Test func everyTruncationIsAStructuredError() {
        for length in 0..<capturedIKESAInitRequest.count {
            #expect(parseError(Array(capturedIKESAInitRequest.prefix(length))) != nil)
        }
    }

    @Test func headerLengthLies() {
        let lying = patched(capturedIKESAInitRequest, at: 24, with: [0, 0, 1, 0x2c])
        #expect(parseError(lying) == .lengthMismatch(context: "IKE header", declared: 300, actual: 216))
    }

    @Test func payloadLengthLies() {
        let lying = patched(capturedIKESAInitRequest, at: 30, with: [0x02, 0x00])
        #expect(parseError(lying) == .lengthMismatch(context: "SA payload", declared: 512, actual: 188))
        let tooShort = patched(capturedIKESAInitRequest, at: 30, with: [0x00, 0x02])
        #expect(parseError(tooShort) == .invalidLength(context: "SA payload", value: 2))
    }

    @Test func proposalTransformCountLies() {
        let lying = patched(capturedIKESAInitRequest, at: 39, with: [5])
        #expect(parseError(lying) == .lengthMismatch(context: "proposal transform count", declared: 5, actual: 4))
    }

    @Test func unknownCriticalPayloadIsRefused() {
        var bytes = capturedIKESAInitRequest
        bytes[bytes.count - 8] = 0x7f  // last N's Next Payload → unknown type 127
        bytes += [0x00, 0x80, 0x00, 0x08, 0xde, 0xad, 0xbe, 0xef]
        #expect(parseError(withLength(bytes)) == .unsupportedCriticalPayload(type: 127))
        #expect(IKEParseError.unsupportedCriticalPayload(type: 127).notifyResponse == .unsupportedCriticalPayload)
    }

    @Test func unknownNonCriticalPayloadIsSkipped() throws {
        var bytes = capturedIKESAInitRequest
        bytes[bytes.count - 8] = 0x7f
        bytes += [0x00, 0x00, 0x00, 0x08, 0xde, 0xad, 0xbe, 0xef]
        let message = try IKEMessage.parse(withLength(bytes))
        #expect(message.payloads.last == .unrecognized(type: PayloadType(rawValue: 127), body: [0xde, 0xad, 0xbe, 0xef]))
    }

    @Test func oversizedMessage() {
        #expect(parseError(repeated(0, 70_000)) == .oversized(length: 70_000, limit: IKEMessage.defaultMaximumLength))
    }

    @Test func wrongMajorVersion() {
        #expect(parseError(patched(capturedIKESAInitRequest, at: 17, with: [0x30])) == .unsupportedMajorVersion(3))
    }

    @Test func unknownExchange() {
        #expect(parseError(patched(capturedIKESAInitRequest, at: 18, with: [99])) == .unknownExchangeType(99))
    }

    @Test func validityTableMissingKE() {
        var header = IKEHeader(initiatorSPI: 1, responderSPI: 0, exchangeType: .ikeSAInit, flags: .initiator, messageID: 0)
        header.length = 0
        let message = IKEMessage(header: header, payloads: [
            .securityAssociation(SecurityAssociationPayload(proposals: [IKECipherSuite(
                encryption: .aesGCM16(keyBits: 256), integrity: nil, prf: .hmacSHA2_256, dhGroup: .modp2048).proposal()])),
            .nonce(NoncePayload(data: repeated(1, 32))),
        ])
        #expect(parseError(message.emit()) == .missingPayload(payload: .keyExchange, exchange: .ikeSAInit, isResponse: false))
    }

    @Test func validityTableTooManySA() {
        let sa = Payload.securityAssociation(SecurityAssociationPayload(proposals: [IKECipherSuite(
            encryption: .aesGCM16(keyBits: 256), integrity: nil, prf: .hmacSHA2_256, dhGroup: .modp2048).proposal()]))
        let message = IKEMessage(header: IKEHeader(initiatorSPI: 1, responderSPI: 0, exchangeType: .ikeSAInit,
                                                   flags: .initiator, messageID: 0),
                                 payloads: [sa, sa, .keyExchange(KeyExchangePayload(group: 14, data: [1])),
                                            .nonce(NoncePayload(data: repeated(1, 32)))])
        #expect(parseError(message.emit()) == .tooManyPayloads(payload: .securityAssociation, count: 2, limit: 1, exchange: .ikeSAInit))
    }

    @Test func validityTableRefusalNeedsNoSA() throws {
        let message = IKEMessage(header: IKEHeader(initiatorSPI: 1, responderSPI: 0, exchangeType: .ikeSAInit,
                                                   flags: .response, messageID: 0),
                                 payloads: [.notify(NotifyPayload(type: .invalidKEPayload, data: [0, 14]))])
        #expect(try IKEMessage.parse(message.emit()).notifies.first?.type == .invalidKEPayload)
    }

    @Test func validityTableClearPayloadInIKEAuth() {
        let message = IKEMessage(header: IKEHeader(initiatorSPI: 1, responderSPI: 2, exchangeType: .ikeAuth,
                                                   flags: .initiator, messageID: 1),
                                 payloads: [.identificationInitiator(IdentificationPayload(idType: .ipv4Address, data: [1, 2, 3, 4]))])
        #expect(parseError(message.emit()) == .payloadMustBeEncrypted(payload: .identificationInitiator, exchange: .ikeAuth))
    }

    @Test func validityTableIKEAuthWithoutSK() {
        let message = IKEMessage(header: IKEHeader(initiatorSPI: 1, responderSPI: 2, exchangeType: .informational,
                                                   flags: .initiator, messageID: 2), payloads: [])
        #expect(parseError(message.emit()) == .missingEncryptedPayload(exchange: .informational))
    }

    @Test func encryptedPayloadMustBeLast() {
        let payloads: [Payload] = [.encrypted(EncryptedPayload(firstInnerPayload: .none, protectedBody: [1, 2, 3]))]
        var bytes = IKEHeader(initiatorSPI: 1, responderSPI: 2, nextPayload: .encrypted, exchangeType: .informational,
                              flags: .initiator, messageID: 2).bytes
        bytes += PayloadChain.emit(payloads) + [0, 0, 0, 4]
        #expect(parseError(withLength(bytes)) == .encryptedPayloadNotLast)
    }

    @Test func malformedBodies() {
        func bodyError(_ type: PayloadType, _ body: [UInt8]) -> IKEParseError? {
            var bytes: [UInt8] = [0, 0, 0, UInt8(4 + body.count)] + body
            bytes[3] = UInt8(4 + body.count)
            var reader = ByteReader(bytes)
            do {
                _ = try PayloadChain.parse(first: type, &reader)
                return nil
            } catch {
                return error
            }
        }
        #expect(bodyError(.nonce, repeated(1, 8)) == .invalidLength(context: "Nonce", value: 8))
        #expect(bodyError(.identificationInitiator, [1, 0, 0, 0, 1, 2]) == .lengthMismatch(context: "ID_IPV4_ADDR data", declared: 4, actual: 2))
        #expect(bodyError(.delete, [3, 4, 0, 2, 1, 2, 3, 4]) == .lengthMismatch(context: "Delete SPIs", declared: 8, actual: 4))
        #expect(bodyError(.trafficSelectorInitiator, [1, 0, 0, 0, 9, 0, 0, 16]) == .invalidValue(context: "TS type", value: 9))
        #expect(bodyError(.encryptedFragment, [0, 2, 0, 1]) == .invalidValue(context: "SKF fragment 2 of", value: 1))
        #expect(bodyError(.notify, [0, 8, 0x40]) != nil)
    }
}
