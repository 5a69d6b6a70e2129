"""A new round's weights come from what an agent already holds, on a real IPFS daemon: the generation it
computed (verifiers, aggregator) or the proposal it fetched while verifiers checked it (trainers). IPFS
is read only otherwise, and a proposal or update that cannot be fetched is left alone; an update nobody
serves is asked for again now and then, and judged faulty once the verifier's patience is over."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
import torch
from agent_helpers import HYPERPARAMS, CountingStore, book_event, job_context, round_opened
from eth_utils import keccak

from agents.devnet.services import IpfsDaemon, free_port
from agents.learning.codec import encode_state
from agents.learning.errors import ContentUnavailable, WeightStoreError
from agents.learning.skills.registry import initial_state
from agents.node.agent import Agent
from agents.node.aggregator import Aggregator
from agents.node.events import Event
from agents.node.protocol import REVEAL, Book
from agents.node.store import Store
from agents.node.verifier import Verifier
from agents.node.work import Task, publish, segments_ok, train

TRAINERS = ["0x" + "ab" * 20, "0x" + "cd" * 20]
WITHHOLDER = "0x" + "ef" * 20
"""A trainer whose bundle no test stores (the tests share one daemon)."""


def recorded(block: int, number: int, cid: str, weights_hash: bytes) -> Event:
    args = {"jobId": 1, "number": number, "cid": cid, "weightsHash": weights_hash, "metrics": []}
    return book_event("GenerationRecorded", block, **args)


def proposed(nonce: int, cid: str, weights_hash: bytes) -> Event:
    return book_event("GenerationProposed", 3, roundId=1, nonce=nonce, cid=cid, weightsHash=weights_hash)


def finalize_into_round_2(book: Book, cid: str, weights_hash: bytes) -> None:
    book.apply(book_event("RoundFinalized", 4, roundId=1, jobId=1, acceptedSlots=0b11))
    book.apply(recorded(4, 1, cid, weights_hash))
    book.apply(round_opened(4, round_id=2, generation=1))


@pytest.fixture
def setting(net: Any, tmp_path: Any, monkeypatch: Any) -> tuple[Agent, CountingStore, Book]:
    """An agent in round 1 of job 1 (on the genesis weights, published), its store and book."""
    monkeypatch.setenv("AOAI_HOME", str(tmp_path))
    store = CountingStore(net.ipfs.api_multiaddr)
    ctx = job_context(**HYPERPARAMS)
    genesis = store.put(encode_state(initial_state(ctx.skill, ctx.config, 0)))
    book = Book()
    book.apply(recorded(1, 0, genesis.cid, genesis.keccak256))
    book.apply(round_opened(1, round_id=1, generation=0))
    agent = Agent(SimpleNamespace(book=book, me=TRAINERS[0]), store)  # type: ignore[arg-type]
    agent._contexts[1] = ctx
    return agent, store, book


def reveal_trained_updates(agent: Agent, store: CountingStore, book: Book, withholder: str = "") -> None:
    """Each of TRAINERS trains round 1, publishes its bundle and reveals it (slots 0 and 1); with a
    ``withholder``, it takes slot 1 and publishes only the CID."""
    ctx, genesis = agent.context(1), agent.weights(1, 0)
    for slot, trainer in enumerate([TRAINERS[0], withholder] if withholder else TRAINERS):
        trained = train(ctx, genesis, Task.of(book.rounds[1].task_seed, trainer, ctx.shard_count))
        cid, update_hash, root = publish(store, ctx, 1, trainer, trained, withhold=trainer == withholder)
        args = {
            "slot": slot,
            "trainer": trainer,
            "updateCID": cid,
            "updateHash": update_hash,
            "traceRoot": root,
        }
        book.apply(book_event("UpdateRevealed", 2, roundId=1, **args))


def test_the_generation_an_agent_computed_is_not_fetched_again(setting) -> None:  # type: ignore[no-untyped-def]
    agent, store, book = setting
    reveal_trained_updates(agent, store, book)
    generation = agent.generation_for(1, 0b11)
    stored = store.put(generation.data)
    finalize_into_round_2(book, stored.cid, stored.keccak256)
    agent.forget_closed()

    store.reads.clear()
    weights = agent.weights(1, 1)
    assert store.reads == []
    assert encode_state(weights) == store.get(stored.cid, stored.keccak256)  # what everyone else fetches


def test_a_prefetched_proposal_opens_the_next_round_and_a_bad_one_is_skipped(setting) -> None:  # type: ignore[no-untyped-def]
    agent, store, book = setting
    moved = {n: t + 0.25 for n, t in agent.weights(1, 0).items()}
    good = store.put(encode_state(moved))
    not_weights = store.put(b"not weights at all")

    book.apply(proposed(1, not_weights.cid, not_weights.keccak256))
    agent.prefetch_proposal(book.rounds[1])  # undecodable: noted, not raised
    book.apply(book_event("ProposalRejected", 3, roundId=1, nonce=1))
    book.apply(proposed(2, good.cid, keccak(b"other bytes")))
    agent.prefetch_proposal(book.rounds[1])  # content does not hash to the proposal: noted, not raised
    assert agent._unfetchable == {not_weights.keccak256, keccak(b"other bytes")}
    store.reads.clear()
    agent.prefetch_proposal(book.rounds[1])
    assert store.reads == []  # a failed proposal is not fetched again on every tick

    book.apply(book_event("ProposalRejected", 3, roundId=1, nonce=2))
    book.apply(proposed(3, good.cid, good.keccak256))
    agent.prefetch_proposal(book.rounds[1])
    finalize_into_round_2(book, good.cid, good.keccak256)
    agent.forget_closed()
    assert not agent._unfetchable

    store.reads.clear()
    weights = agent.weights(1, 1)
    assert store.reads == []
    assert all(torch.equal(weights[n], moved[n]) for n in moved)


def test_the_generation_is_prepared_while_updates_are_checked_and_an_unreadable_one_is_skipped(
    setting,
) -> None:  # type: ignore[no-untyped-def]
    agent, store, book = setting
    reveal_trained_updates(agent, store, book)
    junk = store.put(b"not a bundle")
    args = {"slot": 2, "trainer": "0x" + "ef" * 20, "updateCID": junk.cid, "updateHash": junk.keccak256}
    book.apply(book_event("UpdateRevealed", 2, roundId=1, traceRoot=b"\x00" * 32, **args))
    chain = SimpleNamespace(
        book=book, me=TRAINERS[0], job_config=lambda job_id: SimpleNamespace(attestationQuorum=1)
    )
    verifier = Verifier(chain, store)  # type: ignore[arg-type]
    verifier._contexts[1] = agent.context(1)
    record = book.rounds[1]

    verifier.faults = {(1, slot): None for slot in range(3)}  # its share is checked: every update passed
    verifier._prepare_generation(record, excluded=0)
    assert verifier.unreadable == {(1, 2)} and {(1, 0), (1, 1)} <= set(verifier._updates)
    assert not verifier._generations  # an update still standing could not be read: nothing built yet
    store.reads.clear()
    verifier._prepare_generation(record, excluded=0b100)  # slot 2's challenge is on chain
    assert store.reads == []  # neither the unreadable update nor the read ones are read again
    prepared = verifier._generations[(1, 0b11)]
    assert verifier.generation_for(1, 0b11) is prepared and store.reads == []
    assert prepared.weights_hash == agent.generation_for(1, 0b11).weights_hash

    aggregator = Aggregator(chain, store)  # type: ignore[arg-type]
    aggregator._contexts[1] = agent.context(1)
    aggregator._prepare_or_propose(record, 0b111, due=False)  # not raised: noted, nothing uploaded
    assert aggregator.unreadable == {(1, 2)} and not aggregator._uploaded
    aggregator._prepare_or_propose(record, 0b11, due=False)  # slot 2 rejected: the rest is uploaded
    assert list(aggregator._uploaded) == [prepared.weights_hash]


def test_the_aggregator_reads_updates_as_they_are_revealed(setting) -> None:  # type: ignore[no-untyped-def]
    """While reveals come in, the aggregator reads each revealed update (not all of them at the last
    reveal, when the verifiers read theirs); the generation is then built without another read."""
    agent, store, book = setting
    reveal_trained_updates(agent, store, book)
    chain = SimpleNamespace(book=book, me=TRAINERS[0], sure_phase=lambda record: REVEAL)
    aggregator = Aggregator(chain, store)  # type: ignore[arg-type]
    aggregator._contexts[1] = agent.context(1)
    aggregator._round(book.rounds[1])
    assert set(aggregator._updates) == {(1, 0), (1, 1)} and not aggregator._generations

    store.reads.clear()
    aggregator._prepare_or_propose(book.rounds[1], 0b11, due=False)
    assert store.reads == []
    assert list(aggregator._uploaded) == [agent.generation_for(1, 0b11).weights_hash]


def test_an_ipfs_outage_is_retried_not_taken_for_an_unreadable_update(setting) -> None:  # type: ignore[no-untyped-def]
    """Reading ahead while the daemon is unreachable builds nothing and marks no update unreadable: once the
    daemon answers, the updates are read and the generation is built."""
    agent, store, book = setting
    reveal_trained_updates(agent, store, book)
    chain = SimpleNamespace(book=book, me=TRAINERS[0], sure_phase=lambda record: REVEAL)
    aggregator = Aggregator(chain, store)  # type: ignore[arg-type]
    aggregator._contexts[1] = agent.context(1)
    aggregator.weights(1, 0)  # the round's generation is held; its updates are not yet
    aggregator.store = Store(f"/ip4/127.0.0.1/tcp/{free_port()}/http")  # nothing listens there
    aggregator._round(book.rounds[1])
    aggregator._prepare_or_propose(book.rounds[1], 0b11, due=False)
    assert not aggregator.unreadable and not aggregator._updates and not aggregator._uploaded

    aggregator.store = store  # the daemon is back
    aggregator._prepare_or_propose(book.rounds[1], 0b11, due=False)
    assert set(aggregator._updates) == {(1, 0), (1, 1)}
    assert list(aggregator._uploaded) == [agent.generation_for(1, 0b11).weights_hash]


def test_an_update_nobody_serves_is_faulty_only_after_patience_and_never_for_a_daemon_down(setting) -> None:  # type: ignore[no-untyped-def]
    """A verifier asks the store for a withheld bundle, not again within REFETCH_SECONDS, and, asked once
    its patience is over, inspects it as faulty from segment 0; a daemon that is down is an error to
    retry, never a fault of the update."""
    agent, store, book = setting
    reveal_trained_updates(agent, store, book, WITHHOLDER)
    chain = SimpleNamespace(book=book, me=TRAINERS[0], now=lambda: 1_000)
    verifier = Verifier(chain, store)  # type: ignore[arg-type]
    verifier._contexts[1] = agent.context(1)
    store.timeout = 1.0  # the daemon gives up on the withheld bundle after 0.9 s
    record = book.rounds[1]

    assert verifier._fetched(record, 0, lambda: 2_000)
    assert verifier.inspections[(1, 0)].fault is None
    assert not verifier._fetched(record, 1, lambda: 2_000)  # patience runs until chain time 2000
    assert (1, 1) in verifier.unserved and (1, 1) not in verifier.inspections
    store.reads.clear()
    assert not verifier._fetched(record, 1, lambda: 0)  # asked a moment ago: not asked again yet
    assert store.reads == []
    assert not verifier.read_updates(record, 0b10)  # nor by the generation read ahead
    assert store.reads == []

    verifier.unserved.clear()  # REFETCH_SECONDS later
    down = Store(f"/ip4/127.0.0.1/tcp/{free_port()}/http")
    verifier.store = down
    with pytest.raises(WeightStoreError) as raised:
        verifier._fetched(record, 1, lambda: 0)
    assert not isinstance(raised.value, ContentUnavailable) and (1, 1) not in verifier.inspections

    verifier.store = store
    assert verifier._fetched(record, 1, lambda: 0)  # patience over, still unserved
    unavailable = verifier.inspections[(1, 1)]
    assert unavailable.fault == 0 and unavailable.reason.startswith("unavailable: nobody served")
    assert not segments_ok(
        verifier.context(1), verifier.weights(1, 0), {1: (verifier._task(record, 1), unavailable, [0, 1])}
    )[1][0]  # so a panel member that cannot fetch it either upholds a challenge of it


def test_a_verifier_risks_a_bond_on_a_withheld_bundle_only_if_its_node_got_another_update(  # type: ignore[no-untyped-def]
    setting, tmp_path
) -> None:
    """Before it challenges a bundle nobody served, a verifier checks that its own node reaches the others:
    it got another update of the round, read before or read now. A node cut off from the network (here a
    daemon of its own, connected to nobody) gets none, so it cannot tell a withheld bundle from its own
    isolation, and the other bundle is not asked for again within REFETCH_SECONDS."""
    agent, store, book = setting
    reveal_trained_updates(agent, store, book, WITHHOLDER)
    record = book.rounds[1]
    chain = SimpleNamespace(book=book, me=TRAINERS[0], now=lambda: 1_000)
    verifier = Verifier(chain, store)  # type: ignore[arg-type]
    verifier._contexts[1] = agent.context(1)
    store.timeout = 1.0  # the daemon gives up on the withheld bundle after 0.9 s

    store.reads.clear()
    assert verifier._reaches_network(record, 1)  # slot 0 read now: one byte of it
    assert store.reads == [(0, 1)]
    assert verifier._fetched(record, 0, lambda: 0) and not verifier._reaches_network(record, 0)
    store.reads.clear()
    assert verifier._reaches_network(record, 1) and store.reads == []  # slot 0 was inspected

    with IpfsDaemon(workdir=tmp_path / "alone", api_port=free_port()) as alone:
        cut_off = Verifier(chain, CountingStore(alone.api_multiaddr))  # type: ignore[arg-type]
        cut_off.store.timeout = 1.0
        assert not cut_off._reaches_network(record, 1)
        assert (1, 0) in cut_off.unserved
        assert not cut_off._reaches_network(record, 1) and cut_off.store.reads == [(0, 1)]  # asked once


def test_a_panel_member_votes_on_a_withheld_bundle_only_if_its_node_got_another_update(  # type: ignore[no-untyped-def]
    setting, tmp_path
) -> None:
    """On the panel of a challenge of the withheld bundle, past its patience: a member whose node got the
    round's other update votes upheld; one whose node reaches nobody stays silent (None, asked again
    later) rather than slash a trainer for its own isolation."""
    agent, store, book = setting
    reveal_trained_updates(agent, store, book, WITHHOLDER)
    challenged = {"disputeId": 1, "roundId": 1, "slot": 1, "segment": 0, "challenger": TRAINERS[1]}
    book.apply(book_event("UpdateChallenged", 3, **challenged))
    chain = SimpleNamespace(
        book=book, me=TRAINERS[0], now=lambda: 1_000, job_spec=lambda job: {"voteCommitPhase": 60}
    )
    store.timeout = 1.0  # the daemon gives up on the withheld bundle after 0.9 s
    with IpfsDaemon(workdir=tmp_path / "alone", api_port=free_port()) as alone:
        cut_off = Verifier(chain, CountingStore(alone.api_multiaddr))  # type: ignore[arg-type]
        cut_off.store.timeout = 1.0
        ctx = cut_off._contexts[1] = agent.context(1)
        cut_off.store.put(encode_state(initial_state(ctx.skill, ctx.config, 0)))  # held before it was cut off
        assert cut_off._judge(1, commit_deadline=1_000) is None
        assert (1, 1) not in cut_off.inspections and (1, 1) in cut_off.unserved
        assert cut_off.journal.get("vote:1") is None

    connected = Verifier(chain, store)  # type: ignore[arg-type]
    connected._contexts[1] = agent.context(1)
    assert connected._judge(1, commit_deadline=1_000) is True
    assert connected.journal.get("vote:1") is True
