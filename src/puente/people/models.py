"""Tables of people: patients with their identifiers, practitioners and the
roles they hold at facilities."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Boolean, Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from puente.db import Base, TimestampMixin, str_enum
from puente.enums import PractitionerRoleCode, Sex


class Patient(TimestampMixin, Base):
    __tablename__ = "patient"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    family_name: Mapped[str] = mapped_column(String(200), index=True)
    given_names: Mapped[str] = mapped_column(String(200))
    birth_date: Mapped[date | None] = mapped_column(Date, index=True)
    sex: Mapped[Sex] = mapped_column(str_enum(Sex, "sex"), default=Sex.unknown)
    citizenship: Mapped[str | None] = mapped_column(String(2), index=True)  # ISO 3166-1 alpha-2
    preferred_language: Mapped[str] = mapped_column(String(8), default="en")
    phone: Mapped[str | None] = mapped_column(String(64))
    email: Mapped[str | None] = mapped_column(String(254))
    home_facility_id: Mapped[int | None] = mapped_column(ForeignKey("facility.id"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Bumped on every update; the FHIR layer shows it as meta.versionId / ETag.
    version: Mapped[int] = mapped_column(Integer, default=1)


class PatientIdentifier(Base):
    """An identifier issued to a patient by some system (a national id, a
    social-security number, a hospital record number)."""

    __tablename__ = "patient_identifier"
    __table_args__ = (UniqueConstraint("system", "value"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(
        ForeignKey("patient.id", ondelete="CASCADE"), index=True
    )
    system: Mapped[str] = mapped_column(String(200))
    value: Mapped[str] = mapped_column(String(100), index=True)


class Practitioner(TimestampMixin, Base):
    __tablename__ = "practitioner"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    family_name: Mapped[str] = mapped_column(String(200), index=True)
    given_names: Mapped[str] = mapped_column(String(200))
    sex: Mapped[Sex] = mapped_column(str_enum(Sex, "sex"), default=Sex.unknown)
    license_number: Mapped[str | None] = mapped_column(String(64), unique=True)
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(64))
    languages: Mapped[str] = mapped_column(String(64), default="en")  # comma-separated codes
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class PractitionerRole(TimestampMixin, Base):
    """A practitioner works at a facility in a role, in a specialty."""

    __tablename__ = "practitioner_role"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    practitioner_id: Mapped[int] = mapped_column(
        ForeignKey("practitioner.id", ondelete="CASCADE"), index=True
    )
    facility_id: Mapped[int] = mapped_column(ForeignKey("facility.id"), index=True)
    specialty_id: Mapped[int | None] = mapped_column(ForeignKey("specialty.id"), index=True)
    role: Mapped[PractitionerRoleCode] = mapped_column(
        str_enum(PractitionerRoleCode, "practitioner_role_code")
    )
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    start_date: Mapped[date | None] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
