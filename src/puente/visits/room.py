"""The visit room: device check, the call's signaling WebSocket, chat and files.

Who may enter a visit's room is decided once, on a gated HTTP request: the
visit's own patient (``visit:attend``), or a clinician or hub specialist
(``visit:conduct``) whose facilities include the visit's. A role holding
neither permission gets a 403 whatever the visit; anyone else a 404; both
leave a *denied* audit record when the visit exists. The request hands the
browser a room token (two minutes, this visit, this user, this side); the
WebSocket ``/ws/visits/{id}`` admits only a connection whose first message
carries a valid one (close code 4401 otherwise, 4403 for another visit).

The call follows the visit's status: the patient who joins waits in the
lobby (``lobby``) until the clinician admits them (``in_call``); only then are
WebRTC offers, answers and candidates passed between the two. A patient whose
connection drops (or who reloads the page) and comes back within
``REJOIN_GRACE`` is back in the call without a new admission; later, they
wait in the lobby again. The patient may leave; only the clinician ends the
call (``ended_at``), after which the room stays shut.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, BackgroundTasks, Query, Request, WebSocket
from fastapi.responses import FileResponse, HTMLResponse
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.websockets import WebSocketDisconnect, WebSocketState

from puente import i18n
from puente.access import service as access
from puente.access.gate import audit_context, requires
from puente.access.policy import Permission
from puente.access.principal import Principal
from puente.config import Settings
from puente.db import unit_of_work
from puente.deps import DB, keep_whatever_happens
from puente.enums import VisitStatus
from puente.errors import Conflict, FieldError, Forbidden, NotFound, Unprocessable
from puente.schemas import Id, Schema
from puente.video.hub import Event, Hub, Presence, Subscription, hub_of
from puente.video.tokens import (
    CLOSE_ENDED,
    CLOSE_FORBIDDEN,
    CLOSE_REPLACED,
    CLOSE_UNAUTHENTICATED,
    ROOM_TOKEN_TTL,
    InvalidRoomToken,
    RoomPass,
    Side,
    checks_room_token,
    issue_room_token,
    read_room_token,
)
from puente.visits import chat
from puente.visits.models import Visit
from puente.visits.service import end_call, mark_in_call, mark_lobby
from puente.web.templating import render

log = logging.getLogger(__name__)
router = APIRouter(tags=["visits"])

REJOIN_GRACE = timedelta(seconds=60)
JOIN_TIMEOUT_SECONDS = 10.0
CHECK_TIMEOUT_SECONDS = 120.0
MAX_SOCKET_MESSAGE_CHARS = 64_000
OPEN_STATUSES = frozenset(
    {VisitStatus.booked, VisitStatus.queued, VisitStatus.lobby, VisitStatus.in_call}
)
MODES = frozenset({"video", "audio", "chat"})


def _(text: str) -> str:
    """Marks a message for the catalogs; translated when the page is built."""
    return text


# What room.js shows, in the page's language (passed to it as JSON).
SCRIPT_MESSAGES = {
    "lobby": _("You are in the waiting room. The clinician will admit you shortly."),
    "patient_waiting": _("The patient is waiting in the lobby."),
    "waiting_patient": _("Waiting for the patient to join."),
    "waiting_clinician": _("Waiting for the clinician to join."),
    "connecting": _("Connecting…"),
    "in_call": _("In the call."),
    "patient_dropped": _("The patient's connection dropped. They can rejoin within a minute."),
    "clinician_dropped": _("The clinician's connection dropped. Please wait."),
    "ended": _("The clinician has ended the call."),
    "left": _("You left the call. You can come back within a minute."),
    "replaced": _("You joined this visit from another window; this one is closed."),
    "reconnecting": _("Connection lost. Reconnecting…"),
    "refused": _("The room could not be opened. Reload the page."),
    "mode_video": _("Video and audio are on."),
    "mode_audio": _("Audio only: video is paused to save bandwidth."),
    "mode_chat": _("Chat only: audio and video are paused."),
    "auto_audio": _("The connection is poor: switched to audio only."),
    "no_devices": _("No camera or microphone is available: you can still use the chat."),
    "file_too_large": _("The file is too large."),
    "file_refused": _("The file could not be shared."),
    "you": _("You"),
    "clinician": _("Clinician"),
    "patient": _("Patient"),
    "camera_ok": _("The camera works."),
    "camera_missing": _("No camera was found, or it is not allowed."),
    "microphone_ok": _("The microphone works."),
    "microphone_missing": _("No microphone was found, or it is not allowed."),
    "connection_ok": _("The connection works: {ms} ms round trip."),
    "connection_slow": _("The connection is slow ({ms} ms): audio only may work better."),
    "connection_failed": _("Puente could not be reached. Check your network."),
}


def room_name(visit_id: int) -> str:
    return f"visit:{visit_id}"


# Access ------------------------------------------------------------------------


def room_side(session: Session, principal: Principal, visit: Visit) -> Side | None:
    """THE room rule: which side of this visit's call ``principal`` is on, if any."""
    if (
        principal.patient_id is not None
        and principal.patient_id == visit.patient_id
        and principal.has(Permission.visit_attend)
    ):
        return Side.patient
    if principal.has(Permission.visit_conduct) and access.facility_scope(
        session, principal, Permission.visit_conduct
    ).covers(visit.facility_id):
        return Side.clinician
    return None


