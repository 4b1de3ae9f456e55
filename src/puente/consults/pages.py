"""Pages of `consults`: the spoke's cases and the form to ask, the hub's
queue with live countdowns, and one case with its answer, thread, files and
path. They call the same services and access checks as the JSON routes."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import or_, select

from puente.access import service as access_service
from puente.access.gate import audit_context, requires
from puente.access.policy import Permission
from puente.access.principal import Principal
from puente.catalog.service import label, list_specialties
from puente.consults import access, reads, service
from puente.consults import api as consult_api
from puente.consults import repository as repo
from puente.consults.models import ConsultCase
from puente.consults.schemas import Answer, Assign, CaseCreate, Decline
from puente.consults.status import network_status
from puente.db import utcnow
from puente.deps import DB
from puente.enums import ConsultOutcome, ConsultSide, ConsultStatus, ConsultUrgency, Sex
from puente.errors import FieldError, Unprocessable
from puente.i18n import current_language
from puente.i18n import gettext as _
from puente.schemas import Id
from puente.web.templating import render

router = APIRouter(include_in_schema=False)

Reader = Annotated[Principal, requires(Permission.consult_read)]
NetworkReader = Annotated[Principal, requires(Permission.network_read)]
Asker = Annotated[Principal, requires(Permission.consult_request)]
Coordinator = Annotated[Principal, requires(Permission.consult_coordinate)]
Specialist = Annotated[Principal, requires(Permission.consult_answer)]


def _m(text: str) -> str:
    return text  # marks msgids for the catalogs (consults.po)


URGENCY_LABELS = {
    ConsultUrgency.emergency: _m("Emergency"),
    ConsultUrgency.urgent: _m("Urgent"),
    ConsultUrgency.routine: _m("Routine"),
}
STATUS_LABELS = {
    ConsultStatus.open: _m("Waiting at the hub"),
    ConsultStatus.assigned: _m("With a specialist"),
    ConsultStatus.answered: _m("Answered"),
    ConsultStatus.closed: _m("Closed"),
    ConsultStatus.unrouted: _m("No hub available"),
}
OUTCOME_LABELS = {
    ConsultOutcome.treated_locally: _m("Treated locally"),
    ConsultOutcome.transferred: _m("Transferred"),
    ConsultOutcome.died: _m("Died"),
    ConsultOutcome.unknown: _m("Unknown"),
}
EVENT_LABELS = {
    "created": _m("Case sent"),
    "routed": _m("Sent to hub"),
    "assigned": _m("Assigned to a specialist"),
    "reassigned": _m("Reassigned"),
    "declined": _m("Declined by the hub"),
    "escalated_coordinator": _m("Deadline passed: hub coordinator alerted"),
    "escalated_hub": _m("Deadline passed: sent to the next hub"),
    "unrouted": _m("No hub left to ask"),
    "answered": _m("Answered"),
    "outcome": _m("Outcome recorded"),
}
SEX_LABELS = {
    Sex.female: _m("Female"),
    Sex.male: _m("Male"),
    Sex.other: _m("Other"),
    Sex.unknown: _m("Unknown"),
}
SIDE_LABELS = {ConsultSide.spoke: _m("Spoke"), ConsultSide.hub: _m("Hub")}
VITALS = [
    ("heart_rate", _m("Heart rate (/min)")),
    ("systolic_bp", _m("Systolic blood pressure (mmHg)")),
    ("diastolic_bp", _m("Diastolic blood pressure (mmHg)")),
    ("respiratory_rate", _m("Respiratory rate (/min)")),
    ("temperature_c", _m("Temperature (°C)")),
    ("spo2", _m("Oxygen saturation (%)")),
    ("weight_kg", _m("Weight (kg)")),
    ("glasgow", _m("Glasgow coma scale")),
]


def _labels() -> dict[str, Any]:
    return {
        "urgency_label": lambda u: _(URGENCY_LABELS[ConsultUrgency(u)]),
        "status_label": lambda s: _(STATUS_LABELS[ConsultStatus(s)]),
        "outcome_label": lambda o: _(OUTCOME_LABELS[ConsultOutcome(o)]),
        "event_label": lambda k: _(EVENT_LABELS.get(k) or str(k)),
        "sex_label": lambda s: _(SEX_LABELS[Sex(s)]),
        "side_label": lambda s: _(SIDE_LABELS[ConsultSide(s)]),
        "vital_labels": [(k, _(v)) for k, v in VITALS],
        "urgencies": [(u.value, _(v)) for u, v in URGENCY_LABELS.items()],
        "outcomes": [(o.value, _(v)) for o, v in OUTCOME_LABELS.items()],
        "sexes": [(s.value, _(v)) for s, v in SEX_LABELS.items()],
    }


def viewer_zone(db: DB, user: Principal) -> str:
    """The time zone the pages show times in: that of the facility the
    viewer's consult role is granted at (the first, for several), else UTC
    (national and regional roles)."""
    ids = [g.facility_id for g in user.grants_for(Permission.consult_read) if g.facility_id]
    found = repo.facilities(db, ids[:1])
    return found[ids[0]].timezone if found else "UTC"


def _invalid(exc: ValidationError) -> Unprocessable:
    errors = [
        FieldError(".".join(str(p) for p in e["loc"]) or "form", e["msg"]) for e in exc.errors()
    ]
    return Unprocessable("; ".join(f"{e.field}: {e.message}" for e in errors), errors=errors)


def _redirect(path: str) -> RedirectResponse:
    return RedirectResponse(f"{path}?lang={current_language.get()}", status_code=303)


def _search_audit(request: Request, db: DB, user: Principal, rows: list[ConsultCase]) -> None:
    access_service.audit(
        db,
        audit_context(request, user, Permission.consult_read),
        action="search",
        resource_type="ServiceRequest",
        resource_ids=[(str(c.id), c.patient_id) for c in rows] or [(None, None)],
    )


@router.get("/consults", response_class=HTMLResponse)
def cases_page(request: Request, db: DB, user: Reader) -> HTMLResponse:
    """The cases of the caller's facilities, as spoke and as hub."""
    scope = access_service.facility_scope(db, user, Permission.consult_read)
    where = []
    if not scope.everywhere:
        ids = list(scope.ids)
        where.append(
            or_(
                ConsultCase.spoke_facility_id.in_(ids),
                ConsultCase.hub_facility_id.in_(ids),
                ConsultCase.answer_facility_id.in_(ids),
            )
        )
    _total, rows = repo.cases_where(db, where, 100)
    _search_audit(request, db, user, rows)
    return render(
        request,
        "consults/list.html",
        zone=viewer_zone(db, user),
        cases=reads.case_reads(db, rows),
        can_ask=user.has(Permission.consult_request),
        now=utcnow(),
        **_labels(),
    )


