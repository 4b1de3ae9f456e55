"""The scheduling core: slots from schedules in the schedule's time zone,
holds that expire, bookings the database keeps single, cancel, reschedule."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from puente.db import utcnow
from puente.enums import AppointmentStatus, Mode
from puente.errors import Conflict, NotFound, Unprocessable
from puente.scheduling import service
from puente.scheduling.models import Appointment, Slot
from tests.scheduling.world import MOSCOW, World, moscow_world, next_monday, virtual_schedule


@pytest.fixture
def world(db: Session) -> World:
    return moscow_world(db)


def slots_of(db: Session, schedule_id: int) -> list[Slot]:
    return list(
        db.scalars(select(Slot).where(Slot.schedule_id == schedule_id).order_by(Slot.starts_at))
    )


def free(db: Session, world: World) -> list[Slot]:
    start = datetime.combine(next_monday(), time.min, tzinfo=UTC)
    return service.free_slots(
        db, facility_ids=[world.polyclinic.id], start=start, end=start + timedelta(days=30)
    )


def test_slots_follow_the_rules_in_moscow_time_and_are_stored_in_utc(
    db: Session, world: World
) -> None:
    schedule = virtual_schedule(db, world, days=2)
    slots = slots_of(db, schedule.id)
    assert len(slots) == 2 * 8  # 09:00-13:00 in 30-minute slots, two days
    first = slots[0]
    assert first.starts_at == datetime.combine(next_monday(), time(6, 0), tzinfo=UTC)
    assert first.starts_at.astimezone(ZoneInfo(MOSCOW)).time() == time(9, 0)
    assert first.ends_at - first.starts_at == timedelta(minutes=30)
    assert first.facility_id == world.polyclinic.id


def test_generating_twice_adds_nothing_and_extending_adds_only_the_new_days(
    db: Session, world: World
) -> None:
    schedule = virtual_schedule(db, world, days=14)
    monday = next_monday()
    assert service.generate_slots(db, schedule.id, until=monday + timedelta(days=13)) == 0
    schedule.valid_until = monday + timedelta(days=20)
    assert service.generate_slots(db, schedule.id, until=monday + timedelta(days=20)) == 7 * 8
    assert len(slots_of(db, schedule.id)) == 21 * 8


def test_a_dst_change_keeps_the_clinic_hours_on_the_wall_clock(db: Session, world: World) -> None:
    """Berlin moves its clocks forward on 29 March 2026 (02:00 → 03:00) and
    back on 25 October 2026 (03:00 → 02:00)."""
    berlin = ZoneInfo("Europe/Berlin")
    schedule = service.publish_schedule(
        db,
        practitioner_role_id=world.role.id,
        mode=Mode.virtual,
        slot_minutes=60,
        timezone="Europe/Berlin",
        valid_from=date(2026, 3, 28),
        valid_until=date(2026, 10, 26),
        rules=[(5, time(9), time(10)), (6, time(1), time(4)), (0, time(9), time(10))],
    )
    service.generate_slots(db, schedule.id, until=date(2026, 10, 26))
    starts = {s.starts_at for s in slots_of(db, schedule.id)}
    # 09:00 local on the Saturday before (UTC+1) and on the Monday after (UTC+2).
    assert datetime(2026, 3, 28, 8, tzinfo=UTC) in starts
    assert datetime(2026, 3, 30, 7, tzinfo=UTC) in starts
    # The night of the change: 01:00 and 03:00 exist, 02:00 does not.
    night = sorted(s for s in starts if s.date() == date(2026, 3, 29))
    assert [s.astimezone(berlin).strftime("%H:%M") for s in night] == ["01:00", "03:00"]
    # Clocks going back: 02:00 happens twice and gets one slot.
    autumn = sorted(s for s in starts if s.astimezone(berlin).date() == date(2026, 10, 25))
    assert [s.astimezone(berlin).strftime("%H:%M") for s in autumn] == ["01:00", "02:00", "03:00"]
    assert all(s.astimezone(berlin).strftime("%H:%M") == "09:00"
               for s in starts if s.astimezone(berlin).weekday() in (0, 5))  # fmt: skip


def test_a_schedule_with_a_bad_time_zone_or_rule_is_refused_naming_the_field(
    db: Session, world: World
) -> None:
    kw = dict(
        practitioner_role_id=world.role.id, mode=Mode.virtual, slot_minutes=30,
        valid_from=date(2026, 1, 1), valid_until=None,
    )  # fmt: skip
    with pytest.raises(Unprocessable) as bad_zone:
        service.publish_schedule(db, timezone="Mars/Olympus", rules=[(0, time(9), time(10))], **kw)  # type: ignore[arg-type]
    assert bad_zone.value.errors[0].field == "timezone"
    with pytest.raises(Unprocessable) as backwards:
        service.publish_schedule(db, timezone=MOSCOW, rules=[(0, time(10), time(9))], **kw)  # type: ignore[arg-type]
    assert backwards.value.errors[0].field == "rules.0.end"


def test_ivan_books_a_slot_and_it_is_no_longer_offered(db: Session, world: World) -> None:
    virtual_schedule(db, world, days=1)
    offered = free(db, world)
    assert len(offered) == 8
    booked = service.book(db, slot_id=offered[0].id, patient_id=world.ivan.id, reason="fever")
    assert booked.status == AppointmentStatus.booked
    assert booked.reason == "fever"
    assert [s.id for s in free(db, world)] == [s.id for s in offered[1:]]


def test_a_taken_slot_is_a_conflict_naming_slot_id(db: Session, world: World) -> None:
    virtual_schedule(db, world, days=1)
    slot = free(db, world)[0]
    service.book(db, slot_id=slot.id, patient_id=world.ivan.id)
    with pytest.raises(Conflict) as taken:
        service.book(db, slot_id=slot.id, patient_id=world.olga.id)
    assert [e.field for e in taken.value.errors] == ["slot_id"]
    live = db.scalar(
        select(func.count()).where(
            Appointment.slot_id == slot.id, Appointment.status == AppointmentStatus.booked
        )
    )
    assert live == 1


def test_the_database_itself_refuses_a_second_live_appointment_in_a_slot(
    db: Session, world: World
) -> None:
    """Even code that skips the service cannot double-book."""
    from sqlalchemy.exc import IntegrityError

    virtual_schedule(db, world, days=1)
    slot = free(db, world)[0]
    db.add(Appointment(slot_id=slot.id, patient_id=world.ivan.id, status=AppointmentStatus.booked))
    db.flush()
    with pytest.raises(IntegrityError), db.begin_nested():
        db.add(
            Appointment(slot_id=slot.id, patient_id=world.olga.id, status=AppointmentStatus.held)
        )
        db.flush()


def test_a_hold_keeps_the_slot_until_it_expires_then_someone_else_takes_it_over(
    db: Session, world: World
) -> None:
    virtual_schedule(db, world, days=1)
    slot = free(db, world)[0]
    t0 = utcnow()
    held = service.hold(db, slot_id=slot.id, patient_id=world.ivan.id, now=t0)
    assert held.status == AppointmentStatus.held
    assert held.hold_expires_at == t0 + timedelta(minutes=5)
    assert slot.id not in {s.id for s in free(db, world)}
    with pytest.raises(Conflict):
        service.book(db, slot_id=slot.id, patient_id=world.olga.id, now=t0 + timedelta(minutes=4))
    olga = service.book(
        db, slot_id=slot.id, patient_id=world.olga.id, now=t0 + timedelta(minutes=6)
    )
    assert olga.status == AppointmentStatus.booked
    db.refresh(held)
    assert held.status == AppointmentStatus.cancelled
    assert held.cancel_reason == "hold expired"


def test_an_expired_hold_no_longer_hides_the_slot(db: Session, world: World) -> None:
    virtual_schedule(db, world, days=1)
    slot = free(db, world)[0]
    service.hold(db, slot_id=slot.id, patient_id=world.ivan.id, ttl=timedelta(seconds=-1))
    assert slot.id in {s.id for s in free(db, world)}


def test_ivan_confirms_his_own_hold(db: Session, world: World) -> None:
    virtual_schedule(db, world, days=1)
    slot = free(db, world)[0]
    held = service.hold(db, slot_id=slot.id, patient_id=world.ivan.id)
    booked = service.book(db, slot_id=slot.id, patient_id=world.ivan.id, reason="cough")
    assert booked.id == held.id
    assert booked.status == AppointmentStatus.booked
    assert booked.hold_expires_at is None


def test_the_same_idempotency_key_twice_gives_one_appointment(db: Session, world: World) -> None:
    virtual_schedule(db, world, days=1)
    first_slot, second_slot = free(db, world)[:2]
    one = service.book(db, slot_id=first_slot.id, patient_id=world.ivan.id, idempotency_key="k-1")
    two = service.book(db, slot_id=first_slot.id, patient_id=world.ivan.id, idempotency_key="k-1")
    assert one.id == two.id
    count = db.scalar(select(func.count()).where(Appointment.patient_id == world.ivan.id))
    assert count == 1
    with pytest.raises(Conflict) as reused:
        service.book(db, slot_id=second_slot.id, patient_id=world.ivan.id, idempotency_key="k-1")
    assert [e.field for e in reused.value.errors] == ["idempotency_key"]


def test_a_twin_booking_that_committed_after_the_key_was_checked_is_replayed_not_refused(
    db: Session, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ivan's phone resends; the first request commits between the second's
    look for its key and its look at the slot. The second must answer with
    the first's appointment, not 409 "taken"."""
    virtual_schedule(db, world, days=1)
    slot = free(db, world)[0]
    first = service.book(db, slot_id=slot.id, patient_id=world.ivan.id, idempotency_key="k-2")
    looks = iter([None])  # the first look for the key finds nothing yet
    replay = service._replay

    def late(session: Session, key: str, **kw: int) -> Appointment | None:
        return next(looks, replay(session, key, **kw))

    monkeypatch.setattr(service, "_replay", late)
    again, replayed = service.book_or_replay(
        db, slot_id=slot.id, patient_id=world.ivan.id, idempotency_key="k-2"
    )
    assert replayed and again.id == first.id


