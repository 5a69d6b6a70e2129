"""Crafted attacks against the aggregation rules, and work cheats against the verifiers' spot checks.

    .venv/bin/python -m bench.attacks [--quick] [--jobs N]

Part 1 runs an in-process federation of the "vision" skill (Dirichlet non-IID shards) for every rule x
crafted attack x attacker share and reports final test accuracy against no-attack FedAvg. Part 2
publishes honest and cheating training results and audits them as verifiers do (k-of-n segment draws
and replay): catch rates, honest trainers flagged, and replayed steps per trained step, on the vision
job as the agents' tests configure it (40 steps in 4 segments: a spot check replays everything) and on
a vision job configured for cheap spot checks (1,000 one-step segments, ``aoai job create --hyperparams
'{"local_steps": 1000, "checkpoint_every": 1}'``), where the catch probability of a 10% partial cheater
is measured over many draws. Writes bench/results/attacks.json and attacks.md.
"""

from __future__ import annotations

import argparse
import itertools
import math
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from rich.console import Console
from rich.table import Table

from agents.attacks import CRAFTED, audit, cheat_trace, faked_segments
from agents.attacks.simulation import LABEL_FLIP, SimConfig, simulate
from agents.learning.hashing import sha256
from agents.learning.hyperparams import HyperParams
from agents.learning.sharding import shard
from agents.learning.skills import get_skill, initial_state
from agents.learning.spotcheck import segments_to_check
from agents.learning.training import train_locally
from bench.common import RESULTS, Target, report

RULES = ["fedavg", "median", "trimmed_mean", "multi_krum", "geometric_median", "centered_clipping"]
ATTACKS = [*CRAFTED, LABEL_FLIP]
SHARES = [0.1, 0.2, 0.3]
Q, P = 0.1, 0.99


def _run(job: tuple[SimConfig, str, str | None, int]) -> float:
    cfg, rule, attack, n = job
    return simulate(cfg, rule, attack, n).accuracy


def robustness(cfg: SimConfig, rules: list[str], jobs: int) -> dict[str, Any]:
    grid = [(cfg, rule, None, 0) for rule in rules] + [
        (cfg, rule, attack, round(share * cfg.clients))
        for rule, attack, share in itertools.product(rules, ATTACKS, SHARES)
    ]
    with ProcessPoolExecutor(jobs) as pool:
        accuracies = list(pool.map(_run, grid, chunksize=1))
    table: dict[str, dict[str, dict[str, float]]] = {r: {a: {} for a in ATTACKS} for r in rules}
    clean = {}
    for (_, rule, attack, n), acc in zip(grid, accuracies, strict=True):
        if attack is None:
            clean[rule] = acc
        else:
            table[rule][attack][f"{round(100 * n / cfg.clients)}%"] = acc
    for rule in rules:
        for attack in ATTACKS:
            table[rule][attack] = {"0%": clean[rule], **table[rule][attack]}
    baseline = clean["fedavg"]
    drops = {rule: {a: round(100 * (baseline - table[rule][a]["20%"]), 2) for a in ATTACKS} for rule in rules}
    robust = [r for r in rules if r != "fedavg"]
    best_per_attack = {a: min(robust, key={r: drops[r][a] for r in robust}.__getitem__) for a in ATTACKS}
    best_rule = min(robust, key=lambda r: max(drops[r].values()))
    return {
        "accuracy": table,
        "baseline_fedavg_no_attack": baseline,
        "drop_points_at_20pct": drops,
        "best_rule_per_attack_at_20pct": {a: [r, drops[r][a]] for a, r in best_per_attack.items()},
        "best_single_rule_at_20pct": best_rule,
        "best_single_rule_worst_drop": max(drops[best_rule].values()),
        "fedavg_worst_drop_at_20pct": max(drops["fedavg"].values()),
    }


