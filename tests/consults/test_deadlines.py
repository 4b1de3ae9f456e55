"""Deadlines per urgency and program, and what happens when one passes."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from puente.access.models import User
from puente.config import Settings
from puente.consults import repository as repo
from puente.consults.cli import escalation_loop
from puente.consults.deadlines import DEFAULT_MINUTES, Escalation, escalate_due
from puente.db import utcnow
from puente.enums import ConsultStatus, ConsultUrgency
from puente.notify import service as notify
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
    # The time it names is when the case moves on, not the deadline that passed.
    moves_on = notify.when(case.due_at, "Asia/Ho_Chi_Minh", "vi")
    assert case.due_at > due and f"Hãy phân công chuyên gia trước {moves_on}" in overdue.body
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


def test_the_server_s_own_escalation_loop_moves_an_overdue_emergency_without_anyone_running_it(
    app: FastAPI, net: Net, session_factory: sessionmaker[Session]
) -> None:
    """What `puente serve` runs in a thread of its own (unless
    PUENTE_ESCALATE_IN_PROCESS=false): Dr Lan's emergency, 31 minutes
    unanswered at Bạch Mai, reaches its coordinator on the next pass."""
    case_id = _ask(app, net, patient_id=net.ids["tuan"])
    case = repo.case(net.db, case_id)
    assert case is not None
    case.due_at = utcnow() - timedelta(minutes=1)
    net.db.commit()
    steps: list[Escalation] = []
    stop = threading.Event()

    def seen(step: Escalation) -> None:
        steps.append(step)
        stop.set()

    loop = threading.Thread(
        target=escalation_loop,
        args=(session_factory,),
        kwargs={"interval": 0.05, "report": seen, "stop": stop},
    )
    loop.start()
    stop.wait(10)
    stop.set()
    loop.join(10)
    assert not loop.is_alive()
    assert [(s.case_id, s.kind) for s in steps] == [(case_id, "escalated_coordinator")]
    net.db.expire_all()
    assert repo.case(net.db, case_id).escalation_stage == 1  # type: ignore[union-attr]
    assert [m.recipient for m in _told(net, "consult_overdue")] == [
        f"user:{net.users['coord.bachmai']}"
    ]


def test_puente_serve_starts_the_escalation_loop_unless_told_not_to(settings: Settings) -> None:
    from puente.cli import _start_background_work

    quiet = settings.model_copy(update={"notify_in_process": False, "escalate_in_process": False})
    assert _start_background_work(quiet) == []
    stop = threading.Event()
    stop.set()  # the loop ends at once: only that it is started is checked here
    on = settings.model_copy(update={"notify_in_process": False, "escalate_in_process": True})
    [thread] = _start_background_work(on, stop=stop)
    assert thread.name == "puente-escalate" and thread.daemon
    thread.join(10)
    assert not thread.is_alive()
