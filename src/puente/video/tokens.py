"""Room tokens: the short-lived pass that opens one visit's room.

A token is issued over a gated HTTP request (the room page, or the token
endpoint when a browser reconnects) to a user already checked against the
visit, and the signaling WebSocket accepts nothing else. It names the visit,
the user and the side (clinician or patient), and expires in two minutes: a
token copied out of a page or a log is useless elsewhere and soon everywhere.
It is signed with a key derived from ``PUENTE_SECRET_KEY`` for this purpose
only, so it can never pass for any other signed value of Puente.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, TypeVar

import jwt

from puente.db import utcnow

ROOM_TOKEN_TTL = timedelta(minutes=2)
AUDIENCE = "puente:visit-room"
# WebSocket close codes (4000–4999 are the application's own).
CLOSE_UNAUTHENTICATED = 4401  # no token, a bad signature, or an expired token
CLOSE_FORBIDDEN = 4403  # a token for another visit, or a room that is shut
CLOSE_REPLACED = 4409  # the same side joined again from another tab or device
CLOSE_ENDED = 4410  # the clinician ended the call

F = TypeVar("F", bound=Callable[..., Any])


class Side(StrEnum):
    clinician = "clinician"
    patient = "patient"


@dataclass(frozen=True)
class RoomPass:
    visit_id: int
    user_id: int
    side: Side
    name: str
    expires_at: datetime


class InvalidRoomToken(Exception):
    """Why a token was refused, and the close code that says so."""

    def __init__(self, reason: str, code: int = CLOSE_UNAUTHENTICATED) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


def _key(secret: str) -> bytes:
    return hmac.new(secret.encode(), b"puente visit room token v1", hashlib.sha256).digest()


def issue_room_token(
    secret: str,
    *,
    visit_id: int,
    user_id: int,
    side: Side,
    name: str,
    now: datetime | None = None,
    ttl: timedelta = ROOM_TOKEN_TTL,
) -> str:
    issued = now or utcnow()
    claims = {
        "aud": AUDIENCE,
        "sub": str(user_id),
        "visit": visit_id,
        "side": side.value,
        "name": name,
        "iat": int(issued.timestamp()),
        "exp": int((issued + ttl).timestamp()),
    }
    return jwt.encode(claims, _key(secret), algorithm="HS256")


def _claims(token: str | None, key: bytes, audience: str, now: datetime | None) -> dict[str, Any]:
    """The verified, unexpired claims of a room or conference token."""
    if not token:
        raise InvalidRoomToken("no room token")
    moment = now or utcnow()
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=["HS256"],
            audience=audience,
            options={"require": ["exp", "sub", "aud"], "verify_exp": False},
        )
    except jwt.PyJWTError as exc:
        raise InvalidRoomToken(f"bad room token: {exc}") from exc
    if int(claims["exp"]) <= moment.timestamp():
        raise InvalidRoomToken("the room token has expired; reload the page")
    return claims


def read_room_token(
    secret: str, token: str | None, *, visit_id: int, now: datetime | None = None
) -> RoomPass:
    """The pass in ``token`` for ``visit_id``; raises InvalidRoomToken."""
    claims = _claims(token, _key(secret), AUDIENCE, now)
    if claims.get("visit") != visit_id:
        raise InvalidRoomToken("the room token is for another visit", CLOSE_FORBIDDEN)
    try:
        side = Side(str(claims.get("side")))
        user_id = int(claims["sub"])
    except (ValueError, TypeError) as exc:
        raise InvalidRoomToken("bad room token claims") from exc
    return RoomPass(
        visit_id=visit_id,
        user_id=user_id,
        side=side,
        name=str(claims.get("name", "")),
        expires_at=datetime.fromtimestamp(int(claims["exp"]), tz=UTC),
    )


def checks_room_token(endpoint: F) -> F:
    """Marks a WebSocket endpoint that admits only holders of a room token
    (it must call ``read_room_token`` before anything else). The route walk
    (tests/access/test_route_walk.py) refuses WebSocket routes without it."""
    endpoint.checks_room_token = True  # type: ignore[attr-defined]
    return endpoint


# Case conferences ----------------------------------------------------------------
#
# The same kind of pass for a conference room: it names the conference, the
# participant and whether they chair it, lasts two minutes, and is signed
# with a key of its own (a visit token never opens a conference, nor the
# reverse).

CONFERENCE_AUDIENCE = "puente:conference-room"


@dataclass(frozen=True)
class ConferencePass:
    conference_id: int
    user_id: int
    name: str
    chair: bool
    expires_at: datetime


def _conference_key(secret: str) -> bytes:
    return hmac.new(secret.encode(), b"puente conference room token v1", hashlib.sha256).digest()


def issue_conference_token(
    secret: str,
    *,
    conference_id: int,
    user_id: int,
    name: str,
    chair: bool,
    now: datetime | None = None,
    ttl: timedelta = ROOM_TOKEN_TTL,
) -> str:
    issued = now or utcnow()
    claims = {
        "aud": CONFERENCE_AUDIENCE,
        "sub": str(user_id),
        "conference": conference_id,
        "chair": chair,
        "name": name,
        "iat": int(issued.timestamp()),
        "exp": int((issued + ttl).timestamp()),
    }
    return jwt.encode(claims, _conference_key(secret), algorithm="HS256")


def read_conference_token(
    secret: str, token: str | None, *, conference_id: int, now: datetime | None = None
) -> ConferencePass:
    """The pass in ``token`` for ``conference_id``; raises InvalidRoomToken."""
    claims = _claims(token, _conference_key(secret), CONFERENCE_AUDIENCE, now)
    if claims.get("conference") != conference_id:
        raise InvalidRoomToken("the room token is for another conference", CLOSE_FORBIDDEN)
    try:
        user_id = int(claims["sub"])
    except (ValueError, TypeError) as exc:
        raise InvalidRoomToken("bad room token claims") from exc
    return ConferencePass(
        conference_id=conference_id,
        user_id=user_id,
        name=str(claims.get("name", "")),
        chair=claims.get("chair") is True,
        expires_at=datetime.fromtimestamp(int(claims["exp"]), tz=UTC),
    )
