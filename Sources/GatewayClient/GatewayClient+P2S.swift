import Foundation
import GatewayModel

/// A live point-to-site session as `getvpnclientconnectionhealth` reports it.
public struct VpnClientSession: Codable, Sendable, Equatable {
    public var vpnConnectionId: String
    public var vpnConnectionDuration: Int64?
    public var vpnConnectionTime: String?
    public var publicIpAddress: String?
    public var privateIpAddress: String?
    public var vpnUserName: String?
    public var ingressBytesTransferred: Int64?
    public var egressBytesTransferred: Int64?
}

/// vpngw's `vpnclientconfiguration`: what a point-to-site client needs.
public struct VpnClientProfileInfo: Codable, Sendable, Equatable {
    public var serverAddress: String
    public var port: Int
    public var protocols: [String]?
    public var authenticationTypes: [String]?
    public var serverCertificatePEM: String?
    public var routes: [String]?
    public var addressPool: [String]?
    public var status: String?
}

extension GatewayClient {
    private func gatewayAction(_ group: String, _ gateway: String, _ action: String) -> String {
        resourcePath(group, .virtualNetworkGateways, gateway) + "/" + action
    }

    /// Live point-to-site sessions of a gateway (POST, as Azure's SDK does).
    public func vpnClientSessions(_ group: String, _ gateway: String) async throws(ClientError) -> [VpnClientSession] {
        try decode(ListEnvelope<VpnClientSession>.self, try await call(.POST, gatewayAction(group, gateway, "getvpnclientconnectionhealth")).body).value
    }

    /// Ends sessions by vpnConnectionId; returns the ids the gateway found and ended.
    @discardableResult
    public func disconnectVpnClients(_ group: String, _ gateway: String, ids: [String]) async throws(ClientError) -> [String] {
        let body: Data
        do { body = try JSONEncoder().encode(["vpnConnectionIds": ids]) } catch { throw .transport("cannot encode: \(error)") }
        let r = try await call(.POST, gatewayAction(group, gateway, "disconnectVirtualNetworkGatewayVpnConnections"), body: body)
        return (try? JSONDecoder().decode(ListEnvelope<String>.self, from: r.body).value) ?? []
    }

    public func vpnClientProfile(_ group: String, _ gateway: String) async throws(ClientError) -> VpnClientProfileInfo {
        try decode(VpnClientProfileInfo.self, try await call(.POST, gatewayAction(group, gateway, "vpnclientconfiguration")).body)
    }
}
