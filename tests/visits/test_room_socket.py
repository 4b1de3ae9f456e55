"""The visit room over its API and WebSocket: who gets a room token, what the
socket refuses, the lobby, admission, rejoining, chat and the end of the call.
(The call between two real browsers: test_room_call.py.)"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from puente.access.models import AuditEvent
from puente.db import utcnow
from puente.enums import AuditOutcome, VisitStatus
from puente.video.tokens import Side, issue_room_token
from puente.visits import room
from puente.visits.models import Visit
from tests import factories as f
from tests.visits.room_world import RoomWorld, room_world


@pytest.fixture
def world(db: Session) -> RoomWorld:
    return room_world(db)


OPEN_SOCKETS: list[Any] = []


@pytest.fixture
def as_user(app: FastAPI, db: Session) -> Iterator[Any]:
    """A client signed in (bearer token) as a given account; all share one
    event loop, as the browsers of one room share one server."""
    with TestClient(app, raise_server_exceptions=False) as client:

        def sign_in(account: Any) -> TestClient:
            client.headers.clear()
            client.headers.update(f.bearer(db, account))
            return client

        yield sign_in
        while OPEN_SOCKETS:
            with contextlib.suppress(Exception):
                OPEN_SOCKETS.pop().__exit__(None, None, None)


def token_for(client: TestClient, visit_id: int) -> str:
    r = client.post(f"/api/visits/{visit_id}/room-token")
    assert r.status_code == 200, r.text
    return str(r.json()["token"])


def next_of(ws: Any, kind: str, limit: int = 20, **match: Any) -> dict[str, Any]:
    """The next event of ``kind`` with the ``match`` fields (others are skipped)."""
    for _ in range(limit):
        event: dict[str, Any] = ws.receive_json()
        if event["type"] == kind and all(event.get(k) == v for k, v in match.items()):
            return event
    raise AssertionError(f"no {kind} event")


def close_code(ws: Any) -> int:
    for _ in range(20):
        message = ws.receive()
        if message["type"] == "websocket.close":
            return int(message["code"])
    raise AssertionError("the socket stayed open")


def join(client: TestClient, visit_id: int, token: str) -> Any:
    ws = client.websocket_connect(f"/ws/visits/{visit_id}")
    session = ws.__enter__()
    OPEN_SOCKETS.append(session)
    session.send_json({"type": "join", "token": token})
    return session


# Tokens --------------------------------------------------------------------------


def test_the_patient_and_the_clinician_of_the_visit_each_get_a_token_for_their_side(
    world: RoomWorld, as_user: Any
) -> None:
    doctor = as_user(world.clinician).post(f"/api/visits/{world.visit_id}/room-token")
    assert doctor.status_code == 200
    assert doctor.json()["side"] == "clinician"
    assert doctor.json()["expires_in"] == 120
    patient = as_user(world.patient).post(f"/api/visits/{world.visit_id}/room-token")
    assert patient.json()["side"] == "patient"
    assert patient.json()["socket_path"] == f"/ws/visits/{world.visit_id}"


def test_another_patient_and_a_clinician_elsewhere_find_no_room_and_are_kept_on_record(
    world: RoomWorld, as_user: Any, db: Session
) -> None:
    for intruder in (world.other_patient, world.elsewhere):
        r = as_user(intruder).post(f"/api/visits/{world.visit_id}/room-token")
        assert r.status_code == 404
        assert as_user(intruder).get(f"/visits/{world.visit_id}/room").status_code == 404
    denied = db.scalars(
        select(AuditEvent).where(
            AuditEvent.outcome == AuditOutcome.denied, AuditEvent.resource_type == "Visit"
        )
    ).all()
    assert {e.username for e in denied} == {"marina", "dr.kuznetsov"}
    assert {e.patient_id for e in denied} == {world.patient_id}


def test_an_anonymous_caller_gets_no_token(world: RoomWorld, client: TestClient) -> None:
    assert client.post(f"/api/visits/{world.visit_id}/room-token").status_code == 401


# The socket's door ----------------------------------------------------------------


def test_the_socket_refuses_a_connection_without_a_token(
    world: RoomWorld, client: TestClient
) -> None:
    with client.websocket_connect(f"/ws/visits/{world.visit_id}") as ws:
        ws.send_json({"type": "join"})
        assert close_code(ws) == 4401


def test_the_socket_refuses_expired_forged_and_foreign_tokens(
    world: RoomWorld, client: TestClient, app: FastAPI
) -> None:
    secret = app.state.settings.secret_key
    uid = world.patient.id  # type: ignore[attr-defined]
    expired = issue_room_token(
        secret,
        visit_id=world.visit_id,
        user_id=uid,
        side=Side.patient,
        name="Nikolai",
        now=utcnow() - timedelta(minutes=3),
    )
    forged = issue_room_token(
        "someone else's secret", visit_id=world.visit_id, user_id=uid, side=Side.clinician, name="x"
    )
    foreign = issue_room_token(
        secret, visit_id=world.other_visit_id, user_id=uid, side=Side.patient, name="Nikolai"
    )
    for token, code in ((expired, 4401), (forged, 4401), ("garbage", 4401), (foreign, 4403)):
        with client.websocket_connect(f"/ws/visits/{world.visit_id}") as ws:
            ws.send_json({"type": "join", "token": token})
            assert close_code(ws) == code, token


def test_a_closed_visit_has_no_room(world: RoomWorld, as_user: Any, db: Session) -> None:
    client = as_user(world.patient)
    token = token_for(client, world.visit_id)
    visit = db.get(Visit, world.visit_id)
    assert visit is not None
    visit.status = VisitStatus.closed
    db.flush()
    assert client.post(f"/api/visits/{world.visit_id}/room-token").status_code == 409
    ws = join(client, world.visit_id, token)
    assert close_code(ws) == 4403


# Lobby, admission, signaling --------------------------------------------------------


def test_the_patient_waits_in_the_lobby_and_media_flows_only_after_admission(
    world: RoomWorld, as_user: Any, db: Session
) -> None:
    patient_token = token_for(as_user(world.patient), world.visit_id)
    client = as_user(world.clinician)
    doctor_token = token_for(client, world.visit_id)

    patient = join(client, world.visit_id, patient_token)
    welcome = next_of(patient, "welcome")
    assert welcome["status"] == "lobby" and welcome["peer"] is False
    # In the lobby the patient cannot reach the clinician's media.
    patient.send_json({"type": "signal", "data": {"gen": 1, "description": {"type": "offer"}}})
    assert next_of(patient, "error")["error"] == "not in the call"

    doctor = join(client, world.visit_id, doctor_token)
    welcome = next_of(doctor, "welcome")
    assert welcome == {**welcome, "status": "lobby", "peer": True, "side": "clinician"}
    assert next_of(patient, "presence") == {
        "type": "presence",
        "side": "clinician",
        "present": True,
        "status": "lobby",
    }

    doctor.send_json({"type": "admit"})
    assert next_of(doctor, "status")["status"] == "in_call"
    assert next_of(patient, "status")["status"] == "in_call"
    visit = db.get(Visit, world.visit_id)
    assert visit is not None
    db.refresh(visit)
    assert visit.status == VisitStatus.in_call and visit.started_at is not None

    offer = {"gen": 1, "description": {"type": "offer", "sdp": "v=0"}}
    doctor.send_json({"type": "signal", "data": offer})
    assert next_of(patient, "signal")["data"] == offer
    answer = {"gen": 1, "description": {"type": "answer", "sdp": "v=0"}}
    patient.send_json({"type": "signal", "data": answer})
    assert next_of(doctor, "signal")["data"] == answer
    patient.__exit__(None, None, None)
    doctor.__exit__(None, None, None)


def test_a_patient_who_drops_rejoins_the_call_within_the_grace_period_without_admission(
    world: RoomWorld, as_user: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = as_user(world.clinician)
    doctor = join(client, world.visit_id, token_for(client, world.visit_id))
    next_of(doctor, "welcome")
    client = as_user(world.patient)
    patient = join(client, world.visit_id, token_for(client, world.visit_id))
    next_of(patient, "welcome")
    doctor.send_json({"type": "admit"})
    next_of(patient, "status")

    patient.__exit__(None, None, None)  # the connection drops
    gone = next_of(doctor, "presence", present=False)
    assert gone["side"] == "patient" and gone["status"] == "in_call"

    patient = join(client, world.visit_id, token_for(client, world.visit_id))
    assert next_of(patient, "welcome")["status"] == "in_call"
    back = next_of(doctor, "presence", present=True)
    assert back["status"] == "in_call"

    # Away longer than the grace period: back to the lobby, admitted again.
    patient.__exit__(None, None, None)
    next_of(doctor, "presence", present=False)
    monkeypatch.setattr(room, "REJOIN_GRACE", timedelta(0))
    patient = join(client, world.visit_id, token_for(client, world.visit_id))
    assert next_of(patient, "welcome")["status"] == "lobby"
    assert next_of(doctor, "presence", present=True)["status"] == "lobby"
    patient.__exit__(None, None, None)
    doctor.__exit__(None, None, None)


def test_joining_again_from_another_window_closes_the_older_one(
    world: RoomWorld, as_user: Any
) -> None:
    client = as_user(world.patient)
    first = join(client, world.visit_id, token_for(client, world.visit_id))
    next_of(first, "welcome")
    second = join(client, world.visit_id, token_for(client, world.visit_id))
    assert next_of(second, "welcome")["status"] == "lobby"
    assert close_code(first) == 4409
    second.__exit__(None, None, None)


def test_only_the_clinician_ends_the_call_and_the_room_then_stays_shut(
    world: RoomWorld, as_user: Any, db: Session
) -> None:
    client = as_user(world.patient)
    patient_token = token_for(client, world.visit_id)
    client = as_user(world.clinician)
    doctor = join(client, world.visit_id, token_for(client, world.visit_id))
    next_of(doctor, "welcome")
    patient = join(client, world.visit_id, patient_token)
    next_of(patient, "welcome")
    doctor.send_json({"type": "admit"})
    next_of(patient, "status")

    patient.send_json({"type": "end"})  # not the patient's to do
    patient.send_json({"type": "ping", "t": 1})
    assert next_of(patient, "pong")["t"] == 1
    visit = db.get(Visit, world.visit_id)
    assert visit is not None
    db.refresh(visit)
    assert visit.ended_at is None

    doctor.send_json({"type": "end"})
    assert next_of(patient, "ended") == {"type": "ended"}
    assert close_code(patient) == 4410
    assert close_code(doctor) == 4410
    db.refresh(visit)
    assert visit.ended_at is not None and visit.status == VisitStatus.in_call
    assert client.post(f"/api/visits/{world.visit_id}/room-token").status_code == 409


def test_the_patient_may_leave_and_the_clinician_sees_it(world: RoomWorld, as_user: Any) -> None:
    client = as_user(world.clinician)
    doctor = join(client, world.visit_id, token_for(client, world.visit_id))
    next_of(doctor, "welcome")
    client = as_user(world.patient)
    patient = join(client, world.visit_id, token_for(client, world.visit_id))
    next_of(patient, "welcome")
    patient.send_json({"type": "leave"})
    assert close_code(patient) == 1000
    assert next_of(doctor, "presence", present=False)["side"] == "patient"
    doctor.__exit__(None, None, None)


# Chat ----------------------------------------------------------------------------------


def test_chat_reaches_both_sides_and_is_kept_with_the_visit(world: RoomWorld, as_user: Any) -> None:
    client = as_user(world.patient)
    patient = join(client, world.visit_id, token_for(client, world.visit_id))
    next_of(patient, "welcome")
    patient.send_json({"type": "chat", "body": "  Температура 38,2 с утра  "})
    line = next_of(patient, "chat")
    assert line["body"] == "Температура 38,2 с утра" and line["side"] == "patient"
    patient.send_json({"type": "chat", "body": "x" * 2001})
    assert "2000" in next_of(patient, "error")["error"]
    patient.__exit__(None, None, None)

    client = as_user(world.clinician)
    doctor = join(client, world.visit_id, token_for(client, world.visit_id))
    history = next_of(doctor, "welcome")["history"]
    assert [m["body"] for m in history] == ["Температура 38,2 с утра"]
    doctor.send_json({"type": "chat", "body": "Пейте больше жидкости."})
    next_of(doctor, "chat")
    doctor.__exit__(None, None, None)

    for account in (world.patient, world.clinician):
        r = as_user(account).get(f"/api/visits/{world.visit_id}/messages")
        assert [(m["side"], m["body"]) for m in r.json()] == [
            ("patient", "Температура 38,2 с утра"),
            ("clinician", "Пейте больше жидкости."),
        ]
    assert (
        as_user(world.other_patient).get(f"/api/visits/{world.visit_id}/messages").status_code
        == 404
    )


def test_the_poor_connection_modes_reach_the_other_side(world: RoomWorld, as_user: Any) -> None:
    client = as_user(world.clinician)
    doctor = join(client, world.visit_id, token_for(client, world.visit_id))
    next_of(doctor, "welcome")
    client = as_user(world.patient)
    patient = join(client, world.visit_id, token_for(client, world.visit_id))
    next_of(patient, "welcome")
    patient.send_json({"type": "mode", "mode": "audio"})
    assert next_of(doctor, "mode") == {"type": "mode", "mode": "audio", "side": "patient"}
    doctor.send_json({"type": "mode", "mode": "chat"})
    assert next_of(patient, "mode", mode="chat")["side"] == "clinician"
    patient.__exit__(None, None, None)
    doctor.__exit__(None, None, None)


# Pages ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "title"),
    [
        ("en", "Visit room"),
        ("es", "Sala de consulta"),
        ("ru", "Кабинет приёма"),
        ("vi", "Phòng khám trực tuyến"),
    ],
)
def test_the_room_and_the_device_check_speak_four_languages(
    world: RoomWorld, as_user: Any, language: str, title: str
) -> None:
    client = as_user(world.patient)
    page = client.get(f"/visits/{world.visit_id}/room?lang={language}")
    assert page.status_code == 200
    assert f"<h1>{title}" in page.text
    assert 'src="/static/room.js"' in page.text and "cdn" not in page.text.lower()
    check = client.get(f"/visits/{world.visit_id}/check?lang={language}")
    assert check.status_code == 200 and "room-check.js" in check.text
    assert client.get("/static/room.js").status_code == 200
