"""Merkle tree hashing and proofs, exactly as RFC 9162 (Certificate Transparency v2), section 2.1, defines.

Pure: no I/O. Proof generation works on any store that can answer ``node(level, index)``: the hash of the
*complete* subtree of 2**level leaves starting at leaf ``index * 2**level``. Every node the RFC's recursive
definitions need is either such a complete subtree or a combination of them along the tree's right edge, so
a store that keeps complete subtrees (tiles, see ``tiles.py``) answers any proof in O(log n) lookups.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

HASH_SIZE = 32
NodeReader = Callable[[int, int], bytes]
RangeReader = Callable[[int, int], bytes]
"""``ranges(start, end)`` -> MTH(D[start:end]); lets a store cache the right-edge hashes every proof reuses."""
"""``node(level, index)`` -> hash of the complete subtree covering leaves [index*2**level, (index+1)*2**level)."""


class ProofError(ValueError):
    """A proof or its inputs are malformed, or it does not verify."""


def hash_leaf(entry: bytes) -> bytes:
    """§2.1.1: MTH({d(0)}) = SHA-256(0x00 || d(0))."""
    return hashlib.sha256(b"\x00" + entry).digest()


def hash_children(left: bytes, right: bytes) -> bytes:
    """§2.1.1: an interior node is SHA-256(0x01 || MTH(left) || MTH(right))."""
    return hashlib.sha256(b"\x01" + left + right).digest()


EMPTY_ROOT = hashlib.sha256(b"").digest()
"""§2.1.1: the hash of the empty tree, MTH({}) = SHA-256()."""


def largest_power_of_two_below(n: int) -> int:
    """§2.1.1: k, the largest power of two smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def _perfect_tree_hash(level: Sequence[bytes]) -> bytes:
    """MTH of a tree whose size is a power of two (a full tile): pair up level by level.

    Same hashes as the general case (every split is exactly in the middle); written as one comprehension
    per level because integration spends most of its hashing time here.
    """
    sha256 = hashlib.sha256
    while len(level) > 1:
        level = [sha256(b"\x01" + level[i] + level[i + 1]).digest() for i in range(0, len(level), 2)]
    return level[0]


