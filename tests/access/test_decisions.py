"""Replies, appeals, the share-aware slate, renewals and allocations on a real database."""

from __future__ import annotations

from datetime import timedelta
from fractions import Fraction

import pytest
from sqlalchemy import select

from aicommons import clock
from aicommons.access import allocations, decisions, proposals, reviews
from aicommons.access.models import Allocation, AllocationStatus, Policy, ProposalStatus, SlateStatus, Track
from aicommons.database import unit_of_work
from aicommons.errors import Conflict, Forbidden, Invalid
from aicommons.governance.models import ContributionScale, ContributionShare, ScaleStatus
from aicommons.identity.models import Role
from tests.access.world import World, p


@pytest.fixture
def database_url(any_db_url):
    return any_db_url


@pytest.fixture
def world(factory, people):
    return World(factory, people).build()


def reviewed_call(world, countries=("DE", "FR", "FI"), scores=(5, 4, 2), **call):
    """A call with one proposal per country, reviewed with the given scores and released."""
    call_id = world.draft_call(**call)
    world.approve_call(call_id)
    ids = [world.propose(call_id, c, hours=3_000) for c in countries]
    closed = world.close(call_id)
    world.pass_checks(*ids, at=closed)
    score = dict(zip(ids, scores, strict=True))
    world.review_all(call_id, at=closed + timedelta(days=1), scores_for=lambda pid, i: score[pid])
    world.release(call_id, at=closed + timedelta(days=2))
    return call_id, ids, closed


def test_applicants_reply_once_within_the_period_and_see_anonymous_reviews(world, factory):
    _call_id, ids, closed = reviewed_call(world)
    de = p(world.researchers["DE"])
    with clock.frozen_at(closed + timedelta(days=3)), unit_of_work(factory) as s:
        seen = reviews.reviews_for_applicants(s, proposals.get_proposal(s, ids[0]))
        assert [r.label for r in seen] == ["Reviewer 1", "Reviewer 2", "Reviewer 3"]
        assert all(r.weighted == 5 and r.comments.startswith("Comments") for r in seen)
        proposals.reply_to_reviews(s, actor=de, proposal_id=ids[0], reply="We will add a baseline.")
    with clock.frozen_at(closed + timedelta(days=3)), unit_of_work(factory) as s:
        with pytest.raises(Conflict, match="once"):
            proposals.reply_to_reviews(s, actor=de, proposal_id=ids[0], reply="And another thing.")
        with pytest.raises(Forbidden):
            proposals.reply_to_reviews(s, actor=p(world.researchers["FR"]), proposal_id=ids[0], reply="Not mine.")
    with clock.frozen_at(closed + timedelta(days=30)), unit_of_work(factory) as s, \
            pytest.raises(Conflict, match="reply period ended"):
        proposals.reply_to_reviews(s, actor=p(world.researchers["FR"]), proposal_id=ids[1], reply="Too late.")


def test_ranking_waits_for_open_replies_then_flags_nothing_when_reviewers_agree(world, factory):
    call_id, ids, closed = reviewed_call(world)
    with clock.frozen_at(closed + timedelta(days=3)), unit_of_work(factory) as s, \
            pytest.raises(Conflict, match="may still reply"):
        decisions.rank_call(s, actor=p(world.operator), call_id=call_id)
    world.rank(call_id, at=closed + timedelta(days=20))
    with factory() as s:
        ranked = sorted((proposals.get_proposal(s, i) for i in ids), key=lambda x: x.rank)
        assert [(x.id, x.score, x.fundable) for x in ranked] == [(ids[0], "5", True), (ids[1], "4", True),
                                                               (ids[2], "2", False)]
        assert not any(x.disagreement for x in ranked)