def spot_checks(hp: HyperParams, trials: int, honest_trials: int, partial_trials: int) -> dict[str, Any]:
    """Audit honest and cheating results of one trainer on one shard, over ``trials`` randomness draws
    (``partial_trials`` for the partial cheater, whose catch rate is the one that is not 0 or 1)."""
    skill = get_skill("vision")
    config, train = skill.default_config, skill.load_data().train
    g0 = initial_state(skill, config, 0)
    mine, other = shard(train, 10, 0, 1, 0.5), shard(train, 10, 1, 1, 0.5)
    g1 = train_locally(skill, config, g0, other, 99, hp).state
    seed = 42
    t0 = time.perf_counter()
    honest = train_locally(skill, config, g1, mine, seed, hp)
    train_seconds = time.perf_counter() - t0
    published = {
        "lazy_zero": cheat_trace("lazy", global_state=g1, hp=hp, mode="zero"),
        "lazy_noise": cheat_trace("lazy", global_state=g1, hp=hp, mode="noise"),
        "copy": cheat_trace("copy", victim=train_locally(skill, config, g1, other, 7, hp)),
        "replay": cheat_trace("replay", old=train_locally(skill, config, g0, mine, seed, hp)),
        "partial_10pct": cheat_trace(
            "partial", skill=skill, config=config, global_state=g1, shard=mine, seed=seed, hp=hp, q=Q
        ),
    }
    randomness = [sha256(f"bench-attacks:{i}".encode()) for i in range(max(trials, partial_trials))]
    caught = {
        name: sum(audit(skill, config, g1, mine, seed, hp, result, r, Q, P).caught for r in draws)
        / len(draws)
        for name, result in published.items()
        for draws in [randomness[: partial_trials if name == "partial_10pct" else trials]]
    }
    t0 = time.perf_counter()
    honest_audits = [
        audit(skill, config, g1, mine, seed, hp, honest, r, Q, P, stop_at_first=False)
        for r in randomness[:honest_trials]
    ]
    audit_seconds = (time.perf_counter() - t0) / honest_trials
    segments = len(honest.checkpoints) - 1
    faked = len(faked_segments(segments, Q))
    k = segments_to_check(Q, P, segments)
    miss = math.comb(segments - faked, k) / math.comb(segments, k)
    return {
        "local_steps": hp.local_steps,
        "segments": segments,
        "segments_checked_k": k,
        "caught_fraction": caught,
        "partial_faked_segments": faked,
        "partial_miss_probability_exact": miss,
        "partial_catch_standard_error": math.sqrt(miss * (1 - miss) / partial_trials),
        "honest_flagged_fraction": sum(a.caught for a in honest_audits) / honest_trials,
        "extra_compute_replayed_per_trained_step": honest_audits[0].replayed_steps / hp.local_steps,
        "trials": trials,
        "honest_trials": honest_trials,
        "partial_trials": partial_trials,
        "train_seconds": round(train_seconds, 3),
        "audit_seconds": round(audit_seconds, 3),
    }


