"""JSON routes of `recovery`: the waiting list, campaigns, plan runs,
publishing, outcomes, day-of capture and goal attainment."""

from __future__ import annotations

import tempfile
from collections.abc import Collection
from datetime import date
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Body, Header, Query, Request, Response, status

from puente.access.gate import requires
from puente.access.patients import PatientReads
from puente.access.policy import Permission
from puente.access.principal import Principal
from puente.access.service import facility_scope
from puente.db import new_id
from puente.deps import DB, PagingDep
from puente.enums import PlanItemStatus, WaitStatus
from puente.errors import BadRequest, FieldError, Forbidden
from puente.recovery import capture, planning, service
from puente.recovery import repository as repo
from puente.recovery.imports import import_waiting_list
from puente.recovery.models import Campaign
from puente.recovery.schemas import (
    Attainment,
    CampaignCreate,
    CampaignRead,
    CapacityPut,
    CaptureResult,
    CountCapture,
    EntryCreate,
    EntryRead,
    EntryRemove,
    GoalsPut,
    ItemOutcome,
    PatientCapture,
    PlanItemRead,
    PlanRunRead,
    WaitingFigures,
)
from puente.schemas import Id, Page, Schema

router = APIRouter(tags=["recovery"])

Reader = Annotated[Principal, requires(Permission.recovery_read)]
Planner = Annotated[Principal, requires(Permission.recovery_plan)]
Capturer = Annotated[Principal, requires(Permission.recovery_capture)]
CampaignCode = Annotated[str, Query(min_length=1, max_length=64)]
IdempotencyKey = Annotated[
    str | None, Header(min_length=1, max_length=100, pattern=r"^[\x21-\x7e]+$")
]


def require_units(
    db: DB, user: Principal, permission: Permission, facility_ids: Collection[int], field: str
) -> None:
    """Refuse unless every facility is in the user's scope for ``permission``."""
    scope = facility_scope(db, user, permission)
    if scope.everywhere:
        return
    outside = [f for f in facility_ids if f not in scope.ids]
    if outside:
        codes = repo.facility_codes(db, outside[:5])
        raise Forbidden(
            f"Units outside your scope: {', '.join(sorted(codes.values()))}.",
            errors=[FieldError(field, "outside your scope")],
        )


def scoped_ids(db: DB, user: Principal, permission: Permission) -> list[int] | None:
    scope = facility_scope(db, user, permission)
    return None if scope.everywhere else list(scope.ids)


# Waiting list ------------------------------------------------------------------------


@router.get("/waiting-list/figures")
def waiting_figures(
    db: DB,
    user: Reader,
    as_of: date | None = None,
    service_code: Annotated[str | None, Query(alias="service", max_length=64)] = None,
) -> WaitingFigures:
    """Figures of the waiting list of the referring units in your scope."""
    return service.figures(
        db,
        as_of=as_of,
        facility_ids=scoped_ids(db, user, Permission.recovery_read),
        service_code=service_code,
    )


@router.get("/waiting-list")
def list_entries(
    db: DB,
    user: Reader,
    access: PatientReads,
    paging: PagingDep,
    status_: Annotated[list[WaitStatus], Query(alias="status")] = [  # noqa: B006
        WaitStatus.waiting,
        WaitStatus.planned,
    ],
    service_code: Annotated[str | None, Query(alias="service", max_length=64)] = None,
) -> Page[EntryRead]:
    service_id = None
    if service_code:
        found = repo.services_by_code(db, [service_code])
        if service_code not in found:
            raise BadRequest(
                f"No service '{service_code}'.", errors=[FieldError("service", "unknown")]
            )
        service_id = found[service_code].id
    rows, total = repo.list_entries(
        db,
        visible=access.where(),
        statuses=status_,
        service_id=service_id,
        limit=paging.limit,
        offset=paging.offset,
    )
    access.record("read", {e.patient_id for e in rows}, resource_type="WaitingListEntry")
    return Page(
        items=service.entry_reads(db, rows), total=total, limit=paging.limit, offset=paging.offset
    )


@router.post("/waiting-list", status_code=status.HTTP_201_CREATED)
def add_entry(db: DB, user: Planner, access: PatientReads, body: EntryCreate) -> EntryRead:
    access.check(body.patient_id, action="create")
    unit = repo.facilities_by_code(db, [body.referring_facility_code]).get(
        body.referring_facility_code
    )
    if unit is not None:
        require_units(db, user, Permission.recovery_plan, [unit.id], "referring_facility_code")
    entry = service.add_entry(db, data=body)
    access.record("create", [entry.patient_id], resource_type="WaitingListEntry")
    return service.entry_reads(db, [entry])[0]


