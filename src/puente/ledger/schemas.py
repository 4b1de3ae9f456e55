"""Typed input and output of `ledger`: posted entries and summed figures."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, Field

from puente.enums import LedgerSource, Mode, ServiceKind
from puente.schemas import Code, CountryCode, Id, LongCode, Schema

Count = Annotated[int, Field(ge=1, le=1_000_000)]


def _not_in_future(value: date) -> date:
    # One day of slack: a facility east of the server may already be tomorrow.
    if value > date.today() + timedelta(days=1):
        raise ValueError("a service cannot be delivered in the future")
    return value


ServiceDay = Annotated[date, AfterValidator(_not_in_future)]


class LedgerEntryCreate(Schema):
    facility_code: Code
    day: ServiceDay
    service_code: LongCode
    count: Count = 1
    mode: Mode = Mode.in_person
    campaign_code: LongCode | None = None
    citizenship: CountryCode | None = None
    patient_id: Id | None = None


class LedgerEntryRead(Schema):
    id: int
    facility_id: int
    facility_code: str
    day: date
    service_id: int
    service_code: str
    count: int
    mode: Mode
    campaign_code: str | None
    citizenship: str | None
    patient_id: int | None
    source: LedgerSource
    recorded_at: datetime


class GroupBy(StrEnum):
    facility = "facility"
    region = "region"
    country = "country"
    day = "day"
    service = "service"
    kind = "kind"
    mode = "mode"
    campaign = "campaign"
    citizenship = "citizenship"


class FigureFilters(Schema):
    """What to sum. Lists mean "any of"; an empty list means no filter."""

    start: date | None = None
    end: date | None = None
    facility_ids: list[int] | None = None
    region_id: int | None = None
    country: str | None = None
    service_ids: list[int] | None = None
    kinds: list[ServiceKind] = []
    mode: Mode | None = None
    campaign: str | None = None
    citizenship: list[str] = []
    foreign: bool | None = None


class FigureRow(Schema):
    """One group; only the fields named in ``group_by`` are set."""

    facility: str | None = None
    facility_name: str | None = None
    region: str | None = None
    country: str | None = None
    day: date | None = None
    service: str | None = None
    kind: ServiceKind | None = None
    mode: Mode | None = None
    campaign: str | None = None
    citizenship: str | None = None
    count: int
    entries: int


class Figures(Schema):
    count: int
    entries: int
    group_by: list[GroupBy]
    groups: list[FigureRow]
    total_groups: int
    limit: int
    offset: int
