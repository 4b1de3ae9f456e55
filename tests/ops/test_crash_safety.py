"""Crash safety: the real server, killed with SIGKILL in the middle of a
write load, keeps every write it acknowledged and leaves no half-written
record behind.

The test runs ``puente serve`` as a subprocess on a freshly migrated database
(SQLite in WAL mode, and PostgreSQL when ``PUENTE_TEST_DATABASE_URL`` is set)
with a small world: Dr Smirnova's virtual schedule in Moscow (Ivan and Olga
book her slots from their own accounts), the Vietnamese remote-care network
(Dr Lan on Côn Đảo and Dr Hương on Cô Tô send consult cases) and Rosa, the
national registrar, who posts ledger rows. Six threads write, each request
with an ``Idempotency-Key``; every 2xx answer is written down. Mid-load the
server is killed; it is started again on the same database and the test
checks that

- every acknowledged write is there (read by id) and a replay of its request
  with the same key returns the same resource;
- a request that was in flight when the server died, sent again with its
  key, is done at most once;
- nothing is half-written: each booked visit appointment has its visit, its
  outbox message and its audit record; each consult case its created and
  routed events, its hub and its deadline; the daily and monthly ledger
  rollups equal the sums of the raw entries; no slot is booked twice;
- the server serves again.
"""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta
from datetime import time as clock
from pathlib import Path
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher
from sqlalchemy import Engine, make_url, text
from sqlalchemy.orm import Session

from puente.access import secrets
from puente.db import make_engine, make_sessionmaker, unit_of_work
from puente.enums import AccessRole
from tests import factories as f
from tests.conftest import migrated_url
from tests.consults import network
from tests.scheduling import world as moscow

PUENTE = Path(sys.executable).with_name("puente")
LOAD_SECONDS = 3.0  # writes before the kill (at least MIN_ACKS of each kind)
MIN_ACKS = 5


# The world -------------------------------------------------------------------


@dataclass
class World:
    headers: dict[str, dict[str, str]]
    slots: list[int]
    ivan: int
    olga: int


def build_world(url: str) -> World:
    engine = make_engine(url)
    with unit_of_work(make_sessionmaker(engine)) as db:
        net = network.build(db)
        place = moscow.moscow_world(db)
        schedule = moscow.virtual_schedule(
            db, place, days=7, slot_minutes=15, rules=[(d, clock(8), clock(20)) for d in range(7)]
        )
        ivan = f.user(db, "ivan.petrov", AccessRole.patient, patient_id=place.ivan.id)
        olga = f.user(db, "olga.sokolova", AccessRole.patient, patient_id=place.olga.id)
        rosa = f.user(db, "rosa.registrar", AccessRole.national_admin)
        headers = {
            "dr.lan": net.headers["dr.lan"],
            "dr.huong": net.headers["dr.huong"],
            "ivan": f.bearer(db, ivan),
            "olga": f.bearer(db, olga),
            "rosa": f.bearer(db, rosa),
        }
        slots = sorted(db.scalars(text("SELECT id FROM slot WHERE schedule_id = :s"),
                                  {"s": schedule.id}))  # fmt: skip
        world = World(headers, [int(s) for s in slots], place.ivan.id, place.olga.id)
    engine.dispose()
    return world


# The server ------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    url: str
    workdir: Path
    proc: subprocess.Popen[bytes] | None = None
    base: str = ""
    log: Path | None = None
    starts: int = 0
    options: tuple[str, ...] = ()
    extra_env: dict[str, str] = field(default_factory=dict)

    def start(self) -> None:
        self.starts += 1
        port = _free_port()
        self.log = self.workdir / f"server-{self.starts}.log"
        env = {
            **os.environ,
            "PUENTE_DATABASE_URL": self.url,
            "PUENTE_ENVIRONMENT": "test",
            "PUENTE_DATA_DIR": str(self.workdir / "data"),
            **self.extra_env,
        }
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [str(PUENTE), "serve", "--port", str(port), *self.options],
                cwd=self.workdir,  # no stray .env
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90  # a loaded machine starts slowly
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.tail()
            try:
                if httpx.get(f"{self.base}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()  # never leave a server behind
        raise AssertionError(f"the server did not become ready:\n{self.tail()}")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:] if self.log else ""


# The load --------------------------------------------------------------------


@dataclass
class Write:
    kind: str  # appointment | ledger | case
    who: str
    key: str
    body: dict[str, Any]
    id: int | None = None


PATHS = {
    "appointment": "/api/appointments",
    "ledger": "/api/ledger/entries",
    "case": "/api/consults",
}
READS = {
    "appointment": "/api/appointments/",
    "ledger": "/api/ledger/entries/",
    "case": "/api/consults/",
}


