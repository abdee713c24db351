"""Identity services on a real database (each test runs on SQLite and on PostgreSQL)."""

from __future__ import annotations

import json
import threading
from datetime import UTC, date, datetime, timedelta

import pytest
import rfc8785
from sqlalchemy import func, select

from aicommons import clock
from aicommons.database import unit_of_work
from aicommons.errors import Conflict, Invalid, NotFound, TooManyRequests, Unauthenticated
from aicommons.identity import accounts, auth, service
from aicommons.identity.models import (
    InstitutionKind,
    MembershipStatus,
    MemberState,
    Role,
    RoleGrant,
)
from aicommons.ledger.models import LedgerEntry
from aicommons.ledger.service import leaf_hash
from tests.conftest import PASSWORD


@pytest.fixture
def database_url(any_db_url):
    return any_db_url


def _entries(session, kind=None):
    query = select(LedgerEntry).order_by(LedgerEntry.id)
    if kind:
        query = query.where(LedgerEntry.kind == kind)
    return list(session.scalars(query))


def test_admitting_a_state_records_a_canonical_ledger_entry(factory):
    moment = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    with clock.frozen_at(moment), unit_of_work(factory) as s:
        state = service.admit_member_state(s, actor=None, code="fi", name=None, status=MembershipStatus.MEMBER,
                                           admitted_on=date(2026, 3, 1))
    assert state.code == "FI" and state.name == "Finland"
    with factory() as s:
        (entry,) = _entries(s)
    body = json.loads(entry.body)
    assert body == {"kind": "identity.member_state.admitted", "at": "2026-03-01T12:00:00Z",
                    "subject": "urn:aicommons:member-state:FI", "actor": "urn:aicommons:system",
                    "data": {"code": "FI", "name": "Finland", "status": "member", "admitted_on": "2026-03-01"}}
    assert entry.body == rfc8785.dumps(body), "leaf bytes are RFC 8785 canonical JSON"
    assert entry.leaf_hash == leaf_hash(entry.body) and entry.tree_index is None


def test_a_failed_transaction_leaves_neither_the_change_nor_its_entry(factory):
    with pytest.raises(RuntimeError), unit_of_work(factory) as s:
        service.admit_member_state(s, actor=None, code="SE", name=None, status=MembershipStatus.MEMBER,
                                   admitted_on=date(2026, 1, 1))
        raise RuntimeError("crash after the change, before commit")
    with factory() as s:
        assert s.get(MemberState, "SE") is None
        assert _entries(s) == []


def test_duplicate_and_unknown_states_are_refused(factory, people):
    people.state("DE")
    with unit_of_work(factory) as s:
        with pytest.raises(Conflict, match="already registered"):
            service.admit_member_state(s, actor=None, code="DE", name=None, status=MembershipStatus.MEMBER,
                                       admitted_on=date(2026, 1, 1))
        with pytest.raises(Invalid) as info:
            service.admit_member_state(s, actor=None, code="XX", name=None, status=MembershipStatus.MEMBER,
                                       admitted_on=date(2026, 1, 1))
        assert info.value.errors[0].loc == ("body", "code")


def test_changing_a_state_records_only_what_changed(factory, people):
    people.state("PL", MembershipStatus.OBSERVER)
    with unit_of_work(factory) as s:
        service.change_member_state(s, actor=None, code="PL", status=MembershipStatus.MEMBER)
        service.change_member_state(s, actor=None, code="PL", status=MembershipStatus.MEMBER)  # no-op
    with factory() as s:
        changed = _entries(s, "identity.member_state.changed")
    assert [json.loads(e.body)["data"] for e in changed] == [{"changes": {"status": "member"}}]


