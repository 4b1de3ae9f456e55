"""Network status (heartbeats, tiles) and the consult metrics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi import FastAPI

from puente.consults import repository as repo
from puente.consults.metrics import metrics, percentile
from puente.enums import BridgePointKind
from puente.network.models import BridgePoint
from tests.consults.network import Net, case_body

START = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


def three_emergencies_from_dr_lan(app: FastAPI, net: Net, start: datetime) -> list[int]:
    """Dr. Lan sends three emergency cases for Tuấn, all requested at
    ``start`` with the 30-minute deadline."""
    with net.client(app, "dr.lan") as c:
        ids = [
            c.post("/api/consults", json=case_body(patient_id=net.ids["tuan"])).json()["id"]
            for _ in range(3)
        ]
    for case_id in ids:
        case = repo.case(net.db, case_id)
        assert case is not None
        case.requested_at = start
        case.first_due_at = start + timedelta(minutes=30)
    net.db.flush()
    return ids


def test_percentiles_interpolate_between_ranks() -> None:
    assert percentile([], 50) is None
    assert percentile([10], 90) == 10
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile(list(range(1, 11)), 90) == 9.1


def test_a_heartbeat_puts_con_dao_online_and_the_status_shows_it(app: FastAPI, net: Net) -> None:
    condao = BridgePoint(
        facility_id=net.ids["condao"],
        name="Phòng hội chẩn",
        kind=BridgePointKind.webrtc,
        address="-",
    )
    coto = BridgePoint(
        facility_id=net.ids["coto"], name="Phòng hội chẩn", kind=BridgePointKind.webrtc, address="-"
    )
    net.db.add_all([condao, coto])
    net.db.flush()
    with net.client(app, "dr.lan") as c:
        assert c.post(f"/api/bridge-points/{coto.id}/heartbeat").status_code == 403
        r = c.post(f"/api/bridge-points/{condao.id}/heartbeat", json={"note": "ok"})
        assert r.status_code == 200 and r.json()["online"] is True
        c.post("/api/consults", json=case_body(patient_id=net.ids["tuan"]))
        status = c.get("/api/consults/status").json()
        page = c.get("/consults/status?lang=vi")
    assert status["facilities_online"] == 1 and status["facilities"] == 2
    assert status["in_flight"] == {"emergency": 1, "urgent": 0, "routine": 0}
    assert [i["online"] for i in status["items"]] == [False, True]
    assert page.status_code == 200 and "cơ sở đang trực tuyến" in page.text


def test_metrics_give_response_times_by_hub_and_urgency_breaches_and_outcomes(
    app: FastAPI, net: Net
) -> None:
    ids = three_emergencies_from_dr_lan(app, net, START)
    start = START
    answers = [10, 20, 50]  # minutes; the last one breaches the 30-minute deadline
    with net.client(app, "dr.minh") as c:
        for case_id, _minutes in zip(ids, answers, strict=True):
            c.post(
                f"/api/consults/{case_id}/answer",
                json={"assessment": "a", "diagnoses": ["I21.1"], "plan": "p"},
            )
    for case_id, minutes in zip(ids, answers, strict=True):
        case = repo.case(net.db, case_id)
        assert case is not None
        case.answered_at = start + timedelta(minutes=minutes)
    net.db.flush()
    with net.client(app, "dr.lan") as c:
        c.post(f"/api/consults/{ids[0]}/outcome", json={"outcome": "treated_locally"})
        c.post(f"/api/consults/{ids[1]}/outcome", json={"outcome": "treated_locally"})
        r = c.post(f"/api/consults/{ids[2]}/outcome", json={"outcome": "transferred"})
        assert r.status_code == 200, r.text
    net.db.expire_all()
    found = metrics(net.db, now=start + timedelta(days=1))
    assert found.answered == 3 and found.breached == 1
    assert found.overall.median_minutes == 20 and found.overall.p90_minutes == 44
    assert found.treated_locally_share == round(2 / 3, 4)
    [row] = found.by_hub_and_urgency
    assert (row.hub_facility_code, row.urgency) == ("VN-BACHMAI", "emergency")
    assert row.breach_rate == round(1 / 3, 4)
    with net.client(app, "analyst") as c:
        r = c.get("/api/consults/metrics")
        assert r.status_code == 200 and r.json()["answered"] == 3


def test_the_reports_response_time_indicator_computes_from_answered_cases(
    app: FastAPI, net: Net
) -> None:
    from puente.reports.indicators import Breakdown
    from puente.reports.service import compute

    with net.client(app, "dr.lan") as c:
        case_id = c.post("/api/consults", json=case_body(patient_id=net.ids["tuan"])).json()["id"]
    with net.client(app, "dr.minh") as c:
        c.post(
            f"/api/consults/{case_id}/answer",
            json={"assessment": "a", "diagnoses": ["I21.1"], "plan": "p"},
        )
    net.db.expire_all()
    case = repo.case(net.db, case_id)
    assert case is not None and case.answered_at is not None
    case.answered_at = case.requested_at + timedelta(hours=3)
    net.db.flush()
    result = compute(net.db, "response-time", by=[Breakdown.facility])
    assert result.total == 3.0
    assert [(r.keys["facility"], r.value) for r in result.rows] == [("VN-BACHMAI", 3.0)]


def test_deadline_breaches_and_the_90th_percentile_are_indicators_split_by_hub_and_month(
    app: FastAPI, net: Net
) -> None:
    """Three emergency cases to Bạch Mai in January: answered after 10 and
    50 minutes (the second past its 30-minute deadline), and one never
    answered. The analyst reads the figures by hub and by month; an unknown
    breakdown is refused naming ``by``."""
    ids = three_emergencies_from_dr_lan(app, net, START)
    start = START
    with net.client(app, "dr.minh") as c:
        for case_id in ids[:2]:
            r = c.post(
                f"/api/consults/{case_id}/answer",
                json={"assessment": "a", "diagnoses": ["I21.1"], "plan": "p"},
            )
            assert r.status_code == 200, r.text
    for case_id, minutes in zip(ids[:2], [10, 50], strict=True):
        case = repo.case(net.db, case_id)
        assert case is not None
        case.answered_at = start + timedelta(minutes=minutes)
    net.db.flush()
    period = {"start": "2026-01-01", "end": "2026-01-31"}
    with net.client(app, "analyst") as c:
        breaches = c.get("/api/reports/deadline-breaches", params={**period, "by": "facility"})
        rate = c.get("/api/reports/breach-rate", params=period)
        p90 = c.get("/api/reports/response-time-p90", params={**period, "by": "month"})
        february = c.get(
            "/api/reports/deadline-breaches", params={"start": "2026-02-01", "end": "2026-02-28"}
        )
        wrong = c.get("/api/reports/deadline-breaches", params={**period, "by": "citizenship"})
    assert breaches.status_code == 200, breaches.text
    assert breaches.json()["total"] == 2
    assert [(r["keys"]["facility"], r["value"]) for r in breaches.json()["rows"]] == [
        ("VN-BACHMAI", 2)
    ]
    assert rate.json()["total"] == round(100 * 2 / 3, 1)
    # 10 and 50 minutes: the 90th percentile is 46 minutes, in hours.
    assert p90.json()["total"] == round(46 / 60, 2)
    assert [r["keys"]["month"] for r in p90.json()["rows"]] == ["2026-01-01"]
    assert february.json()["total"] == 0
    assert wrong.status_code == 422 and "by" in wrong.text
