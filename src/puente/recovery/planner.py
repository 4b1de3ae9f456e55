"""The campaign planner: which waiting-list entry goes to which unit on which
day. Pure computation (no database); HiGHS through SciPy does the solving.

Problem. Each entry *i* has a value ``v_i`` (clinical priority and time
waited), a service line, a use ``w_i`` (operating-room minutes for minute
lines, 1 for slot lines) and the units that may serve it. Each unit × day ×
line has a capacity. Maximise the value served, each entry at most once,
within capacities, and at most one appointment per patient per day.

Method.

1. **Bound.** Entries with the same line and the same eligible units form a
   class; the LP relaxation is written over per-entry fractions ``z_i`` and
   per-class flows ``y[c, bin]`` of capacity::

       max Σ v_i z_i
       s.t. Σ_{i∈c} w_i z_i ≤ Σ_b y[c,b]   (each class)
            Σ_c y[c,b] ≤ cap_b           (each unit × day × line)
            0 ≤ z_i ≤ 1, y ≥ 0

   It is exactly the LP relaxation of the full entry × unit × day model
   (entries of a class are interchangeable) without the patient-per-day
   rows, so its optimum — solved to optimality by HiGHS — is a proven upper
   bound on every feasible plan. It has one column per entry, not per
   entry × unit × day, which keeps 100,000 entries in seconds.
2. **Plan.** The LP's capacity flows are rounded: each class fills the bins
   it was given with its best entries (value per unit of capacity), keeping
   one appointment per patient per day; leftover capacity is then filled
   greedily from everything not yet planned.
3. **Baselines** on the same input: first come first served (oldest
   referral first) and greedy by value per unit of capacity.

The gap reported is ``(bound - objective) / bound``.
"""

from __future__ import annotations

import math
import time as clock
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, linprog, milp
from scipy.sparse import coo_matrix

__all__ = [
    "TARGET_DAYS",
    "WEIGHT",
    "Assignment",
    "Bin",
    "Entry",
    "PlanResult",
    "entry_value",
    "great_circle_km",
    "greedy",
    "plan",
    "within_reach",
]

# Clinical priority → days within which it should be seen, and its weight.
TARGET_DAYS: dict[int, int] = {1: 3, 2: 30, 3: 90, 4: 365}
WEIGHT: dict[int, float] = {1: 8.0, 2: 4.0, 3: 2.0, 4: 1.0}
MAX_OVERDUE_FACTOR = 3.0
# Small instances whose rounded plan is further than this from the LP bound
# are solved exactly as a MIP (at most MIP_MAX_COLUMNS entry × unit × day
# columns), stopping at MIP_GAP or after ``mip_seconds``.
MIP_WHEN_GAP_ABOVE = 0.01
MIP_MAX_COLUMNS = 200_000
MIP_GAP = 0.005

Progress = Callable[[int, str], None]  # (percent, phase)
Bin = tuple[int, date, int]  # (unit, day, line)


def entry_value(priority: int, waited_days: int) -> float:
    """Priority weight, raised with the time waited relative to the
    priority's target (up to ``1 + MAX_OVERDUE_FACTOR`` times)."""
    target = TARGET_DAYS[priority]
    overdue = min(max(waited_days, 0) / target, MAX_OVERDUE_FACTOR)
    return WEIGHT[priority] * (1.0 + overdue)


EARTH_RADIUS_KM = 6371.0088  # the mean radius (IUGG)
Place = tuple[float, float]  # (latitude, longitude) in degrees


def great_circle_km(a: Place, b: Place) -> float:
    """The great-circle distance between two places (haversine formula)."""
    lat1, lon1, lat2, lon2 = map(math.radians, (a[0], a[1], b[0], b[1]))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def within_reach(origin: Place | None, unit: Place | None, limit_km: float | None) -> bool:
    """Whether a unit is within the travel limit; a limit that cannot be
    checked (no limit, or a place unknown) excludes nothing."""
    if limit_km is None or origin is None or unit is None:
        return True
    return great_circle_km(origin, unit) <= limit_km


@dataclass(frozen=True)
class Entry:
    id: int
    patient: int
    line: int
    use: int  # minutes on a minute line, 1 on a slot line
    value: float
    units: tuple[int, ...]  # units that may serve it
    referred: date  # for first come, first served


@dataclass(frozen=True)
class Assignment:
    entry: int
    unit: int
    day: date
    line: int