@dataclass
class Load:
    base: str
    headers: dict[str, dict[str, str]]
    acked: list[Write] = field(default_factory=list)
    in_flight: list[Write] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    killed: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def worker(self, who: str, writes: Iterator[Write]) -> None:
        with httpx.Client(base_url=self.base, headers=self.headers[who], timeout=15) as client:
            for write in writes:
                if self.killed.is_set():
                    return
                try:
                    r = client.post(
                        PATHS[write.kind], json=write.body, headers={"Idempotency-Key": write.key}
                    )
                except httpx.TransportError as exc:
                    with self.lock:
                        self.in_flight.append(write)
                        if not self.killed.is_set():
                            self.failures.append(f"{write.kind} {write.key}: {exc!r}")
                    return
                with self.lock:
                    if r.status_code == 201:
                        write.id = r.json()["id"]
                        self.acked.append(write)
                    else:
                        self.failures.append(f"{write.kind} {write.key}: {r.status_code} {r.text}")

    def count(self, kind: str) -> int:
        with self.lock:
            return sum(1 for w in self.acked if w.kind == kind)


def bookings(who: str, patient: int, slots: list[int]) -> Iterator[Write]:
    for n, slot in enumerate(slots):
        body = {"slot_id": slot, "reason": f"control visit {n}"}
        yield Write("appointment", who, f"{who}-booking-{n}", body)


def ledger_rows(who: str, facility: str) -> Iterator[Write]:
    today = date.today()
    for n in range(100_000):
        body = {
            "facility_code": facility,
            # Days over three months, so rows share daily and monthly rollups.
            "day": (today - timedelta(days=n % 90)).isoformat(),
            "service_code": "surgery-cataract-iol" if n % 2 else "consult-cardiology",
            "count": 1 + n % 5,
            "campaign_code": "jornada-crash" if n % 3 == 0 else None,
        }
        yield Write("ledger", who, f"{facility}-ledger-{n}", body)


def cases(who: str, spoke: str) -> Iterator[Write]:
    for n in range(100_000):
        body = network.case_body(
            spoke_facility_code=spoke,
            urgency="urgent" if n % 2 else "emergency",
            question=f"Case {n} from {spoke}: thrombolyse here or evacuate?",
            patient_age_years=30 + n % 40,
        )
        yield Write("case", who, f"{who}-case-{n}", body)


def run_load(load: Load, world: World, server: Server) -> None:
    half = len(world.slots) // 2
    plan: list[tuple[str, Iterator[Write]]] = [
        ("ivan", bookings("ivan", world.ivan, world.slots[:half])),
        ("olga", bookings("olga", world.olga, world.slots[half:-1])),
        ("rosa", ledger_rows("rosa", "VN-CONDAO")),
        ("rosa", ledger_rows("rosa", "VN-COTO")),
        ("dr.lan", cases("dr.lan", "VN-CONDAO")),
        ("dr.huong", cases("dr.huong", "VN-COTO")),
    ]
    threads = [threading.Thread(target=load.worker, args=step, daemon=True) for step in plan]
    for t in threads:
        t.start()
    started = time.monotonic()
    while time.monotonic() - started < 3 * LOAD_SECONDS:
        enough = all(load.count(k) >= MIN_ACKS for k in PATHS)
        if enough and time.monotonic() - started >= LOAD_SECONDS:
            break
        time.sleep(0.05)
    load.killed.set()
    server.kill()  # mid-load: every thread has a request out
    for t in threads:
        t.join(timeout=20)
    assert not any(t.is_alive() for t in threads)


# The checks ------------------------------------------------------------------


def _same(kind: str, write: Write, found: dict[str, Any]) -> bool:
    if kind == "appointment":
        return bool(found["slot_id"] == write.body["slot_id"] and found["status"] == "booked")
    if kind == "ledger":
        keys = ("facility_code", "day", "service_code", "count", "campaign_code")
        return all(found[k] == write.body[k] for k in keys)
    return bool(found["question"] == write.body["question"])


def check_acknowledged(base: str, headers: dict[str, dict[str, str]], acked: list[Write]) -> None:
    """Each acknowledged write reads back by its id, and its request sent
    again with its key answers 200 with the same id (one thread per user)."""

    def check(who: str) -> None:
        with httpx.Client(base_url=base, headers=headers[who], timeout=15) as client:
            for w in (w for w in acked if w.who == who):
                read = client.get(f"{READS[w.kind]}{w.id}")
                assert read.status_code == 200, (w, read.text)
                assert _same(w.kind, w, read.json()), (w, read.json())
                key = {"Idempotency-Key": w.key}
                again = client.post(PATHS[w.kind], json=w.body, headers=key)
                assert again.status_code == 200, (w, again.text)
                assert again.json()["id"] == w.id

    with ThreadPoolExecutor(len(headers)) as pool:
        for done in [pool.submit(check, who) for who in headers]:
            done.result()


def resend_in_flight(base: str, headers: dict[str, dict[str, str]], writes: list[Write]) -> None:
    """A request lost with the server is sent again with its key: done now
    (201) or already done before the crash (200), and then once only."""
    for w in writes:
        with httpx.Client(base_url=base, headers=headers[w.who], timeout=15) as client:
            first = client.post(PATHS[w.kind], json=w.body, headers={"Idempotency-Key": w.key})
            assert first.status_code in (200, 201), (w, first.text)
            again = client.post(PATHS[w.kind], json=w.body, headers={"Idempotency-Key": w.key})
            assert (again.status_code, again.json()["id"]) == (200, first.json()["id"])