def _permission(side: Side) -> Permission:
    return Permission.visit_attend if side is Side.patient else Permission.visit_conduct


def enter(
    request: Request, session: Session, principal: Principal, visit_id: int, *, action: str
) -> tuple[Visit, Side]:
    """The visit and the caller's side, or 404 (kept as a denied audit record
    when the visit exists: someone tried a room that is not theirs)."""
    visit = session.get(Visit, visit_id)
    side = room_side(session, principal, visit) if visit is not None else None
    if visit is None or side is None:
        # Decided by role alone, so the answer tells nothing about the visit.
        in_calls = principal.has(Permission.visit_attend) or principal.has(Permission.visit_conduct)
        if visit is not None:
            why = "not this user's visit room" if in_calls else "takes no part in visit calls"
            keep_whatever_happens(
                request,
                access.denied_event(
                    audit_context(request, principal, Permission.visit_conduct),
                    action=action,
                    resource_type="Visit",
                    resource_id=str(visit_id),
                    patient_id=visit.patient_id,
                    detail=f"{request.url.path}: {why}"[:500],
                ),
            )
        if not in_calls:
            raise Forbidden(
                "Only the visit's patient and its clinicians enter its room.",
                errors=[FieldError("permission", "visit:attend or visit:conduct")],
            )
        raise NotFound(f"No visit {visit_id}.", errors=[FieldError("visit_id", "unknown")])
    return visit, side


def _record(
    request: Request,
    session: Session,
    principal: Principal,
    visit: Visit,
    side: Side,
    action: str,
    detail: str | None = None,
) -> None:
    access.audit(
        session,
        audit_context(request, principal, _permission(side)),
        action=action,
        resource_type="Visit",
        resource_ids=[(str(visit.id), visit.patient_id)],
        detail=detail,
    )


def call_is_open(visit: Visit) -> bool:
    return visit.status in OPEN_STATUSES and visit.ended_at is None


def require_open(visit: Visit) -> None:
    if not call_is_open(visit):
        raise Conflict(
            "The call of this visit has ended or the visit was closed.",
            errors=[FieldError("visit_id", "call ended")],
        )


def require_shareable(visit: Visit) -> None:
    """Files and messages may follow until the visit is closed (store and forward)."""
    if visit.status not in OPEN_STATUSES:
        raise Conflict(
            "The visit is closed; nothing more can be shared in it.",
            errors=[FieldError("visit_id", "closed")],
        )


# Call states: the visits service owns the life cycle (mark_lobby, mark_in_call,
# end_call); the room adds one step of its own.


def back_to_lobby(session: Session, visit: Visit) -> None:
    """A patient who was away longer than the grace period waits to be
    admitted again (the clinician may have moved on)."""
    if visit.status == VisitStatus.in_call and visit.ended_at is None:
        visit.status = VisitStatus.lobby
        session.flush()