def test_institutions_are_unique_by_name_in_a_country_and_by_domain(factory):
    with unit_of_work(factory) as s:
        first = service.register_institution(s, actor=None, name="Uni  of Example", country="de",
                                             kind=InstitutionKind.UNIVERSITY, ror_id="https://ror.org/05a28rw58",
                                             email_domains=["Uni.Example", "uni.example", "lab.example"])
    assert first.name == "Uni of Example" and first.country_code == "DE" and first.ror_id == "05a28rw58"
    assert [d.domain for d in first.domains] == ["lab.example", "uni.example"]
    with unit_of_work(factory) as s:
        with pytest.raises(Conflict, match="already registered in DE"):
            service.register_institution(s, actor=None, name="UNI OF EXAMPLE", country="DE",
                                         kind=InstitutionKind.SME)
        with pytest.raises(Conflict, match=r"uni\.example"):
            service.register_institution(s, actor=None, name="Other", country="FR", kind=InstitutionKind.SME,
                                         email_domains=["uni.example"])
        with pytest.raises(Conflict, match="ROR"):
            service.register_institution(s, actor=None, name="Third", country="FR", kind=InstitutionKind.SME,
                                         ror_id="05a28rw58")
        with pytest.raises(Invalid) as info:
            service.register_institution(s, actor=None, name="Fourth", country="FR", kind=InstitutionKind.SME,
                                         email_domains=["ok.example", "not a domain"])
        assert info.value.errors[0].loc == ("body", "email_domains", 1)
        same_name_elsewhere = service.register_institution(s, actor=None, name="Uni of Example", country="AT",
                                                           kind=InstitutionKind.UNIVERSITY)
    assert same_name_elsewhere.id != first.id
    with factory() as s:
        assert len(_entries(s, "identity.institution.registered")) == 2
        assert service.institution_for_email(s, "ada@cs.uni.example").id == first.id
        assert service.institution_for_email(s, "ada@elsewhere.example") is None


def test_changing_an_institution_replaces_domains_and_records_changes(factory):
    with unit_of_work(factory) as s:
        inst = service.register_institution(s, actor=None, name="Agency", country="FI",
                                            kind=InstitutionKind.PUBLIC_AGENCY, email_domains=["a.example"])
    with unit_of_work(factory) as s:
        service.change_institution(s, actor=None, institution_id=inst.id, kind=InstitutionKind.NGO,
                                   email_domains=["b.example"])
    with factory() as s:
        inst = service.get_institution(s, inst.id)
        assert inst.kind == InstitutionKind.NGO and [d.domain for d in inst.domains] == ["b.example"]
        (entry,) = _entries(s, "identity.institution.changed")
        assert json.loads(entry.body)["data"] == {"changes": {"kind": "ngo", "email_domains": ["b.example"]}}
        with pytest.raises(NotFound):
            service.get_institution(s, 999999)


def test_listing_pages_with_a_cursor(factory):
    with unit_of_work(factory) as s:
        for i in range(7):
            service.register_institution(s, actor=None, name=f"Inst {i}", country="NL", kind=InstitutionKind.SME)
    seen, cursor = [], None
    with factory() as s:
        while True:
            page = service.list_institutions(s, cursor=cursor, limit=3)
            seen += [i.name for i in page.items]
            cursor = page.next_cursor
            if cursor is None:
                break
        assert seen == [f"Inst {i}" for i in range(7)]
        assert [i.name for i in service.list_institutions(s, search="inst 3").items] == ["Inst 3"]


def test_public_offices_are_published_and_history_is_kept(factory, people):
    op = people.make(Role.OPERATOR)
    person = people.make()
    people.state("FI")
    actor = accounts.principal_for(op.person)
    with unit_of_work(factory) as s:
        delegate = accounts.grant_role(s, actor=actor, person_id=person.person.id, role=Role.DELEGATE,
                                       member_state_code="fi")
        accounts.grant_role(s, actor=actor, person_id=person.person.id, role=Role.REVIEWER)
    with unit_of_work(factory) as s:
        accounts.revoke_role(s, actor=actor, grant_id=delegate.id, note="term ended")
    with factory() as s:
        grants = list(s.scalars(select(RoleGrant).where(RoleGrant.person_id == person.person.id)))
        assert [(g.role, g.revoked_at is not None) for g in grants] == [(Role.DELEGATE, True),
                                                                      (Role.REVIEWER, False)]
        assert grants[0].granted_by_id == op.person.id and grants[0].revoked_by_id == op.person.id
        kinds = [(e.kind, json.loads(e.body)["data"]["role"]) for e in _entries(s) if "role" in e.kind]
        # The operator's own grant (by the system), the delegate grant and its revocation; never the reviewer.
        assert kinds == [("identity.role.granted", "operator"), ("identity.role.granted", "delegate"),
                         ("identity.role.revoked", "delegate")]
        for entry in _entries(s):
            assert b"@" not in entry.body, "no email addresses in the ledger"
        with pytest.raises(Conflict, match="already revoked"):
            accounts.revoke_role(s, actor=actor, grant_id=delegate.id)


