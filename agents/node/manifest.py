"""The JSON documents agents publish on IPFS: a job's manifest and a trainer's update manifest.

An update is published as one object, its *bundle*: the manifest's length (8 bytes, little-endian), the
manifest, then the trace (every checkpoint's canonical bytes, one after another). The manifest gives each
checkpoint's sha256 and size. The chain gets ``updateCID`` = the bundle's CID, ``updateHash`` = keccak256
of the manifest and ``traceRoot`` = the Merkle root of the checkpoint sha256 list, so every checkpoint
read from the bundle is checked against a hash the chain binds. The update itself is the last
checkpoint's weights minus the round's generation: nothing else to publish, nor to disagree with the
trace. Everything read from IPFS is untrusted: :func:`parse_update` and :func:`open_bundle` refuse
anything oversized, off-schema or not matching the hashes.
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
UPDATE_KIND = "aoai-update/3"
LENGTH_BYTES = 8
JOB_KIND = "aoai-job/1"
_HASH = re.compile(r"^0x[0-9a-f]{64}$")


class ManifestError(ValueError):
    """A manifest read from IPFS is malformed, oversized or inconsistent."""


@dataclass(frozen=True)
class Checkpoint:
    """One checkpoint of the trace: its sha256 (a leaf of ``traceRoot``) and its size in bytes."""

    sha256: bytes
    size: int


@dataclass(frozen=True)
class UpdateManifest:
    """What a trainer publishes for one round."""

    skill: str
    round_id: int
    trainer: str
    steps: tuple[int, ...]
    checkpoints: tuple[Checkpoint, ...]

    @property
    def trace_root(self) -> bytes:
        return merkle_root([c.sha256 for c in self.checkpoints])

    @property
    def trace_size(self) -> int:
        return sum(c.size for c in self.checkpoints)

    def split_trace(self, data: bytes) -> tuple[bytes, ...] | None:
        """The checkpoints in ``data`` (the bundle's trace), or None unless every size and sha256 matches."""
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
                "checkpoints": [{"sha256": "0x" + c.sha256.hex(), "size": c.size} for c in self.checkpoints],
            }
        )

    def bundle(self, checkpoints: tuple[bytes, ...]) -> bytes:
        """The object to publish: this manifest's length and bytes, then the trace."""
        manifest = self.to_bytes()
        return len(manifest).to_bytes(LENGTH_BYTES, "little") + manifest + b"".join(checkpoints)


def _digest(value: Any) -> bytes:
    if not (isinstance(value, str) and _HASH.match(value)):
        raise ManifestError("malformed digest")
    return bytes.fromhex(value[2:])


def _checkpoints(entries: Any) -> tuple[Checkpoint, ...]:
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
    keys = {"kind", "skill", "round", "trainer", "steps", "checkpoints"}
    if not isinstance(doc, dict) or set(doc) != keys or doc["kind"] != UPDATE_KIND:
        raise ManifestError("not an update manifest")
    checkpoints = _checkpoints(doc["checkpoints"])
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
        checkpoints=checkpoints,
    )


def manifest_length(head: bytes) -> int:
    """The manifest's length from a bundle's first bytes (at least :data:`LENGTH_BYTES`)."""
    length = int.from_bytes(head[:LENGTH_BYTES], "little")
    if len(head) < LENGTH_BYTES or not 0 < length <= MAX_MANIFEST_BYTES:
        raise ManifestError(f"a bundle must start with a manifest length of 1 to {MAX_MANIFEST_BYTES} bytes")
    return length


def open_bundle(data: bytes, update_hash: bytes) -> tuple[UpdateManifest, tuple[bytes, ...]]:
    """The manifest and checkpoints of a whole bundle whose manifest hashes to ``update_hash`` (keccak256);
    raises :class:`ManifestError` unless every size and hash matches."""
    end = LENGTH_BYTES + manifest_length(data)
    manifest = parse_update(checked(data[LENGTH_BYTES:end], update_hash))
    checkpoints = manifest.split_trace(data[end:])
    if checkpoints is None:
        raise ManifestError("the bundle does not hold the manifest's checkpoints")
    return manifest, checkpoints


def checked(manifest: bytes, update_hash: bytes) -> bytes:
    """``manifest`` if its keccak256 is the revealed ``update_hash``."""
    if keccak(manifest) != update_hash:
        raise ManifestError("the manifest does not hash to the revealed updateHash")
    return manifest


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
