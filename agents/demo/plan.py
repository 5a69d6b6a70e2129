"""Who plays which part in the demo (ape test accounts), and the jobs' small, fast settings."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

ETHER = 10**18
SKILLS = ("vision", "language")
VERIFIERS = 2  # a dispute's panel is drawn among the *other* verifiers: one alone could never slash
TEST_ACCOUNTS = 10  # ape's test accounts (ape-config.yaml), which agents sign with as TEST::N
# Per skill: hyper-parameters that make a round take seconds on two cores (measured: vision 20 steps
# x 32 ~1.6 s of training, language 20 x 16 ~0.4 s plus ~1 s to evaluate), and an AOAI reward that
# keeps reward per unit of work (steps x batch) equal, so `--job auto` has no favourite.
JOB_SETTINGS: dict[str, dict[str, Any]] = {
    "vision": {
        "hyperparams": {
            "local_steps": 20, "batch_size": 32, "lr": 0.1, "momentum": 0.9, "checkpoint_every": 5,
        },
        "rewardPerUpdate": 100 * ETHER,
    },
    "language": {
        "hyperparams": {
            "local_steps": 20, "batch_size": 16, "lr": 3e-3, "optimizer": "adam", "checkpoint_every": 5,
        },
        "rewardPerUpdate": 50 * ETHER,
    },
}  # fmt: skip


@dataclass(frozen=True)
class Plan:
    """What one `aoai demo` run does."""

    jobs: tuple[str, ...]
    trainers: int
    attackers: int
    rounds: int | None  # None: as many as fit in `minutes`
    minutes: float
    out: Path
    keep_running: bool = False
    requests: tuple[int, int] = (4, 3)  # paid requests per job by each of the two API users

    def __post_init__(self) -> None:
        unknown = [j for j in self.jobs if j not in SKILLS]
        if unknown or not self.jobs or len(set(self.jobs)) != len(self.jobs):
            raise ValueError(f"jobs must be distinct names among {', '.join(SKILLS)}, got {list(self.jobs)}")
        if self.trainers < 1 or self.trainers > self.max_trainers:
            raise ValueError(f"trainers must be between 1 and {self.max_trainers}, got {self.trainers}")
        if not 0 <= self.attackers < self.trainers:
            raise ValueError(f"attackers must be between 0 and trainers - 1, got {self.attackers}")
        if self.rounds is not None and self.rounds < 1:
            raise ValueError(f"rounds must be at least 1, got {self.rounds}")
        if self.rounds is None and self.minutes <= 0:
            raise ValueError(f"minutes must be positive, got {self.minutes}")

    max_trainers = TEST_ACCOUNTS - VERIFIERS - 4  # the operator, the aggregator, two users

    # Test account numbers: 0 is the operator (deploys, creates the jobs, runs the gateway), then the
    # trainers, the verifiers, the aggregator and the two API users.
    operator = 0

    @property
    def trainer_accounts(self) -> list[int]:
        return list(range(1, self.trainers + 1))

    @property
    def attacker_accounts(self) -> list[int]:
        return self.trainer_accounts[self.trainers - self.attackers :]

    @property
    def verifier_accounts(self) -> list[int]:
        return [self.trainers + 1 + i for i in range(VERIFIERS)]

    @property
    def aggregator(self) -> int:
        return self.trainers + VERIFIERS + 1

    @property
    def users(self) -> list[int]:
        return [self.aggregator + 1, self.aggregator + 2]

    def roles(self) -> dict[int, str]:
        """Test account number -> name shown in the progress and the report."""
        names = {self.operator: "operator", self.aggregator: "aggregator"}
        for i in self.trainer_accounts:
            names[i] = f"cheater{i}" if i in self.attacker_accounts else f"trainer{i}"
        for i in self.verifier_accounts:
            names[i] = f"verifier{i}"
        for n, i in enumerate(self.users, 1):
            names[i] = f"user{n}"
        return names

    def job_spec(self, skill: str) -> dict[str, Any]:
        """JobSpec overrides: every phase ends on its fast path (the deadlines are a safety net), slots
        shared out among the trainers, one-member panels."""
        slots = max(1, self.trainers // len(self.jobs))
        return {
            "shardCount": 8,
            "minSlots": slots,
            "maxSlots": slots,
            "rewardPerUpdate": JOB_SETTINGS[skill]["rewardPerUpdate"],
            "attestationQuorum": 1,
            "panelSize": 1,
            "claimTtl": 60,
            "commitPhase": 90,
            "revealPhase": 60,
            "challengePhase": 60,
            "proposalPhase": 60,
            "voteCommitPhase": 60,
            "voteRevealPhase": 60,
        }
