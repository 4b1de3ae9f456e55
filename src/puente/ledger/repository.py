"""Every query of `ledger`.

Writes are dialect-aware ``INSERT … ON CONFLICT`` statements (SQLite and
PostgreSQL both have them): an entry whose (source, source_ref) is already
stored is skipped, and a rollup row is created or added to in one statement,
so two transactions recording the same key never lose a count.

Facility, region and service codes are resolved here by reading their tables:
a code → id lookup is all the ledger needs from them, in bulk for imports.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import date, datetime
from enum import Enum
from functools import cache
from typing import Any, cast

from sqlalchemy import ColumnElement, Date, Table, and_, func, literal, select, type_coerce
from sqlalchemy import cast as cast_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import Insert

from puente.catalog.models import Service
from puente.enums import LedgerSource
from puente.ledger.models import LedgerEntry, LedgerRollup, LedgerRollupMonth
from puente.network.models import Facility, Region
from puente.people.models import Patient

ENTRY = cast(Table, LedgerEntry.__table__)
ROLLUP = cast(Table, LedgerRollup.__table__)
MONTHLY = cast(Table, LedgerRollupMonth.__table__)
ROLLUP_KEY = ("facility_id", "day", "service_id", "mode", "campaign_code", "citizenship")
IN_CHUNK = 2000


def _chunks(values: Sequence[Any], size: int = IN_CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _dialect(session: Session) -> str:
    name = session.get_bind().dialect.name
    if name not in ("postgresql", "sqlite"):
        raise NotImplementedError(f"the ledger needs INSERT … ON CONFLICT; {name} has none")
    return name


def _insert(session: Session, table: Table) -> Any:
    """The dialect's own INSERT, which has ``on_conflict_do_*``."""
    return (postgresql if _dialect(session) == "postgresql" else sqlite).insert(table)


def _upsert_rollup(stmt: Any, table: Table = ROLLUP) -> Insert:
    return cast(
        Insert,
        stmt.on_conflict_do_update(
            index_elements=list(ROLLUP_KEY),
            set_={
                "count": table.c.count + stmt.excluded["count"],
                "entries": table.c.entries + stmt.excluded["entries"],
            },
        ),
    )


@cache
def _statements(dialect: str) -> tuple[Any, Insert, Insert]:
    """The per-row statements, built once per dialect: building them is
    most of the Python time of a record() call. The entry INSERT is ORM-enabled
    and returns the new LedgerEntry itself, saving a SELECT."""
    module = postgresql if dialect == "postgresql" else sqlite
    entry = (
        module.insert(LedgerEntry)
        .on_conflict_do_nothing(index_elements=["source", "source_ref"])
        .returning(LedgerEntry)
    )
    rollup = _upsert_rollup(module.insert(ROLLUP))
    monthly = _upsert_rollup(module.insert(MONTHLY), MONTHLY)
    return entry, rollup, monthly


# Writes.


def insert_entry(session: Session, row: Mapping[str, Any]) -> LedgerEntry | None:
    """Insert one entry; None when its (source, source_ref) is already stored."""
    entry, _rollup, _monthly = _statements(_dialect(session))
    found: LedgerEntry | None = session.scalars(entry, [dict(row)]).first()
    return found


def add_to_rollup(session: Session, row: Mapping[str, Any]) -> None:
    """Add one entry's count to its rollup rows, the day's and the month's
    (creating them when missing)."""
    values = {key: row[key] for key in ROLLUP_KEY}
    values["campaign_code"] = values["campaign_code"] or ""
    values["citizenship"] = values["citizenship"] or ""
    _entry, rollup, monthly = _statements(_dialect(session))
    session.execute(rollup, {**values, "count": row["count"], "entries": 1})
    month = {**values, "day": values["day"].replace(day=1)}
    session.execute(monthly, {**month, "count": row["count"], "entries": 1})


# Bulk writes. The per-row path above costs a statement or two per row; these
# hand the rows to the database in one pass (COPY on PostgreSQL, a prepared
# executemany on SQLite) and sum the rollup in SQL.

BULK_COLUMNS = (
    "facility_id", "day", "service_id", "count", "mode", "campaign_code", "citizenship",
    "patient_id", "source", "source_ref",
)  # fmt: skip
_STAGE = "ledger_stage"


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value