def test_delegate_rules(factory, people):
    people.state("FI")
    people.state("CA", MembershipStatus.OBSERVER)
    a, b, c = people.make(), people.make(), people.make()
    with unit_of_work(factory) as s:
        for m in (a, b):
            accounts.grant_role(s, actor=None, person_id=m.person.id, role=Role.DELEGATE, member_state_code="FI")
    with unit_of_work(factory) as s:
        with pytest.raises(Conflict, match="already has 2 delegates"):
            accounts.grant_role(s, actor=None, person_id=c.person.id, role=Role.DELEGATE, member_state_code="FI")
        with pytest.raises(Conflict, match="observer"):
            accounts.grant_role(s, actor=None, person_id=c.person.id, role=Role.DELEGATE, member_state_code="CA")
        with pytest.raises(Invalid):
            accounts.grant_role(s, actor=None, person_id=c.person.id, role=Role.DELEGATE)
        with pytest.raises(Invalid):
            accounts.grant_role(s, actor=None, person_id=c.person.id, role=Role.REVIEWER, member_state_code="FI")
        with pytest.raises(Conflict, match="already holds"):
            accounts.grant_role(s, actor=None, person_id=a.person.id, role=Role.DELEGATE, member_state_code="FI")


def test_people_are_unique_by_email_and_orcid(factory):
    with unit_of_work(factory) as s:
        accounts.create_person(s, actor=None, email="Ada@Example.org", display_name="Ada",
                               orcid="0000-0002-1825-0097")
    with unit_of_work(factory) as s:
        with pytest.raises(Conflict, match="already exists"):
            accounts.create_person(s, actor=None, email="ada@example.org", display_name="Ada 2")
        with pytest.raises(Conflict, match="ORCID"):
            accounts.create_person(s, actor=None, email="b@example.org", display_name="B",
                                   orcid="0000-0002-1825-0097")
        with pytest.raises(Invalid) as info:
            accounts.create_person(s, actor=None, email="not-an-email", display_name="C")
        assert info.value.errors[0].loc == ("body", "email")
        with pytest.raises(Invalid) as info:
            accounts.create_person(s, actor=None, email="c@example.org", display_name="C", password="short")
        assert info.value.errors[0].loc == ("body", "password")


def test_login_does_not_reveal_which_part_was_wrong_and_is_throttled(factory, settings, people):
    member = people.make(password=PASSWORD)
    email = member.person.email

    def attempt(address, password):
        with factory() as s:
            try:
                person = auth.authenticate_password(s, settings, email=address, password=password,
                                                    client_ip="10.0.0.1")
                s.commit()
                return person
            except Unauthenticated as exc:
                s.rollback()
                auth.record_failed_login(s, settings, email=address, client_ip="10.0.0.1")
                s.commit()
                return exc.detail

    assert attempt(email, "wrong password!!") == attempt("nobody@example.org", PASSWORD)
    assert attempt(email, PASSWORD).id == member.person.id  # success clears the account's failures
    for _ in range(settings.login_max_failures):
        attempt(email, "wrong password!!")
    with factory() as s, pytest.raises(TooManyRequests) as info:
        auth.authenticate_password(s, settings, email=email, password=PASSWORD, client_ip="10.0.0.1")
    assert int(info.value.headers["Retry-After"]) > 0
    later = clock.now() + timedelta(seconds=settings.login_window_seconds + 1)
    with clock.frozen_at(later), factory() as s:
        assert auth.authenticate_password(s, settings, email=email, password=PASSWORD,
                                          client_ip="10.0.0.1").id == member.person.id


