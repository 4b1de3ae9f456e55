"""The planner's grid of a campaign's capacity and goals: one service line
at a time, a row per unit, a capacity cell per day (in the line's unit:
operating-room minutes, consultation or screening slots) and the unit's
goal; and the CSV upload of the same cells. Both write through
:mod:`puente.recovery.grid`, which uses the API's service functions."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.datastructures import FormData

from puente.access.policy import Permission
from puente.deps import DB, SettingsDep
from puente.errors import FieldError, ImportFailed, PayloadTooLarge, Unprocessable
from puente.recovery import grid as grids
from puente.recovery import service
from puente.recovery.api import require_units
from puente.recovery.models import Campaign
from puente.recovery.pages import KIND_LABELS, Planner, _lang, _redirect, _t
from puente.web.templating import render

router = APIRouter(include_in_schema=False)


async def form_data(request: Request) -> FormData:
    return await request.form()


Form = Annotated[FormData, Depends(form_data)]


def save_upload(file: UploadFile, path: Path, limit: int) -> Path:
    """Copy an uploaded file to ``path``, refusing it past ``limit`` bytes."""
    size = 0
    with path.open("wb") as out:
        while chunk := file.file.read(1 << 20):
            size += len(chunk)
            if size > limit:
                raise PayloadTooLarge(
                    f"The file is larger than {limit} bytes.",
                    errors=[FieldError("file", "too large")],
                )
            out.write(chunk)
    return path


def _campaign(db: DB, user: Planner, code: str) -> Campaign:
    campaign = service.get_campaign(db, code)
    require_units(db, user, Permission.recovery_plan, service.unit_ids(db, campaign), "code")
    return campaign


# A form sends at most this many cells (the form parser refuses more than
# 1,000 fields): long campaigns with many units show their units in pages.
CELLS_PER_PAGE = 900


def _page(
    request: Request,
    db: DB,
    campaign: Campaign,
    line: str | None,
    status_code: int = 200,
    page: int = 1,
    **context: Any,
) -> HTMLResponse:
    g = grids.grid(db, campaign)
    current = g.line(line) if g.lines else None
    per_page = max(1, CELLS_PER_PAGE // (len(g.days) + 1))
    pages = max(1, -(-len(g.units) // per_page))
    page = min(max(page, 1), pages)
    return render(
        request,
        "recovery/capacity.html",
        status_code=status_code,
        campaign=campaign,
        grid=g,
        units=g.units[(page - 1) * per_page : page * per_page],
        page=page,
        pages=pages,
        line=current,
        kind_label=lambda k: _t(KIND_LABELS[k]),
        columns=[c.name for c in grids.COLUMNS],
        **context,
    )


@router.get("/recovery/campaigns/{code}/capacity", response_class=HTMLResponse)
def capacity_page(
    request: Request,
    db: DB,
    user: Planner,
    code: str,
    line: str | None = None,
    saved: int = 0,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> HTMLResponse:
    campaign = _campaign(db, user, code)
    return _page(request, db, campaign, line, page=page, saved=bool(saved))


def _cell(form: FormData, name: str) -> int | None:
    """A submitted cell: None when not sent, 0 when blank."""
    raw = form.get(name)
    if raw is None:
        return None
    text = str(raw).strip().replace(" ", "").replace("\u00a0", "")
    if text == "":
        return 0
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= grids.MAX_CELL:
        raise Unprocessable(
            f"{name}: '{text}' is not a whole number from 0 to {grids.MAX_CELL}.",
            errors=[FieldError(name, "not a whole number from 0 to 1000000")],
        )
    return value


@router.post("/recovery/campaigns/{code}/capacity", response_class=HTMLResponse)
def save_line(
    request: Request,
    db: DB,
    user: Planner,
    form: Form,
    code: str,
    line: str | None = None,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> RedirectResponse:
    """One line's cells: ``cap:UNIT:DAY`` and ``goal:UNIT``; cells not sent
    (units on other pages) keep their value."""
    campaign = _campaign(db, user, code)
    g = grids.grid(db, campaign)
    current = g.line(line)
    capacity: dict[grids.CapacityCell, int] = {}
    goals: dict[grids.GoalCell, int] = {}
    for unit in g.units:
        for day in g.days:
            value = _cell(form, f"cap:{unit.code}:{day.isoformat()}")
            if value is not None:
                capacity[(unit.code, day, current.code)] = value
        goal = _cell(form, f"goal:{unit.code}")
        if goal is not None:
            goals[(unit.code, current.code)] = goal
    grids.set_cells(db, campaign=campaign, capacity=capacity, goals=goals)
    return _redirect(
        f"/recovery/campaigns/{code}/capacity?line={current.code}&page={page}&saved=1",
        _lang(request),
    )


@router.post("/recovery/campaigns/{code}/capacity/import", response_class=HTMLResponse)
def import_cells(
    request: Request,
    db: DB,
    user: Planner,
    settings: SettingsDep,
    code: str,
    file: Annotated[UploadFile, File()],
    line: str | None = None,
) -> HTMLResponse:
    """Capacity and goals from a CSV file, all or nothing; errors by row and column."""
    campaign = _campaign(db, user, code)
    name = Path(file.filename or "capacity.csv").name[:100] or "capacity.csv"
    with tempfile.TemporaryDirectory(prefix="puente-capacity-") as tmp:
        path = save_upload(file, Path(tmp) / name, settings.import_max_bytes)
        try:
            result = grids.import_grid(db, path, campaign=campaign)
        except ImportFailed as failed:
            return _page(
                request, db, campaign, line, status_code=400, failed=failed, file_name=name
            )
    return _page(request, db, campaign, line, result=result, file_name=name)
