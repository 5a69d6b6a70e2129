"""The IPFS weight store against real js-ipfs daemons."""

from __future__ import annotations

import os
import time

import pytest
import torch

from agents.devnet.services import IpfsDaemon, free_port
from agents.learning.codec import spec_of
from agents.learning.compression import decode_update, encode_update
from agents.learning.errors import ContentUnavailable, WeightStoreError
from agents.learning.hashing import keccak256
from agents.learning.weightstore import BLOCK_BYTES, BLOCK_PUT_BYTES, WeightStore

pytestmark = pytest.mark.services
MISSING_CID = "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy"


def test_round_trip_pins_and_is_content_addressed(ipfs_pair: tuple[IpfsDaemon, IpfsDaemon]) -> None:
    store = WeightStore(ipfs_pair[0].api_multiaddr, timeout=10)
    data = b"weights " * 50_000
    stored = store.put(data)
    assert stored.cid.startswith("bafk") and stored.keccak256 == keccak256(data) and stored.size == len(data)
    assert store.put(data).cid == stored.cid
    assert store.get(stored.cid, stored.keccak256) == data
    assert stored.cid in store.pinned()
    store.unpin(stored.cid)
    assert stored.cid not in store.pinned()
    with pytest.raises(WeightStoreError, match="does not match the expected keccak256"):
        store.get(stored.cid, keccak256(b"something else"))


@pytest.mark.parametrize("size", [0, 1, BLOCK_PUT_BYTES, BLOCK_PUT_BYTES + 1, BLOCK_BYTES, BLOCK_BYTES + 1])
def test_an_object_of_one_block_is_stored_as_add_stores_it(
    ipfs_pair: tuple[IpfsDaemon, IpfsDaemon], size: int
) -> None:
    """Up to one block an object is a raw block (put by ``block/put`` unless it is too big a request for
    js-ipfs), beyond it a UnixFS file: the CID is the one ``add`` gives either way, and each reads back
    whole and in ranges."""
    store = WeightStore(ipfs_pair[0].api_multiaddr, timeout=10)
    data = os.urandom(size)
    stored = store.put(data)
    assert store.cid_of(data).cid == stored.cid  # ``add``'s CID, computed by the daemon without storing
    assert stored.cid.startswith("bafk" if size <= BLOCK_BYTES else "bafy")
    assert store.get(stored.cid, keccak256(data)) == data
    assert store.read(stored.cid, 10, offset=size // 2) == data[size // 2 : size // 2 + 10]


def test_size_limits(ipfs_pair: tuple[IpfsDaemon, IpfsDaemon]) -> None:
    big = WeightStore(ipfs_pair[0].api_multiaddr, timeout=10)
    small = WeightStore(ipfs_pair[0].api_multiaddr, timeout=10, max_bytes=1000)
    stored = big.put(b"x" * 5000)
    with pytest.raises(WeightStoreError, match="larger than the limit"):
        small.get(stored.cid, stored.keccak256)
    with pytest.raises(WeightStoreError, match="exceeds the store limit"):
        small.put(b"x" * 1001)
    # A read takes at most the length asked for, unchecked (its caller checks the parts), within the limit.
    data = bytes(range(256)) * 4
    cid = big.put(data).cid
    assert small.read(cid, 1000) == data[:1000]
    assert big.read(cid, 5000) == data
    assert big.read(cid, 300, offset=700) == data[700:1000]
    assert big.read(cid, 5000, offset=1000) == data[1000:]
    blocks = os.urandom(3 * 2**20)  # three 1 MiB blocks: a range across the first boundary
    assert big.read(big.put(blocks).cid, 200, offset=2**20 - 100) == blocks[2**20 - 100 : 2**20 + 100]
    with pytest.raises(WeightStoreError, match="store limit is 1000"):
        small.read(cid, 1001)


@pytest.mark.parametrize("size", [100, 3 * BLOCK_BYTES])
def test_content_nobody_serves_is_unavailable_after_one_daemon_timeout(
    ipfs_pair: tuple[IpfsDaemon, IpfsDaemon], size: int
) -> None:
    """A CID announced but never stored (``cid_of`` stores nothing): the daemon searches for it for its
    timeout and says so once, not once per retry; stored, the same CID reads back."""
    store = WeightStore(ipfs_pair[0].api_multiaddr, timeout=2, retries=2, backoff=0.1)
    data = os.urandom(size)
    withheld = store.cid_of(data)
    began = time.monotonic()
    with pytest.raises(ContentUnavailable, match=f"(block get|cat) {withheld.cid}.*timed out"):
        store.get(withheld.cid, withheld.keccak256)
    assert time.monotonic() - began < 2 + 1  # one daemon timeout (1.8 s), no retry
    with pytest.raises(ContentUnavailable):
        store.read(withheld.cid, 10)
    assert store.put(data).cid == withheld.cid
    assert store.get(withheld.cid, withheld.keccak256) == data


def test_daemon_down_is_a_clear_error_and_not_unavailable_content() -> None:
    store = WeightStore(f"/ip4/127.0.0.1/tcp/{free_port()}/http", timeout=2, retries=1, backoff=0.1)
    began = time.monotonic()
    with pytest.raises(WeightStoreError, match=r"block put .* failed after 2 attempts"):
        store.put(b"abc")
    with pytest.raises(WeightStoreError, match=r"block get .* failed after 2 attempts") as raised:
        store.get(MISSING_CID, b"\0" * 32)
    assert not isinstance(raised.value, ContentUnavailable)
    assert time.monotonic() - began < 5


def test_two_daemons_exchange_weights(ipfs_pair: tuple[IpfsDaemon, IpfsDaemon]) -> None:
    a, b = ipfs_pair
    store_a, store_b = WeightStore(a.api_multiaddr, timeout=20), WeightStore(b.api_multiaddr, timeout=20)
    g = torch.Generator().manual_seed(0)
    update = {"layer.weight": torch.randn(300, 400, generator=g), "layer.bias": torch.randn(300, generator=g)}
    stored = store_a.put(encode_update(update, "fp16"))
    store_b.connect(a.swarm_multiaddr)
    fetched = store_b.get(stored.cid, stored.keccak256)
    restored = decode_update(fetched, spec_of(update), "fp16")
    assert all(torch.allclose(restored[k], update[k], rtol=1e-3, atol=1e-3) for k in update)
    store_b.pin(stored.cid)
    assert stored.cid in store_b.pinned()
