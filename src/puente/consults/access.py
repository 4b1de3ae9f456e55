"""Who may touch a case, in one place.

- The spoke side: holders of ``consult_request`` (or ``consult_read``) whose
  facility scope covers the case's spoke facility.
- The hub side: holders of ``consult_read`` whose scope covers the hub the
  case is at now, or the hub that answered it.

Anyone else gets 404 (the case's existence is not disclosed) and a *denied*
audit record. Every read and write of a case is audited as patient data
(``resource_type`` ServiceRequest, with the case's patient when it has one).
"""

from __future__ import annotations

from fastapi import Request
from sqlalchemy.orm import Session

from puente.access import service as access
from puente.access.gate import audit_context
from puente.access.policy import Permission
from puente.access.principal import Principal
from puente.consults import repository as repo
from puente.consults.models import ConsultCase
from puente.deps import keep_whatever_happens
from puente.enums import ConsultSide
from puente.errors import FieldError, Forbidden, NotFound


def covers(
    session: Session, principal: Principal, permission: Permission, facility_id: int | None
) -> bool:
    return principal.has(permission) and access.facility_scope(
        session, principal, permission
    ).covers(facility_id)


def sides(session: Session, principal: Principal, case: ConsultCase) -> set[ConsultSide]:
    out: set[ConsultSide] = set()
    if covers(session, principal, Permission.consult_read, case.spoke_facility_id):
        out.add(ConsultSide.spoke)
    hubs = {case.hub_facility_id, case.answer_facility_id} - {None}
    if any(covers(session, principal, Permission.consult_read, h) for h in hubs):
        out.add(ConsultSide.hub)
    return out


def record(
    request: Request,
    session: Session,
    principal: Principal,
    case: ConsultCase,
    action: str,
    *,
    resource_type: str = "ServiceRequest",
    detail: str | None = None,
) -> None:
    access.audit(
        session,
        audit_context(request, principal, Permission.consult_read),
        action=action,
        resource_type=resource_type,
        resource_ids=[(str(case.id), case.patient_id)],
        detail=detail,
    )


def load(
    request: Request, session: Session, principal: Principal, case_id: int, *, action: str
) -> tuple[ConsultCase, set[ConsultSide]]:
    case = repo.case(session, case_id)
    found = sides(session, principal, case) if case is not None else set()
    if case is None or not found:
        if case is not None:
            keep_whatever_happens(
                request,
                access.denied_event(
                    audit_context(request, principal, Permission.consult_read),
                    action=action,
                    resource_type="ServiceRequest",
                    resource_id=str(case_id),
                    patient_id=case.patient_id,
                    detail=f"{request.url.path}: not this user's case"[:500],
                ),
            )
        raise NotFound(
            f"No consultation case {case_id}.", errors=[FieldError("case_id", "unknown")]
        )
    return case, found


def need(
    session: Session,
    principal: Principal,
    permission: Permission,
    facility_id: int | None,
    what: str,
) -> None:
    if not covers(session, principal, permission, facility_id):
        raise Forbidden(
            f"Only {what} may do this ({permission.value}).",
            errors=[FieldError("permission", permission.value)],
        )


def side_for_writing(sides_: set[ConsultSide], principal: Principal) -> ConsultSide:
    """The side a message or file comes from; a user on both sides (a
    national administrator) writes as the hub when they may answer."""
    if len(sides_) == 1:
        return next(iter(sides_))
    return ConsultSide.hub if principal.has(Permission.consult_answer) else ConsultSide.spoke
