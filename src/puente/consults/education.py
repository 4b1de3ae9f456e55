"""Tele-education and the doctors' network.

- A hub schedules training sessions for spoke staff (topic, specialty, time,
  length, the video link); attendance is recorded per facility and
  practitioner, and each attendance is one ``tele-education`` row in the
  ledger, at the attending facility.
- A closed case becomes de-identified teaching material with one action: the
  question, summary, answer and diagnoses are copied, the patient is not
  (an age band and sex only); the copy keeps no link a reader could follow
  back to the case.
- The discussion board: threads by specialty, each on a teaching case or on a
  topic, never on a live case, and posts in them.

Every create takes an ``idempotency_key``: the same key again returns the
first row (and True) and creates nothing; with a different request it is a
Conflict (409).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from puente.consults import repository as repo
from puente.consults.education_models import (
    BoardPost,
    BoardThread,
    TeachingCase,
    TrainingAttendance,
    TrainingSession,
)
from puente.consults.models import ConsultCase
from puente.db import insert_unless_twin, utcnow
from puente.enums import ConsultStatus, LedgerSource, Mode
from puente.errors import Conflict, FieldError, NotFound
from puente.ledger import service as ledger
from puente.network.models import Facility

TRAINING_SERVICE = "tele-education"
Row = TypeVar("Row", TrainingSession, TeachingCase, BoardThread, BoardPost)


def _once(
    session: Session,
    row: Row,
    key: str | None,
    same: Callable[[Row], bool],
) -> tuple[Row, bool]:
    """Insert ``row`` unless ``key`` was used before: then the earlier row
    (True), if ``same`` holds for it."""
    model = type(row)

    def replay(earlier: Row) -> tuple[Row, bool]:
        if not same(earlier):
            raise Conflict(
                "This Idempotency-Key was already used for another request.",
                errors=[FieldError("Idempotency-Key", "used for another request")],
            )
        return earlier, True

    if key is None:
        session.add(row)
        session.flush()
        return row, False
    earlier = repo.by_key(session, model, key)
    if earlier is not None:
        return replay(earlier)
    twin = insert_unless_twin(session, row, lambda: repo.by_key(session, model, key))
    return replay(twin) if twin is not None else (row, False)


def schedule_session(
    session: Session,
    *,
    hub_facility_id: int,
    title: str,
    specialty_id: int | None,
    starts_at: datetime,
    minutes: int,
    video_url: str | None,
    by_user_id: int | None,
    idempotency_key: str | None = None,
) -> tuple[TrainingSession, bool]:
    row = TrainingSession(
        hub_facility_id=hub_facility_id,
        title=title,
        specialty_id=specialty_id,
        starts_at=starts_at,
        minutes=minutes,
        video_url=video_url,
        created_by_user_id=by_user_id,
        created_at=utcnow(),
        idempotency_key=idempotency_key,
    )
    return _once(
        session,
        row,
        idempotency_key,
        lambda e: (e.hub_facility_id, e.title, e.starts_at) == (hub_facility_id, title, starts_at),
    )


def get_session(session: Session, session_id: int) -> TrainingSession:
    row = session.get(TrainingSession, session_id)
    if row is None:
        raise NotFound(
            f"No training session {session_id}.", errors=[FieldError("session_id", "unknown")]
        )
    return row


def sessions(session: Session, *, start: datetime | None, limit: int) -> list[TrainingSession]:
    query = select(TrainingSession)
    if start is not None:
        query = query.where(TrainingSession.starts_at >= start)
    return list(session.scalars(query.order_by(TrainingSession.starts_at).limit(limit)))


def attend(
    session: Session,
    *,
    training: TrainingSession,
    facility_id: int,
    practitioner_id: int | None,
    by_user_id: int | None,
) -> tuple[TrainingAttendance, bool]:
    """Record one attendance (again: nothing new) and count it in the ledger."""
    found = session.scalar(
        select(TrainingAttendance).where(
            TrainingAttendance.session_id == training.id,
            TrainingAttendance.facility_id == facility_id,
            TrainingAttendance.practitioner_id.is_(None)
            if practitioner_id is None
            else TrainingAttendance.practitioner_id == practitioner_id,
            TrainingAttendance.user_id == by_user_id,
        )
    )
    if found is not None:
        return found, False
    row = TrainingAttendance(
        session_id=training.id,
        facility_id=facility_id,
        practitioner_id=practitioner_id,
        user_id=by_user_id,
        recorded_at=utcnow(),
    )
    session.add(row)
    session.flush()
    service_id = repo.service_id_by_code(session, TRAINING_SERVICE)
    if service_id is not None:
        place = session.get(Facility, facility_id)
        assert place is not None
        ledger.record(
            session,
            facility_id=facility_id,
            day=training.starts_at.astimezone(ZoneInfo(place.timezone)).date(),
            service_id=service_id,
            mode=Mode.virtual,
            source=LedgerSource.consult,
            source_ref=f"training:{training.id}:attendance:{row.id}",
        )
    return row, True


def attendance_by_facility(session: Session, session_id: int | None) -> list[tuple[str, str, int]]:
    """(facility code, name, attendances), most first."""
    query = (
        select(Facility.code, Facility.name, func.count(TrainingAttendance.id))
        .join(TrainingAttendance, TrainingAttendance.facility_id == Facility.id)
        .group_by(Facility.code, Facility.name)
        .order_by(func.count(TrainingAttendance.id).desc(), Facility.code)
    )
    if session_id is not None:
        query = query.where(TrainingAttendance.session_id == session_id)
    return [(str(c), str(n), int(k)) for c, n, k in session.execute(query)]


def _age_band(age: int | None) -> str | None:
    if age is None:
        return None
    if age < 1:
        return "<1"
    low = 0 if age < 5 else (age // 10) * 10
    return f"{low}-{low + (4 if low == 0 else 9)}"


def teaching_case(
    session: Session,
    *,
    case: ConsultCase,
    title: str,
    by_user_id: int | None,
    idempotency_key: str | None = None,
) -> tuple[TeachingCase, bool]:
    """The one action: a closed (or answered) case becomes teaching material."""
    if case.status not in (ConsultStatus.answered, ConsultStatus.closed):
        raise Conflict(
            "Only an answered case can become teaching material.",
            errors=[FieldError("status", case.status.value)],
        )
    age = case.patient_age_years
    if age is None and case.patient_id is not None:
        from puente.people.models import Patient

        patient = session.get(Patient, case.patient_id)
        if patient is not None and patient.birth_date is not None:
            age = (case.requested_at.date() - patient.birth_date).days // 365
    row = TeachingCase(
        specialty_id=case.specialty_id,
        title=title,
        age_band=_age_band(age),
        sex=case.patient_sex,
        urgency=case.urgency,
        question=case.question,
        clinical_summary=case.clinical_summary,
        assessment=case.assessment,
        plan=case.plan,
        diagnoses=list(case.diagnoses or []),
        outcome=case.outcome,
        created_by_user_id=by_user_id,
        created_at=utcnow(),
        idempotency_key=idempotency_key,
    )
    # The teaching case keeps no link to the case: the key and what was
    # copied tell a resubmission from another request.
    return _once(
        session,
        row,
        idempotency_key,
        lambda e: (e.title, e.question) == (title, case.question),
    )


def open_thread(
    session: Session,
    *,
    specialty_id: int,
    title: str,
    body: str,
    teaching_case_id: int | None,
    by_user_id: int | None,
    idempotency_key: str | None = None,
) -> tuple[BoardThread, bool]:
    if teaching_case_id is not None and session.get(TeachingCase, teaching_case_id) is None:
        raise NotFound(
            f"No teaching case {teaching_case_id}.",
            errors=[FieldError("teaching_case_id", "unknown")],
        )
    thread = BoardThread(
        specialty_id=specialty_id,
        title=title,
        teaching_case_id=teaching_case_id,
        created_by_user_id=by_user_id,
        created_at=utcnow(),
        idempotency_key=idempotency_key,
    )
    found, replayed = _once(
        session,
        thread,
        idempotency_key,
        lambda e: (e.specialty_id, e.title) == (specialty_id, title),
    )
    if not replayed:
        post(session, thread=found, body=body, by_user_id=by_user_id)
    return found, replayed


def post(
    session: Session,
    *,
    thread: BoardThread,
    body: str,
    by_user_id: int | None,
    idempotency_key: str | None = None,
) -> tuple[BoardPost, bool]:
    row = BoardPost(
        thread_id=thread.id,
        body=body,
        author_user_id=by_user_id,
        posted_at=utcnow(),
        idempotency_key=idempotency_key,
    )
    return _once(
        session, row, idempotency_key, lambda e: (e.thread_id, e.body) == (thread.id, body)
    )
