"""Inputs the fuzzing found that escaped the parsers' own error classes, kept as regression tests.

Both parsers called ``json.loads`` and catch only ``UnicodeDecodeError`` and ``JSONDecodeError``, but
``json.loads`` also raises ``RecursionError`` on deeply nested arrays and a plain ``ValueError`` on an
integer literal of more than 4,300 digits (Python's int-parsing limit). Callers such as
``agents.node.work.inspect`` catch ``(ManifestError, LearningError)`` only, so one such file from a
peer crashed the verifier's loop instead of being judged malformed. Both now parse through
``agents.learning.peerjson``, which bounds the nesting first and maps every parse failure to one error.
Where the recursion limit is raised
(pytest raises it to 100,000; importing py-evm to 12,288) a deep enough nesting (100,000 brackets fit in
the 1 MiB header allowance) overflows the C stack instead: the interpreter dies with a segmentation
fault. These tests therefore run at CPython's default limit of 1,000.
"""

from __future__ import annotations

import struct
import sys
from collections.abc import Iterator

import pytest
from hostile import SPEC

from agents.learning.codec import decode_state
from agents.learning.errors import WeightFormatError
from agents.node.manifest import ManifestError, parse_update

NESTED = b"[" * 5_000
LONG_INT = b"1" * 5_000
IDS = ["nested", "long-int", "long-int-field"]


def _weights_file(header: bytes) -> bytes:
    return struct.pack("<Q", len(header)) + header


@pytest.fixture(autouse=True)
def default_recursion_limit() -> Iterator[None]:
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(1_000)
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


@pytest.mark.parametrize("header", [NESTED, LONG_INT, b'{"a.weight":' + LONG_INT + b"}"], ids=IDS)
def test_decode_state_refuses_json_bombs_in_the_header(header: bytes) -> None:
    with pytest.raises(WeightFormatError):
        decode_state(_weights_file(header), SPEC)


@pytest.mark.parametrize("data", [NESTED, LONG_INT, b'{"round":' + LONG_INT + b"}"], ids=IDS)
def test_parse_update_refuses_json_bombs(data: bytes) -> None:
    with pytest.raises(ManifestError):
        parse_update(data)
