"""Typed input and output of `catalog`: specialties and services."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from puente.enums import ServiceKind
from puente.schemas import LongCode, LongNameStr, Schema

Minutes = Annotated[int, Field(ge=1, le=24 * 60)]


class SpecialtyCreate(Schema):
    code: LongCode
    name_en: LongNameStr
    name_es: LongNameStr
    name_ru: LongNameStr
    name_vi: LongNameStr


class SpecialtyRead(Schema):
    id: int
    code: str
    name_en: str
    name_es: str
    name_ru: str
    name_vi: str


class ServiceCreate(Schema):
    code: LongCode
    kind: ServiceKind
    specialty_code: LongCode | None = None
    name_en: LongNameStr
    name_es: LongNameStr
    name_ru: LongNameStr
    name_vi: LongNameStr
    duration_minutes: Minutes | None = None
    active: bool = True


class ServiceUpdate(Schema):
    """Only the fields sent are changed; the code is stable and cannot be."""

    kind: ServiceKind | None = None
    specialty_code: LongCode | None = None
    name_en: LongNameStr | None = None
    name_es: LongNameStr | None = None
    name_ru: LongNameStr | None = None
    name_vi: LongNameStr | None = None
    duration_minutes: Minutes | None = None
    active: bool | None = None


class ServiceRead(Schema):
    id: int
    code: str
    kind: ServiceKind
    specialty_id: int | None
    specialty_code: str | None
    name_en: str
    name_es: str
    name_ru: str
    name_vi: str
    duration_minutes: int | None
    active: bool
