"""Every query of `catalog`."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from puente.catalog.models import Service, Specialty
from puente.enums import ServiceKind

# Keeps IN lists well under every driver's parameter limit.
IN_CHUNK = 2000
LANGUAGE_COLUMNS = ("name_en", "name_es", "name_ru", "name_vi")


def _chunks(values: Sequence[str], size: int = IN_CHUNK) -> Iterable[Sequence[str]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _like(text: str) -> str:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _matches(model: type[Service] | type[Specialty], text: str) -> ColumnElement[bool]:
    """Code or a name in any language contains ``text`` (case-insensitive)."""
    pattern = _like(text)
    columns = [model.code, *(getattr(model, c) for c in LANGUAGE_COLUMNS)]
    return or_(*(func.lower(c).like(pattern, escape="\\") for c in columns))


def specialties_by_code(session: Session) -> dict[str, Specialty]:
    return {s.code: s for s in session.scalars(select(Specialty))}


def services_by_code(session: Session) -> dict[str, Service]:
    return {s.code: s for s in session.scalars(select(Service))}


def specialty_ids_by_code(session: Session, codes: Collection[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for chunk in _chunks(sorted(set(codes))):
        rows = session.execute(
            select(Specialty.code, Specialty.id).where(Specialty.code.in_(chunk))
        )
        out.update({code: id_ for code, id_ in rows})
    return out


def service_ids_by_code(session: Session, codes: Collection[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for chunk in _chunks(sorted(set(codes))):
        rows = session.execute(select(Service.code, Service.id).where(Service.code.in_(chunk)))
        out.update({code: id_ for code, id_ in rows})
    return out


def specialty_codes_by_id(session: Session, ids: Collection[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = session.execute(select(Specialty.id, Specialty.code).where(Specialty.id.in_(ids)))
    return {id_: code for id_, code in rows}


def get_specialty(session: Session, specialty_id: int) -> Specialty | None:
    return session.get(Specialty, specialty_id)


def get_service(session: Session, service_id: int) -> Service | None:
    return session.get(Service, service_id)


def search_specialties(
    session: Session, *, text: str | None, code: str | None, limit: int, offset: int
) -> tuple[list[Specialty], int]:
    query = select(Specialty).order_by(Specialty.code)
    if text:
        query = query.where(_matches(Specialty, text))
    if code:
        query = query.where(Specialty.code == code)
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    return list(session.scalars(query.limit(limit).offset(offset))), int(total or 0)


def search_services(
    session: Session,
    *,
    kind: ServiceKind | None = None,
    specialty_id: int | None = None,
    text: str | None = None,
    code: str | None = None,
    active: bool | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> tuple[list[Service], int]:
    query = select(Service).order_by(Service.kind, Service.code)
    if kind is not None:
        query = query.where(Service.kind == kind)
    if specialty_id is not None:
        query = query.where(Service.specialty_id == specialty_id)
    if text:
        query = query.where(_matches(Service, text))
    if code:
        query = query.where(Service.code == code)
    if active is not None:
        query = query.where(Service.active.is_(active))
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    if limit is not None:
        query = query.limit(limit).offset(offset)
    return list(session.scalars(query)), int(total or 0)
