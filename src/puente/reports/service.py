"""Figures: every indicator of :mod:`puente.reports.indicators`, computed
over the ledger and the network.

Counts are summed from ``ledger_rollup``, which :func:`puente.ledger.service.record`
keeps in step with the entries in the same transaction — so a new ledger row
shows in every figure at once, and no figure waits for a nightly rebuild.
Unique patients are the one figure read from the entries (a rollup cannot
count distinct people). Figures never carry a patient's identity.

Facility attributes (country, region, tier, program, the reader's scope) are
resolved first to a list of facility ids from the small network tables, so
the big table is read through its primary key (facility, day, …).
"""

from __future__ import annotations

import functools
import heapq
from collections import defaultdict
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any, ParamSpec, TypeVar

from sqlalchemy import (
    ColumnElement,
    Date,
    and_,
    cast,
    distinct,
    false,
    func,
    or_,
    select,
    true,
)
from sqlalchemy.orm import Session

from puente import i18n
from puente.access.service import FacilityScope
from puente.catalog.models import Service, Specialty
from puente.catalog.service import label as catalog_label
from puente.db import among
from puente.enums import Mode, Tier
from puente.errors import FieldError, NotFound, Unprocessable
from puente.ledger.models import LedgerEntry, LedgerRollup, LedgerRollupMonth
from puente.network.models import Facility, Program, ProgramEnrolment, Region
from puente.reports.indicators import INDICATORS, Breakdown, Indicator, Measure

_T = TypeVar("_T")
_P = ParamSpec("_P")
TIME_KEYS = {Breakdown.day, Breakdown.week, Breakdown.month}
FACILITY_KEYS = {Breakdown.country, Breakdown.region, Breakdown.tier}
SERVICE_KEYS = {Breakdown.specialty, Breakdown.kind}

TIER_LABELS = {
    "central": "Central",
    "provincial": "Provincial",
    "district": "District",
    "commune": "Commune",
    "level3": "Third level of care",
    "level2": "Second level of care",
    "level1": "First level of care",
}
MODE_LABELS = {"in_person": "In person", "virtual": "Virtual"}


@dataclass(frozen=True)
class Filters:
    """What to count. Empty tuples and None mean "no filter"."""

    start: date | None = None
    end: date | None = None
    campaign: str | None = None
    program: str | None = None
    mode: Mode | None = None
    citizenship: tuple[str, ...] = ()
    foreign: bool | None = None
    tiers: tuple[Tier, ...] = ()
    country: str | None = None
    region: str | None = None
    facilities: tuple[str, ...] = ()
    services: tuple[str, ...] = ()

    def narrowed(self, **changes: Any) -> Filters:
        return replace(self, **changes)


@dataclass
class Row:
    keys: dict[str, str]
    labels: dict[str, str]
    value: float | int | None


@dataclass
class Result:
    indicator: str
    measure: Measure
    total: float | int | None
    by: tuple[Breakdown, ...]
    rows: list[Row] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "indicator": self.indicator,
            "measure": self.measure.value,
            "total": self.total,
            "by": [b.value for b in self.by],
            "rows": [{"keys": r.keys, "labels": r.labels, "value": r.value} for r in self.rows],
        }


def indicator(code: str) -> Indicator:
    found = INDICATORS.get(code)
    if found is None:
        raise NotFound(
            f"No indicator '{code}'.",
            errors=[FieldError("indicator", f"unknown; one of {', '.join(INDICATORS)}")],
        )
    return found


def _unknown(field_name: str, value: str) -> Unprocessable:
    return Unprocessable(
        f"Unknown {field_name} '{value}'.", errors=[FieldError(field_name, f"unknown '{value}'")]
    )


# Resolving filters to ids (small tables).


def _program_by_code(session: Session, code: str) -> Program:
    found = session.scalar(select(Program).where(Program.code == code))
    if found is None:
        raise _unknown("program", code)
    return found


def _region_ids(session: Session, code: str) -> list[int]:
    root = session.scalar(select(Region.id).where(Region.code == code))
    if root is None:
        raise _unknown("region", code)
    ids, frontier = [root], [root]
    while frontier:
        frontier = list(session.scalars(select(Region.id).where(Region.parent_id.in_(frontier))))
        ids += frontier
    return ids


