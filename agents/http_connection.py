"""A kept-alive HTTP/1.1 connection per thread to one server, for the agents' many small local calls
(JSON-RPC to the chain node, the IPFS daemon's RPC API): ``http.client`` costs about 0.1-0.2 ms of client
CPU a call where requests, httpx or ipfshttpclient cost 0.5-1.2 ms.
"""

from __future__ import annotations

import http.client
import threading
from urllib.parse import urlsplit

STALE = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError)
"""How a reused connection fails when the server closed it while idle. The request is then sent once more
on a new connection: every call made here is safe to repeat (reads, content-addressed adds, a signed
transaction, which the node takes once)."""


class KeptAliveConnection:
    """POSTs to ``base_url`` (``http://host:port/prefix``) on one open connection per thread, reopened
    when the server closed it. Transport failures raise :class:`ConnectionError`, naming the server."""

    def __init__(self, base_url: str, timeout: float) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an HTTP(S) endpoint: {base_url}")
        self.base_url = base_url
        self.timeout = timeout
        self._https = parts.scheme == "https"
        self._address = (parts.hostname, parts.port)
        self._prefix = parts.path.rstrip("/")
        self._local = threading.local()

    def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        """``(status, body)`` of a POST of ``body`` to the prefix + ``path`` (``/add?arg=...``)."""
        reused = getattr(self._local, "connection", None) is not None
        connection = self._connection()
        try:
            connection.request("POST", self._prefix + path or "/", body, headers)
            response = connection.getresponse()
            return response.status, response.read()
        except STALE as error:
            self.close()
            if reused:  # the server had closed the idle connection: send once more on a new one
                return self.post(path, body, headers)
            raise ConnectionError(f"{self.base_url}: {error}") from error
        except (OSError, http.client.HTTPException) as error:
            self.close()
            raise ConnectionError(f"{self.base_url}: {error}") from error

    def close(self) -> None:
        """Closes this thread's connection (the next call opens another)."""
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
        self._local.connection = None

    def _connection(self) -> http.client.HTTPConnection:
        if getattr(self._local, "connection", None) is None:
            kind = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            self._local.connection = kind(*self._address, timeout=self.timeout)
        connection: http.client.HTTPConnection = self._local.connection
        return connection
