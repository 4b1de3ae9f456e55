"""Marco Ruiz runs the Jalisco state office's list for a day of next week's
national day from his page, signed in with a session (so every form carries
its CSRF token): he confirms one appointment, cancels another — the next
patient on standby takes the place — and marks a no-show. Lucía re-plans
from her page: the confirmed appointment is kept, and no patient ends with
two appointments."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from puente.enums import AccessRole, AppointmentPurpose, AppointmentStatus
from puente.recovery.models import PlanItem
from puente.scheduling.models import Appointment
from tests import factories as f
from tests.recovery import world as w
from tests.recovery.test_appointments import CODE, NEXT_WEEK, publish_next_week
from tests.recovery.test_national_day_api import add_entries
from tests.recovery.world import JALISCO

UNIT = f"/recovery/campaigns/{CODE}/units/{JALISCO}"


@pytest.fixture
def net(db: Session) -> w.Network:
    return w.network(db)


@pytest.fixture
def marco(app: FastAPI, db: Session) -> Iterator[TestClient]:
    f.user(db, "marco.ruiz", AccessRole.facility_admin, JALISCO)
    with TestClient(app, base_url="https://testserver", raise_server_exceptions=False) as c:
        c.headers["accept"] = "text/html"
        login = c.get("/login").text
        r = c.post(
            "/login",
            data={"username": "marco.ruiz", "password": f.PASSWORD, "csrf_token": token(login)},
            follow_redirects=False,
        )
        assert r.status_code == 303
        yield c


def token(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found
    return found.group(1)


def rows(html: str) -> dict[int, str]:
    return {int(i): s for i, s in re.findall(r'data-item="(\d+)" data-status="(\w+)"', html)}


def act(marco: TestClient, page: str, item: int, outcome: str) -> str:
    r = marco.post(
        f"{UNIT}/items?lang=es",
        data={"item_id": str(item), "outcome": outcome, "csrf_token": token(page)},
    )
    assert r.status_code == 200, r.text
    return r.text


def test_marco_confirms_cancels_and_marks_a_no_show_and_standby_fills_the_place(
    client: TestClient, db: Session, net: w.Network, marco: TestClient
) -> None:
    w.lucia(client, db)
    add_entries(client, net)
    publish_next_week(client)
    day = NEXT_WEEK[0].isoformat()
    page = marco.get(f"{UNIT}?lang=es&day={day}").text
    assert "Confirmar" in page and "Cancelar" in page
    booked = [i for i, s in rows(page).items() if s == "booked"]
    assert len(booked) == 2  # Jalisco: 2 cardiology slots a day
    confirmed, cancelled = booked

    page = act(marco, page, confirmed, "confirmed")
    assert rows(page)[confirmed] == "confirmed"
    page = act(marco, page, cancelled, "cancelled")
    assert "su lugar pasó al siguiente paciente" in page
    after = rows(page)
    assert after[cancelled] == "cancelled"
    filled = re.search(r'data-item="(\d+)" data-status="booked" class="from-standby"', page)
    assert filled
    page = act(marco, page, int(filled.group(1)), "no_show")
    assert rows(page)[int(filled.group(1))] == "no_show"

    # A form without its token is refused, and changes nothing.
    r = marco.post(f"{UNIT}/items", data={"item_id": str(confirmed), "outcome": "cancelled"})
    assert r.status_code == 403
    assert rows(marco.get(f"{UNIT}?day={day}").text)[confirmed] == "confirmed"


def test_a_replan_from_the_page_keeps_the_confirmed_appointment(
    client: TestClient, db: Session, net: w.Network, marco: TestClient
) -> None:
    w.lucia(client, db)
    add_entries(client, net)
    publish_next_week(client)
    day = NEXT_WEEK[0].isoformat()
    page = marco.get(f"{UNIT}?lang=es&day={day}").text
    confirmed, cancelled = [i for i, s in rows(page).items() if s == "booked"]
    page = act(marco, page, confirmed, "confirmed")
    act(marco, page, cancelled, "cancelled")
    kept = db.get(PlanItem, confirmed)
    assert kept is not None
    appointment, entry = kept.appointment_id, kept.entry_id

    r = client.post(f"/recovery/campaigns/{CODE}/plan?lang=es", follow_redirects=True)
    assert r.status_code == 200
    runs = re.findall(r'name="run_id" value="(\d+)"', r.text)
    assert len(runs) == 1  # the new run, ready to publish
    r = client.post(
        f"/recovery/campaigns/{CODE}/publish?lang=es",
        data={"run_id": runs[0]},
        follow_redirects=True,
    )
    assert r.status_code == 200 and "Publicada" in r.text

    db.expire_all()
    again = db.scalar(
        select(PlanItem).where(PlanItem.run_id == int(runs[0]), PlanItem.entry_id == entry)
    )
    assert again is not None and again.status.value == "confirmed"
    assert again.appointment_id == appointment
    page = marco.get(f"{UNIT}?lang=es&day={day}").text
    assert rows(page)[again.id] == "confirmed"
    live = set(
        db.scalars(
            select(Appointment.id).where(
                Appointment.purpose == AppointmentPurpose.campaign,
                Appointment.status == AppointmentStatus.booked,
            )
        )
    )
    planned = db.scalars(
        select(PlanItem.appointment_id).where(
            PlanItem.run_id == int(runs[0]), PlanItem.status.in_(["booked", "confirmed"])
        )
    ).all()
    assert live == set(planned) and len(planned) == len(live)  # none left over, none twice
