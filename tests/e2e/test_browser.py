"""End to end: the real `aicommons serve` process, driven by a real headless Chromium.

The server runs on a fresh SQLite database migrated and populated with the command line, exactly as an
operator would set one up; the browser logs in, registers an institution, trips a form error and logs out.
"""

from __future__ import annotations

import pytest

from tests.e2e.conftest import OPERATOR_EMAIL, OPERATOR_NAME, OPERATOR_PASSWORD

pytestmark = pytest.mark.e2e


def test_operator_logs_in_registers_an_institution_and_logs_out(server, browser, tmp_path):
    from playwright.sync_api import expect

    page = browser.new_page(base_url=server.url, viewport={"width": 1280, "height": 900})
    page.set_default_timeout(10_000)
    console_errors: list[str] = []
    page.on("console", lambda msg: console_errors.append(msg.text) if msg.type == "error" else None)
    failed: list[tuple[int, str]] = []
    page.on("response", lambda r: failed.append((r.status, r.url))
            if r.status >= 400 and not r.url.endswith("/favicon.ico") else None)

    try:
        # Anonymous: the header offers a login link.
        page.goto("/")
        expect(page.get_by_role("heading", level=1)).to_have_text("The facility at a glance")
        page.get_by_role("link", name="Log in").click()

        # Log in through the form; the flash and the header greet the operator by name.
        expect(page).to_have_url(f"{server.url}/login")
        page.get_by_label("Email").fill(OPERATOR_EMAIL)
        page.get_by_label("Password").fill(OPERATOR_PASSWORD)
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_role("status")).to_contain_text(f"Welcome, {OPERATOR_NAME}.")
        expect(page.locator("header .who")).to_contain_text(OPERATOR_NAME)
        expect(page.get_by_role("button", name="Log out")).to_be_visible()

        # An unknown country code: the error shows next to the field, the values stay, nothing is created.
        page.goto("/institutions")
        page.get_by_role("link", name="Register an institution").click()
        expect(page).to_have_url(f"{server.url}/institutions/new")
        page.get_by_label("Name").fill("Nowhere Institute")
        page.get_by_label("Country code").fill("XX")
        page.get_by_label("Kind").select_option(label="Research institute")
        page.get_by_role("button", name="Register").click()
        country = page.get_by_label("Country code")
        expect(country).to_have_attribute("aria-invalid", "true")
        expect(page.locator("#e-country")).to_contain_text("'XX' is not an ISO 3166-1 alpha-2 country code")
        expect(country).to_have_value("XX")
        expect(page.get_by_label("Name")).to_have_value("Nowhere Institute")
        expect(page.get_by_role("alert")).to_contain_text("Please correct the following")
        page.screenshot(path=str(tmp_path / "form-error.png"), full_page=True)
        page.goto("/institutions")
        expect(page.get_by_role("table")).to_contain_text("No institutions match.")
        expect(page.get_by_role("table")).not_to_contain_text("Nowhere Institute")

        # Register an institution for real; the detail page shows what was entered.
        page.get_by_role("link", name="Register an institution").click()
        page.get_by_label("Name").fill("Aalto Test University")
        page.get_by_label("Country code").fill("fi")
        page.get_by_label("Kind").select_option(label="University")
        page.get_by_label("Email domains").fill("aalto-test.example\nalumni.aalto-test.example")
        page.get_by_role("button", name="Register").click()
        expect(page).to_have_url(f"{server.url}/institutions/1")
        expect(page.get_by_role("heading", level=1)).to_have_text("Aalto Test University")
        expect(page.get_by_role("status")).to_contain_text("Aalto Test University is registered.")
        facts = page.locator("dl.facts")
        expect(facts).to_contain_text("Finland (FI)")
        expect(facts).to_contain_text("University")
        expect(facts).to_contain_text("aalto-test.example, alumni.aalto-test.example")
        page.screenshot(path=str(tmp_path / "registered.png"), full_page=True)

        # It is listed, and the listing links to the detail page.
        page.get_by_role("link", name="All institutions").click()
        row = page.get_by_role("row", name="Aalto Test University")
        expect(row).to_contain_text("FI")
        expect(row).to_contain_text("University")
        row.get_by_role("link", name="Aalto Test University").click()
        expect(page).to_have_url(f"{server.url}/institutions/1")

        # Log out: the header offers "Log in" again and the account page needs a login.
        page.goto("/institutions")
        page.get_by_role("button", name="Log out").click()
        expect(page.get_by_role("status")).to_contain_text("You are logged out.")
        expect(page.locator("header .who").get_by_role("link", name="Log in")).to_be_visible()
        expect(page.get_by_role("button", name="Log out")).to_have_count(0)
        page.goto("/account")
        expect(page).to_have_url(f"{server.url}/login?next=%2Faccount")

        # The institution stays public after logging out.
        page.goto("/institutions")
        expect(page.get_by_role("row", name="Aalto Test University")).to_be_visible()
        # The only failed request is the form with the unknown country; no CSP violations, no broken CSS.
        assert failed == [(422, f"{server.url}/institutions/new")], failed
        assert [m for m in console_errors if not m.startswith("Failed to load resource")] == []
    finally:
        page.screenshot(path=str(tmp_path / "final.png"), full_page=True)
        page.close()


def test_login_with_a_wrong_password_then_returns_to_the_page_asked_for(server, browser):
    from playwright.sync_api import expect

    page = browser.new_page(base_url=server.url)
    page.set_default_timeout(10_000)
    try:
        page.goto("/account")
        expect(page).to_have_url(f"{server.url}/login?next=%2Faccount")
        page.get_by_label("Email").fill(OPERATOR_EMAIL)
        page.get_by_label("Password").fill("not the password at all")
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_role("alert")).to_contain_text("email or password is wrong")
        expect(page.get_by_label("Email")).to_have_value(OPERATOR_EMAIL)

        page.get_by_label("Password").fill(OPERATOR_PASSWORD)
        page.get_by_role("button", name="Log in").click()
        expect(page).to_have_url(f"{server.url}/account")
        expect(page.get_by_role("heading", level=1)).to_have_text("My account")
        expect(page.locator("dl.facts")).to_contain_text(OPERATOR_EMAIL)
    finally:
        page.close()