@dataclass
class PlanResult:
    assignments: list[Assignment]
    objective: float
    bound: float
    gap: float
    fcfs_objective: float
    greedy_objective: float
    seconds: float
    method: str = "LP bound + rounding (HiGHS)"
    standby: list[int] = field(default_factory=list)

    @property
    def best_baseline(self) -> float:
        return max(self.fcfs_objective, self.greedy_objective)


class _State:
    """Remaining capacity and the patient-days already taken."""

    def __init__(self, capacity: dict[Bin, int], busy: Iterable[tuple[int, date]] = ()) -> None:
        self.left = dict(capacity)
        self.busy: set[tuple[int, date]] = set(busy)
        self.days = sorted({d for _, d, _ in capacity})
        self.bins_of: dict[tuple[int, int], list[Bin]] = defaultdict(list)
        for b in sorted(capacity):
            self.bins_of[(b[0], b[2])].append(b)

    def eligible(self, entry: Entry) -> list[Bin]:
        out: list[Bin] = []
        for unit in entry.units:
            out.extend(self.bins_of.get((unit, entry.line), ()))
        return out

    def place(self, entry: Entry, b: Bin) -> bool:
        if self.left.get(b, 0) < entry.use or (entry.patient, b[1]) in self.busy:
            return False
        self.left[b] -= entry.use
        self.busy.add((entry.patient, b[1]))
        return True


def greedy(
    entries: Sequence[Entry],
    capacity: dict[Bin, int],
    *,
    order: str = "density",
    busy: Iterable[tuple[int, date]] = (),
) -> list[Assignment]:
    """A baseline: take entries in ``order`` ("fcfs": oldest referral first;
    "density": value per unit of capacity, highest first), each to the first
    eligible unit × day with room."""
    if order == "fcfs":
        ranked = sorted(entries, key=lambda e: (e.referred, e.id))
    else:
        ranked = sorted(entries, key=lambda e: (-e.value / e.use, e.id))
    state = _State(capacity, busy)
    out: list[Assignment] = []
    for e in ranked:
        for b in state.eligible(e):
            if state.place(e, b):
                out.append(Assignment(e.id, b[0], b[1], b[2]))
                break
    return out


def _value(entries: Sequence[Entry], assignments: Iterable[Assignment]) -> float:
    values = {e.id: e.value for e in entries}
    return float(sum(values[a.entry] for a in assignments))


def _lp(
    entries: Sequence[Entry], capacity: dict[Bin, int]
) -> tuple[float, dict[tuple[tuple[int, tuple[int, ...]], Bin], float], set[int]]:
    """Solve the class-flow LP; (optimum, flows of capacity per class × bin,
    ids of the entries it takes whole)."""
    bins = [b for b, cap in capacity.items() if cap > 0]
    bin_index = {b: k for k, b in enumerate(bins)}
    by_unit_line: dict[tuple[int, int], list[Bin]] = defaultdict(list)
    for b in bins:
        by_unit_line[(b[0], b[2])].append(b)
    classes: dict[tuple[int, tuple[int, ...]], list[int]] = defaultdict(list)
    for i, e in enumerate(entries):
        classes[(e.line, tuple(sorted(set(e.units))))].append(i)
    class_keys = list(classes)
    n = len(entries)
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    data: list[np.ndarray] = []
    flow_of: list[tuple[int, Bin]] = []
    for c, key in enumerate(class_keys):
        members = np.asarray(classes[key], dtype=np.int64)
        rows.append(np.full(len(members), c, dtype=np.int64))
        cols.append(members)
        data.append(np.asarray([entries[i].use for i in members], dtype=np.float64))
        line, units = key
        for unit in units:
            for b in by_unit_line.get((unit, line), ()):
                flow_of.append((c, b))
    n_flows = len(flow_of)
    if n_flows:
        flow_cols = n + np.arange(n_flows, dtype=np.int64)
        flow_class = np.asarray([c for c, _ in flow_of], dtype=np.int64)
        flow_bin = np.asarray([bin_index[b] for _, b in flow_of], dtype=np.int64)
        # class row: - y ; bin row: + y
        rows += [flow_class, len(class_keys) + flow_bin]
        cols += [flow_cols, flow_cols]
        data += [-np.ones(n_flows), np.ones(n_flows)]
    n_rows = len(class_keys) + len(bins)
    matrix = coo_matrix(
        (np.concatenate(data), (np.concatenate(rows), np.concatenate(cols))),
        shape=(n_rows, n + n_flows),
    ).tocsr()
    rhs = np.concatenate([np.zeros(len(class_keys)), [float(capacity[b]) for b in bins]])
    cost = np.concatenate(
        [-np.asarray([e.value for e in entries], dtype=np.float64), np.zeros(n_flows)]
    )
    upper = np.concatenate([np.ones(n), np.full(n_flows, np.inf)])
    result = linprog(
        cost,
        A_ub=matrix,
        b_ub=rhs,
        bounds=np.column_stack([np.zeros(n + n_flows), upper]),
        method="highs",
    )
    if result.status != 0:
        raise RuntimeError(f"the LP relaxation did not solve: {result.message}")
    flows: dict[tuple[tuple[int, tuple[int, ...]], Bin], float] = {}
    x = result.x
    for k, (c, b) in enumerate(flow_of):
        amount = float(x[n + k])
        if amount > 1e-7:
            flows[(class_keys[c], b)] = amount
    taken = {entries[int(i)].id for i in np.flatnonzero(x[:n] > 1 - 1e-6)}
    return float(-result.fun), flows, taken


