"""The facility browser in a real headless Chromium: sign in, drill down
country → region → facility, switch to Spanish and keep the drill-down.

The app is served by uvicorn on a free loopback port against a temporary
SQLite file, so the browser talks to the real stack (cookies, redirects,
the language form) and nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from puente.app import create_app
from puente.config import Settings
from puente.db import make_engine, make_sessionmaker, unit_of_work
from puente.enums import AccessRole, FacilityKind, RegionLevel, Tier
from puente.migrate import upgrade
from tests import factories as f

CHROMIUM = shutil.which("chromium")
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _seed(url: str) -> None:
    """Elena, a national administrator, and a corner of the Mexican network."""
    engine = make_engine(url)
    with unit_of_work(make_sessionmaker(engine)) as db:
        jal = f.region(db, "MX-JAL", "Jalisco")
        f.region(db, "MX-JAL-GDL", "Guadalajara", level=RegionLevel.district, parent_id=jal.id)
        f.region(db, "VN-HN", "Hà Nội")
        office = f.facility(
            db, "MX-JAL-DEL", "Delegación Jalisco", tier=Tier.level3, kind=FacilityKind.state_office
        )
        hgz = f.facility(db, "MX-JAL-HGZ46", "Hospital General de Zona 46", parent=office)
        f.facility(
            db,
            "MX-JAL-UMF3",
            "Unidad de Medicina Familiar 3",
            tier=Tier.level1,
            kind=FacilityKind.family_medicine_unit,
            region_code="MX-JAL-GDL",
            parent=hgz,
        )
        f.facility(db, "VN-BM", "Bệnh viện Bạch Mai", tier=Tier.central, region_code="VN-HN")
        f.user(db, "elena", AccessRole.national_admin)
    engine.dispose()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'browser.db'}"
    upgrade(url)
    _seed(url)
    app = create_app(Settings(environment="test", database_url=url, data_dir=tmp_path))
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def test_elena_drills_down_to_a_hospital_and_reads_the_browser_in_spanish(served: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        try:
            page = browser.new_context(locale="en-US").new_page()
            page.set_default_timeout(15_000)
            page.goto(f"{served}/network")
            assert "/login" in page.url
            page.fill("#username", "elena")
            page.fill("#password", f.PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(f"{served}/network")
            expect(page.locator("h1")).to_have_text("Facility network")

            page.locator("#areas").get_by_role("link", name="Mexico").click()
            expect(page.locator("#areas")).to_contain_text("Jalisco")
            page.locator("#areas").get_by_role("link", name="Jalisco").click()
            expect(page.locator("#areas")).to_contain_text("Guadalajara")
            facilities = page.locator("#facilities")
            expect(facilities).to_contain_text("Hospital General de Zona 46")
            expect(facilities).to_contain_text("Unidad de Medicina Familiar 3")
            expect(facilities).not_to_contain_text("Bạch Mai")

            page.select_option("#lang-select", "es")
            page.wait_for_url("**lang=es**")
            expect(page.locator("h1")).to_have_text("Red de establecimientos")
            expect(page.locator("label[for=f-tier]")).to_contain_text("Nivel")
            expect(page.locator("#crumbs")).to_contain_text("Jalisco")
            expect(page.locator("#facilities")).to_contain_text("Hospital General de Zona 46")

            page.locator("#facilities").get_by_role(
                "link", name="Hospital General de Zona 46"
            ).click()
            expect(page.locator("#facility-name")).to_have_text("Hospital General de Zona 46")
            expect(page.locator("#facility-facts")).to_contain_text("Organización superior")
            expect(page.locator("#parent-link")).to_have_text("Delegación Jalisco")
            expect(page.locator("#children")).to_contain_text("Unidad de Medicina Familiar 3")
        finally:
            browser.close()
