"""A small facility for access tests: states with delegates, institutions, researchers, reviewers,
operators, and helpers that drive a call through the council, reviews and the slate on the service layer."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from aicommons import clock
from aicommons.access import calls, decisions, proposals, reviews
from aicommons.access.calls import TrackTerms
from aicommons.access.models import Policy, Track
from aicommons.access.proposals import ProposalText
from aicommons.database import unit_of_work
from aicommons.governance import council
from aicommons.governance.rules import Choice
from aicommons.identity import accounts, service
from aicommons.identity.models import InstitutionKind, Role

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
NOTICE = timedelta(days=14)
STATES = ("DE", "FR", "FI", "PT")
DOMAINS = {"DE": "uni-de.example", "FR": "uni-fr.example", "FI": "uni-fi.example", "PT": "uni-pt.example"}


def p(member):
    return accounts.principal_for(member.person)


@dataclass
class World:
    factory: object
    people: object
    operator: object = None
    second_operator: object = None
    delegates: dict = field(default_factory=dict)
    institutions: dict = field(default_factory=dict)  # country -> id
    researchers: dict = field(default_factory=dict)  # country -> Member
    reviewers: list = field(default_factory=list)

    def build(self, reviewers=6) -> World:
        for code in STATES:
            self.delegates[code] = self.people.make(Role.DELEGATE, state=code)
        self.operator = self.people.make(Role.OPERATOR)
        self.second_operator = self.people.make(Role.OPERATOR)
        with unit_of_work(self.factory) as s:
            for code in STATES:
                inst = service.register_institution(s, actor=None, name=f"University of {code}", country=code,
                                                    kind=InstitutionKind.UNIVERSITY, email_domains=[DOMAINS[code]])
                self.institutions[code] = inst.id
            other = service.register_institution(s, actor=None, name="Independent Review Institute", country="FI",
                                                 kind=InstitutionKind.RESEARCH_INSTITUTE,
                                                 email_domains=["iri.example"])
            self.institutions["IRI"] = other.id
        for code in STATES:
            self.researchers[code] = self.member(Role.RESEARCHER, f"pi@{DOMAINS[code]}", self.institutions[code])
        topics = ["language models", "vision", "climate"]
        for i in range(reviewers):
            # Reviewers work at an institute no applicant is from, so that conflicts are specific.
            member = self.member(Role.REVIEWER, f"reviewer{i}@iri.example", self.institutions["IRI"])
            with unit_of_work(self.factory) as s:
                reviews.set_expertise(s, actor=p(member), keywords=topics[: 1 + i % 3], max_load=None)
            self.reviewers.append(member)
        return self

    def member(self, role, email, institution_id):
        member = self.people.make(role, email=email)
        with unit_of_work(self.factory) as s:
            person = accounts.get_person(s, member.person.id)
            person.institution_id = institution_id
        return member

    # --- the call ---------------------------------------------------------------------------------

    def draft_call(self, *, policy=Policy.MERIT, pools=None, at=T0, **extra) -> int:
        pools = pools or {Track.SCIENCE: 10_000, Track.FAST_LANE: 1_000}
        tracks = [TrackTerms(track, pool, min(pool, 5_000 if track is not Track.FAST_LANE else 500),
                             100 if track is not Track.FAST_LANE else 50) for track, pool in pools.items()]
        with clock.frozen_at(at), unit_of_work(self.factory) as s:
            call = calls.create_call(s, actor=p(self.operator), title="Open models 2026", description="First call.",
                                     opens_at=at + timedelta(days=30), closes_at=at + timedelta(days=60),
                                     allocation_starts_on=(at + timedelta(days=120)).date(), tracks=tracks,
                                     policy=policy, **extra)
            return call.id

    def decide(self, motion_id, *, at, yes=STATES, no=()) -> datetime:
        """Notice, vote, close, tally and publish a motion; returns the moment it was published."""
        op = p(self.operator)
        with clock.frozen_at(at), unit_of_work(self.factory) as s:
            council.give_notice(s, actor=op, motion_id=motion_id)
        at += NOTICE
        with clock.frozen_at(at), unit_of_work(self.factory) as s:
            council.open_voting(s, actor=op, motion_id=motion_id, voting_days=1)
        for code in yes:
            with clock.frozen_at(at), unit_of_work(self.factory) as s:
                council.cast_ballot(s, actor=p(self.delegates[code]), motion_id=motion_id, choice=Choice.YES)
        for code in no:
            with clock.frozen_at(at), unit_of_work(self.factory) as s:
                council.cast_ballot(s, actor=p(self.delegates[code]), motion_id=motion_id, choice=Choice.NO)
        at += timedelta(days=1)
        with clock.frozen_at(at), unit_of_work(self.factory) as s:
            council.close_voting(s, actor=op, motion_id=motion_id)
            council.tally_motion(s, actor=op, motion_id=motion_id)
            council.publish_motion(s, actor=op, motion_id=motion_id)
        return at

    def approve_call(self, call_id, at=T0) -> None:
        with clock.frozen_at(at), unit_of_work(self.factory) as s:
            motion_id = calls.submit_for_approval(s, actor=p(self.operator), call_id=call_id).approval_motion_id
        self.decide(motion_id, at=at)

    def open_at(self, call_id) -> datetime:
        with self.factory() as s:
            return calls.get_call(s, call_id).opens_at

    def closes_at(self, call_id) -> datetime:
        with self.factory() as s:
            return calls.get_call(s, call_id).closes_at

    def propose(self, call_id, country="DE", *, track=Track.SCIENCE, hours=2_000, submit=True, team=(),
                keywords=("language models",), at=None, **changes) -> int:
        at = at or self.open_at(call_id) + timedelta(hours=1)
        text = ProposalText(track=track, title=f"Project from {country}", summary="Public summary.",
                            keywords=list(keywords), requested_hours=hours, accelerator="nvidia-h100",
                            duration_months=12, licence_weights="Apache-2.0", licence_code="MIT",
                            licence_data="CC-BY-4.0", release_within_months=6, safety_statement="Low risk.",
                            data_management_plan="Open data.", team=list(team))
        for name, value in changes.items():
            text = _replace(text, **{name: value})
        with clock.frozen_at(at), unit_of_work(self.factory) as s:
            proposal = proposals.create_proposal(s, actor=p(self.researchers[country]), call_id=call_id, text=text)
            if submit:
                proposals.submit_proposal(s, actor=p(self.researchers[country]), proposal_id=proposal.id)
            return proposal.id

    def close(self, call_id) -> datetime:
        at = self.closes_at(call_id)
        with clock.frozen_at(at), unit_of_work(self.factory) as s:
            calls.close_call(s, actor=p(self.operator), call_id=call_id)
        return at

    def pass_checks(self, *proposal_ids, at) -> None:
        with clock.frozen_at(at), unit_of_work(self.factory) as s:
            for pid in proposal_ids:
                proposals.record_technical_check(s, actor=p(self.operator), proposal_id=pid, passed=True, notes="")

    def review_all(self, call_id, *, at, scores_for=lambda pid, i: 4) -> None:
        with clock.frozen_at(at), unit_of_work(self.factory) as s:
            reviews.assign_automatically(s, actor=p(self.operator), call_id=call_id)
        with self.factory() as s:
            pairs = [(a.proposal_id, a.reviewer_id) for a in reviews.live_assignments(s, call_id)]
        by_person = {m.person.id: m for m in self.reviewers}
        for i, (pid, rid) in enumerate(pairs):
            score = scores_for(pid, i)
            with clock.frozen_at(at), unit_of_work(self.factory) as s:
                reviews.submit_review(s, actor=p(by_person[rid]), proposal_id=pid,
                                      scores={c: score for c in ("excellence", "impact", "feasibility", "openness",
                                                                 "safety")},
                                      comments_for_applicants=f"Comments {i}", confidential_comments=f"Panel {i}")

    def release(self, call_id, *, at) -> None:
        with clock.frozen_at(at), unit_of_work(self.factory) as s:
            reviews.release_reviews(s, actor=p(self.operator), call_id=call_id)

    def rank(self, call_id, *, at) -> None:
        with clock.frozen_at(at), unit_of_work(self.factory) as s:
            decisions.rank_call(s, actor=p(self.operator), call_id=call_id)

    def propose_slate(self, call_id, *, at) -> tuple[int, int]:
        with clock.frozen_at(at), unit_of_work(self.factory) as s:
            slate = decisions.propose_slate(s, actor=p(self.operator), call_id=call_id)
            return slate.id, slate.motion_id


def _replace(text, **changes):
    from dataclasses import replace

    return replace(text, **changes)


def day(n: int) -> date:
    return (T0 + timedelta(days=n)).date()
