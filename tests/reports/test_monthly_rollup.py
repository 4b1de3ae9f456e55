"""Dashboards read whole months from the monthly rollup and the days around
them from the daily one. Whatever the period, program enrolment or breakdown,
the figures equal the sums of the raw ledger rows."""

from __future__ import annotations

import random
from datetime import date, timedelta

import pytest
from sqlalchemy.orm import Session

from puente.catalog.service import service_ids_by_code, sync_catalog
from puente.enums import LedgerSource, Mode, ProgramKind
from puente.ledger import service as ledger
from puente.network.models import Program, ProgramEnrolment
from puente.reports import service
from puente.reports.indicators import Breakdown
from puente.reports.service import Filters, Window, by_month
from tests import factories as f

D = date


@pytest.mark.parametrize(
    ("window", "daily", "monthly"),
    [
        ((D(2022, 1, 15), D(2022, 3, 10)),
         [(D(2022, 1, 15), D(2022, 1, 31)), (D(2022, 3, 1), D(2022, 3, 10))],
         [(D(2022, 2, 1), D(2022, 2, 28))]),
        ((D(2022, 1, 1), D(2022, 1, 31)), [], [(D(2022, 1, 1), D(2022, 1, 31))]),
        ((D(2022, 1, 5), D(2022, 1, 20)), [(D(2022, 1, 5), D(2022, 1, 20))], []),
        ((D(2022, 1, 20), D(2022, 2, 10)), [(D(2022, 1, 20), D(2022, 2, 10))], []),
        ((None, None), [], [(None, None)]),
        ((None, D(2022, 3, 10)), [(D(2022, 3, 1), D(2022, 3, 10))], [(None, D(2022, 2, 28))]),
        ((D(2022, 1, 15), None), [(D(2022, 1, 15), D(2022, 1, 31))], [(D(2022, 2, 1), None)]),
        ((D(2024, 2, 1), D(2024, 2, 29)), [], [(D(2024, 2, 1), D(2024, 2, 29))]),
    ],
)  # fmt: skip
def test_a_period_splits_into_whole_months_and_the_days_around_them(
    window: tuple[date | None, date | None],
    daily: list[tuple[date | None, date | None]],
    monthly: list[tuple[date | None, date | None]],
) -> None:
    got_daily, got_monthly = by_month([Window((1,), *window)])
    assert [(w.lo, w.hi) for w in got_daily] == daily
    assert [(w.lo, w.hi) for w in got_monthly] == monthly
    assert all(w.ids == (1,) for w in got_daily + got_monthly)


def _world(db: Session) -> None:
    """Three Moscow polyclinics with half a year of virtual visits; two of
    them joined the program, one mid-February and only until mid-April."""
    sync_catalog(db)
    f.region(db, "RU-MOW", "Москва")
    f.region(db, "RU-MOS", "Московская область")
    gp1 = f.facility(db, "RU-MOW-GP001", region_code="RU-MOW")
    gp2 = f.facility(db, "RU-MOW-GP002", region_code="RU-MOW")
    gp3 = f.facility(db, "RU-MOS-GP003", region_code="RU-MOS")
    program = Program(code="msk-tm", name="Телемедицина", kind=ProgramKind.virtual_visits,
                      country_code="RU")  # fmt: skip
    db.add(program)
    db.flush()
    db.add_all([
        ProgramEnrolment(program_id=program.id, facility_id=gp1.id, start_date=D(2022, 1, 1)),
        ProgramEnrolment(program_id=program.id, facility_id=gp2.id, start_date=D(2022, 2, 15),
                         end_date=D(2022, 4, 10)),
    ])  # fmt: skip
    services = service_ids_by_code(db, ["virtual-visit", "in-person-visit-avoided"])
    rng = random.Random(2022)
    rows = []
    day = D(2021, 12, 1)
    while day <= D(2022, 5, 31):
        for facility in (gp1, gp2, gp3):
            for code, sid in services.items():
                if rng.random() < 0.6:
                    rows.append({
                        "facility_id": facility.id, "day": day, "service_id": sid,
                        "count": rng.randint(1, 9), "mode": Mode.virtual,
                        "citizenship": rng.choice([None, "RU", "KZ"]),
                        "source": LedgerSource.import_,
                        "source_ref": f"{facility.code}:{day}:{code}",
                    })  # fmt: skip
        day += timedelta(days=1)
    ledger.record_many(db, rows)
    # and one more, written row by row as a closed visit writes it
    ledger.record(db, facility_id=gp1.id, day=D(2022, 3, 31), service_id=services["virtual-visit"],
                  mode=Mode.virtual, source=LedgerSource.visit, source_ref="visit:1")  # fmt: skip


PERIODS = [
    (None, None),
    (D(2022, 1, 10), D(2022, 3, 20)),
    (D(2022, 2, 1), D(2022, 2, 28)),
    (D(2022, 2, 3), D(2022, 2, 5)),
    (D(2021, 12, 1), D(2022, 4, 30)),
]
BREAKDOWNS = [
    [],
    [Breakdown.month],
    [Breakdown.region],
    [Breakdown.facility, Breakdown.month],
    [Breakdown.service],
    [Breakdown.citizenship],
    [Breakdown.week],
]


@pytest.mark.parametrize("program", [None, "msk-tm"])
def test_figures_equal_the_raw_ledger_for_every_period_and_breakdown(
    db: Session, program: str | None
) -> None:
    _world(db)
    for start, end in PERIODS:
        filters = Filters(start=start, end=end, program=program)
        for by in BREAKDOWNS:
            live = service.compute(db, "services", filters, by=by)
            raw = service.compute(db, "services", filters, by=by, from_entries=True)
            assert live.total == raw.total, (start, end, by)
            assert live.total and live.total > 0
            assert sorted((tuple(r.keys.values()), r.value) for r in live.rows) == sorted(
                (tuple(r.keys.values()), r.value) for r in raw.rows
            ), (start, end, by)


def test_facilities_that_joined_in_one_month_share_their_whole_months() -> None:
    daily, monthly = by_month(
        [Window((1,), D(2022, 1, 15), None), Window((2,), D(2022, 1, 20), None)]
    )
    assert [(w.ids, w.lo, w.hi) for w in monthly] == [((1, 2), D(2022, 2, 1), None)]
    assert sorted((w.ids, w.lo) for w in daily) == [
        ((1,), D(2022, 1, 15)),
        ((2,), D(2022, 1, 20)),
    ]


def test_the_period_of_a_program_runs_from_its_first_to_its_last_ledger_day(
    db: Session,
) -> None:
    _world(db)
    assert service.period_of(db, Filters(program="msk-tm"), None) == (
        D(2021, 12, 1),
        D(2022, 5, 31),
    )
    narrowed = Filters(facilities=("RU-MOS-GP003",), start=D(2022, 1, 1))
    first, last = service.period_of(db, narrowed, None) or (None, None)
    assert first is not None and first <= D(2021, 12, 3) and last == D(2022, 5, 31)
    assert service.period_of(db, Filters(campaign="none-such"), None) is None
