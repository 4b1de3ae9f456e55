"""Planned items become appointments through the scheduling core.

Each campaign unit gets a campaign team (one practitioner, coordinator at the
unit, made at its first booking and reused after) and, per service line,
schedules over the campaign's days with as many slots each day as the plan
needs (one slot per appointment, from 07:00 in the unit's time zone). Every
item then books the next free slot of its unit, line and day through
:func:`puente.scheduling.service.book`, which keeps the no-double-booking
guarantee, under an idempotency key naming the campaign and the entry. Days
that have already begun get no appointment (the scheduling core refuses
slots in the past): their items are tracked on the plan alone.
Cancellations, no-shows and deliveries are passed on to the appointment.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from puente.db import utcnow
from puente.enums import AppointmentPurpose, AppointmentStatus, Mode, PractitionerRoleCode
from puente.people import service as people
from puente.people.schemas import PractitionerCreate, PractitionerRoleCreate
from puente.recovery import repository as repo
from puente.recovery.models import Campaign, PlanItem
from puente.scheduling import service as scheduling
from puente.scheduling.models import Slot

SLOT_MINUTES = 10
DAY_START = time(7, 0)
PER_SCHEDULE = (17 * 60) // SLOT_MINUTES  # slots one schedule holds in a day


def _teams(session: Session, campaign: Campaign) -> dict[int, int]:
    """The campaign team's role at each unit that already has a booking, so
    later bookings (standby fills, re-plans) reuse it instead of adding a
    stand-in practitioner each time."""
    out: dict[int, int] = {}
    for unit_id, appointment_id in repo.first_appointments(session, campaign.id).items():
        appointment = scheduling.get_appointment(session, appointment_id)
        slot = session.get(Slot, appointment.slot_id)
        if slot is not None:
            out[unit_id] = scheduling.get_schedule(session, slot.schedule_id).practitioner_role_id
    return out


def _team_role(session: Session, campaign: Campaign, facility_code: str) -> int:
    practitioner = people.create_practitioner(
        session,
        data=PractitionerCreate(
            family_name=f"Equipo {campaign.code}"[:200], given_names=facility_code[:200]
        ),
    )
    role = people.add_role(
        session,
        practitioner_id=practitioner.id,
        data=PractitionerRoleCreate(
            facility_code=facility_code,
            role=PractitionerRoleCode.coordinator,
            start_date=campaign.starts_on,
            end_date=campaign.ends_on,
        ),
    )
    return role.id


def book(
    session: Session, campaign: Campaign, items: list[PlanItem], by_user_id: int | None
) -> int:
    """Book appointments for ``items`` (their days not begun); returns how many."""
    now = utcnow()
    units = {f.id: f for f in repo.unit_facilities(session, campaign.id)}
    groups: dict[tuple[int, int], dict[date, list[PlanItem]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for item in items:
        if item.facility_id is None or item.day is None or item.appointment_id is not None:
            continue
        zone = ZoneInfo(units[item.facility_id].timezone)
        if datetime.combine(item.day, DAY_START, tzinfo=zone) <= now:
            continue
        groups[(item.facility_id, item.service_id)][item.day].append(item)
    if not groups:
        return 0
    entries = repo.entries_by_id(
        session, {i.entry_id for g in groups.values() for d in g.values() for i in d}
    )
    roles = _teams(session, campaign)
    booked = 0
    for (unit_id, service_id), by_day in groups.items():
        unit = units[unit_id]
        if unit_id not in roles:
            roles[unit_id] = _team_role(session, campaign, unit.code)
        for day, day_items in sorted(by_day.items()):
            slots = _slots(session, roles[unit_id], unit.timezone, service_id, day, len(day_items))
            for item, slot in zip(day_items, slots, strict=False):
                appointment = scheduling.book(
                    session,
                    slot_id=slot.id,
                    patient_id=entries[item.entry_id].patient_id,
                    by_user_id=by_user_id,
                    purpose=AppointmentPurpose.campaign,
                    reason=f"campaign {campaign.code}"[:500],
                    # One booking per entry and plan run: a re-plan books anew.
                    idempotency_key=(
                        f"campaign:{campaign.code}:run:{item.run_id}:entry:{item.entry_id}"
                    )[:128],
                )
                item.appointment_id = appointment.id
                booked += 1
    session.flush()
    return booked


def _slots(
    session: Session, role_id: int, timezone: str, service_id: int, day: date, needed: int
) -> list[Slot]:
    """Slots for ``needed`` appointments on ``day``: the team's free ones of
    this line first (a place a cancellation freed), then new schedules after
    the last slot the team already has that day, so that no two of the
    line's appointments share a time."""
    zone = ZoneInfo(timezone)
    start = datetime.combine(day, time.min, tzinfo=zone).astimezone(UTC)
    end = start + timedelta(days=1)
    found, last = scheduling.role_slots(
        session, practitioner_role_id=role_id, service_id=service_id, start=start, end=end
    )
    begin = DAY_START
    if last is not None:
        begin = max(DAY_START, last.astimezone(zone).time())
    while len(found) < needed:
        # Slots end by 23:50 at the latest, so a schedule never crosses midnight.
        room = (24 * 60 - SLOT_MINUTES - (begin.hour * 60 + begin.minute)) // SLOT_MINUTES
        if room <= 0:  # the day is full of this line's slots: start again at 07:00
            begin, room = DAY_START, PER_SCHEDULE
        count = min(PER_SCHEDULE, room, needed - len(found))
        opening = datetime.combine(day, begin)
        finish = opening + timedelta(minutes=count * SLOT_MINUTES)
        schedule = scheduling.publish_schedule(
            session,
            practitioner_role_id=role_id,
            mode=Mode.in_person,
            slot_minutes=SLOT_MINUTES,
            timezone=timezone,
            valid_from=day,
            valid_until=day,
            rules=[(day.weekday(), begin, finish.time())],
            service_id=service_id,
            purpose=AppointmentPurpose.campaign,
            comment="campaign",
        )
        scheduling.generate_slots(session, schedule.id, until=day, since=day)
        found += list(
            session.scalars(
                select(Slot)
                .where(
                    Slot.schedule_id == schedule.id, Slot.starts_at >= start, Slot.starts_at < end
                )
                .order_by(Slot.starts_at)
            )
        )
        begin = finish.time()
    return found[:needed]


def cancel(session: Session, item: PlanItem) -> None:
    if item.appointment_id is not None:
        appointment = scheduling.get_appointment(session, item.appointment_id)
        if appointment.status in (AppointmentStatus.held, AppointmentStatus.booked):
            scheduling.cancel(
                session, appointment_id=appointment.id, reason="campaign cancellation"
            )


def attended(session: Session, item: PlanItem, *, came: bool) -> None:
    """The patient came (fulfilled) or did not (no-show)."""
    if item.appointment_id is not None:
        appointment = scheduling.get_appointment(session, item.appointment_id)
        if appointment.status == AppointmentStatus.booked:
            scheduling.close(session, appointment_id=appointment.id, came=came)
