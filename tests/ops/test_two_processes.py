"""Two ``puente serve`` processes on different ports, one PostgreSQL database
and one Redis: a visit call whose browsers are connected to different
processes connects, a booking race across both processes makes one
booking, doctors on both take each queued patient once, and failed sign-ins
on both add up to one lockout.

The call runs inside a network namespace with only the loopback interface
(as tests/visits/test_room_call.py does), so no packet of it leaves
127.0.0.0/8. The machine's PostgreSQL and Redis listen on 127.0.0.1 outside
that namespace; the test reaches them through Unix sockets it relays to
them (a Unix socket is a file, visible in every network namespace).

Needs ``PUENTE_TEST_DATABASE_URL`` (PostgreSQL: several processes cannot
share SQLite) and ``PUENTE_TEST_REDIS_URL``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import time as clock_time
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from puente.db import make_engine, make_sessionmaker, unit_of_work, utcnow
from puente.enums import AccessRole, AppointmentStatus, Mode, PractitionerRoleCode, VisitStatus
from puente.people.models import PractitionerRole
from puente.scheduling.models import Appointment, Slot
from puente.visits.models import Visit
from tests import factories as f
from tests.browser import CHROMIUM, free_port
from tests.conftest import PG_URL, migrated_url
from tests.scheduling.world import moscow_world, next_monday, virtual_schedule
from tests.visits.room_world import room_world
from tests.visits.test_room_call import (
    PASSWORD,
    PNG,
    WEBRTC_FLAGS,
    can_unshare,
    frames,
    frames_flow,
    only_loopback,
    sign_in,
)

REDIS_URL = os.environ.get("PUENTE_TEST_REDIS_URL")
INNER = "PUENTE_TEST_TWO_PROCESSES"  # set for the run inside the namespace
ROOT = Path(__file__).resolve().parents[2]
PUENTE = Path(sys.executable).with_name("puente")
RACERS = 20
WAITING = 4
DOCTORS = 10

needs_services = [
    pytest.mark.skipif(
        not PG_URL,
        reason="PUENTE_TEST_DATABASE_URL is not set: several processes need PostgreSQL",
    ),
    pytest.mark.skipif(
        not REDIS_URL, reason="PUENTE_TEST_REDIS_URL is not set (e.g. redis://127.0.0.1:6379/2)"
    ),
]


# Two app processes ---------------------------------------------------------------


@contextlib.contextmanager
def two_processes(database_url: str, redis_url: str, work: Path) -> Iterator[tuple[str, str]]:
    """``puente serve`` twice, on two free loopback ports, sharing the
    database, the Redis (under a prefix of this run's own) and the data
    folder; yields both base URLs."""
    prefix = f"puente-test-{uuid.uuid4().hex[:12]}:"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(work),
        "PUENTE_ENVIRONMENT": "test",
        "PUENTE_DATABASE_URL": database_url,
        "PUENTE_REDIS_URL": redis_url,
        "PUENTE_REDIS_PREFIX": prefix,
        "PUENTE_SECRET_KEY": "two-processes-one-secret",
        "PUENTE_DATA_DIR": str(work / "data"),
        "PUENTE_NOTIFY_IN_PROCESS": "false",
    }
    servers: list[tuple[subprocess.Popen[bytes], Path, str]] = []
    try:
        for name in ("a", "b"):
            port = free_port()
            log = work / f"puente-{name}.log"
            process = subprocess.Popen(
                [str(PUENTE), "serve", "--host", "127.0.0.1", "--port", str(port)],
                cwd=work,  # no .env of the worktree is read
                env=env,
                stdout=log.open("wb"),
                stderr=subprocess.STDOUT,
            )
            servers.append((process, log, f"http://127.0.0.1:{port}"))
        for process, log, base in servers:
            wait_until_up(process, log, base)
        yield servers[0][2], servers[1][2]
    finally:
        for process, _log, _base in servers:
            process.terminate()
        for process, _log, _base in servers:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        forget_keys(redis_url, prefix)


def forget_keys(redis_url: str, prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=f"{prefix}*"))
    if keys:
        client.delete(*keys)
    client.close()


def wait_until_up(process: subprocess.Popen[bytes], log: Path, base: str) -> None:
    deadline = time.monotonic() + 60
    while True:
        assert process.poll() is None, f"{base} exited:\n{log.read_text()[-3000:]}"
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return
        assert time.monotonic() < deadline, f"{base} did not start:\n{log.read_text()[-3000:]}"
        time.sleep(0.2)


# Reaching TCP services from a loopback-only namespace ------------------------------


@contextlib.contextmanager
def unix_relay(path: Path, host: str, port: int) -> Iterator[None]:
    """Accept on the Unix socket ``path`` and pass each connection's bytes
    both ways to ``host:port``."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen(128)

    def pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)
                end.close()

    def accept() -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # the listener was shut
            try:
                upstream = socket.create_connection((host, port), timeout=10)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=pump, args=(source, sink), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            listener.shutdown(socket.SHUT_RDWR)
        listener.close()
        thread.join(timeout=5)


