"""Bodies of the consults API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field, StringConstraints, model_validator

from puente.enums import ConsultOutcome, ConsultSide, ConsultStatus, ConsultUrgency, Sex
from puente.schemas import Code, Id, LanguageCode, LongCode, Schema, ShortText
from puente.visits.schemas import Icd10

CaseText = Annotated[str, StringConstraints(min_length=1, max_length=10_000)]
MessageText = Annotated[str, StringConstraints(min_length=1, max_length=4000)]
FileName = Annotated[str, StringConstraints(min_length=1, max_length=255)]


class Vitals(Schema):
    """Vital signs at the time of asking; every one optional."""

    heart_rate: Annotated[int | None, Field(ge=10, le=300)] = None
    systolic_bp: Annotated[int | None, Field(ge=30, le=300)] = None
    diastolic_bp: Annotated[int | None, Field(ge=10, le=200)] = None
    respiratory_rate: Annotated[int | None, Field(ge=2, le=120)] = None
    temperature_c: Annotated[float | None, Field(ge=25, le=45)] = None
    spo2: Annotated[int | None, Field(ge=30, le=100)] = None
    weight_kg: Annotated[float | None, Field(ge=0.2, le=400)] = None
    glasgow: Annotated[int | None, Field(ge=3, le=15)] = None


class CaseCreate(Schema):
    """A case asked by a spoke facility: a patient the asker may see, or a
    de-identified case (age and sex only, no patient)."""

    spoke_facility_code: Code
    patient_id: Id | None = None
    patient_age_years: Annotated[int | None, Field(ge=0, le=125)] = None
    patient_sex: Sex | None = None
    specialty_code: LongCode
    urgency: ConsultUrgency
    question: CaseText
    clinical_summary: CaseText
    vitals: Vitals = Vitals()
    answer_language: LanguageCode = "en"

    @model_validator(mode="after")
    def _patient_or_deidentified(self) -> CaseCreate:
        if self.patient_id is None and self.patient_age_years is None:
            raise ValueError("give patient_id, or patient_age_years for a de-identified case")
        return self


class Assign(Schema):
    user_id: Id
    note: ShortText | None = None


class Decline(Schema):
    reason: Annotated[str, StringConstraints(min_length=3, max_length=500)]


class Answer(Schema):
    assessment: CaseText
    diagnoses: Annotated[list[Icd10], Field(min_length=1, max_length=20)]
    plan: CaseText
    transfer: bool = False
    transfer_facility_code: Code | None = None
    transfer_urgency: ConsultUrgency | None = None

    @model_validator(mode="after")
    def _transfer_needs_where(self) -> Answer:
        if self.transfer and self.transfer_facility_code is None:
            raise ValueError("a transfer needs transfer_facility_code")
        if not self.transfer and (self.transfer_facility_code or self.transfer_urgency):
            raise ValueError("transfer_facility_code and transfer_urgency go with transfer")
        return self


class MessageCreate(Schema):
    body: MessageText


class OutcomeCreate(Schema):
    outcome: ConsultOutcome
    note: Annotated[str | None, StringConstraints(max_length=4000)] = None


class UploadCreate(Schema):
    filename: FileName
    size: Annotated[int, Field(ge=1, le=2**40)]


class DeadlinesUpdate(Schema):
    emergency_minutes: Annotated[int, Field(ge=5, le=1440)] = 30
    urgent_minutes: Annotated[int, Field(ge=15, le=10_080)] = 240
    routine_minutes: Annotated[int, Field(ge=60, le=43_200)] = 4320


class DeadlinesRead(Schema):
    program_code: str
    emergency_minutes: int
    urgent_minutes: int
    routine_minutes: int


class FileRead(Schema):
    id: int
    side: ConsultSide
    filename: str
    content_type: str
    size: int
    sha256: str
    uploaded_at: datetime
    url: str


class UploadRead(Schema):
    id: str
    filename: str
    size: int
    offset: int
    complete: bool
    file: FileRead | None = None
    url: str


class MessageRead(Schema):
    id: int
    side: ConsultSide
    sender: str | None
    body: str
    sent_at: datetime


class EventRead(Schema):
    at: datetime
    kind: str
    hub_facility_code: str | None
    user: str | None
    detail: str | None


class CaseRead(Schema):
    id: int
    spoke_facility_code: str
    spoke_facility_name: str
    hub_facility_code: str | None
    hub_facility_name: str | None
    patient_id: int | None
    patient_age_years: int | None
    patient_sex: Sex | None
    specialty_code: str
    urgency: ConsultUrgency
    status: ConsultStatus
    question: str
    clinical_summary: str
    vitals: dict[str, object]
    answer_language: str
    requested_at: datetime
    due_at: datetime
    first_due_at: datetime
    breached: bool
    escalation_stage: int
    assigned_user: str | None
    answered_at: datetime | None
    assessment: str | None
    diagnoses: list[str]
    plan: str | None
    transfer: bool | None
    transfer_facility_code: str | None
    transfer_urgency: ConsultUrgency | None
    outcome: ConsultOutcome | None
    outcome_note: str | None
    outcome_at: datetime | None


class CaseDetail(CaseRead):
    events: list[EventRead]
    messages: list[MessageRead]
    files: list[FileRead]


class QueueItem(Schema):
    id: int
    urgency: ConsultUrgency
    status: ConsultStatus
    specialty_code: str
    spoke_facility_code: str
    spoke_facility_name: str
    question: str
    due_at: datetime
    seconds_left: int
    escalation_stage: int
    assigned_user: str | None


class AnswerResult(Schema):
    case: CaseRead
    ledger_entry_id: int | None


class EscalationRead(Schema):
    case_id: int
    kind: str
    hub_facility_code: str | None
