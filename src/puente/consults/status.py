"""Network status: bridge points' heartbeats, and what the network looks
like now (facilities online, cases in flight by urgency, deadlines breached).

A bridge point is *online* when it is active and its last heartbeat is at
most :data:`ONLINE_WITHIN` old. The figures name no patient.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from puente.consults.models import ConsultCase
from puente.consults.repository import OPEN
from puente.enums import BridgePointStatus, ConsultUrgency
from puente.errors import FieldError, NotFound
from puente.network.models import BridgePoint, Facility
from puente.schemas import Schema

ONLINE_WITHIN = timedelta(minutes=5)


class PointStatus(Schema):
    id: int
    facility_code: str
    facility_name: str
    country_code: str
    name: str
    status: BridgePointStatus
    last_seen_at: datetime | None
    online: bool


class NetworkStatus(Schema):
    at: datetime
    points: int
    points_online: int
    facilities: int
    facilities_online: int
    in_flight: dict[str, int]
    breached_in_flight: int
    items: list[PointStatus]


class HeartbeatRead(Schema):
    id: int
    last_seen_at: datetime
    online: bool


def point(session: Session, point_id: int) -> BridgePoint:
    found = session.get(BridgePoint, point_id)
    if found is None:
        raise NotFound(f"No bridge point {point_id}.", errors=[FieldError("point_id", "unknown")])
    return found


def heartbeat(session: Session, *, point: BridgePoint, now: datetime) -> HeartbeatRead:
    point.last_seen_at = now
    session.flush()
    return HeartbeatRead(id=point.id, last_seen_at=now, online=is_online(point, now))


def is_online(point: BridgePoint, now: datetime) -> bool:
    return (
        point.status == BridgePointStatus.active
        and point.last_seen_at is not None
        and now - point.last_seen_at <= ONLINE_WITHIN
    )


def network_status(session: Session, *, now: datetime, limit: int = 2000) -> NetworkStatus:
    rows = session.execute(
        select(BridgePoint, Facility)
        .join(Facility, Facility.id == BridgePoint.facility_id)
        .order_by(Facility.country_code, Facility.code, BridgePoint.id)
    ).all()
    items = [
        PointStatus(
            id=p.id,
            facility_code=f.code,
            facility_name=f.name,
            country_code=f.country_code,
            name=p.name,
            status=p.status,
            last_seen_at=p.last_seen_at,
            online=is_online(p, now),
        )
        for p, f in rows
    ]
    facilities = {i.facility_code for i in items}
    online = {i.facility_code for i in items if i.online}
    open_cases = session.execute(
        select(ConsultCase.urgency, ConsultCase.first_due_at, ConsultCase.breached_at).where(
            ConsultCase.status.in_(OPEN)
        )
    ).all()
    by_urgency = Counter(u.value for u, _d, _b in open_cases)
    return NetworkStatus(
        at=now,
        points=len(items),
        points_online=sum(1 for i in items if i.online),
        facilities=len(facilities),
        facilities_online=len(online),
        in_flight={u.value: by_urgency.get(u.value, 0) for u in ConsultUrgency},
        breached_in_flight=sum(1 for _u, d, b in open_cases if b is not None or d < now),
        # Offline first: those are the ones someone must call.
        items=sorted(items, key=lambda i: (i.online, i.country_code, i.facility_code))[:limit],
    )
