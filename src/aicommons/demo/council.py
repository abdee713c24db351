"""The demo council: an adopted contribution scale, dues, three decided motions and one open for voting.

Decided motions are replayed at past moments (the clock is moved back for each step) so that their notice
periods and voting windows are real; the open motion closes some days from now.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from fractions import Fraction

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from aicommons import clock
from aicommons.demo import data
from aicommons.governance import agenda, council, service
from aicommons.governance.models import Motion
from aicommons.governance.rules import Choice, MotionKind
from aicommons.identity import accounts
from aicommons.identity.policy import Principal

ANNUAL_BUDGET_EUR = 480_000_000
Y, N, A = Choice.YES, Choice.NO, Choice.ABSTAIN


def _principal(session: Session, email: str) -> Principal:
    return accounts.principal_for(accounts.get_person_by_email(session, email))


def _delegates(session: Session) -> dict[str, Principal]:
    out = {}
    for email, _, _, roles in data.PEOPLE:
        for role in roles:
            if role.startswith("delegate:"):
                out[role.split(":")[1]] = _principal(session, email)
    return out


def _motion(session: Session, operator: Principal, delegates: dict[str, Principal], *, start: datetime,
            kind: MotionKind, title: str, text: str, votes: dict[str, tuple[Choice, str | None]],
            payload: dict | None = None, attachment: tuple[str, str, bytes] | None = None,
            voting_days: int = 7, finish: bool = True) -> Motion:
    with clock.frozen_at(start):
        motion = agenda.draft_motion(session, actor=operator, kind=kind, title=title, text=text, payload=payload)
        if attachment:
            agenda.add_attachment(session, motion_id=motion.id, filename=attachment[0], media_type=attachment[1],
                                   content=attachment[2])
        council.give_notice(session, actor=operator, motion_id=motion.id)
    opened_at = start + timedelta(days=agenda.constitution(session).notice_days)
    with clock.frozen_at(opened_at):
        council.open_voting(session, actor=operator, motion_id=motion.id, voting_days=voting_days)
    for n, (code, (choice, why)) in enumerate(votes.items()):
        with clock.frozen_at(opened_at + timedelta(hours=2 + 3 * n)):
            council.cast_ballot(session, actor=delegates[code], motion_id=motion.id, choice=choice, explanation=why)
    if finish:
        with clock.frozen_at(opened_at + timedelta(days=voting_days)):
            council.close_voting(session, actor=operator, motion_id=motion.id)
            council.tally_motion(session, actor=operator, motion_id=motion.id)
            council.publish_motion(session, actor=operator, motion_id=motion.id)
    return motion


def seed_council(session: Session) -> int:
    """Create the demo council's record once; returns how many motions were added."""
    if session.scalar(select(func.count()).select_from(Motion)):
        return 0
    now = clock.now()
    operator = _principal(session, "operator@aicommons.example")
    delegates = _delegates(session)

    with clock.frozen_at(now - timedelta(days=160)):
        scale = service.compute_scale(session, actor=operator, years=data.FIGURE_YEARS,
                                      ceiling=Fraction(1, 4), associate_minimum=Fraction(1, 200))
    _motion(session, operator, delegates, start=now - timedelta(days=160), kind=MotionKind.CONTRIBUTION_SCALE,
            title="Contribution scale for 2026",
            text="The Council adopts the contribution scale computed from net national income 2023-2025, with a "
                 "ceiling of 25% and a minimum of 0.5% for associate members, for the budget year 2026.",
            payload={"scale_id": scale.id},
            votes={"DE": (Y, "The ceiling is fair to the largest contributor."), "FR": (Y, None), "IT": (Y, None),
                   "ES": (Y, None), "NL": (Y, None), "SE": (Y, None),
                   "PL": (N, "Our NNI had to be estimated from GDP; we ask for the official figure."),
                   "FI": (Y, None), "PT": (Y, None), "CH": (A, "Pending parliamentary approval.")})
    for share in scale.shares:
        due = int(Decimal(share.share) * ANNUAL_BUDGET_EUR)
        paid_2026 = due // 2 if share.member_state_code in ("PT", "EE") else due
        service.record_dues(session, actor=operator, member_state_code=share.member_state_code, year=2026,
                            due_eur=due, paid_eur=paid_2026)

    budget_csv = (b"line,million_eur\naccelerators_and_hosting,310\nenergy,95\nstaff,48\nopen_release_and_audit,27\n"
                  b"total,480\n")
    _motion(session, operator, delegates, start=now - timedelta(days=110), kind=MotionKind.BUDGET,
            title="Supplementary budget: second accelerator hall",
            text="The Council approves a supplementary budget of 480 million euros for 2027 as tabled in the "
                 "attached budget table, to build the second accelerator hall.",
            attachment=("budget-2027.csv", "text/csv", budget_csv),
            votes={"DE": (Y, None), "FR": (Y, None), "NL": (Y, None), "SE": (Y, None), "FI": (Y, None),
                   "PT": (Y, None), "IT": (N, "Energy prices make this premature."),
                   "ES": (N, "We prefer a phased build."), "PL": (N, None), "CH": (N, "Not this year.")})
    _motion(session, operator, delegates, start=now - timedelta(days=70), kind=MotionKind.POLICY,
            title="Open release by default",
            text="Models and datasets produced with the facility's GPU-hours are released under an open licence "
                 "within 12 months of the allocation's end, unless the Council grants an exception.",
            votes={"DE": (Y, None), "FR": (Y, None), "IT": (Y, None), "ES": (Y, None), "NL": (Y, None),
                   "SE": (Y, None), "FI": (Y, "Openness is why we joined."), "PT": (A, None),
                   "PL": (N, "Twelve months is too short for sensitive health data."), "CH": (N, None)})
    _motion(session, operator, delegates, start=now - timedelta(days=17), kind=MotionKind.POLICY,
            title="Coordinated disclosure of model flaws",
            text="Safety researchers who find a flaw in a released model report it privately; the facility fixes "
                 "or documents it and publishes the report after 90 days at the latest.",
            voting_days=14, finish=False,
            votes={"FR": (Y, "Ninety days matches common practice for software."), "IT": (Y, None),
                   "NL": (A, "We would prefer 60 days.")})
    return 4
