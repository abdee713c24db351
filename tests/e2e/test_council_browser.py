"""End to end: a delegate votes in a real headless Chromium against the real server, and the public decision
page shows the ballot and its explanation in the roll-call.

The council's data (member states, delegates, a motion open for voting) is made with the services on the
server's own database, the way the service tests make it; nothing depends on demo data.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from aicommons import clock
from aicommons.database import create_db_engine, make_session_factory, unit_of_work
from aicommons.governance import agenda, council
from aicommons.governance.rules import MotionKind
from aicommons.identity import accounts
from aicommons.identity.models import MembershipStatus, Role
from aicommons.identity.service import admit_member_state
from tests.e2e.conftest import OPERATOR_EMAIL, Server

pytestmark = pytest.mark.e2e

DELEGATE_EMAIL = "fiona@example.org"
DELEGATE_NAME = "Fiona Delegate"
DELEGATE_PASSWORD = "a long and correct delegate passphrase"
MOTION_TITLE = "Open weights for every model trained here"
EXPLANATION = "Finland supports open weights, with a review of safety risks first."


@pytest.fixture
def factory(server: Server) -> Iterator[sessionmaker[Session]]:
    engine = create_db_engine(server.database_url)
    yield make_session_factory(engine)
    engine.dispose()


def open_motion(factory: sessionmaker[Session]) -> int:
    """Four member states with a delegate each, and a policy motion whose vote opened an hour ago."""
    with unit_of_work(factory) as s:
        for code in ("DE", "FI", "FR", "PT"):
            admit_member_state(s, actor=None, code=code, name=None, status=MembershipStatus.MEMBER,
                               admitted_on=date(2025, 1, 1))
        admit_member_state(s, actor=None, code="SI", name=None, status=MembershipStatus.ASSOCIATE_MEMBER,
                           admitted_on=date(2025, 1, 1))
        fiona = accounts.create_person(s, actor=None, email=DELEGATE_EMAIL, display_name=DELEGATE_NAME,
                                       password=DELEGATE_PASSWORD)
        accounts.grant_role(s, actor=None, person_id=fiona.id, role=Role.DELEGATE, member_state_code="FI")
        operator = accounts.principal_for(accounts.get_person_by_email(s, OPERATOR_EMAIL))
    start = clock.now() - timedelta(days=15)
    with clock.frozen_at(start), unit_of_work(factory) as s:
        motion = agenda.draft_motion(s, actor=operator, kind=MotionKind.POLICY, title=MOTION_TITLE,
                                      text="The council resolves that models trained here are released openly.")
        council.give_notice(s, actor=operator, motion_id=motion.id)
        motion_id = motion.id
    with clock.frozen_at(start + timedelta(days=15, hours=-1)), unit_of_work(factory) as s:
        council.open_voting(s, actor=operator, motion_id=motion_id, voting_days=7)
    return motion_id


def test_a_delegate_votes_with_an_explanation_and_the_decision_page_shows_it(server, browser, factory, tmp_path):
    from playwright.sync_api import expect

    motion_id = open_motion(factory)
    page = browser.new_page(base_url=server.url, viewport={"width": 1280, "height": 900})
    page.set_default_timeout(10_000)
    console_errors: list[str] = []
    page.on("console", lambda msg: console_errors.append(msg.text) if msg.type == "error" else None)
    try:
        # The council needs a login; the login returns to it.
        page.goto("/council")
        expect(page).to_have_url(f"{server.url}/login?next=%2Fcouncil")
        page.get_by_label("Email").fill(DELEGATE_EMAIL)
        page.get_by_label("Password").fill(DELEGATE_PASSWORD)
        page.get_by_role("button", name="Log in").click()
        expect(page).to_have_url(f"{server.url}/council")
        expect(page.get_by_role("heading", level=1)).to_have_text("Council")
        expect(page.get_by_role("navigation", name="Main").get_by_role("link", name="Council")).to_have_attribute(
            "aria-current", "page")

        # The motion open for voting, with Finland's ballot form; vote "No" with an explanation.
        motion = page.locator(f"#motion-{motion_id}")
        expect(motion.get_by_role("heading", level=3)).to_contain_text(MOTION_TITLE)
        expect(motion).to_contain_text("Finland has not voted on this motion yet.")
        ballot = motion.get_by_role("group", name=f"Finland's ballot on motion {motion_id}")
        ballot.get_by_label("No").check()
        motion.get_by_label("Explanation of vote (optional, public)").fill(EXPLANATION)
        page.screenshot(path=str(tmp_path / "council-before.png"), full_page=True)
        motion.get_by_role("button", name="Cast FI's ballot").click()

        expect(page.get_by_role("status")).to_contain_text(f"FI's ballot on motion {motion_id} is recorded: No.")
        current = page.locator(f"#current-{motion_id}-FI")
        expect(current).to_contain_text("Finland's current ballot: No")
        expect(current).to_contain_text(f"by {DELEGATE_NAME}")
        expect(current).to_contain_text(EXPLANATION)
        expect(ballot.get_by_label("No")).to_be_checked()
        expect(motion.get_by_role("button", name="Replace FI's ballot")).to_be_visible()
        page.screenshot(path=str(tmp_path / "council-after.png"), full_page=True)

        # Signed out, anyone reads the decision page: Finland's ballot and explanation are in the roll-call.
        page.get_by_role("button", name="Log out").click()
        expect(page.get_by_role("status")).to_contain_text("You are logged out.")
        page.goto("/decisions")
        page.get_by_role("link", name=MOTION_TITLE).click()
        expect(page).to_have_url(f"{server.url}/decisions/{motion_id}")
        expect(page.get_by_role("heading", level=1)).to_have_text(f"Motion {motion_id}: {MOTION_TITLE}")
        roll_call = page.locator("table.roll-call")
        finland = roll_call.get_by_role("row", name="Finland (FI)")
        expect(finland).to_contain_text("No")
        expect(finland).to_contain_text(EXPLANATION)
        expect(roll_call.get_by_role("row", name="Germany (DE)")).to_contain_text("Not yet voted")
        expect(roll_call.get_by_role("row", name="Slovenia (SI)")).to_contain_text("associate members do not vote")
        expect(page.get_by_role("link", name="see its ledger entries")).to_have_attribute(
            "href", f"/ledger?subject=urn%3Aaicommons%3Amotion%3A{motion_id}")
        page.screenshot(path=str(tmp_path / "decision.png"), full_page=True)
        assert [m for m in console_errors if not m.startswith("Failed to load resource")] == []
    finally:
        page.close()
