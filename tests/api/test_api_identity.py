"""The identity API through the ASGI app: the happy paths and the bad input a user can send."""

from __future__ import annotations

from datetime import timedelta

from aicommons import clock
from aicommons.identity.models import Role

PROBLEM = "application/problem+json"


def _problem(response, status):
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert body["status"] == status and body["title"] and body["detail"]
    return body


def test_member_states_are_public_and_operators_admit_them(client, people):
    op = people.make(Role.OPERATOR)
    r = client.post("/api/v1/member-states", headers=op.headers,
                    json={"code": "fi", "status": "member", "admitted_on": "2025-03-01"})
    assert r.status_code == 201 and r.headers["location"] == "/api/v1/member-states/FI"
    assert r.json() == {"code": "FI", "name": "Finland", "status": "member", "admitted_on": "2025-03-01"}
    assert client.get("/api/v1/member-states/fi").json()["name"] == "Finland"
    r = client.patch("/api/v1/member-states/FI", headers=op.headers, json={"status": "observer"})
    assert r.json()["status"] == "observer"
    assert client.get("/api/v1/member-states").json()["items"][0]["code"] == "FI"
    _problem(client.get("/api/v1/member-states/ZZ"), 404)
    _problem(client.post("/api/v1/member-states", headers=op.headers,
                         json={"code": "FI", "status": "member", "admitted_on": "2025-03-01"}), 409)


def test_duplicate_institution_is_a_409(client, people):
    op = people.make(Role.OPERATOR)
    body = {"name": "Uni X", "country": "DE", "kind": "university", "email_domains": ["unix.example"]}
    created = client.post("/api/v1/institutions", headers=op.headers, json=body)
    assert created.status_code == 201
    assert created.headers["location"] == f"/api/v1/institutions/{created.json()['id']}"
    problem = _problem(client.post("/api/v1/institutions", headers=op.headers, json=body), 409)
    assert "Uni X" in problem["detail"]
    assert len(client.get("/api/v1/institutions").json()["items"]) == 1


def test_unknown_country_is_a_422_naming_the_field(client, people):
    op = people.make(Role.OPERATOR)
    problem = _problem(client.post("/api/v1/institutions", headers=op.headers,
                                   json={"name": "Nowhere U", "country": "XX", "kind": "university"}), 422)
    assert problem["errors"][0]["field"] == "country" and problem["errors"][0]["loc"] == ["body", "country"]
    assert "XX" in problem["detail"]
    assert client.get("/api/v1/institutions").json()["items"] == []


def test_schema_validation_errors_list_every_field(client, people):
    op = people.make(Role.OPERATOR)
    problem = _problem(client.post("/api/v1/institutions", headers=op.headers,
                                   json={"name": "", "country": "DE", "kind": "castle", "extra": 1}), 422)
    fields = {e["field"] for e in problem["errors"]}
    assert {"name", "kind", "extra"} <= fields
    _problem(client.post("/api/v1/institutions", content=b"{not json",
                         headers={**op.headers, "content-type": "application/json"}), 422)
    _problem(client.get("/api/v1/institutions?limit=0"), 422)
    _problem(client.get("/api/v1/institutions?cursor=%%%"), 422)


def test_oversized_bodies_get_413_with_or_without_content_length(client, people, settings):
    op = people.make(Role.OPERATOR)
    big = b'{"name": "' + b"x" * (settings.max_body_bytes + 10) + b'"}'
    headers = {**op.headers, "content-type": "application/json"}
    _problem(client.post("/api/v1/institutions", headers=headers, content=big), 413)

    def chunks():
        for i in range(0, len(big), 8192):
            yield big[i:i + 8192]

    _problem(client.post("/api/v1/institutions", headers=headers, content=chunks()), 413)
    assert client.get("/api/v1/institutions").json()["items"] == []


def test_institutions_page_with_cursor_and_filters(client, people):
    op = people.make(Role.OPERATOR)
    for i, (country, kind) in enumerate([("DE", "sme"), ("FR", "sme"), ("DE", "ngo"), ("DE", "sme")]):
        assert client.post("/api/v1/institutions", headers=op.headers,
                           json={"name": f"Inst {i}", "country": country, "kind": kind}).status_code == 201
    first = client.get("/api/v1/institutions?limit=2").json()
    second = client.get(f"/api/v1/institutions?limit=2&cursor={first['next_cursor']}").json()
    assert [i["name"] for i in first["items"] + second["items"]] == [f"Inst {i}" for i in range(4)]
    assert second["next_cursor"] is None
    found = client.get("/api/v1/institutions?country=de&kind=sme").json()["items"]
    assert [i["name"] for i in found] == ["Inst 0", "Inst 3"]


def test_delegates_change_institutions_of_their_own_country_only(client, people):
    op = people.make(Role.OPERATOR)
    delegate = people.make(Role.DELEGATE, state="FI")
    fi = client.post("/api/v1/institutions", headers=op.headers,
                     json={"name": "Aalto-ish", "country": "FI", "kind": "university"}).json()
    de = client.post("/api/v1/institutions", headers=op.headers,
                     json={"name": "Rhein U", "country": "DE", "kind": "university"}).json()
    r = client.patch(f"/api/v1/institutions/{fi['id']}", headers=delegate.headers,
                     json={"email_domains": ["aalto-ish.example"], "ror_id": "05a28rw58"})
    assert r.status_code == 200 and r.json()["email_domains"] == ["aalto-ish.example"]
    _problem(client.patch(f"/api/v1/institutions/{de['id']}", headers=delegate.headers,
                          json={"name": "Hijacked"}), 403)
    assert client.get(f"/api/v1/institutions/{de['id']}").json()["name"] == "Rhein U"


