"""Schedule, Slot and Appointment over FHIR R4: read, search, and booking
through Appointment create. Every resource and bundle is valid R4."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from puente.enums import AccessRole
from puente.fhir.mapping import CS_SPECIALTY
from puente.fhir.validation import validate
from puente.scheduling import service
from puente.scheduling.models import Schedule, Slot
from tests import factories as f
from tests.scheduling.world import World, moscow_world, next_monday, virtual_schedule

FHIR_JSON = "application/fhir+json"
Login = Callable[..., TestClient]


@pytest.fixture
def world(db: Session) -> World:
    return moscow_world(db)


@pytest.fixture
def schedule(db: Session, world: World) -> Schedule:
    return virtual_schedule(db, world, days=2)


@pytest.fixture
def slots(db: Session, schedule: Schedule) -> list[Slot]:
    return list(
        db.scalars(select(Slot).where(Slot.schedule_id == schedule.id).order_by(Slot.starts_at))
    )


@pytest.fixture
def login(app: FastAPI, db: Session) -> Iterator[Login]:
    with ExitStack() as stack:

        def make(
            username: str, role: AccessRole, scope: str | None = None, **kw: Any
        ) -> TestClient:
            account = f.user(db, username, role, scope, **kw)
            client = TestClient(app, raise_server_exceptions=False, headers=f.bearer(db, account))
            return stack.enter_context(client)

        yield make


def fhir(client: TestClient, method: str, url: str, **kw: Any) -> tuple[int, dict[str, Any]]:
    response = client.request(method, url, **kw)
    assert response.headers["content-type"].startswith(FHIR_JSON), response.text
    body: dict[str, Any] = response.json()
    assert validate(body) == [], body
    return response.status_code, body


def ids(bundle: dict[str, Any]) -> list[str]:
    return [e["resource"]["id"] for e in bundle.get("entry", [])]


def booking(slot_id: int, patient_id: int | None, status: str = "booked") -> dict[str, Any]:
    participant = [{"actor": {"reference": f"Patient/{patient_id}"}, "status": "accepted"}]
    return {
        "resourceType": "Appointment",
        "status": status,
        "description": "Fever and cough for three days",
        "slot": [{"reference": f"Slot/{slot_id}"}],
        "participant": participant if patient_id else [{"status": "needs-action"}],
    }


def test_schedule_slot_and_appointment_read_and_search_as_valid_r4(
    registrar: TestClient, db: Session, world: World, schedule: Schedule, slots: list[Slot]
) -> None:
    appointment = service.book(db, slot_id=slots[0].id, patient_id=world.ivan.id)
    for kind, key in (("Schedule", schedule.id), ("Slot", slots[0].id),
                      ("Appointment", appointment.id)):  # fmt: skip
        status, bundle = fhir(registrar, "GET", f"/fhir/{kind}")
        assert status == 200 and bundle["total"] >= 1
        status, one = fhir(registrar, "GET", f"/fhir/{kind}/{key}")
        assert status == 200 and one["resourceType"] == kind
        assert validate(one, kind) == []
        status, _missing = fhir(registrar, "GET", f"/fhir/{kind}/987654321")
        assert status == 404
    _, read = fhir(registrar, "GET", f"/fhir/Appointment/{appointment.id}")
    assert read["status"] == "booked"
    assert read["slot"] == [{"reference": f"Slot/{slots[0].id}"}]
    assert {"reference": f"Patient/{world.ivan.id}"} in [p["actor"] for p in read["participant"]]
    assert read["start"].endswith("+00:00")


def test_schedules_are_found_by_actor_specialty_and_date(
    registrar: TestClient, world: World, schedule: Schedule
) -> None:
    mine = str(schedule.id)
    monday = next_monday()
    for params in (
        {"actor": f"PractitionerRole/{world.role.id}"},
        {"actor": f"Location/{world.polyclinic.id}"},
        {"specialty": f"{CS_SPECIALTY}|therapy"},
        {"date": monday.isoformat()},
        {"active": "true"},
    ):
        assert ids(fhir(registrar, "GET", "/fhir/Schedule", params=params)[1]) == [mine], params
    assert (
        fhir(registrar, "GET", "/fhir/Schedule", params={"specialty": "cardiology"})[1]["total"]
        == 0
    )
    later = (monday + timedelta(days=30)).isoformat()
    assert fhir(registrar, "GET", "/fhir/Schedule", params={"date": later})[1]["total"] == 0
    status, _ = fhir(registrar, "GET", "/fhir/Schedule", params={"actor": "Patient/1"})
    assert status == 400


def test_slots_are_found_by_schedule_start_and_status(
    registrar: TestClient, db: Session, world: World, schedule: Schedule, slots: list[Slot]
) -> None:
    service.book(db, slot_id=slots[0].id, patient_id=world.ivan.id)
    service.hold(db, slot_id=slots[1].id, patient_id=world.olga.id)
    service.block_slots(db, schedule.id, start=slots[2].starts_at, end=slots[3].starts_at)
    by_schedule = fhir(
        registrar, "GET", "/fhir/Slot", params={"schedule": f"Schedule/{schedule.id}"}
    )
    assert by_schedule[1]["total"] == 16
    statuses = {
        code: ids(fhir(registrar, "GET", "/fhir/Slot", params={"status": code})[1])
        for code in ("busy", "busy-tentative", "busy-unavailable")
    }
    assert statuses == {
        "busy": [str(slots[0].id)],
        "busy-tentative": [str(slots[1].id)],
        "busy-unavailable": [str(slots[2].id)],
    }
    assert fhir(registrar, "GET", "/fhir/Slot", params={"status": "free"})[1]["total"] == 13
    tuesday = (next_monday() + timedelta(days=1)).isoformat()
    on_tuesday = fhir(registrar, "GET", "/fhir/Slot", params={"start": tuesday})[1]
    assert on_tuesday["total"] == 8
    assert fhir(registrar, "GET", "/fhir/Slot", params={"status": "asleep"})[0] == 400


def test_ivan_books_through_fhir_and_the_slot_becomes_busy(
    login: Login, world: World, slots: list[Slot]
) -> None:
    ivan = login("ivan", AccessRole.patient, patient_id=world.ivan.id)
    status, created = fhir(
        ivan, "POST", "/fhir/Appointment", json=booking(slots[0].id, world.ivan.id)
    )
    assert status == 201, created
    assert created["status"] == "booked"
    assert created["description"] == "Fever and cough for three days"
    _, slot = fhir(ivan, "GET", f"/fhir/Slot/{slots[0].id}")
    assert slot["status"] == "busy"
    _, mine = fhir(ivan, "GET", "/fhir/Appointment", params={"patient": f"Patient/{world.ivan.id}"})
    assert ids(mine) == [created["id"]]
    # A patient user may leave the Patient out: it is them.
    status, second = fhir(ivan, "POST", "/fhir/Appointment", json=booking(slots[1].id, None))
    assert status == 201 and second["participant"][0]["actor"]["reference"] == (
        f"Patient/{world.ivan.id}"
    )


def test_a_taken_slot_is_a_409_operation_outcome_at_appointment_slot(
    login: Login, world: World, slots: list[Slot]
) -> None:
    ivan = login("ivan", AccessRole.patient, patient_id=world.ivan.id)
    olga = login("olga", AccessRole.patient, patient_id=world.olga.id)
    assert (
        fhir(ivan, "POST", "/fhir/Appointment", json=booking(slots[0].id, world.ivan.id))[0] == 201
    )
    status, outcome = fhir(
        olga, "POST", "/fhir/Appointment", json=booking(slots[0].id, world.olga.id)
    )
    assert status == 409
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["expression"] == ["Appointment.slot"]


def test_ivan_cannot_book_for_olga_nor_read_her_appointments(
    login: Login, db: Session, world: World, slots: list[Slot]
) -> None:
    olgas = service.book(db, slot_id=slots[2].id, patient_id=world.olga.id)
    ivan = login("ivan", AccessRole.patient, patient_id=world.ivan.id)
    status, _ = fhir(ivan, "POST", "/fhir/Appointment", json=booking(slots[0].id, world.olga.id))
    assert status == 404
    assert fhir(ivan, "GET", f"/fhir/Appointment/{olgas.id}")[0] == 404
    assert fhir(ivan, "GET", "/fhir/Appointment")[1]["total"] == 0


def test_the_same_idempotency_key_returns_the_first_booking(
    login: Login, world: World, slots: list[Slot]
) -> None:
    ivan = login("ivan", AccessRole.patient, patient_id=world.ivan.id)
    key = {"Idempotency-Key": "fhir-booking-1"}
    body = booking(slots[0].id, world.ivan.id)
    first = fhir(ivan, "POST", "/fhir/Appointment", json=body, headers=key)
    second = fhir(ivan, "POST", "/fhir/Appointment", json=body, headers=key)
    assert (first[0], second[0]) == (201, 200)
    assert first[1]["id"] == second[1]["id"]


def test_a_pending_appointment_holds_the_slot(
    login: Login, world: World, slots: list[Slot]
) -> None:
    ivan = login("ivan", AccessRole.patient, patient_id=world.ivan.id)
    status, held = fhir(
        ivan, "POST", "/fhir/Appointment", json=booking(slots[0].id, world.ivan.id, "pending")
    )
    assert status == 201 and held["status"] == "pending"
    assert fhir(ivan, "GET", f"/fhir/Slot/{slots[0].id}")[1]["status"] == "busy-tentative"


def test_an_invalid_appointment_is_refused_naming_the_element(
    login: Login, world: World, slots: list[Slot]
) -> None:
    ivan = login("ivan", AccessRole.patient, patient_id=world.ivan.id)
    no_slot = booking(slots[0].id, world.ivan.id)
    no_slot["slot"] = []
    status, outcome = fhir(ivan, "POST", "/fhir/Appointment", json=no_slot)
    assert status == 422 and outcome["issue"][0]["expression"] == ["Appointment.slot"]
    broken = booking(slots[0].id, world.ivan.id)
    broken["start"] = "next tuesday"
    assert fhir(ivan, "POST", "/fhir/Appointment", json=broken)[0] == 400
    analyst = login("analyst", AccessRole.program_manager)
    assert (
        fhir(analyst, "POST", "/fhir/Appointment", json=booking(slots[0].id, world.ivan.id))[0]
        == 403
    )


def test_the_capability_statement_offers_appointment_create(registrar: TestClient) -> None:
    _, body = fhir(registrar, "GET", "/fhir/metadata")
    resources = {r["type"]: r for r in body["rest"][0]["resource"]}
    assert {i["code"] for i in resources["Appointment"]["interaction"]} == {
        "read", "search-type", "create",
    }  # fmt: skip
    assert {"patient", "date", "status"} <= {
        p["name"] for p in resources["Appointment"]["searchParam"]
    }
    assert {"schedule", "start", "status"} <= {p["name"] for p in resources["Slot"]["searchParam"]}
