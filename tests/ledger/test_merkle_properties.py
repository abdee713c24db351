"""merkle.py against RFC 9162 §2.1 written out independently in tests/ledger/rfc9162.py.

Exhaustive over small trees, hypothesis over trees of a few hundred leaves: roots, inclusion and
consistency proofs equal the RFC's recursive definitions; merkle's verifiers accept exactly those proofs
and reject every tampered one; the reference verifiers accept merkle's proofs too.
"""

from __future__ import annotations

import functools
import hashlib

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from aicommons.ledger import merkle
from tests.ledger import rfc9162 as ref

MAX = 400
LEAVES = [ref.leaf(f"entry {i}".encode()) for i in range(MAX)]
TREE = ref.Tree(LEAVES)
EXHAUSTIVE = 64
FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@functools.cache
def cached_node(level: int, index: int) -> bytes:
    """A NodeReader over LEAVES (the same answers as merkle.list_reader, memoised for the exhaustive loops)."""
    lo = index << level
    return TREE.mth(lo, lo + (1 << level))


def reader(size: int) -> merkle.NodeReader:
    """A reader that refuses to look past the tree: a proof for ``size`` must not need later leaves."""

    def read(level: int, index: int) -> bytes:
        assert (index + 1) << level <= size, f"node({level}, {index}) lies outside a tree of {size}"
        return cached_node(level, index)

    return read


def flip(h: bytes, byte: int = 0, bit: int = 0) -> bytes:
    return h[:byte] + bytes([h[byte] ^ (1 << bit)]) + h[byte + 1:]


def rejects(check, *args) -> bool:
    try:
        check(*args)
    except merkle.ProofError:
        return True
    return False


# --- the basic hashes ------------------------------------------------------------------------------


def test_leaf_node_and_empty_hashes_are_the_rfc_ones():
    assert merkle.hash_leaf(b"abc") == hashlib.sha256(b"\x00abc").digest() == ref.leaf(b"abc")
    assert merkle.hash_children(b"a" * 32, b"b" * 32) == hashlib.sha256(b"\x01" + b"a" * 32 + b"b" * 32).digest()
    assert hashlib.sha256(b"").digest() == merkle.EMPTY_ROOT
    assert merkle.tree_hash([]) == ref.EMPTY
    # Second-preimage resistance: a leaf is never confused with a node over the same bytes.
    assert merkle.hash_leaf(b"a" * 64) != merkle.hash_children(b"a" * 32, b"a" * 32)


def test_known_answer_for_a_small_tree():
    """Worked by hand from §2.1.1: seven leaves split 4 + (2 + 1)."""
    h = [hashlib.sha256(b"\x00" + bytes([i])).digest() for i in range(7)]

    def n(a, b):
        return hashlib.sha256(b"\x01" + a + b).digest()

    expected = n(n(n(h[0], h[1]), n(h[2], h[3])), n(n(h[4], h[5]), h[6]))
    assert merkle.tree_hash(h) == expected
    assert merkle.range_hash(0, 7, merkle.list_reader(h)) == expected
    assert merkle.inclusion_proof(6, 7, merkle.list_reader(h)) == [n(h[4], h[5]), n(n(h[0], h[1]), n(h[2], h[3]))]
    assert merkle.consistency_proof(3, 7, merkle.list_reader(h)) == [
        h[2], h[3], n(h[0], h[1]), n(n(h[4], h[5]), h[6])]


def test_largest_power_of_two_below():
    for n in range(2, 2000):
        assert merkle.largest_power_of_two_below(n) == ref.split_point(n)


# --- roots -----------------------------------------------------------------------------------------


def test_every_root_up_to_max_equals_the_recursive_definition():
    for size in range(MAX + 1):
        expected = TREE.root(size)
        assert merkle.tree_hash(LEAVES[:size]) == expected, size
        if size:
            assert merkle.range_hash(0, size, reader(size)) == expected, size


@FAST
@given(st.lists(st.binary(max_size=40), min_size=1, max_size=300))
def test_root_of_arbitrary_entries(entries):
    leaves = [merkle.hash_leaf(e) for e in entries]
    expected = ref.mth(leaves)
    assert merkle.tree_hash(leaves) == expected
    assert merkle.range_hash(0, len(leaves), merkle.list_reader(leaves)) == expected


def test_range_hash_of_an_empty_range_is_an_error():
    with pytest.raises(merkle.ProofError):
        merkle.range_hash(3, 3, merkle.list_reader(LEAVES))


# --- inclusion -------------------------------------------------------------------------------------


