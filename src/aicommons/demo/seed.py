"""Seeding the demo facility. Idempotent: running it again adds only what is missing."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from aicommons.config import Settings, read_or_create_secret
from aicommons.demo import data
from aicommons.demo.access import seed_access
from aicommons.demo.council import seed_council
from aicommons.governance import service as governance
from aicommons.identity import accounts, secrets, service
from aicommons.identity.models import FacilityMeta, Institution, InstitutionKind, MembershipStatus, Role

DEMO_KEY = "demo"


@dataclass
class SeedReport:
    member_states: int = 0
    institutions: int = 0
    people: int = 0
    roles: int = 0
    figures: int = 0
    motions: int = 0
    calls: int = 0
    notes: list[str] = field(default_factory=list)


def demo_password(settings: Settings) -> str:
    """The demo accounts' password: random per installation, kept in DATA_DIR/secrets (mode 0600)."""
    raw = read_or_create_secret(settings, "demo-password", nbytes=12)
    alphabet = "abcdefghijkmnopqrstuvwxyz23456789"
    return "demo-" + "".join(alphabet[b % len(alphabet)] for b in raw[:12])


def is_demo(session: Session) -> bool:
    return session.scalar(select(FacilityMeta.value).where(FacilityMeta.key == DEMO_KEY)) == "true"


def seed(session: Session, settings: Settings) -> SeedReport:
    """Create the demo facility's states, figures, institutions, people and roles where missing."""
    report = SeedReport()
    if not is_demo(session):
        has_people = session.scalar(select(func.count()).select_from(accounts.Person)) or 0
        if has_people:
            report.notes.append("this database already holds real accounts; demo data was not added")
            return report
        session.add(FacilityMeta(key=DEMO_KEY, value="true"))
    _seed_states(session, report)
    domains = _seed_institutions(session, report)
    _seed_people(session, settings, domains, report)
    report.motions = seed_council(session)
    report.calls = seed_access(session)
    return report


def _seed_states(session: Session, report: SeedReport) -> None:
    recorded = {(code, f.year) for code, figures in governance.figures_by_state(session).items() for f in figures}
    for code, status, admitted, nni, ratio in data.STATES:
        if session.get(service.MemberState, code) is None:
            service.admit_member_state(session, actor=None, code=code, name=None,
                                       status=MembershipStatus(status), admitted_on=date.fromisoformat(admitted))
            report.member_states += 1
        for offset, year in enumerate(reversed(data.FIGURE_YEARS)):
            # Illustrative growth of about 2% a year backwards from the newest figure.
            year_nni = int(nni / (1.02 ** offset))
            gdp = int(year_nni / ratio) if ratio else int(year_nni / 0.86)
            if (code, year) in recorded:
                continue
            governance.record_economic_figure(session, member_state_code=code, year=year,
                                              nni_million_eur=year_nni if ratio else None,
                                              gdp_million_eur=gdp, source=data.FIGURE_SOURCE)
            report.figures += 1


def _seed_institutions(session: Session, report: SeedReport) -> dict[str, int]:
    ids: dict[str, int] = {}
    for name, country, kind, domain in data.INSTITUTIONS:
        existing = session.scalar(select(Institution).where(Institution.country_code == country,
                                                            Institution.name == name))
        if existing is None:
            existing = service.register_institution(session, actor=None, name=name, country=country,
                                                    kind=InstitutionKind(kind), email_domains=[domain])
            report.institutions += 1
        ids[domain] = existing.id
    return ids


def _seed_people(session: Session, settings: Settings, domains: dict[str, int], report: SeedReport) -> None:
    # One argon2id hash shared by the demo accounts: hashing thirty times would only slow the seed.
    password_hash = secrets.hash_password(demo_password(settings))
    for email, name, domain, roles in data.PEOPLE:
        person = accounts.find_person_by_email(session, email)
        if person is None:
            person = accounts.create_person(session, actor=None, email=email, display_name=name,
                                            institution_id=domains.get(domain) if domain else None,
                                            password_hash=password_hash)
            report.people += 1
        held = {(g.role.value, g.member_state_code) for g in person.active_grants}
        for spec in roles:
            role, _, state = spec.partition(":")
            if (role, state or None) in held:
                continue
            accounts.grant_role(session, actor=None, person_id=person.id, role=Role(role),
                                member_state_code=state or None, note="demo facility")
            report.roles += 1
