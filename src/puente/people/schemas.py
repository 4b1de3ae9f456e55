"""Typed input and output of `people`: patients, practitioners, their roles."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import AfterValidator, StringConstraints, field_validator, model_validator

from puente.enums import PractitionerRoleCode, Sex
from puente.schemas import (
    Code,
    CountryCode,
    Email,
    LanguageCode,
    LongCode,
    NameStr,
    Phone,
    Schema,
)

# Identifier systems are URIs in FHIR; whitespace would make them unusable there.
IdentifierSystem = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^\S+$")]
IdentifierValue = Annotated[str, StringConstraints(min_length=1, max_length=100)]
LicenseNumber = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^\S+$")]


def _not_in_future(value: date | None) -> date | None:
    if value is not None and value > date.today():
        raise ValueError("a birth date cannot be in the future")
    return value


BirthDate = Annotated[date | None, AfterValidator(_not_in_future)]


class Identifier(Schema):
    system: IdentifierSystem
    value: IdentifierValue


def _no_repeated_identifiers(identifiers: list[Identifier] | None) -> list[Identifier] | None:
    if identifiers is None:
        return None
    seen: set[tuple[str, str]] = set()
    for ident in identifiers:
        key = (ident.system, ident.value)
        if key in seen:
            raise ValueError(f"identifier {ident.system}|{ident.value} is given twice")
        seen.add(key)
    return identifiers


class PatientCreate(Schema):
    identifiers: list[Identifier] = []
    family_name: NameStr
    given_names: NameStr
    birth_date: BirthDate = None
    sex: Sex = Sex.unknown
    citizenship: CountryCode | None = None
    preferred_language: LanguageCode = "en"
    phone: Phone | None = None
    email: Email | None = None
    home_facility_code: Code | None = None

    _identifiers = field_validator("identifiers")(_no_repeated_identifiers)


class PatientUpdate(Schema):
    """Only the fields present are changed; ``identifiers``, when present,
    replaces the whole set. An explicit null clears an optional field."""

    identifiers: list[Identifier] | None = None
    family_name: NameStr | None = None
    given_names: NameStr | None = None
    birth_date: BirthDate = None
    sex: Sex | None = None
    citizenship: CountryCode | None = None
    preferred_language: LanguageCode | None = None
    phone: Phone | None = None
    email: Email | None = None
    home_facility_code: Code | None = None
    active: bool | None = None

    _identifiers = field_validator("identifiers")(_no_repeated_identifiers)

    @model_validator(mode="after")
    def _required_fields_are_not_cleared(self) -> PatientUpdate:
        for name in ("identifiers", "family_name", "given_names", "sex", "preferred_language"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        if "active" in self.model_fields_set and self.active is None:
            raise ValueError("active cannot be null")
        return self


class PatientRead(Schema):
    id: int
    identifiers: list[Identifier]
    family_name: str
    given_names: str
    birth_date: date | None
    sex: Sex
    citizenship: str | None
    preferred_language: str
    phone: str | None
    email: str | None
    home_facility_id: int | None
    home_facility_code: str | None
    active: bool
    version: int
    created_at: datetime
    updated_at: datetime


class PractitionerCreate(Schema):
    family_name: NameStr
    given_names: NameStr
    sex: Sex = Sex.unknown
    license_number: LicenseNumber | None = None
    email: Email | None = None
    phone: Phone | None = None
    languages: list[LanguageCode] = ["en"]
    active: bool = True


class PractitionerUpdate(Schema):
    family_name: NameStr | None = None
    given_names: NameStr | None = None
    sex: Sex | None = None
    license_number: LicenseNumber | None = None
    email: Email | None = None
    phone: Phone | None = None
    languages: list[LanguageCode] | None = None
    active: bool | None = None

    @model_validator(mode="after")
    def _required_fields_are_not_cleared(self) -> PractitionerUpdate:
        for name in ("family_name", "given_names", "sex", "languages", "active"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self


class PractitionerRead(Schema):
    id: int
    family_name: str
    given_names: str
    sex: Sex
    license_number: str | None
    email: str | None
    phone: str | None
    languages: list[str]
    active: bool
    created_at: datetime
    updated_at: datetime


class PractitionerRoleCreate(Schema):
    facility_code: Code
    role: PractitionerRoleCode
    specialty_code: LongCode | None = None
    start_date: date | None = None
    end_date: date | None = None

    @model_validator(mode="after")
    def _period(self) -> PractitionerRoleCreate:
        if self.start_date and self.end_date and self.end_date < self.start_date:
            raise ValueError("end_date is before start_date")
        return self


class PractitionerRoleRead(Schema):
    id: int
    practitioner_id: int
    facility_id: int
    facility_code: str
    role: PractitionerRoleCode
    specialty_id: int | None
    specialty_code: str | None
    specialty_name: str | None
    active: bool
    start_date: date | None
    end_date: date | None
    updated_at: datetime
