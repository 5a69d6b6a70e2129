"""The IPFS weight store as agents use it: the learning core's store plus reads of documents whose
keccak256 the chain does not hold (job manifests: the local daemon checks content against its CID)."""

from __future__ import annotations

from agents.learning.errors import WeightStoreError
from agents.learning.weightstore import WeightStore

MAX_DOCUMENT_BYTES = 64 * 1024


class Store(WeightStore):
    """A :class:`WeightStore` that retries briefly, so an agent rides out a daemon restart tick by tick."""

    def __init__(self, api: str) -> None:
        super().__init__(api, timeout=15.0, retries=2, backoff=0.5)

    def get_document(self, cid: str) -> bytes:
        """A small document by CID, size-capped; integrity rests on the daemon's CID check."""
        data = self._cat(cid, MAX_DOCUMENT_BYTES + 1)
        if len(data) > MAX_DOCUMENT_BYTES:
            raise WeightStoreError(f"{cid} is larger than {MAX_DOCUMENT_BYTES} bytes")
        return bytes(data)