def _check_inclusion(index: int, size: int) -> None:
    proof = merkle.inclusion_proof(index, size, reader(size))
    expected = TREE.path(index, size)
    assert proof == expected, (index, size)
    root = TREE.root(size)
    merkle.verify_inclusion(LEAVES[index], index, size, proof, root)
    assert merkle.root_from_inclusion_proof(LEAVES[index], index, size, proof) == root
    ref.rfc_verify_inclusion(LEAVES[index], index, size, expected, root)
    ref.structural_verify_inclusion(LEAVES[index], index, size, expected, root)


def test_every_inclusion_proof_in_small_trees():
    for size in range(1, EXHAUSTIVE + 1):
        for index in range(size):
            _check_inclusion(index, size)


@FAST
@given(st.data())
def test_inclusion_proofs_in_larger_trees(data):
    size = data.draw(st.integers(1, MAX))
    index = data.draw(st.integers(0, size - 1))
    _check_inclusion(index, size)


def test_inclusion_with_list_reader():
    leaves = LEAVES[:300]
    for index in (0, 1, 127, 128, 255, 256, 257, 298, 299):
        assert merkle.inclusion_proof(index, 300, merkle.list_reader(leaves)) == TREE.path(index, 300)


@FAST
@given(st.data())
def test_tampered_inclusion_proofs_are_rejected(data):
    size = data.draw(st.integers(2, MAX))
    index = data.draw(st.integers(0, size - 1))
    proof = TREE.path(index, size)
    root, leaf = TREE.root(size), LEAVES[index]
    verify = merkle.verify_inclusion

    # Any changed bit of any proof hash.
    i = data.draw(st.integers(0, len(proof) - 1))
    byte, bit = data.draw(st.integers(0, 31)), data.draw(st.integers(0, 7))
    bad = [*proof[:i], flip(proof[i], byte, bit), *proof[i + 1:]]
    assert rejects(verify, leaf, index, size, bad, root)
    # Another leaf, another root.
    assert rejects(verify, flip(leaf, byte, bit), index, size, proof, root)
    assert rejects(verify, leaf, index, size, proof, flip(root, byte, bit))
    other_leaf = LEAVES[data.draw(st.integers(0, MAX - 1).filter(lambda j: j != index))]
    assert rejects(verify, other_leaf, index, size, proof, root)
    # Another index in the same tree: every leaf has its own way up.
    other = data.draw(st.integers(-3, size + 3).filter(lambda j: j != index))
    assert rejects(verify, leaf, other, size, proof, root)
    # Too long, too short, reordered.
    assert rejects(verify, leaf, index, size, [*proof, proof[-1]], root)
    assert rejects(verify, leaf, index, size, [*proof, merkle.EMPTY_ROOT], root)
    assert rejects(verify, leaf, index, size, proof[:-1], root)
    assert rejects(verify, leaf, index, size, proof[1:], root)
    if len(proof) > 1 and proof[0] != proof[1]:
        assert rejects(verify, leaf, index, size, [proof[1], proof[0], *proof[2:]], root)
    # Another size: rejected exactly when the RFC's algorithm rejects it (a few sizes share a shape,
    # e.g. index 0 of 3 and of 4, which is why a root is only meaningful together with its size).
    other_size = data.draw(st.integers(0, MAX + 5).filter(lambda s: s != size))
    reference_ok = ref.accepts(ref.rfc_verify_inclusion, leaf, index, other_size, proof, root)
    assert rejects(verify, leaf, index, other_size, proof, root) is not reference_ok
    if other_size <= index or (other_size <= MAX and len(TREE.path(index, other_size)) != len(proof)):
        assert rejects(verify, leaf, index, other_size, proof, root)


def test_every_single_bit_flip_of_one_proof_is_rejected():
    index, size = 211, 389
    proof, root = TREE.path(index, size), TREE.root(size)
    for i in range(len(proof)):
        for byte in range(32):
            for bit in range(8):
                bad = [*proof[:i], flip(proof[i], byte, bit), *proof[i + 1:]]
                assert rejects(merkle.verify_inclusion, LEAVES[index], index, size, bad, root)


