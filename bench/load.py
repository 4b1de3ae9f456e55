"""A mixed day under load: 200 concurrent users of the demo world against
``puente serve`` on PostgreSQL, with throughput, p50/p95/p99 latency per kind
of request and overall, and the error count.

    PUENTE_BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/puente \\
        .venv/bin/python bench/load.py [--users 200] [--seconds 60] [--think 5]

(PUENTE_TEST_DATABASE_URL is used when the first is not set; ``--database-url``
names the database outright, SQLite too.) Without ``--database-url`` the run
takes a sibling database ``<name>_load_bench``. It is migrated and the demo
world loaded into it (what ``puente demo --load-only`` does; nothing is added
when it is there already), the virtual-visit schedules get slots for the next
two weeks, and the bench accounts below get API tokens. Then ``puente serve``
runs as a subprocess on a free port, and the users work:

- patients (half the users) list the free virtual-visit slots of their
  polyclinic, book one (``POST /api/appointments`` with an Idempotency-Key),
  open the visit it created (``GET /api/visits/{id}``) and join it (``POST
  /api/visits/{id}/room-token``, the token its browser enters the call with);
- spoke doctors (a fifth) send consult cases (``POST /api/consults``);
- campaign units (the rest but managers) capture a day's results
  (``POST /api/campaigns/{code}/captures/counts``);
- managers (15 %) open a program's dashboard page (``GET /figures/{program}``,
  which computes every figure it shows).

Each user waits a random think time (exponential, mean ``--think`` seconds, 10 by default)
between actions, as people do. A slot taken between listing and booking (409)
is a conflict, not an error; any other non-2xx answer or a transport error
is (a request that meets a keep-alive connection closed under it is sent once
more, as browsers do, and counted as a retry). Beside the figures: the
ceiling of the same server on this machine, its no-op ``/healthz`` with the
same users and no think time. The same day runs ``--warmup`` seconds (20)
first, unmeasured but for its errors: a server that has been up a while has
compiled its queries and warmed PostgreSQL's buffers. Not a timed test.
Prints a line per step on stderr, then one JSON line with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import select
from sqlalchemy.orm import Session

from puente.access import service as access
from puente.access.models import User
from puente.catalog.models import Service
from puente.db import (
    analyze,
    make_engine,
    make_sessionmaker,
    sibling_postgres_database,
    unit_of_work,
)
from puente.demo import load_demo
from puente.enums import AccessRole, AppointmentPurpose, Mode
from puente.migrate import upgrade
from puente.network.models import Facility, Program, SupportLink
from puente.people.models import Patient
from puente.recovery.models import Campaign, CampaignLine, CampaignUnit
from puente.scheduling import service as scheduling
from puente.scheduling.models import Schedule

try:
    from bench.serving import free_port, wait_until_up
except ModuleNotFoundError:  # run as a script: its own folder is on the path
    from serving import free_port, wait_until_up  # type: ignore[no-redef]

PUENTE = Path(sys.executable).with_name("puente")
# The client is aiohttp: httpx spends ~3 ms of CPU on each request, which on
# this 2-core machine made the bench, not the server, the ceiling (190 /s on
# /healthz with 0.6 of a core in the client; aiohttp: 730 /s with 0.15).
# uvicorn closes a connection idle for 5 s; a client that keeps one longer may
# send on a socket the server is closing (an error that is nobody's fault).
# Idle connections are dropped after 2 s here, and a request that still meets
# a connection closed under it is sent once more, as browsers do; every
# request here may be (GETs, and writes with an Idempotency-Key). Retries are
# counted apart.
KEEPALIVE_S = 2.0
CLOSED_UNDER_US = (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError)
TIMEOUT = aiohttp.ClientTimeout(total=60)
SHARES = {"patient": 0.50, "spoke": 0.20, "unit": 0.15, "manager": 0.15}


def _session(base: str) -> aiohttp.ClientSession:
    """One client for every user: connections without limit, idle ones dropped
    after KEEPALIVE_S."""
    connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=KEEPALIVE_S)
    return aiohttp.ClientSession(base, connector=connector, timeout=TIMEOUT)


@dataclass
class Reply:
    status_code: int
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode(errors="replace")

    def json(self) -> Any:
        return json.loads(self.body)


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# The world -------------------------------------------------------------------


@dataclass
class Actors:
    patients: list[tuple[str, str]]  # (token, facility code)
    spokes: list[tuple[str, str]]  # (token, spoke facility code)
    units: list[tuple[str, str]]  # (token, unit facility code)
    managers: list[str]  # tokens
    programs: list[str]
    campaign: str
    campaign_days: list[date]
    campaign_services: list[str]


def _split(users: int) -> dict[str, int]:
    counts = {kind: max(1, int(users * share)) for kind, share in SHARES.items()}
    counts["patient"] += users - sum(counts.values())
    return counts


def _account(db: Session, name: str, role: AccessRole, scope: str | None, **kw: Any) -> str:
    """An API token for bench user ``name`` (made on first use)."""
    user = db.scalar(select(User).where(User.username == name))
    if user is None:
        user = access.create_user(db, username=name, must_change_password=False, **kw)
        access.grant_role(db, user=user, role=role, scope_code=scope)
    token, _row = access.issue_token(db, user=user)
    return token


def prepare(url: str, users: int) -> Actors:
    """Migrate, load the demo world, give the virtual-visit schedules two
    weeks of slots and make the bench users."""
    started = time.perf_counter()
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    upgrade(url)
    engine = make_engine(url)
    factory = make_sessionmaker(engine)
    with unit_of_work(factory) as db:
        _log(f"  demo world: {load_demo(db)}")
    _log(f"  migrated and loaded in {time.perf_counter() - started:.1f} s")
    counts = _split(users)
    today = date.today()
    with unit_of_work(factory) as db:
        schedules = list(
            db.scalars(
                select(Schedule).where(
                    Schedule.active.is_(True),
                    Schedule.mode == Mode.virtual,
                    Schedule.purpose == AppointmentPurpose.visit,
                )
            )
        )
        for schedule in schedules:
            if schedule.valid_until is None or schedule.valid_until >= today:
                scheduling.generate_slots(
                    db, schedule.id, since=today, until=today + timedelta(days=14)
                )
        clinics = sorted({s.facility_id for s in schedules})
        if not clinics:
            raise SystemExit("the demo world has no virtual-visit schedules")
        codes = {fid: code for fid, code in db.execute(select(Facility.id, Facility.code))}
        people = [
            (int(pid), int(fid))
            for pid, fid in db.execute(
                select(Patient.id, Patient.home_facility_id)
                .where(Patient.home_facility_id.in_(clinics))
                .order_by(Patient.id)
                .limit(counts["patient"])
            )
        ]
        patients = [
            (
                _account(db, f"load.patient.{pid}", AccessRole.patient, None, patient_id=pid),
                codes[fid],
            )
            for pid, fid in people
        ]
        spoke_ids = sorted(set(db.scalars(select(SupportLink.spoke_id))))
        random.Random(1).shuffle(spoke_ids)
        spokes = []
        for n in range(counts["spoke"]):
            code = codes[spoke_ids[n % len(spoke_ids)]]
            spokes.append((_account(db, f"load.spoke.{n}", AccessRole.clinician, code), code))
        campaign = db.scalar(select(Campaign).order_by(Campaign.starts_on))
        if campaign is None:
            raise SystemExit("the demo world has no recovery campaign")
        unit_ids = list(
            db.scalars(
                select(CampaignUnit.facility_id).where(CampaignUnit.campaign_id == campaign.id)
            )
        )
        units = []
        for n in range(counts["unit"]):
            code = codes[unit_ids[n % len(unit_ids)]]
            units.append((_account(db, f"load.unit.{n}", AccessRole.facility_admin, code), code))
        managers = [
            _account(db, f"load.manager.{n}", AccessRole.program_manager, None)
            for n in range(counts["manager"])
        ]
        services = list(
            db.scalars(
                select(Service.code)
                .join(CampaignLine, CampaignLine.service_id == Service.id)
                .where(CampaignLine.campaign_id == campaign.id)
            )
        )
        last = min(campaign.ends_on, today)
        days = [
            campaign.starts_on + timedelta(days=d)
            for d in range((last - campaign.starts_on).days + 1)
        ]
        programs = list(db.scalars(select(Program.code).order_by(Program.code)))

    engine.dispose()
    analyze(url)  # what `puente demo` does after loading
    _log(
        f"  {len(patients)} patients at {len(clinics)} polyclinics,"
        f" {len(spokes)} spoke doctors, {len(units)} units of {campaign.code},"
        f" {len(managers)} managers of {len(programs)} programs"
    )
    return Actors(patients, spokes, units, managers, programs, campaign.code, days, services)


# The server ------------------------------------------------------------------


def start_server(url: str, workdir: Path, workers: int) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, "PUENTE_DATABASE_URL": url, "PUENTE_DATA_DIR": str(workdir / "data")}
    log = (workdir / "server.log").open("wb")
    proc = subprocess.Popen(
        [str(PUENTE), "serve", "--port", str(port), "--workers", str(workers)],
        cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    wait_until_up(proc, base, "/readyz", log=str(workdir / "server.log"))
    return proc, base


# The load --------------------------------------------------------------------


@dataclass
class Tally:
    latencies: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    conflicts: int = 0
    retries: int = 0
    samples: list[str] = field(default_factory=list)
    actions: int = 0

    def add(self, kind: str, seconds: float) -> None:
        self.latencies.setdefault(kind, []).append(seconds)

    def error(self, kind: str, what: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1
        if len(self.samples) < 10:
            self.samples.append(f"{kind}: {what}")


def _figures(lat: list[float], seconds: float) -> dict[str, Any]:
    lat = sorted(lat)
    n = len(lat)

    def pct(p: float) -> float | None:
        return round(lat[min(n - 1, int(n * p))] * 1000, 1) if n else None

    return {
        "requests": n,
        "per_s": round(n / seconds, 1) if seconds else 0,
        "p50_ms": round(statistics.median(lat) * 1000, 1) if n else None,
        "p95_ms": pct(0.95),
        "p99_ms": pct(0.99),
    }


class Person:
    """One simulated person: a client with their token and a think time."""

    def __init__(
        self, client: aiohttp.ClientSession, token: str, tally: Tally, rng: random.Random
    ) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"}
        self.tally = tally
        self.rng = rng

    async def call(
        self, kind: str, method: str, path: str, ok: tuple[int, ...] = (200,), **kw: Any
    ) -> Reply | None:
        began = time.perf_counter()
        headers = {**self.headers, **kw.pop("headers", {})}

        async def send() -> Reply:
            async with self.client.request(method, path, headers=headers, **kw) as answer:
                return Reply(answer.status, await answer.read())

        try:
            try:
                r = await send()
            except CLOSED_UNDER_US:
                self.tally.retries += 1
                r = await send()
        except (aiohttp.ClientError, TimeoutError) as exc:
            self.tally.error(kind, repr(exc))
            return None
        self.tally.add(kind, time.perf_counter() - began)
        if r.status_code not in ok:
            if r.status_code == 409 and kind == "patient.book":
                self.tally.conflicts += 1
            else:
                self.tally.error(kind, f"{r.status_code} {r.text[:200]}")
            return None
        return r


async def patient_day(user: Person, facility: str) -> None:
    soon = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    slots = await user.call(
        "patient.slots", "GET", "/api/slots",
        params={"facility_code": facility, "mode": "virtual", "purpose": "visit",
                "from": soon, "limit": 20},
    )  # fmt: skip
    if slots is None or not slots.json()["items"]:
        return
    slot = user.rng.choice(slots.json()["items"])["id"]
    booked = await user.call(
        "patient.book", "POST", "/api/appointments", ok=(200, 201),
        json={"slot_id": slot, "reason": "follow-up"},
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )  # fmt: skip
    if booked is None:
        return
    visits = await user.call("patient.visits", "GET", "/api/visits", params={"limit": 5})
    if visits is None:
        return
    appointment = booked.json()["id"]
    mine = [v["id"] for v in visits.json() if v["appointment_id"] == appointment]
    if not mine:
        user.tally.error("patient.visits", f"no visit for appointment {appointment}")
        return
    if await user.call("patient.visit", "GET", f"/api/visits/{mine[0]}") is None:
        return
    # Joining the visit: the room token its browser opens the call with.
    await user.call("patient.join", "POST", f"/api/visits/{mine[0]}/room-token")


async def spoke_day(user: Person, facility: str) -> None:
    body = {
        "spoke_facility_code": facility,
        "specialty_code": user.rng.choice(["cardiology", "pediatrics", "neurology"]),
        "urgency": user.rng.choice(["emergency", "urgent", "routine"]),
        "question": "Chest pain 2 h, ST elevation in II, III, aVF: thrombolyse here or evacuate?",
        "clinical_summary": "Male, 58, smoker; pain started at sea; no previous ECG.",
        "patient_age_years": user.rng.randint(1, 90),
        "patient_sex": user.rng.choice(["male", "female"]),
        "vitals": {"heart_rate": 112, "systolic_bp": 92, "diastolic_bp": 60, "spo2": 93},
        "answer_language": "vi",
    }
    await user.call(
        "spoke.case", "POST", "/api/consults", ok=(201,), json=body,
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )  # fmt: skip


async def unit_day(user: Person, facility: str, actors: Actors) -> None:
    services = user.rng.sample(actors.campaign_services, min(3, len(actors.campaign_services)))
    body = {
        "facility_code": facility,
        "day": user.rng.choice(actors.campaign_days).isoformat(),
        "counts": {code: user.rng.randint(1, 12) for code in services},
    }
    await user.call(
        "unit.capture", "POST", f"/api/campaigns/{actors.campaign}/captures/counts",
        ok=(201,), json=body, headers={"Idempotency-Key": uuid.uuid4().hex},
    )  # fmt: skip


async def manager_day(user: Person, actors: Actors) -> None:
    await user.call("manager.dashboard", "GET", f"/figures/{user.rng.choice(actors.programs)}")


async def run_load(base: str, actors: Actors, seconds: float, think: float) -> tuple[Tally, float]:
    tally = Tally()
    rng = random.Random(2026)
    async with _session(base) as client:
        people: list[tuple[Person, Callable[[Person], Awaitable[None]]]] = []
        for token, code in actors.patients:
            people.append((Person(client, token, tally, random.Random(rng.random())),
                           lambda u, c=code: patient_day(u, c)))  # fmt: skip
        for token, code in actors.spokes:
            people.append((Person(client, token, tally, random.Random(rng.random())),
                           lambda u, c=code: spoke_day(u, c)))  # fmt: skip
        for token, code in actors.units:
            people.append((Person(client, token, tally, random.Random(rng.random())),
                           lambda u, c=code: unit_day(u, c, actors)))  # fmt: skip
        for token in actors.managers:
            people.append((Person(client, token, tally, random.Random(rng.random())),
                           lambda u: manager_day(u, actors)))  # fmt: skip
        start = time.perf_counter()
        stop = start + seconds

        async def live(user: Person, act: Callable[[Person], Awaitable[None]]) -> None:
            await asyncio.sleep(user.rng.uniform(0, think))  # people arrive spread out
            while time.perf_counter() < stop:
                await act(user)
                tally.actions += 1
                await asyncio.sleep(
                    min(user.rng.expovariate(1 / think), max(0.0, stop - time.perf_counter()))
                    if think
                    else 0
                )

        await asyncio.gather(*(live(u, act) for u, act in people))
        elapsed = time.perf_counter() - start
    return tally, elapsed


async def ceiling(base: str, users: int, seconds: float) -> dict[str, Any]:
    """The same server's no-op endpoint, ``users`` clients, no think time."""
    lat: list[float] = []
    failed: list[int] = []
    async with _session(base) as client:
        stop = time.perf_counter() + seconds
        start = time.perf_counter()

        async def hit() -> None:
            while time.perf_counter() < stop:
                began = time.perf_counter()
                try:
                    async with client.get("/healthz") as r:
                        await r.read()
                except (aiohttp.ClientError, TimeoutError):
                    failed.append(1)
                    continue
                lat.append(time.perf_counter() - began)
                if r.status != 200:
                    failed.append(1)

        await asyncio.gather(*(hit() for _ in range(users)))
        elapsed = time.perf_counter() - start
    return {**_figures(lat, elapsed), "errors": len(failed)}


