"""bench/load.py runs end to end: a few users for a few seconds on SQLite,
one JSON line of figures at the end, and no errors. (The figures themselves
are for docs/benchmarks.md, not for a test.)"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_load_bench_drives_a_short_mixed_day_without_errors(tmp_path: Path) -> None:
    command = [
        sys.executable, "bench/load.py", "--users", "5", "--seconds", "3", "--think", "0.5",
        "--ceiling-seconds", "1", "--database-url", f"sqlite:///{tmp_path / 'load.db'}",
    ]  # fmt: skip
    done = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=600,
        env={"PATH": str(Path(sys.executable).parent), "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert figures["errors"] == 0, done.stderr[-3000:]
    assert figures["users"] == 5 and figures["database"] == "sqlite"
    assert set(figures["kinds"]) >= {
        "patient.book",
        "spoke.case",
        "unit.capture",
        "manager.dashboard",
    }
    assert figures["overall"]["requests"] > 0 and figures["ceiling_healthz"]["errors"] == 0
