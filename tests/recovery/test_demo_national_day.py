"""The demo world's national days: the second one already run, and a new one
that Lucía Hernández (``planner.national``) builds for all 35 state offices
and 25 UMAEs, plans with a reported gap and publishes; the Jalisco state
office captures; goal attainment and the ledger move."""

from __future__ import annotations

from datetime import date, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from puente.access.demo import DEMO_PASSWORD
from puente.demo.ledger import IMSS_SECOND_DAY, SECOND_DAYS
from puente.enums import AccessRole, FacilityKind, PlanItemStatus, WaitStatus
from puente.ledger.models import LedgerEntry
from puente.network.models import Facility
from puente.recovery.models import Campaign, PlanItem, WaitingListEntry
from puente.recovery.planner import great_circle_km
from tests import factories as f

SECOND_DAY, NEXT_DAY, NEW_DAY = (
    "imss-jornada-2021-05",
    "imss-jornada-2021-06",
    "imss-jornada-2021-07",
)
DAYS = [date(2021, 7, 23) + timedelta(days=k) for k in range(3)]
LINES = {
    "surgery-general": "or_minutes",
    "consult-cardiology": "consultation_slots",
    "consult-internal-medicine": "consultation_slots",
    "screen-mammography": "screening_slots",
}


def sign_in(client: TestClient, username: str) -> TestClient:
    r = client.post("/api/auth/token", json={"username": username, "password": DEMO_PASSWORD})
    assert r.status_code == 200, r.text
    client.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
    return client


def units(db: Session) -> list[str]:
    kinds = [FacilityKind.state_office, FacilityKind.high_specialty_unit]
    return list(
        db.scalars(
            select(Facility.code).where(Facility.country_code == "MX", Facility.kind.in_(kinds))
        )
    )


def test_the_second_national_day_was_planned_run_and_measured(demo_client: TestClient) -> None:
    client = sign_in(demo_client, "planner.national")
    day = client.get(f"/api/campaigns/{SECOND_DAY}").json()
    assert day["status"] == "closed" and len(day["units"]) == 60
    [run] = client.get(f"/api/campaigns/{SECOND_DAY}/plan-runs").json()
    assert run["status"] == "done" and run["planned"] > 1000
    assert run["gap"] <= 0.01 and run["objective"] >= run["greedy_objective"]
    goals = client.get(f"/api/campaigns/{SECOND_DAY}/attainment").json()
    assert len(goals["by_unit"]) == 60
    assert 0 < goals["units_reached"] < 60
    assert len({s["key"] for s in goals["by_state"]}) == 32
    report = client.get(
        "/api/reports/goal-attainment", params={"campaign": SECOND_DAY, "by": "facility"}
    ).json()
    assert report["total"] == goals["ratio"] and len(report["rows"]) == 60
    nxt = client.get(f"/api/campaigns/{NEXT_DAY}").json()
    assert nxt["status"] == "draft" and nxt["capacity_rows"] > 0 and nxt["goal_rows"] > 0
    figures = client.get("/api/waiting-list/figures", params={"as_of": "2021-06-01"}).json()
    assert figures["size"] > 1000 and figures["weeks"][-1]["removed"] >= 0


def test_the_second_days_patients_were_captured_one_by_one_and_the_list_shrank(
    demo_client: TestClient, demo_db: Session
) -> None:
    day = demo_db.scalar(select(Campaign).where(Campaign.code == SECOND_DAY))
    assert day is not None
    outcomes = dict(
        demo_db.execute(
            select(PlanItem.status, func.count())
            .where(PlanItem.run_id == day.published_run_id, PlanItem.standby_rank.is_(None))
            .group_by(PlanItem.status)
        ).all()
    )
    done, absent = outcomes[PlanItemStatus.done], outcomes[PlanItemStatus.no_show]
    assert done > 1000 and 0 < absent < done / 5
    assert set(outcomes) <= {PlanItemStatus.done, PlanItemStatus.no_show, PlanItemStatus.cancelled}
    in_ledger = LedgerEntry.campaign_code == SECOND_DAY
    per_patient = demo_db.scalar(
        select(func.count()).where(in_ledger, LedgerEntry.patient_id.is_not(None))
    )
    assert per_patient == done
    # Seen one by one or counted, the day still adds up to the press release.
    assert demo_db.scalar(select(func.sum(LedgerEntry.count)).where(in_ledger)) == sum(
        total for total, _spread in IMSS_SECOND_DAY
    )
    served = demo_db.execute(
        select(WaitingListEntry.removed_on, func.count())
        .where(WaitingListEntry.served_campaign_id == day.id)
        .group_by(WaitingListEntry.removed_on)
    ).all()
    assert {d for d, _n in served} <= set(SECOND_DAYS) and sum(n for _d, n in served) == done
    assert (
        demo_db.scalar(
            select(func.count()).where(
                WaitingListEntry.status == WaitStatus.served,
                WaitingListEntry.served_campaign_id == day.id,
            )
        )
        == done
    )

    # Every Mexican facility has a place, near its state's capital.
    places = {
        code: (lat, lon)
        for code, lat, lon in demo_db.execute(
            select(Facility.code, Facility.latitude, Facility.longitude).where(
                Facility.country_code == "MX"
            )
        )
    }
    assert all(lat is not None and lon is not None for lat, lon in places.values())
    jalisco, nuevo_leon = places["MX-IMSS-JAL"], places["MX-IMSS-NLE"]
    assert great_circle_km(jalisco, (20.67, -103.35)) < 60  # Guadalajara
    assert 550 < great_circle_km(jalisco, nuevo_leon) < 800  # Guadalajara–Monterrey

    client = sign_in(demo_client, "planner.national")
    before = client.get("/api/waiting-list/figures", params={"as_of": "2021-05-13"}).json()
    after = client.get("/api/waiting-list/figures", params={"as_of": "2021-05-17"}).json()
    added = sum(w["added"] for w in after["weeks"] if w["week_start"] == "2021-05-10")
    assert after["size"] < before["size"] - done / 2
    [week] = [w for w in after["weeks"] if w["week_start"] == "2021-05-10"]
    assert week["removed"] == done and week["added"] == added


