"""FHIR R4 routes under /fhir.

Every response is ``application/fhir+json``; every error, whatever raised it,
is an OperationOutcome with the HTTP status of the error (see `FhirRoute`).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException

from puente import __version__
from puente.access.gate import SignedIn, enforce, requires
from puente.access.patients import PatientAccess, PatientWrites
from puente.access.policy import Permission
from puente.access.principal import Principal
from puente.deps import DB
from puente.errors import FieldError, PuenteError, validation_errors
from puente.fhir import consults as fhir_consults
from puente.fhir import scheduling as fhir_scheduling
from puente.fhir import service
from puente.fhir.audit import read_audit_event, search_audit_events
from puente.fhir.bundle import searchset
from puente.fhir.mapping import to_fhir_patient
from puente.fhir.outcome import FHIR_JSON, FhirError, operation_outcome, outcome_for

PREFIX = "/fhir"


class FhirResponse(JSONResponse):
    media_type = FHIR_JSON


class FhirRoute(APIRoute):
    """Renders errors raised anywhere in a FHIR route as OperationOutcome."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except PuenteError as exc:
                return FhirResponse(outcome_for(exc), status_code=exc.status)
            except RequestValidationError as exc:
                errors = [FieldError(e["field"], e["message"]) for e in validation_errors(exc)]
                body = operation_outcome(400, "The request could not be read.", errors)
                return FhirResponse(body, status_code=400)
            except StarletteHTTPException as exc:
                body = operation_outcome(exc.status_code, str(exc.detail))
                return FhirResponse(body, status_code=exc.status_code)

        return route


router = APIRouter(tags=["fhir"], route_class=FhirRoute, default_response_class=FhirResponse)

ResourceBody = Annotated[
    dict[str, Any], Body(media_type=FHIR_JSON, description="A FHIR R4 Patient")
]


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + PREFIX


def _etag_version(value: str | None) -> int | None:
    """``W/"3"`` (or ``"3"``) → 3."""
    if value is None:
        return None
    text = value.strip().removeprefix("W/").strip('"')
    if not text.isdigit():
        raise FhirError(
            400,
            'If-Match must be a version such as W/"3".',
            errors=[FieldError("If-Match", f"'{value}' is not a version")],
        )
    return int(text)


def _resource_response(resource: dict[str, Any], status_code: int = 200) -> FhirResponse:
    response = FhirResponse(resource, status_code=status_code)
    version = resource.get("meta", {}).get("versionId")
    if version is not None:
        response.headers["ETag"] = f'W/"{version}"'
    return response


@router.get("/metadata", summary="CapabilityStatement")
def metadata(user: SignedIn) -> FhirResponse:
    today = datetime.now(UTC).date().isoformat()
    return FhirResponse(service.capability_statement(software_version=__version__, date_=today))


@router.post("/Patient", summary="Create a Patient", status_code=201)
def create_patient(
    db: DB,
    request: Request,
    access: PatientWrites,
    resource: ResourceBody,
    if_none_exist: Annotated[str | None, Header()] = None,
) -> FhirResponse:
    patient, created = service.create_patient(
        db, access=access, resource=resource, if_none_exist=if_none_exist
    )
    response = _resource_response(to_fhir_patient(patient), 201 if created else 200)
    if created:
        response.headers["Location"] = (
            f"{_base(request)}/Patient/{patient.id}/_history/{patient.version}"
        )
    return response


@router.put("/Patient/{id_}", summary="Update a Patient")
def update_patient(
    db: DB,
    access: PatientWrites,
    id_: str,
    resource: ResourceBody,
    if_match: Annotated[str | None, Header()] = None,
) -> FhirResponse:
    patient = service.update_patient(
        db, access=access, id_=id_, resource=resource, expected_version=_etag_version(if_match)
    )
    return _resource_response(to_fhir_patient(patient))