@router.get("/consults/queue", response_class=HTMLResponse)
def queue_page(
    request: Request, db: DB, user: Reader, facility_code: str | None = None
) -> HTMLResponse:
    """The hub's queue: the nearest deadline first, each with a live countdown."""
    rows = repo.queue(db, consult_api.queue_hubs(db, user, facility_code), 200)
    _search_audit(request, db, user, rows)
    return render(
        request,
        "consults/queue.html",
        zone=viewer_zone(db, user),
        items=reads.queue_items(db, rows, utcnow()),
        facility_code=facility_code,
        **_labels(),
    )


def _spoke_choices(db: DB, user: Principal) -> list[tuple[str, str]]:
    scope = access_service.facility_scope(db, user, Permission.consult_request)
    if scope.everywhere:
        return []
    return sorted((f.code, f.name) for f in repo.facilities(db, scope.ids).values())


@router.get("/consults/new", response_class=HTMLResponse)
def new_case_page(request: Request, db: DB, user: Asker) -> HTMLResponse:
    lang = current_language.get()
    specialties = sorted(
        ((s.code, label(s, lang)) for s in list_specialties(db, limit=500, offset=0).items),
        key=lambda s: s[1],
    )
    return render(
        request,
        "consults/new.html",
        spokes=_spoke_choices(db, user),
        specialties=specialties,
        # A resubmitted form (the line dropped before the answer came)
        # carries the same key, so it never makes a second case.
        request_key=uuid.uuid4().hex,
        **_labels(),
    )


