"""The four program dashboards on the demo world: figures that match the
seed documents (IMSS's national day, Volgograd's 24.6 thousand foreigners
and 14 → 20 clinics, the Vietnamese network since September 2020)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from puente.enums import AccessRole
from tests import factories as f


@pytest.fixture
def analyst(demo_client: TestClient, demo_db: Session) -> TestClient:
    marta = f.user(demo_db, "marta.figures", AccessRole.program_manager)
    demo_db.commit()
    demo_client.headers.update(f.bearer(demo_db, marta))
    return demo_client


def figure(client: TestClient, indicator: str, **params: str) -> int | None:
    r = client.get(f"/api/reports/{indicator}", params=params)
    assert r.status_code == 200, r.text
    total: int | None = r.json()["total"]
    return total


def test_the_demo_national_day_has_the_press_release_figures(analyst: TestClient) -> None:
    day = {"campaign": "imss-jornada-2021-05"}
    assert figure(analyst, "surgeries", **day) == 3729
    assert figure(analyst, "specialty-consultations", **day) == 17408
    assert figure(analyst, "family-medicine-consultations", **day) == 70067
    assert figure(analyst, "hypertension-screenings", **day) == 23080
    text = analyst.get("/api/reports/bulletin", params={**day, "lang": "es"}).text
    assert "Participaron las 35 Representaciones estatales y las 25 Unidades Médicas" in text


def test_volgograd_counts_its_foreigners_and_its_clinics(analyst: TestClient) -> None:
    program = {"program": "volgograd-medical-export"}
    assert (
        figure(analyst, "foreign-patients", start="2019-01-01", end="2019-06-25", **program)
        == 24600
    )
    assert figure(analyst, "foreign-patients", region="RU-VGG", start="2018-01-01",
                  end="2018-12-31") == 40600  # fmt: skip
    assert figure(analyst, "facilities-enrolled", end="2019-01-01", **program) == 14
    assert figure(analyst, "facilities-enrolled", end="2019-06-30", **program) == 20
    ranking = analyst.get(
        "/api/reports/foreign-patients", params={**program, "by": "service", "limit": "1"}
    ).json()
    assert ranking["rows"][0]["keys"]["service"] == "diagnostics"


def test_the_vietnamese_network_consults_from_september_2020(analyst: TestClient) -> None:
    months = analyst.get(
        "/api/reports/remote-consultations", params={"program": "vn-remote-care", "by": "month"}
    ).json()
    assert months["rows"][0]["keys"]["month"] == "2020-09-01"
    assert months["total"] > 10_000


@pytest.mark.parametrize(
    "program",
    ["imss-recovery", "moscow-telemedicine", "vn-remote-care", "volgograd-medical-export"],
)
@pytest.mark.parametrize("lang", ["en", "es", "ru", "vi"])
def test_every_dashboard_opens_in_every_language(
    analyst: TestClient, program: str, lang: str
) -> None:
    r = analyst.get(f"/figures/{program}?lang={lang}")
    assert r.status_code == 200, r.text
    assert 'id="chart-data"' in r.text and 'id="areas"' in r.text


def test_the_vietnamese_network_dashboard_shows_its_breached_deadlines_by_hub(
    analyst: TestClient,
) -> None:
    """The demo world holds breached cases; the network's tiles and the
    by-hub figure agree with each other."""
    by_hub = analyst.get(
        "/api/reports/deadline-breaches", params={"program": "vn-remote-care", "by": "facility"}
    ).json()
    assert by_hub["total"] > 0
    assert sum(r["value"] for r in by_hub["rows"]) == by_hub["total"]
    page = analyst.get("/figures/vn-remote-care?lang=en")
    assert 'data-indicator="deadline-breaches"' in page.text
    assert 'data-indicator="response-time"' in page.text
