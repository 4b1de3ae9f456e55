"""Tables of deferred-care recovery: the waiting list, campaigns with their
units, service lines, capacity and goals, and the planner's runs and plans."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from puente.db import Base, TimestampMixin, UTCDateTime, str_enum
from puente.enums import (
    CampaignStatus,
    CapacityKind,
    PlanItemStatus,
    PlanRunStatus,
    WaitPriority,
    WaitStatus,
)


class WaitingListEntry(TimestampMixin, Base):
    """A deferred service a patient waits for.

    Eligibility: a unit may serve the entry when its level of care is at
    least ``level_of_care`` and it is in ``region_id`` (any region when
    null); third-level entries may go to any third-level unit of the country.
    A travel limit (the entry's or the campaign's, the smaller) excludes the
    units further from the referring unit; where either place is unknown the
    limit cannot be checked and does not exclude.
    """

    __tablename__ = "waiting_list_entry"
    __table_args__ = (
        CheckConstraint("level_of_care BETWEEN 1 AND 3", name="level_range"),
        CheckConstraint("duration_minutes BETWEEN 1 AND 1440", name="duration_range"),
        Index("ix_waiting_list_entry_status_service", "status", "service_id"),
        UniqueConstraint("external_ref"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("service.id"))
    specialty_id: Mapped[int | None] = mapped_column(ForeignKey("specialty.id"))
    referring_facility_id: Mapped[int] = mapped_column(ForeignKey("facility.id"), index=True)
    referred_on: Mapped[date] = mapped_column(Date)
    priority: Mapped[WaitPriority] = mapped_column(str_enum(WaitPriority, "wait_priority"))
    duration_minutes: Mapped[int] = mapped_column(Integer)
    level_of_care: Mapped[int] = mapped_column(Integer)
    region_id: Mapped[int | None] = mapped_column(ForeignKey("region.id"), index=True)
    status: Mapped[WaitStatus] = mapped_column(
        str_enum(WaitStatus, "wait_status"), default=WaitStatus.waiting
    )
    removed_on: Mapped[date | None] = mapped_column(Date)
    removal_reason: Mapped[str | None] = mapped_column(String(200))
    served_campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaign.id"))
    # The referring system's own id: a re-sent import row is refused, not doubled.
    external_ref: Mapped[str | None] = mapped_column(String(100))
    # How far (great-circle km from the referring unit) the patient can travel.
    max_travel_km: Mapped[int | None] = mapped_column(Integer)


class Campaign(TimestampMixin, Base):
    __tablename__ = "campaign"
    __table_args__ = (CheckConstraint("ends_on >= starts_on", name="period"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    country_code: Mapped[str] = mapped_column(ForeignKey("country.code"))
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    status: Mapped[CampaignStatus] = mapped_column(
        str_enum(CampaignStatus, "campaign_status"), default=CampaignStatus.draft
    )
    published_run_id: Mapped[int | None] = mapped_column(Integer)
    # No entry is planned at a unit further than this from its referring unit.
    max_travel_km: Mapped[int | None] = mapped_column(Integer)


class CampaignUnit(Base):
    __tablename__ = "campaign_unit"

    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaign.id", ondelete="CASCADE"), primary_key=True
    )
    facility_id: Mapped[int] = mapped_column(ForeignKey("facility.id"), primary_key=True)


class CampaignLine(Base):
    """A service line the campaign offers, and how its capacity is counted."""

    __tablename__ = "campaign_line"

    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaign.id", ondelete="CASCADE"), primary_key=True
    )
    service_id: Mapped[int] = mapped_column(ForeignKey("service.id"), primary_key=True)
    capacity_kind: Mapped[CapacityKind] = mapped_column(str_enum(CapacityKind, "capacity_kind"))


class CampaignCapacity(Base):
    """Operating-room minutes or slots of a unit on a day for a service line."""

    __tablename__ = "campaign_capacity"
    __table_args__ = (CheckConstraint("amount >= 0", name="amount_not_negative"),)

    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaign.id", ondelete="CASCADE"), primary_key=True
    )
    facility_id: Mapped[int] = mapped_column(ForeignKey("facility.id"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("service.id"), primary_key=True)
    amount: Mapped[int] = mapped_column(Integer)


class CampaignGoal(Base):
    """How many services of a line a unit means to deliver in the campaign."""

    __tablename__ = "campaign_goal"
    __table_args__ = (CheckConstraint("goal > 0", name="goal_positive"),)

    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaign.id", ondelete="CASCADE"), primary_key=True
    )
    facility_id: Mapped[int] = mapped_column(ForeignKey("facility.id"), primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("service.id"), primary_key=True)
    goal: Mapped[int] = mapped_column(Integer)


class PlanRun(TimestampMixin, Base):
    """One run of the planner over a campaign, with its figures."""

    __tablename__ = "plan_run"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaign.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[PlanRunStatus] = mapped_column(str_enum(PlanRunStatus, "plan_run_status"))
    progress: Mapped[int] = mapped_column(Integer, default=0)
    phase: Mapped[str] = mapped_column(String(64), default="")
    # The run this one re-plans (keeping its confirmed appointments).
    replans_run_id: Mapped[int | None] = mapped_column(ForeignKey("plan_run.id"))
    entries: Mapped[int] = mapped_column(Integer, default=0)
    planned: Mapped[int] = mapped_column(Integer, default=0)
    objective: Mapped[float | None] = mapped_column(Float)
    bound: Mapped[float | None] = mapped_column(Float)
    gap: Mapped[float | None] = mapped_column(Float)
    fcfs_objective: Mapped[float | None] = mapped_column(Float)
    greedy_objective: Mapped[float | None] = mapped_column(Float)
    seconds: Mapped[float | None] = mapped_column(Float)
    method: Mapped[str] = mapped_column(String(64), default="")
    error: Mapped[str | None] = mapped_column(String(500))
    requested_by_user_id: Mapped[int | None] = mapped_column(Integer)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class PlanItem(Base):
    """An entry planned at a unit on a day (or, without a unit, on standby)."""

    __tablename__ = "plan_item"
    __table_args__ = (
        UniqueConstraint("run_id", "entry_id"),
        Index("ix_plan_item_run_facility_day", "run_id", "facility_id", "day"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("plan_run.id", ondelete="CASCADE"))
    entry_id: Mapped[int] = mapped_column(ForeignKey("waiting_list_entry.id"), index=True)
    facility_id: Mapped[int | None] = mapped_column(ForeignKey("facility.id"))
    day: Mapped[date | None] = mapped_column(Date)
    service_id: Mapped[int] = mapped_column(ForeignKey("service.id"))
    value: Mapped[float] = mapped_column(Float)
    status: Mapped[PlanItemStatus] = mapped_column(
        str_enum(PlanItemStatus, "plan_item_status"), default=PlanItemStatus.planned
    )
    standby_rank: Mapped[int | None] = mapped_column(Integer)
    appointment_id: Mapped[int | None] = mapped_column(ForeignKey("appointment.id"))
