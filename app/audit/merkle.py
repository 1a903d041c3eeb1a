"""Merkle trees as RFC 6962 / RFC 9162 define them (SHA-256, domain-separated).

A leaf hashes as SHA-256(0x00 || data), an interior node as
SHA-256(0x01 || left || right); a tree of n leaves splits at the largest power
of two below n. Checkpoints sign the root of the tree over the row hashes
sealed since the previous checkpoint, so an evidence pack proves a row with a
path of log2(batch) hashes, whatever the size of the whole chain.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

HASH_BYTES = 32
_sha256 = hashlib.sha256


def leaf_hash(data: bytes) -> bytes:
    """RFC 6962 leaf hash of `data`."""
    return _sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 6962 interior node hash."""
    return _sha256(b"\x01" + left + right).digest()


def _split(size: int) -> int:
    """The largest power of two strictly below `size` (size >= 2)."""
    return 1 << ((size - 1).bit_length() - 1)


def _subtree_root(hashes: Sequence[bytes], start: int, end: int) -> bytes:
    size = end - start
    if size == 1:
        return hashes[start]
    k = _split(size)
    return node_hash(_subtree_root(hashes, start, start + k), _subtree_root(hashes, start + k, end))


def merkle_root(leaves: Sequence[bytes]) -> bytes:
    """Root over the leaf data `leaves` (SHA-256 of nothing for an empty tree)."""
    if not leaves:
        return _sha256(b"").digest()
    builder = MerkleBuilder()
    for leaf in leaves:
        builder.add(leaf)
    return builder.root()


def inclusion_proof(leaves: Sequence[bytes], index: int) -> list[bytes]:
    """The audit path of leaf `index`, nearest sibling first (RFC 9162 2.1.3.1)."""
    if not 0 <= index < len(leaves):
        raise IndexError(f"leaf {index} is outside a tree of {len(leaves)} leaves")
    hashes = [leaf_hash(leaf) for leaf in leaves]
    path: list[bytes] = []
    start, end, m = 0, len(hashes), index
    # Walk down from the root, collecting the sibling subtree of each level.
    while end - start > 1:
        k = _split(end - start)
        if m < k:
            path.append(_subtree_root(hashes, start + k, end))
            end = start + k
        else:
            path.append(_subtree_root(hashes, start, start + k))
            start, m = start + k, m - k
    path.reverse()
    return path


def root_from_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes]) -> bytes | None:
    """The root that `proof` implies for `leaf` at `index` of `size` leaves; None if ill-formed."""
    if not 0 <= index < size or any(len(p) != HASH_BYTES for p in proof):
        return None
    fn, sn = index, size - 1
    result = leaf_hash(leaf)
    for sibling in proof:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            result = node_hash(sibling, result)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            result = node_hash(result, sibling)
        fn >>= 1
        sn >>= 1
    return result if sn == 0 else None


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """True when `proof` shows `leaf` at `index` in the tree of `size` leaves with `root`."""
    return root_from_inclusion(leaf, index, size, proof) == root


class MerkleBuilder:
    """Root of a growing tree in O(log n) memory: leaves added one at a time, in order."""

    __slots__ = ("_size", "_stack")

    def __init__(self) -> None:
        # Roots of complete subtrees, largest first; their sizes are the bits of _size.
        self._stack: list[bytes] = []
        self._size = 0

    @property
    def size(self) -> int:
        return self._size

    def add(self, data: bytes) -> None:
        """Append one leaf (its data; the leaf hash is taken here)."""
        stack = self._stack
        stack.append(_sha256(b"\x00" + data).digest())
        self._size += 1
        count = self._size
        while not count & 1:
            right = stack.pop()
            stack[-1] = _sha256(b"\x01" + stack[-1] + right).digest()
            count >>= 1

    def root(self) -> bytes:
        """Root of the leaves added so far (SHA-256 of nothing when there are none)."""
        stack = self._stack
        if not stack:
            return _sha256(b"").digest()
        result = stack[-1]
        for left in reversed(stack[:-1]):
            result = node_hash(left, result)
        return result
