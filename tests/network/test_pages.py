"""The facility browser and facility page, rendered on the server (the
real-browser walk is in test_browser.py)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from puente.enums import AccessRole, BridgePointKind, ProgramKind
from puente.i18n import translations
from puente.network.models import BridgePoint, Program, ProgramEnrolment, SupportLink
from puente.network.pages import LABELS
from tests import factories as f
from tests.network.conftest import World


@pytest.fixture
def lucia(app: FastAPI, db: Session, world: World) -> Iterator[TestClient]:
    """Lucía, a program manager, browses with a bearer token and an HTML accept header."""
    account = f.user(db, "lucia.pm", AccessRole.program_manager)
    headers = {**f.bearer(db, account), "accept": "text/html"}
    with TestClient(app, raise_server_exceptions=False, headers=headers) as c:
        yield c


@pytest.fixture
def linked(db: Session, world: World) -> World:
    cardiology = f.specialty(db, "cardiology", "Cardiology")
    link = SupportLink(hub_id=world.bach_mai.id, spoke_id=world.mahosot.id, rank=1)
    db.add(link)
    db.flush()
    from puente.network.models import SupportLinkSpecialty

    db.add(SupportLinkSpecialty(link_id=link.id, specialty_id=cardiology.id))
    program = Program(
        code="remote-care", name="Remote care network", kind=ProgramKind.remote_care_network
    )
    db.add(program)
    db.flush()
    db.add(
        ProgramEnrolment(
            program_id=program.id, facility_id=world.mahosot.id, start_date=date(2020, 1, 1)
        )
    )
    db.add(
        BridgePoint(
            facility_id=world.mahosot.id,
            name="Teleconsult room",
            kind=BridgePointKind.webrtc,
            address="https://mahosot.example.la/room",
        )
    )
    db.flush()
    return world


def rows(html: str, table_id: str) -> list[str]:
    found = re.search(rf'<table id="{table_id}".*?<tbody>(.*?)</tbody>', html, re.S)
    assert found, f"no table {table_id}"
    return [
        re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", r)).strip()
        for r in re.findall(r"<tr>(.*?)</tr>", found.group(1), re.S)
    ]


def test_the_browser_drills_down_from_countries_to_districts(lucia: TestClient) -> None:
    top = lucia.get("/network?lang=en")
    assert top.status_code == 200
    assert any(r.startswith("Mexico MX 3") for r in rows(top.text, "areas"))
    country = lucia.get("/network?country=MX")
    assert rows(country.text, "areas") == ["Jalisco MX-JAL 3"]
    region = lucia.get("/network?country=MX&region=MX-JAL")
    assert rows(region.text, "areas") == ["Guadalajara MX-JAL-GDL 1"]
    listed = rows(region.text, "facilities")
    assert len(listed) == 3 and any("Hospital General de Zona 46" in r for r in listed)


def test_the_browser_filters_by_tier_and_program(lucia: TestClient, linked: World) -> None:
    central = lucia.get("/network?tier=central")
    assert sorted(r.split(" ")[0] for r in rows(central.text, "facilities")) == ["Bệnh", "Mahosot"]
    enrolled = lucia.get("/network?program=remote-care")
    (only,) = rows(enrolled.text, "facilities")
    assert only.startswith("Mahosot Hospital")


def test_the_facility_page_shows_links_programs_and_bridge_points(
    lucia: TestClient, linked: World
) -> None:
    page = lucia.get("/network/facilities/LA-MH")
    assert page.status_code == 200
    assert rows(page.text, "hubs") == ["Bệnh viện Bạch Mai Vietnam Cardiology 1"]
    assert "Remote care network" in rows(page.text, "enrolments")[0]
    assert "Teleconsult room" in rows(page.text, "bridge-points")[0]
    hub = lucia.get("/network/facilities/VN-BM")
    assert rows(hub.text, "spokes") == ["Mahosot Hospital Laos Cardiology 1"]


def test_the_facility_page_shows_parent_and_children(lucia: TestClient, world: World) -> None:
    page = lucia.get("/network/facilities/MX-JAL-HGZ46")
    assert 'id="parent-link">Delegación Jalisco' in page.text
    assert "Unidad de Medicina Familiar 3" in page.text


def test_an_unknown_facility_page_is_404(lucia: TestClient, world: World) -> None:
    assert lucia.get("/network/facilities/NOPE").status_code == 404


def test_the_browser_speaks_spanish_and_keeps_the_drill_down_on_a_language_change(
    lucia: TestClient, world: World
) -> None:
    page = lucia.get("/network?country=MX&region=MX-JAL&lang=es")
    assert "Red de establecimientos" in page.text
    assert '<input type="hidden" name="region" value="MX-JAL">' in page.text


def test_every_label_of_the_network_pages_is_translated() -> None:
    templates = Path(__file__).parents[2] / "src/puente/network/templates/network"
    messages = set(LABELS.values())
    for template in templates.glob("*.html"):
        messages |= set(re.findall(r"""_\(["']([^"']+)["']""", template.read_text()))
    for language in ("es", "ru", "vi"):
        catalog = translations(language)
        missing = sorted(m for m in messages if m not in catalog._catalog)
        assert missing == [], language
