"""The learning work agents do for a job, on top of the learning core: train and publish an update,
judge one (safe decode, hashes, bounds, quality, trace segments), and aggregate a generation.

Every agent computes the same things the same way, so a verifier's recomputation of an aggregation or a
panel member's replay of a segment is compared bit for bit with what was published.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import torch
from eth_abi import encode
from eth_utils import keccak

from agents.learning.aggregation.registry import RULES, aggregate
from agents.learning.codec import State, decode_state, encode_state
from agents.learning.dataset import Dataset, Splits
from agents.learning.errors import LearningError
from agents.learning.evaluation import evaluate_state, update_quality
from agents.learning.flat import flatten_state, unflatten_state
from agents.learning.hashing import sha256
from agents.learning.hyperparams import HyperParams
from agents.learning.sharding import shard
from agents.learning.skills.registry import Skill, get_skill
from agents.learning.spotcheck import draw_segments, segments_to_check
from agents.learning.trace import Trace, TraceCheck, check_traces
from agents.learning.training import (
    checkpoint_steps,
    decode_checkpoint,
    initial_checkpoint,
    model_part,
    run_segments,
)
from agents.node.manifest import (
    LENGTH_BYTES,
    Checkpoint,
    JobManifest,
    ManifestError,
    UpdateManifest,
    checked,
    manifest_length,
    open_bundle,
    parse_job,
    parse_update,
)
from agents.node.store import Store

MAX_UPDATE_ABS = 1e3
"""Largest absolute value an update may hold (a bounded update; the digits MLP moves far less)."""
FAKED_FRACTION, CATCH_PROBABILITY = 0.1, 0.99
"""Spot checks catch a trainer faking 10% of its steps with probability at least 99%."""
METRIC_SCALE = 1_000_000
MANIFEST_READ_BYTES = 16 * 1024
"""First read of a bundle for its manifest (a 100-checkpoint manifest is about 10 KiB; longer ones take a
second read)."""
WHOLE_READ_BYTES = 1024 * 1024
"""A bundle up to one IPFS block is read whole where only its update is needed: a request costs js-ipfs
about 2.5 ms of CPU whatever its size up to there, so one beats two."""


def architecture_id(skill: str) -> bytes:
    return keccak(text=f"aoai-skill:{skill}")


@dataclass(frozen=True)
class Task:
    """A trainer's task: ``seed = keccak256(abi.encode(taskSeed, trainer))``, ``shard = seed mod n``."""

    shard: int
    seed: int

    @classmethod
    def of(cls, task_seed: bytes, trainer: str, shard_count: int) -> Task:
        seed = int.from_bytes(keccak(encode(["bytes32", "address"], [task_seed, trainer])), "big")
        return cls(seed % shard_count, seed)


class JobContext:
    """A job's skill, config, hyper-parameters, data and shards, checked against its on-chain spec."""

    def __init__(self, job_id: int, spec: Mapping[str, Any], manifest: JobManifest) -> None:
        self.job_id = job_id
        self.spec = spec
        self.manifest = manifest
        self.skill: Skill = get_skill(manifest.skill)
        self.config = manifest.config
        self.hp = HyperParams.from_dict(manifest.hyperparams)
        self.shard_count = int(spec["shardCount"])
        self.rule = int(spec["aggregationRule"])
        if bytes(spec["architectureId"]) != architecture_id(manifest.skill):
            raise ManifestError(f"job {job_id}: architecture id does not name skill {manifest.skill}")
        if bytes(spec["configHash"]).hex() != self.skill.config_hash(self.config):
            raise ManifestError(f"job {job_id}: model config does not match the chain's configHash")
        if bytes(spec["hyperparamsHash"]).hex() != self.hp.hash:
            raise ManifestError(f"job {job_id}: hyper-parameters do not match the chain's hyperparamsHash")
        if self.rule not in RULES:
            raise ManifestError(f"job {job_id}: unknown aggregation rule {self.rule}")

    @classmethod
    def load(cls, job_id: int, spec: Mapping[str, Any], store: Store) -> JobContext:
        return cls(job_id, spec, parse_job(store.get_document(spec["datasetManifestCID"])))

    @cached_property
    def model_spec(self) -> dict[str, Any]:
        return self.skill.spec(self.config)

    @cached_property
    def splits(self) -> Splits:
        return self.skill.load_data()

    @cached_property
    def num_segments(self) -> int:
        return len(checkpoint_steps(self.hp)) - 1

    def shard(self, index: int) -> Dataset:
        m = self.manifest
        return shard(self.splits.train, self.shard_count, index, m.shard_seed, m.shard_alpha)

    def decode_weights(self, data: bytes) -> State:
        return decode_state(data, self.model_spec)

    def scaled_metrics(self, state: Mapping[str, torch.Tensor]) -> list[int]:
        values = evaluate_state(self.skill, self.config, state, self.splits.test)
        return [round(values[name] * METRIC_SCALE) for name in self.manifest.metrics]


