"""Chị Hoa, Bạch Mai's coordinator, watches her queue in headless Chromium:
Dr Lan's emergency from Côn Đảo is on top and its countdown runs down by
itself; a case whose deadline has passed counts up, marked overdue."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from puente.app import create_app
from puente.config import Settings
from puente.consults import repository as repo
from puente.db import make_engine, make_sessionmaker, unit_of_work
from puente.migrate import upgrade
from tests import factories as f
from tests.browser import browser_tests, chromium, serving
from tests.consults.network import build, case_body

pytestmark = browser_tests
CLOCK = re.compile(r"^(\d+:)?\d{1,2}:\d\d$")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, int, int]]:
    url = f"sqlite:///{tmp_path / 'queue.db'}"
    upgrade(url)
    engine = make_engine(url)
    factory = make_sessionmaker(engine)
    with unit_of_work(factory) as session:
        net = build(session)
    app = create_app(
        Settings(environment="test", database_url=url, data_dir=tmp_path), session_factory=factory
    )
    from fastapi.testclient import TestClient

    with TestClient(app) as api:
        fresh = api.post(
            "/api/consults",
            json=case_body(patient_id=net.ids["tuan"]),
            headers=net.headers["dr.lan"],
        )
        old = api.post(
            "/api/consults",
            json=case_body(patient_id=net.ids["tuan"], urgency="urgent"),
            headers=net.headers["dr.lan"],
        )
        assert fresh.status_code == old.status_code == 201
    with unit_of_work(factory) as session:
        late = repo.case(session, old.json()["id"])
        assert late is not None
        late.due_at = late.requested_at - timedelta(minutes=5)
    with serving(app) as base:
        yield base, int(fresh.json()["id"]), int(old.json()["id"])
    engine.dispose()


def _seconds(text: str) -> int:
    parts = [int(p) for p in text.split(":")]
    return sum(v * 60**i for i, v in enumerate(reversed(parts)))


def test_the_queue_countdown_runs_in_the_browser_and_an_overdue_case_says_so(
    served: tuple[str, int, int],
) -> None:
    base, fresh, late = served
    with chromium() as browser:
        page = browser.new_context(locale="vi-VN").new_page()
        page.set_default_timeout(30_000)
        page.goto(f"{base}/consults/queue?lang=vi")
        page.fill("#username", "coord.bachmai")
        page.fill("#password", f.PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{base}/consults/queue?lang=vi")
        rows = page.locator("#queue tbody tr")
        # The overdue case's deadline is nearest, so it comes first.
        assert rows.nth(0).get_attribute("data-case") == str(late)
        assert rows.nth(1).get_attribute("data-case") == str(fresh)
        clock = page.locator(f'tr[data-case="{fresh}"] time.countdown')
        first = clock.inner_text()
        assert CLOCK.match(first), first
        assert 25 * 60 < _seconds(first) <= 30 * 60
        time.sleep(2.2)
        second = clock.inner_text()
        assert CLOCK.match(second) and 1 <= _seconds(first) - _seconds(second) <= 4
        overdue = page.locator(f'tr[data-case="{late}"] time.countdown')
        assert "quá hạn" in overdue.inner_text() and "late" in (
            overdue.get_attribute("class") or ""
        )