def _facility_ids(
    session: Session, filters: Filters, scope: FacilityScope | None, *, program: bool = True
) -> list[int] | None:
    """The facilities a figure may sum over; None when every facility.
    ``program=False`` leaves program membership to the caller's own terms."""
    conditions: list[ColumnElement[bool]] = []
    if filters.country:
        conditions.append(Facility.country_code == filters.country.upper())
    if filters.region:
        conditions.append(Facility.region_id.in_(_region_ids(session, filters.region)))
    if filters.tiers:
        conditions.append(Facility.tier.in_(list(filters.tiers)))
    if filters.facilities:
        found = dict(
            session.execute(
                select(Facility.code, Facility.id).where(Facility.code.in_(filters.facilities))
            ).all()
        )
        for code in filters.facilities:
            if code not in found:
                raise _unknown("facility", code)
        conditions.append(Facility.id.in_(list(found.values())))
    if filters.program and program:
        program_row = program_by_code(session, filters.program)
        conditions.append(
            Facility.id.in_(
                select(ProgramEnrolment.facility_id).where(
                    ProgramEnrolment.program_id == program_row.id
                )
            )
        )
    ids: set[int] | None = None
    if conditions:
        ids = set(session.scalars(select(Facility.id).where(*conditions)))
    if scope is not None and not scope.everywhere:
        ids = set(scope.ids) if ids is None else ids & scope.ids
    return None if ids is None else sorted(ids)


def _service_ids(session: Session, ind: Indicator, extra: Collection[str] = ()) -> list[int] | None:
    conditions: list[ColumnElement[bool]] = []
    if ind.services:
        # "code*" names a family: remote-consultation* is every specialty's.
        exact = [c for c in ind.services if not c.endswith("*")]
        families = [Service.code.like(c[:-1] + "%") for c in ind.services if c.endswith("*")]
        conditions.append(or_(Service.code.in_(exact), *families))
    if ind.kinds:
        conditions.append(Service.kind.in_(list(ind.kinds)))
    specialty = select(Specialty.id)
    if ind.specialties:
        conditions.append(
            Service.specialty_id.in_(specialty.where(Specialty.code.in_(ind.specialties)))
        )
    if ind.not_specialties:
        conditions.append(
            or_(
                Service.specialty_id.is_(None),
                Service.specialty_id.not_in(
                    specialty.where(Specialty.code.in_(ind.not_specialties))
                ),
            )
        )
    if ind.not_services:
        conditions.append(Service.code.not_in(ind.not_services))
    if extra:
        conditions.append(Service.code.in_(list(extra)))
    if not conditions:
        return None
    return sorted(session.scalars(select(Service.id).where(*conditions)))


# The SQL.


@dataclass(frozen=True)
class Window:
    """Facilities (None: any) on the days ``lo``…``hi`` (None: open)."""

    ids: tuple[int, ...] | None
    lo: date | None
    hi: date | None


def _later(a: date | None, b: date | None) -> date | None:
    return b if a is None else a if b is None else max(a, b)


def _earlier(a: date | None, b: date | None) -> date | None:
    return b if a is None else a if b is None else min(a, b)


def _windows(
    session: Session, filters: Filters, scope: FacilityScope | None
) -> tuple[list[Window], list[int] | None]:
    """Which facilities count on which days: the period and the facility
    filters, and with a program one window per distinct enrolment period
    (rows of a facility count only while it was enrolled). Returns the
    windows and every facility they can match (None: any)."""
    fids = facility_ids(session, filters, scope, program=False)
    if not filters.program:
        ids = tuple(fids) if fids is not None else None
        return [Window(ids, filters.start, filters.end)], fids
    program = program_by_code(session, filters.program)
    e = ProgramEnrolment
    allowed = set(fids) if fids is not None else None
    periods: dict[tuple[date, date | None], set[int]] = {}
    for fid, first, end in session.execute(
        select(e.facility_id, e.start_date, e.end_date).where(e.program_id == program.id)
    ):
        if allowed is None or fid in allowed:
            periods.setdefault((first, end), set()).add(fid)
    out = []
    for (first, end), found in sorted(periods.items(), key=lambda kv: (kv[0][0], str(kv[0][1]))):
        lo, hi = _later(filters.start, first), _earlier(filters.end, end)
        if lo is None or hi is None or lo <= hi:
            out.append(Window(tuple(sorted(found)), lo, hi))
    return out, sorted({fid for w in out for fid in w.ids or ()})


def _within(session: Session, t: Any, found: Sequence[Window]) -> ColumnElement[bool]:
    """Rows inside any of the windows. One (facilities) × (days) term per
    window rather than a correlated EXISTS: planners read it by primary key."""
    return _remembered(
        ("within", id(session), t, tuple(found)), lambda: _within_terms(session, t, found)
    )


