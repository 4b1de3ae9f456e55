"""The schedules page: a clinician (or a facility administrator) publishes a
practitioner's recurring availability and the slots of the coming weeks, and
sees the schedules of their facilities. It calls the JSON route's own path
(:func:`puente.scheduling.api.publish`)."""

from __future__ import annotations

from datetime import date, time, timedelta
from typing import Annotated, Any

from babel.dates import get_day_names
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from puente import i18n
from puente.access.gate import requires
from puente.access.policy import Permission
from puente.access.principal import Principal
from puente.access.service import facility_scope
from puente.catalog.models import Specialty
from puente.db import utcnow
from puente.deps import DB
from puente.enums import Mode
from puente.errors import FieldError, PuenteError, Unprocessable
from puente.network.models import Facility
from puente.people.models import Practitioner, PractitionerRole
from puente.scheduling import api
from puente.scheduling import repository as repo
from puente.scheduling.models import Schedule, Slot
from puente.scheduling.schemas import RuleIn, ScheduleCreate
from puente.web.templating import render

router = APIRouter(include_in_schema=False)
Writer = Annotated[Principal, requires(Permission.schedule_write)]
MAX_ROWS = 300


def _weekdays() -> list[str]:
    """Monday … Sunday in the page's language (CLDR names, from Babel)."""
    names = get_day_names("wide", locale=i18n.current_language.get())
    return [str(names[d]) for d in range(7)]


def _roles(db: Session, user: Principal) -> list[dict[str, Any]]:
    scope = facility_scope(db, user, Permission.schedule_write)
    query = (
        select(PractitionerRole, Practitioner, Facility, Specialty)
        .join(Practitioner, Practitioner.id == PractitionerRole.practitioner_id)
        .join(Facility, Facility.id == PractitionerRole.facility_id)
        .outerjoin(Specialty, Specialty.id == PractitionerRole.specialty_id)
        .where(PractitionerRole.active.is_(True))
        .order_by(Facility.code, Practitioner.family_name, PractitionerRole.id)
        .limit(MAX_ROWS)
    )
    if not scope.everywhere:
        query = query.where(PractitionerRole.facility_id.in_(sorted(scope.ids)))
    return [
        {
            "id": role.id,
            "name": f"{person.family_name} {person.given_names}",
            "facility": facility.name,
            "facility_id": facility.id,
            "timezone": facility.timezone,
            "specialty": specialty.name(i18n.current_language.get()) if specialty else "",
        }
        for role, person, facility, specialty in db.execute(query)
    ]


def _schedules(db: Session, roles: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by_role = {r["id"]: r for r in roles}
    if not by_role:
        return []
    rows = list(
        db.scalars(
            select(Schedule)
            .where(Schedule.practitioner_role_id.in_(list(by_role)))
            .order_by(Schedule.id.desc())
            .limit(MAX_ROWS)
        )
    )
    ids = [s.id for s in rows]
    rules = repo.rules_of(db, ids)
    now = utcnow()
    free_query = repo.free_slot_query(now=now, start=now, end=now + timedelta(days=366))
    free_slots = free_query.order_by(None).where(Slot.schedule_id.in_(ids)).subquery()
    counted = select(free_slots.c.schedule_id, func.count()).group_by(free_slots.c.schedule_id)
    free = {int(sid): int(n) for sid, n in db.execute(counted)}
    return [
        {
            "schedule": s,
            "role": by_role[s.practitioner_role_id],
            "rules": sorted(rules.get(s.id, []), key=lambda r: (r.weekday, r.start)),
            "free": free.get(s.id, 0),
        }
        for s in rows
    ]


def _page(
    request: Request, db: Session, user: Principal, status_code: int = 200, **context: Any
) -> HTMLResponse:
    roles = _roles(db, user)
    context.setdefault("form", {})
    return render(
        request,
        "scheduling/schedules.html",
        status_code=status_code,
        roles=roles,
        schedules=_schedules(db, roles),
        weekdays=_weekdays(),
        today=date.today(),
        **context,
    )


@router.get("/clinic/schedules", response_class=HTMLResponse)
def schedules_page(request: Request, db: DB, user: Writer, published: int | None = None) -> Any:
    return _page(request, db, user, published=published)


@router.post("/clinic/schedules", response_class=HTMLResponse)
def publish_page(
    request: Request,
    db: DB,
    user: Writer,
    practitioner_role_id: Annotated[str, Form(max_length=20)] = "",
    mode: Annotated[str, Form(max_length=20)] = Mode.virtual.value,
    slot_minutes: Annotated[str, Form(max_length=5)] = "15",
    valid_from: Annotated[str, Form(max_length=10)] = "",
    valid_until: Annotated[str, Form(max_length=10)] = "",
    weekday: Annotated[list[str] | None, Form(max_length=7)] = None,
    start: Annotated[str, Form(max_length=8)] = "09:00",
    end: Annotated[str, Form(max_length=8)] = "13:00",
    weeks: Annotated[str, Form(max_length=2)] = "2",
) -> Response:
    form = {
        "practitioner_role_id": practitioner_role_id,
        "mode": mode,
        "slot_minutes": slot_minutes,
        "valid_from": valid_from,
        "valid_until": valid_until,
        "weekday": weekday or [],
        "start": start,
        "end": end,
        "weeks": weeks,
    }
    try:
        role = db.get(PractitionerRole, int(practitioner_role_id or 0))
        facility = db.get(Facility, role.facility_id) if role else None
        first = date.fromisoformat(valid_from) if valid_from else date.today()
        if not (weeks or "2").isdigit():
            raise Unprocessable(
                f"'{weeks}' is not a whole number of weeks.",
                errors=[FieldError("weeks", "not a whole number")],
            )
        ahead = max(1, min(int(weeks or 2), 26))
        body = ScheduleCreate.model_validate(
            {
                "practitioner_role_id": int(practitioner_role_id or 0),
                "mode": mode,
                "slot_minutes": slot_minutes,
                "timezone": facility.timezone if facility else "UTC",
                "valid_from": first,
                "valid_until": valid_until or None,
                "rules": [
                    RuleIn(
                        weekday=int(d), start=time.fromisoformat(start), end=time.fromisoformat(end)
                    )
                    for d in (weekday or [])
                ],
                "generate_until": max(first, date.today()) + timedelta(weeks=ahead),
            }
        )
        schedule = api.publish(db, user, body)
    except ValidationError as exc:
        errors = [
            FieldError(".".join(str(p) for p in e["loc"]) or "form", e["msg"]) for e in exc.errors()
        ]
        return _page(request, db, user, status_code=422, form=form, errors=errors)
    except ValueError as exc:  # a date or time the browser did not check
        errors = [FieldError("form", str(exc))]
        return _page(request, db, user, status_code=422, form=form, errors=errors)
    except PuenteError as exc:
        errors = exc.errors or [FieldError("form", exc.detail)]
        return _page(request, db, user, status_code=exc.status, form=form, errors=errors)
    return RedirectResponse(f"/clinic/schedules?published={schedule.id}", status_code=303)
