"""Lucía sets each unit's capacity per day and goal per service line in the
campaign's grid, one line at a time, or uploads them as a CSV file; a bad
file stores nothing and names the row and column; Sergio, who plans only for
Nuevo León, cannot edit a national day's grid."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from puente.recovery import grid, service
from tests.recovery import world as w
from tests.recovery.test_national_day_api import CODE
from tests.recovery.test_pages import build
from tests.recovery.world import CARDIOLOGY, CMNO, JALISCO, NUEVO_LEON, SURGERY


@pytest.fixture
def net(db: Session) -> w.Network:
    return w.network(db)


def cells(db: Session) -> grid.Grid:
    db.expire_all()
    return grid.grid(db, service.get_campaign(db, CODE))


def test_the_grid_shows_each_line_in_its_unit_with_locale_numbers_and_dates(
    client: TestClient, db: Session, net: w.Network
) -> None:
    w.lucia(client, db)
    build(client)  # 180 minutes a day at each of 3 units over 3 days
    expected = {
        "en": ("Capacity and goals", "1,620", "Operating-room minutes".lower()),
        "es": ("Capacidad y metas", "1,620", "minutos de quirófano"),
        "ru": ("Мощности и цели", "1\xa0620", "минуты операционной"),
        "vi": ("Năng lực và chỉ tiêu", "1.620", "phút phòng mổ"),
    }
    day = w.campaign_days()[0]
    for lang, (title, total, kind) in expected.items():
        r = client.get(f"/recovery/campaigns/{CODE}/capacity?line={SURGERY}&lang={lang}")
        assert r.status_code == 200, r.text
        assert title in r.text and kind in r.text.lower()
        assert f'id="line-total">{total}<' in r.text
        assert f'name="cap:{JALISCO}:{day.isoformat()}" value="180"' in r.text
    en = client.get(f"/recovery/campaigns/{CODE}/capacity?line={SURGERY}&lang=en").text
    assert f"{day:%b} {day.day}, {day.year}" in en


def test_lucia_changes_one_units_day_and_goal_in_the_grid_and_the_rest_stays(
    client: TestClient, db: Session, net: w.Network
) -> None:
    w.lucia(client, db)
    build(client)
    days = w.campaign_days()
    r = client.post(
        f"/recovery/campaigns/{CODE}/capacity?line={SURGERY}&lang=es",
        data={
            f"cap:{JALISCO}:{days[0].isoformat()}": "480",
            f"cap:{NUEVO_LEON}:{days[1].isoformat()}": "",
            f"goal:{CMNO}": "9",
            f"goal:{JALISCO}": "0",
        },
        follow_redirects=True,
    )
    assert r.status_code == 200 and "Se guardaron" in r.text
    g = cells(db)
    assert g.capacity[(JALISCO, days[0], SURGERY)] == 480
    assert (NUEVO_LEON, days[1], SURGERY) not in g.capacity
    assert g.capacity[(NUEVO_LEON, days[0], SURGERY)] == 180
    assert g.capacity[(JALISCO, days[0], CARDIOLOGY)] == 2  # other lines untouched
    assert g.goals[(CMNO, SURGERY)] == 9 and (JALISCO, SURGERY) not in g.goals
    assert g.goals[(JALISCO, CARDIOLOGY)] == 2


def test_a_cell_that_is_not_a_number_is_refused_and_named(
    client: TestClient, db: Session, net: w.Network
) -> None:
    w.lucia(client, db)
    build(client)
    name = f"cap:{JALISCO}:{w.campaign_days()[0].isoformat()}"
    r = client.post(f"/recovery/campaigns/{CODE}/capacity?line={SURGERY}", data={name: "mucho"})
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == name
    assert cells(db).capacity[(JALISCO, w.campaign_days()[0], SURGERY)] == 180


def test_lucia_uploads_capacity_and_goals_as_a_csv_file(
    client: TestClient, db: Session, net: w.Network
) -> None:
    w.lucia(client, db)
    build(client)
    d0, d1 = (d.isoformat() for d in w.campaign_days()[:2])
    csv = (
        "facility_code,service_code,day,capacity,goal\n"
        f"{CMNO},{SURGERY},{d0},600,12\n"
        f"{CMNO},{SURGERY},{d1},0,\n"
        f"{JALISCO},{CARDIOLOGY},,,7\n"
    )
    r = client.post(
        f"/recovery/campaigns/{CODE}/capacity/import?lang=ru",
        files={"file": ("dia.csv", csv, "text/csv")},
    )
    assert r.status_code == 200, r.text
    assert 'id="import-result"' in r.text
    g = cells(db)
    assert g.capacity[(CMNO, w.campaign_days()[0], SURGERY)] == 600
    assert (CMNO, w.campaign_days()[1], SURGERY) not in g.capacity
    assert g.goals[(CMNO, SURGERY)] == 12 and g.goals[(JALISCO, CARDIOLOGY)] == 7


def test_a_bad_capacity_file_stores_nothing_and_names_row_and_column(
    client: TestClient, db: Session, net: w.Network
) -> None:
    w.lucia(client, db)
    build(client)
    d0 = w.campaign_days()[0].isoformat()
    csv = (
        "facility_code,service_code,day,capacity,goal\n"
        f"{CMNO},{SURGERY},{d0},600,12\n"
        f"MX-IMSS-XXX,{SURGERY},{d0},10,\n"
        f"{JALISCO},{SURGERY},2020-01-01,10,\n"
    )
    r = client.post(
        f"/recovery/campaigns/{CODE}/capacity/import?lang=vi",
        files={"file": ("dia.csv", csv, "text/csv")},
    )
    assert r.status_code == 400
    assert 'id="import-errors"' in r.text and "Năng lực và chỉ tiêu" in r.text
    for row, column in [(3, "facility_code"), (4, "day")]:
        assert f'<td class="num">{row}</td><td><code>{column}</code>' in r.text
    r = client.post(
        f"/recovery/campaigns/{CODE}/capacity/import",
        files={
            "file": (
                "dia.csv",
                f"facility_code,service_code,day,capacity\n{CMNO},{SURGERY},{d0},muchos\n",
                "text/csv",
            )
        },
    )
    assert r.status_code == 400
    assert '<td class="num">2</td><td><code>capacity</code>' in r.text
    assert cells(db).capacity[(CMNO, w.campaign_days()[0], SURGERY)] == 180


def test_sergio_cannot_edit_the_grid_of_a_national_day(
    client: TestClient, db: Session, net: w.Network
) -> None:
    w.lucia(client, db)
    build(client)
    w.sergio(client, db)
    assert client.get(f"/recovery/campaigns/{CODE}/capacity").status_code == 403
    r = client.post(
        f"/recovery/campaigns/{CODE}/capacity?line={SURGERY}",
        data={f"goal:{CMNO}": "99"},
    )
    assert r.status_code == 403


def test_a_grid_too_large_for_one_form_shows_its_units_in_pages(
    client: TestClient, db: Session, net: w.Network, monkeypatch: pytest.MonkeyPatch
) -> None:
    from puente.recovery import grid_pages

    monkeypatch.setattr(grid_pages, "CELLS_PER_PAGE", 8)  # 2 units × (3 days + goal)
    w.lucia(client, db)
    build(client)
    first = client.get(f"/recovery/campaigns/{CODE}/capacity?line={SURGERY}").text
    second = client.get(f"/recovery/campaigns/{CODE}/capacity?line={SURGERY}&page=2").text
    units = [re.findall(r'<tr data-unit="([^"]+)"', page) for page in (first, second)]
    assert units == [[JALISCO, NUEVO_LEON], [CMNO]] and 'id="grid-pages"' in first
    day = w.campaign_days()[0].isoformat()
    r = client.post(
        f"/recovery/campaigns/{CODE}/capacity?line={SURGERY}&page=2",
        data={f"cap:{CMNO}:{day}": "300", f"goal:{CMNO}": "6"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and "page=2" in r.headers["location"]
    g = cells(db)
    assert g.capacity[(CMNO, w.campaign_days()[0], SURGERY)] == 300
    assert g.capacity[(JALISCO, w.campaign_days()[0], SURGERY)] == 180  # page 1 untouched
    assert g.goals[(JALISCO, SURGERY)] == 2
