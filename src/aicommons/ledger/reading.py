"""Reading the ledger: entries, proofs, tiles and checkpoints, for the public API and the web page."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from aicommons.errors import BadRequest, NotFound, invalid_field
from aicommons.ledger import merkle, store, tiles
from aicommons.ledger.models import LedgerCheckpoint, LedgerEntry, LedgerTile
from aicommons.ledger.store import FullTileCache, TileReader, latest_checkpoint, tree_state
from aicommons.pagination import DEFAULT_LIMIT, Page, decode_cursor, encode_cursor


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def parse_hash(value: str, loc: tuple = ("query", "leaf_hash")) -> bytes:
    """A SHA-256 hash given as standard or URL-safe base64, or as hex."""
    text = value.strip()
    try:
        if len(text) == 64:
            raw = bytes.fromhex(text)
        else:
            raw = base64.b64decode(text.replace("-", "+").replace("_", "/") + "=" * (-len(text) % 4),
                                   validate=True)
    except (ValueError, binascii.Error) as exc:
        raise invalid_field(loc, "a SHA-256 hash in base64 or hex") from exc
    if len(raw) != merkle.HASH_SIZE:
        raise invalid_field(loc, "a SHA-256 hash is 32 bytes")
    return raw


def tree_size(session: Session) -> int:
    return tree_state(session).size


def checkpoint(session: Session) -> LedgerCheckpoint:
    latest = latest_checkpoint(session)
    if latest is None:
        raise NotFound("the ledger has not signed a checkpoint yet")
    return latest


def entry_at(session: Session, index: int) -> LedgerEntry:
    if index < 0:
        raise BadRequest("an index is 0 or more")
    if index >= tree_size(session):
        raise NotFound(f"no entry at index {index} (the tree has {tree_size(session)} entries)")
    entry = session.scalar(select(LedgerEntry).where(LedgerEntry.tree_index == index))
    if entry is None:
        raise NotFound(f"no entry at index {index} (the tree has {tree_size(session)} entries)")
    return entry


def search(session: Session, *, kind: str | None = None, subject: str | None = None, cursor: str | None = None,
           limit: int = DEFAULT_LIMIT, newest_first: bool = False) -> Page[LedgerEntry]:
    """Integrated entries by index, optionally of one kind (or kind prefix ending in '.') and subject."""
    after = decode_cursor(cursor, int)
    order = LedgerEntry.tree_index.desc() if newest_first else LedgerEntry.tree_index
    query = select(LedgerEntry).where(LedgerEntry.tree_index.is_not(None)).order_by(order).limit(limit + 1)
    if after is not None:
        query = query.where(LedgerEntry.tree_index < after if newest_first else LedgerEntry.tree_index > after)
    if kind:
        query = query.where(LedgerEntry.kind.startswith(kind, autoescape=True) if kind.endswith(".")
                            else LedgerEntry.kind == kind)
    if subject:
        query = query.where(LedgerEntry.subject == subject)
    rows = list(session.scalars(query))
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows, encode_cursor(rows[-1].tree_index) if more else None)


def inclusion_proof(session: Session, *, index: int, size: int, cache: FullTileCache | None = None) -> list[bytes]:
    current = tree_size(session)
    if not 0 < size <= current:
        raise BadRequest(f"tree_size must be 1 to {current}, the current size")
    if not 0 <= index < size:
        raise BadRequest(f"index must be 0 to {size - 1} for a tree of size {size}")
    reader = TileReader(session, cache=cache, size=size)
    return merkle.inclusion_proof(index, size, reader.node, reader.range)


def consistency_proof(session: Session, *, old_size: int, new_size: int,
                      cache: FullTileCache | None = None) -> list[bytes]:
    current = tree_size(session)
    if not 0 < new_size <= current:
        raise BadRequest(f"new_size must be 1 to {current}, the current size")
    if not 0 < old_size <= new_size:
        raise BadRequest(f"old_size must be 1 to {new_size}")
    reader = TileReader(session, cache=cache, size=new_size)
    return merkle.consistency_proof(old_size, new_size, reader.node, reader.range)


def root_at(session: Session, size: int, cache: FullTileCache | None = None) -> bytes:
    if size == 0:
        return merkle.EMPTY_ROOT
    return merkle.range_hash(0, size, TileReader(session, cache=cache, size=size).node)


@dataclass
class Lookup:
    queued: bool
    entry: LedgerEntry
    size: int
    proof: list[bytes]


def lookup(session: Session, leaf_hash: bytes, cache: FullTileCache | None = None) -> Lookup:
    """Find an entry by its leaf hash: its index and an inclusion proof once a signed checkpoint covers it.

    The proof is for the latest *signed* size, the only root a client can check it against.
    """
    entry = session.scalar(select(LedgerEntry).where(LedgerEntry.leaf_hash == leaf_hash)
                           .order_by(LedgerEntry.id).limit(1))
    if entry is None:
        raise NotFound("no entry has this leaf hash")
    signed = store.latest_checkpoint(session)
    signed_size = signed.size if signed else 0
    if entry.tree_index is None or entry.tree_index >= signed_size:
        return Lookup(True, entry, signed_size, [])
    reader = TileReader(session, cache=cache, size=signed_size)
    return Lookup(False, entry, signed_size,
                  merkle.inclusion_proof(entry.tree_index, signed_size, reader.node, reader.range))


def tile_data(session: Session, path: tiles.TilePath) -> bytes:
    """A hash tile (full, or the first W hashes for .p/W) if the current tree has it."""
    size = tree_size(session)
    if path.level is None or not tiles.tile_exists(size, path):
        raise NotFound(f"{path.encode()} does not exist in a tree of size {size}")
    data = session.scalar(select(LedgerTile.hashes).where(LedgerTile.level == path.level,
                                                          LedgerTile.idx == path.index))
    if data is None:
        raise NotFound(f"{path.encode()} is not stored")
    return bytes(data)[:path.width * merkle.HASH_SIZE]


def bundle_data(session: Session, path: tiles.TilePath) -> bytes:
    """An entry bundle: the entries of one level-0 tile, each with a 2-byte length."""
    size = tree_size(session)
    if path.level is not None or not tiles.tile_exists(size, path):
        raise NotFound(f"{path.encode()} does not exist in a tree of size {size}")
    first = path.index * tiles.TILE_WIDTH
    bodies = session.scalars(select(LedgerEntry.body).where(
        LedgerEntry.tree_index >= first, LedgerEntry.tree_index < first + path.width)
        .order_by(LedgerEntry.tree_index))
    return tiles.entry_bundle([bytes(b) for b in bodies])
