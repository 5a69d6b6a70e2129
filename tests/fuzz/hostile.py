"""Hostile inputs for every parser of data from peers or users, and the contract each must keep.

Shared by the short property tests here and the long run in ``bench/fuzz.py``. Each ``check_*``
function is the property: the parser returns a well-formed value or raises its own error class.
"""

from __future__ import annotations

import json
import pickle
import struct
from typing import Any

import torch
from eth_account import Account
from eth_hash.auto import keccak
from hypothesis import strategies as st

from agents.billing.request_auth import (
    AuthenticatedRequest,
    AuthError,
    NonceStore,
    RequestVerifier,
    sign_request,
)
from agents.billing.vouchers import billing_domain
from agents.learning.codec import TensorSpec, decode_state, encode_state, spec_of
from agents.learning.errors import WeightFormatError
from agents.node.manifest import Checkpoint, ManifestError, UpdateManifest, parse_update

# ------------------------------------------------------------------------------ weights (decode_state)

SPEC: dict[str, TensorSpec] = {
    "a.weight": TensorSpec((3, 4), torch.float32),
    "b.bias": TensorSpec((5,), torch.float16),
    "c.count": TensorSpec((2,), torch.int64),
}
DTYPES = ["F32", "F16", "BF16", "F64", "I8", "I32", "I64", "U8", "BOOL", "F8_E4M3", "", "f32", "PICKLE"]
JSON_SCALARS = st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=8)
JSON = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
SPECIAL = [float("nan"), float("inf"), float("-inf")]


def random_bytes() -> st.SearchStrategy[bytes]:
    short = st.binary(max_size=64)
    with_length = st.tuples(st.integers(0, 2**64 - 1), st.binary(max_size=256)).map(
        lambda t: struct.pack("<Q", t[0]) + t[1]
    )
    return short | with_length | st.binary(max_size=4096)


@st.composite
def valid_state(draw: st.DrawFn) -> dict[str, torch.Tensor]:
    values = st.floats(-1e4, 1e4, width=16) | st.sampled_from(SPECIAL)
    state = {}
    for name, spec in SPEC.items():
        if spec.dtype.is_floating_point:
            data = draw(st.lists(values, min_size=spec.numel, max_size=spec.numel))
            state[name] = torch.tensor(data, dtype=torch.float64).to(spec.dtype).reshape(spec.shape)
        else:
            data = draw(st.lists(st.integers(-(2**63), 2**63 - 1), min_size=spec.numel, max_size=spec.numel))
            state[name] = torch.tensor(data, dtype=spec.dtype).reshape(spec.shape)
    return state


def _split(data: bytes) -> tuple[dict[str, Any], bytes]:
    (n,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8 : 8 + n]), data[8 + n :]


def _join(header: Any, payload: bytes) -> bytes:
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + payload


@st.composite
def _mutate_header(draw: st.DrawFn, header: dict[str, Any]) -> Any:
    name = draw(st.sampled_from(sorted(header)))
    entry = header[name]
    field = draw(
        st.sampled_from(["dtype", "shape", "data_offsets", "entry", "drop", "extra", "rename", "meta"])
    )
    big = st.integers(-(2**64), 2**64) | st.sampled_from([0, 1, 2**31, 2**40, 2**63 - 1, 2**64 - 1, -1])
    if field == "dtype":
        entry["dtype"] = draw(st.sampled_from(DTYPES) | JSON)
    elif field == "shape":
        entry["shape"] = draw(st.lists(big | JSON_SCALARS, max_size=4) | JSON)
    elif field == "data_offsets":
        entry["data_offsets"] = draw(st.lists(big, min_size=2, max_size=2) | JSON)
    elif field == "entry":
        header[name] = draw(JSON)
    elif field == "drop":
        entry.pop(draw(st.sampled_from(sorted(entry))))
    elif field == "extra":
        header[draw(st.text(max_size=10))] = draw(JSON)
    elif field == "rename":
        header[draw(st.text(max_size=10))] = header.pop(name)
    else:
        header["__metadata__"] = draw(JSON)
    return header if draw(st.booleans()) else draw(st.sampled_from([[header], None]) | JSON_SCALARS)


