import Testing
@testable import IKE

@Suite struct ProposalSelectionTests {
    /// strongSwan 5.9.8 `proposals = default`, first (non-AEAD) proposal, abbreviated to what we parse.
    static let strongSwanDefault = Proposal(number: 1, protocolID: .ike, transforms: [
        EncryptionAlgorithm.aesCBC(keyBits: 128).transform, EncryptionAlgorithm.aesCBC(keyBits: 256).transform,
        IntegrityAlgorithm.hmacSHA2_256_128.transform, IntegrityAlgorithm.hmacSHA1_96.transform,
        PRFAlgorithm.hmacSHA2_256.transform, PRFAlgorithm.hmacSHA1.transform,
        DHGroup.curve25519.transform, DHGroup.ecp256.transform, DHGroup.modp2048.transform,
    ])

    @Test func picksOurPreferenceWithinTheirOffer() throws {
        let result = ProposalSelection.select(ours: DefaultProposals.vpngwDefault.ikeProposals(), theirs: [Self.strongSwanDefault])
        let chosen = try result.get()
        #expect(chosen.number == 1)
        #expect(try IKECipherSuite(proposal: chosen) == IKECipherSuite(encryption: .aesCBC(keyBits: 128), integrity: .hmacSHA2_256_128,
                                                                      prf: .hmacSHA2_256, dhGroup: .curve25519))
        #expect(chosen.transforms.count == 4)
    }

    @Test func keyLengthIsPartOfTheTransform() {
        let ours = [Proposal(number: 1, protocolID: .ike, transforms: [EncryptionAlgorithm.aesCBC(keyBits: 256).transform,
                                                                      IntegrityAlgorithm.hmacSHA1_96.transform,
                                                                      PRFAlgorithm.hmacSHA1.transform, DHGroup.modp1024.transform])]
        let theirs = [Proposal(number: 1, protocolID: .ike, transforms: [EncryptionAlgorithm.aesCBC(keyBits: 128).transform,
                                                                        IntegrityAlgorithm.hmacSHA1_96.transform,
                                                                        PRFAlgorithm.hmacSHA1.transform, DHGroup.modp1024.transform])]
        guard case let .failure(mismatch) = ProposalSelection.select(ours: ours, theirs: theirs) else {
            Issue.record("AES-256 must not match AES-128")
            return
        }
        #expect(mismatch.closest?.mismatches.map(\.type) == [.encryption])
    }

    @Test func mismatchExplainsTransformByTransform() {
        let ours = [IKECipherSuite(encryption: .aesGCM16(keyBits: 256), integrity: nil, prf: .hmacSHA2_256, dhGroup: .modp2048).proposal()]
        let result = ProposalSelection.select(ours: ours, theirs: DefaultProposals.azureRouteBased.ikeProposals())
        guard case let .failure(mismatch) = result else {
            Issue.record("expected NO_PROPOSAL_CHOSEN")
            return
        }
        #expect(mismatch.comparisons.count == 4)
        let text = mismatch.description
        #expect(text.contains("we offered ENCR_AES_GCM_16-256, PRF_HMAC_SHA2_256, MODP_2048"))
        #expect(text.contains("they offered ENCR_AES_CBC-256, PRF_HMAC_SHA1, AUTH_HMAC_SHA1_96, MODP_1024"))
        #expect(text.contains("no common ENCR (we: ENCR_AES_GCM_16-256; they: ENCR_AES_CBC-256)"))
        #expect(text.contains("no common DH (we: MODP_2048; they: MODP_1024)"))
        #expect(text.contains("no common INTEG (we: none; they: AUTH_HMAC_SHA2_256_128)"))
    }

    @Test func azureInitiatorMeetsStrongSwanStyleResponder() throws {
        // A strongSwan peer configured for Azure (aes256-sha1-modp1024) against Azure's defaults.
        let peer = [IKECipherSuite(encryption: .aesCBC(keyBits: 256), integrity: .hmacSHA1_96, prf: .hmacSHA1, dhGroup: .modp1024).proposal()]
        let chosen = try ProposalSelection.select(ours: DefaultProposals.azureRouteBased.ikeProposals(), theirs: peer).get()
        #expect(try IKECipherSuite(proposal: chosen).dhGroup == .modp1024)
        #expect(DefaultProposals.azureRouteBased.unsupported.contains { $0.entry.contains("3DES") })
        #expect(DefaultProposals.azureRouteBased.child.first?.encryption == .aesGCM16(keyBits: 256))
    }

    @Test func childSelectionIgnoresDHInIKEAuthAndDefaultsESN() throws {
        let theirs = [Proposal(number: 1, protocolID: .esp, spi: [9, 9, 9, 9], transforms: [
            EncryptionAlgorithm.aesGCM16(keyBits: 128).transform, DHGroup.ecp256.transform,
        ])]
        let ours = DefaultProposals.vpngwDefault.childProposals(spi: [1, 2, 3, 4])
        #expect(throws: ProposalMismatch.self) {
            try ProposalSelection.select(ours: ours, theirs: theirs).get()
        }
        let chosen = try ProposalSelection.select(ours: ours, theirs: theirs, options: .init(ignoreKeyExchange: true)).get()
        #expect(chosen.spi == [9, 9, 9, 9])
        #expect(try ChildCipherSuite(proposal: chosen) == ChildCipherSuite(encryption: .aesGCM16(keyBits: 128), integrity: nil))
    }

    @Test func protocolMismatchIsReported() {
        let result = ProposalSelection.select(ours: DefaultProposals.vpngwDefault.ikeProposals(),
                                              theirs: DefaultProposals.vpngwDefault.childProposals(spi: [1, 2, 3, 4]))
        guard case let .failure(mismatch) = result else {
            Issue.record("IKE must not match ESP")
            return
        }
        #expect(mismatch.comparisons.allSatisfy { $0.protocolMismatch })
    }

    @Test func initiatorVerifiesTheAnswer() throws {
        let offered = DefaultProposals.vpngwDefault.ikeProposals()
        let good = offered[2]
        #expect(try ProposalSelection.verifyResponse(offered: offered, chosen: good).get() == good)
        var forged = good
        forged.transforms[0] = EncryptionAlgorithm.chacha20Poly1305.transform
        #expect(throws: ProposalMismatch.self) { try ProposalSelection.verifyResponse(offered: offered, chosen: forged).get() }
    }
}