def test_a_rejection_is_appealed_once_and_decided_by_another_operator(world, factory):
    call_id, ids, closed = reviewed_call(world)
    world.rank(call_id, at=closed + timedelta(days=20))
    _, motion_id = world.propose_slate(call_id, at=closed + timedelta(days=21))
    decided = world.decide(motion_id, at=closed + timedelta(days=21))
    fi = p(world.researchers["FI"])
    with factory() as s:
        rejected = proposals.get_proposal(s, ids[2])
        assert rejected.status is ProposalStatus.REJECTED and "funding threshold" in rejected.rationale
    with clock.frozen_at(decided), unit_of_work(factory) as s:
        proposals.lodge_appeal(s, actor=fi, proposal_id=ids[2], grounds="Reviewer 3 misread our method.")
    with clock.frozen_at(decided), unit_of_work(factory) as s, pytest.raises(Conflict, match="once"):
        proposals.lodge_appeal(s, actor=fi, proposal_id=ids[2], grounds="Again.")
    with clock.frozen_at(decided), unit_of_work(factory) as s, pytest.raises(Forbidden, match="other than"):
        proposals.decide_appeal(s, actor=p(world.operator), proposal_id=ids[2], upheld=True, decision="Yes.")
    with clock.frozen_at(decided), unit_of_work(factory) as s:
        proposals.decide_appeal(s, actor=p(world.second_operator), proposal_id=ids[2], upheld=True,
                                decision="The reviews overlooked section 3; back to ranking.")
    with factory() as s:
        assert proposals.get_proposal(s, ids[2]).status is ProposalStatus.RANKED
    # A supplementary slate shares out what is left of the pool among the proposals returned to the ranking.
    slate_id, motion2 = world.propose_slate(call_id, at=decided)
    with factory() as s:
        supplementary = decisions.get_slate(s, slate_id)
        assert decisions.is_supplementary(s, supplementary)
        assert [p["proposal_id"] for p in supplementary.inputs["proposals"]] == [ids[2]]
        assert supplementary.inputs["tracks"]["science"]["pool_hours"] == 10_000 - 6_000
    world.decide(motion2, at=decided)
    with factory() as s:
        # Still below the funding threshold: the supplementary slate funds it no more than the first did.
        assert proposals.get_proposal(s, ids[2]).status is ProposalStatus.REJECTED


def test_an_appeal_after_its_deadline_is_refused(world, factory):
    call_id = world.draft_call()
    world.approve_call(call_id)
    pid = world.propose(call_id, "DE")
    closed = world.close(call_id)
    with clock.frozen_at(closed), unit_of_work(factory) as s:
        with pytest.raises(Invalid):
            proposals.record_technical_check(s, actor=p(world.operator), proposal_id=pid, passed=False, notes=" ")
        proposals.record_technical_check(s, actor=p(world.operator), proposal_id=pid, passed=False,
                                         notes="Requests H200s for a CPU-only workload.")
    with clock.frozen_at(closed + timedelta(days=31)), unit_of_work(factory) as s, \
            pytest.raises(Conflict, match="appeal period ended"):
        proposals.lodge_appeal(s, actor=p(world.researchers["DE"]), proposal_id=pid, grounds="Late.")


def adopt_scale(factory, shares):
    """A scale in force, written directly: the council's adoption of scales is tested in governance."""
    with unit_of_work(factory) as s:
        scale = ContributionScale(status=ScaleStatus.IN_FORCE, workings={}, computed_at=clock.now())
        scale.shares = [ContributionShare(member_state_code=c, share=v) for c, v in shares.items()]
        s.add(scale)


def test_the_share_aware_slate_keeps_a_state_within_its_tolerance(world, factory):
    adopt_scale(factory, {"DE": "0.25", "FR": "0.25", "FI": "0.25", "PT": "0.25"})
    call_id = world.draft_call(policy=Policy.SHARE_AWARE, pools={Track.SCIENCE: 8_000}, tolerance="1/20")
    world.approve_call(call_id)
    ids = [world.propose(call_id, c, hours=4_000) for c in ("DE", "DE", "FR", "PT")]
    closed = world.close(call_id)
    world.pass_checks(*ids, at=closed)
    scores = dict(zip(ids, (5, 5, 4, 3), strict=True))
    world.review_all(call_id, at=closed + timedelta(days=1), scores_for=lambda pid, i: scores[pid])
    world.release(call_id, at=closed + timedelta(days=2))
    world.rank(call_id, at=closed + timedelta(days=20))
    slate_id, motion_id = world.propose_slate(call_id, at=closed + timedelta(days=21))
    with factory() as s:
        slate = decisions.get_slate(s, slate_id)
        states = {line["state"]: line for line in slate.result["states"]}
    assert states["DE"]["cap_hours"] == 2_400 and states["DE"]["allocated_hours"] <= 2_400
    assert Fraction(states["DE"]["allocated_share"]) <= Fraction(1, 4) + Fraction(1, 20) or \
        not states["DE"]["within_tolerance"]
    world.decide(motion_id, at=closed + timedelta(days=21))
    with factory() as s:
        assert decisions.get_slate(s, slate_id).status is SlateStatus.APPROVED
        granted = sum(a.budget_gpu_seconds for a in s.scalars(select(Allocation).where(
            Allocation.member_state_code == "DE")))
        assert granted <= 2_400 * 3600


