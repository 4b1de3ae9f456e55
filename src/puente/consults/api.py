"""JSON routes of `consults`.

Who may do what (see :mod:`puente.consults.access` for the case rule):

- a spoke doctor (``consult_request`` at the spoke) asks, talks in the
  thread, attaches files and records the outcome;
- a hub coordinator (``consult_coordinate`` at the hub the case is at)
  assigns, reassigns and declines;
- a hub specialist (``consult_answer`` at that hub) answers;
- both sides read the case, its thread and files (``consult_read``).

Every create from a spoke accepts an ``Idempotency-Key``: the same key sent
again (a resubmission after a dropped line) returns the first result with
200 and creates nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Header, Path, Query, Request, Response, status
from fastapi.responses import FileResponse
from pydantic import StringConstraints
from sqlalchemy import or_
from starlette.concurrency import run_in_threadpool

from puente.access import service as access_service
from puente.access.gate import audit_context, requires
from puente.access.models import User
from puente.access.patients import PatientAccess
from puente.access.policy import Permission
from puente.access.principal import Principal
from puente.catalog.service import specialty_ids_by_code
from puente.config import Settings
from puente.consults import access, deadlines, files, reads, service
from puente.consults import repository as repo
from puente.consults import status as status_
from puente.consults.metrics import ConsultMetrics, metrics
from puente.consults.models import ConsultCase, ConsultFile, ConsultUpload
from puente.consults.schemas import (
    Answer,
    AnswerResult,
    Assign,
    CaseCreate,
    CaseDetail,
    CaseRead,
    DeadlinesRead,
    DeadlinesUpdate,
    Decline,
    MessageCreate,
    MessageRead,
    OutcomeCreate,
    QueueItem,
    UploadCreate,
    UploadRead,
)
from puente.db import utcnow
from puente.deps import DB
from puente.enums import ConsultSide, ConsultStatus, ConsultUrgency
from puente.errors import FieldError, Forbidden, PayloadTooLarge, Unprocessable
from puente.network import service as network
from puente.schemas import Code, Id, LongCode, Page, Schema

router = APIRouter(tags=["consults"])

Reader = Annotated[Principal, requires(Permission.consult_read)]
Asker = Annotated[Principal, requires(Permission.consult_request)]
Coordinator = Annotated[Principal, requires(Permission.consult_coordinate)]
Specialist = Annotated[Principal, requires(Permission.consult_answer)]
Counter = Annotated[Principal, requires(Permission.ledger_read)]
Configurer = Annotated[Principal, requires(Permission.network_write)]
IdempotencyKey = Annotated[str | None, Header(min_length=1, max_length=100)]


def _key(user: Principal, key: str | None) -> str | None:
    # Keys are the caller's own: two users never collide on one.
    return f"u{user.user_id}:{key}" if key else None


def _specialty(db: DB, code: str) -> int:
    found = specialty_ids_by_code(db, [code]).get(code)
    if found is None:
        raise Unprocessable(
            f"No specialty '{code}'.", errors=[FieldError("specialty_code", "unknown")]
        )
    return found


def create_case(
    db: DB, request: Request, user: Principal, body: CaseCreate, key: str | None
) -> tuple[ConsultCase, bool]:
    """Shared by the JSON route and the page form."""
    spoke = network.need_facility(db, code=body.spoke_facility_code, field="spoke_facility_code")
    access.need(db, user, Permission.consult_request, spoke.id, "a doctor of the spoke facility")
    if body.patient_id is not None:
        PatientAccess(request, db, user, Permission.patient_read).check(
            body.patient_id, action="create"
        )
    case, replayed = service.create_case(
        db,
        data=body,
        spoke_facility_id=spoke.id,
        specialty_id=_specialty(db, body.specialty_code),
        by_user_id=user.user_id,
        idempotency_key=_key(user, key),
    )
    if not replayed:
        access.record(request, db, user, case, "create")
    return case, replayed


@router.post("/consults", status_code=status.HTTP_201_CREATED)
def ask(
    db: DB,
    request: Request,
    user: Asker,
    body: CaseCreate,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> CaseRead:
    """Ask the hubs for help with a case; it goes to the first hub that
    supports the spoke for the specialty (else up the tier chain)."""
    case, replayed = create_case(db, request, user, body, idempotency_key)
    if replayed:
        response.status_code = status.HTTP_200_OK
    response.headers["Location"] = f"/api/consults/{case.id}"
    return reads.case_reads(db, [case])[0]


@router.get("/consults")
def list_cases(
    db: DB,
    request: Request,
    user: Reader,
    side: Annotated[ConsultSide | None, Query()] = None,
    case_status: Annotated[ConsultStatus | None, Query(alias="status")] = None,
    urgency: ConsultUrgency | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> Page[CaseRead]:
    """Cases of the caller's facilities, as spoke or as hub, newest first."""
    scope = access_service.facility_scope(db, user, Permission.consult_read)
    where = []
    if not scope.everywhere:
        ids = list(scope.ids)
        as_spoke = ConsultCase.spoke_facility_id.in_(ids)
        as_hub = or_(ConsultCase.hub_facility_id.in_(ids), ConsultCase.answer_facility_id.in_(ids))
        where.append(
            as_spoke if side == ConsultSide.spoke else as_hub if side else or_(as_spoke, as_hub)
        )
    if case_status is not None:
        where.append(ConsultCase.status == case_status)
    if urgency is not None:
        where.append(ConsultCase.urgency == urgency)
    total, rows = repo.cases_where(db, where, limit, offset)
    access_service.audit(
        db,
        audit_context(request, user, Permission.consult_read),
        action="search",
        resource_type="ServiceRequest",
        resource_ids=[(str(c.id), c.patient_id) for c in rows] or [(None, None)],
    )
    return Page[CaseRead](items=reads.case_reads(db, rows), total=total, limit=limit, offset=offset)


