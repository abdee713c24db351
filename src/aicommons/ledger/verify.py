"""An outsider's verifier: checks a ledger over HTTP with nothing but its public key.

Fetches the signed checkpoint, checks its signature, checks it is consistent with the last checkpoint
this verifier saw, recomputes the root from the tiles it fetches (so every tile fetched is re-hashed and
authenticated), and spot-checks random entries: their bytes hash to the tile's leaf hash, and their
inclusion proof (computed from tiles, and the server's own proof) leads to the root.
"""

from __future__ import annotations

import base64
import json
import secrets
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from aicommons.ledger import merkle, notes, tiles

PROOF_HEADER = "c2sp.org/tlog-proof@v1"


class VerificationFailed(RuntimeError):
    pass


@dataclass
class Report:
    origin: str
    size: int
    root: bytes
    previous_size: int | None = None
    tiles_fetched: int = 0
    entries_checked: list[int] = field(default_factory=list)


class HttpTiles:
    """A ``NodeReader`` over a log's tiles fetched by HTTP, for a tree of ``size``."""

    def __init__(self, client: httpx.Client, base: str, size: int) -> None:
        self.client, self.base, self.size = client, base.rstrip("/"), size
        self.fetched: dict[tuple[int | None, int], bytes] = {}

    def _path(self, level: int | None, index: int) -> tiles.TilePath:
        width = tiles.TILE_WIDTH
        if index == tiles.tile_count_at(self.size, 0 if level is None else level):
            width = tiles.tile_width_at(self.size, 0 if level is None else level)
        return tiles.TilePath(level, index, width)

    def get(self, level: int | None, index: int) -> bytes:
        key = (level, index)
        if key not in self.fetched:
            path = self._path(level, index)
            response = self.client.get(f"{self.base}/ledger/{path.encode()}")
            if response.status_code != 200:
                raise VerificationFailed(f"{path.encode()}: HTTP {response.status_code}")
            data = response.content
            if level is not None and len(data) != path.width * merkle.HASH_SIZE:
                raise VerificationFailed(f"{path.encode()} has {len(data)} bytes, expected {path.width * 32}")
            self.fetched[key] = data
        return self.fetched[key]

    def node(self, level: int, index: int) -> bytes:
        tile_level, height = divmod(level, tiles.TILE_HEIGHT)
        tile_index, offset = divmod(index << height, tiles.TILE_WIDTH)
        return tiles.subtree_in_tile(tiles.split_hashes(self.get(tile_level, tile_index)), height, offset)


def _load_state(path: Path | None) -> dict | None:
    if path is None or not path.exists():
        return None
    return json.loads(path.read_text())


def verify_log(url: str, vkey: str, *, state_file: Path | None = None, samples: int = 8,
               client: httpx.Client | None = None, origin: str | None = None) -> Report:
    """Verify the log at ``url``; raise ``VerificationFailed`` with a clear reason on any failure."""
    verifier = notes.Verifier.parse(vkey)
    own = client is None
    client = client or httpx.Client(timeout=30, follow_redirects=False)
    try:
        base = url.rstrip("/")
        response = client.get(f"{base}/ledger/checkpoint")
        if response.status_code != 200:
            raise VerificationFailed(f"checkpoint: HTTP {response.status_code}")
        try:
            # The origin must be the one expected: given, or remembered from the last run, or the key's name.
            previous_origin = (_load_state(state_file) or {}).get("origin")
            checkpoint = notes.open_checkpoint(response.text, verifier,
                                               origin=origin or previous_origin or verifier.name)
        except notes.NoteError as exc:
            raise VerificationFailed(f"checkpoint signature: {exc}") from exc
        report = Report(checkpoint.origin, checkpoint.size, checkpoint.root)
        previous = _load_state(state_file)
        if previous is not None:
            report.previous_size = previous["size"]
            _check_consistency(client, base, previous, checkpoint)
        if checkpoint.size > 0:
            reader = HttpTiles(client, base, checkpoint.size)
            if merkle.range_hash(0, checkpoint.size, reader.node) != checkpoint.root:
                raise VerificationFailed("the tiles do not hash to the checkpoint's root")
            picks = {checkpoint.size - 1} | {secrets.randbelow(checkpoint.size) for _ in range(samples)}
            for index in sorted(picks):
                _check_entry(client, base, reader, index, checkpoint)
                report.entries_checked.append(index)
            report.tiles_fetched = len(reader.fetched)
        if state_file is not None:
            state_file.write_text(json.dumps({"origin": checkpoint.origin, "size": checkpoint.size,
                                              "root": base64.b64encode(checkpoint.root).decode()}))
        return report
    finally:
        if own:
            client.close()


