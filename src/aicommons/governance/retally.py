"""Recompute a motion's outcome from the ledger alone, as any outsider can, and compare it with the result.

Needs nothing but the facility's URL and its ledger key. Steps:

1. fetch the signed checkpoint and check its signature with the key;
2. find the motion's entries (subject ``urn:aicommons:motion:<id>``), fetch each entry's exact bytes and its
   RFC 9162 inclusion proof, and check the proof against the signed root;
2b. so that no ballot can be hidden from the search, read every entry from ``opened`` to ``closed`` from
   the log's tiles (C2SP tlog-tiles entry bundles), each bundle checked against its level-0 hash tile and
   each hash tile against the signed root, and take the motion's entries in that window from there;
3. from the ``opened`` entry take the rule and the electorate with its weights; from the ``ballot.cast``
   entries between ``opened`` and ``closed`` take each state's last ballot; recompute the tally with
   ``rules.tally`` and compare it, field by field, with the ``tallied`` entry (and ``published``'s outcome);
4. check that the motion text and attachments served today still hash to the digests fixed at opening.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from fractions import Fraction
from typing import Any
from urllib.parse import quote

import httpx

from aicommons.governance import rules
from aicommons.ledger import merkle, notes, tiles
from aicommons.ledger.verify import HttpTiles, VerificationFailed

MAX_ENTRIES = 100_000


class RetallyFailed(RuntimeError):
    pass


@dataclass
class Retally:
    motion: int
    origin: str
    tree_size: int
    entries_verified: int
    rule_text: str
    recomputed: dict[str, Any]
    published: dict[str, Any] | None
    published_outcome: str | None
    mismatches: list[str] = field(default_factory=list)
    text_matches: bool | None = None
    attachments_match: dict[str, bool] = field(default_factory=dict)

    @property
    def matches(self) -> bool:
        return (self.published is not None and not self.mismatches and self.text_matches is not False
                and all(self.attachments_match.values()))


def _get(client: httpx.Client, url: str, **params: Any) -> httpx.Response:
    try:
        response = client.get(url, params=params or None)
    except httpx.HTTPError as exc:
        raise RetallyFailed(f"fetching {url}: {exc}") from exc
    if response.status_code != 200:
        raise RetallyFailed(f"fetching {url}: HTTP {response.status_code}")
    return response


def _verified_entries(client: httpx.Client, base: str, subject: str,
                      checkpoint: notes.Checkpoint) -> list[tuple[int, dict[str, Any]]]:
    """The subject's entries, each proven included in the signed tree, in log order."""
    indexes: list[int] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"subject": subject, "limit": 200}
        if cursor:
            params["cursor"] = cursor
        page = _get(client, f"{base}/api/v1/ledger/entries", **params).json()
        indexes += [item["index"] for item in page["items"]]
        cursor = page.get("next_cursor")
        if len(indexes) > MAX_ENTRIES:
            raise RetallyFailed(f"more than {MAX_ENTRIES} entries for {subject}; refusing a partial count")
        if not cursor:
            break
    out = []
    for index in sorted(indexes):
        if index >= checkpoint.size:
            continue  # not yet under a signed checkpoint; the next one will cover it
        body = _get(client, f"{base}/api/v1/ledger/entries/{index}").content
        proof = _get(client, f"{base}/api/v1/ledger/proofs/inclusion", index=index, tree_size=checkpoint.size).json()
        try:
            path = [base64.b64decode(h, validate=True) for h in proof["hashes"]]
            merkle.verify_inclusion(merkle.hash_leaf(body), index, checkpoint.size, path, checkpoint.root)
        except (merkle.ProofError, ValueError, KeyError) as exc:
            raise RetallyFailed(f"entry {index} is not proven included in the signed tree: {exc}") from exc
        entry = json.loads(body)
        if entry.get("subject") != subject:
            raise RetallyFailed(f"entry {index} is about {entry.get('subject')}, not {subject}")
        out.append((index, entry))
    return out


def _complete(client: httpx.Client, base: str, subject: str, checkpoint: notes.Checkpoint,
              found: list[tuple[int, dict[str, Any]]]) -> list[tuple[int, dict[str, Any]]]:
    """Replace what the search returned between ``opened`` and ``closed`` with every entry the log holds
    there for ``subject``, read from authenticated tiles."""
    opened = [i for i, e in found if e["kind"] == "governance.motion.opened"]
    if not opened:
        return found
    closed = [i for i, e in found if e["kind"] == "governance.motion.closed"]
    first, last = opened[0], closed[0] if closed else checkpoint.size - 1
    scanned = _scan(client, base, checkpoint, first, last, subject)
    outside = [(i, e) for i, e in found if not first <= i <= last]
    return sorted(outside + scanned, key=lambda pair: pair[0])


