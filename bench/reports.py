"""Dashboard queries over a big ledger, on PostgreSQL.

    PUENTE_BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/puente \\
        .venv/bin/python bench/reports.py [--rows 10000000] [--repeat 30] [--reuse]

(PUENTE_TEST_DATABASE_URL is used when the first is not set.) The run takes a
sibling database ``<name>_reports_bench``, which it empties. It builds four
programs shaped like the demo world's (a recovery campaign at 60 units, 40
polyclinics with virtual visits, 1,000 bridge points of a remote-care
network, 20 export clinics with foreign patients) plus 2,000 facilities
outside any program, then generates ``--rows`` ledger entries server-side
(``INSERT … SELECT generate_series``, no round trips) and sums them into the
rollup in one statement — what ``record_many`` does, in bulk. The remote-care
network also gets ``--cases`` consult cases (default one per 50 ledger rows:
200,000 for 10 million), which its response-time and breach figures count.

Each dashboard query (the exact calls the dashboard pages make, through
:func:`puente.reports.service.compute`) runs ``--repeat`` times; p50 and p95
are printed, and beside them the time of the same figure summed from the raw
ledger entries. The last line on stdout is one JSON object with everything.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from datetime import date
from typing import Any

from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from puente.catalog.models import Service, Specialty
from puente.catalog.service import sync_catalog
from puente.consults.models import ConsultCase
from puente.db import make_engine, sibling_postgres_database
from puente.enums import FacilityKind, ProgramKind, RegionLevel, Tier
from puente.ledger.models import LedgerEntry, LedgerRollup
from puente.migrate import upgrade
from puente.network.models import Country, Facility, Program, ProgramEnrolment, Region
from puente.reports import service
from puente.reports.indicators import Breakdown
from puente.reports.service import Filters

# name: (share of rows, country, facilities, first day, days, services, citizenships)
SHAPES: dict[str, tuple[float, str, int, date, int, list[str], list[str]]] = {
    "recovery": (0.10, "MX", 60, date(2021, 5, 14), 3,
                 ["surgery-general", "consult-family-medicine", "consult-cardiology",
                  "screen-mammography", "screen-diabetes", "screen-hypertension"], []),
    "virtual": (0.35, "RU", 40, date(2022, 2, 1), 240,
                ["virtual-visit", "virtual-ari-covid", "in-person-visit-avoided"], []),
    "remote": (0.15, "VN", 1000, date(2020, 9, 1), 660,
               ["remote-consultation", "remote-case-conference", "tele-education"], []),
    "export": (0.10, "RU", 20, date(2018, 1, 1), 730,
               ["diagnostics", "consult-gynecology", "surgery-general", "dental-treatment"],
               ["KZ", "UZ", "TJ", "AZ", "AM", "CN"]),
    "background": (0.30, "MX", 2000, date(2021, 1, 1), 365,
                   ["consult-family-medicine", "consult-pediatrics", "screen-diabetes",
                    "imaging-xray", "diagnostics-laboratory"], []),
}  # fmt: skip
PROGRAMS = {
    "recovery": ("bench-recovery", ProgramKind.deferred_care_recovery),
    "virtual": ("bench-virtual", ProgramKind.virtual_visits),
    "remote": ("bench-remote", ProgramKind.remote_care_network),
    "export": ("bench-export", ProgramKind.medical_services_export),
}


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _database(base: str, *, keep: bool = False) -> str:
    return sibling_postgres_database(base, "reports_bench", empty=not keep)


def _world(session: Session) -> dict[str, tuple[int, int]]:
    """Facilities of every shape; returns shape → (first facility id, last)."""
    sync_catalog(session)
    for code, name in (("MX", "Mexico"), ("RU", "Russia"), ("VN", "Viet Nam")):
        session.add(Country(code=code, name=name, default_timezone="UTC"))
    session.flush()
    regions: dict[str, list[int]] = {}
    for country in ("MX", "RU", "VN"):
        rows = [
            Region(code=f"{country}-R{n:02d}", name=f"{country} region {n}",
                   level=RegionLevel.region, country_code=country)
            for n in range(32)
        ]  # fmt: skip
        session.add_all(rows)
        session.flush()
        regions[country] = [r.id for r in rows]
    spans: dict[str, tuple[int, int]] = {}
    for shape, (_share, country, count, first, _days, _s, _c) in SHAPES.items():
        units = [
            Facility(code=f"B-{shape[:3].upper()}-{n:04d}", name=f"{shape} {n}",
                     tier=Tier.level2, kind=FacilityKind.general_hospital,
                     region_id=regions[country][n % 32], country_code=country, timezone="UTC")
            for n in range(count)
        ]  # fmt: skip
        session.add_all(units)
        session.flush()
        spans[shape] = (units[0].id, units[-1].id)
        if shape in PROGRAMS:
            code, kind = PROGRAMS[shape]
            program = Program(code=code, name=code, kind=kind, country_code=country)
            session.add(program)
            session.flush()
            session.add_all(
                ProgramEnrolment(program_id=program.id, facility_id=f.id,
                                 start_date=date.fromordinal(first.toordinal() - 60 + n % 60))
                for n, f in enumerate(units)
            )  # fmt: skip
    session.flush()
    return spans


_GENERATE = """
INSERT INTO ledger_entry (facility_id, day, service_id, count, mode, campaign_code,
                          citizenship, patient_id, source, source_ref, recorded_at)
