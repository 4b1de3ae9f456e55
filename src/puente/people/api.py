"""JSON routes of `people`: patients, practitioners and practitioner roles."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Header, Query, Response, status

from puente.access.gate import requires
from puente.access.patients import PatientReads, PatientWrites
from puente.access.policy import Permission
from puente.access.principal import Principal
from puente.deps import DB, PagingDep
from puente.errors import BadRequest, FieldError
from puente.people import service
from puente.people.schemas import (
    PatientCreate,
    PatientRead,
    PatientUpdate,
    PractitionerCreate,
    PractitionerRead,
    PractitionerRoleCreate,
    PractitionerRoleRead,
    PractitionerUpdate,
)
from puente.schemas import Id, Page

router = APIRouter(tags=["people"])

PractitionerReader = Annotated[Principal, requires(Permission.practitioner_read)]
PractitionerWriter = Annotated[Principal, requires(Permission.practitioner_write)]


def _version_from_if_match(value: str | None) -> int | None:
    """``If-Match: "3"`` (or ``W/"3"``) → 3."""
    if value is None:
        return None
    text = value.strip().removeprefix("W/").strip('"')
    if not text.isdigit():
        raise BadRequest(
            'If-Match must be a version in quotes, such as "3".',
            errors=[FieldError("If-Match", f"'{value}' is not a version")],
        )
    return int(text)


def _identifier_param(value: str | None) -> tuple[str | None, str] | None:
    if value is None:
        return None
    system, sep, code = value.rpartition("|")
    if not code:
        raise BadRequest(
            "identifier must be 'system|value' or 'value'.",
            errors=[FieldError("identifier", "has no value")],
        )
    return (system or None) if sep else None, code


def _etag(response: Response, version: int) -> None:
    response.headers["ETag"] = f'"{version}"'


@router.post("/patients", status_code=status.HTTP_201_CREATED)
def create_patient(
    db: DB, access: PatientWrites, body: PatientCreate, response: Response
) -> PatientRead:
    facility_id = service.facility_id(db, body.home_facility_code)
    access.check_facility(facility_id, action="create", field="home_facility_code")
    created = service.create_patient(db, data=body)
    access.record("create", [created.id])
    _etag(response, created.version)
    response.headers["Location"] = f"/api/patients/{created.id}"
    return created


@router.get("/patients")
def search_patients(
    db: DB,
    access: PatientReads,
    paging: PagingDep,
    identifier: Annotated[str | None, Query(description="system|value, or value")] = None,
    name: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    birth_date: date | None = None,
) -> Page[PatientRead]:
    found = service.search_patients(
        db,
        identifier=_identifier_param(identifier),
        name=name,
        birth_date=birth_date,
        visible=access.where(),
        limit=paging.limit,
        offset=paging.offset,
    )
    access.record("search", [p.id for p in found.items])
    return found


@router.get("/patients/{patient_id}")
def get_patient(db: DB, access: PatientReads, patient_id: Id, response: Response) -> PatientRead:
    access.check(patient_id, action="read")
    found = service.get_patient(db, patient_id=patient_id)
    access.record("read", [patient_id])
    _etag(response, found.version)
    return found


@router.patch("/patients/{patient_id}")
def update_patient(
    db: DB,
    access: PatientWrites,
    patient_id: Id,
    body: PatientUpdate,
    response: Response,
    if_match: Annotated[str | None, Header()] = None,
) -> PatientRead:
    access.check(patient_id, action="update")
    if "home_facility_code" in body.model_fields_set:
        moved_to = service.facility_id(db, body.home_facility_code)
        access.check_facility(moved_to, action="update", field="home_facility_code")
    updated = service.update_patient(
        db, patient_id=patient_id, data=body, expected_version=_version_from_if_match(if_match)
    )
    access.record("update", [patient_id])
    _etag(response, updated.version)
    return updated


@router.post("/practitioners", status_code=status.HTTP_201_CREATED)
def create_practitioner(
    db: DB, user: PractitionerWriter, body: PractitionerCreate
) -> PractitionerRead:
    return service.create_practitioner(db, data=body)


@router.get("/practitioners")
def list_practitioners(
    db: DB,
    user: PractitionerReader,
    paging: PagingDep,
    name: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    license_number: Annotated[str | None, Query(max_length=64)] = None,
) -> Page[PractitionerRead]:
    return service.search_practitioners(
        db, name=name, license_number=license_number, limit=paging.limit, offset=paging.offset
    )


@router.get("/practitioners/{practitioner_id}")
def get_practitioner(db: DB, user: PractitionerReader, practitioner_id: Id) -> PractitionerRead:
    return service.get_practitioner(db, practitioner_id=practitioner_id)


@router.patch("/practitioners/{practitioner_id}")
def update_practitioner(
    db: DB, user: PractitionerWriter, practitioner_id: Id, body: PractitionerUpdate
) -> PractitionerRead:
    return service.update_practitioner(db, practitioner_id=practitioner_id, data=body)


@router.post("/practitioners/{practitioner_id}/roles", status_code=status.HTTP_201_CREATED)
def add_role(
    db: DB, user: PractitionerWriter, practitioner_id: Id, body: PractitionerRoleCreate
) -> PractitionerRoleRead:
    return service.add_role(db, practitioner_id=practitioner_id, data=body)


@router.get("/practitioners/{practitioner_id}/roles")
def roles_of_practitioner(
    db: DB,
    user: PractitionerReader,
    practitioner_id: Id,
    paging: PagingDep,
    active: bool | None = None,
) -> Page[PractitionerRoleRead]:
    service.get_practitioner(db, practitioner_id=practitioner_id)
    return service.search_roles(
        db,
        practitioner_id=practitioner_id,
        active=active,
        limit=paging.limit,
        offset=paging.offset,
    )


@router.get("/practitioner-roles")
def search_roles(
    db: DB,
    user: PractitionerReader,
    paging: PagingDep,
    facility_code: Annotated[str | None, Query(max_length=32)] = None,
    practitioner_id: Id | None = None,
    specialty_code: Annotated[str | None, Query(max_length=64)] = None,
    active: bool | None = None,
) -> Page[PractitionerRoleRead]:
    return service.search_roles(
        db,
        facility_code=facility_code,
        practitioner_id=practitioner_id,
        specialty_code=specialty_code,
        active=active,
        limit=paging.limit,
        offset=paging.offset,
    )


@router.get("/practitioner-roles/{role_id}")
def get_role(db: DB, user: PractitionerReader, role_id: Id) -> PractitionerRoleRead:
    return service.get_role(db, role_id=role_id)


@router.post("/practitioner-roles/{role_id}/deactivate")
def deactivate_role(db: DB, user: PractitionerWriter, role_id: Id) -> PractitionerRoleRead:
    return service.deactivate_role(db, role_id=role_id)