def _scan(client: httpx.Client, base: str, checkpoint: notes.Checkpoint, first: int, last: int,
          subject: str) -> list[tuple[int, dict[str, Any]]]:
    """Every entry about ``subject`` with index in [first, last], each proven part of the signed tree."""
    reader = HttpTiles(client, base, checkpoint.size)
    out = []
    try:
        for tile in range(first // tiles.TILE_WIDTH, last // tiles.TILE_WIDTH + 1):
            start = tile * tiles.TILE_WIDTH
            probe = max(first, start)
            # One proof built from the tiles authenticates the whole level-0 hash tile: every hash in it
            # feeds the path from ``probe`` to the signed root.
            merkle.verify_inclusion(reader.node(0, probe), probe, checkpoint.size,
                                    merkle.inclusion_proof(probe, checkpoint.size, reader.node), checkpoint.root)
            for offset, body in enumerate(tiles.parse_entry_bundle(reader.get(None, tile))):
                index = start + offset
                if not first <= index <= last:
                    continue
                if merkle.hash_leaf(body) != reader.node(0, index):
                    raise RetallyFailed(f"entry {index} in the entry bundle does not match the signed tree")
                entry = json.loads(body)
                if entry.get("subject") == subject:
                    out.append((index, entry))
    except (VerificationFailed, merkle.ProofError, ValueError, IndexError) as exc:
        raise RetallyFailed(f"reading entries {first}..{last} from the log's tiles: {exc}") from exc
    return out


def _one(entries: list[tuple[int, dict]], kind: str) -> tuple[int, dict] | None:
    found = [(i, e) for i, e in entries if e["kind"] == kind]
    if len(found) > 1:
        raise RetallyFailed(f"the ledger holds {len(found)} '{kind}' entries for one motion")
    return found[0] if found else None


def retally(url: str, key: str, motion_id: int, client: httpx.Client | None = None) -> Retally:
    own = client is None
    client = client or httpx.Client(timeout=30)
    base = url.rstrip("/")
    try:
        try:
            checkpoint = notes.open_checkpoint(_get(client, f"{base}/ledger/checkpoint").text,
                                               notes.Verifier.parse(key))
        except (notes.NoteError, ValueError) as exc:
            raise RetallyFailed(f"the checkpoint does not verify with this key: {exc}") from exc
        subject = f"urn:aicommons:motion:{motion_id}"
        entries = _complete(client, base, subject, checkpoint,
                            _verified_entries(client, base, subject, checkpoint))
        try:
            result = _recompute(motion_id, checkpoint, entries)
        except (rules.RuleError, KeyError, TypeError, ValueError) as exc:
            raise RetallyFailed(f"the motion's ledger entries are malformed: {exc!r}") from exc
        try:
            _check_documents(client, base, motion_id, entries, result)
        except httpx.HTTPError as exc:
            raise RetallyFailed(f"fetching the motion's documents: {exc}") from exc
        return result
    finally:
        if own:
            client.close()


def _recompute(motion_id: int, checkpoint: notes.Checkpoint, entries: list[tuple[int, dict]]) -> Retally:
    opened = _one(entries, "governance.motion.opened")
    if opened is None:
        raise RetallyFailed(f"the signed ledger holds no opening of motion {motion_id} (not voted on yet, or "
                            "not yet under a signed checkpoint)")
    closed = _one(entries, "governance.motion.closed")
    tallied = _one(entries, "governance.motion.tallied")
    published = _one(entries, "governance.motion.published")
    data = opened[1]["data"]
    rule = rules.Rule.from_dict(data["rule"])
    eligible = {s: Fraction(w) for s, w in data["electorate"]["eligible"].items()}
    last_index = closed[0] if closed else checkpoint.size
    closes_at = datetime.fromisoformat(data["voting_closes_at"])
    ballots: dict[str, str] = {}
    late: list[str] = []
    for index, entry in entries:
        if entry["kind"] != "governance.ballot.cast" or not opened[0] < index < last_index:
            continue
        if datetime.fromisoformat(entry["at"]) >= closes_at:
            late.append(entry["data"]["member_state"])
            continue
        ballots[entry["data"]["member_state"]] = entry["data"]["choice"]
    recomputed = rules.tally(rule, eligible, ballots).to_dict()
    result = Retally(motion=motion_id, origin=checkpoint.origin, tree_size=checkpoint.size,
                     entries_verified=len(entries), rule_text=rules.describe(rule), recomputed=recomputed,
                     published=tallied[1]["data"] if tallied else None,
                     published_outcome=published[1]["data"]["outcome"] if published else None)
    if late:
        result.mismatches.append(f"ballots recorded after voting closed at {data['voting_closes_at']} (not counted): "
                                 f"{', '.join(late)}")
    order = [e[0] for e in (opened, closed, tallied, published) if e is not None]
    if order != sorted(order):
        result.mismatches.append("the motion's steps are out of order in the ledger")
    if tallied is None:
        result.mismatches.append("no tally has been recorded yet")
        return result
    # The workings are words; the numbers and the outcome are what must agree.
    recorded = {k: v for k, v in tallied[1]["data"].items() if k not in ("constitution_version", "workings")}
    for name in sorted((set(recomputed) | set(recorded)) - {"workings"}):
        if recomputed.get(name) != recorded.get(name):
            result.mismatches.append(f"{name}: recomputed {recomputed.get(name)!r}, recorded {recorded.get(name)!r}")
    if published and published[1]["data"]["outcome"] != recomputed["outcome"]:
        result.mismatches.append(f"published outcome {published[1]['data']['outcome']!r} differs from the tally")
    return result


def _check_documents(client: httpx.Client, base: str, motion_id: int, entries: list[tuple[int, dict]],
                     result: Retally) -> None:
    """Does what the facility serves today still hash to what was fixed when voting opened?"""
    opened = _one(entries, "governance.motion.opened")
    assert opened is not None
    response = client.get(f"{base}/api/v1/motions/{motion_id}")
    if response.status_code != 200:
        result.text_matches = False
        return
    text = response.json()["text"]
    result.text_matches = hashlib.sha256(text.encode()).hexdigest() == opened[1]["data"]["text_sha256"]
    for attachment in opened[1]["data"]["attachments"]:
        got = client.get(f"{base}/api/v1/motions/{motion_id}/attachments/{quote(attachment['filename'], safe='')}")
        result.attachments_match[attachment["filename"]] = (
            got.status_code == 200 and hashlib.sha256(got.content).hexdigest() == attachment["sha256"])
