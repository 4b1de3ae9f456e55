"""Counting remote consultation: response times, breaches, outcomes.

:func:`percentile` and :func:`summarise` are pure; :func:`metrics` reads the
cases. Response time is from the request to the written answer, wherever
the case was answered; a case breaches when it was answered after its first
deadline, or is still unanswered past it.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Collection, Sequence
from datetime import UTC, datetime, time, timedelta
from typing import Any

from sqlalchemy.orm import Session

from puente.consults import repository as repo
from puente.consults.models import ConsultCase
from puente.consults.reads import is_breached
from puente.db import utcnow
from puente.enums import ConsultOutcome, ConsultUrgency
from puente.schemas import Schema

__all__ = ["ConsultMetrics", "ResponseTimes", "metrics", "percentile", "summarise"]


def percentile(values: Sequence[float], p: float) -> float | None:
    """The ``p``-th percentile (0–100) by linear interpolation between the
    closest ranks (the method of numpy's default); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


class ResponseTimes(Schema):
    hub_facility_code: str | None
    urgency: ConsultUrgency | None
    answered: int
    median_minutes: float | None
    p90_minutes: float | None
    breached: int
    breach_rate: float | None


class ConsultMetrics(Schema):
    cases: int
    answered: int
    in_flight: int
    breached: int
    breach_rate: float | None
    outcomes: dict[str, int]
    treated_locally_share: float | None
    transferred_share: float | None
    overall: ResponseTimes
    by_hub_and_urgency: list[ResponseTimes]


def summarise(
    cases: Sequence[ConsultCase], now: datetime, hub: str | None, urgency: ConsultUrgency | None
) -> ResponseTimes:
    minutes = [
        (c.answered_at - c.requested_at).total_seconds() / 60
        for c in cases
        if c.answered_at is not None
    ]
    breached = sum(1 for c in cases if is_breached(c, now))
    due = [c for c in cases if c.answered_at is not None or now > c.first_due_at]
    median = percentile(minutes, 50)
    p90 = percentile(minutes, 90)
    return ResponseTimes(
        hub_facility_code=hub,
        urgency=urgency,
        answered=len(minutes),
        median_minutes=round(median, 1) if median is not None else None,
        p90_minutes=round(p90, 1) if p90 is not None else None,
        breached=breached,
        breach_rate=round(breached / len(due), 4) if due else None,
    )


def metrics(
    session: Session,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    hub_ids: Collection[int] | None = None,
    now: datetime | None = None,
) -> ConsultMetrics:
    moment = now or utcnow()
    cases = repo.answered_since(session, start, end, hub_ids)
    groups: dict[tuple[int, ConsultUrgency], list[ConsultCase]] = defaultdict(list)
    for c in cases:
        hub = c.answer_facility_id or c.hub_facility_id
        if hub is not None:
            groups[(hub, c.urgency)].append(c)
    codes = {f.id: f.code for f in repo.facilities(session, {h for h, _u in groups}).values()}
    outcomes = {o.value: 0 for o in ConsultOutcome}
    for c in cases:
        if c.outcome is not None:
            outcomes[c.outcome.value] += 1
    known = outcomes["treated_locally"] + outcomes["transferred"]
    overall = summarise(cases, moment, None, None)
    return ConsultMetrics(
        cases=len(cases),
        answered=overall.answered,
        in_flight=sum(1 for c in cases if c.answered_at is None and c.outcome is None),
        breached=overall.breached,
        breach_rate=overall.breach_rate,
        outcomes=outcomes,
        treated_locally_share=round(outcomes["treated_locally"] / known, 4) if known else None,
        transferred_share=round(outcomes["transferred"] / known, 4) if known else None,
        overall=overall,
        by_hub_and_urgency=[
            summarise(rows, moment, codes.get(hub), urgency)
            for (hub, urgency), rows in sorted(
                groups.items(),
                key=lambda kv: (codes.get(kv[0][0], ""), list(ConsultUrgency).index(kv[0][1])),
            )
        ],
    )


def response_time_indicator(
    session: Session, code: str, filters: Any, by: Sequence[Any], scope: Any, lang: str
) -> Any:
    """The reports' ``response-time`` indicator: median hours from request to
    answer of the cases answered by the hubs the filters and scope allow
    (requested in the period), split by hub facility when asked."""
    from puente.reports.indicators import Breakdown, Measure
    from puente.reports.service import Result, Row, facility_ids

    hub_ids = facility_ids(session, filters, scope)
    start = datetime.combine(filters.start, time.min, UTC) if filters.start else None
    end = datetime.combine(filters.end, time.min, UTC) + timedelta(days=1) if filters.end else None
    cases = [
        c
        for c in repo.answered_since(session, start, end, hub_ids)
        if c.answered_at is not None and (hub_ids is None or c.answer_facility_id in set(hub_ids))
    ]

    def median_hours(rows: Sequence[ConsultCase]) -> float | None:
        hours = [
            (c.answered_at - c.requested_at).total_seconds() / 3600 for c in rows if c.answered_at
        ]
        found = percentile(hours, 50)
        return round(found, 2) if found is not None else None

    rows: list[Any] = []
    if list(by) == [Breakdown.facility]:
        groups: dict[int, list[ConsultCase]] = defaultdict(list)
        for c in cases:
            assert c.answer_facility_id is not None
            groups[c.answer_facility_id].append(c)
        places = repo.facilities(session, set(groups))
        rows = [
            Row({"facility": places[h].code}, {"facility": places[h].name}, median_hours(g))
            for h, g in sorted(groups.items(), key=lambda kv: places[kv[0]].code)
        ]
    return Result(code, Measure.response, median_hours(cases), tuple(by), rows)
