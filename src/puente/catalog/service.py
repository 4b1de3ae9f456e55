"""The rules of `catalog`: the built-in catalog files, lookups, and edits.

The catalog shipped with Puente lives in ``data/specialties.csv`` and
``data/services.csv`` (stable code, kind, labels in en/es/ru/vi).
:func:`sync_catalog` makes the database match those files and is safe to run
again at every start or upgrade: rows are matched by code, so ids never move
and services added through the API are left alone. Functions flush but never
commit.
"""

from __future__ import annotations

import csv
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from puente.catalog import repository as repo
from puente.catalog.models import Service, Specialty
from puente.catalog.schemas import (
    ServiceCreate,
    ServiceRead,
    ServiceUpdate,
    SpecialtyCreate,
    SpecialtyRead,
)
from puente.config import LANGUAGES
from puente.enums import ServiceKind
from puente.errors import Conflict, FieldError, NotFound, Unprocessable
from puente.schemas import Page

DATA_DIR = Path(__file__).parent / "data"
NAME_FIELDS = tuple(f"name_{lang}" for lang in LANGUAGES)


class Labelled(Protocol):
    name_en: str
    name_es: str
    name_ru: str
    name_vi: str


def label(item: Labelled, lang: str) -> str:
    """The name of a service or specialty in ``lang``; English when the
    language is unknown or its label is empty."""
    if lang in LANGUAGES:
        text = getattr(item, f"name_{lang}", "")
        if text:
            return str(text)
    return item.name_en


# The shipped catalog.


@dataclass(frozen=True)
class SyncResult:
    created: int
    updated: int

    def __str__(self) -> str:
        return f"catalog: {self.created} created, {self.updated} updated"


def _rows(name: str) -> Iterator[dict[str, str]]:
    with (DATA_DIR / name).open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            yield {k: (v or "").strip() for k, v in row.items()}


def _apply(row: Specialty | Service, values: dict[str, object]) -> bool:
    changed = False
    for key, value in values.items():
        if getattr(row, key) != value:
            setattr(row, key, value)
            changed = True
    return changed


def sync_catalog(session: Session) -> SyncResult:
    """Create or update every shipped specialty and service, matched by code."""
    created = updated = 0
    specialties = repo.specialties_by_code(session)
    for row in _rows("specialties.csv"):
        names: dict[str, object] = {f: row[f] for f in NAME_FIELDS}
        found = specialties.get(row["code"])
        if found is None:
            specialties[row["code"]] = found = Specialty(code=row["code"], **names)
            session.add(found)
            created += 1
        elif _apply(found, names):
            updated += 1
    session.flush()

    services = repo.services_by_code(session)
    for row in _rows("services.csv"):
        spec = row["specialty_code"]
        if spec and spec not in specialties:
            raise ValueError(f"services.csv: {row['code']} names unknown specialty {spec}")
        values: dict[str, object] = {f: row[f] for f in NAME_FIELDS}
        values["kind"] = ServiceKind(row["kind"])
        values["specialty_id"] = specialties[spec].id if spec else None
        found_service = services.get(row["code"])
        if found_service is None:
            session.add(Service(code=row["code"], active=True, **values))
            created += 1
        elif _apply(found_service, values):
            updated += 1
    session.flush()
    return SyncResult(created=created, updated=updated)


# Lookups other features use.


def service_ids_by_code(session: Session, codes: Collection[str]) -> dict[str, int]:
    """Code → id for the codes that exist (one query per 2,000 codes)."""
    return repo.service_ids_by_code(session, codes)


def specialty_ids_by_code(session: Session, codes: Collection[str]) -> dict[str, int]:
    return repo.specialty_ids_by_code(session, codes)


# Specialties.


def _specialty_read(row: Specialty) -> SpecialtyRead:
    return SpecialtyRead.model_validate(row)


def list_specialties(
    session: Session, *, text: str | None = None, code: str | None = None, limit: int, offset: int
) -> Page[SpecialtyRead]:
    rows, total = repo.search_specialties(session, text=text, code=code, limit=limit, offset=offset)
    return Page(items=[_specialty_read(r) for r in rows], total=total, limit=limit, offset=offset)


def get_specialty(session: Session, *, specialty_id: int) -> SpecialtyRead:
    row = repo.get_specialty(session, specialty_id)
    if row is None:
        raise NotFound(
            f"No specialty {specialty_id}.", errors=[FieldError("specialty_id", "unknown")]
        )
    return _specialty_read(row)


