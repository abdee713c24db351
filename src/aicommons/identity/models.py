"""Tables of the identity domain."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, Enum, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from aicommons.database import Base, UTCDateTime


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    # Stored as the enum's value in a VARCHAR with a CHECK constraint: portable between SQLite and
    # PostgreSQL, and readable in a plain SQL dump.
    return Enum(cls, name=name, native_enum=False, create_constraint=True, length=32,
                values_callable=lambda kinds: [k.value for k in kinds], validate_strings=True)


class MembershipStatus(enum.StrEnum):
    MEMBER = "member"
    ASSOCIATE_MEMBER = "associate_member"
    OBSERVER = "observer"


class InstitutionKind(enum.StrEnum):
    UNIVERSITY = "university"
    RESEARCH_INSTITUTE = "research_institute"
    SME = "sme"
    COMPANY = "company"
    PUBLIC_AGENCY = "public_agency"
    NGO = "ngo"


class Role(enum.StrEnum):
    OPERATOR = "operator"
    DELEGATE = "delegate"
    REVIEWER = "reviewer"
    RESEARCHER = "researcher"
    AUDITOR = "auditor"


class MemberState(Base):
    __tablename__ = "member_states"

    code: Mapped[str] = mapped_column(String(2), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[MembershipStatus] = mapped_column(_enum(MembershipStatus, "membership_status"))
    admitted_on: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Institution(Base):
    __tablename__ = "institutions"
    __table_args__ = (UniqueConstraint("country_code", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    country_code: Mapped[str] = mapped_column(String(2), index=True)
    kind: Mapped[InstitutionKind] = mapped_column(_enum(InstitutionKind, "institution_kind"))
    ror_id: Mapped[str | None] = mapped_column(String(9), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    domains: Mapped[list[InstitutionDomain]] = relationship(
        back_populates="institution", cascade="all, delete-orphan", order_by="InstitutionDomain.domain",
        lazy="selectin",
    )


class InstitutionDomain(Base):
    """An email domain that belongs to an institution (conflict-of-interest checks match on it)."""

    __tablename__ = "institution_domains"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id", ondelete="CASCADE"), index=True)
    domain: Mapped[str] = mapped_column(String(253), unique=True)

    institution: Mapped[Institution] = relationship(back_populates="domains")


class Person(Base):
    __tablename__ = "people"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    institution_id: Mapped[int | None] = mapped_column(ForeignKey("institutions.id"), index=True)
    orcid: Mapped[str | None] = mapped_column(String(19), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(200))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    institution: Mapped[Institution | None] = relationship(foreign_keys=[institution_id], lazy="joined")
    role_grants: Mapped[list[RoleGrant]] = relationship(
        back_populates="person", foreign_keys="RoleGrant.person_id", order_by="RoleGrant.id",
        lazy="selectin",
    )

    @property
    def active_grants(self) -> list[RoleGrant]:
        return [g for g in self.role_grants if g.revoked_at is None]


class RoleGrant(Base):
    """A role held by a person; never deleted, only revoked, so who held what and when stays known."""

    __tablename__ = "role_grants"
    __table_args__ = (Index("ix_role_grants_active", "person_id", "role", "member_state_code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    role: Mapped[Role] = mapped_column(_enum(Role, "role"))
    member_state_code: Mapped[str | None] = mapped_column(ForeignKey("member_states.code"))
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    granted_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    note: Mapped[str | None] = mapped_column(String(500))

    person: Mapped[Person] = relationship(back_populates="role_grants", foreign_keys=[person_id])
    granted_by: Mapped[Person | None] = relationship(foreign_keys=[granted_by_id])
    revoked_by: Mapped[Person | None] = relationship(foreign_keys=[revoked_by_id])


class ApiToken(Base):
    """A bearer token; only the SHA-256 of its secret is kept, the secret is shown once."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hint: Mapped[str] = mapped_column(String(16))
    scopes: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    person: Mapped[Person] = relationship(lazy="joined")


class WebSession(Base):
    """A signed-in browser; the cookie holds the secret, the table only its SHA-256."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)

    person: Mapped[Person] = relationship(lazy="joined")


class LoginAttempt(Base):
    """Failed logins, for throttling. The account is kept as a hash, not as the typed email."""

    __tablename__ = "login_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_hash: Mapped[str] = mapped_column(String(64), index=True)
    client_ip: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class FacilityMeta(Base):
    """Small facts about this installation, such as whether it holds demo data."""

    __tablename__ = "facility_meta"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(500))


class InstitutionAlias(Base):
    """Another name the same organisation goes by (an old name, a translation, a merged lab).

    Conflict-of-interest checks treat every record that shares a name or alias as the same organisation.
    """

    __tablename__ = "institution_aliases"
    __table_args__ = (UniqueConstraint("institution_id", "alias"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id", ondelete="CASCADE"), index=True)
    alias: Mapped[str] = mapped_column(String(300))


class Affiliation(Base):
    """Where a person works or worked, and when; the current institution on ``Person`` is the open one.

    Kept because a reviewer who left an applicant's institution less than 12 months ago is still conflicted.
    """

    __tablename__ = "affiliations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id"))
    started_on: Mapped[date | None] = mapped_column(Date)
    ended_on: Mapped[date | None] = mapped_column(Date)

    institution: Mapped[Institution] = relationship(lazy="joined")
