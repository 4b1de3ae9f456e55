"""Every query of `recovery`."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, delete, func, insert, select, update
from sqlalchemy.orm import Session

from puente.catalog.models import Service
from puente.db import among
from puente.enums import FacilityKind, PlanItemStatus, Tier, WaitPriority, WaitStatus
from puente.network.models import Facility, Region
from puente.people.models import Patient
from puente.recovery.models import (
    Campaign,
    CampaignCapacity,
    CampaignGoal,
    CampaignLine,
    CampaignUnit,
    PlanItem,
    PlanRun,
    WaitingListEntry,
)

LEVEL_OF_TIER: dict[Tier, int] = {
    Tier.level1: 1,
    Tier.commune: 1,
    Tier.level2: 2,
    Tier.district: 2,
    Tier.provincial: 2,
    Tier.level3: 3,
    Tier.central: 3,
}


def facilities_by_code(session: Session, codes: Collection[str]) -> dict[str, Facility]:
    if not codes:
        return {}
    rows = session.scalars(select(Facility).where(Facility.code.in_(list(codes))))
    return {f.code: f for f in rows}


def facility_codes(session: Session, ids: Collection[int]) -> dict[int, str]:
    if not ids:
        return {}
    return dict(
        session.execute(select(Facility.id, Facility.code).where(Facility.id.in_(ids))).all()
    )


def services_by_code(session: Session, codes: Collection[str]) -> dict[str, Service]:
    if not codes:
        return {}
    return {s.code: s for s in session.scalars(select(Service).where(Service.code.in_(codes)))}


def services_by_id(session: Session, ids: Collection[int]) -> dict[int, Service]:
    if not ids:
        return {}
    return {s.id: s for s in session.scalars(select(Service).where(Service.id.in_(list(ids))))}


def patients_by_id(session: Session, ids: Collection[int]) -> dict[int, Patient]:
    if not ids:
        return {}
    return {p.id: p for p in session.scalars(select(Patient).where(Patient.id.in_(list(ids))))}


def service_codes(session: Session, ids: Collection[int]) -> dict[int, str]:
    if not ids:
        return {}
    return dict(session.execute(select(Service.id, Service.code).where(Service.id.in_(ids))).all())


def region_ids_by_code(session: Session, codes: Collection[str]) -> dict[str, int]:
    if not codes:
        return {}
    rows = session.execute(select(Region.code, Region.id).where(Region.code.in_(codes)))
    return dict(rows.all())


def region_codes(session: Session, ids: Collection[int]) -> dict[int, str]:
    if not ids:
        return {}
    return dict(session.execute(select(Region.id, Region.code).where(Region.id.in_(ids))).all())


def region_names(session: Session, ids: Collection[int]) -> dict[int, str]:
    if not ids:
        return {}
    return dict(session.execute(select(Region.id, Region.name).where(Region.id.in_(ids))).all())


def unit_codes(session: Session, country: str, kinds: Collection[FacilityKind]) -> list[str]:
    rows = session.scalars(
        select(Facility.code)
        .where(Facility.country_code == country, Facility.kind.in_(list(kinds)))
        .order_by(Facility.code)
    )
    return list(rows)


# Waiting list


def entry(session: Session, entry_id: int) -> WaitingListEntry | None:
    return session.get(WaitingListEntry, entry_id)


def entries_by_external_ref(session: Session, refs: Collection[str]) -> set[str]:
    if not refs:
        return set()
    rows = session.scalars(
        select(WaitingListEntry.external_ref).where(WaitingListEntry.external_ref.in_(refs))
    )
    return {r for r in rows if r}


def list_entries(
    session: Session,
    *,
    visible: ColumnElement[bool],
    statuses: Sequence[WaitStatus],
    service_id: int | None,
    limit: int,
    offset: int,
) -> tuple[list[WaitingListEntry], int]:
    q = (
        select(WaitingListEntry)
        .join(Patient, Patient.id == WaitingListEntry.patient_id)
        .where(visible, WaitingListEntry.status.in_(statuses))
    )
    if service_id is not None:
        q = q.where(WaitingListEntry.service_id == service_id)
    total = session.scalar(select(func.count()).select_from(q.subquery())) or 0
    rows = session.scalars(q.order_by(WaitingListEntry.id).limit(limit).offset(offset))
    return list(rows), total


def figure_rows(
    session: Session, *, facility_ids: Collection[int] | None, service_id: int | None
) -> list[tuple[str, str, WaitPriority, date, date | None]]:
    """(service code, referring unit code, priority, referred_on, removed_on)."""
    w = WaitingListEntry
    q = (
        select(Service.code, Facility.code, w.priority, w.referred_on, w.removed_on)
        .join(Service, Service.id == w.service_id)
        .join(Facility, Facility.id == w.referring_facility_id)
    )
    if facility_ids is not None:
        q = q.where(w.referring_facility_id.in_(list(facility_ids)))
    if service_id is not None:
        q = q.where(w.service_id == service_id)
    return [(a, b, c, d, e) for a, b, c, d, e in session.execute(q)]


def plannable_entries(session: Session, service_ids: Collection[int]) -> list[WaitingListEntry]:
    return list(
        session.scalars(
            select(WaitingListEntry)
            .where(
                WaitingListEntry.status == WaitStatus.waiting,
                WaitingListEntry.service_id.in_(list(service_ids)),
            )
            .order_by(WaitingListEntry.id)
        )
    )


def entries_by_id(session: Session, ids: Collection[int]) -> dict[int, WaitingListEntry]:
    if not ids:
        return {}
    found = session.scalars(select(WaitingListEntry).where(WaitingListEntry.id.in_(list(ids))))
    return {e.id: e for e in found}


def set_entry_status(
    session: Session, ids: Collection[int], status: WaitStatus, *, only_from: WaitStatus
) -> None:
    if ids:
        session.execute(
            update(WaitingListEntry)
            .where(WaitingListEntry.id.in_(list(ids)), WaitingListEntry.status == only_from)
            .values(status=status)
        )


# Campaigns


def campaign_by_code(session: Session, code: str) -> Campaign | None:
    return session.scalar(select(Campaign).where(Campaign.code == code))


def campaigns(session: Session) -> list[Campaign]:
    return list(session.scalars(select(Campaign).order_by(Campaign.starts_on.desc())))


def unit_facilities(session: Session, campaign_id: int) -> list[Facility]:
    return list(
        session.scalars(
            select(Facility)
            .join(CampaignUnit, CampaignUnit.facility_id == Facility.id)
            .where(CampaignUnit.campaign_id == campaign_id)
            .order_by(Facility.code)
        )
    )


def lines(session: Session, campaign_id: int) -> list[tuple[CampaignLine, str]]:
    rows = session.execute(
        select(CampaignLine, Service.code)
        .join(Service, Service.id == CampaignLine.service_id)
        .where(CampaignLine.campaign_id == campaign_id)
        .order_by(Service.code)
    )
    return [(line, code) for line, code in rows]


def capacity(session: Session, campaign_id: int) -> list[CampaignCapacity]:
    return list(
        session.scalars(select(CampaignCapacity).where(CampaignCapacity.campaign_id == campaign_id))
    )


def goals(session: Session, campaign_id: int) -> list[CampaignGoal]:
    return list(
        session.scalars(select(CampaignGoal).where(CampaignGoal.campaign_id == campaign_id))
    )


def count_rows(session: Session, model: Any, campaign_id: int) -> int:
    return (
        session.scalar(
            select(func.count()).select_from(model).where(model.campaign_id == campaign_id)
        )
        or 0
    )


def replace_rows(
    session: Session, model: Any, campaign_id: int, rows: list[dict[str, Any]]
) -> None:
    session.execute(delete(model).where(model.campaign_id == campaign_id))
    if rows:
        session.execute(insert(model), rows)


# Plans


def run(session: Session, run_id: int) -> PlanRun | None:
    return session.get(PlanRun, run_id)


def runs(session: Session, campaign_id: int) -> list[PlanRun]:
    return list(
        session.scalars(
            select(PlanRun).where(PlanRun.campaign_id == campaign_id).order_by(PlanRun.id.desc())
        )
    )


def items(
    session: Session,
    run_id: int,
    *,
    facility_id: int | None = None,
    day: date | None = None,
    standby: bool | None = None,
    statuses: Collection[PlanItemStatus] = (),
) -> list[PlanItem]:
    q = select(PlanItem).where(PlanItem.run_id == run_id)
    if facility_id is not None:
        q = q.where(PlanItem.facility_id == facility_id)
    if day is not None:
        q = q.where(PlanItem.day == day)
    if standby is True:
        q = q.where(PlanItem.standby_rank.is_not(None))
    elif standby is False:
        q = q.where(PlanItem.standby_rank.is_(None))
    if statuses:
        q = q.where(PlanItem.status.in_(list(statuses)))
    return list(session.scalars(q.order_by(PlanItem.standby_rank, PlanItem.day, PlanItem.id)))


def item_counts(session: Session, run_id: int) -> dict[tuple[int, date], int]:
    """Planned items (standby left out) per unit × day of a run."""
    rows = session.execute(
        select(PlanItem.facility_id, PlanItem.day, func.count())
        .where(
            PlanItem.run_id == run_id,
            PlanItem.standby_rank.is_(None),
            PlanItem.facility_id.is_not(None),
        )
        .group_by(PlanItem.facility_id, PlanItem.day)
    ).all()
    return {(unit, day): n for unit, day, n in rows if unit is not None and day is not None}


def first_appointments(session: Session, campaign_id: int) -> dict[int, int]:
    """Per unit, one appointment booked for the campaign (of any of its runs)."""
    rows = session.execute(
        select(PlanItem.facility_id, func.min(PlanItem.appointment_id))
        .join(PlanRun, PlanRun.id == PlanItem.run_id)
        .where(
            PlanRun.campaign_id == campaign_id,
            PlanItem.appointment_id.is_not(None),
            PlanItem.facility_id.is_not(None),
        )
        .group_by(PlanItem.facility_id)
    ).all()
    return {unit: appointment for unit, appointment in rows if unit and appointment}


def standby_count(session: Session, run_id: int) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(PlanItem)
            .where(PlanItem.run_id == run_id, PlanItem.standby_rank.is_not(None))
        )
        or 0
    )


def item(session: Session, item_id: int) -> PlanItem | None:
    return session.get(PlanItem, item_id)


def insert_items(session: Session, rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), 5000):
        session.execute(insert(PlanItem), rows[start : start + 5000])


def region_choices(session: Session) -> list[tuple[str, str]]:
    """(code, name) of every first-level region, for the pages' choices."""
    rows = session.execute(
        select(Region.code, Region.name)
        .where(Region.parent_id.is_(None))
        .order_by(Region.country_code, Region.name)
    )
    return [(code, name) for code, name in rows]


def facility_places(session: Session) -> dict[int, tuple[float, float]]:
    """(latitude, longitude) of every facility whose place is known."""
    rows = session.execute(
        select(Facility.id, Facility.latitude, Facility.longitude).where(
            Facility.latitude.is_not(None), Facility.longitude.is_not(None)
        )
    )
    return {i: (lat, lon) for i, lat, lon in rows if lat is not None and lon is not None}


def campaign_goals(
    session: Session,
    campaign_code: str,
    facility_ids: Collection[int] | None,
    service_ids: Collection[int] | None,
) -> list[tuple[int, int, int]] | None:
    """(facility, service, goal) of a campaign, of the facilities and services
    given (None: all); None when no campaign has that code."""
    campaign_id = session.scalar(select(Campaign.id).where(Campaign.code == campaign_code))
    if campaign_id is None:
        return None
    g = CampaignGoal
    query = select(g.facility_id, g.service_id, g.goal).where(g.campaign_id == campaign_id)
    if facility_ids is not None:
        query = query.where(among(session, g.facility_id, sorted(facility_ids)))
    if service_ids is not None:
        query = query.where(g.service_id.in_(list(service_ids)))
    return [(fid, sid, goal) for fid, sid, goal in session.execute(query)]