def _check_consistency(client: httpx.Client, base: str, previous: dict, checkpoint: notes.Checkpoint) -> None:
    old_size, old_root = previous["size"], base64.b64decode(previous["root"])
    if previous.get("origin") not in (None, checkpoint.origin):
        raise VerificationFailed(f"origin changed from {previous['origin']} to {checkpoint.origin}")
    if checkpoint.size < old_size:
        raise VerificationFailed(f"the log shrank from {old_size} to {checkpoint.size} entries")
    if old_size == 0:
        return
    proof: list[bytes] = []
    if checkpoint.size > old_size:
        response = client.get(f"{base}/api/v1/ledger/proofs/consistency",
                              params={"old_size": old_size, "new_size": checkpoint.size})
        if response.status_code != 200:
            raise VerificationFailed(f"consistency proof: HTTP {response.status_code}")
        proof = [base64.b64decode(h) for h in response.json()["hashes"]]
    try:
        merkle.verify_consistency(old_size, checkpoint.size, old_root, checkpoint.root, proof)
    except merkle.ProofError as exc:
        raise VerificationFailed(f"the log is not consistent with the size-{old_size} checkpoint seen before: "
                                 f"{exc}") from exc


def _check_entry(client: httpx.Client, base: str, reader: HttpTiles, index: int,
                 checkpoint: notes.Checkpoint) -> None:
    try:
        bundle = tiles.parse_entry_bundle(reader.get(None, index // tiles.TILE_WIDTH))
        entry = bundle[index % tiles.TILE_WIDTH]
    except (ValueError, IndexError) as exc:
        raise VerificationFailed(f"the entry bundle holding entry {index} is malformed or short") from exc
    leaf = merkle.hash_leaf(entry)
    if reader.node(0, index) != leaf:
        raise VerificationFailed(f"entry {index} does not hash to its level-0 tile hash")
    try:
        merkle.verify_inclusion(leaf, index, checkpoint.size,
                                merkle.inclusion_proof(index, checkpoint.size, reader.node), checkpoint.root)
        response = client.get(f"{base}/api/v1/ledger/proofs/inclusion",
                              params={"index": index, "tree_size": checkpoint.size})
        if response.status_code != 200:
            raise VerificationFailed(f"inclusion proof for {index}: HTTP {response.status_code}")
        served = [base64.b64decode(h) for h in response.json()["hashes"]]
        merkle.verify_inclusion(leaf, index, checkpoint.size, served, checkpoint.root)
    except merkle.ProofError as exc:
        raise VerificationFailed(f"entry {index}: {exc}") from exc


# --- offline proof bundles (c2sp.org/tlog-proof, the entry in the 'extra' line) -------------------


def fetch_proof(url: str, index: int, client: httpx.Client | None = None) -> str:
    """A c2sp.org/tlog-proof for entry ``index``, with the entry's bytes as the extra data."""
    own = client is None
    client = client or httpx.Client(timeout=30)
    base = url.rstrip("/")
    try:
        note = client.get(f"{base}/ledger/checkpoint")
        note.raise_for_status()
        size = notes.Checkpoint.parse_body(notes.parse(note.text)[0]).size
        if not 0 <= index < size:
            raise VerificationFailed(f"entry {index} is not in the checkpointed tree of size {size}")
        entry = client.get(f"{base}/api/v1/ledger/entries/{index}")
        entry.raise_for_status()
        proof = client.get(f"{base}/api/v1/ledger/proofs/inclusion", params={"index": index, "tree_size": size})
        proof.raise_for_status()
    except httpx.HTTPError as exc:
        raise VerificationFailed(f"fetching the proof: {exc}") from exc
    finally:
        if own:
            client.close()
    lines = [PROOF_HEADER, f"extra {base64.b64encode(entry.content).decode()}", f"index {index}",
             *proof.json()["hashes"], ""]
    return "\n".join(lines) + "\n" + note.text


@dataclass
class CheckedProof:
    index: int
    size: int
    origin: str
    entry: bytes


def check_proof(text: str, vkey: str) -> CheckedProof:
    """Verify an offline proof bundle with nothing but the log's public key."""
    head, sep, note = text.partition("\n\n")
    lines = head.split("\n")
    if not sep or not lines or lines[0] != PROOF_HEADER:
        raise VerificationFailed(f"not a {PROOF_HEADER} file")
    rest = lines[1:]
    entry = None
    if rest and rest[0].startswith("extra "):
        try:
            entry = base64.b64decode(rest.pop(0)[len("extra "):], validate=True)
        except ValueError as exc:
            raise VerificationFailed("the extra line is not base64") from exc
    if not rest or not rest[0].startswith("index ") or not rest[0][6:].isdigit():
        raise VerificationFailed("missing 'index N' line")
    index = int(rest.pop(0)[6:])
    if entry is None:
        raise VerificationFailed("the proof carries no entry (extra line) to check")
    try:
        checkpoint = notes.open_checkpoint(note, notes.Verifier.parse(vkey))
        merkle.verify_inclusion(merkle.hash_leaf(entry), index, checkpoint.size,
                                [base64.b64decode(h, validate=True) for h in rest], checkpoint.root)
    except (notes.NoteError, merkle.ProofError, ValueError) as exc:
        raise VerificationFailed(str(exc)) from exc
    return CheckedProof(index, checkpoint.size, checkpoint.origin, entry)
