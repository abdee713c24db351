"""Commands for operators: accounts, roles and API tokens."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from aicommons.cli_support import console, emit, err_console, settings, work
from aicommons.identity import accounts, auth
from aicommons.identity.models import Role
from aicommons.identity.policy import SCOPES

admin_app = typer.Typer(help="Manage accounts and roles (operators).", no_args_is_help=True)
token_app = typer.Typer(help="Create, list and revoke API tokens.", no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts instead of a table.")]


def _read_password(password_stdin: bool, no_password: bool) -> str | None:
    if no_password:
        return None
    if password_stdin:
        return sys.stdin.readline().rstrip("\n")
    return typer.prompt("Password (at least 12 characters)", hide_input=True, confirmation_prompt=True)


@admin_app.command("create-user")
def create_user(
    email: Annotated[str, typer.Argument(help="Login email, unique.")],
    name: Annotated[str, typer.Option("--name", help="Display name.")],
    institution_id: Annotated[int | None, typer.Option(help="Id of the person's institution.")] = None,
    orcid: Annotated[str | None, typer.Option(help="ORCID iD, e.g. 0000-0002-1825-0097.")] = None,
    role: Annotated[list[Role] | None, typer.Option("--role", help="Role to grant; repeat for several.")] = None,
    delegate_of: Annotated[str | None, typer.Option(help="Member state code, for --role delegate.")] = None,
    password_stdin: Annotated[bool, typer.Option(help="Read the password from standard input.")] = False,
    no_password: Annotated[bool, typer.Option(help="Create without a password (cannot log in yet).")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Create an account, optionally with roles. Prompts for the password unless told otherwise."""
    password = _read_password(password_stdin, no_password)
    with work() as session:
        person = accounts.create_person(session, actor=None, email=email, display_name=name,
                                        institution_id=institution_id, orcid=orcid, password=password)
        for r in role or []:
            accounts.grant_role(session, actor=None, person_id=person.id, role=r,
                                member_state_code=delegate_of if r == Role.DELEGATE else None,
                                note="created on the command line")
        row = {"id": person.id, "email": person.email, "name": person.display_name,
               "roles": ", ".join(g.role.value for g in person.active_grants)}
    emit([row], as_json=as_json, title="Account created")


