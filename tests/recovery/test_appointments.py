"""From plan to people: a published plan for a national day next week books
appointments through the scheduling core (no slot twice), and what patients
do — confirm, cancel, not come — reaches their appointments."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from puente.enums import AppointmentPurpose, AppointmentStatus, WaitStatus
from puente.people.models import Practitioner
from puente.recovery.models import WaitingListEntry
from puente.scheduling.models import Appointment, Schedule, Slot
from tests.recovery import world as w
from tests.recovery.test_national_day_api import add_entries
from tests.recovery.world import CARDIOLOGY, CMNO, JALISCO, NUEVO_LEON, SURGERY

CODE = "imss-jornada-proxima"
NEXT_WEEK = [date.today() + timedelta(days=7 + k) for k in range(2)]


@pytest.fixture
def net(db: Session) -> w.Network:
    return w.network(db)


def publish_next_week(client: TestClient) -> list[dict[str, Any]]:
    r = client.post(
        "/api/campaigns",
        json={
            "code": CODE,
            "name": "Próxima jornada",
            "country": "MX",
            "starts_on": NEXT_WEEK[0].isoformat(),
            "ends_on": NEXT_WEEK[-1].isoformat(),
            "units": [JALISCO, NUEVO_LEON, CMNO],
            "lines": [
                {"service_code": SURGERY, "capacity_kind": "or_minutes"},
                {"service_code": CARDIOLOGY, "capacity_kind": "consultation_slots"},
            ],
        },
    )
    assert r.status_code == 201, r.text
    rows = [
        {"facility_code": u, "day": d.isoformat(), "service_code": s, "amount": a}
        for d in NEXT_WEEK
        for u, s, a in [(JALISCO, CARDIOLOGY, 2), (NUEVO_LEON, CARDIOLOGY, 1), (CMNO, SURGERY, 180)]
    ]
    assert client.put(f"/api/campaigns/{CODE}/capacity", json={"rows": rows}).status_code == 200
    run = client.get(
        client.post(f"/api/campaigns/{CODE}/plan-runs", json={}).headers["Location"]
    ).json()
    assert (
        client.post(f"/api/campaigns/{CODE}/publish", json={"run_id": run["id"]}).status_code == 200
    )
    return list(client.get(f"/api/plan-runs/{run['id']}/items").json())


def test_a_published_plan_books_one_campaign_appointment_per_item(
    client: TestClient, db: Session, net: w.Network
) -> None:
    w.lucia(client, db)
    add_entries(client, net)
    items = publish_next_week(client)
    assert items and all(i["appointment_id"] for i in items)
    booked = db.scalars(
        select(Appointment).where(Appointment.id.in_([i["appointment_id"] for i in items]))
    ).all()
    assert len(booked) == len(items)
    assert {a.status for a in booked} == {AppointmentStatus.booked}
    assert {a.purpose for a in booked} == {AppointmentPurpose.campaign}
    assert len({a.slot_id for a in booked}) == len(booked)


def test_cancellations_and_no_shows_reach_the_appointments(
    client: TestClient, db: Session, net: w.Network
) -> None:
    w.lucia(client, db)
    add_entries(client, net)
    items = publish_next_week(client)
    nl = [i for i in items if i["facility_code"] == NUEVO_LEON]
    r = client.post(f"/api/plan-items/{nl[0]['id']}/outcome", json={"status": "cancelled"})
    filled = r.json()["standby_filled"]
    r = client.post(f"/api/plan-items/{nl[1]['id']}/outcome", json={"status": "no_show"})
    assert r.status_code == 200
    status = dict(db.execute(select(Appointment.id, Appointment.status)).all())
    assert status[nl[0]["appointment_id"]] == AppointmentStatus.cancelled
    assert status[nl[1]["appointment_id"]] == AppointmentStatus.no_show
    assert filled is not None and status[filled["appointment_id"]] == AppointmentStatus.booked


def test_a_patient_who_did_not_come_waits_again_for_the_next_day(
    client: TestClient, db: Session, net: w.Network
) -> None:
    # Marco Ruiz marks a Nuevo León patient as not come; her entry is back on
    # the waiting list, so the next national day can plan her again.
    w.lucia(client, db)
    add_entries(client, net)
    items = publish_next_week(client)
    absent = next(i for i in items if i["facility_code"] == NUEVO_LEON)
    r = client.post(f"/api/plan-items/{absent['id']}/outcome", json={"status": "no_show"})
    assert r.status_code == 200, r.text
    entry = db.get(WaitingListEntry, absent["entry_id"])
    assert entry is not None
    db.refresh(entry)
    assert entry.status == WaitStatus.waiting and entry.removed_on is None
    waiting = client.get("/api/waiting-list", params={"status": "waiting"}).json()
    assert absent["entry_id"] in {e["id"] for e in waiting["items"]}


def test_a_place_filled_from_standby_is_booked_with_the_units_own_campaign_team(
    client: TestClient, db: Session, net: w.Network
) -> None:
    # Each unit has one campaign team for the whole campaign: the standby
    # patient who takes a cancelled Nuevo León place is booked with the team
    # that held it, and no new stand-in practitioner is made.
    w.lucia(client, db)
    add_entries(client, net)
    items = publish_next_week(client)
    units = {i["facility_code"] for i in items}
    team = f"Equipo {CODE}"
    assert db.scalar(select(func.count()).where(Practitioner.family_name == team)) == len(units)
    cancelled = next(i for i in items if i["facility_code"] == NUEVO_LEON)
    r = client.post(f"/api/plan-items/{cancelled['id']}/outcome", json={"status": "cancelled"})
    filled = r.json()["standby_filled"]
    assert filled is not None

    def role_of(appointment_id: int) -> int:
        appointment = db.get(Appointment, appointment_id)
        assert appointment is not None
        slot = db.get(Slot, appointment.slot_id)
        assert slot is not None
        schedule = db.get(Schedule, slot.schedule_id)
        assert schedule is not None
        return schedule.practitioner_role_id

    assert role_of(filled["appointment_id"]) == role_of(cancelled["appointment_id"])
    assert db.scalar(select(func.count()).where(Practitioner.family_name == team)) == len(units)

    # The standby patient takes the freed slot itself, not a second schedule
    # of the same team opening at the same hour.
    def slot_of(appointment_id: int) -> int:
        appointment = db.get(Appointment, appointment_id)
        assert appointment is not None
        return appointment.slot_id

    assert slot_of(filled["appointment_id"]) == slot_of(cancelled["appointment_id"])


def test_more_places_of_a_line_on_a_day_open_after_the_team_s_last_slot_not_at_seven_again(
    db: Session,
) -> None:
    from zoneinfo import ZoneInfo

    from puente.enums import PractitionerRoleCode
    from puente.people import service as people
    from puente.people.schemas import PractitionerRoleCreate
    from puente.recovery import appointments
    from puente.scheduling import service as scheduling
    from tests import factories as f

    cmno = f.facility(db, "MX-CMNO-T", region_code="MX-JAL")
    surgery = f.service(db, "surgery-general-t")
    team = f.practitioner(db, "Equipo", "CMNO")
    day = date.today() + timedelta(days=7)
    role = people.add_role(
        db,
        practitioner_id=team.id,
        data=PractitionerRoleCreate(
            facility_code=cmno.code, role=PractitionerRoleCode.coordinator,
            start_date=day, end_date=day,
        ),
    )  # fmt: skip
    first = appointments._slots(db, role.id, cmno.timezone, surgery.id, day, 2)
    # Asked again before anything is booked: the same two free places.
    assert [s.id for s in appointments._slots(db, role.id, cmno.timezone, surgery.id, day, 2)] == [
        s.id for s in first
    ]
    for slot, who in zip(first, ("Ana", "Rosa"), strict=True):
        scheduling.book(db, slot_id=slot.id, patient_id=f.patient(db, "Pérez", who).id)
    [third] = appointments._slots(db, role.id, cmno.timezone, surgery.id, day, 1)
    zone = ZoneInfo(cmno.timezone)
    starts = [s.starts_at.astimezone(zone).time().isoformat("minutes") for s in [*first, third]]
    assert starts == ["07:00", "07:10", "07:20"]
