"""Queries of the FHIR facade over the facility network.

The FHIR layer is a read-only edge over the features. Facilities, regions and
bridge points are read here straight from the `network` tables (the network
API is built alongside and offers no bulk reads yet); nothing here writes.
People are read and written through `people.service`.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from puente.enums import BridgePointStatus, FacilityKind, Tier
from puente.network.models import BridgePoint, Facility, Region


def get_facility(session: Session, facility_id: int) -> Facility | None:
    return session.get(Facility, facility_id)


def get_bridge_point(session: Session, bridge_point_id: int) -> BridgePoint | None:
    return session.get(BridgePoint, bridge_point_id)


def region_names(session: Session, region_ids: Collection[int]) -> dict[int, str]:
    if not region_ids:
        return {}
    rows = session.execute(
        select(Region.id, Region.name).where(Region.id.in_(sorted(set(region_ids))))
    )
    return {id_: name for id_, name in rows}


def _escaped_prefix(text: str) -> str:
    return text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def facility_query(
    *,
    parent_id: int | None = None,
    kinds: Collection[FacilityKind] | None = None,
    tiers: Collection[Tier] | None = None,
    country: str | None = None,
    name_prefix: str | None = None,
    facility_id: int | None = None,
) -> Select[Any]:
    """Facilities in id order. ``kinds`` and ``tiers`` together mean "either"
    (the Organization ``type`` carries both)."""
    query = select(Facility)
    if parent_id is not None:
        query = query.where(Facility.parent_id == parent_id)
    if kinds is not None and tiers is not None:
        query = query.where(Facility.kind.in_(list(kinds)) | Facility.tier.in_(list(tiers)))
    elif kinds is not None:
        query = query.where(Facility.kind.in_(list(kinds)))
    elif tiers is not None:
        query = query.where(Facility.tier.in_(list(tiers)))
    if country is not None:
        query = query.where(Facility.country_code == country.upper())
    if name_prefix:
        query = query.where(
            func.lower(Facility.name).like(_escaped_prefix(name_prefix), escape="\\")
        )
    if facility_id is not None:
        query = query.where(Facility.id == facility_id)
    return query.order_by(Facility.id)


def bridge_point_query(
    *, facility_id: int | None = None, status: BridgePointStatus | None = None
) -> Select[Any]:
    query = select(BridgePoint)
    if facility_id is not None:
        query = query.where(BridgePoint.facility_id == facility_id)
    if status is not None:
        query = query.where(BridgePoint.status == status)
    return query.order_by(BridgePoint.id)


def page(session: Session, query: Select[Any], *, limit: int, offset: int) -> tuple[list[Any], int]:
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    rows = list(session.scalars(query.limit(limit).offset(offset))) if limit else []
    return rows, total
