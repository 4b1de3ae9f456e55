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
"""

from __future__ import annotations

from datetime import datetime
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
from puente.db import utcnow
from puente.enums import ConsultStatus, LedgerSource, Mode
from puente.errors import Conflict, FieldError, NotFound
from puente.ledger import service as ledger
from puente.network.models import Facility

TRAINING_SERVICE = "tele-education"


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
) -> TrainingSession:
    row = TrainingSession(
        hub_facility_id=hub_facility_id,
        title=title,
        specialty_id=specialty_id,
        starts_at=starts_at,
        minutes=minutes,
        video_url=video_url,
        created_by_user_id=by_user_id,
        created_at=utcnow(),
    )
    session.add(row)
    session.flush()
    return row


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
    session: Session, *, case: ConsultCase, title: str, by_user_id: int | None
) -> TeachingCase:
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
    )
    session.add(row)
    session.flush()
    return row


def open_thread(
    session: Session,
    *,
    specialty_id: int,
    title: str,
    body: str,
    teaching_case_id: int | None,
    by_user_id: int | None,
) -> BoardThread:
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
    )
    session.add(thread)
    session.flush()
    post(session, thread=thread, body=body, by_user_id=by_user_id)
    return thread


def post(session: Session, *, thread: BoardThread, body: str, by_user_id: int | None) -> BoardPost:
    row = BoardPost(thread_id=thread.id, body=body, author_user_id=by_user_id, posted_at=utcnow())
    session.add(row)
    session.flush()
    return row
