"""Benchmark (issue 5): wall time per round of our network against Flower, same job, same accuracy.

Run ``.venv/bin/python -m bench.round_overhead`` from the repository root. One run does both sides:

1. **Ours**: a fresh anvil and IPFS daemon, the contracts deployed, a 4-slot "vision" job (sklearn digits
   MLP, FedAvg) created with ``aoai job create``, then 4 honest trainers, 2 verifiers and 1 aggregator as
   separate processes (the machinery of ``tests/agents``) for ``ROUNDS`` rounds. The bench follows the
   chain's new heads (a WebSocket subscription) and stamps each event with the wall time it was first
   seen; a round is RoundOpened -> RoundFinalized, split into phases by the last event of each kind.
   Accuracy is the chain's GenerationRecorded metric (test split).
2. **Flower** (flwr 1.41.0 under ``.venv-flower``, which cannot share ape's venv), the same work, two
   ways (``bench/flower_rounds.py``): its Simulation Engine, the peer the target is set against, and a
   plain in-process loop, a lower bound of any Flower deployment.

Each side runs every workload of :func:`workloads`: the agent tests' light job, where the protocol's fixed
cost dominates; one that trains ten times longer on traces so short that verifiers replay all of them; and
one that trains a hundred times longer on 100-segment traces, where verifiers spot-check 36 segments.
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
sys.path.insert(0, str(ROOT / "tests" / "agents"))  # agent_helpers and the Net harness of tests/agents
FLOWER_PYTHON = ROOT / ".venv-flower" / "bin" / "python"
RESULTS = ROOT / "bench" / "results"
ROUNDS = {"light": 20, "heavy": 20, "long": 5}
"""Rounds per run: enough that a few slow rounds on a shared machine do not decide the short workloads."""
REPEATS = 2
"""Each workload runs ours then Flower, twice over: this machine's speed drifts over minutes, and taking
turns puts both sides through the same drift."""
TRAINERS = (1, 2, 3, 4)
VERIFIERS = (5, 6)
AGGREGATOR = 7
IDLE_VERIFIER = 8
CORES = os.cpu_count() or 1
IDLE_SETTLE_S, IDLE_MEASURE_S = 3.0, 20.0
HALT_CHECK_S = 0.5
AGENT_TIMEOUT_S = 900
# Phase boundaries inside a round, in protocol order: (label, event whose last occurrence ends it). The
# aggregation is proposed and attested early, beside the last replays, and the last update's attestation
# finalizes (docs/protocol.md, change 13): after the last submission, the round waits for one transaction.
PHASES = (
    ("train + IPFS upload + submission", "UpdateRevealed"),  # trainers submit in the open: no reveal step
    ("verification (fetch, replay, attest + finalize)", "RoundFinalized"),
)
BESIDE = ("beside it: aggregation + early proposal", "UpdateRevealed", "GenerationProposed")
"""Measured from the last submission, inside the verification phase."""


# ------------------------------------------------------------------------------------------ Flower


def run_flower(mode: str, job: dict[str, Any]) -> list[dict[str, Any]]:
    """Flower's rounds of ``job`` (``bench/flower_rounds.py`` under ``.venv-flower``, ``mode`` as there)."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "job.json"
        path.write_text(json.dumps(job))
        out = subprocess.run(
            [str(FLOWER_PYTHON), str(ROOT / "bench" / "flower_rounds.py"), mode, str(path)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
            timeout=900,
        )
    if out.returncode != 0:
        sys.exit(f"Flower ({mode}) failed:\n{out.stderr}")
    return list(json.loads(out.stdout.strip().splitlines()[-1])["rounds"])


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
        self.groups: dict[str, list[int]] = {}
        self.cpu_marks: list[tuple[float, dict[str, float]]] = []  # at each RoundFinalized

    def run(self) -> None:
        while not self.halt.is_set():
            self.poll()
            self.heads.wait_beyond(self.cursor.next_block - 1, HALT_CHECK_S)
        self.heads.close()

    def poll(self) -> None:
        events = self.cursor.poll()
        now = time.perf_counter()
        self.seen += [(now, e) for e in events]
        if self.groups and any(e.name == "RoundFinalized" for e in events):
            self.cpu_marks.append((now, {g: cpu_seconds(pids) for g, pids in self.groups.items()}))


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of the processes ``pids`` and their descendants (those still alive)."""
    import psutil

    total = 0.0
    for pid in pids:
        try:
            root = psutil.Process(pid)
            for proc in [root, *root.children(recursive=True)]:
                times = proc.cpu_times()
                total += times.user + times.system
        except psutil.NoSuchProcess:
            continue
    return total


def cpu_per_round(marks: list[tuple[float, dict[str, float]]]) -> dict[str, float]:
    """CPU seconds per steady round by group: from round 1's finalization to the last but one (at the
    last, agents start to exit and their CPU time goes with them)."""
    kept = marks[:-1]
    (_, first), (_, last) = kept[0], kept[-1]
    return {group: (last[group] - first[group]) / (len(kept) - 1) for group in first}


def workloads() -> dict[str, dict[str, Any]]:
    """The workloads by name: the agent tests' job, "light" (0.03 s of training per client and round);
    "heavy", 10x longer per round with segments 10x longer, so verifiers still replay all 4 per update;
    "long", 100x longer with 100 segments, of which spot checks replay 36 (10% faking caught with
    p >= 0.99)."""
    from agent_helpers import HYPERPARAMS  # type: ignore[import-not-found]

    return {
        "light": HYPERPARAMS,
        "heavy": {**HYPERPARAMS, "local_steps": 200, "checkpoint_every": 50, "lr": 0.02},
        "long": {**HYPERPARAMS, "local_steps": 2000, "checkpoint_every": 20, "lr": 0.02},
    }


def run_ours(logs: Path, hyperparams: dict[str, Any], rounds: int, measure_idle: bool) -> dict[str, Any]:
    from agent_helpers import Reader, address, genesis_metric, job_spec, new_job  # type: ignore[import-not-found]
    from conftest import Net  # type: ignore[import-not-found]

    from agents.devnet.network import deploy
    from agents.devnet.services import NETWORK_BLOCK_TIME_S, Anvil, IpfsDaemon, free_port
    from agents.node.work import Task

    home = Path(tempfile.mkdtemp(prefix="aoai-bench-home-"))
    os.environ["AOAI_HOME"] = str(home)
    ipfs = IpfsDaemon(workdir=Path(tempfile.mkdtemp(prefix="aoai-bench-ipfs-")), api_port=free_port())
    with Anvil(block_time=NETWORK_BLOCK_TIME_S) as anvil, ipfs:
        deploy(anvil.url)
        net = Net(anvil, ipfs, home, logs)
        try:
            reader = Reader(anvil.url, home)
            stamper = Stamper(reader, anvil.url)
            stamper.poll()
            job = new_job(net, slots=len(TRAINERS), hyperparams=hyperparams)
            common = ["--job", str(job), "--rounds", str(rounds)]
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
            stamper.groups = {
                "trainers": [p.pid for p in procs[: len(TRAINERS)]],
                "verifiers": [p.pid for p in procs[len(TRAINERS) : -1]],
                "aggregator": [procs[-1].pid],
                "anvil": [anvil.pid] if anvil.pid else [],
                "IPFS daemon": [ipfs.pid] if ipfs.pid else [],
            }
            stamper.start()
            net.wait(procs, timeout=AGENT_TIMEOUT_S)
            done = time.perf_counter()
            stamper.halt.set()
            stamper.join()
            stamper.poll()
            shard_count = int(job_spec(len(TRAINERS))["shardCount"])
            idle = idle_cpu(net, job) if measure_idle else None
        finally:
            net.stop_all()
    ours = analyse(stamper.seen, job, rounds, started, done, hyperparams, shard_count, address, Task)
    ours["cpu_s_per_round"] = cpu_per_round(stamper.cpu_marks)
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
    count: int,
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
    order = sorted(opened, key=lambda r: opened[r][0])[:count]
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
            ended = last.get(name)
            if ended is None:
                continue
            phases[label] = ended - previous
            previous = ended
        label, start, end = BESIDE
        if start in last and end in last:
            phases[label] = last[end] - last[start]
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


def steady(rounds: list[dict[str, Any]]) -> float:
    """Mean wall time of rounds 2.. (round 1 includes start-up on both sides)."""
    return mean([r["wall_s"] for r in rounds[1:]])


def steady_phases(rounds: list[dict[str, Any]]) -> dict[str, float]:
    """Mean seconds of each phase over rounds 2.."""
    return {
        label: mean([r["phases_s"][label] for r in rounds[1:] if label in r["phases_s"]])
        for label in [*(label for label, _ in PHASES), BESIDE[0]]
    }


def run_pair(name: str, hyperparams: dict[str, Any], repeat: int, logs: Path) -> dict[str, Any]:
    """Ours, then Flower on the same tasks: one repeat of a workload."""
    folder = logs / f"{name}-{repeat}"
    folder.mkdir()
    ours = run_ours(folder, hyperparams, ROUNDS[name], measure_idle=name == "light" and repeat == 1)
    job = {"hyperparams": hyperparams, "tasks": ours["tasks"], "shard_count": ours["shard_count"],
           "shard_seed": 0, "init_seed": 0}  # fmt: skip
    simulation, loop = run_flower("simulation", job), run_flower("loop", job)
    ours_s, sim_s, loop_s = steady(ours["rounds"]), steady(simulation), steady(loop)
    cpu_s = sum(ours["cpu_s_per_round"].values())
    return {
        "ours_round_s_steady": ours_s,
        "flower_simulation_round_s_steady": sim_s,
        "flower_loop_round_s_steady": loop_s,
        "ratio_to_simulation": ours_s / sim_s,
        "ours_final_accuracy": ours["rounds"][-1]["accuracy"],
        "flower_final_accuracy": simulation[-1]["accuracy"],
        "genesis_accuracy": ours["genesis_accuracy"],
        "idle_agent_cpu_percent": ours["idle_agent_cpu_percent"],
        "cpu_s_per_round": ours["cpu_s_per_round"],
        **cpu_bound(cpu_s, sim_s, loop_s),
        "phases_s_steady": steady_phases(ours["rounds"]),
        "ours_rounds": ours["rounds"],
        "flower_simulation_rounds": simulation,
        "flower_loop_rounds": loop,
        "tasks": ours["tasks"],
    }


def cpu_bound(cpu_s: float, sim_s: float, loop_s: float) -> dict[str, float]:
    """What our CPU per steady round alone implies: the round if every core were kept busy with it, that
    round against Flower's simulated one, and our CPU beyond Flower's loop (one process training the
    same tasks, so about their CPU): what the protocol adds to the training."""
    return {
        "cpu_s_per_round_all": cpu_s,
        "cpu_bound_round_s": cpu_s / CORES,
        "cpu_bound_ratio_to_simulation": cpu_s / CORES / sim_s,
        "cpu_s_beyond_flower_loop": cpu_s - loop_s,
    }


CPU_BOUND_ROWS = (
    ("CPU: all (core-s)", "cpu_s_per_round_all"),
    ("CPU beyond Flower's loop (core-s)", "cpu_s_beyond_flower_loop"),
    (f"round with all {CORES} cores busy (s)", "cpu_bound_round_s"),
    ("that round / Flower simulation round (x)", "cpu_bound_ratio_to_simulation"),
)
"""The rows of :func:`cpu_bound` in the tables: (label, key)."""


def print_pair(name: str, repeat: int, pair: dict[str, Any], console: Any) -> None:
    from rich.table import Table

    table = Table(title=f"{name}, run {repeat}: round wall time (s) and test accuracy")
    for column in ("round", "ours", "Flower sim", "Flower loop", "ours / sim", "ours acc", "Flower acc"):
        table.add_column(column, justify="right")
    rows = zip(pair["ours_rounds"], pair["flower_simulation_rounds"], pair["flower_loop_rounds"], strict=True)
    for o, f, lo in rows:
        note = " (start-up)" if o["includes_agent_startup"] else ""
        table.add_row(
            f"{o['round']}{note}", f"{o['wall_s']:.2f}", f"{f['wall_s']:.2f}", f"{lo['wall_s']:.2f}",
            f"{o['wall_s'] / f['wall_s']:.1f}x", f"{o['accuracy']:.4f}", f"{f['accuracy']:.4f}",
        )  # fmt: skip
    means = (pair[f"{side}_round_s_steady"] for side in ("ours", "flower_simulation", "flower_loop"))
    table.add_row("steady mean", *(f"{m:.3f}" for m in means), f"{pair['ratio_to_simulation']:.2f}x", "", "")
    console.print(table)
    where = Table(title=f"{name}, run {repeat}: where a steady round goes")
    for column in ("phase (RoundOpened to the last event of each kind)", "s"):
        where.add_column(column)
    for label, seconds in pair["phases_s_steady"].items():
        where.add_row(label, f"{seconds:.3f}")
    for group, seconds in pair["cpu_s_per_round"].items():
        where.add_row(f"CPU: {group} (core-s)", f"{seconds:.3f}")
    for label, key in CPU_BOUND_ROWS:
        where.add_row(label, f"{pair[key]:.3f}")
    console.print(where)


def measure(name: str, hyperparams: dict[str, Any], logs: Path, console: Any) -> tuple[dict[str, Any], list]:
    """One workload, REPEATS times on both sides in turn: figures and targets, tables printed."""
    from bench.common import Target

    console.rule(f"workload {name}: {json.dumps(hyperparams)}, {ROUNDS[name]} rounds, {REPEATS} runs")
    pairs = []
    for repeat in range(1, REPEATS + 1):
        pairs.append(run_pair(name, hyperparams, repeat, logs))
        print_pair(name, repeat, pairs[-1], console)
    ours_s = mean([p["ours_round_s_steady"] for p in pairs])
    sim_s = mean([p["flower_simulation_round_s_steady"] for p in pairs])
    loop_s = mean([p["flower_loop_round_s_steady"] for p in pairs])
    gap = max(abs(p["ours_final_accuracy"] - p["flower_final_accuracy"]) * 100 for p in pairs)
    figures = {
        "hyperparams": hyperparams,
        "rounds": ROUNDS[name],
        "ours_round_s_steady": ours_s,
        "flower_simulation_round_s_steady": sim_s,
        "flower_loop_round_s_steady": loop_s,
        "ratio_to_simulation": ours_s / sim_s,
        "ratio_to_loop": ours_s / loop_s,
        "ratio_to_simulation_by_run": [p["ratio_to_simulation"] for p in pairs],
        "final_accuracy_gap_points": gap,
        "cpu_s_per_round": {
            g: mean([p["cpu_s_per_round"][g] for p in pairs]) for g in pairs[0]["cpu_s_per_round"]
        },
        **{key: mean([p[key] for p in pairs]) for _, key in CPU_BOUND_ROWS},
        "runs": pairs,
    }
    by_run = ", ".join(f"{p['ratio_to_simulation']:.2f}x" for p in pairs)
    console.print(
        f"{name}: ours {ours_s:.3f} s, Flower simulation {sim_s:.3f} s a steady round over {REPEATS} runs: "
        f"{ours_s / sim_s:.2f}x (runs: {by_run})"
    )
    targets = [
        Target(f"{name}: our round / Flower simulation round (steady, x)", ours_s / sim_s, "<=", 1.5),
        Target(f"{name}: final accuracy gap (points)", gap, "<=", 1.0),
    ]
    return figures, targets


def main() -> None:
    from rich.console import Console

    from bench.common import report

    console = Console()
    if not FLOWER_PYTHON.exists():
        sys.exit(f"missing {FLOWER_PYTHON}: run `make bench` (it installs bench/requirements-flower.txt)")
    logs = Path(tempfile.mkdtemp(prefix="aoai-bench-logs-"))
    console.print(f"ours: {len(TRAINERS)} trainers, {len(VERIFIERS)} verifiers, 1 aggregator; logs in {logs}")
    measured, targets = {}, []
    for name, hyperparams in workloads().items():
        measured[name], more = measure(name, hyperparams, logs, console)
        targets += more
    figures = {
        "rounds": ROUNDS,
        "trainers": len(TRAINERS),
        "verifiers": len(VERIFIERS),
        "aggregators": 1,
        "load_average_1_5_15": list(os.getloadavg()),
        "workloads": measured,
        "flower_simulation": (
            "flwr 1.41.0 Simulation Engine (run_simulation, Ray 2.55.1, 1 CPU per client: 2 clients at a "
            "time), ServerApp with FedAvg and a centralised test evaluation; a round = configure_fit to the "
            "end of that evaluation"
        ),
        "flower_loop": (
            "NumPyClient.fit + FedAvg.aggregate_fit in one process, clients one after another: no engine, "
            "no transport, no start-up (a lower bound)"
        ),
        "same_work": (
            "same initial weights, same (shard, seed) per client and round as our trainers, same "
            "train_locally, same test split"
        ),
        "ours_includes": (
            "7 agent processes on 2 cores, anvil automine plus an empty block a second, js-ipfs; agents "
            "wake on new blocks (newHeads); round 1 counted from agent start (includes process start-up), "
            "steady = rounds 2.."
        ),
    }
    report("round_overhead", figures, targets, console)
    write_markdown(figures, targets)


def write_markdown(figures: dict[str, Any], targets: list) -> None:
    lines = [
        "# Round overhead: ours vs Flower",
        "",
        f"Vision job (digits MLP, FedAvg), {figures['trainers']} trainers, {figures['verifiers']} verifiers, "
        f"1 aggregator; the same work on both sides ({figures['same_work']}). Each workload ran "
        f"{REPEATS} times, ours then Flower each time; a run's figure is the mean of its steady rounds "
        "(2..).",
        "",
        "| workload | rounds | ours (s) | Flower simulation (s) | Flower loop (s) | ours / simulation "
        "| by run |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for name, w in figures["workloads"].items():
        by_run = ", ".join(f"{r:.2f}x" for r in w["ratio_to_simulation_by_run"])
        lines.append(
            f"| {name} | {w['rounds']} | {w['ours_round_s_steady']:.3f} | "
            f"{w['flower_simulation_round_s_steady']:.3f} | {w['flower_loop_round_s_steady']:.3f} | "
            f"{w['ratio_to_simulation']:.2f}x | {by_run} |"
        )
    for name, w in figures["workloads"].items():
        lines += ["", f"## Workload {name}: {json.dumps(w['hyperparams'])}", ""]
        lines += [
            "| where a steady round goes | " + " | ".join(f"run {i}" for i in range(1, REPEATS + 1)) + " |"
        ]
        lines += ["|---|" + "---:|" * REPEATS]
        for label, _ in PHASES:
            lines.append(
                f"| {label} (s) | "
                + " | ".join(f"{r['phases_s_steady'][label]:.3f}" for r in w["runs"])
                + " |"
            )
        for group in w["cpu_s_per_round"]:
            cells = " | ".join(f"{r['cpu_s_per_round'][group]:.3f}" for r in w["runs"])
            lines.append(f"| CPU: {group} (core-s) | {cells} |")
        for label, key in CPU_BOUND_ROWS:
            lines.append(f"| {label} | " + " | ".join(f"{r[key]:.3f}" for r in w["runs"]) + " |")
        for i, run in enumerate(w["runs"], start=1):
            lines += [
                "",
                f"Run {i}:",
                "",
                "| round | ours (s) | Flower simulation (s) | Flower loop (s) | ours acc | Flower acc |",
                "|---:|---:|---:|---:|---:|---:|",
            ]
            rows = zip(
                run["ours_rounds"], run["flower_simulation_rounds"], run["flower_loop_rounds"], strict=True
            )
            for o, f, lo in rows:
                note = " (incl. start-up)" if o["includes_agent_startup"] else ""
                lines.append(
                    f"| {o['round']}{note} | {o['wall_s']:.2f} | {f['wall_s']:.2f} | {lo['wall_s']:.2f} "
                    f"| {o['accuracy']:.4f} | {f['accuracy']:.4f} |"
                )
    lines += ["", "| target | value | bound | met |", "|---|---:|---:|---|"]
    for t in targets:
        lines.append(f"| {t.what} | {t.value:.3g} | {t.op} {t.bound:g} | {'yes' if t.met else 'no'} |")
    idle = figures["workloads"]["light"]["runs"][0]["idle_agent_cpu_percent"]
    lines += [
        "",
        f"Flower simulation: {figures['flower_simulation']}.",
        f"Flower loop: {figures['flower_loop']}.",
        f"Ours: {figures['ours_includes']}.",
        "",
        f"An idle agent (a verifier waiting for a round no trainer joins) uses {idle:.1f}% of one core. "
        f"Load average (1, 5, 15 min) at the end of the run: "
        f"{', '.join(f'{x:.1f}' for x in figures['load_average_1_5_15'])} on 2 cores.",
        "",
    ]
    (RESULTS / "round_overhead.md").write_text("\n".join(lines))


if __name__ == "__main__":
    main()
