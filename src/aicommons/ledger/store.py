"""Reading the tree from stored tiles, and the sequencer that integrates queued entries into it.

Tiles are the only tree storage (about 32 bytes per entry). Any node a proof needs is a complete
subtree whose hash is in one tile or is recomputed from at most 128 hashes of one tile, so a proof
reads O(log n) tiles. Full tiles never change; their computed levels are cached in memory.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import timedelta
from threading import Lock

from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from aicommons import clock
from aicommons.ledger import merkle, notes, tiles
from aicommons.ledger.models import LedgerCheckpoint, LedgerEntry, LedgerTile, LedgerTreeState

STATE_ROW = 1
# Any constant works; it names the sequencer's PostgreSQL advisory lock.
ADVISORY_LOCK_KEY = 0x41494C4544474552  # "AILEDGER"


class LedgerCorrupt(RuntimeError):
    """The stored tree contradicts a checkpoint already signed; the sequencer refuses to go on."""


class FullTileCache:
    """Levels of full (immutable) tiles of one database, keyed by (level, index); thread-safe."""

    def __init__(self, capacity: int = 4096) -> None:
        self.capacity = capacity
        self._items: OrderedDict[tuple[int, int], list[list[bytes]]] = OrderedDict()
        self._lock = Lock()

    def get(self, key: tuple[int, int]) -> list[list[bytes]] | None:
        with self._lock:
            levels = self._items.get(key)
            if levels is not None:
                self._items.move_to_end(key)
            return levels

    def put(self, key: tuple[int, int], levels: list[list[bytes]]) -> None:
        with self._lock:
            self._items[key] = levels
            self._items.move_to_end(key)
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)


class TileReader:
    """Answers ``node(level, index)`` from the tiles in the database (and ``overlay``, unsaved tiles)."""

    def __init__(self, session: Session, overlay: dict[tuple[int, int], bytes] | None = None,
                 cache: FullTileCache | None = None) -> None:
        self.session = session
        self.overlay = overlay or {}
        self.cache = cache
        self._partial: dict[tuple[int, int], list[bytes]] = {}

    def _tile(self, level: int, index: int) -> list[bytes] | list[list[bytes]]:
        key = (level, index)
        data = self.overlay.get(key)
        if data is None:
            cached = self.cache.get(key) if self.cache else None
            if cached is not None:
                return cached
            if key in self._partial:
                return self._partial[key]
            data = self.session.scalar(select(LedgerTile.hashes).where(LedgerTile.level == level,
                                                                       LedgerTile.idx == index))
            if data is None:
                raise merkle.ProofError(f"tile {level}/{index} is not stored")
        hashes = tiles.split_hashes(bytes(data))
        if len(hashes) == tiles.TILE_WIDTH:
            levels = tiles.tile_levels(hashes)
            if self.cache is not None and key not in self.overlay:
                self.cache.put(key, levels)
            return levels
        self._partial[key] = hashes
        return hashes

    def node(self, level: int, index: int) -> bytes:
        tile_level, height = divmod(level, tiles.TILE_HEIGHT)
        first = index << height  # position of the subtree's first hash at tree level 8 * tile_level
        tile_index, offset = divmod(first, tiles.TILE_WIDTH)
        tile = self._tile(tile_level, tile_index)
        if tile and isinstance(tile[0], list):  # a full tile, all levels precomputed
            return tile[height][offset >> height]
        return tiles.subtree_in_tile(tile, height, offset)


def tree_state(session: Session) -> LedgerTreeState:
    state = session.get(LedgerTreeState, STATE_ROW)
    if state is None:
        state = LedgerTreeState(id=STATE_ROW, size=0, root=merkle.EMPTY_ROOT, updated_at=clock.now())
        session.add(state)
        session.flush()
    return state


def latest_checkpoint(session: Session) -> LedgerCheckpoint | None:
    return session.scalar(select(LedgerCheckpoint).order_by(LedgerCheckpoint.id.desc()).limit(1))


@dataclass
class IntegrationResult:
    integrated: int
    size: int
    root: bytes
    checkpoint: LedgerCheckpoint | None


def _lock(session: Session) -> None:
    """Only one sequencer at a time. SQLite: the transaction began IMMEDIATE, so writers already queue."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY})


