"""Small builders for test data, inserted straight through the models.

Each returns the flushed row. Names are the personas the tests talk about.
"""

from __future__ import annotations

from datetime import date
from itertools import count
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from puente.catalog.models import Service, Specialty
from puente.enums import FacilityKind, RegionLevel, ServiceKind, Sex, Tier
from puente.network.models import Country, Facility, Region
from puente.people.models import Patient, PatientIdentifier, Practitioner

_seq = count(1)

COUNTRIES = {
    "MX": ("Mexico", "America/Mexico_City", "es"),
    "RU": ("Russia", "Europe/Moscow", "ru"),
    "VN": ("Viet Nam", "Asia/Ho_Chi_Minh", "vi"),
    "LA": ("Laos", "Asia/Vientiane", "en"),
    "KH": ("Cambodia", "Asia/Phnom_Penh", "en"),
}


def country(db: Session, code: str = "MX") -> Country:
    found = db.get(Country, code)
    if found:
        return found
    name, tz, lang = COUNTRIES.get(code, (code, "UTC", "en"))
    row = Country(code=code, name=name, default_timezone=tz, default_language=lang)
    db.add(row)
    db.flush()
    return row


def region(db: Session, code: str = "MX-JAL", name: str = "Jalisco", **kw: Any) -> Region:
    found = db.scalar(select(Region).where(Region.code == code))
    if found:
        return found
    c = country(db, kw.pop("country_code", code.split("-")[0]))
    row = Region(
        code=code, name=name, level=kw.pop("level", RegionLevel.region), country_code=c.code, **kw
    )
    db.add(row)
    db.flush()
    return row


def facility(
    db: Session,
    code: str | None = None,
    name: str | None = None,
    *,
    tier: Tier = Tier.level2,
    kind: FacilityKind = FacilityKind.general_hospital,
    region_code: str = "MX-JAL",
    parent: Facility | None = None,
    **kw: Any,
) -> Facility:
    n = next(_seq)
    r = region(db, region_code)
    tz = kw.pop("timezone", COUNTRIES.get(r.country_code, ("", "UTC", ""))[1])
    row = Facility(
        code=code or f"F{n:05d}",
        name=name or f"Facility {n}",
        tier=tier,
        kind=kind,
        region_id=r.id,
        country_code=r.country_code,
        timezone=tz,
        parent_id=parent.id if parent else None,
        **kw,
    )
    db.add(row)
    db.flush()
    return row


def specialty(db: Session, code: str = "cardiology", name: str = "Cardiology") -> Specialty:
    found = db.scalar(select(Specialty).where(Specialty.code == code))
    if found:
        return found
    row = Specialty(code=code, name_en=name, name_es=name, name_ru=name, name_vi=name)
    db.add(row)
    db.flush()
    return row


def service(
    db: Session,
    code: str = "consult-cardiology",
    kind: ServiceKind = ServiceKind.consultation,
    name: str = "Cardiology consultation",
    specialty_code: str | None = None,
) -> Service:
    found = db.scalar(select(Service).where(Service.code == code))
    if found:
        return found
    spec = specialty(db, specialty_code) if specialty_code else None
    row = Service(
        code=code,
        kind=kind,
        name_en=name,
        name_es=name,
        name_ru=name,
        name_vi=name,
        specialty_id=spec.id if spec else None,
    )
    db.add(row)
    db.flush()
    return row


def patient(
    db: Session,
    family: str = "Hernández",
    given: str = "Lucía",
    *,
    citizenship: str | None = "MX",
    birth_date: date | None = date(1980, 4, 2),
    sex: Sex = Sex.female,
    identifier: tuple[str, str] | None = None,
    **kw: Any,
) -> Patient:
    row = Patient(
        family_name=family,
        given_names=given,
        citizenship=citizenship,
        birth_date=birth_date,
        sex=sex,
        **kw,
    )
    db.add(row)
    db.flush()
    if identifier:
        db.add(PatientIdentifier(patient_id=row.id, system=identifier[0], value=identifier[1]))
        db.flush()
    return row


def practitioner(
    db: Session, family: str = "Ivanova", given: str = "Anna", **kw: Any
) -> Practitioner:
    row = Practitioner(family_name=family, given_names=given, **kw)
    db.add(row)
    db.flush()
    return row


PASSWORD = "correct horse battery"


def user(
    db: Session,
    username: str,
    role: Any | None = None,
    scope: str | None = None,
    *,
    password: str = PASSWORD,
    must_change_password: bool = False,
    patient_id: int | None = None,
) -> Any:
    """An account with one role grant (scope: a facility or region code)."""
    from puente.access import service as access

    account = access.create_user(
        db,
        username=username,
        password=password,
        must_change_password=must_change_password,
        patient_id=patient_id,
    )
    if role is not None:
        access.grant_role(db, user=account, role=role, scope_code=scope)
    return account


def bearer(db: Session, account: Any) -> dict[str, str]:
    """Authorization header with a fresh API token for ``account``."""
    from puente.access import service as access

    token, _row = access.issue_token(db, user=account)
    db.flush()
    return {"Authorization": f"Bearer {token}"}
