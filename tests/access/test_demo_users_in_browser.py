"""The demo accounts in a real headless Chromium, on the demo world: each
signs in with the printed password, sees their role, and is kept out of what
their role does not allow."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from puente.access.demo import DEMO_PASSWORD
from puente.app import create_app
from puente.config import Settings
from puente.db import make_engine, make_sessionmaker, unit_of_work
from puente.demo import load_demo
from puente.migrate import upgrade
from tests.browser import browser_tests, chromium, serving

pytestmark = browser_tests


@pytest.fixture(scope="module")
def demo_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("demo-browser")
    url = f"sqlite:///{folder / 'demo.db'}"
    upgrade(url)
    engine = make_engine(url)
    with unit_of_work(make_sessionmaker(engine)) as session:
        load_demo(session, seed=2021)
    engine.dispose()
    app = create_app(Settings(environment="test", database_url=url, data_dir=folder))
    with serving(app) as base:
        yield base


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


def sign_in(browser: Any, base: str, username: str, locale: str = "en-US") -> Any:
    page = browser.new_context(locale=locale).new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{base}/")
    assert "/login" in page.url
    page.fill("#username", username)
    page.fill("#password", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")
    return page


@pytest.mark.parametrize(
    ("username", "role"),
    [
        ("admin", "national_admin"),
        ("analyst", "program_manager"),
        ("clinic.admin", "facility_admin"),
        ("dr.moscow", "clinician"),
        ("hub.coord", "hub_coordinator"),
        ("hub.doctor", "hub_specialist"),
        ("planner", "campaign_planner"),
        ("patient", "patient"),
    ],
)
def test_each_demo_account_signs_in_and_sees_its_role(
    browser: Any, demo_site: str, username: str, role: str
) -> None:
    from playwright.sync_api import expect

    page = sign_in(browser, demo_site, username)
    expect(page.locator(f"#roles li[data-role={role}]")).to_have_count(1)
    page.context.close()


def test_the_administrator_reads_the_audit_log_and_the_analyst_is_kept_out(
    browser: Any, demo_site: str
) -> None:
    from playwright.sync_api import expect

    admin = sign_in(browser, demo_site, "admin")
    admin.click("#audit-link")
    expect(admin.locator("h1")).to_contain_text("Audit")
    admin.context.close()

    analyst = sign_in(browser, demo_site, "analyst")
    expect(analyst.locator("#audit-link")).to_have_count(0)
    response = analyst.goto(f"{demo_site}/admin/audit")
    assert response is not None and response.status == 403
    expect(analyst.locator("#error h1")).to_have_text("You do not have access to this page")
    analyst.context.close()


def test_dr_moscow_gets_pages_in_his_own_language_russian_and_signs_out(
    browser: Any, demo_site: str
) -> None:
    from playwright.sync_api import expect

    page = sign_in(browser, demo_site, "dr.moscow", locale="en-US")
    expect(page.locator("#roles")).to_contain_text("Врач")
    expect(page.locator("#roles")).to_contain_text("RU-MOW-GP002")
    expect(page.locator("html")).to_have_attribute("lang", "ru")
    page.click("form.account button[type=submit]")
    page.wait_for_url("**/login**")
    page.goto(f"{demo_site}/")
    assert "/login" in page.url
    page.context.close()
