"""Waiting-list figures: pure arithmetic over (service, unit, priority,
referred, removed) tuples, so it is checked by hand without a database.

Waiting time is counted from the referral to ``as_of``. An entry is on the
list from its referral until it is removed (served or taken off).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from puente.recovery.planner import TARGET_DAYS

__all__ = ["Row", "WaitingStats", "percentile", "waiting_stats"]

THRESHOLD_WEEKS = (52, 65, 78, 104)
FLOW_WEEKS = 8


@dataclass(frozen=True)
class Row:
    service: str
    unit: str
    priority: int  # 1..4
    referred: date
    removed: date | None


@dataclass(frozen=True)
class WaitingStats:
    as_of: date
    size: int
    by_service: list[tuple[str, int]]
    by_unit: list[tuple[str, int]]
    by_priority: list[tuple[str, int]]
    median_weeks: float | None
    p92_weeks: float | None
    share_under_18_weeks: float | None
    over_weeks: dict[int, int]
    past_target: int
    weeks: list[tuple[date, int, int]]  # (Monday, added, removed)
    weeks_to_clear: float | None


def percentile(sorted_values: Sequence[float], p: float) -> float | None:
    """The ``p``-th percentile (0–100) by linear interpolation between ranks."""
    if not sorted_values:
        return None
    k = (len(sorted_values) - 1) * p / 100
    lo, hi = math.floor(k), math.ceil(k)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (k - lo)


def _ranked(counter: Counter[str]) -> list[tuple[str, int]]:
    return sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))


def waiting_stats(rows: Sequence[Row], as_of: date) -> WaitingStats:
    waiting = [r for r in rows if r.referred <= as_of and (r.removed is None or r.removed > as_of)]
    days = sorted((as_of - r.referred).days for r in waiting)
    weeks = [d / 7 for d in days]
    monday = as_of - timedelta(days=as_of.weekday())
    flows = []
    for k in range(FLOW_WEEKS, 0, -1):
        start = monday - timedelta(weeks=k)
        end = start + timedelta(days=7)
        added = sum(1 for r in rows if start <= r.referred < end)
        removed = sum(1 for r in rows if r.removed is not None and start <= r.removed < end)
        flows.append((start, added, removed))
    pace = sum(removed for _, _, removed in flows) / FLOW_WEEKS
    return WaitingStats(
        as_of=as_of,
        size=len(waiting),
        by_service=_ranked(Counter(r.service for r in waiting)),
        by_unit=_ranked(Counter(r.unit for r in waiting)),
        by_priority=sorted(Counter(f"p{r.priority}" for r in waiting).items()),
        median_weeks=percentile(weeks, 50),
        p92_weeks=percentile(weeks, 92),
        share_under_18_weeks=(sum(1 for d in days if d < 18 * 7) / len(days)) if days else None,
        over_weeks={t: sum(1 for d in days if d > t * 7) for t in THRESHOLD_WEEKS},
        past_target=sum(1 for r in waiting if (as_of - r.referred).days > TARGET_DAYS[r.priority]),
        weeks=flows,
        weeks_to_clear=(len(waiting) / pace) if pace > 0 else None,
    )
