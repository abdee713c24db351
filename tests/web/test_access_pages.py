"""The access portal through a browser's HTTP: calls, proposals, reviews, the operators' desks, projects and
statistics. The facility and a call's earlier steps are made with the services (``tests.access.world``); each
page is then used the way a browser would, its forms submitted with their CSRF token.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from html import unescape

import pytest
from sqlalchemy import func, select

from aicommons import clock
from aicommons.access import calls, reviews
from aicommons.access.models import (
    Allocation,
    AllocationStatus,
    Appeal,
    AppealStatus,
    AssignmentStatus,
    Call,
    CallStatus,
    ConflictDeclaration,
    Proposal,
    ProposalStatus,
    ReviewAssignment,
    ReviewerProfile,
    Slate,
    Track,
)
from aicommons.database import unit_of_work
from aicommons.governance import council
from aicommons.governance.models import Motion
from aicommons.identity import accounts
from aicommons.identity.models import Role
from aicommons.ledger.models import LedgerEntry
from tests.access.world import World, p
from tests.conftest import PASSWORD
from tests.web.test_pages import alert_text, audit, csrf_of, header_text, login, text

SCORES = ("excellence", "impact", "feasibility", "openness", "safety")


# --- the facility --------------------------------------------------------------------------------


@pytest.fixture
def world(factory, people) -> World:
    """Four member states with delegates, a university in each with a researcher, six reviewers, two operators;
    everyone can log in with PASSWORD."""
    w = World(factory, people).build()
    with unit_of_work(factory) as s:
        for member in [w.operator, w.second_operator, *w.researchers.values(), *w.reviewers, *w.delegates.values()]:
            accounts.set_password(s, person_id=member.person.id, password=PASSWORD)
    return w


@contextmanager
def at(moment):
    with clock.frozen_at(moment):
        yield


def as_(client, member) -> None:
    """Sign the browser in as ``member`` (in real time: the session outlives every frozen moment of a test)."""
    client.cookies.clear()
    response = login(client, member.person.email)
    assert response.status_code == 303, response.text


def post(client, action: str, data: dict | None = None):
    """Submit a form as a browser does: with the CSRF token its page carries (the header's form has it too)."""
    token = csrf_of(client.get("/calls").text)
    return client.post(action, data={"csrf_token": token, **(data or {})}, follow_redirects=False)


def count(factory, model, *where) -> int:
    with factory() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))


def proposal_of(factory, proposal_id: int) -> Proposal:
    with factory() as s:
        proposal = s.get(Proposal, proposal_id)
        s.expunge(proposal)
        return proposal


def ledger_kinds(factory) -> list[str]:
    with factory() as s:
        return list(s.scalars(select(LedgerEntry.kind).order_by(LedgerEntry.id)))


def nav_of(html: str) -> list[str]:
    return re.findall(r'<li><a href="([^"]+)"', re.search(r'<nav aria-label="Main">(.*?)</nav>', html, re.S).group(1))