@contextlib.contextmanager
def relayed(database_url: str, redis_url: str) -> Iterator[tuple[str, str]]:
    """The database and Redis URLs as seen through Unix-socket relays."""
    folder = Path(tempfile.mkdtemp(prefix="puente-relay-"))  # short: socket paths are capped
    folder.chmod(0o755)
    db = make_url(database_url)
    redis = urlsplit(redis_url)
    redis_db = redis.path.strip("/") or "0"
    try:
        with (
            unix_relay(folder / ".s.PGSQL.5432", db.host or "127.0.0.1", db.port or 5432),
            unix_relay(folder / "redis.sock", redis.hostname or "127.0.0.1", redis.port or 6379),
        ):
            through = db.set(host="", port=None).update_query_dict({"host": str(folder)})
            yield (
                through.render_as_string(hide_password=False),
                f"unix://{folder}/redis.sock?db={redis_db}",
            )
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def rerun_in_loopback_namespace(test_id: str, settings: dict[str, Any]) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PUENTE_", "PYTEST_"))}
    env[INNER] = json.dumps(settings)
    command = [
        "unshare",
        "-n",
        "--",
        "sh",
        "-c",
        'ip link set lo up && exec "$0" -m pytest -q -p no:cacheprovider -p no:xdist "$1"',
        sys.executable,
        test_id,
    ]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=400)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    assert " 1 passed" in " " + done.stdout.splitlines()[-1], done.stdout[-2000:]  # not skipped


