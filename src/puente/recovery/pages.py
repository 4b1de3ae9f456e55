"""Pages of `recovery`: for planners (the waiting list, building a campaign,
running and reviewing the plan, publishing it, goal attainment) and for
units (the day's list and its capture). Forms post here and call the same
services as the JSON API; every route passes the gate."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError

from puente.access.gate import requires
from puente.access.patients import PatientReads
from puente.access.policy import Permission
from puente.access.principal import Principal
from puente.deps import DB
from puente.enums import (
    CampaignStatus,
    CapacityKind,
    FacilityKind,
    PlanItemStatus,
    PlanRunStatus,
    WaitPriority,
)
from puente.errors import FieldError, NotFound, Unprocessable
from puente.recovery import capture, planning, service
from puente.recovery import repository as repo
from puente.recovery.api import require_units, scoped_ids
from puente.recovery.models import PlanRun
from puente.recovery.schemas import CampaignCreate, CapacityIn, GoalIn, LineIn
from puente.web.templating import render

router = APIRouter(include_in_schema=False)

Reader = Annotated[Principal, requires(Permission.recovery_read)]
Planner = Annotated[Principal, requires(Permission.recovery_plan)]
Capturer = Annotated[Principal, requires(Permission.recovery_capture)]


def _(text: str) -> str:
    return text


STATUS_LABELS = {
    CampaignStatus.draft: _("Draft"),
    CampaignStatus.planned: _("Planned"),
    CampaignStatus.published: _("Published"),
    CampaignStatus.closed: _("Closed"),
    PlanRunStatus.queued: _("Queued"),
    PlanRunStatus.running: _("Running"),
    PlanRunStatus.done: _("Done"),
    PlanRunStatus.failed: _("Failed"),
    PlanItemStatus.planned: _("Planned"),
    PlanItemStatus.booked: _("Booked"),
    PlanItemStatus.confirmed: _("Confirmed"),
    PlanItemStatus.cancelled: _("Cancelled"),
    PlanItemStatus.done: _("Done"),
    PlanItemStatus.no_show: _("Did not come"),
}
KIND_LABELS = {
    CapacityKind.or_minutes: _("Operating-room minutes"),
    CapacityKind.consultation_slots: _("Consultation slots"),
    CapacityKind.screening_slots: _("Screening slots"),
}

PRIORITY_LABELS = {
    WaitPriority.p1: _("within 72 hours"),
    WaitPriority.p2: _("within 1 month"),
    WaitPriority.p3: _("within 3 months"),
    WaitPriority.p4: _("longer"),
}
LEVEL_LABELS = {
    1: _("1 — family medicine"),
    2: _("2 — general hospital"),
    3: _("3 — high specialty"),
}

OUTCOMES = "^(done|no_show|confirmed|cancelled)$"


def _redirect(path: str, lang: str) -> RedirectResponse:
    joiner = "&" if "?" in path else "?"
    return RedirectResponse(f"{path}{joiner}lang={lang}", status_code=303)


def _lang(request: Request) -> str:
    from puente import i18n

    return i18n.current_language.get()


def _invalid(exc: ValidationError) -> Unprocessable:
    errors = [
        FieldError(".".join(str(p) for p in e["loc"]) or "form", e["msg"]) for e in exc.errors()
    ]
    return Unprocessable(f"{errors[0].field}: {errors[0].message}", errors=errors)


@router.get("/recovery", response_class=HTMLResponse)
def home(request: Request, db: DB, user: Reader, as_of: date | None = None) -> HTMLResponse:
    figures = service.figures(
        db, as_of=as_of, facility_ids=scoped_ids(db, user, Permission.recovery_read)
    )
    campaigns = [service.campaign_read(db, c) for c in repo.campaigns(db)]
    return render(
        request,
        "recovery/home.html",
        figures=figures,
        campaigns=campaigns,
        status_label=lambda s: _t(STATUS_LABELS[s]),
        can_plan=user.has(Permission.recovery_plan),
        priorities=list(WaitPriority),
        priority_label=lambda p: _t(PRIORITY_LABELS[p]),
        levels=[(n, _t(label)) for n, label in LEVEL_LABELS.items()],
        regions=repo.region_choices(db) if user.has(Permission.recovery_plan) else [],
    )


def _t(text: str) -> str:
    from puente import i18n

    return i18n.gettext(text)


@router.get("/recovery/campaigns/new", response_class=HTMLResponse)
def new_campaign(request: Request, db: DB, user: Planner) -> HTMLResponse:
    units = repo.unit_codes(db, "MX", [FacilityKind.state_office, FacilityKind.high_specialty_unit])
    return render(
        request,
        "recovery/new.html",
        units="\n".join(units),
        kinds=list(CapacityKind),
        kind_label=lambda k: _t(KIND_LABELS[k]),
    )


@router.post("/recovery/campaigns", response_class=HTMLResponse)
def create_campaign(
    request: Request,
    db: DB,
    user: Planner,
    code: Annotated[str, Form(max_length=64)],
    name: Annotated[str, Form(max_length=300)],
    country: Annotated[str, Form(max_length=2)],
    starts_on: Annotated[date, Form()],
    ends_on: Annotated[date, Form()],
    units: Annotated[str, Form(max_length=200_000)],
    lines: Annotated[str, Form(max_length=20_000)],
    minutes: Annotated[int, Form(ge=0, le=100_000)] = 0,
    slots: Annotated[int, Form(ge=0, le=100_000)] = 0,
    goal: Annotated[int, Form(ge=0, le=1_000_000)] = 0,
    max_travel_km: Annotated[int | None, Form()] = None,
) -> RedirectResponse:
    """Units one code a line; lines "service_code capacity_kind" a line; the
    same capacity per unit × day × line (minutes or slots) and goal per unit × line."""
    unit_codes = [u.strip() for u in units.split() if u.strip()]
    line_pairs = [row.split() for row in lines.splitlines() if row.strip()]
    try:
        data = CampaignCreate(
            code=code,
            name=name,
            country=country,
            starts_on=starts_on,
            ends_on=ends_on,
            units=unit_codes,
            lines=[
                LineIn(service_code=p[0], capacity_kind=CapacityKind(p[1] if len(p) > 1 else ""))
                for p in line_pairs
            ],
            max_travel_km=max_travel_km,
        )
    except (ValidationError, ValueError) as exc:
        if isinstance(exc, ValidationError):
            raise _invalid(exc) from None
        raise Unprocessable(str(exc), errors=[FieldError("lines", str(exc))]) from None
    found = repo.facilities_by_code(db, data.units)
    require_units(db, user, Permission.recovery_plan, [f.id for f in found.values()], "units")
    campaign = service.create_campaign(db, data=data)
    days = service.days_of(campaign)
    capacity = [
        CapacityIn(
            facility_code=u,
            day=d,
            service_code=line.service_code,
            amount=minutes if line.capacity_kind == CapacityKind.or_minutes else slots,
        )
        for u in data.units
        for d in days
        for line in data.lines
    ]
    service.set_capacity(db, campaign=campaign, rows=capacity)
    if goal:
        goals = [
            GoalIn(facility_code=u, service_code=line.service_code, goal=goal)
            for u in data.units
            for line in data.lines
        ]
        service.set_goals(db, campaign=campaign, rows=goals)
    return _redirect(f"/recovery/campaigns/{campaign.code}", _lang(request))


@router.get("/recovery/campaigns/{code}", response_class=HTMLResponse)
def campaign_page(
    request: Request,
    db: DB,
    user: Reader,
    code: str,
    run: Annotated[int | None, Query(ge=1)] = None,
) -> HTMLResponse:
    campaign = service.get_campaign(db, code)
    rows = repo.runs(db, campaign.id)
    runs = [planning.run_read(db, r) for r in rows]
    scope = scoped_ids(db, user, Permission.recovery_read)
    attained = capture.attainment(db, campaign=campaign, facility_ids=scope)
    units = repo.unit_facilities(db, campaign.id)
    # The run to review: the one asked for, else the published one, else the
    # latest that finished.
    reviewed: PlanRun | None
    if run is not None:
        reviewed = planning.get_run(db, run)
        if reviewed.campaign_id != campaign.id:
            raise NotFound(f"No plan run {run} in '{code}'.", errors=[FieldError("run", "unknown")])
    else:
        done = [r for r in rows if r.status == PlanRunStatus.done]
        published = [r for r in done if r.id == campaign.published_run_id]
        reviewed = next(iter(published or done), None)
    days = service.days_of(campaign)
    visible = [u for u in units if scope is None or u.id in set(scope)]
    review = (
        planning.plan_by_unit(db, run=reviewed, units=visible, days=days)
        if reviewed is not None and reviewed.status == PlanRunStatus.done
        else []
    )
    return render(
        request,
        "recovery/campaign.html",
        campaign=service.campaign_read(db, campaign),
        runs=runs,
        attained=attained,
        units=units,
        days=days,
        reviewed=reviewed,
        review=review,
        status_label=lambda s: _t(STATUS_LABELS[s]),
        kind_label=lambda k: _t(KIND_LABELS[k]),
        can_plan=user.has(Permission.recovery_plan),
        running=any(r.status in (PlanRunStatus.queued, PlanRunStatus.running) for r in runs),
    )


@router.post("/recovery/campaigns/{code}/plan", response_class=HTMLResponse)
def run_planner(
    request: Request, db: DB, user: Planner, code: str, background: BackgroundTasks
) -> RedirectResponse:
    campaign = service.get_campaign(db, code)
    require_units(db, user, Permission.recovery_plan, service.unit_ids(db, campaign), "code")
    previous = campaign.published_run_id
    replans = planning.get_run(db, previous) if previous else None
    run = planning.start_run(db, campaign=campaign, user_id=user.user_id, replans=replans)
    background.add_task(planning.run_in_background, request.app.state.sessionmaker, run.id)
    return _redirect(f"/recovery/campaigns/{code}", _lang(request))


@router.post("/recovery/campaigns/{code}/publish", response_class=HTMLResponse)
def publish(
    request: Request, db: DB, user: Planner, code: str, run_id: Annotated[int, Form(ge=1)]
) -> RedirectResponse:
    campaign = service.get_campaign(db, code)
    require_units(db, user, Permission.recovery_plan, service.unit_ids(db, campaign), "code")
    planning.publish(db, campaign=campaign, run=planning.get_run(db, run_id))
    return _redirect(f"/recovery/campaigns/{code}", _lang(request))


@router.get("/recovery/campaigns/{code}/units/{facility_code}", response_class=HTMLResponse)
def unit_day(
    request: Request,
    db: DB,
    user: Capturer,
    access: PatientReads,
    code: str,
    facility_code: str,
    day: date | None = None,
    outcome: Annotated[str | None, Query(pattern=OUTCOMES)] = None,
    filled: Annotated[int | None, Query(ge=1)] = None,
) -> HTMLResponse:
    """The unit's list for a day of the campaign, and its capture; after a
    cancellation, ``filled`` names the standby entry that took the place."""
    campaign = service.get_campaign(db, code)
    unit = service.unit_of(db, campaign, facility_code)
    require_units(db, user, Permission.recovery_capture, [unit.id], "facility_code")
    days = service.days_of(campaign)
    today = day or (date.today() if date.today() in days else days[0])
    rows = []
    if campaign.published_run_id:
        items = repo.items(
            db, campaign.published_run_id, facility_id=unit.id, day=today, standby=False
        )
        reads = planning.item_reads(db, items)
        patients = repo.patients_by_id(
            db, {r.patient_id for r in reads if access.visible(r.patient_id)}
        )
        rows = [(r, patients[r.patient_id]) for r in reads if r.patient_id in patients]
        access.record("read", sorted(patients), resource_type="PlanItem")
    lines = repo.lines(db, campaign.id)
    return render(
        request,
        "recovery/unit.html",
        campaign=campaign,
        unit=unit,
        day=today,
        days=days,
        rows=rows,
        lines=[c for _line, c in lines],
        status_label=lambda s: _t(STATUS_LABELS[s]),
        outcome=outcome,
        filled=filled,
        standby=repo.standby_count(db, campaign.published_run_id)
        if campaign.published_run_id
        else 0,
    )


@router.post("/recovery/campaigns/{code}/units/{facility_code}/items", response_class=HTMLResponse)
def capture_item(
    request: Request,
    db: DB,
    user: Capturer,
    access: PatientReads,
    code: str,
    facility_code: str,
    item_id: Annotated[int, Form(ge=1)],
    outcome: Annotated[str, Form(pattern=OUTCOMES)],
) -> RedirectResponse:
    campaign = service.get_campaign(db, code)
    unit = service.unit_of(db, campaign, facility_code)
    require_units(db, user, Permission.recovery_capture, [unit.id], "facility_code")
    item = planning.get_item(db, item_id)
    if item.facility_id != unit.id:
        raise Unprocessable(
            "The appointment is not at this unit.", errors=[FieldError("item_id", "other unit")]
        )
    [read] = planning.item_reads(db, [item])
    access.check(read.patient_id, action="update", field="item_id")
    day = item.day.isoformat() if item.day else ""
    filled = None
    if outcome == "done":
        capture.capture_patient(db, campaign=campaign, item=item)
    else:
        filled = planning.set_outcome(
            db, campaign=campaign, item=item, status=PlanItemStatus(outcome)
        )
    patients = [read.patient_id]
    if filled is not None:
        patients += planning.patient_ids_of(db, [filled])
    access.record("update", patients, resource_type="PlanItem", detail=outcome)
    after = f"&done={item.id}&outcome={outcome}" + (f"&filled={filled.id}" if filled else "")
    return _redirect(
        f"/recovery/campaigns/{code}/units/{facility_code}?day={day}{after}", _lang(request)
    )


@router.post("/recovery/campaigns/{code}/units/{facility_code}/counts", response_class=HTMLResponse)
def capture_counts(
    request: Request,
    db: DB,
    user: Capturer,
    code: str,
    facility_code: str,
    day: Annotated[date, Form()],
    service_code: Annotated[str, Form(max_length=64)],
    count: Annotated[int, Form(ge=1, le=1_000_000)],
    key: Annotated[str, Form(min_length=8, max_length=64)],
) -> RedirectResponse:
    campaign = service.get_campaign(db, code)
    unit = service.unit_of(db, campaign, facility_code)
    require_units(db, user, Permission.recovery_capture, [unit.id], "facility_code")
    capture.capture_counts(
        db,
        campaign=campaign,
        facility_id=unit.id,
        day=day,
        counts={service_code: count},
        key=f"{user.user_id}:{key}",
    )
    return _redirect(
        f"/recovery/campaigns/{code}/units/{facility_code}?day={day.isoformat()}", _lang(request)
    )
