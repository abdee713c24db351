"""The server-rendered portal, page by page, through the same HTTP a browser uses (FastAPI's TestClient).

A test acts as a browser: it reads the CSRF token out of the form it was served, submits the form, and
looks at what the next page shows.
"""

from __future__ import annotations

import re
from html import unescape
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest
from sqlalchemy import func, select

from aicommons.identity.models import ApiToken, Institution, InstitutionKind, Role, RoleGrant, WebSession
from aicommons.identity.service import register_institution
from tests.conftest import PASSWORD

PUBLIC_PAGES = ["/", "/member-states", "/institutions", "/institutions/{institution}", "/login"]
ALERT = re.compile(r'<div class="flash error" role="alert">(.*?)</div>', re.S)
WHO = re.compile(r'<div class="who">(.*?)</div>', re.S)


# --- helpers: what a browser would do ------------------------------------------------------------


def csrf_of(html: str) -> str:
    """The CSRF token of the first form on the page that carries one (as a browser would submit it)."""
    tokens = re.findall(r'name="csrf_token" value="([^"]*)"', html)
    assert tokens, "the page has no form with a csrf_token"
    return tokens[-1]  # the page's own form comes after the header's logout form


def login(client, email: str, password: str = PASSWORD, next: str | None = None):
    page = client.get("/login", params={"next": next} if next else None)
    form = {"csrf_token": csrf_of(page.text), "email": email, "password": password}
    if next is not None:
        form["next"] = re.search(r'name="next" value="([^"]*)"', page.text).group(1)
    return client.post("/login", data=form, follow_redirects=False)


def log_in_as(client, member) -> None:
    response = login(client, member.person.email)
    assert response.status_code == 303, response.text


def submit(client, page_url: str, action: str, data: dict, **kwargs):
    """Open ``page_url``, fill its form's CSRF token, and post ``data`` to ``action``."""
    token = csrf_of(client.get(page_url).text)
    return client.post(action, data={"csrf_token": token, **data}, follow_redirects=False, **kwargs)


def text(fragment: str) -> str:
    """What a reader sees of an HTML fragment: tags dropped, entities decoded, spaces collapsed."""
    return " ".join(unescape(re.sub(r"<[^>]+>", "", fragment)).split())


def alert_text(html: str) -> str:
    """The text of the page's error box ('' when there is none)."""
    match = ALERT.search(html)
    return text(match.group(1)) if match else ""


def header_text(html: str) -> str:
    """Who the page header says is logged in, and its log in / log out control."""
    return text(WHO.search(html).group(1))


def scalar(factory, statement):
    """Read one value in a short transaction of its own (an open SQLite transaction would block the app)."""
    with factory() as s:
        return s.scalar(statement)


def count(factory, model) -> int:
    return scalar(factory, select(func.count()).select_from(model))


def institution(factory, name: str = "University of Helsinki", country: str = "FI") -> int:
    with factory.begin() as s:
        return register_institution(s, actor=None, name=name, country=country,
                                    kind=InstitutionKind.UNIVERSITY).id


class FormAudit(HTMLParser):
    """Collects headings and form controls, and which controls have no label."""

    def __init__(self) -> None:
        super().__init__()
        self.h1 = 0
        self.label_for: set[str] = set()
        self.controls: list[dict[str, str | None]] = []
        self.in_label = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "h1":
            self.h1 += 1
        elif tag == "label":
            self.in_label += 1
            if attrs.get("for"):
                self.label_for.add(attrs["for"])
        elif tag in ("input", "select", "textarea"):
            if attrs.get("type") in ("hidden", "submit", "button"):
                return
            self.controls.append({"name": attrs.get("name"), "id": attrs.get("id"),
                                  "wrapped": "yes" if self.in_label else None})

    def handle_endtag(self, tag):
        if tag == "label":
            self.in_label -= 1

    def unlabelled(self) -> list[str | None]:
        return [c["name"] for c in self.controls if not c["wrapped"] and c["id"] not in self.label_for]


def audit(html: str) -> FormAudit:
    parser = FormAudit()
    parser.feed(html)
    return parser


