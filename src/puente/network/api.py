"""JSON routes of `network`: countries, regions, facilities, support links,
programs with enrolments, and bridge points.

Reads need ``network:read`` (every role has it); writes ``network:write``,
narrowed by the service to the facilities under the caller's grant.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Response
from fastapi import status as http

from puente.access.gate import requires
from puente.access.policy import Permission
from puente.access.principal import Principal
from puente.deps import DB, PagingDep
from puente.enums import BridgePointStatus, FacilityKind, Tier
from puente.network import service
from puente.network.schemas import (
    BridgePointCreate,
    BridgePointRead,
    BridgePointUpdate,
    CountryRead,
    EnrolledOn,
    EnrolmentCreate,
    EnrolmentEnd,
    EnrolmentRead,
    FacilityCreate,
    FacilityRead,
    FacilityUpdate,
    ProgramCreate,
    ProgramRead,
    RegionCreate,
    RegionRead,
    SupportLinkCreate,
    SupportLinkRead,
)
from puente.schemas import Id, Page

router = APIRouter(tags=["network"])

Reader = Annotated[Principal, requires(Permission.network_read)]
Writer = Annotated[Principal, requires(Permission.network_write)]
CodeQuery = Annotated[str | None, Query(min_length=1, max_length=64)]


# Countries and regions.


@router.get("/countries")
def list_countries(db: DB, user: Reader) -> list[CountryRead]:
    return service.list_countries(db)


@router.get("/regions")
def list_regions(
    db: DB,
    user: Reader,
    paging: PagingDep,
    country: Annotated[str | None, Query(min_length=2, max_length=2)] = None,
    parent: CodeQuery = None,
    top: Annotated[bool, Query(description="only regions with no parent region")] = False,
) -> Page[RegionRead]:
    return service.list_regions(
        db,
        country=country,
        parent_code=parent,
        top_only=top,
        limit=paging.limit,
        offset=paging.offset,
    )


@router.get("/regions/{code}")
def get_region(db: DB, user: Reader, code: str) -> RegionRead:
    return service.get_region(db, code=code)


@router.post("/regions", status_code=http.HTTP_201_CREATED)
def create_region(db: DB, user: Writer, body: RegionCreate, response: Response) -> RegionRead:
    service.check_everywhere(db, user, field="code", what="regions")
    created = service.create_region(db, data=body)
    response.headers["Location"] = f"/api/regions/{created.code}"
    return created


# Facilities.


@router.post("/facilities", status_code=http.HTTP_201_CREATED)
def create_facility(db: DB, user: Writer, body: FacilityCreate, response: Response) -> FacilityRead:
    created = service.create_facility(db, user, data=body)
    response.headers["Location"] = f"/api/facilities/{created.id}"
    return created


@router.get("/facilities")
def list_facilities(
    db: DB,
    user: Reader,
    paging: PagingDep,
    tier: Tier | None = None,
    kind: FacilityKind | None = None,
    country: Annotated[str | None, Query(min_length=2, max_length=2)] = None,
    region: Annotated[
        str | None, Query(max_length=64, description="region code; includes its districts")
    ] = None,
    program: Annotated[
        str | None, Query(max_length=64, description="program code; enrolled on `on`")
    ] = None,
    on: Annotated[date | None, Query(description="day for `program`; default today")] = None,
    parent: Annotated[str | None, Query(max_length=64, description="parent facility code")] = None,
    name: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    active: bool | None = None,
) -> Page[FacilityRead]:
    where = service.facility_filters(
        db,
        tier=tier,
        kind=kind,
        country=country,
        region=region,
        program=program,
        on=on,
        parent=parent,
        name=name,
        active=active,
    )
    return service.search_facilities(db, where=where, limit=paging.limit, offset=paging.offset)


@router.get("/facilities/code/{code}")
def get_facility_by_code(db: DB, user: Reader, code: str) -> FacilityRead:
    return service.get_facility(db, code=code)


@router.get("/facilities/{facility_id}")
def get_facility(db: DB, user: Reader, facility_id: Id) -> FacilityRead:
    return service.get_facility(db, facility_id=facility_id)


@router.patch("/facilities/{facility_id}")
def update_facility(db: DB, user: Writer, facility_id: Id, body: FacilityUpdate) -> FacilityRead:
    return service.update_facility(db, user, facility_id=facility_id, data=body)


@router.get("/facilities/{facility_id}/bridge-points")
def list_facility_bridge_points(db: DB, user: Reader, facility_id: Id) -> list[BridgePointRead]:
    return service.list_bridge_points(db, facility_id=facility_id)


# Support links.


@router.post("/support-links", status_code=http.HTTP_201_CREATED)
def create_support_link(db: DB, user: Writer, body: SupportLinkCreate) -> SupportLinkRead:
    return service.create_link(db, user, data=body)


@router.get("/support-links")
def list_support_links(
    db: DB,
    user: Reader,
    paging: PagingDep,
    hub: Annotated[str | None, Query(max_length=64, description="hub facility code")] = None,
    spoke: Annotated[str | None, Query(max_length=64, description="spoke facility code")] = None,
    active: bool | None = True,
) -> Page[SupportLinkRead]:
    return service.list_links(
        db, hub=hub, spoke=spoke, active=active, limit=paging.limit, offset=paging.offset
    )


@router.delete("/support-links/{link_id}", status_code=http.HTTP_204_NO_CONTENT)
def withdraw_support_link(db: DB, user: Writer, link_id: Id) -> Response:
    service.deactivate_link(db, user, link_id=link_id)
    return Response(status_code=http.HTTP_204_NO_CONTENT)


# Programs and enrolments.


@router.post("/programs", status_code=http.HTTP_201_CREATED)
def create_program(db: DB, user: Writer, body: ProgramCreate) -> ProgramRead:
    return service.create_program(db, user, data=body)


@router.get("/programs")
def list_programs(db: DB, user: Reader) -> list[ProgramRead]:
    return service.list_programs(db)


@router.get("/programs/{program_code}")
def get_program(db: DB, user: Reader, program_code: str) -> ProgramRead:
    return service.get_program(db, code=program_code)


@router.post("/programs/{program_code}/enrolments", status_code=http.HTTP_201_CREATED)
def enrol_facility(db: DB, user: Writer, program_code: str, body: EnrolmentCreate) -> EnrolmentRead:
    return service.enrol(db, user, program_code=program_code, data=body)


@router.get("/programs/{program_code}/enrolments")
def list_enrolments(
    db: DB,
    user: Reader,
    program_code: str,
    facility: Annotated[str | None, Query(max_length=64, description="facility code")] = None,
) -> list[EnrolmentRead]:
    return service.list_enrolments(db, program_code=program_code, facility_code=facility)


@router.post("/enrolments/{enrolment_id}/end")
def end_enrolment(db: DB, user: Writer, enrolment_id: Id, body: EnrolmentEnd) -> EnrolmentRead:
    return service.end_enrolment(db, user, enrolment_id=enrolment_id, end_date=body.end_date)


@router.get("/programs/{program_code}/facilities")
def facilities_enrolled_on(
    db: DB,
    user: Reader,
    paging: PagingDep,
    program_code: str,
    on: Annotated[date | None, Query(description="the day asked about; default today")] = None,
) -> EnrolledOn:
    return service.enrolled_on(
        db,
        program_code=program_code,
        on=on or date.today(),
        limit=paging.limit,
        offset=paging.offset,
    )


# Bridge points.


@router.post("/bridge-points", status_code=http.HTTP_201_CREATED)
def create_bridge_point(db: DB, user: Writer, body: BridgePointCreate) -> BridgePointRead:
    return service.create_bridge_point(db, user, data=body)


@router.get("/bridge-points")
def list_bridge_points(
    db: DB,
    user: Reader,
    facility: Annotated[str | None, Query(max_length=64, description="facility code")] = None,
    status: BridgePointStatus | None = None,
) -> list[BridgePointRead]:
    facility_id = (
        service.need_facility(db, code=facility, field="facility").id if facility else None
    )
    return service.list_bridge_points(db, facility_id=facility_id, status=status)


@router.patch("/bridge-points/{bridge_point_id}")
def update_bridge_point(
    db: DB, user: Writer, bridge_point_id: Id, body: BridgePointUpdate
) -> BridgePointRead:
    return service.update_bridge_point(db, user, point_id=bridge_point_id, data=body)
