"""An update's bundle on a real IPFS daemon: what a trainer publishes, a verifier inspects (one read) and
an aggregator reads back (the manifest and the last checkpoint only), and what a verifier makes of a
bundle that does not match what was revealed."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
import torch
from agent_helpers import HYPERPARAMS, CountingStore, job_context

from agents.learning.codec import encode_state
from agents.learning.skills.registry import initial_state
from agents.learning.training import initial_checkpoint
from agents.node.manifest import LENGTH_BYTES
from agents.node.work import (
    MANIFEST_READ_BYTES,
    WHOLE_READ_BYTES,
    JobContext,
    Revealed,
    Task,
    Trained,
    fabricate,
    inspect,
    publish,
    read_update,
    train,
)

TRAINER = "0x" + "ab" * 20
ROUND = 7


@pytest.fixture(scope="module")
def published(net: Any) -> tuple[CountingStore, JobContext, dict[str, torch.Tensor], Revealed, Any]:
    ctx = job_context(**HYPERPARAMS)
    generation = initial_state(ctx.skill, ctx.config, 0)
    trained = train(ctx, generation, Task(shard=3, seed=11))
    store = CountingStore(net.ipfs.api_multiaddr)
    cid, update_hash, root = publish(store, ctx, ROUND, TRAINER, trained)
    return store, ctx, generation, Revealed(ROUND, 0, TRAINER, cid, update_hash, root), trained


def test_a_small_bundle_is_inspected_and_its_update_read_back_in_one_request_each(published) -> None:  # type: ignore[no-untyped-def]
    store, ctx, generation, revealed, trained = published
    store.reads.clear()
    inspection = inspect(store, ctx, generation, revealed)
    assert inspection.fault is None, inspection.reason
    assert inspection.checkpoints == trained.checkpoints
    assert len(store.reads) == 1

    store.reads.clear()
    update = read_update(store, ctx, generation, revealed)
    assert set(update) == set(generation)
    assert all(torch.equal(update[n], inspection.update[n]) for n in update)  # type: ignore[index]
    assert any(bool(update[n].abs().max() > 0) for n in update)  # training moved the weights
    (whole,) = store.reads
    bundle = store.read(revealed.cid, store.max_bytes)
    assert whole[0] == 0 and len(bundle) <= whole[1] <= WHOLE_READ_BYTES


def test_a_large_bundle_gives_its_update_from_the_manifest_and_last_checkpoint_alone(net: Any) -> None:
    ctx = job_context(local_steps=400, checkpoint_every=4)  # 101 checkpoints, about 14 MB
    generation = initial_state(ctx.skill, ctx.config, 0)
    moved = {n: t + 0.5 for n, t in generation.items()}
    trained = fabricate(ctx, generation)
    last = encode_state(initial_checkpoint(moved, ctx.hp))
    trained = Trained((*trained.checkpoints[:-1], last))
    store = CountingStore(net.ipfs.api_multiaddr)
    revealed = Revealed(ROUND, 0, TRAINER, *publish(store, ctx, ROUND, TRAINER, trained))
    bundle_size = len(store.read(revealed.cid, store.max_bytes))
    assert bundle_size > WHOLE_READ_BYTES

    store.reads.clear()
    update = read_update(store, ctx, generation, revealed)
    assert all(torch.allclose(update[n], torch.full_like(update[n], 0.5)) for n in update)
    # Two reads: the manifest, then exactly the last checkpoint's bytes at the bundle's end.
    (head, tail) = store.reads
    assert head == (0, MANIFEST_READ_BYTES)
    assert tail == (bundle_size - len(last), len(last))


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