def _flush_unique(session: Session, code: str, what: str) -> None:
    # Two requests may create the same code at once; the unique constraint
    # decides and the loser gets a 409, not a 500.
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise Conflict(
            f"A {what} with code '{code}' already exists.",
            errors=[FieldError("code", f"'{code}' is already in use")],
        ) from None


def create_specialty(session: Session, *, data: SpecialtyCreate) -> SpecialtyRead:
    if repo.specialty_ids_by_code(session, [data.code]):
        raise Conflict(
            f"A specialty with code '{data.code}' already exists.",
            errors=[FieldError("code", f"'{data.code}' is already in use")],
        )
    row = Specialty(**data.model_dump())
    session.add(row)
    _flush_unique(session, data.code, "specialty")
    return _specialty_read(row)


# Services.


def _service_reads(session: Session, rows: list[Service]) -> list[ServiceRead]:
    codes = repo.specialty_codes_by_id(
        session, {r.specialty_id for r in rows if r.specialty_id is not None}
    )
    return [
        ServiceRead(
            id=r.id,
            code=r.code,
            kind=r.kind,
            specialty_id=r.specialty_id,
            specialty_code=codes.get(r.specialty_id) if r.specialty_id else None,
            name_en=r.name_en,
            name_es=r.name_es,
            name_ru=r.name_ru,
            name_vi=r.name_vi,
            duration_minutes=r.duration_minutes,
            active=r.active,
        )
        for r in rows
    ]


def _specialty_id(session: Session, code: str | None) -> int | None:
    if code is None:
        return None
    found = repo.specialty_ids_by_code(session, [code])
    if code not in found:
        raise Unprocessable(
            f"No specialty with code '{code}'.",
            errors=[FieldError("specialty_code", f"unknown specialty '{code}'")],
        )
    return found[code]


def list_services(
    session: Session,
    *,
    kind: ServiceKind | None = None,
    specialty_code: str | None = None,
    text: str | None = None,
    code: str | None = None,
    active: bool | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> Page[ServiceRead]:
    """Services filtered by kind, specialty code, and text found in the code
    or a name in any language."""
    specialty_id = None
    if specialty_code is not None:
        specialty_id = repo.specialty_ids_by_code(session, [specialty_code]).get(specialty_code)
        if specialty_id is None:
            return Page(items=[], total=0, limit=limit or 0, offset=offset)
    rows, total = repo.search_services(
        session,
        kind=kind,
        specialty_id=specialty_id,
        text=text,
        code=code,
        active=active,
        limit=limit,
        offset=offset,
    )
    return Page(
        items=_service_reads(session, rows),
        total=total,
        limit=limit if limit is not None else total,
        offset=offset,
    )


def get_service(session: Session, *, service_id: int) -> ServiceRead:
    row = repo.get_service(session, service_id)
    if row is None:
        raise NotFound(f"No service {service_id}.", errors=[FieldError("service_id", "unknown")])
    return _service_reads(session, [row])[0]


def create_service(session: Session, *, data: ServiceCreate) -> ServiceRead:
    """Add a service; 409 naming ``code`` when the code is taken."""
    if repo.service_ids_by_code(session, [data.code]):
        raise Conflict(
            f"A service with code '{data.code}' already exists.",
            errors=[FieldError("code", f"'{data.code}' is already in use")],
        )
    values = data.model_dump(exclude={"specialty_code"})
    row = Service(specialty_id=_specialty_id(session, data.specialty_code), **values)
    session.add(row)
    _flush_unique(session, data.code, "service")
    return _service_reads(session, [row])[0]


_REQUIRED = {"kind", *NAME_FIELDS, "active"}


def update_service(session: Session, *, service_id: int, data: ServiceUpdate) -> ServiceRead:
    """Change the fields sent; a name, kind or active flag cannot be cleared."""
    row = repo.get_service(session, service_id)
    if row is None:
        raise NotFound(f"No service {service_id}.", errors=[FieldError("service_id", "unknown")])
    given = data.model_fields_set
    cleared = sorted(f for f in given & _REQUIRED if getattr(data, f) is None)
    if cleared:
        raise Unprocessable(
            f"{', '.join(cleared)} cannot be empty.",
            errors=[FieldError(f, "cannot be null") for f in cleared],
        )
    for name in given - {"specialty_code"}:
        setattr(row, name, getattr(data, name))
    if "specialty_code" in given:
        row.specialty_id = _specialty_id(session, data.specialty_code)
    session.flush()
    return _service_reads(session, [row])[0]
