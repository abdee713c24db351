"""The command line, run as a user runs it, against the database the environment names."""

from __future__ import annotations

import json
import os
import stat

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from aicommons.cli import app
from aicommons.config import get_settings
from aicommons.database import create_db_engine, make_session_factory
from aicommons.identity import auth
from aicommons.identity.models import Institution, MemberState, Person

runner = CliRunner()


@pytest.fixture
def env(tmp_path, monkeypatch):
    data = tmp_path / "var"
    monkeypatch.setenv("AICOMMONS_DATA_DIR", str(data))
    monkeypatch.delenv("AICOMMONS_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    yield data
    get_settings.cache_clear()


def run(*args, input=None, ok=True):
    result = runner.invoke(app, list(args), input=input)
    if ok:
        assert result.exit_code == 0, result.output
    return result


def _session(data):
    return make_session_factory(create_db_engine(f"sqlite:///{data / 'aicommons.db'}"))()


def test_help_explains_each_command():
    out = run("--help").output
    for command in ("db", "admin", "token", "demo", "serve"):
        assert command in out
    assert "create-user" in run("admin", "--help").output
    assert "secret is printed once" in run("token", "create", "--help").output


def test_commands_refuse_an_unmigrated_database_and_say_how_to_fix_it(env):
    result = run("serve", ok=False)
    assert result.exit_code == 2 and "aicommons db upgrade" in result.output
    result = run("admin", "list-users", ok=False)
    assert result.exit_code == 2 and "aicommons db upgrade" in result.output
    assert "upgraded from empty" in run("db", "upgrade").output
    assert "already at revision" in run("db", "upgrade").output
    assert "Schema is current" in run("db", "status").output


def test_accounts_roles_and_tokens_from_the_command_line(env):
    run("db", "upgrade")
    run("admin", "create-user", "Op@Example.org", "--name", "Olga", "--role", "operator", "--password-stdin",
        input="a sufficiently long password\n")
    bad = run("admin", "create-user", "op@example.org", "--name", "Again", "--no-password", ok=False)
    assert bad.exit_code == 1 and "already exists" in bad.output
    users = json.loads(run("admin", "list-users", "--json").output)
    assert users == [{"id": 1, "email": "op@example.org", "name": "Olga", "institution": None,
                      "roles": "operator", "active": True}]
    run("admin", "grant-role", "op@example.org", "auditor", "--note", "second hat")
    roles = json.loads(run("admin", "list-roles", "op@example.org", "--json").output)
    assert [r["role"] for r in roles] == ["operator", "auditor"]
    run("admin", "revoke-role", str(roles[1]["grant"]))

    created = json.loads(run("token", "create", "--email", "op@example.org", "--name", "laptop",
                             "--scope", "read", "--scope", "write", "--json").output)
    assert created["token"].startswith("aic_") and created["scopes"] == ["read", "write"]
    listing = run("token", "list", "--json").output
    assert created["token"] not in listing and json.loads(listing)[0]["name"] == "laptop"
    with _session(env) as s:
        assert auth.token_principal(s, created["token"]).email == "op@example.org"
    run("token", "revoke", str(created["id"]))
    assert json.loads(run("token", "list", "--json").output) == []
    bad = run("token", "create", "--email", "op@example.org", "--name", "x", "--scope", "root", ok=False)
    assert bad.exit_code == 1 and "scopes" in bad.output

    run("admin", "deactivate-user", "op@example.org")
    assert json.loads(run("admin", "list-users", "--json").output)[0]["active"] is False


def test_demo_seed_is_idempotent_and_its_password_is_private(env):
    run("db", "upgrade")
    first = run("demo", "seed").output
    assert "13 member states" in first and "30 institutions" in first
    again = run("demo", "seed").output
    assert "0 member states" in again and "0 people" in again
    with _session(env) as s:
        assert s.scalar(select(func.count()).select_from(MemberState)) == 13
        assert s.scalar(select(func.count()).select_from(Institution)) == 30
        assert s.scalar(select(func.count()).select_from(Person)) >= 30
    logins = json.loads(run("demo", "logins", "--json").output)
    assert {r["role"] for r in logins} >= {"operator", "researcher", "auditor", "reviewer"}
    for secret in ("session.key", "demo-password"):
        path = env / "secrets" / secret
        if path.exists():
            assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(env / "secrets").st_mode) == 0o700


def test_demo_seed_leaves_a_real_facility_alone(env):
    run("db", "upgrade")
    run("admin", "create-user", "real@agency.example", "--name", "Real", "--no-password")
    out = run("demo", "seed").output
    assert "real accounts" in out
    assert run("demo", "logins", ok=False).exit_code == 1
