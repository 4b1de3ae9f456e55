"""Request and response bodies of the scheduling API."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Annotated

from pydantic import Field, model_validator

from puente.enums import AppointmentPurpose, AppointmentStatus, Mode
from puente.schemas import Id, LongCode, Schema, ShortText, TimeZone


class RuleIn(Schema):
    weekday: Annotated[int, Field(ge=0, le=6, description="0 = Monday … 6 = Sunday")]
    start: time
    end: time

    @model_validator(mode="after")
    def _ordered(self) -> RuleIn:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self


class RuleRead(Schema):
    weekday: int
    start: time
    end: time


class ScheduleCreate(Schema):
    practitioner_role_id: Id
    mode: Mode
    slot_minutes: Annotated[int, Field(ge=5, le=480)]
    timezone: TimeZone
    valid_from: date
    valid_until: date | None = None
    rules: Annotated[list[RuleIn], Field(min_length=1, max_length=50)]
    service_code: LongCode | None = None
    purpose: AppointmentPurpose = AppointmentPurpose.visit
    comment: ShortText | None = None
    # Generate the slots right away, up to this day (local).
    generate_until: date | None = None


class ScheduleRead(Schema):
    id: int
    practitioner_role_id: int
    facility_id: int
    facility_code: str
    specialty_id: int | None
    specialty_code: str | None
    service_id: int | None
    mode: Mode
    purpose: AppointmentPurpose
    slot_minutes: int
    timezone: str
    valid_from: date
    valid_until: date | None
    active: bool
    comment: str | None
    rules: list[RuleRead]


class GeneratedSlots(Schema):
    schedule_id: int
    created: int
    until: date


class BlockSlots(Schema):
    start: datetime
    end: datetime
    blocked: bool = True


class BlockedSlots(Schema):
    schedule_id: int
    changed: int


class SlotRead(Schema):
    id: int
    schedule_id: int
    facility_id: int
    facility_code: str
    practitioner_role_id: int
    specialty_code: str | None
    mode: Mode
    purpose: AppointmentPurpose
    starts_at: datetime
    ends_at: datetime
    # Local start in the schedule's time zone, for display.
    local_start: datetime
    timezone: str


class HoldCreate(Schema):
    slot_id: Id
    # Patients leave it out (they book for themselves); staff give it.
    patient_id: Id | None = None


class AppointmentCreate(Schema):
    slot_id: Id
    patient_id: Id | None = None
    reason: ShortText | None = None
    purpose: AppointmentPurpose | None = None


class CancelBody(Schema):
    reason: ShortText | None = None


class RescheduleBody(Schema):
    slot_id: Id


class AppointmentRead(Schema):
    id: int
    slot_id: int
    patient_id: int | None
    status: AppointmentStatus
    purpose: AppointmentPurpose
    starts_at: datetime
    ends_at: datetime
    facility_id: int
    facility_code: str
    schedule_id: int
    practitioner_role_id: int
    mode: Mode
    hold_expires_at: datetime | None
    reason: str | None
    cancelled_at: datetime | None
    cancel_reason: str | None
    rescheduled_from_id: int | None
    created_at: datetime
