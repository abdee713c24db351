"""The authorization matrix: every API route, for every kind of caller, gives the outcome the rules require.

Each cell is one parametrized test, named ``"<METHOD> <path>-<actor>"``, so a wrong denial shows as one
failing cell. The outcome classes are:

* ``allowed``: the call got past authorization (2xx, or a 404/409/422 about the data itself);
* ``401``: no valid credentials (a ``WWW-Authenticate`` header says how to authenticate);
* ``403``: the caller is known but their roles or their token's scopes do not allow it.

The rules (README "Roles" and ``identity/policy.py``):

* member states and institutions are public to read; ``/healthz``, ``/metrics``, ``/openapi.json`` and
  ``/docs`` are public;
* member states change only by an operator (``write`` scope);
* institutions are registered and changed by an operator anywhere, or by a delegate in their own state;
* ``/me`` and one's own tokens: any authenticated person (``read`` to read, ``write`` to change);
* people and roles: operators and auditors read (``read``); only an operator with ``admin`` changes them;
* governance is public to read: economic figures, contribution scales, dues, delegates, the constitution,
  motions with their attachments, ballots, roll-call and tally (drafts answer 404 to all but operators, so
  the rows read a published motion);
* economic figures, contribution scales, dues, and motions (drafting, editing, attachments and every step
  of the lifecycle) change only by an operator (``write`` scope): the secretariat, which never votes;
* ballots are cast only by a delegate (``write`` scope), for the state they represent;
* access (``access/policy.py``): calls, submitted proposals' public facts, the published ranking, slates
  before the council, allocations and the access statistics are public to read (draft calls answer 404 to
  all but operators and auditors); operators (``write`` scope) run calls: drafting, closing, technical
  checks, assignment, release, ranking, the slate, appeals, revocation and expiry;
* researchers (``write`` scope) write proposals, and only the principal investigator submits, replies,
  appeals, accepts and reports; only an allocation's principal investigator manages its members;
* reviewers (``write`` scope) keep their expertise, read their queue, review what they are assigned and
  declare conflicts; the panel (assignments, reviewers' names) is for operators and auditors (``read``);
* a proposal in full is for its applicants, its assigned reviewers, operators and auditors; its reviews
  are for its applicants (anonymised) and the panel; ``/proposals/mine`` and ``/allocations/mine`` are
  for any authenticated person (``read``);
* a state-changing API call authenticated only with a browser session cookie is unauthenticated.

A route of the API (a path under ``aicommons.app.MACHINE_PATHS``, anything in the OpenAPI schema, and
``/docs``) that has no row here fails ``test_every_route_has_a_row``. Browser pages are tested in
tests/web; HEAD and OPTIONS are not listed.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pycountry
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from aicommons import clock
from aicommons.access import allocations as access_allocations
from aicommons.access import calls as access_calls
from aicommons.access import decisions, reviews
from aicommons.access import proposals as access_proposals
from aicommons.access.calls import TrackTerms
from aicommons.access.models import Allocation, Track
from aicommons.access.proposals import ProposalText
from aicommons.app import MACHINE_PATHS, create_app
from aicommons.config import Settings
from aicommons.database import create_db_engine, make_session_factory, unit_of_work
from aicommons.deps import ANON_COOKIE, SESSION_COOKIE
from aicommons.governance import council as council_service
from aicommons.governance import service
from aicommons.governance.models import MotionStatus
from aicommons.governance.rules import Choice, MotionKind
from aicommons.identity import accounts, auth, secrets
from aicommons.identity.models import ApiToken, MembershipStatus, MemberState, Person, Role, RoleGrant
from aicommons.identity.policy import Principal
from aicommons.migrate import upgrade
from tests.api.council_helpers import YEARS, motion_at, principal, record_figures
from tests.conftest import PASSWORD, People

ALLOWED, UNAUTHENTICATED, FORBIDDEN = "allowed", "401", "403"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
PROBLEM_JSON = "application/problem+json"

# --- the callers ---------------------------------------------------------------------------------

# No valid credentials at all: every protected route answers 401.
NO_CREDENTIALS = ("anonymous",)
# Credentials that authenticate no one (a 401 with error="invalid_token" where a Bearer token was sent).
# The revoked, expired and deactivated tokens belong to operators, so their 401 is no 403 in disguise.
BAD_CREDENTIALS = (
    "malformed_header", "garbage_token", "revoked_token", "expired_token", "deactivated_account",
)
# Authenticated callers. ``session_cookie`` is an operator signed in through the web form, sending no
# token; the delegate represents FI and acts on an FI (own) or a DE (other) institution.
AUTHENTICATED_ACTORS = (
    "session_cookie", "no_role", "researcher", "reviewer", "auditor", "delegate_own_country",
    "delegate_other_country", "operator", "operator_read_scope", "operator_no_admin",
)
ACTORS = NO_CREDENTIALS + BAD_CREDENTIALS + AUTHENTICATED_ACTORS
UNAUTHENTICATED_ACTORS = frozenset(NO_CREDENTIALS + BAD_CREDENTIALS)

AUTHENTICATED = frozenset(AUTHENTICATED_ACTORS)
WITH_WRITE_SCOPE = AUTHENTICATED - {"operator_read_scope"}
MEMBER_STATE_WRITERS = frozenset({"operator", "operator_no_admin"})
INSTITUTION_WRITERS = frozenset({"operator", "operator_no_admin", "delegate_own_country"})
PEOPLE_READERS = frozenset(
    {"operator", "operator_read_scope", "operator_no_admin", "auditor", "session_cookie"})
PEOPLE_WRITERS = frozenset({"operator"})
COUNCIL_SECRETARIAT = frozenset({"operator", "operator_no_admin"})
VOTERS = frozenset({"delegate_own_country", "delegate_other_country"})  # the FI delegate, for FI
CALL_RUNNERS = frozenset({"operator", "operator_no_admin"})
PANEL_READERS = PEOPLE_READERS  # operators and auditors, with the read scope
APPLICANT = frozenset({"researcher"})  # the principal investigator of every proposal and allocation below
REVIEWER = frozenset({"reviewer"})  # assigned to the review proposal below
PROPOSAL_READERS = PANEL_READERS | APPLICANT | REVIEWER
REVIEW_READERS = PANEL_READERS | APPLICANT


@dataclass
class Actor:
    name: str
    headers: dict[str, str] = field(default_factory=dict)
    person_id: int | None = None
    country: str = "FI"  # the member state whose institutions this caller's requests touch
    session: bool = False  # sends the browser session cookie instead of a token


# --- the world the cells run in ------------------------------------------------------------------


@dataclass
class World:
    client: TestClient
    session_client: TestClient
    factory: sessionmaker[Session]
    settings: Settings
    people: People
    actors: dict[str, Actor]
    institutions: dict[str, int]  # country -> an institution there
    subject_id: int  # a person to read
    subject_token_id: int
    _codes: Iterator[str]
    council: Council | None = None
    access: Access | None = None

    def unique(self, prefix: str) -> str:
        return f"{prefix} {uuid.uuid4().hex[:10]}"

    def next_state_code(self) -> str:
        return next(self._codes)

    def fresh_person(self, role: Role | None = None) -> Person:
        return self.people.make(role).person

    def fresh_grant(self) -> tuple[int, int]:
        with unit_of_work(self.factory) as s:
            person = accounts.create_person(s, actor=None, email=f"{uuid.uuid4().hex[:12]}@example.org",
                                            display_name="Role holder")
            grant = accounts.grant_role(s, actor=None, person_id=person.id, role=Role.REVIEWER)
            return person.id, grant.id

    def fresh_token_id(self, person_id: int) -> int:
        with unit_of_work(self.factory) as s:
            issued = auth.create_token(s, self.settings, person=s.get(Person, person_id), name="to revoke",
                                       scopes=["read"], expires_in_days=1)
            return issued.token.id


@dataclass
class Council:
    """Council business the governance rows read or act on."""

    operator: Principal
    published_motion: int  # with an attachment, a ballot and a tally
    ballot_motion: int  # open for voting for 90 days; FI is in its electorate
    scale_id: int  # in force

    def motion(self, w: World, status: MotionStatus, attachment: tuple[str, bytes] | None = None) -> int:
        """A fresh motion at ``status``, so each cell's lifecycle step is legal."""
        return motion_at(w.factory, self.operator, status, attachment=attachment)