# Tokens ------------------------------------------------------------------------


class RoomTicket(Schema):
    token: str
    side: Side
    expires_in: int
    socket_path: str


def _ticket(settings: Settings, principal: Principal, visit: Visit, side: Side) -> RoomTicket:
    token = issue_room_token(
        settings.secret_key,
        visit_id=visit.id,
        user_id=principal.user_id,
        side=side,
        name=principal.display_name,
    )
    return RoomTicket(
        token=token,
        side=side,
        expires_in=int(ROOM_TOKEN_TTL.total_seconds()),
        socket_path=f"/ws/visits/{visit.id}",
    )


def _script_config(
    request: Request, principal: Principal, visit: Visit, side: Side, ticket: RoomTicket
) -> dict[str, Any]:
    settings: Settings = request.app.state.settings
    return {
        "visitId": visit.id,
        "side": side.value,
        "token": ticket.token,
        "socketPath": ticket.socket_path,
        "tokenUrl": f"/api/visits/{visit.id}/room-token",
        "filesUrl": f"/api/visits/{visit.id}/files",
        "csrf": principal.csrf_token or "",
        "iceServers": settings.ice_servers,
        "graceSeconds": int(REJOIN_GRACE.total_seconds()),
        "maxFileBytes": settings.room_file_max_bytes,
        "messages": {key: i18n.gettext(text) for key, text in SCRIPT_MESSAGES.items()},
    }


# Pages -------------------------------------------------------------------------


@router.get("/visits/{visit_id}/room", include_in_schema=False, response_class=HTMLResponse)
def room_page(
    request: Request, visit_id: Id, db: DB, user: Annotated[Principal, requires()]
) -> HTMLResponse:
    visit, side = enter(request, db, user, visit_id, action="join")
    require_open(visit)
    _record(request, db, user, visit, side, "join")
    ticket = _ticket(request.app.state.settings, user, visit, side)
    return render(
        request,
        "visits/room.html",
        visit=visit,
        side=side.value,
        config=_script_config(request, user, visit, side, ticket),
        max_file_mb=request.app.state.settings.room_file_max_bytes // 1_000_000,
    )


@router.get("/visits/{visit_id}/check", include_in_schema=False, response_class=HTMLResponse)
def device_check_page(
    request: Request, visit_id: Id, db: DB, user: Annotated[Principal, requires()]
) -> HTMLResponse:
    visit, side = enter(request, db, user, visit_id, action="read")
    require_open(visit)
    ticket = _ticket(request.app.state.settings, user, visit, side)
    return render(
        request,
        "visits/room_check.html",
        visit=visit,
        side=side.value,
        config=_script_config(request, user, visit, side, ticket),
    )


# API ---------------------------------------------------------------------------


@router.post("/api/visits/{visit_id}/room-token")
def room_token(
    request: Request, visit_id: Id, db: DB, user: Annotated[Principal, requires()]
) -> RoomTicket:
    """A fresh room token, for a browser that reconnects after a drop."""
    visit, side = enter(request, db, user, visit_id, action="join")
    require_open(visit)
    _record(request, db, user, visit, side, "join")
    return _ticket(request.app.state.settings, user, visit, side)


@router.get("/api/visits/{visit_id}/messages")
def room_messages(
    request: Request, visit_id: Id, db: DB, user: Annotated[Principal, requires()]
) -> list[dict[str, Any]]:
    """The chat and files of the visit, oldest first: readable after the call."""
    visit, side = enter(request, db, user, visit_id, action="read")
    _record(request, db, user, visit, side, "read", "room messages")
    return chat.history(db, visit.id)


