"""The scheduling API: Dr Smirnova publishes her virtual schedule, Ivan books
for himself, the call centre books for Olga, and nobody books for a patient
they may not see."""

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

from puente.access.models import AuditEvent
from puente.enums import AccessRole, AuditOutcome
from tests import factories as f
from tests.scheduling.world import MOSCOW, World, moscow_world, next_monday

Login = Callable[..., TestClient]


@pytest.fixture
def world(db: Session) -> World:
    return moscow_world(db)


@pytest.fixture
def login(app: FastAPI, db: Session) -> Iterator[Login]:
    """A signed-in API client for a new user with one role."""
    with ExitStack() as stack:

        def make(
            username: str, role: AccessRole, scope: str | None = None, **kw: Any
        ) -> TestClient:
            account = f.user(db, username, role, scope, **kw)
            client = TestClient(app, raise_server_exceptions=False, headers=f.bearer(db, account))
            return stack.enter_context(client)

        yield make


def schedule_body(world: World, **extra: Any) -> dict[str, Any]:
    monday = next_monday()
    body: dict[str, Any] = {
        "practitioner_role_id": world.role.id,
        "mode": "virtual",
        "slot_minutes": 30,
        "timezone": MOSCOW,
        "valid_from": monday.isoformat(),
        "valid_until": (monday + timedelta(days=13)).isoformat(),
        "rules": [{"weekday": d, "start": "09:00", "end": "13:00"} for d in range(5)],
        "generate_until": (monday + timedelta(days=13)).isoformat(),
    }
    body.update(extra)
    return body


@pytest.fixture
def published(login: Login, world: World) -> dict[str, Any]:
    smirnova = login("dr.smirnova", AccessRole.clinician, "RU-MOW-GP002")
    created = smirnova.post("/api/schedules", json=schedule_body(world))
    assert created.status_code == 201, created.text
    body: dict[str, Any] = created.json()
    return body


def free_slots(client: TestClient, **params: str) -> list[dict[str, Any]]:
    to = f"{next_monday() + timedelta(days=15)}T00:00:00+00:00"
    response = client.get(
        "/api/slots", params={"facility_code": "RU-MOW-GP002", "limit": "500", "to": to, **params}
    )
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def test_dr_smirnova_publishes_a_virtual_schedule_and_its_slots_appear(
    login: Login, world: World, published: dict[str, Any]
) -> None:
    assert published["facility_code"] == "RU-MOW-GP002"
    assert published["specialty_code"] == "therapy"
    assert len(published["rules"]) == 5
    ivan = login("ivan", AccessRole.patient, patient_id=world.ivan.id)
    slots = free_slots(ivan, specialty_code="therapy", mode="virtual")
    assert len(slots) == 10 * 8  # ten weekdays, 09:00-13:00 in half hours
    assert slots[0]["local_start"].endswith("09:00:00+03:00")
    listed = ivan.get("/api/schedules", params={"facility_code": "RU-MOW-GP002"}).json()
    assert [s["id"] for s in listed["items"]] == [published["id"]]
    smirnova_again = login("dr.smirnova2", AccessRole.clinician, "RU-MOW-GP002")
    until = (next_monday() + timedelta(days=13)).isoformat()
    again = smirnova_again.post(
        f"/api/schedules/{published['id']}/slots:generate", params={"until": until}
    )
    assert again.status_code == 200, again.text
    assert again.json()["created"] == 0


def test_a_clinician_of_another_polyclinic_cannot_publish_dr_smirnovas_schedule(
    login: Login, world: World
) -> None:
    other = login("dr.orlova", AccessRole.clinician, "RU-MOW-GP099")
    refused = other.post("/api/schedules", json=schedule_body(world))
    assert refused.status_code == 403
    assert [e["field"] for e in refused.json()["errors"]] == ["practitioner_role_id"]


def test_a_patient_cannot_publish_a_schedule(login: Login, world: World) -> None:
    ivan = login("ivan", AccessRole.patient, patient_id=world.ivan.id)
    assert ivan.post("/api/schedules", json=schedule_body(world)).status_code == 403


def test_ivan_holds_then_books_a_slot_for_himself(
    login: Login, world: World, published: dict[str, Any], db: Session
) -> None:
    ivan = login("ivan", AccessRole.patient, patient_id=world.ivan.id)
    slot = free_slots(ivan)[0]
    held = ivan.post("/api/appointments/holds", json={"slot_id": slot["id"]})
    assert held.status_code == 201, held.text
    assert held.json()["status"] == "held" and held.json()["hold_expires_at"]
    booked = ivan.post("/api/appointments", json={"slot_id": slot["id"], "reason": "fever 38.5"})
    assert booked.status_code == 201, booked.text
    body = booked.json()
    assert body["id"] == held.json()["id"]
    assert body["status"] == "booked" and body["patient_id"] == world.ivan.id
    assert body["mode"] == "virtual" and body["starts_at"] == slot["starts_at"]
    assert slot["id"] not in {s["id"] for s in free_slots(ivan)}
    mine = ivan.get("/api/appointments").json()
    assert [a["id"] for a in mine["items"]] == [body["id"]]
    audited = db.scalars(
        select(AuditEvent).where(
            AuditEvent.resource_type == "Appointment", AuditEvent.action == "create"
        )
    ).all()
    assert [(a.patient_id, a.resource_id, a.username) for a in audited] == [
        (world.ivan.id, str(body["id"]), "ivan")
    ]


