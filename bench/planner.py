"""The campaign planner on a generated national day.

    .venv/bin/python bench/planner.py [--entries 100000] [--seed 7]

A generated instance shaped like an IMSS national day: ``--entries``
waiting-list entries of 80 % as many patients (some wait for two services),
60 units (35 state units at the second level, one per state, and 25
high-specialty units at the third level spread over five macro-regions),
12 service lines (4 surgical lines counted in operating-room minutes, 5
consultation lines and 3 screening lines counted in slots) and 3 days.
Second-level entries may go to their state's unit or to a high-specialty
unit in their state; third-level entries to any high-specialty unit of their
macro-region. Capacity covers roughly a third of the demand.

It runs :func:`puente.recovery.planner.plan` (LP bound + rounding, HiGHS)
and prints the figures; the last line on stdout is one JSON object with
``objective``, ``bound``, ``gap``, ``greedy_objective`` (the better of the
two baselines), ``fcfs_objective``, ``density_objective`` and ``seconds``.
Not a timed test: the figures go in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import date, timedelta
from random import Random

from puente.recovery.planner import Bin, Entry, entry_value, plan

DAYS = [date(2026, 5, 14) + timedelta(days=k) for k in range(3)]
TODAY = date(2026, 5, 1)
STATES = 35
HIGH = 25
MACRO = 5
# (line, kind, share of entries, (min, max) minutes for surgical lines)
LINES: list[tuple[int, str, float, tuple[int, int]]] = [
    (0, "or", 0.06, (45, 180)),
    (1, "or", 0.04, (60, 240)),
    (2, "or", 0.03, (90, 300)),
    (3, "or", 0.03, (30, 90)),
    (4, "slot", 0.12, (1, 1)),
    (5, "slot", 0.10, (1, 1)),
    (6, "slot", 0.08, (1, 1)),
    (7, "slot", 0.08, (1, 1)),
    (8, "slot", 0.08, (1, 1)),
    (9, "slot", 0.14, (1, 1)),
    (10, "slot", 0.12, (1, 1)),
    (11, "slot", 0.12, (1, 1)),
]


def generate(n: int, seed: int) -> tuple[list[Entry], dict[Bin, int]]:
    rng = Random(seed)
    state_unit = list(range(STATES))  # unit k serves state k
    high_units = list(range(STATES, STATES + HIGH))
    high_state = {u: rng.randrange(STATES) for u in high_units}
    macro_of_state = {s: s % MACRO for s in range(STATES)}
    high_in_macro = {
        m: [u for u in high_units if macro_of_state[high_state[u]] == m] for m in range(MACRO)
    }
    high_in_state = {s: [u for u in high_units if high_state[u] == s] for s in range(STATES)}
    shares = [share for _, _, share, _ in LINES]
    patients = max(1, int(n * 0.8))
    entries: list[Entry] = []
    demand: dict[tuple[int, int], int] = {}
    for i in range(n):
        line, kind, _share, (lo, hi) = rng.choices(LINES, weights=shares)[0]
        state = rng.randrange(STATES)
        third = rng.random() < (0.3 if kind == "or" else 0.12)
        units = tuple(high_in_macro[macro_of_state[state]] if third else
                      [state_unit[state], *high_in_state[state]])  # fmt: skip
        priority = rng.choices([1, 2, 3, 4], weights=[3, 17, 40, 40])[0]
        waited = int(rng.expovariate(1 / 240))
        use = rng.randrange(lo, hi + 1, 15) if kind == "or" else 1
        entries.append(
            Entry(
                id=i,
                patient=rng.randrange(patients),
                line=line,
                use=use,
                value=entry_value(priority, waited),
                units=units,
                referred=TODAY - timedelta(days=waited),
            )
        )
        for u in units:
            demand[(u, line)] = demand.get((u, line), 0) + use // len(units) + 1
    capacity: dict[Bin, int] = {}
    for (unit, line), wanted in demand.items():
        per_day = max(1, int(wanted * rng.uniform(0.2, 0.45) / len(DAYS)))
        for day in DAYS:
            capacity[(unit, day, line)] = per_day
    return entries, capacity


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    entries, capacity = generate(args.entries, args.seed)
    generated = time.perf_counter() - t0
    units = {u for u, _, _ in capacity}
    lines = {line for _, _, line in capacity}
    print(
        f"instance: {len(entries):,} entries, {len(units)} units, {len(lines)} service lines, "
        f"{len(DAYS)} days, {sum(capacity.values()):,} capacity (generated in {generated:.1f} s)",
        file=sys.stderr,
    )

    def progress(pct: int, phase: str) -> None:
        print(f"  {pct:3d} % {phase} ({time.perf_counter() - t0:.1f} s)", file=sys.stderr)

    result = plan(entries, capacity, progress=progress)
    print(
        f"objective {result.objective:,.1f}  bound {result.bound:,.1f}  gap {result.gap:.3%}\n"
        f"first come first served {result.fcfs_objective:,.1f}  "
        f"greedy by value per minute {result.greedy_objective:,.1f}\n"
        f"planned {len(result.assignments):,} of {len(entries):,} in {result.seconds:.1f} s",
        file=sys.stderr,
    )
    print(
        json.dumps(
            {
                "bench": "planner",
                "entries": len(entries),
                "units": len(units),
                "service_lines": len(lines),
                "days": len(DAYS),
                "planned": len(result.assignments),
                "objective": round(result.objective, 3),
                "bound": round(result.bound, 3),
                "gap": round(result.gap, 6),
                "greedy_objective": round(result.best_baseline, 3),
                "fcfs_objective": round(result.fcfs_objective, 3),
                "density_objective": round(result.greedy_objective, 3),
                "method": result.method,
                "seconds": round(result.seconds, 2),
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