def _council(w: World) -> Council:
    assert w.council is not None
    return w.council


def _scale_inputs(w: World, a: Actor) -> Call:
    """Figures for every contributing state (rows above admit new ones), then the request to compute a scale."""
    with w.factory() as s:
        states = s.scalars(select(MemberState).where(MemberState.status != MembershipStatus.OBSERVER)).all()
        missing = [m.code for m in states if m.code not in service.figures_by_state(s)]
    record_figures(w.factory, dict.fromkeys(missing, 100))
    return "/api/v1/contribution-scales", {"years": list(YEARS), "ceiling": "0.9"}


def _motion_url(status: MotionStatus, tail: str = "", attachment: tuple[str, bytes] | None = None):
    def call(w: World, a: Actor) -> Call:
        return f"/api/v1/motions/{_council(w).motion(w, status, attachment)}{tail}", None
    return call


def _published(tail: str = "") -> Callable[[World, Actor], Call]:
    return lambda w, a: (f"/api/v1/motions/{_council(w).published_motion}{tail}", None)


Call = tuple[str, dict[str, Any] | None]  # the URL and the JSON body


@dataclass(frozen=True)
class Row:
    """One (method, route): who may call it (``None``: everyone, public) and how to call it."""

    allowed: frozenset[str] | None
    call: Callable[[World, Actor], Call]


def _own_token(w: World, a: Actor) -> Call:
    target = w.fresh_token_id(a.person_id) if a.person_id is not None else w.subject_token_id
    return f"/api/v1/tokens/{target}", None


def _revoke_grant(w: World, a: Actor) -> Call:
    person_id, grant_id = w.fresh_grant()
    return f"/api/v1/people/{person_id}/roles/{grant_id}", None


def _ledger(w: World) -> tuple[int, str]:
    """Integrate what is queued (as the server's sequencer would) and return the tree size and the first
    entry's leaf hash, so ledger requests ask for things that exist."""
    import base64

    from aicommons.ledger import sequencer
    from aicommons.ledger.models import LedgerEntry

    result = sequencer.integrate_pending(w.factory, w.settings, sequencer.signer_for(w.settings))
    with w.factory() as s:
        leaf = s.query(LedgerEntry.leaf_hash).filter(LedgerEntry.tree_index == 0).scalar()
    return result.size, base64.urlsafe_b64encode(leaf).decode()


# --- access: calls, proposals, reviews and allocations at every stage --------------------------------

PAST = timedelta(days=60)  # pooled calls run their course in the last 60 days, so deadlines still hold now
BATCH = len(ACTORS)  # a row that consumes one object per cell takes a batch of them from one call
FAST_STAGES = ("checked", "ranked", "slate", "decided", "approved", "active")


@dataclass
class Access:
    """Access business the access rows read or act on, arranged through the service."""

    staff: Principal  # an operator who is no matrix actor: their rejections may be appealed to the actors
    researcher: Principal  # the matrix's researcher, principal investigator of every proposal here
    reviewer: Principal  # the matrix's reviewer
    panel: Principal  # a reviewer who is no matrix actor
    open_call: int  # open now, for most of a year
    open_proposal: int  # submitted to it
    review_call: int  # closed; the matrix's reviewer is assigned to its one proposal
    review_proposal: int
    decided_call: int  # ranked, its slate approved: one allocation of the researcher's
    allocation: int
    pools: dict[str, list[int]] = field(default_factory=dict)


def _access(w: World) -> Access:
    assert w.access is not None
    return w.access


@contextmanager
def _at(factory: sessionmaker[Session], moment: datetime) -> Iterator[Session]:
    with clock.frozen_at(moment), unit_of_work(factory) as s:
        yield s


def _text(track: Track) -> ProposalText:
    return ProposalText(track=track, title="Matrix project", summary="Public summary.", keywords=["language models"],
                        requested_hours=10 if track is Track.FAST_LANE else 100, accelerator="nvidia-h100",
                        duration_months=12, licence_weights="Apache-2.0", licence_code="MIT",
                        licence_data="CC-BY-4.0", release_within_months=6, safety_statement="Low risk.",
                        data_management_plan="Open data.", team=[])


def _proposal_body() -> dict[str, Any]:
    return {"track": "science", "title": "Matrix project", "summary": "Public summary.", "requested_hours": 100,
            "accelerator": "nvidia-h100", "duration_months": 12, "licence_weights": "Apache-2.0",
            "licence_code": "MIT", "licence_data": "CC-BY-4.0", "release_within_months": 6,
            "safety_statement": "Low risk.", "data_management_plan": "Open data."}


def _call_body() -> dict[str, Any]:
    now = clock.now()
    return {"title": "Matrix call", "description": "Drafted by the matrix.",
            "opens_at": (now + timedelta(days=10)).isoformat(), "closes_at": (now + timedelta(days=40)).isoformat(),
            "allocation_starts_on": (now + timedelta(days=60)).date().isoformat(),
            "tracks": [{"track": "science", "pool_hours": 1_000, "cap_hours": 500, "min_award_hours": 10}]}


def _pass_motion(factory: sessionmaker[Session], staff: Principal, motion_id: int, start: datetime) -> datetime:
    """Notice at ``start``, a yes from every eligible state's delegate, publication; returns when it passed."""
    with _at(factory, start) as s:
        voting = council_service.give_notice(s, actor=staff, motion_id=motion_id).notice_ends_at
    assert voting is not None
    with _at(factory, voting) as s:
        opened = council_service.open_voting(s, actor=staff, motion_id=motion_id, voting_days=1)
        eligible, closes = set(opened.electorate["eligible"]), opened.voting_closes_at
    with factory() as s:
        delegates = [accounts.principal_for(p) for p in s.scalars(
            select(Person).join(RoleGrant, RoleGrant.person_id == Person.id)
            .where(RoleGrant.role == Role.DELEGATE, RoleGrant.revoked_at.is_(None), Person.is_active.is_(True)))]
    for delegate in delegates:
        for code in sorted(delegate.delegate_of() & eligible):
            with _at(factory, voting) as s:
                council_service.cast_ballot(s, actor=delegate, motion_id=motion_id, choice=Choice.YES,
                                            member_state_code=code)
    with _at(factory, closes) as s:
        for step in (council_service.close_voting, council_service.tally_motion, council_service.publish_motion):
            motion = step(s, actor=staff, motion_id=motion_id)
        assert motion.outcome == "passed", motion.tally
    return closes


