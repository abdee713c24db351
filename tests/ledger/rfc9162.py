"""A reference for the ledger tests, written from RFC 9162 §2.1 and nothing else.

It deliberately imports nothing from ``aicommons``: the recursive definitions MTH, PATH, PROOF/SUBPROOF
(§2.1.1, §2.1.3.1, §2.1.4.1), the RFC's verification algorithms (§2.1.3.2, §2.1.4.2), and a second,
structural verifier that re-walks the recursive definitions, so each direction is cross-checked.
All functions work on *leaf hashes* (MTH of a one-entry list is its leaf hash).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence


class Invalid(Exception):
    """The reference verifier rejects a proof."""


def leaf(entry: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry).digest()


def node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


EMPTY = hashlib.sha256(b"").digest()


def split_point(n: int) -> int:
    """k: the largest power of two smaller than n (n > 1), found by doubling, as the RFC words it."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


class Tree:
    """MTH/PATH/PROOF over a fixed list of leaf hashes; MTH of a range is memoised (same answers, faster)."""

    def __init__(self, leaves: Sequence[bytes]) -> None:
        self.leaves = list(leaves)
        self._memo: dict[tuple[int, int], bytes] = {}

    def mth(self, lo: int, hi: int) -> bytes:
        """MTH(D[lo:hi]) by the recursive definition of §2.1.1."""
        n = hi - lo
        if n == 0:
            return EMPTY
        if n == 1:
            return self.leaves[lo]
        key = (lo, hi)
        if key not in self._memo:
            k = split_point(n)
            self._memo[key] = node(self.mth(lo, lo + k), self.mth(lo + k, hi))
        return self._memo[key]

    def root(self, size: int) -> bytes:
        return self.mth(0, size)

    def path(self, m: int, size: int) -> list[bytes]:
        """PATH(m, D[size]) of §2.1.3.1."""
        return self._path(m, 0, size)

    def _path(self, m: int, lo: int, hi: int) -> list[bytes]:
        n = hi - lo
        if n == 1:
            return []
        k = split_point(n)
        if m < k:
            return [*self._path(m, lo, lo + k), self.mth(lo + k, hi)]
        return [*self._path(m - k, lo + k, hi), self.mth(lo, lo + k)]

    def proof(self, m: int, size: int) -> list[bytes]:
        """PROOF(m, D[size]) = SUBPROOF(m, D[size], true) of §2.1.4.1."""
        return self._subproof(m, 0, size, True)

    def _subproof(self, m: int, lo: int, hi: int, b: bool) -> list[bytes]:
        n = hi - lo
        if m == n:
            return [] if b else [self.mth(lo, hi)]
        k = split_point(n)
        if m <= k:
            return [*self._subproof(m, lo, lo + k, b), self.mth(lo + k, hi)]
        return [*self._subproof(m - k, lo + k, hi, False), self.mth(lo, lo + k)]


def mth(leaves: Sequence[bytes]) -> bytes:
    return Tree(leaves).root(len(leaves))


# --- §2.1.3.2 and §2.1.4.2, step by step ----------------------------------------------------------


def _lsb(x: int) -> int:
    return x & 1


def rfc_verify_inclusion(hash_: bytes, leaf_index: int, tree_size: int, path: Sequence[bytes],
                         root_hash: bytes) -> None:
    if leaf_index >= tree_size or leaf_index < 0:  # step 1
        raise Invalid("index out of range")
    fn, sn = leaf_index, tree_size - 1  # step 2
    r = hash_  # step 3
    for p in path:  # step 4
        if sn == 0:  # 4a
            raise Invalid("path too long")
        if _lsb(fn) or fn == sn:  # 4b
            r = node(p, r)
            if not _lsb(fn):
                while not (_lsb(fn) or fn == 0):
                    fn >>= 1
                    sn >>= 1
        else:
            r = node(r, p)
        fn >>= 1  # 4c
        sn >>= 1
    if sn != 0 or r != root_hash:  # step 5
        raise Invalid("does not lead to the root")


def rfc_verify_consistency(first: int, second: int, first_hash: bytes, second_hash: bytes,
                           consistency_path: Sequence[bytes]) -> None:
    """§2.1.4.2 for 0 < first < second, plus the obvious rule for first == second (empty path, same root)."""
    if first <= 0 or first > second:
        raise Invalid("sizes out of order")
    if first == second:
        if consistency_path or first_hash != second_hash:
            raise Invalid("equal sizes")
        return
    if not consistency_path:  # step 1
        raise Invalid("empty path")
    path = list(consistency_path)
    if first & (first - 1) == 0:  # step 2
        path.insert(0, first_hash)
    fn, sn = first - 1, second - 1  # step 3
    while _lsb(fn):  # step 4
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]  # step 5
    for c in path[1:]:  # step 6
        if sn == 0:  # 6a
            raise Invalid("path too long")
        if _lsb(fn) or fn == sn:  # 6b
            fr = node(c, fr)
            sr = node(c, sr)
            if not _lsb(fn):
                while not (_lsb(fn) or fn == 0):
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node(sr, c)
        fn >>= 1  # 6c
        sn >>= 1
    if fr != first_hash or sr != second_hash or sn != 0:  # step 7
        raise Invalid("does not lead to the roots")


# --- structural verifiers: walk the recursive definitions backwards --------------------------------


def structural_root_from_path(hash_: bytes, m: int, size: int, path: Sequence[bytes]) -> bytes:
    """The root PATH(m, D[size]) leads to: the last element is the sibling at the top of the recursion."""
    if not 0 <= m < size:
        raise Invalid("index out of range")
    path = list(path)

    def walk(m: int, n: int) -> bytes:
        if n == 1:
            return hash_
        if not path:
            raise Invalid("path too short")
        sibling = path.pop()
        k = split_point(n)
        if m < k:
            return node(walk(m, k), sibling)
        return node(sibling, walk(m - k, n - k))

    result = walk(m, size)
    if path:
        raise Invalid("path too long")
    return result


def structural_verify_inclusion(hash_: bytes, m: int, size: int, path: Sequence[bytes], root: bytes) -> None:
    if structural_root_from_path(hash_, m, size, path) != root:
        raise Invalid("does not lead to the root")


def structural_roots_from_proof(m: int, size: int, old_root: bytes, proof: Sequence[bytes]) -> tuple[bytes, bytes]:
    """(old root, new root) that PROOF(m, D[size]) leads to; the old root itself stands in where b is true."""
    if not 0 < m <= size:
        raise Invalid("sizes out of order")
    proof = list(proof)

    def walk(m: int, n: int, b: bool) -> tuple[bytes, bytes]:
        if m == n:
            if b:
                return old_root, old_root
            if not proof:
                raise Invalid("proof too short")
            h = proof.pop()
            return h, h
        if not proof:
            raise Invalid("proof too short")
        top = proof.pop()
        k = split_point(n)
        if m <= k:
            old, new = walk(m, k, b)
            return old, node(new, top)
        old, new = walk(m - k, n - k, False)
        return node(top, old), node(top, new)

    result = walk(m, size, True)
    if proof:
        raise Invalid("proof too long")
    return result


def structural_verify_consistency(m: int, size: int, old_root: bytes, new_root: bytes,
                                  proof: Sequence[bytes]) -> None:
    old, new = structural_roots_from_proof(m, size, old_root, proof)
    if old != old_root or new != new_root:
        raise Invalid("does not lead to the roots")


def accepts(check, *args) -> bool:
    try:
        check(*args)
    except Invalid:
        return False
    return True
