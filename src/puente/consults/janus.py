"""The Janus VideoRoom provider of case conferences, reached only through
Puente.

Browsers never talk to Janus: Janus listens on the server's loopback
(``PUENTE_JANUS_URL``, its HTTP API, e.g. ``http://127.0.0.1:8088/janus``)
and a participant's browser sends its JSON API calls to the gated proxy
route ``/api/consults/conferences/{id}/janus`` (and long-polls
``…/janus/events``). Puente

- creates the conference's room itself (room number ``ROOM_BASE + id``,
  with a PIN derived from ``PUENTE_SECRET_KEY`` that no browser ever sees);
- opens a Janus session only for a participant of a live conference (the
  same check as a room token, audited as a join) and remembers whose it is:
  any later call on that session from another user or conference is a 404;
- lets through only what a VideoRoom participant needs (``attach`` to the
  VideoRoom plugin, ``message`` with ``join`` / ``configure`` / ``start`` /
  ``leave`` / ``unpublish`` — the request in ``videoroom``, Janus's
  ``body`` — ``trickle``, ``keepalive``, ``detach``, ``destroy``) and
  rewrites every message to this conference's room, with the PIN, and
  with the participant's own name as display (``u<id>:name``), so nobody
  can enter another room or pose as someone else.

Media (RTP) still flows between the browser and Janus directly; give Janus
a reachable address (``nat_1_1_mapping``, STUN/TURN) as for any SFU.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import httpx
from fastapi import APIRouter, Query, Request
from pydantic import Field, StringConstraints
from starlette.concurrency import run_in_threadpool

from puente.access.gate import requires
from puente.access.policy import Permission
from puente.access.principal import Principal
from puente.config import Settings
from puente.consults import conference_api as api
from puente.deps import DB
from puente.errors import BadRequest, Conflict, FieldError, NotFound
from puente.schemas import Id, Schema

router = APIRouter(tags=["consults"])

Reader = Annotated[Principal, requires(Permission.consult_read)]
ROOM_BASE = 700_000
TIMEOUT = httpx.Timeout(10.0, read=40.0)
CALLS = {"attach", "message", "trickle", "keepalive", "detach", "destroy"}
REQUESTS = {"join", "configure", "start", "leave", "unpublish"}
PLUGIN = "janus.plugin.videoroom"


@dataclass(frozen=True)
class Owner:
    conference_id: int
    user_id: int
    display: str


def room_of(conference_id: int) -> int:
    return ROOM_BASE + conference_id


def pin_of(secret: str, conference_id: int) -> str:
    return hmac.new(
        secret.encode(), f"puente janus room {conference_id}".encode(), hashlib.sha256
    ).hexdigest()[:24]


def _sessions(request: Request) -> dict[int, Owner]:
    found: dict[int, Owner] | None = getattr(request.app.state, "janus_sessions", None)
    if found is None:
        found = {}
        request.app.state.janus_sessions = found
    return found


def _url(settings: Settings) -> str:
    if settings.conference_provider != "janus" or not settings.janus_url:
        raise Conflict(
            "Janus is not configured here.", errors=[FieldError("provider", "janus not configured")]
        )
    return settings.janus_url.rstrip("/")


async def _call(client: httpx.AsyncClient, url: str, body: dict[str, Any]) -> dict[str, Any]:
    body = {**body, "transaction": body.get("transaction") or "puente"}
    try:
        response = await client.post(url, json=body)
        answer: dict[str, Any] = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise Conflict(
            f"Janus did not answer ({exc.__class__.__name__}).",
            errors=[FieldError("provider", "janus unreachable")],
        ) from None
    return answer


async def ensure_room(settings: Settings, conference_id: int) -> None:
    """Create the conference's VideoRoom unless Janus has it already."""
    base = _url(settings)
    room = room_of(conference_id)
    async with httpx.AsyncClient(timeout=TIMEOUT) as client:
        session = await _call(client, base, {"janus": "create"})
        sid = session["data"]["id"]
        try:
            handle = await _call(client, f"{base}/{sid}", {"janus": "attach", "plugin": PLUGIN})
            hid = handle["data"]["id"]
            here = await _call(
                client,
                f"{base}/{sid}/{hid}",
                {"janus": "message", "body": {"request": "exists", "room": room}},
            )
            data = here.get("plugindata", {}).get("data", {})
            if not data.get("exists"):
                await _call(
                    client,
                    f"{base}/{sid}/{hid}",
                    {
                        "janus": "message",
                        "body": {
                            "request": "create",
                            "room": room,
                            "description": f"Puente conference {conference_id}",
                            "pin": pin_of(settings.secret_key, conference_id),
                            "publishers": settings.conference_max_participants,
                            "is_private": True,
                            "permanent": False,
                            "audiocodec": "opus",
                            "videocodec": "vp8",
                        },
                    },
                )
        finally:
            await _call(client, f"{base}/{sid}", {"janus": "destroy"})