# The call --------------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")
def test_nikolai_on_one_process_and_dr_petrova_on_the_other_hold_their_call(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    inner = os.environ.get(INNER)
    if inner:
        assert only_loopback(), "the call must run in a loopback-only namespace"
        call_across_processes(json.loads(inner))
        return
    if only_loopback():
        pytest.skip("run from outside a network namespace (the test makes its own)")
    if not PG_URL:
        pytest.skip("PUENTE_TEST_DATABASE_URL is not set: several processes need PostgreSQL")
    if not REDIS_URL:
        pytest.skip("PUENTE_TEST_REDIS_URL is not set (e.g. redis://127.0.0.1:6379/2)")
    if not can_unshare():
        pytest.skip("cannot make a loopback-only network namespace (unshare -n)")
    url = migrated_url("postgresql", tmp_path, suffix="two_call")
    engine = make_engine(url)
    with unit_of_work(make_sessionmaker(engine)) as session:
        visit_id = room_world(session, password=PASSWORD).visit_id
    engine.dispose()
    work = Path(tempfile.mkdtemp(prefix="puente-two-"))
    try:
        with relayed(url, REDIS_URL) as (database_url, redis_url):
            rerun_in_loopback_namespace(
                request.node.nodeid,
                {
                    "database_url": database_url,
                    "redis_url": redis_url,
                    "visit_id": visit_id,
                    "work": str(work),
                },
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)


def call_across_processes(settings: dict[str, Any]) -> None:
    from playwright.sync_api import expect, sync_playwright

    visit_id = int(settings["visit_id"])
    room = f"/visits/{visit_id}/room"
    engine = make_engine(settings["database_url"])
    factory = make_sessionmaker(engine)

    def visit() -> Visit:
        with factory() as session:
            row = Session.get(session, Visit, visit_id)
            assert row is not None
            return row

    work = Path(settings["work"])
    with (
        two_processes(settings["database_url"], settings["redis_url"], work) as (a, b),
        sync_playwright() as p,
    ):
        launch = {"executable_path": CHROMIUM, "args": WEBRTC_FLAGS, "headless": True}
        nikolai_browser = p.chromium.launch(**launch)
        petrova_browser = p.chromium.launch(**launch)
        try:
            # Nikolai through process A waits in the lobby; Dr Petrova,
            # through process B, sees him there and admits him.
            nikolai = sign_in(nikolai_browser, a, "nikolai", f"{room}?lang=ru", "ru-RU")
            nikolai_room = nikolai.locator("#room")
            expect(nikolai_room).to_have_attribute("data-status", "lobby")
            petrova = sign_in(petrova_browser, b, "dr.petrova", room, "en-US")
            petrova_room = petrova.locator("#room")
            expect(petrova_room).to_have_attribute("data-peer", "present")
            assert frames(nikolai) == 0 and frames(petrova) == 0
            petrova.click("#admit")
            expect(nikolai.locator("#lobby")).to_be_hidden()
            expect(nikolai_room).to_have_attribute("data-status", "in_call")
            expect(petrova_room).to_have_attribute("data-call", "connected")
            frames_flow(nikolai, "Nikolai (process A)")
            frames_flow(petrova, "Dr Petrova (process B)")
            assert visit().status == VisitStatus.in_call

            # Chat both ways, across the processes.
            nikolai.fill("#chat-input", "Температура 38,2 второй день.")
            nikolai.click("#chat-send")
            expect(petrova.locator("#chat-log li[data-side=patient]")).to_contain_text(
                "Температура 38,2 второй день."
            )
            petrova.fill("#chat-input", "Please show me your throat.")
            petrova.click("#chat-send")
            expect(nikolai.locator("#chat-log li[data-side=clinician]")).to_contain_text(
                "Please show me your throat."
            )

            # A file uploaded to A is announced on B and downloads from B.
            nikolai.set_input_files(
                "#file-input", files=[{"name": "горло.png", "mimeType": "image/png", "buffer": PNG}]
            )
            nikolai.click("#file-send")
            link = petrova.locator("#chat-log a.file")
            expect(link).to_have_text("горло.png")
            download = petrova.context.request.get(b + str(link.get_attribute("href")))
            assert download.ok and download.body() == PNG

            # Nikolai's reload lands on process B (no sticky sessions): his
            # session holds there too, and he is back in the call at once.
            generation = petrova.evaluate("window.puenteRoom.state.gen")
            nikolai.goto(f"{b}{room}?lang=ru")
            expect(nikolai_room).to_have_attribute("data-status", "in_call")
            expect(nikolai.locator("#lobby")).to_be_hidden()
            deadline = time.monotonic() + 20
            while petrova.evaluate("window.puenteRoom.state.gen") <= generation:
                assert time.monotonic() < deadline, "Dr Petrova's browser calls Nikolai again"
                time.sleep(0.25)
            frames_flow(nikolai, "Nikolai, now on process B")
            frames_flow(petrova, "Dr Petrova after Nikolai moved")
            expect(nikolai.locator("#chat-log li")).to_have_count(3)

            # Dr Petrova ends the call; both rooms close.
            petrova.click("#end-call")
            expect(nikolai_room).to_have_attribute("data-status", "ended")
            expect(petrova_room).to_have_attribute("data-status", "ended")
            assert visit().ended_at is not None
            for name in ("a", "b"):  # each process really carried a room socket
                # JSON log lines (PUENTE_LOG_FORMAT=json) escape the quotes.
                log = (work / f"puente-{name}.log").read_text().replace('\\"', '"')
                assert f'"WebSocket /ws/visits/{visit_id}" [accepted]' in log, log[-2000:]
        finally:
            nikolai_browser.close()
            petrova_browser.close()
    engine.dispose()


# Bookings and sign-ins through both processes ----------------------------------------


@dataclass
class Clinic:
    """Polyclinic No. 2: Dr Smirnova's one slot, twenty patients with
    accounts, four of them waiting in the on-demand queue, ten doctors on
    duty; two processes."""

    factory: sessionmaker[Session]
    slot_id: int
    headers: list[dict[str, str]]
    queued: list[int]
    doctors: list[dict[str, str]]
    processes: tuple[str, str]


@pytest.fixture(scope="module")
def clinic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Clinic]:
    if not PG_URL:
        pytest.skip("PUENTE_TEST_DATABASE_URL is not set: several processes need PostgreSQL")
    if not REDIS_URL:
        pytest.skip("PUENTE_TEST_REDIS_URL is not set (e.g. redis://127.0.0.1:6379/2)")
    work = tmp_path_factory.mktemp("two-processes")
    url = migrated_url("postgresql", work, suffix="two_race")
    engine = make_engine(url)
    factory = make_sessionmaker(engine)
    with unit_of_work(factory) as db:
        world = moscow_world(db)
        schedule = virtual_schedule(
            db, world, days=1, rules=[(next_monday().weekday(), clock_time(9), clock_time(9, 30))]
        )
        slots = list(db.scalars(select(Slot.id).where(Slot.schedule_id == schedule.id)))
        headers, queued, doctors = [], [], []
        for n in range(RACERS):
            racer = f.patient(db, "Racer", f"No{n}", home_facility_id=world.polyclinic.id)
            account = f.user(db, f"racer{n}", AccessRole.patient, patient_id=racer.id)
            headers.append(f.bearer(db, account))
            if n < WAITING:
                waiting = Visit(
                    patient_id=racer.id, facility_id=world.polyclinic.id, mode=Mode.virtual,
                    status=VisitStatus.queued, queued_at=utcnow() - timedelta(minutes=30 - n),
                    diagnoses=[],
                )  # fmt: skip
                db.add(waiting)
                db.flush()
                queued.append(waiting.id)
        for n in range(DOCTORS):
            doctor = f.practitioner(db, "Doctor", f"No{n}")
            db.add(
                PractitionerRole(
                    practitioner_id=doctor.id, facility_id=world.polyclinic.id,
                    specialty_id=world.role.specialty_id, role=PractitionerRoleCode.physician,
                )
            )  # fmt: skip
            account = f.user(db, f"doctor{n}", AccessRole.clinician, world.polyclinic.code)
            account.practitioner_id = doctor.id
            db.flush()
            doctors.append(f.bearer(db, account))
    assert len(slots) == 1
    with two_processes(url, REDIS_URL, work) as processes:
        yield Clinic(factory, slots[0], headers, queued, doctors, processes)
    engine.dispose()


