"""The IMSS second national recovery day (14–16 May 2021), rebuilt from an
aggregate CSV import: the indicators and the Spanish and English bulletins
state the seed's figures."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from puente.reports import bulletin, service
from puente.reports.service import Filters
from tests.reports.world import CAMPAIGN, IMSS_FIGURES, imss_day


@pytest.fixture
def jornada(db: Session, tmp_path: Path) -> Session:
    imss_day(db, tmp_path)
    return db


def test_every_seed_figure_is_an_indicator_of_the_campaign(jornada: Session) -> None:
    for code, (expected, _services) in IMSS_FIGURES.items():
        got = service.compute(jornada, code, Filters(campaign=CAMPAIGN)).total
        assert got == expected, code
    took_part = service.participation(
        jornada, service.indicator("services"), Filters(campaign=CAMPAIGN), None
    )
    assert took_part.units["state_office"] == 35
    assert took_part.units["high_specialty_unit"] == 25


def test_the_spanish_bulletin_states_the_figures_as_the_press_release(jornada: Session) -> None:
    text = bulletin.build(jornada, lang="es", campaign=CAMPAIGN).text()
    assert "Del 14 al 16 de mayo de 2021" in text
    assert "Participaron las 35 Representaciones estatales y las 25 Unidades Médicas" in text
    assert "Se realizaron 3,729 cirugías, se brindaron 17,408 consultas de especialidad" in text
    assert "y 70,067 de Medicina Familiar" in text
    for phrase in (
        "9,517 mastografías",
        "10,166 exploraciones clínicas de mama",
        "19,842 de diabetes mellitus",
        "23,080 de hipertensión arterial",
        "4,803 de cáncer cérvico-uterino",
    ):
        assert phrase in text


def test_the_press_style_writes_thousands_as_imss_does(jornada: Session) -> None:
    text = bulletin.build(jornada, lang="es", campaign=CAMPAIGN, press=True).text()
    assert "Se realizaron 3 mil 729 cirugías, se brindaron 17 mil 408 consultas" in text
    assert "y 70 mil 67 de Medicina Familiar" in text
    assert "23 mil 80 de hipertensión arterial" in text


def test_the_english_bulletin_states_the_same_figures(jornada: Session) -> None:
    text = bulletin.build(jornada, lang="en", campaign=CAMPAIGN).text()
    assert "From 14 to 16 May 2021" in text
    assert "35 state offices and 25 high-specialty medical units (UMAE)" in text
    assert "3,729 surgeries were performed" in text
    assert "17,408 specialty consultations and 70,067 family medicine consultations" in text
    for phrase in (
        "9,517 mammographies",
        "10,166 clinical breast examinations",
        "19,842 diabetes mellitus screenings",
        "23,080 arterial hypertension screenings",
        "4,803 cervical cancer screenings",
    ):
        assert phrase in text


def test_russian_and_vietnamese_bulletins_use_their_number_formats(jornada: Session) -> None:
    ru = bulletin.build(jornada, lang="ru", campaign=CAMPAIGN).text()
    assert "операций — 3\xa0729" in ru and "маммографий — 9\xa0517" in ru
    vi = bulletin.build(jornada, lang="vi", campaign=CAMPAIGN).text()
    assert "3.729 ca phẫu thuật" in vi and "70.067 lượt khám y học gia đình" in vi


def test_the_bulletin_comes_as_html_and_pdf(jornada: Session) -> None:
    made = bulletin.build(jornada, lang="es", campaign=CAMPAIGN)
    page = made.html()
    assert page.startswith("<!doctype html>") and "3,729 cirugías" in page
    pdf = made.pdf()
    assert pdf.startswith(b"%PDF") and len(pdf) > 1000


def test_a_bulletin_needs_a_campaign_or_a_whole_period(jornada: Session) -> None:
    from puente.errors import Unprocessable

    with pytest.raises(Unprocessable):
        bulletin.build(jornada, lang="es")