@router.post("/api/visits/{visit_id}/files", status_code=201)
async def share_file(
    request: Request,
    visit_id: Id,
    db: DB,
    user: Annotated[Principal, requires()],
    background: BackgroundTasks,
    filename: Annotated[str, Query(max_length=255)] = "file",
) -> dict[str, Any]:
    """Share a JPEG, PNG or PDF in the room: the file is the request body
    (``application/octet-stream``), its name in ``?filename=``. The type is
    read from the content itself; the size is capped while it streams in."""
    settings: Settings = request.app.state.settings
    visit, side = await run_in_threadpool(enter, request, db, user, visit_id, action="create")
    require_shareable(visit)
    if request.headers.get("content-type", "").startswith(("multipart/", "application/x-www")):
        raise Unprocessable(
            "Send the file itself as the request body, not as a form.",
            errors=[FieldError("file", "send as application/octet-stream")],
        )
    limit = settings.room_file_max_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit():
        chat.check_size(int(declared), limit)
    received = await run_in_threadpool(chat.incoming_path, settings.data_dir)
    try:
        size = 0
        with received.open("wb") as fh:
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    chat.check_size(size, limit)
                fh.write(chunk)
        file, message = await run_in_threadpool(
            lambda: chat.store_file(
                db,
                visit=visit,
                data_dir=settings.data_dir,
                received=received,
                filename=filename,
                uploaded_by_user_id=user.user_id,
                side=side.value,
                limit=limit,
            )
        )
    finally:
        received.unlink(missing_ok=True)
    await run_in_threadpool(
        _record, request, db, user, visit, side, "create", f"shared file {file.id}"
    )
    event = chat.message_event(message, file)
    # After the response, hence after the commit: the other side never sees
    # a link to a file that is not stored yet.
    background.add_task(hub_of(request.app).publish, room_name(visit.id), {**event, "echo": True})
    return event


@router.get("/api/visits/{visit_id}/files/{file_id}", response_class=FileResponse)
def download_file(
    request: Request,
    visit_id: Id,
    file_id: Id,
    db: DB,
    user: Annotated[Principal, requires()],
) -> FileResponse:
    """Always a download, never shown inline: a file is only ever what its
    first bytes said, and the browser is told not to guess otherwise."""
    settings: Settings = request.app.state.settings
    visit, side = enter(request, db, user, visit_id, action="read")
    row, path = chat.file_of(db, visit_id=visit.id, file_id=file_id, data_dir=settings.data_dir)
    _record(request, db, user, visit, side, "read", f"file {row.id}")
    return FileResponse(
        path,
        media_type=row.content_type,
        filename=row.filename,
        content_disposition_type="attachment",
        headers={
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
            "Content-Security-Policy": "sandbox",
        },
    )


# The signaling WebSocket ---------------------------------------------------------


