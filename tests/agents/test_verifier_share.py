"""Verifiers split a round's checks: every slot gets exactly its quorum of checkers (or the whole team)
among the members' shares, spread evenly."""

from __future__ import annotations

from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from agents.node.verifier import share

ADDRESSES = [f"0x{i:040x}" for i in range(0xA1, 0xA9)]


@given(
    slots=st.sets(st.integers(0, 254), max_size=40),
    team=st.sets(st.sampled_from(ADDRESSES), min_size=1),
    quorum=st.integers(1, 4),
)
def test_each_slot_gets_its_quorum_of_checkers_evenly(slots, team, quorum):
    checksummed = {"0x" + a[2:].upper() for a in team}  # the book keeps lowercase, an account checksums
    shares = [share(slots, team, me, quorum) for me in sorted(checksummed)]
    checkers = Counter(s for part in shares for s in part)
    assert set(checkers) == slots
    assert set(checkers.values()) <= {min(quorum, len(team))}
    assert max(map(len, shares)) - min(map(len, shares)) <= min(quorum, len(team))
    assert all(part == sorted(part) for part in shares)


def test_a_newcomer_checks_everything_until_it_is_seen_attesting():
    assert share({3, 1, 2}, set(), ADDRESSES[0]) == [1, 2, 3]
    assert share({3, 1, 2}, {ADDRESSES[1]}, ADDRESSES[0]) == [1, 3]  # a team of two, it sorts first
    assert share({3, 1, 2}, {ADDRESSES[1]}, ADDRESSES[0], quorum=2) == [1, 2, 3]