def test_tokens_stop_working_when_revoked_or_expired_or_deactivated(factory, settings, people):
    member = people.make(Role.RESEARCHER, scopes=("read",))
    with factory() as s:
        principal = auth.token_principal(s, member.token)
        assert principal.person_id == member.person.id and principal.scopes == {"read"}
        with pytest.raises(Unauthenticated, match="not valid"):
            auth.token_principal(s, member.token + "x")
    with clock.frozen_at(clock.now() + timedelta(days=31)), factory() as s, \
            pytest.raises(Unauthenticated, match="expired"):
        auth.token_principal(s, member.token)
    other = people.make()
    with unit_of_work(factory) as s:
        (token,) = auth.list_tokens(s, person_id=member.person.id)
        with pytest.raises(NotFound):
            auth.revoke_token(s, token_id=token.id, owner_id=other.person.id)
        auth.revoke_token(s, token_id=token.id, owner_id=member.person.id)
    with factory() as s, pytest.raises(Unauthenticated, match="revoked"):
        auth.token_principal(s, member.token)
    with unit_of_work(factory) as s:
        accounts.deactivate_person(s, actor=None, person_id=other.person.id)
    with factory() as s:
        with pytest.raises(Unauthenticated):
            auth.token_principal(s, other.token)
        assert s.scalar(select(func.count()).select_from(RoleGrant).where(
            RoleGrant.person_id == other.person.id, RoleGrant.revoked_at.is_(None))) == 0


def test_token_requests_are_validated(factory, settings, people):
    member = people.make()
    with unit_of_work(factory) as s:
        person = accounts.get_person(s, member.person.id)
        for kwargs, field in [({"scopes": ["root"]}, "scopes"), ({"scopes": []}, "scopes"),
                              ({"expires_in_days": 0}, "expires_in_days"),
                              ({"expires_in_days": settings.token_max_days + 1}, "expires_in_days"),
                              ({"name": " "}, "name")]:
            args = {"name": "t", "scopes": ["read"], "expires_in_days": 10, **kwargs}
            with pytest.raises(Invalid) as info:
                auth.create_token(s, settings, person=person, **args)
            assert info.value.errors[0].loc == ("body", field)


def test_web_sessions_end_on_logout_and_expire(factory, settings, people):
    member = people.make(password=PASSWORD)
    with unit_of_work(factory) as s:
        cookie = auth.start_web_session(s, settings, person=accounts.get_person(s, member.person.id))
    with factory() as s:
        assert auth.web_session_principal(s, cookie).person_id == member.person.id
        assert auth.web_session_principal(s, "forged") is None
    with clock.frozen_at(clock.now() + timedelta(hours=settings.session_ttl_hours + 1)), factory() as s:
        assert auth.web_session_principal(s, cookie) is None
    with unit_of_work(factory) as s:
        auth.end_web_session(s, cookie)
    with factory() as s:
        assert auth.web_session_principal(s, cookie) is None


def test_concurrent_registrations_of_one_name_give_one_institution_and_conflicts(factory):
    results: list[str] = []
    barrier = threading.Barrier(4)

    def register():
        barrier.wait()
        try:
            with unit_of_work(factory) as s:
                service.register_institution(s, actor=None, name="Race Institute", country="IT",
                                             kind=InstitutionKind.RESEARCH_INSTITUTE)
            results.append("created")
        except Conflict:
            results.append("conflict")

    threads = [threading.Thread(target=register) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["conflict"] * 3 + ["created"]
    with factory() as s:
        assert len(_entries(s, "identity.institution.registered")) == 1


def test_a_delegate_represents_one_state_and_observers_have_none(factory, people):
    people.state("FI")
    people.state("SE")
    member = people.make()
    with unit_of_work(factory) as s:
        accounts.grant_role(s, actor=None, person_id=member.person.id, role=Role.DELEGATE, member_state_code="FI")
    with unit_of_work(factory) as s, pytest.raises(Conflict, match="represents FI"):
        accounts.grant_role(s, actor=None, person_id=member.person.id, role=Role.DELEGATE, member_state_code="SE")
    with unit_of_work(factory) as s:
        service.change_member_state(s, actor=None, code="FI", status=MembershipStatus.OBSERVER)
    with factory() as s:
        person = accounts.get_person(s, member.person.id)
        assert person.active_grants == []
        assert "became an observer" in person.role_grants[0].note
        assert len(_entries(s, "identity.role.revoked")) == 1
