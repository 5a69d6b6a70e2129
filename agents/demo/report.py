"""The demo's report, from the chain itself: generations per job with metrics and lineage, the
leaderboard, slashing, AOAI minted, revenue and dividends per holder, gas per role. Written as
report.json (data), report.md (for people) and metrics.png (the headline metric per generation)."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from agents.demo.progress import METRIC_SCALE, Progress
from agents.demo.revenue import Revenue
from agents.devnet.reader import Reader
from agents.gateway.catalog import HIGHER_IS_BETTER
from agents.node.store import Store
from agents.node.work import JobContext

ETHER = 10**18
DUST_WEI_PER_HOLDER = 1  # AOAIToken: each holder gets at most 1 wei below its exact share of a deposit
STATUS = {1: "pending", 2: "upheld", 3: "rejected", 4: "dismissed"}
ROLES = ("trainer", "cheater", "verifier", "aggregator", "operator", "user")


def role_of(name: str) -> str:
    return next((r for r in ROLES if name.startswith(r)), "other")


def collect(
    reader: Reader, store: Store, progress: Progress, revenue: Revenue | None, wall_s: float
) -> dict[str, Any]:
    """Everything the report shows, as plain JSON data."""
    progress.poll()
    events: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for event in reader.cursor().poll():
        events[event.name].append({**event.args, "_tx": event.tx})
    name = progress.name
    commits = {(e["roundId"], e["slot"]): name(e["trainer"]) for e in events["UpdateCommitted"]}
    finalized = {e["roundId"]: e for e in events["RoundFinalized"]}
    jobs = []
    for job in progress.jobs.values():
        spec = next(e["spec"] for e in events["JobCreated"] if e["jobId"] == job.job_id)
        ctx = JobContext.load(job.job_id, spec, store)
        generations = []
        for e in sorted(
            (e for e in events["GenerationRecorded"] if e["jobId"] == job.job_id), key=lambda e: e["number"]
        ):
            raw = e["metrics"] or ctx.scaled_metrics(
                ctx.decode_weights(store.get(e["cid"], bytes(e["weightsHash"])))
            )
            round_ = finalized.get(e["roundId"])
            generations.append(
                {
                    "number": e["number"],
                    "cid": e["cid"],
                    "metrics": {m: v / METRIC_SCALE for m, v in zip(job.metrics, raw, strict=True)},
                    "measured_by": "aggregator, on chain" if e["metrics"] else "report (genesis)",
                    "parent": e["number"] - 1 if e["number"] else None,
                    "round": e["roundId"] if round_ else None,
                    "trainers": [
                        commits[(e["roundId"], s)]
                        for s in range(256)
                        if round_ and int(round_["acceptedSlots"]) >> s & 1
                    ],
                    "aggregator": name(round_["aggregator"]) if round_ else None,
                }
            )
        series = [g["metrics"][job.headline] for g in generations]
        better = HIGHER_IS_BETTER[job.headline]
        jobs.append(
            {
                "id": job.job_id,
                "skill": job.skill,
                "metric": job.headline,
                "higher_is_better": better,
                "rounds_finalized": job.finalized,
                "rounds_empty": job.closed - job.finalized - job.abandoned,
                "rounds_abandoned": job.abandoned,
                "round_seconds": [round(d, 1) for d in job.durations],
                "generations": generations,
                "improved": len(series) > 1
                and (series[-1] > series[0] if better else series[-1] < series[0]),
            }
        )
    people = {
        a: n
        for a, n in progress.names.items()
        if role_of(n) in ("trainer", "cheater", "verifier", "aggregator")
    }
    leaderboard = []
    for address, who in people.items():
        accepted, rejected, earned, slashed = reader.call("TrainingRounds", "scoreOf", _checksum(address))
        balance = reader.call("AOAIToken", "balanceOf", _checksum(address))
        leaderboard.append(
            {
                "name": who,
                "address": _checksum(address),
                "accepted": accepted,
                "rejected": rejected,
                "aoai_earned": earned / ETHER,
                "aoai_balance": balance / ETHER,
                "eth_slashed": slashed / ETHER,
            }
        )
    leaderboard.sort(key=lambda row: (-row["accepted"], -row["aoai_balance"], row["name"]))
    challenges = [
        {
            "dispute": e["disputeId"],
            "round": progress.round_name(e["roundId"]),
            "challenger": name(e["challenger"]),
            "accused": name(e["accused"]),
            "status": next(
                (
                    STATUS.get(r["status"], str(r["status"]))
                    for r in events["DisputeResolved"]
                    if r["disputeId"] == e["disputeId"]
                ),
                "pending",
            ),
        }
        for e in events["UpdateChallenged"] + events["ProposalChallenged"]
    ]
    slashes = [
        {
            "account": name(e["account"]),
            "role": ["trainer", "verifier", "aggregator"][e["role"]],
            "eth": e["amount"] / ETHER,
            "beneficiary": name(e["beneficiary"]) if int(e["beneficiary"], 16) else "holders",
            "reward_eth": e["reward"] / ETHER,
        }
        for e in events["Slashed"]
    ]
    rejected = [
        {"round": progress.round_name(e["roundId"]), "trainer": name(e["trainer"])}
        for e in events["UpdateRejected"]
    ]
    data: dict[str, Any] = {
        "wall_seconds": round(wall_s, 1),
        "chain": {"blocks": reader.web3.eth.block_number, "contracts": reader.addresses},
        "jobs": jobs,
        "leaderboard": leaderboard,
        "rejected_updates": rejected,
        "challenges": challenges,
        "slashes": slashes,
        "aoai_minted": reader.call("AOAIToken", "totalSupply") / ETHER,
        "gas": gas_per_role(reader, progress),
        "cheaters": sorted(n for n in progress.names.values() if role_of(n) == "cheater"),
    }
    data["cheaters_slashed"] = bool(data["cheaters"]) and all(
        any(s["account"] == c for s in slashes) for c in data["cheaters"]
    )
    if revenue is not None:
        shared = sum(revenue.dividends.values())
        data["revenue"] = {
            **revenue.to_json(),
            "dividends_total": shared,
            "dust_allowed": DUST_WEI_PER_HOLDER * len(revenue.dividends),
            "dividends_match_revenue": revenue.total - DUST_WEI_PER_HOLDER * len(revenue.dividends)
            <= shared
            <= revenue.total,
            "all_claimed": not any(revenue.unclaimed_after.values()),
        }
    return data


def _checksum(address: str) -> str:
    from eth_utils import to_checksum_address

    return str(to_checksum_address(address))


def gas_per_role(reader: Reader, progress: Progress) -> dict[str, dict[str, Any]]:
    """Transactions, gas used and ETH paid for gas (gasUsed x effectiveGasPrice), per role, from receipts."""
    totals: dict[str, dict[str, Any]] = {}
    for number in range(1, reader.web3.eth.block_number + 1):
        for tx_hash in reader.web3.eth.get_block(number)["transactions"]:
            receipt = reader.web3.eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
            role = role_of(progress.name(receipt["from"]))
            row = totals.setdefault(role, {"transactions": 0, "gas": 0, "eth": 0.0})
            row["transactions"] += 1
            row["gas"] += receipt["gasUsed"]
            row["eth"] += receipt["gasUsed"] * receipt["effectiveGasPrice"] / ETHER
    return totals


def write(out: Path, data: dict[str, Any]) -> Path:
    """report.json, metrics.png and report.md in `out`; returns the Markdown's path."""
    (out / "report.json").write_text(json.dumps(data, indent=2) + "\n")
    plot(out / "metrics.png", data["jobs"])
    path = out / "report.md"
    path.write_text(markdown(data))
    return path