def _call_at(w: World, stage: str, n: int = 1, reviewer: Principal | None = None) -> tuple[int, list[int]]:
    """A call of the recent past with ``n`` proposals of the researcher's, taken as far as ``stage``.

    Reviewed stages (science, one review each): draft, submitted (the call past its close date), closed (in
    their technical check), rejected (by the staff operator), appealed, in_review, assigned, reviewed,
    right_to_reply. Fast-lane stages (technical review only): checked, ranked, slate, decided (allocations
    granted), approved (the same), active (awards accepted).
    """
    acc, f = _access(w), w.factory
    track = Track.FAST_LANE if stage in FAST_STAGES else Track.SCIENCE
    t = clock.now() - PAST
    with _at(f, t) as s:
        call_id = access_calls.create_call(
            s, actor=acc.staff, title=w.unique("Matrix call"), description="A call of the matrix.",
            opens_at=t + timedelta(days=15), closes_at=t + timedelta(days=20),
            allocation_starts_on=(t + timedelta(days=20)).date(), min_reviews=1, reply_days=60, appeal_days=120,
            tracks=[TrackTerms(Track.SCIENCE, 100_000, 5_000, 10), TrackTerms(Track.FAST_LANE, 5_000, 500, 1)]).id
    if stage == "draft":
        return call_id, []
    with _at(f, t) as s:
        motion_id = access_calls.submit_for_approval(s, actor=acc.staff, call_id=call_id).approval_motion_id
    assert motion_id is not None
    assert _pass_motion(f, acc.staff, motion_id, t) < t + timedelta(days=16)
    with _at(f, t + timedelta(days=16)) as s:
        ids = [access_proposals.create_proposal(s, actor=acc.researcher, call_id=call_id, text=_text(track)).id
               for _ in range(n)]
        for pid in ids:
            access_proposals.submit_proposal(s, actor=acc.researcher, proposal_id=pid)
    if stage == "submitted":
        return call_id, ids
    with _at(f, t + timedelta(days=20)) as s:
        access_calls.close_call(s, actor=acc.staff, call_id=call_id)
    if stage == "closed":
        return call_id, ids
    failed = stage in ("rejected", "appealed")
    with _at(f, t + timedelta(days=20)) as s:
        for pid in ids:
            access_proposals.record_technical_check(s, actor=acc.staff, proposal_id=pid, passed=not failed,
                                                    notes="It does not run on the hardware." if failed else "")
    if stage == "appealed":
        with _at(f, t + timedelta(days=21)) as s:
            for pid in ids:
                access_proposals.lodge_appeal(s, actor=acc.researcher, proposal_id=pid, grounds="It runs.")
    if stage in ("rejected", "appealed", "in_review", "checked"):
        return call_id, ids
    if track is Track.SCIENCE:
        reviewer = reviewer or acc.panel
        with _at(f, t + timedelta(days=21)) as s:
            for pid in ids:
                # One matrix reviewer takes every proposal of a batch: past the load cap, with a justification.
                reviews.assign_manually(s, actor=acc.staff, proposal_id=pid, reviewer_id=reviewer.person_id,
                                        justification="The matrix's one reviewer reviews the whole batch.")
        if stage == "assigned":
            return call_id, ids
        with _at(f, t + timedelta(days=22)) as s:
            for pid in ids:
                reviews.submit_review(s, actor=reviewer, proposal_id=pid, comments_for_applicants="Clear plan.",
                                      scores=dict.fromkeys(("excellence", "impact", "feasibility", "openness",
                                                            "safety"), 4))
        if stage == "reviewed":
            return call_id, ids
        with _at(f, t + timedelta(days=23)) as s:
            reviews.release_reviews(s, actor=acc.staff, call_id=call_id)
        assert stage == "right_to_reply", stage
        return call_id, ids
    with _at(f, t + timedelta(days=23)) as s:
        decisions.rank_call(s, actor=acc.staff, call_id=call_id)
    if stage == "ranked":
        return call_id, ids
    with _at(f, t + timedelta(days=24)) as s:
        slate_motion = decisions.propose_slate(s, actor=acc.staff, call_id=call_id).motion_id
    assert slate_motion is not None
    if stage == "slate":
        return call_id, ids
    decided = _pass_motion(f, acc.staff, slate_motion, t + timedelta(days=24))
    if stage in ("decided", "approved"):
        return call_id, ids
    with _at(f, decided) as s:
        for pid in ids:
            access_proposals.accept_award(s, actor=acc.researcher, proposal_id=pid)
    assert stage == "active", stage
    return call_id, ids


# What each pool holds, and the stage of the call its batch comes from.
POOLS = {"technical_check": "closed", "in_review": "in_review", "assignment": "assigned",
         "right_to_reply": "right_to_reply", "rejected": "rejected", "appealed": "appealed", "approved": "approved",
         "active": "active", "allocation": "decided"}


def _take(w: World, kind: str) -> int:
    """A fresh proposal (or assignment, or allocation) at the stage ``kind`` names, for one cell to change."""
    pool = _access(w).pools.setdefault(kind, [])
    if not pool:
        call_id, ids = _call_at(w, POOLS[kind], n=BATCH)
        with w.factory() as s:
            if kind == "assignment":
                ids = [a.id for a in reviews.live_assignments(s, call_id)]
            elif kind == "allocation":
                ids = list(s.scalars(select(Allocation.id).where(Allocation.call_id == call_id)))
        assert len(ids) == BATCH, (kind, ids)
        pool.extend(ids)
    return pool.pop()


def _call_url(w: World, stage: str) -> str:
    """A call of its own at ``stage``, for a cell whose request moves the call on."""
    return f"/api/v1/calls/{_call_at(w, stage)[0]}"


def _fresh_draft(w: World) -> int:
    """A draft of the researcher's in the open call."""
    acc = _access(w)
    with unit_of_work(w.factory) as s:
        return access_proposals.create_proposal(s, actor=acc.researcher, call_id=acc.open_call,
                                                text=_text(Track.SCIENCE)).id


def _fresh_submitted(w: World) -> int:
    pid = _fresh_draft(w)
    with unit_of_work(w.factory) as s:
        access_proposals.submit_proposal(s, actor=_access(w).researcher, proposal_id=pid)
    return pid


def _fresh_member(w: World) -> int:
    """Someone just added to the researcher's allocation, to be removed."""
    person = w.fresh_person()
    with unit_of_work(w.factory) as s:
        access_allocations.add_member(s, actor=_access(w).researcher, allocation_id=_access(w).allocation,
                                      email=person.email)
    return person.id


def _arrange_access(w: World, staff: Principal, institution_id: int) -> Access:
    """The researcher works at a university in FI; an open call, a call in review and a decided call."""
    f = w.factory
    with unit_of_work(f) as s:
        s.get(Person, w.actors["researcher"].person_id).institution_id = institution_id
    researcher = principal(f, w.actors["researcher"].person_id)
    reviewer = principal(f, w.actors["reviewer"].person_id)
    panel = principal(f, w.fresh_person(Role.REVIEWER).id)
    # The people first: the calls below are arranged through ``_call_at``, which reads them from here.
    w.access = Access(staff=staff, researcher=researcher, reviewer=reviewer, panel=panel, open_call=0,
                      open_proposal=0, review_call=0, review_proposal=0, decided_call=0, allocation=0)
    now = clock.now()
    with _at(f, now - timedelta(days=20)) as s:
        call = access_calls.create_call(
            s, actor=staff, title="The open matrix call", description="Open now.", opens_at=now - timedelta(days=1),
            closes_at=now + timedelta(days=300), allocation_starts_on=(now + timedelta(days=301)).date(),
            tracks=[TrackTerms(Track.SCIENCE, 100_000, 5_000, 10)])
        motion_id = access_calls.submit_for_approval(s, actor=staff, call_id=call.id).approval_motion_id
        w.access.open_call = call.id
    assert motion_id is not None
    _pass_motion(f, staff, motion_id, now - timedelta(days=20))
    w.access.open_proposal = _fresh_submitted(w)
    w.access.review_call, (w.access.review_proposal,) = _call_at(w, "assigned", reviewer=reviewer)
    w.access.decided_call, _ = _call_at(w, "decided")
    with f() as s:
        w.access.allocation = s.scalars(select(Allocation.id).where(Allocation.call_id == w.access.decided_call)).one()
    return w.access


