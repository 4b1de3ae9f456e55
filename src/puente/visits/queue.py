"""The on-demand queue of a facility: a triaged patient waits for the next
free clinician instead of booking a slot. Position and estimated wait come
from the number of patients ahead and how long the facility's recent visits
lasted; a clinician takes the longest-waiting patient (SKIP LOCKED on
PostgreSQL, so two clinicians never take the same one)."""

from __future__ import annotations

import math
from collections.abc import Collection

from sqlalchemy.orm import Session

from puente.db import utcnow
from puente.enums import Mode, VisitStatus
from puente.errors import Conflict, FieldError, NotFound, Unprocessable
from puente.notify import service as notify
from puente.visits import repository as repo
from puente.visits.models import Visit
from puente.visits.schemas import JoinQueue, QueuePlace
from puente.visits.service import (
    ARI_SERVICE,
    DEFAULT_VISIT_MINUTES,
    VISIT_SERVICE,
    service_id_of,
    virtual_triage,
)


def join_queue(
    session: Session, *, data: JoinQueue, facility_id: int, by_user_id: int | None
) -> Visit:
    triage_id = virtual_triage(session, data.triage_id, data.patient_id)
    if repo.queued_visit_of(session, data.patient_id, facility_id) is not None:
        raise Conflict(
            "The patient is already in this facility's queue.",
            errors=[FieldError("patient_id", "already queued")],
        )
    visit = Visit(
        patient_id=data.patient_id,
        facility_id=facility_id,
        service_id=service_id_of(session, ARI_SERVICE if triage_id else VISIT_SERVICE),
        triage_id=triage_id,
        mode=Mode.virtual,
        status=VisitStatus.queued,
        reason=data.reason,
        queued_at=utcnow(),
        diagnoses=[],
    )
    session.add(visit)
    session.flush()
    patient = repo.get_patient(session, data.patient_id)
    facility = repo.get_facility(session, facility_id)
    if patient is not None and facility is not None:
        notify.enqueue(
            session,
            patient=patient,
            template="queue_joined",
            dedupe_key=f"visit:{visit.id}:queued",
            values={"facility": facility.name, "link": f"{notify.PUBLIC_URL}/visits/{visit.id}"},
        )
    return visit


def queue_place(session: Session, visit: Visit) -> QueuePlace:
    """Position in the queue and a wait estimated from the number ahead and
    how long the facility's recent visits lasted."""
    if visit.status != VisitStatus.queued or visit.practitioner_role_id is not None:
        return QueuePlace(visit_id=visit.id, position=0, ahead=0, estimated_wait_minutes=0)
    ahead = repo.ahead_of(session, visit)
    durations = repo.recent_durations(session, visit.facility_id)
    minutes = sum(durations) / len(durations) if durations else DEFAULT_VISIT_MINUTES
    return QueuePlace(
        visit_id=visit.id,
        position=ahead + 1,
        ahead=ahead,
        estimated_wait_minutes=math.ceil(ahead * minutes),
    )


def _role_of(session: Session, practitioner_id: int | None, facility_id: int) -> int:
    role = (
        repo.practitioner_role_at(session, practitioner_id, facility_id)
        if practitioner_id is not None
        else None
    )
    if role is None:
        raise Unprocessable(
            "Your account is not linked to a practitioner working at this facility.",
            errors=[FieldError("practitioner", "no role at the facility")],
        )
    return role


def take_next(
    session: Session, *, facility_ids: Collection[int], practitioner_id: int | None
) -> Visit:
    """Assign the longest-waiting queued visit to the calling clinician."""
    visit = repo.next_in_queue(session, facility_ids)
    if visit is None:
        raise NotFound("Nobody is waiting.", errors=[FieldError("queue", "empty")])
    visit.practitioner_role_id = _role_of(session, practitioner_id, visit.facility_id)
    session.flush()
    return visit
