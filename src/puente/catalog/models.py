"""Tables of the service catalog: specialties and services, each with a
stable code and a name in every supported language."""

from __future__ import annotations

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from puente.db import Base, str_enum
from puente.enums import ServiceKind


class _Named:
    name_en: Mapped[str] = mapped_column(String(300))
    name_es: Mapped[str] = mapped_column(String(300))
    name_ru: Mapped[str] = mapped_column(String(300))
    name_vi: Mapped[str] = mapped_column(String(300))

    def name(self, language: str) -> str:
        return str(getattr(self, f"name_{language}", None) or self.name_en)


class Specialty(_Named, Base):
    __tablename__ = "specialty"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)


class Service(_Named, Base):
    __tablename__ = "service"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[ServiceKind] = mapped_column(str_enum(ServiceKind, "service_kind"), index=True)
    specialty_id: Mapped[int | None] = mapped_column(ForeignKey("specialty.id"), index=True)
    # Typical duration, used by planners when a campaign gives no better figure.
    duration_minutes: Mapped[int | None] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
