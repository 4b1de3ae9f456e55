"""Who may change the network: a national administrator everywhere, a
facility administrator only their own facilities, a clinician nothing."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.network.conftest import World
from tests.network.test_facilities_api import clinic, fields


def test_marta_edits_her_hospital_and_the_units_under_it(marta: TestClient, world: World) -> None:
    r = marta.patch(f"/api/facilities/{world.hgz46.id}", json={"phone": "+52 33 3618 0000"})
    assert r.status_code == 200, r.text
    r = marta.patch(f"/api/facilities/{world.umf3.id}", json={"city": "Zapopan"})
    assert r.status_code == 200, r.text


def test_marta_cannot_edit_another_facility(marta: TestClient, world: World) -> None:
    r = marta.patch(f"/api/facilities/{world.bach_mai.id}", json={"name": "Mine now"})
    assert r.status_code == 403
    assert fields(r) == {"facility_id"}
    r = marta.patch(f"/api/facilities/{world.state_office.id}", json={"name": "Mine now"})
    assert r.status_code == 403


def test_marta_adds_a_unit_under_her_hospital_but_not_under_someone_else(
    marta: TestClient, world: World
) -> None:
    assert marta.post("/api/facilities", json=clinic()).status_code == 201
    r = marta.post("/api/facilities", json=clinic(code="MX-JAL-UMF8", parent_code="MX-JAL-DEL"))
    assert r.status_code == 403 and fields(r) == {"parent_code"}
    r = marta.post("/api/facilities", json=clinic(code="MX-JAL-UMF9", parent_code=None))
    assert r.status_code == 403 and fields(r) == {"parent_code"}


def test_marta_cannot_move_her_hospital_out_from_under_its_state_office(
    marta: TestClient, world: World
) -> None:
    r = marta.patch(f"/api/facilities/{world.hgz46.id}", json={"parent_code": None})
    assert r.status_code == 403 and fields(r) == {"parent_code"}


def test_hoa_links_bach_mai_to_spokes_but_marta_cannot(
    hoa: TestClient, marta: TestClient, world: World
) -> None:
    r = hoa.post("/api/support-links", json={"hub_code": "VN-BM", "spoke_code": "LA-MH"})
    assert r.status_code == 201, r.text
    refused = marta.post("/api/support-links", json={"hub_code": "VN-BM", "spoke_code": "VN-SS"})
    assert refused.status_code == 403 and fields(refused) == {"hub_code"}
    withdraw = marta.delete(f"/api/support-links/{r.json()['id']}")
    assert withdraw.status_code == 403


def test_only_a_national_administrator_creates_programs_and_regions(
    registrar: TestClient, hoa: TestClient, world: World
) -> None:
    program = {"code": "remote-care", "name": "Remote care", "kind": "remote_care_network"}
    assert hoa.post("/api/programs", json=program).status_code == 403
    assert registrar.post("/api/programs", json=program).status_code == 201
    region = {"code": "VN-HN-X", "name": "X", "country": "VN", "parent_code": "VN-HN"}
    assert hoa.post("/api/regions", json=region).status_code == 403


def test_hoa_enrols_bach_mai_and_manages_its_bridge_points_only(
    registrar: TestClient, hoa: TestClient, world: World
) -> None:
    program = {"code": "remote-care", "name": "Remote care", "kind": "remote_care_network"}
    assert registrar.post("/api/programs", json=program).status_code == 201
    ok = hoa.post(
        "/api/programs/remote-care/enrolments",
        json={"facility_code": "VN-BM", "start_date": "2024-01-01"},
    )
    assert ok.status_code == 201, ok.text
    refused = hoa.post(
        "/api/programs/remote-care/enrolments",
        json={"facility_code": "MX-JAL-HGZ46", "start_date": "2024-01-01"},
    )
    assert refused.status_code == 403 and fields(refused) == {"facility_code"}
    point = {"name": "Room", "kind": "video", "address": "sip:room@example.org"}
    assert (
        hoa.post("/api/bridge-points", json={**point, "facility_code": "VN-BM"}).status_code == 201
    )
    other = registrar.post("/api/bridge-points", json={**point, "facility_code": "LA-MH"})
    r = hoa.patch(f"/api/bridge-points/{other.json()['id']}", json={"status": "off"})
    assert r.status_code == 403 and fields(r) == {"bridge_point_id"}


def test_diego_reads_the_network_but_cannot_change_it(diego: TestClient, world: World) -> None:
    assert diego.get("/api/facilities").status_code == 200
    assert diego.get(f"/api/facilities/{world.hgz46.id}").status_code == 200
    r = diego.patch(f"/api/facilities/{world.hgz46.id}", json={"name": "X"})
    assert r.status_code == 403 and fields(r) == {"permission"}
