"""The ledger over the JSON API: a facility admin posts her facility's
counts (and no one else's), retries with an Idempotency-Key count once, and
readers get figures summed from the rollup within their own scope."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from puente.enums import AccessRole, LedgerSource, Mode, ServiceKind
from puente.ledger import service as ledger
from tests import factories as f

JALISCO, NUEVO_LEON = "MX-JAL-HGZ46", "MX-NLE-HGZ33"


@pytest.fixture
def network(db: Session) -> dict[str, int]:
    """Two general hospitals in two states, and the services they report."""
    ids = {
        JALISCO: f.facility(db, JALISCO, region_code="MX-JAL").id,
        NUEVO_LEON: f.facility(db, NUEVO_LEON, region_code="MX-NLE").id,
    }
    for code, kind in [
        ("surgery-cataract-iol", ServiceKind.surgery),
        ("screen-mammography", ServiceKind.screening),
        ("consult-cardiology", ServiceKind.consultation),
    ]:
        ids[code] = f.service(db, code, kind).id
    return ids


def as_user(
    client: TestClient, db: Session, name: str, role: AccessRole, scope: str | None
) -> TestClient:
    client.headers.update(f.bearer(db, f.user(db, name, role, scope)))
    return client


@pytest.fixture
def marisol(client: TestClient, db: Session, network: dict[str, int]) -> TestClient:
    """Marisol Vega, facility administrator of the Jalisco hospital."""
    return as_user(client, db, "marisol", AccessRole.facility_admin, JALISCO)


@pytest.fixture
def olga(client: TestClient, db: Session, network: dict[str, int]) -> TestClient:
    """Olga, a program manager who reads national figures."""
    return as_user(client, db, "olga", AccessRole.program_manager, None)


def surgeries(**extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "facility_code": JALISCO,
        "day": "2021-05-15",
        "service_code": "surgery-cataract-iol",
        "count": 12,
        "campaign_code": "jornada-2021-05",
    }
    body.update(extra)
    return body


def seed(db: Session, network: dict[str, int]) -> None:
    """Counts recorded by features: both states, Mexican and foreign patients."""
    rows = [
        (JALISCO, "surgery-cataract-iol", 10, Mode.in_person, "MX"),
        (JALISCO, "screen-mammography", 40, Mode.in_person, "MX"),
        (JALISCO, "screen-mammography", 3, Mode.in_person, "GT"),
        (JALISCO, "consult-cardiology", 8, Mode.virtual, None),
        (NUEVO_LEON, "screen-mammography", 25, Mode.in_person, "MX"),
        (NUEVO_LEON, "consult-cardiology", 2, Mode.virtual, "US"),
    ]
    for facility, service, count, mode, citizenship in rows:
        ledger.record(
            db, facility_id=network[facility], day=date(2021, 5, 15),
            service_id=network[service], count=count, mode=mode, citizenship=citizenship,
            campaign_code="jornada-2021-05", source=LedgerSource.campaign,
        )  # fmt: skip


def test_marisol_records_her_hospitals_surgeries(marisol: TestClient) -> None:
    response = marisol.post("/api/ledger/entries", json=surgeries())
    assert response.status_code == 201, response.text
    entry = response.json()
    assert (entry["facility_code"], entry["count"], entry["mode"]) == (JALISCO, 12, "in_person")
    assert entry["source"] == "manual"
    assert marisol.get(response.headers["location"]).json()["id"] == entry["id"]
    figures = marisol.get("/api/ledger/figures", params={"kind": "surgery"}).json()
    assert figures["count"] == 12


def test_marisol_may_not_record_for_another_states_hospital(marisol: TestClient) -> None:
    response = marisol.post("/api/ledger/entries", json=surgeries(facility_code=NUEVO_LEON))
    assert response.status_code == 403
    assert response.json()["errors"][0]["field"] == "facility_code"
    assert marisol.get("/api/ledger/figures").json()["count"] == 0


def test_a_program_manager_reads_but_may_not_post(olga: TestClient) -> None:
    response = olga.post("/api/ledger/entries", json=surgeries())
    assert response.status_code == 403
    assert response.json()["errors"][0]["field"] == "permission"


def test_a_retry_with_the_same_idempotency_key_counts_once(marisol: TestClient) -> None:
    key = {"Idempotency-Key": "hgz46-2021-05-15-cataract"}
    first = marisol.post("/api/ledger/entries", json=surgeries(), headers=key)
    retry = marisol.post("/api/ledger/entries", json=surgeries(), headers=key)
    assert (first.status_code, retry.status_code) == (201, 200)
    assert retry.json()["id"] == first.json()["id"]
    assert retry.headers["idempotent-replayed"] == "true"
    assert marisol.get("/api/ledger/figures").json()["count"] == 12

    other = marisol.post("/api/ledger/entries", json=surgeries(count=13), headers=key)
    assert other.status_code == 409
    assert other.json()["errors"][0]["field"] == "Idempotency-Key"


def test_bad_entries_name_the_field(marisol: TestClient) -> None:
    unknown = marisol.post("/api/ledger/entries", json=surgeries(service_code="astrology"))
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "service_code"
    future = marisol.post("/api/ledger/entries", json=surgeries(day="2999-01-01"))
    assert [e["field"] for e in future.json()["errors"]] == ["day"]
    zero = marisol.post("/api/ledger/entries", json=surgeries(count=0, citizenship="XX"))
    assert {e["field"] for e in zero.json()["errors"]} == {"count", "citizenship"}
    nobody = marisol.post("/api/ledger/entries", json=surgeries(patient_id=987654))
    assert nobody.json()["errors"][0]["field"] == "patient_id"


def test_olga_sums_the_campaign_by_facility_and_kind(
    olga: TestClient, db: Session, network: dict[str, int]
) -> None:
    seed(db, network)
    response = olga.get(
        "/api/ledger/figures",
        params={"campaign": "jornada-2021-05", "group_by": ["facility", "kind"],
                "start": "2021-05-14", "end": "2021-05-16"},
    )  # fmt: skip
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["count"] == 88
    groups = {(g["facility"], g["kind"]): g["count"] for g in body["groups"]}
    assert groups == {
        (JALISCO, "consultation"): 8,
        (JALISCO, "screening"): 43,
        (JALISCO, "surgery"): 10,
        (NUEVO_LEON, "consultation"): 2,
        (NUEVO_LEON, "screening"): 25,
    }


def test_olga_filters_by_region_service_mode_and_citizenship(
    olga: TestClient, db: Session, network: dict[str, int]
) -> None:
    seed(db, network)

    def count(**params: Any) -> int:
        response = olga.get("/api/ledger/figures", params=params)
        assert response.status_code == 200, response.text
        return int(response.json()["count"])

    assert count(region="MX-NLE") == 27
    assert count(service="screen-mammography") == 68
    assert count(mode="virtual") == 10
    assert count(citizenship="gt") == 3
    assert count(foreign="true") == 5
    assert count(country="MX", start="2021-05-16") == 0
    by_citizenship = olga.get(
        "/api/ledger/figures", params={"group_by": "citizenship", "service": "consult-cardiology"}
    ).json()["groups"]
    assert [(g["citizenship"], g["count"]) for g in by_citizenship] == [(None, 8), ("US", 2)]


def test_marisol_sees_only_her_hospitals_figures(
    marisol: TestClient, db: Session, network: dict[str, int]
) -> None:
    seed(db, network)
    assert marisol.get("/api/ledger/figures").json()["count"] == 61
    other = marisol.get("/api/ledger/figures", params={"facility": NUEVO_LEON})
    assert other.status_code == 403
    assert other.json()["errors"][0]["field"] == "facility"


def test_bad_figure_filters_name_the_parameter(olga: TestClient) -> None:
    period = olga.get("/api/ledger/figures", params={"start": "2021-05-16", "end": "2021-05-01"})
    assert period.status_code == 422
    assert period.json()["errors"][0]["field"] == "end"
    for params, field in [
        ({"facility": "NOPE"}, "facility"),
        ({"region": "MX-XXX"}, "region"),
        ({"service": "astrology"}, "service"),
        ({"group_by": "weather"}, "group_by"),
    ]:
        response = olga.get("/api/ledger/figures", params=params)
        assert response.status_code == 422, params
        assert response.json()["errors"][0]["field"].startswith(field), params


def test_marisol_names_only_patients_she_may_see_and_olga_never_reads_who(
    marisol: TestClient, db: Session, network: dict[str, int]
) -> None:
    from sqlalchemy import select

    from puente.access.models import AuditEvent
    from puente.enums import AuditOutcome

    lucia = f.patient(db, "Hernández", "Lucía", home_facility_id=network[JALISCO])
    pedro = f.patient(db, "Garza", "Pedro", home_facility_id=network[NUEVO_LEON])
    refused = marisol.post("/api/ledger/entries", json=surgeries(count=1, patient_id=pedro.id))
    assert refused.status_code == 404
    assert refused.json()["errors"][0]["field"] == "patient_id"
    denied = db.scalars(
        select(AuditEvent).where(
            AuditEvent.patient_id == pedro.id, AuditEvent.outcome == AuditOutcome.denied
        )
    ).all()
    assert len(denied) == 1

    posted = marisol.post("/api/ledger/entries", json=surgeries(count=1, patient_id=lucia.id))
    assert posted.status_code == 201, posted.text
    location = posted.headers["location"]
    assert marisol.get(location).json()["patient_id"] == lucia.id
    written = db.scalars(
        select(AuditEvent.action).where(
            AuditEvent.patient_id == lucia.id, AuditEvent.resource_type == "LedgerEntry"
        )
    ).all()
    assert sorted(written) == ["create", "read"]

    olga = as_user(marisol, db, "olga", AccessRole.program_manager, None)
    entry = olga.get(location).json()
    assert entry["count"] == 1 and entry["patient_id"] is None
