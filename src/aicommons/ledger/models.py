"""Ledger tables. An entry is written in the same transaction as the change it records."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, LargeBinary, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from aicommons.database import Base, UTCDateTime


class LedgerEntry(Base):
    """A recorded public fact. ``tree_index`` is empty until the sequencer integrates the entry."""

    __tablename__ = "ledger_entries"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(100), index=True)
    subject: Mapped[str] = mapped_column(String(200), index=True)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary(32), index=True)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    tree_index: Mapped[int | None] = mapped_column(BigInteger, unique=True)


class LedgerTile(Base):
    """A tlog tile: up to 256 concatenated hashes at tree level 8 * ``level``. Only the last one grows."""

    __tablename__ = "ledger_tiles"

    level: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hashes: Mapped[bytes] = mapped_column(LargeBinary)


class LedgerTreeState(Base):
    """The integrated tree: one row, the sequencer's lock target and the current size and root."""

    __tablename__ = "ledger_tree_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    size: Mapped[int] = mapped_column(BigInteger)
    root: Mapped[bytes] = mapped_column(LargeBinary(32))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class LedgerCheckpoint(Base):
    """A signed checkpoint (C2SP signed note). Each is consistent with the one before it."""

    __tablename__ = "ledger_checkpoints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger, index=True)
    root: Mapped[bytes] = mapped_column(LargeBinary(32))
    note: Mapped[str] = mapped_column(Text)
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime)