def queue_hubs(db: DB, user: Principal, facility_code: str | None) -> frozenset[int] | None:
    scope = access_service.facility_scope(db, user, Permission.consult_read)
    if facility_code is not None:
        hub = network.need_facility(db, code=facility_code, field="facility_code")
        if not scope.covers(hub.id):
            raise Forbidden(
                "That queue is not at one of your facilities.",
                errors=[FieldError("facility_code", "outside your facilities")],
            )
        return frozenset({hub.id})
    return None if scope.everywhere else scope.ids


@router.get("/consults/queue")
def hub_queue(
    db: DB,
    request: Request,
    user: Reader,
    facility_code: Code | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 200,
) -> list[QueueItem]:
    """Open cases at the caller's hubs, the nearest deadline first, with the
    seconds left (negative once passed)."""
    rows = repo.queue(db, queue_hubs(db, user, facility_code), limit)
    access_service.audit(
        db,
        audit_context(request, user, Permission.consult_read),
        action="search",
        resource_type="ServiceRequest",
        resource_ids=[(str(c.id), c.patient_id) for c in rows] or [(None, None)],
    )
    return reads.queue_items(db, rows, utcnow())


# Network status ----------------------------------------------------------------


Heartbeater = Annotated[Principal, requires(Permission.bridge_heartbeat)]
NetworkReader = Annotated[Principal, requires(Permission.network_read)]


class HeartbeatBody(Schema):
    """Optional: what the bridge point reports about itself."""

    note: Annotated[str | None, StringConstraints(max_length=200)] = None


@router.post("/bridge-points/{point_id}/heartbeat")
def bridge_heartbeat(
    db: DB, user: Heartbeater, point_id: Id, body: HeartbeatBody | None = None
) -> status_.HeartbeatRead:
    """A bridge point says it is alive (every minute or so)."""
    found = status_.point(db, point_id)
    access.need(db, user, Permission.bridge_heartbeat, found.facility_id, "staff of its facility")
    return status_.heartbeat(db, point=found, now=utcnow())


@router.get("/consults/status")
def network_status(db: DB, user: NetworkReader) -> status_.NetworkStatus:
    """Bridge points online, cases in flight by urgency, deadlines breached."""
    return status_.network_status(db, now=utcnow())


@router.get("/consults/metrics")
def consult_metrics(
    db: DB,
    user: Counter,
    start: datetime | None = None,
    end: datetime | None = None,
) -> ConsultMetrics:
    """Response time (median, 90th percentile) by hub and urgency, breach
    rate, and the share treated locally vs transferred, over the caller's
    facilities."""
    scope = access_service.facility_scope(db, user, Permission.ledger_read)
    return metrics(db, start=start, end=end, hub_ids=None if scope.everywhere else scope.ids)


@router.get("/consults/deadlines/{program_code}")
def get_deadlines(db: DB, user: Reader, program_code: LongCode) -> DeadlinesRead:
    program = network.need_program(db, program_code)
    found = deadlines.program_minutes(db, program.id)
    return DeadlinesRead(
        program_code=program.code,
        emergency_minutes=found[ConsultUrgency.emergency],
        urgent_minutes=found[ConsultUrgency.urgent],
        routine_minutes=found[ConsultUrgency.routine],
    )


