"""The council on a real database (each test runs on SQLite and on PostgreSQL): motions, ballots, tallies."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from aicommons import clock
from aicommons.database import unit_of_work
from aicommons.errors import Conflict, Forbidden, Invalid, NotFound
from aicommons.governance import agenda, council, service
from aicommons.governance.models import MotionStatus, ScaleStatus
from aicommons.governance.rules import Choice, MotionKind
from aicommons.identity import accounts
from aicommons.identity.models import MembershipStatus, MemberState, Role
from aicommons.ledger.models import LedgerEntry

T0 = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)


@pytest.fixture
def database_url(any_db_url):
    return any_db_url


@pytest.fixture
def council_setup(people):
    """Four member states with a delegate each, an associate member, and an operator."""
    delegates = {code: people.make(Role.DELEGATE, state=code) for code in ("DE", "FR", "FI", "PT")}
    people.state("SI", MembershipStatus.ASSOCIATE_MEMBER)
    operator = people.make(Role.OPERATOR)
    return operator, delegates


def principal(member):
    return accounts.principal_for(member.person)


def open_motion(factory, operator, kind=MotionKind.POLICY, payload=None, at=T0, **extra):
    """Draft, give notice and open voting, with the clock moved past the notice period."""
    op = principal(operator)
    with clock.frozen_at(at), unit_of_work(factory) as s:
        motion = agenda.draft_motion(s, actor=op, kind=kind, title="A motion", text="The council resolves ...",
                                      payload=payload, **extra)
        council.give_notice(s, actor=op, motion_id=motion.id)
        motion_id = motion.id
    with clock.frozen_at(at + timedelta(days=14)), unit_of_work(factory) as s:
        council.open_voting(s, actor=op, motion_id=motion_id, voting_days=7)
    return motion_id


def vote(factory, delegate, motion_id, choice, at=T0 + timedelta(days=15), **kw):
    with clock.frozen_at(at), unit_of_work(factory) as s:
        return council.cast_ballot(s, actor=principal(delegate), motion_id=motion_id, choice=choice, **kw).id


def finish(factory, operator, motion_id, at=T0 + timedelta(days=22)):
    op = principal(operator)
    with clock.frozen_at(at), unit_of_work(factory) as s:
        council.close_voting(s, actor=op, motion_id=motion_id)
        council.tally_motion(s, actor=op, motion_id=motion_id)
        council.publish_motion(s, actor=op, motion_id=motion_id)
    with factory() as s:
        return agenda.get_motion(s, motion_id)


def test_a_motion_passes_by_simple_majority_and_every_step_is_in_the_ledger(factory, council_setup):
    operator, d = council_setup
    motion_id = open_motion(factory, operator)
    for code, choice in (("DE", Choice.YES), ("FR", Choice.YES), ("FI", Choice.NO), ("PT", Choice.ABSTAIN)):
        vote(factory, d[code], motion_id, choice, explanation=f"{code} explains")
    motion = finish(factory, operator, motion_id)
    assert motion.status is MotionStatus.PUBLISHED and motion.outcome == "passed"
    assert motion.tally["counts"] == {"yes": 2, "no": 1, "abstain": 1, "absent": 0}
    assert "SI" not in motion.tally["eligible"], "associate members do not vote"
    with factory() as s:
        subject = f"urn:aicommons:motion:{motion_id}"
        kinds = [e.kind for e in s.scalars(select(LedgerEntry).where(LedgerEntry.subject == subject)
                                           .order_by(LedgerEntry.id))]
    assert kinds == ["governance.motion.noticed", "governance.motion.opened", *["governance.ballot.cast"] * 4,
                     "governance.motion.closed", "governance.motion.tallied", "governance.motion.published"]


def test_a_delegate_cannot_vote_for_another_state(factory, council_setup):
    operator, d = council_setup
    motion_id = open_motion(factory, operator)
    with pytest.raises(Forbidden, match="not of FR"):
        vote(factory, d["DE"], motion_id, Choice.YES, member_state_code="FR")
    with pytest.raises(Forbidden, match="only a delegate"):
        vote(factory, operator, motion_id, Choice.YES)
    with factory() as s:
        assert council.final_ballots(s, motion_id) == {}


def test_voting_twice_counts_once_and_the_last_ballot_counts(factory, council_setup):
    operator, d = council_setup
    motion_id = open_motion(factory, operator)
    vote(factory, d["DE"], motion_id, Choice.NO)
    vote(factory, d["DE"], motion_id, Choice.YES, at=T0 + timedelta(days=16))
    for code in ("FR", "FI"):
        vote(factory, d[code], motion_id, Choice.NO)
    motion = finish(factory, operator, motion_id)
    assert motion.tally["ballots"]["DE"] == "yes"
    assert motion.tally["counts"] == {"yes": 1, "no": 2, "abstain": 0, "absent": 1}
    with factory() as s:
        history = council.ballot_history(s, motion_id)
    assert [(b.member_state_code, b.superseded) for b in history][:2] == [("DE", True), ("DE", False)]


def test_ballots_after_closing_are_refused(factory, council_setup):
    operator, d = council_setup
    motion_id = open_motion(factory, operator)
    vote(factory, d["DE"], motion_id, Choice.YES)
    with pytest.raises(Conflict, match="closed at"):
        vote(factory, d["FR"], motion_id, Choice.NO, at=T0 + timedelta(days=21, hours=1))
    finish(factory, operator, motion_id)
    with pytest.raises(Conflict, match="published"):
        vote(factory, d["FR"], motion_id, Choice.NO, at=T0 + timedelta(days=30))


def test_the_vote_cannot_close_early_while_states_have_not_voted(factory, council_setup):
    operator, d = council_setup
    motion_id = open_motion(factory, operator)
    vote(factory, d["DE"], motion_id, Choice.YES)
    with pytest.raises(Conflict, match="FI, FR, PT have not voted"), clock.frozen_at(T0 + timedelta(days=16)), \
            unit_of_work(factory) as s:
        council.close_voting(s, actor=principal(operator), motion_id=motion_id)


def test_attachments_and_text_cannot_change_after_voting_opens(factory, council_setup):
    operator, _ = council_setup
    op = principal(operator)
    with clock.frozen_at(T0), unit_of_work(factory) as s:
        motion = agenda.draft_motion(s, actor=op, kind=MotionKind.BUDGET, title="Budget 2027", text="Adopt it.")
        agenda.add_attachment(s, motion_id=motion.id, filename="budget.csv", media_type="text/csv",
                               content=b"line,eur\ncompute,100\n")
        council.give_notice(s, actor=op, motion_id=motion.id)
        motion_id = motion.id
    with clock.frozen_at(T0 + timedelta(days=14)), unit_of_work(factory) as s:
        council.open_voting(s, actor=op, motion_id=motion_id)
    with pytest.raises(Conflict, match="voting"), unit_of_work(factory) as s:
        agenda.add_attachment(s, motion_id=motion_id, filename="budget-v2.csv", media_type="text/csv",
                               content=b"line,eur\ncompute,999\n")
    with pytest.raises(Conflict), unit_of_work(factory) as s:
        agenda.edit_motion(s, motion_id=motion_id, text="Something else")
    with pytest.raises(Conflict), unit_of_work(factory) as s:
        agenda.remove_attachment(s, motion_id=motion_id, attachment_id=1)
    with factory() as s:
        opened = s.scalar(select(LedgerEntry).where(LedgerEntry.kind == "governance.motion.opened"))
        data = json.loads(opened.body)["data"]
        motion = agenda.get_motion(s, motion_id)
    assert data["attachments"] == [{"filename": "budget.csv", "sha256": motion.attachments[0].sha256, "size": 21}]
    assert data["text_sha256"] == agenda.text_digest("Adopt it.")


def test_illegal_transitions_are_conflicts(factory, council_setup):
    operator, _ = council_setup
    op = principal(operator)
    with clock.frozen_at(T0), unit_of_work(factory) as s:
        motion_id = agenda.draft_motion(s, actor=op, kind=MotionKind.POLICY, title="t", text="x").id
    for step in (council.open_voting, council.close_voting, council.tally_motion, council.publish_motion):
        with pytest.raises(Conflict, match="draft"), unit_of_work(factory) as s:
            step(s, actor=op, motion_id=motion_id)
    with clock.frozen_at(T0), unit_of_work(factory) as s:
        council.give_notice(s, actor=op, motion_id=motion_id)
    with pytest.raises(Conflict, match="notice period runs until"), clock.frozen_at(T0 + timedelta(days=13)), \
            unit_of_work(factory) as s:
        council.open_voting(s, actor=op, motion_id=motion_id)


def test_drafts_are_hidden_from_everyone_but_operators(factory, council_setup):
    operator, d = council_setup
    with unit_of_work(factory) as s:
        motion_id = agenda.draft_motion(s, actor=principal(operator), kind=MotionKind.POLICY, title="t",
                                         text="x").id
    with factory() as s:
        assert agenda.get_motion(s, motion_id, viewer=principal(operator)).id == motion_id
        with pytest.raises(NotFound):
            agenda.get_motion(s, motion_id, viewer=principal(d["DE"]))
        assert agenda.list_motions(s, viewer=None) == []


def test_a_state_in_arrears_loses_its_vote_unless_waived(factory, council_setup):
    operator, d = council_setup
    year = T0.year
    with clock.frozen_at(T0), unit_of_work(factory) as s:
        for y, due, paid in ((year - 2, 100, 0), (year - 1, 100, 0), (year, 100, 0)):
            service.record_dues(s, actor=None, member_state_code="PT", year=y, due_eur=due, paid_eur=paid)
    motion_id = open_motion(factory, operator)
    with factory() as s:
        motion = agenda.get_motion(s, motion_id)
    assert "PT" not in motion.electorate["eligible"]
    assert "arrears of 300 EUR exceed the 200 EUR" in motion.electorate["excluded"]["PT"]
    with pytest.raises(Forbidden, match="PT has no vote"):
        vote(factory, d["PT"], motion_id, Choice.YES)

    waiver = open_motion(factory, operator, payload={"waive_arrears": {"member_state": "PT", "year": year}},
                         at=T0 + timedelta(days=1))
    for code in ("DE", "FR", "FI"):
        vote(factory, d[code], waiver, Choice.YES, at=T0 + timedelta(days=16))
    assert finish(factory, operator, waiver, at=T0 + timedelta(days=16)).outcome == "passed"
    later = open_motion(factory, operator, at=T0 + timedelta(days=17))
    with factory() as s:
        assert "PT" in agenda.get_motion(s, later).electorate["eligible"]


def test_admission_by_unanimity_admits_the_state_when_published(factory, council_setup, people):
    operator, d = council_setup
    people.state("CA", MembershipStatus.OBSERVER)
    motion_id = open_motion(factory, operator, kind=MotionKind.ADMISSION, payload={"member_state": "CA"})
    for code in ("DE", "FR", "FI"):
        vote(factory, d[code], motion_id, Choice.YES)
    assert finish(factory, operator, motion_id).outcome == "failed", "PT did not vote: no unanimity of all"

    motion_id = open_motion(factory, operator, kind=MotionKind.ADMISSION, payload={"member_state": "CA"},
                            at=T0 + timedelta(days=30))
    for code in d:
        vote(factory, d[code], motion_id, Choice.YES, at=T0 + timedelta(days=45))
    assert finish(factory, operator, motion_id, at=T0 + timedelta(days=45)).outcome == "passed"
    with factory() as s:
        assert s.get(MemberState, "CA").status is MembershipStatus.MEMBER


def test_a_constitution_amendment_changes_the_rules_for_later_motions(factory, council_setup):
    operator, d = council_setup
    with factory() as s:
        rules = dict(agenda.constitution(s).rules)
    rules["policy"] = {**rules["policy"], "threshold": "3/4", "tie": "passes"}
    motion_id = open_motion(factory, operator, kind=MotionKind.CONSTITUTION_AMENDMENT,
                            payload={"rules": rules, "notice_days": 7})
    for code in d:
        vote(factory, d[code], motion_id, Choice.YES)
    finish(factory, operator, motion_id)
    with factory() as s:
        current = agenda.constitution(s)
    assert current.version == 2 and current.adopted_by_motion_id == motion_id and current.notice_days == 7
    assert current.rules["policy"]["threshold"] == "3/4"


def test_a_bad_rule_in_an_amendment_is_refused_naming_the_field(factory, council_setup):
    operator, _ = council_setup
    with factory() as s:
        rules = dict(agenda.constitution(s).rules)
    rules["budget"] = {**rules["budget"], "threshold": "3/2"}
    with pytest.raises(Invalid) as caught, unit_of_work(factory) as s:
        agenda.draft_motion(s, actor=principal(operator), kind=MotionKind.CONSTITUTION_AMENDMENT, title="t",
                             text="x", payload={"rules": rules})
    assert caught.value.errors[0].loc == ("body", "payload", "rules", "budget", "threshold")


def test_a_contribution_scale_is_adopted_by_two_thirds_of_all_members(factory, council_setup):
    operator, d = council_setup
    with unit_of_work(factory) as s:
        for code, nni in (("DE", 3000), ("FR", 2000), ("FI", 250), ("PT", 200), ("SI", 50)):
            for year in (2023, 2024, 2025):
                service.record_economic_figure(s, member_state_code=code, year=year, nni_million_eur=nni,
                                               gdp_million_eur=None, source="test")
        scale_id = service.compute_scale(s, actor=None, years=(2023, 2024, 2025)).id
    motion_id = open_motion(factory, operator, kind=MotionKind.CONTRIBUTION_SCALE, payload={"scale_id": scale_id})
    for code in ("DE", "FR", "FI"):
        vote(factory, d[code], motion_id, Choice.YES)
    assert finish(factory, operator, motion_id).outcome == "passed", "3 of 4 members is at least two-thirds"
    with factory() as s:
        scale = service.scale_in_force(s)
        assert scale.id == scale_id and scale.status is ScaleStatus.IN_FORCE
        assert sum(float(x.share) for x in scale.shares) == pytest.approx(1)


def test_economic_figures_need_a_source_and_positive_values(factory, people):
    people.state("FI")
    with pytest.raises(Invalid, match="source"), unit_of_work(factory) as s:
        service.record_economic_figure(s, member_state_code="FI", year=2025, nni_million_eur=10,
                                       gdp_million_eur=None, source="  ")
    with pytest.raises(Invalid, match="positive"), unit_of_work(factory) as s:
        service.record_economic_figure(s, member_state_code="FI", year=2025, nni_million_eur=-1,
                                       gdp_million_eur=None, source="x")
    with pytest.raises(NotFound), unit_of_work(factory) as s:
        service.record_economic_figure(s, member_state_code="ZZ", year=2025, nni_million_eur=1,
                                       gdp_million_eur=None, source="x")


def test_the_founding_constitution_on_file_is_the_shipped_default(factory):
    from aicommons.governance import rules

    with factory() as s:
        founding = agenda.constitution(s, 1)
    assert rules.rules_from_dict(founding.rules) == rules.DEFAULT_RULES
    assert founding.notice_days == rules.DEFAULT_NOTICE_DAYS


def test_a_change_during_notice_is_published_and_restarts_the_notice(factory, council_setup):
    operator, _ = council_setup
    op = principal(operator)
    with clock.frozen_at(T0), unit_of_work(factory) as s:
        motion_id = agenda.draft_motion(s, actor=op, kind=MotionKind.POLICY, title="t", text="first").id
        council.give_notice(s, actor=op, motion_id=motion_id)
    with clock.frozen_at(T0 + timedelta(days=10)), unit_of_work(factory) as s:
        agenda.edit_motion(s, actor=op, motion_id=motion_id, text="second")
    with pytest.raises(Conflict, match="notice period runs until"), clock.frozen_at(T0 + timedelta(days=15)), \
            unit_of_work(factory) as s:
        council.open_voting(s, actor=op, motion_id=motion_id)
    with clock.frozen_at(T0 + timedelta(days=24)), unit_of_work(factory) as s:
        council.open_voting(s, actor=op, motion_id=motion_id)
    with factory() as s:
        revised = s.scalar(select(LedgerEntry).where(LedgerEntry.kind == "governance.motion.revised"))
    assert json.loads(revised.body)["data"]["text_sha256"] == agenda.text_digest("second")


def test_a_motion_needs_a_title_and_text_and_a_proposed_scale(factory, council_setup):
    operator, _ = council_setup
    with pytest.raises(Invalid, match="title"), unit_of_work(factory) as s:
        agenda.draft_motion(s, actor=principal(operator), kind=MotionKind.POLICY, title="  ", text="x")
    with pytest.raises(Invalid) as caught, unit_of_work(factory) as s:
        agenda.draft_motion(s, actor=principal(operator), kind=MotionKind.CONTRIBUTION_SCALE, title="t",
                             text="x", payload={"scale_id": 999})
    assert caught.value.errors[0].loc == ("body", "payload", "scale_id")


def test_an_operator_who_is_also_a_delegate_cannot_vote(factory, council_setup, people):
    operator, _ = council_setup
    motion_id = open_motion(factory, operator)
    both = people.make(Role.DELEGATE, state="FR")
    with unit_of_work(factory) as s:
        accounts.grant_role(s, actor=None, person_id=both.person.id, role=Role.OPERATOR)
        s.flush()
        both_principal = accounts.principal_for(accounts.get_person(s, both.person.id))
    with pytest.raises(Forbidden, match="operator"), clock.frozen_at(T0 + timedelta(days=15)), \
            unit_of_work(factory) as s:
        council.cast_ballot(s, actor=both_principal, motion_id=motion_id, choice=Choice.YES)


def test_an_amendment_cannot_weight_votes_before_any_scale_is_in_force(factory, council_setup):
    operator, _ = council_setup
    with factory() as s:
        rules = dict(agenda.constitution(s).rules)
    rules["contribution_scale"] = {**rules["contribution_scale"], "weighting": "contribution"}
    with pytest.raises(Invalid) as caught, unit_of_work(factory) as s:
        agenda.draft_motion(s, actor=principal(operator), kind=MotionKind.CONSTITUTION_AMENDMENT, title="t",
                            text="x", payload={"rules": rules})
    assert caught.value.errors[0].loc[-2:] == ("contribution_scale", "weighting")


def test_once_the_council_sits_only_an_admission_motion_makes_a_member(factory, council_setup, people):
    from datetime import date

    from aicommons.identity import service as identity

    operator, d = council_setup
    people.state("CA", MembershipStatus.OBSERVER)
    with unit_of_work(factory) as s:  # before any decision: founding states are registered directly
        identity.admit_member_state(s, actor=None, code="NO", name=None, status=MembershipStatus.MEMBER,
                                    admitted_on=date(2026, 1, 1))
    motion_id = open_motion(factory, operator)
    vote(factory, d["DE"], motion_id, Choice.YES)
    finish(factory, operator, motion_id)
    with pytest.raises(Conflict, match="admission motion"), unit_of_work(factory) as s:
        identity.change_member_state(s, actor=principal(operator), code="CA", status=MembershipStatus.MEMBER)
    with pytest.raises(Conflict, match="admission motion"), unit_of_work(factory) as s:
        identity.admit_member_state(s, actor=None, code="IS", name=None, status=MembershipStatus.MEMBER,
                                    admitted_on=date(2026, 1, 1))
    with pytest.raises(Conflict), unit_of_work(factory) as s:  # nor can a voting member be demoted
        identity.change_member_state(s, actor=principal(operator), code="DE", status=MembershipStatus.OBSERVER)
    with unit_of_work(factory) as s:  # observers may still be registered, names corrected
        identity.admit_member_state(s, actor=None, code="IS", name=None, status=MembershipStatus.OBSERVER,
                                    admitted_on=date(2026, 1, 1))
        identity.change_member_state(s, actor=None, code="DE", name="Federal Republic of Germany")