def _rows(db: Session, sql: str) -> list[tuple[Any, ...]]:
    return [tuple(row) for row in db.execute(text(sql))]


def check_nothing_half_written(engine: Engine) -> dict[str, int]:
    with make_sessionmaker(engine)() as db:
        appointments = _rows(db, "SELECT id FROM appointment WHERE status = 'booked'")
        assert appointments
        assert not _rows(db, """
            SELECT a.id FROM appointment a LEFT JOIN visit v ON v.appointment_id = a.id
            WHERE a.status = 'booked' AND v.id IS NULL""")  # fmt: skip
        booked_messages = {key for (key,) in _rows(db, "SELECT dedupe_key FROM outbox_message")}
        missing = [a for (a,) in appointments if f"appointment:{a}:booked" not in booked_messages]
        assert not missing, f"booked without the confirmation message: {missing}"
        audited = {
            (kind, rid)
            for kind, rid in _rows(
                db, "SELECT resource_type, resource_id FROM audit_event WHERE action = 'create'"
            )
        }
        assert not [a for (a,) in appointments if ("Appointment", str(a)) not in audited]
        assert not _rows(db, """
            SELECT slot_id FROM appointment WHERE status IN ('held', 'booked')
            GROUP BY slot_id HAVING count(*) > 1""")  # fmt: skip

        cases = _rows(db, "SELECT id, status, hub_facility_id FROM consult_case")
        assert cases
        events = Counter(_rows(db, "SELECT case_id, kind FROM consult_event"))
        for case_id, status, hub in cases:
            assert (status, hub is not None) == ("open", True), case_id
            assert events[(case_id, "created")] == 1, case_id
            assert events[(case_id, "routed")] == 1, case_id
            assert ("ServiceRequest", str(case_id)) in audited, case_id
        assert not _rows(db, "SELECT id FROM consult_case WHERE NOT due_at > requested_at")

        entries = _rows(db, "SELECT count(*) FROM ledger_entry")[0][0]
        assert entries
        # The rollups, computed again from the raw rows, equal the stored ones.
        key = (
            "facility_id, service_id, mode, COALESCE(campaign_code, ''), COALESCE(citizenship, '')"
        )
        month = (
            "date_trunc('month', day)::date"
            if engine.dialect.name == "postgresql"
            else "date(day, 'start of month')"
        )
        for table, day in (("ledger_rollup", "day"), ("ledger_rollup_month", month)):
            from_entries = _rows(db, f"""
                SELECT {key}, {day}, sum(count), count(*) FROM ledger_entry
                GROUP BY {key}, {day}""")  # fmt: skip
            stored = _rows(db, f"""
                SELECT facility_id, service_id, mode, campaign_code, citizenship, day, count,
                       entries FROM {table}""")  # fmt: skip
            assert sorted(map(_plain, from_entries)) == sorted(map(_plain, stored)), table
        return {"appointments": len(appointments), "cases": len(cases), "ledger": entries}


def _plain(row: tuple[Any, ...]) -> tuple[str, ...]:
    return tuple(str(v) for v in row)


def check_serves_again(base: str, world: World) -> None:
    headers = world.headers["ivan"]
    r = httpx.post(
        f"{base}/api/appointments",
        json={"slot_id": world.slots[-1]},
        headers={**headers, "Idempotency-Key": "after-the-crash"},
        timeout=15,
    )
    assert r.status_code == 201, r.text


# The test --------------------------------------------------------------------


@pytest.fixture
def crash_url(backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    # The accounts sign in with bearer tokens: a cheap hash keeps the set-up short.
    monkeypatch.setattr(secrets, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024))
    return migrated_url(backend, tmp_path, suffix="crash")


def test_a_server_killed_mid_load_keeps_every_acknowledged_write_and_nothing_half_written(
    crash_url: str, tmp_path: Path
) -> None:
    world = build_world(crash_url)
    server = Server(crash_url, tmp_path)
    try:
        server.start()
        load = Load(server.base, world.headers)
        run_load(load, world, server)
        assert not load.failures, (load.failures[:5], server.tail())
        acked = Counter(w.kind for w in load.acked)
        assert all(acked[k] >= MIN_ACKS for k in PATHS), acked

        server.start()  # the same database, after the crash
        engine = make_engine(crash_url)
        try:
            check_nothing_half_written(engine)  # as the crash left it
            check_acknowledged(server.base, world.headers, load.acked)
            resend_in_flight(server.base, world.headers, load.in_flight)
            check_nothing_half_written(engine)
        finally:
            engine.dispose()
        check_serves_again(server.base, world)
    finally:
        server.stop()
    if make_url(crash_url).get_backend_name() == "sqlite":
        # The file itself says WAL: every engine's connections turn it on.
        path = make_url(crash_url).database
        with sqlite3.connect(str(path)) as raw:
            assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
