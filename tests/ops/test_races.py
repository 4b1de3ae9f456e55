"""Deterministic races over real HTTP: N clients released together by a
barrier, each on its own connection to a uvicorn server whose requests
commit for real, and each race ends with exactly one effect — one booking of
a slot, one patient for a conditional create, one winner of a stale
If-Match, one case / entry / appointment for one Idempotency-Key.

The server runs on a database of its own (a fresh SQLite file in WAL mode, a
sibling PostgreSQL database), so its committed rows never meet other tests."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, time
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from puente.app import create_app
from puente.config import Settings
from puente.consults.models import ConsultCase
from puente.db import make_engine
from puente.enums import AccessRole
from puente.ledger.models import LedgerEntry
from puente.people.models import Patient, PatientIdentifier
from puente.scheduling.models import Appointment, Slot
from tests import factories as f
from tests.browser import serving
from tests.conftest import migrated_url
from tests.consults.network import build, case_body
from tests.scheduling.world import moscow_world, next_monday, virtual_schedule

RACERS = 12


@dataclass
class Arena:
    url: str
    factory: sessionmaker[Session]
    headers: dict[str, dict[str, str]]
    ids: dict[str, int]


@pytest.fixture(scope="module")
def arena(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Arena]:
    tmp = tmp_path_factory.mktemp(f"races-{backend}")
    url = migrated_url(backend, tmp, suffix="races")
    engine: Engine = make_engine(url, pool_size=RACERS + 5, max_overflow=5)
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    with factory() as db:
        net = build(db)  # the Vietnamese hub-and-spoke network, with dr.lan at Con Dao
        world = moscow_world(db)  # Dr Smirnova's polyclinic in Moscow
        schedule = virtual_schedule(
            db, world, days=1, rules=[(next_monday().weekday(), time(9), time(14))]
        )
        slots = list(db.scalars(select(Slot.id).where(Slot.schedule_id == schedule.id)))
        rosa = f.user(db, "rosa.registrar", AccessRole.national_admin)
        headers = {**net.headers, "rosa": f.bearer(db, rosa)}
        ids = {**net.ids, "polyclinic": world.polyclinic.id, "slot": slots[0], "slot2": slots[1]}
        racers = [
            f.patient(db, "Gonkin", f"No{n}", home_facility_id=world.polyclinic.id).id
            for n in range(RACERS)
        ]
        ids.update({f"racer{n}": pid for n, pid in enumerate(racers)})
        ids["tamara"] = f.patient(db, "Orlova", "Tamara", home_facility_id=world.polyclinic.id).id
        db.commit()
    settings = Settings(environment="test", database_url=url, data_dir=tmp)
    app = create_app(settings, session_factory=factory)
    with serving(app) as base:
        yield Arena(base, factory, headers, ids)
    engine.dispose()


def release(
    arena: Arena, who: str, send: Callable[[httpx.Client, int], httpx.Response]
) -> list[httpx.Response]:
    """Run ``send`` from RACERS threads at once, each with its own client."""
    barrier = threading.Barrier(RACERS)
    answers: list[httpx.Response | BaseException] = [RuntimeError("not run")] * RACERS

    def run(n: int) -> None:
        with httpx.Client(base_url=arena.url, headers=arena.headers[who], timeout=60) as c:
            c.get("/healthz")  # connect before the start line
            barrier.wait()
            try:
                answers[n] = send(c, n)
            except BaseException as exc:  # reported below
                answers[n] = exc

    threads = [threading.Thread(target=run, args=(n,)) for n in range(RACERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    failed = [a for a in answers if isinstance(a, BaseException)]
    assert failed == []
    return [a for a in answers if isinstance(a, httpx.Response)]


def statuses(answers: list[httpx.Response]) -> Counter[int]:
    return Counter(a.status_code for a in answers)


def count(arena: Arena, statement: Any) -> int:
    with arena.factory() as db:
        return int(db.scalar(statement) or 0)


def test_twelve_patients_booking_one_slot_at_once_leave_one_booking(arena: Arena) -> None:
    slot = arena.ids["slot"]

    def book(c: httpx.Client, n: int) -> httpx.Response:
        body = {"slot_id": slot, "patient_id": arena.ids[f"racer{n}"]}
        return c.post("/api/appointments", json=body)

    answers = release(arena, "rosa", book)
    assert statuses(answers) == {201: 1, 409: RACERS - 1}, [a.text for a in answers]
    booked = select(func.count()).select_from(Appointment).where(Appointment.slot_id == slot)
    assert count(arena, booked) == 1


def test_twelve_conditional_creates_of_one_identifier_make_one_patient(arena: Arena) -> None:
    resource = {
        "resourceType": "Patient",
        "identifier": [{"system": "urn:oid:1.2.643.100.3", "value": "123-456-789 00"}],
        "name": [{"family": "Kuznetsova", "given": ["Vera"]}],
        "gender": "female",
        "birthDate": "1961-03-08",
    }
    condition = {"If-None-Exist": "identifier=urn:oid:1.2.643.100.3|123-456-789 00"}

    resource["managingOrganization"] = {"reference": f"Organization/{arena.ids['polyclinic']}"}

    def create(c: httpx.Client, n: int) -> httpx.Response:
        return c.post(
            "/fhir/Patient",
            json=resource,
            headers={**condition, "Content-Type": "application/fhir+json"},
        )

    answers = release(arena, "rosa", create)
    assert statuses(answers) == {201: 1, 200: RACERS - 1}, [a.text for a in answers]
    assert len({a.json()["id"] for a in answers}) == 1
    same = (
        select(func.count())
        .select_from(PatientIdentifier)
        .where(PatientIdentifier.value == "123-456-789 00")
    )
    assert count(arena, same) == 1


def test_of_twelve_updates_with_one_if_match_one_wins_and_the_rest_get_412(
    arena: Arena,
) -> None:
    tamara = arena.ids["tamara"]
    with httpx.Client(base_url=arena.url, headers=arena.headers["rosa"]) as c:
        read = c.get(f"/fhir/Patient/{tamara}")
    assert read.status_code == 200, read.text
    etag, resource = read.headers["etag"], read.json()

    def update(c: httpx.Client, n: int) -> httpx.Response:
        changed = {**resource, "telecom": [{"system": "phone", "value": f"+7 495 000-00-{n:02d}"}]}
        return c.put(
            f"/fhir/Patient/{tamara}",
            json=changed,
            headers={"If-Match": etag, "Content-Type": "application/fhir+json"},
        )

    answers = release(arena, "rosa", update)
    assert statuses(answers) == {200: 1, 412: RACERS - 1}, [a.text for a in answers]
    with arena.factory() as db:
        row = db.get(Patient, tamara)
        assert row is not None and row.version == int(etag.strip('W/"')) + 1


def test_one_consult_resent_twelve_times_at_once_with_one_key_is_one_case(arena: Arena) -> None:
    body = case_body(patient_age_years=58, patient_sex="male")

    def send(c: httpx.Client, n: int) -> httpx.Response:
        return c.post("/api/consults", json=body, headers={"Idempotency-Key": "condao-race-1"})

    answers = release(arena, "dr.lan", send)
    assert set(statuses(answers)) <= {200, 201}, [a.text for a in answers]
    assert statuses(answers)[201] == 1
    assert len({a.json()["id"] for a in answers}) == 1
    cases = (
        select(func.count())
        .select_from(ConsultCase)
        .where(ConsultCase.idempotency_key.endswith("condao-race-1"))
    )
    assert count(arena, cases) == 1


def test_one_ledger_entry_resent_twelve_times_at_once_with_one_key_counts_once(
    arena: Arena,
) -> None:
    body = {
        "facility_code": "VN-CONDAO",
        "day": date.today().isoformat(),
        "service_code": "remote-consultation",
        "count": 3,
    }

    def send(c: httpx.Client, n: int) -> httpx.Response:
        return c.post("/api/ledger/entries", json=body, headers={"Idempotency-Key": "condao-3"})

    answers = release(arena, "rosa", send)
    assert set(statuses(answers)) <= {200, 201}, [a.text for a in answers]
    assert statuses(answers)[201] == 1
    assert len({a.json()["id"] for a in answers}) == 1
    entries = (
        select(func.count())
        .select_from(LedgerEntry)
        .where(LedgerEntry.facility_id == arena.ids["condao"])
    )
    assert count(arena, entries) == 1


def test_one_booking_resent_twelve_times_at_once_with_one_key_is_one_appointment(
    arena: Arena,
) -> None:
    slot = arena.ids["slot2"]
    body = {"slot_id": slot, "patient_id": arena.ids["tamara"]}

    def send(c: httpx.Client, n: int) -> httpx.Response:
        return c.post("/api/appointments", json=body, headers={"Idempotency-Key": "tamara-1"})

    answers = release(arena, "rosa", send)
    assert set(statuses(answers)) <= {200, 201}, [a.text for a in answers]
    assert statuses(answers)[201] == 1
    assert len({a.json()["id"] for a in answers}) == 1
    booked = select(func.count()).select_from(Appointment).where(Appointment.slot_id == slot)
    assert count(arena, booked) == 1