MATRIX: dict[tuple[str, str], Row] = {
    # member states: public read, operators (write scope) change
    ("GET", "/api/v1/member-states"): Row(None, lambda w, a: ("/api/v1/member-states", None)),
    ("GET", "/api/v1/member-states/{code}"): Row(None, lambda w, a: ("/api/v1/member-states/FI", None)),
    ("POST", "/api/v1/member-states"): Row(MEMBER_STATE_WRITERS, lambda w, a: (
        "/api/v1/member-states",
        {"code": w.next_state_code(), "status": "observer", "admitted_on": "2025-06-01"})),
    ("PATCH", "/api/v1/member-states/{code}"): Row(MEMBER_STATE_WRITERS, lambda w, a: (
        "/api/v1/member-states/SE", {"name": w.unique("Sweden")})),
    # institutions: public read; operators anywhere, delegates in their own state
    ("GET", "/api/v1/institutions"): Row(None, lambda w, a: ("/api/v1/institutions", None)),
    ("GET", "/api/v1/institutions/{institution_id}"): Row(None, lambda w, a: (
        f"/api/v1/institutions/{w.institutions['FI']}", None)),
    ("POST", "/api/v1/institutions"): Row(INSTITUTION_WRITERS, lambda w, a: (
        "/api/v1/institutions", {"name": w.unique("Institute"), "country": a.country, "kind": "university"})),
    ("PATCH", "/api/v1/institutions/{institution_id}"): Row(INSTITUTION_WRITERS, lambda w, a: (
        f"/api/v1/institutions/{w.institutions[a.country]}", {"name": w.unique("Renamed institute")})),
    ("GET", "/api/v1/institutions/{institution_id}/aliases"): Row(None, lambda w, a: (
        f"/api/v1/institutions/{w.institutions['FI']}/aliases", None)),
    ("PUT", "/api/v1/institutions/{institution_id}/aliases"): Row(INSTITUTION_WRITERS, lambda w, a: (
        f"/api/v1/institutions/{w.institutions[a.country]}/aliases", {"aliases": [w.unique("Alias")]})),
    # the caller and their own tokens
    ("GET", "/api/v1/me"): Row(AUTHENTICATED, lambda w, a: ("/api/v1/me", None)),
    ("GET", "/api/v1/tokens"): Row(AUTHENTICATED, lambda w, a: ("/api/v1/tokens", None)),
    ("POST", "/api/v1/tokens"): Row(WITH_WRITE_SCOPE, lambda w, a: (
        "/api/v1/tokens", {"name": "matrix", "scopes": ["read"], "expires_in_days": 1})),
    ("DELETE", "/api/v1/tokens/{token_id}"): Row(WITH_WRITE_SCOPE, _own_token),
    # people and roles: operators and auditors read, operators with the admin scope change
    ("GET", "/api/v1/people"): Row(PEOPLE_READERS, lambda w, a: ("/api/v1/people", None)),
    ("GET", "/api/v1/people/{person_id}"): Row(PEOPLE_READERS, lambda w, a: (
        f"/api/v1/people/{w.subject_id}", None)),
    ("GET", "/api/v1/people/{person_id}/roles"): Row(PEOPLE_READERS, lambda w, a: (
        f"/api/v1/people/{w.subject_id}/roles", None)),
    ("POST", "/api/v1/people"): Row(PEOPLE_WRITERS, lambda w, a: (
        "/api/v1/people",
        {"email": f"new-{uuid.uuid4().hex[:12]}@example.org", "display_name": "New Person"})),
    ("POST", "/api/v1/people/{person_id}/deactivate"): Row(PEOPLE_WRITERS, lambda w, a: (
        f"/api/v1/people/{w.fresh_person(Role.RESEARCHER).id}/deactivate", None)),
    ("POST", "/api/v1/people/{person_id}/roles"): Row(PEOPLE_WRITERS, lambda w, a: (
        f"/api/v1/people/{w.fresh_person().id}/roles", {"role": "reviewer", "note": "matrix"})),
    ("DELETE", "/api/v1/people/{person_id}/roles/{grant_id}"): Row(PEOPLE_WRITERS, _revoke_grant),
    ("GET", "/api/v1/people/{person_id}/affiliations"): Row(PEOPLE_READERS, lambda w, a: (
        f"/api/v1/people/{w.subject_id}/affiliations", None)),
    ("POST", "/api/v1/people/{person_id}/affiliations"): Row(PEOPLE_WRITERS, lambda w, a: (
        f"/api/v1/people/{w.fresh_person().id}/affiliations", {"institution_id": w.institutions["FI"]})),
    # the transparency ledger: public, no authentication
    ("GET", "/ledger/checkpoint"): Row(None, lambda w, a: (_ledger(w) and "/ledger/checkpoint", None)),
    ("GET", "/ledger/tile/{level}/{rest:path}"): Row(None, lambda w, a: (
        _ledger(w) and "/ledger/tile/0/000.p/1", None)),
    ("GET", "/api/v1/ledger/key"): Row(None, lambda w, a: ("/api/v1/ledger/key", None)),
    ("GET", "/api/v1/ledger/kinds"): Row(None, lambda w, a: ("/api/v1/ledger/kinds", None)),
    ("GET", "/api/v1/ledger/entries"): Row(None, lambda w, a: ("/api/v1/ledger/entries", None)),
    ("GET", "/api/v1/ledger/entries/{index}"): Row(None, lambda w, a: (
        _ledger(w) and "/api/v1/ledger/entries/0", None)),
    ("GET", "/api/v1/ledger/proofs/inclusion"): Row(None, lambda w, a: (
        f"/api/v1/ledger/proofs/inclusion?index=0&tree_size={_ledger(w)[0]}", None)),
    ("GET", "/api/v1/ledger/proofs/consistency"): Row(None, lambda w, a: (
        f"/api/v1/ledger/proofs/consistency?old_size=1&new_size={_ledger(w)[0]}", None)),
    ("GET", "/api/v1/ledger/lookup"): Row(None, lambda w, a: (
        f"/api/v1/ledger/lookup?leaf_hash={_ledger(w)[1]}", None)),
    # contributions: public read, the council's secretariat (operators, write scope) records and computes
    ("GET", "/api/v1/economic-figures"): Row(None, lambda w, a: ("/api/v1/economic-figures", None)),
    ("POST", "/api/v1/economic-figures"): Row(COUNCIL_SECRETARIAT, lambda w, a: (
        "/api/v1/economic-figures",
        {"member_state": "FI", "year": 2025, "nni_million_eur": 250_000, "source": "matrix statistics"})),
    ("GET", "/api/v1/contribution-scales"): Row(None, lambda w, a: ("/api/v1/contribution-scales", None)),
    ("POST", "/api/v1/contribution-scales"): Row(COUNCIL_SECRETARIAT, _scale_inputs),
    ("GET", "/api/v1/contribution-scales/current"): Row(None, lambda w, a: (
        "/api/v1/contribution-scales/current", None)),
    ("GET", "/api/v1/contribution-scales/{scale_id}"): Row(None, lambda w, a: (
        f"/api/v1/contribution-scales/{_council(w).scale_id}", None)),
    ("GET", "/api/v1/dues"): Row(None, lambda w, a: ("/api/v1/dues", None)),
    ("PUT", "/api/v1/member-states/{code}/dues/{year}"): Row(COUNCIL_SECRETARIAT, lambda w, a: (
        "/api/v1/member-states/SE/dues/2025", {"due_eur": 1000, "paid_eur": 1000})),
    # the council: public read
    ("GET", "/api/v1/delegates"): Row(None, lambda w, a: ("/api/v1/delegates", None)),
    ("GET", "/api/v1/constitution"): Row(None, lambda w, a: ("/api/v1/constitution", None)),
    ("GET", "/api/v1/constitution/versions"): Row(None, lambda w, a: ("/api/v1/constitution/versions", None)),
    # motions: public read (drafts hidden), operators draft and run the lifecycle, delegates vote
    ("GET", "/api/v1/motions"): Row(None, lambda w, a: ("/api/v1/motions", None)),
    ("POST", "/api/v1/motions"): Row(COUNCIL_SECRETARIAT, lambda w, a: (
        "/api/v1/motions", {"kind": "policy", "title": w.unique("Motion"), "text": "The council resolves ..."})),
    ("GET", "/api/v1/motions/{motion_id}"): Row(None, _published()),
    ("PATCH", "/api/v1/motions/{motion_id}"): Row(COUNCIL_SECRETARIAT, lambda w, a: (
        f"/api/v1/motions/{_council(w).motion(w, MotionStatus.DRAFT)}", {"title": w.unique("Renamed motion")})),
    ("GET", "/api/v1/motions/{motion_id}/attachments/{filename}"): Row(None, _published("/attachments/annex.txt")),
    ("PUT", "/api/v1/motions/{motion_id}/attachments/{filename}"): Row(COUNCIL_SECRETARIAT, lambda w, a: (
        f"/api/v1/motions/{_council(w).motion(w, MotionStatus.DRAFT)}/attachments/annex.json",
        {"annex": "matrix"})),
    ("DELETE", "/api/v1/motions/{motion_id}/attachments/{filename}"): Row(COUNCIL_SECRETARIAT, _motion_url(
        MotionStatus.DRAFT, "/attachments/annex.txt", ("annex.txt", b"an annex"))),
    ("POST", "/api/v1/motions/{motion_id}/notice"): Row(COUNCIL_SECRETARIAT, _motion_url(
        MotionStatus.DRAFT, "/notice")),
    ("POST", "/api/v1/motions/{motion_id}/open-voting"): Row(COUNCIL_SECRETARIAT, _motion_url(
        MotionStatus.NOTICE, "/open-voting")),
    ("POST", "/api/v1/motions/{motion_id}/close"): Row(COUNCIL_SECRETARIAT, _motion_url(
        MotionStatus.VOTING, "/close")),
    ("POST", "/api/v1/motions/{motion_id}/tally"): Row(COUNCIL_SECRETARIAT, _motion_url(
        MotionStatus.CLOSED, "/tally")),
    ("POST", "/api/v1/motions/{motion_id}/publish"): Row(COUNCIL_SECRETARIAT, _motion_url(
        MotionStatus.TALLIED, "/publish")),
    ("POST", "/api/v1/motions/{motion_id}/ballots"): Row(VOTERS, lambda w, a: (
        f"/api/v1/motions/{_council(w).ballot_motion}/ballots", {"choice": "yes", "explanation": "matrix"})),
    ("GET", "/api/v1/motions/{motion_id}/ballots"): Row(None, _published("/ballots")),
    ("GET", "/api/v1/motions/{motion_id}/roll-call"): Row(None, _published("/roll-call")),
    ("GET", "/api/v1/motions/{motion_id}/tally"): Row(None, _published("/tally")),
    # access: calls are public to read; operators run them (see access/policy.py)
    ("GET", "/api/v1/calls"): Row(None, lambda w, a: ("/api/v1/calls", None)),
    ("POST", "/api/v1/calls"): Row(CALL_RUNNERS, lambda w, a: ("/api/v1/calls", _call_body())),
    ("GET", "/api/v1/calls/{call_id}"): Row(None, lambda w, a: (f"/api/v1/calls/{_access(w).open_call}", None)),
    ("POST", "/api/v1/calls/{call_id}/submit-for-approval"): Row(CALL_RUNNERS, lambda w, a: (
        f"{_call_url(w, 'draft')}/submit-for-approval", None)),
    ("POST", "/api/v1/calls/{call_id}/close"): Row(CALL_RUNNERS, lambda w, a: (
        f"{_call_url(w, 'submitted')}/close", None)),
    ("GET", "/api/v1/calls/{call_id}/proposals"): Row(None, lambda w, a: (
        f"/api/v1/calls/{_access(w).open_call}/proposals", None)),
    ("GET", "/api/v1/calls/{call_id}/ranking"): Row(None, lambda w, a: (
        f"/api/v1/calls/{_access(w).decided_call}/ranking", None)),
    ("GET", "/api/v1/calls/{call_id}/slates"): Row(None, lambda w, a: (
        f"/api/v1/calls/{_access(w).decided_call}/slates", None)),
    ("GET", "/api/v1/calls/{call_id}/slate"): Row(None, lambda w, a: (
        f"/api/v1/calls/{_access(w).decided_call}/slate", None)),
    ("POST", "/api/v1/calls/{call_id}/slates"): Row(CALL_RUNNERS, lambda w, a: (
        f"{_call_url(w, 'ranked')}/slates", None)),
    ("POST", "/api/v1/calls/{call_id}/rank"): Row(CALL_RUNNERS, lambda w, a: (
        f"{_call_url(w, 'checked')}/rank", None)),
    ("POST", "/api/v1/calls/{call_id}/release-reviews"): Row(CALL_RUNNERS, lambda w, a: (
        f"{_call_url(w, 'reviewed')}/release-reviews", None)),
    ("POST", "/api/v1/calls/{call_id}/assignments"): Row(CALL_RUNNERS, lambda w, a: (
        f"{_call_url(w, 'in_review')}/assignments", None)),
    ("GET", "/api/v1/calls/{call_id}/assignments"): Row(PANEL_READERS, lambda w, a: (
        f"/api/v1/calls/{_access(w).review_call}/assignments", None)),
    # proposals: researchers write them; the whole proposal is for its team, its reviewers and the panel
    ("POST", "/api/v1/calls/{call_id}/proposals"): Row(APPLICANT, lambda w, a: (
        f"/api/v1/calls/{_access(w).open_call}/proposals", _proposal_body())),
    ("GET", "/api/v1/proposals/mine"): Row(AUTHENTICATED, lambda w, a: ("/api/v1/proposals/mine", None)),
    ("GET", "/api/v1/proposals/{proposal_id}"): Row(PROPOSAL_READERS, lambda w, a: (
        f"/api/v1/proposals/{_access(w).review_proposal}", None)),
    ("GET", "/api/v1/proposals/{proposal_id}/public"): Row(None, lambda w, a: (
        f"/api/v1/proposals/{_access(w).open_proposal}/public", None)),
    ("PUT", "/api/v1/proposals/{proposal_id}"): Row(APPLICANT, lambda w, a: (
        f"/api/v1/proposals/{_fresh_draft(w)}", {**_proposal_body(), "title": w.unique("Edited")})),
    ("POST", "/api/v1/proposals/{proposal_id}/submit"): Row(APPLICANT, lambda w, a: (
        f"/api/v1/proposals/{_fresh_draft(w)}/submit", None)),
    ("POST", "/api/v1/proposals/{proposal_id}/technical-check"): Row(CALL_RUNNERS, lambda w, a: (
        f"/api/v1/proposals/{_take(w, 'technical_check')}/technical-check", {"passed": True})),
    ("GET", "/api/v1/proposals/{proposal_id}/reviews"): Row(REVIEW_READERS, lambda w, a: (
        f"/api/v1/proposals/{_access(w).review_proposal}/reviews", None)),
    ("GET", "/api/v1/proposals/{proposal_id}/assignments"): Row(PANEL_READERS, lambda w, a: (
        f"/api/v1/proposals/{_access(w).review_proposal}/assignments", None)),
    ("POST", "/api/v1/proposals/{proposal_id}/assignments"): Row(CALL_RUNNERS, lambda w, a: (
        f"/api/v1/proposals/{_take(w, 'in_review')}/assignments", {"reviewer_id": _access(w).panel.person_id})),
    ("DELETE", "/api/v1/assignments/{assignment_id}"): Row(CALL_RUNNERS, lambda w, a: (
        f"/api/v1/assignments/{_take(w, 'assignment')}", None)),
    ("POST", "/api/v1/proposals/{proposal_id}/reply"): Row(APPLICANT, lambda w, a: (
        f"/api/v1/proposals/{_take(w, 'right_to_reply')}/reply", {"reply": "Thank you; we will add a baseline."})),
    ("POST", "/api/v1/proposals/{proposal_id}/appeal"): Row(APPLICANT, lambda w, a: (
        f"/api/v1/proposals/{_take(w, 'rejected')}/appeal", {"grounds": "It runs; see the log."})),
    ("POST", "/api/v1/proposals/{proposal_id}/appeal/decision"): Row(CALL_RUNNERS, lambda w, a: (
        f"/api/v1/proposals/{_take(w, 'appealed')}/appeal/decision",
        {"upheld": False, "decision": "The check stands."})),
    ("POST", "/api/v1/proposals/{proposal_id}/accept"): Row(APPLICANT, lambda w, a: (
        f"/api/v1/proposals/{_take(w, 'approved')}/accept", None)),
    ("POST", "/api/v1/proposals/{proposal_id}/final-report"): Row(APPLICANT, lambda w, a: (
        f"/api/v1/proposals/{_take(w, 'active')}/final-report",
        {"summary": "Done.", "outputs": [{"kind": "model", "title": "Matrix model"}]})),
    # reviewers: their expertise, their queue, their reviews and conflicts
    ("GET", "/api/v1/reviewers/me/expertise"): Row(REVIEWER, lambda w, a: ("/api/v1/reviewers/me/expertise", None)),
    ("PUT", "/api/v1/reviewers/me/expertise"): Row(REVIEWER, lambda w, a: (
        "/api/v1/reviewers/me/expertise", {"keywords": ["language models", "vision"], "max_load": 5})),
    ("GET", "/api/v1/reviews/queue"): Row(REVIEWER, lambda w, a: ("/api/v1/reviews/queue", None)),
    ("PUT", "/api/v1/proposals/{proposal_id}/review"): Row(REVIEWER, lambda w, a: (
        f"/api/v1/proposals/{_access(w).review_proposal}/review",
        {"scores": dict.fromkeys(("excellence", "impact", "feasibility", "openness", "safety"), 4),
         "comments_for_applicants": "Clear plan.", "confidential_comments": "For the panel."})),
    ("POST", "/api/v1/proposals/{proposal_id}/conflicts"): Row(REVIEWER, lambda w, a: (
        f"/api/v1/proposals/{_fresh_submitted(w)}/conflicts", {"reason": "I supervised the applicant."})),
    # allocations: public facts; the principal investigator manages members; operators revoke and expire
    ("GET", "/api/v1/allocations"): Row(None, lambda w, a: ("/api/v1/allocations", None)),
    ("GET", "/api/v1/allocations/mine"): Row(AUTHENTICATED, lambda w, a: ("/api/v1/allocations/mine", None)),
    ("GET", "/api/v1/allocations/{allocation_id}"): Row(None, lambda w, a: (
        f"/api/v1/allocations/{_access(w).allocation}", None)),
    ("POST", "/api/v1/allocations/{allocation_id}/members"): Row(APPLICANT, lambda w, a: (
        f"/api/v1/allocations/{_access(w).allocation}/members", {"email": w.fresh_person().email})),
    ("DELETE", "/api/v1/allocations/{allocation_id}/members/{person_id}"): Row(APPLICANT, lambda w, a: (
        f"/api/v1/allocations/{_access(w).allocation}/members/{_fresh_member(w)}", None)),
    ("POST", "/api/v1/allocations/{allocation_id}/revoke"): Row(CALL_RUNNERS, lambda w, a: (
        f"/api/v1/allocations/{_take(w, 'allocation')}/revoke", {"reason": "The matrix revokes it."})),
    ("POST", "/api/v1/allocations/expire"): Row(CALL_RUNNERS, lambda w, a: ("/api/v1/allocations/expire", None)),
    ("GET", "/api/v1/access/statistics"): Row(None, lambda w, a: ("/api/v1/access/statistics", None)),
    # operations and documentation: public
    ("GET", "/healthz"): Row(None, lambda w, a: ("/healthz", None)),
    ("GET", "/metrics"): Row(None, lambda w, a: ("/metrics", None)),
    ("GET", "/openapi.json"): Row(None, lambda w, a: ("/openapi.json", None)),
    ("GET", "/docs"): Row(None, lambda w, a: ("/docs", None)),
}


