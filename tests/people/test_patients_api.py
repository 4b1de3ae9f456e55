"""Patients over the JSON API: create, read, search, update with versions."""

from __future__ import annotations

from datetime import date, timedelta

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests import factories as f

CURP = "urn:oid:2.16.840.1.113883.4.629"


def lucia(**extra: object) -> dict[str, object]:
    body: dict[str, object] = {
        "identifiers": [{"system": CURP, "value": "HELU800402MJCRCS09"}],
        "family_name": "Hernández",
        "given_names": "Lucía",
        "birth_date": "1980-04-02",
        "sex": "female",
        "citizenship": "mx",
        "preferred_language": "es",
        "phone": "+52 33 1234 5678",
        "email": "lucia@example.mx",
    }
    body.update(extra)
    return body


def test_a_clerk_registers_lucia_and_reads_her_back(registrar: TestClient, db: Session) -> None:
    f.facility(db, "MX-GDL-HGZ46")
    created = registrar.post("/api/patients", json=lucia(home_facility_code="MX-GDL-HGZ46"))
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["citizenship"] == "MX"
    assert body["version"] == 1
    assert body["home_facility_code"] == "MX-GDL-HGZ46"
    assert created.headers["etag"] == '"1"'
    read = registrar.get(f"/api/patients/{body['id']}")
    assert read.status_code == 200
    assert read.json()["identifiers"] == [{"system": CURP, "value": "HELU800402MJCRCS09"}]


def test_a_birth_date_in_the_future_is_refused_naming_the_field(registrar: TestClient) -> None:
    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    response = registrar.post("/api/patients", json=lucia(birth_date=tomorrow))
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in response.json()["errors"]] == ["birth_date"]


def test_an_unknown_language_or_country_is_refused_naming_the_field(registrar: TestClient) -> None:
    response = registrar.post(
        "/api/patients", json=lucia(preferred_language="fr", citizenship="XX")
    )
    assert response.status_code == 422
    assert {e["field"] for e in response.json()["errors"]} == {"preferred_language", "citizenship"}


def test_an_unknown_home_facility_is_unprocessable(registrar: TestClient) -> None:
    response = registrar.post("/api/patients", json=lucia(home_facility_code="NOPE"))
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "home_facility_code"


def test_a_second_patient_with_lucias_curp_is_a_conflict(registrar: TestClient) -> None:
    assert registrar.post("/api/patients", json=lucia()).status_code == 201
    again = registrar.post("/api/patients", json=lucia(given_names="Lucia"))
    assert again.status_code == 409
    assert again.json()["errors"][0]["field"] == "identifiers"


def test_the_same_value_under_another_system_is_not_a_conflict(registrar: TestClient) -> None:
    assert registrar.post("/api/patients", json=lucia()).status_code == 201
    other = lucia(identifiers=[{"system": "urn:puente:test:mrn", "value": "HELU800402MJCRCS09"}])
    assert registrar.post("/api/patients", json=other).status_code == 201


def test_search_finds_lucia_by_identifier_name_and_birth_date(
    registrar: TestClient, db: Session
) -> None:
    registrar.post("/api/patients", json=lucia())
    f.patient(db, "Petrov", "Ivan", citizenship="RU", birth_date=date(1975, 1, 1))
    by_identifier = registrar.get(
        "/api/patients", params={"identifier": f"{CURP}|HELU800402MJCRCS09"}
    ).json()
    assert [p["family_name"] for p in by_identifier["items"]] == ["Hernández"]
    by_value = registrar.get("/api/patients", params={"identifier": "HELU800402MJCRCS09"}).json()
    assert by_value["total"] == 1
    by_name = registrar.get("/api/patients", params={"name": "ERNÁN"}).json()
    assert [p["given_names"] for p in by_name["items"]] == ["Lucía"]
    by_birth = registrar.get("/api/patients", params={"birth_date": "1975-01-01"}).json()
    assert [p["family_name"] for p in by_birth["items"]] == ["Petrov"]


def test_search_pages_through_patients(registrar: TestClient, db: Session) -> None:
    for n in range(5):
        f.patient(db, "Nguyen", f"An {n}", citizenship="VN")
    first = registrar.get("/api/patients", params={"name": "nguyen", "limit": 2}).json()
    assert first["total"] == 5
    assert len(first["items"]) == 2
    rest = registrar.get("/api/patients", params={"name": "nguyen", "limit": 2, "offset": 4}).json()
    assert [p["given_names"] for p in rest["items"]] == ["An 4"]


def test_an_update_bumps_the_version(registrar: TestClient) -> None:
    pid = registrar.post("/api/patients", json=lucia()).json()["id"]
    response = registrar.patch(f"/api/patients/{pid}", json={"phone": "+52 33 0000 0000"})
    assert response.status_code == 200
    assert response.json()["version"] == 2
    assert response.json()["phone"] == "+52 33 0000 0000"
    assert response.json()["email"] == "lucia@example.mx"


def test_an_update_with_a_stale_if_match_is_refused(registrar: TestClient) -> None:
    pid = registrar.post("/api/patients", json=lucia()).json()["id"]
    ok = registrar.patch(f"/api/patients/{pid}", json={"sex": "other"}, headers={"If-Match": '"1"'})
    assert ok.status_code == 200
    stale = registrar.patch(
        f"/api/patients/{pid}", json={"sex": "male"}, headers={"If-Match": '"1"'}
    )
    assert stale.status_code == 412
    assert registrar.get(f"/api/patients/{pid}").json()["sex"] == "other"


def test_an_update_cannot_take_another_patients_identifier(registrar: TestClient) -> None:
    registrar.post("/api/patients", json=lucia())
    ivan = registrar.post(
        "/api/patients",
        json=lucia(
            identifiers=[{"system": CURP, "value": "PEIV750101HDFTRV01"}],
            family_name="Petrov",
            given_names="Ivan",
        ),
    ).json()
    response = registrar.patch(
        f"/api/patients/{ivan['id']}",
        json={"identifiers": [{"system": CURP, "value": "HELU800402MJCRCS09"}]},
    )
    assert response.status_code == 409
    assert response.json()["errors"][0]["field"] == "identifiers"


def test_an_unknown_patient_is_not_found(registrar: TestClient) -> None:
    assert registrar.get("/api/patients/999999").status_code == 404
    assert registrar.patch("/api/patients/999999", json={"sex": "male"}).status_code == 404