def plan(
    entries: Sequence[Entry],
    capacity: dict[Bin, int],
    *,
    busy: Iterable[tuple[int, date]] = (),
    standby_size: int = 0,
    progress: Progress | None = None,
    mip_seconds: float = 20.0,
) -> PlanResult:
    """Plan ``entries`` into ``capacity``. ``busy`` are (patient, day) pairs
    already taken (kept appointments); their capacity must already be out of
    ``capacity``. ``standby_size`` of the best entries left unplanned are
    returned, best first, to fill places freed by cancellations."""
    started = clock.perf_counter()
    report = progress or (lambda _pct, _phase: None)
    busy = list(busy)
    usable = [e for e in entries if e.use > 0 and e.value > 0 and e.units]
    report(5, "baselines")
    fcfs = _value(usable, greedy(usable, capacity, order="fcfs", busy=busy))
    dense = greedy(usable, capacity, order="density", busy=busy)
    dense_value = _value(usable, dense)
    report(20, "bound")
    if usable and any(v > 0 for v in capacity.values()):
        bound, flows, taken = _lp(usable, capacity)
    else:
        bound, flows, taken = 0.0, {}, set()
    report(70, "rounding")
    assignments = _round(usable, capacity, flows, taken, busy)
    objective = _value(usable, assignments)
    method = "LP bound + rounding (HiGHS)"
    if dense_value > objective:  # never worse than the better baseline
        assignments, objective = dense, dense_value
    if bound > 0 and (bound - objective) / bound > MIP_WHEN_GAP_ABOVE:
        report(80, "mip")
        exact = _mip(usable, capacity, busy, time_limit=mip_seconds)
        if exact is not None:
            mip_assignments, mip_bound = exact
            mip_value = _value(usable, mip_assignments)
            bound = min(bound, mip_bound)
            method = "MIP (HiGHS)"
            if mip_value > objective:
                assignments, objective = mip_assignments, mip_value
    planned = {a.entry for a in assignments}
    rest = sorted((e for e in usable if e.id not in planned), key=lambda e: (-e.value, e.id))
    report(100, "done")
    gap = (bound - objective) / bound if bound > 0 else 0.0
    return PlanResult(
        assignments=assignments,
        objective=objective,
        bound=bound,
        gap=max(gap, 0.0),
        fcfs_objective=fcfs,
        greedy_objective=dense_value,
        seconds=clock.perf_counter() - started,
        method=method,
        standby=[e.id for e in rest[:standby_size]],
    )


