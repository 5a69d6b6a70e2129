"""The demo from start to end: network, jobs, agents, rounds with live progress, revenue, report; and
every process stopped on the way out (also on Ctrl-C or SIGTERM), unless asked to keep running."""

from __future__ import annotations

import time
from pathlib import Path
from statistics import mean

from rich.console import Console
from rich.live import Live

from agents.chain.connection import connected
from agents.demo import report
from agents.demo.cast import Cast, raise_on_sigterm
from agents.demo.plan import JOB_SETTINGS, Plan
from agents.demo.progress import Progress
from agents.demo.revenue import PROMPTS, digit, earn_and_share
from agents.devnet.reader import Reader, dev_account_address
from agents.node.protocol import VERIFIER
from agents.node.store import Store

POLL_S = 0.5
AGENT_GRACE_S = 120.0  # agents given --rounds stop by themselves once their last round is settled
ROUND_TIMEOUT_S = 600.0  # no round closed for this long: something is stuck
STAKE_TIMEOUT_S = 300.0  # agents on a busy 2-core machine take tens of seconds to start


class DemoError(RuntimeError):
    """The demo could not go on (an agent failed, or the network is stuck); says where the logs are."""


def run(plan: Plan, console: Console) -> Path:
    """Runs the whole demo; returns the path of report.md."""
    from ape.logging import LogLevel, logger

    logger.set_level(LogLevel.WARNING)  # not a line per transaction of this process (job creation, claims)
    began = time.monotonic()
    plan.out.mkdir(parents=True, exist_ok=True)
    cast = Cast(plan.out / "run")
    raise_on_sigterm()
    keep = False
    try:
        with console.status("starting anvil and IPFS, deploying the contracts with `ape run deploy`"):
            cast.start_network(plan.operator, plan.operator)
        console.print(
            f"chain {cast.anvil.url}, IPFS API {cast.ipfs.api_multiaddr}; agents' logs in {cast.logs}"
        )
        names = {dev_account_address(i): name for i, name in plan.roles().items()}
        jobs = create_jobs(cast, plan)
        store = Store(cast.ipfs.api_multiaddr)
        progress = Progress(Reader(cast.anvil.url, cast.home), store, names, console)
        start_agents(cast, plan, progress.reader, list(jobs))
        run_rounds(cast, plan, progress, console)
        revenue = earn_and_share(cast, plan, jobs, names, console)
        data = report.collect(
            Reader(cast.anvil.url, cast.home), store, progress, revenue, time.monotonic() - began
        )
        path = report.write(plan.out, data)
        summarize(data, console)
        console.print(f"report: [bold]{path}[/] (data in report.json, plot in metrics.png)")
        if plan.keep_running:
            keep = True
            show_handles(cast, plan, jobs, console)
        return path
    finally:
        if not keep:
            with console.status("stopping every process the demo started"):
                cast.stop()
            console.print("every process stopped")


def create_jobs(cast: Cast, plan: Plan) -> dict[int, str]:
    """Creates and starts one job per skill as the operator (like `aoai job create`); job id -> skill."""
    from agents.node.accounts import load_account
    from agents.node.jobs import create_job
    from agents.node.protocol import Chain

    jobs = {}
    with connected(cast.network):
        chain = Chain(load_account(f"TEST::{plan.operator}"))
        store = Store(cast.ipfs.api_multiaddr)
        for skill in plan.jobs:
            hyperparams = JOB_SETTINGS[skill]["hyperparams"]
            job_id, _ = create_job(chain, store, skill, hyperparams, overrides=plan.job_spec(skill))
            jobs[job_id] = skill
    return jobs


def start_agents(cast: Cast, plan: Plan, reader: Reader, jobs: list[int]) -> None:
    """Verifiers and the aggregator, each its own process; once every verifier has staked (so that a
    dispute always finds a panel), the trainers (the last `attackers` lazy)."""
    rounds = ["--rounds", str(plan.rounds)] if plan.rounds else []
    names = plan.roles()
    for i in plan.verifier_accounts:
        cast.start_agent(names[i], "verifier", "start", "--account", f"TEST::{i}", *rounds)
    cast.start_agent("aggregator", "aggregator", "start", "--account", f"TEST::{plan.aggregator}", *rounds)
    wait_for_stakes(cast, reader, jobs, {names[i]: dev_account_address(i) for i in plan.verifier_accounts})
    for i in plan.trainer_accounts:
        cheat = ["--behaviour", "lazy"] if i in plan.attacker_accounts else []
        cast.start_agent(
            names[i], "worker", "start", "--account", f"TEST::{i}", "--job", "auto", *cheat, *rounds
        )


