"""Shared fixtures: a migrated database on SQLite or a throwaway PostgreSQL cluster, the app, and people.

With AICOMMONS_REQUIRE_FULL_TESTS=1 (CI) a suite that cannot run fails instead of being skipped.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from aicommons import clock
from aicommons.config import Settings
from aicommons.database import create_db_engine, make_session_factory, unit_of_work
from aicommons.devtools.pgcluster import ClusterUnavailable, start_cluster
from aicommons.identity import accounts, auth
from aicommons.identity.models import MembershipStatus, MemberState, Person, Role
from aicommons.identity.service import admit_member_state
from aicommons.migrate import upgrade

REQUIRE_FULL = os.environ.get("AICOMMONS_REQUIRE_FULL_TESTS") == "1"
PASSWORD = "correct horse battery staple"


_REAL_CLOCK = clock._now


@pytest.fixture(autouse=True)
def _clock_released() -> Iterator[None]:
    """A test that leaves the clock frozen (say, from threads racing on ``frozen_at``) fails, not the next one."""
    yield
    leaked = clock._now is not _REAL_CLOCK
    clock._now = _REAL_CLOCK
    assert not leaked, "this test left aicommons.clock frozen"


def unavailable(reason: str) -> None:
    """Skip a suite that cannot run here, or fail it when the full suite is required."""
    if REQUIRE_FULL:
        pytest.fail(f"required suite cannot run: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def pg_cluster():
    try:
        cluster = start_cluster()
    except ClusterUnavailable as exc:
        unavailable(str(exc))
    yield cluster
    cluster.stop()


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'aicommons.db'}"


@pytest.fixture
def postgres_url(request) -> str:
    cluster = request.getfixturevalue("pg_cluster")
    return cluster.create_database(f"t_{uuid.uuid4().hex[:12]}")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_db_url(request) -> str:
    """Service tests run once on SQLite and once on PostgreSQL."""
    return request.getfixturevalue(f"{request.param}_url")


@pytest.fixture
def database_url(sqlite_url) -> str:
    """API and page tests use SQLite unless a test asks for ``any_db_url``."""
    return sqlite_url


@pytest.fixture
def settings(tmp_path, database_url) -> Settings:
    return Settings(data_dir=tmp_path / "data", database_url=database_url, login_max_failures=3,
                    login_max_failures_per_ip=50, max_body_bytes=64 * 1024)


@pytest.fixture
def engine(settings):
    engine = create_db_engine(settings.effective_database_url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def factory(engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


@pytest.fixture
def db(factory) -> Iterator[Session]:
    """A session for arranging and inspecting; commit explicitly where a test needs it."""
    session = factory()
    yield session
    session.rollback()
    session.close()


@pytest.fixture
def app(settings, engine):
    from aicommons.app import create_app

    return create_app(settings)


@pytest.fixture
def client(app) -> Iterator[TestClient]:
    with TestClient(app, base_url="http://testserver") as test_client:
        yield test_client


@dataclass
class Member:
    person: Person
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


class People:
    """Creates people with roles and tokens, committed, for tests to act as."""

    def __init__(self, factory: sessionmaker[Session], settings: Settings) -> None:
        self.factory = factory
        self.settings = settings
        self._n = 0

    def state(self, code: str = "FI", status: MembershipStatus = MembershipStatus.MEMBER) -> str:
        from datetime import date

        with unit_of_work(self.factory) as s:
            if s.get(MemberState, code) is None:
                admit_member_state(s, actor=None, code=code, name=None, status=status,
                                   admitted_on=date(2025, 1, 1))
        return code

    def make(self, role: Role | None = None, *, state: str | None = None, password: str | None = None,
             scopes: tuple[str, ...] = ("read", "write", "admin"), email: str | None = None) -> Member:
        self._n += 1
        if role == Role.DELEGATE:
            self.state(state or "FI")
        with unit_of_work(self.factory) as s:
            person = accounts.create_person(
                s, actor=None, email=email or f"person{self._n}-{uuid.uuid4().hex[:6]}@example.org",
                display_name=f"Person {self._n}", password=password)
            if role is not None:
                accounts.grant_role(s, actor=None, person_id=person.id, role=role,
                                    member_state_code=(state or "FI") if role == Role.DELEGATE else None)
            issued = auth.create_token(s, self.settings, person=person, name="test", scopes=list(scopes),
                                       expires_in_days=30)
            s.refresh(person)
        return Member(person, issued.plaintext)


@pytest.fixture
def people(factory, settings) -> People:
    return People(factory, settings)