def _stamp(session: Session, now: datetime) -> Any:
    """``now`` as the driver must receive it for ``recorded_at``."""
    dialect = session.get_bind().dialect
    process = ENTRY.c.recorded_at.type.dialect_impl(dialect).bind_processor(dialect)
    return process(now) if process else now


def bulk_insert(session: Session, rows: Sequence[Mapping[str, Any]], now: datetime) -> int:
    """Insert entries (skipping a stored (source, source_ref)) and add the new
    ones to the rollup; returns how many were new."""
    if not rows:
        return 0
    if session.get_bind().dialect.name == "postgresql":
        return _bulk_postgres(session, rows, now)
    return _bulk_sqlite(session, rows, now)


def _rollup_from_entries(session: Session, where: ColumnElement[bool]) -> None:
    e = ENTRY.c
    campaign = func.coalesce(e.campaign_code, literal(""))
    citizenship = func.coalesce(e.citizenship, literal(""))
    # SQLite only (PostgreSQL's bulk path sums in _PG_MOVE).
    for table, day in ((ROLLUP, e.day), (MONTHLY, func.date(e.day, "start of month"))):
        keys = [e.facility_id, day, e.service_id, e.mode, campaign, citizenship]
        # The WHERE also keeps SQLite's parser from reading ON CONFLICT as a join.
        grouped = select(*keys, func.sum(e.count), func.count()).where(where).group_by(*keys)
        stmt = _insert(session, table).from_select([*ROLLUP_KEY, "count", "entries"], grouped)
        session.execute(_upsert_rollup(stmt, table))


def _bulk_sqlite(session: Session, rows: Sequence[Mapping[str, Any]], now: datetime) -> int:
    # SQLite has one writer at a time and Puente begins every transaction
    # IMMEDIATE, so every id above the current maximum is one inserted here.
    connection = session.connection()
    before = int(connection.scalar(select(func.coalesce(func.max(ENTRY.c.id), 0))) or 0)
    day = ENTRY.c.day.type.dialect_impl(connection.dialect).bind_processor(connection.dialect)
    stamp = _stamp(session, now)
    params = [
        (
            *(
                day(row["day"]) if name == "day" and day else _plain(row.get(name))
                for name in BULK_COLUMNS
            ),
            stamp,
        )
        for row in rows
    ]
    marks = ", ".join("?" for _ in range(len(BULK_COLUMNS) + 1))
    connection.exec_driver_sql(
        f"INSERT INTO ledger_entry ({', '.join(BULK_COLUMNS)}, recorded_at) VALUES ({marks})"
        " ON CONFLICT (source, source_ref) DO NOTHING",
        params,
    )
    inserted = int(
        connection.scalar(select(func.count()).select_from(ENTRY).where(ENTRY.c.id > before)) or 0
    )
    if inserted:
        _rollup_from_entries(session, ENTRY.c.id > before)
    return inserted


_PG_STAGE = f"""
CREATE TEMPORARY TABLE IF NOT EXISTS {_STAGE} (
    facility_id integer, day date, service_id integer, count integer, mode varchar(32),
    campaign_code varchar(64), citizenship varchar(2), patient_id integer,
    source varchar(32), source_ref varchar(128)
) ON COMMIT DROP
"""
# One statement: the entries that were new (RETURNING skips the conflicts)
# feed the rollup, so concurrent writers can never be counted here.
_PG_MOVE = f"""
WITH new AS (
    INSERT INTO ledger_entry ({", ".join(BULK_COLUMNS)}, recorded_at)
    SELECT {", ".join(BULK_COLUMNS)}, %(now)s FROM {_STAGE}
    ON CONFLICT (source, source_ref) DO NOTHING
    RETURNING facility_id, day, service_id, mode, campaign_code, citizenship, count
), rolled AS (
    INSERT INTO ledger_rollup ({", ".join(ROLLUP_KEY)}, count, entries)
    SELECT facility_id, day, service_id, mode, coalesce(campaign_code, ''),
           coalesce(citizenship, ''), sum(count), count(*)
    FROM new GROUP BY 1, 2, 3, 4, 5, 6
    ON CONFLICT ({", ".join(ROLLUP_KEY)}) DO UPDATE
    SET count = ledger_rollup.count + excluded.count,
        entries = ledger_rollup.entries + excluded.entries
), monthly AS (
    INSERT INTO ledger_rollup_month ({", ".join(ROLLUP_KEY)}, count, entries)
    SELECT facility_id, date_trunc('month', day)::date, service_id, mode,
           coalesce(campaign_code, ''), coalesce(citizenship, ''), sum(count), count(*)
    FROM new GROUP BY 1, 2, 3, 4, 5, 6
    ON CONFLICT ({", ".join(ROLLUP_KEY)}) DO UPDATE
    SET count = ledger_rollup_month.count + excluded.count,
        entries = ledger_rollup_month.entries + excluded.entries
)
SELECT count(*) FROM new
"""


