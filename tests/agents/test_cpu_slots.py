"""Host-wide CPU slots: never more holders than slots across processes, and a killed holder frees its slot."""

from __future__ import annotations

import fcntl
import multiprocessing
import os
import signal
import time
from pathlib import Path

import pytest

from agents.node.cpu_slots import CpuSlots


def _hold(directory: str, count: int, seconds: float, log: str) -> None:
    with CpuSlots(Path(directory), count).hold():
        start = time.monotonic()
        time.sleep(seconds)
        end = time.monotonic()
    with open(log, "a") as out:
        out.write(f"{start} {end}\n")


def _held(path: Path) -> bool:
    if not path.exists():
        return False
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def _most_at_once(intervals: list[tuple[float, float]]) -> int:
    edges = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals])
    running = most = 0
    for _, delta in edges:
        running += delta
        most = max(most, running)
    return most


@pytest.mark.parametrize("count", [1, 2])
def test_no_more_holders_than_slots_across_processes(tmp_path: Path, count: int) -> None:
    log = tmp_path / "log"
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_hold, args=(str(tmp_path), count, 0.3, str(log))) for _ in range(4)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=30)
        assert proc.exitcode == 0
    intervals = [tuple(map(float, line.split())) for line in log.read_text().splitlines()]
    assert len(intervals) == 4
    assert _most_at_once(intervals) == count  # the slots are used, and never exceeded


def test_a_killed_holder_frees_its_slot(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    holder = ctx.Process(target=_hold, args=(str(tmp_path), 1, 60.0, str(tmp_path / "log")))
    holder.start()
    deadline = time.monotonic() + 30
    while not _held(tmp_path / "slot-0") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _held(tmp_path / "slot-0") and holder.pid is not None
    os.kill(holder.pid, signal.SIGKILL)
    holder.join()
    started = time.monotonic()
    with CpuSlots(tmp_path, 1).hold():
        assert time.monotonic() - started < 5


def test_zero_slots_means_unlimited_and_negative_is_refused(tmp_path: Path) -> None:
    unlimited = CpuSlots(tmp_path, 0)
    with unlimited.hold(), unlimited.hold():
        assert not any(tmp_path.iterdir())
    with pytest.raises(ValueError, match="0 \\(unlimited\\) or more"):
        CpuSlots(tmp_path, -1)


def test_a_waiter_sleeps_until_a_slot_is_freed_and_then_gets_it_at_once(tmp_path: Path) -> None:
    """Two slots held by this process; a waiter in another process burns no CPU while it waits, and takes
    whichever slot is freed first (here the second) within a few milliseconds."""
    slots = CpuSlots(tmp_path, 2)
    ctx = multiprocessing.get_context("spawn")
    log = tmp_path / "log"
    with slots.hold():
        second = slots.hold()
        second.__enter__()
        waiter = ctx.Process(target=_hold, args=(str(tmp_path), 2, 0.0, str(log)))
        waiter.start()
        assert waiter.pid is not None
        deadline = time.monotonic() + 30
        while len(os.listdir(f"/proc/{waiter.pid}/task")) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)  # until it waits: its main thread and one blocked thread per slot
        assert not log.exists()
        waiting_cpu = _cpu_seconds(waiter.pid)
        time.sleep(1.0)
        assert _cpu_seconds(waiter.pid) - waiting_cpu < 0.02
        freed = time.monotonic()
        second.__exit__(None, None, None)
        waiter.join(timeout=10)
        assert waiter.exitcode == 0
        (start, _) = map(float, log.read_text().split())
        assert start - freed < 0.1


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
