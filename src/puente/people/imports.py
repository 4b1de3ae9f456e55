"""CSV imports of patients and practitioners.

All or nothing: every row is parsed and every reference resolved (in bulk:
one query per referenced table, per chunk of values) before anything is
written; the first error anywhere stops the whole file. Writes are bulk
INSERT/UPDATE statements, so 100,000 rows take seconds.

Patients are upserted by identifier (system + value); practitioners by
license number, and each practitioner row adds its role at a facility unless
the practitioner already holds that same active role.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Table, insert, update
from sqlalchemy.orm import Session

from puente import csvimport as ci
from puente.config import LANGUAGES
from puente.db import utcnow
from puente.enums import PractitionerRoleCode, Sex
from puente.people import repository as repo
from puente.people.models import Patient, PatientIdentifier, Practitioner, PractitionerRole

# Core tables, not ORM entities: bulk statements on them skip the ORM's
# per-row bookkeeping, which is most of the time of a 100,000-row file.
PATIENT = cast(Table, Patient.__table__)
IDENTIFIER = cast(Table, PatientIdentifier.__table__)
PRACTITIONER = cast(Table, Practitioner.__table__)
ROLE = cast(Table, PractitionerRole.__table__)

# The same rules as the JSON API's annotated types (puente.schemas).
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^\+?[0-9 ()./-]{3,64}$")
_NO_SPACE = re.compile(r"^\S+$")


def _pattern(regex: re.Pattern[str], max_length: int, what: str) -> Callable[[str], str]:
    def parse(value: str) -> str:
        if len(value) > max_length or not regex.match(value):
            raise ValueError(f"'{value}' is not a valid {what}")
        return value

    return parse


def _birth_date(value: str) -> date:
    day = ci.parse_date(value)
    if day > date.today():
        raise ValueError(f"{day.isoformat()} is in the future")
    return day


def _language(value: str) -> str:
    code = value.strip().lower()
    if code not in LANGUAGES:
        raise ValueError(f"'{value}' is not one of {', '.join(LANGUAGES)}")
    return code


def _languages(value: str) -> str:
    codes = [c for c in re.split(r"[;,\s]+", value) if c]
    return ",".join(dict.fromkeys(_language(c) for c in codes))


PATIENT_COLUMNS = [
    ci.Column("identifier_system", _pattern(_NO_SPACE, 200, "identifier system")),
    ci.Column("identifier_value", ci.bounded(100)),
    ci.Column("family_name", ci.bounded(200)),
    ci.Column("given_names", ci.bounded(200)),
    ci.Column("birth_date", _birth_date, required=False),
    ci.Column("sex", ci.parse_enum(Sex), required=False),
    ci.Column("citizenship", ci.parse_country, required=False),
    ci.Column("preferred_language", _language, required=False),
    ci.Column("phone", _pattern(_PHONE, 64, "phone number"), required=False),
    ci.Column("email", _pattern(_EMAIL, 254, "e-mail address"), required=False),
    ci.Column("home_facility_code", ci.bounded(32), required=False),
]

PRACTITIONER_COLUMNS = [
    ci.Column("license_number", _pattern(_NO_SPACE, 64, "license number")),
    ci.Column("family_name", ci.bounded(200)),
    ci.Column("given_names", ci.bounded(200)),
    ci.Column("sex", ci.parse_enum(Sex), required=False),
    ci.Column("email", _pattern(_EMAIL, 254, "e-mail address"), required=False),
    ci.Column("phone", _pattern(_PHONE, 64, "phone number"), required=False),
    ci.Column("languages", _languages, required=False),
    ci.Column("facility_code", ci.bounded(32)),
    ci.Column("role", ci.parse_enum(PractitionerRoleCode)),
    ci.Column("specialty_code", ci.bounded(64), required=False),
]


def import_patients(
    session: Session, path: Path, *, progress: ci.Progress | None = None
) -> ci.ImportResult:
    errors = ci.Errors(path.name)
    rows = ci.read_csv(path, PATIENT_COLUMNS, errors)
    errors.raise_if_any()

    first_row: dict[tuple[str, str], int] = {}
    for row in rows:
        key = (row["identifier_system"], row["identifier_value"])
        if key in first_row:
            errors.add(
                row.number,
                "identifier_value",
                f"identifier {key[0]}|{key[1]} is already on row {first_row[key]}",
            )
        else:
            first_row[key] = row.number
    facilities = repo.facility_ids_by_code(
        session, {r["home_facility_code"] for r in rows if r["home_facility_code"]}
    )
    ci.resolve(rows, "home_facility_code", facilities, errors, "facility")
    errors.raise_if_any()

    existing = repo.patients_by_identifier(session, first_row.keys())
    versions = repo.versions_of(session, existing.values())
    now = utcnow()
    new_records: list[dict[str, Any]] = []
    new_keys: list[tuple[str, str]] = []
    updates: list[dict[str, Any]] = []
    for row in rows:
        key = (row["identifier_system"], row["identifier_value"])
        record = {
            "family_name": row["family_name"],
            "given_names": row["given_names"],
            "birth_date": row["birth_date"],
            "sex": row["sex"] or Sex.unknown,
            "citizenship": row["citizenship"],
            "preferred_language": row["preferred_language"] or "en",
            "phone": row["phone"],
            "email": row["email"],
            "home_facility_id": facilities.get(row["home_facility_code"] or ""),
            "updated_at": now,
        }
        if key in existing:
            patient_id = existing[key]
            record["id"] = patient_id
            record["version"] = versions[patient_id] + 1
            updates.append(record)
        else:
            record["created_at"] = now
            record["version"] = 1
            record["active"] = True
            new_records.append(record)
            new_keys.append(key)

    total = len(rows)
    new_ids = repo.reserve_ids(session, "patient", len(new_records))
    for record, new_id in zip(new_records, new_ids, strict=True):
        record["id"] = new_id
    for start in range(0, len(new_records), ci.CHUNK):
        session.execute(insert(PATIENT), new_records[start : start + ci.CHUNK])
        if progress:
            # Patient rows are the bulk of the work; identifiers follow quickly.
            progress(start + len(new_records[start : start + ci.CHUNK]), total)
    identifiers = [
        {"patient_id": pid, "system": s, "value": v}
        for pid, (s, v) in zip(new_ids, new_keys, strict=True)
    ]
    for start in range(0, len(identifiers), ci.CHUNK):
        session.execute(insert(IDENTIFIER), identifiers[start : start + ci.CHUNK])
    for start in range(0, len(updates), ci.CHUNK):
        session.execute(update(Patient), updates[start : start + ci.CHUNK])
    if progress:
        progress(total, total)
    return ci.ImportResult(rows=total, created=len(new_records), updated=len(updates))


_PERSON_FIELDS = ("family_name", "given_names", "sex", "email", "phone", "languages")


def import_practitioners(
    session: Session, path: Path, *, progress: ci.Progress | None = None
) -> ci.ImportResult:
    errors = ci.Errors(path.name)
    rows = ci.read_csv(path, PRACTITIONER_COLUMNS, errors)
    errors.raise_if_any()

    # One practitioner may hold several roles, so a license may repeat; its
    # rows must then agree on the person, and no role may be listed twice.
    person_row: dict[str, ci.Row] = {}
    role_row: dict[tuple[str, str, str, str | None], int] = {}
    for row in rows:
        lic = row["license_number"]
        first = person_row.setdefault(lic, row)
        if first is not row:
            for name in _PERSON_FIELDS:
                if row[name] != first[name]:
                    errors.add(
                        row.number,
                        name,
                        f"differs from row {first.number} for license {lic}",
                    )
        role_key = (lic, row["facility_code"], str(row["role"]), row["specialty_code"])
        if role_key in role_row:
            errors.add(
                row.number,
                "license_number",
                f"the same role of license {lic} is already on row {role_row[role_key]}",
            )
        else:
            role_row[role_key] = row.number
    facilities = repo.facility_ids_by_code(session, {r["facility_code"] for r in rows})
    specialties = repo.specialty_ids_by_code(
        session, {r["specialty_code"] for r in rows if r["specialty_code"]}
    )
    ci.resolve(rows, "facility_code", facilities, errors, "facility")
    ci.resolve(rows, "specialty_code", specialties, errors, "specialty")
    errors.raise_if_any()

    existing = repo.practitioners_by_license(session, person_row.keys())
    now = utcnow()
    new_records: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for lic, row in person_row.items():
        record = {
            "license_number": lic,
            "family_name": row["family_name"],
            "given_names": row["given_names"],
            "sex": row["sex"] or Sex.unknown,
            "email": row["email"],
            "phone": row["phone"],
            "languages": row["languages"] or "en",
            "updated_at": now,
        }
        if lic in existing:
            record["id"] = existing[lic].id
            updates.append(record)
        else:
            record.update(created_at=now, active=True)
            new_records.append(record)

    ids = {lic: p.id for lic, p in existing.items()}
    for record, new_id in zip(
        new_records, repo.reserve_ids(session, "practitioner", len(new_records)), strict=True
    ):
        record["id"] = new_id
        ids[record["license_number"]] = new_id
    for start in range(0, len(new_records), ci.CHUNK):
        session.execute(insert(PRACTITIONER), new_records[start : start + ci.CHUNK])
    for start in range(0, len(updates), ci.CHUNK):
        session.execute(update(Practitioner), updates[start : start + ci.CHUNK])

    held = repo.role_keys_of(session, [p.id for p in existing.values()])
    roles: list[dict[str, Any]] = []
    for lic, facility_code, role, specialty_code in role_row:
        key = (
            ids[lic],
            facilities[facility_code],
            role,
            specialties[specialty_code] if specialty_code else None,
        )
        if key in held:
            continue
        roles.append(
            {
                "practitioner_id": key[0],
                "facility_id": key[1],
                "role": PractitionerRoleCode(role),
                "specialty_id": key[3],
                "active": True,
                "created_at": now,
                "updated_at": now,
            }
        )
    for start in range(0, len(roles), ci.CHUNK):
        session.execute(insert(ROLE), roles[start : start + ci.CHUNK])
    if progress:
        progress(len(rows), len(rows))
    return ci.ImportResult(rows=len(rows), created=len(new_records), updated=len(updates))
