"""What the gateway reads from the chain, through web3.py: generations, jobs, credit.

Reads go through web3 rather than ape contract objects: they are several times cheaper per call and safe
to make from the request threads. The ABIs come from the compiled project.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from eth_utils import to_checksum_address

GENERATION_RECORDED = "GenerationRecorded"


@dataclass(frozen=True)
class GenerationEvent:
    """One `GenerationRecorded` log of the model registry."""

    job_id: int
    number: int
    round_id: int
    cid: str
    weights_hash: bytes
    metrics: tuple[int, ...]
    block: int


def project_abi(name: str) -> list[dict[str, Any]]:
    """The ABI of contract `name` of the compiled project, as JSON dicts for web3."""
    from agents.chain.connection import project

    contract_type = getattr(project(), name).contract_type
    return [entry.model_dump(by_alias=True, mode="json") for entry in contract_type.abi]


class ChainReader:
    """Views and logs of ModelRegistry, JobRegistry and Billing on the chain `w3` talks to."""

    def __init__(self, w3: Any, addresses: Mapping[str, str], abis: Mapping[str, list[dict[str, Any]]]):
        self.w3 = w3
        self.models = w3.eth.contract(
            address=to_checksum_address(addresses["ModelRegistry"]), abi=abis["ModelRegistry"]
        )
        self.jobs = w3.eth.contract(
            address=to_checksum_address(addresses["JobRegistry"]), abi=abis["JobRegistry"]
        )
        self.billing = w3.eth.contract(address=to_checksum_address(addresses["Billing"]), abi=abis["Billing"])
        self._generation_event = self.models.events[GENERATION_RECORDED]()
        self._generation_topic = self.w3.keccak(
            text=_event_signature(abis["ModelRegistry"], GENERATION_RECORDED)
        )
        job_outputs = next(
            entry
            for entry in abis["JobRegistry"]
            if entry.get("type") == "function" and entry["name"] == "job"
        )["outputs"][0]["components"]
        self._config_hash_index = [c["name"] for c in job_outputs].index("configHash")

    @classmethod
    def from_project(cls, w3: Any, addresses: Mapping[str, str]) -> ChainReader:
        names = ("ModelRegistry", "JobRegistry", "Billing")
        return cls(w3, addresses, {name: project_abi(name) for name in names})

    @property
    def chain_id(self) -> int:
        return int(self.w3.eth.chain_id)

    def head(self) -> int:
        return int(self.w3.eth.block_number)

    def generation_events(self, from_block: int, to_block: int) -> list[GenerationEvent]:
        """Every `GenerationRecorded` of the registry in blocks [from_block, to_block], in chain order."""
        logs = self.w3.eth.get_logs(
            {
                "address": self.models.address,
                "topics": [self._generation_topic],
                "fromBlock": from_block,
                "toBlock": to_block,
            }
        )
        events = []
        for log in logs:
            args = self._generation_event.process_log(log)["args"]
            events.append(
                GenerationEvent(
                    job_id=int(args["jobId"]),
                    number=int(args["number"]),
                    round_id=int(args["roundId"]),
                    cid=str(args["cid"]),
                    weights_hash=bytes(args["weightsHash"]),
                    metrics=tuple(int(m) for m in args["metrics"]),
                    block=int(log["blockNumber"]),
                )
            )
        return events

    def config_hash(self, job_id: int) -> bytes:
        return bytes(self.jobs.functions.job(job_id).call()[self._config_hash_index])

    def spendable_credit(self, user: str) -> int:
        return int(self.billing.functions.spendableCreditOf(to_checksum_address(user)).call())

    def redeemed(self, user: str, gateway: str) -> int:
        return int(
            self.billing.functions.redeemed(to_checksum_address(user), to_checksum_address(gateway)).call()
        )


def _event_signature(abi: list[dict[str, Any]], name: str) -> str:
    entry = next(e for e in abi if e.get("type") == "event" and e["name"] == name)
    return f"{name}({','.join(_abi_type(i) for i in entry['inputs'])})"


def _abi_type(param: Mapping[str, Any]) -> str:
    kind = str(param["type"])
    if kind.startswith("tuple"):
        return "(" + ",".join(_abi_type(c) for c in param["components"]) + ")" + kind[len("tuple") :]
    return kind
