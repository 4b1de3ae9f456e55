"""Patient data behind the gate: whose records a request may touch, and the
audit record of every read and write.

A route that handles patient data takes ``access: PatientReads`` (or
``PatientWrites``). The dependency runs the one gate for the permission, then
hands the route:

- ``where()``: the SQL condition limiting a query to the patients this user
  may see (``service.visible_patients``, the single place that decides);
- ``check(patient_id)``: refuses, as 404 so that a record's existence is not
  disclosed, a patient outside that set, and keeps a *denied* audit record
  even though the request rolls back;
- ``check_facility(facility_id)``: refuses registering a patient at a
  facility outside the user's scope;
- ``record(action, patient_ids)``: the success audit records, written in the
  request's own transaction so they commit exactly when the operation does.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from puente.access import service
from puente.access.gate import audit_context, requires
from puente.access.policy import Permission
from puente.access.principal import Principal
from puente.deps import DB, keep_whatever_happens
from puente.errors import FieldError, Forbidden, NotFound
from puente.people.models import Patient


class PatientAccess:
    def __init__(
        self, request: Request, session: Session, principal: Principal, permission: Permission
    ) -> None:
        self.request = request
        self.session = session
        self.principal = principal
        self.permission = permission
        self.ctx = audit_context(request, principal, permission)

    def where(self) -> ColumnElement[bool]:
        return service.visible_patients(self.session, self.principal, self.permission)

    def visible(self, patient_id: int) -> bool:
        found = self.session.scalar(
            select(Patient.id).where(Patient.id == patient_id, self.where())
        )
        return found is not None

    def check(self, patient_id: int, *, action: str, field: str = "patient_id") -> None:
        """404 for a patient this user may not see (or that does not exist)."""
        if self.visible(patient_id):
            return
        exists = self.session.get(Patient, patient_id) is not None
        if exists:
            self._deny(action, patient_id=patient_id, detail="outside the user's scope")
        raise NotFound(f"No patient {patient_id}.", errors=[FieldError(field, "unknown")])

    def check_facility(self, facility_id: int | None, *, action: str, field: str) -> None:
        """Staff may only register patients at facilities in their scope."""
        scope = service.facility_scope(self.session, self.principal, self.permission)
        if scope.everywhere or (facility_id is not None and facility_id in scope.ids):
            return
        self._deny(action, detail=f"{field} outside the user's scope")
        raise Forbidden(
            "You may only register patients at the facilities where you hold a role.",
            errors=[FieldError(field, "outside your facilities")],
        )

    def record(
        self,
        action: str,
        patient_ids: Iterable[int],
        *,
        resource_type: str = "Patient",
        detail: str | None = None,
    ) -> None:
        ids = list(patient_ids)
        pairs: list[tuple[str | None, int | None]] = [(str(i), i) for i in ids]
        service.audit(
            self.session,
            self.ctx,
            action=action,
            resource_type=resource_type,
            resource_ids=pairs or [(None, None)],
            detail=detail,
        )

    def _deny(self, action: str, *, patient_id: int | None = None, detail: str) -> None:
        keep_whatever_happens(
            self.request,
            service.denied_event(
                self.ctx,
                action=action,
                resource_type="Patient",
                resource_id=str(patient_id) if patient_id is not None else None,
                patient_id=patient_id,
                detail=f"{self.request.url.path}: {detail}"[:500],
            ),
        )


def _access(permission: Permission) -> object:
    # A default, not Annotated: the annotation would be a string naming a
    # closure variable that FastAPI cannot resolve.
    def dependency(
        request: Request, db: DB, principal: Principal = requires(permission)
    ) -> PatientAccess:
        return PatientAccess(request, db, principal, permission)

    return Depends(dependency)


PatientReads = Annotated[PatientAccess, _access(Permission.patient_read)]
PatientWrites = Annotated[PatientAccess, _access(Permission.patient_write)]
