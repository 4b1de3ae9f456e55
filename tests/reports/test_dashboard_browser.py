"""A program manager opens the national-day dashboard in headless Chromium:
the charts draw (Plotly served by Puente itself), the drill-down reaches a
facility, and a screenshot shows the charts' ink."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from puente.app import create_app
from puente.config import Settings
from puente.db import make_engine, make_sessionmaker, unit_of_work
from puente.enums import AccessRole
from puente.migrate import upgrade
from tests import factories as f
from tests.browser import browser_tests, chromium, serving
from tests.reports.world import imss_day

pytestmark = browser_tests


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'figures.db'}"
    upgrade(url)
    engine = make_engine(url)
    with unit_of_work(make_sessionmaker(engine)) as db:
        imss_day(db, tmp_path)
        f.user(db, "marta", AccessRole.program_manager)
        f.user(db, "olivia", AccessRole.facility_admin, "MX-OOAD01")
    engine.dispose()
    app = create_app(Settings(environment="test", database_url=url, data_dir=tmp_path))
    with serving(app) as base:
        yield base


def _coloured_pixels(png: bytes) -> int:
    """Pixels that are neither white nor grey: the bars and lines."""
    import struct
    import zlib

    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pos, data, width, height = 8, b"", 0, 0
    while pos < len(png):
        length, kind = struct.unpack(">I4s", png[pos : pos + 8])
        chunk = png[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", chunk[:10])
            assert depth == 8 and colour in (2, 6)
            channels = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            data += chunk
        pos += 12 + length
    raw = zlib.decompress(data)
    stride = width * channels
    previous = bytearray(stride)
    count, i = 0, 0
    for _ in range(height):
        kind, line = raw[i], bytearray(raw[i + 1 : i + 1 + stride])
        i += 1 + stride
        for x in range(stride):
            left = line[x - channels] if x >= channels else 0
            up = previous[x]
            corner = previous[x - channels] if x >= channels else 0
            if kind == 1:
                line[x] = (line[x] + left) & 0xFF
            elif kind == 2:
                line[x] = (line[x] + up) & 0xFF
            elif kind == 3:
                line[x] = (line[x] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                pred = left if pa <= pb and pa <= pc else (up if pb <= pc else corner)
                line[x] = (line[x] + pred) & 0xFF
        for x in range(0, stride, channels):
            r, g, b = line[x], line[x + 1], line[x + 2]
            if max(r, g, b) - min(r, g, b) > 40:
                count += 1
        previous = line
    return count


def test_marta_sees_the_charts_draw_and_drills_to_a_facility(served: str) -> None:
    from playwright.sync_api import expect

    with chromium() as browser:
        page = browser.new_context(
            locale="es-MX", viewport={"width": 1200, "height": 900}
        ).new_page()
        page.set_default_timeout(20_000)
        page.goto(f"{served}/figures/imss-recovery?lang=es")
        assert "/login" in page.url
        page.fill("#username", "marta")
        page.fill("#password", f.PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url("**/figures/imss-recovery**")
        expect(page.locator("#kpis")).to_contain_text("3,729")
        expect(page.locator("#kpis")).to_contain_text("Cirugías")
        page.wait_for_selector("#chart-0[data-drawn=true]")
        page.wait_for_selector("#chart-3[data-drawn=true]")
        assert page.locator("#charts .main-svg").count() >= 4
        shot = page.locator("#chart-0").screenshot()
        assert _coloured_pixels(shot) > 2000, "the bar chart drew no bars"

        page.locator("#areas").get_by_role("link", name="México").click()
        expect(page.locator("#areas")).to_contain_text("Estado 1")
        page.locator("#areas").get_by_role("link", name="Estado 1", exact=True).click()
        expect(page.locator("#areas")).to_contain_text("Representación 1")
        page.locator("#areas").get_by_role("link", name="Representación 1", exact=True).click()
        expect(page.locator("#crumbs")).to_contain_text("Representación 1")
        expect(page.locator("#areas")).to_contain_text("Consulta de Medicina Familiar")
        page.wait_for_selector("#chart-0[data-drawn=true]")


def test_olivia_uploads_her_units_counts_from_the_page(served: str, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    csv = tmp_path / "ooad01.csv"
    csv.write_text(
        "facility_code,date,service_code,count,campaign\n"
        "MX-OOAD01,2021-05-16,surgery-general,10,imss-jornada-2021-05\n",
        encoding="utf-8",
    )
    with chromium() as browser:
        page = browser.new_context(locale="ru-RU").new_page()
        page.set_default_timeout(20_000)
        page.goto(f"{served}/figures/import?lang=ru")
        page.fill("#username", "olivia")
        page.fill("#password", f.PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url("**/figures/import**")
        expect(page.locator("h1")).to_have_text("Импорт сводных данных")
        figures = f"{served}/api/reports/surgeries?campaign=imss-jornada-2021-05"
        before = page.request.get(figures).json()["total"]
        assert before > 0
        page.set_input_files("#import-file", str(csv))
        page.click("#import-form button[type=submit]")
        expect(page.locator("#import-result")).to_contain_text("ooad01.csv")
        # Her scope is her own unit: its surgeries grow by the ten she uploaded.
        assert page.request.get(figures).json()["total"] == before + 10
