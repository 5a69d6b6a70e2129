"""After the rounds: the gateway serves the latest generations, two API users pay for requests, the
gateway settles, and every AOAI holder claims its ETH dividends."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

from rich.console import Console

from agents.chain.connection import connected, deployed_contracts
from agents.demo.cast import Cast
from agents.demo.plan import ETHER, Plan
from agents.gateway.client import GatewayClient
from agents.learning.skills.registry import get_skill

DEPOSIT = ETHER // 100
PROMPTS = ("Of Mans First Disobedience", "Sing Heav'nly Muse", "And chiefly Thou O Spirit")
SETTLE_TIMEOUT_S = 300.0


@dataclass
class Revenue:
    """What the API earned and where it went (wei)."""

    gateway_url: str
    requests: dict[str, int] = field(default_factory=dict)  # user -> paid requests
    paid: dict[str, int] = field(default_factory=dict)  # user -> redeemed by the gateway
    samples: list[dict[str, Any]] = field(default_factory=list)
    dividends: dict[str, int] = field(default_factory=dict)  # holder -> share of this revenue
    claimed: dict[str, int] = field(default_factory=dict)  # holder -> ETH claimed (all dividends)
    unclaimed_after: dict[str, int] = field(default_factory=dict)
    supply: int = 0

    @property
    def total(self) -> int:
        return sum(self.paid.values())

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "total": self.total}


def earn_and_share(
    cast: Cast, plan: Plan, jobs: dict[int, str], names: dict[str, str], console: Console
) -> Revenue:
    """Runs the revenue side of the demo; `jobs`: job id -> skill; `names`: address -> role name."""
    from ape import accounts

    with connected(cast.network):
        contracts = deployed_contracts()
        token, billing = contracts["AOAIToken"], contracts["Billing"]
        holders = [a for a in names if int(token.balanceOf(a)) > 0]
        before = {h: int(token.withdrawableDividendsOf(h)) for h in holders}
        gateway = cast.start_gateway(plan.operator)
        console.print(f"gateway up at {gateway.url}, serving the latest generation of every job")
        revenue = Revenue(gateway.url)
        users = [accounts.test_accounts[i] for i in plan.users]
        clients = []
        for user, count in zip(users, plan.requests, strict=True):
            billing.deposit(sender=user, value=DEPOSIT)
            client = GatewayClient.connect(gateway.url, user, billing=billing)
            name = names[user.address]
            for job_id, skill in jobs.items():
                for _ in range(count):
                    answer = _request(client, job_id, skill, len(revenue.samples))
                    revenue.samples.append({"user": name, "job": job_id, **answer})
            revenue.requests[name] = count * len(jobs)
            clients.append((name, user, client))
            console.print(
                f"{name} paid for {count * len(jobs)} requests ({client.cumulative_amount} wei signed)"
            )
        deadline = time.monotonic() + SETTLE_TIMEOUT_S
        for name, user, client in clients:
            while (
                int(billing.redeemed(user.address, gateway_address := client.gateway))
                < client.cumulative_amount
            ):
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"the gateway did not settle {name}'s vouchers in {SETTLE_TIMEOUT_S:.0f} s"
                    )
                time.sleep(0.5)
            revenue.paid[name] = int(billing.redeemed(user.address, gateway_address))
        console.print(f"gateway settled {revenue.total} wei of revenue on chain")
        revenue.supply = int(token.totalSupply())
        for holder in holders:
            owed = int(token.withdrawableDividendsOf(holder))
            revenue.dividends[names[holder]] = owed - before[holder]
            if owed:
                receipt = token.claimDividends(sender=accounts[holder])
                revenue.claimed[names[holder]] = sum(
                    int(e.amount) for e in receipt.events.filter(token.DividendsClaimed)
                )
            revenue.unclaimed_after[names[holder]] = int(token.withdrawableDividendsOf(holder))
        console.print(
            f"{len(revenue.claimed)} holders claimed {sum(revenue.claimed.values())} wei of dividends"
        )
    return revenue


def _request(client: GatewayClient, job_id: int, skill: str, index: int) -> dict[str, Any]:
    if skill == "vision":
        test = get_skill("vision").load_data().test
        pixels = (test.inputs[index] * 16).round().tolist()
        answer = client.classify(job_id, pixels, generation="latest")
        return {
            "generation": answer["generation"],
            "label": answer["label"],
            "truth": int(test.targets[index]),
        }
    prompt = PROMPTS[index % len(PROMPTS)]
    answer = client.complete(job_id, prompt, 24, generation="latest")
    return {"generation": answer["generation"], "prompt": prompt, "completion": answer["completion"]}


def digit(index: int) -> tuple[list[float], int]:
    """Test image `index` of the vision skill as pixel intensities 0..16, and its label."""
    test = get_skill("vision").load_data().test
    return (test.inputs[index] * 16).round().tolist(), int(test.targets[index])
