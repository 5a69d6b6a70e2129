"""A long-running agent's memory stays flat: what it cached for a round goes when the round closes."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from agents.node.events import Event
from agents.node.protocol import Book
from agents.node.verifier import Verifier


def _event(name: str, block: int, **args) -> Event:
    return Event(name, args, block, "0x", 0)


def _opened(block: int, round_id: int, generation: int) -> Event:
    return _event(
        "RoundOpened", block, roundId=round_id, jobId=1, number=round_id, generation=generation,
        slotCount=4, taskSeed=b"s",
    )  # fmt: skip


def test_caches_of_closed_rounds_and_unused_generations_are_dropped(tmp_path, monkeypatch):
    monkeypatch.setenv("AOAI_HOME", str(tmp_path))
    book = Book()
    book.apply(_opened(1, round_id=1, generation=0))
    verifier = Verifier(SimpleNamespace(book=book, me="0x" + "ab" * 20), store=None)
    for round_id, generation in ((1, 0), (2, 1)):
        if round_id == 2:
            book.apply(_event("RoundFinalized", 5, roundId=1, jobId=1, acceptedSlots=0b11))
            book.apply(_opened(5, round_id=2, generation=1))
        verifier._weights[(1, generation)] = object()
        verifier._updates[(round_id, 0)] = object()
        verifier._generations[(round_id, 0b11)] = object()
        verifier.inspections[(round_id, 0)] = object()
        verifier.replays[(round_id, 0, 3)] = True

    verifier.forget_closed()

    assert list(verifier._weights) == [(1, 1)]
    assert list(verifier._updates) == [(2, 0)]
    assert list(verifier._generations) == [(2, 0b11)]
    assert list(verifier.inspections) == [(2, 0)]
    assert list(verifier.replays) == [(2, 0, 3)]

    book.apply(_event("RoundFinalized", 9, roundId=2, jobId=1, acceptedSlots=0b1))
    verifier.forget_closed()
    assert not (verifier._weights or verifier._updates or verifier._generations or verifier.replays)


@pytest.mark.parametrize("closed", [False, True])
def test_open_rounds(closed):
    book = Book()
    book.apply(_opened(1, round_id=7, generation=3))
    if closed:
        book.apply(_event("RoundClosedEmpty", 2, roundId=7, jobId=1))
    assert list(book.open_rounds()) == ([] if closed else [7])
