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
import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from agents.deployments import aoai_home


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
        fd = self._free_slot()
        if fd is None:
            fd = self._first_freed()
        try:
            yield
        finally:
            os.close(fd)  # releases the lock

    def _open(self, index: int) -> int:
        return os.open(self.directory / f"slot-{index}", os.O_RDWR | os.O_CREAT, 0o600)

    def _free_slot(self) -> int | None:
        """A locked descriptor of a free slot, if one is free now."""
        for index in range(self.count):
            fd = self._open(index)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            return fd
        return None

    def _first_freed(self) -> int:
        """The first slot to be freed, waited for without polling: a thread blocks on each slot's lock;
        the first to get one hands it over, the others give theirs back as soon as they get it. (Polling
        every 5 ms, two waiting trainers woke 400 times a second on the cores the others trained on, and
        training took about a tenth more CPU.)"""
        won: queue.SimpleQueue[int] = queue.SimpleQueue()
        handed = threading.Lock()
        taken = False

        def wait(index: int) -> None:
            nonlocal taken
            fd = self._open(index)
            fcntl.flock(fd, fcntl.LOCK_EX)  # releases the GIL while it blocks
            with handed:
                first, taken = not taken, True
            if first:
                won.put(fd)
            else:
                os.close(fd)

        for index in range(self.count):
            threading.Thread(target=wait, args=(index,), daemon=True, name=f"cpu-slot-{index}").start()
        return won.get()