SELECT CAST(:first_facility AS int) + floor(random() * :facilities)::int,
       CAST(:first_day AS date) + floor(random() * :days)::int,
       (CAST(:services AS int[]))[1 + floor(random() * :n_services)::int],
       1 + floor(random() * random() * 4)::int,
       :mode, :campaign,
       CASE WHEN :n_citizenships = 0 THEN NULL
            ELSE (CAST(:citizenships AS varchar[]))[1 + floor(random() * :n_citizenships)::int] END,
       NULL, 'import', NULL, now()
FROM generate_series(1, :rows)
"""
_ROLLUP = """
INSERT INTO ledger_rollup (facility_id, day, service_id, mode, campaign_code, citizenship,
                           count, entries)
SELECT facility_id, day, service_id, mode, coalesce(campaign_code, ''),
       coalesce(citizenship, ''), sum(count), count(*)
FROM ledger_entry GROUP BY 1, 2, 3, 4, 5, 6
"""
_MONTHLY = """
INSERT INTO ledger_rollup_month (facility_id, day, service_id, mode, campaign_code, citizenship,
                                 count, entries)
SELECT facility_id, date_trunc('month', day)::date, service_id, mode, campaign_code,
       citizenship, sum(count), sum(entries)
FROM ledger_rollup GROUP BY 1, 2, 3, 4, 5, 6
"""


# Consult cases of the remote-care network: spokes and hubs among its
# facilities (the first tenth are the hubs), requested over its days; nine in
# ten answered after 5 minutes to 3 days, one in five of those past the first
# deadline; the rest still open, some escalated.
_CASES = """
INSERT INTO consult_case (spoke_facility_id, specialty_id, urgency, question, clinical_summary,
                          vitals, answer_language, status, hub_facility_id, requested_at, due_at,
                          first_due_at, escalation_stage, breached_at, answered_at,
                          answer_facility_id, diagnoses, created_at, updated_at)
SELECT spoke, specialty, urgency, 'bench', 'bench', '{}', 'vi',
       CASE WHEN answered THEN 'answered' ELSE 'open' END, hub, requested, due, due, 0,
       CASE WHEN NOT answered AND due < now() THEN due END,
       CASE WHEN answered THEN requested + make_interval(mins => spent) END,
       CASE WHEN answered THEN hub END, '[]', requested, requested