def _within_terms(session: Session, t: Any, found: Sequence[Window]) -> ColumnElement[bool]:
    terms = []
    for w in found:
        term: list[ColumnElement[bool]] = []
        if w.ids is not None:
            term.append(among(session, t.facility_id, w.ids))
        if w.lo is not None:
            term.append(t.day >= w.lo)
        if w.hi is not None:
            term.append(t.day <= w.hi)
        if not term:
            return true()
        terms.append(and_(*term))
    return or_(*terms) if terms else false()


# One reading: the figures of one page resolve the program, its facilities,
# windows and services once, not once per figure.

_MEMO: ContextVar[dict[Any, Any] | None] = ContextVar("puente_reports_memo", default=None)


@contextmanager
def one_reading() -> Iterator[None]:
    """Within this block the filters' facilities, enrolment windows and
    services are looked up once per session: for a page that computes many
    figures in one read-only request. Outside it every call looks anew."""
    token = _MEMO.set({})
    try:
        yield
    finally:
        _MEMO.reset(token)


def reading_once(fn: Callable[_P, _T]) -> Callable[_P, _T]:
    """``fn`` runs within :func:`one_reading` (for a page's route)."""

    @functools.wraps(fn)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _T:
        with one_reading():
            return fn(*args, **kwargs)

    return wrapper


def _remembered(key: tuple[Any, ...], make: Callable[[], _T]) -> _T:
    memo = _MEMO.get()
    if memo is None:
        return make()
    if key not in memo:
        memo[key] = make()
    found: _T = memo[key]
    return found


def program_by_code(session: Session, code: str) -> Program:
    return _remembered(("program", id(session), code), lambda: _program_by_code(session, code))


def facility_ids(
    session: Session, filters: Filters, scope: FacilityScope | None, *, program: bool = True
) -> list[int] | None:
    """The facilities a figure may sum over; None when every facility.
    ``program=False`` leaves program membership to the caller's own terms."""
    return _remembered(
        ("facilities", id(session), filters, scope, program),
        lambda: _facility_ids(session, filters, scope, program=program),
    )


def service_ids(session: Session, ind: Indicator, extra: Collection[str] = ()) -> list[int] | None:
    return _remembered(
        ("services", id(session), ind.code, tuple(extra)),
        lambda: _service_ids(session, ind, extra),
    )


def windows(
    session: Session, filters: Filters, scope: FacilityScope | None
) -> tuple[list[Window], list[int] | None]:
    return _remembered(
        ("windows", id(session), filters, scope), lambda: _windows(session, filters, scope)
    )


def _month_start(day: date) -> date:
    return day.replace(day=1)


