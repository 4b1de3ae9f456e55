"""A hub specialist sees a case's patient while they hold the case, and only
then: reassignment, a decline or an escalation to another hub ends it, and a
closed case keeps it for the follow-up window only."""

from __future__ import annotations

from datetime import datetime

from fastapi import FastAPI
from sqlalchemy import select

from puente.access.models import PatientShare
from puente.consults.service import FOLLOW_UP_ACCESS
from puente.enums import AccessRole
from tests import factories as f
from tests.consults.network import Net, case_body


def _with_dr_hai(net: Net) -> None:
    """Dr Hai, a second cardiologist at Bach Mai."""
    hai = f.user(net.db, "dr.hai", AccessRole.hub_specialist, "VN-BACHMAI")
    net.users["dr.hai"] = hai.id
    net.headers["dr.hai"] = f.bearer(net.db, hai)


def _sees_tuan(app: FastAPI, net: Net, who: str) -> bool:
    with net.client(app, who) as c:
        status = c.get(f"/api/patients/{net.ids['tuan']}").status_code
    assert status in (200, 404)
    return status == 200


def _case_from_dr_lan(app: FastAPI, net: Net) -> int:
    with net.client(app, "dr.lan") as c:
        r = c.post("/api/consults", json=case_body(patient_id=net.ids["tuan"]))
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def _assign(app: FastAPI, net: Net, case_id: int, who: str) -> None:
    with net.client(app, "coord.bachmai") as c:
        r = c.post(f"/api/consults/{case_id}/assign", json={"user_id": net.users[who]})
    assert r.status_code == 200, r.text


def test_a_reassigned_specialist_stops_seeing_the_patient_and_the_new_one_starts(
    app: FastAPI, net: Net
) -> None:
    _with_dr_hai(net)
    case_id = _case_from_dr_lan(app, net)
    assert not _sees_tuan(app, net, "dr.minh")
    _assign(app, net, case_id, "dr.minh")
    assert _sees_tuan(app, net, "dr.minh")
    _assign(app, net, case_id, "dr.hai")
    assert not _sees_tuan(app, net, "dr.minh")
    assert _sees_tuan(app, net, "dr.hai")
    # Given back to Dr Minh: one live share for him, none for Dr Hai.
    _assign(app, net, case_id, "dr.minh")
    assert _sees_tuan(app, net, "dr.minh")
    assert not _sees_tuan(app, net, "dr.hai")


def test_a_declined_case_takes_the_patient_away_from_the_hubs_specialist(
    app: FastAPI, net: Net
) -> None:
    case_id = _case_from_dr_lan(app, net)
    _assign(app, net, case_id, "dr.minh")
    with net.client(app, "coord.bachmai") as c:
        r = c.post(f"/api/consults/{case_id}/decline", json={"reason": "Cath lab closed"})
    assert r.status_code == 200, r.text
    assert not _sees_tuan(app, net, "dr.minh")


def test_a_closed_case_keeps_the_specialists_access_for_the_follow_up_window_only(
    app: FastAPI, net: Net
) -> None:
    case_id = _case_from_dr_lan(app, net)
    _assign(app, net, case_id, "dr.minh")
    with net.client(app, "dr.minh") as c:
        answer = {"assessment": "Viêm phổi.", "diagnoses": ["J18.9"], "plan": "Kháng sinh."}
        assert c.post(f"/api/consults/{case_id}/answer", json=answer).status_code == 200
    with net.client(app, "dr.lan") as c:
        closed = c.post(f"/api/consults/{case_id}/outcome", json={"outcome": "treated_locally"})
    assert closed.status_code == 200, closed.text
    assert _sees_tuan(app, net, "dr.minh")  # within the window
    shares = net.db.scalars(
        select(PatientShare).where(PatientShare.reference == f"consult:{case_id}")
    ).all()
    outcome_at = datetime.fromisoformat(closed.json()["outcome_at"])
    assert [s.expires_at for s in shares] == [outcome_at + FOLLOW_UP_ACCESS]
