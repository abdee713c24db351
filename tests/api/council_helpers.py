"""Arranging council business through the service, for API tests that need a motion already at some stage.

``motion_at`` drafts a motion and moves it, with the clock frozen at each step, as far as the status asked
for: notice is given 30 days before ``now`` (real time unless given), voting opens 16 days before it, and
closing, tallying and publishing happen at ``now``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from aicommons import clock
from aicommons.database import unit_of_work
from aicommons.governance import agenda, council, service
from aicommons.governance.models import MotionStatus
from aicommons.governance.rules import Choice, MotionKind
from aicommons.identity import accounts
from aicommons.identity.models import Person
from aicommons.identity.policy import Principal

ORDER = (MotionStatus.DRAFT, MotionStatus.NOTICE, MotionStatus.VOTING, MotionStatus.CLOSED, MotionStatus.TALLIED,
         MotionStatus.PUBLISHED)
YEARS = (2023, 2024, 2025)


def principal(factory: sessionmaker[Session], person_id: int) -> Principal:
    with factory() as s:
        return accounts.principal_for(s.get(Person, person_id))


def motion_at(factory: sessionmaker[Session], operator: Principal, status: MotionStatus, *,
              kind: MotionKind = MotionKind.POLICY, payload: dict[str, Any] | None = None,
              attachment: tuple[str, bytes] | None = None, votes: Iterable[tuple[Principal, Choice]] = (),
              voting_days: int = 7, now: datetime | None = None) -> int:
    """A motion moved through its lifecycle up to ``status``; ``votes`` are cast the day after opening."""
    now = now or clock.now()
    start = now - timedelta(days=30)
    reach = ORDER.index(status)
    with clock.frozen_at(start), unit_of_work(factory) as s:
        motion = agenda.draft_motion(s, actor=operator, kind=kind, title=f"A {kind.value} motion",
                                      text="The council resolves ...", payload=payload)
        if attachment is not None:
            agenda.add_attachment(s, motion_id=motion.id, filename=attachment[0], media_type="text/plain",
                                   content=attachment[1])
        if reach >= 1:
            council.give_notice(s, actor=operator, motion_id=motion.id)
        motion_id = motion.id
    if reach >= 2:
        with clock.frozen_at(start + timedelta(days=14)), unit_of_work(factory) as s:
            council.open_voting(s, actor=operator, motion_id=motion_id, voting_days=voting_days)
        for delegate, choice in votes:
            with clock.frozen_at(start + timedelta(days=15)), unit_of_work(factory) as s:
                council.cast_ballot(s, actor=delegate, motion_id=motion_id, choice=choice)
    steps = (council.close_voting, council.tally_motion, council.publish_motion)
    for step in steps[:max(0, reach - 2)]:
        with clock.frozen_at(now), unit_of_work(factory) as s:
            step(s, actor=operator, motion_id=motion_id)
    return motion_id


def record_figures(factory: sessionmaker[Session], figures: dict[str, int], years: Iterable[int] = YEARS) -> None:
    """The same NNI (millions of euros) for each state in each year."""
    with unit_of_work(factory) as s:
        for code, nni in figures.items():
            for year in years:
                service.record_economic_figure(s, member_state_code=code, year=year, nni_million_eur=nni,
                                               gdp_million_eur=None, source="test figures")
