"""The access API through the ASGI app, on SQLite and on PostgreSQL: a call for proposals as its users see it
(council approval, proposals, technical check, peer review, right to reply, ranking, the slate, allocations),
the bad input and illegal moves a user can send, conflicts of interest, and what the ledger never says.

The clock is frozen around each request, so a call's dates, notice periods and reply periods pass without
waiting. The facility (states with delegates, institutions, researchers, reviewers) is ``tests.access.world``.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from aicommons import clock
from aicommons.identity.models import Role
from aicommons.ledger import sequencer
from aicommons.ledger.models import LedgerEntry
from tests.access.world import STATES, T0, World

PROBLEM = "application/problem+json"
RUBRIC = ("excellence", "impact", "feasibility", "openness", "safety")
SCIENCE_CAP = 5_000


@pytest.fixture
def database_url(any_db_url):
    return any_db_url


@pytest.fixture
def world(factory, people) -> World:
    return World(factory, people).build()


def at(moment: datetime):
    return clock.frozen_at(moment)


def _ok(response, status: int = 200):
    assert response.status_code == status, response.text
    return response.json()


def _problem(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert body["status"] == status and body["title"] and body["detail"]
    return body


def _field(response) -> str:
    """The field a 422 names (its first error)."""
    return _problem(response, 422)["errors"][0]["field"]


def call_body(**changes) -> dict:
    return {"title": "Open models 2026", "description": "First call.",
            "opens_at": (T0 + timedelta(days=30)).isoformat(), "closes_at": (T0 + timedelta(days=60)).isoformat(),
            "allocation_starts_on": (T0 + timedelta(days=120)).date().isoformat(),
            "tracks": [{"track": "science", "pool_hours": 10_000, "cap_hours": SCIENCE_CAP, "min_award_hours": 100},
                       {"track": "fast_lane", "pool_hours": 1_000, "cap_hours": 500, "min_award_hours": 50}],
            **changes}


def proposal_body(*, track: str = "science", hours: int = 2_000, **changes) -> dict:
    return {"track": track, "title": "Open multilingual models", "summary": "Public summary.",
            "keywords": ["language models"], "requested_hours": hours, "accelerator": "nvidia-h100",
            "duration_months": 12, "licence_weights": "Apache-2.0", "licence_code": "MIT", "licence_data": "CC-BY-4.0",
            "release_within_months": 6, "safety_statement": "Low risk.", "data_management_plan": "Open data.",
            "team": [], **changes}


def scores(value: int = 4, **changes) -> dict:
    return {**dict.fromkeys(RUBRIC, value), **changes}


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text)


# --- driving a call over HTTP ----------------------------------------------------------------------


def decide(client, w: World, motion_id: int, start: datetime) -> tuple[dict, datetime]:
    """Notice, a unanimous yes and publication through the governance API; the published motion and when."""
    op = w.operator.headers
    with at(start):
        assert _ok(client.post(f"/api/v1/motions/{motion_id}/notice", headers=op))["status"] == "notice"
    voting = start + timedelta(days=14)
    with at(voting):
        _ok(client.post(f"/api/v1/motions/{motion_id}/open-voting", headers=op, json={"voting_days": 1}))
        for code in STATES:
            _ok(client.post(f"/api/v1/motions/{motion_id}/ballots", headers=w.delegates[code].headers,
                            json={"choice": "yes"}), 201)
        for step in ("close", "tally", "publish"):  # every state has voted: the vote may close at once
            motion = _ok(client.post(f"/api/v1/motions/{motion_id}/{step}", headers=op))
    assert motion["status"] == "published" and motion["outcome"] == "passed", motion
    return motion, voting


def open_call(client, w: World, **changes) -> dict:
    """A call drafted, approved by the council and open for proposals."""
    with at(T0):
        call = _ok(client.post("/api/v1/calls", headers=w.operator.headers, json=call_body(**changes)), 201)
        call = _ok(client.post(f"/api/v1/calls/{call['id']}/submit-for-approval", headers=w.operator.headers))
    decide(client, w, call["approval_motion"], T0)
    return _ok(client.get(f"/api/v1/calls/{call['id']}"))


def propose(client, w: World, call: dict, country: str, *, submit: bool = True, **changes) -> dict:
    pi = w.researchers[country].headers
    with at(moment(call["opens_at"]) + timedelta(hours=1)):
        proposal = _ok(client.post(f"/api/v1/calls/{call['id']}/proposals", headers=pi,
                                   json=proposal_body(**changes)), 201)
        if submit:
            proposal = _ok(client.post(f"/api/v1/proposals/{proposal['id']}/submit", headers=pi))
    return proposal


def close(client, w: World, call: dict) -> datetime:
    closed = moment(call["closes_at"])
    with at(closed):
        assert _ok(client.post(f"/api/v1/calls/{call['id']}/close", headers=w.operator.headers))["status"] == "closed"
    return closed


def pass_checks(client, w: World, ids, when: datetime) -> None:
    with at(when):
        for pid in ids:
            _ok(client.post(f"/api/v1/proposals/{pid}/technical-check", headers=w.operator.headers,
                            json={"passed": True}))


def call_in_review(client, w: World, countries=("DE", "FR")) -> tuple[dict, dict[str, int], datetime]:
    """An approved call whose proposals passed their checks and have three reviewers each, none reviewed yet."""
    call = open_call(client, w)
    ids = {code: propose(client, w, call, code)["id"] for code in countries}
    closed = close(client, w, call)
    pass_checks(client, w, ids.values(), closed)
    with at(closed + timedelta(days=1)):
        run = _ok(client.post(f"/api/v1/calls/{call['id']}/assignments", headers=w.operator.headers))
    assert run["assigned"] == 3 * len(countries) and run["short"] == {}
    return call, ids, closed + timedelta(days=1)


def reviewers_by_id(w: World) -> dict:
    return {m.person.id: m for m in w.reviewers}


def assignments(client, w: World, call_id: int) -> list[dict]:
    return _ok(client.get(f"/api/v1/calls/{call_id}/assignments", headers=w.operator.headers))


def review_all(client, w: World, call_id: int, when: datetime, score_for) -> None:
    """Each reviewer reads their queue and reviews everything in it."""
    for reviewer in w.reviewers:
        with at(when):
            for item in _ok(client.get("/api/v1/reviews/queue", headers=reviewer.headers)):
                body = {"scores": scores(score_for(item["proposal"])), "comments_for_applicants": "Clear plan.",
                        "confidential_comments": f"PANEL ONLY {reviewer.person.email}"}
                reviewed = _ok(client.put(f"/api/v1/proposals/{item['proposal']}/review", headers=reviewer.headers,
                                          json=body))
                assert reviewed["status"] == "submitted"


def ledger_entries(factory, prefix: str = "access.") -> list[dict]:
    with factory() as s:
        return [json.loads(e.body) for e in s.scalars(select(LedgerEntry).order_by(LedgerEntry.id))
                if e.kind.startswith(prefix)]


def leaves(obj) -> list:
    """Every string and number in a JSON document, keys included."""
    if isinstance(obj, dict):
        return [x for k, v in obj.items() for x in (k, *leaves(v))]
    if isinstance(obj, list):
        return [x for v in obj for x in leaves(v)]
    return [obj]


def names_anyone(text: str, people) -> list[str]:
    """Which of these people a text names: by email, display name (as a whole word) or person URN."""
    found = []
    for person in people:
        if (person.email in text or re.search(rf"\b{re.escape(person.display_name)}\b", text)
                or f"urn:aicommons:person:{person.id}\"" in text):
            found.append(person.email)
    return found


def assert_ledger_is_private(factory, w: World) -> None:
    """No access entry names a reviewer or a principal investigator, nor quotes a panel comment."""
    entries = ledger_entries(factory)
    assert entries
    private = [m.person for m in w.reviewers] + [m.person for m in w.researchers.values()]
    for entry in entries:
        text = json.dumps(entry, ensure_ascii=False)
        assert not names_anyone(text, private), (entry["kind"], names_anyone(text, private))
        assert "PANEL ONLY" not in text and "reviewer" not in json.dumps(entry["data"]).lower(), entry


# --- the main path -----------------------------------------------------------------------------------


def test_a_call_runs_from_draft_to_allocations_over_http(client, world, factory):
    w, op = world, world.operator.headers
    with at(T0):
        r = client.post("/api/v1/calls", headers=op, json=call_body())
    call = _ok(r, 201)
    call_id = call["id"]
    assert r.headers["location"] == f"/api/v1/calls/{call_id}"
    assert call["status"] == "draft" and call["accepting_proposals"] is False and call["approval_motion"] is None
    assert [c["name"] for c in call["rubric"]] == list(RUBRIC)
    _problem(client.get(f"/api/v1/calls/{call_id}"), 404)  # a draft is the operators' until the council has it
    assert _ok(client.get("/api/v1/calls")) == []
    assert [c["id"] for c in _ok(client.get("/api/v1/calls", headers=op))] == [call_id]

    with at(T0):
        submitted = _ok(client.post(f"/api/v1/calls/{call_id}/submit-for-approval", headers=op))
    assert submitted["status"] == "awaiting_approval"
    motion_id = submitted["approval_motion"]
    motion = _ok(client.get(f"/api/v1/motions/{motion_id}", headers=op))
    assert motion["kind"] == "call_approval" and motion["payload"] == {"call_id": call_id}
    assert [a["filename"] for a in motion["attachments"]] == ["call-terms.json"]
    terms = client.get(f"/api/v1/motions/{motion_id}/attachments/call-terms.json", headers=op).json()
    assert terms["tracks"][0] == {"track": "science", "pool_hours": 10_000, "cap_hours": 5_000, "min_award_hours": 100}

    decide(client, w, motion_id, T0)
    public = _ok(client.get(f"/api/v1/calls/{call_id}"))
    assert public["status"] == "open" and [c["id"] for c in _ok(client.get("/api/v1/calls"))] == [call_id]
    with at(moment(public["opens_at"]) + timedelta(hours=1)):
        assert _ok(client.get(f"/api/v1/calls/{call_id}"))["accepting_proposals"] is True

    # Researchers write and submit; the fast lane is for small requests.
    pi = {code: w.researchers[code].headers for code in STATES}
    with at(moment(public["opens_at"]) + timedelta(hours=1)):
        r = client.post(f"/api/v1/calls/{call_id}/proposals", headers=pi["DE"], json=proposal_body(hours=5_000))
        draft = _ok(r, 201)
        assert r.headers["location"] == f"/api/v1/proposals/{draft['id']}"
        assert draft["status"] == "draft" and draft["country"] == "DE" and draft["institution"] == "University of DE"
        _problem(client.get(f"/api/v1/proposals/{draft['id']}/public"), 404)  # drafts are the applicants'
        assert _ok(client.get(f"/api/v1/calls/{call_id}/proposals")) == []
        de = _ok(client.post(f"/api/v1/proposals/{draft['id']}/submit", headers=pi["DE"]))
    assert de["status"] == "submitted" and de["submitted_at"]
    fr = propose(client, w, public, "FR", hours=4_000)
    fi = propose(client, w, public, "FI", hours=3_000)
    pt = propose(client, w, public, "PT", track="fast_lane", hours=400)
    science = {"DE": de["id"], "FR": fr["id"], "FI": fi["id"]}
    listed = _ok(client.get(f"/api/v1/calls/{call_id}/proposals"))
    assert [p["id"] for p in listed] == [*science.values(), pt["id"]]
    assert "principal_investigator" not in listed[0] and "team" not in listed[0]
    assert _ok(client.get(f"/api/v1/proposals/{fr['id']}/public"))["requested_hours"] == 4_000
    assert [p["id"] for p in _ok(client.get("/api/v1/proposals/mine", headers=pi["DE"]))] == [de["id"]]

    closed = close(client, w, public)
    assert _ok(client.get(f"/api/v1/proposals/{de['id']}", headers=pi["DE"]))["status"] == "technical_check"
    pass_checks(client, w, [*science.values(), pt["id"]], closed)
    assert _ok(client.get(f"/api/v1/proposals/{pt['id']}/public"))["status"] == "ranked"  # technical review only

    review_day = closed + timedelta(days=1)
    with at(review_day):
        run = _ok(client.post(f"/api/v1/calls/{call_id}/assignments", headers=op))
    assert run == {"assigned": 9, "total_match": run["total_match"], "short": {}}
    panel = assignments(client, w, call_id)
    assert sorted(a["proposal"] for a in panel) == sorted([*science.values()] * 3)
    assert all(a["reviewer_name"] and a["status"] == "assigned" for a in panel)
    score = {science["DE"]: 5, science["FR"]: 4, science["FI"]: 3}
    review_all(client, w, call_id, review_day, lambda pid: score[pid])
    assert {a["status"] for a in assignments(client, w, call_id)} == {"submitted"}
    assert _ok(client.get(f"/api/v1/proposals/{de['id']}/reviews", headers=pi["DE"])) == []  # not yet released

    released_at = closed + timedelta(days=10)
    with at(released_at):
        assert _ok(client.post(f"/api/v1/calls/{call_id}/release-reviews", headers=op))["id"] == call_id
    de_full = _ok(client.get(f"/api/v1/proposals/{de['id']}", headers=pi["DE"]))
    assert de_full["status"] == "right_to_reply"
    first_reviewer = reviewers_by_id(w)[panel[0]["reviewer"]]
    with at(released_at):  # released reviews are final
        _problem(client.put(f"/api/v1/proposals/{panel[0]['proposal']}/review", headers=first_reviewer.headers,
                            json={"scores": scores(1), "comments_for_applicants": "Changed my mind."}), 409)
    assert moment(de_full["reply_due_at"]) == released_at + timedelta(days=14)

    # The applicants see their reviews numbered, never named, without the panel's comments.
    got = _ok(client.get(f"/api/v1/proposals/{de['id']}/reviews", headers=pi["DE"]))
    assert [r["reviewer"] for r in got] == ["Reviewer 1", "Reviewer 2", "Reviewer 3"]
    assert all(set(r) == {"reviewer", "scores", "weighted_score", "comments"} for r in got)
    assert all(r["scores"] == scores(5) and r["weighted_score"] == "5" and r["comments"] == "Clear plan." for r in got)
    reviewer_ids = {a["reviewer"] for a in panel}
    text = json.dumps(got)
    assert not names_anyone(text, [m.person for m in w.reviewers]) and "PANEL ONLY" not in text
    assert not reviewer_ids & {x for x in leaves(got) if isinstance(x, int)}, "no reviewer id in the JSON"
    _problem(client.get(f"/api/v1/proposals/{de['id']}/reviews", headers=pi["FR"]), 403)  # not FR's proposal
    _problem(client.get(f"/api/v1/proposals/{de['id']}/assignments", headers=pi["DE"]), 403)  # the panel's

    with at(released_at + timedelta(days=1)):
        replied = _ok(client.post(f"/api/v1/proposals/{de['id']}/reply", headers=pi["DE"],
                                  json={"reply": "We will add a baseline."}))
        assert replied["reply"] == "We will add a baseline."
        assert "once" in _problem(client.post(f"/api/v1/proposals/{de['id']}/reply", headers=pi["DE"],
                                              json={"reply": "And another thing."}), 409)["detail"]
        _problem(client.post(f"/api/v1/calls/{call_id}/rank", headers=op), 409)  # FR and FI may still reply
    assert _ok(client.get(f"/api/v1/proposals/{de['id']}", headers=pi["DE"]))["reply"] == "We will add a baseline."

    _problem(client.get(f"/api/v1/calls/{call_id}/ranking"), 404)
    ranked_at = released_at + timedelta(days=15)
    with at(ranked_at):
        assert _ok(client.post(f"/api/v1/calls/{call_id}/rank", headers=op))["ranked_at"]
    ranking = _ok(client.get(f"/api/v1/calls/{call_id}/ranking"))
    assert [(e["proposal_id"], e["rank"], e["fundable"]) for e in ranking] == [
        (science["DE"], 1, True), (science["FR"], 2, True), (science["FI"], 3, True), (pt["id"], 4, True)]
    assert [e["score"] for e in ranking[:3]] == ["5", "4", "3"] and ranking[3]["review"] == "technical review only"
    assert not reviewer_ids & {x for x in leaves(ranking) if isinstance(x, int)}
    assert not names_anyone(json.dumps(ranking), [m.person for m in w.reviewers])

    with at(ranked_at + timedelta(days=1)):
        r = client.post(f"/api/v1/calls/{call_id}/slates", headers=op)
        _problem(client.post(f"/api/v1/proposals/{de['id']}/accept", headers=pi["DE"]), 409)  # not approved yet
    slate = _ok(r, 201)
    assert slate["status"] == "proposed" and slate["motion"] and slate["digest"] == slate["result"]["digest"]
    awards = {a["proposal_id"]: a["awarded_hours"] for a in slate["result"]["awards"]}
    assert awards == {science["DE"]: 5_000, science["FR"]: 4_000, science["FI"]: 1_000, pt["id"]: 400}
    # A slate whose motion is still a draft is the operators'; once noticed it is public.
    _problem(client.get(f"/api/v1/calls/{call_id}/slate"), 404)
    assert _ok(client.get(f"/api/v1/calls/{call_id}/slates")) == []
    assert [s["id"] for s in _ok(client.get(f"/api/v1/calls/{call_id}/slates", headers=op))] == [slate["id"]]
    with at(ranked_at + timedelta(days=1)):
        _ok(client.post(f"/api/v1/motions/{slate['motion']}/notice", headers=op))
    noticed = _ok(client.get(f"/api/v1/calls/{call_id}/slate"))
    assert noticed["id"] == slate["id"] and noticed["status"] == "proposed" and noticed["digest"] == slate["digest"]
    assert noticed["inputs"] == slate["inputs"] and noticed["result"] == slate["result"]

    start = ranked_at + timedelta(days=1)
    voting = start + timedelta(days=14)
    with at(voting):
        _ok(client.post(f"/api/v1/motions/{slate['motion']}/open-voting", headers=op, json={"voting_days": 1}))
        for code in STATES:
            _ok(client.post(f"/api/v1/motions/{slate['motion']}/ballots", headers=w.delegates[code].headers,
                            json={"choice": "yes"}), 201)
        for step in ("close", "tally", "publish"):
            decided = _ok(client.post(f"/api/v1/motions/{slate['motion']}/{step}", headers=op))
    assert decided["outcome"] == "passed"
    assert _ok(client.get(f"/api/v1/calls/{call_id}"))["status"] == "decided"
    assert _ok(client.get(f"/api/v1/calls/{call_id}/slate"))["status"] == "approved"

    allocations = _ok(client.get(f"/api/v1/allocations?call={call_id}"))
    by_proposal = {a["proposal"]: a for a in allocations}
    assert set(by_proposal) == set(awards)
    for pid, hours in awards.items():
        assert by_proposal[pid]["budget_gpu_seconds"] == hours * 3600 and by_proposal[pid]["budget_gpu_hours"] == hours
        assert by_proposal[pid]["status"] == "active" and by_proposal[pid]["motion"] == slate["motion"]
    assert by_proposal[science["DE"]]["starts_on"] == call_body()["allocation_starts_on"]
    fi_public = _ok(client.get(f"/api/v1/proposals/{fi['id']}/public"))
    assert fi_public["status"] == "approved" and fi_public["award_hours"] == 1_000
    assert fi_public["rationale"].startswith("Funded in part")

    allocation = by_proposal[science["DE"]]
    public_view = _ok(client.get(f"/api/v1/allocations/{allocation['id']}"))
    assert "principal_investigator" not in public_view and "members" not in public_view
    member_view = _ok(client.get(f"/api/v1/allocations/{allocation['id']}", headers=pi["DE"]))
    assert member_view["members"] == [w.researchers["DE"].person.email]
    assert [a["id"] for a in _ok(client.get("/api/v1/allocations/mine", headers=pi["DE"]))] == [allocation["id"]]
    with at(voting + timedelta(days=1)):
        assert _ok(client.post(f"/api/v1/proposals/{de['id']}/accept", headers=pi["DE"]))["status"] == "active"

    statistics = _ok(client.get(f"/api/v1/access/statistics?call={call_id}"))
    de_line = next(line for line in statistics["by_member_state"] if line["member_state"] == "DE")
    assert de_line["requested_hours"] == 5_000 and de_line["awarded_hours"] == 5_000 and de_line["allocations"] == 1

    kinds = [e["kind"] for e in ledger_entries(factory)]
    assert kinds == ["access.call.opened", *["access.proposal.submitted"] * 4, "access.call.closed",
                     "access.ranking.published", *["access.allocation.granted"] * 4]
    assert_ledger_is_private(factory, w)


def test_the_published_ranking_carries_the_per_criterion_means(client, world, factory):
    w = world
    call, _ids, when = call_in_review(client, w, countries=("DE",))
    review_all(client, w, call["id"], when, lambda pid: 4)
    with at(when + timedelta(days=1)):
        _ok(client.post(f"/api/v1/calls/{call['id']}/release-reviews", headers=w.operator.headers))
    with at(when + timedelta(days=30)):
        _ok(client.post(f"/api/v1/calls/{call['id']}/rank", headers=w.operator.headers))
    (published,) = [e for e in ledger_entries(factory) if e["kind"] == "access.ranking.published"]
    ranking = _ok(client.get(f"/api/v1/calls/{call['id']}/ranking"))
    assert ranking[0]["criterion_means"] == dict.fromkeys(RUBRIC, "4")
    assert ranking == published["data"]["ranking"]


# --- bad input: 4xx problem+json naming the field, and nothing changes ---------------------------


@pytest.mark.parametrize(("change", "field"), [
    ({"requested_hours": 0}, "requested_hours"),
    ({"requested_hours": -5}, "requested_hours"),
    ({"requested_hours": SCIENCE_CAP + 1}, "requested_hours"),
    ({"licence_weights": "Not-A-Licence"}, "licence_weights"),
    pytest.param({"licence_weights": "open weights, ask us"}, "licence_weights"),
    pytest.param({"licence_code": "MIT AND"}, "licence_code"),
    ({"licence_code": ""}, "licence_code"),
    ({"licence_data": "proprietary"}, "licence_data"),
    ({"track": "safety"}, "track"),  # a track the call does not have
])
def test_a_bad_proposal_is_a_422_naming_the_field_and_changes_nothing(client, world, factory, change, field):
    w = world
    call = open_call(client, w)
    draft = propose(client, w, call, "DE", submit=False)
    before = ledger_entries(factory)
    pi = w.researchers["DE"].headers
    with at(moment(call["opens_at"]) + timedelta(hours=2)):
        assert _field(client.post(f"/api/v1/calls/{call['id']}/proposals", headers=pi,
                                  json=proposal_body(**change))) == field
        assert _field(client.put(f"/api/v1/proposals/{draft['id']}", headers=pi,
                                 json=proposal_body(**change))) == field
    assert [p["id"] for p in _ok(client.get("/api/v1/proposals/mine", headers=pi))] == [draft["id"]]
    assert _ok(client.get(f"/api/v1/proposals/{draft['id']}", headers=pi)) == draft
    assert ledger_entries(factory) == before


def test_a_licence_expression_is_normalised_to_spdx(client, world):
    call = open_call(client, world)
    got = propose(client, world, call, "DE", submit=False, licence_weights="apache-2.0 OR mit")
    assert got["licence_weights"] == "Apache-2.0 OR MIT"


def test_submission_after_the_close_date_is_a_409_and_changes_nothing(client, world, factory):
    w = world
    call = open_call(client, w)
    draft = propose(client, w, call, "DE", submit=False)
    pi = w.researchers["DE"].headers
    with at(moment(call["closes_at"])):
        assert "closed" in _problem(client.post(f"/api/v1/proposals/{draft['id']}/submit", headers=pi),
                                    409)["detail"]
        _problem(client.post(f"/api/v1/calls/{call['id']}/proposals", headers=pi, json=proposal_body()), 409)
    assert _ok(client.get(f"/api/v1/proposals/{draft['id']}", headers=pi))["status"] == "draft"
    assert [e["kind"] for e in ledger_entries(factory)] == ["access.call.opened"]
    with at(moment(call["opens_at"]) - timedelta(hours=1)):  # nor before it opens
        _problem(client.post(f"/api/v1/proposals/{draft['id']}/submit", headers=pi), 409)


@pytest.mark.parametrize(("body", "field"), [
    ({"scores": scores(excellence=6)}, "scores.excellence"),
    ({"scores": scores(safety=0)}, "scores.safety"),
    ({"scores": {k: 4 for k in RUBRIC if k != "impact"}}, "scores.impact"),
    ({"scores": scores(charisma=5)}, "scores.charisma"),
    ({"scores": scores(openness="five")}, "scores.openness"),
    ({"scores": scores(), "comments_for_applicants": "  "}, "comments_for_applicants"),
])
def test_a_bad_review_is_a_422_naming_the_field_and_changes_nothing(client, world, body, field):
    w = world
    call, ids, when = call_in_review(client, w, countries=("DE",))
    (first, *_) = assignments(client, w, call["id"])
    reviewer = reviewers_by_id(w)[first["reviewer"]]
    with at(when):
        got = _field(client.put(f"/api/v1/proposals/{ids['DE']}/review", headers=reviewer.headers,
                                json={"comments_for_applicants": "Fine.", **body}))
    assert got == field
    after = next(a for a in assignments(client, w, call["id"]) if a["id"] == first["id"])
    assert after["status"] == "assigned" and after["scores"] is None and after["submitted_at"] is None


def test_only_an_assigned_reviewer_may_review(client, world):
    w = world
    call, ids, when = call_in_review(client, w, countries=("DE",))
    assigned = {a["reviewer"] for a in assignments(client, w, call["id"])}
    outsider = next(m for m in w.reviewers if m.person.id not in assigned)
    body = {"scores": scores(), "comments_for_applicants": "Fine."}
    with at(when):
        assert "not assigned" in _problem(client.put(f"/api/v1/proposals/{ids['DE']}/review",
                                                     headers=outsider.headers, json=body), 403)["detail"]
        _problem(client.get(f"/api/v1/proposals/{ids['DE']}", headers=outsider.headers), 403)
        insider = reviewers_by_id(w)[next(iter(assigned))]
        assert _ok(client.get(f"/api/v1/proposals/{ids['DE']}", headers=insider.headers))["id"] == ids["DE"]
        _problem(client.put(f"/api/v1/proposals/{ids['DE']}/review", headers=w.operator.headers, json=body), 403)
    assert {a["status"] for a in assignments(client, w, call["id"])} == {"assigned"}


def test_a_call_with_bad_terms_is_a_422_naming_the_field(client, world):
    op = world.operator.headers
    fast = {"track": "fast_lane", "pool_hours": 10_000, "cap_hours": 6_000, "min_award_hours": 1}
    for body, field in ((call_body(closes_at=T0.isoformat()), "closes_at"),
                        (call_body(tracks=[{**fast, "cap_hours": 500, "pool_hours": 100}]), "tracks.0.cap_hours"),
                        (call_body(tracks=[fast]), "tracks.0.cap_hours"),
                        (call_body(funding_threshold="6"), "funding_threshold"),
                        (call_body(allocation_starts_on=T0.date().isoformat()), "allocation_starts_on"),
                        (call_body(opens_at="2026-04-01T00:00:00"), "opens_at")):
        with at(T0):
            assert _field(client.post("/api/v1/calls", headers=op, json=body)) == field
    assert _ok(client.get("/api/v1/calls", headers=op)) == []


# --- illegal moves: 409 (or 403 where it is a matter of who) --------------------------------------------


def test_illegal_moves_are_409_and_change_nothing(client, world):
    w, op = world, world.operator.headers
    call, ids, when = call_in_review(client, w)
    pi = w.researchers["DE"].headers
    with at(when):
        assert "right-to-reply" in _problem(client.post(f"/api/v1/proposals/{ids['DE']}/reply", headers=pi,
                                                        json={"reply": "Too early."}), 409)["detail"]
        assert "in review" in _problem(client.post(f"/api/v1/proposals/{ids['DE']}/accept", headers=pi),
                                       409)["detail"]
        _problem(client.post(f"/api/v1/proposals/{ids['DE']}/appeal", headers=pi, json={"grounds": "Unfair."}), 409)
        _problem(client.post(f"/api/v1/proposals/{ids['DE']}/submit", headers=pi), 409)
        _problem(client.post(f"/api/v1/calls/{call['id']}/close", headers=op), 409)
        _problem(client.post(f"/api/v1/calls/{call['id']}/submit-for-approval", headers=op), 409)
        _problem(client.post(f"/api/v1/calls/{call['id']}/rank", headers=op), 409)
        _problem(client.post(f"/api/v1/calls/{call['id']}/slates", headers=op), 409)
    # One review of three is in: the reviews cannot be released yet.
    (first, *_) = assignments(client, w, call["id"])
    with at(when):
        _ok(client.put(f"/api/v1/proposals/{first['proposal']}/review",
                       headers=reviewers_by_id(w)[first["reviewer"]].headers,
                       json={"scores": scores(), "comments_for_applicants": "Fine."}))
        assert "fewer than 3 reviews" in _problem(client.post(f"/api/v1/calls/{call['id']}/release-reviews",
                                                              headers=op), 409)["detail"]
    for pid in ids.values():
        got = _ok(client.get(f"/api/v1/proposals/{pid}", headers=op))
        assert got["status"] == "in_review" and got["reply"] is None and got["appeal"] is None


def test_an_appeal_is_lodged_once_and_decided_by_another_operator(client, world, factory):
    w = world
    call = open_call(client, w)
    proposal = propose(client, w, call, "FR")
    closed = close(client, w, call)
    pi = w.researchers["FR"].headers
    with at(closed):
        _field_name = _field(client.post(f"/api/v1/proposals/{proposal['id']}/technical-check",
                                         headers=w.operator.headers, json={"passed": False}))
        assert _field_name == "notes"  # a failed check needs its rationale
        rejected = _ok(client.post(f"/api/v1/proposals/{proposal['id']}/technical-check", headers=w.operator.headers,
                                   json={"passed": False, "notes": "The code does not run on H100."}))
    assert rejected["status"] == "rejected" and rejected["rationale"] == "The code does not run on H100."
    with at(closed + timedelta(days=1)):
        appeal = _ok(client.post(f"/api/v1/proposals/{proposal['id']}/appeal", headers=pi,
                                 json={"grounds": "It runs; see the attached log."}), 201)
        assert appeal["status"] == "lodged"
        assert "once" in _problem(client.post(f"/api/v1/proposals/{proposal['id']}/appeal", headers=pi,
                                              json={"grounds": "Again."}), 409)["detail"]
        decision = {"upheld": True, "decision": "The log shows it runs."}
        assert "other than" in _problem(client.post(f"/api/v1/proposals/{proposal['id']}/appeal/decision",
                                                    headers=w.operator.headers, json=decision), 403)["detail"]
        _problem(client.post(f"/api/v1/proposals/{proposal['id']}/appeal/decision", headers=pi, json=decision), 403)
        assert _ok(client.get(f"/api/v1/proposals/{proposal['id']}", headers=pi))["appeal"]["status"] == "lodged"
        decided = _ok(client.post(f"/api/v1/proposals/{proposal['id']}/appeal/decision",
                                  headers=w.second_operator.headers, json=decision))
        assert decided["status"] == "upheld" and decided["decision"] == "The log shows it runs."
        _problem(client.post(f"/api/v1/proposals/{proposal['id']}/appeal/decision",
                             headers=w.second_operator.headers, json=decision), 409)
    after = _ok(client.get(f"/api/v1/proposals/{proposal['id']}", headers=pi))
    assert after["status"] == "technical_check" and after["rationale"] is None
    assert [e["data"]["outcome"] for e in ledger_entries(factory) if e["kind"] == "access.appeal.decided"] == [
        "upheld"]
    assert_ledger_is_private(factory, w)


# --- conflicts of interest ---------------------------------------------------------------------------


def test_a_conflicted_reviewer_is_assigned_only_with_a_justification_the_ledger_does_not_repeat(
        client, world, factory, settings):
    w, op = world, world.operator.headers
    call, ids, when = call_in_review(client, w)
    # A reviewer whose email belongs to the University of DE: conflicted with the DE proposal.
    expert = w.member(Role.REVIEWER, "expert@uni-de.example", w.institutions["IRI"])
    before = ledger_entries(factory)
    url = f"/api/v1/proposals/{ids['DE']}/assignments"
    with at(when):
        assert "institution" in _problem(client.post(url, headers=op, json={"reviewer_id": expert.person.id}),
                                         409)["detail"]
        assert "institution" in _problem(client.post(url, headers=op, json={"reviewer_id": expert.person.id,
                                                                            "justification": "   "}), 409)["detail"]
    assert expert.person.id not in {a["reviewer"] for a in _ok(client.get(url, headers=op))}
    assert ledger_entries(factory) == before

    justification = "The only expert on Basque tokenisers; the panel agreed."
    with at(when):
        r = client.post(url, headers=op, json={"reviewer_id": expert.person.id, "justification": justification})
    row = _ok(r, 201)
    assert row["reviewer"] == expert.person.id and row["automatic"] is False
    assert row["override_reasons"] == ["institution"] and row["override_justification"] == justification
    assert [a["proposal"] for a in _ok(client.get("/api/v1/reviews/queue", headers=expert.headers))] == [ids["DE"]]
    with at(when):
        _problem(client.post(url, headers=op, json={"reviewer_id": expert.person.id, "justification": "x"}), 409)
        # Not a conflict, no override: an unconflicted manual assignment is recorded nowhere public.
        _field_name = _field(client.post(url, headers=op, json={"reviewer_id": w.researchers["FR"].person.id}))
        assert _field_name == "reviewer_id"  # not a reviewer
        # The override stands when the automatic assignment runs again, and counts as one of the reviews.
        assert _ok(client.post(f"/api/v1/calls/{call['id']}/assignments", headers=op))["assigned"] == 0
    assert expert.person.id in {a["reviewer"] for a in _ok(client.get(url, headers=op))}

    sequencer.integrate_pending(factory, settings, sequencer.signer_for(settings))
    items = _ok(client.get("/api/v1/ledger/entries?kind=access.conflict.overridden"))["items"]
    assert len(items) == 1
    entry = items[0]["entry"]
    assert entry["subject"] == f"urn:aicommons:proposal:{ids['DE']}"
    assert entry["actor"] == f"urn:aicommons:person:{w.operator.person.id}"
    assert entry["data"] == {"call": call["id"], "rules": ["institution"]}
    text = json.dumps(items)
    assert justification not in text and "Basque" not in text
    assert not names_anyone(text, [expert.person]) and "uni-de.example" not in text
    assert_ledger_is_private(factory, w)


def test_a_declared_conflict_withdraws_the_assignment_and_bars_a_plain_reassignment(client, world, factory):
    w, op = world, world.operator.headers
    call, ids, when = call_in_review(client, w)
    row = next(a for a in assignments(client, w, call["id"]) if a["proposal"] == ids["FR"])
    reviewer = reviewers_by_id(w)[row["reviewer"]]
    reason = "I co-authored two papers with the PI last year."
    with at(when):
        declared = _ok(client.post(f"/api/v1/proposals/{ids['FR']}/conflicts", headers=reviewer.headers,
                                   json={"reason": reason}), 201)
        assert declared["proposal"] == ids["FR"]
        _problem(client.post(f"/api/v1/proposals/{ids['FR']}/conflicts", headers=reviewer.headers,
                             json={"reason": reason}), 409)
        _problem(client.put(f"/api/v1/proposals/{ids['FR']}/review", headers=reviewer.headers,
                            json={"scores": scores(), "comments_for_applicants": "Fine."}), 403)
    assert ids["FR"] not in [a["proposal"] for a in _ok(client.get("/api/v1/reviews/queue", headers=reviewer.headers))]
    live = {a["reviewer"] for a in assignments(client, w, call["id"]) if a["proposal"] == ids["FR"]}
    assert reviewer.person.id not in live and len(live) == 2
    with at(when):
        assert "declared" in _problem(client.post(f"/api/v1/proposals/{ids['FR']}/assignments", headers=op,
                                                  json={"reviewer_id": reviewer.person.id}), 409)["detail"]
        run = _ok(client.post(f"/api/v1/calls/{call['id']}/assignments", headers=op))
    assert run["assigned"] == 1 and run["short"] == {}  # the automatic run fills the gap with someone else
    live = {a["reviewer"] for a in assignments(client, w, call["id"]) if a["proposal"] == ids["FR"]}
    assert reviewer.person.id not in live and len(live) == 3
    assert reason not in json.dumps(ledger_entries(factory))


def test_a_conflict_declared_after_release_leaves_the_released_reviews_alone(client, world):
    w, op = world, world.operator.headers
    call, ids, when = call_in_review(client, w, countries=("DE",))
    review_all(client, w, call["id"], when, lambda pid: 4)
    with at(when + timedelta(days=1)):
        _ok(client.post(f"/api/v1/calls/{call['id']}/release-reviews", headers=op))
    pi = w.researchers["DE"].headers
    assert len(_ok(client.get(f"/api/v1/proposals/{ids['DE']}/reviews", headers=pi))) == 3
    reviewer = reviewers_by_id(w)[assignments(client, w, call["id"])[0]["reviewer"]]
    with at(when + timedelta(days=2)):
        r = client.post(f"/api/v1/proposals/{ids['DE']}/conflicts", headers=reviewer.headers,
                        json={"reason": "I remembered a joint grant."})
    assert r.status_code in (201, 409), r.text  # recorded for the panel, or refused: either way the review stays
    assert len(_ok(client.get(f"/api/v1/proposals/{ids['DE']}/reviews", headers=pi))) == 3


def test_a_withdrawn_assignment_leaves_the_queue(client, world):
    w, op = world, world.operator.headers
    call, _ids, when = call_in_review(client, w, countries=("DE",))
    row = assignments(client, w, call["id"])[0]
    reviewer = reviewers_by_id(w)[row["reviewer"]]
    with at(when):
        assert client.delete(f"/api/v1/assignments/{row['id']}", headers=op).status_code == 204
        _problem(client.delete(f"/api/v1/assignments/{row['id']}", headers=op), 409)
        _problem(client.delete("/api/v1/assignments/999999", headers=op), 404)
    assert _ok(client.get("/api/v1/reviews/queue", headers=reviewer.headers)) == []
    assert row["id"] not in {a["id"] for a in assignments(client, w, call["id"])}
