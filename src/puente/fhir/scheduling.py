"""FHIR R4 Schedule, Slot and Appointment: mapping, read, search, and
booking through ``POST /fhir/Appointment``.

Bookings go through `puente.scheduling.service`, the same as the JSON API,
so the database's one-live-appointment-per-slot rule holds here too.
Appointments are patient data: reads and searches are limited to the
patients the caller may see (``PatientAccess``) and audited.

Slot status is derived, not stored: blocked → ``busy-unavailable``, a live
booking → ``busy``, a live hold → ``busy-tentative``, otherwise ``free``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, time, timedelta
from typing import Any

from fastapi import Request
from sqlalchemy import ColumnElement, Select, and_, exists, false, func, not_, or_, select
from sqlalchemy.orm import Session

from puente.access import service as access_service
from puente.access.patients import PatientAccess
from puente.access.policy import Permission
from puente.access.principal import Principal
from puente.db import utcnow
from puente.enums import AppointmentStatus
from puente.errors import Conflict, FieldError, NotFound
from puente.fhir import search as s
from puente.fhir.mapping import CS_SPECIALTY, instant
from puente.fhir.outcome import FhirError
from puente.fhir.validation import validate
from puente.people.models import Patient, PractitionerRole
from puente.scheduling import reads, service
from puente.scheduling import repository as repo
from puente.scheduling.models import Appointment, Schedule, Slot

Resource = dict[str, Any]

CS_MODE = "urn:puente:code-system:visit-mode"
CS_PURPOSE = "urn:puente:code-system:appointment-purpose"

SEARCH_PARAMS: dict[str, dict[str, str]] = {
    "Schedule": {"actor": "reference", "specialty": "token", "date": "date", "active": "token"},
    "Slot": {"schedule": "reference", "start": "date", "status": "token"},
    "Appointment": {
        "patient": "reference",
        "date": "date",
        "status": "token",
        "slot": "reference",
    },
}
TYPES = frozenset(SEARCH_PARAMS)

APPOINTMENT_STATUS = {
    AppointmentStatus.held: "pending",
    AppointmentStatus.booked: "booked",
    AppointmentStatus.cancelled: "cancelled",
    AppointmentStatus.fulfilled: "fulfilled",
    AppointmentStatus.no_show: "noshow",
}
APPOINTMENT_CODES = {
    "proposed", "pending", "booked", "arrived", "fulfilled", "cancelled",
    "noshow", "entered-in-error", "checked-in", "waitlist",
}  # fmt: skip
SLOT_CODES = ("free", "busy", "busy-unavailable", "busy-tentative", "entered-in-error")


# Mapping ---------------------------------------------------------------------


def _concept(system: str, code: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code}]}


def to_fhir_schedules(session: Session, schedules: Sequence[Schedule]) -> list[Resource]:
    specialties = reads.specialty_codes(session, {x.specialty_id for x in schedules})
    out = []
    for row in schedules:
        resource: Resource = {
            "resourceType": "Schedule",
            "id": str(row.id),
            "active": row.active,
            "serviceCategory": [_concept(CS_PURPOSE, row.purpose.value)],
            "serviceType": [_concept(CS_MODE, row.mode.value)],
            "actor": [
                {"reference": f"PractitionerRole/{row.practitioner_role_id}"},
                {"reference": f"Location/{row.facility_id}"},
            ],
            "planningHorizon": {"start": row.valid_from.isoformat()},
        }
        if row.specialty_id is not None and row.specialty_id in specialties:
            resource["specialty"] = [_concept(CS_SPECIALTY, specialties[row.specialty_id])]
        if row.valid_until is not None:
            resource["planningHorizon"]["end"] = row.valid_until.isoformat()
        comment = f"{row.slot_minutes}-minute slots, {row.timezone}"
        resource["comment"] = f"{row.comment} ({comment})" if row.comment else comment
        out.append(resource)
    return out


def to_fhir_slots(session: Session, slots: Sequence[Slot]) -> list[Resource]:
    live = repo.live_slot_ids(session, [x.id for x in slots], utcnow())
    schedules = repo.schedules_by_id(session, {x.schedule_id for x in slots})
    out = []
    for row in slots:
        if row.blocked:
            status = "busy-unavailable"
        else:
            status = {"booked": "busy", "held": "busy-tentative"}.get(live.get(row.id, ""), "free")
        schedule = schedules[row.schedule_id]
        out.append(
            {
                "resourceType": "Slot",
                "id": str(row.id),
                "serviceType": [_concept(CS_MODE, schedule.mode.value)],
                "schedule": {"reference": f"Schedule/{row.schedule_id}"},
                "status": status,
                "start": instant(row.starts_at),
                "end": instant(row.ends_at),
            }
        )
    return out


def to_fhir_appointments(session: Session, rows: Sequence[Appointment]) -> list[Resource]:
    slots = repo.slots_by_id(session, {a.slot_id for a in rows})
    schedules = repo.schedules_by_id(session, {x.schedule_id for x in slots.values()})
    out = []
    for row in rows:
        slot = slots[row.slot_id]
        schedule = schedules[slot.schedule_id]
        participants: list[dict[str, Any]] = []
        if row.patient_id is not None:
            participants.append(
                {"actor": {"reference": f"Patient/{row.patient_id}"}, "status": "accepted"}
            )
        participants += [
            {
                "actor": {"reference": f"PractitionerRole/{schedule.practitioner_role_id}"},
                "status": "accepted",
            },
            {"actor": {"reference": f"Location/{slot.facility_id}"}, "status": "accepted"},
        ]
        resource: Resource = {
            "resourceType": "Appointment",
            "id": str(row.id),
            "meta": {"lastUpdated": instant(row.updated_at)},
            "status": APPOINTMENT_STATUS[row.status],
            "serviceCategory": [_concept(CS_PURPOSE, row.purpose.value)],
            "serviceType": [_concept(CS_MODE, schedule.mode.value)],
            "start": instant(slot.starts_at),
            "end": instant(slot.ends_at),
            "minutesDuration": int((slot.ends_at - slot.starts_at).total_seconds() // 60),
            "slot": [{"reference": f"Slot/{row.slot_id}"}],
            "created": instant(row.created_at),
            "participant": participants,
        }
        if row.reason:
            resource["description"] = row.reason
        if row.cancel_reason:
            resource["cancelationReason"] = {"text": row.cancel_reason}
        if row.hold_expires_at is not None and row.status == AppointmentStatus.held:
            resource["comment"] = f"Held until {instant(row.hold_expires_at)}"
        out.append(resource)
    return out


# Read ------------------------------------------------------------------------


def _not_found(resource_type: str, key: int) -> FhirError:
    return FhirError(
        404,
        f"{resource_type}/{key} is not known.",
        errors=[FieldError(f"{resource_type}.id", "unknown")],
    )


def read(
    session: Session, *, resource_type: str, key: int, access: PatientAccess | None
) -> Resource:
    if resource_type == "Schedule":
        schedule = session.get(Schedule, key)
        if schedule is None:
            raise _not_found(resource_type, key)
        return to_fhir_schedules(session, [schedule])[0]
    if resource_type == "Slot":
        slot = session.get(Slot, key)
        if slot is None:
            raise _not_found(resource_type, key)
        return to_fhir_slots(session, [slot])[0]
    appointment = session.get(Appointment, key)
    if appointment is None:
        raise _not_found(resource_type, key)
    if access is not None and appointment.patient_id is not None:
        try:
            access.check(appointment.patient_id, action="read", field="Appointment.id")
        except NotFound:
            raise _not_found(resource_type, key) from None
        _audit(access, "read", [appointment])
    return to_fhir_appointments(session, [appointment])[0]


def _audit(access: PatientAccess, action: str, rows: Sequence[Appointment]) -> None:
    access_service.audit(
        access.session,
        access.ctx,
        action=action,
        resource_type="Appointment",
        resource_ids=[(str(a.id), a.patient_id) for a in rows] or [(None, None)],
    )


# Search ----------------------------------------------------------------------


def _day_bounds(prefix: str, day: Any) -> tuple[datetime | None, datetime | None]:
    """[low, high) of instants matching ``prefix`` + day (UTC days)."""
    start = datetime.combine(day, time.min, tzinfo=UTC)
    end = start + timedelta(days=1)
    if prefix == "ne":
        raise s.bad("date", "the 'ne' prefix is not supported here")
    return (
        {"eq": start, "ge": start, "gt": end}.get(prefix),
        {"eq": end, "le": end, "lt": start}.get(prefix),
    )


def _instant_filter(column: Any, params: s.Params, name: str) -> list[ColumnElement[bool]]:
    out: list[ColumnElement[bool]] = []
    for prefix, day in s.dates(params, name):
        low, high = _day_bounds(prefix, day)
        if low is not None:
            out.append(column >= low)
        if high is not None:
            out.append(column < high)
    return out


def _actor(params: s.Params) -> tuple[str, int] | None:
    value = s.single(params, "actor")
    if value is None:
        return None
    head, _, tail = value.rstrip("/").rpartition("/")
    kind = head.rsplit("/", 1)[-1]
    if kind not in ("PractitionerRole", "Location", "Practitioner") or not tail.isdigit():
        raise s.bad("actor", "must reference a PractitionerRole, Practitioner or Location")
    return kind, int(tail)


def _page(session: Session, query: Select[Any], page: s.Paging) -> tuple[list[Any], int]:
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    if page.count == 0:
        return [], total
    return list(session.scalars(query.limit(page.count).offset(page.offset))), total


def _search_schedules(session: Session, p: s.Params, page: s.Paging) -> tuple[list[Resource], int]:
    query = select(Schedule)
    actor = _actor(p)
    if actor is not None:
        kind, key = actor
        if kind == "PractitionerRole":
            query = query.where(Schedule.practitioner_role_id == key)
        elif kind == "Location":
            query = query.where(Schedule.facility_id == key)
        else:
            roles = select(PractitionerRole.id).where(PractitionerRole.practitioner_id == key)
            query = query.where(Schedule.practitioner_role_id.in_(roles.scalar_subquery()))
    specialty = s.token(p, "specialty")
    if specialty is not None:
        system, code = specialty
        if system not in (None, CS_SPECIALTY):
            return [], 0
        found = reads.specialty_ids(session, code)
        query = query.where(Schedule.specialty_id == found if found else false())
    active = s.single(p, "active")
    if active is not None:
        if active not in ("true", "false"):
            raise s.bad("active", "must be true or false")
        query = query.where(Schedule.active.is_(active == "true"))
    for prefix, day in s.dates(p, "date"):
        # The planning horizon (whole local days) overlaps the asked period.
        if prefix == "ne":
            raise s.bad("date", "the 'ne' prefix is not supported here")
        if prefix in ("eq", "ge", "gt"):
            after = day + timedelta(days=1) if prefix == "gt" else day
            query = query.where(or_(Schedule.valid_until.is_(None), Schedule.valid_until >= after))
        if prefix in ("eq", "le", "lt"):
            before = day - timedelta(days=1) if prefix == "lt" else day
            query = query.where(Schedule.valid_from <= before)
    rows, total = _page(session, query.order_by(Schedule.id), page)
    return to_fhir_schedules(session, rows), total


def _slot_status(code: str, now: datetime) -> ColumnElement[bool]:
    booked = exists().where(
        Appointment.slot_id == Slot.id, Appointment.status == AppointmentStatus.booked
    )
    held = exists().where(
        Appointment.slot_id == Slot.id,
        Appointment.status == AppointmentStatus.held,
        Appointment.hold_expires_at > now,
    )
    if code == "busy-unavailable":
        return Slot.blocked.is_(True)
    if code == "busy":
        return and_(Slot.blocked.is_(False), booked)
    if code == "busy-tentative":
        return and_(Slot.blocked.is_(False), held)
    if code == "free":
        return and_(Slot.blocked.is_(False), not_(booked), not_(held))
    return false()  # entered-in-error: Puente never marks a slot so


def _search_slots(session: Session, p: s.Params, page: s.Paging) -> tuple[list[Resource], int]:
    query = select(Slot)
    schedule_id = s.reference_id(p, "schedule", "Schedule")
    if schedule_id is not None:
        query = query.where(Slot.schedule_id == schedule_id)
    query = query.where(*_instant_filter(Slot.starts_at, p, "start"))
    status = s.token(p, "status")
    if status is not None:
        if status[1] not in SLOT_CODES:
            raise s.bad("status", f"'{status[1]}' is not a Slot status")
        query = query.where(_slot_status(status[1], utcnow()))
    rows, total = _page(session, query.order_by(Slot.starts_at, Slot.id), page)
    return to_fhir_slots(session, rows), total


def _search_appointments(
    session: Session, p: s.Params, page: s.Paging, access: PatientAccess | None
) -> tuple[list[Resource], int]:
    query = select(Appointment).join(Slot, Slot.id == Appointment.slot_id)
    if access is not None:
        query = query.where(
            Appointment.patient_id.in_(select(Patient.id).where(access.where()).scalar_subquery())
        )
    patient = s.reference_id(p, "patient", "Patient")
    if patient is not None:
        query = query.where(Appointment.patient_id == patient)
    slot_id = s.reference_id(p, "slot", "Slot")
    if slot_id is not None:
        query = query.where(Appointment.slot_id == slot_id)
    query = query.where(*_instant_filter(Slot.starts_at, p, "date"))
    status = s.token(p, "status")
    if status is not None:
        if status[1] not in APPOINTMENT_CODES:
            raise s.bad("status", f"'{status[1]}' is not an Appointment status")
        ours = [k for k, v in APPOINTMENT_STATUS.items() if v == status[1]]
        query = query.where(Appointment.status.in_(ours) if ours else false())
    rows, total = _page(session, query.order_by(Slot.starts_at, Appointment.id), page)
    if access is not None:
        _audit(access, "search", rows)
    return to_fhir_appointments(session, rows), total


def search(
    session: Session,
    *,
    resource_type: str,
    params: s.Params,
    page: s.Paging,
    access: PatientAccess | None = None,
) -> tuple[list[Resource], int]:
    """One page of Schedules, Slots or Appointments (Appointments limited to
    the patients ``access`` may see; no ``access``: no limit)."""
    if resource_type == "Schedule":
        return _search_schedules(session, params, page)
    if resource_type == "Slot":
        return _search_slots(session, params, page)
    return _search_appointments(session, params, page, access)


# Booking ---------------------------------------------------------------------


def _reference_id(value: Any, kind: str) -> int | None:
    if not isinstance(value, dict):
        return None
    ref = value.get("reference")
    if not isinstance(ref, str):
        return None
    head, _, tail = ref.rstrip("/").rpartition("/")
    if head.rsplit("/", 1)[-1] != kind or not tail.isdigit() or len(tail) > 18:
        return None
    return int(tail)


def _unprocessable(expression: str, message: str) -> FhirError:
    return FhirError(
        422, f"{expression}: {message}", errors=[FieldError(expression, message)], code="processing"
    )


def create_appointment(
    session: Session,
    *,
    request: Request,
    principal: Principal,
    resource: Any,
    idempotency_key: str | None = None,
) -> tuple[Resource, bool]:
    """Book (status ``booked``) or hold (``pending``) the one Slot the
    Appointment references, for its Patient participant (a patient user may
    leave it out: it is them). Returns the Appointment and whether it is new
    (an ``Idempotency-Key`` repeat returns the first one)."""
    issues = validate(resource, "Appointment")
    if issues:
        raise FhirError(
            400,
            f"Not a valid R4 Appointment: {issues[0].expression}: {issues[0].message}",
            errors=[FieldError(i.expression, i.message) for i in issues],
            code="structure",
        )
    status = resource.get("status")
    if status not in ("booked", "pending", "proposed"):
        raise _unprocessable("Appointment.status", "must be booked, pending or proposed")
    slots = resource.get("slot") or []
    slot_id = _reference_id(slots[0], "Slot") if len(slots) == 1 else None
    if slot_id is None:
        raise _unprocessable("Appointment.slot", "must reference exactly one Slot")
    patients = [
        pid
        for part in resource.get("participant") or []
        if (pid := _reference_id(part.get("actor"), "Patient")) is not None
    ]
    if len(patients) > 1:
        raise _unprocessable("Appointment.participant", "names more than one Patient")
    patient_id = patients[0] if patients else principal.patient_id
    if patient_id is None:
        raise _unprocessable("Appointment.participant", "must include the Patient")
    access = PatientAccess(request, session, principal, Permission.appointment_book)
    try:
        access.check(patient_id, action="create", field="Appointment.participant")
    except NotFound:
        raise FhirError(
            404,
            f"Patient/{patient_id} is not known.",
            errors=[FieldError("Appointment.participant", "unknown patient")],
        ) from None
    key = f"u{principal.user_id}:{idempotency_key}" if idempotency_key else None
    replayed = key is not None and repo.by_idempotency_key(session, key) is not None
    reason = resource.get("description")
    try:
        if status == "booked":
            appointment = service.book(
                session,
                slot_id=slot_id,
                patient_id=patient_id,
                by_user_id=principal.user_id,
                reason=reason[:500] if isinstance(reason, str) else None,
                idempotency_key=key,
            )
        else:
            appointment = service.hold(
                session, slot_id=slot_id, patient_id=patient_id, by_user_id=principal.user_id
            )
    except (Conflict, NotFound) as exc:
        fields = {e.field for e in exc.errors}
        expression = "Appointment.slot" if "slot_id" in fields else "Appointment"
        raise FhirError(
            exc.status,
            exc.detail,
            errors=[FieldError(expression, e.message) for e in exc.errors],
            code="conflict" if isinstance(exc, Conflict) else None,
        ) from None
    if not replayed:
        _audit(access, "create", [appointment])
    return to_fhir_appointments(session, [appointment])[0], not replayed
