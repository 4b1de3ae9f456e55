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

from sqlalchemy import Date, Float, and_, case, cast, func, or_, select, text, tuple_
from sqlalchemy.orm import Session

from puente.consults import repository as repo
from puente.consults.models import ConsultCase
from puente.consults.reads import is_breached
from puente.db import among, utcnow
from puente.enums import ConsultOutcome, ConsultUrgency
from puente.network.models import Facility, Region
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
    it was requested (in UTC).

    The database does the counting: one grouped query over the cases' own
    columns (``percentile_cont`` on PostgreSQL; on SQLite, which has none, the
    percentiles are taken over the fetched hours). Figures are the same as
    :func:`summarise` gives over the cases: see the tests."""
    from puente.errors import FieldError, Unprocessable
    from puente.reports.service import FACILITY_KEYS, Labeller, Result, facility_ids, order_rows

    statistic = ind.extra.get("statistic", "median")
    unsupported = [k.value for k in by if k.value not in CASE_BREAKDOWNS]
    if unsupported:
        raise Unprocessable(
            f"{ind.code} cannot be broken down by {', '.join(unsupported)}.",
            errors=[FieldError("by", f"one of {', '.join(sorted(CASE_BREAKDOWNS))}")],
        )
    # Cases have no campaign, mode, citizenship or service of the ledger's:
    # a filter on one would be silently ignored, so it is refused by name.
    ignored = {
        "campaign": filters.campaign,
        "mode": filters.mode,
        "citizenship": filters.citizenship,
        "foreign": filters.foreign,
        "services": filters.services,
    }
    given = [name for name, value in ignored.items() if value not in (None, ())]
    if given:
        raise Unprocessable(
            f"{ind.code} counts consult cases, which {', '.join(given)} does not filter.",
            errors=[FieldError(name, "not a filter of this indicator") for name in given],
        )
    hub_ids = facility_ids(session, filters, scope)
    start = datetime.combine(filters.start, time.min, UTC) if filters.start else None
    end = datetime.combine(filters.end, time.min, UTC) + timedelta(days=1) if filters.end else None
    postgres = session.get_bind().dialect.name == "postgresql"
    c = ConsultCase
    hub = func.coalesce(c.answer_facility_id, c.hub_facility_id)
    columns = _case_columns(session, by, hub)
    where: list[Any] = [hub.is_not(None)]
    if start is not None:
        where.append(c.requested_at >= start)
    if end is not None:
        where.append(c.requested_at < end)
    if hub_ids is not None:
        where.append(among(session, hub, hub_ids))
    now = utcnow()
    breached = or_(
        c.breached_at.is_not(None),
        and_(c.answered_at.is_not(None), c.answered_at > c.first_due_at),
        and_(c.answered_at.is_(None), c.first_due_at < now),
    )
    due = or_(c.answered_at.is_not(None), c.first_due_at < now)

    def query(*selected: Any) -> Any:
        q = select(*selected).select_from(c)
        if any(k in FACILITY_KEYS for k in by):
            q = q.join(Facility, Facility.id == hub)
        if any(k.value == "region" for k in by):
            q = q.join(Region, Region.id == Facility.region_id)
        return q.where(*where)

    keys = [col.label(f"k{i}") for i, col in enumerate(columns)]
    grouped: list[tuple[Any, ...]]
    total: float | int | None
    if statistic in ("median", "p90"):
        fraction = 0.5 if statistic == "median" else 0.9
        if postgres:
            # In double precision (extract gives numeric, slower to sort), with
            # room to sort a network's cases in memory (4 MB spills 200,000).
            session.execute(text("SET LOCAL work_mem = '64MB'"))
            seconds = cast(func.extract("epoch", c.answered_at - c.requested_at), Float)
            value: Any = func.percentile_cont(fraction).within_group(seconds / 3600.0)
            if not keys:
                total, grouped = _hours(session.execute(query(value)).scalar()), []
            else:
                # The groups and the whole in one scan: the row of the empty
                # grouping set (GROUPING() = 1) is the total.
                whole = func.grouping(*keys)
                sets = func.grouping_sets(tuple_(*keys), tuple_())
                total, grouped = None, []
                for r in session.execute(query(*keys, whole, value).group_by(sets)):
                    if r[-2]:
                        total = _hours(r[-1])
                    else:
                        grouped.append((*r[:-2], _hours(r[-1])))
        else:
            found: dict[tuple[Any, ...], list[float]] = defaultdict(list)
            every: list[float] = []
            # Subtracting in Python: SQLite's julianday() rounds to the millisecond.
            for r in session.execute(query(*keys, c.requested_at, c.answered_at)):
                spent = found[tuple(r[:-2])]
                if r[-1] is not None:
                    spent.append((r[-1] - r[-2]).total_seconds() / 3600)
                    every.append(spent[-1])
            total = _hours(percentile(every, 100 * fraction))
            grouped = [
                (*key, _hours(percentile(spent, 100 * fraction))) for key, spent in found.items()
            ]
    else:
        counts = (
            func.coalesce(func.sum(case((breached, 1), else_=0)), 0),
            func.coalesce(func.sum(case((due, 1), else_=0)), 0),
        )

        def figure(breaches: Any, owing: Any) -> float | int | None:
            if statistic == "breaches":
                return int(breaches or 0)
            return round(100 * int(breaches or 0) / int(owing), 1) if owing else None

        if not keys:
            total, grouped = figure(*session.execute(query(*counts)).one()), []
        else:
            # Counts add up: the whole is the sum of its groups.
            parts = [tuple(r) for r in session.execute(query(*keys, *counts).group_by(*keys))]
            total = figure(sum(int(r[-2]) for r in parts), sum(int(r[-1]) for r in parts))
            grouped = [(*r[:-2], figure(r[-2], r[-1])) for r in parts]
    if not by:
        return Result(ind.code, ind.measure, total, tuple(by), [])
    rows = order_rows(by, Labeller(session, lang).rows(by, grouped))
    return Result(ind.code, ind.measure, total, tuple(by), rows)


def _hours(value: Any) -> float | None:
    return round(float(value), 2) if value is not None else None


def _case_columns(session: Session, by: Sequence[Any], hub: Any) -> list[Any]:
    """The group-by column of each breakdown, over the case and its ``hub``
    (joined as Facility, and Region for ``region``); days are UTC days."""
    from puente.reports.service import bucket

    c = ConsultCase
    places: dict[str, Any] = {
        "facility": hub,
        "country": Facility.country_code,
        "region": func.coalesce(Region.parent_id, Region.id),
        "tier": Facility.tier,
        "specialty": c.specialty_id,
    }
    if session.get_bind().dialect.name == "postgresql":
        day: Any = cast(func.timezone("UTC", c.requested_at), Date)
    else:
        day = func.date(c.requested_at)
    return [places[k.value] if k.value in places else bucket(session, day, k) for k in by]
