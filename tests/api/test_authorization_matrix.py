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
* a state-changing API call authenticated only with a browser session cookie is unauthenticated.

A route of the API (a path under ``aicommons.app.MACHINE_PATHS``, anything in the OpenAPI schema, and
``/docs``) that has no row here fails ``test_every_route_has_a_row``. Browser pages are tested in
tests/web; HEAD and OPTIONS are not listed.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pycountry
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from aicommons import clock
from aicommons.app import MACHINE_PATHS, create_app
from aicommons.config import Settings
from aicommons.database import create_db_engine, make_session_factory, unit_of_work
from aicommons.deps import ANON_COOKIE, SESSION_COOKIE
from aicommons.governance import service
from aicommons.governance.models import MotionStatus
from aicommons.governance.rules import Choice, MotionKind
from aicommons.identity import accounts, auth, secrets
from aicommons.identity.models import ApiToken, MembershipStatus, MemberState, Person, Role
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
        yield World(client=client, session_client=session_client, factory=factory, settings=settings,
                    people=people, actors=actors, institutions=institutions, subject_id=subject.person.id,
                    subject_token_id=subject_token_id, _codes=iter(codes), council=council)
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

