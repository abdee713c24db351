"""Contributions: economic figures, the contribution scale, dues and arrears, and each state's standing."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from sqlalchemy import select
from sqlalchemy.orm import Session

from aicommons import clock
from aicommons.errors import Conflict, NotFound, invalid_field
from aicommons.governance import contributions as formula
from aicommons.governance.models import (
    ContributionDue,
    ContributionScale,
    ContributionShare,
    EconomicFigure,
    ScaleStatus,
)
from aicommons.governance.rules import Standing
from aicommons.identity.models import MemberState
from aicommons.identity.policy import Principal
from aicommons.identity.service import get_member_state
from aicommons.ledger import service as ledger


def _actor(principal: Principal | None) -> str | None:
    return ledger.urn("person", principal.person_id) if principal else None


# --- economic figures ----------------------------------------------------------------------------


def record_economic_figure(session: Session, *, member_state_code: str, year: int, nni_million_eur: int | None,
                           gdp_million_eur: int | None, source: str,
                           actor: Principal | None = None) -> EconomicFigure:
    """Enter (or correct) one year's figures for a state; a figure without a source is refused."""
    state = get_member_state(session, member_state_code)
    if not source.strip():
        raise invalid_field(("body", "source"), "every figure needs its source")
    if nni_million_eur is None and gdp_million_eur is None:
        raise invalid_field(("body", "nni_million_eur"), "give the net national income, the GDP, or both")
    for name, value in (("nni_million_eur", nni_million_eur), ("gdp_million_eur", gdp_million_eur)):
        if value is not None and value <= 0:
            raise invalid_field(("body", name), "must be a positive number of millions of euros")
    figure = session.scalar(select(EconomicFigure).where(EconomicFigure.member_state_code == state.code,
                                                         EconomicFigure.year == year))
    if figure is None:
        figure = EconomicFigure(member_state_code=state.code, year=year)
        session.add(figure)
    figure.nni_million_eur = nni_million_eur
    figure.gdp_million_eur = gdp_million_eur
    figure.source = source.strip()
    figure.recorded_at = clock.now()
    session.flush()
    ledger.record(session, kind="governance.economic_figure.recorded",
                  subject=ledger.urn("member-state", state.code), actor=_actor(actor),
                  data={"member_state": state.code, "year": year, "nni_million_eur": nni_million_eur,
                        "gdp_million_eur": gdp_million_eur, "source": figure.source})
    return figure


def figures_by_state(session: Session) -> dict[str, list[EconomicFigure]]:
    """Every state's figures, newest year first."""
    out: dict[str, list[EconomicFigure]] = {}
    for figure in session.scalars(select(EconomicFigure).order_by(EconomicFigure.member_state_code,
                                                                  EconomicFigure.year.desc())):
        out.setdefault(figure.member_state_code, []).append(figure)
    return out


# --- the contribution scale ----------------------------------------------------------------------


def compute_scale(session: Session, *, actor: Principal | None, years: tuple[int, ...],
                  ceiling: Fraction | None = None, floor: Fraction | None = None,
                  associate_minimum: Fraction | None = None) -> ContributionScale:
    """Compute and record a proposed scale from the figures on file; the council adopts it by motion."""
    try:
        params = formula.Parameters(tuple(years), ceiling, floor, associate_minimum)
        figures = figures_by_state(session)
        states = session.scalars(select(MemberState)).all()
        inputs = [formula.Figures(s.code, s.status.value,
                                  {f.year: f.nni_million_eur for f in figures.get(s.code, [])},
                                  {f.year: f.gdp_million_eur for f in figures.get(s.code, [])}) for s in states]
        scale = formula.compute_scale(inputs, params)
    except formula.ScaleError as exc:
        raise invalid_field(("body", *exc.field.split(".")), str(exc)) from exc
    row = ContributionScale(status=ScaleStatus.PROPOSED, workings=formula.scale_to_dict(scale),
                            computed_at=clock.now(), computed_by_id=actor.person_id if actor else None)
    row.shares = [ContributionShare(member_state_code=code, share=str(share)) for code, share in scale.shares.items()]
    session.add(row)
    session.flush()
    ledger.record(session, kind="governance.contribution_scale.computed",
                  subject=ledger.urn("contribution-scale", row.id), actor=_actor(actor),
                  data={"parameters": row.workings["parameters"],
                        "shares": {s.member_state_code: s.share for s in row.shares}})
    return row


def get_scale(session: Session, scale_id: int) -> ContributionScale:
    scale = session.get(ContributionScale, scale_id)
    if scale is None:
        raise NotFound(f"no contribution scale {scale_id}")
    return scale


def list_scales(session: Session) -> list[ContributionScale]:
    return list(session.scalars(select(ContributionScale).order_by(ContributionScale.id.desc())))


def scale_in_force(session: Session) -> ContributionScale | None:
    return session.scalar(select(ContributionScale).where(ContributionScale.status == ScaleStatus.IN_FORCE))


