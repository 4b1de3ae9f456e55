"""After a bulk load the planner has statistics: `puente demo` runs
puente.db.analyze, so a fresh demo database is not planned as empty."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from puente.db import analyze, make_engine, make_sessionmaker, unit_of_work
from tests import factories as f
from tests.conftest import migrated_url


def test_analyze_gives_the_planner_statistics_of_what_was_loaded(
    backend: str, tmp_path: Path
) -> None:
    url = migrated_url(backend, tmp_path, suffix="analyze")
    engine = make_engine(url)
    with unit_of_work(make_sessionmaker(engine)) as db:
        for n in range(3):
            f.facility(db, f"MX-JAL-C{n:03d}", f"Centro de Salud {n}")
    analyze(url)
    with engine.connect() as conn:
        if backend == "postgresql":
            seen = conn.scalar(text("SELECT reltuples FROM pg_class WHERE relname = 'facility'"))
        else:
            seen = conn.scalar(text("SELECT stat FROM sqlite_stat1 WHERE tbl = 'facility'"))
            seen = int(str(seen).split()[0])
    engine.dispose()
    assert seen == 3
