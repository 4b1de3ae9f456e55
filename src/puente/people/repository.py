"""Every query of `people`.

Facility and specialty codes are resolved here by reading the `facility` and
`specialty` tables directly: a code → id lookup is all people needs from them,
and it must work in bulk for imports (one query per table, never one per row).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, or_, select, text
from sqlalchemy.orm import Session

from puente.catalog.models import Specialty
from puente.network.models import Facility
from puente.people.models import Patient, PatientIdentifier, Practitioner, PractitionerRole

# Keeps IN lists well under every driver's parameter limit.
IN_CHUNK = 2000


def _chunks(values: Sequence[object], size: int = IN_CHUNK) -> Iterable[Sequence[object]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


# Facilities and specialties (read-only lookups).


def facility_ids_by_code(session: Session, codes: Collection[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for chunk in _chunks(sorted(set(codes))):
        rows = session.execute(select(Facility.code, Facility.id).where(Facility.code.in_(chunk)))
        out.update({code: id_ for code, id_ in rows})
    return out


def facility_codes_by_id(session: Session, ids: Collection[int]) -> dict[int, str]:
    out: dict[int, str] = {}
    for chunk in _chunks(sorted(set(ids))):
        rows = session.execute(select(Facility.id, Facility.code).where(Facility.id.in_(chunk)))
        out.update({id_: code for id_, code in rows})
    return out


def specialty_ids_by_code(session: Session, codes: Collection[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for chunk in _chunks(sorted(set(codes))):
        rows = session.execute(
            select(Specialty.code, Specialty.id).where(Specialty.code.in_(chunk))
        )
        out.update({code: id_ for code, id_ in rows})
    return out


def specialties_by_id(session: Session, ids: Collection[int]) -> dict[int, Specialty]:
    out: dict[int, Specialty] = {}
    for chunk in _chunks(sorted(set(ids))):
        out.update(
            {s.id: s for s in session.scalars(select(Specialty).where(Specialty.id.in_(chunk)))}
        )
    return out


# Patients.


def get_patient(session: Session, patient_id: int, *, for_update: bool = False) -> Patient | None:
    query = select(Patient).where(Patient.id == patient_id)
    if for_update:
        query = query.with_for_update()
    return session.scalar(query)


def identifiers_of(
    session: Session, patient_ids: Collection[int]
) -> dict[int, list[PatientIdentifier]]:
    out: dict[int, list[PatientIdentifier]] = {pid: [] for pid in patient_ids}
    for chunk in _chunks(sorted(set(patient_ids))):
        rows = session.scalars(
            select(PatientIdentifier)
            .where(PatientIdentifier.patient_id.in_(chunk))
            .order_by(PatientIdentifier.id)
        )
        for row in rows:
            out[row.patient_id].append(row)
    return out


def visible_ids(
    session: Session, patient_ids: Collection[int], visible: ColumnElement[bool]
) -> set[int]:
    """The ids among ``patient_ids`` that the ``visible`` condition (the
    access layer's patient filter) lets through."""
    out: set[int] = set()
    for chunk in _chunks(sorted(set(patient_ids))):
        out.update(session.scalars(select(Patient.id).where(Patient.id.in_(chunk), visible)))
    return out


def patients_by_identifier(
    session: Session, pairs: Collection[tuple[str, str]]
) -> dict[tuple[str, str], int]:
    """(system, value) → patient id, for the pairs that exist."""
    # Grouped by system, then `value IN (...)`: PostgreSQL plans a row-value
    # IN list of thousands of (system, value) pairs very slowly.
    by_system: dict[str, list[str]] = {}
    for system, value in set(pairs):
        by_system.setdefault(system, []).append(value)
    out: dict[tuple[str, str], int] = {}
    for system, values in by_system.items():
        for chunk in _chunks(sorted(values)):
            rows = session.execute(
                select(PatientIdentifier.value, PatientIdentifier.patient_id).where(
                    PatientIdentifier.system == system, PatientIdentifier.value.in_(chunk)
                )
            )
            out.update({(system, v): pid for v, pid in rows})
    return out


def patient_ids_by_identifier_value(session: Session, value: str) -> list[int]:
    return list(
        session.scalars(
            select(PatientIdentifier.patient_id).where(PatientIdentifier.value == value)
        )
    )


def versions_of(session: Session, patient_ids: Collection[int]) -> dict[int, int]:
    out: dict[int, int] = {}
    for chunk in _chunks(sorted(set(patient_ids))):
        rows = session.execute(select(Patient.id, Patient.version).where(Patient.id.in_(chunk)))
        out.update({id_: v for id_, v in rows})
    return out


def delete_identifiers(session: Session, patient_id: int) -> None:
    for row in session.scalars(
        select(PatientIdentifier).where(PatientIdentifier.patient_id == patient_id)
    ):
        session.delete(row)


def _starts_with(column: Any, text: str) -> ColumnElement[bool]:
    # Case-insensitive prefix match that behaves the same on SQLite and
    # PostgreSQL; LIKE wildcards in the user's text are escaped.
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return func.lower(column).like(f"{escaped}%", escape="\\")


def _contains(column: Any, text: str) -> ColumnElement[bool]:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return func.lower(column).like(f"%{escaped}%", escape="\\")


def name_matches(family: Any, given: Any, text: str, *, prefix: bool) -> ColumnElement[bool]:
    match = _starts_with if prefix else _contains
    return or_(match(family, text), match(given, text))


def patient_query(
    *,
    identifier: tuple[str | None, str] | None = None,
    name: str | None = None,
    name_prefix: bool = False,
    birth_date: date | None = None,
    birth_date_ops: Sequence[tuple[str, date]] = (),
    ids: Collection[int] | None = None,
) -> Select[Any]:
    """Patients matching every given criterion, in id order.

    ``identifier`` is (system or None, value). ``birth_date_ops`` are
    (operator, day) pairs with operator one of eq, ne, lt, gt, le, ge.
    """
    query = select(Patient)
    if identifier is not None:
        system, value = identifier
        cond = PatientIdentifier.value == value
        if system is not None:
            cond = and_(cond, PatientIdentifier.system == system)
        query = query.where(Patient.id.in_(select(PatientIdentifier.patient_id).where(cond)))
    if name:
        query = query.where(
            name_matches(Patient.family_name, Patient.given_names, name, prefix=name_prefix)
        )
    if birth_date is not None:
        query = query.where(Patient.birth_date == birth_date)
    for op, day in birth_date_ops:
        column = Patient.birth_date
        cond_map = {
            "eq": column == day,
            "ne": column != day,
            "lt": column < day,
            "gt": column > day,
            "le": column <= day,
            "ge": column >= day,
        }
        query = query.where(cond_map[op])
    if ids is not None:
        query = query.where(Patient.id.in_(list(ids)))
    return query.order_by(Patient.id)


def page(session: Session, query: Select[Any], *, limit: int, offset: int) -> tuple[list[Any], int]:
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    rows = list(session.scalars(query.limit(limit).offset(offset)))
    return rows, total


# Practitioners and their roles.


def get_practitioner(session: Session, practitioner_id: int) -> Practitioner | None:
    return session.get(Practitioner, practitioner_id)


def practitioner_by_license(session: Session, license_number: str) -> Practitioner | None:
    return session.scalar(select(Practitioner).where(Practitioner.license_number == license_number))


def practitioners_by_license(
    session: Session, licenses: Collection[str]
) -> dict[str, Practitioner]:
    out: dict[str, Practitioner] = {}
    for chunk in _chunks(sorted(set(licenses))):
        for row in session.scalars(
            select(Practitioner).where(Practitioner.license_number.in_(chunk))
        ):
            assert row.license_number is not None
            out[row.license_number] = row
    return out


def practitioner_query(
    *, name: str | None = None, name_prefix: bool = False, license_number: str | None = None
) -> Select[Any]:
    query = select(Practitioner)
    if name:
        query = query.where(
            name_matches(
                Practitioner.family_name, Practitioner.given_names, name, prefix=name_prefix
            )
        )
    if license_number is not None:
        query = query.where(Practitioner.license_number == license_number)
    return query.order_by(Practitioner.id)


def get_role(session: Session, role_id: int) -> PractitionerRole | None:
    return session.get(PractitionerRole, role_id)


def role_query(
    *,
    practitioner_id: int | None = None,
    facility_id: int | None = None,
    specialty_id: int | None = None,
    active: bool | None = None,
) -> Select[Any]:
    query = select(PractitionerRole)
    if practitioner_id is not None:
        query = query.where(PractitionerRole.practitioner_id == practitioner_id)
    if facility_id is not None:
        query = query.where(PractitionerRole.facility_id == facility_id)
    if specialty_id is not None:
        query = query.where(PractitionerRole.specialty_id == specialty_id)
    if active is not None:
        query = query.where(PractitionerRole.active == active)
    return query.order_by(PractitionerRole.id)


def role_keys_of(
    session: Session, practitioner_ids: Collection[int]
) -> set[tuple[int, int, str, int | None]]:
    """(practitioner, facility, role, specialty) of every active role held."""
    out: set[tuple[int, int, str, int | None]] = set()
    for chunk in _chunks(sorted(set(practitioner_ids))):
        rows = session.execute(
            select(
                PractitionerRole.practitioner_id,
                PractitionerRole.facility_id,
                PractitionerRole.role,
                PractitionerRole.specialty_id,
            ).where(PractitionerRole.practitioner_id.in_(chunk), PractitionerRole.active.is_(True))
        )
        out.update((p, f, str(r), s) for p, f, r, s in rows)
    return out


def reserve_ids(session: Session, table: str, n: int) -> list[int]:
    """``n`` fresh primary keys for a bulk insert that must know its ids.

    INSERT … RETURNING in parameter order runs one row at a time on SQLite,
    so bulk imports take their ids first: from the sequence on PostgreSQL; on
    SQLite from max(id), which is safe because the import's transaction holds
    the database's only write lock (BEGIN IMMEDIATE, see puente.db).
    """
    if n == 0:
        return []
    if session.get_bind().dialect.name == "postgresql":
        rows = session.execute(
            text("SELECT nextval(pg_get_serial_sequence(:t, 'id')) FROM generate_series(1, :n)"),
            {"t": table, "n": n},
        )
        return sorted(int(r[0]) for r in rows)
    start = (session.scalar(text(f'SELECT max(id) FROM "{table}"')) or 0) + 1
    return list(range(start, start + n))
