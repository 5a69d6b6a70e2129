"""Host-wide CPU slots: agents sharing one machine take turns at heavy compute (training, replays)
instead of running more single-threaded jobs than it has cores.

Four trainers training at once on two cores each take twice as long and burn more CPU in context
switches and cache misses than two at a time, twice. A slot is an exclusive ``flock`` on one of
``count`` files under ``$AOAI_HOME/cpu-slots``; the kernel drops it when its holder exits or dies, so a
killed agent never keeps one.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from agents.deployments import aoai_home

POLL_S = 0.005
"""Sleep between sweeps over busy slots."""


class CpuSlots:
    """``count`` slots in ``directory``; ``count`` 0 means unlimited."""

    def __init__(self, directory: Path, count: int) -> None:
        if count < 0:
            raise ValueError(f"CPU slots must be 0 (unlimited) or more, not {count}")
        self.directory = directory
        self.count = count

    @classmethod
    def for_host(cls) -> CpuSlots:
        """``$AOAI_CPU_SLOTS`` slots (default: the number of CPUs) under ``$AOAI_HOME/cpu-slots``."""
        count = int(os.environ.get("AOAI_CPU_SLOTS", os.cpu_count() or 1))
        return cls(aoai_home() / "cpu-slots", count)

    @contextmanager
    def hold(self) -> Iterator[None]:
        """Blocks until a slot is free and holds it for the ``with`` block."""
        if self.count == 0:
            yield
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        while True:
            for index in range(self.count):
                fd = os.open(self.directory / f"slot-{index}", os.O_RDWR | os.O_CREAT, 0o600)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    os.close(fd)
                    continue
                try:
                    yield
                finally:
                    os.close(fd)  # releases the lock
                return
            time.sleep(POLL_S)