@router.post("/waiting-list/{entry_id}/removal")
def remove_entry(
    db: DB, user: Planner, access: PatientReads, entry_id: Id, body: EntryRemove
) -> EntryRead:
    entry = service.get_entry(db, entry_id)
    access.check(entry.patient_id, action="update", field="entry_id")
    entry = service.remove_entry(db, entry=entry, reason=body.reason, on=body.removed_on)
    access.record("update", [entry.patient_id], resource_type="WaitingListEntry")
    return service.entry_reads(db, [entry])[0]


class ImportRead(Schema):
    rows: int
    created: int


@router.post(
    "/waiting-list/import",
    status_code=status.HTTP_201_CREATED,
    openapi_extra={"requestBody": {"content": {"text/csv": {"schema": {"type": "string"}}}}},
)
async def import_entries(
    request: Request, db: DB, user: Planner, access: PatientReads
) -> ImportRead:
    """A CSV file as the body (text/csv); all or nothing, errors name row and column."""
    body = await request.body()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "waiting-list.csv"
        path.write_bytes(body)
        result = import_waiting_list(
            db,
            path,
            allowed_facility_ids=scoped_ids(db, user, Permission.recovery_plan),
            visible=access.where(),
        )
    access.record(
        "import",
        sorted(result.patient_ids),
        resource_type="WaitingListEntry",
        detail=f"{result.created} entries",
    )
    return ImportRead(rows=result.rows, created=result.created)


# Campaigns ---------------------------------------------------------------------------


def _campaign_for(db: DB, user: Principal, code: str, permission: Permission) -> Campaign:
    campaign = service.get_campaign(db, code)
    require_units(db, user, permission, service.unit_ids(db, campaign), "code")
    return campaign


@router.get("/campaigns")
def list_campaigns(db: DB, user: Reader) -> list[CampaignRead]:
    return [service.campaign_read(db, c) for c in repo.campaigns(db)]


@router.post("/campaigns", status_code=status.HTTP_201_CREATED)
def create_campaign(
    db: DB, user: Planner, body: CampaignCreate, response: Response
) -> CampaignRead:
    units = repo.facilities_by_code(db, body.units)
    require_units(db, user, Permission.recovery_plan, [f.id for f in units.values()], "units")
    campaign = service.create_campaign(db, data=body)
    response.headers["Location"] = f"/api/campaigns/{campaign.code}"
    return service.campaign_read(db, campaign)


@router.get("/campaigns/{code}")
def get_campaign(db: DB, user: Reader, code: str) -> CampaignRead:
    return service.campaign_read(db, service.get_campaign(db, code))


@router.put("/campaigns/{code}/capacity")
def put_capacity(db: DB, user: Planner, code: str, body: CapacityPut) -> CampaignRead:
    campaign = _campaign_for(db, user, code, Permission.recovery_plan)
    service.set_capacity(db, campaign=campaign, rows=body.rows)
    return service.campaign_read(db, campaign)


@router.put("/campaigns/{code}/goals")
def put_goals(db: DB, user: Planner, code: str, body: GoalsPut) -> CampaignRead:
    campaign = _campaign_for(db, user, code, Permission.recovery_plan)
    service.set_goals(db, campaign=campaign, rows=body.rows)
    return service.campaign_read(db, campaign)


# Plans -------------------------------------------------------------------------------


class RunRequest(Schema):
    replans: Id | None = None


@router.post("/campaigns/{code}/plan-runs", status_code=status.HTTP_202_ACCEPTED)
def start_run(
    request: Request,
    db: DB,
    user: Planner,
    code: str,
    background: BackgroundTasks,
    response: Response,
    body: Annotated[RunRequest | None, Body()] = None,
) -> PlanRunRead:
    """Queue a planner run; it runs in the background. Follow its progress at
    the ``Location`` given. ``replans`` keeps that run's confirmed appointments."""
    campaign = _campaign_for(db, user, code, Permission.recovery_plan)
    replans = planning.get_run(db, body.replans) if body and body.replans else None
    run = planning.start_run(db, campaign=campaign, user_id=user.user_id, replans=replans)
    background.add_task(planning.run_in_background, request.app.state.sessionmaker, run.id)
    response.headers["Location"] = f"/api/plan-runs/{run.id}"
    return planning.run_read(db, run)


@router.get("/campaigns/{code}/plan-runs")
def list_runs(db: DB, user: Reader, code: str) -> list[PlanRunRead]:
    campaign = service.get_campaign(db, code)
    return [planning.run_read(db, r) for r in repo.runs(db, campaign.id)]


@router.get("/plan-runs/{run_id}")
def get_run(db: DB, user: Reader, run_id: Id) -> PlanRunRead:
    return planning.run_read(db, planning.get_run(db, run_id))


