"""Job parameters of the agent tests, and plain web3 reads of the chain for their assertions."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

from web3 import Web3

from agents.chain.connection import project
from agents.learning.evaluation import evaluate_state
from agents.learning.skills.registry import get_skill, initial_state
from agents.node.events import Event, LogCursor

ETHER = 10**18
HYPERPARAMS = {"local_steps": 20, "checkpoint_every": 5, "batch_size": 32, "lr": 0.1, "momentum": 0.9}
ENTRY = "from agents.cli.agents import agents_cli; agents_cli()"
CONTRACTS = ("AOAIToken", "StakeManager", "JobRegistry", "ModelRegistry", "TrainingRounds", "Disputes")


def job_spec(slots: int, **overrides: Any) -> dict[str, Any]:
    """Short phases (only a safety net: every phase here ends on its fast path), one-member panels."""
    return {
        "shardCount": 8,
        "aggregationRule": 0,
        "minSlots": slots,
        "maxSlots": slots,
        "attestationQuorum": 1,
        "panelSize": 1,
        "claimTtl": 60,
        "commitPhase": 120,
        "revealPhase": 60,
        "challengePhase": 60,
        "proposalPhase": 60,
        "voteCommitPhase": 60,
        "voteRevealPhase": 60,
        **overrides,
    }


def new_job(
    net: Any, slots: int, skill: str = "vision", hyperparams: dict[str, Any] = HYPERPARAMS, **overrides: Any
) -> int:
    """Creates a job with `aoai job create` (as the deployer, TEST::0); returns its id."""
    result = subprocess.run(
        [
            "python", "-c", ENTRY, "job", "create", "--account", "TEST::0", "--skill", skill,
            "--network", net.network, "--ipfs", net.ipfs.api_multiaddr,
            "--hyperparams", json.dumps(hyperparams), "--spec", json.dumps(job_spec(slots, **overrides)),
        ],
        cwd=Path(__file__).resolve().parents[2], env=net.env(), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    match = re.search(r"job (\d+) round (\d+)", result.stdout)
    assert match, result.stdout
    return int(match.group(1))


def genesis_metric(skill_name: str = "vision") -> float:
    """The skill's own metric (vision: accuracy, language: perplexity) of generation 0 on the test split."""
    skill = get_skill(skill_name)
    state = initial_state(skill, skill.default_config, 0)
    return evaluate_state(skill, skill.default_config, state, skill.load_data().test)[skill.metric]


class Reader:
    """Views and events of the deployed contracts through plain web3."""

    def __init__(self, url: str, home: Path) -> None:
        self.web3 = Web3(Web3.HTTPProvider(url))
        record = json.loads((home / "deployments" / f"{self.web3.eth.chain_id}.json").read_text())
        self.types = {name: getattr(project(), name).contract_type for name in CONTRACTS}
        self.addresses = record["contracts"]
        self.c = {
            name: self.web3.eth.contract(
                address=self.addresses[name],
                abi=[e.model_dump(mode="json", by_alias=True) for e in self.types[name].abi],
            )
            for name in CONTRACTS
        }

    def call(self, contract: str, method: str, *args: Any) -> Any:
        return self.c[contract].functions[method](*args).call()

    def events(self, name: str, **match: Any) -> list[dict[str, Any]]:
        """Every event ``name`` so far whose args equal ``match``."""
        cursor = LogCursor(self.web3, [(self.addresses[n], self.types[n]) for n in CONTRACTS], 0)
        found: list[Event] = [e for e in cursor.poll() if e.name == name]
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


def address(i: int) -> str:
    from eth_account import Account

    Account.enable_unaudited_hdwallet_features()
    mnemonic = "test test test test test test test test test test test junk"
    return str(Account.from_mnemonic(mnemonic, account_path=f"m/44'/60'/0'/0/{i}").address)
