"""An update's bundle on a real IPFS daemon: what a trainer publishes, a verifier inspects (one read) and
an aggregator reads back (the manifest and the last checkpoint only), and what a verifier makes of a
bundle that does not match what was revealed."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
import torch
from agent_helpers import HYPERPARAMS

from agents.learning.codec import encode_state
from agents.learning.skills.registry import get_skill, initial_state
from agents.node.manifest import LENGTH_BYTES, JobManifest
from agents.node.store import Store
from agents.node.work import (
    MANIFEST_READ_BYTES,
    JobContext,
    Revealed,
    Task,
    architecture_id,
    inspect,
    publish,
    read_update,
    train,
)

TRAINER = "0x" + "ab" * 20
ROUND = 7


class CountingStore(Store):
    """A store that remembers the byte ranges asked for."""

    def __init__(self, api: str) -> None:
        super().__init__(api)
        self.reads: list[tuple[int, int]] = []

    def read(self, cid: str, length: int, offset: int = 0) -> bytes:
        self.reads.append((offset, length))
        return super().read(cid, length, offset)


@pytest.fixture(scope="module")
def published(net: Any) -> tuple[CountingStore, JobContext, dict[str, torch.Tensor], Revealed, Any]:
    skill = get_skill("vision")
    config = skill.default_config
    hp = skill.default_hyperparams.with_(**HYPERPARAMS)
    manifest = JobManifest(skill.name, config, hp.to_dict(), 0, None, skill.reported_metrics)
    spec = {
        "shardCount": 8,
        "aggregationRule": 0,
        "architectureId": architecture_id(skill.name),
        "configHash": bytes.fromhex(skill.config_hash(config)),
        "hyperparamsHash": bytes.fromhex(hp.hash),
    }
    ctx = JobContext(1, spec, manifest)
    generation = initial_state(skill, config, 0)
    trained = train(ctx, generation, Task(shard=3, seed=11))
    store = CountingStore(net.ipfs.api_multiaddr)
    cid, update_hash, root = publish(store, ctx, ROUND, TRAINER, trained)
    return store, ctx, generation, Revealed(ROUND, 0, TRAINER, cid, update_hash, root), trained


def test_the_update_is_read_back_from_the_manifest_and_last_checkpoint_alone(published) -> None:  # type: ignore[no-untyped-def]
    store, ctx, generation, revealed, trained = published
    inspection = inspect(store, ctx, generation, revealed)
    assert inspection.fault is None, inspection.reason
    assert inspection.checkpoints == trained.checkpoints

    store.reads.clear()
    update = read_update(store, ctx, generation, revealed)
    assert set(update) == set(generation)
    assert all(torch.equal(update[n], inspection.update[n]) for n in update)  # type: ignore[index]
    assert any(bool(update[n].abs().max() > 0) for n in update)  # training moved the weights
    # Two reads: the manifest, then exactly the last checkpoint's bytes at the bundle's end.
    (head, last) = store.reads
    assert head == (0, MANIFEST_READ_BYTES)
    size = len(trained.checkpoints[-1])
    assert last[1] == size and last[0] + size == len(store.read(revealed.cid, store.max_bytes))


def test_a_bundle_that_does_not_match_its_reveal_is_a_fault_not_an_endless_retry(published) -> None:  # type: ignore[no-untyped-def]
    store, ctx, generation, revealed, _ = published
    wrong_hash = replace(revealed, update_hash=bytes(32))
    assert inspect(store, ctx, generation, wrong_hash).reason.startswith(
        "malformed: the manifest does not hash"
    )

    bundle = bytearray(store.read(revealed.cid, store.max_bytes))
    bundle[-1] ^= 1  # one bit of the last checkpoint
    flipped = replace(revealed, cid=store.put(bytes(bundle)).cid)
    inspection = inspect(store, ctx, generation, flipped)
    assert (inspection.fault, inspection.reason) == (
        0,
        "malformed: the bundle does not hold the manifest's checkpoints",
    )

    other_round = replace(revealed, round_id=ROUND + 1)
    assert inspect(store, ctx, generation, other_round).reason == "manifest names another trainer or round"

    bad_length = replace(revealed, cid=store.put((2**40).to_bytes(LENGTH_BYTES, "little")).cid)
    assert inspect(store, ctx, generation, bad_length).reason.startswith("malformed: a bundle must start")


def test_a_trace_that_does_not_start_at_the_generation_is_refused(published) -> None:  # type: ignore[no-untyped-def]
    store, ctx, generation, revealed, _ = published
    moved = {n: t + 0.01 for n, t in generation.items()}
    assert encode_state(moved) != encode_state(generation)
    inspection = inspect(store, ctx, moved, revealed)
    assert (inspection.fault, inspection.reason) == (
        0,
        "the trace does not start from the round's generation",
    )