class JanusCall(Schema):
    """One call of Janus's JSON API, as a browser sends it to the proxy."""

    janus: Literal["create", "attach", "message", "trickle", "keepalive", "detach", "destroy"]
    session_id: Annotated[int, Field(ge=1)] | None = None
    handle_id: Annotated[int, Field(ge=1)] | None = None
    plugin: Annotated[str, StringConstraints(max_length=64)] | None = None
    # VideoRoom requests, SDP and ICE candidates are flat objects.
    # The VideoRoom request (Janus's "body"; named so it is no request body).
    videoroom: dict[str, str | int | bool] | None = None
    jsep: dict[str, str] | None = None
    candidate: dict[str, str | int | bool | None] | None = None
    candidates: list[dict[str, str | int | bool | None]] | None = None
    transaction: Annotated[str, StringConstraints(max_length=64)] | None = None


def _owned(request: Request, user: Principal, conference_id: int, session_id: Any) -> Owner:
    owner = _sessions(request).get(session_id) if isinstance(session_id, int) else None
    if owner is None or owner.user_id != user.user_id or owner.conference_id != conference_id:
        raise NotFound("No such Janus session.", errors=[FieldError("session_id", "unknown")])
    return owner


def _rewrite(settings: Settings, owner: Owner, call: dict[str, Any]) -> dict[str, Any]:
    """Only this conference's room, with its PIN, under the caller's name."""
    kind = call.get("janus")
    out: dict[str, Any] = {"janus": kind}
    if kind == "attach":
        out["plugin"] = PLUGIN
    elif kind == "message":
        body = call.get("videoroom")
        if not isinstance(body, dict) or body.get("request") not in REQUESTS:
            raise BadRequest(
                "Only join, configure, start, leave and unpublish.",
                errors=[FieldError("videoroom.request", "not allowed")],
            )
        body = {k: v for k, v in body.items() if k not in ("room", "pin", "display", "id")}
        if body["request"] == "join":
            body["room"] = room_of(owner.conference_id)
            body["pin"] = pin_of(settings.secret_key, owner.conference_id)
            if body.get("ptype") == "publisher":
                body["display"] = owner.display
            elif body.get("ptype") != "subscriber":
                raise BadRequest(
                    "Join as publisher or subscriber.",
                    errors=[FieldError("videoroom.ptype", "publisher or subscriber")],
                )
        out["body"] = body
        if isinstance(call.get("jsep"), dict):
            out["jsep"] = call["jsep"]
    elif kind == "trickle":
        if "candidate" in call:
            out["candidate"] = call["candidate"]
        if "candidates" in call:
            out["candidates"] = call["candidates"]
    return out


@router.post("/consults/conferences/{conference_id}/janus")
async def janus_call(
    request: Request, db: DB, user: Reader, conference_id: Id, payload: JanusCall
) -> dict[str, Any]:
    """One Janus JSON API call of a participant, on their own session:
    ``{"janus": "create"}`` first (it opens the room), then ``attach``,
    ``message``, ``trickle``, ``keepalive`` … with ``session_id`` and
    ``handle_id``."""
    settings: Settings = request.app.state.settings
    base = _url(settings)
    call = payload.model_dump(exclude_none=True)
    kind = call.get("janus")
    if kind == "create":
        found = await run_in_threadpool(api.enter_room, request, db, user, conference_id)
        if found.conference.provider.value != "janus":
            raise Conflict(
                "This conference is peer to peer.", errors=[FieldError("provider", "mesh")]
            )
        await run_in_threadpool(db.commit)  # hold no database lock while Janus works
        await ensure_room(settings, conference_id)
        async with httpx.AsyncClient(timeout=TIMEOUT) as client:
            answer = await _call(client, base, {"janus": "create"})
        if answer.get("janus") == "success":
            _sessions(request)[int(answer["data"]["id"])] = Owner(
                conference_id, user.user_id, f"u{user.user_id}:{user.display_name}"
            )
        return answer
    if kind not in CALLS:
        raise BadRequest("Not a Janus call Puente passes on.", errors=[FieldError("janus", "bad")])
    owner = _owned(request, user, conference_id, call.get("session_id"))
    await run_in_threadpool(db.commit)  # the gate's read: no lock held while Janus works
    url = f"{base}/{call['session_id']}"
    handle = call.get("handle_id")
    if kind in ("message", "trickle", "detach"):
        if not isinstance(handle, int):
            raise BadRequest("Give the handle_id.", errors=[FieldError("handle_id", "missing")])
        url = f"{url}/{handle}"
    async with httpx.AsyncClient(timeout=TIMEOUT) as client:
        answer = await _call(client, url, _rewrite(settings, owner, call))
    if kind == "destroy":
        _sessions(request).pop(call["session_id"], None)
    return answer


@router.get("/consults/conferences/{conference_id}/janus/events")
async def janus_events(
    request: Request,
    db: DB,
    user: Reader,
    conference_id: Id,
    session_id: Annotated[int, Query(ge=1)],
) -> Any:
    """Long poll: the session's next events (at most 30 s)."""
    settings: Settings = request.app.state.settings
    _owned(request, user, conference_id, session_id)
    await run_in_threadpool(db.commit)  # a long poll must not hold the database
    async with httpx.AsyncClient(timeout=TIMEOUT) as client:
        try:
            response = await client.get(
                f"{_url(settings)}/{session_id}", params={"maxev": 10, "rid": "puente"}
            )
            return response.json()
        except (httpx.HTTPError, ValueError):
            raise Conflict(
                "Janus did not answer.", errors=[FieldError("provider", "janus unreachable")]
            ) from None