def _number(value: str) -> float | None:
    value = value.strip().replace(",", ".")
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        raise Unprocessable(
            f"'{value}' is not a number.", errors=[FieldError("vitals", "not a number")]
        ) from None


@router.post("/consults/new")
def ask_page(
    request: Request,
    db: DB,
    user: Asker,
    spoke_facility_code: Annotated[str, Form(max_length=32)],
    specialty_code: Annotated[str, Form(max_length=64)],
    urgency: Annotated[str, Form(max_length=16)],
    question: Annotated[str, Form(max_length=10_000)],
    clinical_summary: Annotated[str, Form(max_length=10_000)],
    request_key: Annotated[str, Form(max_length=64)] = "",
    patient_id: Annotated[str, Form(max_length=20)] = "",
    patient_age_years: Annotated[str, Form(max_length=5)] = "",
    patient_sex: Annotated[str, Form(max_length=16)] = "",
    answer_language: Annotated[str, Form(max_length=8)] = "en",
    heart_rate: Annotated[str, Form(max_length=10)] = "",
    systolic_bp: Annotated[str, Form(max_length=10)] = "",
    diastolic_bp: Annotated[str, Form(max_length=10)] = "",
    respiratory_rate: Annotated[str, Form(max_length=10)] = "",
    temperature_c: Annotated[str, Form(max_length=10)] = "",
    spo2: Annotated[str, Form(max_length=10)] = "",
    weight_kg: Annotated[str, Form(max_length=10)] = "",
    glasgow: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    raw = {
        "heart_rate": heart_rate,
        "systolic_bp": systolic_bp,
        "diastolic_bp": diastolic_bp,
        "respiratory_rate": respiratory_rate,
        "temperature_c": temperature_c,
        "spo2": spo2,
        "weight_kg": weight_kg,
        "glasgow": glasgow,
    }
    vitals: dict[str, float] = {}
    for key, value in raw.items():
        number = _number(value)
        if number is not None:
            vitals[key] = number
    try:
        body = CaseCreate.model_validate(
            {
                "spoke_facility_code": spoke_facility_code,
                "specialty_code": specialty_code,
                "urgency": urgency,
                "question": question,
                "clinical_summary": clinical_summary,
                "patient_id": patient_id.strip() or None,
                "patient_age_years": patient_age_years.strip() or None,
                "patient_sex": patient_sex or None,
                "answer_language": answer_language,
                "vitals": vitals,
            }
        )
    except ValidationError as exc:
        raise _invalid(exc) from None
    case, _replayed = consult_api.create_case(db, request, user, body, request_key or None)
    return _redirect(f"/consults/{case.id}")


@router.get("/consults/status", response_class=HTMLResponse)
def status_page(request: Request, db: DB, user: NetworkReader) -> HTMLResponse:
    """Tiles and a table: bridge points online, cases in flight, breaches."""
    return render(
        request,
        "consults/status.html",
        zone=viewer_zone(db, user),
        status=network_status(db, now=utcnow()),
        **_labels(),
    )


@router.get("/consults/{case_id}", response_class=HTMLResponse)
def case_page(request: Request, db: DB, user: Reader, case_id: Id) -> HTMLResponse:
    case, sides = access.load(request, db, user, case_id, action="read")
    access.record(request, db, user, case, "read")
    hub = case.hub_facility_id
    specialists: list[tuple[int, str]] = []
    coordinates = access.covers(db, user, Permission.consult_coordinate, hub)
    if coordinates:
        specialists = _specialists(db, hub)
    return render(
        request,
        "consults/case.html",
        zone=viewer_zone(db, user),
        case=reads.case_detail(db, case),
        sides=sides,
        now=utcnow(),
        coordinates=coordinates,
        answers=access.covers(db, user, Permission.consult_answer, hub),
        asks=access.covers(db, user, Permission.consult_request, case.spoke_facility_id),
        specialists=specialists,
        open_=case.status in (ConsultStatus.open, ConsultStatus.assigned),
        message_key=uuid.uuid4().hex,
        **_labels(),
    )


def _specialists(db: DB, hub_id: int | None) -> list[tuple[int, str]]:
    from puente.access.models import RoleGrant, User
    from puente.enums import AccessRole

    if hub_id is None:
        return []
    rows = db.execute(
        select(User.id, User.username)
        .join(RoleGrant, RoleGrant.user_id == User.id)
        .where(
            RoleGrant.role == AccessRole.hub_specialist,
            RoleGrant.facility_id == hub_id,
            User.active.is_(True),
        )
        .order_by(User.username)
    ).all()
    return [(int(i), str(n)) for i, n in rows]


@router.post("/consults/{case_id}/assign")
def assign_page(
    request: Request, db: DB, user: Coordinator, case_id: Id, user_id: Annotated[int, Form()]
) -> Response:
    consult_api.assign(db, request, user, case_id, Assign(user_id=user_id))
    return _redirect(f"/consults/{case_id}")


@router.post("/consults/{case_id}/decline")
def decline_page(
    request: Request,
    db: DB,
    user: Coordinator,
    case_id: Id,
    reason: Annotated[str, Form(min_length=3, max_length=500)],
) -> Response:
    consult_api.decline(db, request, user, case_id, Decline(reason=reason))
    return _redirect(f"/consults/{case_id}")


@router.post("/consults/{case_id}/answer")
def answer_page(
    request: Request,
    db: DB,
    user: Specialist,
    case_id: Id,
    assessment: Annotated[str, Form(max_length=10_000)],
    diagnoses: Annotated[str, Form(max_length=500)],
    plan: Annotated[str, Form(max_length=10_000)],
    transfer: Annotated[bool, Form()] = False,
    transfer_facility_code: Annotated[str, Form(max_length=32)] = "",
    transfer_urgency: Annotated[str, Form(max_length=16)] = "",
) -> Response:
    try:
        body = Answer.model_validate(
            {
                "assessment": assessment,
                "diagnoses": [d for d in diagnoses.replace(";", ",").split(",") if d.strip()],
                "plan": plan,
                "transfer": transfer,
                "transfer_facility_code": transfer_facility_code.strip() or None,
                "transfer_urgency": (transfer_urgency or None) if transfer else None,
            }
        )
    except ValidationError as exc:
        raise _invalid(exc) from None
    consult_api.answer(db, request, user, case_id, body)
    return _redirect(f"/consults/{case_id}")


@router.post("/consults/{case_id}/outcome")
def outcome_page(
    request: Request,
    db: DB,
    user: Asker,
    case_id: Id,
    outcome: Annotated[ConsultOutcome, Form()],
    note: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    case, _sides = access.load(request, db, user, case_id, action="update")
    access.need(db, user, Permission.consult_request, case.spoke_facility_id, "the spoke's doctors")
    service.record_outcome(
        db, case=case, outcome=outcome, note=note or None, by_user_id=user.user_id
    )
    access.record(request, db, user, case, "update", detail=f"outcome {outcome.value}")
    return _redirect(f"/consults/{case_id}")


@router.post("/consults/{case_id}/messages")
def message_page(
    request: Request,
    db: DB,
    user: Reader,
    case_id: Id,
    body: Annotated[str, Form(min_length=1, max_length=4000)],
    request_key: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    case, sides = access.load(request, db, user, case_id, action="create")
    _row, replayed = service.post_message(
        db,
        case=case,
        side=access.side_for_writing(sides, user),
        body=body.strip(),
        by_user_id=user.user_id,
        idempotency_key=f"u{user.user_id}:{request_key}" if request_key else None,
    )
    if not replayed:
        access.record(request, db, user, case, "create", resource_type="Communication")
    return _redirect(f"/consults/{case_id}")
