"""The recovery pages, in every language: Lucía builds, plans and publishes a
national day from her pages; Marco records his unit's day on his."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from puente.ledger.models import LedgerEntry
from tests.recovery import world as w
from tests.recovery.test_national_day_api import CODE, add_entries
from tests.recovery.world import CARDIOLOGY, CMNO, JALISCO, MAMMOGRAPHY, NUEVO_LEON, SURGERY

HEADINGS = {
    "en": "Recovery of deferred care",
    "es": "Recuperación de los servicios diferidos",
    "ru": "Восстановление отложенной помощи",
    "vi": "Phục hồi dịch vụ y tế bị trì hoãn",
}


@pytest.fixture
def net(db: Session) -> w.Network:
    return w.network(db)


def build(client: TestClient) -> None:
    days = w.campaign_days()
    r = client.post(
        "/recovery/campaigns?lang=es",
        data={
            "code": CODE,
            "name": "Jornada de prueba",
            "country": "MX",
            "starts_on": days[0].isoformat(),
            "ends_on": days[-1].isoformat(),
            "units": f"{JALISCO}\n{NUEVO_LEON}\n{CMNO}",
            "lines": f"{SURGERY} or_minutes\n{CARDIOLOGY} consultation_slots\n"
            f"{MAMMOGRAPHY} screening_slots",
            "minutes": "180",
            "slots": "2",
            "goal": "2",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    assert r.headers["location"].startswith(f"/recovery/campaigns/{CODE}")


def test_the_waiting_list_page_speaks_every_language(
    client: TestClient, db: Session, net: w.Network
) -> None:
    w.lucia(client, db)
    add_entries(client, net)
    for lang, heading in HEADINGS.items():
        r = client.get(f"/recovery?lang={lang}")
        assert r.status_code == 200
        assert heading in r.text
        assert 'id="list-size">16<' in r.text


def test_lucia_builds_plans_and_publishes_from_her_pages(
    client: TestClient, db: Session, net: w.Network
) -> None:
    w.lucia(client, db)
    add_entries(client, net)
    assert "Preparar una jornada" in client.get("/recovery/campaigns/new?lang=es").text
    build(client)
    r = client.post(f"/recovery/campaigns/{CODE}/plan?lang=es", follow_redirects=True)
    assert r.status_code == 200
    page = client.get(f"/recovery/campaigns/{CODE}?lang=es").text
    assert 'data-status="done"' in page and "Cota superior" in page
    run_id = re.search(r'name="run_id" value="(\d+)"', page)
    assert run_id
    r = client.post(
        f"/recovery/campaigns/{CODE}/publish?lang=es",
        data={"run_id": run_id.group(1)},
        follow_redirects=True,
    )
    assert r.status_code == 200 and "Publicada" in r.text

    w.marco(client, db)
    unit = client.get(
        f"/recovery/campaigns/{CODE}/units/{JALISCO}?lang=es&day={w.campaign_days()[1]}"
    )
    assert unit.status_code == 200 and "Lista del día" in unit.text
    item = re.search(r'data-item="(\d+)" data-status="booked"', unit.text)
    assert item
    r = client.post(
        f"/recovery/campaigns/{CODE}/units/{JALISCO}/items?lang=es",
        data={"item_id": item.group(1), "outcome": "done"},
        follow_redirects=True,
    )
    assert r.status_code == 200 and 'data-status="done"' in r.text
    for _ in range(2):  # a double-submitted form counts once
        r = client.post(
            f"/recovery/campaigns/{CODE}/units/{JALISCO}/counts?lang=es",
            data={
                "day": w.campaign_days()[1].isoformat(),
                "service_code": MAMMOGRAPHY,
                "count": "7",
                "key": "form-0001",
            },
            follow_redirects=True,
        )
        assert r.status_code == 200
    total = db.scalar(select(func.sum(LedgerEntry.count)).where(LedgerEntry.campaign_code == CODE))
    assert total == 8

    w.lucia(client, db)
    for lang in HEADINGS:
        page = client.get(f"/recovery/campaigns/{CODE}?lang={lang}")
        assert page.status_code == 200
        assert 'class="reached"' in page.text  # Jalisco: 8 delivered, goal 3 lines × 2


def test_waiting_times_on_the_list_page_are_written_the_way_each_language_writes_decimals(
    client: TestClient, db: Session, net: w.Network
) -> None:
    from puente.i18n import format_number

    w.lucia(client, db)
    add_entries(client, net)
    figures = client.get("/api/waiting-list/figures").json()
    median, p92 = round(figures["median_weeks"], 1), round(figures["p92_weeks"], 1)
    assert p92 != int(p92)  # 44.3 weeks: a decimal separator must show
    for lang in HEADINGS:
        page = client.get(f"/recovery?lang={lang}").text
        assert f"<dd>{format_number(median, lang)}</dd>" in page
        assert f"<dd>{format_number(p92, lang)}</dd>" in page
    assert f"<dd>{str(p92).replace('.', ',')}</dd>" in client.get("/recovery?lang=ru").text


def test_lucia_reviews_a_plan_unit_by_unit_and_day_by_day_before_publishing_it(
    client: TestClient, db: Session, net: w.Network
) -> None:
    w.lucia(client, db)
    add_entries(client, net)
    build(client)
    client.post(f"/recovery/campaigns/{CODE}/plan?lang=ru", follow_redirects=True)
    [run] = client.get(f"/api/campaigns/{CODE}/plan-runs").json()
    items = client.get(f"/api/plan-runs/{run['id']}/items").json()
    days = w.campaign_days()
    for lang in HEADINGS:
        page = client.get(f"/recovery/campaigns/{CODE}?lang={lang}&run={run['id']}").text
        assert 'id="plan-by-unit"' in page
    review = page.split('id="plan-by-unit"', 1)[1].split("</table>", 1)[0]
    for unit in (JALISCO, NUEVO_LEON, CMNO):
        planned = [
            sum(1 for i in items if (i["facility_code"], i["day"]) == (unit, d.isoformat()))
            for d in days
        ]
        cells = "".join(f"<td>{n}</td>" for n in planned)
        assert f'data-unit="{unit}"' in review
        assert (
            cells + f"<td><strong>{sum(planned)}</strong></td>"
            in review.split(f'data-unit="{unit}"', 1)[1]
        )
    assert f"<strong>{run['planned']}</strong>" in review
    assert "План по учреждениям и дням" in client.get(f"/recovery/campaigns/{CODE}?lang=ru").text
    assert client.get(f"/recovery/campaigns/{CODE}?run=99999").status_code == 404
