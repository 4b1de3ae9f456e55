"""A campaign's capacity and goals as a grid of cells: capacity per unit ×
day × service line, goal per unit × service line.

The grid is read per line (the page edits one line at a time) and changed
cell by cell: :func:`set_cells` merges the changed cells into the stored
rows and writes them through :func:`service.set_capacity` and
:func:`service.set_goals`, the functions the JSON API's ``PUT`` uses, so the
same checks apply. A capacity of 0 and a goal of 0 clear the cell. The CSV
upload (:func:`import_grid`) is all or nothing: every row is checked
against the campaign's units, days and lines, and any error names its row
and column before anything is written.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sqlalchemy.orm import Session

from puente import csvimport as ci
from puente.enums import CapacityKind
from puente.errors import FieldError, Unprocessable
from puente.network.models import Facility
from puente.recovery import repository as repo
from puente.recovery import service
from puente.recovery.models import Campaign
from puente.recovery.schemas import CapacityIn, GoalIn

MAX_CELL = 1_000_000
CapacityCell = tuple[str, date, str]  # (unit code, day, line's service code)
GoalCell = tuple[str, str]  # (unit code, line's service code)


@dataclass(frozen=True)
class Line:
    code: str
    kind: CapacityKind


@dataclass
class Grid:
    units: list[Facility]
    days: list[date]
    lines: list[Line]
    capacity: dict[CapacityCell, int]
    goals: dict[GoalCell, int]

    def line(self, code: str | None) -> Line:
        """The line ``code`` (the first when None)."""
        if code is None and self.lines:
            return self.lines[0]
        found = next((x for x in self.lines if x.code == code), None)
        if found is None:
            raise Unprocessable(
                f"'{code}' is not a line of the campaign.",
                errors=[FieldError("line", "not a line of the campaign")],
            )
        return found

    def line_total(self, code: str) -> int:
        return sum(a for (_u, _d, s), a in self.capacity.items() if s == code)

    def goal_total(self, code: str) -> int:
        return sum(g for (_u, s), g in self.goals.items() if s == code)


def grid(session: Session, campaign: Campaign) -> Grid:
    units = repo.unit_facilities(session, campaign.id)
    codes = {f.id: f.code for f in units}
    lines = repo.lines(session, campaign.id)
    line_codes = {line.service_id: code for line, code in lines}
    return Grid(
        units=units,
        days=service.days_of(campaign),
        lines=[Line(code, line.capacity_kind) for line, code in lines],
        capacity={
            (codes[c.facility_id], c.day, line_codes[c.service_id]): c.amount
            for c in repo.capacity(session, campaign.id)
            if c.facility_id in codes and c.service_id in line_codes
        },
        goals={
            (codes[g.facility_id], line_codes[g.service_id]): g.goal
            for g in repo.goals(session, campaign.id)
            if g.facility_id in codes and g.service_id in line_codes
        },
    )


def set_cells(
    session: Session,
    *,
    campaign: Campaign,
    capacity: Mapping[CapacityCell, int],
    goals: Mapping[GoalCell, int],
) -> tuple[int, int]:
    """Change the given cells, keep the others; (capacity rows, goal rows) stored."""
    current = grid(session, campaign)
    cells = dict(current.capacity)
    cells.update(capacity)
    targets = dict(current.goals)
    targets.update(goals)
    stored_capacity = service.set_capacity(
        session,
        campaign=campaign,
        rows=[
            CapacityIn(facility_code=u, day=d, service_code=s, amount=a)
            for (u, d, s), a in sorted(cells.items())
            if a > 0
        ],
    )
    stored_goals = service.set_goals(
        session,
        campaign=campaign,
        rows=[
            GoalIn(facility_code=u, service_code=s, goal=g)
            for (u, s), g in sorted(targets.items())
            if g > 0
        ],
    )
    return stored_capacity, stored_goals


def _amount(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise ValueError(f"'{value}' is not a whole number") from None
    if not 0 <= n <= MAX_CELL:
        raise ValueError(f"{n} is out of range (0 to {MAX_CELL:,})")
    return n


COLUMNS = [
    ci.Column("facility_code", ci.bounded(32)),
    ci.Column("service_code", ci.bounded(64)),
    ci.Column("day", ci.parse_date, required=False),
    ci.Column("capacity", _amount, required=False),
    ci.Column("goal", _amount, required=False),
]


def import_grid(session: Session, path: Path, *, campaign: Campaign) -> ci.ImportResult:
    """Import capacity and goals from ``path``.

    Columns: ``facility_code``, ``service_code``, and ``day`` with
    ``capacity`` (a capacity cell), ``goal`` (a goal cell), or both. Each
    value replaces its cell; cells the file does not name keep their value.
    """
    errors = ci.Errors(path.name)
    rows = ci.read_csv(path, COLUMNS, errors)
    errors.raise_if_any()
    current = grid(session, campaign)
    units = {f.code for f in current.units}
    lines = {x.code for x in current.lines}
    days = set(current.days)
    capacity: dict[CapacityCell, int] = {}
    goals: dict[GoalCell, int] = {}
    seen_capacity: dict[CapacityCell, int] = {}
    seen_goal: dict[GoalCell, int] = {}
    for row in rows:
        unit, line, day = row["facility_code"], row["service_code"], row["day"]
        ok = True
        if unit not in units:
            errors.add(row.number, "facility_code", f"'{unit}' is not a unit of the campaign")
            ok = False
        if line not in lines:
            errors.add(row.number, "service_code", f"'{line}' is not a line of the campaign")
            ok = False
        if day is not None and day not in days:
            errors.add(row.number, "day", f"{day.isoformat()} is outside the campaign")
            ok = False
        if (day is None) != (row["capacity"] is None):
            column = "capacity" if day is not None else "day"
            errors.add(row.number, column, "a capacity needs its day, and a day its capacity")
            ok = False
        if row["capacity"] is None and row["goal"] is None:
            errors.add(row.number, "capacity", "give a capacity (with its day) or a goal")
            ok = False
        if not ok:
            continue
        if day is not None:
            key = (unit, day, line)
            if key in seen_capacity:
                errors.add(row.number, "day", f"the same cell is on row {seen_capacity[key]}")
            seen_capacity[key] = row.number
            capacity[key] = row["capacity"]
        if row["goal"] is not None:
            gkey = (unit, line)
            if gkey in goals and goals[gkey] != row["goal"]:
                errors.add(row.number, "goal", f"differs from the goal on row {seen_goal[gkey]}")
            seen_goal.setdefault(gkey, row.number)
            goals[gkey] = row["goal"]
    errors.raise_if_any()
    set_cells(session, campaign=campaign, capacity=capacity, goals=goals)
    return ci.ImportResult(rows=len(rows), created=len(capacity) + len(goals))