# ------------------------------------------------------------------------------------------ training


@dataclass(frozen=True)
class Trained:
    """A trainer's traced checkpoints (the update is the last one's weights minus the generation)."""

    checkpoints: tuple[bytes, ...]


def train(
    ctx: JobContext, global_state: State, task: Task, on_segment: Callable[[int, int], None] | None = None
) -> Trained:
    """:func:`agents.learning.training.train_locally`, segment by segment so progress can be shown."""
    hp, data = ctx.hp, ctx.shard(task.shard)
    steps = checkpoint_steps(hp)
    start = initial_checkpoint(global_state, hp)
    blobs = [encode_state(start)]
    segments = run_segments(ctx.skill, ctx.config, start, global_state, data, task.seed, hp, steps)
    for i, checkpoint in enumerate(segments, start=1):
        blobs.append(encode_state(checkpoint))
        if on_segment:
            on_segment(i, len(steps) - 1)
    return Trained(tuple(blobs))


def fabricate(ctx: JobContext, global_state: State) -> Trained:
    """A lazy trainer's output: a trace that never moved, so its update is its unchanged input."""
    start = encode_state(initial_checkpoint(global_state, ctx.hp))
    return Trained(tuple(start for _ in checkpoint_steps(ctx.hp)))


def copied(store: Store, revealed: Revealed) -> Trained:
    """A copier's output: the trace of another trainer's published update, to publish as its own."""
    _, checkpoints = open_bundle(store.read(revealed.cid, store.max_bytes), revealed.update_hash)
    return Trained(checkpoints)


def publish(
    store: Store, ctx: JobContext, round_id: int, trainer: str, trained: Trained, withhold: bool = False
) -> tuple[str, bytes, bytes]:
    """Upload the update's bundle (manifest and trace); returns (its CID, the manifest's keccak256,
    traceRoot). ``withhold``: only compute the CID, storing nothing (an attack on data availability)."""
    manifest = UpdateManifest(
        skill=ctx.manifest.skill,
        round_id=round_id,
        trainer=trainer,
        steps=tuple(checkpoint_steps(ctx.hp)),
        checkpoints=tuple(Checkpoint(sha256(blob), len(blob)) for blob in trained.checkpoints),
    )
    bundle = manifest.bundle(trained.checkpoints)
    stored = store.cid_of(bundle) if withhold else store.put(bundle)
    return stored.cid, keccak(manifest.to_bytes()), manifest.trace_root


# ------------------------------------------------------------------------------------------ judging


@dataclass(frozen=True)
class Revealed:
    """An update as revealed on chain."""

    round_id: int
    slot: int
    trainer: str
    cid: str
    update_hash: bytes
    trace_root: bytes


@dataclass
class Inspection:
    """What a verifier learned from an update before the spot checks: the first faulty segment if it is
    malformed (then every segment counts as faulty), its quality, and its decoded parts."""

    fault: int | None
    reason: str
    quality: int = 0
    update: State | None = None
    checkpoints: tuple[bytes, ...] = ()
    trace: Trace | None = None
    states: tuple[State, ...] = ()


def read_update(store: Store, ctx: JobContext, global_state: State, revealed: Revealed) -> State:
    """The update behind a revealed bundle, from its manifest and last checkpoint (each checked against the
    hashes the chain binds): that checkpoint's weights minus ``global_state``. A bundle expected to fit
    in WHOLE_READ_BYTES is read in one request, a larger one in two ranges (manifest, last checkpoint)."""
    checkpoint_bytes = len(encode_state(initial_checkpoint(global_state, ctx.hp)))
    expected = MANIFEST_READ_BYTES + checkpoint_bytes * (ctx.num_segments + 1)
    head = store.read(revealed.cid, expected if expected <= WHOLE_READ_BYTES else MANIFEST_READ_BYTES)
    end = LENGTH_BYTES + manifest_length(head)
    if end > len(head):
        head += store.read(revealed.cid, end - len(head), offset=len(head))
    manifest = parse_update(checked(head[LENGTH_BYTES:end], revealed.update_hash))
    last = manifest.checkpoints[-1]
    start = end + manifest.trace_size - last.size
    blob = head[start : start + last.size]
    if len(blob) < last.size:
        blob = store.read(revealed.cid, last.size, offset=start)
    if sha256(blob) != last.sha256:
        raise ManifestError("the bundle's last checkpoint does not match the manifest")
    return update_of(decode_checkpoint(blob, ctx.skill, ctx.config, ctx.hp), global_state)


def update_of(last_checkpoint: State, global_state: State) -> State:
    """An update: its trace's last weights minus the generation it started from."""
    final = model_part(last_checkpoint)
    return {name: final[name] - global_state[name] for name in final}