@router.put("/consults/deadlines/{program_code}")
def set_deadlines(
    db: DB, user: Configurer, program_code: LongCode, body: DeadlinesUpdate
) -> DeadlinesRead:
    """A program's response deadlines (minutes), set by a national administrator."""
    program = network.need_program(db, program_code)
    network.check_everywhere(db, user, field="program_code", what="a program's deadlines")
    deadlines.set_program_minutes(
        db,
        program_id=program.id,
        minutes={
            ConsultUrgency.emergency: body.emergency_minutes,
            ConsultUrgency.urgent: body.urgent_minutes,
            ConsultUrgency.routine: body.routine_minutes,
        },
    )
    return get_deadlines(db, user, program_code)


@router.get("/consults/{case_id}")
def get_case(db: DB, request: Request, user: Reader, case_id: Id) -> CaseDetail:
    case, _sides = access.load(request, db, user, case_id, action="read")
    access.record(request, db, user, case, "read")
    return reads.case_detail(db, case)


def hub_act(
    db: DB, request: Request, user: Principal, case_id: int, permission: Permission, what: str
) -> ConsultCase:
    case, _sides = access.load(request, db, user, case_id, action="update")
    access.need(db, user, permission, case.hub_facility_id, what)
    return case


@router.post("/consults/{case_id}/assign")
def assign(db: DB, request: Request, user: Coordinator, case_id: Id, body: Assign) -> CaseRead:
    """Give the case to a specialist of the hub (again: reassign)."""
    case = hub_act(
        db, request, user, case_id, Permission.consult_coordinate, "the hub's coordinator"
    )
    specialist = access_service.principal_for(db, _user(db, body.user_id), via="token")
    if not access.covers(db, specialist, Permission.consult_answer, case.hub_facility_id):
        raise Unprocessable(
            "That user is not a specialist of this hub.",
            errors=[FieldError("user_id", "not a specialist of the hub")],
        )
    service.assign(
        db, case=case, specialist_user_id=body.user_id, by_user_id=user.user_id, note=body.note
    )
    access.record(request, db, user, case, "update", detail=f"assigned to user {body.user_id}")
    return reads.case_reads(db, [case])[0]


def _user(db: DB, user_id: int) -> User:
    found = db.get(User, user_id)
    if found is None or not found.active:
        raise Unprocessable(f"No user {user_id}.", errors=[FieldError("user_id", "unknown")])
    return found


@router.post("/consults/{case_id}/decline")
def decline(db: DB, request: Request, user: Coordinator, case_id: Id, body: Decline) -> CaseRead:
    """The hub declines, with a reason; the case goes to the next hub."""
    case = hub_act(
        db, request, user, case_id, Permission.consult_coordinate, "the hub's coordinator"
    )
    service.decline(db, case=case, reason=body.reason, by_user_id=user.user_id)
    access.record(request, db, user, case, "update", detail="declined")
    return reads.case_reads(db, [case])[0]


@router.post("/consults/{case_id}/answer")
def answer(db: DB, request: Request, user: Specialist, case_id: Id, body: Answer) -> AnswerResult:
    """The written recommendation; counts the consultation in the ledger."""
    case = hub_act(db, request, user, case_id, Permission.consult_answer, "a specialist of the hub")
    transfer_to = None
    if body.transfer_facility_code is not None:
        transfer_to = network.need_facility(
            db, code=body.transfer_facility_code, field="transfer_facility_code"
        ).id
    case, entry = service.answer(
        db, case=case, data=body, transfer_facility_id=transfer_to, by_user_id=user.user_id
    )
    access.record(request, db, user, case, "update", detail="answered")
    return AnswerResult(case=reads.case_reads(db, [case])[0], ledger_entry_id=entry)


@router.post("/consults/{case_id}/outcome")
def record_outcome(
    db: DB, request: Request, user: Asker, case_id: Id, body: OutcomeCreate
) -> CaseRead:
    """What became of the patient, recorded by the spoke."""
    case, _sides = access.load(request, db, user, case_id, action="update")
    access.need(db, user, Permission.consult_request, case.spoke_facility_id, "the spoke's doctors")
    service.record_outcome(
        db, case=case, outcome=body.outcome, note=body.note, by_user_id=user.user_id
    )
    access.record(request, db, user, case, "update", detail=f"outcome {body.outcome.value}")
    return reads.case_reads(db, [case])[0]


@router.get("/consults/{case_id}/messages")
def list_messages(
    db: DB, request: Request, user: Reader, case_id: Id, since: datetime | None = None
) -> list[MessageRead]:
    """The thread, oldest first; ``since`` for what came after a time."""
    case, _sides = access.load(request, db, user, case_id, action="read")
    access.record(request, db, user, case, "read", resource_type="Communication")
    rows = [m for m in repo.messages(db, case.id) if since is None or m.sent_at > since]
    return reads.message_reads(db, rows)


