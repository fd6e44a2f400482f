// IPCP (RFC 1332) with the DNS extensions of RFC 1877, as a point-to-site server needs it
// (protocols.md §4.5): the server's request carries its own IP-Address; the client asks for
// 0.0.0.0 and is Nak'd with its pool address; DNS 129/131 likewise; VJ compression (option 2),
// NBNS (130/132) and anything else are rejected. The client role mirrors it.

public enum IPCPOptionType {
    public static let ipCompression: UInt8 = 2
    public static let ipAddress: UInt8 = 3
    public static let primaryDNS: UInt8 = 129
    public static let primaryNBNS: UInt8 = 130
    public static let secondaryDNS: UInt8 = 131
    public static let secondaryNBNS: UInt8 = 132
}

public struct IPCPPolicy: PPPOptionPolicy {
    public enum Role: Sendable {
        /// Assigns `clientAddress` to the peer and offers `dns` (at most two).
        case server(localAddress: PPPIPv4Address, clientAddress: PPPIPv4Address, dns: [PPPIPv4Address])
        /// Asks for an address (0.0.0.0 = any) and, when `wantDNS`, for DNS servers.
        case client(requestedAddress: PPPIPv4Address, wantDNS: Bool)
    }

    public let role: Role
    /// Our address: the server's own, or what the client was given.
    public private(set) var localAddress: PPPIPv4Address
    /// The peer's address as agreed.
    public private(set) var peerAddress: PPPIPv4Address = .zero
    public private(set) var dns: [PPPIPv4Address] = []
    var requestAddress = true
    var requestPrimaryDNS: Bool
    var requestSecondaryDNS: Bool
    var primaryDNS: PPPIPv4Address = .zero
    var secondaryDNS: PPPIPv4Address = .zero
    var hintedMissingAddress = false

    public init(role: Role) {
        self.role = role
        switch role {
        case .server(let local, let client, let dns):
            localAddress = local
            peerAddress = client
            self.dns = Array(dns.prefix(2))
            requestPrimaryDNS = false
            requestSecondaryDNS = false
        case .client(let requested, let wantDNS):
            localAddress = requested
            requestPrimaryDNS = wantDNS
            requestSecondaryDNS = wantDNS
        }
    }

    public func requestOptions() -> [PPPOption] {
        var options: [PPPOption] = []
        if requestAddress { options.append(.uint32(IPCPOptionType.ipAddress, localAddress.value)) }
        if requestPrimaryDNS { options.append(.uint32(IPCPOptionType.primaryDNS, primaryDNS.value)) }
        if requestSecondaryDNS { options.append(.uint32(IPCPOptionType.secondaryDNS, secondaryDNS.value)) }
        return options
    }

    public mutating func evaluate(peerRequest: [PPPOption], mustNotNak: Bool) -> PPPRequestVerdict {
        var naks: [PPPOption] = [], rejects: [PPPOption] = []
        var seen = Set<UInt8>()
        var sawAddress = false
        var offeredPeer: PPPIPv4Address?
        for option in peerRequest {
            guard seen.insert(option.type).inserted else { rejects.append(option); continue }
            switch (role, option.type) {
            case (.server(_, let client, _), IPCPOptionType.ipAddress):
                guard let value = option.uint32 else { rejects.append(option); continue }
                sawAddress = true
                if value != client.value { naks.append(.uint32(IPCPOptionType.ipAddress, client.value)) }
            case (.server(_, _, let dns), IPCPOptionType.primaryDNS), (.server(_, _, let dns), IPCPOptionType.secondaryDNS):
                let index = option.type == IPCPOptionType.primaryDNS ? 0 : 1
                guard let value = option.uint32, index < dns.count else { rejects.append(option); continue }
                if value != dns[index].value { naks.append(.uint32(option.type, dns[index].value)) }
            case (.client, IPCPOptionType.ipAddress):
                // The server's own address: any non-zero value is fine.
                guard let value = option.uint32, value != 0 else { rejects.append(option); continue }
                offeredPeer = PPPIPv4Address(value)
            default:
                rejects.append(option)  // VJ compression, NBNS, unknown
            }
        }
        if case .server(_, let client, _) = role, !sawAddress, !hintedMissingAddress, rejects.isEmpty, !mustNotNak {
            // RFC 1661 §5.3: a Nak may add an option the peer should request — its address, once.
            hintedMissingAddress = true
            naks.append(.uint32(IPCPOptionType.ipAddress, client.value))
        }
        if !rejects.isEmpty { return .reject(rejects) }
        if !naks.isEmpty { return mustNotNak ? .reject(peerRequest.filter { o in naks.contains { $0.type == o.type } }) : .nak(naks) }
        if let offeredPeer { peerAddress = offeredPeer }
        return .ack
    }

