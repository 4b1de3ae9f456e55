"""`puente serve --workers 2`: two processes share the port, the database
and the Redis their visit rooms meet in; a booking made through them is
there once. Without Redis the command refuses to start more than one."""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path

import httpx
import pytest

from puente.db import make_engine, make_sessionmaker, unit_of_work
from puente.enums import AccessRole
from tests import factories as f
from tests.conftest import migrated_url
from tests.ops.test_crash_safety import PUENTE, Server
from tests.scheduling import world as moscow

REDIS_URL = os.environ.get("PUENTE_TEST_REDIS_URL")


def test_more_than_one_worker_without_redis_is_refused(tmp_path: Path) -> None:
    env = {"PATH": os.environ.get("PATH", ""), "PUENTE_DATABASE_URL": "sqlite:///unused.db"}
    done = subprocess.run(
        [str(PUENTE), "serve", "--workers", "2"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2
    assert "PUENTE_REDIS_URL" in done.stderr
    assert not (tmp_path / "unused.db").exists()


@pytest.mark.skipif(
    not REDIS_URL, reason="PUENTE_TEST_REDIS_URL is not set (e.g. redis://127.0.0.1:6379/2)"
)
def test_two_worker_processes_serve_one_database(backend: str, tmp_path: Path) -> None:
    url = migrated_url(backend, tmp_path, suffix="workers")
    engine = make_engine(url)
    with unit_of_work(make_sessionmaker(engine)) as db:
        place = moscow.moscow_world(db)
        moscow.virtual_schedule(db, place, days=1)
        ivan = f.user(db, "ivan.petrov", AccessRole.patient, patient_id=place.ivan.id)
        headers = f.bearer(db, ivan)
    engine.dispose()
    assert REDIS_URL
    redis = {"PUENTE_REDIS_URL": REDIS_URL, "PUENTE_REDIS_PREFIX": f"puente-{uuid.uuid4().hex}:"}
    server = Server(url, tmp_path, options=("--workers", "2"), extra_env=redis)
    try:
        server.start()
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
