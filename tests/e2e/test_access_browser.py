"""End to end: in a real headless Chromium against the real server, a researcher writes and submits a proposal to
an open call; an operator checks it technically and runs the automatic assignment; an assigned reviewer reviews
it through the review form.

The facility and the call's approval by the council are made with the services on the server's own database
(``tests.access.world``), the way the service tests make them; so is the close of the call, which needs the
clock at its deadline. Everything else goes through the browser, without JavaScript of our own.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from aicommons import clock
from aicommons.access import reviews
from aicommons.access.models import AssignmentStatus, Proposal, ProposalStatus, ReviewAssignment
from aicommons.config import Settings
from aicommons.database import create_db_engine, make_session_factory, unit_of_work
from aicommons.identity import accounts
from tests.access.world import World
from tests.conftest import People
from tests.e2e.conftest import Server

pytestmark = pytest.mark.e2e

PASSWORD = "a long and correct passphrase for access"
TITLE = "Open weather model for Europe"
COMMENTS = "A sound plan; the evaluation could be broader."


@pytest.fixture
def factory(server: Server) -> Iterator[sessionmaker[Session]]:
    engine = create_db_engine(server.database_url)
    yield make_session_factory(engine)
    engine.dispose()


@pytest.fixture
def world(server: Server, factory) -> World:
    """States with delegates, universities with researchers, reviewers and operators, who can log in."""
    settings = Settings(data_dir=server.data_dir, database_url=server.database_url)
    world = World(factory, People(factory, settings)).build()
    with unit_of_work(factory) as s:
        for member in [world.operator, world.researchers["DE"], *world.reviewers]:
            accounts.set_password(s, person_id=member.person.id, password=PASSWORD)
    return world


@pytest.fixture
def call_id(world: World) -> int:
    """A call the council approved weeks ago: it opened 10 days ago and takes proposals for 20 days more."""
    start = clock.now() - timedelta(days=40)
    call_id = world.draft_call(at=start)
    world.approve_call(call_id, at=start)
    return call_id


def log_in(page, member) -> None:
    from playwright.sync_api import expect

    page.get_by_label("Email").fill(member.person.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()


def test_a_proposal_goes_from_the_form_to_a_review_through_the_browser(server, browser, world, call_id, factory,
                                                                      tmp_path):
    from playwright.sync_api import expect

    page = browser.new_page(base_url=server.url, viewport={"width": 1280, "height": 900})
    page.set_default_timeout(10_000)
    console_errors: list[str] = []
    page.on("console", lambda msg: console_errors.append(msg.text) if msg.type == "error" else None)
    try:
        # A researcher finds the open call and logs in from it.
        page.goto("/calls")
        page.get_by_role("link", name="Open models 2026").click()
        expect(page).to_have_url(f"{server.url}/calls/{call_id}")
        expect(page.get_by_role("heading", level=1)).to_have_text("Open models 2026")
        page.get_by_role("link", name="Log in", exact=True).last.click()
        log_in(page, world.researchers["DE"])
        expect(page).to_have_url(f"{server.url}/calls/{call_id}")

        # The proposal form: save a draft, then submit it.
        page.get_by_role("link", name="Write a proposal").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("New proposal")
        page.get_by_label("Track").select_option("science")
        page.get_by_label("Title").fill(TITLE)
        page.get_by_label("Public summary").fill("A public, openly licensed weather model.")
        page.get_by_label("Keywords").fill("climate, language models")
        page.get_by_label("GPU-hours requested").fill("2500")
        page.get_by_label("Accelerator").select_option("nvidia-h100")
        page.get_by_label("Duration in months").fill("12")
        page.get_by_label("Licence for model weights").fill("Apache-2.0")
        page.get_by_label("Licence for code").fill("MIT")
        page.get_by_label("Licence for data").fill("CC-BY-4.0")
        page.get_by_label("Release within this many months of the end").fill("6")
        page.get_by_label("Safety and ethics statement").fill("Weather data only; low risk.")
        page.get_by_label("Data-management plan").fill("All data under CC-BY-4.0 on the facility's registry.")
        page.screenshot(path=str(tmp_path / "proposal-form.png"), full_page=True)
        page.get_by_role("button", name="Save draft").click()
        expect(page.get_by_role("status")).to_contain_text("is saved as a draft")
        expect(page.get_by_role("heading", level=1)).to_contain_text(TITLE)
        page.get_by_role("button", name="Submit the proposal").click()
        expect(page.get_by_role("status")).to_contain_text("is submitted")
        expect(page.get_by_role("heading", name="Status: Submitted")).to_be_visible()
        with factory() as s:
            proposal_id = s.scalar(select(Proposal.id).where(Proposal.title == TITLE))
            assert s.get(Proposal, proposal_id).status is ProposalStatus.SUBMITTED
        page.get_by_role("button", name="Log out").click()

        # The call closes at its deadline (the clock moved there with the services).
        world.close(call_id)

        # The operator passes the technical check and runs the automatic assignment.
        page.goto("/assignments")
        log_in(page, world.operator)
        page.goto("/assignments")
        page.get_by_role("link", name="desk for Open models 2026").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Desk: Open models 2026")
        check = page.get_by_role("group", name=f"Technical check of proposal {proposal_id}")
        check.get_by_label("Passes").check()
        page.get_by_role("button", name=f"Record the check of proposal {proposal_id}").click()
        expect(page.get_by_role("status")).to_contain_text(f"Proposal {proposal_id} passes.")
        page.get_by_role("link", name="assignment board").click()
        page.get_by_role("button", name="Run the automatic assignment").click()
        expect(page.get_by_role("status")).to_contain_text("3 reviews assigned automatically")
        page.screenshot(path=str(tmp_path / "assignment-board.png"), full_page=True)
        page.get_by_role("button", name="Log out").click()
        with factory() as s:
            assigned = [a.reviewer_id for a in reviews.live_assignments(s, call_id)]
        reviewer = next(m for m in world.reviewers if m.person.id == assigned[0])
        outsider = next(m for m in world.reviewers if m.person.id not in assigned)

        # A reviewer who is not assigned cannot open the review form.
        page.goto("/login")
        log_in(page, outsider)
        response = page.goto(f"/reviews/{proposal_id}")
        assert response is not None and response.status == 403
        page.get_by_role("button", name="Log out").click()

        # The assigned reviewer reviews it through the form.
        page.goto("/reviews")
        log_in(page, reviewer)
        page.goto("/reviews")
        page.get_by_role("link", name=TITLE).click()
        expect(page.get_by_role("heading", level=1)).to_have_text(f"Review of proposal {proposal_id}: {TITLE}")
        for criterion, score in (("Excellence", "4"), ("Impact", "5"), ("Feasibility", "3"), ("Openness", "5"),
                                 ("Safety", "4")):
            page.get_by_role("group", name=criterion).get_by_label(score, exact=False).first.check()
        page.get_by_label("Comments for the applicants").fill(COMMENTS)
        page.get_by_label("Confidential comments for the panel (optional)").fill("Strong team.")
        page.screenshot(path=str(tmp_path / "review-form.png"), full_page=True)
        page.get_by_role("button", name="Submit the review").click()
        expect(page.get_by_role("status")).to_contain_text(f"Your review of proposal {proposal_id} is saved")
        expect(page.get_by_role("row", name=TITLE)).to_contain_text("Review submitted")
        with factory() as s:
            row = s.scalar(select(ReviewAssignment).where(ReviewAssignment.proposal_id == proposal_id,
                                                          ReviewAssignment.reviewer_id == reviewer.person.id))
            assert row.status is AssignmentStatus.SUBMITTED
            assert row.scores == {"excellence": 4, "impact": 5, "feasibility": 3, "openness": 5, "safety": 4}
            assert (row.comments_for_applicants, row.confidential_comments) == (COMMENTS, "Strong team.")

        # Anyone reads the statistics, drawn as inline SVG charts.
        page.get_by_role("button", name="Log out").click()
        page.goto("/access/statistics")
        expect(page.get_by_role("img", name="Proposals submitted by member state")).to_be_visible()
        page.screenshot(path=str(tmp_path / "statistics.png"), full_page=True)
        assert [m for m in console_errors if not m.startswith("Failed to load resource")] == []
    finally:
        page.close()
