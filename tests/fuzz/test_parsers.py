"""Every parser of data from peers or users returns a well-formed value or raises its own error class,
whatever the input (short runs; ``bench/fuzz.py`` runs the same properties for minutes)."""

from __future__ import annotations

import tracemalloc

import pytest
from eth_utils import keccak
from hostile import (
    check_decode,
    check_manifest,
    check_request,
    hostile_manifests,
    hostile_requests,
    hostile_weight_files,
    huge_claims,
    random_bytes,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from agents.learning.hashing import sha256
from agents.node.manifest import Checkpoint, ManifestError, UpdateManifest, open_bundle, parse_update


@settings(max_examples=100)
@given(random_bytes())
def test_weight_decoder_on_random_bytes(data: bytes) -> None:
    check_decode(data)


@settings(max_examples=200)
@given(hostile_weight_files())
def test_weight_decoder_on_mutated_safetensors(data: bytes) -> None:
    check_decode(data)


@settings(max_examples=50)
@given(huge_claims())
def test_weight_decoder_does_not_allocate_claimed_sizes(data: bytes) -> None:
    tracemalloc.start()
    try:
        check_decode(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1024 * 1024  # the claims are of gigabytes to exabytes


@settings(max_examples=200)
@given(hostile_manifests())
def test_update_manifest_parser(data: bytes) -> None:
    check_manifest(data)


@settings(max_examples=100)
@given(random_bytes())
def test_update_manifest_parser_on_random_bytes(data: bytes) -> None:
    check_manifest(data)


@settings(max_examples=150)
@given(hostile_requests())
def test_request_verifier_raises_only_auth_errors(request: tuple[dict[str, str], bytes]) -> None:
    check_request(request)


def test_the_unmutated_request_is_accepted() -> None:
    from hostile import BODY, VALID_HEADERS

    check_request((dict(VALID_HEADERS), BODY))


@settings(max_examples=100)
@given(
    st.lists(st.binary(min_size=1, max_size=64), min_size=2, max_size=6),
    st.integers(0, 10**6),
    st.data(),
)
def test_update_manifest_round_trips_and_binds_its_trace(blobs: list[bytes], round_id: int, data) -> None:  # type: ignore[no-untyped-def]
    manifest = UpdateManifest(
        skill="vision",
        round_id=round_id,
        trainer="0x" + "ab" * 20,
        steps=tuple(range(len(blobs))),
        checkpoints=tuple(Checkpoint(sha256(b), len(b)) for b in blobs),
    )
    assert parse_update(manifest.to_bytes()) == manifest
    trace = b"".join(blobs)
    assert manifest.split_trace(trace) == tuple(blobs)
    at = data.draw(st.integers(0, len(trace) - 1))
    flipped = trace[:at] + bytes([trace[at] ^ data.draw(st.integers(1, 255))]) + trace[at + 1 :]
    assert manifest.split_trace(flipped) is None
    assert manifest.split_trace(trace[:-1]) is None
    assert manifest.split_trace(trace + b"\0") is None

    # The published bundle: opened only with the manifest's own keccak256, and any changed byte, a cut or
    # an extra byte is refused.
    bundle, update_hash = manifest.bundle(tuple(blobs)), keccak(manifest.to_bytes())
    assert open_bundle(bundle, update_hash) == (manifest, tuple(blobs))
    at = data.draw(st.integers(0, len(bundle) - 1))
    flipped = bundle[:at] + bytes([bundle[at] ^ data.draw(st.integers(1, 255))]) + bundle[at + 1 :]
    for bad, expected in ((flipped, update_hash), (bundle[:-1], update_hash), (bundle + b"\0", update_hash),
                          (bundle, keccak(b"another manifest"))):  # fmt: skip
        with pytest.raises(ManifestError):
            open_bundle(bad, expected)
