"""`aoai demo` as a user runs it (a subprocess): a short story whose report is checked as data, and Ctrl-C in
the middle of the rounds. Both check that no process the demo started is left alive or listening."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from agents.cli.main import cli
from agents.devnet.services import port_in_use, process_alive

pytestmark = pytest.mark.services

ROOT = Path(__file__).resolve().parents[2]
AOAI = "from agents.cli.main import main; main()"
DEMO_TIMEOUT_S = 900


def demo(out, *args, **popen):
    command = [sys.executable, "-c", AOAI, "demo", "--out", str(out), *args]
    env = {**os.environ, "COLUMNS": "150", "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    env.pop("AOAI_HOME", None)
    return subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, **popen
    )


def assert_all_stopped(out):
    started = json.loads((out / "run" / "processes.json").read_text())
    assert {"anvil", "ipfs", "aggregator"} <= set(started)
    alive = [name for name, p in started.items() if process_alive(p["pid"])]
    assert not alive, f"still running: {alive}"
    listening = [port for p in started.values() for port in p["ports"] if port_in_use(port)]
    assert not listening, f"still listening: {listening}"


def test_a_short_demo_reports_the_whole_story(tmp_path):
    out = tmp_path / "demo"
    process = demo(out, "--rounds", "2")
    output, _ = process.communicate(timeout=DEMO_TIMEOUT_S)
    text = output.decode(errors="replace")
    assert process.returncode == 0, text[-5000:]
    assert f"report: {out / 'report.md'}" in text.replace("\n", "")
    report = json.loads((out / "report.json").read_text())

    assert [job["skill"] for job in report["jobs"]] == ["vision", "language"]
    for job in report["jobs"]:
        assert job["rounds_finalized"] == 2, job
        generations = job["generations"]
        assert [g["number"] for g in generations] == [0, 1, 2]
        # Every generation beats the genesis; the series is not strictly
        # monotonic: a round may aggregate one honest update on a non-IID shard (the cheater holds a slot).
        series = [g["metrics"][job["metric"]] for g in generations]
        sign = 1 if job["higher_is_better"] else -1
        assert all(sign * (later - series[0]) > 0 for later in series[1:]), series
        assert all(g["trainers"] and g["aggregator"] == "aggregator" for g in generations[1:])
    vision = report["jobs"][0]["generations"]
    assert vision[-1]["metrics"]["accuracy"] > vision[0]["metrics"]["accuracy"] + 0.4

    assert report["cheaters"] == ["cheater4"] and report["cheaters_slashed"]
    assert {s["account"] for s in report["slashes"]} == {"cheater4"}
    assert any(c["accused"] == "cheater4" and c["status"] == "upheld" for c in report["challenges"])
    board = {row["name"]: row for row in report["leaderboard"]}
    assert board["cheater4"]["accepted"] == 0 and board["cheater4"]["aoai_balance"] == 0
    assert board["cheater4"]["eth_slashed"] >= 1
    honest = [board[f"trainer{i}"] for i in (1, 2, 3)]
    assert sum(row["accepted"] for row in honest) >= 2 * len(report["jobs"])
    assert report["aoai_minted"] == pytest.approx(sum(row["aoai_balance"] for row in board.values()))

    revenue = report["revenue"]
    assert revenue["requests"] == {"user1": 8, "user2": 6}
    assert revenue["total"] == 14 * 10**12  # the gateway's default price, every signed request settled
    holders = revenue["dividends"]
    assert set(holders) == {n for n, row in board.items() if row["aoai_balance"] > 0}
    assert revenue["total"] - len(holders) <= sum(holders.values()) <= revenue["total"]
    assert revenue["dividends_match_revenue"] and revenue["all_claimed"]
    assert all(revenue["claimed"][h] >= owed for h, owed in holders.items() if owed)
    assert all(s["generation"] == 2 for s in revenue["samples"])

    assert {"operator", "trainer", "cheater", "verifier", "aggregator", "user"} <= set(report["gas"])
    assert all(row["gas"] > 0 for row in report["gas"].values())
    assert (out / "metrics.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "## Leaderboard" in (out / "report.md").read_text()
    assert_all_stopped(out)


def test_ctrl_c_stops_every_process(tmp_path):
    out = tmp_path / "demo"
    process = demo(out, "--rounds", "2", "--jobs", "vision")
    lines = []
    deadline = time.monotonic() + DEMO_TIMEOUT_S
    for line in process.stdout:  # the first round is open: the agents are running
        lines.append(line.decode(errors="replace"))
        if "round 1 open" in lines[-1] or time.monotonic() > deadline:
            break
    assert "round 1 open" in lines[-1], "".join(lines)
    assert len(json.loads((out / "run" / "processes.json").read_text())) >= 9
    process.send_signal(signal.SIGINT)
    rest, _ = process.communicate(timeout=180)
    assert process.returncode != 0
    assert "every process stopped" in rest.decode(errors="replace")
    assert "Traceback" not in rest.decode(errors="replace")
    assert_all_stopped(out)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--trainers", "5"], "trainers must be between 1 and 4"),
        (["--attackers", "4"], "attackers must be between 0 and trainers - 1"),
        (["--jobs", "vision,speech"], "jobs must be distinct names among vision, language"),
        (["--rounds", "0"], "rounds must be at least 1"),
    ],
)
def test_bad_options_are_one_line_errors(tmp_path, args, message):
    result = CliRunner().invoke(cli, ["demo", "--out", str(tmp_path / "demo"), *args])
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output
    assert not (tmp_path / "demo").exists()
