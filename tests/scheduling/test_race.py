"""Fifty clients race for ten slots, each on its own connection, with real
commits: exactly ten bookings, on SQLite (a WAL file) and on PostgreSQL.

The race runs in a database of its own (a fresh SQLite file; a sibling
PostgreSQL database), so its committed rows never meet other tests."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import time

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from puente.db import make_engine
from puente.enums import AppointmentStatus
from puente.errors import Conflict
from puente.scheduling import service
from puente.scheduling.models import Appointment, Slot
from tests import factories as f
from tests.conftest import migrated_url
from tests.scheduling.world import moscow_world, next_monday, virtual_schedule

CLIENTS = 50
SLOTS = 10


@pytest.fixture(scope="module")
def race_engine(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    url = migrated_url(backend, tmp_path_factory.mktemp(f"race-{backend}"), suffix="race")
    engine = make_engine(url, pool_size=CLIENTS + 5, max_overflow=0)
    if backend == "sqlite":
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    yield engine
    engine.dispose()


def _setup(factory: sessionmaker[Session]) -> tuple[list[int], list[int]]:
    """Ten slots of Dr Smirnova (one morning, 09:00-14:00) and fifty patients."""
    with factory.begin() as db:
        world = moscow_world(db)
        schedule = virtual_schedule(
            db, world, days=1, rules=[(next_monday().weekday(), time(9), time(14))]
        )
        slots = list(db.scalars(select(Slot.id).where(Slot.schedule_id == schedule.id)))
        patients = [
            f.patient(db, "Racer", f"No{n}", home_facility_id=world.polyclinic.id).id
            for n in range(CLIENTS)
        ]
    assert len(slots) == SLOTS
    return slots, patients


def _race(factory: sessionmaker[Session], slots: list[int], patients: list[int]) -> list[str]:
    barrier = threading.Barrier(CLIENTS)
    outcomes: list[str] = []
    lock = threading.Lock()

    def client(n: int) -> None:
        session = factory()
        try:
            session.execute(select(1))  # take this client's connection before the start
            session.commit()
            barrier.wait(timeout=60)
            service.book(session, slot_id=slots[n % SLOTS], patient_id=patients[n])
            session.commit()
            result = "booked"
        except Conflict:
            session.rollback()
            result = "conflict"
        except Exception as exc:  # anything else is a failure of the guarantee
            session.rollback()
            result = f"error: {type(exc).__name__}: {exc}"
        finally:
            session.close()
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return outcomes


def test_fifty_clients_racing_for_ten_slots_make_exactly_ten_bookings(
    race_engine: Engine, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    factory = sessionmaker(bind=race_engine, expire_on_commit=False)
    slots, patients = _setup(factory)
    refused_by_index: list[int] = []
    insert = service._insert_live

    def counting(session: Session, appointment: Appointment) -> bool:
        ok = insert(session, appointment)
        if not ok:
            refused_by_index.append(appointment.slot_id)
        return ok

    monkeypatch.setattr(service, "_insert_live", counting)

    outcomes = _race(factory, slots, patients)

    assert len(outcomes) == CLIENTS
    assert [o for o in outcomes if o not in ("booked", "conflict")] == []
    assert outcomes.count("booked") == SLOTS
    assert outcomes.count("conflict") == CLIENTS - SLOTS
    with factory() as db:
        per_slot = dict(
            db.execute(
                select(Appointment.slot_id, func.count())
                .where(
                    Appointment.slot_id.in_(slots), Appointment.status == AppointmentStatus.booked
                )
                .group_by(Appointment.slot_id)
            ).all()
        )
    assert per_slot == {slot: 1 for slot in slots}
    if backend == "postgresql":
        # Clients really overlapped: some saw a free slot and were stopped
        # only by the unique index. (SQLite's BEGIN IMMEDIATE serialises
        # writers, so there the service's own check answers first.)
        assert refused_by_index
