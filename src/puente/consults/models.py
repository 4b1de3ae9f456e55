"""Tables of remote consultation.

A case is asked by a spoke facility and sits at one hub at a time
(``hub_facility_id``); every move between hubs, every assignment, decline,
escalation and answer is a :class:`ConsultEvent`, so the path of a case can
be read back step by step.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from puente.db import Base, TimestampMixin, UTCDateTime, str_enum, utcnow
from puente.enums import ConsultOutcome, ConsultSide, ConsultStatus, ConsultUrgency, Sex


class ConsultCase(TimestampMixin, Base):
    __tablename__ = "consult_case"
    __table_args__ = (
        UniqueConstraint("idempotency_key"),
        Index("ix_consult_case_hub_status_due", "hub_facility_id", "status", "due_at"),
        Index("ix_consult_case_spoke_requested", "spoke_facility_id", "requested_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    spoke_facility_id: Mapped[int] = mapped_column(ForeignKey("facility.id"))
    requested_by_user_id: Mapped[int | None] = mapped_column(Integer)
    # The patient, or nobody for a de-identified case (age and sex only).
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patient.id"), index=True)
    patient_age_years: Mapped[int | None] = mapped_column(Integer)
    patient_sex: Mapped[Sex | None] = mapped_column(str_enum(Sex, "sex"))
    specialty_id: Mapped[int] = mapped_column(ForeignKey("specialty.id"))
    program_id: Mapped[int | None] = mapped_column(ForeignKey("program.id"))
    urgency: Mapped[ConsultUrgency] = mapped_column(str_enum(ConsultUrgency, "consult_urgency"))
    question: Mapped[str] = mapped_column(Text)
    clinical_summary: Mapped[str] = mapped_column(Text)
    vitals: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    answer_language: Mapped[str] = mapped_column(String(8))
    status: Mapped[ConsultStatus] = mapped_column(str_enum(ConsultStatus, "consult_status"))
    hub_facility_id: Mapped[int | None] = mapped_column(ForeignKey("facility.id"))
    assigned_user_id: Mapped[int | None] = mapped_column(Integer)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # The deadline at the current hub, and the first one (breach is measured on it).
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    first_due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # 0: on time at this hub; 1: deadline passed, the hub coordinator alerted.
    escalation_stage: Mapped[int] = mapped_column(Integer, default=0)
    breached_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The recommendation.
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    answered_by_user_id: Mapped[int | None] = mapped_column(Integer)
    answer_facility_id: Mapped[int | None] = mapped_column(ForeignKey("facility.id"))
    assessment: Mapped[str | None] = mapped_column(Text)
    diagnoses: Mapped[list[str]] = mapped_column(JSON, default=list)  # ICD-10 codes
    plan: Mapped[str | None] = mapped_column(Text)
    transfer: Mapped[bool | None] = mapped_column(Boolean)
    transfer_facility_id: Mapped[int | None] = mapped_column(ForeignKey("facility.id"))
    transfer_urgency: Mapped[ConsultUrgency | None] = mapped_column(
        str_enum(ConsultUrgency, "transfer_urgency")
    )
    # What happened, recorded by the spoke.
    outcome: Mapped[ConsultOutcome | None] = mapped_column(
        str_enum(ConsultOutcome, "consult_outcome")
    )
    outcome_note: Mapped[str | None] = mapped_column(Text)
    outcome_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # A resubmission after a dropped connection finds the first case by this key.
    idempotency_key: Mapped[str | None] = mapped_column(String(160))
    request_hash: Mapped[str | None] = mapped_column(String(64))


class ConsultEvent(Base):
    """One step of a case's path: created, routed, assigned, reassigned,
    declined, escalated_coordinator, escalated_hub, unrouted, answered,
    outcome."""

    __tablename__ = "consult_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(
        ForeignKey("consult_case.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    kind: Mapped[str] = mapped_column(String(32))
    hub_facility_id: Mapped[int | None] = mapped_column(ForeignKey("facility.id"))
    user_id: Mapped[int | None] = mapped_column(Integer)
    detail: Mapped[str | None] = mapped_column(String(500))


class ConsultMessage(Base):
    """The follow-up thread, stored and forwarded: each side reads it when
    it comes online."""

    __tablename__ = "consult_message"
    __table_args__ = (UniqueConstraint("idempotency_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(
        ForeignKey("consult_case.id", ondelete="CASCADE"), index=True
    )
    side: Mapped[ConsultSide] = mapped_column(str_enum(ConsultSide, "consult_side"))
    sender_user_id: Mapped[int | None] = mapped_column(Integer)
    body: Mapped[str] = mapped_column(Text)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    idempotency_key: Mapped[str | None] = mapped_column(String(160))


class ConsultFile(Base):
    """An attachment (image, PDF, DICOM), kept as a file under the data directory."""

    __tablename__ = "consult_file"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(
        ForeignKey("consult_case.id", ondelete="CASCADE"), index=True
    )
    side: Mapped[ConsultSide] = mapped_column(str_enum(ConsultSide, "consult_side"))
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(255), unique=True)
    uploaded_by_user_id: Mapped[int | None] = mapped_column(Integer)
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ConsultUpload(Base):
    """A chunked upload in progress: the bytes received so far are the
    partial file on disk; it becomes a :class:`ConsultFile` when complete."""

    __tablename__ = "consult_upload"
    __table_args__ = (UniqueConstraint("idempotency_key"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    case_id: Mapped[int] = mapped_column(
        ForeignKey("consult_case.id", ondelete="CASCADE"), index=True
    )
    side: Mapped[ConsultSide] = mapped_column(str_enum(ConsultSide, "consult_side"))
    filename: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(BigInteger)
    created_by_user_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    file_id: Mapped[int | None] = mapped_column(ForeignKey("consult_file.id"))
    idempotency_key: Mapped[str | None] = mapped_column(String(160))


class ConsultDeadline(Base):
    """A program's response deadline for one urgency (defaults: 30 min, 4 h, 72 h)."""

    __tablename__ = "consult_deadline"

    program_id: Mapped[int] = mapped_column(
        ForeignKey("program.id", ondelete="CASCADE"), primary_key=True
    )
    urgency: Mapped[ConsultUrgency] = mapped_column(
        str_enum(ConsultUrgency, "consult_urgency"), primary_key=True
    )
    minutes: Mapped[int] = mapped_column(Integer)