def test_inclusion_traps():
    root = TREE.root(5)
    proof = TREE.path(4, 5)
    verify = merkle.verify_inclusion
    assert rejects(verify, LEAVES[4], 5, 5, proof, root), "index == size"
    assert rejects(verify, LEAVES[4], 7, 5, proof, root), "index > size"
    assert rejects(verify, LEAVES[4], -1, 5, proof, root), "negative index"
    assert rejects(verify, merkle.EMPTY_ROOT, 0, 0, [], merkle.EMPTY_ROOT), "empty tree has no leaves"
    assert rejects(verify, LEAVES[4], 4, 5, [proof[0][:31]], root), "31-byte proof hash"
    assert rejects(verify, LEAVES[4], 4, 5, [proof[0] + b"\x00"], root), "33-byte proof hash"
    assert rejects(verify, LEAVES[4][:31], 4, 5, proof, root), "31-byte leaf"
    assert rejects(verify, LEAVES[4], 4, 5, proof, root + b"\x00"), "33-byte root"
    assert rejects(verify, LEAVES[4], 4, 5, proof, root[:31]), "31-byte root"
    # A one-leaf tree: the root is the leaf and the proof is empty; anything more is too long.
    merkle.verify_inclusion(LEAVES[0], 0, 1, [], LEAVES[0])
    assert rejects(verify, LEAVES[0], 0, 1, [LEAVES[1]], LEAVES[0])
    # A proof that merely reaches the root hash early is still too long or too short.
    assert rejects(verify, root, 0, 1, [], LEAVES[0])
    with pytest.raises(merkle.ProofError):
        merkle.inclusion_proof(5, 5, reader(5))
    with pytest.raises(merkle.ProofError):
        merkle.inclusion_proof(-1, 5, reader(5))
    with pytest.raises(merkle.ProofError):
        merkle.inclusion_proof(0, 0, reader(0))


# --- consistency -----------------------------------------------------------------------------------


def _check_consistency(m: int, n: int) -> None:
    proof = merkle.consistency_proof(m, n, reader(n))
    expected = TREE.proof(m, n)
    assert proof == expected, (m, n)
    old, new = TREE.root(m), TREE.root(n)
    merkle.verify_consistency(m, n, old, new, proof)
    ref.rfc_verify_consistency(m, n, old, new, expected)
    ref.structural_verify_consistency(m, n, old, new, expected)


def test_every_consistency_proof_in_small_trees():
    for n in range(1, EXHAUSTIVE + 1):
        for m in range(1, n + 1):
            _check_consistency(m, n)


@FAST
@given(st.data())
def test_consistency_proofs_in_larger_trees(data):
    n = data.draw(st.integers(1, MAX))
    m = data.draw(st.integers(1, n))
    _check_consistency(m, n)


def test_consistency_with_list_reader():
    leaves = LEAVES[:300]
    for m in (1, 2, 3, 4, 100, 255, 256, 257, 299, 300):
        assert merkle.consistency_proof(m, 300, merkle.list_reader(leaves)) == TREE.proof(m, 300)


@FAST
@given(st.data())
def test_tampered_consistency_proofs_are_rejected(data):
    n = data.draw(st.integers(2, MAX))
    m = data.draw(st.integers(1, n - 1))
    proof = TREE.proof(m, n)
    old, new = TREE.root(m), TREE.root(n)
    verify = merkle.verify_consistency

    i = data.draw(st.integers(0, len(proof) - 1))
    byte, bit = data.draw(st.integers(0, 31)), data.draw(st.integers(0, 7))
    bad = [*proof[:i], flip(proof[i], byte, bit), *proof[i + 1:]]
    assert rejects(verify, m, n, old, new, bad)
    assert rejects(verify, m, n, flip(old, byte, bit), new, proof)
    assert rejects(verify, m, n, old, flip(new, byte, bit), proof)
    # Roots of other sizes of the same log.
    assert rejects(verify, m, n, TREE.root(m + 1), new, proof)
    assert rejects(verify, m, n, old, TREE.root(n - 1), proof)
    # Too long, too short, empty.
    assert rejects(verify, m, n, old, new, [*proof, proof[-1]])
    assert rejects(verify, m, n, old, new, proof[:-1])
    assert rejects(verify, m, n, old, new, proof[1:])
    assert rejects(verify, m, n, old, new, [])
    if m & (m - 1) == 0:
        # Where the old root is implied, sending it anyway makes the proof too long.
        assert rejects(verify, m, n, old, new, [old, *proof])
    # Other sizes: merkle agrees with the RFC's algorithm (and with the structural reading).
    m2 = data.draw(st.integers(-1, n + 2))
    n2 = data.draw(st.integers(-1, MAX + 3))
    assume((m2, n2) != (m, n))
    reference_ok = (ref.accepts(ref.rfc_verify_consistency, m2, n2, old, new, proof)
                    and ref.accepts(ref.structural_verify_consistency, m2, n2, old, new, proof))
    assert rejects(verify, m2, n2, old, new, proof) is not reference_ok, (m2, n2)


