"""Ledger tables. An entry is written in the same transaction as the change it records."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, LargeBinary, String
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
