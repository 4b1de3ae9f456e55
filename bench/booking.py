"""Booking under load: 200 concurrent clients book slots through the JSON API
of a real uvicorn server on PostgreSQL, next to two ceilings measured in the
same run — the same server's no-op endpoint (/healthz) and ``pgbench -N`` on
the same database — and a count of double bookings (must be 0).

    PUENTE_BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/puente \\
        .venv/bin/python bench/booking.py [--clients 200] [--seconds 15] [--workers 2]

(PUENTE_TEST_DATABASE_URL is used when the first is not set.) The run takes a
sibling database ``<name>_booking_bench``, which it empties first. Each client
is a patient with their own API token who books random slots among a few
thousand, so clients also collide on slots: a collision is a 409, counted and
timed like a booking. Not a timed test. Prints a line per step on stderr, then
one JSON line with the figures on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from datetime import time as clock
from typing import Any

from sqlalchemy import make_url, select, text
from sqlalchemy.orm import sessionmaker

from puente.access import service as access
from puente.db import make_engine, make_sessionmaker, sibling_postgres_database
from puente.enums import AccessRole, FacilityKind, Mode, PractitionerRoleCode, RegionLevel, Tier
from puente.migrate import upgrade
from puente.network.models import Country, Facility, Region
from puente.people.models import Patient, Practitioner, PractitionerRole
from puente.scheduling import service
from puente.scheduling.models import Slot

try:
    from bench.serving import free_port, wait_until_up
except ModuleNotFoundError:  # run as a script: its own folder is on the path
    from serving import free_port, wait_until_up  # type: ignore[no-redef]

PRACTITIONERS = 20
SERVER_POOL = 24  # connections per server worker, and requests let in at once


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _database(base: str) -> str:
    return sibling_postgres_database(base, "booking_bench", empty=True)


def _world(url: str, clients: int, days: int) -> tuple[list[int], list[tuple[int, str]]]:
    """A Moscow polyclinic, PRACTITIONERS therapists with virtual schedules
    (every day 08:00-20:00, 15-minute slots, from tomorrow), and one patient
    user with an API token per client. Returns slot ids and (patient, token)."""
    engine = make_engine(url)
    factory: sessionmaker[Any] = sessionmaker(bind=engine, expire_on_commit=False)
    start = date.today() + timedelta(days=1)
    with factory.begin() as db:
        db.add(Country(code="RU", name="Russia", default_timezone="Europe/Moscow"))
        region = Region(code="RU-MOW", name="Moscow", level=RegionLevel.region, country_code="RU")
        db.add(region)
        db.flush()
        clinic = Facility(
            code="RU-MOW-GP002", name="Polyclinic No. 2", tier=Tier.district,
            kind=FacilityKind.polyclinic, region_id=region.id, country_code="RU",
            timezone="Europe/Moscow",
        )  # fmt: skip
        db.add(clinic)
        db.flush()
        for n in range(PRACTITIONERS):
            doctor = Practitioner(family_name=f"Doctor{n}", given_names="Bench")
            db.add(doctor)
            db.flush()
            role = PractitionerRole(
                practitioner_id=doctor.id, facility_id=clinic.id,
                role=PractitionerRoleCode.physician,
            )  # fmt: skip
            db.add(role)
            db.flush()
            schedule = service.publish_schedule(
                db, practitioner_role_id=role.id, mode=Mode.virtual, slot_minutes=15,
                timezone="Europe/Moscow", valid_from=start, valid_until=None,
                rules=[(d, clock(8), clock(20)) for d in range(7)],
            )  # fmt: skip
            service.generate_slots(db, schedule.id, until=start + timedelta(days=days - 1))
        people: list[tuple[int, str]] = []
        for n in range(clients):
            patient = Patient(
                family_name=f"Patient{n}", given_names="Bench", home_facility_id=clinic.id
            )
            db.add(patient)
            db.flush()
            user = access.create_user(
                db, username=f"bench.patient.{n}", patient_id=patient.id,
                must_change_password=False,
            )  # fmt: skip
            access.grant_role(db, user=user, role=AccessRole.patient)
            token, _row = access.issue_token(db, user=user)
            people.append((patient.id, token))
        slots = list(db.scalars(select(Slot.id)))
    engine.dispose()
    return slots, people


# The server ------------------------------------------------------------------


class Gate:
    """ASGI wrapper letting at most ``limit`` requests into the app at once;
    the others wait (asynchronously, holding no thread and no connection).

    Needed because each request holds one pooled connection from its first
    query to its commit while its sync steps hop between threadpool threads:
    with more requests in flight than connections, every thread can end up
    blocked in the pool's checkout while the connections' holders wait for a
    thread — a standstill until the 30 s pool timeout answers 500."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app = app
        self.limit = limit
        self.semaphore: asyncio.Semaphore | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.semaphore is None:
            self.semaphore = asyncio.Semaphore(self.limit)
        async with self.semaphore:
            await self.app(scope, receive, send)