@st.composite
def hostile_weight_files(draw: st.DrawFn) -> bytes:
    """A valid canonical file (values may be NaN or infinite), then one or two mutations."""
    data = encode_state(draw(valid_state()))
    for _ in range(draw(st.integers(1, 2))):
        kind = draw(st.sampled_from(["length", "header", "truncate", "flip", "append", "payload", "pickle"]))
        if kind == "length" and len(data) >= 8:
            delta = draw(st.integers(-16, 16) | st.integers(0, 2**64 - 1))
            length = delta if delta > 16 else max(0, struct.unpack("<Q", data[:8])[0] + delta)
            data = struct.pack("<Q", length % 2**64) + data[8:]
        elif kind == "header":
            try:
                header, payload = _split(data)
            except (ValueError, struct.error):
                continue
            if isinstance(header, dict) and header:
                data = _join(draw(_mutate_header(header)), payload)
        elif kind == "truncate":
            data = data[: draw(st.integers(0, len(data)))]
        elif kind == "flip" and data:
            at = draw(st.integers(0, len(data) - 1))
            data = data[:at] + bytes([data[at] ^ draw(st.integers(1, 255))]) + data[at + 1 :]
        elif kind == "append":
            data += draw(st.binary(min_size=1, max_size=64))
        elif kind == "payload" and len(data) > 64:
            at = draw(st.integers(len(data) - 64, len(data) - 4))
            data = data[:at] + struct.pack("<f", draw(st.sampled_from(SPECIAL))) + data[at + 4 :]
        elif kind == "pickle":
            data = pickle.dumps({"a.weight": torch.zeros(3, 4)})
    return data


@st.composite
def huge_claims(draw: st.DrawFn) -> bytes:
    """Headers claiming enormous tensors or offsets over a tiny payload."""
    huge = draw(st.integers(2**30, 2**62))
    header = {
        name: {"dtype": "F32", "shape": list(spec.shape), "data_offsets": [0, 4 * spec.numel]}
        for name, spec in SPEC.items()
    }
    name = draw(st.sampled_from(sorted(SPEC)))
    if draw(st.booleans()):
        header[name]["shape"] = [huge]
    header[name]["data_offsets"] = [draw(st.integers(0, 64)), huge]
    return _join(header, draw(st.binary(max_size=128)))


def check_decode(data: bytes) -> None:
    """``decode_state`` returns exactly ``SPEC`` with finite floats, or raises ``WeightFormatError``."""
    try:
        state = decode_state(data, SPEC)
    except WeightFormatError:
        return
    assert spec_of(state) == SPEC
    assert all(bool(torch.isfinite(t).all()) for t in state.values() if t.is_floating_point())


# ------------------------------------------------------------------------------ update manifests

DIGEST = st.binary(min_size=32, max_size=32)
CHECKPOINT_FIELDS = ["sha256", "size"]


@st.composite
def valid_manifest(draw: st.DrawFn) -> bytes:
    n = draw(st.integers(2, 6))
    manifest = UpdateManifest(
        skill=draw(st.text(max_size=12)),
        round_id=draw(st.integers(0, 2**64)),
        trainer="0x" + draw(st.binary(min_size=20, max_size=20)).hex(),
        steps=tuple(draw(st.lists(st.integers(0, 10**6), min_size=n, max_size=n))),
        checkpoints=tuple(Checkpoint(draw(DIGEST), draw(st.integers(1, 10**6))) for _ in range(n)),
    )
    return manifest.to_bytes()


