"""Connecting to a chain with ape and finding the project's deployed contracts on it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from typing import Any

import requests
from ape import Contract, Project, chain, networks
from ape.exceptions import ProviderNotConnectedError
from ape_node.provider import NodeSoftwareNotInstalledError
from web3 import HTTPProvider, Web3

from agents.chain.keepalive import KeepAliveProvider
from agents.deployments import PROJECT_ROOT, aoai_home, load_deployment


class ChainUnreachable(ConnectionError):
    """The chain node does not answer."""


@dataclass(frozen=True)
class Endpoints:
    """Where a node of the network finds its chain and its IPFS daemon."""

    network: str
    ipfs_api: str

    @classmethod
    def default(cls) -> Endpoints:
        """The running devnet's endpoints if there is one, else a node on localhost's usual ports."""
        devnet = aoai_home() / "devnet.json"
        if devnet.exists():
            record = json.loads(devnet.read_text())
            return cls(f"ethereum:local:{record['rpc']}", record["ipfs_api"])
        return cls("ethereum:local:node", "/ip4/127.0.0.1/tcp/5001/http")


@cache
def project() -> Any:
    """The compiled project (contract types), wherever the process runs from."""
    return Project(PROJECT_ROOT)


@contextmanager
def connected(network: str) -> Iterator[None]:
    """Connects ape to `network` (an ape network choice or `ethereum:local:<rpc url>`)."""
    try:
        with networks.parse_network_choice(network):
            yield
    except (ProviderNotConnectedError, NodeSoftwareNotInstalledError) as error:
        # ape tries to start a node of its own when a local URL does not answer, and says it cannot.
        first_line = str(error).partition("\n")[0]
        raise ChainUnreachable(f"cannot reach the chain at {network}: {first_line}") from error


def deployed_contracts() -> dict[str, Any]:
    """The project's contracts on the connected chain, by name, as ape contract instances."""
    record = load_deployment(chain.chain_id)
    addresses: dict[str, str] = record["contracts"]  # type: ignore[assignment]
    return {
        name: Contract(address, contract_type=getattr(project(), name).contract_type)
        for name, address in addresses.items()
    }


def rpc_web3(provider: Any) -> Web3:
    """A web3 client for an agent's many small calls to the node behind ape's ``provider``: over HTTP,
    one kept-alive connection (:mod:`agents.chain.keepalive`); through a proxy the environment names, a
    requests session that reads those settings once (by default requests looks them, and ~/.netrc, up on
    every call). Any other transport keeps ape's own client.
    """
    uri = str(provider.uri)
    if not uri.startswith(("http://", "https://")):
        return provider.web3  # type: ignore[no-any-return]
    proxies = requests.utils.get_environ_proxies(uri)
    if not proxies:
        return Web3(KeepAliveProvider(uri))
    session = requests.Session()
    session.proxies.update(proxies)
    session.trust_env = False
    return Web3(HTTPProvider(uri, session=session))
