"""Validation of FHIR R4 (4.0.1) JSON against the strict models of `fhirclient`.

`fhirclient` checks structure, cardinality, primitive formats and unknown
elements, but not the required code bindings nor the id pattern; the few that
Puente's resources use are checked here as well. Issues come back as
(FHIRPath expression, message) pairs, e.g. ``("Patient.birthDate", ...)``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from fhirclient.models.fhirabstractbase import FHIRValidationError
from fhirclient.models.fhirelementfactory import FHIRElementFactory

__all__ = ["Issue", "validate"]

_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
_SUPERFLUOUS = re.compile(r'Superfluous entry "([^"]+)"')
_MISSING = re.compile(r'Non-optional property "([^"]+)"')
_WRONG_TYPE = re.compile(
    r"Wrong type .*? for (list )?property .*?expecting (a list of )?<class '(?:[\w.]+\.)?(\w+)'>"
)

# Required bindings (R4) of the elements Puente emits or accepts.
GENDER = {"male", "female", "other", "unknown"}
PRIORITY = {"routine", "urgent", "asap", "stat"}
_REQUIRED_CODES: dict[str, dict[str, set[str]]] = {
    "Patient": {"gender": GENDER},
    "Practitioner": {"gender": GENDER},
    "Endpoint": {"status": {"active", "suspended", "error", "off", "entered-in-error", "test"}},
    "Location": {"status": {"active", "suspended", "inactive"}, "mode": {"instance", "kind"}},
    "Bundle": {
        "type": {
            "document",
            "message",
            "transaction",
            "transaction-response",
            "batch",
            "batch-response",
            "history",
            "searchset",
            "collection",
        }
    },
    "ServiceRequest": {
        "status": {
            "draft",
            "active",
            "on-hold",
            "revoked",
            "completed",
            "entered-in-error",
            "unknown",
        },
        "intent": {
            "proposal",
            "plan",
            "directive",
            "order",
            "original-order",
            "reflex-order",
            "filler-order",
            "instance-order",
            "option",
        },
        "priority": PRIORITY,
    },
    "Task": {
        "status": {
            "draft",
            "requested",
            "received",
            "accepted",
            "rejected",
            "ready",
            "cancelled",
            "in-progress",
            "on-hold",
            "failed",
            "completed",
            "entered-in-error",
        },
        "intent": {
            "unknown",
            "proposal",
            "plan",
            "order",
            "original-order",
            "reflex-order",
            "filler-order",
            "instance-order",
            "option",
        },
        "priority": PRIORITY,
    },
    "CapabilityStatement": {
        "status": {"draft", "active", "retired", "unknown"},
        "kind": {"instance", "capability", "requirements"},
        "fhirVersion": {"4.0.1"},
    },
}
_ISSUE_SEVERITY = {"fatal", "error", "warning", "information"}


@dataclass(frozen=True)
class Issue:
    expression: str
    message: str


def _fhirpath(parts: list[str]) -> str:
    out: list[str] = []
    for part in parts:
        for piece in part.split("."):
            if piece.isdigit() and out:
                out[-1] += f"[{piece}]"
            elif piece:
                out.append(piece)
    return ".".join(out)


def _flatten(exc: BaseException, root: str, path: list[str], out: list[Issue]) -> None:
    if isinstance(exc, FHIRValidationError):
        here = [*path, exc.path] if exc.path else path
        for inner in exc.errors:
            _flatten(inner, root, here, out)
        return
    message = str(exc).strip("'\"")
    extra = _SUPERFLUOUS.search(message) or _MISSING.search(message)
    parts = [*path, extra.group(1)] if extra else path
    if _SUPERFLUOUS.search(message):
        message = f"unknown element '{extra.group(1) if extra else ''}'"
    elif _MISSING.search(message):
        message = "is required"
    elif wrong := _WRONG_TYPE.search(message):
        message = (
            f"has the wrong type; expected {'a list of ' if wrong.group(2) else ''}{wrong.group(3)}"
        )
    out.append(Issue(_fhirpath([root, *parts]), message))


def _check_codes(resource: dict[str, Any], root: str, out: list[Issue]) -> None:
    rid = resource.get("id")
    if rid is not None and (not isinstance(rid, str) or not _ID.match(rid)):
        out.append(Issue(f"{root}.id", f"'{rid}' is not a valid id"))
    for element, allowed in _REQUIRED_CODES.get(root, {}).items():
        value = resource.get(element)
        if value is not None and value not in allowed:
            out.append(Issue(f"{root}.{element}", f"'{value}' is not one of {sorted(allowed)}"))
    if root == "OperationOutcome":
        for n, issue in enumerate(resource.get("issue") or []):
            if isinstance(issue, dict) and issue.get("severity") not in _ISSUE_SEVERITY:
                out.append(Issue(f"OperationOutcome.issue[{n}].severity", "invalid severity"))
    if root == "Bundle":
        for n, entry in enumerate(resource.get("entry") or []):
            inner = entry.get("resource") if isinstance(entry, dict) else None
            if isinstance(inner, dict) and isinstance(inner.get("resourceType"), str):
                found: list[Issue] = []
                _check_codes(inner, inner["resourceType"], found)
                prefix = f"Bundle.entry[{n}].resource."
                out.extend(Issue(prefix + i.expression.split(".", 1)[1], i.message) for i in found)


def validate(resource: Any, expected_type: str | None = None) -> list[Issue]:
    """Every problem found in ``resource``; an empty list means it is valid R4."""
    if not isinstance(resource, dict):
        return [Issue(expected_type or "Resource", "is not a JSON object")]
    kind = resource.get("resourceType")
    if not isinstance(kind, str) or (expected_type and kind != expected_type):
        return [Issue("resourceType", f"must be '{expected_type or 'a resource type'}'")]
    issues: list[Issue] = []
    try:
        model = FHIRElementFactory.instantiate(kind, resource)
        if getattr(model, "resource_type", None) != kind:
            return [Issue("resourceType", f"'{kind}' is not an R4 resource type")]
    except FHIRValidationError as exc:
        _flatten(exc, kind, [], issues)
    except (TypeError, ValueError, AttributeError, KeyError) as exc:
        issues.append(Issue(kind, str(exc)))
    _check_codes(resource, kind, issues)
    return issues
