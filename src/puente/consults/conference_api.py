"""JSON routes of case conferences (``/api/consults/conferences``).

- ``conference_manage`` at the hub (its coordinators and specialists)
  schedules, sets the agenda, records decisions and cancels;
- participants, the hub's staff and the staff of the spokes whose cases are
  on the agenda read it (``consult_read``); only participants get a room
  token.

A create accepts an ``Idempotency-Key`` like the other consult creates: the
same key and body again returns the first conference with 200.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Header, Query, Request, Response, status
from pydantic import AwareDatetime, Field, StringConstraints
from sqlalchemy import select

from puente.access.gate import requires
from puente.access.models import User
from puente.access.policy import Permission
from puente.access.principal import Principal
from puente.config import Settings
from puente.consults import conferences
from puente.consults import repository as repo
from puente.consults.conference_models import Conference
from puente.consults.conference_room import announce_cancelled
from puente.deps import DB
from puente.enums import ConferenceProvider, ConferenceStatus, ConsultSide
from puente.errors import FieldError, Forbidden
from puente.network import service as network
from puente.schemas import Code, Id, Schema
from puente.video.hub import hub_of
from puente.video.tokens import ROOM_TOKEN_TTL, issue_conference_token

router = APIRouter(tags=["consults"])

Reader = Annotated[Principal, requires(Permission.consult_read)]
Manager = Annotated[Principal, requires(Permission.conference_manage)]
IdempotencyKey = Annotated[str | None, Header(min_length=1, max_length=100)]
Title = Annotated[str, StringConstraints(min_length=3, max_length=300)]
Username = Annotated[str, StringConstraints(min_length=1, max_length=100)]


class ConferenceCreate(Schema):
    hub_facility_code: Code
    title: Title
    starts_at: AwareDatetime
    minutes: Annotated[int, Field(ge=15, le=480)] = 60
    # IANA; the hub's own when left out.
    timezone: Annotated[str | None, StringConstraints(min_length=1, max_length=64)] = None
    # The server's default (PUENTE_CONFERENCE_PROVIDER) when left out.
    provider: ConferenceProvider | None = None
    case_ids: Annotated[list[Id], Field(min_length=1, max_length=conferences.MAX_AGENDA)]
    # Usernames of the others taking part; the caller chairs and takes part.
    participants: Annotated[list[Username], Field(max_length=100)] = []


class AgendaAdd(Schema):
    case_id: Id


class DecisionBody(Schema):
    decision: Annotated[str, StringConstraints(min_length=1, max_length=10_000)]


class CancelBody(Schema):
    reason: Annotated[str | None, StringConstraints(max_length=500)] = None


class AgendaItemRead(Schema):
    position: int
    case_id: int
    spoke_facility_code: str
    spoke_facility_name: str
    specialty_code: str
    urgency: str
    question: str
    decision: str | None
    decided_at: datetime | None
    decided_by: str | None


class ParticipantRead(Schema):
    username: str
    display_name: str
    facility_code: str
    side: ConsultSide
    chair: bool


class ConferenceRead(Schema):
    id: int
    hub_facility_code: str
    hub_facility_name: str
    title: str
    starts_at: datetime
    ends_at: datetime
    minutes: int
    timezone: str
    status: ConferenceStatus
    provider: ConferenceProvider
    chair: str
    current_position: int
    agenda: list[AgendaItemRead]
    participants: list[ParticipantRead]
    cancelled_at: datetime | None
    cancel_reason: str | None


class ConferenceTicket(Schema):
    token: str
    expires_in: int
    socket_path: str
    provider: ConferenceProvider
    chair: bool


def limits(settings: Settings) -> conferences.Limits:
    return conferences.Limits(
        mesh_max=settings.conference_mesh_max,
        max_participants=settings.conference_max_participants,
        janus_configured=settings.conference_provider == "janus" and bool(settings.janus_url),
    )


def conference_read(db: DB, found: conferences.Loaded) -> ConferenceRead:
    conference = found.conference
    users = {
        u.id: u
        for u in db.scalars(
            select(User).where(
                User.id.in_(
                    [p.user_id for p in found.participants]
                    + [i.decided_by_user_id for i in found.items if i.decided_by_user_id]
                    + [conference.chair_user_id]
                )
            )
        )
    }
    places = repo.facilities(
        db,
        {conference.hub_facility_id}
        | {p.facility_id for p in found.participants}
        | {c.spoke_facility_id for c in found.cases.values()},
    )
    specialties = repo.specialty_codes(db, {c.specialty_id for c in found.cases.values()})
    hub = places[conference.hub_facility_id]
    agenda = []
    for item in found.items:
        case = found.cases[item.case_id]
        decider = users.get(item.decided_by_user_id) if item.decided_by_user_id else None
        agenda.append(
            AgendaItemRead(
                position=item.position,
                case_id=case.id,
                spoke_facility_code=places[case.spoke_facility_id].code,
                spoke_facility_name=places[case.spoke_facility_id].name,
                specialty_code=specialties[case.specialty_id],
                urgency=case.urgency.value,
                question=case.question,
                decision=item.decision,
                decided_at=item.decided_at,
                decided_by=decider.username if decider else None,
            )
        )
    return ConferenceRead(
        id=conference.id,
        hub_facility_code=hub.code,
        hub_facility_name=hub.name,
        title=conference.title,
        starts_at=conference.starts_at,
        ends_at=conference.ends_at,
        minutes=conference.minutes,
        timezone=conference.timezone,
        status=conference.status,
        provider=conference.provider,
        chair=users[conference.chair_user_id].username,
        current_position=conference.current_position,
        agenda=agenda,
        participants=[
            ParticipantRead(
                username=users[p.user_id].username,
                display_name=users[p.user_id].display_name,
                facility_code=places[p.facility_id].code,
                side=p.side,
                chair=p.user_id == conference.chair_user_id,
            )
            for p in found.participants
        ],
        cancelled_at=conference.cancelled_at,
        cancel_reason=conference.cancel_reason,
    )


def _reload(db: DB, conference: Conference) -> conferences.Loaded:
    found = conferences.load(db, conference.id)
    assert found is not None
    return found


def schedule_conference(
    db: DB, request: Request, user: Principal, body: ConferenceCreate, key: str | None
) -> tuple[conferences.Loaded, bool]:
    """Shared by the JSON route and the page form."""
    settings: Settings = request.app.state.settings
    hub = network.need_facility(db, code=body.hub_facility_code, field="hub_facility_code")
    conference, replayed = conferences.schedule(
        request,
        db,
        user,
        hub=hub,
        title=body.title,
        starts_at=body.starts_at,
        minutes=body.minutes,
        timezone=body.timezone,
        provider=body.provider or ConferenceProvider(settings.conference_provider),
        case_ids=body.case_ids,
        usernames=body.participants,
        limits=limits(settings),
        idempotency_key=f"u{user.user_id}:{key}" if key else None,
        digest=conferences.request_hash(body.model_dump(mode="json")),
    )
    found = _reload(db, conference)
    if not replayed:
        conferences.record(request, db, user, found, "create")
    return found, replayed


@router.post("/consults/conferences", status_code=status.HTTP_201_CREATED)
def schedule(
    db: DB,
    request: Request,
    user: Manager,
    body: ConferenceCreate,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> ConferenceRead:
    """Schedule a case conference at a hub, with its agenda and participants;
    a participant already busy at that time (a visit, another conference) is
    refused with 409 naming them."""
    found, replayed = schedule_conference(db, request, user, body, idempotency_key)
    if replayed:
        response.status_code = status.HTTP_200_OK
    response.headers["Location"] = f"/api/consults/conferences/{found.conference.id}"
    return conference_read(db, found)


@router.get("/consults/conferences")
def list_conferences(
    db: DB,
    request: Request,
    user: Reader,
    facility_code: Code | None = None,
    start: Annotated[AwareDatetime | None, Query(alias="from")] = None,
    end: Annotated[AwareDatetime | None, Query(alias="to")] = None,
    conference_status: Annotated[ConferenceStatus | None, Query(alias="status")] = None,
    mine: bool = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[ConferenceRead]:
    """The conferences the caller may see, earliest first: at a facility (as
    the hub, or the spoke of a case on the agenda), in [from, to)."""
    facility = (
        network.need_facility(db, code=facility_code, field="facility_code")
        if facility_code
        else None
    )
    rows = conferences.search(
        db,
        user,
        facility_id=facility.id if facility else None,
        start=start,
        end=end,
        status=conference_status,
        mine=mine,
        limit=limit,
    )
    out = []
    for row in rows:
        found = _reload(db, row)
        conferences.record(request, db, user, found, "search")
        out.append(conference_read(db, found))
    return out


@router.get("/consults/conferences/{conference_id}")
def get_conference(db: DB, request: Request, user: Reader, conference_id: Id) -> ConferenceRead:
    found = conferences.enter(request, db, user, conference_id, action="read")
    conferences.record(request, db, user, found, "read")
    return conference_read(db, found)


@router.post("/consults/conferences/{conference_id}/agenda", status_code=status.HTTP_201_CREATED)
def add_to_agenda(
    db: DB, request: Request, user: Manager, conference_id: Id, body: AgendaAdd
) -> ConferenceRead:
    """Put one more case of the hub on the agenda (at its end)."""
    found = conferences.enter(request, db, user, conference_id, action="update")
    conferences.need_manager(db, user, found.conference)
    case = conferences.hub_case(request, db, user, body.case_id, "case_id")
    conferences.add_case(db, found, case)
    conferences.record(request, db, user, found, "update", f"agenda + case {case.id}")
    return conference_read(db, found)


@router.delete("/consults/conferences/{conference_id}/agenda/{case_id}")
def remove_from_agenda(
    db: DB, request: Request, user: Manager, conference_id: Id, case_id: Id
) -> ConferenceRead:
    found = conferences.enter(request, db, user, conference_id, action="update")
    conferences.need_manager(db, user, found.conference)
    conferences.record(request, db, user, found, "update", f"agenda - case {case_id}")
    conferences.remove_case(db, found, case_id)
    return conference_read(db, found)


@router.put("/consults/conferences/{conference_id}/agenda/{case_id}/decision")
def record_decision(
    db: DB, request: Request, user: Manager, conference_id: Id, case_id: Id, body: DecisionBody
) -> ConferenceRead:
    """What the conference decided about one case of its agenda."""
    found = conferences.enter(request, db, user, conference_id, action="update")
    conferences.need_manager(db, user, found.conference)
    conferences.decide(db, found, case_id, body.decision, user.user_id)
    conferences.record(request, db, user, found, "update", f"decision on case {case_id}")
    return conference_read(db, found)


@router.post("/consults/conferences/{conference_id}/cancel")
def cancel_conference(
    db: DB,
    request: Request,
    user: Manager,
    conference_id: Id,
    background: BackgroundTasks,
    body: CancelBody | None = None,
) -> ConferenceRead:
    """Cancel: the participants are told, anyone in the room is let go."""
    found = conferences.enter(request, db, user, conference_id, action="update")
    conferences.need_manager(db, user, found.conference)
    conferences.cancel(db, found, reason=body.reason if body else None, by_user_id=user.user_id)
    conferences.record(request, db, user, found, "update", "cancelled")
    # After the response, hence after the commit.
    background.add_task(announce_cancelled, hub_of(request.app), found.conference.id)
    return conference_read(db, found)


def ticket(settings: Settings, user: Principal, found: conferences.Loaded) -> ConferenceTicket:
    conference = found.conference
    chair = conference.chair_user_id == user.user_id
    return ConferenceTicket(
        token=issue_conference_token(
            settings.secret_key,
            conference_id=conference.id,
            user_id=user.user_id,
            name=user.display_name,
            chair=chair,
        ),
        expires_in=int(ROOM_TOKEN_TTL.total_seconds()),
        socket_path=f"/ws/conferences/{conference.id}",
        provider=conference.provider,
        chair=chair,
    )


def enter_room(request: Request, db: DB, user: Principal, conference_id: int) -> conferences.Loaded:
    """A participant entering a live conference's room (audited as a join)."""
    found = conferences.enter(request, db, user, conference_id, action="join")
    if found.participant(user.user_id) is None:
        raise Forbidden(
            "Only the conference's participants join it.",
            errors=[FieldError("participants", "not a participant")],
        )
    conferences.need_live(found.conference)
    conferences.record(request, db, user, found, "join")
    return found


@router.post("/consults/conferences/{conference_id}/room-token")
def room_token(db: DB, request: Request, user: Reader, conference_id: Id) -> ConferenceTicket:
    """A participant's pass to the conference room (two minutes)."""
    found = enter_room(request, db, user, conference_id)
    return ticket(request.app.state.settings, user, found)