@dataclass(frozen=True)
class Baseline:
    """What every update of a round is judged against, once per generation: the trace's first checkpoint
    from that generation (encoded) and the generation's validation loss."""

    start: bytes
    loss: float

    @classmethod
    def of(cls, ctx: JobContext, global_state: State) -> Baseline:
        loss = evaluate_state(ctx.skill, ctx.config, global_state, ctx.splits.validation)["loss"]
        return cls(encode_state(initial_checkpoint(global_state, ctx.hp)), loss)


def inspect(
    store: Store, ctx: JobContext, global_state: State, revealed: Revealed, baseline: Baseline | None = None
) -> Inspection:
    """Fetch and check everything but the trace replay (against ``baseline``, computed if not given). IPFS
    failures propagate (retry later)."""
    last = ctx.num_segments - 1
    try:
        manifest, blobs = open_bundle(store.read(revealed.cid, store.max_bytes), revealed.update_hash)
        if manifest.trainer.lower() != revealed.trainer.lower() or manifest.round_id != revealed.round_id:
            return Inspection(0, "manifest names another trainer or round")
        if manifest.skill != ctx.manifest.skill or list(manifest.steps) != checkpoint_steps(ctx.hp):
            return Inspection(0, "manifest does not follow the job's skill and steps")
        if manifest.trace_root != revealed.trace_root:
            return Inspection(0, "checkpoint hashes do not give the revealed traceRoot")
        states = tuple(decode_checkpoint(blob, ctx.skill, ctx.config, ctx.hp) for blob in blobs)
    except (ManifestError, LearningError) as error:
        return Inspection(0, f"malformed: {error}")
    # The blobs' sha256 are the manifest's (open_bundle checked them), whose root is the revealed one.
    trace = Trace(tuple(c.sha256 for c in manifest.checkpoints), revealed.trace_root)
    baseline = baseline or Baseline.of(ctx, global_state)
    if blobs[0] != baseline.start:
        return Inspection(0, "the trace does not start from the round's generation", trace=trace)
    update = update_of(states[-1], global_state)
    if max(float(t.abs().max()) for t in update.values()) > MAX_UPDATE_ABS:
        return Inspection(last, "update out of bounds", trace=trace)
    quality = update_quality(
        ctx.skill, ctx.config, global_state, update, ctx.splits.validation, loss_before=baseline.loss
    )
    return Inspection(None, "ok", round(quality.improvement * METRIC_SCALE), update, blobs, trace, states)


def segments_ok(
    ctx: JobContext, global_state: State, checks: Mapping[int, tuple[Task, Inspection, Sequence[int]]]
) -> dict[int, dict[int, bool]]:
    """Whether each listed segment of each inspected update (task, inspection, segments by slot) replays to
    its committed checkpoint; the updates' segments are replayed together (see :func:`check_traces`)."""
    replayable = {
        slot: TraceCheck(
            ctx.shard(task.shard),
            task.seed,
            inspection.trace,
            inspection.checkpoints,
            [s for s in segments if 0 <= s < ctx.num_segments],
            inspection.states,
        )
        for slot, (task, inspection, segments) in checks.items()
        if inspection.fault is None and inspection.trace is not None
    }
    results = check_traces(ctx.skill, ctx.config, global_state, ctx.hp, list(replayable.values()))
    verdicts = dict(zip(replayable, results, strict=True))
    return {
        slot: {s: s in verdicts.get(slot, {}) and verdicts[slot][s].accepted for s in segments}
        for slot, (_, _, segments) in checks.items()
    }


def drawn_segments(ctx: JobContext, seed: bytes, slot: int) -> list[int]:
    """The trace segments of ``slot`` that the verification seed picks for replay."""
    k = segments_to_check(FAKED_FRACTION, CATCH_PROBABILITY, ctx.num_segments)
    return draw_segments(keccak(encode(["bytes32", "uint8"], [seed, slot])), ctx.num_segments, k)


def draws_every_segment(ctx: JobContext) -> bool:
    """Whether the job's traces are so short that every segment is drawn, whatever the seed."""
    return segments_to_check(FAKED_FRACTION, CATCH_PROBABILITY, ctx.num_segments) >= ctx.num_segments


# ------------------------------------------------------------------------------------------ aggregation


@dataclass(frozen=True)
class Generation:
    """A proposed generation: weights bytes, their keccak256 and the scaled metrics (and the weights)."""

    data: bytes
    weights_hash: bytes
    metrics: list[int]
    state: State = field(repr=False, compare=False)


def aggregate_generation(
    ctx: JobContext, global_state: State, updates: Sequence[State], weights: Sequence[float]
) -> Generation:
    """Generation g+1 = g + rule(updates) (the job's rule id), evaluated on the held-out test split."""
    spec = ctx.model_spec
    stacked = torch.stack([flatten_state(u, spec) for u in updates])
    delta = aggregate(ctx.rule, stacked, torch.tensor(list(weights), dtype=torch.float64))
    change = unflatten_state(delta, spec)
    state = {name: global_state[name] + change[name] for name in global_state}
    data = encode_state(state)
    return Generation(data, keccak(data), ctx.scaled_metrics(state), state)
