"""Pages of case conferences: the conferences ahead, the form to schedule
one (cases from the hub's queue, participants, time), one conference with
its agenda and decisions, and its room. Same services and checks as the
JSON routes (:mod:`puente.consults.conference_api`)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from puente import i18n
from puente.access import service as access_service
from puente.access.gate import requires
from puente.access.models import RoleGrant, User
from puente.access.policy import Permission
from puente.access.principal import Principal
from puente.config import Settings
from puente.consults import conference_api as api
from puente.consults import conferences, reads
from puente.consults import repository as repo
from puente.db import utcnow
from puente.deps import DB
from puente.enums import AccessRole, ConferenceProvider, ConferenceStatus
from puente.errors import FieldError, Unprocessable
from puente.i18n import current_language
from puente.i18n import gettext as _
from puente.schemas import Id
from puente.web.templating import render

router = APIRouter(include_in_schema=False)

Reader = Annotated[Principal, requires(Permission.consult_read)]
Manager = Annotated[Principal, requires(Permission.conference_manage)]


def _m(text: str) -> str:
    return text


STATUS_LABELS = {
    ConferenceStatus.scheduled: _m("Scheduled"),
    ConferenceStatus.held: _m("Held"),
    ConferenceStatus.cancelled: _m("Cancelled"),
}
PROVIDER_LABELS = {
    ConferenceProvider.mesh: _m("Peer to peer (up to 4 people)"),
    ConferenceProvider.janus: _m("Janus video room"),
}

# What conference.js shows, in the page's language.
SCRIPT_MESSAGES = {
    "connecting": _m("Connecting…"),
    "alone": _m("You are the first one here. The others will appear as they join."),
    "in_call": _m("In the conference."),
    "reconnecting": _m("Connection lost. Reconnecting…"),
    "refused": _m("The room could not be opened. Reload the page."),
    "replaced": _m("You joined this conference from another window; this one is closed."),
    "cancelled": _m("The conference has been cancelled."),
    "full": _m(
        "The room is full: a peer-to-peer conference holds at most {limit} people."
        " Ask the chair to use a Janus video room for more."
    ),
    "left": _m("You left the conference."),
    "no_devices": _m("No camera or microphone is available."),
    "now": _m("Under discussion"),
    "decided": _m("Decision"),
    "saved": _m("The decision is recorded."),
    "not_saved": _m("The decision could not be recorded."),
    "you": _m("You"),
}


def _labels() -> dict[str, Any]:
    return {
        "status_label": lambda s: _(STATUS_LABELS[ConferenceStatus(s)]),
        "provider_label": lambda p: _(PROVIDER_LABELS[ConferenceProvider(p)]),
    }


def _redirect(path: str) -> RedirectResponse:
    return RedirectResponse(f"{path}?lang={current_language.get()}", status_code=303)


@router.get("/consults/conferences", response_class=HTMLResponse)
def conferences_page(request: Request, db: DB, user: Reader) -> HTMLResponse:
    """The conferences ahead that the caller may see, earliest first."""
    now = utcnow()
    rows = conferences.search(
        db,
        user,
        facility_id=None,
        start=now - timedelta(hours=2),
        end=None,
        status=None,
        mine=False,
        limit=200,
    )
    items = []
    for row in rows:
        found = conferences.load(db, row.id)
        assert found is not None
        conferences.record(request, db, user, found, "search")
        items.append((api.conference_read(db, found), found.participant(user.user_id) is not None))
    return render(
        request,
        "consults/conferences.html",
        items=items,
        can_schedule=user.has(Permission.conference_manage),
        **_labels(),
    )


def _hubs(db: DB, user: Principal) -> list[tuple[str, str, str]]:
    """(code, name, time zone) of the hubs where the caller may schedule."""
    scope = access_service.facility_scope(db, user, Permission.conference_manage)
    if scope.everywhere:
        ids = {
            g
            for g in db.scalars(
                select(RoleGrant.facility_id).where(
                    RoleGrant.role.in_([AccessRole.hub_coordinator, AccessRole.hub_specialist]),
                    RoleGrant.facility_id.is_not(None),
                )
            )
            if g is not None
        }
    else:
        ids = set(scope.ids)
    return sorted((f.code, f.name, f.timezone) for f in repo.facilities(db, ids).values())


def _candidates(db: DB, hub_ids: set[int], spoke_ids: set[int]) -> list[tuple[str, str, str]]:
    """(username, display name, facility name) of the people one may invite:
    the hubs' staff and the doctors of the spokes with cases in the queue."""
    hub_roles = [AccessRole.hub_coordinator, AccessRole.hub_specialist]
    rows = db.execute(
        select(User.username, User.display_name, RoleGrant.facility_id, RoleGrant.role)
        .join(RoleGrant, RoleGrant.user_id == User.id)
        .where(
            User.active.is_(True),
            RoleGrant.facility_id.in_(sorted(hub_ids | spoke_ids)),
        )
        .order_by(User.username)
    ).all()
    places = repo.facilities(db, {r[2] for r in rows if r[2] is not None})
    out: dict[str, tuple[str, str, str]] = {}
    for username, name, facility_id, role in rows:
        if facility_id is None:
            continue
        at_hub = facility_id in hub_ids and role in hub_roles
        at_spoke = facility_id in spoke_ids and role == AccessRole.clinician
        if at_hub or at_spoke:
            out.setdefault(username, (username, name, places[facility_id].name))
    return list(out.values())


