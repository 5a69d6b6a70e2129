"""``--job auto``: pick the job to train for with UCB1 over the chain's history, so the choice is
reproducible from chain state alone.

Arm value (per job) = acceptance rate × reward per update / task cost, normalised to [0, 1] across the
known jobs; the bonus is ``sqrt(2 ln N / n_j)`` with ``n_j`` this trainer's commits to job j (plus one) and
N their sum over the known jobs. Acceptance counts every trainer's closed-round outcomes (accepted /
revealed), with a Beta(1, 1) prior. Cost is local steps × batch size from the job's manifest (work per
task). The choice is the best-scoring job whose current round still takes this trainer's commit.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from agents.node.protocol import Book, RoundRecord


def job_scores(book: Book, me: str, cost_of: Callable[[int], float]) -> dict[int, float]:
    """UCB score of every job the book knows."""
    values: dict[int, float] = {}
    pulls: dict[int, int] = {}
    for job in sorted(book.jobs):
        rounds = [r for r in book.rounds.values() if r.job_id == job and r.closed]
        revealed = sum(len(r.reveals) for r in rounds)
        accepted = sum(len(r.accepted) for r in rounds)
        rate = (accepted + 1) / (revealed + 2)
        values[job] = rate * int(book.jobs[job]["rewardPerUpdate"]) / max(cost_of(job), 1.0)
        pulls[job] = 1 + sum(len(r.slots_of(me)) for r in book.rounds.values() if r.job_id == job)
    if not values:
        return {}
    top = max(values.values()) or 1.0
    total = sum(pulls.values())
    return {j: values[j] / top + math.sqrt(2 * math.log(total) / pulls[j]) for j in values}


def choose_job(
    book: Book, me: str, context: Callable[[int], Any], wanted: Callable[[RoundRecord], bool]
) -> int | None:
    """The best-scoring job (lowest id on ties) whose current round takes a commit from ``me`` and is
    ``wanted``; None when there is none."""

    def cost(job: int) -> float:
        hp = context(job).hp
        return float(hp.local_steps * hp.batch_size)

    open_jobs = [
        j for j, r in book.current.items() if book.takes_commit(book.rounds[r], me) and wanted(book.rounds[r])
    ]
    if not open_jobs:
        return None
    scores = job_scores(book, me, cost)
    return min(open_jobs, key=lambda j: (-scores[j], j))
