"""Tables of tele-education and the doctors' network (see
:mod:`puente.consults.education`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from puente.db import Base, UTCDateTime, str_enum, utcnow
from puente.enums import ConsultOutcome, ConsultUrgency, Sex


class TrainingSession(Base):
    """A hub's training session for spoke staff."""

    __tablename__ = "training_session"
    __table_args__ = (Index("ix_training_session_idempotency_key", "idempotency_key", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    hub_facility_id: Mapped[int] = mapped_column(ForeignKey("facility.id"), index=True)
    title: Mapped[str] = mapped_column(String(300))
    specialty_id: Mapped[int | None] = mapped_column(ForeignKey("specialty.id"))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    minutes: Mapped[int] = mapped_column(Integer)
    video_url: Mapped[str | None] = mapped_column(String(500))
    created_by_user_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    idempotency_key: Mapped[str | None] = mapped_column(String(160))


class TrainingAttendance(Base):
    __tablename__ = "training_attendance"
    __table_args__ = (
        Index("ix_training_attendance_session_facility", "session_id", "facility_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("training_session.id", ondelete="CASCADE"))
    facility_id: Mapped[int] = mapped_column(ForeignKey("facility.id"))
    practitioner_id: Mapped[int | None] = mapped_column(ForeignKey("practitioner.id"))
    user_id: Mapped[int | None] = mapped_column(Integer)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class TeachingCase(Base):
    """De-identified teaching material made from an answered case; it keeps
    no reference to the case or the patient."""

    __tablename__ = "teaching_case"
    __table_args__ = (Index("ix_teaching_case_idempotency_key", "idempotency_key", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    specialty_id: Mapped[int] = mapped_column(ForeignKey("specialty.id"), index=True)
    title: Mapped[str] = mapped_column(String(300))
    age_band: Mapped[str | None] = mapped_column(String(16))
    sex: Mapped[Sex | None] = mapped_column(str_enum(Sex, "sex"))
    urgency: Mapped[ConsultUrgency] = mapped_column(str_enum(ConsultUrgency, "consult_urgency"))
    question: Mapped[str] = mapped_column(Text)
    clinical_summary: Mapped[str] = mapped_column(Text)
    assessment: Mapped[str | None] = mapped_column(Text)
    plan: Mapped[str | None] = mapped_column(Text)
    diagnoses: Mapped[list[str]] = mapped_column(JSON, default=list)
    outcome: Mapped[ConsultOutcome | None] = mapped_column(
        str_enum(ConsultOutcome, "consult_outcome")
    )
    created_by_user_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    idempotency_key: Mapped[str | None] = mapped_column(String(160))


class BoardThread(Base):
    """A discussion of the doctors' network, by specialty; on a teaching
    case (de-identified) or on a topic, never on a live case."""

    __tablename__ = "board_thread"
    __table_args__ = (Index("ix_board_thread_idempotency_key", "idempotency_key", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    specialty_id: Mapped[int] = mapped_column(ForeignKey("specialty.id"), index=True)
    title: Mapped[str] = mapped_column(String(300))
    teaching_case_id: Mapped[int | None] = mapped_column(ForeignKey("teaching_case.id"))
    created_by_user_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    idempotency_key: Mapped[str | None] = mapped_column(String(160))


class BoardPost(Base):
    __tablename__ = "board_post"
    __table_args__ = (Index("ix_board_post_idempotency_key", "idempotency_key", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    thread_id: Mapped[int] = mapped_column(
        ForeignKey("board_thread.id", ondelete="CASCADE"), index=True
    )
    body: Mapped[str] = mapped_column(Text)
    author_user_id: Mapped[int | None] = mapped_column(Integer)
    posted_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    idempotency_key: Mapped[str | None] = mapped_column(String(160))
