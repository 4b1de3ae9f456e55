"""How long does `puente import facilities` take for a national network?

Generates N facility rows (default 100,000: every hospital, clinic and health
station of a large country), imports them into a fresh, migrated SQLite file,
then imports the same file again (every row an update). When
PUENTE_TEST_DATABASE_URL is set, the same runs on a PostgreSQL database beside
it (``<name>_bench``, dropped and rebuilt; the test database is not touched).

    .venv/bin/python bench/imports.py [--rows N] [--seed S]

Prints the figures, then one JSON line for scripts to read.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import func, make_url, select, text

from puente.db import make_engine, make_sessionmaker, unit_of_work
from puente.enums import RegionLevel, Tier
from puente.migrate import upgrade
from puente.network.imports import COLUMNS, import_facilities
from puente.network.models import Country, Facility, Region

REGIONS = 63  # provinces of Vietnam
DISTRICTS_PER_REGION = 10


def write_csv(path: Path, rows: int, seed: int) -> None:
    """A three-level network: provincial hospitals, district hospitals, and
    commune stations. Children come before their parents in the file half of
    the time, as exports from other systems often do."""
    rng = random.Random(seed)
    provincial = max(1, rows // 100)
    district = max(1, rows // 10)
    lines: list[list[str]] = []
    for i in range(rows):
        region = rng.randrange(REGIONS)
        district_code = f"R{region:02d}-D{rng.randrange(DISTRICTS_PER_REGION):02d}"
        if i < provincial:
            code, tier, kind, parent, area = (
                f"P{i:06d}",
                Tier.provincial,
                "general_hospital",
                "",
                f"R{i % REGIONS:02d}",
            )
        elif i < provincial + district:
            code, tier, kind, area = f"D{i:06d}", Tier.district, "general_hospital", district_code
            parent = f"P{rng.randrange(provincial):06d}"
        else:
            code, tier, kind, area = f"C{i:06d}", Tier.commune, "health_station", district_code
            parent = f"D{rng.randrange(provincial, provincial + district):06d}"
        lines.append(
            [code, f"Facility {i}", tier.value, kind, parent, area, "VN", "", "Hà Nội", "", ""]
        )
    # Shuffle so parents often follow their children.
    rng.shuffle(lines)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow([c.name for c in COLUMNS])
        writer.writerows(lines)


def seed_regions(url: str) -> None:
    engine = make_engine(url)
    with unit_of_work(make_sessionmaker(engine)) as session:
        session.add(
            Country(
                code="VN",
                name="Viet Nam",
                default_timezone="Asia/Ho_Chi_Minh",
                default_language="vi",
            )
        )
        for r in range(REGIONS):
            region = Region(
                code=f"R{r:02d}", name=f"Province {r}", level=RegionLevel.region, country_code="VN"
            )
            session.add(region)
            session.flush()
            session.add_all(
                Region(
                    code=f"R{r:02d}-D{d:02d}",
                    name=f"District {r}.{d}",
                    level=RegionLevel.district,
                    country_code="VN",
                    parent_id=region.id,
                )
                for d in range(DISTRICTS_PER_REGION)
            )
    engine.dispose()


def timed_import(url: str, path: Path) -> dict[str, Any]:
    engine = make_engine(url)
    started = time.perf_counter()
    with unit_of_work(make_sessionmaker(engine)) as session:
        result = import_facilities(session, path)
    seconds = time.perf_counter() - started
    with engine.connect() as conn:
        stored = conn.scalar(select(func.count()).select_from(Facility))
    engine.dispose()
    return {
        "seconds": round(seconds, 2),
        "rows_per_second": round(result.rows / seconds) if seconds else None,
        "created": result.created,
        "updated": result.updated,
        "stored": stored,
    }


def fresh_postgres(url: str) -> str:
    parsed = make_url(url)
    name = f"{parsed.database}_bench"
    admin = make_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return parsed.set(database=name).render_as_string(hide_password=False)


def run(backend: str, url: str, path: Path) -> dict[str, Any]:
    upgrade(url)
    seed_regions(url)
    first = timed_import(url, path)
    again = timed_import(url, path)
    print(
        f"{backend:10} create: {first['seconds']:6.2f} s ({first['rows_per_second']:,} rows/s)"
        f"  update: {again['seconds']:6.2f} s ({again['rows_per_second']:,} rows/s)"
        f"  stored: {first['stored']:,}"
    )
    return {"create": first, "update": again}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=2021)
    args = parser.parse_args(argv)
    report: dict[str, Any] = {"bench": "import_facilities", "rows": args.rows}
    with tempfile.TemporaryDirectory(prefix="puente-bench-") as tmp:
        path = Path(tmp) / "facilities.csv"
        started = time.perf_counter()
        write_csv(path, args.rows, args.seed)
        print(
            f"generated {args.rows:,} rows in {time.perf_counter() - started:.2f} s "
            f"({path.stat().st_size / 1e6:.1f} MB)"
        )
        report["sqlite"] = run("sqlite", f"sqlite:///{Path(tmp) / 'bench.db'}", path)
        pg = os.environ.get("PUENTE_TEST_DATABASE_URL")
        if pg:
            report["postgresql"] = run("postgresql", fresh_postgres(pg), path)
    print(json.dumps(report, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
