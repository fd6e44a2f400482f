// Traffic selector narrowing (RFC 7296 §2.9): the responder answers with the intersection of what
// the initiator proposed and its own policy; no intersection is TS_UNACCEPTABLE, and the
// explanation names the selectors that did not match.

extension TrafficSelector: CustomStringConvertible {
    /// A whole-range IPv4 selector (0.0.0.0–255.255.255.255, all protocols and ports): route-based.
    public static let anyIPv4 = TrafficSelector(type: .ipv4AddressRange, startAddress: [0, 0, 0, 0],
                                                endAddress: [255, 255, 255, 255])
    public static let anyIPv6 = TrafficSelector(type: .ipv6AddressRange, startAddress: [UInt8](repeating: 0, count: 16),
                                                endAddress: [UInt8](repeating: 0xff, count: 16))

    /// An IPv4 or IPv6 prefix (`address` 4 or 16 bytes), all protocols and ports.
    public static func prefix(_ address: [UInt8], length: Int, ipProtocol: UInt8 = 0) -> TrafficSelector {
        let bits = address.count * 8
        let prefixLength = max(0, min(length, bits))
        var start = address
        var end = address
        for bit in prefixLength..<bits {
            let byte = bit / 8, mask = UInt8(0x80) >> UInt8(bit % 8)
            start[byte] &= ~mask
            end[byte] |= mask
        }
        return TrafficSelector(type: address.count == 4 ? .ipv4AddressRange : .ipv6AddressRange, ipProtocol: ipProtocol,
                               startAddress: start, endAddress: end)
    }

    /// Whether this selector is well-formed: start ≤ end for addresses and ports.
    public var isValid: Bool {
        guard let length = type.addressLength, startAddress.count == length, endAddress.count == length else { return false }
        let addressesOrdered = !endAddress.lexicographicallyPrecedes(startAddress)
        let portsOrdered = startPort <= endPort || isOpaquePorts
        return addressesOrdered && portsOrdered
    }

    /// The overlap of two selectors, or nil (RFC 7296 §2.9: same type, protocol 0 = any, OPAQUE
    /// port range start 65535 end 0 only matches itself or "any").
    public func intersection(_ other: TrafficSelector) -> TrafficSelector? {
        guard type == other.type, isValid, other.isValid else { return nil }
        let ipProtocol: UInt8
        switch (self.ipProtocol, other.ipProtocol) {
        case (0, let p), (let p, 0): ipProtocol = p
        case let (a, b) where a == b: ipProtocol = a
        default: return nil
        }
        let start = startAddress.lexicographicallyPrecedes(other.startAddress) ? other.startAddress : startAddress
        let end = endAddress.lexicographicallyPrecedes(other.endAddress) ? endAddress : other.endAddress
        guard !end.lexicographicallyPrecedes(start) else { return nil }
        let startPort: UInt16, endPort: UInt16
        if isOpaquePorts || other.isOpaquePorts {
            guard (isOpaquePorts || isAllPorts) && (other.isOpaquePorts || other.isAllPorts) else { return nil }
            (startPort, endPort) = (65535, 0)
        } else {
            startPort = max(self.startPort, other.startPort)
            endPort = min(self.endPort, other.endPort)
            guard startPort <= endPort else { return nil }
        }
        return TrafficSelector(type: type, ipProtocol: ipProtocol, startPort: startPort, endPort: endPort,
                               startAddress: start, endAddress: end)
    }

    var isOpaquePorts: Bool { startPort == 65535 && endPort == 0 }
    var isAllPorts: Bool { startPort == 0 && endPort == 65535 }

    /// "10.1.0.0/16", "10.1.0.5-10.1.0.9", with "proto 6 port 443" when narrowed.
    public var description: String {
        var text = addressRangeDescription
        if ipProtocol != 0 { text += " proto \(ipProtocol)" }
        if !isAllPorts { text += startPort == endPort ? " port \(startPort)" : " ports \(startPort)-\(endPort)" }
        return text
    }

