"""JSON routes of `scheduling`: schedules, free slots, holds and appointments.

Who may do what:

- anyone signed in reads schedules and free slots (``schedule_read``);
- publishing a schedule or generating/blocking its slots needs
  ``schedule_write`` at the schedule's facility (facility scope);
- booking needs ``appointment_book``; a patient books for themself only, staff
  (call centre, clinicians, hub coordinators) for the patients they may see.
  Every booking, cancellation and rescheduling is audited as patient data.
- listing appointments shows a patient their own, staff those of the patients
  they may see (``patient_read`` scope).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response, status
from sqlalchemy.orm import Session

from puente.access import service as access_service
from puente.access.gate import requires
from puente.access.patients import PatientAccess
from puente.access.policy import Permission
from puente.access.principal import Principal
from puente.catalog.service import service_ids_by_code, specialty_ids_by_code
from puente.db import utcnow
from puente.deps import DB, PagingDep
from puente.enums import AppointmentPurpose, AppointmentStatus, Mode
from puente.errors import FieldError, Forbidden, NotFound, Unprocessable
from puente.network.models import Facility
from puente.people.models import PractitionerRole
from puente.scheduling import reads, service
from puente.scheduling import repository as repo
from puente.scheduling.models import Appointment, Schedule
from puente.scheduling.schemas import (
    AppointmentCreate,
    AppointmentRead,
    BlockedSlots,
    BlockSlots,
    CancelBody,
    GeneratedSlots,
    HoldCreate,
    RescheduleBody,
    ScheduleCreate,
    ScheduleRead,
    SlotRead,
)
from puente.schemas import Code, Id, LongCode, Page

router = APIRouter(tags=["scheduling"])

Reader = Annotated[Principal, requires(Permission.schedule_read)]
Writer = Annotated[Principal, requires(Permission.schedule_write)]
Booker = Annotated[Principal, requires(Permission.appointment_book)]

DEFAULT_WINDOW = timedelta(days=14)


# Helpers ---------------------------------------------------------------------


def _check_facility(db: DB, user: Principal, facility_id: int, field: str) -> None:
    scope = access_service.facility_scope(db, user, Permission.schedule_write)
    if not scope.covers(facility_id):
        raise Forbidden(
            "You may only manage schedules at the facilities where you hold a role.",
            errors=[FieldError(field, "outside your facilities")],
        )


def _facility_id(db: DB, code: str | None) -> int | None:
    if code is None:
        return None
    found = db.query(Facility.id).filter(Facility.code == code).scalar()
    if found is None:
        raise NotFound(f"No facility '{code}'.", errors=[FieldError("facility_code", "unknown")])
    return int(found)


def _specialty_id(db: DB, code: str | None) -> int | None:
    if code is None:
        return None
    found = specialty_ids_by_code(db, [code]).get(code)
    if found is None:
        raise NotFound(f"No specialty '{code}'.", errors=[FieldError("specialty_code", "unknown")])
    return found


def _patient_for(
    request: Request, db: DB, user: Principal, patient_id: int | None, action: str
) -> tuple[int, PatientAccess]:
    """The patient a booking is for: a patient books for themself; staff for
    a patient they may see (otherwise 404 and a denied audit record)."""
    access = PatientAccess(request, db, user, Permission.appointment_book)
    if patient_id is None:
        if user.patient_id is None:
            raise Unprocessable(
                "Say which patient the appointment is for.",
                errors=[FieldError("patient_id", "required")],
            )
        patient_id = user.patient_id
    access.check(patient_id, action=action)
    return patient_id, access


def _audit(access: PatientAccess, action: str, appointment: Appointment) -> None:
    access_service.audit(
        access.session,
        access.ctx,
        action=action,
        resource_type="Appointment",
        resource_ids=[(str(appointment.id), appointment.patient_id)],
    )


def _appointment_for_change(
    request: Request, db: DB, user: Principal, appointment_id: int, action: str
) -> tuple[Appointment, PatientAccess]:
    appointment = service.get_appointment(db, appointment_id)
    access = PatientAccess(request, db, user, Permission.appointment_book)
    if appointment.patient_id is None:
        raise NotFound(
            f"No appointment {appointment_id}.", errors=[FieldError("appointment_id", "unknown")]
        )
    access.check(appointment.patient_id, action=action, field="appointment_id")
    return appointment, access


def _one(db: DB, appointment: Appointment) -> AppointmentRead:
    return reads.appointment_reads(db, [appointment])[0]


# Schedules -------------------------------------------------------------------


@router.post("/schedules", status_code=status.HTTP_201_CREATED)
def publish_schedule(
    db: DB, user: Writer, body: ScheduleCreate, response: Response
) -> ScheduleRead:
    schedule = publish(db, user, body)
    response.headers["Location"] = f"/api/schedules/{schedule.id}"
    return reads.schedule_reads(db, [schedule])[0]


def publish(db: Session, user: Principal, body: ScheduleCreate) -> Schedule:
    """Publish (and generate the slots of) a schedule at a facility in ``user``'s
    scope: the one path for the JSON route and the schedules page."""
    role = db.get(PractitionerRole, body.practitioner_role_id)
    if role is None:
        raise NotFound(
            f"No practitioner role {body.practitioner_role_id}.",
            errors=[FieldError("practitioner_role_id", "unknown")],
        )
    _check_facility(db, user, role.facility_id, "practitioner_role_id")
    service_id = None
    if body.service_code is not None:
        service_id = service_ids_by_code(db, [body.service_code]).get(body.service_code)
        if service_id is None:
            raise Unprocessable(
                f"No service '{body.service_code}'.",
                errors=[FieldError("service_code", "unknown")],
            )
    schedule = service.publish_schedule(
        db,
        practitioner_role_id=role.id,
        mode=body.mode,
        slot_minutes=body.slot_minutes,
        timezone=body.timezone,
        valid_from=body.valid_from,
        valid_until=body.valid_until,
        rules=[(r.weekday, r.start, r.end) for r in body.rules],
        service_id=service_id,
        purpose=body.purpose,
        comment=body.comment,
    )
    if body.generate_until is not None:
        service.generate_slots(db, schedule.id, until=body.generate_until)
    return schedule


@router.get("/schedules")
def list_schedules(
    db: DB,
    user: Reader,
    paging: PagingDep,
    facility_code: Code | None = None,
    practitioner_role_id: Id | None = None,
    specialty_code: LongCode | None = None,
    mode: Mode | None = None,
    active: bool | None = None,
) -> Page[ScheduleRead]:
    facility_id = _facility_id(db, facility_code)
    query = repo.schedule_query(
        facility_ids=[facility_id] if facility_id is not None else None,
        practitioner_role_id=practitioner_role_id,
        specialty_id=_specialty_id(db, specialty_code),
        mode=mode,
        active=active,
    )
    total = repo.count(db, query)
    rows = list(db.scalars(query.limit(paging.limit).offset(paging.offset)))
    return Page[ScheduleRead](
        items=reads.schedule_reads(db, rows), total=total, limit=paging.limit, offset=paging.offset
    )


@router.get("/schedules/{schedule_id}")
def get_schedule(db: DB, user: Reader, schedule_id: Id) -> ScheduleRead:
    return reads.schedule_reads(db, [service.get_schedule(db, schedule_id)])[0]


@router.post("/schedules/{schedule_id}/slots:generate")
def generate_slots(
    db: DB, user: Writer, schedule_id: Id, until: Annotated[date, Query()]
) -> GeneratedSlots:
    schedule = service.get_schedule(db, schedule_id)
    _check_facility(db, user, schedule.facility_id, "schedule_id")
    created = service.generate_slots(db, schedule.id, until=until)
    return GeneratedSlots(schedule_id=schedule.id, created=created, until=until)


@router.post("/schedules/{schedule_id}/slots:block")
def block_slots(db: DB, user: Writer, schedule_id: Id, body: BlockSlots) -> BlockedSlots:
    """Leave or a meeting: the slots in [start, end) are no longer offered."""
    schedule = service.get_schedule(db, schedule_id)
    _check_facility(db, user, schedule.facility_id, "schedule_id")
    if body.start.tzinfo is None or body.end.tzinfo is None:
        raise Unprocessable(
            "Give start and end with a time zone offset.",
            errors=[FieldError("start", "needs a time zone offset")],
        )
    changed = service.block_slots(
        db, schedule.id, start=body.start, end=body.end, blocked=body.blocked
    )
    return BlockedSlots(schedule_id=schedule.id, changed=changed)


# Slots -----------------------------------------------------------------------


def _aware(value: datetime | None, field: str) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise Unprocessable(
            f"'{field}' needs a time zone offset, such as 2022-09-05T09:00:00+03:00.",
            errors=[FieldError(field, "needs a time zone offset")],
        )
    return value


@router.get("/slots")
def list_free_slots(
    db: DB,
    user: Reader,
    paging: PagingDep,
    facility_code: Code | None = None,
    specialty_code: LongCode | None = None,
    mode: Mode | None = None,
    purpose: AppointmentPurpose | None = None,
    from_: Annotated[datetime | None, Query(alias="from")] = None,
    to: datetime | None = None,
) -> Page[SlotRead]:
    """Free slots, earliest first; by default those of the next 14 days."""
    now = utcnow()
    start = max(_aware(from_, "from") or now, now)
    end = _aware(to, "to") or start + DEFAULT_WINDOW
    facility_id = _facility_id(db, facility_code)
    query = repo.free_slot_query(
        now=now,
        start=start,
        end=end,
        facility_ids=[facility_id] if facility_id is not None else None,
        specialty_id=_specialty_id(db, specialty_code),
        mode=mode,
        purpose=purpose,
    )
    total = repo.count(db, query)
    rows = list(db.scalars(query.limit(paging.limit).offset(paging.offset)))
    return Page[SlotRead](
        items=reads.slot_reads(db, rows), total=total, limit=paging.limit, offset=paging.offset
    )


# Appointments ---------------------------------------------------------------


@router.post("/appointments/holds", status_code=status.HTTP_201_CREATED)
def hold_slot(db: DB, request: Request, user: Booker, body: HoldCreate) -> AppointmentRead:
    """Keep a slot for a few minutes while the patient confirms."""
    patient_id, access = _patient_for(request, db, user, body.patient_id, "hold")
    appointment = service.hold(
        db, slot_id=body.slot_id, patient_id=patient_id, by_user_id=user.user_id
    )
    _audit(access, "hold", appointment)
    return _one(db, appointment)


@router.post("/appointments", status_code=status.HTTP_201_CREATED)
def book_appointment(
    db: DB,
    request: Request,
    user: Booker,
    body: AppointmentCreate,
    response: Response,
    idempotency_key: Annotated[str | None, Header(min_length=1, max_length=100)] = None,
) -> AppointmentRead:
    """Book a slot (confirming the patient's hold on it, if any). A repeated
    request with the same ``Idempotency-Key`` returns the first booking (200)."""
    patient_id, access = _patient_for(request, db, user, body.patient_id, "create")
    # Keys are the caller's own: two users never collide on one.
    key = f"u{user.user_id}:{idempotency_key}" if idempotency_key else None
    appointment, replayed = service.book_or_replay(
        db,
        slot_id=body.slot_id,
        patient_id=patient_id,
        by_user_id=user.user_id,
        reason=body.reason,
        idempotency_key=key,
        purpose=body.purpose,
    )
    if replayed:
        response.status_code = status.HTTP_200_OK
    else:
        _audit(access, "create", appointment)
    response.headers["Location"] = f"/api/appointments/{appointment.id}"
    return _one(db, appointment)


@router.post("/appointments/{appointment_id}/cancel")
def cancel_appointment(
    db: DB, request: Request, user: Booker, appointment_id: Id, body: CancelBody | None = None
) -> AppointmentRead:
    appointment, access = _appointment_for_change(request, db, user, appointment_id, "cancel")
    service.cancel(db, appointment_id=appointment.id, reason=body.reason if body else None)
    _audit(access, "cancel", appointment)
    return _one(db, appointment)


@router.post("/appointments/{appointment_id}/reschedule")
def reschedule_appointment(
    db: DB, request: Request, user: Booker, appointment_id: Id, body: RescheduleBody
) -> AppointmentRead:
    """Move a booking to another slot; answers with the new appointment."""
    old, access = _appointment_for_change(request, db, user, appointment_id, "reschedule")
    new = service.reschedule(
        db, appointment_id=old.id, new_slot_id=body.slot_id, by_user_id=user.user_id
    )
    _audit(access, "reschedule", old)
    _audit(access, "create", new)
    return _one(db, new)


@router.get("/appointments")
def list_appointments(
    db: DB,
    request: Request,
    user: Reader,
    paging: PagingDep,
    patient_id: Id | None = None,
    facility_code: Code | None = None,
    status_: Annotated[AppointmentStatus | None, Query(alias="status")] = None,
    from_: Annotated[datetime | None, Query(alias="from")] = None,
    to: datetime | None = None,
) -> Page[AppointmentRead]:
    """A patient's own appointments, or those of the patients a staff
    member may see; each listed patient is audited."""
    access = PatientAccess(request, db, user, Permission.patient_read)
    facility_id = _facility_id(db, facility_code)
    query = repo.appointment_query(
        patient_ids=[patient_id] if patient_id is not None else None,
        visible=access.where(),
        facility_ids=[facility_id] if facility_id is not None else None,
        statuses=[status_] if status_ else None,
        start=_aware(from_, "from"),
        end=_aware(to, "to"),
    )
    total = repo.count(db, query)
    rows = list(db.scalars(query.limit(paging.limit).offset(paging.offset)))
    access_service.audit(
        db,
        access.ctx,
        action="search",
        resource_type="Appointment",
        resource_ids=[(str(a.id), a.patient_id) for a in rows] or [(None, None)],
    )
    return Page[AppointmentRead](
        items=reads.appointment_reads(db, rows),
        total=total,
        limit=paging.limit,
        offset=paging.offset,
    )


@router.get("/appointments/{appointment_id}")
def get_appointment(db: DB, request: Request, user: Reader, appointment_id: Id) -> AppointmentRead:
    appointment = service.get_appointment(db, appointment_id)
    access = PatientAccess(request, db, user, Permission.patient_read)
    if appointment.patient_id is not None:
        access.check(appointment.patient_id, action="read", field="appointment_id")
    _audit(access, "read", appointment)
    return _one(db, appointment)