@router.post("/Appointment", summary="Book an Appointment (a Slot, for a Patient)")
def create_appointment(
    db: DB,
    request: Request,
    user: Annotated[Principal, requires(Permission.appointment_book)],
    resource: ResourceBody,
    idempotency_key: Annotated[str | None, Header(min_length=1, max_length=100)] = None,
) -> FhirResponse:
    appointment, created = fhir_scheduling.create_appointment(
        db, request=request, principal=user, resource=resource, idempotency_key=idempotency_key
    )
    response = _resource_response(appointment, 201 if created else 200)
    response.headers["Location"] = f"{_base(request)}/Appointment/{appointment['id']}"
    return response


def _consult_create(resource_type: str) -> Callable[..., FhirResponse]:
    def create(
        db: DB,
        request: Request,
        user: Annotated[Principal, requires(Permission.consult_read)],
        resource: ResourceBody,
        idempotency_key: Annotated[str | None, Header(min_length=1, max_length=100)] = None,
    ) -> FhirResponse:
        created, new = fhir_consults.create(
            db,
            request=request,
            principal=user,
            resource_type=resource_type,
            resource=resource,
            idempotency_key=idempotency_key,
        )
        response = _resource_response(created, 201 if new else 200)
        response.headers["Location"] = f"{_base(request)}/{resource_type}/{created['id']}"
        return response

    return create


for _kind in sorted(fhir_consults.CREATABLE):
    router.post(f"/{_kind}", summary=f"Create a {_kind} (remote consultation)")(
        _consult_create(_kind)
    )


# What each resource type needs; Patient reads are further narrowed to the
# patients the user may see (PatientAccess), AuditEvent to their scope.
TYPE_PERMISSION = {
    "Organization": Permission.network_read,
    "Location": Permission.network_read,
    "Endpoint": Permission.network_read,
    "Practitioner": Permission.practitioner_read,
    "PractitionerRole": Permission.practitioner_read,
    "Patient": Permission.patient_read,
    "AuditEvent": Permission.audit_read,
    "Schedule": Permission.schedule_read,
    "Slot": Permission.schedule_read,
    "Appointment": Permission.patient_read,
    "MeasureReport": Permission.ledger_read,
    "Encounter": Permission.patient_read,
    **dict.fromkeys(fhir_consults.TYPES, Permission.consult_read),
}


def _allow(request: Request, db: DB, principal: SignedIn, resource_type: str) -> PatientAccess:
    permission = TYPE_PERMISSION.get(resource_type)
    if permission is None:
        raise service.unknown_type(resource_type)
    enforce(request, principal, permission)
    return PatientAccess(request, db, principal, Permission.patient_read)


@router.get("/{resource_type}", summary="Search (searchset Bundle)")
def search(db: DB, request: Request, user: SignedIn, resource_type: str) -> FhirResponse:
    access = _allow(request, db, user, resource_type)
    params: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        params.setdefault(key, []).append(value)
    if resource_type == "AuditEvent":
        resources, total, paging = search_audit_events(db, user, params=params)
    else:
        found, paging = service.search(
            db, resource_type=resource_type, params=params, access=access
        )
        resources, total = found.resources, found.total
    return FhirResponse(
        searchset(
            base=_base(request),
            resource_type=resource_type,
            params=request.query_params.multi_items(),
            resources=resources,
            total=total,
            paging=paging,
        )
    )


@router.get("/{resource_type}/{id_}", summary="Read")
def read(db: DB, request: Request, user: SignedIn, resource_type: str, id_: str) -> FhirResponse:
    access = _allow(request, db, user, resource_type)
    if resource_type == "AuditEvent":
        return _resource_response(read_audit_event(db, user, id_=id_))
    return _resource_response(service.read(db, resource_type=resource_type, id_=id_, access=access))


@router.api_route(
    "/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False
)
def unsupported(request: Request, user: SignedIn, path: str) -> FhirResponse:
    raise FhirError(
        405 if request.method != "GET" else 404,
        f"{request.method} /fhir/{path} is not supported; see /fhir/metadata.",
        errors=[FieldError(path or "/", "unsupported interaction")],
        code="not-supported",
    )
