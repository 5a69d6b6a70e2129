"""The safetensors codec refuses every malformed or unsafe input and round-trips canonically."""

from __future__ import annotations

import io
import json
import pickle
import struct

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from safetensors.torch import load as safetensors_load

from agents.learning.codec import all_finite, decode_state, encode_state, spec_of
from agents.learning.compression import compress, decode_update, encode_update, relative_error
from agents.learning.errors import WeightFormatError
from agents.learning.flat import flatten_state, unflatten_state
from agents.learning.skills import get_skill, initial_state


@pytest.fixture
def state() -> dict[str, torch.Tensor]:
    skill = get_skill("vision")
    return initial_state(skill, skill.default_config, seed=3)


def test_round_trip_is_exact_and_canonical(state: dict[str, torch.Tensor]) -> None:
    data = encode_state(state)
    assert encode_state(dict(reversed(list(state.items())))) == data
    decoded = decode_state(data, spec_of(state))
    assert all(torch.equal(decoded[k], state[k]) for k in state)
    assert encode_state(decoded) == data
    lib = safetensors_load(data)  # the canonical form is plain safetensors
    assert all(torch.equal(lib[k], state[k]) for k in state)


def test_refuses_real_pickles(state: dict[str, torch.Tensor]) -> None:
    spec = spec_of(state)
    buffer = io.BytesIO()
    torch.save(state, buffer)
    for data in (pickle.dumps(state), buffer.getvalue()):
        with pytest.raises(WeightFormatError):
            decode_state(data, spec)


def test_refuses_truncated_bytes(state: dict[str, torch.Tensor]) -> None:
    data = encode_state(state)
    for cut in (0, 5, 100, len(data) - 1):
        with pytest.raises(WeightFormatError, match=r"truncated|malformed"):
            decode_state(data[:cut], spec_of(state))


FLOAT_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


@given(dtype=st.sampled_from(FLOAT_DTYPES), words=st.lists(st.binary(min_size=8, max_size=8), max_size=40))
def test_all_finite_agrees_with_torch_on_every_bit_pattern(dtype: torch.dtype, words: list[bytes]) -> None:
    # Raw bits: every NaN payload, both infinities, subnormals and signed zeros come up.
    raw = bytearray(b"".join(words))
    tensor = torch.frombuffer(raw, dtype=dtype) if raw else torch.empty(0, dtype=dtype)
    assert all_finite(tensor) == bool(torch.isfinite(tensor).all())


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_refuses_non_finite_values_of_every_float_dtype(dtype: torch.dtype, value: float) -> None:
    state = {"w": torch.zeros(2, 3, dtype=dtype)}
    bad = {"w": state["w"].clone()}
    bad["w"][1, 2] = value
    assert decode_state(encode_state(state), spec_of(state))["w"].dtype == dtype
    with pytest.raises(WeightFormatError, match="NaN or infinity"):
        decode_state(encode_state(bad), spec_of(state))


def test_refuses_extra_missing_wrong_shape_and_dtype(state: dict[str, torch.Tensor]) -> None:
    spec = spec_of(state)
    with pytest.raises(WeightFormatError, match=r"extra \['evil'\]"):
        decode_state(encode_state({**state, "evil": torch.zeros(1)}), spec)
    with pytest.raises(WeightFormatError, match=r"missing \['0.bias'\]"):
        decode_state(encode_state({k: v for k, v in state.items() if k != "0.bias"}), spec)
    with pytest.raises(WeightFormatError, match="shape"):
        decode_state(encode_state({**state, "0.bias": torch.zeros(129)}), spec)
    with pytest.raises(WeightFormatError, match="dtype"):
        decode_state(encode_state({**state, "0.bias": state["0.bias"].double()}), spec)


def test_refuses_oversize_before_parsing(state: dict[str, torch.Tensor]) -> None:
    data = encode_state(state)
    with pytest.raises(WeightFormatError, match="exceeds the limit"):
        decode_state(data, spec_of(state), max_bytes=len(data) - 1)
    assert decode_state(data, spec_of(state), max_bytes=len(data))


def test_refuses_malformed_headers(state: dict[str, torch.Tensor]) -> None:
    spec = spec_of(state)
    garbage = b"{not json!}     "
    with pytest.raises(WeightFormatError, match="malformed header"):
        decode_state(struct.pack("<Q", len(garbage)) + garbage, spec)
    with pytest.raises(WeightFormatError, match="header length"):
        decode_state(struct.pack("<Q", 2**40) + b"{}", spec)
    header = json.dumps({"0.bias": {"dtype": "F32", "shape": [128], "data_offsets": [0, 99999]}}).encode()
    with pytest.raises(WeightFormatError):
        decode_state(struct.pack("<Q", len(header)) + header + b"\0" * 512, {"0.bias": spec["0.bias"]})


def test_flatten_unflatten_round_trip(state: dict[str, torch.Tensor]) -> None:
    spec = spec_of(state)
    vector = flatten_state(state, spec)
    assert vector.shape == (sum(v.numel() for v in state.values()),) and vector.dtype == torch.float32
    back = unflatten_state(vector, spec)
    assert all(torch.equal(back[k], state[k]) for k in state)
    with pytest.raises(WeightFormatError):
        unflatten_state(vector[:-1], spec)
    with pytest.raises(WeightFormatError):
        flatten_state({k: v for k, v in state.items() if k != "0.bias"}, spec)


@pytest.mark.parametrize(("mode", "bound"), [("none", 0.0), ("fp16", 1e-3), ("int8", 1.5e-2)])
def test_compressed_updates_round_trip_with_measured_error(
    state: dict[str, torch.Tensor], mode: str, bound: float
) -> None:
    g = torch.Generator().manual_seed(0)
    update = {k: 0.01 * torch.randn(v.shape, generator=g) for k, v in state.items()}
    data = encode_update(update, mode)  # type: ignore[arg-type]
    assert encode_update(update, mode) == data  # type: ignore[arg-type]
    restored = decode_update(data, spec_of(state), mode)  # type: ignore[arg-type]
    error = relative_error(update, restored)
    assert error <= bound
    if mode != "none":
        assert error > 0 and len(data) < len(encode_update(update))
        with pytest.raises(WeightFormatError):
            decode_update(data, spec_of(state), "none")


def test_relative_error_and_fp16_range() -> None:
    original = {"a": torch.tensor([3.0, 4.0])}
    assert relative_error(original, {"a": torch.tensor([3.0, 4.0])}) == 0.0
    assert relative_error(original, {"a": torch.tensor([3.0, 5.0])}) == pytest.approx(0.2)
    with pytest.raises(WeightFormatError, match="float16 range"):
        compress({"a": torch.tensor([1e6])}, "fp16")
    restored = decode_update(
        encode_update({"a": torch.zeros(4)}, "int8"), spec_of({"a": torch.zeros(4)}), "int8"
    )
    assert torch.equal(restored["a"], torch.zeros(4))
