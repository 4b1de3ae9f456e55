"""The remote-consultation indicators are counted by the database; here they
are held against the same figures taken case by case in Python (the rank
interpolation of :func:`percentile` and the rule of :func:`is_breached`),
for every statistic and every breakdown the indicators allow."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from puente.catalog.models import Specialty
from puente.consults import repository as repo
from puente.consults.metrics import percentile
from puente.consults.models import ConsultCase
from puente.consults.reads import is_breached
from puente.network.models import Facility, Region
from puente.reports.indicators import Breakdown
from puente.reports.service import Filters, bucket_start, compute
from tests.consults.network import Net, case_body

QUARTER = datetime(2026, 1, 1, tzinfo=UTC)
HUBS = ("bachmai", "nhi", "mittaphab", "qninh")


def a_quarter_of_cases_from_dr_lan(app: FastAPI, net: Net, count: int = 30) -> None:
    """Dr. Lan's cases spread over January–March 2026 (some just before a
    UTC midnight, where a Hanoi date would differ), answered at four hubs in
    two countries and two tiers, a quarter never answered, some escalated,
    a few sent ten minutes ago."""
    rng = random.Random(2020)
    with net.client(app, "dr.lan") as c:
        ids = [
            c.post(
                "/api/consults",
                json=case_body(
                    patient_id=net.ids["tuan"],
                    specialty_code=rng.choice(["cardiology", "pediatrics", "neurology"]),
                    urgency=rng.choice(["emergency", "urgent", "routine"]),
                ),
            ).json()["id"]
            for _ in range(count)
        ]
    for case_id in ids:
        case = repo.case(net.db, case_id)
        assert case is not None
        requested = QUARTER + timedelta(days=rng.randrange(90), minutes=rng.randrange(24 * 60))
        if rng.random() < 0.2:
            requested = requested.replace(hour=23, minute=50)
        if rng.random() < 0.15:  # in flight, its deadline still ahead
            requested = datetime.now(UTC) - timedelta(minutes=10)
        case.requested_at = requested
        case.first_due_at = requested + timedelta(minutes=rng.choice([30, 240]))
        hub = net.ids[rng.choice(HUBS)]
        if rng.random() < 0.25:
            case.answered_at = None
            case.answer_facility_id = None
            case.hub_facility_id = hub
            case.breached_at = requested + timedelta(hours=1) if rng.random() < 0.5 else None
        else:
            case.answered_at = requested + timedelta(minutes=rng.randrange(5, 600))
            case.answer_facility_id = hub
            case.breached_at = None
    net.db.flush()


def by_hand(
    net: Net, statistic: str, by: list[Breakdown]
) -> tuple[Any, dict[tuple[str, ...], Any]]:
    """The figure of every group, case by case, keyed by the codes a report
    row carries."""
    now = datetime.now(UTC)
    cases = [
        c
        for c in net.db.scalars(select(ConsultCase))
        if (c.answer_facility_id or c.hub_facility_id) is not None
    ]
    facilities = {f.id: f for f in net.db.scalars(select(Facility))}
    regions = {r.id: r for r in net.db.scalars(select(Region))}
    specialties = {s.id: s.code for s in net.db.scalars(select(Specialty))}

    def key(case: ConsultCase, breakdown: Breakdown) -> str:
        hub = facilities[case.answer_facility_id or case.hub_facility_id or 0]
        region = regions[hub.region_id]
        day = case.requested_at.astimezone(UTC).date()
        keys: dict[Breakdown, Callable[[], str]] = {
            Breakdown.facility: lambda: hub.code,
            Breakdown.country: lambda: hub.country_code,
            Breakdown.region: lambda: regions[region.parent_id or region.id].code,
            Breakdown.tier: lambda: hub.tier.value,
            Breakdown.specialty: lambda: specialties[case.specialty_id],
        }
        if breakdown in keys:
            return keys[breakdown]()
        return bucket_start(day, breakdown).isoformat()

    def figure(rows: list[ConsultCase]) -> Any:
        if statistic in ("median", "p90"):
            hours = [
                (c.answered_at - c.requested_at).total_seconds() / 3600
                for c in rows
                if c.answered_at is not None
            ]
            found = percentile(hours, 50 if statistic == "median" else 90)
            return None if found is None else round(found, 2)
        breached = sum(1 for c in rows if is_breached(c, now))
        if statistic == "breaches":
            return breached
        due = [c for c in rows if c.answered_at is not None or now > c.first_due_at]
        return round(100 * breached / len(due), 1) if due else None

    groups: dict[tuple[str, ...], list[ConsultCase]] = defaultdict(list)
    for case in cases:
        groups[tuple(key(case, b) for b in by)].append(case)
    return figure(cases), {k: figure(rows) for k, rows in groups.items()}


STATISTICS = {
    "response-time": "median",
    "response-time-p90": "p90",
    "deadline-breaches": "breaches",
    "breach-rate": "rate",
}
BREAKDOWNS = [
    [],
    [Breakdown.facility],
    [Breakdown.country],
    [Breakdown.region],
    [Breakdown.tier],
    [Breakdown.specialty],
    [Breakdown.day],
    [Breakdown.week],
    [Breakdown.month],
    [Breakdown.country, Breakdown.month],
    [Breakdown.specialty, Breakdown.tier],
]


@pytest.mark.parametrize("code", sorted(STATISTICS))
def test_the_analyst_reads_the_same_consult_figures_the_cases_give_one_by_one(
    app: FastAPI, net: Net, code: str
) -> None:
    a_quarter_of_cases_from_dr_lan(app, net)
    for by in BREAKDOWNS:
        total, groups = by_hand(net, STATISTICS[code], by)
        result = compute(net.db, code, by=by)
        # Hours are rounded to the hundredth; the database's float arithmetic
        # may land a value of exactly ….xx5 on the other side.
        tolerance = 0.011 if code.startswith("response-time") else 0
        assert result.total == pytest.approx(total, abs=tolerance), (code, by)
        got = {tuple(r.keys[b.value] for b in by): r.value for r in result.rows}
        if by:
            assert got == pytest.approx(groups, abs=tolerance), (code, by)


def test_a_period_and_a_hub_bound_the_consult_figures(app: FastAPI, net: Net) -> None:
    a_quarter_of_cases_from_dr_lan(app, net)
    winter = Filters(start=date(2026, 1, 10), end=date(2026, 2, 28), facilities=("VN-BACHMAI",))
    inside = [
        c
        for c in net.db.scalars(select(ConsultCase))
        if (c.answer_facility_id or c.hub_facility_id) == net.ids["bachmai"]
        and date(2026, 1, 10) <= c.requested_at.astimezone(UTC).date() <= date(2026, 2, 28)
    ]
    now = datetime.now(UTC)
    breaches = compute(net.db, "deadline-breaches", winter)
    assert inside and breaches.total == sum(1 for c in inside if is_breached(c, now))
    hours = [
        (c.answered_at - c.requested_at).total_seconds() / 3600
        for c in inside
        if c.answered_at is not None
    ]
    median = percentile(hours, 50)
    assert median is not None
    assert compute(net.db, "response-time", winter).total == pytest.approx(median, abs=0.01)


def test_a_ledger_only_filter_on_a_consult_figure_is_refused_by_name(
    app: FastAPI, net: Net
) -> None:
    a_quarter_of_cases_from_dr_lan(app, net)
    with net.client(app, "analyst") as c:
        kept = c.get("/api/reports/breach-rate", params={"tier": "central"})
        refused = c.get(
            "/api/reports/response-time", params={"citizenship": "LA", "mode": "virtual"}
        )
    assert kept.status_code == 200, kept.text
    assert refused.status_code == 422, refused.text
    assert {e["field"] for e in refused.json()["errors"]} == {"citizenship", "mode"}
