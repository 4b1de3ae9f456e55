"""JSON routes of `ledger`: post an entry, read summed figures."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response, status

from puente.access.gate import requires
from puente.access.patients import PatientAccess
from puente.access.policy import Permission
from puente.access.principal import Principal
from puente.access.service import facility_scope
from puente.deps import DB, PagingDep
from puente.enums import Mode, ServiceKind
from puente.errors import FieldError, Forbidden
from puente.ledger import service
from puente.ledger.schemas import Figures, GroupBy, LedgerEntryCreate, LedgerEntryRead
from puente.schemas import CountryCode, Id

router = APIRouter(tags=["ledger"])

Reader = Annotated[Principal, requires(Permission.ledger_read)]
Writer = Annotated[Principal, requires(Permission.ledger_write)]
IdempotencyKey = Annotated[
    str | None,
    Header(
        min_length=1,
        max_length=100,
        pattern=r"^[\x21-\x7e]+$",
        description="Retries with the same key record the entry once.",
    ),
]
Codes = Annotated[list[str], Query(max_length=200)]


@router.post("/ledger/entries", status_code=status.HTTP_201_CREATED)
def post_entry(
    request: Request,
    db: DB,
    user: Writer,
    body: LedgerEntryCreate,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> LedgerEntryRead:
    facility_id = service.facility_id(db, body.facility_code)
    if not facility_scope(db, user, Permission.ledger_write).covers(facility_id):
        raise Forbidden(
            f"You may not record services of facility {body.facility_code}.",
            errors=[FieldError("facility_code", "outside your scope")],
        )
    access = PatientAccess(request, db, user, Permission.patient_read)
    if body.patient_id is not None:
        # Naming a patient is touching their record: only one the writer may see.
        access.check(body.patient_id, action="create")
    # Keys are per user, so two clients cannot collide on a short key.
    source_ref = f"api:{user.user_id}:{idempotency_key}" if idempotency_key else None
    entry, created = service.post_entry(
        db, data=body, facility_id=facility_id, source_ref=source_ref
    )
    if not created:
        response.status_code = status.HTTP_200_OK
        response.headers["Idempotent-Replayed"] = "true"
    response.headers["Location"] = f"/api/ledger/entries/{entry.id}"
    if entry.patient_id is not None:
        access.record("create", [entry.patient_id], resource_type="LedgerEntry")
    return entry


@router.get("/ledger/entries/{entry_id}")
def get_entry(request: Request, db: DB, user: Reader, entry_id: Id) -> LedgerEntryRead:
    """The entry; its ``patient_id`` only for a reader who may see that
    patient (a program manager reads counts, never who)."""
    entry = service.get_entry(db, entry_id=entry_id)
    if not facility_scope(db, user, Permission.ledger_read).covers(entry.facility_id):
        # Outside the reader's facilities it is as if the entry did not exist.
        raise service.entry_not_found(entry_id)
    if entry.patient_id is not None:
        access = PatientAccess(request, db, user, Permission.patient_read)
        if access.visible(entry.patient_id):
            access.record("read", [entry.patient_id], resource_type="LedgerEntry")
        else:
            entry = entry.model_copy(update={"patient_id": None})
    return entry


@router.get("/ledger/figures")
def get_figures(
    db: DB,
    user: Reader,
    paging: PagingDep,
    start: date | None = None,
    end: date | None = None,
    facility: Codes = [],  # noqa: B006 (FastAPI copies defaults)
    region: Annotated[str | None, Query(max_length=32)] = None,
    country: CountryCode | None = None,
    service_code: Annotated[list[str], Query(alias="service", max_length=200)] = [],  # noqa: B006
    kind: Annotated[list[ServiceKind], Query()] = [],  # noqa: B006
    mode: Mode | None = None,
    campaign: Annotated[str | None, Query(max_length=64)] = None,
    citizenship: Annotated[list[CountryCode], Query()] = [],  # noqa: B006
    foreign: bool | None = None,
    group_by: Annotated[list[GroupBy], Query()] = [],  # noqa: B006
) -> Figures:
    """Counts summed from the rollup over the caller's facilities. Filters
    combine with AND; a list parameter may repeat (``?kind=surgery&kind=screening``).
    ``group_by`` (repeatable) splits the sum; groups are paged."""
    scope = facility_scope(db, user, Permission.ledger_read)
    wanted = service.facility_ids(db, facility) if facility else None
    if scope.everywhere:
        bounds = wanted
    elif wanted is not None:
        outside = [code for code, fid in zip(facility, wanted, strict=True) if fid not in scope.ids]
        if outside:
            raise Forbidden(
                f"Facility {', '.join(outside)} is outside your scope.",
                errors=[FieldError("facility", f"'{c}' is outside your scope") for c in outside],
            )
        bounds = wanted
    else:
        bounds = list(scope.ids)
    return service.figures(
        db,
        start=start,
        end=end,
        facility_ids=bounds,
        region_id=service.region_id(db, region) if region else None,
        country=country,
        service_ids=service.service_ids(db, service_code) if service_code else None,
        kinds=kind,
        mode=mode,
        campaign=campaign,
        citizenship=citizenship,
        foreign=foreign,
        group_by=group_by,
        limit=paging.limit,
        offset=paging.offset,
    )