# --- public pages --------------------------------------------------------------------------------


@pytest.mark.parametrize("path", PUBLIC_PAGES)
def test_public_pages_render_without_login_with_one_heading_and_labelled_inputs(client, factory, path):
    url = path.format(institution=institution(factory))
    response = client.get(url)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = audit(response.text)
    assert page.h1 == 1
    assert page.unlabelled() == []
    assert header_text(response.text) == "Log in"


def test_institution_detail_shows_the_public_record(client, factory):
    iid = institution(factory, "Aalto University")
    page = client.get(f"/institutions/{iid}").text
    assert "<h1>Aalto University</h1>" in page
    assert "Finland (FI)" in page
    assert client.get("/institutions").text.count(f'href="/institutions/{iid}"') == 1


def test_unknown_institution_is_a_404_page(client):
    response = client.get("/institutions/999")
    assert response.status_code == 404
    assert "<h1>404" in response.text


@pytest.mark.parametrize("path", ["/", "/login", "/institutions", "/institutions/999", "/no-such-page"])
def test_pages_carry_security_headers(client, path):
    response = client.get(path)
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    csp = response.headers["content-security-policy"]
    assert "default-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp


def test_forms_carry_a_csrf_token(client, people):
    """Every form a browser is served must carry a non-empty token, or its submission is refused."""
    op = people.make(Role.OPERATOR, password=PASSWORD)
    assert csrf_of(client.get("/login").text) != ""
    log_in_as(client, op)
    for path in ("/institutions/new", "/account", f"/operator/people/{op.person.id}", "/member-states/new",
                 "/operator/people/new"):
        html = client.get(path).text
        tokens = re.findall(r'name="csrf_token" value="([^"]*)"', html)
        assert tokens and all(tokens), f"{path} serves a form with an empty csrf_token"


# --- logging in and out --------------------------------------------------------------------------


def test_login_sets_a_protected_session_cookie_and_greets_the_person(client, people):
    member = people.make(Role.RESEARCHER, password=PASSWORD)
    response = login(client, member.person.email)
    assert response.status_code == 303
    assert response.headers["location"] == "/"
    session_cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith("aic_session="))
    attributes = [a.strip().lower() for a in session_cookie.split(";")]
    assert "httponly" in attributes
    assert "samesite=lax" in attributes
    assert "path=/" in attributes

    home = client.get("/")
    assert header_text(home.text) == f"{member.person.display_name} (researcher) Log out"
    assert f"Welcome, {member.person.display_name}." in home.text
    # The flash is shown once.
    assert "Welcome," not in client.get("/").text


def test_login_email_is_case_insensitive(client, people):
    member = people.make(Role.RESEARCHER, password=PASSWORD, email="Mixed.Case@Example.org")
    assert login(client, "mixed.case@example.ORG").status_code == 303
    assert member.person.email in client.get("/account").text


def test_wrong_password_and_unknown_email_get_the_same_answer(client, people):
    member = people.make(Role.RESEARCHER, password=PASSWORD)
    wrong_password = login(client, member.person.email, "not the right password")
    unknown_email = login(client, "nobody@example.org", PASSWORD)
    assert wrong_password.status_code == unknown_email.status_code == 401
    assert alert_text(wrong_password.text) == alert_text(unknown_email.text) != ""
    assert "email or password is wrong" in alert_text(wrong_password.text)
    assert "aic_session" not in wrong_password.headers.get("set-cookie", "")
    # The entered email stays; the password is never echoed back.
    assert f'value="{member.person.email}"' in wrong_password.text
    assert "not the right password" not in wrong_password.text


def test_repeated_failures_lock_the_account_even_for_the_right_password(client, people, settings):
    member = people.make(Role.RESEARCHER, password=PASSWORD)
    assert settings.login_max_failures == 3
    for _ in range(settings.login_max_failures):
        assert login(client, member.person.email, "guessing the password").status_code == 401
    locked = login(client, member.person.email, PASSWORD)
    assert locked.status_code == 429
    assert int(locked.headers["retry-after"]) > 0
    assert "too many failed logins" in alert_text(locked.text)
    assert "aic_session" not in locked.headers.get("set-cookie", "")
    assert header_text(client.get("/").text) == "Log in"


