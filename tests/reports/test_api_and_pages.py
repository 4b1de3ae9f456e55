"""Figures over the JSON API and the dashboard page: gated by ledger:read,
bounded by the reader's scope, live (a new ledger row shows at once),
exportable as CSV, XLSX and FHIR MeasureReport, never naming a patient. (The
dashboard page keeps its figures a minute: puente.reports.cache.)"""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from puente.app import create_app
from puente.catalog.service import service_ids_by_code
from puente.config import Settings
from puente.enums import AccessRole, LedgerSource, Mode
from puente.fhir.validation import validate
from puente.ledger import service as ledger
from puente.network.models import Facility
from tests import factories as f
from tests.reports.world import CAMPAIGN, imss_day


@pytest.fixture
def marta(client: TestClient, db: Session, tmp_path: Path) -> TestClient:
    """Marta, a program manager for the whole system, on the IMSS national day."""
    imss_day(db, tmp_path)
    account = f.user(db, "marta", AccessRole.program_manager)
    client.headers.update(f.bearer(db, account))
    return client


def test_marta_reads_surgeries_by_region_of_the_national_day(marta: TestClient) -> None:
    r = marta.get(f"/api/reports/surgeries?campaign={CAMPAIGN}&by=region")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["total"] == 3729
    assert sum(row["value"] for row in body["rows"]) == 3729
    assert len(body["rows"]) == 32  # the states


def test_figures_break_down_by_day_week_month_and_specialty(marta: TestClient) -> None:
    days = marta.get(f"/api/reports/services?campaign={CAMPAIGN}&by=day").json()
    assert [r["keys"]["day"] for r in days["rows"]] == ["2021-05-14", "2021-05-15", "2021-05-16"]
    months = marta.get(f"/api/reports/services?campaign={CAMPAIGN}&by=month").json()
    assert [r["keys"]["month"] for r in months["rows"]] == ["2021-05-01"]
    weeks = marta.get(f"/api/reports/services?campaign={CAMPAIGN}&by=week").json()
    # Friday 14 May is in the week of Monday 10 May; so are the 15th and 16th.
    assert [r["keys"]["week"] for r in weeks["rows"]] == ["2021-05-10"]
    specialties = marta.get(f"/api/reports/screenings?campaign={CAMPAIGN}&by=specialty").json()
    assert {r["keys"]["specialty"] for r in specialties["rows"]} == {
        "radiology", "gynecology", "family_medicine"
    }  # fmt: skip


def test_a_new_ledger_row_shows_at_once(marta: TestClient, db: Session) -> None:
    office = db.query(Facility).filter(Facility.code == "MX-OOAD01").one()
    ledger.record(
        db,
        facility_id=office.id,
        day=date(2021, 5, 16),
        service_id=service_ids_by_code(db, ["surgery-general"])["surgery-general"],
        count=2,
        mode=Mode.in_person,
        campaign_code=CAMPAIGN,
        source=LedgerSource.manual,
    )
    db.commit()
    assert marta.get(f"/api/reports/surgeries?campaign={CAMPAIGN}").json()["total"] == 3731


def test_filters_by_program_tier_and_unknown_codes(marta: TestClient) -> None:
    r = marta.get("/api/reports/surgeries?program=imss-recovery&tier=level3")
    assert r.json()["total"] == sum(
        row["value"]
        for row in marta.get(f"/api/reports/surgeries?campaign={CAMPAIGN}&by=tier").json()["rows"]
        if row["keys"]["tier"] == "level3"
    )
    assert marta.get("/api/reports/surgeries?program=nope").status_code == 422
    assert marta.get("/api/reports/nope").status_code == 404


def test_goal_attainment_is_delivered_over_the_campaigns_goals(
    marta: TestClient, db: Session
) -> None:
    from puente.recovery.models import Campaign, CampaignGoal

    no_campaign = marta.get("/api/reports/goal-attainment")
    assert no_campaign.status_code == 422 and "campaign" in no_campaign.text
    unknown = marta.get("/api/reports/goal-attainment?campaign=no-such-day")
    assert unknown.status_code == 422 and "no-such-day" in unknown.text
    campaign = Campaign(code=CAMPAIGN, name="Jornada", country_code="MX",
                        starts_on=date(2021, 5, 14), ends_on=date(2021, 5, 16))  # fmt: skip
    db.add(campaign)
    db.flush()
    assert marta.get(f"/api/reports/goal-attainment?campaign={CAMPAIGN}").json()["total"] is None
    units = {c: i for c, i in db.query(Facility.code, Facility.id).filter(
        Facility.code.in_(["MX-OOAD01", "MX-OOAD02"]))}  # fmt: skip
    surgery = service_ids_by_code(db, ["surgery-general"])["surgery-general"]
    # Each of the first units delivered 21 general surgeries that weekend.
    db.add_all([
        CampaignGoal(campaign_id=campaign.id, facility_id=units["MX-OOAD01"], service_id=surgery,
                     goal=20),
        CampaignGoal(campaign_id=campaign.id, facility_id=units["MX-OOAD02"], service_id=surgery,
                     goal=42),
    ])  # fmt: skip
    db.flush()
    body = marta.get(f"/api/reports/goal-attainment?campaign={CAMPAIGN}&by=facility").json()
    assert body["total"] == pytest.approx(42 / 62)
    assert {r["keys"]["facility"]: r["value"] for r in body["rows"]} == {
        "MX-OOAD01": pytest.approx(21 / 20),
        "MX-OOAD02": pytest.approx(21 / 42),
    }
    refused = marta.get(f"/api/reports/goal-attainment?campaign={CAMPAIGN}&by=day")
    assert refused.status_code == 422 and "by" in refused.text
    names = {i["code"]: i for i in marta.get("/api/reports/indicators").json()}
    assert set(names["goal-attainment"]["meaning"]) == {"en", "es", "ru", "vi"}


