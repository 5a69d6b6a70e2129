"""Long fuzzing of every parser of data from peers or users (the properties of tests/fuzz).

    .venv/bin/python -m bench.fuzz [--minutes N]

Runs each property in repeated hypothesis searches of 1,000 examples until its share of the time is
spent; reports examples per second, failures (must be 0) and peak memory to bench/results/fuzz.json.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from rich.console import Console

from bench.common import Target, report

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "fuzz"))
import hostile

PROPERTIES: dict[str, tuple[Callable[[Any], None], Any]] = {
    "decode_state: random bytes": (hostile.check_decode, hostile.random_bytes()),
    "decode_state: mutated safetensors": (hostile.check_decode, hostile.hostile_weight_files()),
    "decode_state: huge claims": (hostile.check_decode, hostile.huge_claims()),
    "parse_update: mutated manifests": (hostile.check_manifest, hostile.hostile_manifests()),
    "parse_update: random bytes": (hostile.check_manifest, hostile.random_bytes()),
    "RequestVerifier.verify: mutated headers": (hostile.check_request, hostile.hostile_requests()),
}


def fuzz(check: Callable[[Any], None], strategy: Any, seconds: float) -> dict[str, Any]:
    count = [0]

    def counted(value: Any) -> None:
        count[0] += 1
        check(value)

    search = settings(
        max_examples=1_000, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )(given(strategy)(counted))
    failures: list[str] = []
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        try:
            search()
        except Exception as error:
            failures.append("".join(traceback.format_exception_only(error)).strip()[:500])
    elapsed = time.perf_counter() - start
    return {"examples": count[0], "examples_per_s": round(count[0] / elapsed, 1), "failures": failures}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=3.0)
    args = parser.parse_args()
    console = Console()
    share = 60 * args.minutes / len(PROPERTIES)
    results = {}
    for name, (check, strategy) in PROPERTIES.items():
        results[name] = fuzz(check, strategy, share)
        r = results[name]
        console.print(
            f"{name}: {r['examples']} examples, {r['examples_per_s']}/s, {len(r['failures'])} failures"
        )
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    failures = sum(len(r["failures"]) for r in results.values())
    figures = {"minutes": args.minutes, "properties": results, "peak_rss_mb": round(peak_mb, 1)}
    targets = [
        Target("failures", failures, "<=", 0),
        Target("examples", sum(r["examples"] for r in results.values()), ">=", 1000),
    ]
    report("fuzz", figures, targets, console)


if __name__ == "__main__":
    main()
