"""A long-running agent's memory stays flat: what it cached for a round goes when the round closes."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from agent_helpers import book_event, round_opened

from agents.node.events import Event
from agents.node.protocol import Book
from agents.node.verifier import Verifier

HASHES = [bytes([i]) * 32 for i in range(4)]


def recorded(block: int, number: int) -> Event:
    args = {"jobId": 1, "number": number, "cid": "c", "weightsHash": HASHES[number], "metrics": []}
    return book_event("GenerationRecorded", block, **args)


def cache_round(verifier: Verifier, round_id: int, generation: int) -> None:
    """What a verifier holds while it checks a round: its base weights, an update, the next generation
    (computed, weights included), a fetched trace and a replay verdict."""
    verifier._weights[HASHES[generation]] = {}
    verifier._updates[(round_id, 0)] = {}
    verifier._generations[(round_id, 0b11)] = SimpleNamespace(weights_hash=HASHES[generation + 1])  # type: ignore[assignment]
    verifier._weights[HASHES[generation + 1]] = {}
    verifier.inspections[(round_id, 0)] = object()  # type: ignore[assignment]
    verifier.replays[(round_id, 0, 3)] = True


def test_caches_of_closed_rounds_and_unused_generations_are_dropped(tmp_path, monkeypatch):
    monkeypatch.setenv("AOAI_HOME", str(tmp_path))
    book = Book()
    verifier = Verifier(SimpleNamespace(book=book, me="0x" + "ab" * 20), store=None)
    book.apply(recorded(1, 0))
    book.apply(round_opened(1, round_id=1, generation=0))
    cache_round(verifier, round_id=1, generation=0)
    book.apply(book_event("RoundFinalized", 5, roundId=1, jobId=1, acceptedSlots=0b11))
    book.apply(recorded(5, 1))
    book.apply(round_opened(5, round_id=2, generation=1))
    cache_round(verifier, round_id=2, generation=1)
    verifier._weights[HASHES[3]] = {}  # a proposal of round 2 that it prefetched
    book.apply(book_event("GenerationProposed", 6, roundId=2, nonce=1, weightsHash=HASHES[3]))

    verifier.forget_closed()

    # Round 2's base (computed in round 1), the generation it computed and the one proposed in round 2.
    assert set(verifier._weights) == set(HASHES[1:])
    assert list(verifier._updates) == [(2, 0)]
    assert list(verifier._generations) == [(2, 0b11)]
    assert list(verifier.inspections) == [(2, 0)]
    assert list(verifier.replays) == [(2, 0, 3)]

    book.apply(book_event("RoundFinalized", 9, roundId=2, jobId=1, acceptedSlots=0b1))
    verifier.forget_closed()
    assert not (verifier._weights or verifier._updates or verifier._generations or verifier.replays)


@pytest.mark.parametrize("closed", [False, True])
def test_open_rounds(closed):
    book = Book()
    book.apply(round_opened(1, round_id=7, generation=3))
    if closed:
        book.apply(book_event("RoundClosedEmpty", 2, roundId=7, jobId=1))
    assert list(book.open_rounds()) == ([] if closed else [7])
