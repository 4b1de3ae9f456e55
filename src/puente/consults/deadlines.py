"""Response deadlines and their escalation.

Each urgency has a response deadline, per program (defaults: emergency 30
minutes, urgent 4 hours, routine 72 hours). When the deadline of a case at
its hub passes, :func:`escalate_due` first alerts that hub's coordinator
(stage 1) and gives the hub a grace period of half the deadline; when that
passes too, the case goes to the next hub that supports the spoke (or up the
tier chain) with a fresh deadline. Every step is a ``ConsultEvent``. A case
counts as breached once its first deadline passed unanswered, wherever it
is answered in the end.

Each step is also told to people, through the notification outbox (e-mail,
else SMS, else the log; in their language; once per step): the
coordinators of the hub whose deadline passed, the coordinators of the hub
the case moves on to, and, when no hub is left, the doctor who asked.

``puente consults escalate`` runs it in a loop; tests call it with ``now``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from puente.access.models import User
from puente.config import LANGUAGES
from puente.consults import repository as repo
from puente.consults.models import ConsultCase, ConsultDeadline, ConsultEvent
from puente.enums import ConsultStatus, ConsultUrgency
from puente.i18n import gettext
from puente.network.models import Facility
from puente.notify import service as notify

URGENCY_LABEL = {
    ConsultUrgency.emergency: "Emergency",
    ConsultUrgency.urgent: "Urgent",
    ConsultUrgency.routine: "Routine",
}
DEFAULT_MINUTES: dict[ConsultUrgency, int] = {
    ConsultUrgency.emergency: 30,
    ConsultUrgency.urgent: 4 * 60,
    ConsultUrgency.routine: 72 * 60,
}


def minutes_for(session: Session, program_id: int | None, urgency: ConsultUrgency) -> int:
    if program_id is not None:
        for row in repo.deadlines(session, program_id):
            if row.urgency == urgency:
                return row.minutes
    return DEFAULT_MINUTES[urgency]


def window(session: Session, case: ConsultCase) -> timedelta:
    return timedelta(minutes=minutes_for(session, case.program_id, case.urgency))


def program_minutes(session: Session, program_id: int) -> dict[ConsultUrgency, int]:
    return {u: minutes_for(session, program_id, u) for u in ConsultUrgency}


def set_program_minutes(
    session: Session, *, program_id: int, minutes: dict[ConsultUrgency, int]
) -> None:
    current = {row.urgency: row for row in repo.deadlines(session, program_id)}
    for urgency, value in minutes.items():
        row = current.get(urgency)
        if row is None:
            session.add(ConsultDeadline(program_id=program_id, urgency=urgency, minutes=value))
        else:
            row.minutes = value
    session.flush()


def event(
    session: Session,
    case: ConsultCase,
    kind: str,
    *,
    at: datetime,
    hub_id: int | None = None,
    user_id: int | None = None,
    detail: str | None = None,
) -> ConsultEvent:
    row = ConsultEvent(
        case_id=case.id,
        at=at,
        kind=kind,
        hub_facility_id=hub_id,
        user_id=user_id,
        detail=detail[:500] if detail else None,
    )
    session.add(row)
    return row


def next_hub(session: Session, case: ConsultCase) -> int | None:
    """The next hub for the case: the spoke's support hubs for the specialty
    by rank; then up the tier chain: the facilities above the spoke (its
    parents), the hubs that support its hubs, and last the central hubs
    that cover the specialty (the spoke's country first). Every hub the case
    has already been at is skipped."""
    from puente.network import repository as network

    visited = repo.visited_hubs(session, case.id) | {case.spoke_facility_id}
    if case.hub_facility_id is not None:
        visited.add(case.hub_facility_id)
    for hub in repo.support_hubs(session, case.spoke_facility_id, case.specialty_id):
        if hub not in visited:
            return hub
    chain = [h for h in network.ancestors(session, case.spoke_facility_id) if h not in visited]
    active = repo.active_facility_ids(session, chain)
    found = next((h for h in chain if h in active), None)
    if found is not None:
        return found
    spoke = session.get(Facility, case.spoke_facility_id)
    assert spoke is not None
    above = repo.hubs_of_hubs(session, case.spoke_facility_id, case.specialty_id)
    top = repo.central_hubs(session, spoke.country_code, case.specialty_id)
    return next((h for h in [*above, *top] if h not in visited), None)


def move_on(
    session: Session, case: ConsultCase, *, now: datetime, kind: str, user_id: int | None = None
) -> int | None:
    """Send the case to its next hub with a fresh deadline, or mark it
    unrouted when no hub is left. Returns the new hub."""
    hub = next_hub(session, case)
    # The specialist who held it at the last hub no longer sees the patient.
    repo.end_consult_shares(session, case.id, at=now)
    case.assigned_user_id = None
    case.escalation_stage = 0
    if hub is None:
        case.hub_facility_id = None
        case.status = ConsultStatus.unrouted
        event(session, case, "unrouted", at=now, user_id=user_id, detail="no hub left")
        return None
    case.hub_facility_id = hub
    case.status = ConsultStatus.open
    case.due_at = now + window(session, case)
    event(session, case, kind, at=now, hub_id=hub, user_id=user_id)
    return hub


def alert(session: Session, case: ConsultCase, what: str, users: list[User]) -> None:
    """Tell ``users`` of one escalation step (``overdue``, ``escalated`` or
    ``unrouted``) of the case."""
    spoke = session.get(Facility, case.spoke_facility_id)
    hub = session.get(Facility, case.hub_facility_id) if case.hub_facility_id else None
    assert spoke is not None
    for user in users:
        language = user.preferred_language if user.preferred_language in LANGUAGES else "en"
        notify.enqueue_for_user(
            session,
            user=user,
            template=f"consult_{what}",
            dedupe_key=f"consult:{case.id}:{what}:{case.hub_facility_id}:user:{user.id}",
            values={
                "case": str(case.id),
                "urgency": gettext(URGENCY_LABEL[case.urgency], language),
                "spoke": spoke.name,
                "facility": hub.name if hub else "",
                "when": notify.when(case.due_at, (hub or spoke).timezone, language),
                "link": f"{notify.PUBLIC_URL}/consults/{case.id}",
            },
        )


def _asker(session: Session, case: ConsultCase) -> list[User]:
    user = session.get(User, case.requested_by_user_id) if case.requested_by_user_id else None
    return [user] if user is not None and user.active else []


@dataclass(frozen=True)
class Escalation:
    case_id: int
    kind: str  # escalated_coordinator | escalated_hub | unrouted
    hub_id: int | None


def escalate_due(session: Session, now: datetime) -> list[Escalation]:
    """One pass over the cases whose deadline has passed (see the module
    docstring). Idempotent for a given ``now``: a case moves one stage per
    deadline, never twice."""
    done: list[Escalation] = []
    for case in repo.due(session, now):
        if case.escalation_stage == 0:
            case.escalation_stage = 1
            case.breached_at = case.breached_at or now
            case.due_at = case.due_at + window(session, case) / 2
            event(
                session,
                case,
                "escalated_coordinator",
                at=now,
                hub_id=case.hub_facility_id,
                detail="response deadline passed",
            )
            done.append(Escalation(case.id, "escalated_coordinator", case.hub_facility_id))
            if case.hub_facility_id is not None:
                alert(session, case, "overdue", repo.coordinators(session, case.hub_facility_id))
        else:
            hub = move_on(session, case, now=now, kind="escalated_hub")
            done.append(Escalation(case.id, "escalated_hub" if hub else "unrouted", hub))
            if hub is not None:
                alert(session, case, "escalated", repo.coordinators(session, hub))
            else:
                alert(session, case, "unrouted", _asker(session, case))
    session.flush()
    return done
