"""The book tells what verifiers and aggregators decide from once the reveals are in, as the contract's
views would: the updates accepted and those no longer to attest, the live proposal's attestations, who
spent its one proposal attestation of the round, and whether a challenge of the proposal is pending."""

from __future__ import annotations

from agent_helpers import book_event, revealed, round_opened

from agents.node.protocol import UPHELD, Book

A, B = "0x" + "aa" * 20, "0x" + "bb" * 20


def proposed(block: int, nonce: int):  # type: ignore[no-untyped-def]
    return book_event("GenerationProposed", block, roundId=1, nonce=nonce, cid="bafk", weightsHash=b"\x04")


def test_the_book_follows_a_rounds_proposals_their_attestations_and_disputes():
    book = Book()
    book.apply(round_opened(1, round_id=1, generation=0))
    for slot in (0, 1, 3):
        book.apply(revealed(2, round_id=1, slot=slot))
    book.apply(book_event("UpdateRejected", 3, roundId=1, slot=1, trainer=A))
    book.apply(book_event("UpdateChallenged", 3, disputeId=1, roundId=1, challenger=B, slot=3, accused=A))
    book.apply(book_event("UpdateChallenged", 3, disputeId=2, roundId=2, challenger=B, slot=0, accused=A))
    record = book.rounds[1]
    assert record.accepted_slots == 0b1001  # a challenged update stands until its dispute says otherwise
    assert book.excluded_slots(record) == 0b1010  # but no verifier attests it any more
    assert record.proposal_attestations() == 0  # no proposal yet

    book.apply(proposed(4, nonce=1))
    book.apply(book_event("ProposalAttested", 5, roundId=1, verifier=A.upper(), nonce=1, attestations=1))
    assert record.proposal_attestations() == 1 and set(record.proposal_attested) == {A}
    assert not book.proposal_disputed(record)

    book.apply(book_event("ProposalChallenged", 6, disputeId=7, roundId=1, challenger=B, segment=0))
    book.apply(book_event("ProposalChallenged", 6, disputeId=8, roundId=2, challenger=B, segment=0))
    assert book.proposal_disputed(record)
    book.apply(book_event("DisputeResolved", 7, disputeId=7, status=UPHELD))
    assert not book.proposal_disputed(record)

    book.apply(book_event("ProposalRejected", 7, roundId=1, nonce=1, aggregator=B))
    assert record.proposal_attestations() == 0  # nothing live
    book.apply(proposed(8, nonce=2))
    assert record.proposal_attestations() == 0  # A attested the rejected one: not this one,
    assert A in record.proposal_attested  # and its one proposal attestation of the round is spent


def test_the_book_follows_an_early_proposal_voided_by_a_rejection():
    """An early proposal comes while an update's challenge may still be pending; the rejection voids it
    (``ProposalVoided``), and a challenge of it keeps the proposal it named for the panel's vote."""
    book = Book()
    book.apply(round_opened(1, round_id=1, generation=0))
    for slot in (0, 1):
        book.apply(revealed(2, round_id=1, slot=slot))
    record = book.rounds[1]
    assert not book.update_disputed(record)
    book.apply(book_event("UpdateChallenged", 3, disputeId=1, roundId=1, challenger=B, slot=1, accused=A))
    assert book.update_disputed(record)
    book.apply(proposed(3, nonce=1))
    book.apply(book_event("ProposalChallenged", 4, disputeId=2, roundId=1, challenger=B, segment=0))
    book.apply(book_event("DisputeResolved", 5, disputeId=1, status=UPHELD))
    book.apply(book_event("UpdateRejected", 5, roundId=1, slot=1, trainer=A))
    book.apply(book_event("ProposalVoided", 5, roundId=1, nonce=1))
    assert not book.update_disputed(record)
    assert record.proposals == [] and record.accepted_slots == 0b1
    assert book.disputes[2]["proposal"]["nonce"] == 1  # what the panel judges