class RoomShut(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


async def _receive(websocket: WebSocket) -> dict[str, Any]:
    """The next JSON object from the browser ({} for anything else)."""
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


@router.websocket("/ws/visits/{visit_id}")
@checks_room_token
async def room_socket(websocket: WebSocket, visit_id: Id) -> None:
    """Join with ``{"type": "join", "token": ...}`` as the first message
    (``"purpose": "check"`` for the device check's connection test)."""
    await websocket.accept()
    settings: Settings = websocket.app.state.settings
    try:
        first = await asyncio.wait_for(_receive(websocket), JOIN_TIMEOUT_SECONDS)
        token = first.get("token") if first.get("type") == "join" else None
        room_pass = read_room_token(
            settings.secret_key, token if isinstance(token, str) else None, visit_id=visit_id
        )
    except InvalidRoomToken as exc:
        await _close(websocket, exc.code, exc.reason)
        return
    except TimeoutError:
        await _close(websocket, CLOSE_UNAUTHENTICATED, "join with a room token first")
        return
    except WebSocketDisconnect:
        return
    if first.get("purpose") == "check":
        await _connection_test(websocket)
        return
    connection = RoomConnection(
        websocket, room_pass, hub_of(websocket.app), websocket.app.state.sessionmaker
    )
    await connection.run()


async def _connection_test(websocket: WebSocket) -> None:
    """Answer pings until the check page goes away (no presence, no state)."""
    await websocket.send_json({"type": "ready"})
    deadline = time.monotonic() + CHECK_TIMEOUT_SECONDS
    try:
        while time.monotonic() < deadline:
            message = await asyncio.wait_for(_receive(websocket), CHECK_TIMEOUT_SECONDS)
            if message.get("type") == "ping":
                await websocket.send_json({"type": "pong", "t": message.get("t")})
    except (TimeoutError, WebSocketDisconnect):
        pass
    await _close(websocket, 1000, "check done")


class RoomConnection:
    """One browser in one room: relays its messages to the hub, and the
    room's events back to it."""

    def __init__(
        self, websocket: WebSocket, room_pass: RoomPass, hub: Hub, factory: sessionmaker[Session]
    ) -> None:
        self.websocket = websocket
        self.room_pass = room_pass
        self.side = room_pass.side
        self.other = Side.patient if self.side is Side.clinician else Side.clinician
        self.room = room_name(room_pass.visit_id)
        self.hub = hub
        self.factory = factory
        self.id = uuid.uuid4().hex
        self.status = VisitStatus.booked.value
        self._send_lock = asyncio.Lock()

    async def send(self, event: Event) -> None:
        async with self._send_lock:
            await self.websocket.send_json(event)

    async def run(self) -> None:
        subscription = await self.hub.subscribe(self.room)
        try:
            before = await self.hub.arrive(self.room, self.side.value, self.id)
            await self.hub.publish(
                self.room, {"type": "_arrived", "side": self.side.value, "conn": self.id}
            )
            try:
                self.status, history = await run_in_threadpool(self._join, before)
            except RoomShut as shut:
                await _close(self.websocket, shut.code, shut.reason)
                return
            here = (await self.hub.presence(self.room)).here(self.other.value)
            await self.send(
                {
                    "type": "welcome",
                    "side": self.side.value,
                    "status": self.status,
                    "peer": here,
                    "history": history,
                }
            )
            await self.hub.publish(self.room, self._presence_event(present=True))
            await self._pump(subscription)
        finally:
            # Shielded: a cancelled connection must still tell the room it left.
            with anyio.CancelScope(shield=True):
                await subscription.close()
                if await self.hub.depart(self.room, self.side.value, self.id):
                    await self.hub.publish(self.room, self._presence_event(present=False))

    def _presence_event(self, *, present: bool) -> Event:
        return {
            "type": "presence",
            "side": self.side.value,
            "present": present,
            "status": self.status,
            "from": self.id,
        }

    def _join(self, before: Presence) -> tuple[str, list[dict[str, Any]]]:
        """The visit's status once this side is in (the patient enters the
        lobby, or rejoins the call within the grace period), and its chat."""
        with unit_of_work(self.factory) as session:
            visit = session.get(Visit, self.room_pass.visit_id)
            if visit is None or visit.status not in OPEN_STATUSES:
                raise RoomShut(CLOSE_FORBIDDEN, "this visit is closed")
            if visit.ended_at is not None:
                raise RoomShut(CLOSE_ENDED, "the call has ended")
            if self.side is Side.patient:
                mark_lobby(session, visit)  # booked or queued: the patient is here
                if visit.status == VisitStatus.in_call and not self._may_rejoin(before):
                    back_to_lobby(session, visit)
            return visit.status.value, chat.history(session, visit.id)

    def _may_rejoin(self, before: Presence) -> bool:
        if before.here(self.side.value):
            return True  # the old connection is not even gone yet (a reload)
        left = before.left_at.get(self.side.value)
        return left is not None and time.time() - left <= REJOIN_GRACE.total_seconds()

    async def _pump(self, subscription: Subscription) -> None:
        """Read from the browser and forward the room's events at once, until
        either side is done (a task group: a cancelled connection stops both)."""
        async with anyio.create_task_group() as group:

            async def until_done(work: Callable[[], Awaitable[None]]) -> None:
                try:
                    await work()
                except (WebSocketDisconnect, RuntimeError):
                    pass  # the browser went away, or the socket is closed
                finally:
                    group.cancel_scope.cancel()

            group.start_soon(until_done, self._read)
            group.start_soon(until_done, lambda: self._forward(subscription))

    async def _forward(self, subscription: Subscription) -> None:
        while True:
            event: Event = await subscription.get()
            kind = event.get("type")
            if kind == "_arrived":
                if event["side"] == self.side.value and event["conn"] != self.id:
                    await _close(self.websocket, CLOSE_REPLACED, "joined from another window")
                    return
                continue
            if kind == "_ended":
                await self.send({"type": "ended"})
                await _close(self.websocket, CLOSE_ENDED, "the clinician ended the call")
                return
            if "status" in event:
                self.status = str(event["status"])
            if event.get("to") not in (None, self.side.value):
                continue
            if event.get("from") == self.id and not event.get("echo"):
                continue
            await self.send({k: v for k, v in event.items() if k not in ("to", "from", "echo")})

    async def _read(self) -> None:
        while True:
            message = await _receive(self.websocket)
            kind = message.get("type")
            if kind == "signal":
                await self._signal(message.get("data"))
            elif kind == "chat":
                await self._chat(message.get("body"))
            elif kind == "mode" and message.get("mode") in MODES:
                await self.hub.publish(
                    self.room,
                    {
                        "type": "mode",
                        "mode": message["mode"],
                        "side": self.side.value,
                        "echo": True,
                    },
                )
            elif kind == "admit" and self.side is Side.clinician:
                await self._admit()
            elif kind == "end" and self.side is Side.clinician:
                await run_in_threadpool(self._end)
                await self.hub.publish(self.room, {"type": "_ended"})
            elif kind == "leave":
                await _close(self.websocket, 1000, "left")
                return
            elif kind == "ping":
                await self.send({"type": "pong", "t": message.get("t")})
            else:
                await self.send({"type": "error", "error": "unknown message"})

    async def _signal(self, data: Any) -> None:
        # Media flows only between admitted sides: a patient in the lobby
        # neither receives the clinician's offer nor sends one.
        if self.status != VisitStatus.in_call.value or not isinstance(data, dict):
            await self.send({"type": "error", "error": "not in the call"})
            return
        await self.hub.publish(
            self.room, {"type": "signal", "to": self.other.value, "from": self.id, "data": data}
        )

    async def _chat(self, body: Any) -> None:
        if not isinstance(body, str):
            return
        try:
            event = await run_in_threadpool(self._store_chat, body)
        except (Unprocessable, RoomShut) as exc:
            await self.send({"type": "error", "error": str(exc)})
            return
        await self.hub.publish(self.room, {**event, "echo": True})

    def _store_chat(self, body: str) -> dict[str, Any]:
        with unit_of_work(self.factory) as session:
            visit = session.get(Visit, self.room_pass.visit_id)
            if visit is None or visit.status not in OPEN_STATUSES:
                raise RoomShut(CLOSE_FORBIDDEN, "this visit is closed")
            message = chat.post_message(
                session,
                visit=visit,
                sender_user_id=self.room_pass.user_id,
                side=self.side.value,
                body=body,
            )
            return chat.message_event(message)

    async def _admit(self) -> None:
        presence = await self.hub.presence(self.room)
        if not presence.here(Side.patient.value):
            await self.send({"type": "error", "error": "the patient is not in the lobby"})
            return
        admitted = await run_in_threadpool(self._mark_admitted)
        if admitted:
            await self.hub.publish(
                self.room, {"type": "status", "status": VisitStatus.in_call.value, "echo": True}
            )

    def _mark_admitted(self) -> bool:
        with unit_of_work(self.factory) as session:
            visit = session.get(Visit, self.room_pass.visit_id)
            if visit is None or visit.status != VisitStatus.lobby or visit.ended_at is not None:
                return False
            mark_in_call(session, visit)
            return True

    def _end(self) -> None:
        with unit_of_work(self.factory) as session:
            visit = session.get(Visit, self.room_pass.visit_id)
            if visit is not None and visit.ended_at is None:
                if visit.status in (VisitStatus.lobby, VisitStatus.booked, VisitStatus.queued):
                    mark_in_call(session, visit)
                end_call(session, visit)