def integrate(session: Session, signer: notes.Signer, *, origin: str, batch: int = 10_000,
              checkpoint_interval: timedelta = timedelta(seconds=1)) -> IntegrationResult:
    """Integrate up to ``batch`` queued entries, in order, and sign a checkpoint if one is due.

    Everything happens in the caller's transaction: a crash at any point leaves the previous tree.
    """
    _lock(session)
    state = tree_state(session)
    rows = session.execute(select(LedgerEntry.id, LedgerEntry.leaf_hash).where(LedgerEntry.tree_index.is_(None))
                           .order_by(LedgerEntry.id).limit(batch)).all()
    size = state.size
    if rows:
        _number(session, [r.id for r in rows], size)
        overlay = _append_to_tiles(session, size, [bytes(r.leaf_hash) for r in rows])
        size += len(rows)
        root = merkle.range_hash(0, size, TileReader(session, overlay).node)
        for (level, index), data in overlay.items():
            session.merge(LedgerTile(level=level, idx=index, hashes=data))
        state.size, state.root, state.updated_at = size, root, clock.now()
    checkpoint = _maybe_sign(session, signer, origin, state, checkpoint_interval)
    session.flush()
    return IntegrationResult(len(rows), state.size, bytes(state.root), checkpoint)


def _number(session: Session, ids: list[int], first_index: int) -> None:
    """Give the entries their tree indexes; one statement when the ids are contiguous (the usual case)."""
    if ids[-1] - ids[0] + 1 == len(ids):
        session.execute(update(LedgerEntry).where(LedgerEntry.id.between(ids[0], ids[-1]))
                        .values(tree_index=LedgerEntry.id + (first_index - ids[0]))
                        .execution_options(synchronize_session=False))
        return
    session.execute(update(LedgerEntry).execution_options(synchronize_session=False),
                    [{"id": i, "tree_index": first_index + n} for n, i in enumerate(ids)])


def _append_to_tiles(session: Session, size: int, leaf_hashes: list[bytes]) -> dict[tuple[int, int], bytes]:
    """Append leaf hashes to the right edge of every level; returns the tiles that changed."""
    changed: dict[tuple[int, int], bytearray] = {}

    def edge(level: int, index: int) -> bytearray:
        key = (level, index)
        if key not in changed:
            data = session.scalar(select(LedgerTile.hashes).where(LedgerTile.level == level,
                                                                  LedgerTile.idx == index))
            changed[key] = bytearray(data or b"")
        return changed[key]

    incoming = leaf_hashes
    level, position = 0, size  # position: index of the next hash at tree level 8 * level
    while incoming:
        promoted: list[bytes] = []
        for h in incoming:
            tile = edge(level, position // tiles.TILE_WIDTH)
            tile += h
            position += 1
            if len(tile) == tiles.FULL_TILE_BYTES:
                promoted.append(merkle.tree_hash(tiles.split_hashes(bytes(tile))))
        incoming = promoted
        level += 1
        position = size >> (tiles.TILE_HEIGHT * level)
    return {key: bytes(data) for key, data in changed.items()}


def _maybe_sign(session: Session, signer: notes.Signer, origin: str, state: LedgerTreeState,
                interval: timedelta) -> LedgerCheckpoint | None:
    last = latest_checkpoint(session)
    moment = clock.now()
    if last is not None and (last.size == state.size or moment - last.signed_at < interval):
        return None
    if last is not None and last.size > 0:
        if state.size < last.size:
            raise LedgerCorrupt(f"tree size {state.size} is below the signed size {last.size}")
        proof = merkle.consistency_proof(last.size, state.size, TileReader(session).node)
        try:
            merkle.verify_consistency(last.size, state.size, bytes(last.root), bytes(state.root), proof)
        except merkle.ProofError as exc:
            raise LedgerCorrupt(f"the tree is not consistent with checkpoint {last.size}: {exc}") from exc
    body = notes.Checkpoint(origin, state.size, bytes(state.root)).body()
    checkpoint = LedgerCheckpoint(size=state.size, root=bytes(state.root), note=notes.sign(body, signer),
                                  signed_at=moment)
    session.add(checkpoint)
    return checkpoint


