"""Builds a gateway on the chain ape is connected to, for the CLI and for tests."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from agents.billing.settlement import ApeRedeemer
from agents.billing.vouchers import billing_domain_of
from agents.gateway.chain import ChainReader
from agents.gateway.service import Gateway, GatewaySettings
from agents.learning.weightstore import WeightStore


class GatewaySetupError(RuntimeError):
    """The gateway cannot run as configured (a missing contract or role); the message says what to fix."""


def build_gateway(
    account: Any,
    contracts: Mapping[str, Any],
    ipfs_api: str,
    data_dir: Path,
    settings: GatewaySettings,
    *,
    start_block: int = 0,
    ipfs_timeout: float = 10.0,
) -> Gateway:
    """A gateway that settles as `account` (which needs Billing's GATEWAY_ROLE) through `contracts` (ape
    instances by name: ModelRegistry, JobRegistry, Billing) and reads weights from `ipfs_api`."""
    from ape import chain

    missing = {"ModelRegistry", "JobRegistry", "Billing"} - set(contracts)
    if missing:
        raise GatewaySetupError(f"no {', '.join(sorted(missing))} recorded for this chain: deploy it first")
    billing = contracts["Billing"]
    if not billing.hasRole(billing.GATEWAY_ROLE(), account.address):
        raise GatewaySetupError(
            f"{account.address} lacks Billing's GATEWAY_ROLE and could never settle: the Billing admin"
            f" grants it with billing.grantRole(GATEWAY_ROLE, {account.address})"
        )
    reader = ChainReader.from_project(
        chain.provider.web3,
        {name: contracts[name].address for name in ("ModelRegistry", "JobRegistry", "Billing")},
    )
    return Gateway(
        reader=reader,
        blobs=WeightStore(ipfs_api, timeout=ipfs_timeout, retries=1),
        redeemer=ApeRedeemer(billing, account),
        domain=billing_domain_of(billing),
        data_dir=data_dir,
        settings=settings,
        start_block=start_block,
    )
