"""Structured logs: one JSON line per request with the request id, the same
id in the response header and in the audit record of the patient read."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from puente.access.models import AuditEvent
from puente.ops.logs import JsonFormatter, configure
from tests import factories as f


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(JsonFormatter())
        self.lines: list[dict[str, object]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


@pytest.fixture
def lines() -> Iterator[Lines]:
    handler = Lines()
    logger = logging.getLogger("puente.access")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield handler
    logger.removeHandler(handler)


def test_a_patient_read_logs_one_json_line_whose_request_id_is_in_the_audit_record(
    registrar: TestClient, db: Session, lines: Lines
) -> None:
    lucia = f.patient(db, "Hernández", "Lucía")
    r = registrar.get(f"/api/patients/{lucia.id}", headers={"X-Request-Id": "lb-7f3a-0001"})
    assert r.status_code == 200
    assert r.headers["x-request-id"] == "lb-7f3a-0001"
    assert r.headers["x-content-type-options"] == "nosniff"
    [line] = [x for x in lines.lines if x.get("request_id") == "lb-7f3a-0001"]
    assert line["route"] == "/api/patients/{patient_id}"  # the template, not the id
    assert line["status"] == 200 and line["method"] == "GET"
    assert isinstance(line["ms"], float) and line["level"] == "info"
    audit = db.scalars(select(AuditEvent).where(AuditEvent.patient_id == lucia.id)).all()
    assert [a.request_id for a in audit] == ["lb-7f3a-0001"]


def test_a_request_without_an_id_gets_a_fresh_one_each_time(
    registrar: TestClient, lines: Lines
) -> None:
    first = registrar.get("/api/facilities").headers["x-request-id"]
    second = registrar.get("/api/facilities").headers["x-request-id"]
    assert first and second and first != second
    assert {x["request_id"] for x in lines.lines} >= {first, second}


def test_a_body_refused_before_any_route_is_logged_and_answered_with_its_request_id(
    registrar: TestClient, lines: Lines
) -> None:
    """A refusal at the edge (413 here) is still a request of the day: it is
    counted, logged under its id, and the caller hears the id back."""
    r = registrar.post(
        "/api/patients",
        content=b"{}",
        headers={"X-Request-Id": "lb-too-big-1", "Content-Length": str(10**12)},
    )
    assert r.status_code == 413
    assert r.headers["x-request-id"] == "lb-too-big-1"
    assert r.headers["x-content-type-options"] == "nosniff"
    [line] = [x for x in lines.lines if x.get("request_id") == "lb-too-big-1"]
    assert line["status"] == 413 and line["method"] == "POST"


def test_a_language_asked_for_in_the_address_is_kept_in_a_cookie_for_a_year(
    registrar: TestClient,
) -> None:
    r = registrar.get("/api/facilities", params={"lang": "vi"})
    assert r.status_code == 200
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("lang=vi;") and "Max-Age=31536000" in cookie
    assert "SameSite=lax" in cookie and "Path=/" in cookie
    unknown = registrar.get("/api/facilities", params={"lang": "xx"})
    assert "set-cookie" not in unknown.headers


def test_the_uvicorn_config_writes_json_or_text_as_configured() -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        config = configure("json")
        assert config["formatters"]["default"] == {"()": "puente.ops.logs.JsonFormatter"}
        assert isinstance(root.handlers[0].formatter, JsonFormatter)
        text = configure("text")
        assert "format" in text["formatters"]["default"]
        assert not isinstance(root.handlers[0].formatter, JsonFormatter)
    finally:
        root.handlers, root.level = saved[0], saved[1]


def test_a_worker_process_configured_from_the_uvicorn_config_alone_writes_access_lines(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """With ``--workers`` uvicorn configures each worker from the dict only:
    the app's own lines (the access line among them) must reach a handler."""
    import logging.config

    root = logging.getLogger()
    saved = root.handlers[:], root.level
    config = configure("json")
    try:
        root.handlers, root.level = [], logging.WARNING  # a fresh worker process
        logging.config.dictConfig(config)
        logging.getLogger("puente.access").info(
            "GET /api/visits 200", extra={"route": "/api/visits", "ms": 3.2}
        )
        line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
        assert line["logger"] == "puente.access" and line["ms"] == 3.2
    finally:
        root.handlers, root.level = saved[0], saved[1]
