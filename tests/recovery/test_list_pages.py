"""Lucía puts deferred services on the waiting list from her pages: one typed
in, with its estimated duration, level of care and region, or a whole CSV
file; a bad file adds nothing and shows its row errors. Sergio, who plans
for Nuevo León, cannot upload Jalisco's list."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from puente.config import Settings
from puente.network.models import Region
from puente.recovery.models import WaitingListEntry
from tests.recovery import world as w
from tests.recovery.world import CARDIOLOGY, JALISCO, SURGERY

LABELS = {
    "en": ("Estimated duration (minutes)", "Level of care needed", "Upload a waiting list"),
    "es": ("Duración estimada (minutos)", "Nivel de atención necesario", "Cargar una lista"),
    "ru": ("Ожидаемая длительность (минуты)", "Необходимый уровень помощи", "Загрузить лист"),
    "vi": ("Thời gian dự kiến (phút)", "Tuyến chuyên môn cần thiết", "Tải lên danh sách chờ"),
}


@pytest.fixture
def net(db: Session) -> w.Network:
    return w.network(db)


def entries(db: Session) -> list[WaitingListEntry]:
    db.expire_all()
    return list(db.scalars(select(WaitingListEntry).order_by(WaitingListEntry.id)))


def test_the_entry_form_asks_for_duration_level_and_region_in_every_language(
    client: TestClient, db: Session, net: w.Network
) -> None:
    w.lucia(client, db)
    for lang, labels in LABELS.items():
        page = client.get(f"/recovery?lang={lang}").text
        assert all(label in page for label in labels)
        assert 'name="region_code"' in page and "MX-NLE" in page


def test_lucia_adds_an_entry_with_its_duration_level_and_region(
    client: TestClient, db: Session, net: w.Network
) -> None:
    w.lucia(client, db)
    referred = (date.today() - timedelta(days=200)).isoformat()
    form = {
        "patient_id": str(net.patients[0].id),
        "service_code": SURGERY,
        "referring_facility_code": JALISCO,
        "referred_on": referred,
        "priority": "p2",
    }
    r = client.post(
        "/recovery/waiting-list?lang=es",
        data={**form, "duration_minutes": "150", "level_of_care": "3", "region_code": "MX-NLE"},
        follow_redirects=True,
    )
    assert r.status_code == 200 and 'id="list-size">1<' in r.text
    r = client.post(
        "/recovery/waiting-list",
        data={**form, "duration_minutes": "", "level_of_care": "", "region_code": ""},
        follow_redirects=False,
    )
    assert r.status_code == 303
    typed, plain = entries(db)
    nle = db.scalar(select(Region.id).where(Region.code == "MX-NLE"))
    assert (typed.duration_minutes, typed.level_of_care, typed.region_id) == (150, 3, nle)
    assert (plain.duration_minutes, plain.level_of_care) == (90, 2)  # the service's own
    assert plain.region_id == net.jalisco.region_id


def test_a_duration_out_of_range_is_refused_and_named(
    client: TestClient, db: Session, net: w.Network
) -> None:
    w.lucia(client, db)
    r = client.post(
        "/recovery/waiting-list",
        data={
            "patient_id": str(net.patients[0].id),
            "service_code": SURGERY,
            "referring_facility_code": JALISCO,
            "referred_on": date.today().isoformat(),
            "priority": "p1",
            "duration_minutes": "0",
        },
    )
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "duration_minutes"
    assert entries(db) == []


def csv_of(*rows: str) -> str:
    head = "identifier_system,identifier_value,service_code,referring_facility_code,"
    return (
        head
        + "referred_on,priority,duration_minutes,level_of_care,region_code\n"
        + "".join(f"{row}\n" for row in rows)
    )


def test_lucia_uploads_a_waiting_list_file(client: TestClient, db: Session, net: w.Network) -> None:
    w.lucia(client, db)
    r = client.post(
        "/recovery/waiting-list/import?lang=ru",
        files={
            "file": (
                "lista.csv",
                csv_of(
                    f"curp,CURP0001,{SURGERY},{JALISCO},2025-02-01,p2,120,3,",
                    f"curp,CURP0002,{CARDIOLOGY},{JALISCO},2025-03-01,p3,,,MX-NLE",
                ),
                "text/csv",
            )
        },
    )
    assert r.status_code == 200, r.text
    assert 'id="import-result"' in r.text and "записей добавлено 2" in r.text
    first, second = entries(db)
    assert (first.duration_minutes, first.level_of_care) == (120, 3)
    assert second.region_id == db.scalar(select(Region.id).where(Region.code == "MX-NLE"))
    assert 'id="list-size">2<' in client.get("/recovery").text


def test_a_bad_waiting_list_file_adds_nothing_and_shows_its_rows(
    client: TestClient, db: Session, net: w.Network
) -> None:
    w.lucia(client, db)
    r = client.post(
        "/recovery/waiting-list/import?lang=vi",
        files={
            "file": (
                "lista.csv",
                csv_of(
                    f"curp,CURP0001,{SURGERY},{JALISCO},2025-02-01,p2,120,3,",
                    f"curp,NADIE,{SURGERY},{JALISCO},2025-02-01,p2,120,3,",
                    f"curp,CURP0003,{SURGERY},MX-IMSS-XXX,2025-02-01,p2,,,",
                ),
                "text/csv",
            )
        },
    )
    assert r.status_code == 400
    assert "Tải lên danh sách chờ" in r.text and 'id="import-errors"' in r.text
    assert '<td class="num">3</td><td><code>identifier_value</code>' in r.text
    assert '<td class="num">4</td><td><code>referring_facility_code</code>' in r.text
    assert db.scalar(select(func.count()).select_from(WaitingListEntry)) == 0


def test_sergio_cannot_upload_the_list_of_a_unit_outside_his_state(
    client: TestClient, db: Session, net: w.Network
) -> None:
    w.sergio(client, db)
    r = client.post(
        "/recovery/waiting-list/import",
        files={
            "file": ("lista.csv", csv_of(f"curp,CURP0001,{SURGERY},{JALISCO},2025-02-01,p2,,,"))
        },
    )
    assert r.status_code == 400 and "outside your facilities" in r.text
    assert entries(db) == []


def test_a_file_larger_than_the_import_limit_is_refused(
    client: TestClient, db: Session, net: w.Network, settings: Settings
) -> None:
    w.lucia(client, db)
    settings.import_max_bytes = 100
    big = csv_of(*[f"curp,CURP0001,{SURGERY},{JALISCO},2025-02-01,p2,,," for _ in range(5)])
    r = client.post("/recovery/waiting-list/import", files={"file": ("lista.csv", big)})
    assert r.status_code == 413 and r.json()["errors"][0]["field"] == "file"
    assert entries(db) == []
