"""Plain web3 reads of the deployed contracts: views and decoded events, no ape account, no signing.

Used by the demo's live progress and report, and by the agent tests for their assertions.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from web3 import Web3

from agents.chain.connection import project
from agents.node.events import Event, LogCursor

CONTRACTS = (
    "AOAIToken",
    "StakeManager",
    "JobRegistry",
    "ModelRegistry",
    "TrainingRounds",
    "Disputes",
    "Billing",
)


class Reader:
    """Views and events of the contracts recorded under ``home`` for the chain at ``url``."""

    def __init__(self, url: str, home: Path) -> None:
        self.web3 = Web3(Web3.HTTPProvider(url))
        record = json.loads((home / "deployments" / f"{self.web3.eth.chain_id}.json").read_text())
        self.addresses: dict[str, Any] = {n: a for n, a in record["contracts"].items() if n in CONTRACTS}
        self.types = {name: getattr(project(), name).contract_type for name in self.addresses}
        self.c = {
            name: self.web3.eth.contract(
                address=self.addresses[name],
                abi=[e.model_dump(mode="json", by_alias=True) for e in self.types[name].abi],
            )
            for name in self.addresses
        }

    def call(self, contract: str, method: str, *args: Any) -> Any:
        return self.c[contract].functions[method](*args).call()

    def job(self, job_id: int) -> dict[str, Any]:
        """A job's spec from the JobRegistry, by field name."""
        function = self.c["JobRegistry"].functions.job(job_id)
        names = [field["name"] for field in function.abi["outputs"][0]["components"]]
        return dict(zip(names, function.call(), strict=True))

    def cursor(self) -> LogCursor:
        """A cursor over every event of the contracts, from block 0."""
        return LogCursor(self.web3, [(self.addresses[n], self.types[n]) for n in self.addresses], 0)

    def events(self, name: str, **match: Any) -> list[dict[str, Any]]:
        """Every event ``name`` so far whose args equal ``match``."""
        found: list[Event] = [e for e in self.cursor().poll() if e.name == name]
        return [
            {**e.args, "_tx": e.tx, "_block": e.block}
            for e in found
            if all(str(e.args.get(k)).lower() == str(v).lower() for k, v in match.items())
        ]

    def earned_in_job(self, job: int, who: str) -> tuple[int, int]:
        """(finalizations of the job that minted to ``who``, AOAI they minted to it)."""
        txs = {e["_tx"] for e in self.events("RoundFinalized", jobId=job)}
        mints = [
            e["value"] for e in self.events("Transfer", to=who) if e["_tx"] in txs and int(e["from"], 16) == 0
        ]
        return len(mints), sum(mints)

    def metrics(self, job: int) -> dict[int, list[int]]:
        return {e["number"]: e["metrics"] for e in self.events("GenerationRecorded", jobId=job)}


def dev_account_address(index: int) -> str:
    """Address of ape's (and anvil's) test account ``TEST::index``, from the shared test mnemonic."""
    from eth_account import Account

    Account.enable_unaudited_hdwallet_features()
    mnemonic = "test test test test test test test test test test test junk"
    return str(Account.from_mnemonic(mnemonic, account_path=f"m/44'/60'/0'/0/{index}").address)