def race(
    processes: tuple[str, str], callers: list[dict[str, str]], path: str, body: dict[str, Any]
) -> list[httpx.Response]:
    """Every caller POSTs at once, half through each process."""
    barrier = threading.Barrier(len(callers))
    answers: list[httpx.Response] = []
    lock = threading.Lock()

    def caller(n: int) -> None:
        base = processes[n % 2]
        with httpx.Client(base_url=base, headers=callers[n], timeout=60) as client:
            client.get("/healthz")  # connected before the start
            barrier.wait(timeout=60)
            answer = client.post(path, json=body)
        with lock:
            answers.append(answer)

    threads = [threading.Thread(target=caller, args=(n,)) for n in range(len(callers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(answers) == len(callers)
    return answers


@pytest.mark.slow
def test_twenty_patients_racing_through_both_processes_for_one_slot_make_one_booking(
    clinic: Clinic,
) -> None:
    answers = race(
        clinic.processes, clinic.headers, "/api/appointments", {"slot_id": clinic.slot_id}
    )
    assert sorted(a.status_code for a in answers) == [201] + [409] * (RACERS - 1)
    with clinic.factory() as db:
        booked = db.scalar(
            select(func.count())
            .select_from(Appointment)
            .where(
                Appointment.slot_id == clinic.slot_id,
                Appointment.status == AppointmentStatus.booked,
            )
        )
    assert booked == 1


@pytest.mark.slow
def test_failed_sign_ins_on_both_processes_add_up_to_one_lockout(clinic: Clinic) -> None:
    """Three wrong passwords for racer7 on A and two on B lock the account
    on both: the count is in the database, not in either process."""
    a, b = clinic.processes

    def sign_in(base: str, password: str) -> httpx.Response:
        body = {"username": "racer7", "password": password}
        return httpx.post(f"{base}/api/auth/token", json=body, timeout=30)

    assert sign_in(b, f.PASSWORD).status_code == 200
    for base in (a, b, a, b, a):
        assert sign_in(base, "not the password").status_code == 401
    for base in (a, b):
        locked = sign_in(base, f.PASSWORD)
        assert locked.status_code == 429
        assert [e["field"] for e in locked.json()["errors"]] == ["username"]


@pytest.mark.slow
def test_ten_doctors_on_both_processes_take_the_four_waiting_patients_once_each(
    clinic: Clinic,
) -> None:
    answers = race(clinic.processes, clinic.doctors, "/api/visits/queue/next", {})
    taken = [a.json()["id"] for a in answers if a.status_code == 200]
    assert sorted(taken) == sorted(clinic.queued)  # each patient by exactly one doctor
    assert sorted(a.status_code for a in answers) == [200] * WAITING + [404] * (DOCTORS - WAITING)
    with clinic.factory() as db:
        doctors = db.scalars(select(Visit.practitioner_role_id).where(Visit.id.in_(taken))).all()
    assert len(set(doctors)) == WAITING and None not in doctors