def test_a_successful_login_resets_the_failure_count(client, people):
    member = people.make(Role.RESEARCHER, password=PASSWORD)
    for _ in range(2):
        assert login(client, member.person.email, "guessing the password").status_code == 401
    assert login(client, member.person.email).status_code == 303
    client.cookies.clear()
    for _ in range(2):
        assert login(client, member.person.email, "guessing again").status_code == 401
    assert login(client, member.person.email).status_code == 303


def test_logout_ends_the_session_so_the_old_cookie_stops_working(client, people, factory):
    member = people.make(Role.RESEARCHER, password=PASSWORD)
    log_in_as(client, member)
    old_cookie = client.cookies["aic_session"]
    assert count(factory, WebSession) == 1

    response = submit(client, "/account", "/logout", {})
    assert response.status_code == 303
    assert response.headers["location"] == "/"
    cleared = next(c for c in response.headers.get_list("set-cookie") if c.startswith("aic_session="))
    assert cleared.startswith('aic_session="";') and "Max-Age=0" in cleared
    assert count(factory, WebSession) == 0
    home = client.get("/").text
    assert "You are logged out." in home
    assert header_text(home) == "Log in"

    client.cookies.clear()
    client.cookies.set("aic_session", old_cookie)
    replayed = client.get("/account", follow_redirects=False)
    assert replayed.status_code == 303
    assert replayed.headers["location"].startswith("/login")


@pytest.mark.parametrize("target", ["/account", "/institutions?country=FI"])
def test_login_returns_to_a_same_site_next(client, people, target):
    member = people.make(Role.RESEARCHER, password=PASSWORD)
    response = login(client, member.person.email, next=target)
    assert response.status_code == 303
    assert response.headers["location"] == target


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "/\\evil.example",
                                    "javascript:alert(1)", "evil.example"])
