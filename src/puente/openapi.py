"""The OpenAPI document as Puente really answers: every operation may end in
an RFC 9457 problem (``application/problem+json``; FHIR routes answer an
OperationOutcome as ``application/fhir+json``), and says so, so that clients
— and the fuzzer that checks every answer against its documented schema —
know the shape of a refusal as well as of a success."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

ERRORS = {
    "400": "Bad request: malformed body or parameters, or import rows in error",
    "401": "Not signed in",
    "403": "Signed in, but not allowed (the field names what is outside your scope)",
    "404": "No such resource, or one you may not see",
    "409": "Conflicts with the current state (taken, used key, wrong status)",
    "412": "If-Match names a stale version",
    "413": "Body or upload too large",
    "415": "Unsupported media type",
    "422": "Well-formed but invalid: the field is named",
    "429": "Too many attempts; retry later",
}

PROBLEM = {
    "type": "object",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {
                    "field": {"type": "string"},
                    "message": {"type": "string"},
                    "row": {"type": "integer"},
                },
            },
        },
    },
}
OPERATION_OUTCOME = {
    "type": "object",
    "required": ["resourceType", "issue"],
    "properties": {"resourceType": {"const": "OperationOutcome"}, "issue": {"type": "array"}},
}


def document(app: FastAPI) -> dict[str, Any]:
    spec = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
    )
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    schemas["Problem"] = PROBLEM
    schemas["OperationOutcome"] = OPERATION_OUTCOME
    for path, item in spec.get("paths", {}).items():
        fhir = path.startswith("/fhir")
        media = "application/fhir+json" if fhir else "application/problem+json"
        ref = "#/components/schemas/" + ("OperationOutcome" if fhir else "Problem")
        for operation in item.values():
            responses = operation.setdefault("responses", {})
            for code, description in ERRORS.items():
                responses[code] = {
                    "description": description,
                    "content": {media: {"schema": {"$ref": ref}}},
                }
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    _local_times(spec)
    return spec


LOCAL_TIME = r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]+)?)?$"


def _local_times(node: Any) -> None:
    """Times of day here are local wall-clock times ("09:00:00" in the
    schedule's zone), but JSON Schema's ``format: time`` demands an offset:
    say what they are instead, as a pattern."""
    if isinstance(node, dict):
        if node.get("format") == "time" and node.get("type") == "string":
            del node["format"]
            node["pattern"] = LOCAL_TIME
            node.setdefault("description", "Local time of day, HH:MM[:SS]")
        for value in node.values():
            _local_times(value)
    elif isinstance(node, list):
        for value in node:
            _local_times(value)


def install(app: FastAPI) -> None:
    """Serve ``document`` at /openapi.json (built once, on first use)."""
    cache: dict[str, dict[str, Any]] = {}

    def openapi() -> dict[str, Any]:
        if "spec" not in cache:
            cache["spec"] = document(app)
        return cache["spec"]

    app.openapi = openapi  # type: ignore[method-assign]
