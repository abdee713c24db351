"""The sequencer on a real database (SQLite and PostgreSQL): order, rollback, checkpoints, tamper, tiles."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import threading
from datetime import timedelta

import pytest
import rfc8785
from sqlalchemy import func, select, update

from aicommons import clock
from aicommons.database import create_db_engine, make_session_factory, unit_of_work
from aicommons.ledger import kinds, merkle, notes, reading, sequencer, service, store
from aicommons.ledger.models import LedgerCheckpoint, LedgerEntry, LedgerTile, LedgerTreeState
from aicommons.migrate import upgrade
from tests.ledger import helpers
from tests.ledger import rfc9162 as ref
from tests.ledger.helpers import T0


@pytest.fixture
def database_url(any_db_url):
    return any_db_url


@pytest.fixture
def signer(settings) -> notes.Signer:
    return sequencer.signer_for(settings)


def tuned(settings, **changes):
    return settings.model_copy(update=changes)


def count(factory, model, *where) -> int:
    with factory() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where)) or 0


def test_kinds_used_here_are_documented():
    assert helpers.KIND in kinds.KINDS
    with pytest.raises(ValueError), unit_of_work(make_session_factory(create_db_engine("sqlite://"))) as s:
        service.record(s, kind="identity.institution.exploded", subject="x", actor=None, data={})


def test_entries_are_indexed_in_queue_order_and_the_root_is_the_rfc_root(factory, settings, signer):
    with clock.frozen_at(T0):
        helpers.record(factory, 0, 5)
        helpers.record(factory, 5, 20)
        helpers.record(factory, 25, 12)
        assert count(factory, LedgerEntry, LedgerEntry.tree_index.is_(None)) == 37
        result = sequencer.integrate_pending(factory, settings, signer)
    assert (result.integrated, result.size) == (37, 37)
    tree = helpers.audit(factory, signer, settings.effective_ledger_origin)
    assert result.root == tree.root(37)
    with factory() as s:
        entries = helpers.integrated_entries(s)
        subjects = [json.loads(e.body)["subject"] for e in entries]
        assert subjects == [service.urn("institution", i) for i in range(37)]
        body = bytes(entries[3].body)
        assert rfc8785.dumps(json.loads(body)) == body
        assert json.loads(body) == {"kind": helpers.KIND, "at": "2026-05-01T12:00:00Z",
                                    "subject": "urn:aicommons:institution:3", "actor": service.SYSTEM_ACTOR,
                                    "data": helpers.data(3)}
        # The signed checkpoint names this tree.
        cp = store.latest_checkpoint(s)
        opened = notes.open_checkpoint(cp.note, signer.verifier, origin=settings.effective_ledger_origin)
        assert (opened.size, opened.root) == (37, tree.root(37))
        # Every entry's inclusion proof, as the API serves it, verifies against that checkpoint.
        for e in entries:
            proof = reading.inclusion_proof(s, index=e.tree_index, size=37)
            assert proof == tree.path(e.tree_index, 37)
            ref.rfc_verify_inclusion(bytes(e.leaf_hash), e.tree_index, 37, proof, opened.root)
    # Nothing queued: nothing changes, no new checkpoint.
    with clock.frozen_at(T0 + timedelta(hours=1)):
        again = sequencer.integrate_pending(factory, settings, signer)
    assert (again.integrated, again.size, again.root) == (0, 37, tree.root(37))
    assert count(factory, LedgerCheckpoint) == 1


def test_rolled_back_entries_never_appear(factory, settings, signer):
    helpers.record(factory, 0, 3)
    with pytest.raises(RuntimeError), unit_of_work(factory) as s:
        service.record(s, kind=helpers.KIND, subject="urn:aicommons:institution:rolled-back", actor=None,
                       data=helpers.data(-1))
        service.record(s, kind=helpers.KIND, subject="urn:aicommons:institution:rolled-back", actor=None,
                       data=helpers.data(-2))
        raise RuntimeError("the change failed")
    helpers.record(factory, 3, 3)
    sequencer.integrate_pending(factory, settings, signer)
    # An integration whose transaction rolls back leaves the previous tree.
    helpers.record(factory, 6, 4)
    with pytest.raises(RuntimeError), unit_of_work(factory) as s:
        store.integrate(s, signer, origin=settings.effective_ledger_origin, checkpoint_interval=timedelta(0))
        raise RuntimeError("crash before commit")
    with factory() as s:
        assert store.tree_state(s).size == 6
    assert count(factory, LedgerEntry, LedgerEntry.tree_index.is_(None)) == 4
    with clock.frozen_at(clock.now() + timedelta(seconds=5)):
        sequencer.integrate_pending(factory, settings, signer)
    tree = helpers.audit(factory, signer, settings.effective_ledger_origin)
    with factory() as s:
        subjects = [json.loads(e.body)["subject"] for e in helpers.integrated_entries(s)]
    assert subjects == [service.urn("institution", i) for i in range(10)]
    assert tree.root(10) == ref.mth([ref.leaf(bytes(b)) for b in _bodies(factory)])


def _bodies(factory) -> list[bytes]:
    with factory() as s:
        return [bytes(e.body) for e in helpers.integrated_entries(s)]


def test_checkpoints_are_signed_at_most_once_per_interval(factory, settings, signer):
    settings = tuned(settings, ledger_checkpoint_interval_seconds=10)
    origin = settings.effective_ledger_origin

    def step(at_seconds: float, new_entries: int):
        if new_entries:
            helpers.record(factory, count(factory, LedgerEntry), new_entries)
        with clock.frozen_at(T0 + timedelta(seconds=at_seconds)):
            return sequencer.integrate_pending(factory, settings, signer)

    first = step(0, 3)
    assert first.checkpoint is not None and first.size == 3
    assert step(1, 2).checkpoint is None, "1 s after a checkpoint: integrated, not signed"
    assert step(9.999, 1).checkpoint is None
    with factory() as s:
        assert store.tree_state(s).size == 6 and store.latest_checkpoint(s).size == 3
    due = step(10, 0)
    assert due.checkpoint is not None and due.checkpoint.size == 6, "the tree catches up once due, even idle"
    assert step(15, 4).checkpoint is None
    assert step(19, 0).checkpoint is None
    assert step(25, 0).checkpoint.size == 10
    assert step(60, 0).checkpoint is None, "no new checkpoint for an unchanged tree"
    # A clock that went backwards never makes one due early.
    assert step(30, 1).checkpoint is None
    helpers.audit(factory, signer, origin)
    with factory() as s:
        stamps = [(c.size, c.signed_at) for c in s.scalars(select(LedgerCheckpoint).order_by(LedgerCheckpoint.id))]
    assert [size for size, _ in stamps] == [3, 6, 10]
    assert all(b[1] - a[1] >= timedelta(seconds=10) for a, b in itertools.pairwise(stamps))
    for size, _ in stamps:
        with factory() as s:
            note = s.scalar(select(LedgerCheckpoint.note).where(LedgerCheckpoint.size == size))
        assert notes.open_checkpoint(note, signer.verifier, origin=origin).size == size


def test_interval_zero_signs_every_growth(factory, settings, signer):
    settings = tuned(settings, ledger_checkpoint_interval_seconds=0, ledger_batch=4)
    helpers.record(factory, 0, 10)
    with clock.frozen_at(T0):
        sequencer.integrate_pending(factory, settings, signer)
    with factory() as s:
        sizes = list(s.scalars(select(LedgerCheckpoint.size).order_by(LedgerCheckpoint.id)))
    assert sizes == [4, 8, 10]
    helpers.audit(factory, signer, settings.effective_ledger_origin)


def _tamper_first_tile(factory) -> None:
    with unit_of_work(factory) as s:
        tile = s.get(LedgerTile, (0, 0))
        data = bytearray(tile.hashes)
        data[5] ^= 0x40
        s.execute(update(LedgerTile).where(LedgerTile.level == 0, LedgerTile.idx == 0).values(hashes=bytes(data)))


def test_the_sequencer_refuses_to_sign_a_tree_that_contradicts_its_last_checkpoint(factory, settings, signer):
    helpers.record(factory, 0, 10)
    with clock.frozen_at(T0):
        sequencer.integrate_pending(factory, settings, signer)
    with factory() as s:
        before = s.scalar(select(LedgerCheckpoint.note).order_by(LedgerCheckpoint.id.desc()).limit(1))
    _tamper_first_tile(factory)
    helpers.record(factory, 10, 5)
    for later in (60, 120):
        with clock.frozen_at(T0 + timedelta(seconds=later)), pytest.raises(store.LedgerCorrupt):
            sequencer.integrate_pending(factory, settings, signer)
    with factory() as s:
        assert s.scalar(select(func.count()).select_from(LedgerCheckpoint)) == 1
        assert store.latest_checkpoint(s).note == before
        assert store.tree_state(s).size == 10, "the refused batch rolled back"
    assert count(factory, LedgerEntry, LedgerEntry.tree_index.is_(None)) == 5


def test_a_tree_shrunk_below_its_checkpoint_is_refused(factory, settings, signer):
    helpers.record(factory, 0, 10)
    with clock.frozen_at(T0):
        sequencer.integrate_pending(factory, settings, signer)
    with unit_of_work(factory) as s:
        s.execute(update(LedgerTreeState).values(size=4, root=ref.mth([ref.leaf(b) for b in _bodies(factory)[:4]])))
    with clock.frozen_at(T0 + timedelta(seconds=60)), pytest.raises(store.LedgerCorrupt):
        sequencer.integrate_pending(factory, settings, signer)


def test_the_background_sequencer_stops_for_good_on_a_corrupt_tree(factory, settings, signer, caplog):
    settings = tuned(settings, ledger_poll_seconds=0.05)
    helpers.record(factory, 0, 10)
    with clock.frozen_at(T0):
        sequencer.integrate_pending(factory, settings, signer)
    _tamper_first_tile(factory)
    helpers.record(factory, 10, 1)

    async def run():
        stop = asyncio.Event()
        await asyncio.wait_for(sequencer.run_in_background(factory, settings, signer, stop), timeout=20)
        return stop.is_set()

    with caplog.at_level(logging.CRITICAL, logger="aicommons.ledger"):
        stopped_by_request = asyncio.run(run())
    assert not stopped_by_request, "it returned by itself"
    assert any(r.levelno == logging.CRITICAL for r in caplog.records)
    assert count(factory, LedgerCheckpoint) == 1


@pytest.mark.parametrize("batches", [
    [600],
    [1, 254, 1, 1, 255, 1, 87],  # ends a tile with a batch of 1, then fills exactly
    [100, 200, 56, 200, 44],  # cross tile boundaries mid-batch
    [257, 257, 86],
])
def test_tiles_across_boundaries_match_the_reference(factory, settings, signer, batches):
    origin = settings.effective_ledger_origin
    assert sum(batches) == 600
    helpers.bulk_queue(factory, 0, 600)
    done = 0
    for b in batches:
        with unit_of_work(factory) as s:
            result = store.integrate(s, signer, origin=origin, batch=b, checkpoint_interval=timedelta(0))
        done += b
        assert (result.integrated, result.size) == (b, done)
        with factory() as s:
            tree = ref.Tree([ref.leaf(bytes(e.body)) for e in helpers.integrated_entries(s)])
            assert bytes(store.tree_state(s).root) == tree.root(done)
            helpers.check_tiles(s, tree, done)
    tree = helpers.audit(factory, signer, origin)
    with factory() as s:
        hashes = {(t.level, t.idx): len(t.hashes) // 32 for t in s.scalars(select(LedgerTile))}
        assert hashes == {(0, 0): 256, (0, 1): 256, (0, 2): 88, (1, 0): 2}
        level1 = bytes(s.get(LedgerTile, (1, 0)).hashes)
        level0 = bytes(s.get(LedgerTile, (0, 1)).hashes)
        assert level1[32:] == ref.mth([level0[i:i + 32] for i in range(0, len(level0), 32)]) == tree.mth(256, 512)
        # Proofs from the tiles at every checkpointed size, across the boundaries.
        sizes = list(s.scalars(select(LedgerCheckpoint.size).order_by(LedgerCheckpoint.id)))
        cache = store.FullTileCache()
        for size in sizes:
            for index in {0, 255, 256, 511, 512, size - 1} & set(range(size)):
                proof = reading.inclusion_proof(s, index=index, size=size, cache=cache)
                assert proof == tree.path(index, size)
                merkle.verify_inclusion(tree.leaves[index], index, size, proof, tree.root(size))
            for old in {1, 255, 256, 257, 511, 512, 513} & set(range(1, size + 1)):
                assert reading.consistency_proof(s, old_size=old, new_size=size, cache=cache) == tree.proof(old, size)
            assert reading.root_at(s, size, cache=cache) == tree.root(size)


# --- two sequencers at once (PostgreSQL) -----------------------------------------------------------


@pytest.mark.postgres
def test_two_sequencers_at_once_never_share_an_index(postgres_url, tmp_path):
    from aicommons.config import Settings

    settings = Settings(data_dir=tmp_path / "data", database_url=postgres_url,
                        ledger_checkpoint_interval_seconds=0, ledger_batch=50)
    engine = create_db_engine(postgres_url)
    upgrade(engine)
    factory = make_session_factory(engine)
    signer = sequencer.signer_for(settings)  # the key exists before both start, so they share it
    helpers.bulk_queue(factory, 0, 2000)

    workers = [helpers.spawn_sequencer(settings, batch=50, barrier=True) for _ in range(2)]
    try:
        for w in workers:
            assert w.stdout.readline().strip() == "ready", w.stderr.read()

        # Writers keep queueing while both sequencers run (ids commit out of order under concurrency).
        gate = threading.Barrier(3)

        def writer(first: int) -> None:
            gate.wait()
            for k in range(10):
                helpers.record(factory, first + 10 * k, 10)

        threads = [threading.Thread(target=writer, args=(first,)) for first in (10_000, 20_000)]
        for t in threads:
            t.start()
        for w in workers:  # the barrier: both are connected and waiting; release them together
            w.stdin.write("go\n")
            w.stdin.flush()
        gate.wait()
        results = []
        for w in workers:
            out, err = w.communicate(timeout=240)
            assert w.returncode == 0, err
            results.append(json.loads(out.strip().splitlines()[-1]))
        for t in threads:
            t.join()
    finally:
        for w in workers:
            if w.poll() is None:
                w.kill()
                w.wait()
    assert all(r["integrated"] > 0 for r in results), f"both sequencers took batches: {results}"
    sequencer.integrate_pending(factory, settings, signer)
    tree = helpers.audit(factory, signer, settings.effective_ledger_origin, queue_order=False)
    assert len(tree.leaves) == 2200
    with factory() as s:
        state = store.tree_state(s)
        n_indexes = s.scalar(select(func.count(func.distinct(LedgerEntry.tree_index))))
        assert n_indexes == 2200 and count(factory, LedgerEntry) == 2200
        assert s.scalar(select(func.max(LedgerEntry.tree_index))) == 2199
        cp = notes.open_checkpoint(store.latest_checkpoint(s).note, signer.verifier)
        assert (cp.size, cp.root) == (2200, bytes(state.root))
        # The bulk-queued entries (one transaction, committed before either started) keep their order.
        first = s.scalars(select(LedgerEntry.tree_index).where(LedgerEntry.subject.in_(
            [service.urn("institution", i) for i in range(2000)])).order_by(LedgerEntry.id)).all()
        assert first == sorted(first)
    for leaf_index in (0, 999, 2199):
        proof = merkle.inclusion_proof(leaf_index, 2200, merkle.list_reader(tree.leaves))
        merkle.verify_inclusion(tree.leaves[leaf_index], leaf_index, 2200, proof, cp.root)
    engine.dispose()
