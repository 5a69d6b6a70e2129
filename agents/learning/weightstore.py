"""Content-addressed weight store over an IPFS daemon's RPC API (js-ipfs or Kubo).

Objects are stored as CIDv1 in base32 and pinned; the same bytes give the same CID. An object of at most
one 1 MiB block is one raw block (``bafk...``), put with ``block/put`` and read with ``block/get``: the same
CID ``add`` gives it, for about 2 ms less of js-ipfs's CPU per put and per read than ``add`` and ``cat``
(no UnixFS import or export). Larger objects are added in 1 MiB blocks (``bafy...``) and read with
``cat``. Every ``get`` is checked against the keccak256 of the expected bytes (the hash the chain stores,
so contracts can compare it with ``keccak256``), against a maximum size, and bounded in time: js-ipfs
blocks forever on reads of content it cannot find, so each call has a timeout (also passed to the daemon)
and a limited number of retries. All failures raise :class:`WeightStoreError`; content the daemon could
not find in time raises its subclass :class:`ContentUnavailable` at once (the daemon has searched for it
the whole timeout: asking again at once finds nothing more), which callers tell from a daemon that is down.

Puts and reads, an agent's dozens of calls a round, go over one kept-alive connection
(:class:`~agents.http_connection.KeptAliveConnection`, ~0.2 ms of client CPU a small read where
ipfshttpclient takes 1.2 ms); pinning goes through ipfshttpclient.
"""

from __future__ import annotations

import json
import time
import uuid
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TypeVar
from urllib.parse import urlencode

import ipfshttpclient

from agents.http_connection import KeptAliveConnection
from agents.learning.codec import DEFAULT_MAX_BYTES
from agents.learning.errors import ContentUnavailable, WeightStoreError
from agents.learning.hashing import keccak256

T = TypeVar("T")
BLOCK_BYTES = 2**20
"""Objects up to this size are one raw block; larger ones are added in blocks of this size."""
BLOCK_PUT_BYTES = BLOCK_BYTES - 4096
"""The largest object put with ``block/put``: js-ipfs takes at most 1 MiB of request body, multipart
headers included (``add`` makes the same raw block of the few bytes more)."""
RAW_BLOCK_PREFIX = "bafk"
"""How a base32 CIDv1 of the raw codec (one block, its bytes as they are) begins."""
READS = ("block/get", "cat")
NOT_FOUND_IN_TIME = ("request timed out", "deadline exceeded")
"""How js-ipfs and Kubo answer one of READS of content they found no provider of within its timeout."""


class _NotFoundInTime(ConnectionError):
    """The daemon's answer to a read it gave up on (see NOT_FOUND_IN_TIME)."""


def multipart(data: bytes) -> tuple[bytes, str]:
    """``data`` as the one file of a multipart body, and the body's boundary: sent whole, as
    ipfshttpclient's 8 KiB pieces cost js-ipfs about a third more CPU per put."""
    boundary = uuid.uuid4().hex
    body = b"".join((
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"blob\"\r\n".encode(),
        b"Content-Type: application/octet-stream\r\n\r\n", data, f"\r\n--{boundary}--\r\n".encode(),
    ))  # fmt: skip
    return body, boundary


@dataclass(frozen=True)
class StoredObject:
    """Where bytes live (``cid``) and what they hash to (``keccak256``, 32 bytes, computed when first
    asked: a trace's checkpoints are hashed one by one instead)."""

    cid: str
    size: int
    data: bytes = field(repr=False, compare=False)

    @cached_property
    def keccak256(self) -> bytes:
        return keccak256(self.data)


