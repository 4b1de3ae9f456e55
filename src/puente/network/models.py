"""Tables of the facility network: countries, regions, facilities, support
links, programs with enrolment periods, and bridge points."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from puente.db import Base, TimestampMixin, UTCDateTime, str_enum
from puente.enums import (
    BridgePointKind,
    BridgePointStatus,
    FacilityKind,
    ProgramKind,
    RegionLevel,
    Tier,
)


class Country(Base):
    __tablename__ = "country"

    code: Mapped[str] = mapped_column(String(2), primary_key=True)  # ISO 3166-1 alpha-2
    name: Mapped[str] = mapped_column(String(200))
    default_timezone: Mapped[str] = mapped_column(String(64))
    default_language: Mapped[str] = mapped_column(String(8), default="en")


class Region(TimestampMixin, Base):
    """A first-level subdivision (state, province, oblast) or, below it, a district."""

    __tablename__ = "region"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)  # ISO 3166-2 where one exists
    name: Mapped[str] = mapped_column(String(200))
    level: Mapped[RegionLevel] = mapped_column(str_enum(RegionLevel, "region_level"))
    country_code: Mapped[str] = mapped_column(ForeignKey("country.code"), index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("region.id"), index=True)
    timezone: Mapped[str | None] = mapped_column(String(64))


class Facility(TimestampMixin, Base):
    __tablename__ = "facility"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    tier: Mapped[Tier] = mapped_column(str_enum(Tier, "tier"), index=True)
    kind: Mapped[FacilityKind] = mapped_column(str_enum(FacilityKind, "facility_kind"))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("facility.id"), index=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("region.id"), index=True)
    country_code: Mapped[str] = mapped_column(ForeignKey("country.code"), index=True)
    timezone: Mapped[str] = mapped_column(String(64))
    city: Mapped[str | None] = mapped_column(String(200))
    address: Mapped[str | None] = mapped_column(String(500))
    phone: Mapped[str | None] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Where it is (WGS 84 degrees), for travel limits; unknown when null.
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)


class SupportLink(TimestampMixin, Base):
    """An upper-level hub supports a lower-level spoke, for some specialties.

    An empty specialty list means every specialty. ``rank`` orders the hubs of
    one spoke: rank 1 is asked first, the next rank when a deadline passes.
    Links may cross borders (a hub in Vietnam supporting a spoke in Laos).
    """

    __tablename__ = "support_link"
    __table_args__ = (
        UniqueConstraint("hub_id", "spoke_id"),
        CheckConstraint("hub_id <> spoke_id", name="not_self"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    hub_id: Mapped[int] = mapped_column(ForeignKey("facility.id"), index=True)
    spoke_id: Mapped[int] = mapped_column(ForeignKey("facility.id"), index=True)
    rank: Mapped[int] = mapped_column(Integer, default=1)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    since: Mapped[date | None] = mapped_column(Date)


class SupportLinkSpecialty(Base):
    __tablename__ = "support_link_specialty"

    link_id: Mapped[int] = mapped_column(
        ForeignKey("support_link.id", ondelete="CASCADE"), primary_key=True
    )
    specialty_id: Mapped[int] = mapped_column(ForeignKey("specialty.id"), primary_key=True)


class Program(TimestampMixin, Base):
    __tablename__ = "program"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    kind: Mapped[ProgramKind] = mapped_column(str_enum(ProgramKind, "program_kind"))
    country_code: Mapped[str | None] = mapped_column(ForeignKey("country.code"))
    description: Mapped[str | None] = mapped_column(Text)


class ProgramEnrolment(TimestampMixin, Base):
    """A facility takes part in a program from ``start_date`` to ``end_date``
    (inclusive; open-ended when null)."""

    __tablename__ = "program_enrolment"
    __table_args__ = (
        CheckConstraint("end_date IS NULL OR end_date >= start_date", name="period"),
        Index("ix_program_enrolment_program_dates", "program_id", "start_date", "end_date"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    program_id: Mapped[int] = mapped_column(ForeignKey("program.id"))
    facility_id: Mapped[int] = mapped_column(ForeignKey("facility.id"), index=True)
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)


class BridgePoint(TimestampMixin, Base):
    """A facility's telemedicine endpoint (video room, DICOM node, …)."""

    __tablename__ = "bridge_point"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    facility_id: Mapped[int] = mapped_column(ForeignKey("facility.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[BridgePointKind] = mapped_column(str_enum(BridgePointKind, "bridge_point_kind"))
    address: Mapped[str] = mapped_column(String(500))
    status: Mapped[BridgePointStatus] = mapped_column(
        str_enum(BridgePointStatus, "bridge_point_status"), default=BridgePointStatus.active
    )
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
