"""`puente serve --workers 2`: two processes share the port and the
database; a booking made through them is there once."""

from __future__ import annotations

from pathlib import Path

import httpx

from puente.db import make_engine, make_sessionmaker, unit_of_work
from puente.enums import AccessRole
from tests import factories as f
from tests.conftest import migrated_url
from tests.ops.test_crash_safety import Server
from tests.scheduling import world as moscow


def test_two_worker_processes_serve_one_database(backend: str, tmp_path: Path) -> None:
    url = migrated_url(backend, tmp_path, suffix="workers")
    engine = make_engine(url)
    with unit_of_work(make_sessionmaker(engine)) as db:
        place = moscow.moscow_world(db)
        moscow.virtual_schedule(db, place, days=1)
        ivan = f.user(db, "ivan.petrov", AccessRole.patient, patient_id=place.ivan.id)
        headers = f.bearer(db, ivan)
    engine.dispose()
    server = Server(url, tmp_path, options=("--workers", "2"))
    server.start()
    try:
        with httpx.Client(base_url=server.base, headers=headers, timeout=60) as client:
            slot = client.get("/api/slots", params={"limit": 1}).json()["items"][0]["id"]
            key = {"Idempotency-Key": "ivan-monday"}
            answers = [
                client.post("/api/appointments", json={"slot_id": slot}, headers=key)
                for _ in range(4)  # new connections: both workers answer some
            ]
            assert [a.status_code for a in answers] == [201, 200, 200, 200]
            assert len({a.json()["id"] for a in answers}) == 1
            assert client.get("/readyz").status_code == 200
    finally:
        server.stop()