def test_a_facility_admin_sees_only_their_facility(
    client: TestClient, db: Session, tmp_path: Path
) -> None:
    imss_day(db, tmp_path)
    pablo = f.user(db, "pablo", AccessRole.facility_admin, "MX-UMAE01")
    body = client.get(
        f"/api/reports/surgeries?campaign={CAMPAIGN}&by=facility", headers=f.bearer(db, pablo)
    ).json()
    assert [r["keys"]["facility"] for r in body["rows"]] == ["MX-UMAE01"]


def test_a_clinician_without_ledger_read_is_refused(client: TestClient, db: Session) -> None:
    f.facility(db, "MX-JAL-HGZ46")
    ana = f.user(db, "ana", AccessRole.clinician, "MX-JAL-HGZ46")
    assert client.get("/api/reports/services", headers=f.bearer(db, ana)).status_code == 403


def test_the_area_table_exports_as_csv_and_xlsx(marta: TestClient) -> None:
    csv = marta.get(f"/api/reports/surgeries?campaign={CAMPAIGN}&by=region&format=csv")
    assert csv.headers["content-type"].startswith("text/csv")
    lines = csv.text.strip().splitlines()
    assert lines[0] == "region,region_name,Surgeries"
    assert lines[-1].endswith(",3729")
    xlsx = marta.get(f"/api/reports/surgeries?campaign={CAMPAIGN}&by=region&format=xlsx")
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    assert sheet is not None
    assert sheet.cell(row=sheet.max_row, column=3).value == 3729


@pytest.mark.parametrize("kind", ["individual", "summary"])
def test_a_measure_report_is_valid_fhir_r4(marta: TestClient, kind: str) -> None:
    r = marta.get(
        "/api/reports/surgeries/measure-report",
        params={"facility": "MX-UMAE01", "start": "2021-05-14", "end": "2021-05-16", "type": kind},
    )
    assert r.status_code == 200, r.text
    report = r.json()
    assert validate(report, "MeasureReport") == []
    assert report["type"] == kind
    assert report["group"][0]["population"][0]["count"] > 0
    assert "Patient" not in r.text


def test_the_bulletin_route_answers_in_each_language(marta: TestClient) -> None:
    es = marta.get(f"/api/reports/bulletin?campaign={CAMPAIGN}&lang=es")
    assert "3,729 cirugías" in es.text
    pdf = marta.get(f"/api/reports/bulletin?campaign={CAMPAIGN}&lang=ru&format=pdf")
    assert pdf.content.startswith(b"%PDF")


def test_the_dashboard_drills_from_country_to_facility(marta: TestClient) -> None:
    page = marta.get("/figures/imss-recovery?lang=es")
    assert page.status_code == 200, page.text
    assert "Jornadas Nacionales" in page.text and "México" in page.text
    region = marta.get("/figures/imss-recovery?country=MX&lang=en")
    assert "Estado 1" in region.text
    facilities = marta.get("/figures/imss-recovery?region=MX-S01")
    assert "Representación 1" in facilities.text
    one = marta.get("/figures/imss-recovery?facility=MX-OOAD01")
    assert "Family medicine consultation" in one.text
    assert marta.get("/figures/assets/plotly.min.js").status_code == 200


def test_the_fhir_endpoint_searches_a_measure_report(marta: TestClient, db: Session) -> None:
    umae = db.query(Facility).filter(Facility.code == "MX-UMAE01").one()
    r = marta.get(
        "/fhir/MeasureReport",
        params=[
            ("measure", "urn:puente:measure:surgeries"),
            ("reporter", f"Organization/{umae.id}"),
            ("period", "ge2021-05-14"),
            ("period", "le2021-05-16"),
        ],
    )
    assert r.status_code == 200, r.text
    [entry] = r.json()["entry"]
    assert entry["resource"]["resourceType"] == "MeasureReport"
    assert validate(entry["resource"], "MeasureReport") == []


def test_the_dashboard_page_keeps_a_figure_half_a_minute_and_says_so_unless_set_to_count_at_once(
    marta: TestClient, db: Session, settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    office = db.query(Facility).filter(Facility.code == "MX-OOAD01").one()
    surgery = service_ids_by_code(db, ["surgery-general"])["surgery-general"]

    def two_more_surgeries() -> None:
        ledger.record(
            db,
            facility_id=office.id,
            day=date(2021, 5, 16),
            service_id=surgery,
            count=2,
            mode=Mode.in_person,
            campaign_code=CAMPAIGN,
            source=LedgerSource.manual,
        )
        db.commit()

    page = marta.get("/figures/imss-recovery?lang=en").text
    assert "3,729" in page  # surgeries
    assert "each is kept up to 30 seconds" in page  # the default, and it says so
    two_more_surgeries()
    # The API counts at once; the page keeps its figure for half a minute.
    assert marta.get(f"/api/reports/surgeries?campaign={CAMPAIGN}").json()["total"] == 3731
    page = marta.get("/figures/imss-recovery?lang=en").text
    assert "3,729" in page and "3,731" not in page
    # PUENTE_DASHBOARD_CACHE_SECONDS=0: every page counts at once.
    live = create_app(
        settings.model_copy(update={"dashboard_cache_seconds": 0}), session_factory=session_factory
    )
    with TestClient(live, headers=dict(marta.headers)) as c:
        page = c.get("/figures/imss-recovery?lang=en").text
        assert "3,731" in page and "kept up to" not in page and "Figures as of" in page
        two_more_surgeries()
        assert "3,733" in c.get("/figures/imss-recovery?lang=en").text