def markdown(rob: dict[str, Any], cheats: dict[str, dict[str, Any]], cfg: SimConfig) -> str:
    shares = ["0%", *(f"{round(100 * s)}%" for s in SHARES)]
    lines = [
        f"Final test accuracy (%) of *vision* after {cfg.rounds} rounds, {cfg.clients} clients on "
        f"Dirichlet({cfg.alpha}) shards, {cfg.hp.local_steps} local steps; robust rules set for f={cfg.f}. "
        f"No-attack FedAvg: **{100 * rob['baseline_fedavg_no_attack']:.1f}**.",
        "",
        "| attack | rule | " + " | ".join(shares) + " |",
        "|---|---|" + "---:|" * len(shares),
    ]
    for attack in ATTACKS:
        for rule, per in rob["accuracy"].items():
            cells = " | ".join(f"{100 * per[attack][s]:.1f}" for s in shares)
            lines.append(f"| {attack} | {rule} | {cells} |")
    lines += ["", "| attack | best robust rule at 20% | drop (points) |", "|---|---|---:|"]
    lines += [f"| {a} | {r} | {d:.1f} |" for a, (r, d) in rob["best_rule_per_attack_at_20pct"].items()]
    lines += [
        "",
        "Spot checks (k-of-n segment replay, q=0.1, p=0.99), fraction of audits that caught the result:",
        "",
        "| trace | segments | k | lazy | lazy (noise) | copy | replay | 10% faked | honest flagged | "
        "replayed / trained steps |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, c in cheats.items():
        f = c["caught_fraction"]
        lines.append(
            f"| {name} | {c['segments']} | {c['segments_checked_k']} | {f['lazy_zero']:.2f} | "
            f"{f['lazy_noise']:.2f} | {f['copy']:.2f} | {f['replay']:.2f} | {f['partial_10pct']:.3f} | "
            f"{c['honest_flagged_fraction']:.2f} | {c['extra_compute_replayed_per_trained_step']:.3f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small smoke configuration")
    parser.add_argument("--jobs", type=int, default=2, help="simulation processes")
    args = parser.parse_args()
    console = Console()
    vision = get_skill("vision").default_hyperparams
    if args.quick:
        cfg = SimConfig(clients=10, rounds=3, f=3, cc_tau=3.0)
        rules, trials, partial_trials, honest_trials = ["fedavg", "median", "centered_clipping"], 20, 50, 2
        fine = vision.with_(local_steps=100, checkpoint_every=1)
    else:
        cfg = SimConfig(clients=10, rounds=10, f=3, cc_tau=3.0)
        rules, trials, partial_trials, honest_trials = RULES, 100, 300, 3
        fine = vision.with_(local_steps=1000, checkpoint_every=1)
    t0 = time.perf_counter()
    rob = robustness(cfg, rules, args.jobs)
    cheats = {
        f"vision job ({vision.local_steps} steps, checkpoint every {vision.checkpoint_every})": spot_checks(
            vision, trials, honest_trials, trials
        ),
        f"vision job for spot checks ({fine.local_steps} steps, checkpoint every step)": spot_checks(
            fine, trials, honest_trials, partial_trials
        ),
    }
    _, fine_c = cheats.values()
    table = Table(title="crafted attacks: accuracy at 20% attackers (drop vs no-attack FedAvg, points)")
    table.add_column("rule")
    for attack in ATTACKS:
        table.add_column(attack, justify="right")
    for rule, per in rob["drop_points_at_20pct"].items():
        table.add_row(
            rule, *(f"{100 * rob['accuracy'][rule][a]['20%']:.1f} ({per[a]:+.1f})" for a in ATTACKS)
        )
    console.print(table)
    text = markdown(rob, cheats, cfg)
    console.print(text)
    (RESULTS / "attacks.md").write_text(text)
    figures = {
        "config": {
            "clients": cfg.clients, "rounds": cfg.rounds, "alpha": cfg.alpha, "f": cfg.f,
            "cc_tau": cfg.cc_tau, "hp": cfg.hp.to_dict(), "quick": args.quick,
        },
        **rob,
        "spot_checks": cheats,
        "seconds": round(time.perf_counter() - t0, 1),
    }  # fmt: skip
    every = list(cheats.values())
    flagged = max(c["honest_flagged_fraction"] for c in every)
    targets = [
        Target(f"best single robust rule ({rob['best_single_rule_at_20pct']}): worst drop at 20% (points)",
               rob["best_single_rule_worst_drop"], "<=", 2),
        Target("best robust rule per attack: worst drop at 20% (points)",
               max(d for _, d in rob["best_rule_per_attack_at_20pct"].values()), "<=", 2),
        Target("FedAvg: worst drop at 20% (points)", rob["fedavg_worst_drop_at_20pct"], ">", 10),
        Target("lazy trainers caught (fraction)",
               min(min(c["caught_fraction"]["lazy_zero"], c["caught_fraction"]["lazy_noise"]) for c in every),
               ">=", 1),
        Target("copy and replay caught (fraction)",
               min(min(c["caught_fraction"][k] for k in ("copy", "replay")) for c in every), ">=", 1),
        Target(f"10% faked steps caught, job for spot checks: simulated ({fine_c['partial_trials']} draws) "
               "minus exact probability, in standard errors",
               (fine_c["caught_fraction"]["partial_10pct"] - 1 + fine_c["partial_miss_probability_exact"])
               / fine_c["partial_catch_standard_error"], ">=", -3),
        Target("10% faked steps caught, exact probability, job for spot checks",
               1 - fine_c["partial_miss_probability_exact"], ">=", 0.99),
        Target("verifier extra compute, job for spot checks (replayed / trained steps)",
               fine_c["extra_compute_replayed_per_trained_step"], "<=", 0.05),
        Target("honest trainers flagged (fraction)", flagged, "<=", 0),
    ]  # fmt: skip
    report("attacks", figures, targets, console)


if __name__ == "__main__":
    main()
