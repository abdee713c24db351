"""Shared checks for the database-backed ledger tests: queue entries, and audit the whole stored ledger."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import rfc8785
from sqlalchemy import insert, select
from sqlalchemy.orm import Session, sessionmaker

from aicommons.database import unit_of_work
from aicommons.ledger import merkle, notes, service, store, tiles
from aicommons.ledger.models import LedgerCheckpoint, LedgerEntry, LedgerTile
from tests.ledger import rfc9162 as ref

REPO = Path(__file__).resolve().parents[2]
KIND = "identity.institution.registered"
T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def data(i: int) -> dict:
    return {"name": f"Institution {i}", "country": "FI", "kind": "university", "ror_id": None,
            "email_domains": [f"i{i}.example"]}


def record(factory: sessionmaker[Session], first: int, count: int) -> None:
    """Queue ``count`` entries through the ledger service, in one transaction."""
    with unit_of_work(factory) as session:
        for i in range(first, first + count):
            service.record(session, kind=KIND, subject=service.urn("institution", i), actor=None, data=data(i))


def bulk_queue(factory: sessionmaker[Session], first: int, count: int) -> None:
    """Queue many entries fast, with exactly the bytes ``service.record`` would write."""
    rows = []
    for i in range(first, first + count):
        at = T0 + timedelta(seconds=i)
        body = rfc8785.dumps({"kind": KIND, "at": service.rfc3339(at), "subject": service.urn("institution", i),
                              "actor": service.SYSTEM_ACTOR, "data": data(i)})
        rows.append({"kind": KIND, "subject": service.urn("institution", i), "body": body,
                     "leaf_hash": service.leaf_hash(body), "recorded_at": at})
    with unit_of_work(factory) as session:
        for start in range(0, len(rows), 5000):
            session.execute(insert(LedgerEntry), rows[start:start + 5000])


def integrated_entries(session: Session) -> list[LedgerEntry]:
    return list(session.scalars(select(LedgerEntry).where(LedgerEntry.tree_index.is_not(None))
                                .order_by(LedgerEntry.tree_index)))


def audit(factory: sessionmaker[Session], signer: notes.Signer, origin: str, *,
          queue_order: bool = True) -> ref.Tree:
    """Check everything a verifier relies on; return the reference tree of the integrated entries.

    - indexes are 0..n-1 without gaps, and (``queue_order``) follow the order entries were queued;
    - every entry is RFC 8785 canonical JSON and its leaf hash is SHA-256(0x00 || body);
    - the stored size and root equal the reference MTH over the entries' exact bytes;
    - every stored tile equals the reference (level 0: leaf hashes; level 1: MTH of a full level-0 tile);
    - every signed checkpoint verifies, names a prefix of this tree, and is consistent with the one before.
    """
    with factory() as session:
        entries = integrated_entries(session)
        assert [e.tree_index for e in entries] == list(range(len(entries))), "indexes 0..n-1 without gaps"
        if queue_order:
            assert [e.id for e in entries] == sorted(e.id for e in entries), "indexes follow the queue"
        for e in entries:
            body = bytes(e.body)
            assert rfc8785.dumps(json.loads(body)) == body, "an entry is RFC 8785 canonical JSON"
            assert bytes(e.leaf_hash) == ref.leaf(body)
        tree = ref.Tree([ref.leaf(bytes(e.body)) for e in entries])
        n = len(entries)
        state = store.tree_state(session)
        assert state.size == n
        assert bytes(state.root) == tree.root(n)
        check_tiles(session, tree, n)
        checkpoints = list(session.scalars(select(LedgerCheckpoint).order_by(LedgerCheckpoint.id)))
        reader = store.TileReader(session).node
        previous = None
        for cp in checkpoints:
            opened = notes.open_checkpoint(cp.note, signer.verifier, origin=origin)
            assert (opened.size, opened.root) == (cp.size, bytes(cp.root))
            assert cp.size <= n and bytes(cp.root) == tree.root(cp.size), "a checkpoint names a prefix of the tree"
            if previous is not None:
                assert cp.size > previous.size, "a new checkpoint only when the tree grew"
                assert cp.signed_at >= previous.signed_at
                if previous.size > 0:
                    proof = merkle.consistency_proof(previous.size, cp.size, reader)
                    assert proof == tree.proof(previous.size, cp.size)
                    merkle.verify_consistency(previous.size, cp.size, bytes(previous.root), bytes(cp.root), proof)
                    ref.rfc_verify_consistency(previous.size, cp.size, bytes(previous.root), bytes(cp.root), proof)
            previous = cp
    return tree


def check_tiles(session: Session, tree: ref.Tree, n: int) -> None:
    stored = {(t.level, t.idx): bytes(t.hashes) for t in session.scalars(select(LedgerTile))}
    expected: dict[tuple[int, int], bytes] = {}
    level, width = 0, 1  # width: leaves under one hash at this level
    while n >> (8 * level):
        count = n >> (8 * level)  # complete hashes at tree level 8*level
        for index in range(0, count, 256):
            hashes = [tree.mth(j * width, (j + 1) * width) for j in range(index, min(index + 256, count))]
            expected[(level, index // 256)] = b"".join(hashes)
        level += 1
        width *= 256
    assert stored.keys() == expected.keys(), f"stored tiles {sorted(stored)} != expected {sorted(expected)}"
    for key, data in expected.items():
        assert stored[key] == data, f"tile {key} differs from the reference"
        if len(data) == tiles.FULL_TILE_BYTES and key[0] == 0:
            level1 = expected.get((1, key[1] // 256))
            assert level1 is not None
            assert level1[(key[1] % 256) * 32:(key[1] % 256 + 1) * 32] == ref.mth(tiles.split_hashes(data))


WORKER = """
import json, sys, time
from aicommons.config import Settings
from aicommons.database import create_db_engine, make_session_factory
from aicommons.ledger import sequencer, store
args = json.loads(sys.argv[1])
settings = Settings(data_dir=args["data_dir"], database_url=args["url"], ledger_batch=args["batch"],
                    ledger_checkpoint_interval_seconds=0)
factory = make_session_factory(create_db_engine(settings.effective_database_url))
signer = sequencer.signer_for(settings)
if args.get("pause_in_batch"):
    sign = store._maybe_sign
    def pause(session, *a, **k):
        checkpoint = sign(session, *a, **k)
        session.flush()
        print("mid-batch", flush=True)
        time.sleep(600)
    store._maybe_sign = pause
with factory() as s:
    s.connection()
print("ready", flush=True)
if args.get("barrier"):
    sys.stdin.readline()
result = sequencer.integrate_pending(factory, settings, signer)
print(json.dumps({"integrated": result.integrated, "size": result.size}), flush=True)
"""


def spawn_sequencer(settings, *, batch: int, barrier: bool = False, pause_in_batch: bool = False) -> subprocess.Popen:
    """A sequencer in its own process: prints 'ready' once connected, then integrates until the queue is empty.

    ``barrier``: wait for a line on stdin before starting. ``pause_in_batch``: stop inside the first batch's
    transaction, after its tiles, indexes and checkpoint are written but before the commit, and say 'mid-batch'.
    """
    args = json.dumps({"data_dir": str(settings.data_dir), "url": settings.effective_database_url,
                       "batch": batch, "barrier": barrier, "pause_in_batch": pause_in_batch})
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO)])}
    return subprocess.Popen([sys.executable, "-c", WORKER, args], cwd=REPO, env=env, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
