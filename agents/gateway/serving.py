"""Weights of finalized generations, fetched from IPFS, checked against the chain and kept in memory.

A generation is served only if the bytes at its CID hash (keccak-256) to the `weightsHash` the model
registry recorded and decode to the skill's exact tensor layout. A generation that fails either check is
refused for good (`WeightsRefused`); one whose bytes cannot be fetched right now is `WeightsUnavailable`
and retried at the next request.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Protocol

from torch import nn

from agents.gateway.catalog import Generation, Job
from agents.learning.codec import decode_state
from agents.learning.errors import WeightFormatError, WeightStoreError
from agents.learning.skills.registry import load_model

HASH_MISMATCH = "does not match the expected keccak256"


class WeightsRefused(RuntimeError):
    """The generation's weights fail the hash check or do not decode: never served."""


class WeightsUnavailable(RuntimeError):
    """The generation's weights cannot be fetched right now."""


class Blobs(Protocol):
    def get(self, cid: str, expected_keccak256: bytes) -> bytes: ...


class ModelCache:
    """Loaded models by (job, generation), the `capacity` most recently used. Thread-safe; a generation is
    fetched once even when several requests ask for it at the same time."""

    def __init__(self, blobs: Blobs, capacity: int = 4) -> None:
        self._blobs = blobs
        self._capacity = capacity
        self._models: OrderedDict[tuple[int, int], nn.Module] = OrderedDict()
        self._lock = threading.Lock()
        self._loading: dict[tuple[int, int], threading.Lock] = {}

    def cached(self, job_id: int, number: int) -> bool:
        with self._lock:
            return (job_id, number) in self._models

    def get(self, job: Job, generation: Generation) -> nn.Module:
        key = (job.job_id, generation.number)
        with self._lock:
            model = self._models.get(key)
            if model is not None:
                self._models.move_to_end(key)
                return model
            loading = self._loading.setdefault(key, threading.Lock())
        with loading:
            with self._lock:
                model = self._models.get(key)
            if model is None:
                model = self._load(job, generation)
                with self._lock:
                    self._models[key] = model
                    while len(self._models) > self._capacity:
                        self._models.popitem(last=False)
            with self._lock:
                self._loading.pop(key, None)
        return model

    def _load(self, job: Job, generation: Generation) -> nn.Module:
        where = f"generation {generation.number} of job {job.job_id} ({generation.cid})"
        try:
            data = self._blobs.get(generation.cid, generation.weights_hash)
        except WeightStoreError as error:
            if HASH_MISMATCH in str(error):
                raise WeightsRefused(
                    f"{where}: the weights at this CID do not match the hash recorded on chain"
                ) from error
            raise WeightsUnavailable(f"{where}: weights not retrievable: {error}") from error
        try:
            state = decode_state(data, job.skill.spec(job.config))
        except WeightFormatError as error:
            raise WeightsRefused(
                f"{where}: weights do not fit the {job.skill.name} model: {error}"
            ) from error
        model = load_model(job.skill, job.config, state)
        model.eval()
        return model
