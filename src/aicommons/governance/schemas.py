"""Shapes of the governance API."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field

from aicommons.governance import rules
from aicommons.governance.models import (
    Ballot,
    ConstitutionVersion,
    ContributionScale,
    EconomicFigure,
    Motion,
    MotionStatus,
    ScaleStatus,
)
from aicommons.governance.rules import Choice, MotionKind

Fraction = str  # "2/3" or "0.25": exact, never a float
# Amounts go into ledger entries, whose canonical JSON (RFC 8785) holds integers exactly only up to 2^53 - 1.
MAX_AMOUNT = 2**53 - 1


class EconomicFigureIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    member_state: str = Field(min_length=2, max_length=2, examples=["FI"])
    year: int = Field(ge=1950, le=2100)
    nni_million_eur: int | None = Field(default=None, le=MAX_AMOUNT,
                                        description="Net national income, millions of euros.")
    gdp_million_eur: int | None = Field(default=None, le=MAX_AMOUNT,
                                        description="Gross domestic product, millions of euros.")
    source: str = Field(max_length=300, description="Where the figure comes from (required).")


class EconomicFigureOut(BaseModel):
    member_state: str
    year: int
    nni_million_eur: int | None
    gdp_million_eur: int | None
    source: str
    recorded_at: datetime

    @classmethod
    def of(cls, f: EconomicFigure) -> EconomicFigureOut:
        return cls(member_state=f.member_state_code, year=f.year, nni_million_eur=f.nni_million_eur,
                   gdp_million_eur=f.gdp_million_eur, source=f.source, recorded_at=f.recorded_at)


class ScaleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    years: list[int] = Field(min_length=3, max_length=3, description="The three reference years.")
    ceiling: Fraction | None = Field(default=None, max_length=40, examples=["0.25"])
    floor: Fraction | None = Field(default=None, max_length=40, examples=["0.005"])
    associate_minimum: Fraction | None = Field(default=None, max_length=40, examples=["0.01"])


class ScaleOut(BaseModel):
    id: int
    status: ScaleStatus
    computed_at: datetime
    in_force_from: datetime | None
    adopted_by_motion: int | None
    shares: dict[str, str] = Field(description="State code -> share, six decimals, adding up to 1.")
    workings: dict[str, Any]

    @classmethod
    def of(cls, s: ContributionScale) -> ScaleOut:
        return cls(id=s.id, status=s.status, computed_at=s.computed_at, in_force_from=s.in_force_from,
                   adopted_by_motion=s.adopted_by_motion_id,
                   shares={x.member_state_code: x.share for x in s.shares}, workings=s.workings)


class DuesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    due_eur: int = Field(le=MAX_AMOUNT, description="Whole euros due for the year.")
    paid_eur: int = Field(le=MAX_AMOUNT, description="Whole euros paid so far.")


class DuesYearOut(BaseModel):
    year: int
    due_eur: int
    paid_eur: int
    vote_waived_by_motion: int | None


class ArrearsOut(BaseModel):
    member_state: str
    arrears_eur: int
    due_current_and_previous_year_eur: int
    loses_vote: bool
    waived: bool
    years: list[DuesYearOut]


class DelegateOut(BaseModel):
    member_state: str
    person_id: int
    display_name: str
    since: datetime


class RuleOut(BaseModel):
    kind: MotionKind
    text: str
    rule: dict[str, Any]


class ConstitutionOut(BaseModel):
    version: int
    adopted_at: datetime
    adopted_by_motion: int | None
    notice_days: int
    rules: list[RuleOut]

    @classmethod
    def of(cls, c: ConstitutionVersion) -> ConstitutionOut:
        return cls(version=c.version, adopted_at=c.adopted_at, adopted_by_motion=c.adopted_by_motion_id,
                   notice_days=c.notice_days,
                   rules=[RuleOut(kind=k, rule=c.rules[k.value],
                                  text=rules.describe(rules.Rule.from_dict(c.rules[k.value]))) for k in MotionKind])


class MotionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: MotionKind
    title: str = Field(min_length=1, max_length=300, pattern=r"\S", description="Not blank.")
    text: str = Field(min_length=1, max_length=100_000)
    payload: dict[str, Any] = Field(default_factory=dict, description=(
        "What the motion does if it passes: {\"member_state\", \"status\"} for an admission, {\"scale_id\"} for a "
        "contribution scale, {\"rules\", \"notice_days\"} for an amendment, {\"reference\"} otherwise."))
    participants: list[str] | None = Field(default=None, max_length=300,
                                           description="Member states of the programme, for programme rules.")


class MotionPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str | None = Field(default=None, min_length=1, max_length=300, pattern=r"\S")
    text: str | None = Field(default=None, min_length=1, max_length=100_000)
    payload: dict[str, Any] | None = None
    participants: list[str] | None = Field(default=None, max_length=300)


class NoticeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    notice_days: int | None = Field(default=None, ge=0, le=365, description="Defaults to the constitution's minimum.")


class OpenVotingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    voting_days: int = Field(default=7, ge=1, le=90)


class AttachmentOut(BaseModel):
    filename: str
    media_type: str
    size: int
    sha256: str
    url: str


class MotionOut(BaseModel):
    id: int
    kind: MotionKind
    title: str
    text: str
    status: MotionStatus
    payload: dict[str, Any]
    participants: list[str] | None
    created_at: datetime
    notice_ends_at: datetime | None
    voting_opened_at: datetime | None
    voting_closes_at: datetime | None
    closed_at: datetime | None
    tallied_at: datetime | None
    published_at: datetime | None
    constitution_version: int | None
    rule: dict[str, Any] | None
    rule_text: str | None
    electorate: dict[str, Any] | None
    text_sha256: str | None
    attachments: list[AttachmentOut]
    outcome: str | None

    @classmethod
    def of(cls, m: Motion) -> MotionOut:
        rule_text = rules.describe(rules.Rule.from_dict(m.rule)) if m.rule else None
        attachments = [AttachmentOut(filename=a.filename, media_type=a.media_type, size=a.size, sha256=a.sha256,
                                     url=f"/api/v1/motions/{m.id}/attachments/{quote(a.filename, safe='')}")
                       for a in m.attachments]
        return cls(id=m.id, kind=m.kind, title=m.title, text=m.text, status=m.status, payload=m.payload,
                   participants=m.participants, created_at=m.created_at, notice_ends_at=m.notice_ends_at,
                   voting_opened_at=m.voting_opened_at, voting_closes_at=m.voting_closes_at, closed_at=m.closed_at,
                   tallied_at=m.tallied_at, published_at=m.published_at, constitution_version=m.constitution_version,
                   rule=m.rule, rule_text=rule_text, electorate=m.electorate, text_sha256=m.text_digest,
                   attachments=attachments, outcome=m.outcome)


class BallotIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    choice: Choice
    member_state: str | None = Field(default=None, min_length=2, max_length=2,
                                     description="The state you vote for; defaults to the one you represent.")
    explanation: str | None = Field(default=None, max_length=4000, description="Explanation of vote (public).")


class BallotOut(BaseModel):
    id: int
    motion: int
    member_state: str
    choice: Choice
    explanation: str | None
    cast_by: int
    cast_at: datetime
    counts: bool = Field(description="False when a later ballot of the same state replaced it.")

    @classmethod
    def of(cls, b: Ballot) -> BallotOut:
        return cls(id=b.id, motion=b.motion_id, member_state=b.member_state_code, choice=b.choice,
                   explanation=b.explanation, cast_by=b.cast_by_id, cast_at=b.cast_at, counts=not b.superseded)


class RollCallLine(BaseModel):
    member_state: str
    eligible: bool
    weight: str | None
    excluded_because: str | None
    choice: Choice | None
    explanation: str | None
    cast_at: datetime | None


class RollCallOut(BaseModel):
    motion: int
    status: MotionStatus
    lines: list[RollCallLine]
