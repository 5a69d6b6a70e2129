"""Fixtures for the learning-core tests: real js-ipfs daemons (session-scoped) and small random updates."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import torch

from agents.devnet.services import IpfsDaemon


@pytest.fixture(scope="session")
def ipfs_pair() -> Iterator[tuple[IpfsDaemon, IpfsDaemon]]:
    """Two closed js-ipfs daemons on loopback, started in parallel, stopped at the end of the session."""
    daemons = (IpfsDaemon(), IpfsDaemon())
    try:
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(lambda d: d.start(), daemons))
        yield daemons
    finally:
        for daemon in daemons:
            daemon.stop()


@pytest.fixture
def gen() -> torch.Generator:
    return torch.Generator().manual_seed(1234)