@router.get("/consults/conferences/new", response_class=HTMLResponse)
def new_conference_page(request: Request, db: DB, user: Manager) -> HTMLResponse:
    """Schedule a conference: cases from the hub's queue, who, when."""
    settings: Settings = request.app.state.settings
    hubs = _hubs(db, user)
    hub_ids = _facility_ids(db, {code for code, _n, _t in hubs})
    queue = repo.queue(db, hub_ids, 200)
    conferences.record_cases(request, db, user, queue, "search")
    return render(
        request,
        "consults/conference_new.html",
        hubs=hubs,
        queue=reads.queue_items(db, queue, utcnow()),
        candidates=_candidates(db, hub_ids, {c.spoke_facility_id for c in queue}),
        providers=[
            (p.value, _(PROVIDER_LABELS[p]))
            for p in ConferenceProvider
            if p == ConferenceProvider.mesh or api.limits(settings).janus_configured
        ],
        default_provider=settings.conference_provider,
        request_key=uuid.uuid4().hex,
        **_labels(),
    )


def _facility_ids(db: DB, codes: set[str]) -> set[int]:
    from puente.network.models import Facility

    if not codes:
        return set()
    return {int(i) for i in db.scalars(select(Facility.id).where(Facility.code.in_(codes)))}


def _invalid(exc: ValidationError) -> Unprocessable:
    errors = [
        FieldError(".".join(str(p) for p in e["loc"]) or "form", e["msg"]) for e in exc.errors()
    ]
    return Unprocessable("; ".join(f"{e.field}: {e.message}" for e in errors), errors=errors)


@router.post("/consults/conferences/new")
async def schedule_page(request: Request, db: DB, user: Manager) -> Response:
    form = await request.form()
    values = {k: str(v) for k, v in form.items() if isinstance(v, str)}
    cases = [str(v) for v in form.getlist("case_ids") if isinstance(v, str)]
    invited = [str(v) for v in form.getlist("participants") if isinstance(v, str)]
    invited += [n.strip() for n in values.get("others", "").replace(";", ",").split(",")]
    conference_id = await run_in_threadpool(
        _schedule_from_form, request, db, user, values, cases, [n for n in invited if n]
    )
    return _redirect(f"/consults/conferences/{conference_id}")


