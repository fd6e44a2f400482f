"""Drives the vpngw API with Microsoft's own azure-mgmt-network Python SDK over HTTPS with the
bearer token: the SDK's request shapes, pollers and error handling must work unchanged."""
import json
import os
import signal
import subprocess
import tempfile
import time
import warnings

import pytest
import requests
from azure.core.credentials import AccessToken
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.network import NetworkManagementClient
from azure.mgmt.network.models import (
    AddressSpace, LocalNetworkGateway, PublicIPAddress, Subnet, SubResource, VirtualNetwork,
    VirtualNetworkGateway, VirtualNetworkGatewayConnection, VirtualNetworkGatewayIPConfiguration,
    VirtualNetworkGatewaySku,
)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VPNGW = os.environ.get("VPNGW_BIN", os.path.join(ROOT, ".build", "debug", "vpngw"))
warnings.filterwarnings("ignore", message="Unverified HTTPS request")


class StaticToken:
    """azure-core credential protocol: hands out the server's bearer token."""

    def __init__(self, token):
        self.token = token

    def get_token(self, *scopes, **kwargs):
        return AccessToken(self.token, int(time.time()) + 3600)


@pytest.fixture(scope="module")
def server():
    data_dir = tempfile.mkdtemp(prefix="vpngw-sdk-")
    proc = subprocess.Popen([VPNGW, "serve", "--data-dir", data_dir, "--listen", "127.0.0.1:0", "--log-level", "warning"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        client_file = os.path.join(data_dir, "client.json")
        deadline = time.time() + 30
        while not os.path.exists(client_file):
            if proc.poll() is not None or time.time() > deadline:
                raise RuntimeError("vpngw serve did not start: " + proc.stderr.read().decode())
            time.sleep(0.1)
        time.sleep(0.2)
        with open(client_file) as f:
            yield json.load(f)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def network(server):
    client = NetworkManagementClient(StaticToken(server["token"]), server["subscription"], base_url=server["endpoint"],
                                     connection_verify=False, polling_interval=0.2)
    # azure-mgmt-network has no resource-group operations; create it the ARM way.
    r = requests.put(f"{server['endpoint']}/subscriptions/{server['subscription']}/resourcegroups/sdk-rg?api-version=2021-04-01",
                     json={"location": "westeurope"}, headers={"Authorization": f"Bearer {server['token']}"}, verify=False)
    assert r.status_code in (200, 201), r.text
    return client


def rid(server, kind, name, child=None):
    base = f"/subscriptions/{server['subscription']}/resourceGroups/sdk-rg/providers/Microsoft.Network/{kind}/{name}"
    return base + (f"/{child}" if child else "")


def test_sdk_round_trip(server, network):
    vnet = network.virtual_networks.begin_create_or_update("sdk-rg", "vnet1", VirtualNetwork(
        location="westeurope",
        address_space=AddressSpace(address_prefixes=["10.10.0.0/16"]),
        subnets=[Subnet(name="default", address_prefix="10.10.0.0/24"),
                 Subnet(name="GatewaySubnet", address_prefix="10.10.255.0/27")])).result()
    assert vnet.provisioning_state == "Succeeded"
    assert {s.name for s in vnet.subnets} == {"default", "GatewaySubnet"}

    ip = network.public_ip_addresses.begin_create_or_update("sdk-rg", "gw1-ip", PublicIPAddress(
        location="westeurope", public_ip_allocation_method="Static")).result()
    assert ip.ip_address

    gateway = network.virtual_network_gateways.begin_create_or_update("sdk-rg", "gw1", VirtualNetworkGateway(
        location="westeurope", gateway_type="Vpn", vpn_type="RouteBased",
        sku=VirtualNetworkGatewaySku(name="VpnGw1", tier="VpnGw1"),
        ip_configurations=[VirtualNetworkGatewayIPConfiguration(
            name="default", subnet=SubResource(id=rid(server, "virtualNetworks", "vnet1", "subnets/GatewaySubnet")),
            public_ip_address=SubResource(id=ip.id))])).result()
    assert gateway.provisioning_state == "Succeeded"
    assert gateway.gateway_type == "Vpn" and gateway.vpn_type == "RouteBased" and gateway.sku.name == "VpnGw1"

    site = network.local_network_gateways.begin_create_or_update("sdk-rg", "site1", LocalNetworkGateway(
        location="westeurope", gateway_ip_address="203.0.113.10",
        local_network_address_space=AddressSpace(address_prefixes=["192.168.1.0/24"]))).result()
    assert site.gateway_ip_address == "203.0.113.10"

    conn = network.virtual_network_gateway_connections.begin_create_or_update("sdk-rg", "c1", VirtualNetworkGatewayConnection(
        location="westeurope", connection_type="IPsec", shared_key="Sdk-Key-1",
        virtual_network_gateway1=VirtualNetworkGateway(id=gateway.id),
        local_network_gateway2=LocalNetworkGateway(id=site.id))).result()
    assert conn.provisioning_state == "Succeeded"
    # The gateway's public IP is not on this host, so host mode cannot run the tunnel; the
    # status says so instead of pretending.
    fresh = network.virtual_network_gateway_connections.get("sdk-rg", "c1")
    assert fresh.connection_status in ("NotConnected", "Unknown")
    assert conn.connection_protocol == "IKEv2"

    # Read back.
    assert network.virtual_network_gateways.get("sdk-rg", "gw1").name == "gw1"
    assert [c.name for c in network.virtual_network_gateway_connections.list("sdk-rg")] == ["c1"]
    assert network.virtual_network_gateway_connections.get_shared_key("sdk-rg", "c1").value == "Sdk-Key-1"
    assert [g.name for g in network.virtual_network_gateways.list("sdk-rg")] == ["gw1"]

    # The seed's central rule through the SDK: a second Vpn gateway on the VNet.
    ip2 = network.public_ip_addresses.begin_create_or_update("sdk-rg", "gw2-ip", PublicIPAddress(location="westeurope")).result()
    with pytest.raises(HttpResponseError) as refused:
        network.virtual_network_gateways.begin_create_or_update("sdk-rg", "gw2", VirtualNetworkGateway(
            location="westeurope", gateway_type="Vpn", vpn_type="RouteBased",
            sku=VirtualNetworkGatewaySku(name="VpnGw1", tier="VpnGw1"),
            ip_configurations=[VirtualNetworkGatewayIPConfiguration(
                name="default", subnet=SubResource(id=rid(server, "virtualNetworks", "vnet1", "subnets/GatewaySubnet")),
                public_ip_address=SubResource(id=ip2.id))])).result()
    assert refused.value.status_code == 409
    assert refused.value.error.code == "VnetAlreadyHasGatewayOfType"
    assert "one gateway per gatewayType" in refused.value.error.message

    # Delete everything, dependants first; the pollers must complete.
    network.virtual_network_gateway_connections.begin_delete("sdk-rg", "c1").result()
    network.virtual_network_gateways.begin_delete("sdk-rg", "gw1").result()
    network.local_network_gateways.begin_delete("sdk-rg", "site1").result()
    network.public_ip_addresses.begin_delete("sdk-rg", "gw1-ip").result()
    network.public_ip_addresses.begin_delete("sdk-rg", "gw2-ip").result()
    network.virtual_networks.begin_delete("sdk-rg", "vnet1").result()
    with pytest.raises(ResourceNotFoundError):
        network.virtual_network_gateways.get("sdk-rg", "gw1")
    assert list(network.virtual_networks.list("sdk-rg")) == []


def test_sdk_sees_validation_errors_on_first_response(server, network):
    with pytest.raises(HttpResponseError) as bad:
        network.virtual_networks.begin_create_or_update("sdk-rg", "bad", VirtualNetwork(
            location="westeurope", address_space=AddressSpace(address_prefixes=["10.0.0.1/16"]))).result()
    assert bad.value.status_code == 400
    assert "host bits" in bad.value.error.message
    assert bad.value.error.target == "properties.addressSpace.addressPrefixes[0]"