def test_lucia_builds_plans_and_publishes_a_national_day_and_jalisco_captures(
    demo_client: TestClient, demo_db: Session
) -> None:
    client = sign_in(demo_client, "planner.national")
    codes = units(demo_db)
    assert len(codes) == 60
    r = client.post(
        "/api/campaigns",
        json={
            "code": NEW_DAY,
            "name": "Jornada de julio",
            "country": "MX",
            "starts_on": DAYS[0].isoformat(),
            "ends_on": DAYS[-1].isoformat(),
            "units": codes,
            "lines": [{"service_code": c, "capacity_kind": k} for c, k in LINES.items()],
        },
    )
    assert r.status_code == 201, r.text
    # Operating rooms everywhere; consultations and screenings at the state
    # offices (so each state's own patients are seen at its office).
    offices = set(
        demo_db.scalars(select(Facility.code).where(Facility.kind == FacilityKind.state_office))
    )
    rows = [
        {
            "facility_code": u,
            "day": d.isoformat(),
            "service_code": c,
            "amount": 180 if k == "or_minutes" else 3,
        }
        for u in codes
        for d in DAYS
        for c, k in LINES.items()
        if k == "or_minutes" or u in offices
    ]
    assert client.put(f"/api/campaigns/{NEW_DAY}/capacity", json={"rows": rows}).status_code == 200
    goals = [{"facility_code": u, "service_code": "screen-mammography", "goal": 40} for u in codes]
    assert client.put(f"/api/campaigns/{NEW_DAY}/goals", json={"rows": goals}).status_code == 200

    r = client.post(f"/api/campaigns/{NEW_DAY}/plan-runs", json={})
    assert r.status_code == 202
    run = client.get(r.headers["Location"]).json()
    assert run["status"] == "done", run
    assert run["planned"] > 500 and 0 <= run["gap"] <= 0.01
    r = client.post(f"/api/campaigns/{NEW_DAY}/publish", json={"run_id": run["id"]})
    assert r.json()["notified"] == run["planned"]
    after_days = {"as_of": (DAYS[-1] + timedelta(days=1)).isoformat()}
    listed = client.get("/api/waiting-list/figures", params=after_days).json()["size"]

    # Marco Ruiz runs the capture at the Jalisco state office.
    marco = f.user(demo_db, "marco.ruiz", AccessRole.facility_admin, "MX-IMSS-JAL")
    jalisco = demo_client
    jalisco.headers.update(f.bearer(demo_db, marco))
    before = jalisco.get("/api/ledger/figures", params={"campaign": NEW_DAY}).json()["count"]
    items = jalisco.get(
        f"/api/plan-runs/{run['id']}/items", params={"facility": "MX-IMSS-JAL"}
    ).json()
    assert items
    seen = items[:3]
    for item in seen:
        r = jalisco.post(f"/api/campaigns/{NEW_DAY}/captures/patient", json={"item_id": item["id"]})
        assert r.status_code == 201, r.text
    r = jalisco.post(
        f"/api/campaigns/{NEW_DAY}/captures/counts",
        json={
            "facility_code": "MX-IMSS-JAL",
            "day": DAYS[1].isoformat(),
            "counts": {"screen-mammography": 45},
        },
    )
    assert r.status_code == 201
    after = jalisco.get("/api/ledger/figures", params={"campaign": NEW_DAY}).json()["count"]
    assert after == before + len(seen) + 45
    attained = jalisco.get(f"/api/campaigns/{NEW_DAY}/attainment").json()
    [unit] = attained["by_unit"]
    screened = 45 + sum(1 for i in seen if i["service_code"] == "screen-mammography")
    assert unit["key"] == "MX-IMSS-JAL" and unit["reached"] and unit["ratio"] == screened / 40
    [state] = attained["by_state"]
    assert state["key"] == "MX-JAL" and state["reached"] and state["delivered"] == screened

    # Lucía sees the national figures move: the patients seen left the list.
    lucia = sign_in(jalisco, "planner.national")
    national = lucia.get(f"/api/campaigns/{NEW_DAY}/attainment").json()
    assert national["delivered"] == screened and national["units_reached"] == 1
    assert lucia.get("/api/waiting-list/figures", params=after_days).json()["size"] == listed - len(
        seen
    )
