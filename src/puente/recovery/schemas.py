"""Typed input and output of `recovery`: waiting-list entries and figures,
campaigns with capacity and goals, plan runs, captures and goal attainment."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import Field

from puente.enums import (
    CampaignStatus,
    CapacityKind,
    PlanItemStatus,
    PlanRunStatus,
    WaitPriority,
    WaitStatus,
)
from puente.schemas import Code, CountryCode, Id, LongCode, LongNameStr, Schema

Minutes = Annotated[int, Field(ge=1, le=1440)]
Level = Annotated[int, Field(ge=1, le=3)]
Amount = Annotated[int, Field(ge=0, le=1_000_000)]
Goal = Annotated[int, Field(ge=1, le=1_000_000)]
Count = Annotated[int, Field(ge=0, le=1_000_000)]
Reason = Annotated[str, Field(min_length=1, max_length=200)]
ExternalRef = Annotated[str, Field(min_length=1, max_length=100)]
Km = Annotated[int, Field(ge=1, le=20_000, description="great-circle kilometres")]


# Waiting list -------------------------------------------------------------------


class EntryCreate(Schema):
    patient_id: Id
    service_code: LongCode
    referring_facility_code: Code
    referred_on: date
    priority: WaitPriority
    duration_minutes: Minutes | None = None
    level_of_care: Level | None = None
    region_code: Annotated[str, Field(min_length=1, max_length=32)] | None = None
    external_ref: ExternalRef | None = None
    max_travel_km: Km | None = None


class EntryRemove(Schema):
    reason: Reason
    removed_on: date | None = None


class EntryRead(Schema):
    id: int
    patient_id: int
    service_code: str
    referring_facility_code: str
    referred_on: date
    priority: WaitPriority
    duration_minutes: int
    level_of_care: int
    region_code: str | None
    status: WaitStatus
    removed_on: date | None
    waited_days: int
    max_travel_km: int | None = None


class KeyCount(Schema):
    key: str
    count: int


class WeekFlow(Schema):
    week_start: date
    added: int
    removed: int


class WaitingFigures(Schema):
    """The list on ``as_of``: entries still waiting (or planned, not yet seen)."""

    as_of: date
    size: int
    by_service: list[KeyCount]
    by_unit: list[KeyCount]
    by_priority: list[KeyCount]
    median_weeks: float | None
    p92_weeks: float | None
    share_under_18_weeks: float | None
    over_52_weeks: int
    over_65_weeks: int
    over_78_weeks: int
    over_104_weeks: int
    past_target: int
    weeks: list[WeekFlow]
    weeks_to_clear: float | None


# Campaigns ----------------------------------------------------------------------


class LineIn(Schema):
    service_code: LongCode
    capacity_kind: CapacityKind


class CampaignCreate(Schema):
    code: LongCode
    name: LongNameStr
    country: CountryCode
    starts_on: date
    ends_on: date
    units: Annotated[list[Code], Field(min_length=1, max_length=5000)]
    lines: Annotated[list[LineIn], Field(min_length=1, max_length=200)]
    max_travel_km: Km | None = None


class CapacityIn(Schema):
    facility_code: Code
    day: date
    service_code: LongCode
    amount: Amount


class CapacityPut(Schema):
    rows: Annotated[list[CapacityIn], Field(max_length=100_000)]


class GoalIn(Schema):
    facility_code: Code
    service_code: LongCode
    goal: Goal


class GoalsPut(Schema):
    rows: Annotated[list[GoalIn], Field(max_length=100_000)]


class LineRead(Schema):
    service_code: str
    capacity_kind: CapacityKind


class CampaignRead(Schema):
    id: int
    code: str
    name: str
    country: str
    starts_on: date
    ends_on: date
    status: CampaignStatus
    units: list[str]
    lines: list[LineRead]
    capacity_rows: int
    goal_rows: int
    published_run_id: int | None
    max_travel_km: int | None = None


# Plans ---------------------------------------------------------------------------


class PlanRunRead(Schema):
    id: int
    campaign_code: str
    status: PlanRunStatus
    progress: int
    phase: str
    replans_run_id: int | None
    entries: int
    planned: int
    standby: int
    objective: float | None
    bound: float | None
    gap: float | None
    fcfs_objective: float | None
    greedy_objective: float | None
    seconds: float | None
    method: str
    error: str | None
    created_at: datetime
    finished_at: datetime | None


class PlanItemRead(Schema):
    id: int
    entry_id: int
    patient_id: int
    facility_code: str | None
    day: date | None
    service_code: str
    priority: WaitPriority
    value: float
    status: PlanItemStatus
    standby_rank: int | None
    appointment_id: int | None


class ItemOutcome(Schema):
    """What became of a planned appointment."""

    status: Annotated[PlanItemStatus, Field(description="confirmed, cancelled or no_show")]


# Day-of capture and goals --------------------------------------------------------


class PatientCapture(Schema):
    item_id: Id
    day: date | None = None


class CountCapture(Schema):
    facility_code: Code
    day: date
    counts: Annotated[dict[LongCode, Count], Field(min_length=1, max_length=200)]


class CaptureResult(Schema):
    ledger_entries: int
    delivered: int


class AttainmentRow(Schema):
    key: str
    name: str
    goal: int
    delivered: int
    ratio: float | None
    reached: bool


class Attainment(Schema):
    campaign_code: str
    goal: int
    delivered: int
    ratio: float | None
    by_unit: list[AttainmentRow]
    by_state: list[AttainmentRow]
    by_line: list[AttainmentRow]
    units_reached: int
