"""A call from draft to allocations on a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from aicommons import clock
from aicommons.access import calls, proposals, reviews
from aicommons.access.models import Allocation, CallStatus, ProposalStatus, Track
from aicommons.database import unit_of_work
from aicommons.errors import Conflict, Invalid
from aicommons.identity import accounts
from aicommons.ledger.models import LedgerEntry
from tests.access.world import World, p


@pytest.fixture
def database_url(any_db_url):
    return any_db_url


@pytest.fixture
def world(factory, people):
    return World(factory, people).build()


def kinds(factory, prefix="access."):
    with factory() as s:
        return [e.kind for e in s.scalars(select(LedgerEntry).order_by(LedgerEntry.id))
                if e.kind.startswith(prefix)]


def test_a_call_runs_from_council_approval_to_allocations(world, factory):
    call_id = world.draft_call()
    with factory() as s:
        assert calls.get_call(s, call_id).status is CallStatus.DRAFT
    world.approve_call(call_id)
    with factory() as s:
        assert calls.get_call(s, call_id).status is CallStatus.OPEN
    ids = [world.propose(call_id, code, hours=h) for code, h in (("DE", 5_000), ("FR", 4_000), ("FI", 3_000))]
    fast = world.propose(call_id, "PT", track=Track.FAST_LANE, hours=400)
    closed = world.close(call_id)
    world.pass_checks(*ids, fast, at=closed)
    world.review_all(call_id, at=closed + timedelta(days=1),
                     scores_for=lambda pid, i: {ids[0]: 5, ids[1]: 4, ids[2]: 3}[pid])
    world.release(call_id, at=closed + timedelta(days=20))
    world.rank(call_id, at=closed + timedelta(days=40))
    _slate_id, motion_id = world.propose_slate(call_id, at=closed + timedelta(days=41))
    world.decide(motion_id, at=closed + timedelta(days=41))
    with factory() as s:
        got = {pid: proposals.get_proposal(s, pid) for pid in [*ids, fast]}
        assert [got[i].status for i in ids] == [ProposalStatus.APPROVED] * 3
        assert got[ids[2]].award_hours == 1_000, "the science pool of 10,000 runs out: a partial award"
        assert "Funded in part" in got[ids[2]].rationale
        allocations = list(s.scalars(select(Allocation).order_by(Allocation.id)))
        assert [a.budget_gpu_seconds for a in allocations] == [5_000 * 3600, 4_000 * 3600, 1_000 * 3600,
                                                               400 * 3600]
        assert calls.get_call(s, call_id).status is CallStatus.DECIDED
    assert kinds(factory) == ["access.call.opened", *["access.proposal.submitted"] * 4, "access.call.closed",
                              "access.ranking.published", *["access.allocation.granted"] * 4]


def test_submission_after_the_close_date_is_a_409_and_changes_nothing(world, factory):
    call_id = world.draft_call()
    world.approve_call(call_id)
    draft = world.propose(call_id, "DE", submit=False)
    with clock.frozen_at(world.closes_at(call_id)), unit_of_work(factory) as s, \
            pytest.raises(Conflict, match="closed"):
        proposals.submit_proposal(s, actor=p(world.researchers["DE"]), proposal_id=draft)
    with factory() as s:
        assert proposals.get_proposal(s, draft).status is ProposalStatus.DRAFT


@pytest.mark.parametrize(("change", "field"), [
    ({"requested_hours": 0}, "requested_hours"), ({"requested_hours": 5_001}, "requested_hours"),
    ({"licence_weights": "Not-A-Licence"}, "licence_weights"), ({"licence_data": ""}, "licence_data"),
])
def test_bad_proposals_are_refused_naming_the_field(world, factory, change, field):
    call_id = world.draft_call()
    world.approve_call(call_id)
    with pytest.raises(Invalid) as caught:
        world.propose(call_id, "DE", **change)
    assert caught.value.errors[0].loc[-1] == field


def test_no_reviewer_is_assigned_against_a_conflict_rule(world, factory):
    call_id = world.draft_call()
    world.approve_call(call_id)
    pid = world.propose(call_id, "DE")
    closed = world.close(call_id)
    world.pass_checks(pid, at=closed)
    reviewer = world.reviewers[0]
    with clock.frozen_at(closed), unit_of_work(factory) as s:
        person = accounts.get_person(s, reviewer.person.id)
        person.institution_id = world.institutions["DE"]  # now works at the applicant's university
    with clock.frozen_at(closed), unit_of_work(factory) as s, pytest.raises(Conflict, match="institution"):
        reviews.assign_manually(s, actor=p(world.operator), proposal_id=pid, reviewer_id=reviewer.person.id)
    with clock.frozen_at(closed), unit_of_work(factory) as s:
        reviews.assign_automatically(s, actor=p(world.operator), call_id=call_id)
        assigned = {a.reviewer_id for a in reviews.live_assignments(s, call_id)}
    assert reviewer.person.id not in assigned and len(assigned) == 3
    with clock.frozen_at(closed), unit_of_work(factory) as s:
        row = reviews.assign_manually(s, actor=p(world.operator), proposal_id=pid, reviewer_id=reviewer.person.id,
                                      justification="The only expert on this topic; panel agreed.")
        assert row.override_reasons == ["institution"]
    assert kinds(factory)[-1] == "access.conflict.overridden"