def tree_hash(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH of a whole tree given its leaf hashes (§2.1.1), computed bottom-up without recursion."""
    if not leaf_hashes:
        return EMPTY_ROOT
    count = len(leaf_hashes)
    if count & (count - 1) == 0:
        return _perfect_tree_hash(leaf_hashes)
    # Keep a stack of complete subtrees, like a binary counter; merge equal sizes as they appear.
    stack: list[tuple[int, bytes]] = []
    for leaf in leaf_hashes:
        size, node = 1, leaf
        while stack and stack[-1][0] == size:
            left_size, left = stack.pop()
            node = hash_children(left, node)
            size += left_size
        stack.append((size, node))
    size, root = stack.pop()
    while stack:
        _, left = stack.pop()
        root = hash_children(left, root)
    return root


def range_hash(start: int, end: int, node: NodeReader) -> bytes:
    """MTH(D[start:end]) for a range the RFC's recursion produces (start aligned to the range's split).

    The left part [start, start+k) is always a complete, aligned subtree; only the right edge recurses.
    """
    if end - start < 1:
        raise ProofError("empty range")
    lefts: list[bytes] = []
    while True:
        n = end - start
        if n & (n - 1) == 0:  # a power of two: complete subtree
            result = node(n.bit_length() - 1, start >> (n.bit_length() - 1))
            break
        k = largest_power_of_two_below(n)
        lefts.append(node(k.bit_length() - 1, start >> (k.bit_length() - 1)))
        start += k
    for left in reversed(lefts):
        result = hash_children(left, result)
    return result


def list_reader(leaf_hashes: Sequence[bytes]) -> NodeReader:
    """A ``NodeReader`` over an in-memory list of leaf hashes (for small trees and tests)."""

    def node(level: int, index: int) -> bytes:
        lo = index << level
        return tree_hash(leaf_hashes[lo:lo + (1 << level)])

    return node


# --- §2.1.3 inclusion ----------------------------------------------------------------------------


def _ranges(node: NodeReader, ranges: RangeReader | None) -> RangeReader:
    return ranges or (lambda start, end: range_hash(start, end, node))


def inclusion_proof(index: int, size: int, node: NodeReader, ranges: RangeReader | None = None) -> list[bytes]:
    """§2.1.3.1 PATH(m, D[n]): the audit path from leaf ``index`` (0-based) up to the root of ``size``."""
    if not 0 <= index < size:
        raise ProofError(f"index {index} is not in a tree of size {size}")
    range_of = _ranges(node, ranges)
    path: list[bytes] = []
    start, end = 0, size
    while end - start > 1:
        k = largest_power_of_two_below(end - start)
        if index < start + k:
            path.append(range_of(start + k, end))
            end = start + k
        else:
            path.append(range_of(start, start + k))
            start += k
    path.reverse()  # the recursion prepends: leaf's sibling first, root's child last
    return path


def root_from_inclusion_proof(leaf: bytes, index: int, size: int, proof: Sequence[bytes]) -> bytes:
    """§2.1.3.2: the root the audit path leads to, or ``ProofError`` if its shape is wrong."""
    if not 0 <= index < size:
        raise ProofError(f"index {index} is not in a tree of size {size}")
    _check_hashes([leaf, *proof])
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise ProofError("inclusion proof is too long")
        if fn & 1 or fn == sn:
            r = hash_children(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = hash_children(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("inclusion proof is too short")
    return r


def verify_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> None:
    """§2.1.3.2: raise ``ProofError`` unless ``proof`` shows leaf ``index`` is in the tree with ``root``."""
    _check_hashes([root])
    if root_from_inclusion_proof(leaf, index, size, proof) != root:
        raise ProofError("inclusion proof does not lead to the root")


# --- §2.1.4 consistency --------------------------------------------------------------------------


def consistency_proof(old_size: int, new_size: int, node: NodeReader,
                      ranges: RangeReader | None = None) -> list[bytes]:
    """§2.1.4.1 PROOF(m, D[n]) = SUBPROOF(m, D[n], true), for 0 < m <= n."""
    if not 0 < old_size <= new_size:
        raise ProofError(f"no consistency proof from size {old_size} to {new_size}")
    range_of = _ranges(node, ranges)
    proof: list[bytes] = []
    m, start, end, complete = old_size, 0, new_size, True
    while True:
        n = end - start
        if m == n:
            if not complete:
                proof.append(range_of(start, end))
            break
        k = largest_power_of_two_below(n)
        if m <= k:
            proof.append(range_of(start + k, end))
            end = start + k
        else:
            proof.append(range_of(start, start + k))
            m -= k
            start += k
            complete = False
    proof.reverse()
    return proof


def verify_consistency(old_size: int, new_size: int, old_root: bytes, new_root: bytes,
                       proof: Sequence[bytes]) -> None:
    """§2.1.4.2: raise ``ProofError`` unless the tree of ``new_size`` extends the tree of ``old_size``.

    Rejects the known traps: old size 0 (nothing to be consistent with), sizes out of order, an empty
    proof between different sizes, and hashes of the wrong length.
    """
    _check_hashes([old_root, new_root, *proof])
    if old_size < 1:
        raise ProofError("old size must be at least 1")
    if old_size > new_size:
        raise ProofError(f"old size {old_size} is larger than new size {new_size}")
    if old_size == new_size:
        if proof:
            raise ProofError("a proof between equal sizes must be empty")
        if old_root != new_root:
            raise ProofError("equal sizes with different roots")
        return
    if not proof:
        raise ProofError("empty consistency proof")
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("consistency proof is too long")
        if fn & 1 or fn == sn:
            fr = hash_children(c, fr)
            sr = hash_children(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = hash_children(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("consistency proof is too short")
    if fr != old_root:
        raise ProofError("consistency proof does not lead to the old root")
    if sr != new_root:
        raise ProofError("consistency proof does not lead to the new root")


def _check_hashes(hashes: Sequence[bytes]) -> None:
    for h in hashes:
        if not isinstance(h, bytes | bytearray) or len(h) != HASH_SIZE:
            raise ProofError(f"a hash must be {HASH_SIZE} bytes")
