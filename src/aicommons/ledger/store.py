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
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
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
    """Computed levels of stored tiles of one database, keyed by (level, index, width); thread-safe.

    A tile only ever grows by appending, so its first ``width`` hashes never change: an entry keyed by
    width stays true forever, for full tiles and for the partial tiles of any past tree size.
    """

    def __init__(self, capacity: int = 8192) -> None:
        self.capacity = capacity
        self._items: OrderedDict[tuple[int, int, int], list[list[bytes]]] = OrderedDict()
        self._lock = Lock()
        # MTH(D[start:end]) of integrated ranges never changes either; proofs at one size share the right edge.
        self.ranges: OrderedDict[tuple[int, int], bytes] = OrderedDict()

    def get_range(self, key: tuple[int, int]) -> bytes | None:
        with self._lock:
            return self.ranges.get(key)

    def put_range(self, key: tuple[int, int], value: bytes) -> None:
        with self._lock:
            self.ranges[key] = value
            while len(self.ranges) > self.capacity * 4:
                self.ranges.popitem(last=False)

    def get(self, key: tuple[int, int, int]) -> list[list[bytes]] | None:
        with self._lock:
            levels = self._items.get(key)
            if levels is not None:
                self._items.move_to_end(key)
            return levels

    def put(self, key: tuple[int, int, int], levels: list[list[bytes]]) -> None:
        with self._lock:
            self._items[key] = levels
            self._items.move_to_end(key)
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)


class TileReader:
    """Answers ``node(level, index)`` for the tree of ``size`` from stored tiles (and ``overlay``, unsaved ones).

    Each tile is read once per reader and its inner levels computed once; with a shared ``cache`` not even
    that. Without ``size`` the reader reads whole stored tiles, which is right for the current tree.
    """

    def __init__(self, session: Session, overlay: dict[tuple[int, int], bytes] | None = None,
                 cache: FullTileCache | None = None, size: int | None = None) -> None:
        self.session = session
        self.overlay = overlay or {}
        self.cache = cache
        self.size = size
        self._memo: dict[tuple[int, int], list[list[bytes]]] = {}

    def _width(self, level: int, index: int) -> int | None:
        if self.size is None:
            return None
        if index < tiles.tile_count_at(self.size, level):
            return tiles.TILE_WIDTH
        return tiles.tile_width_at(self.size, level)

    def _levels(self, level: int, index: int) -> list[list[bytes]]:
        key = (level, index)
        memo = self._memo.get(key)
        if memo is not None:
            return memo
        width = self._width(level, index)
        data = self.overlay.get(key)
        if data is None:
            if self.cache is not None and width is not None:
                cached = self.cache.get((level, index, width))
                if cached is not None:
                    self._memo[key] = cached
                    return cached
            data = self.session.execute(text("SELECT hashes FROM ledger_tiles WHERE level = :level AND idx = :idx"),
                                        {"level": level, "idx": index}).scalar()
            if data is None:
                raise merkle.ProofError(f"tile {level}/{index} is not stored")
            data = bytes(data)
            if width is not None:
                if len(data) < width * merkle.HASH_SIZE:
                    raise merkle.ProofError(f"tile {level}/{index} is shorter than the tree needs")
                data = data[:width * merkle.HASH_SIZE]
            elif len(data) == tiles.FULL_TILE_BYTES:
                width = tiles.TILE_WIDTH
        levels = tiles.tile_levels(tiles.split_hashes(bytes(data)))
        if self.cache is not None and width is not None and key not in self.overlay:
            self.cache.put((level, index, width), levels)
        self._memo[key] = levels
        return levels

    def range(self, start: int, end: int) -> bytes:
        """MTH(D[start:end]); complete subtrees come from tiles, the rest from the shared cache if any."""
        n = end - start
        if n & (n - 1) == 0 or self.cache is None or self.overlay:
            return merkle.range_hash(start, end, self.node)
        value = self.cache.get_range((start, end))
        if value is None:
            value = merkle.range_hash(start, end, self.node)
            self.cache.put_range((start, end), value)
        return value

    def node(self, level: int, index: int) -> bytes:
        tile_level, height = divmod(level, tiles.TILE_HEIGHT)
        first = index << height  # position of the subtree's first hash at tree level 8 * tile_level
        tile_index, offset = divmod(first, tiles.TILE_WIDTH)
        row = self._levels(tile_level, tile_index)[height]
        position = offset >> height
        if position >= len(row):
            raise merkle.ProofError(f"subtree {level}/{index} is not complete in the stored tiles")
        return row[position]


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
    rows = _queued(session, batch)
    size = state.size
    if rows:
        _number(session, [r[0] for r in rows], size)
        overlay = _append_to_tiles(session, size, [r[1] for r in rows])
        size += len(rows)
        root = merkle.range_hash(0, size, TileReader(session, overlay, size=size).node)
        _save_tiles(session, overlay)
        state.size, state.root, state.updated_at = size, root, clock.now()
    checkpoint = _maybe_sign(session, signer, origin, state, checkpoint_interval)
    session.flush()
    return IntegrationResult(len(rows), state.size, bytes(state.root), checkpoint)


