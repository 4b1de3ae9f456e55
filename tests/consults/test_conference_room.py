"""The conference room over its WebSocket and the conference pages: Chị Hoa
chairs, Dr. Lan and Dr. Somphone join; tokens are checked, newcomers learn
who is there, signals reach the one they are for, the chair (only) moves the
agenda, and a mesh room refuses one person too many. (Three real browsers:
test_conference_call.py.)"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from puente.consults.conference_models import Conference
from puente.enums import ConferenceStatus
from puente.video.tokens import Side, issue_conference_token, issue_room_token
from tests.consults.network import Net, case_body

SOON = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    """One client (one event loop) for everyone, as one server for all browsers."""
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c
        while OPEN:  # before the client's event loop stops
            with contextlib.suppress(Exception):
                OPEN.pop().__exit__(None, None, None)


OPEN: list[Any] = []


def scheduled(client: TestClient, net: Net, participants: list[str]) -> tuple[int, list[int]]:
    cases = []
    for who, extra in (
        ("dr.lan", {"patient_id": net.ids["tuan"]}),
        (
            "dr.somphone",
            {"spoke_facility_code": "LA-MITTAPHAB", "patient_id": net.ids["noy"]},
        ),
    ):
        r = client.post("/api/consults", json=case_body(**extra), headers=net.headers[who])
        assert r.status_code == 201, r.text
        cases.append(r.json()["id"])
    r = client.post(
        "/api/consults/conferences",
        json={
            "hub_facility_code": "VN-BACHMAI",
            "title": "Giao ban hội chẩn",
            "starts_at": SOON.isoformat(),
            "case_ids": cases,
            "participants": participants,
        },
        headers=net.headers["coord.bachmai"],
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"]), cases


def token(client: TestClient, net: Net, who: str, conference_id: int) -> str:
    r = client.post(
        f"/api/consults/conferences/{conference_id}/room-token", headers=net.headers[who]
    )
    assert r.status_code == 200, r.text
    return str(r.json()["token"])


def join(client: TestClient, conference_id: int, room_token: str) -> Any:
    ws = client.websocket_connect(f"/ws/conferences/{conference_id}").__enter__()
    OPEN.append(ws)
    ws.send_json({"type": "join", "token": room_token})
    return ws


def next_of(ws: Any, kind: str, limit: int = 20, **match: Any) -> dict[str, Any]:
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


def test_the_room_refuses_missing_forged_and_foreign_tokens(
    client: TestClient, net: Net, app: FastAPI
) -> None:
    conference_id, _cases = scheduled(client, net, ["dr.lan"])
    secret = app.state.settings.secret_key
    uid = net.users["dr.lan"]
    visit_token = issue_room_token(
        secret, visit_id=conference_id, user_id=uid, side=Side.clinician, name="x"
    )
    foreign = issue_conference_token(
        secret, conference_id=conference_id + 1, user_id=uid, name="Lan", chair=False
    )
    expired = issue_conference_token(
        secret,
        conference_id=conference_id,
        user_id=uid,
        name="Lan",
        chair=False,
        now=datetime.now(UTC) - timedelta(minutes=5),
    )
    for room_token, code in (
        (None, 4401),
        (visit_token, 4401),
        (expired, 4401),
        ("garbage", 4401),
        (foreign, 4403),
    ):
        with client.websocket_connect(f"/ws/conferences/{conference_id}") as ws:
            ws.send_json({"type": "join", "token": room_token})
            assert close_code(ws) == code, room_token
    # A token of someone who is no participant (forged with the key itself)
    # still finds no seat.
    outsider = issue_conference_token(
        secret, conference_id=conference_id, user_id=net.users["dr.huong"], name="H", chair=False
    )
    with client.websocket_connect(f"/ws/conferences/{conference_id}") as ws:
        ws.send_json({"type": "join", "token": outsider})
        assert close_code(ws) == 4403


def test_newcomers_learn_who_is_here_signals_reach_their_peer_and_the_chair_moves_on(
    client: TestClient, net: Net
) -> None:
    conference_id, cases = scheduled(client, net, ["dr.lan", "dr.somphone"])
    chair = join(client, conference_id, token(client, net, "coord.bachmai", conference_id))
    hello = next_of(chair, "welcome")
    assert hello["peers"] == [] and hello["chair"] is True and hello["provider"] == "mesh"
    assert [i["case_id"] for i in hello["agenda"]] == cases and hello["position"] == 0
    lan = join(client, conference_id, token(client, net, "dr.lan", conference_id))
    lan_hello = next_of(lan, "welcome")
    assert [p["peer"] for p in lan_hello["peers"]] == [hello["you"]]
    assert lan_hello["chair"] is False
    came = next_of(chair, "presence", present=True, peer=lan_hello["you"])
    assert came["user"] == net.users["dr.lan"]
    somphone = join(client, conference_id, token(client, net, "dr.somphone", conference_id))
    third = next_of(somphone, "welcome")
    assert {p["peer"] for p in third["peers"]} == {hello["you"], lan_hello["you"]}
    # Somphone offers to Lan: only Lan gets it, with who it is from.
    somphone.send_json(
        {"type": "signal", "to": lan_hello["you"], "data": {"description": {"type": "offer"}}}
    )
    offer = next_of(lan, "signal")
    assert offer["from"] == third["you"] and offer["user"] == net.users["dr.somphone"]
    # Dr. Lan cannot move the agenda; the chair can, and everyone follows.
    lan.send_json({"type": "agenda", "position": 1})
    assert next_of(lan, "error")["error"] == "unknown message"
    chair.send_json({"type": "agenda", "position": 1})
    for ws in (chair, lan, somphone):
        assert next_of(ws, "agenda")["position"] == 1
    chair.send_json({"type": "agenda", "position": 7})  # past the end: the last case
    assert next_of(somphone, "agenda")["position"] == 1
    net.db.expire_all()
    conference = net.db.get(Conference, conference_id)
    assert conference is not None
    assert conference.current_position == 1 and conference.status == ConferenceStatus.held
    # Lan leaves: the others see her go.
    lan.send_json({"type": "leave"})
    gone = next_of(somphone, "presence", present=False)
    assert gone["peer"] == lan_hello["you"]


def test_a_decision_recorded_by_the_chair_reaches_the_room_as_stored(
    client: TestClient, net: Net
) -> None:
    conference_id, cases = scheduled(client, net, ["dr.lan"])
    chair = join(client, conference_id, token(client, net, "coord.bachmai", conference_id))
    next_of(chair, "welcome")
    lan = join(client, conference_id, token(client, net, "dr.lan", conference_id))
    next_of(lan, "welcome")
    r = client.put(
        f"/api/consults/conferences/{conference_id}/agenda/{cases[0]}/decision",
        json={"decision": "Chuyển tuyến bằng trực thăng."},
        headers=net.headers["coord.bachmai"],
    )
    assert r.status_code == 200
    chair.send_json({"type": "decided", "case_id": cases[0]})
    decided = next_of(lan, "decided")
    assert decided["case_id"] == cases[0]
    assert decided["decision"] == "Chuyển tuyến bằng trực thăng."


def test_a_full_mesh_room_refuses_the_next_participant_clearly(
    client: TestClient, net: Net, app: FastAPI
) -> None:
    conference_id, _cases = scheduled(client, net, ["dr.lan", "dr.somphone", "dr.minh"])
    # The operators lowered the mesh limit after this conference was scheduled.
    app.state.settings.conference_mesh_max = 3
    for who in ("coord.bachmai", "dr.lan", "dr.somphone"):
        ws = join(client, conference_id, token(client, net, who, conference_id))
        next_of(ws, "welcome")
    fourth = join(client, conference_id, token(client, net, "dr.minh", conference_id))
    full = next_of(fourth, "full")
    assert full["limit"] == 3 and full["provider"] == "mesh"
    assert close_code(fourth) == 4429


def test_cancelling_lets_everyone_in_the_room_go(client: TestClient, net: Net) -> None:
    conference_id, _cases = scheduled(client, net, ["dr.lan"])
    lan = join(client, conference_id, token(client, net, "dr.lan", conference_id))
    next_of(lan, "welcome")
    r = client.post(
        f"/api/consults/conferences/{conference_id}/cancel",
        json={"reason": "Bão"},
        headers=net.headers["coord.bachmai"],
    )
    assert r.status_code == 200
    next_of(lan, "cancelled")
    assert close_code(lan) == 4403


def test_the_pages_list_schedule_show_and_open_a_conference(client: TestClient, net: Net) -> None:
    conference_id, cases = scheduled(client, net, ["dr.lan"])
    hoa = net.headers["coord.bachmai"]
    listing = client.get("/consults/conferences?lang=vi", headers=hoa)
    assert listing.status_code == 200
    assert "Giao ban hội chẩn" in listing.text and "Lên lịch hội chẩn" in listing.text
    form = client.get("/consults/conferences/new?lang=es", headers=hoa)
    assert form.status_code == 200 and "Programar una sesión" in form.text
    assert f'value="{cases[0]}"' in form.text  # the hub's queue to pick from
    assert 'value="dr.minh"' in form.text  # the hub's staff to invite
    later = (SOON + timedelta(days=1)).astimezone().replace(tzinfo=None)
    made = client.post(
        "/consults/conferences/new",
        data={
            "hub_facility_code": "VN-BACHMAI",
            "title": "Hội chẩn nhi",
            "starts_at": later.strftime("%Y-%m-%dT%H:%M"),
            "minutes": "45",
            "case_ids": [str(cases[1])],
            "participants": ["dr.minh"],
            "others": "dr.somphone",
            "request_key": "form-1",
        },
        headers=hoa,
        follow_redirects=False,
    )
    assert made.status_code == 303, made.text
    new_id = int(made.headers["location"].split("/")[3].split("?")[0])
    page = client.get(f"/consults/conferences/{new_id}?lang=ru", headers=hoa)
    assert page.status_code == 200 and "Повестка" in page.text
    assert "dr.somphone · LA-MITTAPHAB" in page.text  # invited by name, from another field
    assert "Записать решение" in page.text
    bad = client.post(
        "/consults/conferences/new",
        data={"hub_facility_code": "VN-BACHMAI", "title": "x y z", "starts_at": "soon"},
        headers=hoa,
    )
    assert bad.status_code == 422
    room = client.get(f"/consults/conferences/{conference_id}/room", headers=net.headers["dr.lan"])
    assert room.status_code == 200 and "conference-config" in room.text
    outsider = client.get(
        f"/consults/conferences/{conference_id}/room", headers=net.headers["dr.huong"]
    )
    assert outsider.status_code == 404


def test_the_janus_proxy_refuses_when_janus_is_not_configured_and_unknown_sessions(
    client: TestClient, net: Net
) -> None:
    conference_id, _cases = scheduled(client, net, ["dr.lan"])
    path = f"/api/consults/conferences/{conference_id}/janus"
    r = client.post(path, json={"janus": "create"}, headers=net.headers["dr.lan"])
    assert r.status_code == 409 and r.json()["errors"][0]["field"] == "provider"
    bad = client.post(path, json={"janus": "rm -rf"}, headers=net.headers["dr.lan"])
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "janus"
