"""A long-running agent's memory stays flat: what it cached for a round goes when the round closes."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from agent_helpers import book_event, round_opened

from agents.node.protocol import Book
from agents.node.verifier import Verifier


def cache_round(verifier: Verifier, round_id: int, generation: int) -> None:
    """What a verifier holds while it checks a round: its base weights, an update, a generation, a
    fetched trace and a replay verdict."""
    verifier._weights[(1, generation)] = object()
    verifier._updates[(round_id, 0)] = object()
    verifier._generations[(round_id, 0b11)] = object()
    verifier.inspections[(round_id, 0)] = object()
    verifier.replays[(round_id, 0, 3)] = True


def test_caches_of_closed_rounds_and_unused_generations_are_dropped(tmp_path, monkeypatch):
    monkeypatch.setenv("AOAI_HOME", str(tmp_path))
    book = Book()
    verifier = Verifier(SimpleNamespace(book=book, me="0x" + "ab" * 20), store=None)
    book.apply(round_opened(1, round_id=1, generation=0))
    cache_round(verifier, round_id=1, generation=0)
    book.apply(book_event("RoundFinalized", 5, roundId=1, jobId=1, acceptedSlots=0b11))
    book.apply(round_opened(5, round_id=2, generation=1))
    cache_round(verifier, round_id=2, generation=1)

    verifier.forget_closed()

    assert list(verifier._weights) == [(1, 1)]
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
