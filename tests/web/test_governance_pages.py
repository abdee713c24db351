"""The governance portal through a browser's HTTP: decisions, the council's ballots, the motion editor,
contributions and the constitution. Data is made with the services; forms are submitted with their CSRF token.
"""

from __future__ import annotations

import hashlib
import re
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from html import unescape
from urllib.parse import quote

import pytest
from sqlalchemy import func, select

from aicommons import clock
from aicommons.database import unit_of_work
from aicommons.governance import agenda, council, rules, service
from aicommons.governance.models import Ballot, Motion, MotionStatus
from aicommons.governance.rules import Choice, MotionKind
from aicommons.identity import accounts
from aicommons.identity.models import MembershipStatus, Role
from aicommons.ledger.models import LedgerEntry
from tests.conftest import PASSWORD, Member
from tests.web.test_pages import alert_text, audit, csrf_of, header_text, log_in_as, submit, text

PUBLIC_PAGES = ["/decisions", "/decisions/{motion}", "/contributions", "/constitution"]


@dataclass
class Council:
    operator: Member
    delegates: dict[str, Member]
    researcher: Member


@pytest.fixture
def council_setup(people) -> Council:
    """Four member states with a delegate each, an associate member, an operator and a researcher."""
    delegates = {code: people.make(Role.DELEGATE, state=code, password=PASSWORD) for code in ("DE", "FR", "FI", "PT")}
    people.state("SI", MembershipStatus.ASSOCIATE_MEMBER)
    return Council(people.make(Role.OPERATOR, password=PASSWORD), delegates,
                   people.make(Role.RESEARCHER, password=PASSWORD))


def principal(member: Member):
    return accounts.principal_for(member.person)


def draft(factory, operator: Member, *, kind=MotionKind.POLICY, title="Open weights by default",
          text="The council resolves that models trained here are released with open weights.", payload=None,
          attachments=(), at=None) -> int:
    with clock.frozen_at(at or clock.now()), unit_of_work(factory) as s:
        motion = agenda.draft_motion(s, actor=principal(operator), kind=kind, title=title, text=text,
                                      payload=payload)
        for name, content in attachments:
            agenda.add_attachment(s, motion_id=motion.id, filename=name, media_type="text/csv", content=content)
        return motion.id


def open_now(factory, operator: Member, **kw) -> int:
    """A motion whose notice ran out yesterday and whose vote opened an hour ago (closing in about 7 days)."""
    start = clock.now() - timedelta(days=15)
    motion_id = draft(factory, operator, at=start, **kw)
    with clock.frozen_at(start), unit_of_work(factory) as s:
        council.give_notice(s, actor=principal(operator), motion_id=motion_id)
    with clock.frozen_at(start + timedelta(days=15, hours=-1)), unit_of_work(factory) as s:
        council.open_voting(s, actor=principal(operator), motion_id=motion_id, voting_days=7)
    return motion_id


def decided(factory, c: Council, votes: dict[str, tuple[Choice, str | None]], **kw) -> int:
    """A motion voted on and published in the past."""
    start = clock.now() - timedelta(days=40)
    op = principal(c.operator)
    motion_id = draft(factory, c.operator, at=start, **kw)
    with clock.frozen_at(start), unit_of_work(factory) as s:
        council.give_notice(s, actor=op, motion_id=motion_id)
    with clock.frozen_at(start + timedelta(days=14)), unit_of_work(factory) as s:
        council.open_voting(s, actor=op, motion_id=motion_id, voting_days=7)
    for code, (choice, explanation) in votes.items():
        with clock.frozen_at(start + timedelta(days=15)), unit_of_work(factory) as s:
            council.cast_ballot(s, actor=principal(c.delegates[code]), motion_id=motion_id, choice=choice,
                                explanation=explanation)
    with clock.frozen_at(start + timedelta(days=22)), unit_of_work(factory) as s:
        council.close_voting(s, actor=op, motion_id=motion_id)
        council.tally_motion(s, actor=op, motion_id=motion_id)
        council.publish_motion(s, actor=op, motion_id=motion_id)
    return motion_id


