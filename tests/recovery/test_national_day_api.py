"""A national day over the JSON API: Lucía Hernández, planner at the national
office, fills the waiting list, builds the campaign, plans it with a reported
gap and publishes it; Marco Ruiz captures at the Jalisco state office; goal
attainment and the ledger move, and the waiting list shrinks."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from puente.enums import AccessRole
from puente.ledger.models import LedgerEntry
from puente.notify.models import OutboxMessage
from tests.recovery import world as w
from tests.recovery.world import CARDIOLOGY, CMNO, JALISCO, MAMMOGRAPHY, NUEVO_LEON, SURGERY

CODE = "imss-jornada-test"


@pytest.fixture
def net(db: Session) -> w.Network:
    return w.network(db)


def add_entries(client: TestClient, net: w.Network) -> list[dict[str, Any]]:
    """Every patient waits for a cardiology consultation; every third also
    for a surgery. Priorities and referral dates vary."""
    out = []
    today = date.today()
    for n, patient in enumerate(net.patients):
        unit = JALISCO if n % 3 else NUEVO_LEON
        wanted = [CARDIOLOGY] + ([SURGERY] if n % 3 == 1 else [])
        for service in wanted:
            r = client.post(
                "/api/waiting-list",
                json={
                    "patient_id": patient.id,
                    "service_code": service,
                    "referring_facility_code": unit,
                    "priority": f"p{n % 4 + 1}",
                    "referred_on": (today - timedelta(days=30 * n + 10)).isoformat(),
                },
            )
            assert r.status_code == 201, r.text
            out.append(r.json())
    return out


def build_campaign(client: TestClient) -> dict[str, Any]:
    days = w.campaign_days()
    r = client.post(
        "/api/campaigns",
        json={
            "code": CODE,
            "name": "Jornada Nacional de prueba",
            "country": "MX",
            "starts_on": days[0].isoformat(),
            "ends_on": days[-1].isoformat(),
            "units": [JALISCO, NUEVO_LEON, CMNO],
            "lines": [
                {"service_code": SURGERY, "capacity_kind": "or_minutes"},
                {"service_code": CARDIOLOGY, "capacity_kind": "consultation_slots"},
                {"service_code": MAMMOGRAPHY, "capacity_kind": "screening_slots"},
            ],
        },
    )
    assert r.status_code == 201, r.text
    capacity = [
        {"facility_code": unit, "day": d.isoformat(), "service_code": line, "amount": amount}
        for d in days
        for unit, line, amount in [
            (JALISCO, CARDIOLOGY, 2),
            (NUEVO_LEON, CARDIOLOGY, 1),
            (CMNO, SURGERY, 180),
            (CMNO, CARDIOLOGY, 1),
        ]
    ]
    r = client.put(f"/api/campaigns/{CODE}/capacity", json={"rows": capacity})
    assert r.status_code == 200, r.text
    goals = [
        {"facility_code": JALISCO, "service_code": CARDIOLOGY, "goal": 2},
        {"facility_code": JALISCO, "service_code": MAMMOGRAPHY, "goal": 50},
        {"facility_code": NUEVO_LEON, "service_code": CARDIOLOGY, "goal": 3},
        {"facility_code": CMNO, "service_code": SURGERY, "goal": 4},
    ]
    r = client.put(f"/api/campaigns/{CODE}/goals", json={"rows": goals})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    assert body["capacity_rows"] == 12 and body["goal_rows"] == 4
    return body


def plan(client: TestClient, replans: int | None = None) -> dict[str, Any]:
    r = client.post(f"/api/campaigns/{CODE}/plan-runs", json={"replans": replans})
    assert r.status_code == 202, r.text
    run = client.get(r.headers["Location"]).json()
    assert run["status"] == "done", run
    return dict(run)


def test_lucia_plans_and_publishes_a_national_day_and_the_units_capture_it(
    client: TestClient, db: Session, net: w.Network
) -> None:
    w.lucia(client, db)
    entries = add_entries(client, net)
    before = client.get("/api/waiting-list/figures").json()
    assert before["size"] == len(entries) == 16
    build_campaign(client)

    run = plan(client)
    assert run["progress"] == 100 and run["planned"] > 0
    assert run["objective"] <= run["bound"] + 1e-6
    assert 0 <= run["gap"] <= 0.01
    assert run["objective"] >= run["greedy_objective"] - 1e-6
    assert run["objective"] >= run["fcfs_objective"] - 1e-6
    items = client.get(f"/api/plan-runs/{run['id']}/items").json()
    assert len(items) == run["planned"]
    # No patient has two appointments on one day; capacity is kept.
    per_day = {(i["patient_id"], i["day"]) for i in items}
    assert len(per_day) == len(items)
    surgeries = [i for i in items if i["service_code"] == SURGERY]
    assert all(i["facility_code"] == CMNO for i in surgeries)
    assert len(surgeries) <= 3 * 2  # 180 minutes a day, 90 per surgery

    r = client.post(f"/api/campaigns/{CODE}/publish", json={"run_id": run["id"]})
    assert r.status_code == 200, r.text
    assert r.json()["notified"] == run["planned"]
    assert r.json()["campaign"]["status"] == "published"
    told = db.scalar(
        select(func.count())
        .select_from(OutboxMessage)
        .where(OutboxMessage.template == "campaign_appointment")
    )
    assert told == run["planned"]

    # Marco, at the Jalisco state office, captures his unit's day.
    w.marco(client, db)
    today = date.today().isoformat()
    mine = client.get(f"/api/plan-runs/{run['id']}/items", params={"facility": JALISCO}).json()
    assert mine and all(i["facility_code"] == JALISCO for i in mine)
    first = mine[0]
    r = client.post(
        f"/api/campaigns/{CODE}/captures/patient", json={"item_id": first["id"], "day": today}
    )
    assert r.status_code == 201, r.text
    counts = {"facility_code": JALISCO, "day": today, "counts": {MAMMOGRAPHY: 60}}
    for _ in range(2):  # a retry with the same key counts once
        r = client.post(
            f"/api/campaigns/{CODE}/captures/counts",
            json=counts,
            headers={"Idempotency-Key": "jal-mammo-1"},
        )
        assert r.status_code == 201, r.text
    ledger = db.execute(
        select(LedgerEntry.count, LedgerEntry.patient_id).where(LedgerEntry.campaign_code == CODE)
    ).all()
    assert sorted(c for c, _ in ledger) == [1, 60]

    w.lucia(client, db)
    goals = client.get(f"/api/campaigns/{CODE}/attainment").json()
    jalisco = next(u for u in goals["by_unit"] if u["key"] == JALISCO)
    assert jalisco["delivered"] == 61 and jalisco["goal"] == 52
    assert jalisco["reached"] is True
    assert goals["units_reached"] == 1
    assert {s["key"] for s in goals["by_state"]} == {"MX-JAL", "MX-NLE"}
    mammography = next(x for x in goals["by_line"] if x["key"] == MAMMOGRAPHY)
    assert mammography["ratio"] == 60 / 50
    after = client.get("/api/waiting-list/figures").json()
    assert after["size"] == before["size"] - 1


def test_a_cancelled_place_goes_to_standby_and_a_replan_keeps_confirmed_appointments(
    client: TestClient, db: Session, net: w.Network
) -> None:
    w.lucia(client, db)
    add_entries(client, net)
    build_campaign(client)
    run = plan(client)
    assert run["standby"] > 0
    client.post(f"/api/campaigns/{CODE}/publish", json={"run_id": run["id"]})
    items = client.get(f"/api/plan-runs/{run['id']}/items").json()
    # Nuevo León has three places for four patients: one waits on standby.
    confirmed = next(i for i in items if i["facility_code"] == JALISCO)
    cancelled = next(i for i in items if i["facility_code"] == NUEVO_LEON)
    r = client.post(f"/api/plan-items/{confirmed['id']}/outcome", json={"status": "confirmed"})
    assert r.status_code == 200, r.text
    r = client.post(f"/api/plan-items/{cancelled['id']}/outcome", json={"status": "cancelled"})
    assert r.status_code == 200, r.text
    filled = r.json()["standby_filled"]
    assert filled is not None
    assert (filled["facility_code"], filled["day"]) == (NUEVO_LEON, cancelled["day"])
    assert filled["status"] == "booked"

    again = plan(client, replans=run["id"])
    kept = client.get(f"/api/plan-runs/{again['id']}/items", params={"facility": JALISCO}).json()
    same = [i for i in kept if i["entry_id"] == confirmed["entry_id"]]
    assert same and same[0]["status"] == "confirmed" and same[0]["day"] == confirmed["day"]


def test_a_state_planner_may_not_plan_the_national_day(
    client: TestClient, db: Session, net: w.Network
) -> None:
    w.lucia(client, db)
    build_campaign(client)
    w.sergio(client, db)
    r = client.post(f"/api/campaigns/{CODE}/plan-runs", json={})
    assert r.status_code == 403
    assert r.json()["errors"][0]["field"] == "code"
    # He reads the campaign and plans his own state's day.
    assert client.get(f"/api/campaigns/{CODE}").status_code == 200


def test_a_unit_may_not_capture_for_another_state(
    client: TestClient, db: Session, net: w.Network
) -> None:
    w.lucia(client, db)
    build_campaign(client)
    w.marco(client, db)
    counts = {
        "facility_code": NUEVO_LEON,
        "day": date.today().isoformat(),
        "counts": {MAMMOGRAPHY: 5},
    }
    r = client.post(f"/api/campaigns/{CODE}/captures/counts", json=counts)
    assert r.status_code == 403
    assert r.json()["errors"][0]["field"] == "facility_code"


def test_capacity_outside_the_campaign_is_refused_by_field(
    client: TestClient, db: Session, net: w.Network
) -> None:
    w.lucia(client, db)
    build_campaign(client)
    late = (w.campaign_days()[-1] + timedelta(days=5)).isoformat()
    r = client.put(
        f"/api/campaigns/{CODE}/capacity",
        json={
            "rows": [
                {"facility_code": JALISCO, "day": late, "service_code": CARDIOLOGY, "amount": 3}
            ]
        },
    )
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "rows.0.day"
    r = client.put(
        f"/api/campaigns/{CODE}/goals",
        json={"rows": [{"facility_code": "MX-NOWHERE", "service_code": CARDIOLOGY, "goal": 3}]},
    )
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "rows.facility_code"


def test_the_waiting_list_import_is_all_or_nothing_and_names_row_and_column(
    client: TestClient, db: Session, net: w.Network
) -> None:
    w.lucia(client, db)
    good = "2026-01-05"
    csv = (
        "identifier_system,identifier_value,service_code,referring_facility_code,referred_on,priority\n"
        f"curp,CURP0001,{CARDIOLOGY},{JALISCO},{good},p2\n"
        f"curp,CURP0002,{SURGERY},{JALISCO},{good},p9\n"
        f"curp,NOBODY,{CARDIOLOGY},{JALISCO},{good},p3\n"
    )
    r = client.post(
        "/api/waiting-list/import", content=csv.encode(), headers={"content-type": "text/csv"}
    )
    assert r.status_code == 400
    assert [(e["row"], e["field"]) for e in r.json()["errors"]] == [(3, "priority")]
    parsed = csv.replace(",p9", ",p1")
    r = client.post(
        "/api/waiting-list/import", content=parsed.encode(), headers={"content-type": "text/csv"}
    )
    assert r.status_code == 400
    assert [(e["row"], e["field"]) for e in r.json()["errors"]] == [(4, "identifier_value")]
    assert client.get("/api/waiting-list/figures").json()["size"] == 0
    fixed = parsed.replace("NOBODY", "CURP0003")
    r = client.post(
        "/api/waiting-list/import", content=fixed.encode(), headers={"content-type": "text/csv"}
    )
    assert r.status_code == 201, r.text
    assert r.json()["created"] == 3
    listed = client.get("/api/waiting-list").json()
    assert listed["total"] == 3


def test_a_state_planner_may_not_import_entries_for_patients_outside_his_state(
    client: TestClient, db: Session, net: w.Network
) -> None:
    """Sergio plans for Nuevo León: CURP0000 lives there, CURP0001 in Jalisco."""
    w.sergio(client, db)
    header = (
        "identifier_system,identifier_value,service_code,"
        "referring_facility_code,referred_on,priority\n"
    )
    rows = [
        f"curp,CURP0000,{CARDIOLOGY},{NUEVO_LEON},2026-01-05,p2\n",
        f"curp,CURP0001,{CARDIOLOGY},{NUEVO_LEON},2026-01-05,p2\n",
    ]
    csv = {"content-type": "text/csv"}
    r = client.post(
        "/api/waiting-list/import", content=(header + "".join(rows)).encode(), headers=csv
    )
    assert r.status_code == 400
    # Refused exactly as an unknown identifier: the list does not disclose who exists.
    assert [(e["row"], e["field"]) for e in r.json()["errors"]] == [(3, "identifier_value")]
    assert "CURP0001" in r.json()["errors"][0]["message"]
    assert client.get("/api/waiting-list/figures").json()["size"] == 0
    r = client.post("/api/waiting-list/import", content=(header + rows[0]).encode(), headers=csv)
    assert r.status_code == 201, r.text
    assert r.json()["created"] == 1


def test_figures_of_the_list_count_priorities_and_long_waits(
    client: TestClient, db: Session, net: w.Network
) -> None:
    w.lucia(client, db)
    add_entries(client, net)
    figures = client.get("/api/waiting-list/figures").json()
    assert sum(p["count"] for p in figures["by_priority"]) == figures["size"]
    assert {u["key"] for u in figures["by_unit"]} == {JALISCO, NUEVO_LEON}
    # Referred 30·n + 10 days ago, n = 0..11: the oldest waited 340 days.
    assert figures["over_52_weeks"] == 0
    assert 0 < figures["share_under_18_weeks"] < 1
    assert figures["median_weeks"] is not None and figures["p92_weeks"] >= figures["median_weeks"]


def test_an_analyst_reads_figures_but_may_not_plan(
    client: TestClient, db: Session, net: w.Network
) -> None:
    w.sign_in(client, db, "ana.analyst", AccessRole.program_manager, None)
    assert client.get("/api/waiting-list/figures").status_code == 200
    assert client.get("/api/waiting-list").status_code == 403
    assert client.post(f"/api/campaigns/{CODE}/plan-runs", json={}).status_code == 403


def test_a_standby_patient_already_seen_that_day_is_not_given_the_freed_place(
    client: TestClient, db: Session, net: w.Network
) -> None:
    # The Nuevo León patient on standby had her surgery done at the CMNO on
    # the day a Nuevo León consultation is cancelled: she may not take it (at
    # most one appointment per patient per day), so nobody does.
    from puente.enums import PlanItemStatus
    from puente.recovery import service
    from puente.recovery.models import PlanItem, WaitingListEntry
    from puente.recovery.schemas import EntryCreate

    w.lucia(client, db)
    add_entries(client, net)
    build_campaign(client)
    run = plan(client)
    client.post(f"/api/campaigns/{CODE}/publish", json={"run_id": run["id"]})
    items = client.get(f"/api/plan-runs/{run['id']}/items").json()
    freed = next(i for i in items if i["facility_code"] == NUEVO_LEON)
    nl = net.nuevo_leon.id
    standby = client.get(f"/api/plan-runs/{run['id']}/items", params={"standby": True}).json()
    [waiting] = [
        e
        for i in standby
        if i["service_code"] == CARDIOLOGY
        for e in [db.get(WaitingListEntry, i["entry_id"])]
        if e is not None and e.referring_facility_id == nl
    ]
    surgery = service.add_entry(
        db,
        data=EntryCreate(
            patient_id=waiting.patient_id,
            service_code=SURGERY,
            referring_facility_code=NUEVO_LEON,
            referred_on=date.today() - timedelta(days=90),
            priority="p2",
        ),
    )
    db.add(
        PlanItem(
            run_id=run["id"],
            entry_id=surgery.id,
            facility_id=net.cmno.id,
            day=date.fromisoformat(freed["day"]),
            service_id=net.services[SURGERY].id,
            value=1.0,
            status=PlanItemStatus.done,
        )
    )
    db.commit()
    r = client.post(f"/api/plan-items/{freed['id']}/outcome", json={"status": "cancelled"})
    assert r.status_code == 200, r.text
    assert r.json()["standby_filled"] is None
