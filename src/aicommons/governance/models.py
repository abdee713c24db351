"""Tables of governance: economic figures, contribution scales and dues, the constitution, motions and ballots."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from aicommons.database import Base, UTCDateTime
from aicommons.governance.rules import Choice, MotionKind
from aicommons.identity.models import _enum


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


class ScaleStatus(enum.StrEnum):
    PROPOSED = "proposed"
    IN_FORCE = "in_force"
    SUPERSEDED = "superseded"


class ContributionScale(Base):
    """A computed contribution scale; it governs weights once the council adopts it."""

    __tablename__ = "contribution_scales"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[ScaleStatus] = mapped_column(_enum(ScaleStatus, "scale_status"))
    workings: Mapped[dict] = mapped_column(JSON)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    computed_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    adopted_by_motion_id: Mapped[int | None] = mapped_column(ForeignKey("motions.id"))
    in_force_from: Mapped[datetime | None] = mapped_column(UTCDateTime)

    shares: Mapped[list[ContributionShare]] = relationship(
        back_populates="scale", cascade="all, delete-orphan", order_by="ContributionShare.member_state_code",
        lazy="selectin")


class ContributionShare(Base):
    __tablename__ = "contribution_shares"
    __table_args__ = (UniqueConstraint("scale_id", "member_state_code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scale_id: Mapped[int] = mapped_column(ForeignKey("contribution_scales.id", ondelete="CASCADE"))
    member_state_code: Mapped[str] = mapped_column(ForeignKey("member_states.code"))
    # Six-decimal string ("0.183412"): exact, and the same bytes the ledger entry carries.
    share: Mapped[str] = mapped_column(String(12))

    scale: Mapped[ContributionScale] = relationship(back_populates="shares")


class ContributionDue(Base):
    """What a state owed and paid for one year, in whole euros; arrears are the unpaid remainder."""

    __tablename__ = "contribution_dues"
    __table_args__ = (UniqueConstraint("member_state_code", "year"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_state_code: Mapped[str] = mapped_column(ForeignKey("member_states.code"), index=True)
    year: Mapped[int] = mapped_column(Integer)
    due_eur: Mapped[int] = mapped_column(BigInteger)
    paid_eur: Mapped[int] = mapped_column(BigInteger)
    # The council may keep a state's vote despite arrears; the motion that decided it is named.
    vote_waiver_motion_id: Mapped[int | None] = mapped_column(ForeignKey("motions.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ConstitutionVersion(Base):
    """One version of the decision rules; version 1 is the founding text, later ones come by amendment."""

    __tablename__ = "constitution_versions"

    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    rules: Mapped[dict] = mapped_column(JSON)
    notice_days: Mapped[int] = mapped_column(Integer)
    adopted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # No foreign key: motions already point here (the version they were voted under), and a cycle of
    # foreign keys would make table creation order ambiguous. The amending motion is in the ledger too.
    adopted_by_motion_id: Mapped[int | None] = mapped_column(Integer)


class MotionStatus(enum.StrEnum):
    DRAFT = "draft"
    NOTICE = "notice"
    VOTING = "voting"
    CLOSED = "closed"
    TALLIED = "tallied"
    PUBLISHED = "published"


class Motion(Base):
    __tablename__ = "motions"
    __table_args__ = (Index("ix_motions_status", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[MotionKind] = mapped_column(_enum(MotionKind, "motion_kind"))
    title: Mapped[str] = mapped_column(String(300))
    text: Mapped[str] = mapped_column(Text)
    # What the motion does when it passes (the state admitted, the new rules, the scale adopted ...).
    payload: Mapped[dict] = mapped_column(JSON)
    participants: Mapped[list | None] = mapped_column(JSON)
    status: Mapped[MotionStatus] = mapped_column(_enum(MotionStatus, "motion_status"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    notice_given_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    notice_ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Fixed when voting opens: the rule, the electorate with weights, and the digests of what is voted on.
    constitution_version: Mapped[int | None] = mapped_column(ForeignKey("constitution_versions.version"))
    rule: Mapped[dict | None] = mapped_column(JSON)
    electorate: Mapped[dict | None] = mapped_column(JSON)
    text_digest: Mapped[str | None] = mapped_column(String(64))
    voting_opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    voting_closes_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    tally: Mapped[dict | None] = mapped_column(JSON)
    outcome: Mapped[str | None] = mapped_column(String(16))
    tallied_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    attachments: Mapped[list[MotionAttachment]] = relationship(
        back_populates="motion", order_by="MotionAttachment.id", lazy="selectin", cascade="all, delete-orphan")


class MotionAttachment(Base):
    """A document voted on with the motion (the slate, the budget table); its digest is fixed at opening."""

    __tablename__ = "motion_attachments"
    __table_args__ = (UniqueConstraint("motion_id", "filename"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    motion_id: Mapped[int] = mapped_column(ForeignKey("motions.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(200))
    media_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime)

    motion: Mapped[Motion] = relationship(back_populates="attachments")


class Ballot(Base):
    """Every ballot a state's delegate casts is kept; the last one before voting closes counts."""

    __tablename__ = "ballots"
    __table_args__ = (Index("ix_ballots_motion_state", "motion_id", "member_state_code", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    motion_id: Mapped[int] = mapped_column(ForeignKey("motions.id"))
    member_state_code: Mapped[str] = mapped_column(ForeignKey("member_states.code"))
    choice: Mapped[Choice] = mapped_column(_enum(Choice, "ballot_choice"))
    explanation: Mapped[str | None] = mapped_column(Text)
    cast_by_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    cast_at: Mapped[datetime] = mapped_column(UTCDateTime)
    superseded: Mapped[bool] = mapped_column(Boolean, default=False)
