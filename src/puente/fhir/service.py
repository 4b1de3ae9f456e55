"""The FHIR facade's operations: read, search, Patient create/update, and the
CapabilityStatement. Resources go out as R4 JSON dicts.

Network resources (Organization, Location, Endpoint) are read through
`fhir.repository`; people resources through `people.service`, which also
carries every Patient write, so FHIR and the JSON API obey the same rules.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from puente.access.patients import PatientAccess
from puente.enums import BridgePointStatus, FacilityKind, Tier
from puente.errors import Conflict, FieldError, NotFound, PreconditionFailed
from puente.fhir import consults as consult_fhir
from puente.fhir import mapping as m
from puente.fhir import measure
from puente.fhir import repository as repo
from puente.fhir import scheduling as sched
from puente.fhir import search as s
from puente.fhir import visits as enc
from puente.fhir.outcome import FIELD_TO_EXPRESSION, FhirError
from puente.fhir.validation import validate
from puente.people import service as people
from puente.people.schemas import PatientCreate, PatientRead, PatientUpdate

Resource = dict[str, Any]


@dataclass(frozen=True)
class Found:
    resources: list[Resource]
    total: int


# Reads.


def _parse_id(resource_type: str, id_: str) -> int:
    if not id_.isdigit() or len(id_) > 18:
        raise _not_found(resource_type, id_)
    return int(id_)


def _not_found(resource_type: str, id_: str) -> FhirError:
    return FhirError(
        404,
        f"{resource_type}/{id_} is not known.",
        errors=[FieldError(f"{resource_type}.id", "unknown")],
    )


def _organizations(session: Session, rows: list[Any], as_location: bool) -> list[Resource]:
    names = repo.region_names(session, [f.region_id for f in rows])
    to_fhir = m.to_fhir_location if as_location else m.to_fhir_organization
    return [to_fhir(f, region_name=names.get(f.region_id)) for f in rows]


def read(
    session: Session, *, resource_type: str, id_: str, access: PatientAccess | None = None
) -> Resource:
    """One resource; a Patient only when ``access`` lets the caller see it
    (otherwise 404, as for an id that does not exist)."""
    if resource_type not in SEARCHES:
        raise unknown_type(resource_type)
    if resource_type == "MeasureReport":  # computed, not stored: searched, never read by id
        raise _not_found(resource_type, id_)
    key = _parse_id(resource_type, id_)
    try:
        if resource_type in ("Organization", "Location"):
            facility = repo.get_facility(session, key)
            if facility is None:
                raise _not_found(resource_type, id_)
            return _organizations(session, [facility], resource_type == "Location")[0]
        if resource_type == "Endpoint":
            point = repo.get_bridge_point(session, key)
            if point is None:
                raise _not_found(resource_type, id_)
            return m.to_fhir_endpoint(point)
        if resource_type == "Practitioner":
            return m.to_fhir_practitioner(people.get_practitioner(session, practitioner_id=key))
        if resource_type == "PractitionerRole":
            return m.to_fhir_practitioner_role(people.get_role(session, role_id=key))
        if resource_type in sched.TYPES:
            return sched.read(session, resource_type=resource_type, key=key, access=access)
        if resource_type in enc.TYPES:
            return enc.read(session, resource_type=resource_type, key=key, access=access)
        if resource_type in consult_fhir.TYPES:
            if access is None:
                raise _not_found(resource_type, id_)
            return consult_fhir.read(
                session,
                request=access.request,
                principal=access.principal,
                resource_type=resource_type,
                key=key,
            )
        if access is not None:
            access.check(key, action="read", field="Patient.id")
        patient = people.get_patient(session, patient_id=key)
        if access is not None:
            access.record("read", [key])
        return m.to_fhir_patient(patient)
    except NotFound:
        raise _not_found(resource_type, id_) from None


def unknown_type(resource_type: str) -> FhirError:
    return FhirError(
        404,
        f"Puente serves no FHIR resource type '{resource_type}'.",
        errors=[FieldError("resourceType", f"'{resource_type}' is not supported")],
        code="not-supported",
    )


# Searches: one function per resource type, each given the raw parameters.


def _search_organizations(session: Session, p: s.Params, page: s.Paging) -> Found:
    kinds = tiers = None
    kind_token = s.token(p, "type")
    if kind_token is not None:
        system, code = kind_token
        kinds = {
            k for k in FacilityKind if k.value == code and system in (None, m.CS_FACILITY_KIND)
        }
        tiers = {t for t in Tier if t.value == code and system in (None, m.CS_FACILITY_TIER)}
    query = repo.facility_query(
        parent_id=s.reference_id(p, "partof", "Organization"),
        kinds=kinds,
        tiers=tiers,
        country=s.single(p, "address-country"),
        name_prefix=s.single(p, "name"),
    )
    rows, total = repo.page(session, query, limit=page.count, offset=page.offset)
    return Found(_organizations(session, rows, as_location=False), total)


def _search_locations(session: Session, p: s.Params, page: s.Paging) -> Found:
    query = repo.facility_query(
        facility_id=s.reference_id(p, "organization", "Organization"),
        country=s.single(p, "address-country"),
    )
    rows, total = repo.page(session, query, limit=page.count, offset=page.offset)
    return Found(_organizations(session, rows, as_location=True), total)


def _search_endpoints(session: Session, p: s.Params, page: s.Paging) -> Found:
    status_text = s.single(p, "status")
    status = None
    if status_text is not None:
        by_code = {code: st for st, code in m.ENDPOINT_STATUS.items()}
        if status_text not in by_code and status_text != "entered-in-error":
            raise s.bad("status", f"'{status_text}' is not an Endpoint status")
        status = by_code.get(status_text)
        if status is None:  # Puente never marks a bridge point entered-in-error
            return Found([], 0)
    query = repo.bridge_point_query(
        facility_id=s.reference_id(p, "organization", "Organization"),
        status=BridgePointStatus(status) if status else None,
    )
    rows, total = repo.page(session, query, limit=page.count, offset=page.offset)
    return Found([m.to_fhir_endpoint(r) for r in rows], total)


def _search_practitioners(session: Session, p: s.Params, page: s.Paging) -> Found:
    license_number = None
    ident = s.token(p, "identifier")
    if ident is not None:
        system, license_number = ident
        if system not in (None, m.ID_PRACTITIONER_LICENSE):
            return Found([], 0)
    found = people.search_practitioners(
        session,
        name=s.single(p, "name"),
        name_prefix=True,
        license_number=license_number,
        limit=page.count,
        offset=page.offset,
    )
    return Found([m.to_fhir_practitioner(r) for r in found.items], found.total)


def _search_roles(session: Session, p: s.Params, page: s.Paging) -> Found:
    specialty = s.token(p, "specialty")
    if specialty is not None and specialty[0] not in (None, m.CS_SPECIALTY):
        return Found([], 0)
    found = people.search_roles(
        session,
        facility_id=s.reference_id(p, "organization", "Organization"),
        practitioner_id=s.reference_id(p, "practitioner", "Practitioner"),
        specialty_code=specialty[1] if specialty else None,
        limit=page.count,
        offset=page.offset,
    )
    return Found([m.to_fhir_practitioner_role(r) for r in found.items], found.total)


def _search_patients(
    session: Session, p: s.Params, page: s.Paging, access: PatientAccess | None = None
) -> Found:
    found = people.search_patients(
        session,
        identifier=s.token(p, "identifier"),
        name=s.single(p, "name"),
        name_prefix=True,
        birth_date_ops=s.dates(p, "birthdate"),
        visible=access.where() if access is not None else None,
        limit=page.count,
        offset=page.offset,
    )
    if access is not None:
        access.record("search", [r.id for r in found.items])
    return Found([m.to_fhir_patient(r) for r in found.items], found.total)


Search = Callable[[Session, s.Params, s.Paging], Found]


def _scheduling_search(resource_type: str) -> Search:
    def run(session: Session, p: s.Params, page: s.Paging) -> Found:
        return Found(*sched.search(session, resource_type=resource_type, params=p, page=page))

    return run


def _encounter_search(session: Session, p: s.Params, page: s.Paging) -> Found:
    return Found(*enc.search(session, resource_type="Encounter", params=p, page=page))


def _no_search(_session: Session, _p: s.Params, _page: s.Paging) -> Found:
    return Found([], 0)


# resource type → (search function, {parameter: FHIR search type})
SEARCHES: dict[str, tuple[Search, dict[str, str]]] = {
    "Organization": (
        _search_organizations,
        {"partof": "reference", "type": "token", "address-country": "string", "name": "string"},
    ),
    "Location": (_search_locations, {"organization": "reference", "address-country": "string"}),
    "Endpoint": (_search_endpoints, {"organization": "reference", "status": "token"}),
    "Practitioner": (_search_practitioners, {"name": "string", "identifier": "token"}),
    "PractitionerRole": (
        _search_roles,
        {"organization": "reference", "practitioner": "reference", "specialty": "token"},
    ),
    "Patient": (
        _search_patients,
        {"identifier": "token", "name": "string", "birthdate": "date"},
    ),
    **{kind: (_scheduling_search(kind), known) for kind, known in sched.SEARCH_PARAMS.items()},
    **{kind: (_encounter_search, known) for kind, known in enc.SEARCH_PARAMS.items()},
    # Remote consultation (puente.fhir.consults); searched with the caller's scope below.
    **{kind: (_no_search, known) for kind, known in consult_fhir.SEARCH_PARAMS.items()},
    # Figures of the ledger (puente.fhir.measure); searched with the caller's scope below.
    "MeasureReport": (lambda _s, _p, _page: Found([], 0), measure.SEARCH_PARAMS),
}


def search(
    session: Session,
    *,
    resource_type: str,
    params: s.Params,
    access: PatientAccess | None = None,
) -> tuple[Found, s.Paging]:
    """Matching resources in id order, one page of them, and the paging used.
    Unknown parameters are refused (400), not silently ignored."""
    if resource_type not in SEARCHES:
        raise unknown_type(resource_type)
    run, known = SEARCHES[resource_type]
    s.check_known(params, list(known), resource_type)
    page = s.paging(params)
    if resource_type == "Patient":
        return _search_patients(session, params, page, access), page
    if resource_type == "MeasureReport":
        if access is None:
            raise unknown_type(resource_type)
        return Found(*measure.search(session, params, access.principal)), page
    if resource_type in enc.TYPES:  # patient data: limited to what access may see
        found = enc.search(
            session, resource_type=resource_type, params=params, page=page, access=access
        )
        return Found(*found), page
    if resource_type in consult_fhir.TYPES:  # cases: limited to the caller's cases
        if access is None:
            raise unknown_type(resource_type)
        found = consult_fhir.search(
            session,
            request=access.request,
            principal=access.principal,
            resource_type=resource_type,
            params=params,
            page=page,
        )
        return Found(*found), page
    if resource_type == "Appointment":  # patient data: limited to what access may see
        found = sched.search(
            session, resource_type=resource_type, params=params, page=page, access=access
        )
        return Found(*found), page
    return run(session, params, page), page


# Patient writes.


def _patient_fields(session: Session, resource: Any) -> dict[str, Any]:
    issues = validate(resource, "Patient")
    if issues:
        raise FhirError(
            400,
            f"Not a valid R4 Patient: {issues[0].expression}: {issues[0].message}",
            errors=[FieldError(i.expression, i.message) for i in issues],
            code="structure",
        )
    values, problems = m.from_fhir_patient(resource)
    organization_id = values.pop("organization_id")
    if organization_id is not None:
        facility = repo.get_facility(session, organization_id)
        if facility is None:
            problems.append(
                ("Patient.managingOrganization", f"Organization/{organization_id} is not known")
            )
        else:
            values["home_facility_code"] = facility.code
    else:
        values["home_facility_code"] = None
    if problems:
        raise FhirError(
            422,
            f"{problems[0][0]}: {problems[0][1]}",
            errors=[FieldError(e, msg) for e, msg in problems],
            code="processing",
        )
    return values


def _invalid(exc: ValidationError) -> FhirError:
    errors = []
    for e in exc.errors():
        field = str(e["loc"][0]) if e["loc"] else "Patient"
        errors.append(FieldError(FIELD_TO_EXPRESSION.get(field, f"Patient.{field}"), e["msg"]))
    return FhirError(
        422, f"{errors[0].field}: {errors[0].message}", errors=errors, code="processing"
    )


def create_patient(
    session: Session,
    *,
    access: PatientAccess,
    resource: Any,
    if_none_exist: str | None = None,
) -> tuple[PatientRead, bool]:
    """Create a Patient; with ``If-None-Exist: identifier=system|value`` an
    existing match is returned instead (created=False), never duplicated."""
    if if_none_exist is not None:
        existing = _conditional_match(session, if_none_exist, access)
        if existing is not None:
            access.record("read", [existing.id], detail="If-None-Exist matched")
            return existing, False
    values = _patient_fields(session, resource)
    values.pop("active", None)
    try:
        data = PatientCreate(**values)
    except ValidationError as exc:
        raise _invalid(exc) from None
    facility_id = people.facility_id(session, data.home_facility_code)
    access.check_facility(facility_id, action="create", field="Patient.managingOrganization")
    try:
        created = people.create_patient(session, data=data)
    except Conflict:
        # A conditional create that lost a race to an identical one: the
        # winner's patient now matches, and is the answer (never a second).
        existing = _conditional_match(session, if_none_exist, access) if if_none_exist else None
        if existing is None:
            raise
        access.record("read", [existing.id], detail="If-None-Exist matched")
        return existing, False
    access.record("create", [created.id])
    return created, True


def _conditional_match(
    session: Session, condition: str, access: PatientAccess
) -> PatientRead | None:
    name, _, value = condition.partition("=")
    if name.strip() != "identifier" or not value:
        raise FhirError(
            400,
            "If-None-Exist must be 'identifier=system|value'.",
            errors=[FieldError("If-None-Exist", "only identifier=system|value is supported")],
        )
    system, sep, code = value.partition("|")
    found = people.search_patients(
        session,
        identifier=(system, code) if sep else (None, value),
        visible=access.where(),
        limit=2,
        offset=0,
    )
    if found.total > 1:
        raise PreconditionFailed(
            f"If-None-Exist matches {found.total} patients.",
            errors=[FieldError("If-None-Exist", "matches more than one patient")],
        )
    return found.items[0] if found.items else None


def update_patient(
    session: Session,
    *,
    access: PatientAccess,
    id_: str,
    resource: Any,
    expected_version: int | None,
) -> PatientRead:
    """Replace a Patient (PUT); the id in the body must match the URL."""
    key = _parse_id("Patient", id_)
    if isinstance(resource, dict) and resource.get("id") not in (None, id_):
        raise FhirError(
            400,
            f"The body's id '{resource.get('id')}' is not the id in the URL ({id_}).",
            errors=[FieldError("Patient.id", "does not match the URL")],
        )
    values = _patient_fields(session, resource)
    values.setdefault("active", True)
    try:
        data = PatientUpdate(**values)
    except ValidationError as exc:
        raise _invalid(exc) from None
    try:
        access.check(key, action="update", field="Patient.id")
    except NotFound:
        raise _not_found("Patient", id_) from None
    facility_id = people.facility_id(session, data.home_facility_code)
    access.check_facility(facility_id, action="update", field="Patient.managingOrganization")
    updated = people.update_patient(
        session, patient_id=key, data=data, expected_version=expected_version
    )
    access.record("update", [key])
    return updated


def capability_statement(*, software_version: str, date_: str) -> Resource:
    resources = []
    audit_params = {"patient": "reference", "agent": "token", "date": "date"}
    for kind, params in [*((k, v[1]) for k, v in SEARCHES.items()), ("AuditEvent", audit_params)]:
        interactions = [{"code": "read"}, {"code": "search-type"}]
        entry: dict[str, Any] = {"type": kind}
        if kind == "Patient":
            interactions += [{"code": "create"}, {"code": "update"}]
            entry.update(
                versioning="versioned-update",
                conditionalCreate=True,
                updateCreate=False,
                readHistory=False,
            )
        if kind == "Appointment" or kind in consult_fhir.CREATABLE:
            interactions += [{"code": "create"}]
        entry["interaction"] = interactions
        entry["searchParam"] = [
            {"name": name, "type": kind_}
            for name, kind_ in [*params.items(), ("_count", "number"), ("_offset", "number")]
        ]
        resources.append(entry)
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": date_,
        "publisher": "Puente",
        "kind": "instance",
        "software": {"name": "Puente", "version": software_version},
        "implementation": {"description": "Puente FHIR R4 facade"},
        "fhirVersion": m.FHIR_VERSION,
        "format": ["application/fhir+json", "json"],
        "rest": [{"mode": "server", "resource": resources}],
    }