def test_me_and_tokens(client, people):
    member = people.make(Role.RESEARCHER, scopes=("read", "write"))
    me = client.get("/api/v1/me", headers=member.headers).json()
    assert me["person"]["email"] == member.person.email and me["authenticated_by"] == "token"
    assert [r["role"] for r in me["person"]["roles"]] == ["researcher"]
    created = client.post("/api/v1/tokens", headers=member.headers,
                          json={"name": "ci", "scopes": ["read"], "expires_in_days": 7})
    assert created.status_code == 201
    secret = created.json()["token"]
    assert secret.startswith(created.json()["hint"])
    listed = client.get("/api/v1/tokens", headers=member.headers).json()
    assert {t["name"] for t in listed} == {"test", "ci"} and all("token" not in t for t in listed)
    new_headers = {"Authorization": f"Bearer {secret}"}
    assert client.get("/api/v1/me", headers=new_headers).json()["scopes"] == ["read"]
    _problem(client.post("/api/v1/tokens", headers=new_headers, json={"name": "x"}), 403)
    _problem(client.post("/api/v1/tokens", headers=member.headers,
                         json={"name": "x", "scopes": ["admin"]}), 403)
    assert client.delete(f"/api/v1/tokens/{created.json()['id']}", headers=member.headers).status_code == 204
    problem = _problem(client.get("/api/v1/me", headers=new_headers), 401)
    assert "revoked" in problem["detail"]


def test_expired_and_malformed_tokens_are_401(client, people):
    member = people.make(Role.RESEARCHER)
    with clock.frozen_at(clock.now() + timedelta(days=31)):
        r = client.get("/api/v1/me", headers=member.headers)
    assert "expired" in _problem(r, 401)["detail"] and "invalid_token" in r.headers["www-authenticate"]
    _problem(client.get("/api/v1/me", headers={"Authorization": "Basic abc"}), 401)
    _problem(client.get("/api/v1/me"), 401)


def test_operators_manage_people_and_roles(client, people):
    op = people.make(Role.OPERATOR)
    people.state("FI")
    r = client.post("/api/v1/people", headers=op.headers,
                    json={"email": "new@uni.example", "display_name": "New Person", "orcid": "0000-0002-1825-0097"})
    assert r.status_code == 201
    pid = r.json()["id"]
    grant = client.post(f"/api/v1/people/{pid}/roles", headers=op.headers,
                        json={"role": "delegate", "member_state": "FI", "note": "appointed"})
    assert grant.status_code == 201 and grant.json()["granted_by"] == op.person.id
    _problem(client.post(f"/api/v1/people/{pid}/roles", headers=op.headers, json={"role": "delegate"}), 422)
    revoked = client.delete(f"/api/v1/people/{pid}/roles/{grant.json()['id']}", headers=op.headers)
    assert revoked.json()["revoked_by"] == op.person.id
    history = client.get(f"/api/v1/people/{pid}/roles", headers=op.headers).json()
    assert len(history) == 1 and history[0]["revoked_at"] is not None
    assert client.get("/api/v1/people?role=operator", headers=op.headers).json()["items"][0]["id"] == op.person.id
    _problem(client.post("/api/v1/people", headers=op.headers,
                         json={"email": "NEW@uni.example", "display_name": "Dup"}), 409)
    deactivated = client.post(f"/api/v1/people/{pid}/deactivate", headers=op.headers).json()
    assert deactivated["is_active"] is False


def test_operations_endpoints(client, people):
    assert client.get("/healthz").json()["database"] == "ok"
    client.get("/api/v1/institutions")
    metrics = client.get("/metrics").text
    assert 'aicommons_http_requests_total{method="GET",route="/api/v1/institutions",status="200"}' in metrics
    assert "aicommons_http_request_duration_seconds_bucket" in metrics
    spec = client.get("/openapi.json").json()
    assert "/api/v1/institutions" in spec["paths"] and "/api/v1/me" in spec["paths"]
    docs = client.get("/docs")
    assert docs.status_code == 200 and "/swagger-ui/swagger-ui-bundle.js" in docs.text
    assert client.get("/swagger-ui/swagger-ui-bundle.js").status_code == 200
    _problem(client.get("/api/v1/nothing-here"), 404)


def test_unhandled_errors_are_a_500_problem_without_internals(app, people):
    from fastapi.testclient import TestClient

    @app.get("/api/v1/boom")
    def boom():
        raise RuntimeError("secret internal detail")

    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.get("/api/v1/boom")
    assert _problem(r, 500) and "secret internal detail" not in r.text


def test_out_of_range_numbers_are_a_400_not_a_crash(client):
    huge = "99999999999999999999"
    for url in (f"/api/v1/institutions/{huge}", f"/institutions/{huge}"):
        assert client.get(url).status_code == 400, url
    from aicommons.pagination import encode_cursor

    assert client.get(f"/api/v1/institutions?cursor={encode_cursor(10**25)}").status_code == 422


def test_portal_forms_ignore_bearer_tokens(client, people):
    """A token works on the API only: a web form posted with a token and no session does nothing."""
    member = people.make(Role.RESEARCHER, scopes=("read",))
    client.get("/login")  # an anonymous cookie, so a CSRF token can be computed for it
    from aicommons.deps import ANON_COOKIE
    from aicommons.identity import secrets

    csrf = secrets.csrf_token(client.app.state.session_key, "a:" + client.cookies[ANON_COOKIE])
    (token,) = client.get("/api/v1/tokens", headers=member.headers).json()
    r = client.post(f"/account/tokens/{token['id']}/revoke", headers=member.headers,
                    data={"csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    assert client.get("/api/v1/me", headers=member.headers).status_code == 200
