"""Countries, regions and facilities over the JSON API."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.network.conftest import World


def fields(response: Any) -> set[str]:
    return {e["field"] for e in response.json().get("errors", [])}


def clinic(**extra: object) -> dict[str, object]:
    body: dict[str, object] = {
        "code": "MX-JAL-UMF7",
        "name": "Unidad de Medicina Familiar 7",
        "tier": "level1",
        "kind": "family_medicine_unit",
        "region_code": "MX-JAL-GDL",
        "parent_code": "MX-JAL-HGZ46",
        "city": "Guadalajara",
    }
    body.update(extra)
    return body


def test_rosa_adds_a_clinic_that_takes_its_country_and_time_zone_from_its_region(
    registrar: TestClient, world: World
) -> None:
    r = registrar.post("/api/facilities", json=clinic())
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["country"] == "MX"
    assert created["timezone"] == "America/Mexico_City"
    assert created["parent_code"] == "MX-JAL-HGZ46"
    assert r.headers["location"] == f"/api/facilities/{created['id']}"
    assert registrar.get(f"/api/facilities/{created['id']}").json()["code"] == "MX-JAL-UMF7"
    assert registrar.get("/api/facilities/code/MX-JAL-UMF7").json()["id"] == created["id"]


def test_a_facility_code_is_used_once(registrar: TestClient, world: World) -> None:
    r = registrar.post("/api/facilities", json=clinic(code="MX-JAL-HGZ46"))
    assert r.status_code == 409
    assert fields(r) == {"code"}


def test_unknown_references_in_a_body_are_422_naming_the_field(
    registrar: TestClient, world: World
) -> None:
    r = registrar.post("/api/facilities", json=clinic(region_code="MX-XXX"))
    assert r.status_code == 422 and fields(r) == {"region_code"}
    r = registrar.post("/api/facilities", json=clinic(parent_code="NOPE"))
    assert r.status_code == 422 and fields(r) == {"parent_code"}
    r = registrar.post("/api/facilities", json=clinic(country="VN"))
    assert r.status_code == 422 and fields(r) == {"country"}
    r = registrar.post("/api/facilities", json=clinic(tier="fourth"))
    assert r.status_code == 422 and fields(r) == {"tier"}


def test_unknown_ids_and_codes_in_the_path_are_404_naming_the_field(
    registrar: TestClient, world: World
) -> None:
    r = registrar.get("/api/facilities/987654")
    assert r.status_code == 404 and fields(r) == {"facility_id"}
    r = registrar.get("/api/facilities/code/NOPE")
    assert r.status_code == 404 and fields(r) == {"code"}
    r = registrar.patch("/api/facilities/987654", json={"name": "X"})
    assert r.status_code == 404 and fields(r) == {"facility_id"}


def test_facilities_are_filtered_by_tier_kind_country_parent_and_name(
    registrar: TestClient, world: World
) -> None:
    def codes(**params: str) -> list[str]:
        r = registrar.get("/api/facilities", params=params)
        assert r.status_code == 200, r.text
        return sorted(x["code"] for x in r.json()["items"])

    assert codes(country="VN") == ["VN-BM", "VN-SS"]
    assert codes(tier="central") == ["LA-MH", "VN-BM"]
    assert codes(kind="state_office") == ["MX-JAL-DEL"]
    assert codes(parent="MX-JAL-DEL") == ["MX-JAL-HGZ46"]
    assert codes(name="bạch mai") == ["VN-BM"]
    assert codes(name="zona") == ["MX-JAL-HGZ46"]


def test_a_region_filter_includes_the_facilities_of_its_districts(
    registrar: TestClient, world: World
) -> None:
    r = registrar.get("/api/facilities", params={"region": "MX-JAL"})
    assert sorted(x["code"] for x in r.json()["items"]) == [
        "MX-JAL-DEL",
        "MX-JAL-HGZ46",
        "MX-JAL-UMF3",
    ]
    r = registrar.get("/api/facilities", params={"region": "MX-JAL-GDL"})
    assert [x["code"] for x in r.json()["items"]] == ["MX-JAL-UMF3"]


def test_unknown_codes_in_filters_are_422_naming_the_parameter(
    registrar: TestClient, world: World
) -> None:
    for params, field in [
        ({"region": "ZZ-9"}, "region"),
        ({"country": "ZZ"}, "country"),
        ({"program": "nope"}, "program"),
        ({"parent": "nope"}, "parent"),
        ({"tier": "fifth"}, "tier"),
    ]:
        r = registrar.get("/api/facilities", params=params)
        assert r.status_code == 422, (params, r.text)
        assert fields(r) == {field}


def test_rosa_renames_a_hospital_and_moves_it_to_a_district(
    registrar: TestClient, world: World
) -> None:
    r = registrar.patch(
        f"/api/facilities/{world.hgz46.id}",
        json={"name": "HGZ 46 Guadalajara", "region_code": "MX-JAL-GDL", "phone": None},
    )
    assert r.status_code == 200, r.text
    assert r.json()["name"] == "HGZ 46 Guadalajara"
    assert r.json()["region_code"] == "MX-JAL-GDL"


def test_a_facility_cannot_be_moved_under_its_own_unit(registrar: TestClient, world: World) -> None:
    r = registrar.patch(f"/api/facilities/{world.hgz46.id}", json={"parent_code": "MX-JAL-UMF3"})
    assert r.status_code == 422 and fields(r) == {"parent_code"}
    r = registrar.patch(f"/api/facilities/{world.hgz46.id}", json={"parent_code": "MX-JAL-HGZ46"})
    assert r.status_code == 422 and fields(r) == {"parent_code"}


def test_a_required_field_cannot_be_cleared(registrar: TestClient, world: World) -> None:
    r = registrar.patch(f"/api/facilities/{world.hgz46.id}", json={"name": None})
    assert r.status_code == 422 and fields(r) == {"name"}


def test_countries_and_regions_are_listed_and_a_district_is_added(
    registrar: TestClient, world: World
) -> None:
    countries = {c["code"] for c in registrar.get("/api/countries").json()}
    assert {"MX", "VN", "LA"} <= countries
    top = registrar.get("/api/regions", params={"country": "VN", "top": "true"}).json()
    assert [r["code"] for r in top["items"]] == ["VN-HN"]
    under = registrar.get("/api/regions", params={"parent": "VN-HN"}).json()
    assert [r["code"] for r in under["items"]] == ["VN-HN-SS"]
    r = registrar.post(
        "/api/regions",
        json={
            "code": "VN-HN-BD",
            "name": "Ba Đình",
            "country": "vn",
            "level": "district",
            "parent_code": "VN-HN",
        },
    )
    assert r.status_code == 201, r.text
    assert r.json()["parent_code"] == "VN-HN"
    assert registrar.get("/api/regions/VN-HN-BD").json()["name"] == "Ba Đình"
    clash = registrar.post(
        "/api/regions",
        json={"code": "MX-JAL-X", "name": "X", "country": "MX", "parent_code": "VN-HN"},
    )
    assert clash.status_code == 422 and fields(clash) == {"parent_code"}
    r = registrar.get("/api/regions", params={"country": "ZZ"})
    assert r.status_code == 422 and fields(r) == {"country"}