def test_a_council_that_turns_down_the_slate_sends_it_back(world, factory):
    call_id, ids, closed = reviewed_call(world)
    world.rank(call_id, at=closed + timedelta(days=20))
    slate_id, motion_id = world.propose_slate(call_id, at=closed + timedelta(days=21))
    world.decide(motion_id, at=closed + timedelta(days=21), yes=("DE",), no=("FR", "FI", "PT"))
    with factory() as s:
        assert decisions.get_slate(s, slate_id).status is SlateStatus.REJECTED
        assert s.scalar(select(Allocation)) is None
        assert all(proposals.get_proposal(s, i).status is ProposalStatus.RANKED for i in ids)
    second, _ = world.propose_slate(call_id, at=closed + timedelta(days=40))
    assert second != slate_id


def test_allocations_are_managed_by_their_pi_and_revoked_with_a_reason(world, factory):
    call_id, ids, closed = reviewed_call(world)
    world.rank(call_id, at=closed + timedelta(days=20))
    _, motion_id = world.propose_slate(call_id, at=closed + timedelta(days=21))
    decided = world.decide(motion_id, at=closed + timedelta(days=21))
    with factory() as s:
        allocation = s.scalar(select(Allocation).where(Allocation.proposal_id == ids[0]))
        allocation_id = allocation.id
        assert [m.person_id for m in allocation.members] == [world.researchers["DE"].person.id]
    fr_email = world.researchers["FR"].person.email
    with clock.frozen_at(decided), unit_of_work(factory) as s:
        with pytest.raises(Forbidden):
            allocations.add_member(s, actor=p(world.researchers["FR"]), allocation_id=allocation_id, email=fr_email)
        allocations.add_member(s, actor=p(world.researchers["DE"]), allocation_id=allocation_id, email=fr_email)
        proposals.accept_award(s, actor=p(world.researchers["DE"]), proposal_id=ids[0])
    with clock.frozen_at(decided), unit_of_work(factory) as s:
        with pytest.raises(Invalid):
            allocations.revoke(s, actor=p(world.operator), allocation_id=allocation_id, reason="")
        allocations.revoke(s, actor=p(world.operator), allocation_id=allocation_id, reason="Breach of terms.")
    with factory() as s:
        assert allocations.get_allocation(s, allocation_id).status is AllocationStatus.REVOKED
        assert proposals.get_proposal(s, ids[0]).status is ProposalStatus.ACTIVE


def test_allocations_expire_after_their_last_day(world, factory):
    call_id, _ids, closed = reviewed_call(world)
    world.rank(call_id, at=closed + timedelta(days=20))
    _, motion_id = world.propose_slate(call_id, at=closed + timedelta(days=21))
    world.decide(motion_id, at=closed + timedelta(days=21))
    with factory() as s:
        last = max(a.ends_on for a in s.scalars(select(Allocation)))
    with clock.frozen_at(closed + timedelta(days=800)), unit_of_work(factory) as s:
        assert len(allocations.expire_ended(s)) == 2
    with factory() as s:
        assert {a.status for a in s.scalars(select(Allocation))} == {AllocationStatus.EXPIRED}
    assert last.year >= closed.year


def test_a_declared_conflict_withdraws_the_assignment(world, factory):
    call_id = world.draft_call()
    world.approve_call(call_id)
    pid = world.propose(call_id, "DE")
    closed = world.close(call_id)
    world.pass_checks(pid, at=closed)
    with clock.frozen_at(closed), unit_of_work(factory) as s:
        reviews.assign_automatically(s, actor=p(world.operator), call_id=call_id)
        first = reviews.live_assignments(s, call_id)[0].reviewer_id
    reviewer = next(m for m in world.reviewers if m.person.id == first)
    with clock.frozen_at(closed), unit_of_work(factory) as s:
        reviews.declare_conflict(s, actor=p(reviewer), proposal_id=pid, reason="Co-author of the PI.")
    with clock.frozen_at(closed), unit_of_work(factory) as s:
        assert first not in {a.reviewer_id for a in reviews.live_assignments(s, call_id)}
        with pytest.raises(Forbidden):
            reviews.submit_review(s, actor=p(reviewer), proposal_id=pid, scores={}, comments_for_applicants="x")
        reviews.assign_automatically(s, actor=p(world.operator), call_id=call_id)
        assert first not in {a.reviewer_id for a in reviews.live_assignments(s, call_id)}


