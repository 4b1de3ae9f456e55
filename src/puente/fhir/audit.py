"""The audit log as FHIR R4 AuditEvent: mapping and search (``patient``,
``agent``, ``date``). Who may read which records is decided by
``puente.access.service.search_audit``, as for the JSON API and the page."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy.orm import Session

from puente.access import service as access
from puente.access.models import AuditEvent
from puente.access.principal import Principal
from puente.db import utcnow
from puente.enums import AuditOutcome
from puente.errors import FieldError
from puente.fhir import search as s
from puente.fhir.outcome import FhirError

SEARCH_PARAMS = ("patient", "agent", "date")
_ACTION = {"create": "C", "post": "C", "read": "R", "search": "E", "get": "R", "update": "U"}
_ACTION |= {"put": "U", "patch": "U", "delete": "D"}
# FHIR outcome codes: 0 success, 4 minor failure (a refusal), 8 serious failure.
_OUTCOME = {AuditOutcome.success: "0", AuditOutcome.denied: "4", AuditOutcome.failed: "8"}


def to_fhir_audit_event(event: AuditEvent) -> dict[str, Any]:
    agent: dict[str, Any] = {
        "who": {"identifier": {"system": "urn:puente:user", "value": event.username}},
        "requestor": True,
    }
    if event.user_id is not None:
        agent["who"]["display"] = event.username
    if event.role:
        agent["role"] = [{"coding": [{"system": "urn:puente:access-role", "code": event.role}]}]
    if event.client_address:
        agent["network"] = {"address": event.client_address, "type": "2"}
    resource: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "id": str(event.id),
        "type": {
            "system": "http://terminology.hl7.org/CodeSystem/audit-event-type",
            "code": "rest",
            "display": "RESTful Operation",
        },
        "action": _ACTION.get(event.action.lower(), "E"),
        "recorded": event.at.isoformat(),
        "outcome": _OUTCOME[event.outcome],
        "agent": [agent],
        "source": {"observer": {"display": "Puente"}},
    }
    if event.detail:
        resource["outcomeDesc"] = event.detail
    entity: dict[str, Any] = {}
    if event.patient_id is not None:
        entity["what"] = {"reference": f"Patient/{event.patient_id}"}
    if event.resource_id:
        entity["description"] = f"{event.resource_type}/{event.resource_id}"
    elif event.resource_type:
        entity["description"] = event.resource_type
    if event.request_id:
        entity["detail"] = [{"type": "request-id", "valueString": event.request_id}]
    if entity:
        resource["entity"] = [entity]
    return resource


def _bounds(params: s.Params) -> tuple[datetime | None, datetime | None]:
    since: datetime | None = None
    until: datetime | None = None
    tz = utcnow().tzinfo
    for prefix, day in s.dates(params, "date"):
        start = datetime.combine(day, time.min, tzinfo=tz)
        end = start + timedelta(days=1)
        if prefix == "ne":
            raise s.bad("date", "the 'ne' prefix is not supported for AuditEvent")
        low = {"eq": start, "ge": start, "gt": end}.get(prefix)
        high = {"eq": end, "le": end, "lt": start}.get(prefix)
        if low is not None:
            since = max(since, low) if since else low
        if high is not None:
            until = min(until, high) if until else high
    return since, until


def search_audit_events(
    session: Session, principal: Principal, *, params: s.Params
) -> tuple[list[dict[str, Any]], int, s.Paging]:
    s.check_known(params, SEARCH_PARAMS, "AuditEvent")
    paging = s.paging(params)
    patient = s.reference_id(params, "patient", "Patient")
    agent = s.single(params, "agent")
    since, until = _bounds(params)
    rows, total = access.search_audit(
        session,
        principal,
        patient_id=patient,
        username=agent,
        since=since,
        until=until,
        limit=paging.count,
        offset=paging.offset,
    )
    return [to_fhir_audit_event(r) for r in rows], total, paging


def read_audit_event(session: Session, principal: Principal, *, id_: str) -> dict[str, Any]:
    """One AuditEvent, if it is among those the principal may read."""
    key = int(id_) if id_.isdigit() and len(id_) < 19 else None
    row = access.audit_event_visible(session, principal, key) if key is not None else None
    if row is None:
        raise FhirError(
            404,
            f"AuditEvent/{id_} is not known.",
            errors=[FieldError("AuditEvent.id", "unknown")],
        )
    return to_fhir_audit_event(row)