class WeightStore:
    """Put and get weight bytes by CID through one IPFS daemon.

    ``api`` is the daemon's RPC multiaddr (``/ip4/127.0.0.1/tcp/5001/http``). ``timeout`` bounds each
    call in seconds; failed calls are retried ``retries`` times after ``backoff`` seconds, but for a
    read of content nobody serves, which fails after about ``0.9 * timeout`` seconds (the daemon's own
    timeout).
    """

    def __init__(
        self,
        api: str,
        timeout: float = 30.0,
        retries: int = 2,
        backoff: float = 0.5,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> None:
        self.api = api
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.max_bytes = max_bytes
        # Built directly: ipfshttpclient.connect() refuses daemon versions it does not know (js-ipfs 0.18).
        self._client = ipfshttpclient.Client(api, timeout=timeout)
        host, port = api.split("/")[2], api.split("/")[4]
        self._http = KeptAliveConnection(f"http://{host}:{port}/api/v0", timeout)

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        last: Exception | None = None
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff)
            try:
                with warnings.catch_warnings():
                    warnings.filterwarnings("ignore", category=FutureWarning, module="urllib3")
                    return fn()
            except _NotFoundInTime as exc:
                raise ContentUnavailable(f"IPFS {what} via {self.api}: {exc}") from exc
            except (ipfshttpclient.exceptions.Error, ConnectionError) as exc:
                last = exc
        raise WeightStoreError(f"IPFS {what} via {self.api} failed after {self.retries + 1} attempts: {last}")

    @property
    def _daemon_timeout(self) -> str:
        """The daemon gives up slightly before the client does, so its clearer error wins."""
        return f"{int(self.timeout * 900)}ms"

    def put(self, data: bytes, pin: bool = True) -> StoredObject:
        """Store (and pin) ``data``; returns its CIDv1 and keccak256."""
        self._check_size(data)
        params = {"cid-base": "base32", "pin": str(pin).lower()}
        if len(data) <= BLOCK_PUT_BYTES:  # ``format`` and ``version`` for js-ipfs, ``cid-codec`` for Kubo
            command, answer_key = "block/put", "Key"
            params |= {"version": "1", "format": "raw", "cid-codec": "raw", "mhtype": "sha2-256"}
        else:
            command, answer_key, params = "add", "Hash", params | self._add_params
        return self._stored(command, params, answer_key, data)

    def cid_of(self, data: bytes) -> StoredObject:
        """The CID :meth:`put` gives ``data``, computed by the daemon without storing anything (``add`` with
        ``only-hash``): what a trainer that withholds its update publishes."""
        self._check_size(data)
        params = {"cid-base": "base32", "only-hash": "true", "pin": "false"} | self._add_params
        return self._stored("add", params, "Hash", data)

    @property
    def _add_params(self) -> dict[str, str]:
        """1 MiB blocks (the default is 256 KiB): a quarter of the blocks to hash, link and store; an object
        of at most one block is then the raw block ``block/put`` makes."""
        return {"cid-version": "1", "chunker": f"size-{BLOCK_BYTES}"}

    def _check_size(self, data: bytes) -> None:
        if len(data) > self.max_bytes:
            raise WeightStoreError(f"{len(data)} bytes exceeds the store limit of {self.max_bytes}")

    def _stored(self, command: str, params: dict[str, str], answer_key: str, data: bytes) -> StoredObject:
        what = command.replace("/", " ")
        added = self._call(what, lambda: json.loads(self._rpc(command, params, *multipart(data))))
        return StoredObject(cid=str(added[answer_key]), size=len(data), data=data)

    def get(self, cid: str, expected_keccak256: bytes) -> bytes:
        """The bytes of ``cid`` if at most ``max_bytes`` long and hashing to ``expected_keccak256``."""
        data = self._cat(cid, self.max_bytes + 1)
        if len(data) > self.max_bytes:
            raise WeightStoreError(f"{cid} is larger than the limit of {self.max_bytes} bytes")
        if keccak256(data) != expected_keccak256:
            raise WeightStoreError(f"{cid}: content does not match the expected keccak256")
        return bytes(data)

    def read(self, cid: str, length: int, offset: int = 0) -> bytes:
        """At most ``length`` bytes (at most ``max_bytes``) of ``cid`` from byte ``offset`` on, unchecked:
        for content whose parts the caller checks against hashes it already trusts (an update bundle)."""
        if not 0 <= length <= self.max_bytes or offset < 0:
            raise WeightStoreError(
                f"cannot read {length} bytes at {offset}: the store limit is {self.max_bytes}"
            )
        return self._cat(cid, length, offset)

    def _cat(self, cid: str, length: int, offset: int = 0) -> bytes:
        """At most ``length`` bytes of ``cid`` from ``offset`` on: a raw block read whole and cut here
        (it is at most a block), other content cut by the daemon."""
        timeout = {"timeout": self._daemon_timeout}
        if cid.startswith(RAW_BLOCK_PREFIX):
            block = self._call("block get " + cid, lambda: self._rpc("block/get", {"arg": cid, **timeout}))
            return block[offset : offset + length]
        params = {"arg": cid, "length": str(length), **timeout}
        if offset:
            params["offset"] = str(offset)
        return self._call("cat " + cid, lambda: self._rpc("cat", params))

    def pin(self, cid: str) -> None:
        """Pin ``cid`` on this daemon (fetching it if needed) so garbage collection keeps it."""
        self._call(
            "pin " + cid,
            lambda: self._client.pin.add(cid, opts={"timeout": self._daemon_timeout}, timeout=self.timeout),
        )

    def unpin(self, cid: str) -> None:
        self._call("unpin " + cid, lambda: self._client.pin.rm(cid, timeout=self.timeout))

    def pinned(self) -> set[str]:
        """CIDs pinned recursively, in base32 CIDv1 form."""
        params = {"type": "recursive", "cid-base": "base32"}
        response = self._call("pin ls", lambda: json.loads(self._rpc("pin/ls", params)))
        keys = response.get("Keys", {})
        return set(keys) if isinstance(keys, dict) else set()

    def connect(self, peer: str) -> None:
        """Connect to a peer by swarm multiaddr ending in ``/p2p/<peer id>``.

        Uses the RPC directly: ipfshttpclient 0.8.0a2's ``swarm.connect`` splits the address into characters.
        """
        self._call("swarm connect", lambda: self._rpc("swarm/connect", {"arg": peer}))

    def _rpc(self, command: str, params: dict[str, str], body: bytes = b"", boundary: str = "") -> bytes:
        """The body of the daemon's answer to ``command``; an error answer raises ConnectionError
        (:class:`_NotFoundInTime` when the daemon found no provider of the content in time)."""
        kind = f"multipart/form-data; boundary={boundary}" if boundary else "application/octet-stream"
        status, answer = self._http.post(f"/{command}?{urlencode(params)}", body, {"Content-Type": kind})
        if status != 200:
            message = f"HTTP {status}: {answer[:300].decode(errors='replace')}"
            timed_out = command in READS and any(phrase in message for phrase in NOT_FOUND_IN_TIME)
            raise (_NotFoundInTime if timed_out else ConnectionError)(f"IPFS {command}: {message}")
        return answer

    def close(self) -> None:
        self._client.close()
        self._http.close()
