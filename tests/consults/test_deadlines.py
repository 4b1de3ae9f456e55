"""Deadlines per urgency and program, and what happens when one passes."""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi import FastAPI
from sqlalchemy import select

from puente.access.models import User
from puente.consults import repository as repo
from puente.consults.deadlines import DEFAULT_MINUTES, escalate_due
from puente.enums import ConsultStatus, ConsultUrgency
from puente.notify.models import OutboxMessage
from tests.consults.network import Net, case_body


def _ask(app: FastAPI, net: Net, who: str = "dr.lan", **body: object) -> int:
    with net.client(app, who) as c:
        r = c.post("/api/consults", json=case_body(**body))
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def _told(net: Net, template: str) -> list[OutboxMessage]:
    return list(
        net.db.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.template == template)
            .order_by(OutboxMessage.id)
        )
    )


def test_the_defaults_are_thirty_minutes_four_hours_and_three_days() -> None:
    assert {
        ConsultUrgency.emergency: 30,
        ConsultUrgency.urgent: 240,
        ConsultUrgency.routine: 4320,
    } == DEFAULT_MINUTES


def test_a_program_sets_its_own_deadlines_and_new_cases_follow_them(app: FastAPI, net: Net) -> None:
    with net.client(app, "admin") as c:
        r = c.put(
            f"/api/consults/deadlines/{net.program}",
            json={"emergency_minutes": 15, "urgent_minutes": 120, "routine_minutes": 1440},
        )
        assert r.status_code == 200, r.text
    with net.client(app, "dr.lan") as c:
        assert c.get(f"/api/consults/deadlines/{net.program}").json()["emergency_minutes"] == 15
        refused = c.put(f"/api/consults/deadlines/{net.program}", json={"emergency_minutes": 1})
        assert refused.status_code in (403, 422)
    case = repo.case(net.db, _ask(app, net, patient_id=net.ids["tuan"]))
    assert case is not None
    assert case.due_at - case.requested_at == timedelta(minutes=15)


def test_a_missed_deadline_alerts_the_coordinator_then_moves_to_the_next_hub(
    app: FastAPI, net: Net
) -> None:
    case_id = _ask(
        app,
        net,
        "dr.huong",
        spoke_facility_code="VN-COTO",
        patient_id=net.ids["bao"],
        specialty_code="pediatrics",
    )
    case = repo.case(net.db, case_id)
    assert case is not None and case.hub_facility_id == net.ids["nhi"]
    due: datetime = case.due_at
    coordinator = net.db.get(User, net.users["coord.nhi"])
    assert coordinator is not None
    coordinator.preferred_language = "vi"
    net.db.flush()

    assert escalate_due(net.db, due - timedelta(seconds=1)) == []
    first = escalate_due(net.db, due + timedelta(seconds=1))
    assert [(e.case_id, e.kind) for e in first] == [(case_id, "escalated_coordinator")]
    assert case.hub_facility_id == net.ids["nhi"] and case.breached_at is not None
    # Chị of Nhi Trung ương is told, in Vietnamese, not only shown a badge.
    [overdue] = _told(net, "consult_overdue")
    assert overdue.recipient == f"user:{net.users['coord.nhi']}" and overdue.language == "vi"
    assert f"Ca {case_id} (Cấp cứu)" in overdue.body and f"/consults/{case_id}" in overdue.body
    # The same moment again changes nothing, and tells nobody twice.
    assert escalate_due(net.db, due + timedelta(seconds=1)) == []
    assert len(_told(net, "consult_overdue")) == 1

    second = escalate_due(net.db, due + timedelta(minutes=16))
    assert [(e.case_id, e.kind) for e in second] == [(case_id, "escalated_hub")]
    assert case.hub_facility_id == net.ids["bachmai"]
    assert case.status == ConsultStatus.open
    assert case.due_at == due + timedelta(minutes=16) + timedelta(minutes=30)
    [escalated] = _told(net, "consult_escalated")
    assert escalated.recipient == f"user:{net.users['coord.bachmai']}"
    assert "Bệnh viện Bạch Mai" in escalated.body and escalated.language == "en"

    with net.client(app, "coord.bachmai") as c:
        queue = c.get("/api/consults/queue").json()
        assert queue[0]["id"] == case_id
        detail = c.get(f"/api/consults/{case_id}").json()
    assert [e["kind"] for e in detail["events"]] == [
        "created",
        "routed",
        "escalated_coordinator",
        "escalated_hub",
    ]
    assert detail["breached"] is True


def test_when_no_hub_is_left_the_case_is_marked_unrouted_and_the_step_recorded(
    app: FastAPI, net: Net
) -> None:
    case_id = _ask(app, net, patient_id=net.ids["tuan"])
    case = repo.case(net.db, case_id)
    assert case is not None
    moment = case.due_at
    kinds = []
    for _ in range(6):
        moment += timedelta(hours=1)
        kinds += [e.kind for e in escalate_due(net.db, moment)]
    # Bạch Mai, then up Côn Đảo's tier chain to Bà Rịa, then nowhere.
    assert kinds == [
        "escalated_coordinator",
        "escalated_hub",
        "escalated_coordinator",
        "unrouted",
    ]
    assert case.status == ConsultStatus.unrouted
    # Dr Lan, who asked, learns that she must call a hub herself.
    [unrouted] = _told(net, "consult_unrouted")
    assert unrouted.recipient == f"user:{net.users['dr.lan']}"
    assert [m.recipient for m in _told(net, "consult_overdue")] == [
        f"user:{net.users['coord.bachmai']}"
    ]


def test_an_answer_after_the_deadline_counts_as_breached(app: FastAPI, net: Net) -> None:
    case_id = _ask(app, net, patient_id=net.ids["tuan"])
    case = repo.case(net.db, case_id)
    assert case is not None
    case.first_due_at = case.requested_at - timedelta(minutes=1)
    case.due_at = case.first_due_at
    net.db.flush()
    with net.client(app, "dr.minh") as c:
        r = c.post(
            f"/api/consults/{case_id}/answer",
            json={"assessment": "x", "diagnoses": ["I21.1"], "plan": "y"},
        )
    assert r.status_code == 200, r.text
    assert r.json()["case"]["breached"] is True