def put_scale_in_force(session: Session, *, scale_id: int, motion_id: int) -> ContributionScale:
    """Called when a contribution-scale motion is published as passed."""
    scale = get_scale(session, scale_id)
    if scale.status is not ScaleStatus.PROPOSED:
        raise Conflict(f"contribution scale {scale_id} is {scale.status.value}, not proposed")
    previous = scale_in_force(session)
    if previous is not None:
        previous.status = ScaleStatus.SUPERSEDED
        session.flush()
    scale.status = ScaleStatus.IN_FORCE
    scale.adopted_by_motion_id = motion_id
    scale.in_force_from = clock.now()
    session.flush()
    ledger.record(session, kind="governance.contribution_scale.in_force",
                  subject=ledger.urn("contribution-scale", scale.id), actor=None, data={"motion": motion_id,
                                    "superseded": previous.id if previous is not None else None})
    return scale


# --- dues and arrears ----------------------------------------------------------------------------


def record_dues(session: Session, *, actor: Principal | None, member_state_code: str, year: int, due_eur: int,
                paid_eur: int) -> ContributionDue:
    """Enter what a state owed and paid for a year (whole euros)."""
    state = get_member_state(session, member_state_code)
    for name, value in (("due_eur", due_eur), ("paid_eur", paid_eur)):
        if value < 0:
            raise invalid_field(("body", name), "must not be negative")
    row = session.scalar(select(ContributionDue).where(ContributionDue.member_state_code == state.code,
                                                       ContributionDue.year == year))
    if row is None:
        row = ContributionDue(member_state_code=state.code, year=year)
        session.add(row)
    row.due_eur, row.paid_eur, row.updated_at = due_eur, paid_eur, clock.now()
    session.flush()
    ledger.record(session, kind="governance.dues.recorded", subject=ledger.urn("member-state", state.code),
                  actor=_actor(actor), data={"member_state": state.code, "year": year, "due_eur": due_eur,
                                             "paid_eur": paid_eur})
    return row


def waive_arrears(session: Session, *, member_state_code: str, year: int, motion_id: int) -> list[int]:
    """Keep a state's vote despite its arrears up to and including ``year``, as a council motion decided.

    Marks every unpaid year up to ``year``; a year that falls into arrears later is not covered.
    Returns the years waived.
    """
    rows = list(session.scalars(select(ContributionDue).where(ContributionDue.member_state_code == member_state_code,
                                                              ContributionDue.year <= year)))
    if not any(r.year == year for r in rows):
        raise NotFound(f"no dues recorded for {member_state_code} in {year}")
    waived = sorted(r.year for r in rows if r.due_eur > r.paid_eur)
    for row in rows:
        if row.due_eur > row.paid_eur:
            row.vote_waiver_motion_id = motion_id
    session.flush()
    ledger.record(session, kind="governance.arrears.waived", subject=ledger.urn("member-state", member_state_code),
                  actor=None, data={"member_state": member_state_code, "year": year, "years": waived,
                                    "motion": motion_id})
    return waived


@dataclass(frozen=True)
class DuesSummary:
    member_state: str
    arrears_eur: int
    due_recent_eur: int
    waived: bool
    years: list[ContributionDue]


def dues_summaries(session: Session, *, year: int | None = None) -> dict[str, DuesSummary]:
    """Arrears per state as of ``year`` (default: this year), and what was due this year and last."""
    year = year or clock.now().year
    rows: dict[str, list[ContributionDue]] = {}
    for row in session.scalars(select(ContributionDue).order_by(ContributionDue.member_state_code,
                                                                ContributionDue.year)):
        rows.setdefault(row.member_state_code, []).append(row)
    out = {}
    for code, years in rows.items():
        upto = [r for r in years if r.year <= year]
        recent = [r for r in upto if r.year >= year - 1]
        unpaid = [r for r in upto if r.due_eur > r.paid_eur]
        # The council waives arrears year by year: the vote is kept only if every unpaid year is waived.
        waived = bool(unpaid) and all(r.vote_waiver_motion_id is not None for r in unpaid)
        out[code] = DuesSummary(code, sum(r.due_eur - r.paid_eur for r in upto), sum(r.due_eur for r in recent),
                                waived, years)
    return out


def standings(session: Session) -> list[Standing]:
    """Every state's status, weight (share in the scale in force) and arrears, as of now."""
    scale = scale_in_force(session)
    weights = {s.member_state_code: Fraction(s.share) for s in scale.shares} if scale else {}
    dues = dues_summaries(session)
    out = []
    for state in session.scalars(select(MemberState).order_by(MemberState.code)):
        summary = dues.get(state.code)
        out.append(Standing(state=state.code, status=state.status.value, weight=weights.get(state.code, Fraction(0)),
                            arrears_eur=summary.arrears_eur if summary else 0,
                            dues_recent_eur=summary.due_recent_eur if summary else 0,
                            arrears_waived=summary.waived if summary else False))
    return out
