"""Job parameters of the agent tests, and plain web3 reads of the chain for their assertions."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from agents.chain.connection import connected
from agents.devnet.agent_process import AGENT_ENTRY
from agents.devnet.reader import Reader, dev_account_address  # noqa: F401 (Reader: for conftest and the bench)
from agents.learning.evaluation import evaluate_state
from agents.learning.skills.registry import get_skill, initial_state
from agents.node.accounts import load_account
from agents.node.events import Event
from agents.node.manifest import JobManifest
from agents.node.protocol import Chain
from agents.node.store import Store
from agents.node.work import JobContext, architecture_id

ETHER = 10**18
HYPERPARAMS = {"local_steps": 20, "checkpoint_every": 5, "batch_size": 32, "lr": 0.1, "momentum": 0.9}


def book_event(name: str, block: int, **args: Any) -> Event:
    """An event as the log cursor hands it to a Book (for tests of the book without a chain)."""
    return Event(name, args, block, "0x", 0)


def round_opened(block: int, round_id: int, generation: int, job_id: int = 1) -> Event:
    return book_event(
        "RoundOpened", block, roundId=round_id, jobId=job_id, number=round_id, generation=generation,
        slotCount=4, taskSeed=b"s", commitDeadline=10**9,
    )  # fmt: skip


def revealed(block: int, round_id: int, slot: int) -> Event:
    """An ``UpdateRevealed`` of ``slot`` by a trainer named after it."""
    return book_event(
        "UpdateRevealed", block, roundId=round_id, slot=slot, trainer="0x" + f"{slot + 1:02x}" * 20,
        updateCID="bafk", updateHash=b"\x01" * 32, traceRoot=b"\x02" * 32,
    )  # fmt: skip


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
    out = aoai(
        net, "job", "create", "--account", "TEST::0", "--skill", skill, "--ipfs", net.ipfs.api_multiaddr,
        "--hyperparams", json.dumps(hyperparams), "--spec", json.dumps(job_spec(slots, **overrides)),
    )  # fmt: skip
    match = re.search(r"job (\d+) round (\d+)", out)
    assert match, out
    return int(match.group(1))


def aoai(net: Any, *args: str) -> str:
    """Runs an agent command (`aoai ARGS --network ...`) to its end; its output, asserting it succeeded."""
    result = subprocess.run(
        ["python", "-c", AGENT_ENTRY, *args, "--network", net.network],
        cwd=Path(__file__).resolve().parents[2], env=net.env(), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def genesis_metric(skill_name: str = "vision") -> float:
    """The skill's own metric (vision: accuracy, language: perplexity) of generation 0 on the test split."""
    skill = get_skill(skill_name)
    state = initial_state(skill, skill.default_config, 0)
    return evaluate_state(skill, skill.default_config, state, skill.load_data().test)[skill.metric]


address = dev_account_address


@contextmanager
def chain_in_new_job(net: Any, alias: str, slots: int) -> Iterator[tuple[Chain, int, int]]:
    """A new job's first round, and the agents' Chain for ``alias`` synced up to it: (chain, job, round)."""
    job = new_job(net, slots=slots)
    with connected(net.network):
        chain = Chain(load_account(alias))
        chain.sync()
        yield chain, job, chain.book.current[job]


class CountingStore(Store):
    """An IPFS store that remembers the (offset, length) of every read it sends the daemon."""

    def __init__(self, api: str) -> None:
        super().__init__(api)
        self.reads: list[tuple[int, int]] = []

    def _cat(self, cid: str, length: int, offset: int = 0) -> bytes:
        self.reads.append((offset, length))
        return super()._cat(cid, length, offset)


def job_context(**hyperparams: Any) -> JobContext:
    skill = get_skill("vision")
    config = skill.default_config
    hp = skill.default_hyperparams.with_(**hyperparams)
    manifest = JobManifest(skill.name, config, hp.to_dict(), 0, None, skill.reported_metrics)
    spec = {
        "shardCount": 8,
        "aggregationRule": 0,
        "architectureId": architecture_id(skill.name),
        "configHash": bytes.fromhex(skill.config_hash(config)),
        "hyperparamsHash": bytes.fromhex(hp.hash),
    }
    return JobContext(1, spec, manifest)
