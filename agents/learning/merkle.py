"""Keccak256 Merkle tree over training checkpoints, verifiable with OpenZeppelin's ``MerkleProof.verify``.

Leaf ``i`` for the checkpoint whose canonical safetensors bytes have sha256 ``h`` is
``keccak256(keccak256(abi.encode(uint256 i, bytes32 h)))`` (double hashing, as OpenZeppelin's
StandardMerkleTree, so no inner node can pass for a leaf; the index binds the leaf to its position).
Inner nodes hash their two children in sorted order (``keccak256(min || max)``, OpenZeppelin's
commutative hash); an unpaired last node moves up a level unchanged. A proof is the list of
sibling hashes from the leaf up, so in Solidity::

    bytes32 leaf = keccak256(bytes.concat(keccak256(abi.encode(index, checkpointHash))));
    require(MerkleProof.verify(proof, traceRoot, leaf));
"""

from __future__ import annotations

from collections.abc import Sequence

from agents.learning.errors import TraceError
from agents.learning.hashing import keccak256


def leaf_hash(index: int, checkpoint_hash: bytes) -> bytes:
    """The leaf of checkpoint ``index`` given the sha256 of its bytes."""
    if len(checkpoint_hash) != 32 or index < 0:
        raise TraceError("a leaf needs a non-negative index and a 32-byte checkpoint hash")
    return keccak256(keccak256(index.to_bytes(32, "big") + checkpoint_hash))


def _parent(a: bytes, b: bytes) -> bytes:
    return keccak256(min(a, b) + max(a, b))


def _levels(leaves: Sequence[bytes]) -> list[list[bytes]]:
    if not leaves:
        raise TraceError("a Merkle tree needs at least one leaf")
    levels = [list(leaves)]
    while len(levels[-1]) > 1:
        level = levels[-1]
        nxt = [_parent(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        levels.append(nxt)
    return levels


class MerkleTree:
    """The tree over checkpoint hashes (sha256 of each checkpoint's bytes, in step order), hashed once:
    its root and any leaf's proof."""

    def __init__(self, checkpoint_hashes: Sequence[bytes]) -> None:
        self._levels = _levels([leaf_hash(i, h) for i, h in enumerate(checkpoint_hashes)])

    @property
    def root(self) -> bytes:
        """The ``traceRoot``."""
        return self._levels[-1][0]

    def proof(self, index: int) -> list[bytes]:
        """Sibling hashes proving leaf ``index`` under :attr:`root`."""
        if not 0 <= index < len(self._levels[0]):
            raise TraceError(f"no checkpoint {index} among {len(self._levels[0])}")
        proof = []
        for level in self._levels[:-1]:
            sibling = index ^ 1
            if sibling < len(level):
                proof.append(level[sibling])
            index //= 2
        return proof


def merkle_root(checkpoint_hashes: Sequence[bytes]) -> bytes:
    """The ``traceRoot`` over checkpoint hashes."""
    return MerkleTree(checkpoint_hashes).root


def merkle_proof(checkpoint_hashes: Sequence[bytes], index: int) -> list[bytes]:
    """Sibling hashes proving leaf ``index`` under :func:`merkle_root` of the same hashes."""
    return MerkleTree(checkpoint_hashes).proof(index)


def verify_proof(root: bytes, index: int, checkpoint_hash: bytes, proof: Sequence[bytes]) -> bool:
    """Whether ``proof`` shows checkpoint ``index`` with hash ``checkpoint_hash`` under ``root``."""
    node = leaf_hash(index, checkpoint_hash)
    for sibling in proof:
        node = _parent(node, sibling)
    return node == root
