"""Doctor–patient virtual visits: triage, the visit itself (booked or from
the on-demand queue), its room (chat and files), note, outcome and documents.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from puente.db import Base, TimestampMixin, UTCDateTime, str_enum, utcnow
from puente.enums import DocumentKind, Mode, TriageDecision, VisitOutcome, VisitStatus


class TriageAssessment(Base):
    """The answers to the acute-respiratory-infection questionnaire and what
    they decided; kept whether or not a visit followed."""

    __tablename__ = "triage_assessment"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    answers: Mapped[dict[str, Any]] = mapped_column(JSON)
    decision: Mapped[TriageDecision] = mapped_column(str_enum(TriageDecision, "triage_decision"))
    # Machine-readable reason code (e.g. "low_oxygen_saturation"), shown translated.
    reason: Mapped[str] = mapped_column(String(64))
    assessed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    assessed_by_user_id: Mapped[int | None] = mapped_column(Integer)


class Visit(TimestampMixin, Base):
    __tablename__ = "visit"
    __table_args__ = (Index("ix_visit_facility_status", "facility_id", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    facility_id: Mapped[int] = mapped_column(ForeignKey("facility.id"))
    # Booked visits have an appointment; on-demand (queue) visits do not.
    appointment_id: Mapped[int | None] = mapped_column(ForeignKey("appointment.id"), unique=True)
    practitioner_role_id: Mapped[int | None] = mapped_column(ForeignKey("practitioner_role.id"))
    service_id: Mapped[int | None] = mapped_column(ForeignKey("service.id"))
    triage_id: Mapped[int | None] = mapped_column(ForeignKey("triage_assessment.id"))
    mode: Mapped[Mode] = mapped_column(str_enum(Mode, "mode"), default=Mode.virtual)
    status: Mapped[VisitStatus] = mapped_column(str_enum(VisitStatus, "visit_status"))
    reason: Mapped[str | None] = mapped_column(String(500))
    queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The note.
    complaints: Mapped[str | None] = mapped_column(Text)
    findings: Mapped[str | None] = mapped_column(Text)
    assessment: Mapped[str | None] = mapped_column(Text)
    plan: Mapped[str | None] = mapped_column(Text)
    diagnoses: Mapped[list[str]] = mapped_column(JSON, default=list)  # ICD-10 codes
    outcome: Mapped[VisitOutcome | None] = mapped_column(str_enum(VisitOutcome, "visit_outcome"))
    closed_by_user_id: Mapped[int | None] = mapped_column(Integer)


class VisitMessage(Base):
    """A chat line in the visit's room (or a shared file announced in it)."""

    __tablename__ = "visit_message"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visit.id", ondelete="CASCADE"), index=True)
    sender_user_id: Mapped[int | None] = mapped_column(Integer)
    sender_role: Mapped[str] = mapped_column(String(32))  # clinician / patient
    body: Mapped[str] = mapped_column(Text)
    file_id: Mapped[int | None] = mapped_column(ForeignKey("visit_file.id"))
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class VisitFile(Base):
    """A file shared in the room (image or PDF), stored under the data directory."""

    __tablename__ = "visit_file"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visit.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(255), unique=True)
    uploaded_by_user_id: Mapped[int | None] = mapped_column(Integer)
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class VisitDocument(Base):
    """A prescription or sick-leave certificate issued at a visit, in the
    patient's language; the PDF is rendered from these fields on demand."""

    __tablename__ = "visit_document"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visit.id", ondelete="CASCADE"), index=True)
    kind: Mapped[DocumentKind] = mapped_column(str_enum(DocumentKind, "document_kind"))
    language: Mapped[str] = mapped_column(String(8))
    content: Mapped[dict[str, Any]] = mapped_column(JSON)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    issued_by_user_id: Mapped[int | None] = mapped_column(Integer)
