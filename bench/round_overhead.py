"""Benchmark (issue 5): wall time per round of our network against Flower, same job, same accuracy.

Run ``.venv/bin/python -m bench.round_overhead`` from the repository root. One run does both sides:

1. **Ours**: a fresh anvil and IPFS daemon, the contracts deployed, a 4-slot "vision" job (sklearn digits
   MLP, FedAvg, the agent tests' hyper-parameters) created with ``aoai job create``, then 4 honest
   trainers, 2 verifiers and 1 aggregator as separate processes (the machinery of ``tests/agents``) for
   ``ROUNDS`` rounds. The bench follows the chain's new heads (a WebSocket subscription) and stamps each
   event with the wall time it was first seen; a round is RoundOpened -> RoundFinalized, split into
   phases by the last event of each kind. Accuracy is the chain's GenerationRecorded metric (test split).
2. **Flower**: ``flwr.client.NumPyClient`` + ``flwr.server.strategy.FedAvg`` (flwr 1.41.0) driven in
   process, round by round, under ``.venv-flower`` (Flower cannot be installed next to ape). The clients
   train exactly what our trainers trained: the same initial weights, and in each round the same
   (shard, seed) pairs that the chain's task seed assigned to our 4 trainers, with the repository's
   ``train_locally``; FedAvg weights by shard size as our aggregator does. A Flower round = the 4 fits
   (sequential, one process), ``aggregate_fit`` and a test-set evaluation; it has no transport (no gRPC,
   no serialization to the wire, no process start-up) — a lower bound of what any deployment costs.

This file is also the Flower worker (``--flower-worker FILE``), run under ``.venv-flower``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
FLOWER_PYTHON = ROOT / ".venv-flower" / "bin" / "python"
RESULTS = ROOT / "bench" / "results"
ROUNDS = 5
TRAINERS = (1, 2, 3, 4)
VERIFIERS = (5, 6)
AGGREGATOR = 7
IDLE_VERIFIER = 8
IDLE_SETTLE_S, IDLE_MEASURE_S = 3.0, 20.0
HALT_CHECK_S = 0.5
AGENT_TIMEOUT_S = 900
# Phase boundaries inside a round, in protocol order: (label, event whose last occurrence ends it).
PHASES = (
    ("claims", "SlotClaimed"),
    ("train + IPFS upload + commit", "UpdateCommitted"),
    ("reveal", "UpdateRevealed"),
    ("verification (fetch, replay, attest)", "UpdatesAttested"),
    ("aggregation + proposal", "GenerationProposed"),
    ("proposal attestation + finalize", "RoundFinalized"),
)


# ------------------------------------------------------------------------------------------ Flower


def flower_worker(path: Path) -> None:
    """Runs the job with Flower's NumPyClient and FedAvg; prints per-round timings and accuracy as JSON."""
    sys.path.insert(0, str(ROOT))
    import numpy as np
    import torch
    from flwr.client import NumPyClient
    from flwr.common import Code, FitRes, Status, ndarrays_to_parameters, parameters_to_ndarrays
    from flwr.server.strategy import FedAvg

    from agents.learning.evaluation import evaluate_state
    from agents.learning.sharding import shard
    from agents.learning.skills.registry import get_skill, initial_state
    from agents.learning.training import deterministic_torch, train_locally

    job = json.loads(path.read_text())
    torch.set_num_threads(1)
    skill = get_skill("vision")
    model_config = skill.default_config
    hp = skill.default_hyperparams.with_(**job["hyperparams"])
    splits = skill.load_data()
    names = list(initial_state(skill, model_config, job["init_seed"]))

    def to_state(arrays: list[np.ndarray]) -> dict[str, torch.Tensor]:
        return {n: torch.from_numpy(np.array(a)) for n, a in zip(names, arrays, strict=True)}

    class Client(NumPyClient):
        def __init__(self, shard_index: int, seed: int) -> None:
            self.data = shard(splits.train, job["shard_count"], shard_index, job["shard_seed"], None)
            self.seed = seed

        def fit(self, parameters: list[np.ndarray], config: dict[str, Any]) -> Any:
            with deterministic_torch():
                result = train_locally(skill, model_config, to_state(parameters), self.data, self.seed, hp)
            return [result.state[n].numpy() for n in names], len(self.data), {}

    strategy = FedAvg()
    state = initial_state(skill, model_config, job["init_seed"])
    parameters = ndarrays_to_parameters([state[n].numpy() for n in names])
    rounds = []
    for number, tasks in enumerate(job["tasks"], start=1):
        began = time.perf_counter()
        results = []
        fit_s = 0.0
        for shard_index, seed in tasks:
            client = Client(shard_index, int(seed))
            t0 = time.perf_counter()
            arrays, n, metrics = client.fit(parameters_to_ndarrays(parameters), {})
            fit_s += time.perf_counter() - t0
            fit = FitRes(Status(Code.OK, ""), ndarrays_to_parameters(arrays), n, metrics)
            results.append((None, fit))
        t0 = time.perf_counter()
        aggregated, _ = strategy.aggregate_fit(number, results, [])
        aggregate_s = time.perf_counter() - t0
        assert aggregated is not None
        parameters = aggregated
        t0 = time.perf_counter()
        accuracy = evaluate_state(
            skill, model_config, to_state(parameters_to_ndarrays(parameters)), splits.test
        )["accuracy"]
        eval_s = time.perf_counter() - t0
        rounds.append(
            {
                "round": number,
                "wall_s": time.perf_counter() - began,
                "fit_s": fit_s,
                "aggregate_s": aggregate_s,
                "eval_s": eval_s,
                "accuracy": accuracy,
            }
        )
    print(json.dumps({"rounds": rounds}))


