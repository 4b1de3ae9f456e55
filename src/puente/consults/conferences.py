"""Case conferences: a hub's multi-party video meeting about one or more
consultation cases (the hub's "rounds").

- **Who.** A hub coordinator or specialist (``conference_manage`` at the hub)
  schedules it and chairs it. Participants are accounts of the hub's staff,
  of specialists of other hubs, and of the doctors of the spokes whose cases
  are on the agenda. Only they, the hub's staff and the staff of those
  spokes (``consult_read``) see the conference; only participants join it.
- **When.** Through the scheduling core: a participant who already has an
  appointment (a visit) or another conference at that time is refused with a
  409 naming them (:func:`puente.scheduling.service.commitments`; this module
  registers the conferences as one more source of commitments).
- **How.** Peer to peer (mesh) for up to ``conference_mesh_max`` people, or a
  Janus VideoRoom when configured (``PUENTE_CONFERENCE_PROVIDER=janus``).
- **What.** The agenda is ordered; the chair moves the room from one case to
  the next; the decision about each case is recorded after discussion (the
  first one marks the conference held).

Functions take the session, flush and never commit. Errors::

    NotFound      404  an unknown (or not visible) conference
    Conflict      409  a participant busy at that time; a cancelled
                       conference; an Idempotency-Key reused for another body
    Unprocessable 422  an unknown case or user, a time in the past, too many
                       people for the provider
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import Request
from sqlalchemy import ColumnElement, exists, or_, select
from sqlalchemy.orm import Session

from puente.access import service as access_service
from puente.access.gate import audit_context
from puente.access.models import User
from puente.access.policy import Permission
from puente.access.principal import Principal
from puente.config import LANGUAGES
from puente.consults import access
from puente.consults import repository as repo
from puente.consults.conference_models import (
    Conference,
    ConferenceItem,
    ConferenceParticipant,
)
from puente.consults.models import ConsultCase
from puente.db import utcnow
from puente.deps import keep_whatever_happens
from puente.enums import ConferenceProvider, ConferenceStatus, ConsultSide
from puente.errors import Conflict, FieldError, NotFound, Unprocessable
from puente.network.models import Facility
from puente.notify import service as notify
from puente.scheduling import service as scheduling

LIVE = (ConferenceStatus.scheduled, ConferenceStatus.held)
MAX_AGENDA = 30


@dataclass(frozen=True)
class Limits:
    mesh_max: int
    max_participants: int
    janus_configured: bool


@dataclass
class Loaded:
    conference: Conference
    items: list[ConferenceItem]
    cases: dict[int, ConsultCase]
    participants: list[ConferenceParticipant]

    def participant(self, user_id: int) -> ConferenceParticipant | None:
        return next((p for p in self.participants if p.user_id == user_id), None)


def not_found(conference_id: int) -> NotFound:
    return NotFound(
        f"No case conference {conference_id}.",
        errors=[FieldError("conference_id", "unknown")],
    )


def zone(name: str, field: str = "timezone") -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise Unprocessable(
            f"'{name}' is not an IANA time zone.", errors=[FieldError(field, "not an IANA zone")]
        ) from None


def request_hash(body: dict[str, Any]) -> str:
    text = json.dumps(body, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


# Loading and the visibility rule ---------------------------------------------------


def load(session: Session, conference_id: int) -> Loaded | None:
    conference = session.get(Conference, conference_id)
    if conference is None:
        return None
    items = list(
        session.scalars(
            select(ConferenceItem)
            .where(ConferenceItem.conference_id == conference.id)
            .order_by(ConferenceItem.position, ConferenceItem.id)
        )
    )
    cases = {
        c.id: c
        for c in session.scalars(
            select(ConsultCase).where(ConsultCase.id.in_([i.case_id for i in items]))
        )
    }
    people = list(
        session.scalars(
            select(ConferenceParticipant)
            .where(ConferenceParticipant.conference_id == conference.id)
            .order_by(ConferenceParticipant.id)
        )
    )
    return Loaded(conference, items, cases, people)


def may_see(session: Session, principal: Principal, found: Loaded) -> bool:
    """THE conference rule: its participants, the hub's staff, and the staff
    of the spokes whose cases are on its agenda."""
    if found.participant(principal.user_id) is not None:
        return True
    if access.covers(session, principal, Permission.consult_read, found.conference.hub_facility_id):
        return True
    return any(
        access.covers(session, principal, Permission.consult_read, c.spoke_facility_id)
        for c in found.cases.values()
    )


def enter(
    request: Request, session: Session, principal: Principal, conference_id: int, *, action: str
) -> Loaded:
    """The conference, or 404 (kept as a denied audit record when it exists)."""
    found = load(session, conference_id)
    if found is None or not may_see(session, principal, found):
        if found is not None:
            keep_whatever_happens(
                request,
                access_service.denied_event(
                    audit_context(request, principal, Permission.consult_read),
                    action=action,
                    resource_type="ServiceRequest",
                    resource_id=f"conference:{conference_id}",
                    patient_id=None,
                    detail=f"{request.url.path}: not this user's conference"[:500],
                ),
            )
        raise not_found(conference_id)
    return found


def record(
    request: Request,
    session: Session,
    principal: Principal,
    found: Loaded,
    action: str,
    detail: str | None = None,
) -> None:
    """Audit a read or write of the conference: its cases are patient data."""
    ids: list[tuple[str | None, int | None]] = [
        (str(c.id), c.patient_id) for c in found.cases.values()
    ]
    access_service.audit(
        session,
        audit_context(request, principal, Permission.consult_read),
        action=action,
        resource_type="ServiceRequest",
        resource_ids=ids or [(None, None)],
        detail=(detail or f"conference {found.conference.id}")[:500],
    )


def record_cases(
    request: Request,
    session: Session,
    principal: Principal,
    cases: Sequence[ConsultCase],
    action: str,
) -> None:
    """Audit cases listed for picking (the schedule form's queue)."""
    access_service.audit(
        session,
        audit_context(request, principal, Permission.consult_read),
        action=action,
        resource_type="ServiceRequest",
        resource_ids=[(str(c.id), c.patient_id) for c in cases] or [(None, None)],
    )


def manages(session: Session, principal: Principal, conference: Conference) -> bool:
    return access.covers(
        session, principal, Permission.conference_manage, conference.hub_facility_id
    )


def need_manager(session: Session, principal: Principal, conference: Conference) -> None:
    access.need(
        session,
        principal,
        Permission.conference_manage,
        conference.hub_facility_id,
        "the hub's coordinators and specialists",
    )


def need_live(conference: Conference) -> None:
    if conference.status not in LIVE:
        raise Conflict(
            "The conference is cancelled.",
            errors=[FieldError("status", conference.status.value)],
        )


# Agenda ---------------------------------------------------------------------------


def hub_case(
    request: Request, session: Session, principal: Principal, case_id: int, field: str
) -> ConsultCase:
    """A case the scheduler sees from the hub side; else 422 naming ``field``
    (a case that exists but is not theirs is also kept as a denied record)."""
    case = repo.case(session, case_id)
    if case is None or ConsultSide.hub not in access.sides(session, principal, case):
        if case is not None:
            keep_whatever_happens(
                request,
                access_service.denied_event(
                    audit_context(request, principal, Permission.consult_read),
                    action="read",
                    resource_type="ServiceRequest",
                    resource_id=str(case_id),
                    patient_id=case.patient_id,
                    detail=f"{request.url.path}: agenda case not at the user's hub"[:500],
                ),
            )
        raise Unprocessable(
            f"No consultation case {case_id} at your hub.", errors=[FieldError(field, "unknown")]
        )
    return case


def _renumber(session: Session, conference_id: int) -> None:
    rows = session.scalars(
        select(ConferenceItem)
        .where(ConferenceItem.conference_id == conference_id)
        .order_by(ConferenceItem.position, ConferenceItem.id)
    )
    for n, row in enumerate(rows):
        row.position = n
    session.flush()


def add_case(session: Session, found: Loaded, case: ConsultCase) -> ConferenceItem:
    need_live(found.conference)
    if any(i.case_id == case.id for i in found.items):
        raise Conflict(
            f"Case {case.id} is already on the agenda.",
            errors=[FieldError("case_id", "already on the agenda")],
        )
    if len(found.items) >= MAX_AGENDA:
        raise Unprocessable(
            f"An agenda holds at most {MAX_AGENDA} cases.",
            errors=[FieldError("case_id", "agenda full")],
        )
    position = max((i.position for i in found.items), default=-1) + 1
    item = ConferenceItem(conference_id=found.conference.id, position=position, case_id=case.id)
    session.add(item)
    session.flush()
    found.items.append(item)
    found.cases[case.id] = case
    return item


def item_of(found: Loaded, case_id: int) -> ConferenceItem:
    item = next((i for i in found.items if i.case_id == case_id), None)
    if item is None:
        raise NotFound(
            f"Case {case_id} is not on the agenda of conference {found.conference.id}.",
            errors=[FieldError("case_id", "not on the agenda")],
        )
    return item


def remove_case(session: Session, found: Loaded, case_id: int) -> None:
    need_live(found.conference)
    item = item_of(found, case_id)
    if item.decision is not None:
        raise Conflict(
            "A case with a recorded decision stays on the agenda.",
            errors=[FieldError("case_id", "decided")],
        )
    session.delete(item)
    session.flush()
    _renumber(session, found.conference.id)
    found.items = [i for i in found.items if i.id != item.id]
    found.cases.pop(case_id, None)
    last = max(len(found.items) - 1, 0)
    found.conference.current_position = min(found.conference.current_position, last)
    session.flush()


def decide(
    session: Session, found: Loaded, case_id: int, decision: str, by_user_id: int | None
) -> ConferenceItem:
    """Record (or correct) what was decided about one case; the conference
    was held."""
    need_live(found.conference)
    item = item_of(found, case_id)
    item.decision = decision
    item.decided_at = utcnow()
    item.decided_by_user_id = by_user_id
    found.conference.status = ConferenceStatus.held
    session.flush()
    return item


def move_to(session: Session, conference: Conference, position: int, count: int) -> int:
    """The chair moves the room to agenda position ``position`` (clamped)."""
    conference.current_position = max(0, min(position, max(count - 1, 0)))
    session.flush()
    return conference.current_position


# Participants -----------------------------------------------------------------------


def _place(
    session: Session, user: User, hub_id: int, spokes: Collection[int]
) -> tuple[int, ConsultSide] | None:
    """Where ``user`` takes part from: the hub; another hub they coordinate
    or answer at; a spoke of a case on the agenda. None: they may not."""
    principal = access_service.principal_for(session, user, via="token")
    if access.covers(session, principal, Permission.consult_read, hub_id):
        return hub_id, ConsultSide.hub
    for spoke in sorted(spokes):
        if access.covers(session, principal, Permission.consult_read, spoke):
            return spoke, ConsultSide.spoke
    for grant in principal.grants_for(Permission.conference_manage):
        if grant.facility_id is not None:
            return grant.facility_id, ConsultSide.hub
    return None


def _people(session: Session, usernames: Sequence[str]) -> dict[str, User]:
    rows = session.scalars(select(User).where(User.username.in_(sorted(set(usernames)))))
    return {u.username: u for u in rows if u.active}


def _limit(provider: ConferenceProvider, count: int, limits: Limits) -> None:
    if provider == ConferenceProvider.janus and not limits.janus_configured:
        raise Unprocessable(
            "Janus is not configured here (PUENTE_CONFERENCE_PROVIDER, PUENTE_JANUS_URL).",
            errors=[FieldError("provider", "janus not configured")],
        )
    cap = limits.mesh_max if provider == ConferenceProvider.mesh else limits.max_participants
    if count > cap:
        hint = " (a Janus conference holds more)" if provider == ConferenceProvider.mesh else ""
        raise Unprocessable(
            f"A {provider.value} conference holds at most {cap} people, the chair included;"
            f" {count} were asked{hint}.",
            errors=[FieldError("participants", f"at most {cap} with {provider.value}")],
        )


def conference_commitments(
    session: Session, user_ids: Collection[int], start: datetime, end: datetime, now: datetime
) -> dict[int, scheduling.Commitment]:
    """Users taking part in a live conference that overlaps [start, end)."""
    rows = session.execute(
        select(
            ConferenceParticipant.user_id, Conference.id, Conference.starts_at, Conference.ends_at
        )
        .join(Conference, Conference.id == ConferenceParticipant.conference_id)
        .where(
            ConferenceParticipant.user_id.in_(sorted(user_ids)),
            Conference.status.in_(LIVE),
            Conference.starts_at < end,
            Conference.ends_at > start,
        )
        .order_by(Conference.starts_at, Conference.id)
    )
    out: dict[int, scheduling.Commitment] = {}
    for user_id, conference_id, starts_at, ends_at in rows:
        found = scheduling.Commitment("conference", int(conference_id), starts_at, ends_at)
        out.setdefault(int(user_id), found)
    return out


def install_hooks() -> None:
    """Make conferences count as commitments of people (idempotent)."""
    if conference_commitments not in scheduling.commitment_sources:
        scheduling.commitment_sources.append(conference_commitments)


install_hooks()


def _busy(
    session: Session,
    users: Sequence[tuple[str, User]],
    start: datetime,
    end: datetime,
    now: datetime,
) -> None:
    ids = [u.id for _f, u in users]
    # Two schedulers inviting the same person at once: on PostgreSQL the
    # second waits here for the first to commit, then sees its conference.
    session.execute(select(User.id).where(User.id.in_(sorted(ids))).with_for_update()).all()
    busy = scheduling.commitments(session, ids, start, end, now=now)
    errors = []
    first = ""
    for field, user in users:
        found = busy.get(user.id)
        if found is None:
            continue
        what = "a visit" if found.kind == "appointment" else f"conference {found.ref}"
        errors.append(FieldError(field, f"busy: {found.kind} {found.ref}"))
        first = first or (
            f"{user.display_name} ({user.username}) already has {what} at that time"
            f" ({found.starts_at:%Y-%m-%d %H:%M}–{found.ends_at:%H:%M} UTC)."
        )
    if errors:
        raise Conflict(first, errors=errors)


# Scheduling and cancelling -------------------------------------------------------------


def by_key(session: Session, key: str) -> Conference | None:
    return session.scalar(select(Conference).where(Conference.idempotency_key == key))


def schedule(
    request: Request,
    session: Session,
    principal: Principal,
    *,
    hub: Facility,
    title: str,
    starts_at: datetime,
    minutes: int,
    timezone: str | None,
    provider: ConferenceProvider,
    case_ids: Sequence[int],
    usernames: Sequence[str],
    limits: Limits,
    idempotency_key: str | None,
    digest: str,
    now: datetime | None = None,
) -> tuple[Conference, bool]:
    """Schedule a conference chaired by ``principal``; (conference, replayed)."""
    moment = now or utcnow()
    if idempotency_key is not None:
        earlier = by_key(session, idempotency_key)
        if earlier is not None:
            if earlier.request_hash != digest:
                raise Conflict(
                    "This Idempotency-Key was already used for another conference.",
                    errors=[FieldError("Idempotency-Key", "used for another request")],
                )
            return earlier, True
    access.need(
        session,
        principal,
        Permission.conference_manage,
        hub.id,
        "the hub's coordinators and specialists",
    )
    shown_in = timezone or hub.timezone
    zone(shown_in)
    if starts_at.tzinfo is None:
        raise Unprocessable(
            "Give the start with its UTC offset.", errors=[FieldError("starts_at", "no offset")]
        )
    if starts_at <= moment:
        raise Unprocessable(
            "A conference is scheduled ahead, not in the past.",
            errors=[FieldError("starts_at", "in the past")],
        )
    if len(set(case_ids)) != len(case_ids):
        raise Unprocessable(
            "A case appears twice on the agenda.", errors=[FieldError("case_ids", "repeated")]
        )
    cases = [
        hub_case(request, session, principal, cid, f"case_ids.{n}")
        for n, cid in enumerate(case_ids)
    ]
    spokes = {c.spoke_facility_id for c in cases}
    people = _people(session, usernames)
    chair = session.get(User, principal.user_id)
    assert chair is not None
    invited: list[tuple[str, User, int, ConsultSide]] = []
    seen = {chair.id}
    for n, name in enumerate(usernames):
        field = f"participants.{n}"
        user = people.get(name)
        if user is None:
            raise Unprocessable(f"No user '{name}'.", errors=[FieldError(field, "unknown")])
        if user.id in seen:
            continue
        place = _place(session, user, hub.id, spokes)
        if place is None:
            raise Unprocessable(
                f"{user.display_name} ({name}) works neither at the hub, at another hub,"
                " nor at a spoke whose case is on the agenda.",
                errors=[FieldError(field, "not at the hub or a spoke of the agenda")],
            )
        seen.add(user.id)
        invited.append((field, user, *place))
    chair_place = _place(session, chair, hub.id, spokes) or (hub.id, ConsultSide.hub)
    everyone = [("chair", chair, *chair_place), *invited]
    _limit(provider, len(everyone), limits)
    ends_at = starts_at + timedelta(minutes=minutes)
    _busy(session, [(f, u) for f, u, _p, _s in everyone], starts_at, ends_at, moment)
    conference = insert(
        session,
        hub=hub,
        title=title,
        starts_at=starts_at,
        minutes=minutes,
        timezone=shown_in,
        provider=provider,
        chair=chair,
        case_ids=[c.id for c in cases],
        people=[(u, p, side) for _f, u, p, side in everyone],
        by_user_id=principal.user_id,
        idempotency_key=idempotency_key,
        digest=digest,
        now=moment,
    )
    _notify(session, conference, hub, [u for _f, u, _p, _s in invited], "scheduled", len(cases))
    return conference, False


def insert(
    session: Session,
    *,
    hub: Facility,
    title: str,
    starts_at: datetime,
    minutes: int,
    timezone: str,
    provider: ConferenceProvider,
    chair: User,
    case_ids: Sequence[int],
    people: Sequence[tuple[User, int, ConsultSide]],
    by_user_id: int | None,
    idempotency_key: str | None = None,
    digest: str | None = None,
    now: datetime | None = None,
) -> Conference:
    """The rows of a conference whose people and cases were checked already
    (by :func:`schedule`, or by the demo loader)."""
    conference = Conference(
        hub_facility_id=hub.id,
        program_id=repo.program_of(session, hub.id, starts_at.astimezone(zone(timezone)).date()),
        title=title,
        starts_at=starts_at,
        ends_at=starts_at + timedelta(minutes=minutes),
        minutes=minutes,
        timezone=timezone,
        status=ConferenceStatus.scheduled,
        provider=provider,
        chair_user_id=chair.id,
        current_position=0,
        created_by_user_id=by_user_id,
        created_at=now or utcnow(),
        idempotency_key=idempotency_key,
        request_hash=digest,
    )
    session.add(conference)
    session.flush()
    session.add_all(
        ConferenceItem(conference_id=conference.id, position=n, case_id=c)
        for n, c in enumerate(case_ids)
    )
    session.add_all(
        ConferenceParticipant(
            conference_id=conference.id,
            user_id=user.id,
            practitioner_id=user.practitioner_id,
            facility_id=facility_id,
            side=side,
        )
        for user, facility_id, side in people
    )
    session.flush()
    return conference


def place_of(
    session: Session, user: User, hub_id: int, spokes: Collection[int]
) -> tuple[int, ConsultSide] | None:
    """Where ``user`` may take part in a conference of ``hub_id`` about
    cases of ``spokes`` from (None: they may not)."""
    return _place(session, user, hub_id, spokes)


def _language(user: User) -> str:
    return user.preferred_language if user.preferred_language in LANGUAGES else "en"


def _notify(
    session: Session,
    conference: Conference,
    hub: Facility,
    users: Sequence[User],
    what: str,
    cases: int,
) -> None:
    for user in users:
        notify.enqueue_for_user(
            session,
            user=user,
            template=f"conference_{what}",
            dedupe_key=f"conference:{conference.id}:{what}:user:{user.id}",
            values={
                "title": conference.title,
                "facility": hub.name,
                "when": notify.when(conference.starts_at, conference.timezone, _language(user)),
                "cases": str(cases),
                "link": f"{notify.PUBLIC_URL}/consults/conferences/{conference.id}/room",
            },
        )


def cancel(session: Session, found: Loaded, *, reason: str | None, by_user_id: int | None) -> None:
    conference = found.conference
    need_live(conference)
    conference.status = ConferenceStatus.cancelled
    conference.cancelled_at = utcnow()
    conference.cancel_reason = reason
    session.flush()
    ids = [p.user_id for p in found.participants]
    notify.withdraw(session, [f"conference:{conference.id}:scheduled:user:{u}" for u in ids])
    hub = session.get(Facility, conference.hub_facility_id)
    assert hub is not None
    users = [u for u in session.scalars(select(User).where(User.id.in_(ids))) if u.id != by_user_id]
    _notify(session, conference, hub, users, "cancelled", len(found.items))


# Lists ----------------------------------------------------------------------------


def visible_where(session: Session, principal: Principal) -> ColumnElement[bool] | None:
    """The conferences ``principal`` sees, as SQL (None: all of them)."""
    scope = access_service.facility_scope(session, principal, Permission.consult_read)
    mine = exists().where(
        ConferenceParticipant.conference_id == Conference.id,
        ConferenceParticipant.user_id == principal.user_id,
    )
    if scope.everywhere:
        return None
    ids = sorted(scope.ids)
    spoke_case = exists().where(
        ConferenceItem.conference_id == Conference.id,
        ConferenceItem.case_id == ConsultCase.id,
        ConsultCase.spoke_facility_id.in_(ids),
    )
    return or_(mine, Conference.hub_facility_id.in_(ids), spoke_case)


def search(
    session: Session,
    principal: Principal,
    *,
    facility_id: int | None,
    start: datetime | None,
    end: datetime | None,
    status: ConferenceStatus | None,
    mine: bool,
    limit: int,
) -> list[Conference]:
    query = select(Conference)
    seen = visible_where(session, principal)
    if seen is not None:
        query = query.where(seen)
    if facility_id is not None:
        at_spoke = exists().where(
            ConferenceItem.conference_id == Conference.id,
            ConferenceItem.case_id == ConsultCase.id,
            ConsultCase.spoke_facility_id == facility_id,
        )
        query = query.where(or_(Conference.hub_facility_id == facility_id, at_spoke))
    if mine:
        query = query.where(
            exists().where(
                ConferenceParticipant.conference_id == Conference.id,
                ConferenceParticipant.user_id == principal.user_id,
            )
        )
    if start is not None:
        query = query.where(Conference.ends_at > start)
    if end is not None:
        query = query.where(Conference.starts_at < end)
    if status is not None:
        query = query.where(Conference.status == status)
    return list(session.scalars(query.order_by(Conference.starts_at, Conference.id).limit(limit)))
