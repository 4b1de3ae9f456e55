"""Rows of `scheduling` as response bodies, loaded in batches (one query per
related table, not per row)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from puente.catalog.models import Specialty
from puente.network.models import Facility
from puente.people.models import Practitioner, PractitionerRole
from puente.scheduling import repository as repo
from puente.scheduling.models import Appointment, Schedule, Slot
from puente.scheduling.schemas import AppointmentRead, RuleRead, ScheduleRead, SlotRead


def facility_codes(session: Session, ids: Collection[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = session.execute(select(Facility.id, Facility.code).where(Facility.id.in_(list(ids))))
    return {id_: code for id_, code in rows}


def specialty_codes(session: Session, ids: Collection[int | None]) -> dict[int, str]:
    wanted = [i for i in ids if i is not None]
    if not wanted:
        return {}
    rows = session.execute(select(Specialty.id, Specialty.code).where(Specialty.id.in_(wanted)))
    return {id_: code for id_, code in rows}


def specialty_ids(session: Session, code: str) -> int | None:
    return session.scalar(select(Specialty.id).where(Specialty.code == code))


def schedule_reads(session: Session, schedules: Sequence[Schedule]) -> list[ScheduleRead]:
    rules = repo.rules_of(session, [s.id for s in schedules])
    facilities = facility_codes(session, {s.facility_id for s in schedules})
    specialties = specialty_codes(session, {s.specialty_id for s in schedules})
    return [
        ScheduleRead(
            id=s.id,
            practitioner_role_id=s.practitioner_role_id,
            facility_id=s.facility_id,
            facility_code=facilities[s.facility_id],
            specialty_id=s.specialty_id,
            specialty_code=specialties.get(s.specialty_id) if s.specialty_id else None,
            service_id=s.service_id,
            mode=s.mode,
            purpose=s.purpose,
            slot_minutes=s.slot_minutes,
            timezone=s.timezone,
            valid_from=s.valid_from,
            valid_until=s.valid_until,
            active=s.active,
            comment=s.comment,
            rules=[RuleRead(weekday=r.weekday, start=r.start, end=r.end) for r in rules[s.id]],
        )
        for s in schedules
    ]


def slot_reads(session: Session, slots: Sequence[Slot]) -> list[SlotRead]:
    schedules = repo.schedules_by_id(session, {s.schedule_id for s in slots})
    facilities = facility_codes(session, {s.facility_id for s in slots})
    specialties = specialty_codes(session, {s.specialty_id for s in schedules.values()})
    out = []
    for slot in slots:
        schedule = schedules[slot.schedule_id]
        out.append(
            SlotRead(
                id=slot.id,
                schedule_id=slot.schedule_id,
                facility_id=slot.facility_id,
                facility_code=facilities[slot.facility_id],
                practitioner_role_id=schedule.practitioner_role_id,
                specialty_code=(
                    specialties.get(schedule.specialty_id) if schedule.specialty_id else None
                ),
                mode=schedule.mode,
                purpose=schedule.purpose,
                starts_at=slot.starts_at,
                ends_at=slot.ends_at,
                local_start=slot.starts_at.astimezone(ZoneInfo(schedule.timezone)),
                timezone=schedule.timezone,
            )
        )
    return out


def appointment_reads(
    session: Session, appointments: Sequence[Appointment]
) -> list[AppointmentRead]:
    slots = repo.slots_by_id(session, {a.slot_id for a in appointments})
    schedules = repo.schedules_by_id(session, {s.schedule_id for s in slots.values()})
    facilities = facility_codes(session, {s.facility_id for s in slots.values()})
    out = []
    for a in appointments:
        slot = slots[a.slot_id]
        schedule = schedules[slot.schedule_id]
        out.append(
            AppointmentRead(
                id=a.id,
                slot_id=a.slot_id,
                patient_id=a.patient_id,
                status=a.status,
                purpose=a.purpose,
                starts_at=slot.starts_at,
                ends_at=slot.ends_at,
                facility_id=slot.facility_id,
                facility_code=facilities[slot.facility_id],
                schedule_id=schedule.id,
                practitioner_role_id=schedule.practitioner_role_id,
                mode=schedule.mode,
                hold_expires_at=a.hold_expires_at,
                reason=a.reason,
                cancelled_at=a.cancelled_at,
                cancel_reason=a.cancel_reason,
                rescheduled_from_id=a.rescheduled_from_id,
                created_at=a.created_at,
            )
        )
    return out


def practitioners_of_schedules(
    session: Session, schedule_ids: Collection[int], language: str
) -> dict[int, str]:
    """schedule id → "Family Given — Specialty", for offering slots to patients."""
    if not schedule_ids:
        return {}
    rows = session.execute(
        select(Schedule.id, Practitioner.family_name, Practitioner.given_names, Specialty)
        .join(PractitionerRole, PractitionerRole.id == Schedule.practitioner_role_id)
        .join(Practitioner, Practitioner.id == PractitionerRole.practitioner_id)
        .outerjoin(
            Specialty,
            Specialty.id == func.coalesce(Schedule.specialty_id, PractitionerRole.specialty_id),
        )
        .where(Schedule.id.in_(sorted(schedule_ids)))
    )
    out: dict[int, str] = {}
    for schedule_id, family, given, specialty in rows:
        name = f"{family} {given}".strip()
        out[schedule_id] = f"{name} — {specialty.name(language)}" if specialty else name
    return out
