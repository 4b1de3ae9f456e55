"""The whole visit through the JSON API: Pavel triages and books, Dr Sokolova
closes with a note and an outcome, the ledger counts it and the figures move."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.orm import Session

from puente.enums import LedgerSource, OutboxStatus, VisitStatus
from puente.ledger.models import LedgerEntry
from puente.notify.models import OutboxMessage
from puente.visits import service
from puente.visits.models import Visit
from tests.visits.clinic import MILD, Clinic, clinic

__all__ = ["clinic"]

NOTE = {
    "complaints": "Кашель, температура 37,8 два дня",
    "findings": "Состояние удовлетворительное, SpO2 97 %",
    "assessment": "ОРВИ лёгкого течения",
    "plan": "Обильное питьё, парацетамол при температуре выше 38,5",
    "diagnoses": ["j06.9"],
}


def triage(c: Any, patient_id: int, **answers: Any) -> dict[str, Any]:
    r = c.post("/api/visits/triage", json={"patient_id": patient_id, **MILD, **answers})
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


def book(app: FastAPI, clinic: Clinic, who: str = "pavel") -> dict[str, Any]:
    c = clinic.client(app, who)
    t = triage(c, clinic.patient)
    slot = clinic.slots(1)[0]
    r = c.post(
        "/api/visits",
        json={"patient_id": clinic.patient, "slot_id": slot.id, "triage_id": t["id"]},
    )
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


def start(db: Session, visit_id: int) -> None:
    visit = service.get_visit(db, visit_id)
    service.mark_lobby(db, visit)
    service.mark_in_call(db, visit)
    db.commit()


def test_mild_symptoms_are_seen_virtually_and_the_reason_is_in_russian(
    app: FastAPI, clinic: Clinic
) -> None:
    pavel = clinic.client(app, "pavel")
    pavel.headers["Accept-Language"] = "ru"
    t = triage(pavel, clinic.patient)
    assert t["decision"] == "virtual" and t["reason"] == "mild_symptoms"
    assert t["answers"]["age"] >= 39  # from his birth date
    assert "виртуальн" in t["reason_text"].lower() or "дистанц" in t["reason_text"].lower()


def test_low_oxygen_sends_pavel_to_emergency_care_and_nothing_can_be_booked(
    app: FastAPI, clinic: Clinic
) -> None:
    pavel = clinic.client(app, "pavel")
    t = triage(pavel, clinic.patient, spo2=91)
    assert (t["decision"], t["reason"]) == ("emergency", "low_oxygen_saturation")
    slot = clinic.slots(1)[0]
    r = pavel.post(
        "/api/visits",
        json={"patient_id": clinic.patient, "slot_id": slot.id, "triage_id": t["id"]},
    )
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "triage_id"
    assert clinic.db.scalar(select(Visit.id).where(Visit.patient_id == clinic.patient)) is None


def test_booking_creates_the_visit_and_its_messages(app: FastAPI, clinic: Clinic) -> None:
    visit = book(app, clinic)
    assert visit["status"] == "booked" and visit["starts_at"]
    assert visit["practitioner_role_id"] == clinic.role
    keys = set(
        clinic.db.scalars(
            select(OutboxMessage.dedupe_key).where(OutboxMessage.patient_id == clinic.patient)
        )
    )
    appointment = visit["appointment_id"]
    assert f"appointment:{appointment}:booked" in keys
    assert f"visit:{visit['id']}:join" in keys
    confirmed = clinic.db.scalar(
        select(OutboxMessage).where(OutboxMessage.dedupe_key == f"appointment:{appointment}:booked")
    )
    assert confirmed is not None and confirmed.channel == "email"
    assert confirmed.status == OutboxStatus.pending and confirmed.language == "ru"
    assert f"/visits/{visit['id']}" in confirmed.body


def test_the_call_centre_books_for_pavel_but_not_at_another_polyclinic(
    app: FastAPI, clinic: Clinic
) -> None:
    visit = book(app, clinic, who="olga")
    assert visit["patient_id"] == clinic.patient
    olga = clinic.client(app, "olga")
    # Anna is registered at GP045: Olga cannot even see her.
    r = olga.post("/api/visits/triage", json={"patient_id": clinic.other_patient, **MILD})
    assert r.status_code == 404


def test_dr_sokolova_closes_the_visit_and_the_ledger_counts_one_avoided_trip(
    app: FastAPI, clinic: Clinic
) -> None:
    visit = book(app, clinic)
    start(clinic.db, visit["id"])
    doctor = clinic.client(app, "sokolova")
    r = doctor.post(
        f"/api/visits/{visit['id']}/close", json={**NOTE, "outcome": "resolved_remotely"}
    )
    assert r.status_code == 200, r.text
    closed = r.json()
    assert closed["visit"]["status"] == "closed" and closed["visit"]["diagnoses"] == ["J06.9"]
    entries = clinic.db.scalars(
        select(LedgerEntry).where(LedgerEntry.source == LedgerSource.visit)
    ).all()
    refs = {e.source_ref for e in entries}
    assert refs == {f"visit:{visit['id']}", f"visit:{visit['id']}:avoided"}
    assert all(e.citizenship == "RU" and e.mode == "virtual" for e in entries)
    again = doctor.post(
        f"/api/visits/{visit['id']}/close", json={**NOTE, "outcome": "resolved_remotely"}
    )
    assert again.status_code == 409

    figures = clinic.client(app, "analyst").get(
        "/api/visits/figures", params={"group_by": ["facility", "day"]}
    )
    assert figures.status_code == 200, figures.text
    body = figures.json()
    assert (body["consultations"], body["unique_patients"], body["visits_avoided"]) == (1, 1, 1)
    assert body["groups"][0]["facility"] == "RU-MOW-GP012"


def test_a_referral_counts_the_consultation_but_no_avoided_trip(
    app: FastAPI, clinic: Clinic
) -> None:
    visit = book(app, clinic)
    start(clinic.db, visit["id"])
    r = clinic.client(app, "sokolova").post(
        f"/api/visits/{visit['id']}/close", json={**NOTE, "outcome": "referred_in_person"}
    )
    assert r.status_code == 200, r.text
    body = clinic.client(app, "analyst").get("/api/visits/figures").json()
    assert (body["consultations"], body["visits_avoided"]) == (1, 0)


def test_a_follow_up_outcome_books_the_next_virtual_visit(app: FastAPI, clinic: Clinic) -> None:
    visit = book(app, clinic)
    start(clinic.db, visit["id"])
    later = clinic.slots(5)[-1]
    r = clinic.client(app, "sokolova").post(
        f"/api/visits/{visit['id']}/close",
        json={**NOTE, "outcome": "follow_up_virtual", "follow_up_slot_id": later.id},
    )
    assert r.status_code == 200, r.text
    follow_up = clinic.db.get(Visit, r.json()["follow_up_visit_id"])
    assert follow_up is not None and follow_up.status == VisitStatus.booked
    assert follow_up.triage_id is not None


def test_a_visit_needs_a_valid_icd10_diagnosis_to_close(app: FastAPI, clinic: Clinic) -> None:
    visit = book(app, clinic)
    start(clinic.db, visit["id"])
    doctor = clinic.client(app, "sokolova")
    bad = doctor.post(
        f"/api/visits/{visit['id']}/close",
        json={**NOTE, "diagnoses": ["ORVI"], "outcome": "resolved_remotely"},
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"].startswith("diagnoses")
    none = doctor.post(
        f"/api/visits/{visit['id']}/close",
        json={**NOTE, "diagnoses": [], "outcome": "resolved_remotely"},
    )
    assert none.status_code == 422 and none.json()["errors"][0]["field"] == "diagnoses"


def test_a_clinician_of_another_polyclinic_cannot_close_or_read_the_visit(
    app: FastAPI, clinic: Clinic
) -> None:
    visit = book(app, clinic)
    start(clinic.db, visit["id"])
    other = clinic.client(app, "other")
    assert other.get(f"/api/visits/{visit['id']}").status_code == 404
    r = other.post(
        f"/api/visits/{visit['id']}/close", json={**NOTE, "outcome": "resolved_remotely"}
    )
    assert r.status_code == 404


def test_cancelling_frees_the_slot_and_withdraws_the_reminders(
    app: FastAPI, clinic: Clinic
) -> None:
    visit = book(app, clinic)
    pavel = clinic.client(app, "pavel")
    r = pavel.post(f"/api/visits/{visit['id']}/cancel")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "cancelled"
    pending = clinic.db.scalars(
        select(OutboxMessage.dedupe_key).where(
            OutboxMessage.dedupe_key == f"visit:{visit['id']}:join"
        )
    ).all()
    assert pending == []


def test_a_patient_who_prefers_uzbek_books_and_is_told_in_english(
    app: FastAPI, clinic: Clinic, db: Session
) -> None:
    # Puente speaks en/es/ru/vi; the demo's migrant patients prefer uz, tg, lo…
    # Booking used to answer 500 (no Babel locale for 'uz' in the message).
    from puente.people.models import Patient

    patient = db.get(Patient, clinic.patient)
    assert patient is not None
    patient.preferred_language = "uz"
    db.commit()
    visit = book(app, clinic)
    message = db.scalar(
        select(OutboxMessage).where(
            OutboxMessage.dedupe_key == f"appointment:{visit['appointment_id']}:booked"
        )
    )
    assert message is not None and message.language == "en"
