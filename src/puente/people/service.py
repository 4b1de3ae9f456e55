"""The rules of `people`: patients, practitioners and their roles.

Module functions with keyword-only arguments; they flush but never commit.
Reads return schemas (``PatientRead`` …), never ORM rows, so other features
and the FHIR facade depend on a stable shape, not on tables.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, Select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from puente.errors import Conflict, FieldError, NotFound, PreconditionFailed, Unprocessable
from puente.people import repository as repo
from puente.people.models import Patient, PatientIdentifier, Practitioner, PractitionerRole
from puente.people.schemas import (
    Identifier,
    PatientCreate,
    PatientRead,
    PatientUpdate,
    PractitionerCreate,
    PractitionerRead,
    PractitionerRoleCreate,
    PractitionerRoleRead,
    PractitionerUpdate,
)
from puente.schemas import Page

# Patients.


def _patient_reads(session: Session, rows: Sequence[Patient]) -> list[PatientRead]:
    """Many patients with their identifiers and home facility codes: two
    queries however many rows."""
    idents = repo.identifiers_of(session, [p.id for p in rows])
    codes = repo.facility_codes_by_id(
        session, [p.home_facility_id for p in rows if p.home_facility_id is not None]
    )
    return [
        PatientRead(
            id=p.id,
            identifiers=[Identifier(system=i.system, value=i.value) for i in idents[p.id]],
            family_name=p.family_name,
            given_names=p.given_names,
            birth_date=p.birth_date,
            sex=p.sex,
            citizenship=p.citizenship,
            preferred_language=p.preferred_language,
            phone=p.phone,
            email=p.email,
            home_facility_id=p.home_facility_id,
            home_facility_code=codes.get(p.home_facility_id) if p.home_facility_id else None,
            active=p.active,
            version=p.version,
            created_at=p.created_at,
            updated_at=p.updated_at,
        )
        for p in rows
    ]


def get_patient(session: Session, *, patient_id: int) -> PatientRead:
    """The patient, whoever asks; routes check access first (access.patients)."""
    row = repo.get_patient(session, patient_id)
    if row is None:
        raise NotFound(f"No patient {patient_id}.", errors=[FieldError("patient_id", "unknown")])
    return _patient_reads(session, [row])[0]


def find_patient_by_identifier(session: Session, *, system: str, value: str) -> PatientRead | None:
    found = repo.patients_by_identifier(session, [(system, value)])
    if not found:
        return None
    return get_patient(session, patient_id=found[(system, value)])


def facility_id(session: Session, code: str | None) -> int | None:
    if code is None:
        return None
    found = repo.facility_ids_by_code(session, [code])
    if code not in found:
        raise Unprocessable(
            f"No facility with code '{code}'.",
            errors=[FieldError("home_facility_code", f"unknown facility '{code}'")],
        )
    return found[code]


def _check_identifiers_free(
    session: Session, identifiers: Sequence[Identifier], *, patient_id: int | None
) -> None:
    taken = repo.patients_by_identifier(session, [(i.system, i.value) for i in identifiers])
    clashes = [f"{s}|{v}" for (s, v), owner in taken.items() if owner != patient_id]
    if clashes:
        raise Conflict(
            f"Identifier {', '.join(sorted(clashes))} already belongs to another patient.",
            errors=[FieldError("identifiers", f"{c} is already in use") for c in sorted(clashes)],
        )


def _flush_identifiers(session: Session, write: Callable[[], None]) -> None:
    # Two requests may pass the check above at once; the unique constraint
    # then decides, and the loser gets the same 409 instead of a 500. The
    # rows are added inside the SAVEPOINT (``write``): begin_nested() first
    # flushes what is pending, and a clash flushed there would escape it (a
    # 500 on PostgreSQL, whose transaction is then aborted).
    try:
        with session.begin_nested():
            write()
            session.flush()
    except IntegrityError:
        raise Conflict(
            "An identifier was taken by another patient meanwhile.",
            errors=[FieldError("identifiers", "is already in use")],
        ) from None


def create_patient(session: Session, *, data: PatientCreate) -> PatientRead:
    """Create a patient; 409 naming ``identifiers`` when one is already taken."""
    _check_identifiers_free(session, data.identifiers, patient_id=None)
    row = Patient(
        family_name=data.family_name,
        given_names=data.given_names,
        birth_date=data.birth_date,
        sex=data.sex,
        citizenship=data.citizenship,
        preferred_language=data.preferred_language,
        phone=data.phone,
        email=data.email,
        home_facility_id=facility_id(session, data.home_facility_code),
        version=1,
    )

    def write() -> None:
        session.add(row)
        session.flush()
        for i in data.identifiers:
            session.add(PatientIdentifier(patient_id=row.id, system=i.system, value=i.value))

    _flush_identifiers(session, write)
    return get_patient(session, patient_id=row.id)


_PLAIN_FIELDS = (
    "family_name",
    "given_names",
    "birth_date",
    "sex",
    "citizenship",
    "preferred_language",
    "phone",
    "email",
    "active",
)


def update_patient(
    session: Session,
    *,
    patient_id: int,
    data: PatientUpdate,
    expected_version: int | None = None,
) -> PatientRead:
    """Apply the fields present in ``data`` and bump ``version``.

    With ``expected_version``, refuse (412) when the patient has moved on
    since the caller read it. The row is locked while it is checked.
    """
    row = repo.get_patient(session, patient_id, for_update=True)
    if row is None:
        raise NotFound(f"No patient {patient_id}.", errors=[FieldError("patient_id", "unknown")])
    if expected_version is not None and row.version != expected_version:
        raise PreconditionFailed(
            f"Patient {patient_id} is at version {row.version}, not {expected_version}.",
            errors=[FieldError("If-Match", f"stale version {expected_version}")],
        )
    given = data.model_fields_set
    for name in _PLAIN_FIELDS:
        if name in given:
            setattr(row, name, getattr(data, name))
    if "home_facility_code" in given:
        row.home_facility_id = facility_id(session, data.home_facility_code)
    if "identifiers" in given and data.identifiers is not None:
        _check_identifiers_free(session, data.identifiers, patient_id=patient_id)
        repo.delete_identifiers(session, patient_id)
        session.flush()
        added = [
            PatientIdentifier(patient_id=patient_id, system=i.system, value=i.value)
            for i in data.identifiers
        ]
    else:
        added = []
    row.version += 1
    _flush_identifiers(session, lambda: session.add_all(added))
    return get_patient(session, patient_id=patient_id)


def search_patients(
    session: Session,
    *,
    identifier: tuple[str | None, str] | None = None,
    name: str | None = None,
    name_prefix: bool = False,
    birth_date: date | None = None,
    birth_date_ops: Sequence[tuple[str, date]] = (),
    visible: ColumnElement[bool] | None = None,
    limit: int,
    offset: int,
) -> Page[PatientRead]:
    """Patients matching the criteria; ``visible`` is the caller's access
    condition (``PatientAccess.where()``), applied in the same query."""
    query = repo.patient_query(
        identifier=identifier,
        name=name,
        name_prefix=name_prefix,
        birth_date=birth_date,
        birth_date_ops=birth_date_ops,
    )
    if visible is not None:
        query = query.where(visible)
    rows, total = _page(session, query, limit=limit, offset=offset)
    return Page[PatientRead](
        items=_patient_reads(session, rows), total=total, limit=limit, offset=offset
    )


def _page(
    session: Session, query: Select[Any], *, limit: int, offset: int
) -> tuple[list[Any], int]:
    return repo.page(session, query, limit=limit, offset=offset)


# Practitioners.


def _practitioner_read(row: Practitioner) -> PractitionerRead:
    return PractitionerRead(
        id=row.id,
        family_name=row.family_name,
        given_names=row.given_names,
        sex=row.sex,
        license_number=row.license_number,
        email=row.email,
        phone=row.phone,
        languages=[c for c in row.languages.split(",") if c],
        active=row.active,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _check_license_free(
    session: Session, license_number: str | None, *, own_id: int | None
) -> None:
    if license_number is None:
        return
    other = repo.practitioner_by_license(session, license_number)
    if other is not None and other.id != own_id:
        raise Conflict(
            f"License number '{license_number}' belongs to another practitioner.",
            errors=[FieldError("license_number", "is already in use")],
        )


def get_practitioner(session: Session, *, practitioner_id: int) -> PractitionerRead:
    return _practitioner_read(_practitioner_row(session, practitioner_id))


def _practitioner_row(session: Session, practitioner_id: int) -> Practitioner:
    row = repo.get_practitioner(session, practitioner_id)
    if row is None:
        raise NotFound(
            f"No practitioner {practitioner_id}.",
            errors=[FieldError("practitioner_id", "unknown")],
        )
    return row


def create_practitioner(session: Session, *, data: PractitionerCreate) -> PractitionerRead:
    _check_license_free(session, data.license_number, own_id=None)
    values = data.model_dump()
    values["languages"] = ",".join(dict.fromkeys(data.languages))
    row = Practitioner(**values)
    session.add(row)
    session.flush()
    return _practitioner_read(row)


def update_practitioner(
    session: Session, *, practitioner_id: int, data: PractitionerUpdate
) -> PractitionerRead:
    row = _practitioner_row(session, practitioner_id)
    given = data.model_fields_set
    if "license_number" in given:
        _check_license_free(session, data.license_number, own_id=practitioner_id)
    for name in given:
        value = getattr(data, name)
        if name == "languages":
            value = ",".join(dict.fromkeys(value))
        setattr(row, name, value)
    session.flush()
    return _practitioner_read(row)


def search_practitioners(
    session: Session,
    *,
    name: str | None = None,
    name_prefix: bool = False,
    license_number: str | None = None,
    limit: int,
    offset: int,
) -> Page[PractitionerRead]:
    query = repo.practitioner_query(
        name=name, name_prefix=name_prefix, license_number=license_number
    )
    rows, total = _page(session, query, limit=limit, offset=offset)
    return Page[PractitionerRead](
        items=[_practitioner_read(r) for r in rows], total=total, limit=limit, offset=offset
    )


# Practitioner roles.


def _role_reads(session: Session, rows: Sequence[PractitionerRole]) -> list[PractitionerRoleRead]:
    codes = repo.facility_codes_by_id(session, [r.facility_id for r in rows])
    specs = repo.specialties_by_id(
        session, [r.specialty_id for r in rows if r.specialty_id is not None]
    )
    out = []
    for r in rows:
        spec = specs.get(r.specialty_id) if r.specialty_id is not None else None
        out.append(
            PractitionerRoleRead(
                id=r.id,
                practitioner_id=r.practitioner_id,
                facility_id=r.facility_id,
                facility_code=codes[r.facility_id],
                role=r.role,
                specialty_id=r.specialty_id,
                specialty_code=spec.code if spec else None,
                specialty_name=spec.name_en if spec else None,
                active=r.active,
                start_date=r.start_date,
                end_date=r.end_date,
                updated_at=r.updated_at,
            )
        )
    return out


def add_role(
    session: Session, *, practitioner_id: int, data: PractitionerRoleCreate
) -> PractitionerRoleRead:
    """Unknown facility or specialty codes are 422 naming the field."""
    _practitioner_row(session, practitioner_id)
    facility = repo.facility_ids_by_code(session, [data.facility_code])
    errors = []
    if data.facility_code not in facility:
        errors.append(FieldError("facility_code", f"unknown facility '{data.facility_code}'"))
    specialty_id = None
    if data.specialty_code is not None:
        specs = repo.specialty_ids_by_code(session, [data.specialty_code])
        if data.specialty_code not in specs:
            errors.append(
                FieldError("specialty_code", f"unknown specialty '{data.specialty_code}'")
            )
        specialty_id = specs.get(data.specialty_code)
    if errors:
        raise Unprocessable("; ".join(f"{e.field}: {e.message}" for e in errors), errors=errors)
    row = PractitionerRole(
        practitioner_id=practitioner_id,
        facility_id=facility[data.facility_code],
        specialty_id=specialty_id,
        role=data.role,
        start_date=data.start_date,
        end_date=data.end_date,
        active=True,
    )
    session.add(row)
    session.flush()
    return _role_reads(session, [row])[0]


def get_role(session: Session, *, role_id: int) -> PractitionerRoleRead:
    row = repo.get_role(session, role_id)
    if row is None:
        raise NotFound(
            f"No practitioner role {role_id}.", errors=[FieldError("role_id", "unknown")]
        )
    return _role_reads(session, [row])[0]


def deactivate_role(session: Session, *, role_id: int) -> PractitionerRoleRead:
    """The role stays on record, ended today unless it already had an end."""
    row = repo.get_role(session, role_id)
    if row is None:
        raise NotFound(
            f"No practitioner role {role_id}.", errors=[FieldError("role_id", "unknown")]
        )
    row.active = False
    if row.end_date is None or row.end_date > date.today():
        row.end_date = date.today()
    session.flush()
    return _role_reads(session, [row])[0]


def search_roles(
    session: Session,
    *,
    practitioner_id: int | None = None,
    facility_code: str | None = None,
    facility_id: int | None = None,
    specialty_code: str | None = None,
    active: bool | None = None,
    limit: int,
    offset: int,
) -> Page[PractitionerRoleRead]:
    """Roles filtered by practitioner, facility and specialty; an unknown
    facility or specialty code matches nothing (it is a filter, not a write)."""
    empty = Page[PractitionerRoleRead](items=[], total=0, limit=limit, offset=offset)
    if facility_code is not None:
        found = repo.facility_ids_by_code(session, [facility_code])
        if facility_code not in found:
            return empty
        if facility_id is not None and facility_id != found[facility_code]:
            return empty
        facility_id = found[facility_code]
    specialty_id = None
    if specialty_code is not None:
        specs = repo.specialty_ids_by_code(session, [specialty_code])
        if specialty_code not in specs:
            return empty
        specialty_id = specs[specialty_code]
    query = repo.role_query(
        practitioner_id=practitioner_id,
        facility_id=facility_id,
        specialty_id=specialty_id,
        active=active,
    )
    rows, total = _page(session, query, limit=limit, offset=offset)
    return Page[PractitionerRoleRead](
        items=_role_reads(session, rows), total=total, limit=limit, offset=offset
    )
