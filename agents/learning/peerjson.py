"""JSON from peers, parsed with bounds that `json.loads` alone does not give.

`json.loads` recurses once per nesting level (a deep enough document overflows the C stack where the
recursion limit was raised) and raises plain `ValueError` for integers past Python's digit limit. Peers'
headers and manifests are shallow, so nesting is checked first, in one pass that skips strings.
"""

from __future__ import annotations

import json
from typing import Any

MAX_DEPTH = 32


class PeerJSONError(ValueError):
    """The bytes are not JSON within the bounds: malformed, too deep, or an absurd number."""


def _depth(text: str) -> int:
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def loads(data: bytes, max_depth: int = MAX_DEPTH) -> Any:
    """Parses `data` as UTF-8 JSON nested at most `max_depth` deep, or raises PeerJSONError."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise PeerJSONError(f"not UTF-8: {error}") from error
    if _depth(text) > max_depth:
        raise PeerJSONError(f"JSON nested deeper than {max_depth} levels")
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as error:  # JSONDecodeError is a ValueError; so is a huge int
        raise PeerJSONError(f"malformed JSON: {error}") from error