    public mutating func acknowledged(_ options: [PPPOption]) {
        guard case .client = role else { return }
        var servers: [PPPIPv4Address] = []
        for option in options {
            guard let value = option.uint32 else { continue }
            switch option.type {
            case IPCPOptionType.ipAddress: localAddress = PPPIPv4Address(value)
            case IPCPOptionType.primaryDNS, IPCPOptionType.secondaryDNS: if value != 0 { servers.append(PPPIPv4Address(value)) }
            default: break
            }
        }
        dns = servers
    }

    public mutating func nakReceived(_ options: [PPPOption]) -> PPPFailure? {
        switch role {
        case .server:
            return nil  // our own address is not negotiable: ask again; Max-Failure on the peer bounds it
        case .client:
            for option in options {
                guard let value = option.uint32 else { continue }
                switch option.type {
                case IPCPOptionType.ipAddress: localAddress = PPPIPv4Address(value)
                case IPCPOptionType.primaryDNS: primaryDNS = PPPIPv4Address(value)
                case IPCPOptionType.secondaryDNS: secondaryDNS = PPPIPv4Address(value)
                default: break
                }
            }
            return nil
        }
    }

    public mutating func rejectReceived(_ options: [PPPOption]) -> PPPFailure? {
        for option in options {
            switch option.type {
            case IPCPOptionType.ipAddress:
                if case .client = role, localAddress == .zero { return .noAddressAssigned }
                requestAddress = false
            case IPCPOptionType.primaryDNS: requestPrimaryDNS = false
            case IPCPOptionType.secondaryDNS: requestSecondaryDNS = false
            default: break
            }
        }
        return nil
    }
}

/// A pool of client addresses (vpnClientAddressPool); owned by the layer that creates sessions.
/// Invariant: an address is handed out at most once until released; the first and last
/// addresses of the range (network/broadcast when it is a prefix) are never handed out.
public struct PPPAddressPool: Sendable {
    public let first: PPPIPv4Address
    public let last: PPPIPv4Address
    var inUse: Set<UInt32> = []
    var cursor: UInt32

    /// A pool over `prefix/length`, skipping the network and broadcast addresses and `reserved`.
    public init?(prefix: PPPIPv4Address, length: Int, reserved: Set<PPPIPv4Address> = []) {
        guard (8...30).contains(length) else { return nil }
        let mask: UInt32 = length == 0 ? 0 : ~UInt32(0) << UInt32(32 - length)
        let network = prefix.value & mask
        first = PPPIPv4Address(network + 1)
        last = PPPIPv4Address((network | ~mask) - 1)
        cursor = first.value
        inUse = Set(reserved.map(\.value))
    }

    public var available: Int { Int(last.value - first.value + 1) - inUse.filter { $0 >= first.value && $0 <= last.value }.count }

    public mutating func allocate() -> PPPIPv4Address? {
        let size = last.value - first.value + 1
        for step in 0..<size {
            let candidate = first.value + (cursor - first.value + step) % size
            if !inUse.contains(candidate) {
                inUse.insert(candidate)
                cursor = candidate == last.value ? first.value : candidate + 1
                return PPPIPv4Address(candidate)
            }
        }
        return nil
    }

    public mutating func release(_ address: PPPIPv4Address) { inUse.remove(address.value) }
}
