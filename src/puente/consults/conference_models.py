"""Tables of case conferences (see :mod:`puente.consults.conferences`).

A conference is held by a hub (``hub_facility_id``) at a time; its agenda is
an ordered list of consultation cases, each with the decision recorded after
discussion; its participants are accounts of practitioners of the hub, of
other hubs and of the spokes whose cases are on the agenda.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from puente.db import Base, UTCDateTime, str_enum, utcnow
from puente.enums import ConferenceProvider, ConferenceStatus, ConsultSide


class Conference(Base):
    __tablename__ = "conference"
    __table_args__ = (
        UniqueConstraint("idempotency_key"),
        Index("ix_conference_hub_starts", "hub_facility_id", "starts_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    hub_facility_id: Mapped[int] = mapped_column(ForeignKey("facility.id"))
    program_id: Mapped[int | None] = mapped_column(ForeignKey("program.id"))
    title: Mapped[str] = mapped_column(String(300))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    minutes: Mapped[int] = mapped_column(Integer)
    timezone: Mapped[str] = mapped_column(String(64))  # IANA, how the time is shown
    status: Mapped[ConferenceStatus] = mapped_column(
        str_enum(ConferenceStatus, "conference_status")
    )
    provider: Mapped[ConferenceProvider] = mapped_column(
        str_enum(ConferenceProvider, "conference_provider")
    )
    # The hub coordinator (or specialist) who runs it and moves the agenda on.
    chair_user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    # The agenda position under discussion now (0: the first case).
    current_position: Mapped[int] = mapped_column(Integer, default=0)
    created_by_user_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cancel_reason: Mapped[str | None] = mapped_column(String(500))
    idempotency_key: Mapped[str | None] = mapped_column(String(160))
    request_hash: Mapped[str | None] = mapped_column(String(64))


class ConferenceItem(Base):
    """One case on a conference's agenda, and what was decided about it."""

    __tablename__ = "conference_item"
    __table_args__ = (UniqueConstraint("conference_id", "case_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conference_id: Mapped[int] = mapped_column(
        ForeignKey("conference.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    case_id: Mapped[int] = mapped_column(ForeignKey("consult_case.id"), index=True)
    decision: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decided_by_user_id: Mapped[int | None] = mapped_column(Integer)


class ConferenceParticipant(Base):
    __tablename__ = "conference_participant"
    __table_args__ = (UniqueConstraint("conference_id", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conference_id: Mapped[int] = mapped_column(
        ForeignKey("conference.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), index=True)
    practitioner_id: Mapped[int | None] = mapped_column(ForeignKey("practitioner.id"))
    # The facility they take part for, and on which side of the network it is.
    facility_id: Mapped[int] = mapped_column(ForeignKey("facility.id"))
    side: Mapped[ConsultSide] = mapped_column(str_enum(ConsultSide, "consult_side"))