@router.post("/consults/{case_id}/messages", status_code=status.HTTP_201_CREATED)
def post_message(
    db: DB,
    request: Request,
    user: Reader,
    case_id: Id,
    body: MessageCreate,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> MessageRead:
    case, sides = access.load(request, db, user, case_id, action="create")
    row, replayed = service.post_message(
        db,
        case=case,
        side=access.side_for_writing(sides, user),
        body=body.body,
        by_user_id=user.user_id,
        idempotency_key=_key(user, idempotency_key),
    )
    if replayed:
        response.status_code = status.HTTP_200_OK
    else:
        access.record(request, db, user, case, "create", resource_type="Communication")
    return reads.message_reads(db, [row])[0]


def _upload_read(db: DB, request: Request, case: ConsultCase, row: ConsultUpload) -> UploadRead:
    settings: Settings = request.app.state.settings
    done = db.get(ConsultFile, row.file_id) if row.file_id is not None else None
    return UploadRead(
        id=row.id,
        filename=row.filename,
        size=row.size,
        offset=files.offset(settings.data_dir, row),
        complete=row.file_id is not None,
        file=reads.file_read(done) if done is not None else None,
        url=f"/api/consults/{case.id}/uploads/{row.id}",
    )


UploadId = Annotated[str, Path(min_length=32, max_length=32, pattern="^[0-9a-f]{32}$")]


@router.post("/consults/{case_id}/uploads", status_code=status.HTTP_201_CREATED)
def start_upload(
    db: DB,
    request: Request,
    user: Reader,
    case_id: Id,
    body: UploadCreate,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> UploadRead:
    """Announce an attachment (name, total size); then send its bytes in
    chunks with ``PATCH`` to the returned ``url``."""
    case, sides = access.load(request, db, user, case_id, action="create")
    row, replayed = files.start(
        db,
        case=case,
        side=access.side_for_writing(sides, user),
        filename=body.filename,
        size=body.size,
        by_user_id=user.user_id,
        idempotency_key=_key(user, idempotency_key),
    )
    if replayed:
        response.status_code = status.HTTP_200_OK
    response.headers["Location"] = f"/api/consults/{case.id}/uploads/{row.id}"
    return _upload_read(db, request, case, row)


@router.get("/consults/{case_id}/uploads/{upload_id}")
def upload_state(
    db: DB, request: Request, user: Reader, case_id: Id, upload_id: UploadId
) -> UploadRead:
    """Where an upload stands: send the rest from ``offset``."""
    case, _sides = access.load(request, db, user, case_id, action="read")
    return _upload_read(db, request, case, files.get_upload(db, case, upload_id))


@router.patch("/consults/{case_id}/uploads/{upload_id}")
async def send_chunk(
    db: DB,
    request: Request,
    user: Reader,
    case_id: Id,
    upload_id: UploadId,
    upload_offset: Annotated[int, Header(ge=0, le=2**40)],
) -> UploadRead:
    """One chunk of the file as the raw body (``application/offset+octet-stream``
    or ``application/octet-stream``), starting at byte ``Upload-Offset``."""
    settings: Settings = request.app.state.settings
    case, _sides = await run_in_threadpool(access.load, request, db, user, case_id, action="create")
    row = await run_in_threadpool(files.get_upload, db, case, upload_id)
    chunk = bytearray()
    async for piece in request.stream():
        chunk += piece
        if len(chunk) > settings.max_body_bytes:
            raise PayloadTooLarge(
                f"A chunk may be at most {settings.max_body_bytes} bytes.",
                errors=[FieldError("body", "chunk too large")],
            )
    stored = await run_in_threadpool(
        lambda: files.append(
            db,
            upload=row,
            data_dir=settings.data_dir,
            at=upload_offset,
            chunk=bytes(chunk),
            by_user_id=user.user_id,
        )
    )
    if stored is not None:
        await run_in_threadpool(
            access.record,
            request,
            db,
            user,
            case,
            "create",
            resource_type="DocumentReference",
            detail=f"file {stored.id}",
        )
    return await run_in_threadpool(_upload_read, db, request, case, row)


@router.get("/consults/{case_id}/files/{file_id}", response_class=FileResponse)
def download_file(db: DB, request: Request, user: Reader, case_id: Id, file_id: Id) -> FileResponse:
    """Always a download, never shown inline (a DICOM file comes back byte for byte)."""
    settings: Settings = request.app.state.settings
    case, _sides = access.load(request, db, user, case_id, action="read")
    row, path = files.file_of(db, case=case, file_id=file_id, data_dir=settings.data_dir)
    access.record(
        request, db, user, case, "read", resource_type="DocumentReference", detail=f"file {row.id}"
    )
    return FileResponse(
        path,
        media_type=row.content_type,
        filename=row.filename,
        content_disposition_type="attachment",
        headers={
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
            "Content-Security-Policy": "sandbox",
        },
    )