def _bulk_postgres(session: Session, rows: Sequence[Mapping[str, Any]], now: datetime) -> int:
    connection = session.connection()
    connection.exec_driver_sql(_PG_STAGE)
    connection.exec_driver_sql(f"TRUNCATE {_STAGE}")
    raw: Any = connection.connection.dbapi_connection
    columns = ", ".join(BULK_COLUMNS)
    with raw.cursor() as cursor, cursor.copy(f"COPY {_STAGE} ({columns}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([_plain(row.get(name)) for name in BULK_COLUMNS])
    inserted = connection.exec_driver_sql(_PG_MOVE, {"now": now}).scalar()
    connection.exec_driver_sql(f"TRUNCATE {_STAGE}")
    return int(inserted or 0)


# Reads of entries.


def entry_by_ref(session: Session, source: LedgerSource, source_ref: str) -> LedgerEntry | None:
    return session.scalar(
        select(LedgerEntry).where(
            LedgerEntry.source == source, LedgerEntry.source_ref == source_ref
        )
    )


def get_entry(session: Session, entry_id: int) -> LedgerEntry | None:
    return session.get(LedgerEntry, entry_id)


def patient_citizenship(session: Session, patient_id: int) -> tuple[bool, str | None]:
    """(exists, citizenship) of a patient."""
    row = session.execute(select(Patient.citizenship).where(Patient.id == patient_id)).first()
    return (row is not None, row[0] if row else None)


def rollup_totals(session: Session) -> list[tuple[Any, ...]]:
    """Every rollup row as (key…, count, entries), for checks and tests."""
    return [tuple(r) for r in session.execute(select(ROLLUP).order_by(*ROLLUP.c))]


def monthly_totals(session: Session) -> list[tuple[Any, ...]]:
    """Every monthly rollup row as (key…, count, entries), for checks and tests."""
    return [tuple(r) for r in session.execute(select(MONTHLY).order_by(*MONTHLY.c))]


def summed_by_month(session: Session) -> list[tuple[Any, ...]]:
    """The monthly rollup as it should be: the daily rollup summed per month."""
    r = ROLLUP.c
    month = (
        cast_(func.date_trunc("month", r.day), Date)
        if session.get_bind().dialect.name == "postgresql"
        else type_coerce(func.date(r.day, "start of month"), Date)
    )
    keys = [r.facility_id, month, r.service_id, r.mode, r.campaign_code, r.citizenship]
    query = select(*keys, func.sum(r.count), func.sum(r.entries)).group_by(*keys).order_by(*keys)
    return [tuple(r) for r in session.execute(query)]


def summed_entries(session: Session) -> list[tuple[Any, ...]]:
    """The rollup as it should be, summed from the entries themselves."""
    e = ENTRY.c
    campaign = func.coalesce(e.campaign_code, literal(""))
    citizenship = func.coalesce(e.citizenship, literal(""))
    keys = [e.facility_id, e.day, e.service_id, e.mode, campaign, citizenship]
    query = select(*keys, func.sum(e.count), func.count()).group_by(*keys).order_by(*keys)
    return [tuple(r) for r in session.execute(query)]


# Code lookups.


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


def service_codes_by_id(session: Session, ids: Collection[int]) -> dict[int, str]:
    out: dict[int, str] = {}
    for chunk in _chunks(sorted(set(ids))):
        rows = session.execute(select(Service.id, Service.code).where(Service.id.in_(chunk)))
        out.update({id_: code for id_, code in rows})
    return out


def region_id_by_code(session: Session, code: str) -> int | None:
    return session.scalar(select(Region.id).where(Region.code == code))


# Figures.


def region_tree(region_id: int) -> ColumnElement[bool]:
    """Facilities in the region or any region below it."""
    tree = select(Region.id).where(Region.id == region_id).cte("ledger_regions", recursive=True)
    tree = tree.union_all(select(Region.id).where(Region.parent_id == tree.c.id))
    return Facility.region_id.in_(select(tree.c.id))


GROUP_COLUMNS: dict[str, list[Any]] = {
    "facility": [Facility.code.label("facility"), Facility.name.label("facility_name")],
    "region": [Region.code.label("region")],
    "country": [Facility.country_code.label("country")],
    "day": [LedgerRollup.day.label("day")],
    "service": [Service.code.label("service")],
    "kind": [Service.kind.label("kind")],
    "mode": [LedgerRollup.mode.label("mode")],
    "campaign": [LedgerRollup.campaign_code.label("campaign")],
    "citizenship": [LedgerRollup.citizenship.label("citizenship")],
}
NEEDS_FACILITY = {"facility", "region", "country"}
NEEDS_SERVICE = {"service", "kind"}


def figure_conditions(
    *,
    start: date | None,
    end: date | None,
    facility_ids: Collection[int] | None,
    region_id: int | None,
    country: str | None,
    service_ids: Collection[int] | None,
    kinds: Collection[str],
    mode: str | None,
    campaign: str | None,
    citizenship: Collection[str],
    foreign: bool | None,
) -> tuple[list[ColumnElement[bool]], bool, bool]:
    """WHERE clauses over the rollup, and whether they need the facility and
    service tables joined."""
    r = LedgerRollup
    where: list[ColumnElement[bool]] = []
    needs_facility = needs_service = False
    if start is not None:
        where.append(r.day >= start)
    if end is not None:
        where.append(r.day <= end)
    if facility_ids is not None:
        where.append(r.facility_id.in_(sorted(facility_ids)))
    if region_id is not None:
        where.append(region_tree(region_id))
        needs_facility = True
    if country is not None:
        where.append(Facility.country_code == country)
        needs_facility = True
    if service_ids is not None:
        where.append(r.service_id.in_(sorted(service_ids)))
    if kinds:
        where.append(Service.kind.in_(sorted(kinds)))
        needs_service = True
    if mode is not None:
        where.append(r.mode == mode)
    if campaign is not None:
        where.append(r.campaign_code == campaign)
    if citizenship:
        where.append(r.citizenship.in_(sorted(citizenship)))
    if foreign is not None:
        needs_facility = True
        known = r.citizenship != ""
        where.append(
            and_(known, r.citizenship != Facility.country_code)
            if foreign
            else (r.citizenship == Facility.country_code)
        )
    return where, needs_facility, needs_service


def figures(
    session: Session,
    *,
    where: list[ColumnElement[bool]],
    needs_facility: bool,
    needs_service: bool,
    group_by: Sequence[str],
    limit: int,
    offset: int,
) -> tuple[tuple[int, int], list[Mapping[str, Any]], int]:
    """((count, entries) overall, one mapping per group, number of groups)."""
    r = LedgerRollup
    needs_facility = needs_facility or bool(NEEDS_FACILITY & set(group_by))
    needs_service = needs_service or bool(NEEDS_SERVICE & set(group_by))
    columns = [c for g in group_by for c in GROUP_COLUMNS[g]]
    sums = [
        func.coalesce(func.sum(r.count), 0).label("count"),
        func.coalesce(func.sum(r.entries), 0).label("entries"),
    ]

    def base(*selected: Any) -> Any:
        query = select(*selected).select_from(r)
        if needs_facility:
            query = query.join(Facility, Facility.id == r.facility_id)
        if "region" in group_by:
            query = query.join(Region, Region.id == Facility.region_id)
        if needs_service:
            query = query.join(Service, Service.id == r.service_id)
        return query.where(*where)

    overall = session.execute(base(*sums)).one()
    totals = (int(overall[0]), int(overall[1]))
    if not columns:
        return totals, [], 0
    grouped = base(*columns, *sums).group_by(*columns)
    total_groups = int(session.scalar(select(func.count()).select_from(grouped.subquery())) or 0)
    rows = session.execute(grouped.order_by(*columns).limit(limit).offset(offset)).mappings()
    return totals, [dict(m) for m in rows], total_groups
