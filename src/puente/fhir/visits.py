"""FHIR R4 Encounter (class VR, virtual) for virtual visits: read and search
by ``patient``, ``date`` and ``status``.

Visits are patient data: reads and searches are limited by ``PatientAccess``
and audited. Mapping:

- status: booked → planned, queued → triaged, lobby → arrived,
  in_call → in-progress, closed → finished, cancelled → cancelled;
- class: v3-ActCode ``VR`` (virtual);
- period: when the call started and ended (a booked visit: its slot);
- reasonCode: the stated reason, and the ICD-10 diagnoses of the note;
- hospitalization.dischargeDisposition: the visit's outcome (Puente codes).

``date`` matches the period's start day (UTC).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from puente.access.patients import PatientAccess
from puente.enums import VisitStatus
from puente.errors import FieldError
from puente.fhir import search as s
from puente.fhir.mapping import instant, reference
from puente.fhir.outcome import FhirError
from puente.scheduling.models import Appointment, Slot
from puente.visits import repository as repo
from puente.visits.models import Visit

TYPES = frozenset({"Encounter"})
SEARCH_PARAMS: dict[str, dict[str, str]] = {
    "Encounter": {"patient": "reference", "date": "date", "status": "token"}
}
CS_ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
CS_ICD10 = "http://hl7.org/fhir/sid/icd-10"
CS_VISIT_OUTCOME = "urn:puente:code-system:visit-outcome"
STATUS = {
    VisitStatus.booked: "planned",
    VisitStatus.queued: "triaged",
    VisitStatus.lobby: "arrived",
    VisitStatus.in_call: "in-progress",
    VisitStatus.closed: "finished",
    VisitStatus.cancelled: "cancelled",
}


def to_fhir_encounter(visit: Visit, *, starts_at: datetime | None) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Encounter",
        "id": str(visit.id),
        "meta": {"lastUpdated": instant(visit.updated_at)},
        "status": STATUS[visit.status],
        "class": {"system": CS_ACT_CODE, "code": "VR", "display": "virtual"},
        "subject": reference("Patient", visit.patient_id),
        "serviceProvider": reference("Organization", visit.facility_id),
    }
    if visit.practitioner_role_id is not None:
        resource["participant"] = [
            {"individual": reference("PractitionerRole", visit.practitioner_role_id)}
        ]
    if visit.appointment_id is not None:
        resource["appointment"] = [reference("Appointment", visit.appointment_id)]
    start = visit.started_at or starts_at
    if start is not None:
        period = {"start": instant(start)}
        if visit.ended_at is not None:
            period["end"] = instant(visit.ended_at)
        resource["period"] = period
    reasons: list[dict[str, Any]] = []
    if visit.reason:
        reasons.append({"text": visit.reason})
    reasons += [{"coding": [{"system": CS_ICD10, "code": code}]} for code in visit.diagnoses or []]
    if reasons:
        resource["reasonCode"] = reasons
    if visit.outcome is not None:
        resource["hospitalization"] = {
            "dischargeDisposition": {
                "coding": [{"system": CS_VISIT_OUTCOME, "code": visit.outcome.value}]
            }
        }
    return resource


def _not_found(id_: int) -> FhirError:
    return FhirError(
        404, f"Encounter/{id_} is not known.", errors=[FieldError("Encounter.id", "unknown")]
    )


def read(
    session: Session, *, resource_type: str, key: int, access: PatientAccess | None
) -> dict[str, Any]:
    visit = repo.get_visit(session, key)
    if visit is None:
        raise _not_found(key)
    if access is not None:
        if not access.visible(visit.patient_id):
            access.check(visit.patient_id, action="read", field="Encounter.id")
        access.record("read", [visit.patient_id], resource_type="Encounter")
    return to_fhir_encounter(visit, starts_at=repo.slot_start(session, visit.appointment_id))


def _start_expression() -> ColumnElement[Any]:
    slot_start = (
        select(Slot.starts_at)
        .join(Appointment, Appointment.slot_id == Slot.id)
        .where(Appointment.id == Visit.appointment_id)
        .scalar_subquery()
    )
    return func.coalesce(Visit.started_at, slot_start, Visit.queued_at)


def _date_conditions(ops: Sequence[tuple[str, date]]) -> list[ColumnElement[bool]]:
    start = _start_expression()
    out: list[ColumnElement[bool]] = []
    for op, day in ops:
        low = datetime.combine(day, time.min, UTC)
        high = low + timedelta(days=1)
        if op == "eq":
            out += [start >= low, start < high]
        elif op == "ne":
            out.append((start < low) | (start >= high))
        elif op in ("lt",):
            out.append(start < low)
        elif op == "le":
            out.append(start < high)
        elif op == "gt":
            out.append(start >= high)
        elif op == "ge":
            out.append(start >= low)
    return out


def search(
    session: Session,
    *,
    resource_type: str,
    params: s.Params,
    page: s.Paging,
    access: PatientAccess | None = None,
) -> tuple[list[dict[str, Any]], int]:
    statuses = None
    status_token = s.token(params, "status")
    if status_token is not None:
        by_code = {code: st for st, code in STATUS.items()}
        code = status_token[1]
        known = {"planned", "arrived", "triaged", "in-progress", "onleave", "finished"}
        if code not in by_code and code not in known | {"cancelled", "entered-in-error", "unknown"}:
            raise s.bad("status", f"'{code}' is not an Encounter status")
        statuses = {by_code[code]} if code in by_code else set()
    query = repo.encounter_query(
        visible=access.where() if access is not None else None,
        patient_id=s.reference_id(params, "patient", "Patient"),
        statuses=statuses,
        date_conditions=_date_conditions(s.dates(params, "date")),
    )
    rows, total = repo.page(session, query, limit=page.count, offset=page.offset)
    if access is not None:
        access.record("search", sorted({v.patient_id for v in rows}), resource_type="Encounter")
    starts = repo.slot_starts(session, [v.appointment_id for v in rows if v.appointment_id])
    resources = [
        to_fhir_encounter(v, starts_at=starts.get(v.appointment_id) if v.appointment_id else None)
        for v in rows
    ]
    return resources, total