def server_app() -> Any:
    """The app the uvicorn workers serve (``--factory``), on the bench
    database given in PUENTE_BENCH_SERVER_URL."""
    from puente.app import create_app
    from puente.config import Settings

    url = os.environ["PUENTE_BENCH_SERVER_URL"]
    engine = make_engine(url, pool_size=SERVER_POOL, max_overflow=0)
    settings = Settings(environment="test", database_url=url)
    return Gate(create_app(settings, session_factory=make_sessionmaker(engine)), SERVER_POOL)


def _start_server(url: str, workers: int) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, "PUENTE_BENCH_SERVER_URL": url, "PYTHONPATH": os.getcwd()}
    command = [
        sys.executable, "-m", "uvicorn", "bench.booking:server_app", "--factory",
        "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
        "--log-level", "warning", "--no-access-log",
    ]  # fmt: skip
    proc = subprocess.Popen(command, env=env)
    base = f"http://127.0.0.1:{port}"
    wait_until_up(proc, base, "/healthz")
    return proc, base


# Load ------------------------------------------------------------------------


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    elapsed: float = 0.0

    def add(self, status: int, seconds: float) -> None:
        self.latencies.append(seconds)
        self.statuses[status] = self.statuses.get(status, 0) + 1

    def summary(self, ok: int) -> dict[str, Any]:
        lat = sorted(self.latencies)
        n = len(lat)
        return {
            "requests": n,
            "ok": self.statuses.get(ok, 0),
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "seconds": round(self.elapsed, 2),
            "requests_per_s": round(n / self.elapsed, 1) if self.elapsed else 0,
            "ok_per_s": round(self.statuses.get(ok, 0) / self.elapsed, 1) if self.elapsed else 0,
            "p50_ms": round(statistics.median(lat) * 1000, 1) if lat else None,
            "p99_ms": round(lat[min(n - 1, int(n * 0.99))] * 1000, 1) if lat else None,
        }


