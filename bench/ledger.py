"""Ledger timings: record() one row at a time, and a 100,000-row aggregate
CSV import (bulk INSERT, rollup summed in SQL).

    .venv/bin/python bench/ledger.py [--rows 100000] [--records 2000]

Runs on a fresh SQLite file, and also on PostgreSQL when
PUENTE_TEST_DATABASE_URL is set (in a sibling database ``<name>_bench``,
which it empties). Prints a line per step, then one JSON line with the results.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from puente.catalog.models import Service
from puente.catalog.service import sync_catalog
from puente.db import make_engine, sibling_postgres_database
from puente.enums import FacilityKind, LedgerSource, Mode, RegionLevel, Tier
from puente.ledger import repository as repo
from puente.ledger.imports import import_ledger
from puente.ledger.service import record
from puente.migrate import upgrade
from puente.network.models import Country, Facility, Region

FACILITIES = 200
CITIZENSHIPS = ["MX", "MX", "MX", "MX", "GT", "US", "HN", ""]


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _postgres_url(base: str) -> str:
    return sibling_postgres_database(base, "bench", empty=True)


def _world(session: Session) -> tuple[list[str], list[int], list[str], list[int]]:
    """A country, a region, FACILITIES hospitals and the shipped catalog."""
    sync_catalog(session)
    session.add(Country(code="MX", name="Mexico", default_timezone="America/Mexico_City"))
    region = Region(code="MX-JAL", name="Jalisco", level=RegionLevel.region, country_code="MX")
    session.add(region)
    session.flush()
    facilities = [
        Facility(
            code=f"MX-BENCH-{n:04d}", name=f"Hospital {n}", tier=Tier.level2,
            kind=FacilityKind.general_hospital, region_id=region.id, country_code="MX",
            timezone="America/Mexico_City",
        )
        for n in range(FACILITIES)
    ]  # fmt: skip
    session.add_all(facilities)
    session.flush()
    services = list(session.execute(select(Service.code, Service.id)))
    return (
        [f.code for f in facilities],
        [f.id for f in facilities],
        [code for code, _ in services],
        [id_ for _, id_ in services],
    )


def _csv(path: Path, rows: int, facility_codes: list[str], service_codes: list[str]) -> int:
    total = 0
    start = date(2021, 1, 1)
    with path.open("w", encoding="utf-8") as fh:
        fh.write("facility_code,date,service_code,count,campaign,mode,citizenship\n")
        for i in range(rows):
            count = 1 + (i * 7) % 40
            total += count
            fh.write(
                f"{facility_codes[i % len(facility_codes)]},"
                f"{(start + timedelta(days=(i // 997) % 365)).isoformat()},"
                f"{service_codes[(i * 13) % len(service_codes)]},{count},"
                f"{'jornada-2' if i % 5 == 0 else ''},{'virtual' if i % 9 == 0 else ''},"
                f"{CITIZENSHIPS[i % len(CITIZENSHIPS)]}\n"
            )
    return total


def run(url: str, rows: int, records: int, workdir: Path) -> dict[str, Any]:
    _log(f"[{url.split(':')[0]}] migrating")
    upgrade(url)
    engine: Engine = make_engine(url)
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    with factory.begin() as session:
        codes, facility_ids, service_codes, service_ids = _world(session)

    started = time.perf_counter()
    with factory.begin() as session:
        for i in range(records):
            record(
                session,
                facility_id=facility_ids[i % len(facility_ids)],
                day=date(2021, 5, 14) + timedelta(days=i % 3),
                service_id=service_ids[i % len(service_ids)],
                count=1 + i % 4,
                mode=Mode.virtual if i % 3 else Mode.in_person,
                citizenship=CITIZENSHIPS[i % len(CITIZENSHIPS)] or None,
                source=LedgerSource.visit,
                source_ref=f"visit:{i}",
            )
    per_record_ms = (time.perf_counter() - started) * 1000 / max(records, 1)
    _log(f"  record(): {per_record_ms:.2f} ms per row ({records} rows, one transaction)")

    path = workdir / f"ledger-{rows}.csv"
    expected = _csv(path, rows, codes, service_codes)
    started = time.perf_counter()
    with factory.begin() as session:
        result = import_ledger(session, path)
    import_s = time.perf_counter() - started
    _log(f"  import of {rows:,} rows: {import_s:.2f} s ({rows / import_s:,.0f} rows/s)")

    with factory() as session:
        consistent = repo.rollup_totals(session) == repo.summed_entries(session)
        consistent = consistent and repo.monthly_totals(session) == repo.summed_by_month(session)
        imported = session.scalar(
            select(func.sum(repo.ENTRY.c.count)).where(
                repo.ENTRY.c.source == LedgerSource.import_.value
            )
        )
    engine.dispose()
    assert result.created == rows and imported == expected, (result, imported, expected)
    assert consistent, "rollup differs from the sum of entries"
    return {
        "record_ms_per_row": round(per_record_ms, 3),
        "records": records,
        "import_rows": rows,
        "import_seconds": round(import_s, 3),
        "import_rows_per_second": round(rows / import_s),
        "rollup_matches_entries": consistent,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--records", type=int, default=2_000)
    args = parser.parse_args()
    results: dict[str, Any] = {"bench": "ledger"}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        results["sqlite"] = run(
            f"sqlite:///{workdir / 'bench.db'}", args.rows, args.records, workdir
        )
        pg = os.environ.get("PUENTE_TEST_DATABASE_URL")
        if pg:
            results["postgresql"] = run(_postgres_url(pg), args.rows, args.records, workdir)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