def expected(method: str, path: str, actor: str) -> str:
    row = MATRIX[(method, path)]
    if row.allowed is None:
        return ALLOWED  # public: credentials, good or bad, do not matter
    if actor in UNAUTHENTICATED_ACTORS:
        return UNAUTHENTICATED
    if actor == "session_cookie" and method not in SAFE_METHODS:
        return UNAUTHENTICATED  # a cookie alone never authenticates a state-changing API call
    return ALLOWED if actor in row.allowed else FORBIDDEN


def outcome(status: int) -> str:
    if status == 401:
        return UNAUTHENTICATED
    if status == 403:
        return FORBIDDEN
    if 200 <= status < 300 or status in (404, 409, 422):
        return ALLOWED
    return f"unexpected {status}"


CELLS = [(method, path, actor) for (method, path) in MATRIX for actor in ACTORS]


# --- fixtures: one app and database for the module -----------------------------------------------


def api_routes(app) -> set[tuple[str, str]]:
    """(method, path) of every route of the API, read from ``app.routes``."""
    try:  # FastAPI >= 0.16x keeps included routers nested; this flattens them
        from fastapi.routing import iter_route_contexts
    except ImportError:  # older FastAPI: app.routes is already flat
        routes: Any = app.routes
    else:
        routes = iter_route_contexts(app.routes)
    found = set()
    for route in routes:
        path, methods = getattr(route, "path", None), getattr(route, "methods", None)
        if path is None or not methods:
            continue  # mounts (static files)
        in_api = (path.startswith(MACHINE_PATHS) or path in ("/openapi.json", "/docs")
                  or getattr(route, "include_in_schema", False))
        if in_api:
            found |= {(m, path) for m in methods - {"HEAD", "OPTIONS"}}
    return found