class Connection:
    """A minimal HTTP/1.1 keep-alive client over asyncio streams. The load
    generator must cost far less than the server it measures; httpx's async
    pool does not at 200 connections (it caps the no-op endpoint at a few
    hundred requests per second on its own)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, host: str, port: int) -> Connection:
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer)

    async def request(
        self, method: str, path: str, body: bytes = b"", headers: str = ""
    ) -> tuple[int, bytes]:
        self.writer.write(
            f"{method} {path} HTTP/1.1\r\nHost: bench\r\nContent-Length: {len(body)}\r\n"
            f"Content-Type: application/json\r\n{headers}\r\n".encode()
            + body
        )
        await self.writer.drain()
        status_line = await self.reader.readline()
        length = 0
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "content-length":
                length = int(value)
        payload = await self.reader.readexactly(length)
        return int(status_line.split()[1]), payload

    def close(self) -> None:
        self.writer.close()


Request = Callable[[Connection, int], Awaitable[int]]


async def _load(base: str, clients: int, seconds: float, request: Request) -> Tally:
    """``clients`` concurrent loops, each on its own keep-alive connection,
    calling ``request(connection, n)`` until time is up."""
    host, port = base.removeprefix("http://").split(":")
    connections = [await Connection.open(host, int(port)) for _ in range(clients)]
    tally = Tally()
    start = time.perf_counter()
    stop = start + seconds

    async def loop(n: int) -> None:
        while True:
            began = time.perf_counter()
            if began >= stop:
                return
            status = await request(connections[n], n)
            tally.add(status, time.perf_counter() - began)

    await asyncio.gather(*(loop(n) for n in range(clients)))
    tally.elapsed = time.perf_counter() - start
    for c in connections:
        c.close()
    return tally


def _healthz(base: str, clients: int, seconds: float) -> Tally:
    async def hit(conn: Connection, _n: int) -> int:
        return (await conn.request("GET", "/healthz"))[0]

    return asyncio.run(_load(base, clients, seconds, hit))


def _booking(
    base: str, clients: int, seconds: float, slots: list[int], people: list[tuple[int, str]]
) -> tuple[Tally, int]:
    rng = random.Random(2022)
    headers = [f"Authorization: Bearer {token}\r\n" for _pid, token in people]
    created = 0

    async def book(conn: Connection, n: int) -> int:
        nonlocal created
        body = json.dumps({"slot_id": rng.choice(slots)}).encode()
        status, payload = await conn.request("POST", "/api/appointments", body, headers[n])
        if status == 201:
            created += 1
        elif status != 409:
            _log(f"  unexpected {status}: {payload[:200]!r}")
        return status

    tally = asyncio.run(_load(base, clients, seconds, book))
    return tally, created


def _pgbench(url: str, seconds: float, clients: int) -> dict[str, Any]:
    if shutil.which("pgbench") is None:
        _log("  pgbench is not installed: that ceiling is unavailable")
        return {"available": False}
    parsed = make_url(url)
    env = {**os.environ}
    if parsed.password:
        env["PGPASSWORD"] = parsed.password
    conn = [
        "-h", parsed.host or "127.0.0.1", "-p", str(parsed.port or 5432),
        "-U", parsed.username or "postgres",
    ]  # fmt: skip
    db = parsed.database or ""
    subprocess.run(["pgbench", "-i", "-q", "-s", "10", *conn, db], env=env, check=True,
                   capture_output=True)  # fmt: skip
    try:
        out = subprocess.run(
            ["pgbench", "-N", "-c", str(clients), "-j", "4", "-T", str(int(seconds)),
             *conn, db],
            env=env, check=True, capture_output=True, text=True,
        ).stdout  # fmt: skip
    finally:
        subprocess.run(["pgbench", "-i", "-I", "d", *conn, db], env=env, capture_output=True)
    tps = re.search(r"tps = ([\d.]+) \((?:without initial connection time|excluding)", out)
    latency = re.search(r"latency average = ([\d.]+) ms", out)
    return {
        "available": True,
        "clients": clients,
        "scale": 10,
        "tps": round(float(tps.group(1)), 1) if tps else None,
        "latency_avg_ms": float(latency.group(1)) if latency else None,
    }


def _double_bookings(url: str) -> tuple[int, int]:
    engine = make_engine(url)
    with engine.connect() as conn:
        doubled = conn.scalar(
            text(
                "SELECT count(*) FROM (SELECT slot_id FROM appointment"
                " WHERE status IN ('held', 'booked') GROUP BY slot_id HAVING count(*) > 1) d"
            )
        )
        booked = conn.scalar(text("SELECT count(*) FROM appointment WHERE status = 'booked'"))
    engine.dispose()
    return int(doubled or 0), int(booked or 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument("--days", type=int, default=14, help="days of slots to book into")
    parser.add_argument("--pgbench-clients", type=int, default=32)
    args = parser.parse_args()
    base_url = os.environ.get("PUENTE_BENCH_DATABASE_URL") or os.environ.get(
        "PUENTE_TEST_DATABASE_URL"
    )
    if not base_url or not base_url.startswith("postgresql"):
        raise SystemExit(
            "set PUENTE_BENCH_DATABASE_URL (or PUENTE_TEST_DATABASE_URL) to PostgreSQL"
        )

    url = _database(base_url)
    _log(f"database {make_url(url).database}: migrating")
    upgrade(url)
    slots, people = _world(url, args.clients, args.days)
    _log(f"  {len(slots)} slots of {PRACTITIONERS} practitioners, {len(people)} patient users")

    proc, base = _start_server(url, args.workers)
    try:
        _log(f"server {base} ({args.workers} workers, pool and gate {SERVER_POOL} each)")
        health = _healthz(base, args.clients, args.seconds).summary(200)
        _log(f"  /healthz: {health['requests_per_s']} req/s, p50 {health['p50_ms']} ms,"
             f" p99 {health['p99_ms']} ms")  # fmt: skip
        tally, created = _booking(base, args.clients, args.seconds, slots, people)
        booking = tally.summary(201)
        _log(f"  booking: {booking['ok_per_s']} bookings/s ({booking['requests_per_s']} req/s"
             f" incl. 409), p50 {booking['p50_ms']} ms, p99 {booking['p99_ms']} ms")  # fmt: skip
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    _log(f"pgbench -N ({args.pgbench_clients} clients, {int(args.seconds)} s)")
    pgbench = _pgbench(url, args.seconds, args.pgbench_clients)
    if pgbench.get("available"):
        _log(f"  {pgbench['tps']} tps, latency {pgbench['latency_avg_ms']} ms")
    doubled, booked = _double_bookings(url)
    _log(f"double bookings: {doubled}; booked {booked}, 201 answers {created}")
    result = {
        "bench": "booking",
        "clients": args.clients,
        "seconds": args.seconds,
        "server_workers": args.workers,
        "slots": len(slots),
        "booking": booking,
        "healthz": health,
        "pgbench_N": pgbench,
        "double_bookings": doubled,
        "booked_rows": booked,
        "created_answers": created,
    }
    print(json.dumps(result), flush=True)
    if doubled or booked != created:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
