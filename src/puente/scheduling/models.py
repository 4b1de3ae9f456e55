"""Schedules, the slots they produce, and appointments in those slots.

Shared by virtual visits, remote-consultation conferences and recovery
campaigns. One rule is kept by the database itself: a slot holds at most one
live appointment (held or booked) — the partial unique index below — so no
race between app processes can double-book.
"""

from __future__ import annotations

from datetime import date, datetime, time

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Time,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from puente.db import Base, TimestampMixin, UTCDateTime, str_enum
from puente.enums import AppointmentPurpose, AppointmentStatus, Mode

LIVE = "status IN ('held', 'booked')"


class Schedule(TimestampMixin, Base):
    """A practitioner's published availability at a facility."""

    __tablename__ = "schedule"
    __table_args__ = (
        CheckConstraint("slot_minutes BETWEEN 5 AND 480", name="slot_minutes_range"),
        CheckConstraint("valid_until IS NULL OR valid_until >= valid_from", name="valid_period"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    practitioner_role_id: Mapped[int] = mapped_column(
        ForeignKey("practitioner_role.id"), index=True
    )
    facility_id: Mapped[int] = mapped_column(ForeignKey("facility.id"), index=True)
    specialty_id: Mapped[int | None] = mapped_column(ForeignKey("specialty.id"))
    service_id: Mapped[int | None] = mapped_column(ForeignKey("service.id"))
    mode: Mapped[Mode] = mapped_column(str_enum(Mode, "mode"))
    purpose: Mapped[AppointmentPurpose] = mapped_column(
        str_enum(AppointmentPurpose, "appointment_purpose"), default=AppointmentPurpose.visit
    )
    slot_minutes: Mapped[int] = mapped_column(Integer)
    timezone: Mapped[str] = mapped_column(String(64))  # IANA, e.g. Europe/Moscow
    valid_from: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date | None] = mapped_column(Date)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    comment: Mapped[str | None] = mapped_column(String(500))


class AvailabilityRule(Base):
    """Recurring availability: on ``weekday`` (0 = Monday) from ``start`` to
    ``end``, local time of the schedule's time zone."""

    __tablename__ = "availability_rule"
    __table_args__ = (CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday_range"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    schedule_id: Mapped[int] = mapped_column(
        ForeignKey("schedule.id", ondelete="CASCADE"), index=True
    )
    weekday: Mapped[int] = mapped_column(Integer)
    start: Mapped[time] = mapped_column(Time)
    end: Mapped[time] = mapped_column(Time)


class Slot(Base):
    """One bookable period, materialised from a schedule's rules."""

    __tablename__ = "slot"
    __table_args__ = (
        UniqueConstraint("schedule_id", "starts_at"),
        Index("ix_slot_facility_starts", "facility_id", "starts_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    schedule_id: Mapped[int] = mapped_column(ForeignKey("schedule.id", ondelete="CASCADE"))
    facility_id: Mapped[int] = mapped_column(ForeignKey("facility.id"))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Blocked by the practitioner (leave, meeting): not offered, not bookable.
    blocked: Mapped[bool] = mapped_column(Boolean, default=False)


class Appointment(TimestampMixin, Base):
    __tablename__ = "appointment"
    __table_args__ = (
        # THE double-booking guard: one live appointment per slot.
        Index(
            "uq_appointment_live_slot",
            "slot_id",
            unique=True,
            sqlite_where=text(LIVE),
            postgresql_where=text(LIVE),
        ),
        UniqueConstraint("idempotency_key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slot_id: Mapped[int] = mapped_column(ForeignKey("slot.id"), index=True)
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patient.id"), index=True)
    status: Mapped[AppointmentStatus] = mapped_column(
        str_enum(AppointmentStatus, "appointment_status")
    )
    purpose: Mapped[AppointmentPurpose] = mapped_column(
        str_enum(AppointmentPurpose, "appointment_purpose"), default=AppointmentPurpose.visit
    )
    hold_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reason: Mapped[str | None] = mapped_column(String(500))
    booked_by_user_id: Mapped[int | None] = mapped_column(Integer)
    idempotency_key: Mapped[str | None] = mapped_column(String(128))
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cancel_reason: Mapped[str | None] = mapped_column(String(500))
    # The appointment this one replaced when it was rescheduled.
    rescheduled_from_id: Mapped[int | None] = mapped_column(ForeignKey("appointment.id"))
