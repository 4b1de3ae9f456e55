"""JSON routes of `visits`: triage, booking and the queue (patients and the
call centre), the worklist, note, close and documents (clinicians), and the
counting figures.

Who may touch a visit: its patient; staff who may see the patient
(``PatientAccess``); and staff whose facility scope for the permission at
hand covers the visit's facility. Clinician actions (note, close,
documents) need ``visit_conduct`` over the visit's facility. Anyone else
gets 404, and a denied audit record.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response, status
from sqlalchemy.orm import Session

from puente.access.gate import requires
from puente.access.patients import PatientAccess, PatientReads
from puente.access.policy import Permission
from puente.access.principal import Principal
from puente.access.service import facility_scope
from puente.deps import DB
from puente.enums import AccessRole
from puente.errors import FieldError, Forbidden, Unprocessable
from puente.schemas import Id, Schema
from puente.visits import queue, service
from puente.visits import repository as repo
from puente.visits.documents import filename, render_pdf
from puente.visits.models import Visit, VisitDocument
from puente.visits.schemas import (
    BookVisit,
    CloseResult,
    DocumentCreate,
    DocumentRead,
    JoinQueue,
    QueuePlace,
    TriageCreate,
    TriageRead,
    VisitClose,
    VisitFigures,
    VisitNote,
    VisitRead,
)

router = APIRouter(tags=["visits"])

Booker = Annotated[Principal, requires(Permission.appointment_book)]
Clinician = Annotated[Principal, requires(Permission.visit_conduct)]
LedgerReader = Annotated[Principal, requires(Permission.ledger_read)]
GroupKey = Literal["facility", "region", "day"]


# Access to one visit; shared with the pages.


def load_visit(
    session: Session,
    access: PatientAccess,
    visit_id: int,
    *,
    action: str,
    conduct: bool = False,
) -> Visit:
    """The visit when the caller may touch it (see the module docstring)."""
    visit = repo.get_visit(session, visit_id)
    if visit is None:
        raise service.visit_not_found(visit_id)
    principal = access.principal
    if conduct:
        scope = facility_scope(session, principal, Permission.visit_conduct)
        if principal.has(Permission.visit_conduct) and scope.covers(visit.facility_id):
            return visit
        access.check(visit.patient_id, action=action, field="visit_id")
        raise Forbidden(
            "Only a clinician of the visit's facility may do this.",
            errors=[FieldError("visit_id", "outside your facilities")],
        )
    for permission in (Permission.visit_conduct, Permission.appointment_book):
        scope = facility_scope(session, principal, permission)
        if staff_with(principal, permission) and scope.covers(visit.facility_id):
            return visit
    access.check(visit.patient_id, action=action, field="visit_id")
    return visit


def staff_with(principal: Principal, permission: Permission) -> bool:
    """Holds ``permission`` through a staff role (a patient's own grant is
    system-wide in scope but covers only their own record)."""
    grants = principal.grants_for(permission)
    return bool(grants) and all(g.role != AccessRole.patient for g in grants)


def check_booking_facility(session: Session, principal: Principal, facility_id: int) -> None:
    """Staff book at the facilities of their scope; a patient books for themself
    (``PatientAccess`` has already checked it is themself)."""
    if not staff_with(principal, Permission.appointment_book):
        return
    if facility_scope(session, principal, Permission.appointment_book).covers(facility_id):
        return
    raise Forbidden(
        "You may only book at the facilities where you hold a role.",
        errors=[FieldError("facility_id", "outside your facilities")],
    )


def _record(access: PatientAccess, action: str, visit: Visit) -> None:
    access.record(action, [visit.patient_id], resource_type="Encounter")


# Patient side.


@router.post("/visits/triage", status_code=status.HTTP_201_CREATED)
def create_triage(db: DB, user: Booker, access: PatientReads, body: TriageCreate) -> TriageRead:
    """Answer the ARI / COVID-19 questionnaire: the decision and its reason.
    Only a ``virtual`` decision can be used to book or queue."""
    access.check(body.patient_id, action="create")
    row = service.assess(db, patient_id=body.patient_id, answers=body, by_user_id=user.user_id)
    access.record("create", [body.patient_id], resource_type="RiskAssessment")
    return service.triage_read(row)


@router.get("/visits/triage/{triage_id}")
def get_triage(db: DB, access: PatientReads, triage_id: Id) -> TriageRead:
    row = repo.get_triage(db, triage_id)
    if row is None:
        raise Unprocessable(f"No triage {triage_id}.", errors=[FieldError("triage_id", "unknown")])
    access.check(row.patient_id, action="read")
    access.record("read", [row.patient_id], resource_type="RiskAssessment")
    return service.triage_read(row)


@router.post("/visits", status_code=status.HTTP_201_CREATED)
def book_visit(
    db: DB, user: Booker, access: PatientReads, body: BookVisit, response: Response
) -> VisitRead:
    """Book a virtual slot (scheduling) for the patient; the visit follows."""
    access.check(body.patient_id, action="create")
    check_booking_facility(db, user, service.slot_facility(db, body.slot_id))
    visit = service.book_visit(db, data=body, by_user_id=user.user_id)
    _record(access, "create", visit)
    response.headers["Location"] = f"/api/visits/{visit.id}"
    return service.visit_read(db, visit)


class QueueJoined(Schema):
    visit: VisitRead
    place: QueuePlace


@router.post("/visits/queue", status_code=status.HTTP_201_CREATED)
def join_queue(db: DB, user: Booker, access: PatientReads, body: JoinQueue) -> QueueJoined:
    """Join a facility's on-demand queue (the patient's home polyclinic by default)."""
    access.check(body.patient_id, action="create")
    facility_id = service.queue_facility(db, body)
    check_booking_facility(db, user, facility_id)
    visit = queue.join_queue(db, data=body, facility_id=facility_id, by_user_id=user.user_id)
    _record(access, "create", visit)
    return QueueJoined(visit=service.visit_read(db, visit), place=queue.queue_place(db, visit))


# Clinician side (static paths before /visits/{visit_id}).


class TakeNext(Schema):
    facility_id: Id | None = None


@router.post("/visits/queue/next")
def take_next(db: DB, user: Clinician, access: PatientReads, body: TakeNext) -> VisitRead:
    """Take the longest-waiting patient of the queue of your facility."""
    scope = facility_scope(db, user, Permission.visit_conduct)
    if body.facility_id is not None:
        if not scope.covers(body.facility_id):
            raise Forbidden(
                "That queue is not at one of your facilities.",
                errors=[FieldError("facility_id", "outside your facilities")],
            )
        ids: frozenset[int] = frozenset({body.facility_id})
    elif scope.everywhere:
        raise Unprocessable(
            "Say which facility's queue.", errors=[FieldError("facility_id", "required")]
        )
    else:
        ids = scope.ids
    visit = queue.take_next(db, facility_ids=ids, practitioner_id=service.practitioner_of(db, user))
    _record(access, "update", visit)
    return service.visit_read(db, visit)


class WorkItemRead(Schema):
    visit: VisitRead
    patient: str


class WorklistRead(Schema):
    day: date
    timezone: str
    today: list[WorkItemRead]
    queue: list[WorkItemRead]


@router.get("/visits/worklist")
def worklist(
    db: DB,
    user: Clinician,
    access: PatientReads,
    facility_id: Id | None = None,
    day: date | None = None,
) -> WorklistRead:
    """Today's visits (in the facility's time zone) and the queue."""
    ids, timezone = service.worklist_scope(db, user, facility_id)
    found = service.worklist(db, facility_ids=ids, timezone=timezone, day=day)
    items = found.today + found.queue
    access.record("search", sorted({i.visit.patient_id for i in items}), resource_type="Encounter")

    def item(i: service.WorkItem) -> WorkItemRead:
        read = VisitRead.model_validate(i.visit)
        read.starts_at = i.starts_at
        return WorkItemRead(visit=read, patient=i.patient)

    return WorklistRead(
        day=found.day,
        timezone=found.timezone,
        today=[item(i) for i in found.today],
        queue=[item(i) for i in found.queue],
    )


@router.get("/visits/figures")
def figures(
    db: DB,
    user: LedgerReader,
    start: date | None = None,
    end: date | None = None,
    region: Annotated[str | None, Query(max_length=32)] = None,
    group_by: Annotated[list[GroupKey], Query()] = [],  # noqa: B006
) -> VisitFigures:
    """Consultations, unique patients and in-person visits avoided, from the
    ledger, over the caller's facilities; ``group_by`` facility, region, day."""
    scope = facility_scope(db, user, Permission.ledger_read)
    return service.figures(
        db,
        start=start,
        end=end,
        facility_ids=None if scope.everywhere else scope.ids,
        region=region,
        group_by=group_by,
    )


