import Foundation
import Testing
import GatewayModel

@Suite("IP addresses and prefixes")
struct AddressingTests {
    @Test("valid prefixes parse to canonical form", arguments: [
        ("10.1.0.0/16", "10.1.0.0/16"),
        ("0.0.0.0/0", "0.0.0.0/0"),
        ("192.168.1.1/32", "192.168.1.1/32"),
        ("::/0", "::/0"),
        ("::/128", "::/128"),
        ("FD00:1::/64", "fd00:1::/64"),
        ("2001:db8:0:0:8000::/65", "2001:db8:0:0:8000::/65"),
        ("2001:0db8:0000:0000:0000:0000:0000:0000/32", "2001:db8::/32"),
        ("::ffff:10.0.0.0/104", "::ffff:a00:0/104"),
        ("1:2:3:4:5:6:7::/128", "1:2:3:4:5:6:7:0/128"),
    ])
    func validPrefix(text: String, canonical: String) throws {
        let p = try IPPrefix(parsing: text)
        #expect(p.description == canonical)
        #expect(try IPPrefix(parsing: p.description) == p)
    }

    @Test("host bits set is refused with the canonical suggestion", arguments: [
        ("10.1.2.3/16", "10.1.0.0/16"),
        ("192.168.1.1/24", "192.168.1.0/24"),
        ("fd00::1/64", "fd00::/64"),
        ("2001:db8::8000:0:0:0/64", "2001:db8::/64"),
    ])
    func hostBits(text: String, canonical: String) {
        #expect(throws: IPPrefix.ParseError.hostBitsSet(text, canonical: canonical)) { try IPPrefix(parsing: text) }
        let message = IPPrefix.ParseError.hostBitsSet(text, canonical: canonical).description
        #expect(message.contains("did you mean \(canonical)"))
    }

    @Test("bad lengths are refused naming the maximum", arguments: [
        ("10.0.0.0/33", 32), ("10.0.0.0/", 32), ("10.0.0.0/-1", 32), ("10.0.0.0/1a", 32), ("10.0.0.0/0008", 32),
        ("::/129", 128), ("fd00::/+64", 128),
    ])
    func badLength(text: String, max: Int) {
        #expect(throws: IPPrefix.ParseError.badLength(text, max: max)) { try IPPrefix(parsing: text) }
    }

    @Test("not a CIDR", arguments: ["10.0.0.0", "10.0.0.0/8/1", "", "fd00::"])
    func notCIDR(text: String) {
        #expect(throws: IPPrefix.ParseError.notCIDR(text)) { try IPPrefix(parsing: text) }
    }

    @Test("bad addresses inside a prefix", arguments: ["010.0.0.0/8", "256.0.0.0/8", "10.0.0/8", "1::2::3/64", "g::/64", "10.0.0.0.0/8"])
    func badAddressPrefix(text: String) {
        #expect(throws: IPPrefix.ParseError.badAddress(text)) { try IPPrefix(parsing: text) }
    }

    @Test("IPv4 addresses", arguments: [
        ("1.2.3.4", true), ("0.0.0.0", true), ("255.255.255.255", true),
        ("256.1.1.1", false), ("1.2.3", false), ("1.2.3.4.5", false), ("01.2.3.4", false), ("1.2.3.04", false),
        ("1.2.3.-4", false), ("+1.2.3.4", false), (" 1.2.3.4", false), ("1..3.4", false), ("١.2.3.4", false), ("1.2.3.0004", false),
    ])
    func ipv4(text: String, valid: Bool) {
        let a = IPAddress(text)
        #expect((a != nil) == valid)
        if let a { #expect(a.family == .v4); #expect(a.description == text) }
    }

    @Test("IPv6 addresses", arguments: [
        ("::", "::"), ("::1", "::1"), ("1::", "1::"), ("FE80::1", "fe80::1"),
        ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),
        ("1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"),
        ("::ffff:192.0.2.1", "::ffff:c000:201"),
        ("64:ff9b::198.51.100.7", "64:ff9b::c633:6407"),
        ("1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:102:304"),
    ])
    func ipv6Valid(text: String, canonical: String) throws {
        let a = try #require(IPAddress(text))
        #expect(a.family == .v6)
        #expect(a.description == canonical)
        #expect(IPAddress(canonical) == a)
    }

    @Test("invalid IPv6 addresses", arguments: [
        ":", ":::", "1::2::3", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7:8::", "12345::", "::g", ":1::", "1:",
        "::1.2.3.4:5", "::ffff:1.2.3", "::ffff:01.2.3.4", "1:2:3:4:5:6:7:1.2.3.4", "fe80::1%eth0",
        "::+1", "fd00::-0", "+1::",
    ])
    func ipv6Invalid(text: String) {
        #expect(IPAddress(text) == nil, "'\(text)' must not parse")
    }

    @Test func embeddedV4Value() throws {
        let a = try #require(IPAddress("::ffff:192.0.2.1"))
        #expect(a.high == 0)
        #expect(a.low == 0x0000_ffff_c000_0201)
    }

