"""JSON routes of `catalog`: specialties and services."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from puente.access.gate import requires
from puente.access.policy import Permission
from puente.access.principal import Principal
from puente.catalog import service
from puente.catalog.schemas import (
    ServiceCreate,
    ServiceRead,
    ServiceUpdate,
    SpecialtyCreate,
    SpecialtyRead,
)
from puente.deps import DB, PagingDep
from puente.enums import ServiceKind
from puente.schemas import Id, Page

router = APIRouter(tags=["catalog"])

Reader = Annotated[Principal, requires(Permission.catalog_read)]
Writer = Annotated[Principal, requires(Permission.catalog_write)]
SearchText = Annotated[
    str | None, Query(min_length=1, max_length=100, description="In the code or any label")
]
CodeParam = Annotated[str | None, Query(min_length=1, max_length=64)]


@router.get("/specialties")
def list_specialties(
    db: DB, user: Reader, paging: PagingDep, q: SearchText = None, code: CodeParam = None
) -> Page[SpecialtyRead]:
    return service.list_specialties(db, text=q, code=code, limit=paging.limit, offset=paging.offset)


@router.get("/specialties/{specialty_id}")
def get_specialty(db: DB, user: Reader, specialty_id: Id) -> SpecialtyRead:
    return service.get_specialty(db, specialty_id=specialty_id)


@router.post("/specialties", status_code=status.HTTP_201_CREATED)
def create_specialty(
    db: DB, user: Writer, body: SpecialtyCreate, response: Response
) -> SpecialtyRead:
    created = service.create_specialty(db, data=body)
    response.headers["Location"] = f"/api/specialties/{created.id}"
    return created


@router.get("/services")
def list_services(
    db: DB,
    user: Reader,
    paging: PagingDep,
    kind: ServiceKind | None = None,
    specialty: CodeParam = None,
    q: SearchText = None,
    code: CodeParam = None,
    active: bool | None = None,
) -> Page[ServiceRead]:
    return service.list_services(
        db,
        kind=kind,
        specialty_code=specialty,
        text=q,
        code=code,
        active=active,
        limit=paging.limit,
        offset=paging.offset,
    )


@router.get("/services/{service_id}")
def get_service(db: DB, user: Reader, service_id: Id) -> ServiceRead:
    return service.get_service(db, service_id=service_id)


@router.post("/services", status_code=status.HTTP_201_CREATED)
def create_service(db: DB, user: Writer, body: ServiceCreate, response: Response) -> ServiceRead:
    created = service.create_service(db, data=body)
    response.headers["Location"] = f"/api/services/{created.id}"
    return created


@router.patch("/services/{service_id}")
def update_service(db: DB, user: Writer, service_id: Id, body: ServiceUpdate) -> ServiceRead:
    return service.update_service(db, service_id=service_id, data=body)
