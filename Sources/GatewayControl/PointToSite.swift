import Foundation
import GatewayModel

/// One live point-to-site session, in Azure's `VpnClientConnectionHealthDetail` shape
/// (`POST …/virtualNetworkGateways/{name}/getvpnclientconnectionhealth`).
public struct VpnClientConnectionHealthDetail: Codable, Sendable, Equatable {
    public var vpnConnectionId: String
    /// Seconds since the session started.
    public var vpnConnectionDuration: Int64
    /// ISO 8601 start time.
    public var vpnConnectionTime: String
    /// The client's public address (and port).
    public var publicIpAddress: String
    /// The address from vpnClientAddressPool.
    public var privateIpAddress: String
    public var vpnUserName: String
    public var maxBandwidth: Int64?
    public var egressPacketsTransferred: Int64?
    public var egressBytesTransferred: Int64
    public var ingressPacketsTransferred: Int64?
    public var ingressBytesTransferred: Int64
    public var maxPacketsPerSecond: Int64?
    public init(vpnConnectionId: String, vpnConnectionDuration: Int64, vpnConnectionTime: String, publicIpAddress: String,
                privateIpAddress: String, vpnUserName: String, egressBytesTransferred: Int64, ingressBytesTransferred: Int64) {
        self.vpnConnectionId = vpnConnectionId; self.vpnConnectionDuration = vpnConnectionDuration; self.vpnConnectionTime = vpnConnectionTime
        self.publicIpAddress = publicIpAddress; self.privateIpAddress = privateIpAddress; self.vpnUserName = vpnUserName
        self.egressBytesTransferred = egressBytesTransferred; self.ingressBytesTransferred = ingressBytesTransferred
    }
}

/// What a point-to-site client needs to dial a gateway (vpngw's `vpnclientconfiguration` action).
public struct VpnClientProfile: Codable, Sendable, Equatable {
    /// The gateway's public address: the name clients dial (the server certificate's CN).
    public var serverAddress: String
    public var port: Int
    public var protocols: [String]
    public var authenticationTypes: [String]
    /// The server's certificate (self-signed per gateway): clients trust it as their CA.
    public var serverCertificatePEM: String?
    /// Prefixes a client routes through the tunnel (the VNet, peered VNets with transit, sites).
    public var routes: [String]
    public var addressPool: [String]
    /// Set when the gateway's point-to-site server is not running (and why).
    public var status: String?
    public init(serverAddress: String, port: Int, protocols: [String], authenticationTypes: [String], serverCertificatePEM: String?,
                routes: [String], addressPool: [String], status: String?) {
        self.serverAddress = serverAddress; self.port = port; self.protocols = protocols; self.authenticationTypes = authenticationTypes
        self.serverCertificatePEM = serverCertificatePEM; self.routes = routes; self.addressPool = addressPool; self.status = status
    }
}

public struct VpnClientServerState: Sendable, Equatable {
    public var certificatePEM: String?
    public var port: Int
    /// Why the server is not running, if it is not.
    public var status: String?
    public init(certificatePEM: String?, port: Int, status: String?) { self.certificatePEM = certificatePEM; self.port = port; self.status = status }
}

/// Defaults for provisioners without a data plane: no sessions, nothing to disconnect.
extension Provisioner {
    public func vpnClientSessions(_ gateway: ResourceKey) -> [VpnClientConnectionHealthDetail]? { nil }
    public func disconnectVpnClients(_ gateway: ResourceKey, ids: [String]) async -> [String] { [] }
    public func vpnClientServer(_ gateway: ResourceKey) -> VpnClientServerState {
        VpnClientServerState(certificatePEM: nil, port: 443, status: "no data plane runs on this server (serve --data-plane off)")
    }
}

extension ResourceService {
    private func p2sGateway(_ id: ResourceID) throws(ARMError) -> VirtualNetworkGateway {
        guard case .virtualNetworkGateway(let gw)? = snapshot[id.key] else { throw ARMError.notFound("virtual network gateway", id.description) }
        guard gw.properties.gatewayType != .ExpressRoute else {
            throw ARMError.rule("PointToSiteNotSupported", "gatewayType", "Gateway '\(gw.name ?? "")' is an ExpressRoute gateway; point-to-site runs on Vpn gateways.")
        }
        return gw
    }

    /// `getvpnclientconnectionhealth`: the gateway's live point-to-site sessions.
    public func vpnClientConnectionHealth(_ id: ResourceID) throws(ARMError) -> [VpnClientConnectionHealthDetail] {
        _ = try p2sGateway(id)
        return pointToSite.vpnClientSessions(id.key) ?? []
    }

    /// `disconnectVirtualNetworkGatewayVpnConnections`: ends the sessions; returns the ids ended.
    public func disconnectVpnClientConnections(_ id: ResourceID, ids: [String]) async throws(ARMError) -> [String] {
        _ = try p2sGateway(id)
        guard !ids.isEmpty else { throw ARMError.missing("vpnConnectionIds", "the vpnConnectionId values from getvpnclientconnectionhealth") }
        let p = pointToSite
        return await p.disconnectVpnClients(id.key, ids: ids)
    }

    /// vpngw's `vpnclientconfiguration`: what a client needs to dial the gateway.
    public func vpnClientProfile(_ id: ResourceID) throws(ARMError) -> VpnClientProfile {
        let gw = try p2sGateway(id)
        let world = snapshot
        guard let vpc = gw.properties.vpnClientConfiguration else {
            throw ARMError.rule("PointToSiteNotConfigured", "properties.vpnClientConfiguration",
                                "Gateway '\(gw.name ?? "")' has no point-to-site configuration; set an address pool first (vnet-gateway update --address-prefixes 172.16.201.0/24 ...).")
        }
        guard let address = world.publicIP(gw.properties.ipConfigurations?.first?.properties.publicIPAddress?.id)?.properties.ipAddress else {
            throw ARMError.rule("NoPublicIPAddress", "properties.ipConfigurations", "Gateway '\(gw.name ?? "")' has no public IP address yet.")
        }
        var routes: [String] = []
        if let vnet = world.vnetID(ofGateway: gw) {
            routes += world.addressSpace(ofVNet: vnet).filter { $0.family == .v4 }.map(\.description)
            for (spoke, peering) in world.peeringsPointing(at: vnet) where peering.properties.useRemoteGateways == true {
                routes += (spoke.properties.addressSpace?.prefixes ?? []).filter { $0.family == .v4 }.map(\.description)
            }
        }
        for c in world.connections(onGateway: gw.id ?? "") {
            if let lng = world.localGateway(c.properties.localNetworkGateway2?.id) {
                routes += (lng.properties.localNetworkAddressSpace?.prefixes ?? []).filter { $0.family == .v4 }.map(\.description)
            }
        }
        var seen: Set<String> = []
        routes = routes.filter { seen.insert($0).inserted }
        let server = pointToSite.vpnClientServer(id.key)
        return VpnClientProfile(serverAddress: address, port: server.port, protocols: (vpc.vpnClientProtocols ?? []).map(\.rawValue),
                                authenticationTypes: (vpc.vpnAuthenticationTypes ?? []).map(\.rawValue),
                                serverCertificatePEM: server.certificatePEM, routes: routes,
                                addressPool: (vpc.vpnClientAddressPool?.prefixes ?? []).map(\.description), status: server.status)
    }
}
