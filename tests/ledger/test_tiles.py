"""C2SP tlog-tiles paths and bundles: one canonical path per tile, nothing else parses."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aicommons.ledger import tiles
from aicommons.ledger.tiles import TilePath


@pytest.mark.parametrize(("n", "encoded"), [
    (0, "000"), (7, "007"), (999, "999"), (1000, "x001/000"), (1234067, "x001/x234/067"),
    (1_000_000, "x001/x000/000"), (12_345_678_901, "x012/x345/x678/901"),
])
def test_index_encoding(n, encoded):
    assert tiles.encode_index(n) == encoded
    assert tiles.parse_tile_path("0", encoded) == TilePath(0, n, 256)


@settings(max_examples=300, deadline=None)
@given(level=st.one_of(st.none(), st.integers(0, 63)), index=st.integers(0, 10**15), width=st.integers(1, 256))
def test_paths_round_trip(level, index, width):
    path = TilePath(level, index, width)
    encoded = path.encode()
    assert encoded.startswith("tile/")
    _, head, rest = encoded.split("/", 2)
    assert tiles.parse_tile_path(head, rest) == path


@pytest.mark.parametrize(("level", "rest"), [
    ("0", "x000/001"),  # a leading zero group
    ("0", "x001"),  # no final group
    ("0", "1"), ("0", "01"), ("0", "0001"), ("0", "x1/000"), ("0", "001/"), ("0", "/001"), ("0", ""),
    ("0", "000.p/0"), ("0", "000.p/256"), ("0", "000.p/010"), ("0", "000.p/"), ("0", "000.p/-1"),
    ("0", "000.p/1.p/2"),
    ("00", "000"), ("01", "000"), ("64", "000"), ("100", "000"), ("-1", "000"), ("", "000"), ("x", "000"),
    ("entry", "000"), ("Entries", "000"),
])
def test_malformed_paths_are_refused(level, rest):
    with pytest.raises(ValueError):
        tiles.parse_tile_path(level, rest)


@pytest.mark.parametrize(("level", "rest"), [
    ("0", "000\n"),  # '$' also matches before a final newline
    ("0\n", "000"),
    ("0", "001.p/5\n"),
    ("0", "\u0660\u0660\u0661"),  # ARABIC-INDIC DIGITS: '\d' matches every Unicode digit
    ("1\u0661", "000"),
    ("0", "000.p/1\u0665"),
])
def test_only_ascii_canonical_paths_parse(level, rest):
    """A tile has exactly one name: no trailing newline, no non-ASCII digits (caches key on the path)."""
    with pytest.raises(ValueError):
        tiles.parse_tile_path(level, rest)


def test_tile_existence_follows_the_tree_size():
    assert tiles.tile_width_at(300, 0) == 44 and tiles.tile_count_at(300, 0) == 1
    assert tiles.tile_width_at(300, 1) == 1 and tiles.tile_count_at(300, 1) == 0
    assert tiles.tile_exists(300, TilePath(0, 0, 256))
    assert tiles.tile_exists(300, TilePath(0, 0, 10)), "a partial tile of a tile that has since filled"
    assert tiles.tile_exists(300, TilePath(0, 1, 44))
    assert tiles.tile_exists(300, TilePath(0, 1, 1))
    assert not tiles.tile_exists(300, TilePath(0, 1, 45))
    assert not tiles.tile_exists(300, TilePath(0, 1, 256))
    assert tiles.tile_exists(300, TilePath(1, 0, 1))
    assert not tiles.tile_exists(300, TilePath(1, 0, 256))
    assert not tiles.tile_exists(256, TilePath(0, 1, 1))
    assert tiles.tile_exists(256, TilePath(None, 0, 256))
    assert not tiles.tile_exists(0, TilePath(0, 0, 1))


@given(st.lists(st.binary(max_size=300), max_size=20))
def test_entry_bundles_round_trip(entries):
    bundle = tiles.entry_bundle(entries)
    assert len(bundle) == sum(2 + len(e) for e in entries)
    assert tiles.parse_entry_bundle(bundle) == entries


def test_entry_bundle_limits():
    assert tiles.entry_bundle([b"ab", b""]) == b"\x00\x02ab\x00\x00"
    assert tiles.parse_entry_bundle(tiles.entry_bundle([b"x" * 65535])) == [b"x" * 65535]
    with pytest.raises(ValueError):
        tiles.entry_bundle([b"x" * 65536])
    for truncated in (b"\x00", b"\x00\x03ab"):
        with pytest.raises(ValueError):
            tiles.parse_entry_bundle(truncated)
