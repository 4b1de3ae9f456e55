"""Pages of `visits`: the patient's (or call centre's) triage → book or
queue → visit page, and the clinician's worklist, note, close and documents.
They call the same services and access checks as the JSON routes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from typing import Annotated, Any, TypeVar
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from puente import i18n
from puente.access.gate import requires
from puente.access.patients import PatientReads
from puente.access.policy import Permission
from puente.access.principal import Principal
from puente.access.service import facility_scope
from puente.db import utcnow
from puente.deps import DB
from puente.enums import DocumentKind, Mode, TriageDecision, VisitOutcome, VisitStatus
from puente.errors import FieldError, Unprocessable
from puente.i18n import gettext as _
from puente.scheduling import reads as scheduling_reads
from puente.scheduling import service as scheduling
from puente.scheduling.models import Slot
from puente.schemas import Id
from puente.visits import queue, service
from puente.visits import repository as repo
from puente.visits.api import check_booking_facility, load_visit, pdf_response, staff_with
from puente.visits.schemas import (
    BookVisit,
    DocumentCreate,
    JoinQueue,
    PrescriptionItem,
    TriageAnswers,
    VisitClose,
)
from puente.visits.triage import Breathing, ChronicCondition
from puente.web.templating import render

router = APIRouter(include_in_schema=False)

Booker = Annotated[Principal, requires(Permission.appointment_book)]
Clinician = Annotated[Principal, requires(Permission.visit_conduct)]
SLOT_DAYS = 14
SLOTS_OFFERED = 120


@dataclass
class Offer:
    doctor: str
    slots: list[Slot]


B = TypeVar("B", bound=StrEnum)

# English msgids, translated in visits.po.
STATUS_LABELS = {
    VisitStatus.booked: "Booked",
    VisitStatus.queued: "In the queue",
    VisitStatus.lobby: "Waiting room",
    VisitStatus.in_call: "In the call",
    VisitStatus.closed: "Closed",
    VisitStatus.cancelled: "Cancelled",
}
OUTCOME_LABELS = {
    VisitOutcome.resolved_remotely: "Resolved remotely",
    VisitOutcome.follow_up_virtual: "Follow-up virtual visit",
    VisitOutcome.referred_in_person: "Referred to an in-person visit",
    VisitOutcome.referred_emergency: "Referred to emergency care",
}
DECISION_LABELS = {
    TriageDecision.virtual: "Virtual visit",
    TriageDecision.in_person: "In-person visit",
    TriageDecision.emergency: "Emergency care",
}
BREATHING_LABELS = {
    Breathing.none: "No difficulty breathing",
    Breathing.on_exertion: "Difficulty breathing on exertion",
    Breathing.at_rest: "Difficulty breathing at rest",
}
CONDITION_LABELS = {
    ChronicCondition.diabetes: "Diabetes",
    ChronicCondition.heart_disease: "Heart disease",
    ChronicCondition.lung_disease: "Chronic lung disease",
    ChronicCondition.kidney_disease: "Kidney disease",
    ChronicCondition.immunosuppression: "Immunosuppression",
    ChronicCondition.obesity: "Obesity",
}
KIND_LABELS = {
    DocumentKind.prescription: "Prescription",
    DocumentKind.sick_leave: "Sick-leave certificate",
}


def _labels() -> dict[str, Any]:
    return {
        "status_label": lambda s: _(STATUS_LABELS[VisitStatus(s)]),
        "outcome_label": lambda o: _(OUTCOME_LABELS[VisitOutcome(o)]),
        "decision_label": lambda d: _(DECISION_LABELS[TriageDecision(d)]),
        "kind_label": lambda k: _(KIND_LABELS[DocumentKind(k)]),
        "breathing": [(b.value, _(label)) for b, label in BREATHING_LABELS.items()],
        "conditions": [(c.value, _(label)) for c, label in CONDITION_LABELS.items()],
        "outcomes": [(o.value, _(label)) for o, label in OUTCOME_LABELS.items()],
    }


def _invalid(exc: ValidationError) -> Unprocessable:
    errors = [
        FieldError(".".join(str(p) for p in e["loc"]) or "form", e["msg"]) for e in exc.errors()
    ]
    return Unprocessable("; ".join(f"{e.field}: {e.message}" for e in errors), errors=errors)


def _values(enum: type[StrEnum]) -> set[str]:
    return {str(e.value) for e in enum}


def _choice(enum: type[B], value: str, default: B) -> B:
    return enum(value) if value in _values(enum) else default


def _redirect(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


@router.get("/visits", response_class=HTMLResponse)
def visits_page(
    request: Request, db: DB, access: PatientReads, patient_id: Id | None = None
) -> HTMLResponse:
    user = access.principal
    own = user.patient_id if not staff_with(user, Permission.appointment_book) else None
    wanted = patient_id or own
    if wanted is not None:
        access.check(wanted, action="search")
    rows = service.visits_of(db, where=access.where(), patient_id=wanted, limit=50)
    access.record("search", sorted({v.patient_id for v in rows}), resource_type="Encounter")
    return render(
        request,
        "visits/list.html",
        visits=[service.visit_read(db, v) for v in rows],
        names=repo.patient_names(db, {v.patient_id for v in rows}),
        patient_id=wanted,
        can_book=user.has(Permission.appointment_book),
        is_staff=staff_with(user, Permission.appointment_book),
        is_clinician=user.has(Permission.visit_conduct),
        **_labels(),
    )


@router.get("/visits/new", response_class=HTMLResponse)
def new_visit_page(
    request: Request, db: DB, user: Booker, access: PatientReads, patient_id: Id | None = None
) -> HTMLResponse:
    wanted = patient_id or user.patient_id
    if wanted is None:
        raise Unprocessable(
            "Choose the patient first.", errors=[FieldError("patient_id", "required")]
        )
    access.check(wanted, action="read")
    names = repo.patient_names(db, [wanted])
    return render(
        request, "visits/new.html", patient_id=wanted, patient=names.get(wanted, ""), **_labels()
    )


@router.post("/visits/new", response_class=HTMLResponse)
def triage_page(
    request: Request,
    db: DB,
    user: Booker,
    access: PatientReads,
    patient_id: Annotated[int, Form()],
    fever_days: Annotated[int, Form()],
    breathing: Annotated[str, Form()] = "none",
    spo2: Annotated[str, Form()] = "",
    age: Annotated[str, Form()] = "",
    pregnant: Annotated[bool, Form()] = False,
    chronic_conditions: Annotated[list[str], Form()] = [],  # noqa: B006
    reason: Annotated[str, Form(max_length=500)] = "",
) -> HTMLResponse:
    """Run the triage; show the decision and, when virtual, the free slots."""
    access.check(patient_id, action="create")
    try:
        answers = TriageAnswers(
            fever_days=fever_days,
            breathing=_choice(Breathing, breathing, Breathing.none),
            spo2=int(spo2) if spo2.strip() else None,
            age=int(age) if age.strip() else None,
            pregnant=pregnant,
            chronic_conditions=[
                ChronicCondition(c) for c in chronic_conditions if c in _values(ChronicCondition)
            ],
        )
    except (ValidationError, ValueError) as exc:
        raise (
            _invalid(exc) if isinstance(exc, ValidationError) else Unprocessable(str(exc))
        ) from None
    row = service.assess(db, patient_id=patient_id, answers=answers, by_user_id=user.user_id)
    access.record("create", [patient_id], resource_type="RiskAssessment")
    slots, facility = [], None
    if row.decision == TriageDecision.virtual:
        patient = repo.get_patient(db, patient_id)
        home = patient.home_facility_id if patient else None
        facility = repo.get_facility(db, home) if home else None
        now = utcnow()
        slots = scheduling.free_slots(
            db,
            facility_ids=[home] if home else None,
            mode=Mode.virtual,
            start=now,
            end=now + timedelta(days=SLOT_DAYS),
            limit=SLOTS_OFFERED,
        )
    timezone = facility.timezone if facility else "UTC"
    return render(
        request,
        "visits/triage.html",
        triage=row,
        reason_text=service.reason_text(row.reason),
        reason=reason,
        patient_id=patient_id,
        slots=slots,
        offer=_offer(db, slots, timezone),
        facility=facility,
        timezone=timezone,
        **_labels(),
    )


def _offer(db: Session, slots: list[Slot], timezone: str) -> list[tuple[date, list[Offer]]]:
    """Free slots by local day, then by doctor (name and specialty), in order."""
    who = scheduling_reads.practitioners_of_schedules(
        db, {s.schedule_id for s in slots}, i18n.current_language.get()
    )
    zone = ZoneInfo(timezone)
    days: dict[date, dict[int, Offer]] = {}
    for slot in slots:
        day = slot.starts_at.astimezone(zone).date()
        doctors = days.setdefault(day, {})
        offer = doctors.get(slot.schedule_id)
        if offer is None:
            offer = doctors[slot.schedule_id] = Offer(who.get(slot.schedule_id, ""), [])
        offer.slots.append(slot)
    return [(day, list(doctors.values())) for day, doctors in days.items()]


@router.post("/visits/book")
def book_page(
    db: DB,
    user: Booker,
    access: PatientReads,
    patient_id: Annotated[int, Form()],
    slot_id: Annotated[int, Form()],
    triage_id: Annotated[int | None, Form()] = None,
    reason: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    access.check(patient_id, action="create")
    check_booking_facility(db, user, service.slot_facility(db, slot_id))
    data = BookVisit(
        patient_id=patient_id, slot_id=slot_id, triage_id=triage_id, reason=reason or None
    )
    visit = service.book_visit(db, data=data, by_user_id=user.user_id)
    access.record("create", [patient_id], resource_type="Encounter")
    return _redirect(f"/visits/{visit.id}")


@router.post("/visits/queue")
def queue_page(
    db: DB,
    user: Booker,
    access: PatientReads,
    patient_id: Annotated[int, Form()],
    triage_id: Annotated[int | None, Form()] = None,
    reason: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    access.check(patient_id, action="create")
    data = JoinQueue(patient_id=patient_id, triage_id=triage_id, reason=reason or None)
    facility_id = service.queue_facility(db, data)
    check_booking_facility(db, user, facility_id)
    visit = queue.join_queue(db, data=data, facility_id=facility_id, by_user_id=user.user_id)
    access.record("create", [patient_id], resource_type="Encounter")
    return _redirect(f"/visits/{visit.id}")


@router.get("/clinic/visits", response_class=HTMLResponse)
def worklist_page(
    request: Request, db: DB, user: Clinician, access: PatientReads, facility_id: Id | None = None
) -> HTMLResponse:
    ids, timezone = service.worklist_scope(db, user, facility_id)
    found = service.worklist(db, facility_ids=ids, timezone=timezone)
    items = found.today + found.queue
    access.record("search", sorted({i.visit.patient_id for i in items}), resource_type="Encounter")
    return render(
        request, "visits/worklist.html", worklist=found, facility_id=facility_id, **_labels()
    )


@router.post("/clinic/visits/next")
def take_next_page(
    db: DB, user: Clinician, access: PatientReads, facility_id: Annotated[int | None, Form()] = None
) -> Response:
    ids, _tz = service.worklist_scope(db, user, facility_id)
    visit = queue.take_next(db, facility_ids=ids, practitioner_id=service.practitioner_of(db, user))
    access.record("update", [visit.patient_id], resource_type="Encounter")
    return _redirect(f"/visits/{visit.id}")


@router.get("/visits/{visit_id}", response_class=HTMLResponse)
def visit_page(request: Request, db: DB, access: PatientReads, visit_id: Id) -> HTMLResponse:
    visit = load_visit(db, access, visit_id, action="read")
    access.record("read", [visit.patient_id], resource_type="Encounter")
    user = access.principal
    conducts = user.has(Permission.visit_conduct) and facility_scope(
        db, user, Permission.visit_conduct
    ).covers(visit.facility_id)
    facility = repo.get_facility(db, visit.facility_id)
    follow_ups = []
    if conducts and visit.status != VisitStatus.closed:
        now = utcnow()
        follow_ups = scheduling.free_slots(
            db,
            facility_ids=[visit.facility_id],
            mode=Mode.virtual,
            start=now + timedelta(days=1),
            end=now + timedelta(days=SLOT_DAYS),
            limit=20,
        )
    triage = repo.get_triage(db, visit.triage_id) if visit.triage_id else None
    return render(
        request,
        "visits/visit.html",
        visit=service.visit_read(db, visit),
        patient=repo.patient_names(db, [visit.patient_id]).get(visit.patient_id, ""),
        facility=facility,
        timezone=facility.timezone if facility else "UTC",
        place=queue.queue_place(db, visit) if visit.status == VisitStatus.queued else None,
        documents=service.documents(db, visit=visit),
        conducts=conducts,
        follow_ups=follow_ups,
        triage=triage,
        triage_text=service.reason_text(triage.reason) if triage else "",
        **_labels(),
    )


@router.post("/visits/{visit_id}/close")
def close_page(
    db: DB,
    user: Clinician,
    access: PatientReads,
    visit_id: Id,
    outcome: Annotated[str, Form()],
    complaints: Annotated[str, Form()] = "",
    findings: Annotated[str, Form()] = "",
    assessment: Annotated[str, Form()] = "",
    plan: Annotated[str, Form()] = "",
    diagnoses: Annotated[str, Form()] = "",
    follow_up_slot_id: Annotated[str, Form()] = "",
) -> Response:
    visit = load_visit(db, access, visit_id, action="update", conduct=True)
    try:
        data = VisitClose(
            outcome=outcome,  # validated by the schema
            complaints=complaints or None,
            findings=findings or None,
            assessment=assessment or None,
            plan=plan or None,
            diagnoses=[d for d in diagnoses.replace(";", ",").split(",") if d.strip()],
            follow_up_slot_id=int(follow_up_slot_id) if follow_up_slot_id.strip() else None,
        )
    except ValidationError as exc:
        raise _invalid(exc) from None
    service.close_visit(
        db,
        visit=visit,
        data=data,
        by_user_id=user.user_id,
        practitioner_id=service.practitioner_of(db, user),
    )
    access.record("update", [visit.patient_id], resource_type="Encounter")
    return _redirect(f"/visits/{visit.id}")


@router.post("/visits/{visit_id}/documents")
def document_page(
    db: DB,
    user: Clinician,
    access: PatientReads,
    visit_id: Id,
    kind: Annotated[str, Form()],
    medication: Annotated[str, Form()] = "",
    dosage: Annotated[str, Form()] = "",
    instructions: Annotated[str, Form()] = "",
    off_work_from: Annotated[str, Form()] = "",
    off_work_until: Annotated[str, Form()] = "",
) -> Response:
    visit = load_visit(db, access, visit_id, action="create", conduct=True)
    try:
        data = DocumentCreate.model_validate(
            {
                "kind": kind,
                "items": [
                    PrescriptionItem(
                        medication=medication, dosage=dosage, instructions=instructions
                    )
                ]
                if kind == DocumentKind.prescription
                else [],
                "off_work_from": off_work_from or None,
                "off_work_until": off_work_until or None,
            }
        )
    except ValidationError as exc:
        raise _invalid(exc) from None
    service.issue_document(db, visit=visit, data=data, by_user_id=user.user_id)
    access.record("create", [visit.patient_id], resource_type="DocumentReference")
    return _redirect(f"/visits/{visit.id}")


@router.get("/visits/{visit_id}/documents/{document_id}.pdf")
def document_download(db: DB, access: PatientReads, visit_id: Id, document_id: Id) -> Response:
    visit = load_visit(db, access, visit_id, action="read")
    access.record("read", [visit.patient_id], resource_type="DocumentReference")
    return pdf_response(db, visit, document_id)
