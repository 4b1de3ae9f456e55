"""Errors on /fhir routes, rendered as FHIR OperationOutcome resources.

Domain errors (`puente.errors`) keep their HTTP status; the field they name
becomes the issue's ``expression``. Errors found while reading a FHIR payload
or a search URL are raised as :class:`FhirError` with FHIRPath expressions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from puente.errors import FieldError, PuenteError

FHIR_JSON = "application/fhir+json"

# Domain field names (people schemas, service errors) → FHIRPath in a Patient.
FIELD_TO_EXPRESSION = {
    "identifiers": "Patient.identifier",
    "family_name": "Patient.name.family",
    "given_names": "Patient.name.given",
    "birth_date": "Patient.birthDate",
    "sex": "Patient.gender",
    "citizenship": "Patient.extension('http://hl7.org/fhir/StructureDefinition/patient-citizenship')",
    "preferred_language": "Patient.communication.language",
    "phone": "Patient.telecom.where(system='phone').value",
    "email": "Patient.telecom.where(system='email').value",
    "home_facility_code": "Patient.managingOrganization",
    "active": "Patient.active",
}

# HTTP status → OperationOutcome issue type (R4 value set issue-type).
_ISSUE_CODE = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    409: "duplicate",
    412: "conflict",
    413: "too-long",
    422: "processing",
}


class FhirError(PuenteError):
    """An error whose field names are already FHIRPath expressions."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        errors: Sequence[FieldError] = (),
        code: str | None = None,
    ) -> None:
        super().__init__(detail, errors=list(errors))
        self.status = status
        self.code = code


def issue_code(status: int) -> str:
    return _ISSUE_CODE.get(status, "exception")


def operation_outcome(
    status: int,
    detail: str,
    errors: Sequence[FieldError] = (),
    *,
    code: str | None = None,
    expressions_are_fhir: bool = False,
) -> dict[str, Any]:
    severity = "error" if status >= 400 else "information"
    kind = code or issue_code(status)
    issues: list[dict[str, Any]] = []
    for error in errors:
        expression = (
            error.field
            if expressions_are_fhir
            else FIELD_TO_EXPRESSION.get(error.field, error.field)
        )
        issue: dict[str, Any] = {
            "severity": severity,
            "code": kind,
            "diagnostics": f"{error.field}: {error.message}",
            "expression": [expression],
        }
        if error.row is not None:
            issue["diagnostics"] = f"row {error.row}, {issue['diagnostics']}"
        issues.append(issue)
    if not issues:
        issues.append({"severity": severity, "code": kind, "diagnostics": detail})
    return {
        "resourceType": "OperationOutcome",
        "text": {"status": "generated", "div": _div(detail)},
        "issue": issues,
    }


def outcome_for(exc: PuenteError) -> dict[str, Any]:
    if isinstance(exc, FhirError):
        return operation_outcome(
            exc.status, exc.detail, exc.errors, code=exc.code, expressions_are_fhir=True
        )
    return operation_outcome(exc.status, exc.detail, exc.errors)


def _div(text: str) -> str:
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return f'<div xmlns="http://www.w3.org/1999/xhtml"><p>{escaped}</p></div>'
