import ArgumentParser

struct Network: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "network",
        abstract: "Manage network resources, as `az network` does.",
        discussion: """
        Site-to-site, step by step:

          vpngw network vnet create -g rg1 -n vnet1 --address-prefixes 10.1.0.0/16 \\
            --subnet-name default --subnet-prefixes 10.1.0.0/24
          vpngw network vnet subnet create -g rg1 --vnet-name vnet1 \\
            -n GatewaySubnet --address-prefixes 10.1.255.0/27
          vpngw network public-ip create -g rg1 -n gw1-ip
          vpngw network vnet-gateway create -g rg1 -n gw1 --vnet vnet1 \\
            --public-ip-address gw1-ip --sku VpnGw1
          vpngw network local-gateway create -g rg1 -n site1 \\
            --gateway-ip-address 203.0.113.10 --local-address-prefixes 192.168.1.0/24
          vpngw network vpn-connection create -g rg1 -n c1 --vnet-gateway1 gw1 \\
            --local-gateway2 site1 --shared-key 'abc123'
          vpngw network vpn-connection show -g rg1 -n c1 -o table

        Every command takes -o table for a readable summary (default: JSON), and \
        --help for its flags and examples.
        """,
        subcommands: [VNet.self, PublicIP.self, VNetGateway.self, LocalGateway.self, VPNConnection.self, ExpressRoute.self])
}