@router.get("/plan-runs/{run_id}/items")
def run_items(
    db: DB,
    user: Reader,
    access: PatientReads,
    run_id: Id,
    facility: Annotated[str | None, Query(max_length=32)] = None,
    day: date | None = None,
    standby: bool = False,
) -> list[PlanItemRead]:
    """The plan of one unit (or, with ``standby``, the standby list). Patients
    are shown only to users who may see them."""
    run = planning.get_run(db, run_id)
    facility_id = None
    if facility:
        unit = repo.facilities_by_code(db, [facility]).get(facility)
        if unit is None:
            raise BadRequest(
                f"No facility '{facility}'.", errors=[FieldError("facility", "unknown")]
            )
        facility_id = unit.id
    items = repo.items(db, run.id, facility_id=facility_id, day=day, standby=standby)
    reads = planning.item_reads(db, items)
    visible = {r.patient_id for r in reads if access.visible(r.patient_id)}
    reads = [r for r in reads if r.patient_id in visible]
    access.record("read", sorted(visible), resource_type="PlanItem")
    return reads


class PublishRequest(Schema):
    run_id: Id


class PublishResult(Schema):
    campaign: CampaignRead
    notified: int


@router.post("/campaigns/{code}/publish")
def publish(db: DB, user: Planner, code: str, body: PublishRequest) -> PublishResult:
    """Book the run's planned appointments and tell the patients."""
    campaign = _campaign_for(db, user, code, Permission.recovery_plan)
    run = planning.get_run(db, body.run_id)
    notified = planning.publish(db, campaign=campaign, run=run)
    return PublishResult(campaign=service.campaign_read(db, campaign), notified=notified)


class OutcomeResult(Schema):
    item: PlanItemRead
    standby_filled: PlanItemRead | None


@router.post("/plan-items/{item_id}/outcome")
def item_outcome(
    db: DB, user: Capturer, access: PatientReads, item_id: Id, body: ItemOutcome
) -> OutcomeResult:
    """A confirmation, cancellation or no-show; a cancelled place goes to standby."""
    item = planning.get_item(db, item_id)
    run = planning.get_run(db, item.run_id)
    if item.facility_id is not None:
        require_units(db, user, Permission.recovery_capture, [item.facility_id], "item_id")
    [read] = planning.item_reads(db, [item])
    access.check(read.patient_id, action="update", field="item_id")
    campaign = service.get_campaign_by_id(db, run.campaign_id)
    if body.status not in (
        PlanItemStatus.confirmed,
        PlanItemStatus.cancelled,
        PlanItemStatus.no_show,
    ):
        raise BadRequest(
            "The outcome is confirmed, cancelled or no_show.",
            errors=[FieldError("status", "confirmed, cancelled or no_show")],
        )
    filled = planning.set_outcome(db, campaign=campaign, item=item, status=body.status)
    patients = [read.patient_id]
    filled_read = None
    if filled is not None:
        [filled_read] = planning.item_reads(db, [filled])
        patients.append(filled_read.patient_id)
    access.record("update", patients, resource_type="PlanItem")
    return OutcomeResult(item=planning.item_reads(db, [item])[0], standby_filled=filled_read)


# Day-of capture and goal attainment ---------------------------------------------------


@router.post("/campaigns/{code}/captures/patient", status_code=status.HTTP_201_CREATED)
def capture_patient(
    db: DB, user: Capturer, access: PatientReads, code: str, body: PatientCapture
) -> CaptureResult:
    campaign = service.get_campaign(db, code)
    item = planning.get_item(db, body.item_id)
    if item.facility_id is not None:
        require_units(db, user, Permission.recovery_capture, [item.facility_id], "item_id")
    [read] = planning.item_reads(db, [item])
    access.check(read.patient_id, action="update", field="item_id")
    result = capture.capture_patient(db, campaign=campaign, item=item, day=body.day)
    access.record("update", [read.patient_id], resource_type="PlanItem", detail="delivered")
    return result


@router.post("/campaigns/{code}/captures/counts", status_code=status.HTTP_201_CREATED)
def capture_counts(
    db: DB,
    user: Capturer,
    code: str,
    body: CountCapture,
    idempotency_key: IdempotencyKey = None,
) -> CaptureResult:
    """Aggregate counts per service; retries with the same Idempotency-Key count once."""
    campaign = service.get_campaign(db, code)
    unit = repo.facilities_by_code(db, [body.facility_code]).get(body.facility_code)
    if unit is None:
        raise BadRequest(
            f"No facility '{body.facility_code}'.", errors=[FieldError("facility_code", "unknown")]
        )
    require_units(db, user, Permission.recovery_capture, [unit.id], "facility_code")
    key = f"{user.user_id}:{idempotency_key}" if idempotency_key else None
    return capture.capture_counts(
        db,
        campaign=campaign,
        facility_id=unit.id,
        day=body.day,
        counts=body.counts,
        key=key or new_id(),
    )


@router.get("/campaigns/{code}/attainment")
def attainment(db: DB, user: Reader, code: str) -> Attainment:
    """Delivered ÷ goal per unit, state and service line, over the units in your scope."""
    campaign = service.get_campaign(db, code)
    return capture.attainment(
        db, campaign=campaign, facility_ids=scoped_ids(db, user, Permission.recovery_read)
    )
