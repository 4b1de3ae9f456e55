"""Scheduling: publish schedules, turn them into slots, hold, book, cancel
and reschedule appointments.

Two rules shape this module:

- **No double booking, whatever the concurrency.** The database keeps it: the
  partial unique index ``uq_appointment_live_slot`` allows one live (held or
  booked) appointment per slot. Every insert of a live appointment runs in a
  SAVEPOINT; when the index refuses it, only the savepoint is rolled back and
  the caller gets a ``Conflict`` naming ``slot_id``. No SELECT-then-INSERT
  check is trusted for this.
- **Local time is the schedule's, storage is UTC.** Rules say "Mondays
  09:00–13:00" in the schedule's IANA zone; slots are generated on the wall
  clock of that zone (so a DST change moves UTC, not the clinic's hours) and
  stored as aware UTC instants.

Services never commit; the request (or ``unit_of_work``) does. Hooks in
``on_booked`` / ``on_cancelled`` run inside the same transaction, so a visit
created for a booking commits or rolls back with it.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from puente.access.models import User
from puente.db import utcnow
from puente.enums import AppointmentPurpose, AppointmentStatus, Mode
from puente.errors import Conflict, FieldError, NotFound, Unprocessable
from puente.people.models import Patient, PractitionerRole
from puente.scheduling import repository as repo
from puente.scheduling.models import Appointment, AvailabilityRule, Schedule, Slot

Hook = Callable[[Session, Appointment], None]


@dataclass(frozen=True)
class Commitment:
    """Something a person is already doing at a time: ``kind`` is
    ``appointment`` (a booked or held visit) or what another feature
    registered (``conference``); ``ref`` its id."""

    kind: str
    ref: int
    starts_at: datetime
    ends_at: datetime


# (session, user ids, start, end, now) → the first commitment of each busy
# user. Appointments are checked here; case conferences register theirs.
CommitmentSource = Callable[
    [Session, Collection[int], datetime, datetime, datetime], dict[int, Commitment]
]
commitment_sources: list[CommitmentSource] = []

# Called, in the booking's transaction, after an appointment becomes booked
# (book, reschedule's new appointment) and after one is cancelled (cancel,
# reschedule's old appointment). Visits register here to follow appointments.
on_booked: list[Hook] = []
on_cancelled: list[Hook] = []

DEFAULT_HOLD = timedelta(minutes=5)
MAX_GENERATION_DAYS = 400


# Schedules -------------------------------------------------------------------


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise Unprocessable(
            f"'{name}' is not an IANA time zone.",
            errors=[FieldError("timezone", "not an IANA time zone")],
        ) from None


def _check_rules(rules: Sequence[tuple[int, time, time]], slot_minutes: int) -> None:
    errors = []
    for n, (weekday, start, end) in enumerate(rules):
        if not 0 <= weekday <= 6:
            errors.append(FieldError(f"rules.{n}.weekday", "must be 0 (Monday) to 6 (Sunday)"))
        if end <= start:
            errors.append(FieldError(f"rules.{n}.end", "must be after start"))
        elif _minutes(end) - _minutes(start) < slot_minutes:
            errors.append(FieldError(f"rules.{n}.end", "leaves no room for one slot"))
    if errors:
        raise Unprocessable(f"{errors[0].field}: {errors[0].message}", errors=errors)


def _minutes(t: time) -> int:
    return t.hour * 60 + t.minute


def publish_schedule(
    session: Session,
    *,
    practitioner_role_id: int,
    mode: Mode,
    slot_minutes: int,
    timezone: str,
    valid_from: date,
    valid_until: date | None,
    rules: Sequence[tuple[int, time, time]],
    service_id: int | None = None,
    purpose: AppointmentPurpose = AppointmentPurpose.visit,
    comment: str | None = None,
) -> Schedule:
    """A practitioner role's recurring availability. The facility and the
    specialty come from the role, so a schedule cannot drift from where and
    as what the practitioner actually works."""
    role = session.get(PractitionerRole, practitioner_role_id)
    if role is None:
        raise NotFound(
            f"No practitioner role {practitioner_role_id}.",
            errors=[FieldError("practitioner_role_id", "unknown")],
        )
    if not role.active:
        raise Unprocessable(
            "The practitioner role has ended.",
            errors=[FieldError("practitioner_role_id", "inactive")],
        )
    _zone(timezone)
    if not 5 <= slot_minutes <= 480:
        raise Unprocessable(
            "Slots last 5 to 480 minutes.", errors=[FieldError("slot_minutes", "out of range")]
        )
    if valid_until is not None and valid_until < valid_from:
        raise Unprocessable(
            "The schedule ends before it starts.",
            errors=[FieldError("valid_until", "before valid_from")],
        )
    if not rules:
        raise Unprocessable(
            "A schedule needs at least one availability rule.",
            errors=[FieldError("rules", "empty")],
        )
    _check_rules(rules, slot_minutes)
    schedule = Schedule(
        practitioner_role_id=role.id,
        facility_id=role.facility_id,
        specialty_id=role.specialty_id,
        service_id=service_id,
        mode=mode,
        purpose=purpose,
        slot_minutes=slot_minutes,
        timezone=timezone,
        valid_from=valid_from,
        valid_until=valid_until,
        active=True,
        comment=comment,
    )
    session.add(schedule)
    session.flush()
    session.add_all(
        AvailabilityRule(schedule_id=schedule.id, weekday=w, start=s, end=e) for w, s, e in rules
    )
    session.flush()
    return schedule


def get_schedule(session: Session, schedule_id: int) -> Schedule:
    found = repo.get_schedule(session, schedule_id)
    if found is None:
        raise NotFound(f"No schedule {schedule_id}.", errors=[FieldError("schedule_id", "unknown")])
    return found


# Slots -----------------------------------------------------------------------


def local_slot_starts(
    day: date, start: time, end: time, slot_minutes: int, zone: ZoneInfo
) -> list[tuple[datetime, datetime]]:
    """(start, end) in UTC of each slot of one rule on one local day.

    Slots are laid on the wall clock. A wall time that does not exist (the
    hour skipped when clocks go forward) yields no slot; a wall time that
    happens twice (clocks going back) yields one slot, at its first
    occurrence. A slot lasts ``slot_minutes`` of real time."""
    out = []
    step = timedelta(minutes=slot_minutes)
    wall = datetime.combine(day, start)
    last = datetime.combine(day, end)
    while wall + step <= last:
        local = wall.replace(tzinfo=zone)
        as_utc = local.astimezone(UTC)
        if as_utc.astimezone(zone).replace(tzinfo=None) == wall:  # exists on this day
            out.append((as_utc, as_utc + step))
        wall += step
    return out


def generate_slots(
    session: Session, schedule_id: int, *, until: date, since: date | None = None
) -> int:
    """Materialise the schedule's slots up to and including ``until`` (local
    days), from ``since`` or the schedule's start. Idempotent: slots already
    there are kept as they are (blocked or booked), missing ones are added.
    Returns how many were added."""
    schedule = get_schedule(session, schedule_id)
    zone = _zone(schedule.timezone)
    first = max(schedule.valid_from, since or schedule.valid_from)
    last = min(until, schedule.valid_until) if schedule.valid_until else until
    if last < first:
        return 0
    if (last - first).days > MAX_GENERATION_DAYS:
        raise Unprocessable(
            f"Generate at most {MAX_GENERATION_DAYS} days at a time.",
            errors=[FieldError("until", "too far ahead")],
        )
    rules = repo.rules_of(session, [schedule.id])[schedule.id]
    by_weekday: dict[int, list[AvailabilityRule]] = {}
    for rule in rules:
        by_weekday.setdefault(rule.weekday, []).append(rule)
    window_start = datetime.combine(first, time.min, tzinfo=zone).astimezone(UTC)
    window_end = datetime.combine(last + timedelta(days=1), time.min, tzinfo=zone).astimezone(UTC)
    existing = repo.slot_starts(session, schedule.id, window_start, window_end)
    new: list[Slot] = []
    day = first
    while day <= last:
        for rule in by_weekday.get(day.weekday(), []):
            for starts_at, ends_at in local_slot_starts(
                day, rule.start, rule.end, schedule.slot_minutes, zone
            ):
                if starts_at in existing:
                    continue
                existing.add(starts_at)
                new.append(
                    Slot(
                        schedule_id=schedule.id,
                        facility_id=schedule.facility_id,
                        starts_at=starts_at,
                        ends_at=ends_at,
                        blocked=False,
                    )
                )
        day += timedelta(days=1)
    session.add_all(new)
    session.flush()
    return len(new)


def block_slots(
    session: Session, schedule_id: int, *, start: datetime, end: datetime, blocked: bool = True
) -> int:
    """Block (leave, a meeting) or unblock the schedule's slots starting in
    [start, end). A blocked slot is not offered and cannot be booked;
    appointments already in it stay, for the facility to move."""
    get_schedule(session, schedule_id)
    rows = session.scalars(
        select(Slot).where(
            Slot.schedule_id == schedule_id, Slot.starts_at >= start, Slot.starts_at < end
        )
    ).all()
    for slot in rows:
        slot.blocked = blocked
    session.flush()
    return len(rows)


def free_slots(
    session: Session,
    *,
    facility_ids: Sequence[int] | frozenset[int] | None = None,
    specialty_id: int | None = None,
    mode: Mode | None = None,
    purpose: AppointmentPurpose | None = None,
    start: datetime,
    end: datetime,
    limit: int = 200,
    offset: int = 0,
    now: datetime | None = None,
) -> list[Slot]:
    """Bookable slots starting in [start, end), earliest first: not blocked,
    not started, of an active schedule, with no live appointment."""
    moment = now or utcnow()
    query = repo.free_slot_query(
        now=moment,
        start=max(start, moment),
        end=end,
        facility_ids=facility_ids,
        specialty_id=specialty_id,
        mode=mode,
        purpose=purpose,
    )
    return list(session.scalars(query.limit(limit).offset(offset)))


def role_slots(
    session: Session,
    *,
    practitioner_role_id: int,
    service_id: int | None,
    start: datetime,
    end: datetime,
    now: datetime | None = None,
) -> tuple[list[Slot], datetime | None]:
    """One practitioner role's slots of a service starting in [start, end):
    the free ones, earliest first, and when the last of all of them ends."""
    moment = now or utcnow()
    mine = (Schedule.practitioner_role_id == practitioner_role_id,
            Schedule.service_id == service_id)  # fmt: skip
    free = session.scalars(
        repo.free_slot_query(now=moment, start=max(start, moment), end=end).where(*mine)
    ).all()
    last = session.scalar(
        select(func.max(Slot.ends_at))
        .join(Schedule, Schedule.id == Slot.schedule_id)
        .where(*mine, Slot.starts_at >= start, Slot.starts_at < end)
    )
    return list(free), last


# Appointments ---------------------------------------------------------------


def _slot(session: Session, slot_id: int, now: datetime) -> tuple[Slot, Schedule]:
    slot = session.get(Slot, slot_id)
    if slot is None:
        raise NotFound(f"No slot {slot_id}.", errors=[FieldError("slot_id", "unknown")])
    schedule = session.get(Schedule, slot.schedule_id)
    assert schedule is not None
    if slot.blocked or not schedule.active:
        raise Conflict(
            "That slot is not available (the practitioner is away).",
            errors=[FieldError("slot_id", "not available")],
        )
    if slot.starts_at <= now:
        raise Conflict(
            "That slot has already started.", errors=[FieldError("slot_id", "in the past")]
        )
    return slot, schedule


def _patient(session: Session, patient_id: int) -> None:
    if session.get(Patient, patient_id) is None:
        raise NotFound(f"No patient {patient_id}.", errors=[FieldError("patient_id", "unknown")])


def _taken(slot_id: int) -> Conflict:
    return Conflict(
        f"Slot {slot_id} has just been taken; choose another one.",
        errors=[FieldError("slot_id", "already taken")],
    )


def _insert_live(session: Session, appointment: Appointment) -> bool:
    """Insert ``appointment`` (held or booked) in a SAVEPOINT. False when the
    database refuses it: the slot is taken, or the idempotency key is used."""
    try:
        with session.begin_nested():
            session.add(appointment)
            session.flush()
    except IntegrityError:
        return False
    return True


def hold(
    session: Session,
    *,
    slot_id: int,
    patient_id: int,
    by_user_id: int | None = None,
    ttl: timedelta = DEFAULT_HOLD,
    now: datetime | None = None,
) -> Appointment:
    """Keep a slot for a patient for ``ttl`` while they confirm. The patient's
    own live hold on the slot is extended; an expired hold of anyone is
    released first; a slot held or booked by someone else is a Conflict."""
    moment = now or utcnow()
    slot, schedule = _slot(session, slot_id, moment)
    _patient(session, patient_id)
    repo.release_expired_holds(session, slot.id, moment)
    current = repo.live_appointment(session, slot.id, moment)
    if current is not None:
        if current.patient_id == patient_id and current.status == AppointmentStatus.held:
            current.hold_expires_at = moment + ttl
            session.flush()
            return current
        raise _taken(slot.id)
    appointment = Appointment(
        slot_id=slot.id,
        patient_id=patient_id,
        status=AppointmentStatus.held,
        purpose=schedule.purpose,
        hold_expires_at=moment + ttl,
        booked_by_user_id=by_user_id,
    )
    if not _insert_live(session, appointment):
        raise _taken(slot.id)
    return appointment


def book(
    session: Session,
    *,
    slot_id: int,
    patient_id: int,
    by_user_id: int | None = None,
    reason: str | None = None,
    idempotency_key: str | None = None,
    purpose: AppointmentPurpose | None = None,
    now: datetime | None = None,
) -> Appointment:
    """Book a slot for a patient: confirm the patient's own hold on it, or
    take it if free. ``purpose`` defaults to the schedule's. With an
    ``idempotency_key`` a repeated request returns the first appointment."""
    appointment, _replayed = book_or_replay(
        session,
        slot_id=slot_id,
        patient_id=patient_id,
        by_user_id=by_user_id,
        reason=reason,
        idempotency_key=idempotency_key,
        purpose=purpose,
        now=now,
    )
    return appointment


def book_or_replay(
    session: Session,
    *,
    slot_id: int,
    patient_id: int,
    by_user_id: int | None = None,
    reason: str | None = None,
    idempotency_key: str | None = None,
    purpose: AppointmentPurpose | None = None,
    now: datetime | None = None,
) -> tuple[Appointment, bool]:
    """``book``, also saying whether the answer is a replay: an earlier
    request with the same key booked it (before this one, or in parallel)."""
    moment = now or utcnow()
    if idempotency_key is not None:
        earlier = _replay(session, idempotency_key, slot_id=slot_id, patient_id=patient_id)
        if earlier is not None:
            return earlier, True
    slot, schedule = _slot(session, slot_id, moment)
    _patient(session, patient_id)
    repo.release_expired_holds(session, slot.id, moment)
    current = repo.live_appointment(session, slot.id, moment)
    if current is not None:
        if current.patient_id != patient_id or current.status != AppointmentStatus.held:
            # Taken — perhaps by a twin request with this key that committed
            # between the replay check above and this read.
            return _replay_or_taken(session, idempotency_key, slot.id, patient_id), True
        appointment = current  # the patient's own hold: confirm it
        appointment.status = AppointmentStatus.booked
        appointment.hold_expires_at = None
        appointment.reason = reason
        appointment.purpose = purpose or schedule.purpose
        appointment.idempotency_key = idempotency_key
        appointment.booked_by_user_id = by_user_id or appointment.booked_by_user_id
        if not _flush_or_false(session):
            return _replay_or_taken(session, idempotency_key, slot.id, patient_id), True
    else:
        appointment = Appointment(
            slot_id=slot.id,
            patient_id=patient_id,
            status=AppointmentStatus.booked,
            purpose=purpose or schedule.purpose,
            reason=reason,
            booked_by_user_id=by_user_id,
            idempotency_key=idempotency_key,
        )
        if not _insert_live(session, appointment):
            return _replay_or_taken(session, idempotency_key, slot.id, patient_id), True
    for hook in on_booked:
        hook(session, appointment)
    return appointment, False


def _flush_or_false(session: Session) -> bool:
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        return False
    return True


def _replay(session: Session, key: str, *, slot_id: int, patient_id: int) -> Appointment | None:
    earlier = repo.by_idempotency_key(session, key)
    if earlier is None:
        return None
    if earlier.slot_id != slot_id or earlier.patient_id != patient_id:
        raise Conflict(
            "This Idempotency-Key was already used for another booking.",
            errors=[FieldError("idempotency_key", "used for another request")],
        )
    return earlier


def _replay_or_taken(
    session: Session, key: str | None, slot_id: int, patient_id: int
) -> Appointment:
    """After the database refused an insert: a concurrent twin request with
    the same key won (return its appointment), or the slot was taken."""
    if key is not None:
        earlier = _replay(session, key, slot_id=slot_id, patient_id=patient_id)
        if earlier is not None:
            return earlier
    raise _taken(slot_id)


def get_appointment(session: Session, appointment_id: int) -> Appointment:
    found = session.get(Appointment, appointment_id)
    if found is None:
        raise NotFound(
            f"No appointment {appointment_id}.",
            errors=[FieldError("appointment_id", "unknown")],
        )
    return found


def _end(appointment: Appointment, reason: str | None, now: datetime) -> None:
    if appointment.status not in repo.LIVE_STATUSES:
        raise Conflict(
            f"The appointment is {appointment.status.value}; only a held or booked one can change.",
            errors=[FieldError("status", appointment.status.value)],
        )
    appointment.status = AppointmentStatus.cancelled
    appointment.cancelled_at = now
    appointment.cancel_reason = reason
    appointment.hold_expires_at = None


def cancel(session: Session, *, appointment_id: int, reason: str | None = None) -> Appointment:
    """Cancel a held or booked appointment; its slot is free again at once."""
    appointment = get_appointment(session, appointment_id)
    was_booked = appointment.status == AppointmentStatus.booked
    _end(appointment, reason, utcnow())
    session.flush()
    if was_booked:
        for hook in on_cancelled:
            hook(session, appointment)
    return appointment


def reschedule(
    session: Session,
    *,
    appointment_id: int,
    new_slot_id: int,
    by_user_id: int | None = None,
    now: datetime | None = None,
) -> Appointment:
    """Move a booked appointment to another slot: the new one is booked
    first (so a taken slot leaves the old booking untouched), then the old
    one is cancelled and its slot freed. Hooks see a cancellation and a
    booking."""
    moment = now or utcnow()
    old = get_appointment(session, appointment_id)
    if old.status != AppointmentStatus.booked or old.patient_id is None:
        raise Conflict(
            f"The appointment is {old.status.value}; only a booked one can be rescheduled.",
            errors=[FieldError("status", old.status.value)],
        )
    if new_slot_id == old.slot_id:
        raise Conflict(
            "The appointment is already in that slot.",
            errors=[FieldError("slot_id", "same slot")],
        )
    slot, _schedule = _slot(session, new_slot_id, moment)
    repo.release_expired_holds(session, slot.id, moment)
    current = repo.live_appointment(session, slot.id, moment)
    if current is not None and not (
        current.patient_id == old.patient_id and current.status == AppointmentStatus.held
    ):
        raise _taken(slot.id)
    if current is not None:  # the patient's own hold on the new slot
        session.delete(current)
        session.flush()
    new = Appointment(
        slot_id=slot.id,
        patient_id=old.patient_id,
        status=AppointmentStatus.booked,
        purpose=old.purpose,
        reason=old.reason,
        booked_by_user_id=by_user_id or old.booked_by_user_id,
        rescheduled_from_id=old.id,
    )
    if not _insert_live(session, new):
        raise _taken(slot.id)
    _end(old, "rescheduled", moment)
    session.flush()
    for hook in on_cancelled:
        hook(session, old)
    for hook in on_booked:
        hook(session, new)
    return new


def close(session: Session, *, appointment_id: int, came: bool) -> Appointment:
    """A booked appointment took place (fulfilled) or the patient did not
    come (no-show)."""
    appointment = get_appointment(session, appointment_id)
    if appointment.status != AppointmentStatus.booked:
        raise Conflict(
            f"The appointment is {appointment.status.value}; only a booked one can be closed.",
            errors=[FieldError("status", appointment.status.value)],
        )
    appointment.status = AppointmentStatus.fulfilled if came else AppointmentStatus.no_show
    session.flush()
    return appointment


# People's time -----------------------------------------------------------------


def appointment_commitments(
    session: Session, user_ids: Collection[int], start: datetime, end: datetime, now: datetime
) -> dict[int, Commitment]:
    """Users whose practitioner has a live appointment (a booked or held
    visit) in a slot that overlaps [start, end)."""
    if not user_ids:
        return {}
    rows = session.execute(
        select(User.id, Appointment.id, Slot.starts_at, Slot.ends_at)
        .join(PractitionerRole, PractitionerRole.practitioner_id == User.practitioner_id)
        .join(Schedule, Schedule.practitioner_role_id == PractitionerRole.id)
        .join(Slot, Slot.schedule_id == Schedule.id)
        .join(Appointment, Appointment.slot_id == Slot.id)
        .where(
            User.id.in_(sorted(user_ids)),
            repo.live_at(now),
            Slot.starts_at < end,
            Slot.ends_at > start,
        )
        .order_by(Slot.starts_at, Appointment.id)
    )
    out: dict[int, Commitment] = {}
    for user_id, appointment_id, starts_at, ends_at in rows:
        out.setdefault(
            int(user_id), Commitment("appointment", int(appointment_id), starts_at, ends_at)
        )
    return out


def commitments(
    session: Session,
    user_ids: Collection[int],
    start: datetime,
    end: datetime,
    *,
    now: datetime | None = None,
) -> dict[int, Commitment]:
    """THE check against double booking of people: for each of ``user_ids``
    already busy at some moment of [start, end), the first thing they are
    busy with (an appointment, then what other features registered)."""
    moment = now or utcnow()
    out = appointment_commitments(session, user_ids, start, end, moment)
    for source in commitment_sources:
        rest = [u for u in user_ids if u not in out]
        if not rest:
            break
        out.update(source(session, rest, start, end, moment))
    return out
