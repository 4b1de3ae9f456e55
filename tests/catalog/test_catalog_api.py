"""The catalog over the JSON API and on its page: everyone signed in reads
it, in their language; only catalog writers change it."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from puente.catalog.service import sync_catalog
from puente.enums import AccessRole
from tests import factories as f


@pytest.fixture(autouse=True)
def shipped_catalog(db: Session) -> None:
    sync_catalog(db)


@pytest.fixture
def clinician(client: TestClient, db: Session) -> TestClient:
    """Dr. Ana Ruiz, a clinician at a Guadalajara family-medicine unit."""
    f.facility(db, "MX-GDL-UMF3")
    client.headers.update(f.bearer(db, f.user(db, "ana.ruiz", AccessRole.clinician, "MX-GDL-UMF3")))
    return client


@pytest.fixture
def curator(client: TestClient, db: Session) -> TestClient:
    """Sergio, the national administrator who curates the catalog."""
    client.headers.update(f.bearer(db, f.user(db, "sergio", AccessRole.national_admin)))
    return client


def _codes(response: object) -> set[str]:
    body = response.json()  # type: ignore[attr-defined]
    return {item["code"] for item in body["items"]}


def test_a_clinician_lists_the_screenings(clinician: TestClient) -> None:
    response = clinician.get("/api/services", params={"kind": "screening", "limit": 100})
    assert response.status_code == 200
    assert {"screen-mammography", "screen-hepatitis-c"} <= _codes(response)
    assert all(item["kind"] == "screening" for item in response.json()["items"])


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("mastografía", "screen-mammography"),
        ("МАММОГРАФИЯ", "screen-mammography"),
        ("ghép thận", "transplant-kidney"),
        ("cataract", "surgery-cataract-iol"),
    ],
)
def test_search_finds_a_service_by_its_label_in_any_language(
    clinician: TestClient, text: str, code: str
) -> None:
    response = clinician.get("/api/services", params={"q": text})
    assert response.status_code == 200
    assert code in _codes(response)


def test_services_filter_by_specialty_code(clinician: TestClient) -> None:
    response = clinician.get("/api/services", params={"specialty": "ophthalmology"})
    assert {"consult-ophthalmology", "surgery-cataract-iol", "transplant-cornea"} <= _codes(
        response
    )
    assert all(i["specialty_code"] == "ophthalmology" for i in response.json()["items"])
    assert clinician.get("/api/services", params={"specialty": "nope"}).json()["total"] == 0


def test_specialties_are_listed_and_read_by_id(clinician: TestClient) -> None:
    found = clinician.get("/api/specialties", params={"q": "нефро"}).json()["items"]
    assert [s["code"] for s in found] == ["nephrology"]
    one = clinician.get(f"/api/specialties/{found[0]['id']}")
    assert one.json()["name_es"] == "Nefrología"
    assert clinician.get("/api/specialties/999999").status_code == 404


def test_a_clinician_may_not_change_the_catalog(clinician: TestClient) -> None:
    response = clinician.post(
        "/api/services",
        json={"code": "x-ray-knee", "kind": "imaging", "name_en": "Knee X-ray",
              "name_es": "Radiografía de rodilla", "name_ru": "Рентген колена",
              "name_vi": "Chụp X-quang gối"},
    )  # fmt: skip
    assert response.status_code == 403
    assert response.json()["errors"][0]["field"] == "permission"


def test_the_curator_adds_and_renames_a_service(curator: TestClient) -> None:
    body = {
        "code": "screen-prostate",
        "kind": "screening",
        "specialty_code": "urology",
        "name_en": "Prostate cancer screening",
        "name_es": "Detección de cáncer de próstata",
        "name_ru": "Скрининг рака предстательной железы",
        "name_vi": "Sàng lọc ung thư tuyến tiền liệt",
    }
    created = curator.post("/api/services", json=body)
    assert created.status_code == 201, created.text
    service_id = created.json()["id"]
    assert created.headers["location"] == f"/api/services/{service_id}"
    assert created.json()["specialty_code"] == "urology"

    again = curator.post("/api/services", json=body)
    assert again.status_code == 409
    assert again.json()["errors"][0]["field"] == "code"

    renamed = curator.patch(
        f"/api/services/{service_id}", json={"name_vi": "Tầm soát ung thư tuyến tiền liệt"}
    )
    assert renamed.status_code == 200
    assert renamed.json()["name_vi"] == "Tầm soát ung thư tuyến tiền liệt"
    assert renamed.json()["name_en"] == "Prostate cancer screening"


def test_bad_service_writes_name_the_field(curator: TestClient) -> None:
    unknown = curator.post(
        "/api/services",
        json={"code": "a", "kind": "surgery", "specialty_code": "astrology", "name_en": "A",
              "name_es": "A", "name_ru": "А", "name_vi": "A"},
    )  # fmt: skip
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "specialty_code"
    service_id = curator.get("/api/services", params={"code": "imaging-mri"}).json()["items"][0]
    cleared = curator.patch(f"/api/services/{service_id['id']}", json={"name_en": None})
    assert cleared.status_code == 422
    assert cleared.json()["errors"][0]["field"] == "name_en"
    assert curator.patch("/api/services/999999", json={"active": False}).status_code == 404


def test_the_catalog_page_lists_services_by_kind_in_spanish(clinician: TestClient) -> None:
    page = clinician.get("/catalog", params={"lang": "es"})
    assert page.status_code == 200
    assert "Catálogo de servicios" in page.text
    assert "Detecciones" in page.text
    assert "Mastografía de detección" in page.text
    assert page.text.index('id="kind-consultation"') < page.text.index('id="kind-surgery"')


def test_the_catalog_page_filters_by_kind_in_russian(clinician: TestClient) -> None:
    page = clinician.get("/catalog", params={"lang": "ru", "kind": "transplant"})
    assert "Трансплантация почки" in page.text
    assert "Скрининговая маммография" not in page.text


def test_the_catalog_page_asks_a_stranger_to_sign_in(client: TestClient) -> None:
    page = client.get("/catalog", headers={"accept": "text/html"}, follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"].startswith("/login")
