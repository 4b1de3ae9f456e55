"""The on-demand queue, the PDF documents, FHIR Encounter, the pages, and the
demo world's visits."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from fhirclient.models.encounter import Encounter
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from puente.db import utcnow
from puente.enums import TriageDecision, VisitStatus
from puente.fhir.validation import validate
from puente.visits import service
from puente.visits.models import Visit
from puente.visits.triage import Answers, Breathing, ChronicCondition, assess
from tests.visits.clinic import MILD, Clinic, clinic
from tests.visits.test_patient_books_and_doctor_closes import NOTE, book, start, triage

__all__ = ["clinic"]


@pytest.mark.parametrize(
    ("answers", "decision", "reason"),
    [
        (
            Answers(2, Breathing.none, 30, spo2=93),
            TriageDecision.emergency,
            "low_oxygen_saturation",
        ),
        (Answers(1, Breathing.at_rest, 30), TriageDecision.emergency, "breathless_at_rest"),
        (Answers(1, Breathing.on_exertion, 30), TriageDecision.in_person, "breathless_on_exertion"),
        (Answers(6, Breathing.none, 30), TriageDecision.in_person, "long_fever"),
        (Answers(5, Breathing.none, 30), TriageDecision.virtual, "mild_symptoms"),
        (Answers(1, Breathing.none, 30, pregnant=True), TriageDecision.in_person, "pregnancy"),
        (
            Answers(
                1, Breathing.none, 70, chronic_conditions=frozenset({ChronicCondition.diabetes})
            ),
            TriageDecision.in_person,
            "older_with_chronic_conditions",
        ),
        (Answers(1, Breathing.none, 70), TriageDecision.virtual, "mild_symptoms"),
        (Answers(1, Breathing.none, 30, spo2=94), TriageDecision.virtual, "mild_symptoms"),
    ],
)
def test_triage_rules(answers: Answers, decision: TriageDecision, reason: str) -> None:
    assert (assess(answers).decision, assess(answers).reason) == (decision, reason)


def queue_up(c: TestClient, patient_id: int) -> dict[str, Any]:
    t = triage(c, patient_id)
    r = c.post("/api/visits/queue", json={"patient_id": patient_id, "triage_id": t["id"]})
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


def test_the_queue_shows_the_place_and_the_doctor_takes_the_longest_waiting(
    app: FastAPI, clinic: Clinic, db: Session
) -> None:
    from tests import factories as f

    first = queue_up(clinic.client(app, "pavel"), clinic.patient)
    assert first["place"] == {
        "visit_id": first["visit"]["id"],
        "position": 1,
        "ahead": 0,
        "estimated_wait_minutes": 0,
    }
    again = clinic.client(app, "pavel").post(
        "/api/visits/queue", json={"patient_id": clinic.patient}
    )
    assert again.status_code == 409
    # Olga queues a second patient of GP012 by phone.
    maria = f.patient(db, "Кузнецова", "Мария", home_facility_id=clinic.gp12, citizenship="RU")
    db.commit()
    second = queue_up(clinic.client(app, "olga"), maria.id)
    assert (second["place"]["position"], second["place"]["ahead"]) == (2, 1)
    assert second["place"]["estimated_wait_minutes"] == 12  # no history yet: 12 min a visit

    doctor = clinic.client(app, "sokolova")
    worklist = doctor.get("/api/visits/worklist").json()
    assert [i["visit"]["id"] for i in worklist["queue"]] == [
        first["visit"]["id"],
        second["visit"]["id"],
    ]
    taken = doctor.post("/api/visits/queue/next", json={})
    assert taken.status_code == 200, taken.text
    assert taken.json()["id"] == first["visit"]["id"]
    assert taken.json()["practitioner_role_id"] == clinic.role
    place = clinic.client(app, "olga").get(f"/api/visits/{second['visit']['id']}/queue").json()
    assert place["position"] == 1
    assert clinic.client(app, "other").post("/api/visits/queue/next", json={}).status_code == 404


def test_prescription_and_sick_leave_come_as_pdf_attachments_in_russian(
    app: FastAPI, clinic: Clinic
) -> None:
    visit = book(app, clinic)
    start(clinic.db, visit["id"])
    doctor = clinic.client(app, "sokolova")
    doctor.put(f"/api/visits/{visit['id']}/note", json=NOTE)
    rx = doctor.post(
        f"/api/visits/{visit['id']}/documents",
        json={
            "kind": "prescription",
            "items": [
                {"medication": "Парацетамол", "dosage": "500 мг", "instructions": "при 38,5"}
            ],
        },
    )
    assert rx.status_code == 201, rx.text
    assert rx.json()["language"] == "ru"
    leave = doctor.post(
        f"/api/visits/{visit['id']}/documents",
        json={"kind": "sick_leave", "off_work_from": "2026-11-23", "off_work_until": "2026-11-27"},
    )
    assert leave.status_code == 201, leave.text
    bad = doctor.post(
        f"/api/visits/{visit['id']}/documents",
        json={"kind": "sick_leave", "off_work_from": "2026-11-27", "off_work_until": "2026-11-23"},
    )
    assert bad.status_code == 422
    pavel = clinic.client(app, "pavel")
    pdf = pavel.get(rx.json()["url"])
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["content-disposition"].startswith("attachment;")
    assert pdf.content.startswith(b"%PDF") and b"DejaVu" in pdf.content
    assert clinic.client(app, "other").get(rx.json()["url"]).status_code == 404


def test_encounters_are_valid_r4_and_searchable_by_patient_status_and_date(
    app: FastAPI, clinic: Clinic
) -> None:
    visit = book(app, clinic)
    started_on = utcnow().date().isoformat()  # the call starts now or later, never before
    start(clinic.db, visit["id"])
    clinic.client(app, "sokolova").post(
        f"/api/visits/{visit['id']}/close", json={**NOTE, "outcome": "resolved_remotely"}
    )
    pavel = clinic.client(app, "pavel")
    r = pavel.get(f"/fhir/Encounter/{visit['id']}")
    assert r.status_code == 200, r.text
    encounter = r.json()
    assert validate(encounter) == []
    Encounter(encounter)  # strict R4 model
    assert encounter["class"]["code"] == "VR" and encounter["status"] == "finished"
    assert encounter["subject"]["reference"] == f"Patient/{clinic.patient}"
    bundle = pavel.get(
        "/fhir/Encounter",
        params={
            "patient": f"Patient/{clinic.patient}",
            "status": "finished",
            "date": f"ge{started_on}",
        },
    ).json()
    assert validate(bundle) == []
    assert [e["resource"]["id"] for e in bundle["entry"]] == [str(visit["id"])]
    assert pavel.get("/fhir/Encounter", params={"status": "planned"}).json()["total"] == 0
    assert pavel.get("/fhir/Encounter", params={"status": "bogus"}).status_code == 400
    assert clinic.client(app, "other").get(f"/fhir/Encounter/{visit['id']}").status_code == 404


def test_the_patient_pages_triage_and_book_in_russian(app: FastAPI, clinic: Clinic) -> None:
    pavel = clinic.client(app, "pavel")
    form = pavel.get("/visits/new?lang=ru")
    assert form.status_code == 200 and "Опросник при ОРВИ и COVID-19" in form.text
    emergency = pavel.post(
        "/visits/new?lang=ru",
        data={"patient_id": clinic.patient, "fever_days": 2, "breathing": "at_rest"},
    )
    assert emergency.status_code == 200, emergency.text
    assert 'data-decision="emergency"' in emergency.text and "Одышка в покое" in emergency.text
    assert 'id="slots"' not in emergency.text
    ok = pavel.post(
        "/visits/new?lang=ru", data={"patient_id": clinic.patient, "fever_days": 2, "spo2": 98}
    )
    assert 'data-decision="virtual"' in ok.text and 'class="slot"' in ok.text
    # the free times come by day and by doctor, with her specialty
    assert 'class="slot-day"' in ok.text and "Соколова Ирина — Инфекционные болезни" in ok.text
    triage_id = clinic.db.scalar(select(func.max(Visit.id)))  # none booked yet
    assert triage_id is None
    slot = clinic.slots(1)[0]
    from puente.visits.models import TriageAssessment

    t = clinic.db.scalar(select(func.max(TriageAssessment.id)))
    booked = pavel.post(
        "/visits/book",
        data={"patient_id": clinic.patient, "slot_id": slot.id, "triage_id": t},
        follow_redirects=False,
    )
    assert booked.status_code == 303, booked.text
    page = pavel.get(booked.headers["location"] + "?lang=ru")
    assert page.status_code == 200 and 'data-status="booked"' in page.text
    assert "Записан" in page.text


def test_the_worklist_page_and_closing_from_the_page(app: FastAPI, clinic: Clinic) -> None:
    visit = book(app, clinic)
    start(clinic.db, visit["id"])
    doctor = clinic.client(app, "sokolova")
    page = doctor.get("/clinic/visits?lang=es")
    assert page.status_code == 200 and "Consultas de hoy" in page.text
    closed = doctor.post(
        f"/visits/{visit['id']}/close",
        data={"outcome": "resolved_remotely", "diagnoses": "J06.9, U07.1", "assessment": "ОРВИ"},
        follow_redirects=False,
    )
    assert closed.status_code == 303, closed.text
    row = clinic.db.get(Visit, visit["id"])
    assert row is not None
    clinic.db.refresh(row)
    assert row.status == VisitStatus.closed and row.diagnoses == ["J06.9", "U07.1"]


def test_the_demo_world_has_free_moscow_slots_and_non_zero_figures(
    demo_client: TestClient, demo_db: Session
) -> None:
    from puente.demo.visits import VISITS

    figures = service.figures(
        demo_db, start=None, end=None, facility_ids=None, region="RU-MOW", group_by=["day"]
    )
    assert figures.consultations == VISITS
    assert 0 < figures.unique_patients < figures.consultations
    assert 0.8 * VISITS < figures.visits_avoided < VISITS
    assert min(g.day for g in figures.groups if g.day).isoformat() >= "2022-02-01"
    from puente.scheduling import service as scheduling

    now = utcnow()
    from datetime import timedelta

    free = scheduling.free_slots(demo_db, start=now, end=now + timedelta(days=14), limit=5)
    assert len(free) == 5
    _ = MILD
