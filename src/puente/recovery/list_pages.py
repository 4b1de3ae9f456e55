"""Waiting-list pages for planners: an entry typed in (with its estimated
duration and which units can do it: level of care and region), and a CSV
file uploaded — the import of ``POST /api/waiting-list/import``, all or
nothing, its row errors shown in the page."""

from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError

from puente.access.patients import PatientReads
from puente.access.policy import Permission
from puente.deps import DB, SettingsDep
from puente.enums import WaitPriority
from puente.errors import ImportFailed
from puente.recovery import imports, service
from puente.recovery import repository as repo
from puente.recovery.api import require_units, scoped_ids
from puente.recovery.grid_pages import save_upload
from puente.recovery.pages import Planner, _invalid, _lang, _redirect
from puente.recovery.schemas import EntryCreate
from puente.web.templating import render

router = APIRouter(include_in_schema=False)


@router.post("/recovery/waiting-list", response_class=HTMLResponse)
def add_entry(
    request: Request,
    db: DB,
    user: Planner,
    access: PatientReads,
    patient_id: Annotated[int, Form()],
    service_code: Annotated[str, Form(max_length=64)],
    referring_facility_code: Annotated[str, Form(max_length=32)],
    referred_on: Annotated[date, Form()],
    priority: Annotated[WaitPriority, Form()],
    duration_minutes: Annotated[int | None, Form()] = None,
    level_of_care: Annotated[int | None, Form()] = None,
    region_code: Annotated[str | None, Form(max_length=32)] = None,
    max_travel_km: Annotated[int | None, Form()] = None,
) -> RedirectResponse:
    """Empty duration, level and region take the service's duration, the
    service's usual level and the referring unit's region; an empty
    travel limit is no limit of the entry's own."""
    try:
        data = EntryCreate(
            patient_id=patient_id,
            service_code=service_code,
            referring_facility_code=referring_facility_code,
            referred_on=referred_on,
            priority=priority,
            duration_minutes=duration_minutes,
            level_of_care=level_of_care,
            region_code=region_code or None,
            max_travel_km=max_travel_km,
        )
    except ValidationError as exc:
        raise _invalid(exc) from None
    access.check(data.patient_id, action="create")
    unit = repo.facilities_by_code(db, [data.referring_facility_code]).get(
        data.referring_facility_code
    )
    if unit is not None:
        require_units(db, user, Permission.recovery_plan, [unit.id], "referring_facility_code")
    entry = service.add_entry(db, data=data)
    access.record("create", [entry.patient_id], resource_type="WaitingListEntry")
    return _redirect("/recovery", _lang(request))


def _page(request: Request, status_code: int = 200, **context: Any) -> HTMLResponse:
    return render(
        request,
        "recovery/import.html",
        status_code=status_code,
        columns=[c.name for c in imports.COLUMNS],
        required={c.name for c in imports.COLUMNS if c.required},
        **context,
    )


@router.get("/recovery/waiting-list/import", response_class=HTMLResponse)
def import_form(request: Request, user: Planner) -> HTMLResponse:
    return _page(request)


@router.post("/recovery/waiting-list/import", response_class=HTMLResponse)
def import_upload(
    request: Request,
    db: DB,
    user: Planner,
    access: PatientReads,
    settings: SettingsDep,
    file: Annotated[UploadFile, File()],
) -> HTMLResponse:
    """Every row's referring unit must be in the planner's scope."""
    name = Path(file.filename or "waiting-list.csv").name[:100] or "waiting-list.csv"
    with tempfile.TemporaryDirectory(prefix="puente-waiting-") as tmp:
        path = save_upload(file, Path(tmp) / name, settings.import_max_bytes)
        try:
            result = imports.import_waiting_list(
                db,
                path,
                allowed_facility_ids=scoped_ids(db, user, Permission.recovery_plan),
                visible=access.where(),
            )
        except ImportFailed as failed:
            return _page(request, status_code=400, failed=failed, file_name=name)
    access.record(
        "import",
        sorted(result.patient_ids),
        resource_type="WaitingListEntry",
        detail=f"{result.created} entries",
    )
    return _page(request, result=result, file_name=name)
