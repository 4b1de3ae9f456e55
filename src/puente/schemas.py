"""The one pydantic base for request and response bodies, shared annotated
types, and the page envelope of list endpoints."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any, Generic, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)

from puente.config import LANGUAGES
from puente.i18n import iso_countries

T = TypeVar("T")


class Schema(BaseModel):
    """Unknown fields are refused, so a typo in a payload is an error, not a no-op.
    A NUL character in any text is refused too (naming the field): no text
    column stores one (PostgreSQL refuses it outright)."""

    model_config = ConfigDict(extra="forbid", from_attributes=True, str_strip_whitespace=True)

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        if _has_nul(value):
            raise ValueError("contains a NUL character")
        return value


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, list | tuple | set | frozenset):
        return any(_has_nul(v) for v in value)
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    return False


def _country(value: str) -> str:
    value = value.upper()
    if value not in iso_countries():
        raise ValueError(f"'{value}' is not an ISO 3166-1 alpha-2 country code")
    return value


def _language(value: str) -> str:
    value = value.lower()
    if value not in LANGUAGES:
        raise ValueError(f"'{value}' is not one of {', '.join(LANGUAGES)}")
    return value


def _timezone(value: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"'{value}' is not an IANA time zone") from None
    return value


_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def _code(value: str) -> str:
    if not _CODE.match(value):
        raise ValueError("use letters, digits, '.', '_' and '-' only")
    return value


CountryCode = Annotated[
    str, StringConstraints(min_length=2, max_length=2), AfterValidator(_country)
]
LanguageCode = Annotated[str, AfterValidator(_language)]
TimeZone = Annotated[str, StringConstraints(max_length=64), AfterValidator(_timezone)]
Code = Annotated[str, StringConstraints(min_length=1, max_length=32), AfterValidator(_code)]
LongCode = Annotated[str, StringConstraints(min_length=1, max_length=64), AfterValidator(_code)]
NameStr = Annotated[str, StringConstraints(min_length=1, max_length=200)]
LongNameStr = Annotated[str, StringConstraints(min_length=1, max_length=300)]
ShortText = Annotated[str, StringConstraints(max_length=500)]
Email = Annotated[str, StringConstraints(max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
Phone = Annotated[str, StringConstraints(max_length=64, pattern=r"^\+?[0-9 ()./-]{3,64}$")]
# Ids are 32-bit integers in the tables (PostgreSQL INTEGER): a larger one
# can name nothing, and is refused as a 422 before it reaches the database.
Id = Annotated[int, Field(ge=1, le=2**31 - 1)]
PastDate = Annotated[date, Field()]


class Page(Schema, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int
