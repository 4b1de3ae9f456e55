"""A travel limit keeps a patient's appointment near home: a Guadalajara
patient waiting for a third-level surgery may go to any third-level unit of
the country, but with a limit of 100 km the UMAE in Mexico City (460 km away)
is out, for the planner and both baselines alike — whether the limit is the
campaign's or the entry's own. Where a place is unknown the limit excludes
nothing."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from puente.enums import CapacityKind, FacilityKind, Tier, WaitPriority
from puente.network.models import Facility
from puente.recovery import planning, service
from puente.recovery import repository as repo
from puente.recovery.planner import great_circle_km, within_reach
from puente.recovery.schemas import CampaignCreate, CapacityIn, EntryCreate, LineIn
from tests import factories as f
from tests.recovery import world as w
from tests.recovery.world import CMNO, JALISCO, SURGERY

GUADALAJARA = (20.6767, -103.3475)
MEXICO_CITY = (19.4069, -99.1543)
SIGLO_XXI = "MX-UMAE-SXXI-HE"


def test_great_circle_distances_match_the_atlas() -> None:
    assert great_circle_km((51.5074, -0.1278), (48.8566, 2.3522)) == pytest.approx(343.6, abs=0.5)
    assert great_circle_km(GUADALAJARA, MEXICO_CITY) == pytest.approx(460, abs=5)
    assert great_circle_km((0, 0), (0, 180)) == pytest.approx(20015.1, abs=0.1)  # half the earth
    assert within_reach(GUADALAJARA, MEXICO_CITY, 500)
    assert not within_reach(GUADALAJARA, MEXICO_CITY, 100)
    assert within_reach(GUADALAJARA, None, 100) and within_reach(None, MEXICO_CITY, 100)
    assert within_reach(GUADALAJARA, MEXICO_CITY, None)


@pytest.fixture
def net(db: Session) -> w.Network:
    net = w.network(db, patients=1)
    for unit, (lat, lon) in [(net.jalisco, GUADALAJARA), (net.cmno, (20.6866, -103.3264))]:
        unit.latitude, unit.longitude = lat, lon
    f.facility(
        db,
        SIGLO_XXI,
        "UMAE Hospital de Especialidades, CMN Siglo XXI",
        tier=Tier.level3,
        kind=FacilityKind.high_specialty_unit,
        region_code="MX-CMX",
        parent=net.national,
        latitude=MEXICO_CITY[0],
        longitude=MEXICO_CITY[1],
    )
    return net


def plan(
    db: Session, net: w.Network, code: str, campaign_km: int | None, entry_km: int | None
) -> tuple[list[str | None], float, float, float]:
    """Only Siglo XXI has operating-room time; (units planned, objective,
    greedy, first come first served)."""
    day = date.today() + timedelta(days=10)
    service.add_entry(
        db,
        data=EntryCreate(
            patient_id=net.patients[0].id,
            service_code=SURGERY,
            referring_facility_code=JALISCO,
            referred_on=date.today() - timedelta(days=100),
            priority=WaitPriority.p2,
            level_of_care=3,
            max_travel_km=entry_km,
            external_ref=f"{code}-1",
        ),
    )
    campaign = service.create_campaign(
        db,
        data=CampaignCreate(
            code=code,
            name=code,
            country="MX",
            starts_on=day,
            ends_on=day,
            units=[CMNO, SIGLO_XXI],
            lines=[LineIn(service_code=SURGERY, capacity_kind=CapacityKind.or_minutes)],
            max_travel_km=campaign_km,
        ),
    )
    service.set_capacity(
        db,
        campaign=campaign,
        rows=[CapacityIn(facility_code=SIGLO_XXI, day=day, service_code=SURGERY, amount=240)],
    )
    run = planning.execute(db, run=planning.start_run(db, campaign=campaign, user_id=None))
    items = planning.item_reads(db, repo.items(db, run.id, standby=False))
    assert run.objective is not None and run.greedy_objective is not None
    assert run.fcfs_objective is not None
    return (
        [i.facility_code for i in items],
        run.objective,
        run.greedy_objective,
        run.fcfs_objective,
    )


def test_without_a_limit_the_patient_goes_to_mexico_city(db: Session, net: w.Network) -> None:
    units, objective, greedy, fcfs = plan(db, net, "sin-limite", None, None)
    assert units == [SIGLO_XXI] and objective > 0 and greedy == objective == fcfs


def test_the_campaigns_limit_keeps_the_patient_out_of_a_unit_460_km_away(
    db: Session, net: w.Network
) -> None:
    assert plan(db, net, "limite-jornada", 100, None) == ([], 0.0, 0.0, 0.0)


def test_the_entrys_own_limit_applies_too(db: Session, net: w.Network) -> None:
    assert plan(db, net, "limite-propio", None, 100) == ([], 0.0, 0.0, 0.0)


def test_a_generous_entry_limit_cannot_widen_the_campaigns(db: Session, net: w.Network) -> None:
    assert plan(db, net, "limite-mayor", 100, 1000)[0] == []


def test_a_unit_whose_place_is_unknown_is_not_excluded(db: Session, net: w.Network) -> None:
    siglo = db.query(Facility).filter_by(code=SIGLO_XXI).one()
    siglo.latitude = siglo.longitude = None
    assert plan(db, net, "sin-lugar", 100, None)[0] == [SIGLO_XXI]


def test_planners_set_travel_limits_in_their_pages(
    client: TestClient, db: Session, net: w.Network
) -> None:
    w.lucia(client, db)
    page = client.get("/recovery/campaigns/new?lang=vi").text
    assert "Quãng đường đi tối đa (km)" in page
    day = (date.today() + timedelta(days=10)).isoformat()
    r = client.post(
        "/recovery/campaigns?lang=ru",
        data={
            "code": "jornada-cerca",
            "name": "Jornada cerca de casa",
            "country": "MX",
            "starts_on": day,
            "ends_on": day,
            "units": f"{CMNO}\n{SIGLO_XXI}",
            "lines": f"{SURGERY} or_minutes",
            "max_travel_km": "1500",
        },
        follow_redirects=True,
    )
    assert r.status_code == 200
    assert "Максимальное расстояние поездки (км): 1\xa0500" in r.text
    r = client.post(
        "/recovery/waiting-list",
        data={
            "patient_id": str(net.patients[0].id),
            "service_code": SURGERY,
            "referring_facility_code": JALISCO,
            "referred_on": "2025-06-01",
            "priority": "p3",
            "max_travel_km": "80",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    listed = client.get("/api/waiting-list").json()["items"]
    assert [e["max_travel_km"] for e in listed] == [80]
    r = client.post(
        "/recovery/waiting-list",
        data={
            "patient_id": str(net.patients[0].id),
            "service_code": SURGERY,
            "referring_facility_code": JALISCO,
            "referred_on": "2025-06-01",
            "priority": "p3",
            "max_travel_km": "0",
        },
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "max_travel_km"