def test_every_single_bit_flip_of_one_consistency_proof_is_rejected():
    m, n = 137, 389
    proof, old, new = TREE.proof(m, n), TREE.root(m), TREE.root(n)
    for i in range(len(proof)):
        for byte in range(32):
            for bit in range(8):
                bad = [*proof[:i], flip(proof[i], byte, bit), *proof[i + 1:]]
                assert rejects(merkle.verify_consistency, m, n, old, new, bad)


def test_consistency_traps():
    verify = merkle.verify_consistency
    old, new = TREE.root(3), TREE.root(7)
    proof = TREE.proof(3, 7)
    assert rejects(verify, 3, 7, old, new, []), "empty proof between different sizes"
    assert rejects(verify, 0, 7, merkle.EMPTY_ROOT, new, []), "old size 0"
    assert rejects(verify, 0, 7, merkle.EMPTY_ROOT, new, proof), "old size 0 with a proof"
    assert rejects(verify, 0, 0, merkle.EMPTY_ROOT, merkle.EMPTY_ROOT, []), "both empty"
    assert rejects(verify, 7, 3, new, old, proof), "old larger than new"
    assert rejects(verify, -1, 7, old, new, proof), "negative size"
    assert rejects(verify, 3, 7, old[:31], new, proof), "31-byte old root"
    assert rejects(verify, 3, 7, old, new + b"\x00", proof), "33-byte new root"
    assert rejects(verify, 3, 7, old, new, [proof[0][:31], *proof[1:]]), "31-byte proof hash"
    assert rejects(verify, 3, 7, old, new, [*proof, b""]), "empty proof hash"
    # Equal sizes: only the empty proof, only with the same root.
    merkle.verify_consistency(5, 5, TREE.root(5), TREE.root(5), [])
    assert rejects(verify, 5, 5, TREE.root(5), TREE.root(5), [TREE.root(5)])
    assert rejects(verify, 5, 5, TREE.root(5), TREE.root(6), [])
    # Power-of-two old size: the old root is implied, so [MTH(4:8)] alone proves 4 -> 8.
    merkle.verify_consistency(4, 8, TREE.root(4), TREE.root(8), [TREE.mth(4, 8)])
    assert rejects(verify, 4, 8, TREE.root(4), TREE.root(8), [TREE.root(4), TREE.mth(4, 8)])
    for bad_sizes in [(0, 5), (6, 5), (-1, 5)]:
        with pytest.raises(merkle.ProofError):
            merkle.consistency_proof(*bad_sizes, reader(6))
    assert merkle.consistency_proof(5, 5, reader(5)) == []


def test_reference_verifiers_agree_with_merkle_on_random_garbage():
    """Random hashes, sizes and indexes: merkle accepts exactly what both reference verifiers accept."""
    import random

    rng = random.Random(9162)
    for _ in range(3000):
        n = rng.randint(1, 40)
        m = rng.randint(1, n)
        proof = TREE.proof(m, n)
        old, new = TREE.root(m), TREE.root(n)
        if rng.random() < 0.5 and proof:
            k = rng.randrange(len(proof))
            proof = [*proof[:k], LEAVES[rng.randrange(MAX)], *proof[k + 1:]]
        m2, n2 = (m, n) if rng.random() < 0.5 else (rng.randint(0, 41), rng.randint(0, 41))
        expected = (ref.accepts(ref.rfc_verify_consistency, m2, n2, old, new, proof)
                    and ref.accepts(ref.structural_verify_consistency, m2, n2, old, new, proof))
        assert rejects(merkle.verify_consistency, m2, n2, old, new, proof) is not expected, (m, n, m2, n2)

        index = rng.randrange(n)
        path = TREE.path(index, n)
        if rng.random() < 0.5 and path:
            k = rng.randrange(len(path))
            path = [*path[:k], LEAVES[rng.randrange(MAX)], *path[k + 1:]]
        i2, n2 = (index, n) if rng.random() < 0.5 else (rng.randint(-1, 41), rng.randint(0, 41))
        root = TREE.root(n)
        ok_rfc = ref.accepts(ref.rfc_verify_inclusion, LEAVES[index], i2, n2, path, root)
        ok_structural = ref.accepts(ref.structural_verify_inclusion, LEAVES[index], i2, n2, path, root)
        assert ok_rfc == ok_structural, (index, n, i2, n2)
        assert rejects(merkle.verify_inclusion, LEAVES[index], i2, n2, path, root) is not ok_rfc