    var addressRangeDescription: String {
        guard startAddress.count == endAddress.count, !startAddress.isEmpty else { return "invalid selector" }
        // A prefix when start and end differ only in a run of trailing bits (start zeros, end ones).
        let bits = startAddress.count * 8
        var prefixLength = bits
        for bit in 0..<bits {
            let byte = bit / 8, mask = UInt8(0x80) >> UInt8(bit % 8)
            if startAddress[byte] & mask != endAddress[byte] & mask { prefixLength = bit; break }
        }
        if TrafficSelector.prefix(startAddress, length: prefixLength).startAddress == startAddress,
           TrafficSelector.prefix(startAddress, length: prefixLength).endAddress == endAddress {
            return "\(format(startAddress))/\(prefixLength)"
        }
        return "\(format(startAddress))-\(format(endAddress))"
    }

    func format(_ address: [UInt8]) -> String {
        if address.count == 4 { return address.map(String.init).joined(separator: ".") }
        var groups: [String] = []
        for i in stride(from: 0, to: address.count, by: 2) {
            groups.append(String(UInt16(address[i]) << 8 | UInt16(address[i + 1]), radix: 16))
        }
        return groups.joined(separator: ":")
    }
}

/// Our side of a CHILD SA policy: `local` is behind us, `remote` behind the peer.
public struct TrafficSelectorPolicy: Hashable, Sendable {
    public var local: [TrafficSelector]
    public var remote: [TrafficSelector]

    public init(local: [TrafficSelector], remote: [TrafficSelector]) {
        self.local = local
        self.remote = remote
    }

    /// Route-based: everything both ways (Azure's VTI model).
    public static let routeBased = TrafficSelectorPolicy(local: [.anyIPv4], remote: [.anyIPv4])
}

/// TS_UNACCEPTABLE, explained.
public struct TrafficSelectorMismatch: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Side: String, Hashable, Sendable {
        case initiator = "TSi"
        case responder = "TSr"
    }

    public var side: Side
    public var proposed: [TrafficSelector]
    public var policy: [TrafficSelector]

    public var description: String {
        let ours = side == .initiator ? "remote" : "local"
        return "TS_UNACCEPTABLE: peer's \(side.rawValue) \(proposed.map(\.description).joined(separator: ", ")) "
            + "does not overlap our \(ours) selectors \(policy.map(\.description).joined(separator: ", "))"
    }
}

public enum TrafficSelectorNarrowing {
    /// Every non-empty intersection of a proposed selector with a policy selector, in proposal order.
    public static func narrow(_ proposed: [TrafficSelector], to policy: [TrafficSelector]) -> [TrafficSelector] {
        var result: [TrafficSelector] = []
        for selector in proposed {
            for allowed in policy {
                if let overlap = selector.intersection(allowed), !result.contains(overlap) { result.append(overlap) }
            }
        }
        return result
    }

    /// The responder's narrowing: TSi (the initiator's side) against our remote selectors, TSr
    /// against our local ones.
    public static func narrowAsResponder(tsi: [TrafficSelector], tsr: [TrafficSelector],
                                         policy: TrafficSelectorPolicy) -> Result<(tsi: [TrafficSelector], tsr: [TrafficSelector]), TrafficSelectorMismatch> {
        let narrowedI = narrow(tsi, to: policy.remote)
        guard !narrowedI.isEmpty else {
            return .failure(TrafficSelectorMismatch(side: .initiator, proposed: tsi, policy: policy.remote))
        }
        let narrowedR = narrow(tsr, to: policy.local)
        guard !narrowedR.isEmpty else {
            return .failure(TrafficSelectorMismatch(side: .responder, proposed: tsr, policy: policy.local))
        }
        return .success((narrowedI, narrowedR))
    }

    /// The initiator's check of the answer: every returned selector must lie within what we asked.
    public static func acceptAsInitiator(tsi: [TrafficSelector], tsr: [TrafficSelector],
                                         policy: TrafficSelectorPolicy) -> Result<(tsi: [TrafficSelector], tsr: [TrafficSelector]), TrafficSelectorMismatch> {
        for selector in tsi where !policy.local.contains(where: { selector.intersection($0) == selector }) {
            return .failure(TrafficSelectorMismatch(side: .initiator, proposed: tsi, policy: policy.local))
        }
        for selector in tsr where !policy.remote.contains(where: { selector.intersection($0) == selector }) {
            return .failure(TrafficSelectorMismatch(side: .responder, proposed: tsr, policy: policy.remote))
        }
        return .success((tsi, tsr))
    }
}