def test_cancelling_frees_the_slot_for_rebooking(db: Session, world: World) -> None:
    virtual_schedule(db, world, days=1)
    slot = free(db, world)[0]
    ivan = service.book(db, slot_id=slot.id, patient_id=world.ivan.id)
    service.cancel(db, appointment_id=ivan.id, reason="feeling better")
    assert ivan.status == AppointmentStatus.cancelled
    assert ivan.cancel_reason == "feeling better"
    assert slot.id in {s.id for s in free(db, world)}
    olga = service.book(db, slot_id=slot.id, patient_id=world.olga.id)
    assert olga.status == AppointmentStatus.booked
    with pytest.raises(Conflict) as twice:
        service.cancel(db, appointment_id=ivan.id)
    assert [e.field for e in twice.value.errors] == ["status"]


def test_rescheduling_moves_the_booking_and_frees_the_old_slot(db: Session, world: World) -> None:
    virtual_schedule(db, world, days=1)
    early, late = free(db, world)[:2]
    old = service.book(db, slot_id=early.id, patient_id=world.ivan.id, reason="fever")
    new = service.reschedule(db, appointment_id=old.id, new_slot_id=late.id)
    assert new.slot_id == late.id and new.status == AppointmentStatus.booked
    assert new.rescheduled_from_id == old.id and new.reason == "fever"
    assert old.status == AppointmentStatus.cancelled and old.cancel_reason == "rescheduled"
    assert early.id in {s.id for s in free(db, world)}
    assert late.id not in {s.id for s in free(db, world)}


