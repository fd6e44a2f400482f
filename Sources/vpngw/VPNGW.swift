import ArgumentParser

@main
struct VPNGW: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vpngw",
        abstract: "A self-hosted VPN gateway shaped like Azure VPN Gateway.",
        discussion: """
        Start the control plane with `vpngw serve`, then manage resources the way `az network` does:

          vpngw group create -n rg1
          vpngw network vnet create -g rg1 -n vnet1 --address-prefixes 10.1.0.0/16
          vpngw network vnet subnet create -g rg1 --vnet-name vnet1 -n GatewaySubnet --address-prefixes 10.1.255.0/27
          vpngw network public-ip create -g rg1 -n gw1-ip
          vpngw network vnet-gateway create -g rg1 -n gw1 --vnet vnet1 --public-ip-address gw1-ip --gateway-type Vpn --vpn-type RouteBased --sku VpnGw1
          vpngw network local-gateway create -g rg1 -n site1 --gateway-ip-address 203.0.113.10 --local-address-prefixes 192.168.1.0/24
          vpngw network vpn-connection create -g rg1 -n c1 --vnet-gateway1 gw1 --local-gateway2 site1 --shared-key 'abc123'

        The CLI finds the API through client.json in the data directory (`--data-dir`, $VPNGW_DATA_DIR),
        or through $VPNGW_ENDPOINT and $VPNGW_TOKEN.
        """,
        subcommands: [Serve.self, Group.self, Network.self, Token.self, TunnelCommand.self, LabCommand.self, GatewayAgentCommand.self, Bench.self, P2SCommand.self]
    )
}