@Suite struct TrafficSelectorTests {
    static func v4(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8, _ length: Int) -> TrafficSelector {
        .prefix([a, b, c, d], length: length)
    }

    @Test func prefixesRenderAsCIDR() {
        #expect(Self.v4(10, 1, 0, 0, 16).description == "10.1.0.0/16")
        #expect(TrafficSelector.anyIPv4.description == "0.0.0.0/0")
        #expect(TrafficSelector(type: .ipv4AddressRange, startAddress: [10, 0, 0, 5], endAddress: [10, 0, 0, 9]).description
                == "10.0.0.5-10.0.0.9")
        #expect(TrafficSelector.anyIPv6.description == "0:0:0:0:0:0:0:0/0")
    }

    @Test func responderNarrowsToItsPolicy() throws {
        // protocols.md interop item 14: strongSwan proposes 10.1.0.0/16 ↔ 10.2.0.0/16; our policy is
        // local 10.2.0.0/16, remote 10.1.1.0/24.
        let policy = TrafficSelectorPolicy(local: [Self.v4(10, 2, 0, 0, 16)], remote: [Self.v4(10, 1, 1, 0, 24)])
        let result = try TrafficSelectorNarrowing.narrowAsResponder(tsi: [Self.v4(10, 1, 0, 0, 16)], tsr: [Self.v4(10, 2, 0, 0, 16)],
                                                                    policy: policy).get()
        #expect(result.tsi == [Self.v4(10, 1, 1, 0, 24)])
        #expect(result.tsr == [Self.v4(10, 2, 0, 0, 16)])
    }

    @Test func routeBasedAcceptsAnything() throws {
        let result = try TrafficSelectorNarrowing.narrowAsResponder(tsi: [Self.v4(192, 168, 1, 0, 24)], tsr: [.anyIPv4],
                                                                    policy: .routeBased).get()
        #expect(result.tsi == [Self.v4(192, 168, 1, 0, 24)] && result.tsr == [.anyIPv4])
    }

    @Test func disjointSelectorsAreNamed() {
        let policy = TrafficSelectorPolicy(local: [Self.v4(10, 2, 0, 0, 16)], remote: [Self.v4(10, 3, 0, 0, 16)])
        let result = TrafficSelectorNarrowing.narrowAsResponder(tsi: [Self.v4(10, 1, 0, 0, 16)], tsr: [Self.v4(10, 2, 0, 0, 16)],
                                                                policy: policy)
        guard case let .failure(mismatch) = result else {
            Issue.record("expected TS_UNACCEPTABLE")
            return
        }
        #expect(mismatch.side == .initiator)
        #expect(mismatch.description == "TS_UNACCEPTABLE: peer's TSi 10.1.0.0/16 does not overlap our remote selectors 10.3.0.0/16")
    }

    @Test func protocolsAndPortsIntersect() {
        let web = TrafficSelector(type: .ipv4AddressRange, ipProtocol: 6, startPort: 80, endPort: 443,
                                  startAddress: [10, 0, 0, 0], endAddress: [10, 0, 0, 255])
        let https = TrafficSelector(type: .ipv4AddressRange, ipProtocol: 6, startPort: 443, endPort: 8443,
                                    startAddress: [10, 0, 0, 0], endAddress: [10, 255, 255, 255])
        #expect(web.intersection(https)?.description == "10.0.0.0/24 proto 6 port 443")
        var udp = https
        udp.ipProtocol = 17
        #expect(web.intersection(udp) == nil)
        #expect(web.intersection(.anyIPv4) == web)
        #expect(web.intersection(.anyIPv6) == nil)
    }

    @Test func initiatorRejectsWidenedAnswers() {
        let policy = TrafficSelectorPolicy(local: [Self.v4(10, 2, 0, 0, 16)], remote: [Self.v4(10, 1, 0, 0, 16)])
        let widened = TrafficSelectorNarrowing.acceptAsInitiator(tsi: [Self.v4(10, 0, 0, 0, 8)], tsr: [Self.v4(10, 1, 0, 0, 16)],
                                                                 policy: policy)
        guard case .failure = widened else {
            Issue.record("a widened TSi must be refused")
            return
        }
    }
}