def form_csrf_token(client: TestClient) -> str:
    """The csrf_token hidden field of the login form ('' if it is empty)."""
    page = client.get("/login")
    assert page.status_code == 200, page.text
    match = re.search(r'name="csrf_token" value="([^"]*)"', page.text)
    assert match, "the login page has no csrf_token field"
    return match[1]


def login(client: TestClient, email: str, password: str) -> None:
    """Sign in through the web form, as a browser does.

    If the form's token is empty (see ``test_login_form_carries_a_csrf_token``), the token the form
    should have carried is computed, so the API's rules are still tested.
    """
    token = form_csrf_token(client)
    if not token:
        anon = client.cookies.get(ANON_COOKIE)
        assert anon, "the login page set no anonymous cookie to bind a CSRF token to"
        token = secrets.csrf_token(client.app.state.session_key, "a:" + anon)
    response = client.post("/login", data={"email": email, "password": password, "csrf_token": token},
                           follow_redirects=False)
    assert response.status_code == 303, response.text
    assert client.cookies.get(SESSION_COOKIE), "login set no session cookie"


def _token_row(s: Session, person_id: int) -> ApiToken:
    return s.scalars(select(ApiToken).where(ApiToken.person_id == person_id)).one()


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("authz")
    settings = Settings(data_dir=tmp / "data", database_url=f"sqlite:///{tmp / 'aicommons.db'}",
                        login_max_failures=3, login_max_failures_per_ip=50, max_body_bytes=64 * 1024)
    engine = create_db_engine(settings.effective_database_url)
    upgrade(engine)
    factory = make_session_factory(engine)
    people = People(factory, settings)
    for code in ("FI", "DE", "SE"):
        people.state(code)

    def bearer(name: str, member, **kw) -> Actor:
        return Actor(name, member.headers, member.person.id, **kw)

    operator = people.make(Role.OPERATOR)
    delegate = people.make(Role.DELEGATE, state="FI")
    actors = {
        "anonymous": Actor("anonymous"),
        "malformed_header": Actor("malformed_header", {"Authorization": "Basic b3BlcmF0b3I6c2VjcmV0"}),
        "garbage_token": Actor("garbage_token", {"Authorization": "Bearer not-a-real-token"}),
        "no_role": bearer("no_role", people.make(None)),
        "researcher": bearer("researcher", people.make(Role.RESEARCHER)),
        "reviewer": bearer("reviewer", people.make(Role.REVIEWER)),
        "auditor": bearer("auditor", people.make(Role.AUDITOR)),
        "delegate_own_country": bearer("delegate_own_country", delegate, country="FI"),
        "delegate_other_country": bearer("delegate_other_country", delegate, country="DE"),
        "operator": bearer("operator", operator),
        "operator_read_scope": bearer("operator_read_scope",
                                      people.make(Role.OPERATOR, scopes=("read",))),
        "operator_no_admin": bearer("operator_no_admin",
                                    people.make(Role.OPERATOR, scopes=("read", "write"))),
    }
    revoked, expired, deactivated = (people.make(Role.OPERATOR) for _ in range(3))
    with unit_of_work(factory) as s:
        auth.revoke_token(s, token_id=_token_row(s, revoked.person.id).id, owner_id=None)
        _token_row(s, expired.person.id).expires_at = clock.now() - timedelta(minutes=1)
        s.get(Person, deactivated.person.id).is_active = False  # tokens left unrevoked on purpose
    # Operators whose tokens authenticate nobody: their 401 cannot be a 403 in disguise.
    actors["revoked_token"] = Actor("revoked_token", revoked.headers)
    actors["expired_token"] = Actor("expired_token", expired.headers)
    actors["deactivated_account"] = Actor("deactivated_account", deactivated.headers)
    cookie_operator = people.make(Role.OPERATOR, password=PASSWORD)
    actors["session_cookie"] = Actor("session_cookie", {}, cookie_operator.person.id, session=True)
    assert set(actors) == set(ACTORS)

    subject = people.make(Role.RESEARCHER)
    with unit_of_work(factory) as s:
        subject_token_id = _token_row(s, subject.person.id).id

    council = _arrange_council(factory, people, operator, delegate)

    used = {"FI", "DE", "SE"}
    codes = (c.alpha_2 for c in pycountry.countries if c.alpha_2 not in used)
    app = create_app(settings)
    with TestClient(app, base_url="http://testserver") as client, \
            TestClient(app, base_url="http://testserver") as session_client:
        institutions = {}
        for country in ("FI", "DE"):
            body = {"name": f"University of {country}", "country": country, "kind": "university"}
            r = client.post("/api/v1/institutions", headers=operator.headers, json=body)
            assert r.status_code == 201, r.text
            institutions[country] = r.json()["id"]
        login(session_client, cookie_operator.person.email, PASSWORD)
        world = World(client=client, session_client=session_client, factory=factory, settings=settings,
                      people=people, actors=actors, institutions=institutions, subject_id=subject.person.id,
                      subject_token_id=subject_token_id, _codes=iter(codes), council=council)
        _arrange_access(world, principal(factory, people.make(Role.OPERATOR).person.id), institutions["FI"])
        yield world
    engine.dispose()


