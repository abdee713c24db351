"""C2SP tlog-tiles (c2sp.org/tlog-tiles): tile coordinates, paths and the hashes inside a tile. Pure.

A tile at level L, index N holds up to 256 hashes at tree level 8L: hash i is
MTH(D[(N*256 + i) * 256**L : (N*256 + i + 1) * 256**L]). Levels between are recomputed from those.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from aicommons.ledger.merkle import HASH_SIZE, hash_children, tree_hash

TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT  # 256 hashes
FULL_TILE_BYTES = TILE_WIDTH * HASH_SIZE
MAX_LEVEL = 63
MAX_ENTRY_BYTES = 0xFFFF  # entry bundles prefix each entry with a 2-byte length


@dataclass(frozen=True)
class TilePath:
    level: int | None  # None for an entry bundle (tile/entries/...)
    index: int
    width: int  # 256 for a full tile, 1..255 for a partial one

    @property
    def partial(self) -> bool:
        return self.width < TILE_WIDTH

    def encode(self) -> str:
        head = "entries" if self.level is None else str(self.level)
        tail = f".p/{self.width}" if self.partial else ""
        return f"tile/{head}/{encode_index(self.index)}{tail}"


def encode_index(n: int) -> str:
    """1234067 -> ``x001/x234/067``: 3-digit groups, all but the last prefixed with ``x``."""
    if n < 0:
        raise ValueError("tile index must not be negative")
    groups = [f"{n % 1000:03d}"]
    n //= 1000
    while n:
        groups.append(f"x{n % 1000:03d}")
        n //= 1000
    return "/".join(reversed(groups))


# ASCII digits only and whole-string matches: a tile has exactly one name, so caches cannot be poisoned.
_INDEX = re.compile(r"(?:x[0-9]{3}/)*[0-9]{3}")
_LEVEL = re.compile(r"0|[1-9][0-9]?")
_WIDTH = re.compile(r"[1-9][0-9]{0,2}")


def parse_tile_path(level: str, rest: str) -> TilePath:
    """Parse ``<L>`` or ``entries`` and ``<N>[.p/<W>]`` strictly; ``ValueError`` says what is wrong."""
    if level == "entries":
        tile_level = None
    elif _LEVEL.fullmatch(level) and int(level) <= MAX_LEVEL:
        tile_level = int(level)
    else:
        raise ValueError("tile level must be 0 to 63 without leading zeros, or 'entries'")
    width = TILE_WIDTH
    if ".p/" in rest:
        rest, _, w = rest.partition(".p/")
        if not _WIDTH.fullmatch(w) or not 1 <= int(w) < TILE_WIDTH:
            raise ValueError("partial tile width must be 1 to 255 without leading zeros")
        width = int(w)
    if not _INDEX.fullmatch(rest):
        raise ValueError("tile index must be 3-digit groups like x001/x234/067")
    groups = rest.split("/")
    if len(groups) > 1 and groups[0] == "x000":
        raise ValueError("tile index must not have a leading x000 group")
    index = int("".join(g.lstrip("x") for g in groups))
    return TilePath(tile_level, index, width)


def tile_width_at(size: int, level: int) -> int:
    """Width of the partial tile at ``level`` for a tree of ``size`` (0: no partial tile there)."""
    return (size >> (TILE_HEIGHT * level)) % TILE_WIDTH


def tile_count_at(size: int, level: int) -> int:
    """How many full tiles level ``level`` has for a tree of ``size``."""
    return size >> (TILE_HEIGHT * (level + 1))


def tile_exists(size: int, path: TilePath) -> bool:
    """Whether a tree of ``size`` makes this tile (full, or partial of exactly this width or wider)."""
    level = 0 if path.level is None else path.level
    full = tile_count_at(size, level)
    if path.index < full:
        return True
    return path.index == full and path.partial and path.width <= tile_width_at(size, level)


def split_hashes(data: bytes) -> list[bytes]:
    if len(data) % HASH_SIZE:
        raise ValueError("tile data is not a whole number of hashes")
    return [data[i:i + HASH_SIZE] for i in range(0, len(data), HASH_SIZE)]


def subtree_in_tile(hashes: Sequence[bytes], height: int, offset: int) -> bytes:
    """The hash of the subtree of height ``height`` (0..8) over ``hashes[offset : offset + 2**height]``."""
    span = 1 << height
    if offset % span or offset + span > len(hashes):
        raise ValueError("subtree is not complete inside this tile")
    if height == 0:
        return hashes[offset]
    return tree_hash(hashes[offset:offset + span])


def tile_levels(hashes: Sequence[bytes]) -> list[list[bytes]]:
    """Every level of the subtree a full tile spans: [stored hashes, pairs, ..., single root]."""
    levels = [list(hashes)]
    while len(levels[-1]) > 1:
        below = levels[-1]
        levels.append([hash_children(below[i], below[i + 1]) for i in range(0, len(below) - 1, 2)])
    return levels


def entry_bundle(entries: Sequence[bytes]) -> bytes:
    """Entries, each preceded by its length as a big-endian uint16."""
    out = bytearray()
    for entry in entries:
        if len(entry) > MAX_ENTRY_BYTES:
            raise ValueError("an entry longer than 65535 bytes cannot be bundled")
        out += len(entry).to_bytes(2, "big") + entry
    return bytes(out)


def parse_entry_bundle(data: bytes) -> list[bytes]:
    entries, i = [], 0
    while i < len(data):
        if i + 2 > len(data):
            raise ValueError("truncated entry bundle")
        n = int.from_bytes(data[i:i + 2], "big")
        if i + 2 + n > len(data):
            raise ValueError("truncated entry bundle")
        entries.append(data[i + 2:i + 2 + n])
        i += 2 + n
    return entries
