"""Shapes of the identity API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from aicommons.identity.models import InstitutionKind, MembershipStatus, Role

T = TypeVar("T")

Name = Annotated[str, Field(min_length=1, max_length=300)]


class PageOut(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(description="Pass as ?cursor= to get the next page; null on the last.")


class MemberStateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(min_length=1, max_length=8, description="ISO 3166-1 alpha-2", examples=["FI"])
    name: str | None = Field(default=None, max_length=200, description="Defaults to the ISO short name.")
    status: MembershipStatus
    admitted_on: date


class MemberStatePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, min_length=1, max_length=200)
    status: MembershipStatus | None = None
    admitted_on: date | None = None


class MemberStateOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    code: str
    name: str
    status: MembershipStatus
    admitted_on: date


class InstitutionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name
    country: str = Field(min_length=1, max_length=8, description="ISO 3166-1 alpha-2", examples=["DE"])
    kind: InstitutionKind
    ror_id: str | None = Field(default=None, max_length=40, examples=["05a28rw58"])
    email_domains: list[str] = Field(default_factory=list, max_length=50)


class InstitutionPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name | None = None
    kind: InstitutionKind | None = None
    ror_id: str | None = Field(default=None, max_length=40)
    email_domains: list[str] | None = Field(default=None, max_length=50)


class InstitutionOut(BaseModel):
    id: int
    name: str
    country: str
    kind: InstitutionKind
    ror_id: str | None
    email_domains: list[str]
    created_at: datetime

    @classmethod
    def of(cls, institution) -> InstitutionOut:
        """From an ORM institution or a list row (whose ``domains`` are already strings)."""
        domains = [d if isinstance(d, str) else d.domain for d in institution.domains]
        return cls(id=institution.id, name=institution.name, country=institution.country_code,
                   kind=institution.kind, ror_id=institution.ror_id, email_domains=domains,
                   created_at=institution.created_at)


class RoleGrantIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Role
    member_state: str | None = Field(default=None, max_length=2, description="Required for delegates.")
    note: str | None = Field(default=None, max_length=500)


class RoleGrantOut(BaseModel):
    id: int
    person_id: int
    role: Role
    member_state: str | None
    granted_at: datetime
    granted_by: int | None
    revoked_at: datetime | None
    revoked_by: int | None
    note: str | None

    @classmethod
    def of(cls, grant) -> RoleGrantOut:
        return cls(id=grant.id, person_id=grant.person_id, role=grant.role,
                   member_state=grant.member_state_code, granted_at=grant.granted_at,
                   granted_by=grant.granted_by_id, revoked_at=grant.revoked_at,
                   revoked_by=grant.revoked_by_id, note=grant.note)


class PersonIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: str = Field(max_length=320)
    display_name: str = Field(min_length=1, max_length=200)
    institution_id: int | None = None
    orcid: str | None = Field(default=None, max_length=40)
    password: str | None = Field(default=None, max_length=256, description="Optional; at least 12 characters.")


class PersonOut(BaseModel):
    id: int
    email: str
    display_name: str
    institution_id: int | None
    orcid: str | None
    is_active: bool
    created_at: datetime
    roles: list[RoleGrantOut]

    @classmethod
    def of(cls, person, *, include_revoked: bool = False) -> PersonOut:
        grants = person.role_grants if include_revoked else person.active_grants
        return cls(id=person.id, email=person.email, display_name=person.display_name,
                   institution_id=person.institution_id, orcid=person.orcid, is_active=person.is_active,
                   created_at=person.created_at, roles=[RoleGrantOut.of(g) for g in grants])


class MeOut(BaseModel):
    person: PersonOut
    scopes: list[str]
    authenticated_by: str = Field(description="'token' or 'session'")


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100)
    scopes: list[str] = Field(default_factory=lambda: ["read"], description="read, write, admin")
    expires_in_days: int = Field(default=90, ge=1)


class TokenOut(BaseModel):
    id: int
    name: str
    hint: str = Field(description="The token's first characters, to recognise it.")
    scopes: list[str]
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, token) -> TokenOut:
        return cls(id=token.id, name=token.name, hint=token.hint, scopes=token.scopes,
                   created_at=token.created_at, expires_at=token.expires_at,
                   last_used_at=token.last_used_at, revoked_at=token.revoked_at)


class TokenCreated(TokenOut):
    token: str = Field(description="The secret. Shown this once; only its hash is kept.")


class AliasesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    aliases: list[str] = Field(max_length=20, description="Other names of the same organisation.")


class AffiliationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    institution_id: int
    started_on: date | None = None
    ended_on: date | None = Field(default=None, description="Leave out to make it the person's current one.")


class AffiliationOut(BaseModel):
    institution_id: int
    institution: str
    started_on: date | None
    ended_on: date | None

    @classmethod
    def of(cls, row) -> AffiliationOut:
        return cls(institution_id=row.institution_id, institution=row.institution.name, started_on=row.started_on,
                   ended_on=row.ended_on)
