"""Creating and updating Patients through FHIR: validation, conditional
create and optimistic locking."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from puente.fhir.mapping import EXT_CITIZENSHIP
from puente.fhir.validation import validate
from puente.people.models import Patient
from tests import factories as f

CURP = "urn:oid:2.16.840.1.113883.4.629"
FHIR = {"Content-Type": "application/fhir+json"}


def nguyen_thi_mai(**extra: Any) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Patient",
        "identifier": [{"system": "urn:puente:test:vn-cccd", "value": "079190000123"}],
        "name": [{"use": "official", "family": "Nguyễn", "given": ["Thị", "Mai"]}],
        "gender": "female",
        "birthDate": "1990-07-15",
        "telecom": [{"system": "phone", "value": "+84 90 123 4567"}],
        "communication": [
            {
                "language": {"coding": [{"system": "urn:ietf:bcp:47", "code": "vi-VN"}]},
                "preferred": True,
            }
        ],
        "extension": [
            {
                "url": EXT_CITIZENSHIP,
                "extension": [
                    {
                        "url": "code",
                        "valueCodeableConcept": {
                            "coding": [{"system": "urn:iso:std:iso:3166", "code": "VN"}]
                        },
                    }
                ],
            }
        ],
    }
    resource.update(extra)
    return resource


def patients(db: Session) -> int:
    return db.scalar(select(func.count()).select_from(Patient)) or 0


def outcome(response: Any, status: int) -> list[str]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/fhir+json")
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    assert validate(body) == []
    return [e for issue in body["issue"] for e in issue.get("expression", [])]


def test_mai_is_created_with_location_etag_and_a_valid_resource(registrar: TestClient) -> None:
    response = registrar.post("/fhir/Patient", json=nguyen_thi_mai(), headers=FHIR)
    assert response.status_code == 201, response.text
    mai = response.json()
    assert validate(mai) == []
    assert response.headers["etag"] == 'W/"1"'
    assert response.headers["location"].endswith(f"/fhir/Patient/{mai['id']}/_history/1")
    assert mai["meta"]["versionId"] == "1"
    assert mai["name"][0]["given"] == ["Thị", "Mai"]
    assert mai["communication"][0]["language"]["coding"][0]["code"] == "vi"
    assert mai["extension"][0]["extension"][0]["valueCodeableConcept"]["coding"][0]["code"] == "VN"
    # The JSON API sees the same patient.
    assert registrar.get(f"/api/patients/{mai['id']}").json()["citizenship"] == "VN"


def test_a_bad_birth_date_is_a_400_naming_patient_birthdate(
    registrar: TestClient, db: Session
) -> None:
    before = patients(db)
    response = registrar.post("/fhir/Patient", json=nguyen_thi_mai(birthDate="1990-13-45"))
    assert outcome(response, 400) == ["Patient.birthDate"]
    assert patients(db) == before


def test_a_birth_date_in_the_future_is_unprocessable(registrar: TestClient) -> None:
    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    response = registrar.post("/fhir/Patient", json=nguyen_thi_mai(birthDate=tomorrow))
    assert outcome(response, 422) == ["Patient.birthDate"]


def test_an_unknown_element_is_a_400_naming_it(registrar: TestClient) -> None:
    response = registrar.post("/fhir/Patient", json=nguyen_thi_mai(favouriteColour="blue"))
    assert outcome(response, 400) == ["Patient.favouriteColour"]


def test_a_resource_of_another_type_is_refused(registrar: TestClient) -> None:
    response = registrar.post("/fhir/Patient", json={"resourceType": "Practitioner"})
    assert outcome(response, 400) == ["resourceType"]


def test_a_body_that_is_not_json_is_a_400_operation_outcome(registrar: TestClient) -> None:
    response = registrar.post("/fhir/Patient", content=b"{not json", headers=FHIR)
    outcome(response, 400)


def test_an_unknown_managing_organization_is_unprocessable(registrar: TestClient) -> None:
    response = registrar.post(
        "/fhir/Patient",
        json=nguyen_thi_mai(managingOrganization={"reference": "Organization/999999"}),
    )
    assert outcome(response, 422) == ["Patient.managingOrganization"]


def test_a_taken_identifier_is_a_409_naming_patient_identifier(registrar: TestClient) -> None:
    assert registrar.post("/fhir/Patient", json=nguyen_thi_mai()).status_code == 201
    response = registrar.post("/fhir/Patient", json=nguyen_thi_mai())
    assert outcome(response, 409) == ["Patient.identifier"]


def test_if_none_exist_returns_mai_instead_of_a_duplicate(
    registrar: TestClient, db: Session
) -> None:
    first = registrar.post("/fhir/Patient", json=nguyen_thi_mai()).json()
    before = patients(db)
    again = registrar.post(
        "/fhir/Patient",
        json=nguyen_thi_mai(),
        headers={"If-None-Exist": "identifier=urn:puente:test:vn-cccd|079190000123"},
    )
    assert again.status_code == 200
    assert again.json()["id"] == first["id"]
    assert patients(db) == before


def test_if_none_exist_creates_when_nobody_matches(registrar: TestClient) -> None:
    response = registrar.post(
        "/fhir/Patient",
        json=nguyen_thi_mai(),
        headers={"If-None-Exist": f"identifier={CURP}|NOBODY"},
    )
    assert response.status_code == 201


def test_put_replaces_mai_and_bumps_the_version(registrar: TestClient, db: Session) -> None:
    hospital = f.facility(db, "VN-HN-BACHMAI", "Bệnh viện Bạch Mai", region_code="VN-HN")
    mai = registrar.post("/fhir/Patient", json=nguyen_thi_mai()).json()
    changed = nguyen_thi_mai(
        id=mai["id"],
        telecom=[{"system": "email", "value": "mai@example.vn"}],
        managingOrganization={"reference": f"Organization/{hospital.id}"},
    )
    response = registrar.put(
        f"/fhir/Patient/{mai['id']}", json=changed, headers={"If-Match": 'W/"1"'}
    )
    assert response.status_code == 200, response.text
    updated = response.json()
    assert validate(updated) == []
    assert response.headers["etag"] == 'W/"2"'
    assert updated["meta"]["versionId"] == "2"
    assert updated["telecom"] == [{"system": "email", "value": "mai@example.vn"}]
    assert updated["managingOrganization"] == {"reference": f"Organization/{hospital.id}"}


def test_put_with_a_stale_if_match_is_412_and_changes_nothing(registrar: TestClient) -> None:
    mai = registrar.post("/fhir/Patient", json=nguyen_thi_mai()).json()
    registrar.put(f"/fhir/Patient/{mai['id']}", json=nguyen_thi_mai(gender="other"))
    stale = registrar.put(
        f"/fhir/Patient/{mai['id']}",
        json=nguyen_thi_mai(gender="male"),
        headers={"If-Match": 'W/"1"'},
    )
    outcome(stale, 412)
    assert registrar.get(f"/fhir/Patient/{mai['id']}").json()["gender"] == "other"


def test_put_with_another_id_in_the_body_is_refused(registrar: TestClient) -> None:
    mai = registrar.post("/fhir/Patient", json=nguyen_thi_mai()).json()
    response = registrar.put(f"/fhir/Patient/{mai['id']}", json=nguyen_thi_mai(id="12345"))
    assert outcome(response, 400) == ["Patient.id"]


def test_put_to_an_unknown_patient_is_404(registrar: TestClient) -> None:
    outcome(registrar.put("/fhir/Patient/999999", json=nguyen_thi_mai()), 404)


def test_unsupported_interactions_answer_with_an_operation_outcome(registrar: TestClient) -> None:
    outcome(registrar.delete("/fhir/Patient/1"), 405)
    outcome(registrar.post("/fhir/Organization", json={"resourceType": "Organization"}), 405)