def _schedule_from_form(
    request: Request,
    db: DB,
    user: Principal,
    values: dict[str, str],
    cases: list[str],
    invited: list[str],
) -> int:
    hub_code = values.get("hub_facility_code", "").strip()
    hub = next((h for h in _hubs(db, user) if h[0] == hub_code), None)
    timezone = values.get("timezone", "").strip() or (hub[2] if hub else "UTC")
    zone = conferences.zone(timezone)
    try:
        local = datetime.fromisoformat(values.get("starts_at", "").strip())
    except ValueError:
        raise Unprocessable(
            "Give the date and time of the conference.",
            errors=[FieldError("starts_at", "not a date and time")],
        ) from None
    starts_at = local.replace(tzinfo=zone) if local.tzinfo is None else local
    try:
        body = api.ConferenceCreate.model_validate(
            {
                "hub_facility_code": hub_code,
                "title": values.get("title", ""),
                "starts_at": starts_at,
                "minutes": values.get("minutes") or 60,
                "timezone": timezone,
                "provider": values.get("provider") or None,
                "case_ids": cases,
                "participants": invited,
            }
        )
    except ValidationError as exc:
        raise _invalid(exc) from None
    key = values.get("request_key") or None
    found, _replayed = api.schedule_conference(db, request, user, body, key)
    return found.conference.id


@router.get("/consults/conferences/{conference_id}", response_class=HTMLResponse)
def conference_page(request: Request, db: DB, user: Reader, conference_id: Id) -> HTMLResponse:
    found = conferences.enter(request, db, user, conference_id, action="read")
    conferences.record(request, db, user, found, "read")
    return render(
        request,
        "consults/conference.html",
        conf=api.conference_read(db, found),
        participant=found.participant(user.user_id) is not None,
        manages=conferences.manages(db, user, found.conference),
        live=found.conference.status in conferences.LIVE,
        **_labels(),
    )


@router.post("/consults/conferences/{conference_id}/decision")
def decision_page(
    request: Request,
    db: DB,
    user: Manager,
    conference_id: Id,
    case_id: Annotated[int, Form()],
    decision: Annotated[str, Form(min_length=1, max_length=10_000)],
) -> Response:
    api.record_decision(
        db, request, user, conference_id, case_id, api.DecisionBody(decision=decision)
    )
    return _redirect(f"/consults/conferences/{conference_id}")


@router.post("/consults/conferences/{conference_id}/cancel")
def cancel_page(
    request: Request,
    db: DB,
    user: Manager,
    conference_id: Id,
    background: BackgroundTasks,
    reason: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    api.cancel_conference(
        db, request, user, conference_id, background, api.CancelBody(reason=reason or None)
    )
    return _redirect(f"/consults/conferences/{conference_id}")


@router.get("/consults/conferences/{conference_id}/room", response_class=HTMLResponse)
def room_page(request: Request, db: DB, user: Reader, conference_id: Id) -> HTMLResponse:
    """The room: the video of everyone beside the agenda and the current case."""
    settings: Settings = request.app.state.settings
    found = api.enter_room(request, db, user, conference_id)
    ticket = api.ticket(settings, user, found)
    conf = api.conference_read(db, found)
    config = {
        "conferenceId": conf.id,
        "token": ticket.token,
        "socketPath": ticket.socket_path,
        "tokenUrl": f"/api/consults/conferences/{conf.id}/room-token",
        "decisionUrl": f"/api/consults/conferences/{conf.id}/agenda/{{case}}/decision",
        "csrf": user.csrf_token or "",
        "chair": ticket.chair,
        "provider": conf.provider.value,
        "iceServers": settings.ice_servers,
        "janusUrl": f"/api/consults/conferences/{conf.id}/janus",
        "messages": {key: i18n.gettext(text) for key, text in SCRIPT_MESSAGES.items()},
    }
    return render(request, "consults/conference_room.html", conf=conf, config=config, **_labels())
