"""Support links, programs with enrolment periods, and bridge points over the
JSON API."""

from __future__ import annotations

import httpx
from fastapi.testclient import TestClient

from tests.network.conftest import World
from tests.network.test_facilities_api import fields


def test_bach_mai_supports_a_district_hospital_and_a_hospital_across_the_border(
    registrar: TestClient, world: World
) -> None:
    r = registrar.post(
        "/api/support-links",
        json={"hub_code": "VN-BM", "spoke_code": "VN-SS", "specialty_codes": ["cardiology"]},
    )
    assert r.status_code == 201, r.text
    assert r.json()["specialty_codes"] == ["cardiology"]
    r = registrar.post(
        "/api/support-links",
        json={
            "hub_code": "VN-BM",
            "spoke_code": "LA-MH",
            "rank": 2,
            "specialty_codes": ["nephrology", "cardiology"],
        },
    )
    assert r.status_code == 201, r.text
    assert r.json()["spoke_country"] == "LA"
    assert r.json()["specialty_codes"] == ["cardiology", "nephrology"]

    spokes = registrar.get("/api/support-links", params={"hub": "VN-BM"}).json()
    assert [x["spoke_code"] for x in spokes["items"]] == ["VN-SS", "LA-MH"]
    hubs = registrar.get("/api/support-links", params={"spoke": "LA-MH"}).json()
    assert [x["hub_code"] for x in hubs["items"]] == ["VN-BM"]


def test_a_facility_cannot_support_itself_nor_be_linked_twice(
    registrar: TestClient, world: World
) -> None:
    r = registrar.post("/api/support-links", json={"hub_code": "VN-BM", "spoke_code": "VN-BM"})
    assert r.status_code == 409 and fields(r) == {"spoke_code"}
    first = registrar.post("/api/support-links", json={"hub_code": "VN-BM", "spoke_code": "VN-SS"})
    assert first.status_code == 201
    again = registrar.post("/api/support-links", json={"hub_code": "VN-BM", "spoke_code": "VN-SS"})
    assert again.status_code == 409 and fields(again) == {"spoke_code"}


def test_a_withdrawn_link_leaves_the_list_and_can_be_made_again(
    registrar: TestClient, world: World
) -> None:
    made = registrar.post("/api/support-links", json={"hub_code": "VN-BM", "spoke_code": "VN-SS"})
    link_id = made.json()["id"]
    assert registrar.delete(f"/api/support-links/{link_id}").status_code == 204
    assert registrar.get("/api/support-links", params={"hub": "VN-BM"}).json()["total"] == 0
    withdrawn = registrar.get("/api/support-links", params={"hub": "VN-BM", "active": "false"})
    assert [x["id"] for x in withdrawn.json()["items"]] == [link_id]
    again = registrar.post(
        "/api/support-links",
        json={"hub_code": "VN-BM", "spoke_code": "VN-SS", "specialty_codes": ["nephrology"]},
    )
    assert again.status_code == 201
    assert again.json()["id"] == link_id and again.json()["active"] is True
    r = registrar.delete("/api/support-links/987654")
    assert r.status_code == 404 and fields(r) == {"link_id"}


def test_an_unknown_specialty_or_facility_in_a_link_is_named(
    registrar: TestClient, world: World
) -> None:
    r = registrar.post(
        "/api/support-links",
        json={"hub_code": "VN-BM", "spoke_code": "VN-SS", "specialty_codes": ["astrology"]},
    )
    assert r.status_code == 422 and fields(r) == {"specialty_codes"}
    r = registrar.post("/api/support-links", json={"hub_code": "VN-XX", "spoke_code": "VN-SS"})
    assert r.status_code == 422 and fields(r) == {"hub_code"}


def export_program(registrar: TestClient) -> None:
    r = registrar.post(
        "/api/programs",
        json={
            "code": "medical-export",
            "name": "Medical services export",
            "kind": "medical_services_export",
            "country": "VN",
        },
    )
    assert r.status_code == 201, r.text


def enrol(registrar: TestClient, code: str, start: str, end: str | None = None) -> httpx.Response:
    body: dict[str, object] = {"facility_code": code, "start_date": start}
    if end:
        body["end_date"] = end
    return registrar.post("/api/programs/medical-export/enrolments", json=body)


