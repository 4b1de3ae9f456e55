"""The schedules page: Dr Smirnova publishes her virtual hours from the page,
in her language, and patients can book the slots it opens; a form with a bad
field is shown again naming it; a patient has no schedules page."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from puente.enums import AccessRole, Mode
from puente.scheduling.models import Schedule
from tests import factories as f
from tests.scheduling.world import World, moscow_world


@pytest.fixture
def world(db: Session) -> World:
    return moscow_world(db)


def _client(
    app: FastAPI, db: Session, name: str, role: AccessRole, scope: str | None
) -> TestClient:
    account = f.user(db, name, role, scope)
    return TestClient(app, raise_server_exceptions=False, headers=f.bearer(db, account))


def _form(world: World, **changes: object) -> dict[str, object]:
    form: dict[str, object] = {
        "practitioner_role_id": str(world.role.id),
        "mode": "virtual",
        "slot_minutes": "20",
        "weekday": ["0", "2", "4"],
        "start": "09:00",
        "end": "12:00",
        "valid_from": date.today().isoformat(),
        "weeks": "2",
    }
    form.update(changes)
    return form


def test_dr_smirnova_publishes_her_virtual_hours_from_the_page(
    app: FastAPI, db: Session, world: World
) -> None:
    smirnova = _client(app, db, "dr.smirnova", AccessRole.clinician, "RU-MOW-GP002")
    page = smirnova.get("/clinic/schedules?lang=ru")
    assert page.status_code == 200 and "Опубликовать расписание" in page.text
    assert "Smirnova Elena" in page.text and "понедельник" in page.text

    sent = smirnova.post("/clinic/schedules", data=_form(world), follow_redirects=False)
    assert sent.status_code == 303, sent.text
    schedule = db.scalar(select(Schedule).where(Schedule.practitioner_role_id == world.role.id))
    assert schedule is not None and schedule.mode == Mode.virtual
    assert schedule.timezone == "Europe/Moscow" and schedule.slot_minutes == 20

    listed = smirnova.get(sent.headers["location"] + "&lang=ru")
    assert 'id="published"' in listed.text
    assert f'data-schedule="{schedule.id}"' in listed.text

    ivan = _client(app, db, "ivan", AccessRole.patient, None)
    to = (date.today() + timedelta(days=15)).isoformat() + "T00:00:00+00:00"
    slots = ivan.get(
        "/api/slots", params={"facility_code": "RU-MOW-GP002", "to": to, "limit": "500"}
    )
    assert slots.status_code == 200, slots.text
    # three mornings a week for two weeks, 09:00-12:00 in 20 minutes; today's
    # past slots are not offered, so at least five mornings remain
    assert 5 * 9 <= slots.json()["total"] <= 7 * 9


def test_a_form_with_no_day_and_a_reversed_time_is_shown_again_naming_the_fields(
    app: FastAPI, db: Session, world: World
) -> None:
    smirnova = _client(app, db, "dr.smirnova", AccessRole.clinician, "RU-MOW-GP002")
    no_day = smirnova.post("/clinic/schedules?lang=es", data=_form(world, weekday=[]))
    assert no_day.status_code == 422
    assert "rules" in no_day.text and "Publicar una agenda" in no_day.text
    reversed_hours = smirnova.post(
        "/clinic/schedules", data=_form(world, start="12:00", end="09:00")
    )
    assert reversed_hours.status_code == 422 and "end must be after start" in reversed_hours.text
    bad_length = smirnova.post("/clinic/schedules", data=_form(world, slot_minutes="2"))
    assert bad_length.status_code == 422 and "slot_minutes" in bad_length.text
    bad_weeks = smirnova.post("/clinic/schedules", data=_form(world, weeks="two"))
    assert bad_weeks.status_code == 422 and "weeks" in bad_weeks.text
    assert db.scalar(select(Schedule)) is None


def test_a_clinician_elsewhere_cannot_publish_for_dr_smirnova_and_a_patient_has_no_page(
    app: FastAPI, db: Session, world: World
) -> None:
    other = _client(app, db, "dr.orlova", AccessRole.clinician, "RU-MOW-GP099")
    assert "Smirnova Elena" not in other.get("/clinic/schedules").text
    refused = other.post("/clinic/schedules", data=_form(world))
    assert refused.status_code == 403 and "practitioner_role_id" in refused.text
    assert db.scalar(select(Schedule)) is None
    ivan = _client(app, db, "ivan", AccessRole.patient, None)
    assert ivan.get("/clinic/schedules").status_code == 403