def test_rescheduling_into_a_taken_slot_keeps_the_old_booking(db: Session, world: World) -> None:
    virtual_schedule(db, world, days=1)
    early, late = free(db, world)[:2]
    old = service.book(db, slot_id=early.id, patient_id=world.ivan.id)
    service.book(db, slot_id=late.id, patient_id=world.olga.id)
    with pytest.raises(Conflict):
        service.reschedule(db, appointment_id=old.id, new_slot_id=late.id)
    assert old.status == AppointmentStatus.booked


def test_a_blocked_slot_is_not_offered_nor_bookable(db: Session, world: World) -> None:
    schedule = virtual_schedule(db, world, days=1)
    first = free(db, world)[0]
    changed = service.block_slots(
        db, schedule.id, start=first.starts_at, end=first.starts_at + timedelta(hours=1)
    )
    assert changed == 2
    assert first.id not in {s.id for s in free(db, world)}
    with pytest.raises(Conflict) as refused:
        service.book(db, slot_id=first.id, patient_id=world.ivan.id)
    assert [e.field for e in refused.value.errors] == ["slot_id"]


def test_a_slot_that_has_started_cannot_be_booked(db: Session, world: World) -> None:
    virtual_schedule(db, world, days=1)
    slot = free(db, world)[0]
    with pytest.raises(Conflict):
        service.book(
            db, slot_id=slot.id, patient_id=world.ivan.id, now=slot.starts_at + timedelta(1)
        )
    with pytest.raises(NotFound):
        service.book(db, slot_id=987654, patient_id=world.ivan.id)


@pytest.fixture
def hooks() -> Iterator[list[tuple[str, int]]]:
    calls: list[tuple[str, int]] = []

    def booked(_s: Session, a: Appointment) -> None:
        calls.append(("booked", a.id))

    def cancelled(_s: Session, a: Appointment) -> None:
        calls.append(("cancelled", a.id))

    service.on_booked.append(booked)
    service.on_cancelled.append(cancelled)
    yield calls
    service.on_booked.remove(booked)
    service.on_cancelled.remove(cancelled)


def test_hooks_hear_of_bookings_cancellations_and_reschedules(
    db: Session, world: World, hooks: list[tuple[str, int]]
) -> None:
    virtual_schedule(db, world, days=1)
    a, b = free(db, world)[:2]
    first = service.book(db, slot_id=a.id, patient_id=world.ivan.id)
    moved = service.reschedule(db, appointment_id=first.id, new_slot_id=b.id)
    service.cancel(db, appointment_id=moved.id)
    assert hooks == [
        ("booked", first.id),
        ("cancelled", first.id),
        ("booked", moved.id),
        ("cancelled", moved.id),
    ]