def _next_month(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def by_month(found: Sequence[Window]) -> tuple[list[Window], list[Window]]:
    """Split windows into whole calendar months, for the monthly rollup
    (``lo`` and ``hi`` then name months by their first day), and the days
    before and after them, for the daily rollup."""
    daily: list[Window] = []
    monthly: list[Window] = []
    for w in found:
        first = w.lo if w.lo is None or w.lo.day == 1 else _next_month(w.lo)
        after = None if w.hi is None else _next_month(w.hi)
        if w.hi is not None and _next_month(w.hi) - timedelta(days=1) != w.hi:
            after = _month_start(w.hi)  # hi's month is partial
        if first is not None and after is not None and first >= after:
            daily.append(w)  # no whole month inside
            continue
        monthly.append(Window(w.ids, first, None if after is None else after - timedelta(days=1)))
        if w.lo is not None and first is not None and w.lo < first:
            daily.append(Window(w.ids, w.lo, first - timedelta(days=1)))
        if w.hi is not None and after is not None and after <= w.hi:
            daily.append(Window(w.ids, after, w.hi))
    return _merged(daily), _merged(monthly)


def _merged(found: Sequence[Window]) -> list[Window]:
    """One window per date range: facilities that joined a program on
    different days of one month share their whole months."""
    ranges: dict[tuple[date | None, date | None], set[int] | None] = {}
    for w in found:
        key = (w.lo, w.hi)
        if key in ranges and ranges[key] is None:
            continue
        if w.ids is None:
            ranges[key] = None
        else:
            ranges.setdefault(key, set())
            ranges[key] |= set(w.ids)  # type: ignore[operator]
    return [
        Window(None if ids is None else tuple(sorted(ids)), lo, hi)
        for (lo, hi), ids in ranges.items()
    ]


def bucket(session: Session, column: Any, key: Breakdown) -> Any:
    """``column`` (a date) as the first day of its day, week or month."""
    if key == Breakdown.day:
        return column
    postgres = session.get_bind().dialect.name == "postgresql"
    if postgres:
        unit = "week" if key == Breakdown.week else "month"
        return cast(func.date_trunc(unit, column), Date)
    if key == Breakdown.week:
        return func.date(column, "weekday 0", "-6 days")
    return func.strftime("%Y-%m-01", column)


@dataclass
class _Plan:
    table: Any
    conditions: list[ColumnElement[bool]]
    join_facility: bool
    join_region: bool
    join_service: bool
    # The facilities the conditions can match (None: any), repeated on the
    # joined facility table so the planner knows how few they are.
    facility_ids: list[int] | None = None


def _conditions(
    session: Session,
    ind: Indicator,
    filters: Filters,
    scope: FacilityScope | None,
    *,
    entries: bool,
    named: bool = True,
    table: Any = None,
    found: Sequence[Window] | None = None,
    fids: list[int] | None = None,
) -> _Plan:
    """The WHERE of a figure. ``found`` (with the ``fids`` they match) replaces
    the windows of ``filters``, e.g. to read whole months from ``table``."""
    t: Any = table if table is not None else LedgerEntry if entries else LedgerRollup
    where: list[ColumnElement[bool]] = []
    join_facility = False
    if found is None:
        found, fids = windows(session, filters, scope)
    # The windows carry the period, the facility filters and the program's
    # enrolment: one short id list per enrolment period.
    where.append(_within(session, t, found))
    sids = service_ids(session, ind, filters.services)
    if sids is not None:
        where.append(t.service_id.in_(sids) if sids else false())
    if filters.campaign:
        where.append(t.campaign_code == filters.campaign)
    mode = filters.mode or ind.mode
    if mode is not None:
        where.append(t.mode == mode)
    if filters.citizenship:
        where.append(t.citizenship.in_([c.upper() for c in filters.citizenship]))
    foreign = ind.foreign if ind.foreign is not None else filters.foreign
    if foreign is not None:
        join_facility = True
        known = t.citizenship.is_not(None) if entries else t.citizenship != ""
        where.append(
            and_(known, t.citizenship != Facility.country_code)
            if foreign
            else t.citizenship == Facility.country_code
        )
    if entries and named:
        where.append(t.patient_id.is_not(None))
    return _Plan(t, where, join_facility, False, False, fids)


def _group_column(session: Session, plan: _Plan, key: Breakdown) -> Any:
    t = plan.table
    if key == Breakdown.facility:
        return t.facility_id
    if key == Breakdown.country:
        plan.join_facility = True
        return Facility.country_code
    if key == Breakdown.region:
        plan.join_facility = plan.join_region = True
        return func.coalesce(Region.parent_id, Region.id)
    if key == Breakdown.tier:
        plan.join_facility = True
        return Facility.tier
    if key == Breakdown.service:
        return t.service_id
    if key == Breakdown.specialty:
        plan.join_service = True
        return Service.specialty_id
    if key == Breakdown.kind:
        plan.join_service = True
        return Service.kind
    if key == Breakdown.citizenship:
        return t.citizenship
    if key == Breakdown.mode:
        return t.mode
    if key == Breakdown.campaign:
        return t.campaign_code
    return bucket(session, t.day, key)


def _run(
    session: Session,
    plan: _Plan,
    value: Any,
    by: Sequence[Breakdown],
    *,
    additive: bool = True,
) -> tuple[Any, list[tuple[Any, ...]]]:
    columns = [_group_column(session, plan, key) for key in by]

    def query(*selected: Any) -> Any:
        q = select(*selected).select_from(plan.table)
        if plan.join_facility:
            q = q.join(Facility, Facility.id == plan.table.facility_id)
            if plan.facility_ids is not None:
                q = q.where(among(session, Facility.id, plan.facility_ids))
        if plan.join_region:
            q = q.join(Region, Region.id == Facility.region_id)
        if plan.join_service:
            q = q.join(Service, Service.id == plan.table.service_id)
        return q.where(*plan.conditions)

    if not columns:
        return session.execute(query(value)).scalar(), []
    labelled = [c.label(f"k{i}") for i, c in enumerate(columns)]
    rows = [tuple(r) for r in session.execute(query(*labelled, value).group_by(*labelled))]
    if additive:
        # A sum is the sum of its groups: one query instead of two.
        return sum(int(r[-1] or 0) for r in rows), rows
    return session.execute(query(value)).scalar(), rows


# Labels for the keys of a breakdown.


def _key_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    text = str(value.value if hasattr(value, "value") else value)
    return text[:10] if len(text) >= 10 and text[4:5] == "-" and text[7:8] == "-" else text


class Labeller:
    """Turns ids and codes of a breakdown into codes and names in a language."""

    def __init__(self, session: Session, lang: str) -> None:
        self.session, self.lang = session, lang

    def rows(self, by: Sequence[Breakdown], raw: list[tuple[Any, ...]]) -> list[Row]:
        ids: dict[Breakdown, set[Any]] = {key: set() for key in by}
        for values in raw:
            for key, value in zip(by, values, strict=False):
                ids[key].add(value)
        names = {key: self._names(key, ids[key]) for key in by}
        out = []
        for values in raw:
            keys, labels = {}, {}
            for key, value in zip(by, values, strict=False):
                code, name = names[key].get(value, (_key_text(value), _key_text(value)))
                keys[key.value], labels[key.value] = code, name
            number = values[len(by)]
            value = None if number is None else number if isinstance(number, float) else int(number)
            out.append(Row(keys, labels, value))
        return out

    def _names(self, key: Breakdown, values: set[Any]) -> dict[Any, tuple[str, str]]:
        s, lang = self.session, self.lang
        present = [v for v in values if v is not None]
        if key == Breakdown.facility:
            named = select(Facility.id, Facility.code, Facility.name)
            found = s.execute(named.where(among(s, Facility.id, present)))
            return {i: (c, n) for i, c, n in found}
        if key == Breakdown.region:
            found = s.execute(
                select(Region.id, Region.code, Region.name).where(Region.id.in_(present))
            )
            return {i: (c, n) for i, c, n in found}
        if key == Breakdown.service:
            services = s.scalars(select(Service).where(Service.id.in_(present)))
            return {x.id: (x.code, catalog_label(x, lang)) for x in services}
        if key == Breakdown.specialty:
            specs = s.scalars(select(Specialty).where(Specialty.id.in_(present)))
            found_specs: dict[Any, tuple[str, str]] = {
                x.id: (x.code, catalog_label(x, lang)) for x in specs
            }
            found_specs[None] = ("", i18n.gettext("No specialty", lang))
            return found_specs
        if key in (Breakdown.country, Breakdown.citizenship):
            out: dict[Any, tuple[str, str]] = {
                v: (v, i18n.country_name(v, lang)) for v in present if v
            }
            out[""] = out[None] = ("", i18n.gettext("Unknown", lang))
            return out
        if key in (Breakdown.tier, Breakdown.mode):
            words = TIER_LABELS if key == Breakdown.tier else MODE_LABELS
            return {
                v: (_key_text(v), i18n.gettext(words.get(_key_text(v), _key_text(v)), lang))
                for v in present
            }
        if key == Breakdown.campaign:
            none = ("", i18n.gettext("No campaign", lang))
            return {"": none, None: none}
        if key in TIME_KEYS:
            return {v: (_key_text(v), _time_label(_key_text(v), key, lang)) for v in present}
        return {}


def _time_label(text: str, key: Breakdown, lang: str) -> str:
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return text
    if key == Breakdown.month:
        from babel.dates import format_date

        return format_date(day, "LLLL y", locale=i18n.locale_for(lang))
    return i18n.format_day(day, lang, fmt="medium")


def order_rows(by: Sequence[Breakdown], rows: list[Row]) -> list[Row]:
    if by and by[0] in TIME_KEYS:
        return sorted(rows, key=lambda r: tuple(r.keys.values()))
    return sorted(rows, key=lambda r: (-(r.value or 0), tuple(r.labels.values())))


# The figures.


def compute(
    session: Session,
    code: str,
    filters: Filters = Filters(),
    *,
    by: Sequence[Breakdown] = (),
    scope: FacilityScope | None = None,
    lang: str = "en",
    limit: int | None = None,
    from_entries: bool = False,
) -> Result:
    """One indicator under ``filters``, split by ``by``; ``scope`` (the
    reader's facilities) bounds what is summed. Rows are ranked by value,
    or in time order when the first breakdown is a day, week or month."""
    ind = indicator(code)
    if filters.start and filters.end and filters.end < filters.start:
        raise Unprocessable(
            "The period ends before it starts.", errors=[FieldError("end", "is before start")]
        )
    by = list(dict.fromkeys(by))
    if ind.measure == Measure.count:
        total, raw = _count(session, ind, filters, scope, by, from_entries=from_entries)
    elif ind.measure == Measure.patients:
        plan = _conditions(session, ind, filters, scope, entries=True)
        total, raw = _run(
            session, plan, func.count(distinct(LedgerEntry.patient_id)), by, additive=False
        )
        total = int(total or 0)
    elif ind.measure == Measure.enrolled:
        return _enrolled(session, ind, filters, by, scope, lang)
    elif ind.measure == Measure.goal:
        return _goal(session, ind, filters, by, scope, lang)
    else:
        from puente.consults.metrics import consult_indicator

        result: Result = consult_indicator(session, ind, filters, by, scope, lang)
        return result
    rows = order_rows(by, Labeller(session, lang).rows(by, raw))
    if limit is not None:
        rows = rows[:limit]
    return Result(ind.code, ind.measure, total, tuple(by), rows)


def _count(
    session: Session,
    ind: Indicator,
    filters: Filters,
    scope: FacilityScope | None,
    by: Sequence[Breakdown],
    *,
    from_entries: bool,
) -> tuple[int, list[tuple[Any, ...]]]:
    """A sum of counts: whole months from the monthly rollup, the days around
    them from the daily one (all of it daily when broken down by day or week).
    ``from_entries`` sums the raw ledger rows instead: the benchmark's yardstick."""
    if from_entries or any(k in (Breakdown.day, Breakdown.week) for k in by):
        table: Any = LedgerEntry if from_entries else LedgerRollup
        plan = _conditions(session, ind, filters, scope, entries=from_entries, named=False)
        total, raw = _run(session, plan, func.coalesce(func.sum(table.count), 0), by)
        return int(total or 0), raw
    found, fids = windows(session, filters, scope)
    daily, monthly = by_month(found)
    sums: dict[tuple[Any, ...], int] = {}
    total = 0
    for part, table in ((monthly, LedgerRollupMonth), (daily, LedgerRollup)):
        if not part:
            continue
        plan = _conditions(
            session, ind, filters, scope, entries=False, table=table, found=part, fids=fids
        )
        subtotal, rows = _run(session, plan, func.coalesce(func.sum(table.count), 0), by)
        total += int(subtotal or 0)
        for row in rows:
            key = tuple(_key_text(v) if isinstance(v, date | str) else v for v in row[:-1])
            sums[key] = sums.get(key, 0) + int(row[-1] or 0)
    return total, [(*key, value) for key, value in sums.items()]


GOAL_KEYS = (
    Breakdown.facility, Breakdown.country, Breakdown.region, Breakdown.tier,
    Breakdown.service, Breakdown.specialty,
)  # fmt: skip


def _goal(
    session: Session,
    ind: Indicator,
    filters: Filters,
    by: Sequence[Breakdown],
    scope: FacilityScope | None,
    lang: str,
) -> Result:
    """Delivered ÷ goal of a campaign: the ledger rows tagged with the
    campaign, of the services and units that have a goal, over the goals."""
    from puente.recovery.service import campaign_goals

    if not filters.campaign:
        raise Unprocessable(
            "Goal attainment is measured per campaign.",
            errors=[FieldError("campaign", "is required for this indicator")],
        )
    for key in by:
        if key not in GOAL_KEYS:
            raise Unprocessable(
                f"Goal attainment cannot be broken down by {key.value}.",
                errors=[FieldError("by", f"one of {', '.join(k.value for k in GOAL_KEYS)}")],
            )
    fids = facility_ids(session, filters, scope)
    sids = service_ids(session, ind, filters.services)
    goals = campaign_goals(session, filters.campaign, fids, sids)
    if goals is None:
        raise _unknown("campaign", filters.campaign)
    if not goals:
        return Result(ind.code, ind.measure, None, tuple(by))
    r = LedgerRollup
    done_query = (
        select(r.facility_id, r.service_id, func.sum(r.count))
        .where(
            r.campaign_code == filters.campaign,
            among(session, r.facility_id, sorted({g[0] for g in goals})),
            r.service_id.in_(sorted({g[1] for g in goals})),
        )
        .group_by(r.facility_id, r.service_id)
    )
    if filters.start is not None:
        done_query = done_query.where(r.day >= filters.start)
    if filters.end is not None:
        done_query = done_query.where(r.day <= filters.end)
    delivered = {(fid, sid): int(n or 0) for fid, sid, n in session.execute(done_query)}
    places = facility_attributes(session, {g[0] for g in goals})
    specialties = dict(
        session.execute(
            select(Service.id, Service.specialty_id).where(
                Service.id.in_(sorted({g[1] for g in goals}))
            )
        ).all()
    )
    sums: dict[tuple[Any, ...], list[int]] = {}
    for fid, sid, goal in goals:
        values = {**places[fid], Breakdown.service: sid, Breakdown.specialty: specialties[sid]}
        bucket = sums.setdefault(tuple(values[k] for k in by), [0, 0])
        bucket[0] += goal
        bucket[1] += delivered.get((fid, sid), 0)
    total_goal = sum(b[0] for b in sums.values())
    total_done = sum(b[1] for b in sums.values())
    raw = [(*key, done / goal) for key, (goal, done) in sums.items()]
    rows = order_rows(by, Labeller(session, lang).rows(by, raw)) if by else []
    return Result(ind.code, ind.measure, total_done / total_goal, tuple(by), rows)


def _enrolled(
    session: Session,
    ind: Indicator,
    filters: Filters,
    by: Sequence[Breakdown],
    scope: FacilityScope | None,
    lang: str,
) -> Result:
    """Facilities enrolled on a day: the period's last day, or each bucket's
    last day when broken down over time. Needs ``program``."""
    if not filters.program:
        raise Unprocessable(
            "Facilities enrolled are counted per program.",
            errors=[FieldError("program", "is required for this indicator")],
        )
    program = program_by_code(session, filters.program)
    fids = facility_ids(session, filters, scope)
    e = ProgramEnrolment
    query = select(e.facility_id, e.start_date, e.end_date).where(e.program_id == program.id)
    if fids is not None:
        query = query.where(among(session, e.facility_id, fids))
    periods = session.execute(query).all()
    last = filters.end or max([p.start_date for p in periods], default=date.today())
    first = filters.start or min([p.start_date for p in periods], default=last)

    total = len(
        {
            p.facility_id
            for p in periods
            if p.start_date <= last and (p.end_date is None or p.end_date >= last)
        }
    )
    time_key = next((k for k in by if k in TIME_KEYS), None)
    facility_keys = [k for k in by if k not in TIME_KEYS]
    days = [last] if time_key is None else _bucket_ends(first, last, time_key)
    raw: list[tuple[Any, ...]] = []
    attributes = facility_attributes(session, {p.facility_id for p in periods})
    keys = {fid: tuple(a[k] for k in facility_keys) for fid, a in attributes.items()}
    for day, counts in _enrolled_on(periods, days, keys):
        for key, n in counts.items():
            values = list(key)
            if time_key is not None:
                values.insert(list(by).index(time_key), bucket_start(day, time_key))
            raw.append((*values, n))
    rows = order_rows(by, Labeller(session, lang).rows(by, raw)) if by else []
    return Result(ind.code, ind.measure, total, tuple(by), rows)


def _enrolled_on(
    periods: Sequence[Any], days: Sequence[date], keys: dict[int, tuple[Any, ...]]
) -> Iterator[tuple[date, dict[tuple[Any, ...], int]]]:
    """For each of ``days`` (ascending), the facilities enrolled on it
    counted by their key: one sweep over the enrolment periods in start order,
    a facility counted once however many of its periods overlap."""
    ordered = sorted(periods, key=lambda p: p.start_date)
    ending: list[tuple[date, int]] = []  # (last day, facility) of the periods begun
    periods_of: dict[int, int] = defaultdict(int)  # facility → its periods in force
    counts: dict[tuple[Any, ...], int] = defaultdict(int)
    started = 0
    for day in days:
        while started < len(ordered) and ordered[started].start_date <= day:
            p = ordered[started]
            started += 1
            if p.end_date is not None and p.end_date < day:
                continue  # began and ended between two of the days
            periods_of[p.facility_id] += 1
            if periods_of[p.facility_id] == 1:
                counts[keys.get(p.facility_id, ())] += 1
            if p.end_date is not None:
                heapq.heappush(ending, (p.end_date, p.facility_id))
        while ending and ending[0][0] < day:
            _end, fid = heapq.heappop(ending)
            periods_of[fid] -= 1
            if periods_of[fid] == 0:
                counts[keys.get(fid, ())] -= 1
        yield day, {key: n for key, n in counts.items() if n > 0}


def facility_attributes(session: Session, ids: set[int]) -> dict[int, dict[Breakdown, Any]]:
    rows = session.execute(
        select(
            Facility.id,
            Facility.country_code,
            func.coalesce(Region.parent_id, Region.id),
            Facility.tier,
        )
        .join(Region, Region.id == Facility.region_id)
        .where(among(session, Facility.id, sorted(ids)))
    ).all()
    return {
        fid: {
            Breakdown.facility: fid,
            Breakdown.country: country,
            Breakdown.region: region,
            Breakdown.tier: tier,
        }
        for fid, country, region, tier in rows
    }


def bucket_start(day: date, key: Breakdown) -> date:
    if key == Breakdown.week:
        return day - timedelta(days=day.weekday())
    if key == Breakdown.month:
        return day.replace(day=1)
    return day


def _bucket_ends(first: date, last: date, key: Breakdown) -> list[date]:
    out: list[date] = []
    day = first
    while day <= last and len(out) < 5000:
        if key == Breakdown.day:
            end = day
        elif key == Breakdown.week:
            end = day + timedelta(days=6 - day.weekday())
        else:
            end = (day.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
        out.append(min(end, last))
        day = end + timedelta(days=1)
    return out


def period_of(
    session: Session, filters: Filters, scope: FacilityScope | None
) -> tuple[date, date] | None:
    """First and last day with ledger rows under the facility filters: the
    months from the monthly rollup, then the day within each from the daily
    one (a min/max over the whole daily rollup walked millions of rows)."""
    fids = facility_ids(session, filters, scope)
    if fids is not None and not fids:
        return None

    def bounded(table: Any, query: Any) -> Any:
        if fids is not None:
            query = query.where(among(session, table.facility_id, fids))
        if filters.campaign:
            query = query.where(table.campaign_code == filters.campaign)
        return query

    def per_facility(table: Any, *where: Any) -> Any:
        # Grouped by facility, the primary key (facility, day, …) answers each
        # facility's first and last day; a plain min() walked the day index.
        inner = bounded(table, select(func.min(table.day).label("lo"), func.max(table.day)
                                      .label("hi")).where(*where))  # fmt: skip
        if fids is not None:
            inner = inner.group_by(table.facility_id)
        sub = inner.subquery()
        return session.execute(select(func.min(sub.c.lo), func.max(sub.c.hi))).one()

    m, r = LedgerRollupMonth, LedgerRollup
    first_month, last_month = per_facility(m)
    if first_month is None:
        return None
    first_month, last_month = _as_date(first_month), _as_date(last_month)
    first = per_facility(r, r.day >= first_month, r.day < _next_month(first_month))[0]
    last = per_facility(r, r.day >= last_month, r.day < _next_month(last_month))[1]
    return _as_date(first or first_month), _as_date(last or last_month)


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


@dataclass(frozen=True)
class Participation:
    """Who took part: facilities with ledger rows, the units above them by
    kind (state offices, high-specialty units, …) and their regions."""

    facilities: int
    units: dict[str, int]
    regions: int
    countries: int


def participation(
    session: Session, ind: Indicator, filters: Filters, scope: FacilityScope | None
) -> Participation:
    plan = _conditions(session, ind, filters, scope, entries=False)
    query = select(LedgerRollup.facility_id).where(*plan.conditions).distinct()
    if plan.join_facility:
        query = query.join(Facility, Facility.id == LedgerRollup.facility_id)
    reporting = set(session.scalars(query))
    if not reporting:
        return Participation(0, {}, 0, 0)
    network = {
        fid: (parent, kind, region, country)
        for fid, parent, kind, region, country in session.execute(
            select(
                Facility.id,
                Facility.parent_id,
                Facility.kind,
                func.coalesce(Region.parent_id, Region.id),
                Facility.country_code,
            ).join(Region, Region.id == Facility.region_id)
        )
    }
    seen: set[int] = set()
    for fid in reporting:
        current: int | None = fid
        while current is not None and current not in seen and current in network:
            seen.add(current)
            current = network[current][0]
    units: dict[str, int] = {}
    for fid in seen:
        kind = str(network[fid][1])
        units[kind] = units.get(kind, 0) + 1
    return Participation(
        facilities=len(reporting),
        units=units,
        regions=len({network[f][2] for f in reporting}),
        countries=len({network[f][3] for f in reporting}),
    )
