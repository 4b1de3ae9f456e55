"""The outbox: notifications written in the same transaction as what caused
them, and delivered afterwards by a sender (log, SMTP e-mail, HTTP SMS)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from puente.db import Base, UTCDateTime, str_enum, utcnow
from puente.enums import OutboxStatus


class OutboxMessage(Base):
    __tablename__ = "outbox_message"
    __table_args__ = (
        # One notification per cause (e.g. "appointment 12 booked"), however
        # often the cause is retried.
        UniqueConstraint("dedupe_key"),
        Index("ix_outbox_message_due", "status", "send_after"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))  # email, sms, log
    recipient: Mapped[str] = mapped_column(String(254))
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patient.id"), index=True)
    language: Mapped[str] = mapped_column(String(8))
    template: Mapped[str] = mapped_column(String(64))  # e.g. booking_confirmed
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    dedupe_key: Mapped[str] = mapped_column(String(200))
    status: Mapped[OutboxStatus] = mapped_column(
        str_enum(OutboxStatus, "outbox_status"), default=OutboxStatus.pending
    )
    send_after: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
