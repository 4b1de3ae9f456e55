"""FHIR R4 for remote consultation: ServiceRequest (the case), Task (its
workflow state and response deadline), Communication (the follow-up thread)
and DocumentReference (the attachments). Read, search and create for all
four: a Task is created with its case, as a contained ServiceRequest
(``focus: #id``), the way a placer hands a request and its fulfilment task
over in one resource.

Ids: ``ServiceRequest/N`` and ``Task/N`` are case N; ``Communication/N`` is
message N; ``DocumentReference/N`` is file N. A caller sees what the case
rule of :mod:`puente.consults.access` lets them see (the spoke's and the
hub's staff); every read and search is audited as patient data.

Mapping of a case:

- ServiceRequest.priority: emergency → stat, urgent → urgent, routine → routine;
- ServiceRequest.status: open/assigned/answered → active, closed → completed,
  unrouted → on-hold; requester: the spoke (Organization); performer: the
  hub it is at; performerType: the specialty; reasonCode.text: the question;
  note: the clinical summary; a de-identified case has no subject reference,
  only ``subject.display`` with age and sex;
- Task.status: open → requested, assigned → accepted, answered / closed →
  completed, unrouted → failed; restriction.period.end: the deadline at the
  current hub; businessStatus: breached or escalated when so.

Creating a Task: the contained ServiceRequest is read as in a ServiceRequest
create, with the Task's ``for``, ``requester`` and ``priority`` standing in
for its own when it has none. Routing and the deadline are Puente's: an
``owner`` or ``restriction`` sent by the client is ignored. A Task whose
focus is an existing case is refused (422, naming that case's Task: there
is one Task per case).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from fastapi import Request
from sqlalchemy import ColumnElement, false, func, or_, select, true
from sqlalchemy.orm import Session

from puente.access import service as access_service
from puente.access.policy import Permission
from puente.access.principal import Principal
from puente.consults import access as case_access
from puente.consults import files, reads
from puente.consults import repository as repo
from puente.consults import service as consults
from puente.consults.models import ConsultCase, ConsultFile, ConsultMessage
from puente.consults.schemas import CaseCreate
from puente.db import utcnow
from puente.enums import ConsultSide, ConsultStatus, ConsultUrgency
from puente.errors import FieldError, PuenteError
from puente.fhir import search as s
from puente.fhir.mapping import CS_SPECIALTY, instant, reference
from puente.fhir.outcome import FhirError
from puente.fhir.validation import validate

Resource = dict[str, Any]
TYPES = frozenset({"ServiceRequest", "Task", "Communication", "DocumentReference"})
CREATABLE = TYPES
SEARCH_PARAMS: dict[str, dict[str, str]] = {
    "ServiceRequest": {
        "patient": "reference",
        "status": "token",
        "priority": "token",
        "performer": "reference",
        "requester": "reference",
    },
    "Task": {"focus": "reference", "status": "token", "owner": "reference"},
    "Communication": {"based-on": "reference"},
    "DocumentReference": {"related": "reference"},
}
EXT_AGE = "urn:puente:fhir:deidentified-age-years"
EXT_LANGUAGE = "urn:puente:fhir:answer-language"
CS_ICD10 = "http://hl7.org/fhir/sid/icd-10"
PRIORITY = {
    ConsultUrgency.emergency: "stat",
    ConsultUrgency.urgent: "urgent",
    ConsultUrgency.routine: "routine",
}
FROM_PRIORITY = {"stat": "emergency", "asap": "emergency", "urgent": "urgent", "routine": "routine"}
SR_STATUS = {
    ConsultStatus.open: "active",
    ConsultStatus.assigned: "active",
    ConsultStatus.answered: "active",
    ConsultStatus.closed: "completed",
    ConsultStatus.unrouted: "on-hold",
}
TASK_STATUS = {
    ConsultStatus.open: "requested",
    ConsultStatus.assigned: "accepted",
    ConsultStatus.answered: "completed",
    ConsultStatus.closed: "completed",
    ConsultStatus.unrouted: "failed",
}


# Mapping ---------------------------------------------------------------------


def _subject(case: ConsultCase) -> dict[str, Any]:
    if case.patient_id is not None:
        return reference("Patient", case.patient_id)
    parts = ["de-identified"]
    if case.patient_age_years is not None:
        parts.append(f"{case.patient_age_years} y")
    if case.patient_sex is not None:
        parts.append(case.patient_sex.value)
    return {"display": ", ".join(parts)}


def to_fhir_service_request(case: ConsultCase, specialty_code: str) -> Resource:
    resource: Resource = {
        "resourceType": "ServiceRequest",
        "id": str(case.id),
        "meta": {"lastUpdated": instant(case.updated_at)},
        "status": SR_STATUS[case.status],
        "intent": "order",
        "priority": PRIORITY[case.urgency],
        "code": {"text": "Remote consultation"},
        "subject": _subject(case),
        "authoredOn": instant(case.requested_at),
        "requester": reference("Organization", case.spoke_facility_id),
        "performerType": {"coding": [{"system": CS_SPECIALTY, "code": specialty_code}]},
        "reasonCode": [{"text": case.question}],
        "note": [{"text": case.clinical_summary}],
        "extension": [{"url": EXT_LANGUAGE, "valueCode": case.answer_language}],
    }
    if case.patient_id is None and case.patient_age_years is not None:
        resource["extension"].append({"url": EXT_AGE, "valueInteger": case.patient_age_years})
    if case.hub_facility_id is not None:
        resource["performer"] = [reference("Organization", case.hub_facility_id)]
    if case.vitals:
        text = ", ".join(f"{k}={v}" for k, v in sorted(case.vitals.items()))
        resource["note"].append({"text": f"Vital signs: {text}"})
    return resource


def to_fhir_task(case: ConsultCase) -> Resource:
    resource: Resource = {
        "resourceType": "Task",
        "id": str(case.id),
        "meta": {"lastUpdated": instant(case.updated_at)},
        "basedOn": [reference("ServiceRequest", case.id)],
        "status": TASK_STATUS[case.status],
        "intent": "order",
        "priority": PRIORITY[case.urgency],
        "focus": reference("ServiceRequest", case.id),
        "for": _subject(case),
        "authoredOn": instant(case.requested_at),
        "lastModified": instant(case.updated_at),
        "requester": reference("Organization", case.spoke_facility_id),
        "restriction": {"period": {"end": instant(case.due_at)}},
    }
    owner = case.hub_facility_id or case.answer_facility_id
    if owner is not None:
        resource["owner"] = reference("Organization", owner)
    if reads.is_breached(case, utcnow()):
        resource["businessStatus"] = {"text": "deadline breached"}
    elif case.escalation_stage:
        resource["businessStatus"] = {"text": "escalated"}
    if case.answered_at is not None:
        output: list[dict[str, Any]] = [
            {"type": {"text": "assessment"}, "valueString": case.assessment or ""},
            {"type": {"text": "plan"}, "valueString": case.plan or ""},
        ]
        output += [
            {
                "type": {"text": "diagnosis"},
                "valueCodeableConcept": {"coding": [{"system": CS_ICD10, "code": d}]},
            }
            for d in case.diagnoses or []
        ]
        if case.transfer_facility_id is not None:
            output.append(
                {
                    "type": {"text": "transfer to"},
                    "valueReference": reference("Organization", case.transfer_facility_id),
                }
            )
        resource["output"] = output
    return resource


def _side_facility(case: ConsultCase, side: ConsultSide) -> int | None:
    if side == ConsultSide.spoke:
        return case.spoke_facility_id
    return case.answer_facility_id or case.hub_facility_id


def to_fhir_communication(message: ConsultMessage, case: ConsultCase) -> Resource:
    other = ConsultSide.hub if message.side == ConsultSide.spoke else ConsultSide.spoke
    resource: Resource = {
        "resourceType": "Communication",
        "id": str(message.id),
        "basedOn": [reference("ServiceRequest", case.id)],
        "status": "completed",
        "subject": _subject(case),
        "sent": instant(message.sent_at),
        "payload": [{"contentString": message.body}],
    }
    sender = _side_facility(case, message.side)
    if sender is not None:
        resource["sender"] = reference("Organization", sender)
    recipient = _side_facility(case, other)
    if recipient is not None:
        resource["recipient"] = [reference("Organization", recipient)]
    return resource


def to_fhir_document_reference(row: ConsultFile, case: ConsultCase) -> Resource:
    resource: Resource = {
        "resourceType": "DocumentReference",
        "id": str(row.id),
        "status": "current",
        "subject": _subject(case),
        "date": instant(row.uploaded_at),
        "description": row.filename,
        "content": [
            {
                "attachment": {
                    "contentType": row.content_type,
                    "url": reads.file_url(row),
                    "size": row.size,
                    "title": row.filename,
                    "creation": instant(row.uploaded_at),
                }
            }
        ],
        "context": {"related": [reference("ServiceRequest", case.id)]},
    }
    author = _side_facility(case, row.side)
    if author is not None:
        resource["author"] = [reference("Organization", author)]
    return resource


# Who sees what ---------------------------------------------------------------


def visible_cases(session: Session, principal: Principal) -> ColumnElement[bool]:
    """The case rule of puente.consults.access as a SQL condition."""
    if not principal.has(Permission.consult_read):
        return false()
    scope = access_service.facility_scope(session, principal, Permission.consult_read)
    if scope.everywhere:
        return true()
    ids = list(scope.ids)
    return or_(
        ConsultCase.spoke_facility_id.in_(ids),
        ConsultCase.hub_facility_id.in_(ids),
        ConsultCase.answer_facility_id.in_(ids),
    )


def _not_found(resource_type: str, key: int) -> FhirError:
    return FhirError(
        404,
        f"{resource_type}/{key} is not known.",
        errors=[FieldError(f"{resource_type}.id", "unknown")],
    )


def _audit(
    request: Request,
    session: Session,
    principal: Principal,
    action: str,
    resource_type: str,
    cases: Sequence[ConsultCase],
) -> None:
    from puente.access.gate import audit_context

    access_service.audit(
        session,
        audit_context(request, principal, Permission.consult_read),
        action=action,
        resource_type=resource_type,
        resource_ids=[(str(c.id), c.patient_id) for c in cases] or [(None, None)],
    )


def _case_of(session: Session, resource_type: str, key: int) -> ConsultCase | None:
    if resource_type in ("ServiceRequest", "Task"):
        return repo.case(session, key)
    if resource_type == "Communication":
        message = session.get(ConsultMessage, key)
        return repo.case(session, message.case_id) if message else None
    row = session.get(ConsultFile, key)
    return repo.case(session, row.case_id) if row else None


def read(
    session: Session, *, request: Request, principal: Principal, resource_type: str, key: int
) -> Resource:
    case = _case_of(session, resource_type, key)
    if case is None or not case_access.sides(session, principal, case):
        raise _not_found(resource_type, key)
    _audit(request, session, principal, "read", resource_type, [case])
    if resource_type == "ServiceRequest":
        return to_fhir_service_request(
            case, repo.specialty_codes(session, [case.specialty_id])[case.specialty_id]
        )
    if resource_type == "Task":
        return to_fhir_task(case)
    if resource_type == "Communication":
        message = session.get(ConsultMessage, key)
        assert message is not None
        return to_fhir_communication(message, case)
    row = session.get(ConsultFile, key)
    assert row is not None
    return to_fhir_document_reference(row, case)


def _count_and_page(session: Session, query: Any, page: s.Paging) -> tuple[list[Any], int]:
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    if page.count == 0:
        return [], int(total)
    return list(session.scalars(query.limit(page.count).offset(page.offset))), int(total)


def _case_id(params: s.Params, name: str) -> int | None:
    return s.reference_id(params, name, "ServiceRequest")


def search(
    session: Session,
    *,
    request: Request,
    principal: Principal,
    resource_type: str,
    params: s.Params,
    page: s.Paging,
) -> tuple[list[Resource], int]:
    visible = visible_cases(session, principal)
    if resource_type in ("ServiceRequest", "Task"):
        query = select(ConsultCase).where(visible)
        patient = s.reference_id(params, "patient", "Patient")
        if patient is not None:
            query = query.where(ConsultCase.patient_id == patient)
        for name, column in (
            ("performer", ConsultCase.hub_facility_id),
            ("owner", ConsultCase.hub_facility_id),
            ("requester", ConsultCase.spoke_facility_id),
        ):
            if name in SEARCH_PARAMS[resource_type]:
                org = s.reference_id(params, name, "Organization")
                if org is not None:
                    query = query.where(column == org)
        focus = _case_id(params, "focus") if resource_type == "Task" else None
        if focus is not None:
            query = query.where(ConsultCase.id == focus)
        status = s.token(params, "status")
        if status is not None:
            mapping = SR_STATUS if resource_type == "ServiceRequest" else TASK_STATUS
            ours = [k for k, v in mapping.items() if v == status[1]]
            query = query.where(ConsultCase.status.in_(ours) if ours else false())
        priority = s.token(params, "priority") if resource_type == "ServiceRequest" else None
        if priority is not None:
            wanted = FROM_PRIORITY.get(priority[1])
            if wanted is None:
                raise s.bad("priority", f"'{priority[1]}' is not a request priority")
            query = query.where(ConsultCase.urgency == ConsultUrgency(wanted))
        cases, total = _count_and_page(session, query.order_by(ConsultCase.id), page)
        _audit(request, session, principal, "search", resource_type, cases)
        if resource_type == "Task":
            return [to_fhir_task(c) for c in cases], total
        codes = repo.specialty_codes(session, {c.specialty_id for c in cases})
        return [to_fhir_service_request(c, codes[c.specialty_id]) for c in cases], total
    model: Any = ConsultMessage if resource_type == "Communication" else ConsultFile
    query = select(model).join(ConsultCase, ConsultCase.id == model.case_id).where(visible)
    related = _case_id(params, "based-on" if resource_type == "Communication" else "related")
    if related is not None:
        query = query.where(model.case_id == related)
    rows, total = _count_and_page(session, query.order_by(model.id), page)
    by_case = {
        c.id: c
        for c in session.scalars(
            select(ConsultCase).where(ConsultCase.id.in_({r.case_id for r in rows}))
        )
    }
    _audit(request, session, principal, "search", resource_type, list(by_case.values()))
    if resource_type == "Communication":
        return [to_fhir_communication(r, by_case[r.case_id]) for r in rows], total
    return [to_fhir_document_reference(r, by_case[r.case_id]) for r in rows], total


# Create ----------------------------------------------------------------------


def _structure(resource: Any, resource_type: str) -> None:
    issues = validate(resource, resource_type)
    if issues:
        raise FhirError(
            400,
            f"Not a valid R4 {resource_type}: {issues[0].expression}: {issues[0].message}",
            errors=[FieldError(i.expression, i.message) for i in issues],
            code="structure",
        )


def _bad(expression: str, message: str) -> FhirError:
    return FhirError(
        422, f"{expression}: {message}", errors=[FieldError(expression, message)], code="processing"
    )


def _ref_id(value: Any, kind: str) -> int | None:
    if not isinstance(value, dict):
        return None
    ref = value.get("reference")
    if not isinstance(ref, str):
        return None
    head, _, tail = ref.rstrip("/").rpartition("/")
    if head.rsplit("/", 1)[-1] != kind or not tail.isdigit():
        return None
    return int(tail)


def _domain(exc: PuenteError, resource_type: str) -> FhirError:
    return FhirError(
        exc.status,
        exc.detail,
        errors=[FieldError(f"{resource_type}.{e.field}", e.message) for e in exc.errors]
        or [FieldError(resource_type, exc.detail)],
    )


def create(
    session: Session,
    *,
    request: Request,
    principal: Principal,
    resource_type: str,
    resource: Any,
    idempotency_key: str | None,
) -> tuple[Resource, bool]:
    """Create a case (ServiceRequest, or Task with the ServiceRequest
    contained), a thread message (Communication based on the case) or a
    small attachment (DocumentReference with inline data).
    Returns the resource and whether it is new."""
    _structure(resource, resource_type)
    try:
        if resource_type == "ServiceRequest":
            return _create_service_request(session, request, principal, resource, idempotency_key)
        if resource_type == "Task":
            return _create_task(session, request, principal, resource, idempotency_key)
        if resource_type == "Communication":
            return _create_communication(session, request, principal, resource, idempotency_key)
        return _create_document(session, request, principal, resource, idempotency_key)
    except FhirError:
        raise
    except PuenteError as exc:
        raise _domain(exc, resource_type) from None


def _create_service_request(
    session: Session, request: Request, principal: Principal, resource: Resource, key: str | None
) -> tuple[Resource, bool]:
    from pydantic import ValidationError

    from puente.consults.api import create_case
    from puente.network.models import Facility

    spoke_id = _ref_id(resource.get("requester"), "Organization")
    spoke = session.get(Facility, spoke_id) if spoke_id else None
    if spoke is None:
        raise _bad("ServiceRequest.requester", "must reference the asking Organization")
    coding = ((resource.get("performerType") or {}).get("coding") or [{}])[0]
    if coding.get("system") not in (None, CS_SPECIALTY) or not coding.get("code"):
        raise _bad("ServiceRequest.performerType", "must carry a Puente specialty code")
    reasons = [r.get("text") for r in resource.get("reasonCode") or [] if r.get("text")]
    notes = [n.get("text") for n in resource.get("note") or [] if n.get("text")]
    extensions = {e.get("url"): e for e in resource.get("extension") or []}
    age = extensions.get(EXT_AGE, {}).get("valueInteger")
    language = extensions.get(EXT_LANGUAGE, {}).get("valueCode", "en")
    priority = FROM_PRIORITY.get(resource.get("priority") or "routine")
    if priority is None:
        raise _bad("ServiceRequest.priority", "must be routine, urgent, asap or stat")
    try:
        body = CaseCreate(
            spoke_facility_code=spoke.code,
            patient_id=_ref_id(resource.get("subject"), "Patient"),
            patient_age_years=age,
            specialty_code=coding["code"],
            urgency=ConsultUrgency(priority),
            question=reasons[0] if reasons else "",
            clinical_summary="\n".join(notes),
            answer_language=language,
        )
    except ValidationError as exc:
        names = {
            "question": "reasonCode",
            "clinical_summary": "note",
            "answer_language": "extension",
        }
        raise FhirError(
            422,
            "The ServiceRequest does not describe a case.",
            errors=[FieldError(_element(names, e["loc"]), e["msg"]) for e in exc.errors()],
            code="processing",
        ) from None
    case, replayed = create_case(session, request, principal, body, key)
    codes = repo.specialty_codes(session, [case.specialty_id])
    return to_fhir_service_request(case, codes[case.specialty_id]), not replayed


def _create_task(
    session: Session, request: Request, principal: Principal, resource: Resource, key: str | None
) -> tuple[Resource, bool]:
    focus = resource.get("focus")
    ref = focus.get("reference") if isinstance(focus, dict) else None
    existing = _ref_id(focus, "ServiceRequest")
    if existing is not None:
        raise _bad(
            "Task.focus",
            f"ServiceRequest/{existing} already has its Task (Task/{existing}); "
            "a new Task carries its case as a contained ServiceRequest",
        )
    if not isinstance(ref, str) or not ref.startswith("#"):
        raise _bad("Task.focus", "must reference the contained ServiceRequest ('#id')")
    contained = [
        r
        for r in resource.get("contained") or []
        if r.get("resourceType") == "ServiceRequest" and r.get("id") == ref[1:]
    ]
    if not contained:
        raise _bad("Task.contained", f"holds no ServiceRequest with id '{ref[1:]}'")
    wanted: Resource = dict(contained[0])
    for theirs, ours in (("for", "subject"), ("requester", "requester"), ("priority", "priority")):
        if ours not in wanted and theirs in resource:
            wanted[ours] = resource[theirs]
    try:
        _structure(wanted, "ServiceRequest")
        created, new = _create_service_request(session, request, principal, wanted, key)
    except FhirError as exc:
        # The contained request's element paths, as seen from the Task.
        raise FhirError(
            exc.status,
            exc.detail.replace("ServiceRequest.", "Task.contained."),
            errors=[
                replace(e, field=e.field.replace("ServiceRequest.", "Task.contained."))
                for e in exc.errors
            ],
            code=exc.code,
        ) from None
    case = repo.case(session, int(created["id"]))
    assert case is not None
    return to_fhir_task(case), new


def _element(names: dict[str, str], loc: Any) -> str:
    field = str(loc[0]) if loc else "subject"
    return f"ServiceRequest.{names.get(field, field)}"


def _case_for_write(
    session: Session, request: Request, principal: Principal, resource: Resource, element: str
) -> tuple[ConsultCase, set[ConsultSide]]:
    refs = resource.get(element)
    first = refs[0] if isinstance(refs, list) and refs else refs
    case_id = _ref_id(first, "ServiceRequest")
    if case_id is None:
        raise _bad(
            f"{resource['resourceType']}.{element}", "must reference the ServiceRequest (case)"
        )
    case, sides = case_access.load(request, session, principal, case_id, action="create")
    return case, sides


def _create_communication(
    session: Session, request: Request, principal: Principal, resource: Resource, key: str | None
) -> tuple[Resource, bool]:
    case, sides = _case_for_write(session, request, principal, resource, "basedOn")
    texts = [
        p.get("contentString") for p in resource.get("payload") or [] if p.get("contentString")
    ]
    if not texts or len(texts[0]) > 4000:
        raise _bad("Communication.payload", "needs one contentString of at most 4000 characters")
    message, replayed = consults.post_message(
        session,
        case=case,
        side=case_access.side_for_writing(sides, principal),
        body=texts[0].strip(),
        by_user_id=principal.user_id,
        idempotency_key=f"u{principal.user_id}:{key}" if key else None,
    )
    if not replayed:
        case_access.record(
            request, session, principal, case, "create", resource_type="Communication"
        )
    return to_fhir_communication(message, case), not replayed


def _create_document(
    session: Session, request: Request, principal: Principal, resource: Resource, key: str | None
) -> tuple[Resource, bool]:
    context = resource.get("context") or {}
    case, sides = _case_for_write(session, request, principal, context, "related")
    contents = resource.get("content") or []
    attachment = contents[0].get("attachment", {}) if contents else {}
    data = attachment.get("data")
    if not isinstance(data, str):
        raise _bad(
            "DocumentReference.content.attachment.data",
            "the file must be inline (base64); large files go through the chunked uploads",
        )
    try:
        content = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise _bad("DocumentReference.content.attachment.data", "is not base64") from None
    settings = request.app.state.settings
    upload, replayed = files.start(
        session,
        case=case,
        side=case_access.side_for_writing(sides, principal),
        filename=str(attachment.get("title") or "attachment"),
        size=len(content),
        by_user_id=principal.user_id,
        idempotency_key=f"u{principal.user_id}:{key}" if key else None,
    )
    if upload.file_id is None:
        files.append(
            session,
            upload=upload,
            data_dir=Path(settings.data_dir),
            at=files.offset(Path(settings.data_dir), upload),
            chunk=content,
            by_user_id=principal.user_id,
        )
        case_access.record(
            request, session, principal, case, "create", resource_type="DocumentReference"
        )
    row = session.get(ConsultFile, upload.file_id)
    assert row is not None
    return to_fhir_document_reference(row, case), not replayed
