"""Practitioners and their roles at facilities over the JSON API."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests import factories as f


@pytest.fixture
def hospital_46(db: Session) -> str:
    f.specialty(db, "cardiology", "Cardiology")
    return f.facility(db, "MX-JAL-HGZ46", "Hospital General de Zona 46").code


def anna(registrar: TestClient, **extra: object) -> dict[str, object]:
    body: dict[str, object] = {
        "family_name": "Ivanova",
        "given_names": "Anna",
        "sex": "female",
        "license_number": "MX-CED-1234567",
        "languages": ["es", "ru"],
        "email": "anna@example.mx",
    }
    body.update(extra)
    response = registrar.post("/api/practitioners", json=body)
    assert response.status_code == 201, response.text
    result: dict[str, object] = response.json()
    return result


def test_dr_ivanova_is_registered_read_and_updated(registrar: TestClient) -> None:
    created = anna(registrar)
    assert created["languages"] == ["es", "ru"]
    read = registrar.get(f"/api/practitioners/{created['id']}").json()
    assert read["license_number"] == "MX-CED-1234567"
    updated = registrar.patch(f"/api/practitioners/{created['id']}", json={"languages": ["en"]})
    assert updated.json()["languages"] == ["en"]
    assert updated.json()["email"] == "anna@example.mx"


def test_a_license_number_belongs_to_one_practitioner(registrar: TestClient) -> None:
    anna(registrar)
    response = registrar.post(
        "/api/practitioners",
        json={"family_name": "Other", "given_names": "Person", "license_number": "MX-CED-1234567"},
    )
    assert response.status_code == 409
    assert response.json()["errors"][0]["field"] == "license_number"


def test_practitioners_are_listed_by_name(registrar: TestClient) -> None:
    anna(registrar)
    anna(registrar, family_name="Nguyen", given_names="Van An", license_number="VN-1")
    listed = registrar.get("/api/practitioners", params={"name": "nguy"}).json()
    assert [p["family_name"] for p in listed["items"]] == ["Nguyen"]


def test_dr_ivanova_takes_a_cardiology_role_at_hospital_46(
    registrar: TestClient, hospital_46: str
) -> None:
    pid = anna(registrar)["id"]
    response = registrar.post(
        f"/api/practitioners/{pid}/roles",
        json={"facility_code": hospital_46, "role": "specialist", "specialty_code": "cardiology"},
    )
    assert response.status_code == 201, response.text
    role = response.json()
    assert role["specialty_name"] == "Cardiology"
    by_facility = registrar.get(
        "/api/practitioner-roles", params={"facility_code": hospital_46}
    ).json()
    assert [r["id"] for r in by_facility["items"]] == [role["id"]]
    by_practitioner = registrar.get(f"/api/practitioners/{pid}/roles").json()
    assert [r["id"] for r in by_practitioner["items"]] == [role["id"]]
    elsewhere = registrar.get("/api/practitioner-roles", params={"facility_code": "NOPE"}).json()
    assert elsewhere["total"] == 0


def test_a_role_at_an_unknown_facility_or_specialty_is_unprocessable(
    registrar: TestClient, hospital_46: str
) -> None:
    pid = anna(registrar)["id"]
    response = registrar.post(
        f"/api/practitioners/{pid}/roles",
        json={"facility_code": "NOPE", "role": "specialist", "specialty_code": "astrology"},
    )
    assert response.status_code == 422
    assert {e["field"] for e in response.json()["errors"]} == {"facility_code", "specialty_code"}


def test_a_deactivated_role_stays_on_record_but_is_no_longer_active(
    registrar: TestClient, hospital_46: str
) -> None:
    pid = anna(registrar)["id"]
    role = registrar.post(
        f"/api/practitioners/{pid}/roles", json={"facility_code": hospital_46, "role": "physician"}
    ).json()
    ended = registrar.post(f"/api/practitioner-roles/{role['id']}/deactivate")
    assert ended.status_code == 200
    assert ended.json()["active"] is False
    assert ended.json()["end_date"] is not None
    active = registrar.get(f"/api/practitioners/{pid}/roles", params={"active": "true"}).json()
    assert active["total"] == 0
    assert registrar.get(f"/api/practitioners/{pid}/roles").json()["total"] == 1


def test_roles_of_an_unknown_practitioner_are_not_found(registrar: TestClient) -> None:
    assert registrar.get("/api/practitioners/999999/roles").status_code == 404
    assert registrar.post("/api/practitioner-roles/999999/deactivate").status_code == 404
