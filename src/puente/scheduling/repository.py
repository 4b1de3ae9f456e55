"""Queries of `scheduling`: schedules, free slots and appointments.

The one SQL notion that matters everywhere is *live*: an appointment that
holds its slot (booked, or held with its hold not yet expired). A slot is
free when it is not blocked, its schedule is active and no live appointment
sits in it.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, func, or_, select, update
from sqlalchemy.orm import Session

from puente.enums import AppointmentPurpose, AppointmentStatus, Mode
from puente.people.models import Patient
from puente.scheduling.models import Appointment, AvailabilityRule, Schedule, Slot

LIVE_STATUSES = (AppointmentStatus.held, AppointmentStatus.booked)


def live_at(now: datetime) -> ColumnElement[bool]:
    """Appointments holding their slot at ``now``."""
    return or_(
        Appointment.status == AppointmentStatus.booked,
        and_(Appointment.status == AppointmentStatus.held, Appointment.hold_expires_at > now),
    )


def get_schedule(session: Session, schedule_id: int) -> Schedule | None:
    return session.get(Schedule, schedule_id)


def rules_of(session: Session, schedule_ids: Collection[int]) -> dict[int, list[AvailabilityRule]]:
    out: dict[int, list[AvailabilityRule]] = {i: [] for i in schedule_ids}
    if not schedule_ids:
        return out
    rows = session.scalars(
        select(AvailabilityRule)
        .where(AvailabilityRule.schedule_id.in_(list(schedule_ids)))
        .order_by(AvailabilityRule.weekday, AvailabilityRule.start, AvailabilityRule.id)
    )
    for rule in rows:
        out[rule.schedule_id].append(rule)
    return out


def schedule_query(
    *,
    facility_ids: Collection[int] | None = None,
    practitioner_role_id: int | None = None,
    specialty_id: int | None = None,
    mode: Mode | None = None,
    active: bool | None = None,
) -> Select[Schedule]:
    query = select(Schedule)
    if facility_ids is not None:
        query = query.where(Schedule.facility_id.in_(list(facility_ids)))
    if practitioner_role_id is not None:
        query = query.where(Schedule.practitioner_role_id == practitioner_role_id)
    if specialty_id is not None:
        query = query.where(Schedule.specialty_id == specialty_id)
    if mode is not None:
        query = query.where(Schedule.mode == mode)
    if active is not None:
        query = query.where(Schedule.active == active)
    return query.order_by(Schedule.id)


def slot_starts(
    session: Session, schedule_id: int, start: datetime, end: datetime
) -> set[datetime]:
    return set(
        session.scalars(
            select(Slot.starts_at).where(
                Slot.schedule_id == schedule_id, Slot.starts_at >= start, Slot.starts_at < end
            )
        )
    )


def free_slot_query(
    *,
    now: datetime,
    start: datetime,
    end: datetime,
    facility_ids: Collection[int] | None = None,
    specialty_id: int | None = None,
    mode: Mode | None = None,
    purpose: AppointmentPurpose | None = None,
    schedule_id: int | None = None,
) -> Select[Slot]:
    taken = exists().where(Appointment.slot_id == Slot.id, live_at(now))
    query = (
        select(Slot)
        .join(Schedule, Schedule.id == Slot.schedule_id)
        .where(
            Schedule.active.is_(True),
            Slot.blocked.is_(False),
            Slot.starts_at >= start,
            Slot.starts_at < end,
            ~taken,
        )
    )
    if facility_ids is not None:
        query = query.where(Slot.facility_id.in_(list(facility_ids)))
    if specialty_id is not None:
        query = query.where(Schedule.specialty_id == specialty_id)
    if mode is not None:
        query = query.where(Schedule.mode == mode)
    if purpose is not None:
        query = query.where(Schedule.purpose == purpose)
    if schedule_id is not None:
        query = query.where(Slot.schedule_id == schedule_id)
    return query.order_by(Slot.starts_at, Slot.id)


def count(session: Session, query: Select[Any]) -> int:
    return session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0


def release_expired_holds(session: Session, slot_id: int, now: datetime) -> int:
    """Expired holds on ``slot_id`` stop being live, so the partial unique
    index lets someone else take the slot. Returns how many were released."""
    result = session.execute(
        update(Appointment)
        .where(
            Appointment.slot_id == slot_id,
            Appointment.status == AppointmentStatus.held,
            Appointment.hold_expires_at <= now,
        )
        .values(
            status=AppointmentStatus.cancelled,
            cancelled_at=now,
            cancel_reason="hold expired",
            updated_at=now,
        )
        .execution_options(synchronize_session="fetch")
    )
    return int(getattr(result, "rowcount", 0) or 0)


def live_appointment(session: Session, slot_id: int, now: datetime) -> Appointment | None:
    return session.scalar(
        select(Appointment).where(Appointment.slot_id == slot_id, live_at(now)).limit(1)
    )


def by_idempotency_key(session: Session, key: str) -> Appointment | None:
    return session.scalar(select(Appointment).where(Appointment.idempotency_key == key))


def appointment_query(
    *,
    patient_ids: Collection[int] | None = None,
    visible: ColumnElement[bool] | None = None,
    facility_ids: Collection[int] | None = None,
    statuses: Sequence[AppointmentStatus] | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    slot_id: int | None = None,
) -> Select[Appointment]:
    query = select(Appointment).join(Slot, Slot.id == Appointment.slot_id)
    if patient_ids is not None:
        query = query.where(Appointment.patient_id.in_(list(patient_ids)))
    if visible is not None:
        query = query.where(
            Appointment.patient_id.in_(select(Patient.id).where(visible).scalar_subquery())
        )
    if facility_ids is not None:
        query = query.where(Slot.facility_id.in_(list(facility_ids)))
    if statuses:
        query = query.where(Appointment.status.in_(list(statuses)))
    if start is not None:
        query = query.where(Slot.starts_at >= start)
    if end is not None:
        query = query.where(Slot.starts_at < end)
    if slot_id is not None:
        query = query.where(Appointment.slot_id == slot_id)
    return query.order_by(Slot.starts_at, Appointment.id)


def slots_by_id(session: Session, ids: Collection[int]) -> dict[int, Slot]:
    if not ids:
        return {}
    return {s.id: s for s in session.scalars(select(Slot).where(Slot.id.in_(list(ids))))}


def schedules_by_id(session: Session, ids: Collection[int]) -> dict[int, Schedule]:
    if not ids:
        return {}
    rows = session.scalars(select(Schedule).where(Schedule.id.in_(list(ids))))
    return {s.id: s for s in rows}


def live_slot_ids(session: Session, slot_ids: Collection[int], now: datetime) -> dict[int, str]:
    """slot id → status of its live appointment (held or booked)."""
    if not slot_ids:
        return {}
    rows = session.execute(
        select(Appointment.slot_id, Appointment.status).where(
            Appointment.slot_id.in_(list(slot_ids)), live_at(now)
        )
    )
    return {slot_id: str(status) for slot_id, status in rows}
