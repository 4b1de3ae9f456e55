"""Prometheus metrics: Ana, the national administrator, scrapes /metrics
with her token and sees the requests just served, their latency histogram,
and the outbox waiting; a clinician and an anonymous caller are refused."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from puente.enums import AccessRole, OutboxStatus
from puente.notify.models import OutboxMessage
from tests import factories as f


def _value(text: str, series: str) -> float:
    found = re.search(rf"^{re.escape(series)} ([0-9.e+-]+)$", text, re.M)
    assert found, f"{series} not in the scrape"
    return float(found.group(1))


def test_ana_scrapes_the_requests_she_made_and_the_outbox_waiting(
    client: TestClient, db: Session
) -> None:
    ana = f.bearer(db, f.user(db, "ana", AccessRole.national_admin))
    first = client.get("/metrics", headers=ana)
    assert first.status_code == 200, first.text
    assert first.headers["content-type"].startswith("text/plain; version=0.0.4")
    waiting = _value(first.text, "puente_outbox_pending")

    db.add(OutboxMessage(channel="log", recipient="+7 900 000-00-00", language="ru",
                         template="booking_confirmed", subject="Запись", body="…",
                         dedupe_key="metrics-test", status=OutboxStatus.pending))  # fmt: skip
    db.flush()
    for _ in range(3):
        assert client.get("/api/reports/indicators", headers=ana).status_code == 200
    assert client.get("/api/visits/999999999", headers=ana).status_code == 404

    scrape = client.get("/metrics", headers=ana).text
    assert _value(scrape, "puente_outbox_pending") == waiting + 1
    counted = re.findall(
        r'^puente_http_requests_total\{method="GET",route="/api/reports/indicators",'
        r'status="200",process="\d+"\} (\d+)$',
        scrape,
        re.M,
    )
    assert counted and int(counted[0]) >= 3
    # the route template, never the raw path with its id
    assert 'route="/api/visits/{visit_id}",status="404"' in scrape
    assert "/api/visits/999999999" not in scrape
    assert re.search(
        r'^puente_http_request_seconds_bucket\{method="GET",route="/api/reports/indicators",'
        r'process="\d+",le="\+Inf"\} \d+$',
        scrape,
        re.M,
    )
    for gauge in ("puente_visit_queue_depth", "puente_consult_deadlines_breached"):
        assert _value(scrape, gauge) >= 0


def test_a_clinician_and_an_anonymous_caller_get_no_metrics(
    client: TestClient, db: Session
) -> None:
    assert client.get("/metrics").status_code == 401
    f.facility(db, "RU-MOW-GP012", region_code="RU-MOW")
    doctor = f.bearer(db, f.user(db, "dr.petrova", AccessRole.clinician, "RU-MOW-GP012"))
    assert client.get("/metrics", headers=doctor).status_code == 403