@router.get("/visits")
def my_visits(
    db: DB,
    access: PatientReads,
    patient_id: Id | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[VisitRead]:
    """Visits of the patients the caller may see, newest first."""
    if patient_id is not None:
        access.check(patient_id, action="search")
    rows = service.visits_of(db, where=access.where(), patient_id=patient_id, limit=limit)
    access.record("search", sorted({v.patient_id for v in rows}), resource_type="Encounter")
    return [service.visit_read(db, v) for v in rows]


@router.get("/visits/{visit_id}")
def get_visit(db: DB, access: PatientReads, visit_id: Id) -> VisitRead:
    visit = load_visit(db, access, visit_id, action="read")
    _record(access, "read", visit)
    return service.visit_read(db, visit)


@router.get("/visits/{visit_id}/queue")
def queue_place(db: DB, access: PatientReads, visit_id: Id) -> QueuePlace:
    visit = load_visit(db, access, visit_id, action="read")
    return queue.queue_place(db, visit)


@router.post("/visits/{visit_id}/cancel")
def cancel_visit(db: DB, user: Booker, access: PatientReads, visit_id: Id) -> VisitRead:
    visit = load_visit(db, access, visit_id, action="update")
    service.cancel_visit(db, visit=visit, reason="cancelled by " + user.username)
    _record(access, "update", visit)
    return service.visit_read(db, visit)


@router.put("/visits/{visit_id}/note")
def save_note(
    db: DB, user: Clinician, access: PatientReads, visit_id: Id, body: VisitNote
) -> VisitRead:
    visit = load_visit(db, access, visit_id, action="update", conduct=True)
    service.save_note(db, visit=visit, note=body)
    _record(access, "update", visit)
    return service.visit_read(db, visit)


@router.post("/visits/{visit_id}/close")
def close_visit(
    db: DB, user: Clinician, access: PatientReads, visit_id: Id, body: VisitClose
) -> CloseResult:
    """Close with note and outcome; writes the ledger row(s) in this transaction."""
    visit = load_visit(db, access, visit_id, action="update", conduct=True)
    result = service.close_visit(
        db,
        visit=visit,
        data=body,
        by_user_id=user.user_id,
        practitioner_id=service.practitioner_of(db, user),
    )
    _record(access, "update", visit)
    return result


def _document_read(row: VisitDocument) -> DocumentRead:
    return DocumentRead(
        id=row.id,
        visit_id=row.visit_id,
        kind=row.kind,
        language=row.language,
        content=row.content,
        issued_at=row.issued_at,
        url=f"/api/visits/{row.visit_id}/documents/{row.id}.pdf",
    )


@router.post("/visits/{visit_id}/documents", status_code=status.HTTP_201_CREATED)
def issue_document(
    db: DB, user: Clinician, access: PatientReads, visit_id: Id, body: DocumentCreate
) -> DocumentRead:
    """A prescription or sick-leave certificate, in the patient's language."""
    visit = load_visit(db, access, visit_id, action="create", conduct=True)
    row = service.issue_document(db, visit=visit, data=body, by_user_id=user.user_id)
    access.record("create", [visit.patient_id], resource_type="DocumentReference")
    return _document_read(row)


@router.get("/visits/{visit_id}/documents")
def list_documents(db: DB, access: PatientReads, visit_id: Id) -> list[DocumentRead]:
    visit = load_visit(db, access, visit_id, action="read")
    access.record("search", [visit.patient_id], resource_type="DocumentReference")
    return [_document_read(r) for r in service.documents(db, visit=visit)]


def pdf_response(db: Session, visit: Visit, document_id: int) -> Response:
    row = service.get_document(db, visit=visit, document_id=document_id)
    facts = service.document_facts(db, visit=visit, document=row)
    return Response(
        render_pdf(facts),
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{filename(facts)}"'},
    )


@router.get("/visits/{visit_id}/documents/{document_id}.pdf")
def document_pdf(db: DB, access: PatientReads, visit_id: Id, document_id: Id) -> Response:
    visit = load_visit(db, access, visit_id, action="read")
    access.record("read", [visit.patient_id], resource_type="DocumentReference")
    return pdf_response(db, visit, document_id)
