"""The ledger over HTTP, checked the way an outside auditor would: with a verifier written here.

The verifier below reads only the HTTP answers and the specs (RFC 9162, c2sp.org/signed-note,
c2sp.org/tlog-checkpoint, c2sp.org/tlog-tiles). It uses hashlib and cryptography directly and the
RFC reference in tests/ledger/rfc9162.py, never aicommons.ledger.merkle, tiles or notes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from dataclasses import dataclass

import pytest
import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from fastapi.testclient import TestClient

from aicommons.config import Settings
from aicommons.identity.models import Role
from aicommons.ledger import sequencer
from tests.ledger import helpers
from tests.ledger import rfc9162 as ref

PROBLEM = "application/problem+json"
EM_DASH = "\u2014"


@pytest.fixture
def database_url(request):
    """SQLite, unless a test is parametrized with ``database_url`` = "postgres"."""
    kind = getattr(request, "param", "sqlite")
    return request.getfixturevalue(f"{kind}_url")


@pytest.fixture
def settings(tmp_path, database_url) -> Settings:
    # Interval 0: every integration signs, so the tests can integrate and then read a checkpoint.
    return Settings(data_dir=tmp_path / "data", database_url=database_url, ledger_checkpoint_interval_seconds=0,
                    max_body_bytes=64 * 1024)


def integrate(factory, settings) -> None:
    sequencer.integrate_pending(factory, settings, sequencer.signer_for(settings))


# --- the independent verifier -----------------------------------------------------------------------


class Rejected(Exception):
    pass


@dataclass
class Key:
    name: str
    key_id: bytes
    public: Ed25519PublicKey


@dataclass
class Checkpoint:
    origin: str
    size: int
    root: bytes


def parse_key(vkey: str) -> Key:
    name, hex_id, b64 = vkey.strip().split("+", 2)
    raw = base64.b64decode(b64, validate=True)
    if len(raw) != 33 or raw[0] != 0x01 or not re.fullmatch(r"[0-9a-f]{8}", hex_id):
        raise Rejected("not an Ed25519 verifier key")
    key_id = hashlib.sha256(name.encode() + b"\x0a" + raw).digest()[:4]
    if key_id.hex() != hex_id:
        raise Rejected("key id is not SHA-256(name || 0x0A || 0x01 || key)[:4]")
    return Key(name, key_id, Ed25519PublicKey.from_public_bytes(raw[1:]))


def open_checkpoint(note: str, key: Key) -> Checkpoint:
    text, sep, signatures = note.partition("\n\n")
    if not sep or not note.endswith("\n"):
        raise Rejected("no blank line before the signatures")
    text += "\n"
    good = 0
    for line in signatures.splitlines():
        dash, name, b64 = line.split(" ")
        if dash != EM_DASH:
            raise Rejected("a signature line starts with an em dash")
        raw = base64.b64decode(b64, validate=True)
        if name == key.name and raw[:4] == key.key_id:
            try:
                key.public.verify(raw[4:], text.encode())
            except InvalidSignature as exc:
                raise Rejected("bad signature") from exc
            good += 1
    if not good:
        raise Rejected("not signed by the log's key")
    lines = text.split("\n")
    origin, size, root = lines[0], lines[1], base64.b64decode(lines[2], validate=True)
    if not re.fullmatch(r"0|[1-9][0-9]*", size) or len(root) != 32:
        raise Rejected("bad checkpoint body")
    return Checkpoint(origin, int(size), root)


def tile_index(n: int) -> str:
    """c2sp.org/tlog-tiles: 3-digit groups, all but the last prefixed with 'x'."""
    groups = []
    while True:
        groups.append(f"{n % 1000:03d}")
        n //= 1000
        if not n:
            break
    return "/".join(["x" + g for g in reversed(groups[1:])] + [groups[0]])


def tile_url(level: str | int, index: int, width: int = 256) -> str:
    return f"/ledger/tile/{level}/{tile_index(index)}" + (f".p/{width}" if width < 256 else "")


def hashes_of(data: bytes) -> list[bytes]:
    assert len(data) % 32 == 0
    return [data[i:i + 32] for i in range(0, len(data), 32)]


def fetch(client, url: str) -> bytes:
    r = client.get(url)
    assert r.status_code == 200, (url, r.text)
    return r.content


@dataclass
class Audit:
    key: Key
    checkpoint: Checkpoint
    leaves: list[bytes]
    entries: list[bytes]
    tree: ref.Tree


def audit_log(client) -> Audit:
    """Everything a tlog-tiles client can check from the public endpoints alone."""
    key = parse_key(client.get("/api/v1/ledger/key").text)
    cp = open_checkpoint(client.get("/ledger/checkpoint").text, key)
    assert cp.origin == key.name, "the checkpoint's origin names the log, as does the key"
    n = cp.size
    # Level 0: full tiles, then the partial one; the entry bundles alongside.
    leaves: list[bytes] = []
    entries: list[bytes] = []
    widths = [(i, 256) for i in range(n // 256)] + ([(n // 256, n % 256)] if n % 256 else [])
    for index, width in widths:
        tile = hashes_of(fetch(client, tile_url(0, index, width)))
        assert len(tile) == width
        bundle = fetch(client, tile_url("entries", index, width))
        bodies, i = [], 0
        while i < len(bundle):
            length = int.from_bytes(bundle[i:i + 2], "big")
            bodies.append(bundle[i + 2:i + 2 + length])
            i += 2 + length
        assert i == len(bundle) and len(bodies) == width
        assert [ref.leaf(b) for b in bodies] == tile, f"entry bundle {index} hashes to its tile"
        leaves += tile
        entries += bodies
    tree = ref.Tree(leaves)
    assert tree.root(n) == cp.root, "the tiles lead to the signed root"
    # Level 1: one hash per full level-0 tile, each the MTH of that tile.
    level1: list[bytes] = []
    count1 = n >> 8
    for index in range((count1 + 255) // 256):
        width = min(256, count1 - 256 * index)
        level1 += hashes_of(fetch(client, tile_url(1, index, width)))
    assert level1 == [ref.mth(leaves[256 * j:256 * (j + 1)]) for j in range(count1)]
    # The same root from level-1 hashes plus the right edge of level 0 (as a client with few tiles does).
    assert root_from_tiles(n, level1, leaves[256 * count1:]) == cp.root
    for body in entries:
        assert rfc8785.dumps(json.loads(body)) == body, "entries are RFC 8785 canonical JSON"
    return Audit(key, cp, leaves, entries, tree)


def root_from_tiles(n: int, level1: list[bytes], edge: list[bytes]) -> bytes:
    """Split the n leaves into the complete subtrees of the binary expansion of n, largest first."""
    parts, start = [], 0
    for bit in reversed(range(n.bit_length())):
        span = 1 << bit
        if n & span:
            if span >= 256:
                parts.append(ref.mth(level1[start >> 8:(start + span) >> 8]))
            else:
                parts.append(ref.mth(edge[start - 256 * len(level1):start - 256 * len(level1) + span]))
            start += span
    root = parts.pop()
    while parts:
        root = ref.node(parts.pop(), root)
    return root


def b64d(s: str) -> bytes:
    return base64.b64decode(s, validate=True)


def proven_inclusion(client, leaf: bytes, index: int, size: int, root: bytes) -> None:
    r = client.get("/api/v1/ledger/proofs/inclusion", params={"index": index, "tree_size": size})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["index"], body["tree_size"]) == (index, size)
    path = [b64d(h) for h in body["hashes"]]
    ref.rfc_verify_inclusion(leaf, index, size, path, root)
    ref.structural_verify_inclusion(leaf, index, size, path, root)


def proven_consistency(client, old: int, new: int, old_root: bytes, new_root: bytes) -> None:
    r = client.get("/api/v1/ledger/proofs/consistency", params={"old_size": old, "new_size": new})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["old_size"], body["new_size"]) == (old, new)
    proof = [b64d(h) for h in body["hashes"]]
    ref.rfc_verify_consistency(old, new, old_root, new_root, proof)
    ref.structural_verify_consistency(old, new, old_root, new_root, proof)


def test_the_verifier_knows_the_tile_index_encoding():
    assert tile_index(0) == "000" and tile_index(999) == "999" and tile_index(1000) == "x001/000"
    assert tile_index(1234067) == "x001/x234/067"


# --- tests ------------------------------------------------------------------------------------------


def test_a_change_names_its_leaf_and_the_lookup_proves_it(client, people, factory, settings):
    op = people.make(Role.OPERATOR)
    r = client.post("/api/v1/institutions", headers=op.headers,
                    json={"name": "Uni Ledger", "country": "FI", "kind": "university",
                          "email_domains": ["ledger.example"]})
    assert r.status_code == 201, r.text
    institution = r.json()["id"]
    leaf_header = r.headers["aicommons-ledger-leaf"]
    assert "," not in leaf_header, "one change, one entry"
    leaf = base64.urlsafe_b64decode(leaf_header)
    assert len(leaf) == 32
    assert f"/api/v1/ledger/lookup?leaf_hash={leaf_header}" in r.headers["link"]
    # A read records nothing.
    assert "aicommons-ledger-leaf" not in client.get(f"/api/v1/institutions/{institution}").headers

    integrate(factory, settings)
    key = parse_key(client.get("/api/v1/ledger/key").text)
    cp = open_checkpoint(client.get("/ledger/checkpoint").text, key)
    for form in (leaf_header, base64.b64encode(leaf).decode(), leaf.hex(), leaf_header.rstrip("=")):
        found = client.get("/api/v1/ledger/lookup", params={"leaf_hash": form})
        assert found.status_code == 200, (form, found.text)
        body = found.json()
        assert body["status"] == "integrated" and b64d(body["leaf_hash"]) == leaf
        index, size = body["index"], body["tree_size"]
        assert size == cp.size, "the proof is for the tree size of the signed checkpoint"
        path = [b64d(h) for h in body["hashes"]]
        ref.rfc_verify_inclusion(leaf, index, size, path, cp.root)
    # The entry's exact bytes hash to the leaf and say what happened.
    entry = client.get(f"/api/v1/ledger/entries/{index}")
    assert entry.status_code == 200 and entry.headers["content-type"].startswith("application/json")
    assert ref.leaf(entry.content) == leaf
    fact = json.loads(entry.content)
    assert fact["kind"] == "identity.institution.registered"
    assert fact["subject"] == f"urn:aicommons:institution:{institution}"
    assert fact["actor"] == f"urn:aicommons:person:{op.person.id}"
    assert fact["data"]["name"] == "Uni Ledger" and fact["data"]["email_domains"] == ["ledger.example"]
    listed = client.get("/api/v1/ledger/entries", params={"kind": "identity.institution.registered"}).json()
    assert [e["index"] for e in listed["items"]] == [index]
    assert listed["items"][0]["entry"] == fact and b64d(listed["items"][0]["leaf_hash"]) == leaf


def test_an_independent_verifier_checks_the_whole_log_across_a_tile_boundary(client, people, factory, settings):
    op = people.make(Role.OPERATOR)
    for name in ("Alpha U", "Beta U"):
        r = client.post("/api/v1/institutions", headers=op.headers,
                        json={"name": name, "country": "DE", "kind": "university", "email_domains": []})
        assert r.status_code == 201
    integrate(factory, settings)
    first = audit_log(client)
    assert 0 < first.checkpoint.size < 256

    helpers.record(factory, 1000, 300)
    r = client.post("/api/v1/institutions", headers=op.headers,
                    json={"name": "Gamma U", "country": "SE", "kind": "university", "email_domains": []})
    assert r.status_code == 201
    gamma = base64.urlsafe_b64decode(r.headers["aicommons-ledger-leaf"])
    integrate(factory, settings)
    last = audit_log(client)
    n = last.checkpoint.size
    assert n == first.checkpoint.size + 301 and n > 256
    assert last.leaves[:first.checkpoint.size] == first.leaves, "the old tree is a prefix of the new one"
    assert last.leaves[-1] == gamma
    assert last.key == first.key

    # The newer checkpoint extends the older one.
    proven_consistency(client, first.checkpoint.size, n, first.checkpoint.root, last.checkpoint.root)
    for old in sorted({1, 2, 3, first.checkpoint.size, 255, 256, 257, n - 1, n}):
        proven_consistency(client, old, n, last.tree.root(old), last.checkpoint.root)
    proven_consistency(client, 3, 257, last.tree.root(3), last.tree.root(257))
    # Inclusion of entries on both sides of the boundary, in the current tree and in older sizes.
    for index in sorted({0, 1, 100, 254, 255, 256, 257, n - 2, n - 1}):
        proven_inclusion(client, last.leaves[index], index, n, last.checkpoint.root)
    proven_inclusion(client, last.leaves[255], 255, 256, last.tree.root(256))
    proven_inclusion(client, last.leaves[0], 0, first.checkpoint.size, first.checkpoint.root)
    # A proof from the server never verifies another leaf.
    path = [b64d(h) for h in client.get("/api/v1/ledger/proofs/inclusion",
                                         params={"index": 5, "tree_size": n}).json()["hashes"]]
    with pytest.raises(ref.Invalid):
        ref.rfc_verify_inclusion(last.leaves[6], 5, n, path, last.checkpoint.root)
    # Every entry served one by one is the one in the bundle.
    for index in (0, 255, 256, n - 1):
        assert fetch(client, f"/api/v1/ledger/entries/{index}") == last.entries[index]


def test_full_tiles_are_immutable_and_the_checkpoint_is_short_lived(client, factory, settings):
    helpers.record(factory, 0, 260)
    integrate(factory, settings)
    cp = client.get("/ledger/checkpoint")
    assert cp.headers["content-type"].startswith("text/plain")
    control = cp.headers["cache-control"]
    assert "immutable" not in control
    max_age = int(re.search(r"max-age=(\d+)", control).group(1))
    assert max_age <= 60, control
    for url in (tile_url(0, 0), tile_url("entries", 0)):
        r = client.get(url)
        assert r.status_code == 200 and r.headers["content-type"] == "application/octet-stream"
        assert "immutable" in r.headers["cache-control"]
        assert int(re.search(r"max-age=(\d+)", r.headers["cache-control"]).group(1)) >= 86400 * 30
    # A tile the tree does not have yet is a 404 that no cache may keep for long.
    missing = client.get(tile_url(0, 1))
    assert missing.status_code == 404
    assert "immutable" not in missing.headers.get("cache-control", "")


def test_checkpoint_and_key_match_what_the_server_signs_with(client, factory, settings):
    integrate(factory, settings)
    signer = sequencer.signer_for(settings)
    vkey = client.get("/api/v1/ledger/key").text
    key = parse_key(vkey)
    assert key.name == settings.effective_ledger_origin
    raw = base64.b64decode(vkey.strip().split("+", 2)[2])
    assert raw[1:] == signer.private_key.public_key().public_bytes_raw()
    note = client.get("/ledger/checkpoint").text
    cp = open_checkpoint(note, key)
    assert cp.size == 0 and cp.root == hashlib.sha256(b"").digest(), "the empty tree, signed"
    # A flipped byte anywhere in the body, or in the signature, is caught.
    body, sig = note.split("\n\n")
    with pytest.raises(Rejected):
        open_checkpoint(body.replace("\n0\n", "\n1\n") + "\n\n" + sig, key)
    line = sig.strip().split(" ")
    bad = bytearray(base64.b64decode(line[2]))
    bad[-1] ^= 1
    with pytest.raises(Rejected):
        open_checkpoint(body + "\n\n" + f"{line[0]} {line[1]} {base64.b64encode(bytes(bad)).decode()}\n", key)


def test_a_lookup_before_integration_says_queued(settings, engine, factory, people):
    quiet = settings.model_copy(update={"ledger_sequencer": False})
    from aicommons.app import create_app

    with TestClient(create_app(quiet), base_url="http://testserver") as client:
        op = people.make(Role.OPERATOR)
        r = client.post("/api/v1/institutions", headers=op.headers,
                        json={"name": "Queued U", "country": "FI", "kind": "university", "email_domains": []})
        leaf = r.headers["aicommons-ledger-leaf"]
        body = client.get("/api/v1/ledger/lookup", params={"leaf_hash": leaf}).json()
        assert body["status"] == "queued" and body["index"] is None and body["hashes"] == []
        integrate(factory, quiet)
        body = client.get("/api/v1/ledger/lookup", params={"leaf_hash": leaf}).json()
        assert body["status"] == "integrated" and body["index"] is not None


def test_a_lookup_proof_verifies_against_a_signed_checkpoint(settings, engine, factory):
    """An integrated entry's proof must be checkable: its tree size must be one the log has signed.

    With a checkpoint interval, the sequencer integrates entries before it signs; a lookup in that
    window must not hand out a proof for a tree size no checkpoint vouches for.
    """
    slow = settings.model_copy(update={"ledger_sequencer": False, "ledger_checkpoint_interval_seconds": 3600})
    from aicommons.app import create_app

    helpers.record(factory, 0, 5)
    integrate(factory, slow)  # the first checkpoint is signed at once
    helpers.record(factory, 5, 1)
    integrate(factory, slow)  # integrated, but the next checkpoint is not due for an hour
    with TestClient(create_app(slow), base_url="http://testserver") as client:
        key = parse_key(client.get("/api/v1/ledger/key").text)
        cp = open_checkpoint(client.get("/ledger/checkpoint").text, key)
        assert cp.size == 5
        with factory() as s:
            newest = helpers.integrated_entries(s)[-1]
        body = client.get("/api/v1/ledger/lookup", params={"leaf_hash": bytes(newest.leaf_hash).hex()}).json()
        if body["status"] == "integrated":
            assert body["tree_size"] <= cp.size, (
                f"lookup proves index {body['index']} in a tree of {body['tree_size']}, "
                f"but the latest signed checkpoint is for {cp.size}")


@pytest.mark.parametrize("database_url", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
                         indirect=True)
def test_bad_requests_are_problems_never_500(app, factory, settings):
    helpers.record(factory, 0, 300)
    integrate(factory, settings)
    with TestClient(app, base_url="http://testserver", raise_server_exceptions=False) as client:
        _check_bad_requests(client)


def _check_bad_requests(client) -> None:
    bad = {
        # out of range proofs
        "/api/v1/ledger/proofs/inclusion?index=300&tree_size=300": 400,
        "/api/v1/ledger/proofs/inclusion?index=5&tree_size=5": 400,
        "/api/v1/ledger/proofs/inclusion?index=-1&tree_size=5": 400,
        "/api/v1/ledger/proofs/inclusion?index=0&tree_size=0": 400,
        "/api/v1/ledger/proofs/inclusion?index=0&tree_size=301": 400,
        "/api/v1/ledger/proofs/inclusion?index=0&tree_size=99999999999999999999999": 400,
        "/api/v1/ledger/proofs/inclusion?index=99999999999999999999&tree_size=300": 400,
        "/api/v1/ledger/proofs/consistency?old_size=0&new_size=300": 400,
        "/api/v1/ledger/proofs/consistency?old_size=10&new_size=9": 400,
        "/api/v1/ledger/proofs/consistency?old_size=1&new_size=301": 400,
        "/api/v1/ledger/proofs/consistency?old_size=-1&new_size=3": 400,
        "/api/v1/ledger/proofs/consistency?old_size=1&new_size=99999999999999999999999": 400,
        # not integers, or missing
        "/api/v1/ledger/proofs/inclusion?index=one&tree_size=300": 422,
        "/api/v1/ledger/proofs/inclusion?index=1.5&tree_size=300": 422,
        "/api/v1/ledger/proofs/inclusion?index=1": 422,
        "/api/v1/ledger/proofs/consistency?old_size=1&new_size=3e2": 422,
        "/api/v1/ledger/proofs/consistency?old_size=&new_size=3": 422,
        "/api/v1/ledger/entries/abc": 422,
        "/api/v1/ledger/entries?limit=0": 422,
        "/api/v1/ledger/entries?cursor=%%%": 422,
        # entries that do not exist
        "/api/v1/ledger/entries/300": 404,
        "/api/v1/ledger/entries/-1": 400,
        "/api/v1/ledger/entries/9223372036854775808": 404,
        "/api/v1/ledger/entries/99999999999999999999": 404,
        # leaf hashes
        "/api/v1/ledger/lookup?leaf_hash=zz": 422,
        "/api/v1/ledger/lookup?leaf_hash=" + "A" * 42: 422,  # 31 bytes
        "/api/v1/ledger/lookup?leaf_hash=" + "g" * 64: 422,  # not hex, not base64 of 32 bytes
        "/api/v1/ledger/lookup?leaf_hash=" + "A" * 101: 422,
        "/api/v1/ledger/lookup?leaf_hash=%00": 422,
        "/api/v1/ledger/lookup": 422,
        "/api/v1/ledger/lookup?leaf_hash=" + "ab" * 32: 404,  # well formed, unknown
        # malformed tile paths
        "/ledger/tile/0/x000/000": 404,
        "/ledger/tile/00/000": 404,
        "/ledger/tile/01/000": 404,
        "/ledger/tile/64/000": 404,
        "/ledger/tile/0/000.p/0": 404,
        "/ledger/tile/0/000.p/256": 404,
        "/ledger/tile/0/001.p/044": 404,
        "/ledger/tile/0/1": 404,
        "/ledger/tile/0/0001": 404,
        "/ledger/tile/0/001.p/45": 404,  # wider than the tree has
        "/ledger/tile/0/002": 404,
        "/ledger/tile/1/000": 404,
        "/ledger/tile/2/000.p/1": 404,
        "/ledger/tile/entries/001": 404,
        "/ledger/tile/entries/000.p/0": 404,
        "/ledger/tile/entry/000": 404,
        "/ledger/tile/0/x999/x999/x999/x999/x999/x999/x999/999": 404,
        "/ledger/tile/0/": 404,
    }
    failures = []
    for url, status in bad.items():
        r = client.get(url)
        ok = (r.status_code == status and r.headers["content-type"].startswith(PROBLEM)
              and r.json()["status"] == status and r.json()["detail"])
        if not ok:
            failures.append(f"{url}: {r.status_code} {r.text[:120]}")
    # Odd but harmless filters: an empty answer or a 4xx problem are both fine, a 500 is not.
    for url in ("/api/v1/ledger/entries?kind=%00", "/api/v1/ledger/entries?subject=%00",
                "/api/v1/ledger/entries?kind=%25", "/api/v1/ledger/entries?kind=identity.%25_",
                "/api/v1/ledger/entries?subject=" + "%C3%A9" * 50):
        r = client.get(url)
        if r.status_code not in (200, 400, 404, 422):
            failures.append(f"{url}: {r.status_code} {r.text[:120]}")
        elif r.status_code == 200:
            assert r.json()["items"] == [], url
    assert not failures, "\n".join(failures)
    # The good neighbours of those paths do answer.
    for url in ("/ledger/tile/0/000", "/ledger/tile/0/001.p/44", "/ledger/tile/0/001.p/1", "/ledger/tile/1/000.p/1",
                "/ledger/tile/entries/001.p/44", "/api/v1/ledger/proofs/inclusion?index=299&tree_size=300",
                "/api/v1/ledger/proofs/consistency?old_size=300&new_size=300", "/api/v1/ledger/entries/299"):
        assert client.get(url).status_code == 200, url


@pytest.mark.parametrize("url", [
    "/ledger/tile/0/000%0A",  # a trailing newline
    "/ledger/tile/0%0A/000",
    "/ledger/tile/0/%D9%A0%D9%A0%D9%A0",  # ARABIC-INDIC DIGIT ZERO x3
    "/ledger/tile/entries/%D9%A0%D9%A0%D9%A0",
])
def test_a_tile_has_one_name(client, factory, settings, url):
    """tlog-tiles paths are canonical: a cache or mirror keyed on the URL must not see one tile twice."""
    helpers.record(factory, 0, 256)
    integrate(factory, settings)
    r = client.get(url)
    assert r.status_code == 404 and r.headers["content-type"].startswith(PROBLEM), (r.status_code, r.content[:40])


def test_the_verifier_rejects_what_it_should():
    """The verifier used above is not a rubber stamp."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    private = Ed25519PrivateKey.generate()
    pub = private.public_key().public_bytes_raw()
    name = "example.org/ledger"
    kid = hashlib.sha256(name.encode() + b"\n\x01" + pub).digest()[:4]
    encoded_pub = base64.b64encode(b"\x01" + pub).decode()
    vkey = f"{name}+{kid.hex()}+{encoded_pub}"
    key = parse_key(vkey)
    body = f"{name}\n1\n{base64.b64encode(b'r' * 32).decode()}\n"
    note = body + "\n" + f"{EM_DASH} {name} {base64.b64encode(kid + private.sign(body.encode())).decode()}\n"
    assert open_checkpoint(note, key) == Checkpoint(name, 1, b"r" * 32)
    with pytest.raises(Rejected):
        parse_key(f"{name}+{(bytes([kid[0] ^ 1]) + kid[1:]).hex()}+{encoded_pub}")
    with pytest.raises(Rejected):
        open_checkpoint(note.replace("\n1\n", "\n2\n"), key)
    other = Ed25519PrivateKey.generate()
    forged = body + "\n" + f"{EM_DASH} {name} {base64.b64encode(kid + other.sign(body.encode())).decode()}\n"
    with pytest.raises(Rejected):
        open_checkpoint(forged, key)
    with pytest.raises((Rejected, ValueError, binascii.Error)):
        open_checkpoint(body + "\n" + f"{EM_DASH} {name} !!!\n", key)