def run_flower(job: dict[str, Any]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "job.json"
        path.write_text(json.dumps(job))
        out = subprocess.run(
            [str(FLOWER_PYTHON), __file__, "--flower-worker", str(path)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
            timeout=900,
        )
    if out.returncode != 0:
        sys.exit(f"Flower worker failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------------------------------ ours


class Stamper(threading.Thread):
    """Follows the chain's new heads and stamps every event with the wall time it was first seen."""

    def __init__(self, reader: Any, rpc_url: str) -> None:
        super().__init__(daemon=True)
        from agents.chain.heads import HeadWatch, websocket_url
        from agents.node.events import LogCursor

        contracts = [(reader.addresses[n], reader.types[n]) for n in reader.addresses if n in reader.types]
        self.cursor = LogCursor(reader.web3, contracts, 0)
        self.heads = HeadWatch(reader.web3, websocket_url(rpc_url))
        self.seen: list[tuple[float, Any]] = []
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.is_set():
            self.poll()
            self.heads.wait_beyond(self.cursor.next_block - 1, HALT_CHECK_S)
        self.heads.close()

    def poll(self) -> None:
        events = self.cursor.poll()
        now = time.perf_counter()
        self.seen += [(now, e) for e in events]


def run_ours(logs: Path) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT / "tests" / "agents"))
    from agent_helpers import HYPERPARAMS, Reader, address, genesis_metric, job_spec, new_job  # type: ignore[import-not-found]
    from conftest import Net  # type: ignore[import-not-found]

    from agents.devnet.network import deploy
    from agents.devnet.services import Anvil, IpfsDaemon, free_port
    from agents.node.work import Task

    home = Path(tempfile.mkdtemp(prefix="aoai-bench-home-"))
    os.environ["AOAI_HOME"] = str(home)
    ipfs = IpfsDaemon(workdir=Path(tempfile.mkdtemp(prefix="aoai-bench-ipfs-")), api_port=free_port())
    with Anvil() as anvil, ipfs:
        deploy(anvil.url)
        net = Net(anvil, ipfs, home, logs)
        try:
            reader = Reader(anvil.url, home)
            stamper = Stamper(reader, anvil.url)
            stamper.poll()
            job = new_job(net, slots=len(TRAINERS))
            common = ["--job", str(job), "--rounds", str(ROUNDS)]
            started = time.perf_counter()
            procs = [
                net.agent(f"trainer{i}", "worker", "start", "--account", f"TEST::{i}", *common)
                for i in TRAINERS
            ]
            procs += [
                net.agent(f"verifier{i}", "verifier", "start", "--account", f"TEST::{i}", *common)
                for i in VERIFIERS
            ]
            procs.append(
                net.agent("aggregator", "aggregator", "start", "--account", f"TEST::{AGGREGATOR}", *common)
            )
            stamper.start()
            net.wait(procs, timeout=AGENT_TIMEOUT_S)
            done = time.perf_counter()
            stamper.halt.set()
            stamper.join()
            stamper.poll()
            shard_count = int(job_spec(len(TRAINERS))["shardCount"])
            idle = idle_cpu(net, job)
        finally:
            net.stop_all()
    ours = analyse(stamper.seen, job, started, done, HYPERPARAMS, shard_count, address, Task)
    ours["genesis_accuracy"] = genesis_metric()
    ours["idle_agent_cpu_percent"] = idle
    return ours


def idle_cpu(net: Any, job: int) -> float:
    """CPU share (% of one core) of a verifier waiting on the job's next round, which no trainer joins."""
    proc = net.agent(
        "idle-verifier", "verifier", "start", "--account", f"TEST::{IDLE_VERIFIER}", "--job", str(job)
    )
    deadline = time.monotonic() + AGENT_TIMEOUT_S
    while "stake" not in net.log("idle-verifier"):  # started: staked, or found its stake in place
        if proc.poll() is not None or time.monotonic() > deadline:
            sys.exit(f"the idle verifier did not start:\n{net.log('idle-verifier')}")
        time.sleep(0.5)
    time.sleep(IDLE_SETTLE_S)
    ticks = os.sysconf("SC_CLK_TCK")

    def cpu_s() -> float:
        fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / ticks  # utime + stime

    before, t0 = cpu_s(), time.perf_counter()
    time.sleep(IDLE_MEASURE_S)
    return 100 * (cpu_s() - before) / (time.perf_counter() - t0)


def analyse(
    seen: list[tuple[float, Any]],
    job: int,
    started: float,
    done: float,
    hyperparams: dict[str, Any],
    shard_count: int,
    address: Any,
    task: Any,
) -> dict[str, Any]:
    opened = {
        e.args["roundId"]: (t, e) for t, e in seen if e.name == "RoundOpened" and e.args["jobId"] == job
    }
    order = sorted(opened, key=lambda r: opened[r][0])[:ROUNDS]
    accuracy = {
        e.args["number"]: e.args["metrics"][0] / 1e6
        for _, e in seen
        if e.name == "GenerationRecorded" and e.args["jobId"] == job and e.args["metrics"]
    }
    trainers = [address(i) for i in TRAINERS]
    rounds, tasks = [], []
    for number, round_id in enumerate(order, start=1):
        t_open, ev = opened[round_id]
        seed = ev.args["taskSeed"]
        tasks.append([(t.shard, str(t.seed)) for t in (task.of(seed, a, shard_count) for a in trainers)])
        mine = [(t, e) for t, e in seen if e.args.get("roundId") == round_id]
        last = {}
        for t, e in mine:
            last[e.name] = t - t_open
        phases, previous = {}, 0.0
        for label, name in PHASES:
            end = last.get(name)
            if end is None:
                continue
            phases[label] = end - previous
            previous = end
        wall = last.get("RoundFinalized")
        # Round 1 opened at job creation, before the agents were started: count it from their start.
        start_offset = max(0.0, started - t_open) if number == 1 else 0.0
        rounds.append(
            {
                "round": number,
                "wall_s": None if wall is None else wall - start_offset,
                "includes_agent_startup": number == 1,
                "phases_s": phases,
                "accuracy": accuracy.get(number),
                "events_last_seen_s": dict(sorted(last.items(), key=lambda kv: kv[1])),
            }
        )
    return {
        "job": job,
        "agents_wall_s": done - started,
        "rounds": rounds,
        "tasks": tasks,
        "genesis_accuracy": accuracy.get(0),
        "hyperparams": hyperparams,
        "shard_count": shard_count,
    }


# ------------------------------------------------------------------------------------------ report


def mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else float("nan")


def main() -> None:
    from rich.console import Console
    from rich.table import Table

    from bench.common import Target, report

    console = Console()
    if not FLOWER_PYTHON.exists():
        sys.exit(f"missing {FLOWER_PYTHON}: see bench/requirements-flower.txt")
    logs = Path(tempfile.mkdtemp(prefix="aoai-bench-logs-"))
    console.print(f"ours: {len(TRAINERS)} trainers, {len(VERIFIERS)} verifiers, 1 aggregator; logs in {logs}")
    ours = run_ours(logs)
    console.print("flower: NumPyClient + FedAvg in process, same (shard, seed) per client and round")
    flower = run_flower(
        {
            "hyperparams": ours["hyperparams"],
            "tasks": ours["tasks"],
            "shard_count": ours["shard_count"],
            "shard_seed": 0,
            "init_seed": 0,
        }
    )["rounds"]

    table = Table(title="round wall time and test accuracy: ours (anvil + IPFS, 7 processes) vs Flower")
    for column in ("round", "ours s", "Flower s", "ratio", "ours acc", "Flower acc"):
        table.add_column(column, justify="right")
    for o, f in zip(ours["rounds"], flower, strict=True):
        ratio = o["wall_s"] / f["wall_s"] if o["wall_s"] else float("nan")
        note = " (incl. agent start-up)" if o["includes_agent_startup"] else ""
        table.add_row(
            f"{o['round']}{note}",
            f"{o['wall_s']:.2f}",
            f"{f['wall_s']:.2f}",
            f"{ratio:.1f}x",
            f"{o['accuracy']:.4f}",
            f"{f['accuracy']:.4f}",
        )
    console.print(table)

    phases = Table(
        title="where our round time goes (s, from RoundOpened, events stamped as their block arrives)"
    )
    phases.add_column("phase")
    for o in ours["rounds"]:
        phases.add_column(f"round {o['round']}", justify="right")
    for label, _ in PHASES:
        phases.add_row(label, *(f"{o['phases_s'].get(label, float('nan')):.2f}" for o in ours["rounds"]))
    phases.add_row("Flower: 4 fits (sequential)", *(f"{f['fit_s']:.2f}" for f in flower))
    phases.add_row("Flower: aggregate_fit + eval", *(f"{f['aggregate_s'] + f['eval_s']:.3f}" for f in flower))
    console.print(phases)

    steady = [o["wall_s"] for o in ours["rounds"][1:]]
    steady_flower = [f["wall_s"] for f in flower[1:]]
    ours_round = mean(steady)
    flower_round = mean(steady_flower)
    ratio = ours_round / flower_round
    all_ratio = mean([o["wall_s"] for o in ours["rounds"]]) / mean([f["wall_s"] for f in flower])
    gap = abs(ours["rounds"][-1]["accuracy"] - flower[-1]["accuracy"]) * 100
    figures = {
        "rounds": ROUNDS,
        "trainers": len(TRAINERS),
        "verifiers": len(VERIFIERS),
        "aggregators": 1,
        "hyperparams": ours["hyperparams"],
        "ours_round_s_steady": ours_round,
        "flower_round_s_steady": flower_round,
        "ratio_steady": ratio,
        "ratio_all_rounds_incl_startup": all_ratio,
        "ours_agents_wall_s": ours["agents_wall_s"],
        "idle_agent_cpu_percent": ours["idle_agent_cpu_percent"],
        "load_average_1_5_15": list(os.getloadavg()),
        "ours_final_accuracy": ours["rounds"][-1]["accuracy"],
        "flower_final_accuracy": flower[-1]["accuracy"],
        "genesis_accuracy": ours["genesis_accuracy"],
        "ours_rounds": ours["rounds"],
        "flower_rounds": flower,
        "tasks": ours["tasks"],
        "flower_baseline": (
            "flwr 1.41.0 NumPyClient.fit + FedAvg.aggregate_fit driven in one process (no simulation engine, "
            "no gRPC, no process start-up), clients run sequentially; same initial weights, same "
            "(shard, seed) per client and round as our trainers, same train_locally and test split"
        ),
        "ours_includes": (
            "7 agent processes on 2 cores, anvil automine, js-ipfs; agents wake on new blocks (newHeads); "
            "round 1 counted from agent start (includes process start-up), steady = rounds 2.."
        ),
    }
    targets = [
        Target("our round / Flower round (steady, x)", ratio, "<=", 1.5),
        Target("final accuracy gap (points)", gap, "<=", 1.0),
    ]
    report("round_overhead", figures, targets, console)
    write_markdown(ours["rounds"], flower, figures, targets)


def write_markdown(
    ours: list[dict[str, Any]], flower: list[dict[str, Any]], figures: dict, targets: list
) -> None:
    lines = [
        "# Round overhead: ours vs Flower",
        "",
        f"Vision job (digits MLP, FedAvg), {figures['trainers']} trainers, {figures['verifiers']} verifiers, "
        f"1 aggregator, {figures['rounds']} rounds, hyper-parameters {json.dumps(figures['hyperparams'])}.",
        "",
        "| round | ours (s) | Flower (s) | ratio | ours acc | Flower acc |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for o, f in zip(ours, flower, strict=True):
        note = " (incl. agent start-up)" if o["includes_agent_startup"] else ""
        lines.append(
            f"| {o['round']}{note} | {o['wall_s']:.2f} | {f['wall_s']:.2f} "
            f"| {o['wall_s'] / f['wall_s']:.1f}x | {o['accuracy']:.4f} | {f['accuracy']:.4f} |"
        )
    lines += ["", "Where our round goes (s, RoundOpened to the last event of each kind):", ""]
    lines += ["| phase | " + " | ".join(f"round {o['round']}" for o in ours) + " |"]
    lines += ["|---|" + "---:|" * len(ours)]
    for label, _ in PHASES:
        lines.append(
            f"| {label} | " + " | ".join(f"{o['phases_s'].get(label, float('nan')):.2f}" for o in ours) + " |"
        )
    lines += ["", "| target | value | bound | met |", "|---|---:|---:|---|"]
    for t in targets:
        lines.append(f"| {t.what} | {t.value:.3g} | {t.op} {t.bound:g} | {'yes' if t.met else 'no'} |")
    lines += [
        "",
        f"Flower baseline: {figures['flower_baseline']}.",
        f"Ours: {figures['ours_includes']}.",
        "",
        f"An idle agent (a verifier waiting for a round no trainer joins) uses "
        f"{figures['idle_agent_cpu_percent']:.1f}% of one core. Load average (1, 5, 15 min) at the end "
        f"of the run: {', '.join(f'{x:.1f}' for x in figures['load_average_1_5_15'])} on 2 cores.",
        "",
    ]
    (RESULTS / "round_overhead.md").write_text("\n".join(lines))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--flower-worker":
        flower_worker(Path(sys.argv[2]))
    else:
        main()