def wait_for_stakes(cast: Cast, reader: Reader, jobs: list[int], verifiers: dict[str, str]) -> None:
    """Blocks until each of ``verifiers`` (name: address) has on chain the verifier stake every job asks
    for, so that it is eligible for dispute panels."""
    required = max(int(reader.job(j)["verifierStake"]) for j in jobs)
    give_up = time.monotonic() + STAKE_TIMEOUT_S
    waiting = dict(verifiers)
    while waiting:
        if failed := cast.failed_agents():
            raise DemoError(f"agents failed: {failed}; see their logs in {cast.logs}")
        if time.monotonic() > give_up:
            raise DemoError(f"{sorted(waiting)} not staked in {STAKE_TIMEOUT_S:.0f} s; logs in {cast.logs}")
        waiting = {
            name: address
            for name, address in waiting.items()
            if int(reader.call("StakeManager", "activeStakeOf", address, VERIFIER)) < required
        }
        time.sleep(POLL_S)


def run_rounds(cast: Cast, plan: Plan, progress: Progress, console: Console) -> None:
    """Shows live progress until every job closed `plan.rounds` rounds, or until the time budget would be
    overrun by one more round of each job; then stops the agents."""
    budget_end = time.monotonic() + plan.minutes * 60
    last_close = time.monotonic()
    closed = 0
    with Live(progress.table(), console=console, refresh_per_second=2) as live:
        while True:
            progress.poll()
            live.update(progress.table())
            if failed := cast.failed_agents():
                raise DemoError(f"agents failed: {failed}; see their logs in {cast.logs}")
            now = time.monotonic()
            total = sum(j.closed for j in progress.jobs.values())
            if total != closed:
                closed, last_close = total, now
            elif now - last_close > ROUND_TIMEOUT_S:
                raise DemoError(
                    f"no round closed in {ROUND_TIMEOUT_S:.0f} s; see the agents' logs in {cast.logs}"
                )
            if progress.jobs and all(_job_done(job, plan, now, budget_end) for job in progress.jobs.values()):
                break
            time.sleep(POLL_S)
        if plan.rounds:  # the agents were told: let them finish settling (verifier rewards) on their own
            give_up = time.monotonic() + AGENT_GRACE_S
            while any(p.poll() is None for p in cast.agents.values()) and time.monotonic() < give_up:
                progress.poll()
                live.update(progress.table())
                time.sleep(POLL_S)
    cast.stop_agents()


def _job_done(job: object, plan: Plan, now: float, budget_end: float) -> bool:
    from agents.demo.progress import JobView

    assert isinstance(job, JobView)
    if plan.rounds:
        return job.closed >= plan.rounds
    return job.closed >= 1 and job.opened_at + mean(job.durations) > budget_end


def summarize(data: dict[str, object], console: Console) -> None:
    from rich.table import Table

    table = Table(title="what happened")
    for column in ("job", "generations", "metric, first -> last"):
        table.add_column(column)
    for job in data["jobs"]:  # type: ignore[attr-defined]
        first, last = job["generations"][0], job["generations"][-1]
        metric = job["metric"]
        table.add_row(
            f"{job['id']} {job['skill']}",
            str(last["number"]),
            f"{metric} {first['metrics'][metric]:.4f} -> {last['metrics'][metric]:.4f}",
        )
    console.print(table)


def show_handles(cast: Cast, plan: Plan, jobs: dict[int, str], console: Console) -> None:
    """What is left running, how to use it, and how to stop it."""
    network, gateway = cast.network, cast.gateway.url if cast.gateway else "-"
    job_id, skill = next(iter(jobs.items()))
    example = ",".join(str(round(p)) for p in digit(0)[0]) if skill == "vision" else PROMPTS[0]
    pids = " ".join(str(pid) for pid in cast.pids())
    console.print(
        "[bold]left running[/] (--keep-running):\n"
        f"  chain {cast.anvil.url}\n  IPFS API {cast.ipfs.api_multiaddr}\n  gateway {gateway}\n"
        "try it (from this folder):\n"
        f"  export AOAI_HOME={cast.home}\n"
        f"  aoai info --network {network}\n"
        f"  aoai stats --network {network}\n"
        f"  aoai leaderboard --network {network}\n"
        f"  aoai wallet balance {dev_account_address(plan.trainer_accounts[0])} --network {network}\n"
        f"  aoai api call --account TEST::{plan.users[0]} --network {network} --gateway {gateway} "
        f"--job {job_id} --input '{example}'\n"
        f"stop it: kill -TERM -- -PID for each PID of {pids} (anvil, IPFS, gateway: process groups)",
        highlight=False,
        soft_wrap=True,
    )
