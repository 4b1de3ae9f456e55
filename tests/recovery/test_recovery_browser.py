"""In headless Chromium, Lucía Hernández builds a national day, gives the
Jalisco office two more consultation slots on the second day in the
campaign's grid (and the Guadalajara UMAE none on the last two), runs the
planner, sees its gap and publishes the plan (in Spanish); Marco Ruiz, at
the Jalisco state office, confirms one appointment, cancels another (a
patient on standby takes the place), marks the confirmed patient seen and
records a count (in Vietnamese, to show the pages in another language), and
Lucía sees the goal reached."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from puente.app import create_app
from puente.config import Settings
from puente.db import make_engine, make_sessionmaker, unit_of_work
from puente.migrate import upgrade
from tests import factories as f
from tests.browser import browser_tests, chromium, serving
from tests.recovery import world as w
from tests.recovery.world import CMNO, JALISCO, NUEVO_LEON

pytestmark = browser_tests


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'recovery.db'}"
    upgrade(url)
    engine = make_engine(url)
    with unit_of_work(make_sessionmaker(engine)) as db:
        net = w.network(db)
        from puente.recovery import service
        from puente.recovery.schemas import EntryCreate

        for n, patient in enumerate(net.patients):
            service.add_entry(
                db,
                data=EntryCreate(
                    patient_id=patient.id,
                    service_code=w.CARDIOLOGY,
                    referring_facility_code=JALISCO if n % 3 else NUEVO_LEON,
                    referred_on=w.campaign_days()[0].replace(year=2025),
                    priority=f"p{n % 4 + 1}",
                ),
            )
        from puente.enums import AccessRole

        f.user(db, "lucia.hernandez", AccessRole.campaign_planner, w.NATIONAL)
        f.user(db, "marco.ruiz", AccessRole.facility_admin, JALISCO)
    engine.dispose()
    app = create_app(Settings(environment="test", database_url=url, data_dir=tmp_path))
    with serving(app) as base:
        yield base


def sign_in(page: object, base: str, path: str, username: str) -> None:
    page.goto(f"{base}{path}")  # type: ignore[attr-defined]
    page.fill("#username", username)  # type: ignore[attr-defined]
    page.fill("#password", f.PASSWORD)  # type: ignore[attr-defined]
    page.click("button[type=submit]")  # type: ignore[attr-defined]


def test_a_national_day_is_built_planned_published_and_captured_in_the_browser(
    served: str,
) -> None:
    from playwright.sync_api import expect

    days = w.campaign_days()
    with chromium() as browser:
        page = browser.new_context(locale="es-MX").new_page()
        page.set_default_timeout(20_000)
        sign_in(page, served, "/recovery/campaigns/new?lang=es", "lucia.hernandez")
        page.wait_for_url("**/recovery/campaigns/new**")
        page.fill("#c-code", "jornada-navegador")
        page.fill("#c-name", "Jornada en el navegador")
        page.fill("#c-start", days[0].isoformat())
        page.fill("#c-end", days[-1].isoformat())
        page.fill("#c-units", f"{JALISCO}\n{NUEVO_LEON}\n{CMNO}")
        page.fill(
            "#c-lines", "consult-cardiology consultation_slots\nscreen-mammography screening_slots"
        )
        page.fill("#c-slots", "1")
        page.fill("#c-goal", "5")
        page.get_by_role("button", name="Preparar la jornada").click()
        page.wait_for_url("**/recovery/campaigns/jornada-navegador**")
        page.get_by_role("link", name="Capacidad y metas").click()
        page.locator("#grid-lines").get_by_role("link", name="consult-cardiology").click()
        expect(page.locator("#grid")).to_have_attribute("data-line", "consult-cardiology")
        expect(page.locator("#line-total")).to_have_text("9")
        page.fill(f"#cap-{JALISCO}-{days[1].isoformat()}", "3")
        page.fill(f"#cap-{CMNO}-{days[1].isoformat()}", "")
        page.fill(f"#cap-{CMNO}-{days[2].isoformat()}", "0")
        page.get_by_role("button", name="Guardar esta línea").click()
        expect(page.locator("#grid-saved")).to_be_visible()
        expect(page.locator(f"#cap-{JALISCO}-{days[1].isoformat()}")).to_have_value("3")
        expect(page.locator(f"#cap-{CMNO}-{days[1].isoformat()}")).to_have_value("")
        page.get_by_role("link", name="Jornada en el navegador").click()
        page.get_by_role("button", name="Ejecutar el planificador").click()
        for _ in range(40):
            if page.locator('tr.run[data-status="done"]').count():
                break
            page.wait_for_timeout(250)
            page.reload()
        expect(page.locator("tr.run .gap")).to_contain_text("%")
        page.get_by_role("button", name="Publicar").click()
        expect(page.locator("#campaign-status")).to_contain_text("Publicada")

        unit = browser.new_context(locale="vi-VN").new_page()
        unit.set_default_timeout(20_000)
        path = f"/recovery/campaigns/jornada-navegador/units/{JALISCO}?lang=vi&day={days[1]}"
        sign_in(unit, served, path, "marco.ruiz")
        unit.wait_for_url("**/units/**")
        expect(unit.locator("h2#h-today")).to_contain_text("Danh sách trong ngày")
        expect(unit.locator('tr[data-status="booked"]')).to_have_count(3)
        unit.locator('tr[data-status="booked"] button.confirm').first.click()
        expect(unit.locator('tr[data-status="confirmed"]')).to_have_count(1)
        unit.locator('tr[data-status="booked"] button.cancel').first.click()
        expect(unit.locator("#outcome-note")).to_contain_text("danh sách dự phòng")
        expect(unit.locator('tr[data-status="cancelled"]')).to_have_count(1)
        expect(unit.locator('tr.from-standby[data-status="booked"]')).to_have_count(1)
        unit.locator('tr[data-status="confirmed"] button.done').click()
        expect(unit.locator('tr[data-status="done"]')).to_have_count(1)
        unit.select_option("#k-service", "screen-mammography")
        unit.fill("#k-count", "12")
        unit.get_by_role("button", name="Ghi nhận", exact=True).click()
        unit.wait_for_url("**/units/**")

        page.reload()
        expect(page.locator("#goals-by-unit tr.reached")).to_have_count(1)
        expect(page.locator("#goals-by-unit tr.reached")).to_contain_text("Jalisco")
