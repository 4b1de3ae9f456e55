"""Aggregate CSV import for facilities that report only totals: all or
nothing, errors by row and column, the same file twice counted once."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from puente.enums import ServiceKind
from puente.errors import ImportFailed
from puente.ledger import repository as repo
from puente.ledger import service as ledger
from puente.ledger.imports import import_ledger
from puente.ledger.models import LedgerEntry, LedgerRollup
from puente.ledger.schemas import GroupBy

HEADER = "facility_code,date,service_code,count,campaign,mode,citizenship"


def csv_file(tmp_path: Path, *rows: str, header: str = HEADER, name: str = "totals.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def stored(db: Session) -> tuple[int, int]:
    entries = db.scalar(select(func.count()).select_from(LedgerEntry)) or 0
    rollups = db.scalar(select(func.count()).select_from(LedgerRollup)) or 0
    return int(entries), int(rollups)


@pytest.fixture
def volgograd(db: Session) -> None:
    from tests import factories as f

    f.facility(db, "RU-VGG-OKB1", region_code="RU-VGG")
    f.facility(db, "RU-VGG-STOM3", region_code="RU-VGG")
    f.service(db, "diagnostics", ServiceKind.diagnostics)
    f.service(db, "dental-treatment", ServiceKind.dentistry)


def test_totals_are_imported_and_summed_by_citizenship(
    db: Session, tmp_path: Path, volgograd: None
) -> None:
    path = csv_file(
        tmp_path,
        "RU-VGG-OKB1,2019-06-03,diagnostics,12,,,kz",
        "RU-VGG-OKB1,2019-06-03,diagnostics,5,,in_person,UZ",
        "RU-VGG-OKB1,2019-06-04,diagnostics,7,,virtual,KZ",
        "RU-VGG-STOM3,2019-06-03,dental-treatment,3,export-2019,,",
    )
    result = import_ledger(db, path)
    assert (result.rows, result.created, result.updated) == (4, 4, 0)
    figures = ledger.figures(db, group_by=[GroupBy.citizenship])
    assert figures.count == 27
    assert {g.citizenship: g.count for g in figures.groups} == {"KZ": 19, "UZ": 5, None: 3}
    assert repo.rollup_totals(db) == repo.summed_entries(db)
    assert repo.monthly_totals(db) == repo.summed_by_month(db)


def test_importing_the_same_file_again_adds_nothing(
    db: Session, tmp_path: Path, volgograd: None
) -> None:
    path = csv_file(tmp_path, "RU-VGG-OKB1,2019-06-03,diagnostics,12,,,KZ")
    assert import_ledger(db, path).created == 1
    assert import_ledger(db, path).created == 0
    assert ledger.figures(db).count == 12


def test_a_bad_file_names_every_row_and_column_and_stores_nothing(
    db: Session, tmp_path: Path, volgograd: None
) -> None:
    path = csv_file(
        tmp_path,
        "RU-VGG-OKB1,2019-06-03,diagnostics,12,,,KZ",
        "RU-VGG-NOPE,2019-06-03,diagnostics,1,,,",
        "RU-VGG-OKB1,2019-06-31,diagnostics,1,,,",
        "RU-VGG-OKB1,2019-06-03,massage,1,,,",
        "RU-VGG-OKB1,2019-06-03,diagnostics,-4,,by post,XX",
    )
    with pytest.raises(ImportFailed) as failed:
        import_ledger(db, path)
    where = [(e.row, e.field) for e in failed.value.errors]
    # Parse errors are all found at once; references are checked after them.
    assert where == [(4, "date"), (6, "count"), (6, "mode"), (6, "citizenship")]
    assert "row 4, column 'date'" in failed.value.detail
    assert stored(db) == (0, 0)

    fixed = csv_file(
        tmp_path,
        "RU-VGG-NOPE,2019-06-03,diagnostics,1,,,",
        "RU-VGG-OKB1,2019-06-03,massage,1,,,",
        name="fixed.csv",
    )
    with pytest.raises(ImportFailed) as unknown:
        import_ledger(db, fixed)
    assert [(e.row, e.field) for e in unknown.value.errors] == [
        (2, "facility_code"),
        (3, "service_code"),
    ]
    assert stored(db) == (0, 0)


def test_a_missing_required_column_is_reported_on_the_header_row(
    db: Session, tmp_path: Path
) -> None:
    path = csv_file(tmp_path, "X,2019-06-03,1", header="facility_code,date,count")
    with pytest.raises(ImportFailed) as failed:
        import_ledger(db, path)
    assert [(e.row, e.field) for e in failed.value.errors] == [(1, "service_code")]


def test_twenty_thousand_rows_import_in_a_few_seconds(
    db: Session, tmp_path: Path, volgograd: None
) -> None:
    lines = [
        f"RU-VGG-OKB1,2019-{1 + i % 6:02d}-{1 + i % 28:02d},diagnostics,{1 + i % 9},,,"
        f"{['KZ', 'UZ', 'AZ', 'RU'][i % 4]}"
        for i in range(20_000)
    ]
    path = csv_file(tmp_path, *lines)
    started = time.perf_counter()
    result = import_ledger(db, path)
    elapsed = time.perf_counter() - started
    assert result.created == 20_000
    assert elapsed < 15, f"{elapsed:.1f} s"
    assert ledger.figures(db).count == sum(1 + i % 9 for i in range(20_000))
    assert repo.rollup_totals(db) == repo.summed_entries(db)
    assert repo.monthly_totals(db) == repo.summed_by_month(db)