def _cpu_seconds(pid: int) -> float:
    """User + system CPU so far of process ``pid`` and its children (its
    worker processes), from Linux /proc."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        if stat.parent.name == str(pid) or fields[1] == str(pid):
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def _machine_busy() -> float:
    """Busy CPU seconds of the whole machine so far, all cores (/proc/stat)."""
    ticks = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = ticks[3] + ticks[4]
    return (sum(ticks) - idle) / os.sysconf("SC_CLK_TCK")


def _load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--think", type=float, default=10.0, help="mean think time (s)")
    parser.add_argument("--database-url", help="the database to load and serve")
    parser.add_argument("--ceiling-seconds", type=float, default=5.0)
    parser.add_argument(
        "--warmup", type=float, default=20.0, help="seconds of the same load first, not measured"
    )
    parser.add_argument(
        "--server-log", type=Path, default=None, help="keep the server's JSON log at this path"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="puente serve --workers (above 1: set PUENTE_REDIS_URL)",
    )
    args = parser.parse_args()
    url = args.database_url
    if url is None:
        base_url = os.environ.get("PUENTE_BENCH_DATABASE_URL") or os.environ.get(
            "PUENTE_TEST_DATABASE_URL"
        )
        if not base_url or not base_url.startswith("postgresql"):
            raise SystemExit("give --database-url, or set PUENTE_BENCH_DATABASE_URL to PostgreSQL")
        url = sibling_postgres_database(base_url, "load_bench")
    dialect = url.split(":", 1)[0].split("+", 1)[0]
    _log(f"database ({dialect}): migrating and loading the demo world")
    actors = prepare(url, args.users)
    with tempfile.TemporaryDirectory(prefix="puente-load-") as tmp:
        proc, base = start_server(url, Path(tmp), args.workers)
        try:
            before = _load_average()
            _log(f"server {base}: puente serve --workers {args.workers}; load average {before}")
            warm: Tally | None = None
            if args.warmup > 0:
                # The same day, not counted: every worker compiles its queries,
                # fills its caches and PostgreSQL its buffers, as a server that
                # has been up a while has. Its errors still count.
                warm, _ = asyncio.run(run_load(base, actors, args.warmup, args.think))
                _log(f"  warm-up: {args.warmup:.0f} s, {warm.actions} actions, "
                     f"{sum(warm.errors.values())} errors (not in the figures below)")  # fmt: skip
            server0, own0, busy0 = (
                _cpu_seconds(proc.pid),
                time.process_time(),
                _machine_busy(),
            )
            tally, elapsed = asyncio.run(run_load(base, actors, args.seconds, args.think))
            server_cpu = _cpu_seconds(proc.pid) - server0
            own_cpu = time.process_time() - own0
            busy1 = _machine_busy()
            machine = {
                "cores": os.cpu_count(),
                "busy_cores": round((busy1 - busy0) / elapsed, 2),
                "server_cores": round(server_cpu / elapsed, 2),
                "bench_client_cores": round(own_cpu / elapsed, 2),
            }
            machine["others_cores"] = round(
                machine["busy_cores"] - machine["server_cores"] - machine["bench_client_cores"], 2
            )
            during = _load_average()
            roof = asyncio.run(ceiling(base, args.users, args.ceiling_seconds))
        finally:
            proc.terminate()
            proc.wait(timeout=30)
            if args.server_log:
                shutil.copyfile(Path(tmp) / "server.log", args.server_log)
            crashes = [
                line
                for line in (Path(tmp) / "server.log").read_text(errors="replace").splitlines()
                if "Error" in line or "Traceback" in line
            ]
    kinds = {kind: _figures(lat, elapsed) for kind, lat in sorted(tally.latencies.items())}
    every = [x for lat in tally.latencies.values() for x in lat]
    overall = _figures(every, elapsed)
    warm_errors = sum(warm.errors.values()) if warm else 0
    errors = sum(tally.errors.values()) + warm_errors
    for kind, fig in kinds.items():
        _log(f"  {kind:<18} {fig['requests']:>6} req {fig['per_s']:>7} /s  p50 {fig['p50_ms']} ms"
             f"  p95 {fig['p95_ms']} ms  p99 {fig['p99_ms']} ms")  # fmt: skip
    _log(
        f"  {'overall':<18} {overall['requests']:>6} req {overall['per_s']:>7} /s  p50"
        f" {overall['p50_ms']} ms  p95 {overall['p95_ms']} ms  p99 {overall['p99_ms']} ms"
    )
    _log(f"  ceiling (/healthz, same users, no think time): {roof['per_s']} /s,"
         f" p50 {roof['p50_ms']} ms, p99 {roof['p99_ms']} ms")  # fmt: skip
    _log(f"  {tally.actions} actions, {tally.conflicts} booking conflicts (409), {errors} errors,"
         f" {tally.retries} requests sent again on a connection closed under them")  # fmt: skip
    for sample in tally.samples:
        _log(f"    {sample}")
    for line in crashes[:10]:
        _log(f"    server: {line}")
    per_request = round(server_cpu * 1000 / max(1, overall["requests"]), 1)
    _log(f"  server CPU {server_cpu:.1f} s = {per_request} ms per request;"
         f" cores busy {machine['busy_cores']} of {machine['cores']}: server"
         f" {machine['server_cores']}, this client {machine['bench_client_cores']},"
         f" other work {machine['others_cores']}")  # fmt: skip
    _log(f"  load average before {before}, at the end {during}")
    result = {
        "bench": "load",
        "database": dialect,
        "users": args.users,
        "seconds": round(elapsed, 1),
        "think_s": args.think,
        "workers": args.workers,
        "actions": tally.actions,
        "overall": overall,
        "kinds": kinds,
        "conflicts": tally.conflicts,
        "retries": tally.retries,
        "errors": errors,
        "errors_by_kind": tally.errors,
        "warmup_s": args.warmup,
        "warmup_errors": warm_errors,
        "ceiling_healthz": roof,
        "server_cpu_s": round(server_cpu, 1),
        "server_cpu_ms_per_request": per_request,
        "machine": machine,
        "load_average": {"before": before, "end": during},
    }
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
