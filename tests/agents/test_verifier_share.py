"""Verifiers split a round's checks: every slot gets exactly its quorum of checkers (or the whole team)
among the members' shares, spread evenly."""

from __future__ import annotations

import time
from collections import Counter
from types import SimpleNamespace

from agent_helpers import book_event, round_opened
from hypothesis import given
from hypothesis import strategies as st

from agents.node.protocol import TRAINER, VERIFIER, Book
from agents.node.verifier import OTHERS_GRACE_S, Verifier, share, team

ADDRESSES = [f"0x{i:040x}" for i in range(0xA1, 0xA9)]


@given(
    arrivals=st.lists(st.integers(0, 254), max_size=40, unique=True),
    team=st.sets(st.sampled_from(ADDRESSES), min_size=1),
    quorum=st.integers(1, 4),
    seen=st.integers(0, 40),
)
def test_each_slot_gets_its_quorum_of_checkers_evenly_as_updates_come(arrivals, team, quorum, seen):
    """Updates published in the open are checked as they come: a slot's checkers must not change as
    later updates arrive."""
    checksummed = {"0x" + a[2:].upper() for a in team}  # the book keeps lowercase, an account checksums
    shares = [share(arrivals, team, me, quorum) for me in sorted(checksummed)]
    checkers = Counter(s for part in shares for s in part)
    assert set(checkers) == set(arrivals)
    assert set(checkers.values()) <= {min(quorum, len(team))}
    assert max(map(len, shares)) - min(map(len, shares)) <= min(quorum, len(team))
    early = arrivals[:seen]
    assert [share(early, team, me, quorum) for me in sorted(checksummed)] == [
        [s for s in part if s in early] for part in shares
    ]


@given(arrivals=st.lists(st.integers(0, 254), min_size=2, max_size=40, unique=True))
def test_the_last_two_updates_go_to_different_checkers(arrivals):
    team = set(ADDRESSES[:2])
    first, second = (set(share(arrivals, team, me)) for me in sorted(team))
    assert arrivals[-1] in first ^ second and arrivals[-2] in first ^ second
    assert (arrivals[-1] in first) != (arrivals[-2] in first)


def test_a_newcomer_checks_everything_until_it_is_seen_attesting():
    assert share([3, 1, 2], set(), ADDRESSES[0]) == [3, 1, 2]
    assert share([3, 1, 2], {ADDRESSES[1]}, ADDRESSES[0]) == [3, 2]  # a team of two, it sorts first
    assert share([3, 1, 2], {ADDRESSES[1]}, ADDRESSES[0], quorum=2) == [3, 1, 2]


def test_verifiers_that_stake_during_a_round_join_the_next_rounds_team():
    """A round's team is its attesters and the verifiers that staked while it was open: the verifier
    that came late to round 1 (quorum 1, nothing left to attest) still splits round 2 with the other."""
    early, late, trainer = ADDRESSES[0], ADDRESSES[1], ADDRESSES[2]
    book = Book()
    book.apply(round_opened(1, round_id=1, generation=0))
    book.apply(book_event("Staked", 2, account=early, role=VERIFIER, amount=1, active=1))
    book.apply(book_event("Staked", 3, account=late, role=VERIFIER, amount=1, active=1))
    book.apply(book_event("Staked", 4, account=trainer, role=TRAINER, amount=1, active=1))
    book.apply(book_event("UpdatesAttested", 5, roundId=1, verifier=early, slots=0b1111, qualities=[]))
    book.apply(book_event("RoundFinalized", 6, roundId=1, jobId=1, acceptedSlots=0))
    outside = ADDRESSES[3]  # stakes while no round is open
    book.apply(book_event("Staked", 7, account=outside, role=VERIFIER, amount=1, active=1))
    book.apply(round_opened(8, round_id=2, generation=1))

    assert team(book.rounds[1]) == {early, late}
    book.apply(book_event("UpdatesAttested", 9, roundId=2, verifier=late, slots=0b0110, qualities=[]))
    book.apply(book_event("UpdatesAttested", 9, roundId=2, verifier=early, slots=0b0011, qualities=[]))
    book.apply(book_event("UpdatesAttested", 9, roundId=2, verifier=late, slots=0b1000, qualities=[]))
    assert book.rounds[2].attested_by(late.upper()) == 0b1110
    assert [book.rounds[2].attestations_of(s) for s in range(5)] == [1, 2, 1, 1, 0]
    assert book.rounds[2].joined == set()
    halves = [share(range(4), team(book.rounds[1]), me) for me in (early, late)]
    assert sorted(halves[0] + halves[1]) == [0, 1, 2, 3] and len(halves[0]) == len(halves[1]) == 2


def test_one_verifier_in_turn_checks_the_proposal_the_others_after_the_grace(tmp_path, monkeypatch):
    """At quorum 1 one member of a team of two recomputes the proposal: the one that did not check the
    last update; the other checks it too once it has waited the grace (its partner may be gone)."""
    monkeypatch.setenv("AOAI_HOME", str(tmp_path))  # the verifiers' journals
    pair = ADDRESSES[:2]
    book = Book()
    book.apply(round_opened(1, round_id=1, generation=0))
    for i, member in enumerate(pair):
        book.apply(book_event("UpdatesAttested", 2, roundId=1, verifier=member, slots=1 << i, qualities=[]))
    book.apply(book_event("RoundFinalized", 3, roundId=1, jobId=1, acceptedSlots=3))
    book.apply(round_opened(4, round_id=2, generation=1))
    record = book.rounds[2]

    def verifier(me: str, quorum: int) -> Verifier:
        config = SimpleNamespace(attestationQuorum=quorum, challengePhase=40)
        chain = SimpleNamespace(book=book, me=me, job_config=lambda job_id: config)
        return Verifier(chain, None)  # type: ignore[arg-type]

    for count, slot in enumerate((3, 0, 2), start=1):
        book.apply(book_event("UpdateRevealed", 5, roundId=2, slot=slot, trainer=ADDRESSES[5], updateCID="c",
                              updateHash=b"h", traceRoot=b"r"))  # fmt: skip
        (checker,) = [m for m in pair if verifier(m, 1)._checks_proposal(record)]
        (last_checker,) = [m for m in pair if slot in share(list(record.reveals), pair, m)]
        assert checker != last_checker, count
    assert all(verifier(m, 2)._checks_proposal(record) for m in pair)

    other = verifier(last_checker, 1)
    now = [100.0]
    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    assert not other._checks_proposal(record)  # no proposal yet: nothing to wait for
    book.apply(book_event("GenerationProposed", 6, roundId=2, nonce=1))
    assert not other._checks_proposal(record)  # the grace starts
    now[0] += OTHERS_GRACE_S
    assert other._checks_proposal(record)
