"""JSON routes of tele-education and the doctors' network.

- ``training_manage`` (hub coordinators and specialists) schedules sessions
  at their hub; anyone in the network (``consult_read``) lists them and
  records their own facility's attendance;
- either side of an answered case turns it into a teaching case;
- the board is read and written by the network's doctors (``consult_read``).

Every create accepts an ``Idempotency-Key`` (a spoke on a line that drops
sends it again): the same key returns the first result with 200 and creates
nothing; with another body it is refused (409).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response, status
from pydantic import Field, StringConstraints

from puente.access.gate import requires
from puente.access.policy import Permission
from puente.access.principal import Principal
from puente.catalog.service import specialty_ids_by_code
from puente.consults import access, education
from puente.consults import repository as repo
from puente.consults.education_models import BoardThread, TeachingCase, TrainingSession
from puente.deps import DB
from puente.errors import FieldError, NotFound, Unprocessable
from puente.network import service as network
from puente.schemas import Code, Id, LongCode, Schema

router = APIRouter(tags=["tele-education"])

Reader = Annotated[Principal, requires(Permission.consult_read)]
Manager = Annotated[Principal, requires(Permission.training_manage)]
Counter = Annotated[Principal, requires(Permission.ledger_read)]
Title = Annotated[str, StringConstraints(min_length=3, max_length=300)]
Body = Annotated[str, StringConstraints(min_length=1, max_length=10_000)]
IdempotencyKey = Annotated[str | None, Header(min_length=1, max_length=100)]


def _key(user: Principal, key: str | None) -> str | None:
    # Keys are the caller's own: two users never collide on one.
    return f"u{user.user_id}:{key}" if key else None


def _status(response: Response, replayed: bool) -> None:
    if replayed:
        response.status_code = status.HTTP_200_OK


class SessionCreate(Schema):
    hub_facility_code: Code
    title: Title
    specialty_code: LongCode | None = None
    starts_at: datetime
    minutes: Annotated[int, Field(ge=15, le=480)] = 60
    video_url: Annotated[str | None, StringConstraints(max_length=500)] = None


class SessionRead(Schema):
    id: int
    hub_facility_code: str
    title: str
    specialty_code: str | None
    starts_at: datetime
    minutes: int
    video_url: str | None
    attendances: int


class AttendanceCreate(Schema):
    facility_code: Code
    practitioner_id: Id | None = None


class AttendanceRow(Schema):
    facility_code: str
    facility_name: str
    attendances: int


class TeachingCreate(Schema):
    case_id: Id
    title: Title


class TeachingRead(Schema):
    id: int
    specialty_code: str
    title: str
    age_band: str | None
    sex: str | None
    urgency: str
    question: str
    clinical_summary: str
    assessment: str | None
    plan: str | None
    diagnoses: list[str]
    outcome: str | None


class ThreadCreate(Schema):
    specialty_code: LongCode
    title: Title
    body: Body
    teaching_case_id: Id | None = None


class PostCreate(Schema):
    body: Body


class PostRead(Schema):
    id: int
    author: str | None
    body: str
    posted_at: datetime


class ThreadRead(Schema):
    id: int
    specialty_code: str
    title: str
    teaching_case_id: int | None
    posts: list[PostRead]


def _specialty(db: DB, code: str | None, field: str = "specialty_code") -> int | None:
    if code is None:
        return None
    found = specialty_ids_by_code(db, [code]).get(code)
    if found is None:
        raise Unprocessable(f"No specialty '{code}'.", errors=[FieldError(field, "unknown")])
    return found


def _session_read(db: DB, row: TrainingSession) -> SessionRead:
    hub = repo.facilities(db, [row.hub_facility_id])[row.hub_facility_id]
    codes = repo.specialty_codes(db, [row.specialty_id] if row.specialty_id else [])
    counted = education.attendance_by_facility(db, row.id)
    return SessionRead(
        id=row.id,
        hub_facility_code=hub.code,
        title=row.title,
        specialty_code=codes.get(row.specialty_id) if row.specialty_id else None,
        starts_at=row.starts_at,
        minutes=row.minutes,
        video_url=row.video_url,
        attendances=sum(n for _c, _n, n in counted),
    )


@router.post("/training/sessions", status_code=status.HTTP_201_CREATED)
def schedule_session(
    db: DB,
    user: Manager,
    body: SessionCreate,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> SessionRead:
    """A hub schedules a training session for spoke staff."""
    hub = network.need_facility(db, code=body.hub_facility_code, field="hub_facility_code")
    access.need(db, user, Permission.training_manage, hub.id, "staff of the hub")
    row, replayed = education.schedule_session(
        db,
        hub_facility_id=hub.id,
        title=body.title,
        specialty_id=_specialty(db, body.specialty_code),
        starts_at=body.starts_at,
        minutes=body.minutes,
        video_url=body.video_url,
        by_user_id=user.user_id,
        idempotency_key=_key(user, idempotency_key),
    )
    _status(response, replayed)
    return _session_read(db, row)


@router.get("/training/sessions")
def list_sessions(
    db: DB,
    user: Reader,
    start: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[SessionRead]:
    return [_session_read(db, r) for r in education.sessions(db, start=start, limit=limit)]


@router.post("/training/sessions/{session_id}/attendance")
def record_attendance(
    db: DB, user: Reader, session_id: Id, body: AttendanceCreate, response: Response
) -> SessionRead:
    """Record that staff of a facility (one practitioner, when given)
    attended; counted once per facility, practitioner and recorder."""
    training = education.get_session(db, session_id)
    place = network.need_facility(db, code=body.facility_code, field="facility_code")
    access.need(db, user, Permission.consult_read, place.id, "staff of that facility")
    _row, new = education.attend(
        db,
        training=training,
        facility_id=place.id,
        practitioner_id=body.practitioner_id,
        by_user_id=user.user_id,
    )
    response.status_code = status.HTTP_201_CREATED if new else status.HTTP_200_OK
    return _session_read(db, training)


@router.get("/training/attendance")
def attendance(db: DB, user: Counter, session_id: Id | None = None) -> list[AttendanceRow]:
    """Training attendance per facility (all sessions, or one)."""
    return [
        AttendanceRow(facility_code=c, facility_name=n, attendances=k)
        for c, n, k in education.attendance_by_facility(db, session_id)
    ]


def _teaching_read(db: DB, row: TeachingCase) -> TeachingRead:
    return TeachingRead(
        id=row.id,
        specialty_code=repo.specialty_codes(db, [row.specialty_id])[row.specialty_id],
        title=row.title,
        age_band=row.age_band,
        sex=row.sex.value if row.sex else None,
        urgency=row.urgency.value,
        question=row.question,
        clinical_summary=row.clinical_summary,
        assessment=row.assessment,
        plan=row.plan,
        diagnoses=list(row.diagnoses or []),
        outcome=row.outcome.value if row.outcome else None,
    )


@router.post("/teaching-cases", status_code=status.HTTP_201_CREATED)
def make_teaching_case(
    db: DB,
    request: Request,
    user: Reader,
    body: TeachingCreate,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> TeachingRead:
    """One action: an answered case becomes de-identified teaching material."""
    case, _sides = access.load(request, db, user, body.case_id, action="read")
    row, replayed = education.teaching_case(
        db,
        case=case,
        title=body.title,
        by_user_id=user.user_id,
        idempotency_key=_key(user, idempotency_key),
    )
    if not replayed:
        access.record(request, db, user, case, "read", detail=f"teaching case {row.id}")
    _status(response, replayed)
    return _teaching_read(db, row)


@router.get("/teaching-cases/{teaching_id}")
def get_teaching_case(db: DB, user: Reader, teaching_id: Id) -> TeachingRead:
    row = db.get(TeachingCase, teaching_id)
    if row is None:
        raise NotFound(
            f"No teaching case {teaching_id}.", errors=[FieldError("teaching_id", "unknown")]
        )
    return _teaching_read(db, row)


def _thread_read(db: DB, thread: BoardThread) -> ThreadRead:
    from sqlalchemy import select

    from puente.consults.education_models import BoardPost

    posts = list(
        db.scalars(select(BoardPost).where(BoardPost.thread_id == thread.id).order_by(BoardPost.id))
    )
    names = repo.usernames(db, [p.author_user_id for p in posts])
    return ThreadRead(
        id=thread.id,
        specialty_code=repo.specialty_codes(db, [thread.specialty_id])[thread.specialty_id],
        title=thread.title,
        teaching_case_id=thread.teaching_case_id,
        posts=[
            PostRead(
                id=p.id,
                author=names.get(p.author_user_id) if p.author_user_id else None,
                body=p.body,
                posted_at=p.posted_at,
            )
            for p in posts
        ],
    )


@router.post("/board/threads", status_code=status.HTTP_201_CREATED)
def open_thread(
    db: DB,
    user: Reader,
    body: ThreadCreate,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> ThreadRead:
    specialty = _specialty(db, body.specialty_code)
    assert specialty is not None
    thread, replayed = education.open_thread(
        db,
        specialty_id=specialty,
        title=body.title,
        body=body.body,
        teaching_case_id=body.teaching_case_id,
        by_user_id=user.user_id,
        idempotency_key=_key(user, idempotency_key),
    )
    _status(response, replayed)
    return _thread_read(db, thread)


@router.get("/board/threads")
def list_threads(
    db: DB,
    user: Reader,
    specialty_code: LongCode | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[ThreadRead]:
    from sqlalchemy import select

    query = select(BoardThread)
    specialty = _specialty(db, specialty_code)
    if specialty is not None:
        query = query.where(BoardThread.specialty_id == specialty)
    rows = db.scalars(query.order_by(BoardThread.id.desc()).limit(limit))
    return [_thread_read(db, t) for t in rows]


@router.post("/board/threads/{thread_id}/posts", status_code=status.HTTP_201_CREATED)
def add_post(
    db: DB,
    user: Reader,
    thread_id: Id,
    body: PostCreate,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> ThreadRead:
    thread = db.get(BoardThread, thread_id)
    if thread is None:
        raise NotFound(f"No thread {thread_id}.", errors=[FieldError("thread_id", "unknown")])
    _post, replayed = education.post(
        db,
        thread=thread,
        body=body.body,
        by_user_id=user.user_id,
        idempotency_key=_key(user, idempotency_key),
    )
    _status(response, replayed)
    return _thread_read(db, thread)
