"""CSV import of facilities: all or nothing, errors name their row and
column, parents may come later in the same file, codes already stored are
updated."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from puente.errors import ImportFailed
from puente.network.imports import import_facilities
from puente.network.models import Facility
from tests.network.conftest import World

HEADER = "code,name,tier,kind,parent_code,region_code,country,timezone,city,address,phone"


def csv_file(tmp_path: Path, *rows: str, header: str = HEADER) -> Path:
    path = tmp_path / "facilities.csv"
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def count(db: Session) -> int:
    return db.scalar(select(func.count()).select_from(Facility)) or 0


def by_code(db: Session, code: str) -> Facility:
    found = db.scalar(select(Facility).where(Facility.code == code))
    assert found is not None, code
    return found


def failure(db: Session, path: Path) -> ImportFailed:
    before = count(db)
    with pytest.raises(ImportFailed) as caught:
        import_facilities(db, path)
    assert count(db) == before, "a failed import stored something"
    return caught.value


def test_a_network_is_imported_with_children_listed_before_their_parents(
    db: Session, tmp_path: Path, world: World
) -> None:
    path = csv_file(
        tmp_path,
        "VN-HN-TYT1,Trạm y tế Phù Linh,commune,health_station,VN-HN-DK,VN-HN-SS,,,Sóc Sơn,,",
        "VN-HN-DK,Bệnh viện Đa khoa Sóc Sơn,district,general_hospital,VN-BM,VN-HN-SS,VN,,,,"
        "+84 24 3884 3201",
        "LA-VT-1,Setthathirath Hospital,provincial,general_hospital,,LA-VT,la,Asia/Vientiane,,,",
    )
    seen: list[tuple[int, int]] = []
    result = import_facilities(db, path, progress=lambda d, t: seen.append((d, t)))
    assert (result.rows, result.created, result.updated) == (3, 3, 0)
    assert seen[-1] == (3, 3)
    station = by_code(db, "VN-HN-TYT1")
    district = by_code(db, "VN-HN-DK")
    assert station.parent_id == district.id
    assert district.parent_id == world.bach_mai.id
    assert station.timezone == "Asia/Ho_Chi_Minh" and station.country_code == "VN"
    assert by_code(db, "LA-VT-1").timezone == "Asia/Vientiane"


def test_a_stored_code_is_updated_not_duplicated(db: Session, tmp_path: Path, world: World) -> None:
    path = csv_file(
        tmp_path,
        "VN-SS,Bệnh viện Đa khoa Sóc Sơn,district,general_hospital,VN-BM,VN-HN-SS,,,Sóc Sơn,,",
    )
    result = import_facilities(db, path)
    assert (result.created, result.updated) == (0, 1)
    db.expire_all()
    assert by_code(db, "VN-SS").parent_id == world.bach_mai.id
    assert by_code(db, "VN-SS").city == "Sóc Sơn"


def test_one_bad_row_stores_nothing_and_names_its_row_and_column(
    db: Session, tmp_path: Path, world: World
) -> None:
    path = csv_file(
        tmp_path,
        "MX-JAL-UMF10,UMF 10,level1,family_medicine_unit,MX-JAL-HGZ46,MX-JAL-GDL,MX,,,,",
        "MX-JAL-UMF11,UMF 11,level9,family_medicine_unit,MX-JAL-HGZ46,MX-JAL-GDL,MX,,,,",
        "MX-JAL-UMF12,UMF 12,level1,family_medicine_unit,MX-JAL-HGZ46,MX-JAL-ZZZ,MX,,,,",
        "MX-JAL-UMF13,UMF 13,level1,family_medicine_unit,MX-JAL-NOPE,MX-JAL-GDL,MX,,,,",
        "MX-JAL-UMF14,UMF 14,level1,family_medicine_unit,,MX-JAL-GDL,VN,Mars/Olympus,,,",
    )
    error = failure(db, path)
    assert (error.errors[0].row, error.errors[0].field) == (3, "tier")
    assert "row 3, column 'tier'" in error.detail and "Nothing was imported" in error.detail
    assert {(e.row, e.field) for e in error.errors} == {(3, "tier"), (6, "timezone")}


def test_references_are_checked_once_the_cells_parse(
    db: Session, tmp_path: Path, world: World
) -> None:
    path = csv_file(
        tmp_path,
        "MX-JAL-UMF12,UMF 12,level1,family_medicine_unit,MX-JAL-HGZ46,MX-JAL-ZZZ,MX,,,,",
        "MX-JAL-UMF13,UMF 13,level1,family_medicine_unit,MX-JAL-NOPE,MX-JAL-GDL,MX,,,,",
        "MX-JAL-UMF14,UMF 14,level1,family_medicine_unit,,MX-JAL-GDL,VN,,,,",
        "MX-JAL-UMF12,UMF 12 again,level1,family_medicine_unit,,MX-JAL-GDL,,,,,",
        "MX-JAL-UMF15,UMF 15,level1,family_medicine_unit,MX-JAL-UMF15,MX-JAL-GDL,,,,,",
    )
    error = failure(db, path)
    assert {(e.row, e.field) for e in error.errors} == {
        (2, "region_code"),
        (3, "parent_code"),
        (4, "country"),
        (5, "code"),
        (6, "parent_code"),
    }


def test_a_loop_of_parents_is_refused_naming_its_rows(
    db: Session, tmp_path: Path, world: World
) -> None:
    path = csv_file(
        tmp_path,
        "A-1,A,level1,clinic,A-2,MX-JAL,,,,,",
        "A-2,B,level1,clinic,A-3,MX-JAL,,,,,",
        "A-3,C,level1,clinic,A-1,MX-JAL,,,,,",
    )
    error = failure(db, path)
    assert {(e.row, e.field) for e in error.errors} == {
        (2, "parent_code"),
        (3, "parent_code"),
        (4, "parent_code"),
    }


def test_a_loop_through_stored_facilities_is_refused(
    db: Session, tmp_path: Path, world: World
) -> None:
    # HGZ46 sits under the state office; putting the office under HGZ46's unit loops.
    path = csv_file(
        tmp_path,
        "MX-JAL-DEL,Delegación Jalisco,level3,state_office,MX-JAL-UMF3,MX-JAL,,,,,",
    )
    error = failure(db, path)
    assert [(e.row, e.field) for e in error.errors] == [(2, "parent_code")]


def test_a_missing_column_is_named_on_the_header_row(
    db: Session, tmp_path: Path, world: World
) -> None:
    path = csv_file(tmp_path, "X-1,X,level1,clinic,MX-JAL", header="code,name,tier,kind,region")
    error = failure(db, path)
    assert (1, "region_code") in {(e.row, e.field) for e in error.errors}
    assert (1, "region") in {(e.row, e.field) for e in error.errors}


def test_ten_thousand_facilities_import_quickly(db: Session, tmp_path: Path, world: World) -> None:
    import time

    lines = [
        f"T-{i:06d},Clinic {i},commune,health_station,"
        f"{'VN-BM' if i % 10 == 9 else f'T-{i + 1:06d}'},VN-HN-SS,,,,,"
        for i in range(10_000)
    ]
    path = csv_file(tmp_path, *lines)
    started = time.perf_counter()
    result = import_facilities(db, path)
    assert result.created == 10_000
    assert time.perf_counter() - started < 10
    assert by_code(db, "T-000001").parent_id == by_code(db, "T-000002").id