def plot(path: Path, jobs: list[dict[str, Any]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, len(jobs), figsize=(5 * len(jobs), 3.6), squeeze=False)
    for ax, job in zip(axes[0], jobs, strict=True):
        numbers = [g["number"] for g in job["generations"]]
        values = [g["metrics"][job["metric"]] for g in job["generations"]]
        ax.plot(numbers, values, marker="o")
        ax.set_title(f"job {job['id']}: {job['skill']}")
        ax.set_xlabel("generation")
        ax.set_ylabel(f"{job['metric']} ({'higher' if job['higher_is_better'] else 'lower'} is better)")
        ax.set_xticks(numbers)
        ax.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def markdown(data: dict[str, Any]) -> str:
    blocks = [
        "# ActuallyOpenAI demo report\n\n"
        f"Wall time {data['wall_seconds']:.0f} s, {data['chain']['blocks']} blocks."
    ]
    blocks += [_job_section(job) for job in data["jobs"]]
    blocks.append("![metric per generation](metrics.png)")
    rows = [
        [
            i,
            r["name"],
            f"`{r['address']}`",
            r["accepted"],
            r["rejected"],
            f"{r['aoai_earned']:,.2f}",
            f"{r['aoai_balance']:,.2f}",
            f"{r['eth_slashed']:g}",
        ]
        for i, r in enumerate(data["leaderboard"], 1)
    ]
    header = ["#", "name", "address", "accepted", "rejected", "AOAI earned", "AOAI held", "ETH slashed"]
    blocks.append(
        "## Leaderboard\n\n" + _table(header, rows) + f"\n\nAOAI minted: {data['aoai_minted']:,.2f}"
    )
    blocks.append(_cheating_section(data))
    if "revenue" in data:
        blocks.append(_revenue_section(data["revenue"]))
    rows = [
        [role, g["transactions"], f"{g['gas']:,}", f"{g['eth']:.6f}"]
        for role, g in sorted(data["gas"].items())
    ]
    blocks.append("## Gas per role\n\n" + _table(["role", "transactions", "gas", "ETH"], rows))
    return "\n\n".join(blocks) + "\n"


def _job_section(job: dict[str, Any]) -> str:
    metric = job["metric"]
    direction = "higher" if job["higher_is_better"] else "lower"
    times = ", ".join(map(str, job["round_seconds"])) or "-"
    rows = []
    for g in job["generations"]:
        lineage = "genesis" if g["parent"] is None else f"g{g['parent']} + {', '.join(g['trainers'])}"
        if g["aggregator"]:
            lineage += f" (aggregated by {g['aggregator']})"
        values = g["metrics"]
        rows.append([g["number"], f"{values[metric]:.4f}", f"{values['loss']:.4f}", lineage, f"`{g['cid']}`"])
    return (
        f"## Job {job['id']}: {job['skill']} ({metric}, {direction} is better)\n\n"
        f"{job['rounds_finalized']} rounds finalized, {job['rounds_empty']} closed empty, "
        f"{job['rounds_abandoned']} abandoned; "
        f"round wall times (s): {times}.\n\n"
        + _table(["generation", metric, "loss", "lineage", "weights CID"], rows)
    )


def _cheating_section(data: dict[str, Any]) -> str:
    cheaters = ", ".join(data["cheaters"]) or "none"
    challenges = [
        [c["dispute"], c["round"], c["challenger"], c["accused"], c["status"]] for c in data["challenges"]
    ]
    slashes = [
        [s["account"], s["role"], f"{s['eth']:g}", s["beneficiary"], f"{s['reward_eth']:g}"]
        for s in data["slashes"]
    ]
    return (
        "## Cheating caught\n\n"
        f"Cheaters (lazy: an unchanged model with a fabricated trace): {cheaters}; "
        f"all slashed: {'yes' if data['cheaters_slashed'] else 'no'}.\n\n"
        + _table(["dispute", "round", "challenger", "accused", "verdict"], challenges)
        + "\n\n"
        + _table(["slashed", "role", "ETH", "reward to", "reward ETH"], slashes)
    )


def _revenue_section(r: dict[str, Any]) -> str:
    paid = ", ".join(
        f"{user} {count} requests, {r['paid'][user]} wei" for user, count in r["requests"].items()
    )
    holders = [[h, r["dividends"][h], r["claimed"].get(h, 0)] for h in r["dividends"]]
    verdict = "match" if r["dividends_match_revenue"] else "MISMATCH"
    samples = [
        [
            s["user"],
            s["job"],
            s["generation"],
            f"label {s['label']} (truth {s['truth']})"
            if "label" in s
            else f"{s['prompt']!r} -> {s['completion']!r}",
        ]
        for s in r["samples"][:: max(1, len(r["samples"]) // 6)]
    ]
    return (
        f"## Revenue and dividends\n\nGateway {r['gateway_url']}; "
        f"revenue settled on chain: {r['total']} wei ({paid}).\n\n"
        + _table(["holder", "share of this revenue (wei)", "claimed (wei, all its dividends)"], holders)
        + f"\n\nThe holders' shares sum to {r['dividends_total']} wei of {r['total']} "
        f"(rounding dust allowed: {r['dust_allowed']} wei): {verdict}; "
        f"every holder claimed: {'yes' if r['all_claimed'] else 'no'}.\n\n"
        + _table(["user", "job", "generation", "answer"], samples)
    )
