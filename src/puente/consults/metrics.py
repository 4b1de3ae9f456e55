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

__all__ = [
    "ConsultMetrics",
    "ResponseTimes",
    "consult_indicator",
    "metrics",
    "percentile",
    "summarise",
]


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


# The reports' remote-consultation indicators: which statistic each computes
# over the cases requested in the period at the hubs in view (the answering
# hub, or the hub holding the case while unanswered).
CASE_BREAKDOWNS = frozenset(
    {"country", "region", "facility", "tier", "specialty", "day", "week", "month"}
)


def consult_indicator(
    session: Session, ind: Any, filters: Any, by: Sequence[Any], scope: Any, lang: str
) -> Any:
    """A remote-consultation indicator (``ind.extra["statistic"]``: median or
    90th-percentile hours from request to answer, deadline breaches, or the
    share of due cases that breached), split by the hub's place (facility,
    region, country, tier), the case's specialty, or the day / week / month
    it was requested."""
    from puente.errors import FieldError, Unprocessable
    from puente.reports.indicators import Breakdown
    from puente.reports.service import (
        Labeller,
        Result,
        bucket_start,
        facility_attributes,
        facility_ids,
        order_rows,
    )

    statistic = ind.extra.get("statistic", "median")
    unsupported = [k.value for k in by if k.value not in CASE_BREAKDOWNS]
    if unsupported:
        raise Unprocessable(
            f"{ind.code} cannot be broken down by {', '.join(unsupported)}.",
            errors=[FieldError("by", f"one of {', '.join(sorted(CASE_BREAKDOWNS))}")],
        )
    hub_ids = facility_ids(session, filters, scope)
    start = datetime.combine(filters.start, time.min, UTC) if filters.start else None
    end = datetime.combine(filters.end, time.min, UTC) + timedelta(days=1) if filters.end else None
    allowed = None if hub_ids is None else set(hub_ids)

    def hub(c: ConsultCase) -> int | None:
        return c.answer_facility_id or c.hub_facility_id

    cases = [
        c
        for c in repo.answered_since(session, start, end, hub_ids)
        if hub(c) is not None and (allowed is None or hub(c) in allowed)
    ]
    now = utcnow()

    def value(rows: Sequence[ConsultCase]) -> float | int | None:
        if statistic in ("median", "p90"):
            hours = [
                (c.answered_at - c.requested_at).total_seconds() / 3600
                for c in rows
                if c.answered_at is not None
            ]
            found = percentile(hours, 50 if statistic == "median" else 90)
            return round(found, 2) if found is not None else None
        breached = sum(1 for c in rows if is_breached(c, now))
        if statistic == "breaches":
            return breached
        due = [c for c in rows if c.answered_at is not None or now > c.first_due_at]
        return round(100 * breached / len(due), 1) if due else None

    if not by:
        return Result(ind.code, ind.measure, value(cases), tuple(by), [])
    places = facility_attributes(session, {h for c in cases if (h := hub(c)) is not None})
    groups: dict[tuple[Any, ...], list[ConsultCase]] = defaultdict(list)
    for c in cases:
        attributes = places[hub(c) or 0]
        day = c.requested_at.astimezone(UTC).date()
        key: list[Any] = []
        for k in by:
            if k == Breakdown.specialty:
                key.append(c.specialty_id)
            elif k in (Breakdown.day, Breakdown.week, Breakdown.month):
                key.append(bucket_start(day, k))
            else:
                key.append(attributes[k])
        groups[tuple(key)].append(c)
    raw = [(*key, value(rows)) for key, rows in groups.items()]
    rows = order_rows(by, Labeller(session, lang).rows(by, raw))
    return Result(ind.code, ind.measure, value(cases), tuple(by), rows)