def cells(fragment: str) -> str:
    """What a reader sees of a fragment, one space between cells (and for the thin space grouping digits)."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def section(html: str, heading_id: str) -> str:
    return cells(re.search(rf'<section aria-labelledby="{heading_id}"[^>]*>(.*?)</section>', html, re.S).group(1))


PROPOSAL_FORM = {
    "track": "science", "title": "Open weather model", "summary": "A public model of the weather.",
    "keywords": "climate, vision", "requested_hours": "2000", "accelerator": "nvidia-h100", "duration_months": "12",
    "licence_weights": "apache-2.0", "licence_code": "MIT", "licence_data": "CC-BY-4.0",
    "release_within_months": "6", "safety_statement": "Low risk.", "data_management_plan": "Open data.", "team": "",
}


@dataclass
class Decided:
    call_id: int
    ids: list[int]  # DE 5,000 h (score 5), FR 4,000 h (score 4), FI 3,000 h (score 2: not fundable)
    fast: int  # PT, fast lane, 400 h
    closed: object
    slate_id: int
    approval_motion: int
    slate_motion: int
    decided_at: object


def run_call(world: World, *, until: str = "decided") -> Decided:
    """A call taken through the services up to a step: "review", "released", "ranked" or "decided"."""
    call_id = world.draft_call()
    world.approve_call(call_id)
    with world.factory() as s:
        approval = calls.get_call(s, call_id).approval_motion_id
    ids = [world.propose(call_id, code, hours=h) for code, h in (("DE", 5_000), ("FR", 4_000), ("FI", 3_000))]
    fast = world.propose(call_id, "PT", track=Track.FAST_LANE, hours=400)
    closed = world.close(call_id)
    world.pass_checks(*ids, fast, at=closed)
    result = Decided(call_id, ids, fast, closed, 0, approval, 0, None)
    if until == "review":
        return result
    world.review_all(call_id, at=closed + timedelta(days=1),
                     scores_for=lambda pid, i: {ids[0]: 5, ids[1]: 4, ids[2]: 2}[pid])
    world.release(call_id, at=closed + timedelta(days=20))
    if until == "released":
        return result
    world.rank(call_id, at=closed + timedelta(days=40))
    if until == "ranked":
        return result
    result.slate_id, result.slate_motion = world.propose_slate(call_id, at=closed + timedelta(days=41))
    result.decided_at = world.decide(result.slate_motion, at=closed + timedelta(days=41))
    return result


# --- public pages --------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/calls", "/calls/{call}", "/projects", "/access/statistics",
                                  "/access/statistics?call={call}"])
def test_public_access_pages_render_without_login(client, world, path):
    done = run_call(world)
    response = client.get(path.format(call=done.call_id))
    assert response.status_code == 200, response.text
    page = audit(response.text)
    assert page.h1 == 1
    assert page.unlabelled() == []
    assert header_text(response.text) == "Log in"
    assert "<script" not in response.text


def test_the_call_page_shows_terms_ranking_slate_shares_and_the_council_motions(client, world):
    done = run_call(world)
    html = client.get(f"/calls/{done.call_id}").text
    tracks = section(html, "h-tracks")
    assert "Science 10 000 5 000 100" in tracks and "Fast lane 1 000 500 50" in tracks
    assert "Excellence 30 30%" in section(html, "h-rubric")
    council = section(html, "h-council")
    assert f"motion {done.approval_motion}: Approval of the call: Open models 2026" in council
    assert f"motion {done.slate_motion}: Allocation slate for the call" in council
    assert f'href="/decisions/{done.approval_motion}"' in html and f'href="/decisions/{done.slate_motion}"' in html
    ranking = section(html, "h-ranking")
    assert ranking.index("Project from DE") < ranking.index("Project from FR") < ranking.index("Project from FI")
    assert f"1 {done.ids[0]}. Project from DE University of DE DE Science 5 excellence 5, impact 5, feasibility 5, " \
        "openness 5, safety 5 yes 5 000" in ranking
    assert f"{done.ids[2]}. Project from FI University of FI FI Science 2 excellence 2," in ranking
    assert "safety 2 no 3 000" in ranking
    assert "technical review only" in ranking
    slate = section(html, "h-slate")
    assert "Approved by the council" in slate
    assert f"{done.ids[0]}. Project from DE DE Science 5 000 5 000" in slate
    assert "below funding threshold" in slate
    assert "Germany (DE) 5 000 53.19% 0.00% no" in slate
    assert '<svg xmlns="http://www.w3.org/2000/svg" role="img"' in html
    assert f"Allocated share and contribution share by state, slate {done.slate_id}" in html
    # Reviewers are never named on the public page.
    for member in world.reviewers:
        assert member.person.display_name not in html


def test_drafts_and_calls_before_the_council_are_for_operators_only(client, world):
    draft = world.draft_call()
    assert "Open models 2026" not in client.get("/calls").text
    assert client.get(f"/calls/{draft}").status_code == 404
    as_(client, world.researchers["DE"])
    assert client.get(f"/calls/{draft}").status_code == 404
    as_(client, world.operator)
    assert client.get(f"/calls/{draft}").status_code == 200
    assert "In preparation (operators only)" in client.get("/calls").text


def test_projects_and_statistics_show_allocations_with_svg_charts(client, world):
    done = run_call(world)
    html = client.get("/projects").text
    rows = [cells(r) for r in re.findall(r'<tr id="allocation-\d+">(.*?)</tr>', html, re.S)]
    assert [r.split(" Public")[0] for r in rows] == [f"Project from {c}" for c in ("PT", "FR", "DE")]
    assert "University of DE Germany Science 5 000" in rows[2]
    assert "9 400 GPU-hours are granted" in text(html)
    stats = client.get("/access/statistics").text
    states = section(stats, "h-states")
    assert "Germany (DE) 1 5 000 5 000 1" in states and "Finland (FI) 1 3 000 0 0" in states
    assert "Fast lane 1 400 400 1" in section(stats, "h-tracks")
    assert stats.count('role="img"') == 5
    assert "<title id=\"state-hours-title\">GPU-hours requested and awarded by member state</title>" in stats
    assert "DE: Requested 5\u202f000, Awarded 5\u202f000" in stats
    assert "no scale in force" in section(stats, "h-shares")
    filtered = client.get(f"/access/statistics?call={done.call_id}")
    assert filtered.status_code == 200 and "for the call “Open models 2026”" in text(filtered.text)
    assert client.get("/access/statistics?call=999").status_code == 404


PRIVATE_PAGES = ["/proposals/mine", "/proposals/{proposal}", "/proposals/{proposal}/edit", "/reviews",
                 "/reviews/{proposal}", "/assignments", "/calls/new", "/calls/{call}/manage",
                 "/calls/{call}/assignments", "/calls/{call}/proposals/new", "/appeals", "/allocations"]


@pytest.mark.parametrize("path", PRIVATE_PAGES)
def test_anonymous_visitors_are_sent_to_log_in_for_every_page_that_is_not_public(client, world, path):
    call_id = world.draft_call()
    world.approve_call(call_id)
    proposal_id = world.propose(call_id, "DE")
    url = path.format(call=call_id, proposal=proposal_id)
    response = client.get(url, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=")


def test_anonymous_forms_change_nothing(client, world):
    call_id = world.draft_call()
    world.approve_call(call_id)
    proposal_id = world.propose(call_id, "DE", submit=False)
    client.get("/calls")
    token = csrf_of(client.get("/login").text)
    for action in (f"/proposals/{proposal_id}/submit", f"/calls/{call_id}/close", "/calls"):
        response = client.post(action, data={"csrf_token": token}, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"].startswith("/login")
    assert proposal_of(world.factory, proposal_id).status is ProposalStatus.DRAFT


def test_navigation_offers_each_role_its_pages(client, world):
    assert {"/calls", "/projects"} <= set(nav_of(client.get("/").text))
    assert not {"/proposals/mine", "/reviews", "/assignments"} & set(nav_of(client.get("/").text))
    for member, link in ((world.researchers["DE"], "/proposals/mine"), (world.reviewers[0], "/reviews"),
                         (world.operator, "/assignments")):
        as_(client, member)
        links = nav_of(client.get("/").text)
        assert link in links
        assert not {"/proposals/mine", "/reviews", "/assignments"} - {link} & set(links)
    html = client.get("/assignments").text
    assert re.findall(r'<a href="([^"]+)" aria-current="page"', html) == ["/assignments"]


# --- researchers ---------------------------------------------------------------------------------


def test_a_researcher_writes_edits_and_submits_a_proposal_through_the_forms(client, world):
    call_id = world.draft_call()
    world.approve_call(call_id)
    de = world.researchers["DE"]
    as_(client, de)
    with at(world.open_at(call_id) + timedelta(hours=2)):
        listing = client.get("/proposals/mine").text
        assert f'href="/calls/{call_id}/proposals/new"' in listing
        form_page = client.get(f"/calls/{call_id}/proposals/new")
        assert form_page.status_code == 200 and audit(form_page.text).unlabelled() == []
        created = post(client, f"/calls/{call_id}/proposals",
                       {**PROPOSAL_FORM, "team": world.researchers["FR"].person.email})
        assert created.status_code == 303, alert_text(created.text)
        proposal_id = int(created.headers["location"].rsplit("/", 1)[1])
        page = client.get(f"/proposals/{proposal_id}").text
        assert f"Proposal {proposal_id} is saved as a draft." in text(page)
        assert "Status: Draft" in text(page)
        saved = proposal_of(world.factory, proposal_id)
        assert (saved.licence_weights, saved.keywords, saved.status) == ("Apache-2.0", ["climate", "vision"],
                                                                         ProposalStatus.DRAFT)

        edit_page = client.get(f"/proposals/{proposal_id}/edit").text
        assert "Open weather model" in edit_page and world.researchers["FR"].person.email in edit_page
        edited = post(client, f"/proposals/{proposal_id}/edit", {**PROPOSAL_FORM, "title": "Open climate model",
                                                                 "team": world.researchers["FR"].person.email})
        assert edited.status_code == 303
        submitted = post(client, f"/proposals/{proposal_id}/submit")
        assert submitted.status_code == 303
        assert "is submitted" in text(client.get(f"/proposals/{proposal_id}").text)
    saved = proposal_of(world.factory, proposal_id)
    assert (saved.title, saved.status) == ("Open climate model", ProposalStatus.SUBMITTED)
    assert ledger_kinds(world.factory)[-1] == "access.proposal.submitted"
    assert "Open climate model" in section(client.get(f"/calls/{call_id}").text, "h-received")
    # The team member sees it among their proposals, but only the principal investigator acts on it.
    as_(client, world.researchers["FR"])
    assert "Team member" in client.get("/proposals/mine").text
    assert "/edit" not in client.get(f"/proposals/{proposal_id}").text


@pytest.mark.parametrize(("change", "field", "message"), [
    ({"licence_weights": "Not-A-Licence"}, "licence_weights", "is not an SPDX licence"),
    ({"requested_hours": "many"}, "requested_hours", "whole, positive number of GPU-hours"),
    ({"requested_hours": "6000"}, "requested_hours", "allows at most 5,000 GPU-hours"),
    ({"track": "safety"}, "track", "has no safety track"),
    ({"team": "nobody@nowhere.example"}, "team", "no account for"),
    ({"duration_months": "99"}, "duration_months", "from 1 to 36"),
])
def test_a_bad_proposal_form_names_the_field_keeps_the_input_and_changes_nothing(client, world, change, field,
                                                                                 message):
    call_id = world.draft_call()
    world.approve_call(call_id)
    as_(client, world.researchers["DE"])
    with at(world.open_at(call_id) + timedelta(hours=2)):
        response = post(client, f"/calls/{call_id}/proposals", {**PROPOSAL_FORM, **change})
    assert response.status_code == 422
    assert message in alert_text(response.text)
    assert f'href="#f-{field}"' in response.text
    assert re.search(rf'id="f-{field}"[^>]*aria-invalid="true"', response.text, re.S)
    assert 'value="Open weather model"' in response.text
    assert count(world.factory, Proposal) == 0


def test_submitting_after_the_deadline_shows_why_and_changes_nothing(client, world):
    call_id = world.draft_call()
    world.approve_call(call_id)
    draft = world.propose(call_id, "DE", submit=False)
    as_(client, world.researchers["DE"])
    with at(world.closes_at(call_id)):
        response = post(client, f"/proposals/{draft}/submit")
        assert response.status_code == 409
        assert "it takes no more proposals" in alert_text(response.text)
        assert client.get(f"/calls/{call_id}/proposals/new").status_code == 409
    assert proposal_of(world.factory, draft).status is ProposalStatus.DRAFT


def test_only_the_team_and_the_panel_read_a_proposal(client, world):
    call_id = world.draft_call()
    world.approve_call(call_id)
    draft = world.propose(call_id, "DE", submit=False)
    submitted = world.propose(call_id, "FR")
    as_(client, world.researchers["FI"])
    assert client.get(f"/proposals/{draft}").status_code == 404
    denied = client.get(f"/proposals/{submitted}")
    assert denied.status_code == 403 and "for its applicants, its reviewers and operators" in denied.text
    assert client.get(f"/proposals/{submitted}/edit").status_code == 403
    with at(world.open_at(call_id) + timedelta(hours=2)):
        response = post(client, f"/proposals/{draft}/submit")
    assert response.status_code == 404
    assert proposal_of(world.factory, draft).status is ProposalStatus.DRAFT
    as_(client, world.reviewers[0])
    assert client.get(f"/proposals/{submitted}").status_code == 403
    assert client.get(f"/calls/{call_id}/proposals/new").status_code == 403
    as_(client, world.operator)
    assert client.get(f"/proposals/{draft}").status_code == 200


def test_applicants_see_anonymised_reviews_never_names_or_confidential_comments(client, world):
    done = run_call(world, until="released")
    pid = done.ids[0]
    with world.factory() as s:
        rows = reviews.submitted_reviews(s, pid)
        names = [r.reviewer.display_name for r in rows]
        emails = [r.reviewer.email for r in rows]
        confidential = [r.confidential_comments for r in rows]
        for_applicants = [r.comments_for_applicants for r in rows]
    assert len(rows) == 3
    as_(client, world.researchers["DE"])
    with at(done.closed + timedelta(days=21)):
        html = client.get(f"/proposals/{pid}").text
    shown = section(html, "h-reviews")
    assert [f"Reviewer {i}: weighted score 5" for i in (1, 2, 3)] == re.findall(r"Reviewer \d: weighted score 5", shown)
    for comment in for_applicants:
        assert comment in shown
    for secret in [*names, *emails, *confidential]:
        assert secret not in html, f"{secret!r} leaked to the applicant"
    assert "as the panel sees them" not in html
    # The operators see who wrote what, and the panel's comments.
    as_(client, world.operator)
    panel = client.get(f"/proposals/{pid}").text
    assert all(name in panel for name in names) and all(c in panel for c in confidential)


def test_the_applicants_reply_once_during_the_right_to_reply(client, world):
    done = run_call(world, until="released")
    pid = done.ids[1]
    as_(client, world.researchers["FR"])
    with at(done.closed + timedelta(days=21)):
        page = client.get(f"/proposals/{pid}").text
        assert f'action="/proposals/{pid}/reply"' in page and audit(page).unlabelled() == []
        empty = post(client, f"/proposals/{pid}/reply", {"reply": "   "})
        assert empty.status_code == 422 and "reply: the reply is empty" in alert_text(empty.text)
        assert post(client, f"/proposals/{pid}/reply", {"reply": "We will halve the data."}).status_code == 303
        page = client.get(f"/proposals/{pid}").text
        assert "We will halve the data." in section(page, "h-reply")
        assert f'action="/proposals/{pid}/reply"' not in page
        again = post(client, f"/proposals/{pid}/reply", {"reply": "Second thoughts."})
    assert again.status_code == 409 and "a reply is given once" in alert_text(again.text)
    assert proposal_of(world.factory, pid).reply == "We will halve the data."
    # Someone else's proposal: no reply.
    as_(client, world.researchers["DE"])
    with at(done.closed + timedelta(days=21)):
        assert post(client, f"/proposals/{pid}/reply", {"reply": "Not mine."}).status_code == 403


# --- reviewers -----------------------------------------------------------------------------------


def assignments_of(factory, call_id: int) -> dict[int, set[int]]:
    """Reviewer person id -> proposal ids they review."""
    with factory() as s:
        out: dict[int, set[int]] = {}
        for a in reviews.live_assignments(s, call_id):
            out.setdefault(a.reviewer_id, set()).add(a.proposal_id)
        return out


def test_a_reviewer_reviews_an_assigned_proposal_through_the_form(client, world):
    done = run_call(world, until="review")
    with at(done.closed), unit_of_work(world.factory) as s:
        reviews.assign_automatically(s, actor=p(world.operator), call_id=done.call_id)
    mine = assignments_of(world.factory, done.call_id)
    reviewer = next(m for m in world.reviewers if m.person.id in mine)
    pid = min(mine[reviewer.person.id])
    as_(client, reviewer)
    queue = client.get("/reviews").text
    assert f'href="/reviews/{pid}"' in queue
    page = client.get(f"/reviews/{pid}")
    assert page.status_code == 200 and audit(page.text).unlabelled() == []
    assert "Public summary." in page.text

    missing = post(client, f"/reviews/{pid}", {"score_0": "4", "score_1": "9", "comments_for_applicants": "Good."})
    assert missing.status_code == 422
    alert = alert_text(missing.text)
    assert "score impact from 1 to 5" in alert and "score feasibility from 1 to 5" in alert
    assert 'href="#f-score_1"' in missing.text and 'value="4" id="score_0-4" checked' in missing.text
    no_comments = post(client, f"/reviews/{pid}", {f"score_{i}": "4" for i in range(5)})
    assert no_comments.status_code == 422 and "write comments for the applicants" in alert_text(no_comments.text)
    with world.factory() as s:
        assert reviews.my_assignment(s, p(reviewer), pid).scores is None

    saved = post(client, f"/reviews/{pid}", {**{f"score_{i}": str(i + 1) for i in range(5)},
                                            "comments_for_applicants": "Sound plan.",
                                            "confidential_comments": "Ask about the data."})
    assert saved.status_code == 303
    with world.factory() as s:
        row = reviews.my_assignment(s, p(reviewer), pid)
        assert (row.status, row.scores, row.confidential_comments) == (
            AssignmentStatus.SUBMITTED, dict(zip(SCORES, range(1, 6), strict=True)), "Ask about the data.")
    assert "Review submitted" in client.get("/reviews").text
    assert 'value="5" id="score_4-5" checked' in client.get(f"/reviews/{pid}").text


def test_a_reviewer_sees_no_proposal_they_are_not_assigned_to(client, world):
    done = run_call(world, until="review")
    with at(done.closed), unit_of_work(world.factory) as s:
        reviews.assign_automatically(s, actor=p(world.operator), call_id=done.call_id)
    mine = assignments_of(world.factory, done.call_id)
    reviewer = next(m for m in world.reviewers if m.person.id in mine and len(mine[m.person.id]) < 3)
    other = next(pid for pid in done.ids if pid not in mine[reviewer.person.id])
    as_(client, reviewer)
    assert f"/reviews/{other}" not in client.get("/reviews").text
    for url in (f"/reviews/{other}", f"/proposals/{other}"):
        response = client.get(url)
        assert response.status_code == 403, url
        assert "Project from" not in response.text
    attempt = post(client, f"/reviews/{other}", {**{f"score_{i}": "5" for i in range(5)},
                                                 "comments_for_applicants": "Sneaky."})
    assert attempt.status_code == 403
    assert count(world.factory, ReviewAssignment, ReviewAssignment.reviewer_id == reviewer.person.id,
                 ReviewAssignment.proposal_id == other) == 0
    # The operators' pages are not for reviewers.
    for url in (f"/calls/{done.call_id}/assignments", f"/calls/{done.call_id}/manage", "/assignments"):
        assert client.get(url).status_code == 403, url


def test_a_reviewer_declares_expertise_and_a_conflict(client, world):
    done = run_call(world, until="review")
    with at(done.closed), unit_of_work(world.factory) as s:
        reviews.assign_automatically(s, actor=p(world.operator), call_id=done.call_id)
    mine = assignments_of(world.factory, done.call_id)
    reviewer = next(m for m in world.reviewers if m.person.id in mine)
    pid = min(mine[reviewer.person.id])
    as_(client, reviewer)
    bad = post(client, "/reviews/expertise", {"keywords": "robotics", "max_load": "500"})
    assert bad.status_code == 422 and "max load: from 1 to 100" in alert_text(bad.text)
    assert post(client, "/reviews/expertise", {"keywords": "Robotics, climate", "max_load": ""}).status_code == 303
    with world.factory() as s:
        assert s.get(ReviewerProfile, reviewer.person.id).keywords == ["climate", "robotics"]

    no_reason = post(client, f"/reviews/{pid}/conflict", {"reason": ""})
    assert no_reason.status_code == 422 and "say briefly what the conflict is" in alert_text(no_reason.text)
    assert count(world.factory, ConflictDeclaration) == 0
    assert post(client, f"/reviews/{pid}/conflict", {"reason": "I co-wrote with the PI."}).status_code == 303
    assert pid not in assignments_of(world.factory, done.call_id).get(reviewer.person.id, set())
    assert client.get(f"/reviews/{pid}").status_code == 403
    other = next(x for x in done.ids if x != pid)
    assert post(client, "/reviews/conflicts", {"proposal": str(other), "reason": "Same lab."}).status_code == 303
    assert count(world.factory, ConflictDeclaration) == 2
    assert post(client, "/reviews/conflicts", {"proposal": "x", "reason": "?"}).status_code == 422


# --- operators -----------------------------------------------------------------------------------

CALL_FORM = {"title": "Safety models 2027", "description": "Second call.", "opens_at": "2027-01-04T09:00",
             "closes_at": "2027-02-15T17:00", "allocation_starts_on": "2027-04-01", "pool_science": "20000",
             "cap_science": "4000", "min_science": "200", "rubric": "excellence 40\nimpact 30\nsafety 30",
             "min_reviews": "3", "max_load": "8", "spread_threshold": "2", "funding_threshold": "7/2",
             "policy": "merit", "tolerance": "1/20", "reply_days": "14", "appeal_days": "30"}


@pytest.mark.parametrize(("change", "field", "message"), [
    ({"pool_science": "", "cap_science": "", "min_science": ""}, "tracks", "a call needs at least one track"),
    ({"cap_science": "30000"}, "cap_science", "at most the pool"),
    ({"min_science": "lots"}, "min_science", "give whole GPU-hours"),
    ({"closes_at": "2026-12-01T09:00"}, "closes_at", "the call must close after it opens"),
    ({"opens_at": "next week"}, "opens_at", "give the opening as a date and time in UTC"),
    ({"rubric": "excellence"}, "rubric", "one criterion a line"),
    ({"funding_threshold": "9"}, "funding_threshold", "must be from 1 to 5"),
    ({"title": ""}, "title", "give the call a title"),
])
def test_a_bad_call_form_names_the_field_and_changes_nothing(client, world, change, field, message):
    as_(client, world.operator)
    response = post(client, "/calls", {**CALL_FORM, **change})
    assert response.status_code == 422
    assert message in alert_text(response.text)
    assert f'href="#f-{field}"' in response.text
    assert count(world.factory, Call) == 0


def test_an_operator_drafts_a_call_and_puts_it_to_the_council(client, world):
    as_(client, world.operator)
    page = client.get("/calls/new")
    assert page.status_code == 200 and audit(page.text).unlabelled() == []
    created = post(client, "/calls", CALL_FORM)
    assert created.status_code == 303
    with world.factory() as s:
        call = s.scalar(select(Call))
        assert (call.title, call.status, call.rubric[0], call.funding_threshold, [t.pool_hours for t in call.tracks]) \
            == ("Safety models 2027", CallStatus.DRAFT, {"name": "excellence", "weight": 40}, "3.5", [20_000])
    assert created.headers["location"] == f"/calls/{call.id}/manage"
    desk = client.get(f"/calls/{call.id}/manage").text
    assert "Put to the council" in desk and audit(desk).unlabelled() == []
    assert post(client, f"/calls/{call.id}/submit-for-approval").status_code == 303
    with world.factory() as s:
        call = s.get(Call, call.id)
        assert call.status is CallStatus.AWAITING_APPROVAL
        motion_id = call.approval_motion_id
        assert s.get(Motion, motion_id).payload == {"call_id": call.id}
    desk = client.get(f"/calls/{call.id}/manage").text
    assert f"motion {motion_id} is drafted" in text(desk)
    assert f'href="/council/motions/{motion_id}"' in desk
    again = post(client, f"/calls/{call.id}/submit-for-approval")
    assert again.status_code == 409 and "only a draft goes to the council" in alert_text(again.text)
    # A delegate follows the motion once notice is given; the call itself stays private until approved.
    as_(client, world.delegates["DE"])
    assert client.get(f"/calls/{call.id}").status_code == 404
    # Researchers and reviewers may not draft calls.
    for member in (world.researchers["DE"], world.reviewers[0]):
        as_(client, member)
        assert client.get("/calls/new").status_code == 403
        assert post(client, "/calls", CALL_FORM).status_code == 403
    assert count(world.factory, Call) == 1


def test_an_operator_closes_a_call_and_records_technical_checks(client, world):
    call_id = world.draft_call()
    world.approve_call(call_id)
    ids = [world.propose(call_id, code) for code in ("DE", "FR")]
    as_(client, world.operator)
    with at(world.closes_at(call_id) - timedelta(hours=1)):
        early = post(client, f"/calls/{call_id}/close")
        assert early.status_code == 409 and "takes proposals until" in alert_text(early.text)
    with at(world.closes_at(call_id)):
        assert post(client, f"/calls/{call_id}/close").status_code == 303
        desk = client.get(f"/calls/{call_id}/manage").text
        assert audit(desk).unlabelled() == []
        assert f'action="/proposals/{ids[0]}/technical-check"' in desk
        no_notes = post(client, f"/proposals/{ids[0]}/technical-check", {"result": "fail", "notes": ""})
        assert no_notes.status_code == 422
        assert "a failed technical check needs a written rationale" in no_notes.text
        assert proposal_of(world.factory, ids[0]).status is ProposalStatus.TECHNICAL_CHECK
        no_result = post(client, f"/proposals/{ids[0]}/technical-check", {"notes": "ok"})
        assert no_result.status_code == 422 and "passes or fails" in no_result.text
        assert post(client, f"/proposals/{ids[0]}/technical-check", {"result": "pass"}).status_code == 303
        failed = post(client, f"/proposals/{ids[1]}/technical-check",
                      {"result": "fail", "notes": "The code needs an accelerator we do not have."})
        assert failed.status_code == 303
        twice = post(client, f"/proposals/{ids[1]}/technical-check", {"result": "pass"})
        assert twice.status_code == 409
    assert proposal_of(world.factory, ids[0]).status is ProposalStatus.IN_REVIEW
    rejected = proposal_of(world.factory, ids[1])
    assert (rejected.status, rejected.rationale) == (ProposalStatus.REJECTED,
                                                     "The code needs an accelerator we do not have.")


def test_the_assignment_board_runs_the_automatic_assignment_and_enforces_conflicts(client, world):
    done = run_call(world, until="review")
    pid = done.ids[0]  # the German proposal
    conflicted = world.reviewers[0]
    with unit_of_work(world.factory) as s:
        accounts.get_person(s, conflicted.person.id).institution_id = world.institutions["DE"]
    as_(client, world.operator)
    with at(done.closed):
        board = client.get(f"/calls/{done.call_id}/assignments")
        assert board.status_code == 200 and audit(board.text).unlabelled() == []
        assert post(client, f"/calls/{done.call_id}/assignments/auto").status_code == 303
        page = client.get(f"/calls/{done.call_id}/assignments").text
        assert "9 reviews assigned automatically" in text(page)
        assigned = assignments_of(world.factory, done.call_id)
        assert pid not in assigned.get(conflicted.person.id, set())
        option = re.search(rf'<select id="reviewer_id-{pid}".*?</select>', page, re.S).group(0)
        assert "CONFLICT: works or worked in the last 12 months at an applicant&#39;s institution" in option

        refused = post(client, f"/proposals/{pid}/assignments", {"reviewer_id": str(conflicted.person.id)})
        assert refused.status_code == 422
        assert f'<p class="error" id="e-justification-{pid}">this reviewer has a conflict of interest' \
            in refused.text
        assert pid not in assignments_of(world.factory, done.call_id).get(conflicted.person.id, set())
        assert post(client, f"/proposals/{pid}/assignments", {"reviewer_id": ""}).status_code == 422

        overridden = post(client, f"/proposals/{pid}/assignments",
                          {"reviewer_id": str(conflicted.person.id), "justification": "The only expert; agreed."})
        assert overridden.status_code == 303
        assert ledger_kinds(world.factory)[-1] == "access.conflict.overridden"
        page = client.get(f"/calls/{done.call_id}/assignments").text
        assert "Conflict overridden" in page and "The only expert; agreed." in page
        with world.factory() as s:
            row = s.scalar(select(ReviewAssignment).where(ReviewAssignment.reviewer_id == conflicted.person.id,
                                                          ReviewAssignment.proposal_id == pid))
        assert post(client, f"/assignments/{row.id}/withdraw").status_code == 303
        assert pid not in assignments_of(world.factory, done.call_id).get(conflicted.person.id, set())
        again = post(client, f"/assignments/{row.id}/withdraw")
        assert again.status_code == 409 and "already withdrawn" in alert_text(again.text)
    as_(client, world.researchers["DE"])
    assert client.get(f"/calls/{done.call_id}/assignments").status_code == 403
    assert post(client, f"/calls/{done.call_id}/assignments/auto").status_code == 403


def test_an_operator_releases_ranks_and_proposes_the_slate_from_the_desk(client, world):
    done = run_call(world, until="review")
    with at(done.closed + timedelta(days=1)), unit_of_work(world.factory) as s:
        reviews.assign_automatically(s, actor=p(world.operator), call_id=done.call_id)
    as_(client, world.operator)
    desk_url = f"/calls/{done.call_id}/manage"
    with at(done.closed + timedelta(days=2)):
        early = post(client, f"/calls/{done.call_id}/release-reviews")
        assert early.status_code == 409 and "have fewer than 3 reviews" in alert_text(early.text)
    world.review_all(done.call_id, at=done.closed + timedelta(days=3))
    with at(done.closed + timedelta(days=4)):
        assert post(client, f"/calls/{done.call_id}/release-reviews").status_code == 303
        waiting = post(client, f"/calls/{done.call_id}/rank")
        assert waiting.status_code == 409 and "may still reply" in alert_text(waiting.text)
    with at(done.closed + timedelta(days=30)):
        assert post(client, f"/calls/{done.call_id}/rank").status_code == 303
        assert "Published ranking" in client.get(f"/calls/{done.call_id}").text
        assert post(client, f"/calls/{done.call_id}/slate").status_code == 303
        desk = client.get(desk_url).text
    with world.factory() as s:
        call = s.get(Call, done.call_id)
        motion_id = s.scalar(select(Slate.motion_id))
        assert call.status is CallStatus.SLATE_PROPOSED
    assert f"motion {motion_id} drafted to approve it" in text(desk)
    assert f'href="/council/motions/{motion_id}"' in desk
    assert "Allocation slate" in desk and "Awards, in rank order" in desk
    # The public sees the slate once its motion is noticed, not before.
    client.cookies.clear()
    assert 'id="h-slate"' not in client.get(f"/calls/{done.call_id}").text


def test_appeals_are_decided_by_another_operator_and_allocations_revoked_with_a_reason(client, world):
    done = run_call(world)
    fi = done.ids[2]
    as_(client, world.researchers["FI"])
    with at(done.decided_at + timedelta(days=1)):
        page = client.get(f"/proposals/{fi}").text
        assert "Not funded: ranked 3 overall" in page and f'action="/proposals/{fi}/appeal"' in page
        assert post(client, f"/proposals/{fi}/appeal", {"grounds": ""}).status_code == 422
        assert post(client, f"/proposals/{fi}/appeal", {"grounds": "Reviewer 2 misread the plan."}).status_code == 303
    # The operator who computed the slate decided the rejection; another one decides the appeal.
    as_(client, world.operator)
    with at(done.decided_at + timedelta(days=2)):
        appeals = client.get("/appeals").text
        assert "Reviewer 2 misread the plan." in appeals
        assert "another operator decides the appeal" in appeals
        denied = post(client, f"/proposals/{fi}/appeal/decision", {"outcome": "upheld", "decision": "Yes."})
        assert denied.status_code == 403
    as_(client, world.second_operator)
    with at(done.decided_at + timedelta(days=2)):
        page = client.get("/appeals")
        assert audit(page.text).unlabelled() == []
        no_outcome = post(client, f"/proposals/{fi}/appeal/decision", {"decision": "Hmm."})
        assert no_outcome.status_code == 422 and "upheld or dismissed" in alert_text(no_outcome.text)
        assert post(client, f"/proposals/{fi}/appeal/decision",
                    {"outcome": "dismissed", "decision": "The scores stand."}).status_code == 303
    with world.factory() as s:
        appeal = s.scalar(select(Appeal))
        assert (appeal.status, appeal.decision) == (AppealStatus.DISMISSED, "The scores stand.")

    with world.factory() as s:
        allocation_id = s.scalar(select(Allocation.id).where(Allocation.proposal_id == done.ids[0]))
    page = client.get("/allocations").text
    assert audit(page).unlabelled() == [] and f'action="/allocations/{allocation_id}/revoke"' in page
    no_reason = post(client, f"/allocations/{allocation_id}/revoke", {"reason": " "})
    assert no_reason.status_code == 422 and "a revocation states its reason" in no_reason.text
    assert post(client, f"/allocations/{allocation_id}/revoke", {"reason": "Misuse."}).status_code == 303
    with world.factory() as s:
        assert s.get(Allocation, allocation_id).status is AllocationStatus.REVOKED
    assert "Revoked" in client.get("/projects").text
    as_(client, world.researchers["DE"])
    assert client.get("/allocations").status_code == 403 and client.get("/appeals").status_code == 403


def test_the_principal_investigator_accepts_the_award_and_files_the_final_report(client, world):
    done = run_call(world)
    de = done.ids[0]
    as_(client, world.researchers["FR"])
    assert post(client, f"/proposals/{de}/accept").status_code == 403
    as_(client, world.researchers["DE"])
    page = client.get(f"/proposals/{de}").text
    assert "Approved: 5 000 GPU-hours" in text(page).replace("\u202f", " ")
    assert post(client, f"/proposals/{de}/accept").status_code == 303
    page = client.get(f"/proposals/{de}").text
    assert f'action="/proposals/{de}/final-report"' in page and audit(page).unlabelled() == []
    bad = post(client, f"/proposals/{de}/final-report", {"report_summary": "Done.", "output_title_1": "Weights"})
    assert bad.status_code == 422
    assert 'href="#f-output_kind_1"' in bad.text and "one of: model, dataset" in alert_text(bad.text)
    assert proposal_of(world.factory, de).status is ProposalStatus.ACTIVE
    good = post(client, f"/proposals/{de}/final-report",
                {"report_summary": "Trained and released.", "output_kind_1": "model", "output_title_1": "Weights",
                 "output_identifier_1": "https://example.org/w"})
    assert good.status_code == 303
    report = proposal_of(world.factory, de).final_report
    assert report == {"summary": "Trained and released.", "outputs": [
        {"kind": "model", "title": "Weights", "identifier": "https://example.org/w"}]}


def test_forms_without_a_valid_csrf_token_are_refused(client, world):
    call_id = world.draft_call()
    as_(client, world.operator)
    client.get("/calls")
    response = client.post(f"/calls/{call_id}/submit-for-approval", data={"csrf_token": "0" * 64},
                           follow_redirects=False)
    assert response.status_code == 403 and "security token" in response.text
    with world.factory() as s:
        assert s.get(Call, call_id).status is CallStatus.DRAFT


def test_an_auditor_reads_the_operators_desks_and_changes_nothing(client, world, people):
    done = run_call(world, until="review")
    auditor = people.make(Role.AUDITOR, password=PASSWORD)
    as_(client, auditor)
    for url in ("/assignments", f"/calls/{done.call_id}/manage", f"/calls/{done.call_id}/assignments", "/appeals",
                "/allocations", f"/proposals/{done.ids[0]}"):
        page = client.get(url)
        assert page.status_code == 200, url
        assert "/assignments/auto" not in page.text and "technical-check" not in page.text
    assert post(client, f"/calls/{done.call_id}/assignments/auto").status_code == 403
    assert post(client, f"/calls/{done.call_id}/rank").status_code == 403
    assert count(world.factory, ReviewAssignment) == 0


def test_delegates_follow_the_slate_motion_from_the_call_page_and_vote_it_on_the_council_page(client, world):
    done = run_call(world, until="ranked")
    _, motion_id = world.propose_slate(done.call_id, at=done.closed + timedelta(days=41))
    as_(client, world.delegates["DE"])
    assert f"/decisions/{motion_id}" not in client.get(f"/calls/{done.call_id}").text, "a draft motion is private"
    noticed = done.closed + timedelta(days=41)
    with at(noticed), unit_of_work(world.factory) as s:
        council.give_notice(s, actor=p(world.operator), motion_id=motion_id)
    with at(noticed + timedelta(days=14)), unit_of_work(world.factory) as s:
        council.open_voting(s, actor=p(world.operator), motion_id=motion_id, voting_days=7)
    with at(noticed + timedelta(days=15)):
        html = client.get(f"/calls/{done.call_id}").text
        assert f'href="/decisions/{motion_id}"' in html and f'href="/council#motion-{motion_id}"' in html
        assert "Allocation slate" in section(html, "h-slate")
        assert post(client, f"/council/motions/{motion_id}/ballot",
                    {"member_state": "DE", "choice": "yes"}).status_code == 303
    with world.factory() as s:
        assert {code: b.choice.value for code, b in council.final_ballots(s, motion_id).items()} == {"DE": "yes"}
