"""Every read and write of patient data leaves an audit record, including the
refused ones; the records are searchable as FHIR AuditEvent and cannot be
changed."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from puente.access.models import AuditEvent
from puente.enums import AccessRole, AuditOutcome
from puente.fhir.validation import validate
from tests import factories as f


@pytest.fixture
def clinic(db: Session) -> dict[str, int]:
    """Hospital 46 in Jalisco with Lucía as its patient, and Hospital 21 in
    Nuevo León with Rogelio; Dr Ana works at 46, Dr Beto at 21."""
    f.region(db, "MX-JAL", "Jalisco")
    f.region(db, "MX-NLE", "Nuevo León")
    h46 = f.facility(db, "HGZ-46", region_code="MX-JAL")
    h21 = f.facility(db, "HGZ-21", region_code="MX-NLE")
    lucia = f.patient(db, "Hernández", "Lucía", home_facility_id=h46.id)
    rogelio = f.patient(db, "Garza", "Rogelio", home_facility_id=h21.id)
    f.user(db, "dr.ana", AccessRole.clinician, "HGZ-46")
    f.user(db, "dr.beto", AccessRole.clinician, "HGZ-21")
    f.user(db, "analyst", AccessRole.program_manager)
    f.user(db, "auditor", AccessRole.national_admin)
    return {"lucia": lucia.id, "rogelio": rogelio.id, "h46": h46.id}


def as_user(app: FastAPI, db: Session, username: str) -> TestClient:
    from puente.access import service

    return TestClient(
        app,
        raise_server_exceptions=False,
        headers=f.bearer(db, service.get_user(db, username=username)),
    )


def events(db: Session, **where: object) -> list[AuditEvent]:
    query = select(AuditEvent).order_by(AuditEvent.id)
    for name, value in where.items():
        query = query.where(getattr(AuditEvent, name) == value)
    return list(db.scalars(query))


def test_dr_ana_reading_lucia_is_recorded_with_who_role_action_patient_and_address(
    app: FastAPI, db: Session, clinic: dict[str, int]
) -> None:
    ana = as_user(app, db, "dr.ana")
    response = ana.get(f"/api/patients/{clinic['lucia']}", headers={"x-request-id": "req-ana-1"})
    assert response.status_code == 200
    [event] = events(db, username="dr.ana")
    assert event.role == "clinician"
    assert event.action == "read"
    assert event.outcome == AuditOutcome.success
    assert event.patient_id == clinic["lucia"]
    assert (event.resource_type, event.resource_id) == ("Patient", str(clinic["lucia"]))
    assert event.client_address == "testclient"
    assert event.request_id == "req-ana-1"


def test_a_search_records_one_event_per_patient_it_returned(
    app: FastAPI, db: Session, clinic: dict[str, int]
) -> None:
    auditor = as_user(app, db, "auditor")
    found = auditor.get("/api/patients").json()
    assert {p["id"] for p in found["items"]} == {clinic["lucia"], clinic["rogelio"]}
    recorded = {e.patient_id for e in events(db, username="auditor", action="search")}
    assert recorded == {clinic["lucia"], clinic["rogelio"]}


def test_dr_beto_asking_for_lucia_gets_404_and_the_refusal_is_kept(
    app: FastAPI, db: Session, clinic: dict[str, int]
) -> None:
    beto = as_user(app, db, "dr.beto")
    response = beto.get(f"/api/patients/{clinic['lucia']}")
    assert response.status_code == 404
    [event] = events(db, username="dr.beto")
    assert event.outcome == AuditOutcome.denied
    assert event.patient_id == clinic["lucia"]


def test_an_update_that_fails_leaves_no_success_record(
    app: FastAPI, db: Session, clinic: dict[str, int]
) -> None:
    ana = as_user(app, db, "dr.ana")
    stale = ana.patch(
        f"/api/patients/{clinic['lucia']}", json={"phone": "+52 1"}, headers={"if-match": '"9"'}
    )
    assert stale.status_code == 412
    assert events(db, username="dr.ana", action="update") == []
    fresh = ana.patch(
        f"/api/patients/{clinic['lucia']}", json={"phone": "+52 1"}, headers={"if-match": '"1"'}
    )
    assert fresh.status_code == 200
    assert [e.outcome for e in events(db, username="dr.ana", action="update")] == [
        AuditOutcome.success
    ]


def test_a_program_manager_is_refused_patient_data_and_the_attempt_is_recorded(
    app: FastAPI, db: Session, clinic: dict[str, int]
) -> None:
    analyst = as_user(app, db, "analyst")
    assert analyst.get("/api/patients").status_code == 403
    assert analyst.get(f"/fhir/Patient/{clinic['lucia']}").status_code == 403
    assert [e.outcome for e in events(db, username="analyst")] == [AuditOutcome.denied] * 2


def test_audit_events_are_searchable_as_valid_fhir_by_patient_agent_and_date(
    app: FastAPI, db: Session, clinic: dict[str, int]
) -> None:
    # AuditEvent dates are UTC days; the reads may straddle midnight, and the
    # machine's own date may be another day than UTC's.
    first_day = datetime.now(UTC).date().isoformat()
    as_user(app, db, "dr.ana").get(f"/fhir/Patient/{clinic['lucia']}")
    as_user(app, db, "dr.beto").get(f"/fhir/Patient/{clinic['lucia']}")
    last_day = datetime.now(UTC).date().isoformat()
    auditor = as_user(app, db, "auditor")
    bundle = auditor.get(
        "/fhir/AuditEvent",
        params={
            "patient": f"Patient/{clinic['lucia']}",
            "date": [f"ge{first_day}", f"le{last_day}"],
        },
    ).json()
    resources = [e["resource"] for e in bundle["entry"]]
    assert {r["agent"][0]["who"]["identifier"]["value"] for r in resources} == {
        "dr.ana",
        "dr.beto",
    }
    assert {r["outcome"] for r in resources} == {"0", "4"}
    for resource in resources:
        assert validate(resource, "AuditEvent") == []
    only_ana = auditor.get("/fhir/AuditEvent", params={"agent": "dr.ana"}).json()
    assert only_ana["total"] == 1
    one = auditor.get(f"/fhir/AuditEvent/{only_ana['entry'][0]['resource']['id']}")
    assert one.status_code == 200
    yesterday = auditor.get("/fhir/AuditEvent", params={"date": "lt2000-01-01"}).json()
    assert yesterday["total"] == 0


def test_a_clinician_cannot_read_the_audit_log(
    app: FastAPI, db: Session, clinic: dict[str, int]
) -> None:
    assert as_user(app, db, "dr.ana").get("/fhir/AuditEvent").status_code == 403


def test_no_code_path_may_change_an_audit_record(
    app: FastAPI, db: Session, clinic: dict[str, int]
) -> None:
    as_user(app, db, "dr.ana").get(f"/api/patients/{clinic['lucia']}")
    [event] = events(db, username="dr.ana")
    event.outcome = AuditOutcome.denied
    with pytest.raises(PermissionError, match="append-only"):
        db.flush()


def test_no_code_path_may_delete_an_audit_record(
    app: FastAPI, db: Session, clinic: dict[str, int]
) -> None:
    as_user(app, db, "dr.ana").get(f"/api/patients/{clinic['lucia']}")
    [event] = events(db, username="dr.ana")
    db.delete(event)
    with pytest.raises(PermissionError, match="append-only"):
        db.flush()


@pytest.mark.parametrize(
    "statement", ["UPDATE audit_event SET outcome = 'denied'", "DELETE FROM audit_event"]
)
def test_the_database_itself_refuses_to_change_or_delete_audit_records(
    app: FastAPI, db: Session, clinic: dict[str, int], statement: str
) -> None:
    as_user(app, db, "dr.ana").get(f"/api/patients/{clinic['lucia']}")
    assert len(events(db, username="dr.ana")) == 1
    with pytest.raises(DBAPIError, match="append-only"), db.begin_nested():
        db.execute(text(statement))
    assert [e.outcome for e in events(db, username="dr.ana")] == [AuditOutcome.success]
