"""The service ledger: one row per delivered service (or per aggregate count),
and the rollup kept in step with it in the same transaction."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from puente.db import Base, UTCDateTime, str_enum, utcnow
from puente.enums import LedgerSource, Mode

# SQLite only autoincrements INTEGER PRIMARY KEY; PostgreSQL gets a bigint.
LedgerId = BigInteger().with_variant(Integer(), "sqlite")


class LedgerEntry(Base):
    __tablename__ = "ledger_entry"
    __table_args__ = (
        CheckConstraint("count > 0", name="count_positive"),
        # A feature that records the same event twice (a retried close) adds nothing.
        UniqueConstraint("source", "source_ref"),
        Index("ix_ledger_entry_facility_day", "facility_id", "day"),
    )

    id: Mapped[int] = mapped_column(LedgerId, primary_key=True)
    facility_id: Mapped[int] = mapped_column(ForeignKey("facility.id"))
    day: Mapped[date] = mapped_column(Date, index=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("service.id"), index=True)
    count: Mapped[int] = mapped_column(Integer)
    mode: Mapped[Mode] = mapped_column(str_enum(Mode, "mode"))
    campaign_code: Mapped[str | None] = mapped_column(String(64), index=True)
    citizenship: Mapped[str | None] = mapped_column(String(2))
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patient.id"), index=True)
    source: Mapped[LedgerSource] = mapped_column(str_enum(LedgerSource, "ledger_source"))
    source_ref: Mapped[str | None] = mapped_column(String(128))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class _RollupColumns:
    """The key and sums a rollup keeps (columns copied into each table)."""

    facility_id: Mapped[int] = mapped_column(ForeignKey("facility.id"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("service.id"), primary_key=True)
    mode: Mapped[Mode] = mapped_column(str_enum(Mode, "mode"), primary_key=True)
    campaign_code: Mapped[str] = mapped_column(String(64), primary_key=True, default="")
    citizenship: Mapped[str] = mapped_column(String(2), primary_key=True, default="")
    count: Mapped[int] = mapped_column(BigInteger)
    entries: Mapped[int] = mapped_column(Integer)


class LedgerRollup(_RollupColumns, Base):
    """Sum of ledger counts per facility × day × service × mode × campaign ×
    citizenship. Unknown campaign and citizenship are stored as '' (not NULL)
    so the key stays unique on every database."""

    __tablename__ = "ledger_rollup"
    __table_args__ = (Index("ix_ledger_rollup_day", "day"),)


class LedgerRollupMonth(_RollupColumns, Base):
    """The same sums per calendar month (``day`` is the month's first day):
    what dashboards read for whole months, thirty times fewer rows than the
    daily rollup. Kept in the same statements as :class:`LedgerRollup`."""

    __tablename__ = "ledger_rollup_month"
    __table_args__ = (Index("ix_ledger_rollup_month_day", "day"),)