def test_how_many_facilities_were_in_the_program_on_a_day(
    registrar: TestClient, world: World
) -> None:
    export_program(registrar)
    for code, start, end in [
        ("VN-BM", "2019-01-01", None),
        ("VN-SS", "2019-03-01", "2019-05-31"),
        ("LA-MH", "2019-06-01", None),
    ]:
        r = enrol(registrar, code, start, end)
        assert r.status_code == 201, r.text

    def on(day: str) -> list[str]:
        r = registrar.get("/api/programs/medical-export/facilities", params={"on": day})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["total"] == len(body["items"])
        return sorted(x["code"] for x in body["items"])

    assert on("2018-12-31") == []
    assert on("2019-01-01") == ["VN-BM"]
    assert on("2019-03-01") == ["VN-BM", "VN-SS"]
    assert on("2019-05-31") == ["VN-BM", "VN-SS"]
    assert on("2019-06-01") == ["LA-MH", "VN-BM"]
    in_june = registrar.get(
        "/api/facilities", params={"program": "medical-export", "on": "2019-06-15"}
    )
    assert in_june.json()["total"] == 2


def test_overlapping_enrolments_are_refused_and_an_enrolment_is_ended(
    registrar: TestClient, world: World
) -> None:
    export_program(registrar)
    first = enrol(registrar, "VN-SS", "2019-01-01")
    assert first.status_code == 201
    clash = enrol(registrar, "VN-SS", "2018-06-01", "2019-01-01")
    assert clash.status_code == 409 and fields(clash) == {"start_date"}
    enrolment_id = first.json()["id"]
    early = registrar.post(f"/api/enrolments/{enrolment_id}/end", json={"end_date": "2018-12-31"})
    assert early.status_code == 422 and fields(early) == {"end_date"}
    ended = registrar.post(f"/api/enrolments/{enrolment_id}/end", json={"end_date": "2019-06-30"})
    assert ended.status_code == 200 and ended.json()["end_date"] == "2019-06-30"
    twice = registrar.post(f"/api/enrolments/{enrolment_id}/end", json={"end_date": "2019-07-30"})
    assert twice.status_code == 409
    later = enrol(registrar, "VN-SS", "2019-07-01")
    assert later.status_code == 201
    listed = registrar.get("/api/programs/medical-export/enrolments", params={"facility": "VN-SS"})
    assert [(e["start_date"], e["end_date"]) for e in listed.json()] == [
        ("2019-01-01", "2019-06-30"),
        ("2019-07-01", None),
    ]
    backwards = enrol(registrar, "VN-BM", "2019-07-01", "2019-06-01")
    assert backwards.status_code == 422


def test_programs_are_listed_and_read_and_unknown_ones_are_404(
    registrar: TestClient, world: World
) -> None:
    export_program(registrar)
    assert [p["code"] for p in registrar.get("/api/programs").json()] == ["medical-export"]
    assert registrar.get("/api/programs/medical-export").json()["kind"] == (
        "medical_services_export"
    )
    r = registrar.get("/api/programs/nope/facilities", params={"on": "2019-01-01"})
    assert r.status_code == 404 and fields(r) == {"program_code"}
    r = enrol(registrar, "VN-XX", "2019-01-01")
    assert r.status_code == 422 and fields(r) == {"facility_code"}
    dup = registrar.post(
        "/api/programs",
        json={"code": "medical-export", "name": "Again", "kind": "medical_services_export"},
    )
    assert dup.status_code == 409 and fields(dup) == {"code"}


def test_a_bridge_point_is_added_listed_and_suspended(registrar: TestClient, world: World) -> None:
    r = registrar.post(
        "/api/bridge-points",
        json={
            "facility_code": "VN-BM",
            "name": "Phòng hội chẩn 1",
            "kind": "webrtc",
            "address": "https://bm.example.vn/room/1",
        },
    )
    assert r.status_code == 201, r.text
    point = r.json()
    assert point["status"] == "active"
    listed = registrar.get(f"/api/facilities/{world.bach_mai.id}/bridge-points").json()
    assert [p["id"] for p in listed] == [point["id"]]
    r = registrar.patch(f"/api/bridge-points/{point['id']}", json={"status": "suspended"})
    assert r.status_code == 200 and r.json()["status"] == "suspended"
    by_status = registrar.get("/api/bridge-points", params={"status": "suspended"}).json()
    assert [p["facility_code"] for p in by_status] == ["VN-BM"]
    r = registrar.patch(f"/api/bridge-points/{point['id']}", json={"status": "broken"})
    assert r.status_code == 422 and fields(r) == {"status"}
    r = registrar.patch("/api/bridge-points/987654", json={"status": "off"})
    assert r.status_code == 404 and fields(r) == {"bridge_point_id"}
