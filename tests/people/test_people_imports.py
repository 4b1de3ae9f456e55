"""CSV imports of patients and practitioners: all or nothing, errors name
their row and column, upserts by identifier / license number."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from puente.errors import ImportFailed
from puente.people import service
from puente.people.imports import import_patients, import_practitioners
from puente.people.models import Patient, Practitioner, PractitionerRole
from tests import factories as f

CURP = "urn:oid:2.16.840.1.113883.4.629"
PATIENT_HEADER = (
    "identifier_system,identifier_value,family_name,given_names,birth_date,sex,citizenship,"
    "preferred_language,phone,email,home_facility_code"
)
PRACTITIONER_HEADER = (
    "license_number,family_name,given_names,sex,email,phone,languages,facility_code,role,"
    "specialty_code"
)


def csv_file(tmp_path: Path, header: str, *rows: str) -> Path:
    path = tmp_path / "people.csv"
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def count(db: Session, model: type) -> int:
    return db.scalar(select(func.count()).select_from(model)) or 0


@pytest.fixture
def clinic(db: Session) -> str:
    f.specialty(db, "cardiology", "Cardiology")
    return f.facility(db, "MX-JAL-UMF3", "Unidad de Medicina Familiar 3").code


def test_patients_are_imported_with_identifiers_and_home_facility(
    db: Session, tmp_path: Path, clinic: str
) -> None:
    path = csv_file(
        tmp_path,
        PATIENT_HEADER,
        f"{CURP},HELU800402MJCRCS09,Hernández,Lucía,1980-04-02,female,mx,es,"
        f"+52 33 1234 5678,,{clinic}",
        "urn:puente:test:passport,RU-750101,Petrov,Ivan,,male,RU,ru,,ivan@example.ru,",
    )
    result = import_patients(db, path)
    assert (result.rows, result.created, result.updated) == (2, 2, 0)
    lucia = service.find_patient_by_identifier(db, system=CURP, value="HELU800402MJCRCS09")
    assert lucia is not None
    assert lucia.home_facility_code == clinic
    assert lucia.citizenship == "MX"
    assert lucia.version == 1


def test_a_bad_row_names_its_row_and_column_and_nothing_is_stored(
    db: Session, tmp_path: Path, clinic: str
) -> None:
    before = count(db, Patient)
    path = csv_file(
        tmp_path,
        PATIENT_HEADER,
        f"{CURP},A1,Hernández,Lucía,1980-04-02,female,MX,es,,,{clinic}",
        f"{CURP},A2,Petrov,Ivan,1975-02-30,male,RU,ru,,,",
    )
    with pytest.raises(ImportFailed) as failed:
        import_patients(db, path)
    assert [(e.row, e.field) for e in failed.value.errors] == [(3, "birth_date")]
    assert "row 3" in failed.value.detail
    assert count(db, Patient) == before


def test_an_unknown_home_facility_is_reported_by_row(db: Session, tmp_path: Path) -> None:
    path = csv_file(tmp_path, PATIENT_HEADER, f"{CURP},A1,Hernández,Lucía,,,,,,,NOPE")
    with pytest.raises(ImportFailed) as failed:
        import_patients(db, path)
    assert [(e.row, e.field) for e in failed.value.errors] == [(2, "home_facility_code")]


def test_the_same_identifier_twice_in_one_file_is_reported(db: Session, tmp_path: Path) -> None:
    path = csv_file(
        tmp_path,
        PATIENT_HEADER,
        f"{CURP},A1,Hernández,Lucía,,,,,,,",
        f"{CURP},A2,Petrov,Ivan,,,,,,,",
        f"{CURP},A1,Hernández,Lucia,,,,,,,",
    )
    with pytest.raises(ImportFailed) as failed:
        import_patients(db, path)
    error = failed.value.errors[0]
    assert (error.row, error.field) == (4, "identifier_value")
    assert "row 2" in error.message
    assert count(db, Patient) == 0


def test_importing_again_updates_lucia_instead_of_duplicating_her(
    db: Session, tmp_path: Path
) -> None:
    import_patients(db, csv_file(tmp_path, PATIENT_HEADER, f"{CURP},A1,Hernández,Lucía,,,,,,,"))
    result = import_patients(
        db,
        csv_file(
            tmp_path,
            PATIENT_HEADER,
            f"{CURP},A1,Hernández López,Lucía,1980-04-02,female,MX,es,,,",
            f"{CURP},A2,Petrov,Ivan,,,,,,,",
        ),
    )
    assert (result.created, result.updated) == (1, 1)
    db.expire_all()
    lucia = service.find_patient_by_identifier(db, system=CURP, value="A1")
    assert lucia is not None
    assert lucia.family_name == "Hernández López"
    assert lucia.version == 2
    assert count(db, Patient) == 2


def test_a_missing_column_is_reported_on_the_header_row(db: Session, tmp_path: Path) -> None:
    path = csv_file(tmp_path, "identifier_system,identifier_value,family_name", f"{CURP},A1,X")
    with pytest.raises(ImportFailed) as failed:
        import_patients(db, path)
    assert ("given_names", 1) in {(e.field, e.row) for e in failed.value.errors}


def test_practitioners_are_imported_with_their_roles(
    db: Session, tmp_path: Path, clinic: str
) -> None:
    path = csv_file(
        tmp_path,
        PRACTITIONER_HEADER,
        f"MX-1,Ivanova,Anna,female,anna@example.mx,,es;ru,{clinic},specialist,cardiology",
        f"MX-1,Ivanova,Anna,female,anna@example.mx,,es;ru,{clinic},coordinator,",
        f"MX-2,García,José,male,,,es,{clinic},physician,",
    )
    result = import_practitioners(db, path)
    assert (result.rows, result.created) == (3, 2)
    assert count(db, PractitionerRole) == 3
    anna = db.scalar(select(Practitioner).where(Practitioner.license_number == "MX-1"))
    assert anna is not None
    assert anna.languages == "es,ru"


def test_reimporting_practitioners_updates_them_without_repeating_roles(
    db: Session, tmp_path: Path, clinic: str
) -> None:
    row = f"MX-1,Ivanova,Anna,female,,,es,{clinic},specialist,cardiology"
    import_practitioners(db, csv_file(tmp_path, PRACTITIONER_HEADER, row))
    result = import_practitioners(
        db, csv_file(tmp_path, PRACTITIONER_HEADER, row.replace("Anna", "Anna Petrovna"))
    )
    assert (result.created, result.updated) == (0, 1)
    assert count(db, PractitionerRole) == 1
    db.expire_all()
    anna = db.scalar(select(Practitioner).where(Practitioner.license_number == "MX-1"))
    assert anna is not None
    assert anna.given_names == "Anna Petrovna"


def test_practitioner_rows_that_disagree_or_repeat_are_reported(
    db: Session, tmp_path: Path, clinic: str
) -> None:
    path = csv_file(
        tmp_path,
        PRACTITIONER_HEADER,
        f"MX-1,Ivanova,Anna,female,,,es,{clinic},specialist,cardiology",
        f"MX-1,Ivanova,Anya,female,,,es,{clinic},physician,",
        f"MX-1,Ivanova,Anna,female,,,es,{clinic},specialist,cardiology",
        "MX-2,García,José,male,,,es,NOPE,physician,astrology",
    )
    with pytest.raises(ImportFailed) as failed:
        import_practitioners(db, path)
    reported = {(e.row, e.field) for e in failed.value.errors}
    assert reported == {
        (3, "given_names"),
        (4, "license_number"),
        (5, "facility_code"),
        (5, "specialty_code"),
    }
    assert count(db, Practitioner) == 0


def test_ten_thousand_patients_import_in_bulk(db: Session, tmp_path: Path) -> None:
    rows = [f"{CURP},P{n:06d},Tran,Minh {n},1990-01-01,male,VN,vi,,," for n in range(10_000)]
    result = import_patients(db, csv_file(tmp_path, PATIENT_HEADER, *rows))
    assert result.created == 10_000
    assert count(db, Patient) == 10_000
    found = service.find_patient_by_identifier(db, system=CURP, value="P009999")
    assert found is not None
    assert found.given_names == "Minh 9999"