def test_a_taken_slot_is_a_409_naming_slot_id(
    login: Login, world: World, published: dict[str, Any]
) -> None:
    ivan = login("ivan", AccessRole.patient, patient_id=world.ivan.id)
    olga = login("olga", AccessRole.patient, patient_id=world.olga.id)
    slot = free_slots(ivan)[0]
    assert ivan.post("/api/appointments", json={"slot_id": slot["id"]}).status_code == 201
    taken = olga.post("/api/appointments", json={"slot_id": slot["id"]})
    assert taken.status_code == 409
    assert taken.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in taken.json()["errors"]] == ["slot_id"]


def test_ivan_cannot_book_for_olga_and_the_attempt_is_audited(
    login: Login, world: World, published: dict[str, Any], db: Session
) -> None:
    ivan = login("ivan", AccessRole.patient, patient_id=world.ivan.id)
    slot = free_slots(ivan)[0]
    refused = ivan.post(
        "/api/appointments", json={"slot_id": slot["id"], "patient_id": world.olga.id}
    )
    assert refused.status_code == 404
    denied = db.scalars(select(AuditEvent).where(AuditEvent.outcome == AuditOutcome.denied)).all()
    assert [(d.username, d.patient_id) for d in denied] == [("ivan", world.olga.id)]
    assert slot["id"] in {s["id"] for s in free_slots(ivan)}


def test_the_same_idempotency_key_twice_books_once(
    login: Login, world: World, published: dict[str, Any]
) -> None:
    ivan = login("ivan", AccessRole.patient, patient_id=world.ivan.id)
    slot = free_slots(ivan)[0]
    key = {"Idempotency-Key": "3f1c2a9e-booking"}
    first = ivan.post("/api/appointments", json={"slot_id": slot["id"]}, headers=key)
    second = ivan.post("/api/appointments", json={"slot_id": slot["id"]}, headers=key)
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"]
    assert ivan.get("/api/appointments").json()["total"] == 1


def test_the_call_centre_books_for_olga_but_not_for_another_polyclinics_patient(
    login: Login, world: World, published: dict[str, Any], db: Session
) -> None:
    operator = login("call.centre", AccessRole.facility_admin, "RU-MOW-GP002")
    slots = free_slots(operator)
    booked = operator.post(
        "/api/appointments",
        json={"slot_id": slots[0]["id"], "patient_id": world.olga.id, "reason": "cough"},
    )
    assert booked.status_code == 201, booked.text
    assert booked.json()["patient_id"] == world.olga.id
    stranger = operator.post(
        "/api/appointments", json={"slot_id": slots[1]["id"], "patient_id": world.stranger.id}
    )
    assert stranger.status_code == 404
    missing = operator.post("/api/appointments", json={"slot_id": slots[1]["id"]})
    assert missing.status_code == 422
    assert [e["field"] for e in missing.json()["errors"]] == ["patient_id"]
    listed = operator.get("/api/appointments", params={"facility_code": "RU-MOW-GP002"}).json()
    assert [a["patient_id"] for a in listed["items"]] == [world.olga.id]


def test_cancel_frees_the_slot_and_reschedule_moves_the_booking(
    login: Login, world: World, published: dict[str, Any]
) -> None:
    ivan = login("ivan", AccessRole.patient, patient_id=world.ivan.id)
    olga = login("olga", AccessRole.patient, patient_id=world.olga.id)
    first, second, third = free_slots(ivan)[:3]
    booking = ivan.post("/api/appointments", json={"slot_id": first["id"]}).json()
    moved = ivan.post(
        f"/api/appointments/{booking['id']}/reschedule", json={"slot_id": second["id"]}
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["slot_id"] == second["id"]
    assert moved.json()["rescheduled_from_id"] == booking["id"]
    free_ids = {s["id"] for s in free_slots(ivan)}
    assert first["id"] in free_ids and second["id"] not in free_ids
    # Olga may not cancel Ivan's appointment; Ivan may.
    assert olga.post(f"/api/appointments/{moved.json()['id']}/cancel").status_code == 404
    cancelled = ivan.post(
        f"/api/appointments/{moved.json()['id']}/cancel", json={"reason": "better"}
    )
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    rebook = olga.post("/api/appointments", json={"slot_id": second["id"]})
    assert rebook.status_code == 201
    assert third["id"] in {s["id"] for s in free_slots(ivan)}


def test_a_program_manager_cannot_book_and_sees_no_appointments(
    login: Login, world: World, published: dict[str, Any]
) -> None:
    ivan = login("ivan", AccessRole.patient, patient_id=world.ivan.id)
    slot = free_slots(ivan)[0]
    ivan.post("/api/appointments", json={"slot_id": slot["id"]})
    analyst = login("analyst", AccessRole.program_manager)
    refused = analyst.post(
        "/api/appointments", json={"slot_id": slot["id"], "patient_id": world.ivan.id}
    )
    assert refused.status_code == 403
    assert analyst.get("/api/appointments").json()["total"] == 0


def test_dr_smirnova_blocks_her_leave_and_those_slots_are_not_offered(
    login: Login, world: World, published: dict[str, Any]
) -> None:
    smirnova = login("dr.smirnova.leave", AccessRole.clinician, "RU-MOW-GP002")
    before = free_slots(smirnova)
    monday_start, monday_end = before[0]["starts_at"], before[8]["starts_at"]
    blocked = smirnova.post(
        f"/api/schedules/{published['id']}/slots:block",
        json={"start": monday_start, "end": monday_end},
    )
    assert blocked.status_code == 200, blocked.text
    assert blocked.json()["changed"] == 8
    assert len(free_slots(smirnova)) == len(before) - 8


def test_free_slots_refuse_a_time_without_an_offset(login: Login, world: World) -> None:
    ivan = login("ivan", AccessRole.patient, patient_id=world.ivan.id)
    response = ivan.get("/api/slots", params={"from": "2030-01-01T09:00:00"})
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["from"]
