"""Hashes shared with the chain: canonical JSON config hashes (sha256) and keccak256."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from eth_hash.auto import keccak as _keccak


def canonical_json(value: Mapping[str, Any]) -> bytes:
    """UTF-8 JSON with sorted keys and no whitespace: the form every config hash is taken over."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode()


def config_hash(config: Mapping[str, Any]) -> str:
    """Hex sha256 of a model config or hyper-parameter dict in canonical JSON, as the chain records it."""
    return hashlib.sha256(canonical_json(config)).hexdigest()


def sha256(data: bytes) -> bytes:
    """32-byte sha256 digest."""
    return hashlib.sha256(data).digest()


def keccak256(data: bytes) -> bytes:
    """32-byte keccak256 digest (Ethereum's, not NIST SHA3-256)."""
    return bytes(_keccak(data))