@st.composite
def hostile_manifests(draw: st.DrawFn) -> bytes:
    """A valid manifest with a field replaced, dropped or added, or its bytes cut or flipped."""
    data = draw(valid_manifest())
    kind = draw(
        st.sampled_from(["field", "drop", "extra", "checkpoints", "checkpoint", "truncate", "flip", "random"])
    )
    doc = json.loads(data)
    if kind == "field":
        doc[draw(st.sampled_from(sorted(doc)))] = draw(JSON)
    elif kind == "drop":
        doc.pop(draw(st.sampled_from(sorted(doc))))
    elif kind == "extra":
        doc[draw(st.text(max_size=8))] = draw(JSON)
    elif kind == "checkpoints":
        doc["checkpoints"] = draw(JSON | st.lists(JSON, max_size=3))
    elif kind == "checkpoint":
        doc["checkpoints"][0][draw(st.sampled_from(CHECKPOINT_FIELDS))] = draw(JSON | st.text(max_size=70))
    elif kind == "truncate":
        return data[: draw(st.integers(0, len(data)))]
    elif kind == "flip":
        at = draw(st.integers(0, len(data) - 1))
        return data[:at] + bytes([data[at] ^ draw(st.integers(1, 255))]) + data[at + 1 :]
    else:
        return draw(random_bytes())
    return json.dumps(doc).encode()


def check_manifest(data: bytes) -> None:
    """``parse_update`` returns a well-typed manifest or raises ``ManifestError``."""
    try:
        manifest = parse_update(data)
    except ManifestError:
        return
    assert isinstance(manifest.skill, str) and isinstance(manifest.trainer, str)
    assert isinstance(manifest.round_id, int)
    assert 2 <= len(manifest.checkpoints) == len(manifest.steps)
    assert all(isinstance(s, int) for s in manifest.steps)
    assert all(len(c.sha256) == 32 and isinstance(c.size, int) and c.size > 0 for c in manifest.checkpoints)
    assert len(manifest.trace_root) == 32


# ------------------------------------------------------------------------------ request headers

NOW = 1_800_000_000
GATEWAY = "0x00000000000000000000000000000000000000AA"
DOMAIN = billing_domain(31337, "0x5FbDB2315678afecb367f032d93F642f64180aa3")
USER = Account.from_key(keccak(b"fuzz-user"))
BODY = b'{"prompt": "hello"}'
VALID_HEADERS = sign_request(USER, DOMAIN, GATEWAY, BODY, keccak(b"job"), 10**15, nonce=7, expiry=NOW + 60)
HEADER_TEXT = (
    st.text(max_size=80)
    | st.from_regex(r"\A0[xX][0-9a-fA-F]{0,140}\Z")
    | st.from_regex(r"\A[0-9]{0,90}\Z")
    | st.sampled_from(["", " ", "0x", "-1", "1e3", "0x" + "ff" * 65, "٣", "0x" + "0" * 40, str(2**256)])
)


@st.composite
def hostile_requests(draw: st.DrawFn) -> tuple[dict[str, str], bytes]:
    """The valid signed headers with some values replaced, dropped, recased or added; a random body."""
    headers = dict(VALID_HEADERS)
    for name in draw(st.lists(st.sampled_from(sorted(VALID_HEADERS)), max_size=4, unique=True)):
        action = draw(st.sampled_from(["replace", "drop", "recase", "pad"]))
        if action == "replace":
            headers[name] = draw(HEADER_TEXT)
        elif action == "drop":
            headers.pop(name)
        elif action == "recase":
            headers[name.upper()] = headers.pop(name)
        else:
            headers[name] = draw(st.sampled_from([" ", "\t", "\x00", "\u00a0"])) + headers[name]
    headers.update(draw(st.dictionaries(st.text(max_size=20), st.text(max_size=20), max_size=3)))
    body = draw(st.sampled_from([BODY]) | st.binary(max_size=64))
    return headers, body


def check_request(request: tuple[dict[str, str], bytes]) -> None:
    """``RequestVerifier.verify`` authenticates or raises ``AuthError``; nothing else."""
    verifier = RequestVerifier(DOMAIN, GATEWAY, NonceStore(), clock=lambda: float(NOW))
    headers, body = request
    try:
        result = verifier.verify(headers, body)
    except AuthError:
        return
    assert isinstance(result, AuthenticatedRequest)
    assert result.user == USER.address and body == BODY
