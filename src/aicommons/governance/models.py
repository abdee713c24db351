"""Economic figures behind each member state's contribution share (the contribution formula comes later)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from aicommons.database import Base, UTCDateTime


class EconomicFigure(Base):
    """A state's net national income and GDP for one year, in millions of euros, with where it came from."""

    __tablename__ = "economic_figures"
    __table_args__ = (UniqueConstraint("member_state_code", "year"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_state_code: Mapped[str] = mapped_column(ForeignKey("member_states.code"), index=True)
    year: Mapped[int] = mapped_column(Integer)
    nni_million_eur: Mapped[int | None] = mapped_column(BigInteger)
    gdp_million_eur: Mapped[int | None] = mapped_column(BigInteger)
    source: Mapped[str] = mapped_column(String(300))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