def _arrange_council(factory, people: People, operator, delegate) -> Council:
    """A contribution scale in force, a published motion and one open for voting, all through the service."""
    op = principal(factory, operator.person.id)
    voters = [principal(factory, m.person.id) for m in (delegate, people.make(Role.DELEGATE, state="DE"),
                                                         people.make(Role.DELEGATE, state="SE"))]
    record_figures(factory, {"FI": 250_000, "DE": 3_500_000, "SE": 500_000})
    with unit_of_work(factory) as s:
        scale_id = service.compute_scale(s, actor=op, years=YEARS).id
    motion_at(factory, op, MotionStatus.PUBLISHED, kind=MotionKind.CONTRIBUTION_SCALE,
              payload={"scale_id": scale_id}, votes=[(v, Choice.YES) for v in voters])
    published = motion_at(factory, op, MotionStatus.PUBLISHED, attachment=("annex.txt", b"the annex"),
                          votes=[(voters[0], Choice.YES)])
    ballot_motion = motion_at(factory, op, MotionStatus.VOTING, voting_days=90)
    return Council(operator=op, published_motion=published, ballot_motion=ballot_motion, scale_id=scale_id)


def assert_problem(response, status: int) -> None:
    assert response.headers["content-type"].startswith(PROBLEM_JSON), response.headers["content-type"]
    body = response.json()
    assert body["status"] == status
    assert body["title"] and body["detail"]


# --- the matrix ----------------------------------------------------------------------------------


def test_every_route_has_a_row(world):
    """A new API route fails here until the matrix says who may call it."""
    routes = api_routes(world.client.app)
    missing = sorted(routes - MATRIX.keys())
    assert not missing, "\n".join(f"route {m} {p} has no row in the authorization matrix"
                                  for m, p in missing)
    stale = sorted(MATRIX.keys() - routes)
    assert not stale, "\n".join(f"the authorization matrix has a row for {m} {p}, which is no route"
                                for m, p in stale)


@pytest.mark.parametrize(("method", "path", "actor"), CELLS, ids=[f"{m} {p}-{a}" for m, p, a in CELLS])
def test_authorization_matrix(world, method, path, actor):
    who = world.actors[actor]
    url, body = MATRIX[(method, path)].call(world, who)
    if who.session:
        client = world.session_client
    else:
        client = world.client
        client.cookies.clear()  # header-only callers never carry a browser session
    response = client.request(method, url, json=body, headers=who.headers)

    want, got = expected(method, path, actor), outcome(response.status_code)
    assert got == want, (f"{method} {path} as {actor}: expected {want}, got {response.status_code}: "
                         f"{response.text[:300]}")
    if want == ALLOWED:
        assert 200 <= response.status_code < 300, (
            f"{method} {url} as {actor} passed authorization but failed ({response.status_code}); "
            f"the matrix's request is wrong: {response.text[:300]}")
    if response.status_code >= 400:
        assert_problem(response, response.status_code)
    if response.status_code == 401:
        challenge = response.headers.get("www-authenticate", "")
        assert challenge.startswith("Bearer"), f"401 without a Bearer challenge: {challenge!r}"
        if who.headers.get("Authorization", "").startswith("Bearer "):
            assert 'error="invalid_token"' in challenge, challenge


