"""Verifiers split a round's checks: the shares of a team's members partition the committed slots."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from agents.node.verifier import share

ADDRESSES = [f"0x{i:040x}" for i in range(0xA1, 0xA9)]


@given(
    slots=st.sets(st.integers(0, 254), max_size=40),
    team=st.sets(st.sampled_from(ADDRESSES), min_size=1),
)
def test_shares_partition_the_slots_evenly(slots, team):
    checksummed = {"0x" + a[2:].upper() for a in team}  # the book keeps lowercase, an account checksums
    shares = [share(slots, team, me) for me in sorted(checksummed)]
    assert sorted(s for part in shares for s in part) == sorted(slots)
    assert max(map(len, shares)) - min(map(len, shares)) <= 1


def test_a_newcomer_checks_everything_until_it_is_seen_attesting():
    assert share({3, 1, 2}, set(), ADDRESSES[0]) == [1, 2, 3]
    assert share({3, 1, 2}, {ADDRESSES[1]}, ADDRESSES[0]) == [1, 3]  # a team of two, it sorts first
