"""The conference room: its page, and the signaling WebSocket
``/ws/conferences/{id}`` on the video hub (:mod:`puente.video.hub`).

Entry is decided on a gated HTTP request, as for visit rooms: a participant
of a live conference gets a room token (two minutes, this conference, this
user, whether they chair it); the WebSocket admits only a connection whose
first message carries a valid one (4401 otherwise, 4403 for another
conference or a cancelled one).

Presence is kept per participant (``user:<id>``): the same person joining
again from another tab replaces their first connection (4409). In a mesh
every pair of browsers holds one RTCPeerConnection and the newcomer offers
to everyone present; so a mesh room holds at most ``conference_mesh_max``
people and the next one is refused with 4429 and a message saying so (a
Janus conference holds ``conference_max_participants``).

Messages from the browser::

    {"type": "signal", "to": <connection>, "data": {...}}  offer/answer/candidate
    {"type": "agenda", "position": n}     the chair moves to agenda item n
    {"type": "decided", "case_id": n}     the chair recorded a decision (over HTTP)
    {"type": "leave"} / {"type": "ping"}

Events to the browser: ``welcome`` (who is here, the agenda, the position),
``presence`` (someone came or went), ``signal``, ``agenda``, ``decided``,
``full``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
from fastapi import APIRouter, WebSocket
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.websockets import WebSocketDisconnect, WebSocketState

from puente.access.models import User
from puente.config import Settings
from puente.consults import conferences
from puente.consults import repository as repo
from puente.db import unit_of_work
from puente.enums import ConferenceProvider, ConferenceStatus
from puente.schemas import Id
from puente.video.hub import Event, Hub, Subscription, hub_of
from puente.video.tokens import (
    CLOSE_FORBIDDEN,
    CLOSE_REPLACED,
    CLOSE_UNAUTHENTICATED,
    ConferencePass,
    InvalidRoomToken,
    checks_room_token,
    read_conference_token,
)

router = APIRouter(tags=["consults"])

CLOSE_FULL = 4429  # a mesh room that already holds its maximum
JOIN_TIMEOUT_SECONDS = 10.0
MAX_SOCKET_MESSAGE_CHARS = 64_000


def room_name(conference_id: int) -> str:
    return f"conference:{conference_id}"


def member(user_id: int) -> str:
    return f"user:{user_id}"


def capacity(settings: Settings, provider: ConferenceProvider) -> int:
    if provider == ConferenceProvider.mesh:
        return settings.conference_mesh_max
    return settings.conference_max_participants


class RoomShut(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


async def _receive(websocket: WebSocket) -> dict[str, Any]:
    message = await websocket.receive()
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000))
    text = message.get("text")
    if not isinstance(text, str) or len(text) > MAX_SOCKET_MESSAGE_CHARS:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


async def _close(websocket: WebSocket, code: int, reason: str) -> None:
    if websocket.application_state == WebSocketState.CONNECTED:
        with contextlib.suppress(RuntimeError, WebSocketDisconnect):
            await websocket.close(code, reason[:120])


@router.websocket("/ws/conferences/{conference_id}")
@checks_room_token
async def conference_socket(websocket: WebSocket, conference_id: Id) -> None:
    """Join with ``{"type": "join", "token": ...}`` as the first message."""
    await websocket.accept()
    settings: Settings = websocket.app.state.settings
    try:
        first = await asyncio.wait_for(_receive(websocket), JOIN_TIMEOUT_SECONDS)
        token = first.get("token") if first.get("type") == "join" else None
        room_pass = read_conference_token(
            settings.secret_key,
            token if isinstance(token, str) else None,
            conference_id=conference_id,
        )
    except InvalidRoomToken as exc:
        await _close(websocket, exc.code, exc.reason)
        return
    except TimeoutError:
        await _close(websocket, CLOSE_UNAUTHENTICATED, "join with a room token first")
        return
    except WebSocketDisconnect:
        return
    connection = ConferenceConnection(
        websocket, room_pass, hub_of(websocket.app), websocket.app.state.sessionmaker, settings
    )
    await connection.run()


class ConferenceConnection:
    """One participant's browser in one conference room."""

    def __init__(
        self,
        websocket: WebSocket,
        room_pass: ConferencePass,
        hub: Hub,
        factory: sessionmaker[Session],
        settings: Settings,
    ) -> None:
        self.websocket = websocket
        self.room_pass = room_pass
        self.key = member(room_pass.user_id)
        self.room = room_name(room_pass.conference_id)
        self.hub = hub
        self.factory = factory
        self.settings = settings
        self.id = uuid.uuid4().hex
        self.names: dict[int, str] = {}
        self._send_lock = asyncio.Lock()

    async def send(self, event: Event) -> None:
        async with self._send_lock:
            await self.websocket.send_json(event)

    async def run(self) -> None:
        try:
            state = await run_in_threadpool(self._join)
        except RoomShut as shut:
            await _close(self.websocket, shut.code, shut.reason)
            return
        subscription = await self.hub.subscribe(self.room)
        arrived = False
        try:
            before = await self.hub.arrive(self.room, self.key, self.id)
            arrived = True
            others = {k: c for k, c in before.connections.items() if k != self.key}
            limit = capacity(self.settings, ConferenceProvider(state["provider"]))
            if len(others) + 1 > limit:
                await self.send({"type": "full", "limit": limit, "provider": state["provider"]})
                await _close(
                    self.websocket,
                    CLOSE_FULL,
                    f"the room is full: a {state['provider']} conference holds {limit} people",
                )
                return
            await self.hub.publish(
                self.room, {"type": "_arrived", "member": self.key, "conn": self.id}
            )
            peers = [
                {"peer": conn, "user": int(k.split(":", 1)[1]), "name": self.name_of(k)}
                for k, conn in sorted(others.items())
            ]
            await self.send(
                {
                    "type": "welcome",
                    "you": self.id,
                    "user": self.room_pass.user_id,
                    "chair": self.room_pass.chair,
                    "peers": peers,
                    "limit": limit,
                    **state,
                }
            )
            await self.hub.publish(self.room, self._presence(present=True))
            await self._pump(subscription)
        finally:
            with anyio.CancelScope(shield=True):
                await subscription.close()
                if arrived and await self.hub.depart(self.room, self.key, self.id):
                    await self.hub.publish(self.room, self._presence(present=False))

    def name_of(self, key: str) -> str:
        return self.names.get(int(key.split(":", 1)[1]), "")

    def _presence(self, *, present: bool) -> Event:
        return {
            "type": "presence",
            "present": present,
            "peer": self.id,
            "user": self.room_pass.user_id,
            "name": self.names.get(self.room_pass.user_id, self.room_pass.name),
            "from": self.id,
        }

    def _state(self, session: Session, found: conferences.Loaded) -> dict[str, Any]:
        conference = found.conference
        places = repo.facilities(session, {c.spoke_facility_id for c in found.cases.values()})
        return {
            "provider": conference.provider.value,
            "status": conference.status.value,
            "position": conference.current_position,
            "agenda": [
                {
                    "position": i.position,
                    "case_id": i.case_id,
                    "spoke": places[found.cases[i.case_id].spoke_facility_id].name,
                    "urgency": found.cases[i.case_id].urgency.value,
                    "question": found.cases[i.case_id].question,
                    "decision": i.decision,
                }
                for i in found.items
            ],
        }

    def _join(self) -> dict[str, Any]:
        """The conference as this participant enters (the chair's arrival
        marks it held)."""
        with unit_of_work(self.factory) as session:
            found = conferences.load(session, self.room_pass.conference_id)
            if found is None or found.conference.status not in conferences.LIVE:
                raise RoomShut(CLOSE_FORBIDDEN, "this conference is cancelled")
            if found.participant(self.room_pass.user_id) is None:
                raise RoomShut(CLOSE_FORBIDDEN, "not a participant of this conference")
            if self.room_pass.chair and found.conference.status == ConferenceStatus.scheduled:
                found.conference.status = ConferenceStatus.held
            ids = [p.user_id for p in found.participants]
            self.names = {
                int(u): str(n)
                for u, n in session.execute(
                    select(User.id, User.display_name).where(User.id.in_(ids))
                )
            }
            return self._state(session, found)

    async def _pump(self, subscription: Subscription) -> None:
        async with anyio.create_task_group() as group:

            async def until_done(work: Callable[[], Awaitable[None]]) -> None:
                try:
                    await work()
                except (WebSocketDisconnect, RuntimeError):
                    pass
                finally:
                    group.cancel_scope.cancel()

            group.start_soon(until_done, self._read)
            group.start_soon(until_done, lambda: self._forward(subscription))

    async def _forward(self, subscription: Subscription) -> None:
        while True:
            event: Event = await subscription.get()
            kind = event.get("type")
            if kind == "_arrived":
                if event["member"] == self.key and event["conn"] != self.id:
                    await _close(self.websocket, CLOSE_REPLACED, "joined from another window")
                    return
                continue
            if kind == "_cancelled":
                await self.send({"type": "cancelled"})
                await _close(self.websocket, CLOSE_FORBIDDEN, "the conference is cancelled")
                return
            if event.get("to") not in (None, self.id):
                continue
            if event.get("from") == self.id and not event.get("echo"):
                continue
            await self.send({k: v for k, v in event.items() if k not in ("to", "echo")})

    async def _read(self) -> None:
        while True:
            message = await _receive(self.websocket)
            kind = message.get("type")
            if kind == "signal":
                to, data = message.get("to"), message.get("data")
                if isinstance(to, str) and isinstance(data, dict):
                    await self.hub.publish(
                        self.room,
                        {
                            "type": "signal",
                            "to": to,
                            "from": self.id,
                            "user": self.room_pass.user_id,
                            "name": self.names.get(self.room_pass.user_id, ""),
                            "data": data,
                        },
                    )
            elif kind == "agenda" and self.room_pass.chair:
                position = message.get("position")
                if isinstance(position, int) and not isinstance(position, bool):
                    moved = await run_in_threadpool(self._move, position)
                    await self.hub.publish(
                        self.room, {"type": "agenda", "position": moved, "echo": True}
                    )
            elif kind == "decided" and self.room_pass.chair:
                case_id = message.get("case_id")
                if isinstance(case_id, int):
                    decided = await run_in_threadpool(self._decision, case_id)
                    if decided is not None:
                        await self.hub.publish(self.room, {**decided, "echo": True})
            elif kind == "leave":
                await _close(self.websocket, 1000, "left")
                return
            elif kind == "ping":
                await self.send({"type": "pong", "t": message.get("t")})
            else:
                await self.send({"type": "error", "error": "unknown message"})

    def _move(self, position: int) -> int:
        with unit_of_work(self.factory) as session:
            found = conferences.load(session, self.room_pass.conference_id)
            if found is None or found.conference.status not in conferences.LIVE:
                raise RoomShut(CLOSE_FORBIDDEN, "this conference is cancelled")
            return conferences.move_to(session, found.conference, position, len(found.items))

    def _decision(self, case_id: int) -> Event | None:
        """The decision as stored (never what the browser claims it is)."""
        with unit_of_work(self.factory) as session:
            found = conferences.load(session, self.room_pass.conference_id)
            if found is None:
                return None
            item = next((i for i in found.items if i.case_id == case_id), None)
            if item is None:
                return None
            return {"type": "decided", "case_id": case_id, "decision": item.decision}


async def announce_cancelled(hub: Hub, conference_id: int) -> None:
    """Close the room's connections (after the cancellation committed)."""
    await hub.publish(room_name(conference_id), {"type": "_cancelled"})