def _queued(session: Session, batch: int) -> list[tuple[int, bytes]]:
    """The next ``batch`` queued entries' ids and leaf hashes, oldest first.

    Read through the driver's own cursor: for tens of thousands of rows, SQLAlchemy's row objects cost
    more than the query. ``batch`` is an int, so writing it into the SQL is safe.
    """
    cursor = session.connection().connection.driver_connection.cursor()
    try:
        limit = int(batch)
        cursor.execute(f"SELECT id, leaf_hash FROM ledger_entries WHERE tree_index IS NULL ORDER BY id LIMIT {limit}")  # noqa: S608
        return [(row[0], bytes(row[1])) for row in cursor.fetchall()]
    finally:
        cursor.close()


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
    changed: dict[tuple[int, int], bytes] = {}
    incoming = leaf_hashes
    level = 0
    while incoming:
        position = size >> (tiles.TILE_HEIGHT * level)  # hashes already at tree level 8 * level
        index, fill = divmod(position, tiles.TILE_WIDTH)
        current = b""
        if fill:
            current = bytes(session.execute(text("SELECT hashes FROM ledger_tiles WHERE level = :level AND idx = :idx"),
                                            {"level": level, "idx": index}).scalar() or b"")
        promoted: list[bytes] = []
        taken = 0
        while taken < len(incoming):
            room = tiles.TILE_WIDTH - len(current) // merkle.HASH_SIZE
            chunk = incoming[taken:taken + room]
            current += b"".join(chunk)
            taken += len(chunk)
            changed[(level, index)] = current
            if len(current) == tiles.FULL_TILE_BYTES:
                promoted.append(merkle.tree_hash(tiles.split_hashes(current)))
                index, current = index + 1, b""
        incoming = promoted
        level += 1
    return changed


def _save_tiles(session: Session, changed: dict[tuple[int, int], bytes]) -> None:
    """Insert or replace the changed tiles in one statement."""
    dialect = session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(LedgerTile)
    statement = statement.on_conflict_do_update(index_elements=["level", "idx"],
                                                set_={"hashes": statement.excluded.hashes})
    session.execute(statement, [{"level": lv, "idx": ix, "hashes": data} for (lv, ix), data in changed.items()])


def _maybe_sign(session: Session, signer: notes.Signer, origin: str, state: LedgerTreeState,
                interval: timedelta) -> LedgerCheckpoint | None:
    last = latest_checkpoint(session)
    moment = clock.now()
    if last is not None and (last.size == state.size or moment - last.signed_at < interval):
        return None
    if last is not None and last.size > 0:
        if state.size < last.size:
            raise LedgerCorrupt(f"tree size {state.size} is below the signed size {last.size}")
        proof = merkle.consistency_proof(last.size, state.size, TileReader(session, size=state.size).node)
        try:
            merkle.verify_consistency(last.size, state.size, bytes(last.root), bytes(state.root), proof)
        except merkle.ProofError as exc:
            raise LedgerCorrupt(f"the tree is not consistent with checkpoint {last.size}: {exc}") from exc
    body = notes.Checkpoint(origin, state.size, bytes(state.root)).body()
    checkpoint = LedgerCheckpoint(size=state.size, root=bytes(state.root), note=notes.sign(body, signer),
                                  signed_at=moment)
    session.add(checkpoint)
    return checkpoint


