"""kill -9 during integration: the tree left behind restarts cleanly, and the finished ledger verifies."""

from __future__ import annotations

import random
import signal
import time

import pytest
from sqlalchemy import func, select

from aicommons.config import Settings
from aicommons.database import create_db_engine, make_session_factory
from aicommons.ledger import notes, sequencer, store
from aicommons.ledger.models import LedgerEntry
from aicommons.migrate import upgrade
from tests.ledger import helpers
from tests.ledger import rfc9162 as ref


def setup_ledger(url: str, data_dir, entries: int):
    settings = Settings(data_dir=data_dir, database_url=url, ledger_batch=500, ledger_checkpoint_interval_seconds=0)
    engine = create_db_engine(url)
    upgrade(engine)
    factory = make_session_factory(engine)
    signer = sequencer.signer_for(settings)  # created here, so every child signs with the same key
    helpers.bulk_queue(factory, 0, entries)
    with factory() as s:
        leaves = [bytes(h) for h in s.scalars(select(LedgerEntry.leaf_hash).order_by(LedgerEntry.id))]
    return settings, engine, factory, signer, ref.Tree(leaves)


def check_after_crash(factory, signer: notes.Signer, settings: Settings, tree: ref.Tree) -> int:
    """What a restarted server finds: a whole tree of the first n entries, tiles and checkpoint agreeing."""
    with factory() as s:
        state = store.tree_state(s)
        n = state.size
        integrated = s.scalar(select(func.count()).select_from(LedgerEntry).where(LedgerEntry.tree_index.is_not(None)))
        assert integrated == n, "every numbered entry is in the tree, and only those"
        if n:
            first_id = s.scalar(select(func.min(LedgerEntry.id)))
            misplaced = s.scalar(select(func.count()).select_from(LedgerEntry).where(
                LedgerEntry.tree_index.is_not(None), LedgerEntry.tree_index != LedgerEntry.id - first_id))
            assert misplaced == 0, "the first n queued entries hold indexes 0..n-1"
        assert bytes(state.root) == tree.root(n)
        helpers.check_tiles(s, tree, n)
        latest = store.latest_checkpoint(s)
        if latest is not None:
            opened = notes.open_checkpoint(latest.note, signer.verifier, origin=settings.effective_ledger_origin)
            assert opened.size == n and opened.root == tree.root(n), "interval 0: the last batch was signed"
    return n


def kill_rounds(settings, factory, signer, tree, delays) -> tuple[int, int]:
    """One child per delay, SIGKILLed that long after it is connected; returns (kills mid-run, final size)."""
    killed_running, size = 0, 0
    for delay in delays:
        child = helpers.spawn_sequencer(settings, batch=settings.ledger_batch)
        try:
            assert child.stdout.readline().strip() == "ready", child.stderr.read()
            time.sleep(delay)
            if child.poll() is None:
                killed_running += 1
            child.send_signal(signal.SIGKILL)
            child.wait(timeout=30)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
        assert child.returncode in (0, -signal.SIGKILL)
        new_size = check_after_crash(factory, signer, settings, tree)
        assert new_size >= size, "a crash never loses committed entries"
        size = new_size
    return killed_running, size


def kill_mid_batch(settings, factory, signer, tree) -> None:
    """Kill a child that is inside a batch: tiles, indexes and checkpoint written, not yet committed."""
    before = check_after_crash(factory, signer, settings, tree)
    child = helpers.spawn_sequencer(settings, batch=settings.ledger_batch, pause_in_batch=True)
    try:
        assert child.stdout.readline().strip() == "ready", child.stderr.read()
        line = child.stdout.readline().strip()
        assert line == "mid-batch", line + child.stderr.read()
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert check_after_crash(factory, signer, settings, tree) == before, "the unfinished batch left no trace"


def finish_and_audit(settings, factory, signer, tree) -> None:
    result = sequencer.integrate_pending(factory, settings, signer)
    assert result.size == len(tree.leaves)
    assert result.root == tree.root(len(tree.leaves))
    audited = helpers.audit(factory, signer, settings.effective_ledger_origin)
    assert audited.leaves == tree.leaves


def test_kill_9_during_integration_on_sqlite(tmp_path):
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    settings, engine, factory, signer, tree = setup_ledger(url, tmp_path / "data", 20_000)
    # Small batches (each its own transaction and checkpoint) so a run lasts long enough to be interrupted
    # many times, however fast integration gets.
    settings = settings.model_copy(update={"ledger_batch": 50})
    rng = random.Random(20_000)
    # At once, early, and random moments in the middle of the run (a batch takes a few milliseconds).
    delays = [0.0, 0.005, *(rng.uniform(0.005, 0.05) for _ in range(5))]
    kill_mid_batch(settings, factory, signer, tree)
    killed_running, size = kill_rounds(settings, factory, signer, tree, delays)
    kill_mid_batch(settings, factory, signer, tree)
    assert killed_running >= 3, "the children were killed while integrating"
    assert size < len(tree.leaves), "something was left for the restarted sequencer"
    finish_and_audit(settings, factory, signer, tree)
    engine.dispose()


@pytest.mark.postgres
def test_kill_9_during_integration_on_postgresql(postgres_url, tmp_path):
    settings, engine, factory, signer, tree = setup_ledger(postgres_url, tmp_path / "data", 3_000)
    settings = settings.model_copy(update={"ledger_batch": 200})
    kill_mid_batch(settings, factory, signer, tree)
    kill_rounds(settings, factory, signer, tree, [0.02, 0.06])
    kill_mid_batch(settings, factory, signer, tree)
    finish_and_audit(settings, factory, signer, tree)
    engine.dispose()