def test_matrix_rules_are_as_documented():
    """Spot checks that the table itself says what the README says."""
    assert expected("POST", "/api/v1/institutions", "delegate_own_country") == ALLOWED
    assert expected("POST", "/api/v1/institutions", "delegate_other_country") == FORBIDDEN
    assert expected("POST", "/api/v1/member-states", "operator_read_scope") == FORBIDDEN
    assert expected("POST", "/api/v1/people/{person_id}/roles", "operator_no_admin") == FORBIDDEN
    assert expected("GET", "/api/v1/people", "auditor") == ALLOWED
    assert expected("DELETE", "/api/v1/people/{person_id}/roles/{grant_id}", "auditor") == FORBIDDEN
    assert expected("GET", "/api/v1/me", "session_cookie") == ALLOWED
    assert expected("POST", "/api/v1/institutions", "session_cookie") == UNAUTHENTICATED
    assert expected("GET", "/api/v1/institutions", "anonymous") == ALLOWED
    assert expected("POST", "/api/v1/motions/{motion_id}/ballots", "delegate_own_country") == ALLOWED
    assert expected("POST", "/api/v1/motions/{motion_id}/ballots", "operator") == FORBIDDEN
    assert expected("POST", "/api/v1/motions/{motion_id}/ballots", "session_cookie") == UNAUTHENTICATED
    assert expected("POST", "/api/v1/motions", "delegate_own_country") == FORBIDDEN
    assert expected("POST", "/api/v1/motions/{motion_id}/publish", "operator_read_scope") == FORBIDDEN
    assert expected("GET", "/api/v1/motions/{motion_id}/tally", "expired_token") == ALLOWED
    assert expected("GET", "/api/v1/calls/{call_id}/ranking", "garbage_token") == ALLOWED
    assert expected("POST", "/api/v1/calls/{call_id}/close", "auditor") == FORBIDDEN
    assert expected("GET", "/api/v1/calls/{call_id}/assignments", "auditor") == ALLOWED
    assert expected("GET", "/api/v1/calls/{call_id}/assignments", "reviewer") == FORBIDDEN
    assert expected("GET", "/api/v1/proposals/{proposal_id}/assignments", "researcher") == FORBIDDEN
    assert expected("GET", "/api/v1/proposals/{proposal_id}/reviews", "reviewer") == FORBIDDEN
    assert expected("POST", "/api/v1/calls/{call_id}/proposals", "operator") == FORBIDDEN
    assert expected("PUT", "/api/v1/proposals/{proposal_id}/review", "operator") == FORBIDDEN
    assert expected("POST", "/api/v1/allocations/{allocation_id}/members", "operator") == FORBIDDEN
    assert all(expected(m, p, "anonymous") in (ALLOWED, UNAUTHENTICATED) for m, p in MATRIX)


# --- rules that need more than one request -------------------------------------------------------


def test_token_cannot_create_a_token_with_scopes_it_lacks(client, people):
    no_admin = people.make(Role.OPERATOR, scopes=("read", "write"))
    r = client.post("/api/v1/tokens", headers=no_admin.headers,
                    json={"name": "wider", "scopes": ["read", "admin"]})
    assert r.status_code == 403, r.text
    assert_problem(r, 403)
    assert "admin" in r.json()["detail"]
    # within its own scopes it may
    r = client.post("/api/v1/tokens", headers=no_admin.headers,
                    json={"name": "same", "scopes": ["read", "write"]})
    assert r.status_code == 201, r.text
    assert set(r.json()["scopes"]) == {"read", "write"}

    read_only = people.make(Role.RESEARCHER, scopes=("read",))
    r = client.post("/api/v1/tokens", headers=read_only.headers, json={"name": "same", "scopes": ["read"]})
    assert r.status_code == 403, r.text  # making a token is a write

    full = people.make(Role.OPERATOR)
    r = client.post("/api/v1/tokens", headers=full.headers,
                    json={"name": "all", "scopes": ["read", "write", "admin"]})
    assert r.status_code == 201, r.text


def test_cannot_revoke_someone_elses_token(client, people):
    owner, other = people.make(Role.RESEARCHER), people.make(Role.OPERATOR)
    owner_tokens = client.get("/api/v1/tokens", headers=owner.headers).json()
    assert len(owner_tokens) == 1
    r = client.delete(f"/api/v1/tokens/{owner_tokens[0]['id']}", headers=other.headers)
    assert r.status_code == 404, r.text  # not 403: whether the id exists is not disclosed
    assert_problem(r, 404)
    assert client.get("/api/v1/me", headers=owner.headers).status_code == 200  # still works
    # the owner may
    assert client.delete(f"/api/v1/tokens/{owner_tokens[0]['id']}", headers=owner.headers).status_code == 204
    r = client.get("/api/v1/me", headers=owner.headers)
    assert r.status_code == 401
    assert "revoked" in r.json()["detail"]


def test_login_form_carries_a_csrf_token(client):
    """The session-cookie cases sign in through the form; the form must carry a usable token."""
    assert form_csrf_token(client), "the login form's csrf_token field is empty: no one can log in"


def test_session_cookie_alone_reads_but_cannot_change(client, people):
    member = people.make(Role.OPERATOR, password=PASSWORD)
    login(client, member.person.email, PASSWORD)

    r = client.get("/api/v1/me")
    assert r.status_code == 200, r.text
    assert r.json()["authenticated_by"] == "session"

    r = client.post("/api/v1/institutions", json={"name": "Cookie University", "country": "FI",
                                                  "kind": "university"})
    assert r.status_code == 401, r.text
    assert_problem(r, 401)
    assert r.headers["www-authenticate"].startswith("Bearer")
    assert client.get("/api/v1/institutions").json()["items"] == []

    # the same person with a token may
    r = client.post("/api/v1/institutions", headers=member.headers,
                    json={"name": "Cookie University", "country": "FI", "kind": "university"})
    assert r.status_code == 201, r.text


def test_token_expires_with_time(client, people):
    """A token made for 30 days works on day 29 and is refused on day 31."""
    member = people.make(Role.RESEARCHER)
    start = datetime.now(UTC)
    with clock.frozen_at(start + timedelta(days=29)):
        assert client.get("/api/v1/me", headers=member.headers).status_code == 200
    with clock.frozen_at(start + timedelta(days=31)):
        r = client.get("/api/v1/me", headers=member.headers)
    assert r.status_code == 401
    assert_problem(r, 401)
    assert "expired" in r.json()["detail"]
    assert 'error="invalid_token"' in r.headers["www-authenticate"]


def test_deactivating_a_person_ends_their_tokens(client, people):
    operator, target = people.make(Role.OPERATOR), people.make(Role.DELEGATE, state="FI")
    body = {"name": "Deactivation Institute", "country": "FI", "kind": "sme"}
    assert client.post("/api/v1/institutions", headers=target.headers, json=body).status_code == 201
    r = client.post(f"/api/v1/people/{target.person.id}/deactivate", headers=operator.headers)
    assert r.status_code == 200, r.text
    r = client.post("/api/v1/institutions", headers=target.headers, json={**body, "name": "Second"})
    assert r.status_code == 401


def test_unknown_cells_are_refused_before_lookup(client, people):
    """Authorization comes before existence: a stranger learns nothing from ids of people or grants."""
    researcher = people.make(Role.RESEARCHER)
    for method, url in (("GET", "/api/v1/people/999999"), ("GET", "/api/v1/people/999999/roles"),
                        ("POST", "/api/v1/people/999999/deactivate"),
                        ("DELETE", "/api/v1/people/999999/roles/999999")):
        assert client.request(method, url, headers=researcher.headers).status_code == 403, (method, url)
        assert client.request(method, url).status_code == 401, (method, url)

