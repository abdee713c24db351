"""Conflicts of interest from the records: past affiliations (12 months), email domains and aliases."""

from __future__ import annotations

from datetime import timedelta

import pytest

from aicommons import clock
from aicommons.access import proposals, reviews
from aicommons.access.coi import Reason
from aicommons.database import unit_of_work
from aicommons.errors import Conflict, Forbidden
from aicommons.identity import accounts, service
from aicommons.identity.models import InstitutionKind, Role
from tests.access.world import World


@pytest.fixture
def database_url(any_db_url):
    return any_db_url


@pytest.fixture
def world(factory, people):
    return World(factory, people).build(reviewers=1)


def reasons(factory, reviewer, pid, at):
    with clock.frozen_at(at), factory() as s:
        return reviews.conflicts_of(s, reviewer.person.id, proposals.get_proposal(s, pid))


def test_a_reviewer_who_left_the_applicants_institution_is_conflicted_for_twelve_months(world, factory):
    call_id = world.draft_call()
    world.approve_call(call_id)
    pid = world.propose(call_id, "DE")
    reviewer = world.reviewers[0]
    moved = world.open_at(call_id) - timedelta(days=200)
    with clock.frozen_at(moved), unit_of_work(factory) as s:
        # Worked at the DE university, then moved back to the institute 200 days before the call opened.
        accounts.record_affiliation(s, actor=None, person_id=reviewer.person.id,
                                    institution_id=world.institutions["DE"])
        accounts.record_affiliation(s, actor=None, person_id=reviewer.person.id,
                                    institution_id=world.institutions["IRI"])
    at = world.open_at(call_id)
    assert reasons(factory, reviewer, pid, at) == [Reason.INSTITUTION]
    assert reasons(factory, reviewer, pid, moved + timedelta(days=366)) == []


def test_an_alias_or_an_email_domain_makes_two_records_one_organisation(world, factory):
    call_id = world.draft_call()
    world.approve_call(call_id)
    pid = world.propose(call_id, "FR")
    reviewer = world.reviewers[0]
    at = world.open_at(call_id)
    assert reasons(factory, reviewer, pid, at) == []
    with unit_of_work(factory) as s:
        # A second record of the same university, under another name, now employs the reviewer.
        twin = service.register_institution(s, actor=None, name="Univ. FR (Paris campus)", country="FR",
                                            kind=InstitutionKind.UNIVERSITY)
        service.set_institution_aliases(s, actor=None, institution_id=world.institutions["FR"],
                                        aliases=["Univ. FR (Paris campus)"])
        accounts.record_affiliation(s, actor=None, person_id=reviewer.person.id, institution_id=twin.id)
    assert reasons(factory, reviewer, pid, at) == [Reason.INSTITUTION]
    other = world.people.make(Role.REVIEWER, email="someone@lab.uni-fr.example")
    assert reasons(factory, other, pid, at) == [Reason.INSTITUTION], "a subdomain of the applicant's domain"


def test_delegates_and_applicants_of_the_call_are_conflicted(world, factory):
    call_id = world.draft_call()
    world.approve_call(call_id)
    pid = world.propose(call_id, "PT")
    other = world.propose(call_id, "FI")
    at = world.open_at(call_id)
    with unit_of_work(factory) as s:
        accounts.grant_role(s, actor=None, person_id=world.researchers["FI"].person.id, role=Role.REVIEWER)
        accounts.grant_role(s, actor=None, person_id=world.delegates["PT"].person.id, role=Role.REVIEWER)
    assert Reason.SAME_CALL in reasons(factory, world.researchers["FI"], pid, at)
    assert Reason.DELEGATE in reasons(factory, world.delegates["PT"], pid, at)
    assert Reason.DELEGATE not in reasons(factory, world.delegates["PT"], other, at)


def test_a_conflict_that_arises_after_assignment_bars_the_review(world, factory):
    call_id = world.draft_call()
    world.approve_call(call_id)
    pid = world.propose(call_id, "DE")
    closed = world.close(call_id)
    world.pass_checks(pid, at=closed)
    reviewer = world.reviewers[0]
    with clock.frozen_at(closed), unit_of_work(factory) as s:
        reviews.assign_manually(s, actor=accounts.principal_for(world.operator.person), proposal_id=pid,
                                reviewer_id=reviewer.person.id)
    with clock.frozen_at(closed), unit_of_work(factory) as s:
        accounts.record_affiliation(s, actor=None, person_id=reviewer.person.id,
                                    institution_id=world.institutions["DE"])
    with clock.frozen_at(closed), factory() as s, pytest.raises(Forbidden, match="has arisen"):
        reviews.my_assignment(s, accounts.principal_for(reviewer.person), pid)


def test_manual_assignment_beyond_the_load_cap_needs_a_justification(world, factory):
    call_id = world.draft_call(max_load=1)
    world.approve_call(call_id)
    first, second = world.propose(call_id, "DE"), world.propose(call_id, "FR")
    closed = world.close(call_id)
    world.pass_checks(first, second, at=closed)
    op, reviewer = accounts.principal_for(world.operator.person), world.reviewers[0].person.id
    with clock.frozen_at(closed), unit_of_work(factory) as s:
        reviews.assign_manually(s, actor=op, proposal_id=first, reviewer_id=reviewer)
    with clock.frozen_at(closed), unit_of_work(factory) as s, pytest.raises(Conflict, match="most allowed"):
        reviews.assign_manually(s, actor=op, proposal_id=second, reviewer_id=reviewer)
    with clock.frozen_at(closed), unit_of_work(factory) as s:
        reviews.assign_manually(s, actor=op, proposal_id=second, reviewer_id=reviewer,
                                justification="The only reviewer who reads Finnish.")