FROM (
  SELECT CAST(:first_facility AS int) + :hubs + floor(random() * (:facilities - :hubs))::int
           AS spoke,
         CAST(:first_facility AS int) + floor(random() * :hubs)::int AS hub,
         (CAST(:specialties AS int[]))[1 + floor(random() * :n_specialties)::int] AS specialty,
         u.urgency, requested, requested + u.deadline AS due,
         random() < 0.9 AS answered,
         CASE WHEN random() < 0.2 THEN floor(extract(epoch FROM u.deadline) / 60
                                             * (1 + 3 * random()))::int
              ELSE 5 + floor(random() * extract(epoch FROM u.deadline) / 60)::int END AS spent
  FROM (SELECT CAST(:first_day AS timestamptz) + random() * make_interval(days => :days)
                 AS requested,
               floor(random() * 3)::int AS pick
        FROM generate_series(1, :cases)) g
  JOIN (VALUES (0, 'emergency', interval '30 minutes'), (1, 'urgent', interval '4 hours'),
               (2, 'routine', interval '72 hours')) AS u(pick, urgency, deadline)
    ON u.pick = g.pick
) c
"""


def _generate_cases(engine: Engine, spans: dict[str, tuple[int, int]], cases: int) -> None:
    _share, _country, count, first, days, _codes, _nations = SHAPES["remote"]
    started = time.perf_counter()
    with engine.begin() as conn:
        specialties = list(conn.execute(select(Specialty.id).order_by(Specialty.id)).scalars())
        conn.execute(
            text(_CASES),
            {
                "first_facility": spans["remote"][0],
                "facilities": count,
                "hubs": count // 10,
                "first_day": first,
                "days": days,
                "specialties": specialties[:12],
                "n_specialties": min(12, len(specialties)),
                "cases": cases,
            },
        )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE consult_case"))
    _log(f"  consult cases: {cases:,} in {time.perf_counter() - started:.1f} s")


def _generate(engine: Engine, spans: dict[str, tuple[int, int]], rows: int) -> None:
    with engine.begin() as conn:
        services = dict(conn.execute(select(Service.code, Service.id)).all())
        for shape, (share, _country, count, first, days, codes, nations) in SHAPES.items():
            n = int(rows * share)
            started = time.perf_counter()
            conn.execute(
                text(_GENERATE),
                {
                    "first_facility": spans[shape][0],
                    "facilities": count,
                    "first_day": first,
                    "days": days,
                    "services": [services[c] for c in codes],
                    "n_services": len(codes),
                    "mode": "virtual" if shape in ("virtual", "remote") else "in_person",
                    "campaign": "bench-day" if shape == "recovery" else None,
                    "citizenships": nations or ["XX"],
                    "n_citizenships": len(nations),
                    "rows": n,
                },
            )
            _log(f"  {shape}: {n:,} entries in {time.perf_counter() - started:.1f} s")
        started = time.perf_counter()
        conn.execute(text(_ROLLUP))
        conn.execute(text(_MONTHLY))
        _log(f"  rollups (daily, monthly) summed in {time.perf_counter() - started:.1f} s")
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE ledger_entry"))
        conn.execute(text("VACUUM ANALYZE ledger_rollup"))
        conn.execute(text("VACUUM ANALYZE ledger_rollup_month"))
        conn.execute(text("ANALYZE facility"))
        conn.execute(text("ANALYZE program_enrolment"))


def _queries(session: Session) -> list[tuple[str, str, Filters, list[Breakdown]]]:
    """The calls a dashboard page makes, per program (see reports/pages.py):
    first the program's period (its first and last day with ledger rows),
    then every figure over that period."""
    out: list[tuple[str, str, Filters, list[Breakdown]]] = []
    mains = {"recovery": "services", "virtual": "teleconsultations",
             "remote": "remote-consultations", "export": "foreign-patients"}  # fmt: skip
    times = {"recovery": Breakdown.day, "virtual": Breakdown.month, "remote": Breakdown.month,
             "export": Breakdown.month}  # fmt: skip
    for shape, main in mains.items():
        f = Filters(program=PROGRAMS[shape][0])
        out.append((f"{shape}:period", PERIOD, f, []))
        period = service.period_of(session, f, None)
        if period is not None:
            f = f.narrowed(start=period[0], end=period[1])
        out += [
            (f"{shape}:total", main, f, []),
            (f"{shape}:by_country", main, f, [Breakdown.country]),
            (f"{shape}:by_region", main, f.narrowed(country=SHAPES[shape][1]), [Breakdown.region]),
            (f"{shape}:over_time", main, f, [times[shape]]),
            (f"{shape}:ranking", main, f, [Breakdown.service]),
            (f"{shape}:enrolled", "facilities-enrolled", f, [Breakdown.month]),
        ]
        if shape == "remote":
            out += [
                (f"{shape}:{code}", code, f, [])
                for code in ("response-time", "deadline-breaches", "breach-rate")
            ]
            # Not on the page (the API's): measured, outside the dashboard bound.
            out += [
                (f"api:{shape}:p90_by_facility", "response-time-p90", f, [Breakdown.facility]),
                (f"api:{shape}:breach_rate_by_month", "breach-rate", f, [Breakdown.month]),
            ]
        if shape == "export":
            out.append((f"{shape}:citizenships", main, f, [Breakdown.citizenship]))
        if shape == "recovery":
            out.append((f"{shape}:surgeries", "surgeries", f, []))
        if shape == "virtual":
            out.append((f"{shape}:visits_avoided", "visits-avoided", f, []))
    return out


PERIOD = "(period)"
CONSULT_CODES = {"response-time", "response-time-p90", "deadline-breaches", "breach-rate"}


def _time(call: Any, repeat: int) -> tuple[float, float]:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    p95 = samples[min(len(samples) - 1, max(0, round(0.95 * len(samples)) - 1))]
    return statistics.median(samples), p95


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument(
        "--cases",
        type=int,
        default=None,
        help="Consult cases of the remote-care network (default: one per 50 ledger rows)",
    )
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--raw-repeat", type=int, default=3)
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="Measure the rows a previous run generated (same --rows) instead of building anew",
    )
    args = parser.parse_args()
    cases = args.cases if args.cases is not None else args.rows // 50
    base = os.environ.get("PUENTE_BENCH_DATABASE_URL") or os.environ.get("PUENTE_TEST_DATABASE_URL")
    if not base or not base.startswith("postgresql"):
        sys.exit("Set PUENTE_BENCH_DATABASE_URL (or PUENTE_TEST_DATABASE_URL) to PostgreSQL.")
    url = _database(base, keep=args.reuse)
    upgrade(url)
    engine = make_engine(url)
    factory = sessionmaker(bind=engine)
    started = time.perf_counter()
    with factory() as session:
        have = int(session.scalar(select(func.count()).select_from(LedgerEntry)) or 0)
    with factory() as session:
        have_cases = int(session.scalar(select(func.count()).select_from(ConsultCase)) or 0)
    if args.reuse and have == args.rows and have_cases == cases:
        _log(f"Reusing the {have:,} ledger entries of an earlier run")
    else:
        if args.reuse:
            _log(f"Found {have:,} entries and {have_cases:,} cases: building anew")
            url = _database(base)
            upgrade(url)
            engine.dispose()
            engine = make_engine(url)
            factory = sessionmaker(bind=engine)
        with factory.begin() as session:
            spans = _world(session)
        _log(f"Generating {args.rows:,} ledger entries …")
        _generate(engine, spans, args.rows)
        _generate_cases(engine, spans, cases)
    generated = time.perf_counter() - started
    with factory() as session:
        entries = int(session.scalar(select(func.count()).select_from(LedgerEntry)) or 0)
        rollup = int(session.scalar(select(func.count()).select_from(LedgerRollup)) or 0)
        have_cases = int(session.scalar(select(func.count()).select_from(ConsultCase)) or 0)
    _log(f"{entries:,} entries, {rollup:,} rollup rows, built in {generated:.0f} s")
    results: dict[str, dict[str, float]] = {}
    _log(f"{'query':28} {'p50 ms':>8} {'p95 ms':>8} {'raw rows ms':>12}")
    with factory() as session:
        for name, code, filters, by in _queries(session):

            def live(code: str = code, filters: Filters = filters, by: Any = by) -> Any:
                if code == PERIOD:
                    return service.period_of(session, filters, None)
                return service.compute(session, code, filters, by=by)

            def raw(code: str = code, filters: Filters = filters, by: Any = by) -> Any:
                return service.compute(session, code, filters, by=by, from_entries=True)

            live()  # warm the cache as a dashboard in use would be
            p50, p95 = _time(live, args.repeat)
            # Consult figures are counted from the cases themselves: no rollup to set beside.
            no_raw = code == PERIOD or code.startswith("facilities") or code in CONSULT_CODES
            raw_p50 = 0.0 if no_raw else _time(raw, args.raw_repeat)[0]
            results[name] = {"p50_ms": round(p50, 1), "p95_ms": round(p95, 1),
                             "raw_entries_ms": round(raw_p50, 1)}  # fmt: skip
            _log(f"{name:28} {p50:8.1f} {p95:8.1f} {raw_p50:12.1f}")
    worst = max(r["p95_ms"] for name, r in results.items() if not name.startswith("api:"))
    print(
        json.dumps(
            {
                "bench": "reports",
                "entries": entries,
                "rollup_rows": rollup,
                "consult_cases": have_cases,
                "build_seconds": round(generated, 1),
                "repeat": args.repeat,
                "worst_p95_ms": worst,
                "bound_ms": 200,
                "within_bound": worst < 200,
                "queries": results,
            }
        )
    )
    engine.dispose()


if __name__ == "__main__":
    main()
