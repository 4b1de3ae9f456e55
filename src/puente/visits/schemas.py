"""Bodies of the visits API: triage, booking, the queue, the note, the
close, documents, and the counting figures."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, Field, StringConstraints, model_validator

from puente.enums import DocumentKind, Mode, TriageDecision, VisitOutcome, VisitStatus
from puente.schemas import Id, Schema, ShortText
from puente.visits.triage import Breathing, ChronicCondition

# ICD-10: a letter, two digits, and an optional subdivision (A00–Z99, J06.9, U07.1).
ICD10 = re.compile(r"^[A-Z][0-9]{2}(\.[0-9A-Z]{1,4})?$")


def _icd10(value: str) -> str:
    value = value.strip().upper()
    if not ICD10.match(value):
        raise ValueError(f"'{value}' is not an ICD-10 code such as J06.9")
    return value


Icd10 = Annotated[str, AfterValidator(_icd10)]
NoteText = Annotated[str, StringConstraints(max_length=10_000)]


class TriageAnswers(Schema):
    fever_days: Annotated[int, Field(ge=0, le=60)]
    breathing: Breathing = Breathing.none
    # Per cent, only when the patient has a pulse oximeter at home.
    spo2: Annotated[int | None, Field(ge=50, le=100)] = None
    # When absent, the patient's age from their birth date.
    age: Annotated[int | None, Field(ge=0, le=125)] = None
    pregnant: bool = False
    chronic_conditions: list[ChronicCondition] = []


class TriageCreate(TriageAnswers):
    patient_id: Id


class TriageRead(Schema):
    id: int
    patient_id: int
    decision: TriageDecision
    reason: str
    reason_text: str
    answers: dict[str, Any]
    assessed_at: datetime


class BookVisit(Schema):
    patient_id: Id
    slot_id: Id
    # Required when the reason is an acute respiratory infection: a virtual decision.
    triage_id: Id | None = None
    reason: ShortText | None = None
    idempotency_key: Annotated[str | None, StringConstraints(max_length=128)] = None


class JoinQueue(Schema):
    patient_id: Id
    # The patient's home polyclinic when absent.
    facility_id: Id | None = None
    triage_id: Id | None = None
    reason: ShortText | None = None


class VisitRead(Schema):
    id: int
    patient_id: int
    facility_id: int
    appointment_id: int | None
    practitioner_role_id: int | None
    service_id: int | None
    triage_id: int | None
    mode: Mode
    status: VisitStatus
    reason: str | None
    starts_at: datetime | None = None
    queued_at: datetime | None
    started_at: datetime | None
    ended_at: datetime | None
    complaints: str | None
    findings: str | None
    assessment: str | None
    plan: str | None
    diagnoses: list[str]
    outcome: VisitOutcome | None


class QueuePlace(Schema):
    visit_id: int
    position: int
    ahead: int
    estimated_wait_minutes: int


class VisitNote(Schema):
    complaints: NoteText | None = None
    findings: NoteText | None = None
    assessment: NoteText | None = None
    plan: NoteText | None = None
    diagnoses: Annotated[list[Icd10], Field(max_length=20)] = []


class VisitClose(VisitNote):
    outcome: VisitOutcome
    # With outcome follow_up_virtual: a slot to book the follow-up in.
    follow_up_slot_id: Id | None = None

    @model_validator(mode="after")
    def _follow_up_only_for_follow_up(self) -> VisitClose:
        if self.follow_up_slot_id is not None and self.outcome != VisitOutcome.follow_up_virtual:
            raise ValueError("follow_up_slot_id goes with outcome follow_up_virtual only")
        return self


class CloseResult(Schema):
    visit: VisitRead
    ledger_entry_ids: list[int]
    follow_up_visit_id: int | None = None


class PrescriptionItem(Schema):
    medication: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    dosage: Annotated[str, StringConstraints(max_length=200)] = ""
    instructions: Annotated[str, StringConstraints(max_length=500)] = ""


class DocumentCreate(Schema):
    kind: DocumentKind
    # Prescription.
    items: Annotated[list[PrescriptionItem], Field(max_length=20)] = []
    # Sick-leave certificate.
    off_work_from: date | None = None
    off_work_until: date | None = None

    @model_validator(mode="after")
    def _complete(self) -> DocumentCreate:
        if self.kind == DocumentKind.prescription and not self.items:
            raise ValueError("a prescription needs at least one item")
        if self.kind == DocumentKind.sick_leave:
            if self.off_work_from is None or self.off_work_until is None:
                raise ValueError("a sick-leave certificate needs off_work_from and off_work_until")
            if self.off_work_until < self.off_work_from:
                raise ValueError("off_work_until is before off_work_from")
        return self


class DocumentRead(Schema):
    id: int
    visit_id: int
    kind: DocumentKind
    language: str
    content: dict[str, Any]
    issued_at: datetime
    url: str


class FigureGroup(Schema):
    facility: str | None = None
    region: str | None = None
    day: date | None = None
    consultations: int
    unique_patients: int
    visits_avoided: int


class VisitFigures(Schema):
    consultations: int
    unique_patients: int
    visits_avoided: int
    groups: list[FigureGroup]