def _mip(
    entries: Sequence[Entry],
    capacity: dict[Bin, int],
    busy: Sequence[tuple[int, date]],
    *,
    time_limit: float,
) -> tuple[list[Assignment], float] | None:
    """The exact model over entry × unit × day, with one appointment per
    patient per day, when it is small enough; (plan, HiGHS's proven bound)."""
    taken_days = set(busy)
    state = _State(capacity)
    columns: list[tuple[Entry, Bin]] = []
    for e in entries:
        for b in state.eligible(e):
            if capacity.get(b, 0) >= e.use and (e.patient, b[1]) not in taken_days:
                columns.append((e, b))
    if not columns or len(columns) > MIP_MAX_COLUMNS:
        return None
    entry_row = {key: n for n, key in enumerate(dict.fromkeys(e.id for e, _ in columns))}
    bin_row = {key: n for n, key in enumerate(dict.fromkeys(b for _, b in columns))}
    day_row = {key: n for n, key in enumerate(dict.fromkeys((e.patient, b[1]) for e, b in columns))}
    first_bin, first_day = len(entry_row), len(entry_row) + len(bin_row)
    rows: list[int] = []
    cols: list[int] = []
    data: list[float] = []
    for k, (e, b) in enumerate(columns):
        rows += [entry_row[e.id], first_bin + bin_row[b], first_day + day_row[(e.patient, b[1])]]
        cols += [k, k, k]
        data += [1.0, float(e.use), 1.0]
    n_rows = first_day + len(day_row)
    matrix = coo_matrix((data, (rows, cols)), shape=(n_rows, len(columns))).tocsr()
    upper = np.concatenate(
        [np.ones(len(entry_row)), [float(capacity[b]) for b in bin_row], np.ones(len(day_row))]
    )
    result = milp(
        -np.asarray([e.value for e, _ in columns], dtype=np.float64),
        constraints=LinearConstraint(matrix, -np.inf, upper),
        integrality=np.ones(len(columns)),
        bounds=Bounds(0, 1),
        options={"time_limit": time_limit, "mip_rel_gap": MIP_GAP},
    )
    if result.x is None:
        return None
    chosen = [columns[k] for k in np.flatnonzero(result.x > 0.5)]
    dual = getattr(result, "mip_dual_bound", None)
    bound = -float(dual) if dual is not None and np.isfinite(dual) else float("inf")
    return [Assignment(e.id, b[0], b[1], b[2]) for e, b in chosen], bound


def _round(
    entries: Sequence[Entry],
    capacity: dict[Bin, int],
    flows: dict[tuple[tuple[int, tuple[int, ...]], Bin], float],
    taken: set[int],
    busy: Sequence[tuple[int, date]],
) -> list[Assignment]:
    state = _State(capacity, busy)
    classes: dict[tuple[int, tuple[int, ...]], list[Entry]] = defaultdict(list)
    for e in entries:
        classes[(e.line, tuple(sorted(set(e.units))))].append(e)
    given: dict[tuple[int, tuple[int, ...]], list[tuple[Bin, float]]] = defaultdict(list)
    for (key, b), amount in flows.items():
        given[key].append((b, amount))
    out: list[Assignment] = []
    placed: set[int] = set()
    # 1. Each class gets the capacity the LP gave it at each unit, summed over
    #    the days. The entries the LP takes whole go first, highest value
    #    first (a patient's more valuable entry wins a clash), then the rest
    #    by value per unit of capacity; each goes to the day of that unit with
    #    most room where the patient is free (so a patient with two entries
    #    gets two different days).
    allowance: dict[tuple[tuple[int, tuple[int, ...]], int], float] = defaultdict(float)
    for (key, b), amount in flows.items():
        allowance[(key, b[0])] += amount
    units_of: dict[tuple[int, tuple[int, ...]], list[int]] = defaultdict(list)
    for key, unit in allowance:
        units_of[key].append(unit)
    ranked = sorted(
        (e for key, members in classes.items() if key in units_of for e in members),
        key=lambda e: (e.id not in taken, -e.value if e.id in taken else -e.value / e.use, e.id),
    )
    for e in ranked:
        key = (e.line, tuple(sorted(set(e.units))))
        units = sorted(units_of[key], key=lambda u: -allowance[(key, u)])
        for unit in units:
            if allowance[(key, unit)] + 1e-6 < e.use:
                continue
            days = sorted(
                state.bins_of.get((unit, e.line), ()), key=lambda b: -state.left.get(b, 0)
            )
            chosen = next((b for b in days if state.place(e, b)), None)
            if chosen is not None:
                allowance[(key, unit)] -= e.use
                out.append(Assignment(e.id, chosen[0], chosen[1], chosen[2]))
                placed.add(e.id)
                break
    # 2. Whatever capacity is left goes to the best of the rest.
    for e in sorted(entries, key=lambda e: (-e.value / e.use, e.id)):
        if e.id in placed:
            continue
        for b in state.eligible(e):
            if state.place(e, b):
                out.append(Assignment(e.id, b[0], b[1], b[2]))
                placed.add(e.id)
                break
    return out