def test_login_never_redirects_off_site(client, people, target):
    member = people.make(Role.RESEARCHER, password=PASSWORD)
    page = client.get("/login", params={"next": target})
    assert 'name="next" value="/"' in page.text
    # Even a next= posted directly (not from the page) is refused.
    response = client.post("/login", data={"csrf_token": csrf_of(page.text), "email": member.person.email,
                                           "password": PASSWORD, "next": target}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/"


@pytest.mark.parametrize("target", ["/\t/evil.example", "/\n/evil.example"])
def test_login_next_with_control_characters_stays_on_site(client, people, target):
    """Browsers drop tabs and newlines from URLs: '/<tab>/evil.example' must not become '//evil.example'."""
    member = people.make(Role.RESEARCHER, password=PASSWORD)
    page = client.get("/login", params={"next": target})
    response = client.post("/login", data={"csrf_token": csrf_of(page.text), "email": member.person.email,
                                           "password": PASSWORD, "next": target}, follow_redirects=False)
    assert response.status_code == 303
    location = response.headers["location"]
    assert not re.search(r"[\t\n\r]", location)
    assert urlsplit(urljoin("http://testserver/login", location)).netloc == "testserver"


def test_account_page_needs_a_login_and_comes_back_after_it(client, people):
    response = client.get("/account", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Faccount"
    member = people.make(Role.RESEARCHER, password=PASSWORD)
    assert login(client, member.person.email, next="/account").headers["location"] == "/account"


def test_a_logged_in_visit_to_login_goes_on_to_next(client, people):
    member = people.make(Role.RESEARCHER, password=PASSWORD)
    log_in_as(client, member)
    response = client.get("/login?next=/account", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/account"


@pytest.mark.parametrize("path", ["/", "/member-states", "/institutions", "/institutions/{institution}",
                                  "/account", "/operator/people", "/operator/people/{person}"])
def test_the_header_shows_who_is_logged_in_on_every_page(client, people, factory, path):
    op = people.make(Role.OPERATOR, password=PASSWORD)
    log_in_as(client, op)
    page = client.get(path.format(institution=institution(factory), person=op.person.id)).text
    assert header_text(page) == f"{op.person.display_name} (operator) Log out"


# --- CSRF: forms from elsewhere are refused and change nothing -----------------------------------


@pytest.mark.parametrize("token", [None, "", "0" * 64])
def test_login_without_a_valid_csrf_token_is_refused(client, people, token):
    member = people.make(Role.RESEARCHER, password=PASSWORD)
    client.get("/login")
    data = {"email": member.person.email, "password": PASSWORD}
    if token is not None:
        data["csrf_token"] = token
    response = client.post("/login", data=data, follow_redirects=False)
    assert response.status_code == 403
    assert "security token" in response.text
    assert "aic_session" not in response.headers.get("set-cookie", "")


def test_a_csrf_token_from_another_browser_is_refused(app, client, people):
    from fastapi.testclient import TestClient

    member = people.make(Role.RESEARCHER, password=PASSWORD)
    with TestClient(app, base_url="http://testserver") as attacker:
        stolen = csrf_of(attacker.get("/login").text)
    client.get("/login")
    response = client.post("/login", data={"csrf_token": stolen, "email": member.person.email,
                                           "password": PASSWORD}, follow_redirects=False)
    assert response.status_code == 403


def test_the_anonymous_csrf_token_stops_working_after_login(client, people):
    member = people.make(Role.OPERATOR, password=PASSWORD)
    anonymous_token = csrf_of(client.get("/login").text)
    log_in_as(client, member)
    response = client.post("/institutions/new", data={"csrf_token": anonymous_token, "name": "X University",
                                                      "country": "FI", "kind": "university"})
    assert response.status_code == 403


def test_logout_without_csrf_token_is_refused_and_the_session_survives(client, people, factory):
    member = people.make(Role.RESEARCHER, password=PASSWORD)
    log_in_as(client, member)
    response = client.post("/logout", data={}, follow_redirects=False)
    assert response.status_code == 403
    assert count(factory, WebSession) == 1
    assert client.get("/account", follow_redirects=False).status_code == 200


def test_institution_create_without_csrf_token_is_refused(client, people, factory):
    op = people.make(Role.OPERATOR, password=PASSWORD)
    log_in_as(client, op)
    response = client.post("/institutions/new", data={"name": "Forged University", "country": "FI",
                                                      "kind": "university"}, follow_redirects=False)
    assert response.status_code == 403
    assert count(factory, Institution) == 0


def test_token_create_without_csrf_token_is_refused(client, people, factory):
    member = people.make(Role.RESEARCHER, password=PASSWORD)
    log_in_as(client, member)
    before = count(factory, ApiToken)
    response = client.post("/account/tokens", data={"name": "forged", "scopes": "read",
                                                    "expires_in_days": "30"}, follow_redirects=False)
    assert response.status_code == 403
    assert count(factory, ApiToken) == before
    assert "aic_" not in response.text


# --- institutions --------------------------------------------------------------------------------


def test_operator_registers_an_institution_and_sees_it_listed(client, people, factory):
    op = people.make(Role.OPERATOR, password=PASSWORD)
    log_in_as(client, op)
    assert 'href="/institutions/new"' in client.get("/institutions").text
    form_page = client.get("/institutions/new")
    assert form_page.status_code == 200
    assert audit(form_page.text).unlabelled() == []

    response = submit(client, "/institutions/new", "/institutions/new",
                      {"name": "  Aalto   University ", "country": "fi", "kind": "university",
                       "ror_id": "", "email_domains": "aalto.fi, cs.aalto.fi"})
    assert response.status_code == 303
    created = scalar(factory, select(Institution))
    assert response.headers["location"] == f"/institutions/{created.id}"
    assert (created.name, created.country_code) == ("Aalto University", "FI")

    detail = client.get(response.headers["location"]).text
    assert "Aalto University is registered." in detail
    assert "aalto.fi, cs.aalto.fi" in detail
    listing = client.get("/institutions?country=FI").text
    assert f'<a href="/institutions/{created.id}">Aalto University</a>' in listing


def test_unknown_country_is_shown_next_to_the_field_and_keeps_the_entries(client, people, factory):
    op = people.make(Role.OPERATOR, password=PASSWORD)
    log_in_as(client, op)
    response = submit(client, "/institutions/new", "/institutions/new",
                      {"name": "Nowhere Institute", "country": "XX", "kind": "research_institute",
                       "email_domains": "nowhere.example"})
    assert response.status_code == 422
    html = response.text
    field = re.search(r'<div class="field has-error">(.*?)</div>', html, re.S).group(1)
    assert 'id="f-country"' in field
    assert 'aria-invalid="true"' in field
    assert "'XX' is not an ISO 3166-1 alpha-2 country code" in text(field)
    assert 'value="XX"' in field
    assert 'value="Nowhere Institute"' in html
    assert '<option value="research_institute" selected>' in html
    assert ">nowhere.example</textarea>" in html
    assert 'href="#f-country"' in html
    assert "country: 'XX' is not an ISO 3166-1 alpha-2 country code" in alert_text(html)
    assert count(factory, Institution) == 0


def test_missing_kind_is_shown_next_to_the_kind_field(client, people, factory):
    op = people.make(Role.OPERATOR, password=PASSWORD)
    log_in_as(client, op)
    response = submit(client, "/institutions/new", "/institutions/new",
                      {"name": "Kindless Institute", "country": "DE", "kind": ""})
    assert response.status_code == 422
    assert re.search(r'<select id="f-kind"[^>]*aria-invalid="true"', response.text)
    assert '<p class="error" id="e-kind">choose what kind of institution this is</p>' in response.text
    assert 'value="Kindless Institute"' in response.text
    assert 'value="DE"' in response.text
    assert count(factory, Institution) == 0


def test_a_duplicate_institution_is_refused_with_a_message(client, people, factory):
    institution(factory, "University of Helsinki", "FI")
    op = people.make(Role.OPERATOR, password=PASSWORD)
    log_in_as(client, op)
    response = submit(client, "/institutions/new", "/institutions/new",
                      {"name": "University of Helsinki", "country": "FI", "kind": "university"})
    assert response.status_code in (409, 422)
    assert "University of Helsinki" in alert_text(response.text)
    assert count(factory, Institution) == 1


def test_a_delegate_registers_institutions_only_in_their_state(client, people, factory):
    delegate = people.make(Role.DELEGATE, state="FI", password=PASSWORD)
    log_in_as(client, delegate)
    form = client.get("/institutions/new").text
    assert "As a delegate you may register institutions in FI." in form
    assert re.search(r'id="f-country" name="country" type="text" value="FI"', form)

    elsewhere = submit(client, "/institutions/new", "/institutions/new",
                       {"name": "Technische Universität München", "country": "DE", "kind": "university"})
    assert elsewhere.status_code == 403
    assert "a delegate may register institutions only in FI" in alert_text(elsewhere.text)
    assert 'value="Technische Universität München"' in elsewhere.text
    assert count(factory, Institution) == 0

    home = submit(client, "/institutions/new", "/institutions/new",
                  {"name": "University of Turku", "country": "FI", "kind": "university"})
    assert home.status_code == 303
    assert scalar(factory, select(Institution.name)) == "University of Turku"


def test_a_researcher_may_not_register_institutions(client, people, factory):
    researcher = people.make(Role.RESEARCHER, password=PASSWORD)
    log_in_as(client, researcher)
    assert 'href="/institutions/new"' not in client.get("/institutions").text
    page = client.get("/institutions/new")
    assert page.status_code == 403
    assert "<h1>403" in page.text
    forged = client.post("/institutions/new", data={"csrf_token": csrf_of(client.get("/account").text),
                                                    "name": "Sneaky", "country": "FI", "kind": "university"})
    assert forged.status_code == 403
    assert count(factory, Institution) == 0


def test_registering_an_institution_needs_a_login(client):
    response = client.get("/institutions/new", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Finstitutions%2Fnew"


# --- the account page: API tokens ----------------------------------------------------------------


def test_a_new_token_is_shown_once_and_works_until_revoked(client, people, factory):
    member = people.make(Role.RESEARCHER, password=PASSWORD)
    log_in_as(client, member)
    account = client.get("/account")
    assert account.status_code == 200
    assert audit(account.text).unlabelled() == []

    created = submit(client, "/account", "/account/tokens",
                     {"name": "laptop CLI", "scopes": ["read", "write"], "expires_in_days": "30"})
    assert created.status_code == 200
    secret = re.search(r'<code class="secret" id="new-token">(aic_[^<]+)</code>', created.text).group(1)
    assert "it is shown only this once" in created.text

    listing = client.get("/account").text
    assert secret not in listing
    assert secret[:10] in listing  # the hint that tells tokens apart
    assert "laptop CLI" in listing
    assert "read, write" in listing

    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
    assert me.status_code == 200
    token_id = scalar(factory, select(ApiToken.id).where(ApiToken.name == "laptop CLI"))

    revoked = submit(client, "/account", f"/account/tokens/{token_id}/revoke", {})
    assert revoked.status_code == 303
    assert revoked.headers["location"] == "/account#tokens"
    after = client.get("/account").text
    assert "Token 'laptop CLI' revoked." in text(after)
    assert f'action="/account/tokens/{token_id}/revoke"' not in after
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 401


def test_a_token_form_error_keeps_the_form_and_issues_nothing(client, people, factory):
    member = people.make(Role.RESEARCHER, password=PASSWORD)
    log_in_as(client, member)
    before = count(factory, ApiToken)
    response = submit(client, "/account", "/account/tokens",
                      {"name": "too long lived", "scopes": "read", "expires_in_days": "100000"})
    assert response.status_code == 422
    assert 'id="e-expires_in_days"' in response.text
    assert 'value="too long lived"' in response.text
    assert 'id="new-token"' not in response.text
    assert count(factory, ApiToken) == before


def test_nobody_can_revoke_another_persons_token(client, people, factory):
    owner = people.make(Role.RESEARCHER)
    other = people.make(Role.RESEARCHER, password=PASSWORD)
    log_in_as(client, other)
    token_id = scalar(factory, select(ApiToken.id).where(ApiToken.person_id == owner.person.id))
    response = submit(client, "/account", f"/account/tokens/{token_id}/revoke", {})
    assert response.status_code == 404
    assert client.get("/api/v1/me", headers=owner.headers).status_code == 200


# --- operators: people and roles -----------------------------------------------------------------


def _grants(factory, person_id: int) -> list[RoleGrant]:
    with factory() as s:
        query = select(RoleGrant).where(RoleGrant.person_id == person_id).order_by(RoleGrant.id)
        return list(s.scalars(query))


def test_operator_grants_and_revokes_a_role_and_the_history_says_who(client, people, factory):
    op = people.make(Role.OPERATOR, password=PASSWORD)
    someone = people.make(Role.RESEARCHER)
    log_in_as(client, op)

    listing = client.get("/operator/people")
    assert listing.status_code == 200
    assert f'<a href="/operator/people/{someone.person.id}">{someone.person.display_name}</a>' in listing.text
    assert 'href="/operator/people/new"' in listing.text

    url = f"/operator/people/{someone.person.id}"
    detail = client.get(url)
    assert detail.status_code == 200
    assert "Grant a role" in detail.text
    assert audit(detail.text).unlabelled() == []

    granted = submit(client, url, f"{url}/roles", {"role": "reviewer", "member_state": "",
                                                   "note": "joins the review panel"})
    assert granted.status_code == 303
    assert granted.headers["location"] == url
    reviewer = next(g for g in _grants(factory, someone.person.id) if g.role == Role.REVIEWER)
    assert reviewer.granted_by_id == op.person.id
    history = client.get(url).text
    assert "Role reviewer granted." in history
    row = re.search(r"<tr><td>reviewer</td>.*?</tr>", history, re.S).group(0)
    assert op.person.display_name in row
    assert "joins the review panel" in row

    revoked = submit(client, url, f"{url}/roles/{reviewer.id}/revoke", {})
    assert revoked.status_code == 303
    reviewer = next(g for g in _grants(factory, someone.person.id) if g.role == Role.REVIEWER)
    assert reviewer.revoked_at is not None
    assert reviewer.revoked_by_id == op.person.id
    history = client.get(url).text
    assert "Role reviewer revoked." in history
    row = re.search(r"<tr><td>reviewer</td>.*?</tr>", history, re.S).group(0)
    assert row.count(op.person.display_name) == 2  # granted by and revoked by
    assert f'action="{url}/roles/{reviewer.id}/revoke"' not in history


def test_a_delegate_grant_without_a_member_state_shows_a_field_error(client, people, factory):
    op = people.make(Role.OPERATOR, password=PASSWORD)
    someone = people.make(Role.RESEARCHER)
    log_in_as(client, op)
    url = f"/operator/people/{someone.person.id}"
    response = submit(client, url, f"{url}/roles", {"role": "delegate", "member_state": ""})
    assert response.status_code == 422
    assert '<p class="error" id="e-member_state">a delegate represents a member state</p>' in response.text
    assert '<option value="delegate" selected>' in response.text
    assert [g.role for g in _grants(factory, someone.person.id)] == [Role.RESEARCHER]


def test_auditor_reads_people_but_cannot_change_roles(client, people, factory):
    auditor = people.make(Role.AUDITOR, password=PASSWORD)
    someone = people.make(Role.RESEARCHER)
    log_in_as(client, auditor)

    listing = client.get("/operator/people")
    assert listing.status_code == 200
    assert someone.person.display_name in listing.text
    assert 'href="/operator/people/new"' not in listing.text

    url = f"/operator/people/{someone.person.id}"
    detail = client.get(url)
    assert detail.status_code == 200
    assert "researcher" in detail.text
    assert "Grant a role" not in detail.text
    assert f'action="{url}/roles"' not in detail.text
    assert "/revoke" not in detail.text
    assert "Deactivate" not in detail.text

    grant_id = _grants(factory, someone.person.id)[0].id
    token = csrf_of(detail.text)
    for action, data in ((f"{url}/roles", {"role": "operator"}), (f"{url}/roles/{grant_id}/revoke", {}),
                         (f"{url}/deactivate", {})):
        response = client.post(action, data={"csrf_token": token, **data}, follow_redirects=False)
        assert response.status_code == 403, action
    grants = _grants(factory, someone.person.id)
    assert [(g.role, g.revoked_at) for g in grants] == [(Role.RESEARCHER, None)]
    assert client.get("/operator/people/new").status_code == 403


def test_a_researcher_cannot_see_people(client, people):
    researcher = people.make(Role.RESEARCHER, password=PASSWORD)
    log_in_as(client, researcher)
    assert "/operator/people" not in client.get("/").text  # not in the navigation either
    assert client.get("/operator/people").status_code == 403
    assert client.get(f"/operator/people/{researcher.person.id}").status_code == 403


def test_people_pages_need_a_login(client):
    response = client.get("/operator/people?role=operator", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Foperator%2Fpeople%3Frole%3Doperator"


def test_deactivating_a_person_ends_their_open_browser_session(app, client, people, factory):
    from fastapi.testclient import TestClient

    op = people.make(Role.OPERATOR, password=PASSWORD)
    leaver = people.make(Role.RESEARCHER, password=PASSWORD)
    with TestClient(app, base_url="http://testserver") as leaver_browser:
        log_in_as(leaver_browser, leaver)
        assert leaver_browser.get("/account", follow_redirects=False).status_code == 200

        log_in_as(client, op)
        url = f"/operator/people/{leaver.person.id}"
        response = submit(client, url, f"{url}/deactivate", {})
        assert response.status_code == 303
        page = client.get(url).text
        assert f"{leaver.person.display_name} is deactivated." in page
        assert "<dt>Status</dt><dd>deactivated</dd>" in page
        assert "Grant a role" not in page

        assert leaver_browser.get("/account", follow_redirects=False).status_code == 303
        assert login(leaver_browser, leaver.person.email).status_code == 401
    assert [g.revoked_at is not None for g in _grants(factory, leaver.person.id)] == [True]
