"""The JSON documents agents publish on IPFS: a job's manifest and a trainer's update manifest.

An update is published as three objects: the update tensor, the trace (every checkpoint's canonical
bytes, one after another) and a small manifest naming both by CID, with the update's keccak256 and each
checkpoint's sha256 and size. The chain gets ``updateCID`` = the manifest's CID and ``updateHash`` =
keccak256 of its bytes, and ``traceRoot`` is the Merkle root of the checkpoint sha256 list, so every
checkpoint read from the trace object is checked against a hash the chain binds. Everything read from
IPFS is untrusted: :func:`parse_update` refuses anything oversized or off-schema.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from eth_abi import encode
from eth_utils import keccak

from agents.learning import peerjson
from agents.learning.codec import DEFAULT_MAX_BYTES
from agents.learning.hashing import canonical_json, sha256
from agents.learning.merkle import merkle_root

MAX_MANIFEST_BYTES = 128 * 1024
MAX_CHECKPOINTS = 1_025
MAX_TRACE_BYTES = DEFAULT_MAX_BYTES
UPDATE_KIND = "aoai-update/2"
JOB_KIND = "aoai-job/1"
_CID = re.compile(r"^[a-zA-Z0-9]{10,100}$")
_HASH = re.compile(r"^0x[0-9a-f]{64}$")


class ManifestError(ValueError):
    """A manifest read from IPFS is malformed, oversized or inconsistent."""


@dataclass(frozen=True)
class Ref:
    """A blob on IPFS with its keccak256 (what the store checks)."""

    cid: str
    keccak256: bytes


@dataclass(frozen=True)
class Checkpoint:
    """One checkpoint of the trace object: its sha256 (a leaf of ``traceRoot``) and its size in bytes."""

    sha256: bytes
    size: int


@dataclass(frozen=True)
class UpdateManifest:
    """What a trainer publishes for one round."""

    skill: str
    round_id: int
    trainer: str
    steps: tuple[int, ...]
    update: Ref
    trace_cid: str
    checkpoints: tuple[Checkpoint, ...]

    @property
    def trace_root(self) -> bytes:
        return merkle_root([c.sha256 for c in self.checkpoints])

    @property
    def trace_size(self) -> int:
        return sum(c.size for c in self.checkpoints)

    def split_trace(self, data: bytes) -> tuple[bytes, ...] | None:
        """The checkpoints in ``data`` (the trace object), or None unless every size and sha256 matches."""
        if len(data) != self.trace_size:
            return None
        blobs, start = [], 0
        for checkpoint in self.checkpoints:
            blob = data[start : start + checkpoint.size]
            if sha256(blob) != checkpoint.sha256:
                return None
            blobs.append(blob)
            start += checkpoint.size
        return tuple(blobs)

    def to_bytes(self) -> bytes:
        return canonical_json(
            {
                "kind": UPDATE_KIND,
                "skill": self.skill,
                "round": self.round_id,
                "trainer": self.trainer,
                "steps": list(self.steps),
                "update": {"cid": self.update.cid, "keccak256": "0x" + self.update.keccak256.hex()},
                "trace": {
                    "cid": self.trace_cid,
                    "checkpoints": [
                        {"sha256": "0x" + c.sha256.hex(), "size": c.size} for c in self.checkpoints
                    ],
                },
            }
        )


def _digest(value: Any) -> bytes:
    if not (isinstance(value, str) and _HASH.match(value)):
        raise ManifestError("malformed digest")
    return bytes.fromhex(value[2:])


def _cid(value: Any) -> str:
    if not (isinstance(value, str) and _CID.match(value)):
        raise ManifestError("malformed CID")
    return value


def _ref(value: Any) -> Ref:
    if not isinstance(value, dict) or set(value) != {"cid", "keccak256"}:
        raise ManifestError("a reference needs exactly cid and keccak256")
    return Ref(_cid(value["cid"]), _digest(value["keccak256"]))


def _checkpoints(trace: Any) -> tuple[Checkpoint, ...]:
    if not isinstance(trace, dict) or set(trace) != {"cid", "checkpoints"}:
        raise ManifestError("a trace needs exactly cid and checkpoints")
    entries = trace["checkpoints"]
    if not isinstance(entries, list) or not 2 <= len(entries) <= MAX_CHECKPOINTS:
        raise ManifestError(f"a trace needs 2 to {MAX_CHECKPOINTS} checkpoints")
    checkpoints = []
    for entry in entries:
        if not isinstance(entry, dict) or set(entry) != {"sha256", "size"}:
            raise ManifestError("a checkpoint needs exactly sha256 and size")
        size = entry["size"]
        if not (isinstance(size, int) and not isinstance(size, bool) and 0 < size <= MAX_TRACE_BYTES):
            raise ManifestError("malformed checkpoint size")
        checkpoints.append(Checkpoint(_digest(entry["sha256"]), size))
    if sum(c.size for c in checkpoints) > MAX_TRACE_BYTES:
        raise ManifestError(f"a trace of more than {MAX_TRACE_BYTES} bytes")
    return tuple(checkpoints)


def parse_update(data: bytes) -> UpdateManifest:
    """Strictly parse an update manifest (schema, sizes, types); raises :class:`ManifestError`."""
    if len(data) > MAX_MANIFEST_BYTES:
        raise ManifestError(f"manifest of {len(data)} bytes exceeds {MAX_MANIFEST_BYTES}")
    try:
        doc = peerjson.loads(data)
    except peerjson.PeerJSONError as error:
        raise ManifestError(f"not JSON: {error}") from error
    keys = {"kind", "skill", "round", "trainer", "steps", "update", "trace"}
    if not isinstance(doc, dict) or set(doc) != keys or doc["kind"] != UPDATE_KIND:
        raise ManifestError("not an update manifest")
    checkpoints = _checkpoints(doc["trace"])
    steps = doc["steps"]
    if not (isinstance(steps, list) and len(steps) == len(checkpoints)):
        raise ManifestError("one step number per checkpoint")
    if not all(isinstance(s, int) and not isinstance(s, bool) for s in steps):
        raise ManifestError("steps must be integers")
    if not (
        isinstance(doc["skill"], str) and isinstance(doc["trainer"], str) and isinstance(doc["round"], int)
    ):
        raise ManifestError("malformed skill, trainer or round")
    return UpdateManifest(
        skill=doc["skill"],
        round_id=doc["round"],
        trainer=doc["trainer"],
        steps=tuple(steps),
        update=_ref(doc["update"]),
        trace_cid=_cid(doc["trace"]["cid"]),
        checkpoints=checkpoints,
    )


@dataclass(frozen=True)
class JobManifest:
    """What the chain's job spec points to (``datasetManifestCID``): skill, model config, hyper-parameters,
    sharding and the order of the metrics a proposal reports (each scaled by 1e6)."""

    skill: str
    config: dict[str, Any]
    hyperparams: dict[str, Any]
    shard_seed: int
    shard_alpha: float | None
    metrics: tuple[str, ...]

    def to_bytes(self) -> bytes:
        return canonical_json(
            {
                "kind": JOB_KIND,
                "skill": self.skill,
                "config": self.config,
                "hyperparams": self.hyperparams,
                "shards": {"seed": self.shard_seed, "alpha": self.shard_alpha},
                "metrics": list(self.metrics),
            }
        )


def parse_job(data: bytes) -> JobManifest:
    if len(data) > MAX_MANIFEST_BYTES:
        raise ManifestError("job manifest too large")
    try:
        doc = peerjson.loads(data)
        if doc["kind"] != JOB_KIND:
            raise ManifestError("not a job manifest")
        return JobManifest(
            skill=str(doc["skill"]),
            config=dict(doc["config"]),
            hyperparams=dict(doc["hyperparams"]),
            shard_seed=int(doc["shards"]["seed"]),
            shard_alpha=None if doc["shards"]["alpha"] is None else float(doc["shards"]["alpha"]),
            metrics=tuple(str(m) for m in doc["metrics"]),
        )
    except (ValueError, KeyError, TypeError) as error:
        raise ManifestError(f"malformed job manifest: {error}") from error


def commitment(cid: str, update_hash: bytes, trace_root: bytes, salt: bytes, trainer: str) -> bytes:
    """keccak256(abi.encode(updateCID, updateHash, traceRoot, salt, trainer)), as TrainingRounds checks it."""
    return keccak(
        encode(
            ["string", "bytes32", "bytes32", "bytes32", "address"],
            [cid, update_hash, trace_root, salt, trainer],
        )
    )


def vote_commitment(dispute_id: int, upheld: bool, salt: bytes, voter: str) -> bytes:
    """keccak256(abi.encode(disputeId, upheld, salt, voter)), as Disputes checks it."""
    return keccak(encode(["uint256", "bool", "bytes32", "address"], [dispute_id, upheld, salt, voter]))