def test_a_renewal_is_reviewed_again_and_adds_to_its_allocation(world, factory):
    call_id, ids, closed = reviewed_call(world)
    world.rank(call_id, at=closed + timedelta(days=20))
    _, motion_id = world.propose_slate(call_id, at=closed + timedelta(days=21))
    world.decide(motion_id, at=closed + timedelta(days=21))
    with factory() as s:
        allocation = s.scalar(select(Allocation).where(Allocation.proposal_id == ids[0]))
        allocation_id, budget, ends_on = allocation.id, allocation.budget_gpu_seconds, allocation.ends_on
    second = world.draft_call(at=closed + timedelta(days=60))
    world.approve_call(second, at=closed + timedelta(days=60))
    with clock.frozen_at(world.open_at(second) + timedelta(hours=1)), unit_of_work(factory) as s:
        text = proposals.text_of(proposals.get_proposal(s, ids[0]))
        with pytest.raises(Invalid, match="your own"):
            proposals.create_proposal(s, actor=p(world.researchers["FR"]), call_id=second, text=text,
                                      renews_allocation_id=allocation_id)
    with clock.frozen_at(world.open_at(second) + timedelta(hours=1)), unit_of_work(factory) as s:
        from dataclasses import replace

        renewal = proposals.create_proposal(s, actor=p(world.researchers["DE"]), call_id=second,
                                            text=replace(text, track=Track.FAST_LANE, requested_hours=300),
                                            renews_allocation_id=allocation_id)
        proposals.submit_proposal(s, actor=p(world.researchers["DE"]), proposal_id=renewal.id)
        renewal_id = renewal.id
    closed2 = world.close(second)
    world.pass_checks(renewal_id, at=closed2)
    world.rank(second, at=closed2)
    _, motion2 = world.propose_slate(second, at=closed2)
    world.decide(motion2, at=closed2)
    with factory() as s:
        allocation = allocations.get_allocation(s, allocation_id)
        assert allocation.budget_gpu_seconds == budget + 300 * 3600
        assert allocation.ends_on > ends_on
        assert s.scalar(select(Allocation).where(Allocation.proposal_id == renewal_id)) is None


def test_an_operator_who_applies_never_acts_as_the_panel_on_the_call(world, factory):
    from aicommons.identity import accounts

    call_id = world.draft_call()
    world.approve_call(call_id)
    pid = world.propose(call_id, "DE", team=[world.researchers["FR"].person.email])
    other = world.propose(call_id, "FI")
    closed = world.close(call_id)
    with unit_of_work(factory) as s:
        accounts.grant_role(s, actor=None, person_id=world.researchers["FR"].person.id, role=Role.OPERATOR)
    insider = p(world.researchers["FR"])
    insider = type(insider)(**{**vars(insider), "roles": insider.roles | {(Role.OPERATOR, None)}})
    with clock.frozen_at(closed), unit_of_work(factory) as s, pytest.raises(Forbidden, match="applicant"):
        proposals.record_technical_check(s, actor=insider, proposal_id=pid, passed=True, notes="")
    world.pass_checks(pid, other, at=closed)
    with clock.frozen_at(closed), unit_of_work(factory) as s, pytest.raises(Forbidden, match="applicant"):
        reviews.assign_automatically(s, actor=insider, call_id=call_id)
    with factory() as s:
        # A team member of one proposal is conflicted on every other proposal of the call.
        applicants = reviews.call_applicants(s, call_id).people
        assert world.researchers["FR"].person.id in applicants and world.researchers["FI"].person.id in applicants


def test_a_slate_whose_attachment_was_swapped_grants_nothing(world, factory):
    from aicommons.governance import agenda

    call_id, _ids, closed = reviewed_call(world)
    world.rank(call_id, at=closed + timedelta(days=20))
    slate_id, motion_id = world.propose_slate(call_id, at=closed + timedelta(days=21))
    with unit_of_work(factory) as s:
        motion = agenda.get_motion(s, motion_id, viewer=p(world.operator))
        agenda.remove_attachment(s, motion_id=motion_id, attachment_id=motion.attachments[0].id)
        agenda.add_attachment(s, motion_id=motion_id, filename="slate.json", media_type="application/json",
                              content=b'{"digest": "forged", "inputs": {}, "result": {}}')
    world.decide(motion_id, at=closed + timedelta(days=21))
    with factory() as s:
        assert decisions.get_slate(s, slate_id).status is SlateStatus.REJECTED
        assert s.scalar(select(Allocation)) is None
