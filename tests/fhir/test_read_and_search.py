"""Reading and searching the FHIR facade: every response is valid R4."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from puente.fhir.mapping import CS_FACILITY_KIND, CS_SPECIALTY, EXT_CITIZENSHIP
from puente.fhir.validation import validate
from tests import factories as f
from tests.fhir.world import CURP, RESOURCE_TYPES, World, invalid_resources, small_world

FHIR_JSON = "application/fhir+json"


@pytest.fixture
def world(db: Session) -> World:
    return small_world(db)


def fhir_get(registrar: TestClient, url: str, params: dict[str, Any] | None = None) -> Any:
    response = registrar.get(url, params=params)
    assert response.headers["content-type"].startswith(FHIR_JSON), response.text
    body = response.json()
    assert validate(body) == [], body
    return response.status_code, body


def ids(bundle: dict[str, Any]) -> list[str]:
    return [e["resource"]["id"] for e in bundle.get("entry", [])]


def test_the_capability_statement_is_r4_and_lists_every_resource(registrar: TestClient) -> None:
    status, body = fhir_get(registrar, "/fhir/metadata")
    assert status == 200
    assert body["fhirVersion"] == "4.0.1"
    resources = {r["type"]: r for r in body["rest"][0]["resource"]}
    # Other features (scheduling, visits) add their types beside these.
    assert {*RESOURCE_TYPES, "AuditEvent", "Schedule", "Slot", "Appointment"} <= set(resources)
    patient = resources["Patient"]
    assert {i["code"] for i in patient["interaction"]} == {
        "read",
        "search-type",
        "create",
        "update",
    }
    assert {"identifier", "name", "birthdate"} <= {p["name"] for p in patient["searchParam"]}


@pytest.mark.parametrize("resource_type", RESOURCE_TYPES)
def test_every_kind_of_resource_reads_and_searches_as_valid_r4(
    registrar: TestClient, world: World, resource_type: str
) -> None:
    status, bundle = fhir_get(registrar, f"/fhir/{resource_type}")
    assert status == 200
    assert bundle["type"] == "searchset"
    assert bundle["total"] >= 1
    first = bundle["entry"][0]["resource"]
    status, read = fhir_get(registrar, f"/fhir/{resource_type}/{first['id']}")
    assert status == 200
    assert read == first


@pytest.mark.parametrize("resource_type", RESOURCE_TYPES)
def test_an_unknown_id_is_a_404_operation_outcome(
    registrar: TestClient, resource_type: str
) -> None:
    status, body = fhir_get(registrar, f"/fhir/{resource_type}/987654321")
    assert status == 404
    assert body["resourceType"] == "OperationOutcome"
    assert body["issue"][0]["code"] == "not-found"


def test_an_unknown_resource_type_is_a_404_operation_outcome(registrar: TestClient) -> None:
    status, body = fhir_get(registrar, "/fhir/Observation")
    assert status == 404
    assert body["resourceType"] == "OperationOutcome"


def test_an_unknown_search_parameter_is_a_400_naming_it(registrar: TestClient) -> None:
    status, body = fhir_get(registrar, "/fhir/Patient", {"favourite-colour": "blue"})
    assert status == 400
    assert body["issue"][0]["expression"] == ["favourite-colour"]


def test_the_hospital_maps_to_an_organization_under_its_state_office(
    registrar: TestClient, world: World
) -> None:
    _, org = fhir_get(registrar, f"/fhir/Organization/{world.hospital.id}")
    assert org["identifier"] == [
        {"system": "urn:puente:identifier:facility-code", "value": "MX-JAL-HGZ46"}
    ]
    assert org["partOf"] == {"reference": f"Organization/{world.state_office.id}"}
    assert org["address"][0]["country"] == "MX"
    assert org["address"][0]["city"] == "Guadalajara"
    assert org["telecom"] == [{"system": "phone", "value": "+52 33 3668 3000"}]
    codes = {c["coding"][0]["code"] for c in org["type"]}
    assert codes == {"general_hospital", "level2"}


def test_organizations_are_found_by_parent_type_country_and_name(
    registrar: TestClient, world: World
) -> None:
    children = fhir_get(
        registrar, "/fhir/Organization", {"partof": f"Organization/{world.state_office.id}"}
    )[1]
    assert ids(children) == [str(world.hospital.id), str(world.clinic.id)]
    by_kind = fhir_get(registrar, "/fhir/Organization", {"type": f"{CS_FACILITY_KIND}|polyclinic"})[
        1
    ]
    assert ids(by_kind) == [str(world.moscow.id)]
    by_tier = fhir_get(registrar, "/fhir/Organization", {"type": "level1"})[1]
    assert ids(by_tier) == [str(world.clinic.id)]
    in_russia = fhir_get(registrar, "/fhir/Organization", {"address-country": "ru"})[1]
    assert ids(in_russia) == [str(world.moscow.id)]
    by_name = fhir_get(registrar, "/fhir/Organization", {"name": "городская"})[1]
    assert ids(by_name) == [str(world.moscow.id)]


def test_a_facility_is_also_a_location_managed_by_its_organization(
    registrar: TestClient, world: World
) -> None:
    bundle = fhir_get(registrar, "/fhir/Location", {"organization": str(world.clinic.id)})[1]
    assert ids(bundle) == [str(world.clinic.id)]
    location = bundle["entry"][0]["resource"]
    assert location["managingOrganization"] == {"reference": f"Organization/{world.clinic.id}"}
    assert ids(fhir_get(registrar, "/fhir/Location", {"address-country": "RU"})[1]) == [
        str(world.moscow.id)
    ]


def test_bridge_points_are_endpoints_with_status_and_payload_type(
    registrar: TestClient, world: World
) -> None:
    bundle = fhir_get(
        registrar, "/fhir/Endpoint", {"organization": f"Organization/{world.hospital.id}"}
    )[1]
    assert ids(bundle) == [str(world.video.id), str(world.dicom.id)]
    off = fhir_get(registrar, "/fhir/Endpoint", {"status": "off"})[1]
    assert ids(off) == [str(world.dicom.id)]
    dicom = off["entry"][0]["resource"]
    assert dicom["connectionType"]["code"] == "dicom-wado-rs"
    assert dicom["payloadType"]
    status, _ = fhir_get(registrar, "/fhir/Endpoint", {"status": "sleeping"})
    assert status == 400


def test_dr_ivanova_is_found_by_name_and_license(
    registrar: TestClient, db: Session, world: World
) -> None:
    f.practitioner(db, "Nguyen", "Van An", license_number="VN-CCHN-0001")
    by_name = fhir_get(registrar, "/fhir/Practitioner", {"name": "ivan"})[1]
    assert ids(by_name) == [str(world.anna_id)]
    by_license = fhir_get(registrar, "/fhir/Practitioner", {"identifier": "MX-CED-1234567"})[1]
    anna = by_license["entry"][0]["resource"]
    assert anna["name"][0] == {
        "use": "official",
        "family": "Ivanova",
        "given": ["Anna", "Petrovna"],
    }
    assert [c["coding"][0]["code"] for c in anna["communication"]] == ["es", "ru"]


def test_roles_are_found_by_organization_practitioner_and_specialty(
    registrar: TestClient, world: World
) -> None:
    for params in (
        {"organization": f"Organization/{world.hospital.id}"},
        {"practitioner": f"Practitioner/{world.anna_id}"},
        {"specialty": f"{CS_SPECIALTY}|cardiology"},
    ):
        bundle = fhir_get(registrar, "/fhir/PractitionerRole", params)[1]
        assert ids(bundle) == [str(world.role_id)], params
    role = bundle["entry"][0]["resource"]
    assert role["specialty"][0]["coding"][0] == {
        "system": CS_SPECIALTY,
        "code": "cardiology",
        "display": "Cardiology",
    }
    assert (
        fhir_get(registrar, "/fhir/PractitionerRole", {"specialty": "nephrology"})[1]["total"] == 0
    )


def test_patients_are_found_by_identifier_name_and_birthdate(
    registrar: TestClient, world: World
) -> None:
    lucia, ivan = str(world.lucia_id), str(world.ivan_id)
    assert ids(
        fhir_get(registrar, "/fhir/Patient", {"identifier": f"{CURP}|HELU800402MJCRCS09"})[1]
    ) == [lucia]
    assert ids(fhir_get(registrar, "/fhir/Patient", {"identifier": "RU-750101"})[1]) == [ivan]
    assert ids(fhir_get(registrar, "/fhir/Patient", {"identifier": f"{CURP}|RU-750101"})[1]) == []
    assert ids(fhir_get(registrar, "/fhir/Patient", {"name": "hern"})[1]) == [lucia]
    assert ids(fhir_get(registrar, "/fhir/Patient", {"birthdate": "1975-01-01"})[1]) == [ivan]
    assert ids(fhir_get(registrar, "/fhir/Patient", {"birthdate": "gt1976-01-01"})[1]) == [lucia]
    both = fhir_get(
        registrar, "/fhir/Patient", [("birthdate", "ge1975-01-01"), ("birthdate", "le1980-04-02")]
    )[1]  # type: ignore[arg-type]
    assert ids(both) == [lucia, ivan]
    status, _ = fhir_get(registrar, "/fhir/Patient", {"birthdate": "soon"})
    assert status == 400


def test_a_patient_carries_citizenship_language_and_version(
    registrar: TestClient, world: World
) -> None:
    response = registrar.get(f"/fhir/Patient/{world.ivan_id}")
    ivan = response.json()
    assert response.headers["etag"] == 'W/"1"'
    assert ivan["meta"]["versionId"] == "1"
    assert ivan["meta"]["lastUpdated"].endswith("+00:00")
    citizenship = next(e for e in ivan["extension"] if e["url"] == EXT_CITIZENSHIP)
    assert citizenship["extension"][0]["valueCodeableConcept"]["coding"][0]["code"] == "RU"
    assert ivan["gender"] == "male"
    lucia = registrar.get(f"/fhir/Patient/{world.lucia_id}").json()
    assert lucia["managingOrganization"] == {"reference": f"Organization/{world.clinic.id}"}
    assert lucia["communication"][0]["language"]["coding"][0]["code"] == "es"


def test_paging_links_walk_every_patient_exactly_once(registrar: TestClient, db: Session) -> None:
    for n in range(7):
        f.patient(db, "Tran", f"Minh {n}", citizenship="VN")
    seen: list[str] = []
    status, page = fhir_get(registrar, "/fhir/Patient", {"name": "tran", "_count": "3"})
    pages = 1
    while True:
        links = {link["relation"]: link["url"] for link in page["link"]}
        assert "name=tran" in links["self"]
        seen += ids(page)
        if "next" not in links:
            break
        assert "name=tran" in links["next"]
        status, page = fhir_get(registrar, links["next"])
        assert status == 200
        assert "previous" in {link["relation"] for link in page["link"]}
        pages += 1
    assert page["total"] == 7
    assert pages == 3
    assert len(seen) == len(set(seen)) == 7


def test_count_is_capped_and_bad_paging_is_refused(registrar: TestClient, world: World) -> None:
    _, bundle = fhir_get(registrar, "/fhir/Organization", {"_count": "100000"})
    assert "_count=500" in bundle["link"][0]["url"]
    _, only_total = fhir_get(registrar, "/fhir/Organization", {"_count": "0"})
    assert only_total["total"] == 4
    assert "entry" not in only_total
    status, _ = fhir_get(registrar, "/fhir/Organization", {"_offset": "-1"})
    assert status == 400


def test_the_whole_small_world_validates(db: Session, world: World) -> None:
    checked, failures = invalid_resources(db)
    assert failures == []
    assert checked == 4 + 4 + 2 + 1 + 1 + 2
