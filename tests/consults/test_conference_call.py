"""A case conference in real browsers: three separately launched headless
Chromium instances with fake cameras — Chị Hoa chairing at Bạch Mai, Dr.
Lan on Côn Đảo and Dr. Somphone in Vientiane — hold Bạch Mai's rounds as a
WebRTC mesh signaled through Puente. Each one decodes video from both
others; the chair moves to the next case and the others see it; Dr. Lan
reloads and is back with both.

Like the visit call, it runs in a loopback-only network namespace (and
re-runs itself in one when started outside). On SQLite, and on PostgreSQL
when the tests have one: the parent migrates a database of its own and
relays it into the namespace over a Unix socket.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url

from puente.app import create_app
from puente.config import Settings
from puente.db import make_engine, make_sessionmaker, unit_of_work
from puente.migrate import upgrade
from tests import factories as f
from tests.browser import CHROMIUM, browser_tests, serving
from tests.conftest import PG_URL, migrated_url
from tests.consults.network import build, case_body
from tests.ops.test_two_processes import unix_relay
from tests.visits.test_room_call import (
    WEBRTC_FLAGS,
    can_unshare,
    only_loopback,
    rerun_in_loopback_namespace,
)

pytestmark = browser_tests
# The relayed PostgreSQL URL, for the run inside the namespace (which sees
# no PUENTE_ variables).
INNER = "CONFERENCE_CALL_DATABASE_URL"
DATABASES = [
    "sqlite",
    pytest.param(
        "postgresql",
        marks=pytest.mark.skipif(
            not PG_URL and INNER not in os.environ, reason="PUENTE_TEST_DATABASE_URL is not set"
        ),
    ),
]


@contextlib.contextmanager
def relayed(url: str) -> Iterator[str]:
    """``url`` as reached through a Unix socket (inside the namespace)."""
    folder = Path(tempfile.mkdtemp(prefix="puente-conf-"))  # short: socket paths are capped
    folder.chmod(0o755)
    db = make_url(url)
    try:
        with unix_relay(folder / ".s.PGSQL.5432", db.host or "127.0.0.1", db.port or 5432):
            through = db.set(host="", port=None).update_query_dict({"host": str(folder)})
            yield through.render_as_string(hide_password=False)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def eventually(check: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting: {what}"
        time.sleep(0.25)


def frames(page: Any) -> dict[int, int]:
    found = page.evaluate("window.puenteConference.framesByUser()")
    return {int(k): int(v) for k, v in found.items()}


def sees_both(page: Any, others: set[int], who: str) -> None:
    """Video frames from each of ``others`` are decoded, and more keep coming."""
    first = eventually(
        lambda: (lambda got: got if all(got.get(u, 0) > 0 for u in others) else None)(frames(page)),
        f"{who} decodes video from both others",
    )
    eventually(
        lambda: all(frames(page).get(u, 0) > first[u] + 10 for u in others),
        f"{who} keeps receiving frames from both",
    )


def sign_in(browser: Any, base: str, username: str, path: str, locale: str) -> Any:
    page = browser.new_context(locale=locale).new_page()
    page.set_default_timeout(30_000)
    page.goto(f"{base}{path}")
    assert "/login" in page.url
    page.fill("#username", username)
    page.fill("#password", f.PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}{path}")
    return page


@pytest.mark.parametrize("database", DATABASES)
def test_three_doctors_see_each_other_and_follow_the_chair_through_the_agenda(
    tmp_path: Path, request: pytest.FixtureRequest, database: str
) -> None:
    if not only_loopback():
        if not can_unshare():
            pytest.skip("cannot make a loopback-only network namespace (unshare -n)")
        if database == "postgresql":
            migrated = migrated_url("postgresql", tmp_path, suffix="conference_call")
            with relayed(migrated) as through:
                rerun_in_loopback_namespace(request.node.nodeid, {INNER: through})
        else:
            rerun_in_loopback_namespace(request.node.nodeid)
        return
    from playwright.sync_api import expect, sync_playwright

    if database == "postgresql":
        url = os.environ[INNER]  # migrated by the run outside
    else:
        url = f"sqlite:///{tmp_path / 'conference.db'}"
        upgrade(url)
    engine = make_engine(url)
    factory = make_sessionmaker(engine)
    with unit_of_work(factory) as session:
        net = build(session)
    app = create_app(
        Settings(environment="test", database_url=url, data_dir=tmp_path), session_factory=factory
    )
    with TestClient(app, raise_server_exceptions=False) as api:
        cases = []
        for who, extra in (
            ("dr.lan", {"patient_id": net.ids["tuan"]}),
            ("dr.somphone", {"spoke_facility_code": "LA-MITTAPHAB", "patient_id": net.ids["noy"]}),
        ):
            r = api.post("/api/consults", json=case_body(**extra), headers=net.headers[who])
            assert r.status_code == 201, r.text
            cases.append(r.json()["id"])
        r = api.post(
            "/api/consults/conferences",
            json={
                "hub_facility_code": "VN-BACHMAI",
                "title": "Giao ban hội chẩn tim mạch",
                "starts_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat(),
                "case_ids": cases,
                "participants": ["dr.lan", "dr.somphone"],
            },
            headers=net.headers["coord.bachmai"],
        )
        assert r.status_code == 201, r.text
        conference_id = r.json()["id"]
    room = f"/consults/conferences/{conference_id}/room"
    hoa_id, lan_id, somphone_id = (net.users[u] for u in ("coord.bachmai", "dr.lan", "dr.somphone"))

    with serving(app) as base, sync_playwright() as p:
        launch = {"executable_path": CHROMIUM, "args": WEBRTC_FLAGS, "headless": True}
        browsers = [p.chromium.launch(**launch) for _ in range(3)]
        try:
            hoa = sign_in(browsers[0], base, "coord.bachmai", f"{room}?lang=vi", "vi-VN")
            expect(hoa.locator("#conference")).to_have_attribute("data-state", "in_call")
            expect(hoa.locator("#room-status")).to_contain_text("Bạn là người đầu tiên")
            lan = sign_in(browsers[1], base, "dr.lan", f"{room}?lang=vi", "vi-VN")
            somphone = sign_in(browsers[2], base, "dr.somphone", f"{room}?lang=en", "en-US")
            for page in (hoa, lan, somphone):
                expect(page.locator("#conference")).to_have_attribute(
                    "data-peers", "2", timeout=30_000
                )
            sees_both(hoa, {lan_id, somphone_id}, "Chị Hoa")
            sees_both(lan, {hoa_id, somphone_id}, "Dr. Lan")
            sees_both(somphone, {hoa_id, lan_id}, "Dr. Somphone")

            # The first case is under discussion; the chair moves to the next.
            for page in (hoa, lan, somphone):
                expect(page.locator("#conference")).to_have_attribute("data-position", "0")
            assert lan.locator("#next-case").count() == 0  # only the chair moves on
            hoa.fill("#decision-input", "Tiêu sợi huyết tại Côn Đảo, chuyển Bạch Mai sau 24 giờ.")
            hoa.click("#decision-form button[type=submit]")
            expect(
                somphone.locator(f'#agenda li[data-case="{cases[0]}"] .decision')
            ).to_contain_text("Tiêu sợi huyết")
            hoa.click("#next-case")
            for page in (hoa, lan, somphone):
                expect(page.locator("#conference")).to_have_attribute("data-position", "1")
                expect(page.locator(f'#agenda li[data-case="{cases[1]}"]')).to_have_attribute(
                    "aria-current", "step"
                )
            expect(somphone.locator("#current-case")).to_contain_text(f"#{cases[1]}")

            # Dr. Lan reloads: she is a newcomer again and everyone sees her.
            lan.reload()
            expect(lan.locator("#conference")).to_have_attribute("data-position", "1")
            for page in (hoa, lan, somphone):
                expect(page.locator("#conference")).to_have_attribute(
                    "data-peers", "2", timeout=30_000
                )
            sees_both(lan, {hoa_id, somphone_id}, "Dr. Lan after the reload")
            sees_both(hoa, {lan_id, somphone_id}, "Chị Hoa after Dr. Lan's reload")

            # Dr. Somphone leaves: the two others hold on to each other.
            somphone.click("#leave")
            for page in (hoa, lan):
                expect(page.locator("#conference")).to_have_attribute("data-peers", "1")
        finally:
            for browser in browsers:
                browser.close()
    engine.dispose()
