"""The probes an orchestrator polls: /healthz says the process is up,
/readyz that the database answers and its schema is at the migration head
(and, for several processes, that their Redis answers)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from puente.app import create_app
from puente.config import Settings
from puente.db import make_engine, make_sessionmaker
from puente.migrate import head_revisions, upgrade


def _client(url: str, tmp_path: Path, **more: Any) -> TestClient:
    settings = Settings(environment="test", database_url=url, data_dir=tmp_path, **more)
    app = create_app(settings, session_factory=make_sessionmaker(make_engine(url)))
    return TestClient(app, raise_server_exceptions=False)


def test_a_migrated_database_is_ready(client: TestClient, database_url: str) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["migrations"] == sorted(head_revisions(database_url))


def test_a_database_behind_the_code_is_not_ready(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "a1d17e0a99e1")  # the access layer, before scheduling
    ready = _client(url, tmp_path).get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["migrations"]["current"] == ["a1d17e0a99e1"]


def test_an_unreachable_database_is_not_ready_but_the_process_is_up(tmp_path: Path) -> None:
    client = _client("postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2", tmp_path)
    assert client.get("/healthz").status_code == 200
    ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.json()["database"] == "unreachable"


def test_a_process_whose_redis_is_unreachable_is_not_ready(
    database_url: str, tmp_path: Path
) -> None:
    client = _client(database_url, tmp_path, redis_url="redis://127.0.0.1:1/0")
    assert client.get("/healthz").status_code == 200
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json() == {
        "status": "unavailable",
        "database": "reachable",
        "redis": "unreachable",
    }


@pytest.mark.skipif(
    not os.environ.get("PUENTE_TEST_REDIS_URL"), reason="PUENTE_TEST_REDIS_URL is not set"
)
def test_a_process_whose_redis_answers_is_ready(database_url: str, tmp_path: Path) -> None:
    client = _client(database_url, tmp_path, redis_url=os.environ["PUENTE_TEST_REDIS_URL"])
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["status"] == "ready"
