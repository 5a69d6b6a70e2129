"""An agent whose synced events lag the chain's state never builds a generation from fewer updates than
the bitmap it was asked for (it would cache, propose or attest the wrong weights): it retries instead."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
from agent_helpers import revealed, round_opened

from agents.node.agent import BookBehind
from agents.node.aggregator import Aggregator
from agents.node.protocol import Book


@pytest.mark.parametrize("slots", [0b10, 0b11, 0b1001])
def test_a_generation_of_unseen_reveals_is_refused_and_not_cached(tmp_path, monkeypatch, slots):
    monkeypatch.setenv("AOAI_HOME", str(tmp_path))
    book = Book()
    book.apply(round_opened(1, round_id=1, generation=0))
    book.apply(revealed(2, round_id=1, slot=0))
    aggregator = Aggregator(SimpleNamespace(book=book, me="0x" + "ab" * 20), store=None)

    unseen = [s for s in range(4) if slots >> s & 1 and s != 0]
    assert book.rounds[1].unseen(slots) == unseen
    with pytest.raises(BookBehind, match=re.escape(f"slots {unseen} are not synced yet")):
        aggregator.generation_for(1, slots)
    assert not aggregator._generations and not aggregator._updates
    assert book.rounds[1].unseen(0b1) == []