def ballots(factory, motion_id: int) -> dict[str, tuple[str, str | None]]:
    with factory() as s:
        return {code: (b.choice.value, b.explanation) for code, b in council.final_ballots(s, motion_id).items()}


def count(factory, model) -> int:
    with factory() as s:
        return s.scalar(select(func.count()).select_from(model))


def status_of(factory, motion_id: int) -> MotionStatus:
    with factory() as s:
        return s.get(Motion, motion_id).status


def cells(fragment: str) -> str:
    """What a reader sees of a table fragment, one space between cells."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def row_of(html: str, state: str) -> str:
    """The roll-call row of one state, as a reader sees it."""
    return cells(re.search(rf'<tr id="state-{state}">(.*?)</tr>', html, re.S).group(1))


def nav_of(html: str) -> list[str]:
    return re.findall(r'<li><a href="([^"]+)"', re.search(r'<nav aria-label="Main">(.*?)</nav>', html, re.S).group(1))


VOTES = {"DE": (Choice.YES, "Open science is our mandate."), "FR": (Choice.YES, None),
         "FI": (Choice.NO, "Too early for a binding rule."), "PT": (Choice.ABSTAIN, None)}


@contextmanager
def at(moment):
    with clock.frozen_at(moment):
        yield


# --- public pages --------------------------------------------------------------------------------


@pytest.mark.parametrize("path", PUBLIC_PAGES)
def test_public_governance_pages_render_without_login(client, factory, council_setup, path):
    motion_id = decided(factory, council_setup, VOTES, attachments=[("table.csv", b"a,b\n1,2\n")])
    response = client.get(path.format(motion=motion_id))
    assert response.status_code == 200
    page = audit(response.text)
    assert page.h1 == 1
    assert page.unlabelled() == []
    assert header_text(response.text) == "Log in"


def test_the_decision_page_shows_text_rule_roll_call_tally_and_ledger_link(client, factory, council_setup):
    content = b"line,eur\ncompute,100\n"
    motion_id = decided(factory, council_setup, VOTES, attachments=[("budget.csv", content)],
                        text="First paragraph.\n\nSecond paragraph.")
    html = client.get(f"/decisions/{motion_id}").text

    assert "First paragraph.\n\nSecond paragraph." in html
    assert f'href="/api/v1/motions/{motion_id}/attachments/budget.csv"' in html
    assert hashlib.sha256(content).hexdigest() in html
    assert "21 bytes" in html
    assert rules.describe(rules.ORDINARY) in text(html)
    assert 'version 1</a>, fixed when voting opened' in html

    assert row_of(html, "DE").startswith("Germany (DE) Yes Open science is our mandate.")
    assert row_of(html, "FI").startswith("Finland (FI) No Too early for a binding rule.")
    assert row_of(html, "FR").startswith("France (FR) Yes —")
    assert row_of(html, "SI") == "Slovenia (SI) No vote associate members do not vote —"

    tally = cells(re.search(r'<section aria-labelledby="h-tally">(.*?)</section>', html, re.S).group(1))
    assert "Yes No Abstain Did not vote 2 1 1 0" in tally
    assert "Quorum 4 took part 4 states — 2 taking part Met" in tally
    assert "Threshold: states 2 3 66.67% a simple majority (more than half) (50.00%) Met" in tally
    assert "Outcome: Passed" in tally
    assert "Quorum: 4 took part, more than 2 needed; met." in tally
    ledger = f'/ledger?subject={quote(agenda.motion_urn(motion_id), safe="")}'
    assert f'href="{ledger}"' in html
    # The link opens the ledger searched for this motion, which has an entry for every step.
    assert f'name="subject" value="{agenda.motion_urn(motion_id)}"' in client.get(ledger).text
    with factory() as s:
        kinds = s.scalars(select(LedgerEntry.kind).where(LedgerEntry.subject == agenda.motion_urn(motion_id)))
        assert sorted(set(kinds)) == ["governance.ballot.cast", "governance.motion.closed",
                                      "governance.motion.noticed", "governance.motion.opened",
                                      "governance.motion.published", "governance.motion.tallied"]


def test_decisions_list_and_pages_hide_drafts_from_everyone_but_operators(client, factory, council_setup):
    c = council_setup
    public_id = decided(factory, c, VOTES, title="A published decision")
    draft_id = draft(factory, c.operator, title="A secret draft")
    listing = client.get("/decisions").text
    assert "A published decision" in listing and "A secret draft" not in listing
    assert client.get(f"/decisions/{draft_id}").status_code == 404
    assert client.get(f"/api/v1/motions/{draft_id}").status_code == 404

    log_in_as(client, c.delegates["DE"])
    assert client.get(f"/decisions/{draft_id}").status_code == 404
    assert "A secret draft" not in client.get("/council").text

    client.cookies.clear()
    log_in_as(client, c.operator)
    page = client.get(f"/decisions/{draft_id}")
    assert page.status_code == 200
    assert "This is a draft: only operators can see it" in page.text
    assert "A secret draft" not in client.get("/decisions").text, "the public list never shows drafts"
    assert client.get(f"/decisions/{public_id}").status_code == 200


def test_unknown_decision_is_a_404_page(client):
    response = client.get("/decisions/999")
    assert response.status_code == 404
    assert "<h1>404" in response.text


# --- the council: ballots ------------------------------------------------------------------------


def test_the_council_page_needs_a_login(client):
    response = client.get("/council", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Fcouncil"


def test_a_delegate_votes_through_the_form_and_may_replace_the_ballot(client, factory, council_setup):
    c = council_setup
    motion_id = open_now(factory, c.operator)
    noticed = draft(factory, c.operator, title="Next year's call")
    with unit_of_work(factory) as s:
        council.give_notice(s, actor=principal(c.operator), motion_id=noticed)
    log_in_as(client, c.delegates["DE"])

    page = client.get("/council")
    assert page.status_code == 200
    assert audit(page.text).unlabelled() == []
    assert f'action="/council/motions/{motion_id}/ballot"' in page.text
    assert "Germany has not voted on this motion yet." in page.text
    assert "Next year's call" in text(re.search(r'aria-labelledby="h-notice">(.*?)</section>', page.text,
                                                re.S).group(1))

    response = submit(client, "/council", f"/council/motions/{motion_id}/ballot",
                      {"member_state": "DE", "choice": "no", "explanation": "  We need a costing first.  "})
    assert response.status_code == 303
    assert response.headers["location"] == f"/council#motion-{motion_id}"
    assert ballots(factory, motion_id) == {"DE": ("no", "We need a costing first.")}
    page = client.get("/council").text
    assert f"DE's ballot on motion {motion_id} is recorded: No." in text(page)
    current = text(re.search(rf'id="current-{motion_id}-DE">(.*?)</p>', page, re.S).group(1))
    assert current.startswith("Germany's current ballot: No, cast")
    assert "Explanation of vote: “We need a costing first.”" in current
    assert f'value="no" id="choice-{motion_id}-DE-no" checked' in page
    assert "Replace DE&#39;s ballot" in page

    assert submit(client, "/council", f"/council/motions/{motion_id}/ballot",
                  {"member_state": "DE", "choice": "yes", "explanation": ""}).status_code == 303
    assert ballots(factory, motion_id) == {"DE": ("yes", None)}
    assert count(factory, Ballot) == 2, "the replaced ballot is kept, not counted"
    assert row_of(client.get(f"/decisions/{motion_id}").text, "DE").startswith("Germany (DE) Yes —")


@pytest.mark.parametrize("token", [None, "", "0" * 64])
def test_a_ballot_without_a_valid_csrf_token_is_refused(client, factory, council_setup, token):
    c = council_setup
    motion_id = open_now(factory, c.operator)
    log_in_as(client, c.delegates["DE"])
    client.get("/council")
    data = {"member_state": "DE", "choice": "yes"}
    if token is not None:
        data["csrf_token"] = token
    response = client.post(f"/council/motions/{motion_id}/ballot", data=data, follow_redirects=False)
    assert response.status_code == 403
    assert "security token" in response.text
    assert ballots(factory, motion_id) == {}


@pytest.mark.parametrize("who", ["operator", "researcher"])
def test_someone_who_is_not_a_delegate_sees_the_council_but_cannot_vote(client, factory, council_setup, who):
    c = council_setup
    motion_id = open_now(factory, c.operator)
    log_in_as(client, getattr(c, who))
    page = client.get("/council")
    assert page.status_code == 200
    assert "Open weights by default" in page.text
    assert "/ballot" not in page.text
    response = submit(client, "/council", f"/council/motions/{motion_id}/ballot",
                      {"member_state": "DE", "choice": "yes"})
    assert response.status_code == 403
    assert "only a delegate of a member state may vote" in response.text
    assert "<h1>403" in response.text
    assert ballots(factory, motion_id) == {}


def test_a_delegate_cannot_vote_for_another_state(client, factory, council_setup):
    c = council_setup
    motion_id = open_now(factory, c.operator)
    log_in_as(client, c.delegates["DE"])
    response = submit(client, "/council", f"/council/motions/{motion_id}/ballot",
                      {"member_state": "FR", "choice": "yes"})
    assert response.status_code == 403
    assert "you are a delegate of DE, not of FR" in alert_text(response.text)
    assert ballots(factory, motion_id) == {}


def test_a_ballot_without_a_choice_shows_a_message_and_keeps_the_explanation(client, factory, council_setup):
    c = council_setup
    motion_id = open_now(factory, c.operator)
    log_in_as(client, c.delegates["FI"])
    response = submit(client, "/council", f"/council/motions/{motion_id}/ballot",
                      {"member_state": "FI", "explanation": "Half-written thoughts"})
    assert response.status_code == 422
    assert "choose yes, no or abstain" in alert_text(response.text)
    assert f'<p class="error" id="e-choice-{motion_id}-FI">choose yes, no or abstain</p>' in response.text
    assert ">Half-written thoughts</textarea>" in response.text
    assert ballots(factory, motion_id) == {}


def test_a_ballot_after_voting_closed_shows_the_services_message_and_changes_nothing(client, factory, council_setup):
    c = council_setup
    motion_id = open_now(factory, c.operator)
    log_in_as(client, c.delegates["DE"])
    token = csrf_of(client.get("/council").text)
    for code in ("DE", "FR", "FI", "PT"):
        with unit_of_work(factory) as s:
            council.cast_ballot(s, actor=principal(c.delegates[code]), motion_id=motion_id, choice=Choice.YES)
    with unit_of_work(factory) as s:
        council.close_voting(s, actor=principal(c.operator), motion_id=motion_id)
    before = ballots(factory, motion_id)

    response = client.post(f"/council/motions/{motion_id}/ballot", follow_redirects=False,
                           data={"csrf_token": token, "member_state": "DE", "choice": "no"})
    assert response.status_code == 409
    assert f"motion {motion_id} is closed; voting needs it to be voting" in alert_text(response.text)
    assert ballots(factory, motion_id) == before
    assert count(factory, Ballot) == 4


def test_a_state_in_arrears_is_told_why_it_has_no_vote(client, factory, council_setup):
    c = council_setup
    year = clock.now().year
    with unit_of_work(factory) as s:
        for y in (year - 2, year - 1, year):
            service.record_dues(s, actor=None, member_state_code="PT", year=y, due_eur=100, paid_eur=0)
    motion_id = open_now(factory, c.operator)
    log_in_as(client, c.delegates["PT"])
    page = client.get("/council").text
    assert "Portugal has no vote on this motion: arrears of 300 EUR exceed" in page
    assert "/ballot" not in page
    response = submit(client, "/council", f"/council/motions/{motion_id}/ballot", {"choice": "yes"})
    assert response.status_code == 403
    assert "PT has no vote" in alert_text(response.text)
    assert ballots(factory, motion_id) == {}


# --- the motion editor ---------------------------------------------------------------------------


def test_an_operator_drafts_a_motion_attaches_documents_and_gives_notice(client, factory, council_setup):
    c = council_setup
    log_in_as(client, c.operator)
    page = client.get("/council/motions")
    assert page.status_code == 200
    assert audit(page.text).unlabelled() == []
    assert "drafted through the API only" in page.text
    assert '<option value="constitution_amendment"' not in page.text

    response = submit(client, "/council/motions", "/council/motions",
                      {"kind": "budget", "title": "Budget 2027", "text": "The council adopts the budget.",
                       "reference": "B-2027", "member_state": "", "scale_id": ""})
    assert response.status_code == 303
    with factory() as s:
        motion = s.scalar(select(Motion))
        assert (motion.kind, motion.title, motion.payload, motion.status) == (
            MotionKind.BUDGET, "Budget 2027", {"reference": "B-2027"}, MotionStatus.DRAFT)
    url = f"/council/motions/{motion.id}"
    assert response.headers["location"] == url
    editor = client.get(url).text
    assert f"Motion {motion.id} drafted." in editor
    assert audit(editor).unlabelled() == []

    content = b"line,eur\ncompute,100\nstorage,20\n"
    token = csrf_of(editor)
    uploaded = client.post(f"{url}/attachments", data={"csrf_token": token}, follow_redirects=False,
                           files={"file": ("budget.csv", content, "text/csv")})
    assert uploaded.status_code == 303
    spare = client.post(f"{url}/attachments", data={"csrf_token": token}, follow_redirects=False,
                        files={"file": ("old.txt", b"superseded", "text/plain")})
    assert spare.status_code == 303
    editor = client.get(url).text
    assert hashlib.sha256(content).hexdigest() in editor
    assert f'href="/api/v1/motions/{motion.id}/attachments/budget.csv"' in editor
    assert client.get(f"/api/v1/motions/{motion.id}/attachments/budget.csv").content == content

    with factory() as s:
        old = next(a for a in s.get(Motion, motion.id).attachments if a.filename == "old.txt")
    assert submit(client, url, f"{url}/attachments/{old.id}/remove", {}).status_code == 303
    editor = client.get(url).text
    assert "old.txt removed." in editor and "old.txt</a>" not in editor

    assert submit(client, url, f"{url}/edit", {"title": "Budget for 2027", "text": "The council adopts it.",
                                                "reference": "B-2027/2"}).status_code == 303
    noticed = submit(client, url, f"{url}/notice", {"notice_days": "21"})
    assert noticed.status_code == 303
    with factory() as s:
        motion = s.get(Motion, motion.id)
        assert (motion.status, motion.title, motion.payload) == (MotionStatus.NOTICE, "Budget for 2027",
                                                                 {"reference": "B-2027/2"})
        assert (motion.notice_ends_at - motion.notice_given_at).days == 21
        assert [a.filename for a in motion.attachments] == ["budget.csv"]
        assert s.scalar(select(func.count()).select_from(LedgerEntry)
                        .where(LedgerEntry.kind == "governance.motion.noticed")) == 1
    editor = client.get(url).text
    assert f"Notice given for motion {motion.id}" in editor
    assert f'action="{url}/open-voting"' in editor and f'action="{url}/notice"' not in editor
    # Public now, with its document.
    client.cookies.clear()
    assert "Budget for 2027" in client.get("/decisions").text
    assert hashlib.sha256(content).hexdigest() in client.get(f"/decisions/{motion.id}").text


def test_an_operator_runs_a_motion_through_every_step_with_the_buttons(client, factory, council_setup):
    c = council_setup
    t0 = clock.now().replace(microsecond=0)
    with at(t0):
        log_in_as(client, c.operator)
        submit(client, "/council/motions", "/council/motions",
               {"kind": "policy", "title": "Green power only", "text": "Buy renewable power."})
        motion_id = count(factory, Motion)
        url = f"/council/motions/{motion_id}"
        assert submit(client, url, f"{url}/notice", {"notice_days": "14"}).status_code == 303
        early = submit(client, url, f"{url}/open-voting", {"voting_days": "7"})
        assert early.status_code == 409
        assert "the notice period runs until" in alert_text(early.text)
        assert status_of(factory, motion_id) is MotionStatus.NOTICE
    with at(t0 + timedelta(days=14)):
        log_in_as(client, c.operator)
        assert submit(client, url, f"{url}/open-voting", {"voting_days": "7"}).status_code == 303
        refused = submit(client, url, f"{url}/close", {})
        assert refused.status_code == 409 and "have not voted yet" in alert_text(refused.text)
        for code in ("DE", "FR", "FI"):
            with unit_of_work(factory) as s:
                council.cast_ballot(s, actor=principal(c.delegates[code]), motion_id=motion_id, choice=Choice.YES)
    with at(t0 + timedelta(days=21)):
        log_in_as(client, c.operator)
        assert f'action="{url}/close"' in client.get(url).text
        assert submit(client, url, f"{url}/close", {}).status_code == 303
        assert submit(client, url, f"{url}/tally", {}).status_code == 303
        assert "is counted: Passed" in client.get(url).text
        assert submit(client, url, f"{url}/publish", {}).status_code == 303
        assert "Published: nothing left to do." in client.get(url).text
    assert status_of(factory, motion_id) is MotionStatus.PUBLISHED


def test_bad_motion_input_shows_messages_and_changes_nothing(client, factory, council_setup):
    c = council_setup
    log_in_as(client, c.operator)
    response = submit(client, "/council/motions", "/council/motions",
                      {"kind": "admission", "title": "", "text": "Admit someone.", "member_state": ""})
    assert response.status_code == 422
    assert '<p class="error" id="e-title">' in response.text
    assert ">Admit someone.</textarea>" in response.text
    assert '<option value="admission" selected>' in response.text

    response = submit(client, "/council/motions", "/council/motions",
                      {"kind": "admission", "title": "Admit Canada", "text": "Admit it.", "member_state": "CA"})
    assert response.status_code == 422
    assert "'CA' is not a registered state" in text(re.search(r'id="e-member_state">(.*?)</p>',
                                                              response.text).group(1))

    response = submit(client, "/council/motions", "/council/motions",
                      {"kind": "constitution_amendment", "title": "New rules", "text": "Change them."})
    assert response.status_code == 422
    assert "drafted through the API only" in alert_text(response.text)
    assert count(factory, Motion) == 0

    motion_id = draft(factory, c.operator)
    url = f"/council/motions/{motion_id}"
    short = submit(client, url, f"{url}/notice", {"notice_days": "3"})
    assert short.status_code == 422
    assert "the constitution requires at least 14 days' notice" in text(short.text)
    illegal = submit(client, url, f"{url}/tally", {})
    assert illegal.status_code == 409
    assert f"motion {motion_id} is draft; tallying needs it to be closed" in alert_text(illegal.text)
    empty = client.post(f"{url}/attachments", data={"csrf_token": csrf_of(client.get(url).text)},
                        files={"file": ("", b"", "application/octet-stream")}, follow_redirects=False)
    assert empty.status_code == 422
    assert "choose a file to attach" in alert_text(empty.text)
    assert status_of(factory, motion_id) is MotionStatus.DRAFT
    with factory() as s:
        assert s.get(Motion, motion_id).attachments == []
        assert s.scalar(select(func.count()).select_from(LedgerEntry)
                        .where(LedgerEntry.subject == agenda.motion_urn(motion_id))) == 0


def test_an_upload_without_a_csrf_token_is_refused(client, factory, council_setup):
    c = council_setup
    motion_id = draft(factory, c.operator)
    log_in_as(client, c.operator)
    client.get(f"/council/motions/{motion_id}")
    response = client.post(f"/council/motions/{motion_id}/attachments", follow_redirects=False,
                           files={"file": ("x.csv", b"a,b\n", "text/csv")})
    assert response.status_code == 403
    with factory() as s:
        assert s.get(Motion, motion_id).attachments == []


@pytest.mark.parametrize("who", ["delegate", "researcher"])
def test_only_operators_use_the_motion_editor(client, factory, council_setup, who):
    c = council_setup
    motion_id = draft(factory, c.operator)
    log_in_as(client, c.delegates["DE"] if who == "delegate" else c.researcher)
    assert client.get("/council/motions").status_code == 403
    assert client.get(f"/council/motions/{motion_id}").status_code == 403
    token = csrf_of(client.get("/council").text if who == "delegate" else client.get("/account").text)
    for action, data in (("/council/motions", {"kind": "policy", "title": "t", "text": "x"}),
                         (f"/council/motions/{motion_id}/notice", {"notice_days": "14"}),
                         (f"/council/motions/{motion_id}/edit", {"title": "Hijacked", "text": "x"})):
        response = client.post(action, data={"csrf_token": token, **data}, follow_redirects=False)
        assert response.status_code == 403, action
        assert "this needs the operator role" in response.text
    assert count(factory, Motion) == 1
    assert status_of(factory, motion_id) is MotionStatus.DRAFT


def test_the_motion_editor_needs_a_login(client):
    response = client.get("/council/motions", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Fcouncil%2Fmotions"


# --- contributions and the constitution ----------------------------------------------------------


def _figures(factory) -> int:
    """Figures for 2023-2025 (FI reports only GDP for 2025), dues with PT in arrears, and a proposed scale."""
    year = clock.now().year
    with unit_of_work(factory) as s:
        for code, nni in (("DE", 3000), ("FR", 2000), ("FI", 250), ("PT", 200), ("SI", 50)):
            for y in (2023, 2024, 2025):
                estimated = code == "FI" and y == 2025
                service.record_economic_figure(s, member_state_code=code, year=y,
                                               nni_million_eur=None if estimated else nni,
                                               gdp_million_eur=nni * 5 // 4, source="national accounts")
        for y in (year - 2, year - 1, year):
            service.record_dues(s, actor=None, member_state_code="PT", year=y, due_eur=1_000_000, paid_eur=0)
            service.record_dues(s, actor=None, member_state_code="DE", year=y, due_eur=5_000_000,
                                paid_eur=5_000_000)
        return service.compute_scale(s, actor=None, years=(2023, 2024, 2025)).id


def test_contributions_show_a_proposed_scale_with_workings_chart_formula_and_arrears(client, factory, council_setup):
    scale_id = _figures(factory)
    html = client.get("/contributions").text
    assert f"Contribution scale {scale_id}:" in text(html)
    assert "Proposed, not adopted" in html and "No scale is in force yet." in html
    shares = cells(re.search(r'<table class="workings">(.*?)</table>', html, re.S).group(1))
    assert "Finland (FI) 250 / 312 → 250.0 250 / 312 → 250.0 — / 312 → 250." in shares
    assert "(estimated from GDP)" in shares
    assert "NNI estimated from GDP for 2025" in shares

    svg = re.search(r"<svg [^>]*>(.*?)</svg>", html, re.S)
    assert 'role="img"' in svg.group(0) and 'aria-labelledby="chart-title chart-desc"' in svg.group(0)
    assert f'<title id="chart-title">Shares of contribution scale {scale_id}</title>' in svg.group(1)
    assert "Germany: " in svg.group(1) and svg.group(1).count("<rect ") == 5
    assert "Raw share = the state's average ÷ the sum of all contributing states' averages." in text(html)

    dues = re.search(r'<table class="dues">(.*?)</table>', html, re.S).group(1)
    assert '<tbody class="loses-vote">' in dues
    assert "Portugal loses its vote" in cells(dues) and "Germany votes." in cells(dues)


def test_the_contribution_scale_in_force_is_shown_once_adopted(client, factory, council_setup):
    scale_id = _figures(factory)
    motion_id = decided(factory, council_setup, {code: (Choice.YES, None) for code in ("DE", "FR", "FI")},
                        kind=MotionKind.CONTRIBUTION_SCALE, payload={"scale_id": scale_id}, title="Scale")
    html = client.get("/contributions").text
    assert "In force since" in html and f'href="/decisions/{motion_id}"' in html
    assert "Proposed, not adopted" not in html
    assert f'href="/contributions?scale={scale_id}"' in client.get(f"/decisions/{motion_id}").text


def test_the_constitution_shows_each_rule_in_words_and_data_and_its_history(client, factory, council_setup):
    html = client.get("/constitution").text
    for kind in MotionKind:
        row = re.search(rf'<tr id="rule-{kind.value}">(.*?)</tr>', html, re.S).group(1)
        assert rules.describe(rules.DEFAULT_RULES[kind]) in text(row)
        assert "<code>threshold</code>" in row
    assert "Minimum notice period before a vote opens: 14 days" in text(html)
    assert "founding text" in html

    with factory() as s:
        new_rules = dict(agenda.constitution(s).rules)
    new_rules["policy"] = {**new_rules["policy"], "threshold": "3/5", "tie": "passes"}
    motion_id = decided(factory, council_setup, {code: (Choice.YES, None) for code in ("DE", "FR", "FI", "PT")},
                        kind=MotionKind.CONSTITUTION_AMENDMENT, payload={"rules": new_rules, "notice_days": 10},
                        title="Stronger policy majority")
    html = client.get("/constitution").text
    assert "Version 2, in force since" in html
    assert "At least 3/5 of the member states present and voting" in text(html)
    assert "Minimum notice period before a vote opens: 10 days" in text(html)
    history = cells(re.search(r'aria-labelledby="h-history">(.*?)</section>', html, re.S).group(1))
    with factory() as s:
        adopted = agenda.constitution(s).adopted_at
    assert f"2 {adopted:%Y-%m-%d} motion {motion_id} 10 days Policy, notice period 14 → 10 days" in history
    assert "At least 3/5" in text(client.get(f"/decisions/{motion_id}").text)


# --- navigation ----------------------------------------------------------------------------------


def test_navigation_offers_the_council_to_delegates_and_operators_only(client, council_setup):
    c = council_setup
    anonymous = nav_of(client.get("/").text)
    assert {"/decisions", "/contributions", "/constitution"} <= set(anonymous)
    assert "/council" not in anonymous
    log_in_as(client, c.researcher)
    assert "/council" not in nav_of(client.get("/").text)
    client.cookies.clear()
    log_in_as(client, c.delegates["FI"])
    delegate = nav_of(client.get("/").text)
    assert "/council" in delegate and "/council/motions" not in delegate
    client.cookies.clear()
    log_in_as(client, c.operator)
    html = client.get("/council/motions").text
    assert {"/council", "/council/motions"} <= set(nav_of(html))
    assert re.findall(r'<a href="([^"]+)" aria-current="page"', html) == ["/council/motions"]
