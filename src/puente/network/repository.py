"""Every query of `network`.

Lookups by code work in bulk (one query per chunk of codes), because imports
and list pages resolve thousands of references at once. Hierarchies (regions
under regions, facilities under facilities) are walked with recursive CTEs,
which SQLite and PostgreSQL both run.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import date

from sqlalchemy import ColumnElement, Select, and_, func, literal, or_, select, text
from sqlalchemy.orm import Session

from puente.catalog.models import Specialty
from puente.network.models import (
    BridgePoint,
    Country,
    Facility,
    Program,
    ProgramEnrolment,
    Region,
    SupportLink,
    SupportLinkSpecialty,
)

# Keeps IN lists well under every driver's parameter limit.
IN_CHUNK = 2000


def _chunks(values: Sequence[object], size: int = IN_CHUNK) -> Iterable[Sequence[object]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


# Countries and regions.


def countries(session: Session) -> list[Country]:
    return list(session.scalars(select(Country).order_by(Country.code)))


def country(session: Session, code: str) -> Country | None:
    return session.get(Country, code)


def country_codes(session: Session) -> set[str]:
    return set(session.scalars(select(Country.code)))


def region_by_code(session: Session, code: str) -> Region | None:
    return session.scalar(select(Region).where(Region.code == code))


def regions_by_id(session: Session, ids: Collection[int]) -> dict[int, Region]:
    out: dict[int, Region] = {}
    for chunk in _chunks(sorted(set(ids))):
        out.update({r.id: r for r in session.scalars(select(Region).where(Region.id.in_(chunk)))})
    return out


def regions_by_code(session: Session, codes: Collection[str]) -> dict[str, Region]:
    out: dict[str, Region] = {}
    for chunk in _chunks(sorted(set(codes))):
        out.update(
            {r.code: r for r in session.scalars(select(Region).where(Region.code.in_(chunk)))}
        )
    return out


def regions_query(
    *,
    country_code: str | None = None,
    parent_id: int | None = None,
    top_only: bool = False,
) -> Select[Region]:
    query = select(Region)
    if country_code is not None:
        query = query.where(Region.country_code == country_code)
    if parent_id is not None:
        query = query.where(Region.parent_id == parent_id)
    elif top_only:
        query = query.where(Region.parent_id.is_(None))
    return query.order_by(Region.name, Region.code)


def regions_of_country(session: Session, country_code: str) -> list[Region]:
    return list(session.scalars(regions_query(country_code=country_code)))


def region_and_descendant_ids(region_id: int) -> Select[int]:
    tree = select(Region.id).where(Region.id == region_id).cte("region_tree", recursive=True)
    tree = tree.union_all(select(Region.id).where(Region.parent_id == tree.c.id))
    return select(tree.c.id)


# Facilities.


def facility(session: Session, facility_id: int) -> Facility | None:
    return session.get(Facility, facility_id)


def facility_by_code(session: Session, code: str) -> Facility | None:
    return session.scalar(select(Facility).where(Facility.code == code))


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


def facilities_by_id(session: Session, ids: Collection[int]) -> dict[int, Facility]:
    out: dict[int, Facility] = {}
    for chunk in _chunks(sorted(set(ids))):
        out.update(
            {f.id: f for f in session.scalars(select(Facility).where(Facility.id.in_(chunk)))}
        )
    return out


def ancestors(session: Session, facility_id: int) -> list[int]:
    """The chain of parents above a facility, nearest first."""
    tree = (
        select(Facility.parent_id.label("id"), literal(1).label("depth"))
        .where(Facility.id == facility_id)
        .cte("ancestors", recursive=True)
    )
    tree = tree.union_all(
        select(Facility.parent_id, tree.c.depth + 1)
        .where(Facility.id == tree.c.id)
        .where(tree.c.depth < 100)
    )
    rows = session.execute(select(tree.c.id).where(tree.c.id.is_not(None)).order_by(tree.c.depth))
    return [int(r[0]) for r in rows]


def enrolled_on(program_id: int, on: date) -> Select[int]:
    """Ids of the facilities enrolled in a program on a day."""
    return select(ProgramEnrolment.facility_id).where(
        ProgramEnrolment.program_id == program_id,
        ProgramEnrolment.start_date <= on,
        or_(ProgramEnrolment.end_date.is_(None), ProgramEnrolment.end_date >= on),
    )


def facility_conditions(
    *,
    tier: str | None = None,
    kind: str | None = None,
    country_code: str | None = None,
    region_id: int | None = None,
    program_id: int | None = None,
    on: date | None = None,
    parent_id: int | None = None,
    name: str | None = None,
    active: bool | None = None,
) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if tier is not None:
        where.append(Facility.tier == tier)
    if kind is not None:
        where.append(Facility.kind == kind)
    if country_code is not None:
        where.append(Facility.country_code == country_code)
    if region_id is not None:
        where.append(Facility.region_id.in_(region_and_descendant_ids(region_id)))
    if program_id is not None:
        where.append(Facility.id.in_(enrolled_on(program_id, on or date.today())))
    if parent_id is not None:
        where.append(Facility.parent_id == parent_id)
    if name:
        pattern = f"%{name.lower()}%"
        where.append(or_(func.lower(Facility.name).like(pattern), Facility.code == name))
    if active is not None:
        where.append(Facility.active.is_(active))
    return where


def search_facilities(
    session: Session, where: list[ColumnElement[bool]], *, limit: int, offset: int
) -> tuple[int, list[Facility]]:
    condition = and_(*where) if where else None
    count = select(func.count()).select_from(Facility)
    rows = select(Facility).order_by(Facility.name, Facility.code).limit(limit).offset(offset)
    if condition is not None:
        count = count.where(condition)
        rows = rows.where(condition)
    return int(session.scalar(count) or 0), list(session.scalars(rows))


def count_by_region(session: Session, where: list[ColumnElement[bool]]) -> dict[int, int]:
    query = select(Facility.region_id, func.count()).group_by(Facility.region_id)
    if where:
        query = query.where(and_(*where))
    return {int(r): int(n) for r, n in session.execute(query)}


def count_by_country(session: Session, where: list[ColumnElement[bool]]) -> dict[str, int]:
    query = select(Facility.country_code, func.count()).group_by(Facility.country_code)
    if where:
        query = query.where(and_(*where))
    return {str(c): int(n) for c, n in session.execute(query)}


def children(session: Session, facility_id: int) -> list[Facility]:
    return list(
        session.scalars(
            select(Facility).where(Facility.parent_id == facility_id).order_by(Facility.name)
        )
    )


# Specialties (read-only lookups into the catalog).


def specialty_ids_by_code(session: Session, codes: Collection[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for chunk in _chunks(sorted(set(codes))):
        rows = session.execute(
            select(Specialty.code, Specialty.id).where(Specialty.code.in_(chunk))
        )
        out.update({code: id_ for code, id_ in rows})
    return out


# Support links.


def link(session: Session, link_id: int) -> SupportLink | None:
    return session.get(SupportLink, link_id)


def link_between(session: Session, hub_id: int, spoke_id: int) -> SupportLink | None:
    return session.scalar(
        select(SupportLink).where(SupportLink.hub_id == hub_id, SupportLink.spoke_id == spoke_id)
    )


def links(
    session: Session,
    *,
    hub_id: int | None = None,
    spoke_id: int | None = None,
    active: bool | None = None,
    limit: int,
    offset: int,
) -> tuple[int, list[SupportLink]]:
    where: list[ColumnElement[bool]] = []
    if hub_id is not None:
        where.append(SupportLink.hub_id == hub_id)
    if spoke_id is not None:
        where.append(SupportLink.spoke_id == spoke_id)
    if active is not None:
        where.append(SupportLink.active.is_(active))
    count = select(func.count()).select_from(SupportLink).where(*where)
    rows = (
        select(SupportLink)
        .where(*where)
        .order_by(SupportLink.rank, SupportLink.id)
        .limit(limit)
        .offset(offset)
    )
    return int(session.scalar(count) or 0), list(session.scalars(rows))


def specialty_codes_of_links(session: Session, link_ids: Collection[int]) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {i: [] for i in link_ids}
    for chunk in _chunks(sorted(set(link_ids))):
        rows = session.execute(
            select(SupportLinkSpecialty.link_id, Specialty.code)
            .join(Specialty, Specialty.id == SupportLinkSpecialty.specialty_id)
            .where(SupportLinkSpecialty.link_id.in_(chunk))
            .order_by(Specialty.code)
        )
        for link_id, code in rows:
            out[int(link_id)].append(str(code))
    return out


def replace_link_specialties(session: Session, link_id: int, specialty_ids: Iterable[int]) -> None:
    session.query(SupportLinkSpecialty).filter(SupportLinkSpecialty.link_id == link_id).delete()
    session.add_all(SupportLinkSpecialty(link_id=link_id, specialty_id=s) for s in specialty_ids)
    session.flush()


# Programs and enrolments.


def program_by_code(session: Session, code: str) -> Program | None:
    return session.scalar(select(Program).where(Program.code == code))


def programs(session: Session) -> list[Program]:
    return list(session.scalars(select(Program).order_by(Program.name, Program.code)))


def programs_by_id(session: Session, ids: Collection[int]) -> dict[int, Program]:
    return {p.id: p for p in session.scalars(select(Program).where(Program.id.in_(set(ids))))}


def enrolment(session: Session, enrolment_id: int) -> ProgramEnrolment | None:
    return session.get(ProgramEnrolment, enrolment_id)


def overlapping_enrolment(
    session: Session,
    *,
    program_id: int,
    facility_id: int,
    start: date,
    end: date | None,
    exclude_id: int | None = None,
) -> ProgramEnrolment | None:
    """An enrolment of the same facility in the same program whose period
    shares at least one day with [start, end] (open periods run forever)."""
    query = select(ProgramEnrolment).where(
        ProgramEnrolment.program_id == program_id,
        ProgramEnrolment.facility_id == facility_id,
        or_(ProgramEnrolment.end_date.is_(None), ProgramEnrolment.end_date >= start),
    )
    if end is not None:
        query = query.where(ProgramEnrolment.start_date <= end)
    if exclude_id is not None:
        query = query.where(ProgramEnrolment.id != exclude_id)
    return session.scalar(query.order_by(ProgramEnrolment.start_date).limit(1))


def enrolments(
    session: Session, *, program_id: int | None = None, facility_id: int | None = None
) -> list[ProgramEnrolment]:
    query = select(ProgramEnrolment)
    if program_id is not None:
        query = query.where(ProgramEnrolment.program_id == program_id)
    if facility_id is not None:
        query = query.where(ProgramEnrolment.facility_id == facility_id)
    return list(session.scalars(query.order_by(ProgramEnrolment.start_date, ProgramEnrolment.id)))


# Bridge points.


def bridge_point(session: Session, point_id: int) -> BridgePoint | None:
    return session.get(BridgePoint, point_id)


def bridge_points(
    session: Session, *, facility_id: int | None = None, status: str | None = None
) -> list[BridgePoint]:
    query = select(BridgePoint)
    if facility_id is not None:
        query = query.where(BridgePoint.facility_id == facility_id)
    if status is not None:
        query = query.where(BridgePoint.status == status)
    return list(session.scalars(query.order_by(BridgePoint.name, BridgePoint.id)))


# Bulk imports.


def reserve_ids(session: Session, table: str, n: int) -> list[int]:
    """``n`` fresh primary keys for a bulk insert that must know its ids
    (rows of one file refer to each other as parents).

    From the sequence on PostgreSQL; on SQLite from max(id), which is safe
    because the import's transaction holds the only write lock (BEGIN
    IMMEDIATE, see puente.db).
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


def facilities_by_code(
    session: Session, codes: Collection[str]
) -> dict[str, tuple[int, int | None]]:
    """code → (id, parent_id) for existing facilities.

    A large file asks about more codes than most networks hold: then one
    scan of the table beats dozens of long IN lists."""
    out: dict[str, tuple[int, int | None]] = {}
    if len(codes) > 20 * IN_CHUNK:
        wanted = set(codes)
        rows = session.execute(select(Facility.code, Facility.id, Facility.parent_id))
        return {code: (id_, parent) for code, id_, parent in rows if code in wanted}
    for chunk in _chunks(sorted(set(codes))):
        rows = session.execute(
            select(Facility.code, Facility.id, Facility.parent_id).where(Facility.code.in_(chunk))
        )
        out.update({code: (id_, parent) for code, id_, parent in rows})
    return out


def parent_map(session: Session) -> dict[int, int | None]:
    """id → parent_id of every facility: what a cycle check over an import needs."""
    return {int(i): p for i, p in session.execute(select(Facility.id, Facility.parent_id))}
