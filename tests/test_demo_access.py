"""The demo's calls: a first call run from council approval to allocations, a second one open now."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import replace

import pytest
from sqlalchemy import select

from aicommons.access import calls, decisions, proposals, recompute, reviews
from aicommons.access.models import (
    Allocation,
    Appeal,
    AppealStatus,
    AssignmentStatus,
    CallStatus,
    Policy,
    Proposal,
    ProposalStatus,
    ReviewAssignment,
    Slate,
    SlateStatus,
    Track,
)
from aicommons.database import unit_of_work
from aicommons.demo import access as demo_access
from aicommons.demo import data
from aicommons.demo.seed import seed
from aicommons.governance.models import Motion
from aicommons.identity import accounts
from aicommons.ledger.models import LedgerEntry


@pytest.fixture
def seeded(factory, settings):
    with unit_of_work(factory) as s:
        report = seed(s, settings)
    assert report.calls == 2
    return factory


def _calls(s):
    first, second = sorted(calls.list_calls(s, include_drafts=True), key=lambda c: c.id)
    return first, second


def test_the_first_call_ran_from_approval_to_allocations(seeded):
    with seeded() as s:
        first, _ = _calls(s)
        assert first.status is CallStatus.DECIDED and first.policy is Policy.SHARE_AWARE
        assert {t.track for t in first.tracks} == set(Track)
        submitted = proposals.call_proposals(s, first.id)
        assert 18 <= len(submitted) <= 24
        assert {p.track for p in submitted} == set(Track)
        pools = {t.track: t.pool_hours for t in first.tracks}
        given: Counter[Track] = Counter()
        allocations = list(s.scalars(select(Allocation).where(Allocation.call_id == first.id)))
        for allocation in allocations:
            given[allocation.track] += allocation.budget_gpu_seconds // 3600
            assert allocation.budget_gpu_seconds == s.get(Proposal, allocation.proposal_id).award_hours * 3600
        assert allocations and all(given[track] <= pools[track] for track in given)
        assert sum(given.values()) <= sum(pools.values())
        slate = s.scalar(select(Slate).where(Slate.call_id == first.id))
        assert slate.status is SlateStatus.APPROVED
        for motion_id in (first.approval_motion_id, slate.motion_id):
            motion = s.get(Motion, motion_id)
            assert motion.outcome == "passed" and motion.published_at is not None
        kinds = Counter(e.kind for e in s.scalars(select(LedgerEntry)))
        assert kinds["access.call.opened"] == 2 and kinds["access.ranking.published"] == 1
        assert kinds["access.proposal.submitted"] >= len(submitted)
        assert kinds["access.allocation.granted"] == len(allocations)


def test_the_ranking_has_a_story(seeded):
    with seeded() as s:
        first, _ = _calls(s)
        submitted = proposals.call_proposals(s, first.id)
        failed = [p for p in submitted if p.rejected_from is ProposalStatus.TECHNICAL_CHECK]
        assert len(failed) == 1 and "CUDA" in failed[0].rationale
        assert len([p for p in submitted if p.disagreement]) == 1
        below = [p for p in submitted if p.fundable is False]
        assert len(below) == 1 and below[0].status is ProposalStatus.REJECTED
        assert len({p.score for p in submitted if p.track is not Track.FAST_LANE and p.score}) >= 10
        assert any(p.reply and p.replied_at < p.reply_due_at for p in submitted)
        assert any(p.award_hours and p.award_hours < p.requested_hours for p in submitted)
        assert any(len(p.members) for p in submitted)
        appeal = s.scalar(select(Appeal))
        assert appeal.status is AppealStatus.LODGED and appeal.decided_by_id is None
        assert s.get(Proposal, appeal.proposal_id).status is ProposalStatus.REJECTED


def test_reviews_follow_expertise_and_conflict_rules(seeded):
    with seeded() as s:
        first, _ = _calls(s)
        rows = list(s.scalars(select(ReviewAssignment).where(ReviewAssignment.status == AssignmentStatus.SUBMITTED)))
        by_proposal = defaultdict(set)
        for row in rows:
            by_proposal[row.proposal_id].add(row.reviewer.email)
            assert not reviews.conflicts_of(s, row.reviewer_id, row.proposal)
        assert all(len(emails) == first.min_reviews for emails in by_proposal.values())
        assert sum(row.match for row in rows) >= len(rows)  # most reviews share expertise with the proposal
        # Claire Martin left Valmont less than a year ago: she may not review its proposal.
        valmont = next(p for p in proposals.call_proposals(s, first.id) if p.pi.email.endswith("univ-valmont.example"))
        assert "c.martin@alpenrose-eth.example" not in by_proposal[valmont.id]
        reviewer = dict(data.DEMO_LOGINS)["reviewer"]
        assert any(row.reviewer.email == reviewer for row in rows)


def test_the_second_call_is_open_now_for_the_demo_researcher(seeded):
    with seeded() as s:
        _, second = _calls(s)
        assert second.status is CallStatus.OPEN and calls.accepting_proposals(second)
        assert s.get(Motion, second.approval_motion_id).outcome == "passed"
    researcher = dict(data.DEMO_LOGINS)["researcher"]
    with unit_of_work(seeded) as s:  # the real clock: what the portal would do now
        pi = accounts.principal_for(accounts.get_person_by_email(s, researcher))
        mine = [p for p in proposals.proposals_of(s, pi.person_id) if p.pi_id == pi.person_id]
        assert [p.status for p in mine] == [ProposalStatus.APPROVED]  # the award waits for them to accept it
        text = replace(demo_access._text(demo_access.SECOND_CALL[0]), title="A follow-up from the portal")
        proposal = proposals.create_proposal(s, actor=pi, call_id=second.id, text=text)
        assert proposals.submit_proposal(s, actor=pi, proposal_id=proposal.id).status is ProposalStatus.SUBMITTED


def test_the_slate_recomputes_from_the_ledger_and_seeding_again_adds_nothing(seeded, settings):
    with seeded() as s:
        first, _ = _calls(s)
        published = json.loads(s.scalar(select(LedgerEntry.body).where(
            LedgerEntry.kind == "access.ranking.published")))["data"]["ranking"]
        slate = s.scalar(select(Slate).where(Slate.call_id == first.id))
        outcome = recompute.compare({**decisions.published_slate(slate), "id": slate.id}, published)
    assert outcome.matches, outcome.mismatches
    with unit_of_work(seeded) as s:
        assert seed(s, settings).calls == 0
    with seeded() as s:
        assert len(calls.list_calls(s, include_drafts=True)) == 2