    @Test func containsAndOverlaps() throws {
        let p8 = try IPPrefix(parsing: "10.0.0.0/8")
        let p16 = try IPPrefix(parsing: "10.1.0.0/16")
        let other = try IPPrefix(parsing: "10.2.0.0/16")
        let all4 = try IPPrefix(parsing: "0.0.0.0/0")
        let all6 = try IPPrefix(parsing: "::/0")
        let v6 = try IPPrefix(parsing: "fd00:1::/64")
        #expect(p8.contains(p16) && !p16.contains(p8))
        #expect(p8.overlaps(p16) && p16.overlaps(p8))
        #expect(!p16.overlaps(other) && !other.overlaps(p16))
        #expect(p16.contains(p16) && p16.overlaps(p16))
        #expect(all4.contains(p16) && !all4.overlaps(v6) && !all6.overlaps(p8))
        #expect(all6.contains(v6) && !v6.contains(all6))
        #expect(p16.contains(IPAddress("10.1.255.255")!) && !p16.contains(IPAddress("10.2.0.0")!))
        #expect(!all4.contains(IPAddress("::ffff:10.1.0.1")!), "an IPv6 address is never inside an IPv4 prefix")
        let first = try #require([p16, v6].firstOverlap(with: [other, p8]))
        #expect(first.0 == p16 && first.1 == p8)
        #expect([p16].firstOverlap(with: [other, v6]) == nil)
        #expect(p16.size == 65536 && all6.size == .max)
    }

    @Test func prefixesDecodeFromJSONWithPath() throws {
        struct Box: Decodable { var p: [IPPrefix] }
        let ok = try JSONDecoder().decode(Box.self, from: Data(#"{"p":["10.0.0.0/8","fd00::/8"]}"#.utf8))
        #expect(ok.p.map(\.description) == ["10.0.0.0/8", "fd00::/8"])
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(Box.self, from: Data(#"{"p":["10.0.0.1/8"]}"#.utf8)) }
    }
}

@Suite("Names")
struct NameTests {
    @Test("resource names accepted", arguments: ["a", "vnet-1", "GatewaySubnet", "a.b_c-d", "1abc_", String(repeating: "x", count: 80)])
    func resourceNameOK(name: String) throws {
        try ResourceName.validate(name, field: "name")
    }

    @Test("resource names refused", arguments: ["", "-a", "_a", ".a", "a-", "a.", "a b", "a/b", "é", "a*", String(repeating: "x", count: 81)])
    func resourceNameRefused(name: String) {
        #expect(throws: ARMError.self) { try ResourceName.validate(name, field: "name") }
        do { try ResourceName.validate(name, field: "name") } catch {
            #expect(error.status == 400)
            #expect(error.target == "name")
            #expect(error.message.contains("'\(name)'") && error.message.contains("1–80"))
        }
    }

    @Test("group names accepted", arguments: ["rg", "rg(1)", "my.rg-1_x", "-rg", String(repeating: "g", count: 90)])
    func groupNameOK(name: String) throws {
        try ResourceName.validateGroup(name)
    }

    @Test("group names refused", arguments: ["", "rg.", "rg/x", "rg x", "rg#", "ü", String(repeating: "g", count: 91)])
    func groupNameRefused(name: String) {
        do { try ResourceName.validateGroup(name); Issue.record("'\(name)' accepted") } catch {
            #expect(error.status == 400)
            #expect(error.target == "resourceGroupName")
            #expect(error.message.contains("'\(name)'") && error.message.contains("1–90"))
        }
    }

    @Test func resourceWithBadNameIsRefusedByService() async throws {
        let lab = try await Lab.make()
        await expectRefusal(400, "InvalidRequestFormat", target: "name", mentions: ["bad name!"], lab: lab) {
            try await lab.put(.localNetworkGateways, "bad name!", localGatewayBody())
        }
        try await lab.put(.localNetworkGateways, "good-name_1", localGatewayBody())
    }

    @Test func groupRules() async throws {
        let lab = try await Lab.make(groups: [])
        await expectRefusal(400, "InvalidRequestFormat", target: "resourceGroupName", lab: lab) {
            try await lab.service.putGroup(subscription: Fx.sub, name: "bad/group", body: body(["location": "local"]))
        }
        await expectRefusal(400, "MissingRequiredProperty", target: "location", lab: lab) {
            try await lab.service.putGroup(subscription: Fx.sub, name: "rg1", body: Data())
        }
        try await lab.group("rg1")
        // Idempotent PUT keeps the group; a move is refused.
        _ = try await lab.service.putGroup(subscription: Fx.sub, name: "RG1", body: body(["location": "local", "tags": ["a": "b"]]))
        await expectRefusal(409, "InvalidResourceGroupLocation", target: "location", mentions: ["local", "elsewhere"], lab: lab) {
            try await lab.service.putGroup(subscription: Fx.sub, name: "rg1", body: body(["location": "elsewhere"]))
        }
        // A resource in a group that does not exist is 404.
        await expectRefusal(404, "ResourceGroupNotFound", target: "resourceGroup", mentions: ["nogroup"], lab: lab) {
            try await lab.put(.localNetworkGateways, "site", localGatewayBody(), group: "nogroup")
        }
    }
}