@admin_app.command("list-users")
def list_users(
    role: Annotated[Role | None, typer.Option(help="Only people holding this role.")] = None,
    search: Annotated[str | None, typer.Option(help="Name or email contains.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """List accounts with their active roles."""
    rows = []
    with work() as session:
        cursor = None
        while True:
            page = accounts.list_people(session, cursor=cursor, limit=200, role=role, search=search)
            for p in page.items:
                rows.append({"id": p.id, "email": p.email, "name": p.display_name,
                             "institution": p.institution.name if p.institution else None,
                             "roles": ", ".join(g.role.value + (f":{g.member_state_code}" if g.member_state_code
                                                                else "") for g in p.active_grants),
                             "active": p.is_active})
            if not page.next_cursor:
                break
            cursor = page.next_cursor
    emit(rows, as_json=as_json, title="Accounts")


@admin_app.command("deactivate-user")
def deactivate_user(email: Annotated[str, typer.Argument(help="The account's email.")]) -> None:
    """Revoke an account: no more logins, and its tokens, sessions and roles are revoked."""
    with work() as session:
        person = accounts.deactivate_person(session, actor=None,
                                            person_id=accounts.get_person_by_email(session, email).id)
    console.print(f"Deactivated {person.email}.")


@admin_app.command("set-password")
def set_password(email: Annotated[str, typer.Argument()],
                 password_stdin: Annotated[bool, typer.Option(help="Read it from standard input.")] = False
                 ) -> None:
    """Set an account's password (signs out its browsers)."""
    password = _read_password(password_stdin, False) or ""
    with work() as session:
        accounts.set_password(session, person_id=accounts.get_person_by_email(session, email).id,
                              password=password)
    console.print(f"Password set for {email}.")


@admin_app.command("grant-role")
def grant_role(email: Annotated[str, typer.Argument()], role: Annotated[Role, typer.Argument()],
               delegate_of: Annotated[str | None, typer.Option(help="Member state, for delegates.")] = None,
               note: Annotated[str | None, typer.Option(help="Why, for the record.")] = None) -> None:
    """Grant a role to an account."""
    with work() as session:
        person = accounts.get_person_by_email(session, email)
        grant = accounts.grant_role(session, actor=None, person_id=person.id, role=role,
                                    member_state_code=delegate_of, note=note)
    console.print(f"Granted {grant.role.value} to {email} (grant {grant.id}).")


@admin_app.command("revoke-role")
def revoke_role(grant_id: Annotated[int, typer.Argument(help="Grant id, from list-roles.")],
                note: Annotated[str | None, typer.Option(help="Why, for the record.")] = None) -> None:
    """Revoke a role grant (the history keeps it)."""
    with work() as session:
        grant = accounts.revoke_role(session, actor=None, grant_id=grant_id, note=note)
    console.print(f"Revoked grant {grant.id} ({grant.role.value}).")


@admin_app.command("list-roles")
def list_roles(email: Annotated[str, typer.Argument()], as_json: JsonOpt = False) -> None:
    """Every role an account holds or held, with who granted and revoked it."""
    with work() as session:
        person = accounts.get_person_by_email(session, email)
        rows = [{"grant": g.id, "role": g.role, "member_state": g.member_state_code, "granted_at": g.granted_at,
                 "granted_by": g.granted_by.email if g.granted_by else "system", "revoked_at": g.revoked_at,
                 "note": g.note} for g in person.role_grants]
    emit(rows, as_json=as_json, title=f"Roles of {email}")


@token_app.command("create")
def create_token(
    email: Annotated[str, typer.Option("--email", help="Whose token.")],
    name: Annotated[str, typer.Option("--name", help="What it is for.")],
    scope: Annotated[list[str] | None, typer.Option("--scope", help=f"One of {', '.join(SCOPES)}; repeat.")] = None,
    days: Annotated[int, typer.Option(help="Days until it expires.")] = 90,
    as_json: JsonOpt = False,
) -> None:
    """Create an API token. The secret is printed once; only its hash is stored."""
    with work() as session:
        person = accounts.get_person_by_email(session, email)
        issued = auth.create_token(session, settings(), person=person, name=name, scopes=scope or ["read"],
                                   expires_in_days=days)
        token = issued.token
        info = {"id": token.id, "name": token.name, "scopes": token.scopes,
                "expires_at": token.expires_at.isoformat(), "token": issued.plaintext}
    if as_json:
        json.dump(info, sys.stdout)
        sys.stdout.write("\n")
        return
    err_console.print(f"Token {info['id']} '{name}' ({', '.join(info['scopes'])}), expires {info['expires_at']}.")
    err_console.print("Copy it now; it is not shown again:")
    print(issued.plaintext)


@token_app.command("list")
def list_tokens(
    email: Annotated[str | None, typer.Option(help="Only this person's tokens.")] = None,
    include_revoked: Annotated[bool, typer.Option("--all", help="Include revoked tokens.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """List tokens (never their secrets)."""
    with work() as session:
        person_id = accounts.get_person_by_email(session, email).id if email else None
        rows = [{"id": t.id, "owner": t.person.email, "name": t.name, "starts_with": t.hint,
                 "scopes": ",".join(t.scopes), "expires_at": t.expires_at, "last_used_at": t.last_used_at,
                 "revoked_at": t.revoked_at}
                for t in auth.list_tokens(session, person_id=person_id, include_revoked=include_revoked)]
    emit(rows, as_json=as_json, title="API tokens")


@token_app.command("revoke")
def revoke_token(token_id: Annotated[int, typer.Argument(help="Token id, from `token list`.")]) -> None:
    """Revoke a token at once."""
    with work() as session:
        token = auth.revoke_token(session, token_id=token_id, owner_id=None)
    console.print(f"Revoked token {token.id} '{token.name}' of {token.person.email}.")
