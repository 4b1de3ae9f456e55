"""Typed input and output of `network`: countries, regions, facilities,
support links, programs with enrolments, and bridge points.

References between records travel as codes (``parent_code``, ``hub_code``),
never as database ids, so a payload written by hand or by another system
means the same thing in every installation.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import Field, StringConstraints, field_validator, model_validator

from puente.enums import (
    BridgePointKind,
    BridgePointStatus,
    FacilityKind,
    ProgramKind,
    RegionLevel,
    Tier,
)
from puente.schemas import (
    Code,
    CountryCode,
    LongCode,
    LongNameStr,
    NameStr,
    Phone,
    Schema,
    ShortText,
    TimeZone,
)

Rank = Annotated[int, Field(ge=1, le=99)]
Description = Annotated[str, StringConstraints(max_length=5000)]
Address = Annotated[str, StringConstraints(min_length=1, max_length=500)]


def _not_null(value: object) -> object:
    """Runs only on fields a client sent: a required field cannot be cleared."""
    if value is None:
        raise ValueError("cannot be cleared")
    return value


class CountryRead(Schema):
    code: str
    name: str
    default_timezone: str
    default_language: str


class RegionCreate(Schema):
    code: Code
    name: NameStr
    country: CountryCode
    level: RegionLevel = RegionLevel.region
    parent_code: Code | None = None
    timezone: TimeZone | None = None


class RegionRead(Schema):
    id: int
    code: str
    name: str
    level: RegionLevel
    country: str
    parent_code: str | None
    timezone: str | None


Latitude = Annotated[float, Field(ge=-90, le=90)]
Longitude = Annotated[float, Field(ge=-180, le=180)]


class FacilityCreate(Schema):
    """``country`` may be left out: it is the region's. ``timezone`` defaults
    to the region's, then to the country's."""

    code: Code
    name: LongNameStr
    tier: Tier
    kind: FacilityKind
    region_code: Code
    parent_code: Code | None = None
    country: CountryCode | None = None
    timezone: TimeZone | None = None
    city: NameStr | None = None
    address: ShortText | None = None
    phone: Phone | None = None
    active: bool = True
    latitude: Latitude | None = None
    longitude: Longitude | None = None


class FacilityUpdate(Schema):
    """Only the fields present change; an explicit null clears an optional one
    (``parent_code: null`` makes the facility a root of its network)."""

    name: LongNameStr | None = None
    tier: Tier | None = None
    kind: FacilityKind | None = None
    region_code: Code | None = None
    parent_code: Code | None = None
    timezone: TimeZone | None = None
    city: NameStr | None = None
    address: ShortText | None = None
    phone: Phone | None = None
    active: bool | None = None
    latitude: Latitude | None = None
    longitude: Longitude | None = None

    _required = field_validator("name", "tier", "kind", "region_code", "timezone", "active")(
        _not_null
    )


class FacilityRead(Schema):
    id: int
    code: str
    name: str
    tier: Tier
    kind: FacilityKind
    parent_code: str | None
    region_code: str
    country: str
    timezone: str
    city: str | None
    address: str | None
    phone: str | None
    active: bool
    latitude: float | None = None
    longitude: float | None = None
    created_at: datetime
    updated_at: datetime


class FacilityBrief(Schema):
    code: str
    name: str
    tier: Tier
    kind: FacilityKind
    country: str


class SupportLinkCreate(Schema):
    """An empty ``specialty_codes`` list means the hub supports every specialty."""

    hub_code: Code
    spoke_code: Code
    rank: Rank = 1
    specialty_codes: list[LongCode] = Field(default_factory=list, max_length=200)
    since: date | None = None

    @field_validator("specialty_codes")
    @classmethod
    def _distinct(cls, codes: list[str]) -> list[str]:
        return list(dict.fromkeys(codes))


class SupportLinkRead(Schema):
    id: int
    hub_code: str
    hub_name: str
    hub_country: str
    spoke_code: str
    spoke_name: str
    spoke_country: str
    rank: int
    active: bool
    since: date | None
    specialty_codes: list[str]


class ProgramCreate(Schema):
    code: LongCode
    name: LongNameStr
    kind: ProgramKind
    country: CountryCode | None = None
    description: Description | None = None


class ProgramRead(Schema):
    id: int
    code: str
    name: str
    kind: ProgramKind
    country: str | None
    description: str | None


class EnrolmentCreate(Schema):
    """A period is inclusive at both ends; no ``end_date`` means still enrolled."""

    facility_code: Code
    start_date: date
    end_date: date | None = None

    @model_validator(mode="after")
    def _ordered(self) -> EnrolmentCreate:
        if self.end_date is not None and self.end_date < self.start_date:
            raise ValueError("end_date is before start_date")
        return self


class EnrolmentEnd(Schema):
    end_date: date


class EnrolmentRead(Schema):
    id: int
    program_code: str
    facility_code: str
    facility_name: str
    start_date: date
    end_date: date | None


class EnrolledOn(Schema):
    """The answer to "which facilities were in the program on that day"."""

    program_code: str
    on: date
    total: int
    limit: int
    offset: int
    items: list[FacilityBrief]


class BridgePointCreate(Schema):
    facility_code: Code
    name: NameStr
    kind: BridgePointKind
    address: Address
    status: BridgePointStatus = BridgePointStatus.active


class BridgePointUpdate(Schema):
    status: BridgePointStatus | None = None
    name: NameStr | None = None
    address: Address | None = None
    last_seen_at: datetime | None = None

    _required = field_validator("status", "name", "address")(_not_null)


class BridgePointRead(Schema):
    id: int
    facility_code: str
    name: str
    kind: BridgePointKind
    address: str
    status: BridgePointStatus
    last_seen_at: datetime | None
