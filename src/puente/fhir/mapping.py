"""Explicit mappings between Puente's records and FHIR R4 (4.0.1) JSON.

FHIR exists only at this edge: the functions take domain rows or schemas and
return plain JSON dicts (``to_fhir_*``), or read a FHIR payload into a domain
schema (``from_fhir_patient``). Codes Puente owns (facility kind and tier,
practitioner role, specialty, bridge-point kind) are given in Puente code
systems under the ``urn:puente:`` namespace.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from puente.enums import BridgePointKind, BridgePointStatus
from puente.network.models import BridgePoint, Facility
from puente.people.schemas import PatientRead, PractitionerRead, PractitionerRoleRead

FHIR_VERSION = "4.0.1"

CS_FACILITY_KIND = "urn:puente:code-system:facility-kind"
CS_FACILITY_TIER = "urn:puente:code-system:facility-tier"
CS_PRACTITIONER_ROLE = "urn:puente:code-system:practitioner-role"
CS_SPECIALTY = "urn:puente:code-system:specialty"
CS_BRIDGE_POINT_KIND = "urn:puente:code-system:bridge-point-kind"
ID_FACILITY_CODE = "urn:puente:identifier:facility-code"
ID_PRACTITIONER_LICENSE = "urn:puente:identifier:practitioner-license"

CS_ISO_3166 = "urn:iso:std:iso:3166"
CS_BCP_47 = "urn:ietf:bcp:47"
CS_ENDPOINT_CONNECTION = "http://terminology.hl7.org/CodeSystem/endpoint-connection-type"
CS_ENDPOINT_PAYLOAD = "http://terminology.hl7.org/CodeSystem/endpoint-payload-type"
EXT_CITIZENSHIP = "http://hl7.org/fhir/StructureDefinition/patient-citizenship"

LANGUAGE_NAMES = {"en": "English", "es": "Spanish", "ru": "Russian", "vi": "Vietnamese"}

# Bridge-point status → Endpoint.status (required binding, R4 endpoint-status).
ENDPOINT_STATUS = {
    BridgePointStatus.active: "active",
    BridgePointStatus.suspended: "suspended",
    BridgePointStatus.error: "error",
    BridgePointStatus.off: "off",
    BridgePointStatus.test: "test",
}

# Kinds with a standard connection type use it; real-time media has none in
# R4's (extensible) value set, so those use Puente's own code system.
_CONNECTION = {
    BridgePointKind.fhir: (CS_ENDPOINT_CONNECTION, "hl7-fhir-rest", "HL7 FHIR"),
    BridgePointKind.dicom: (CS_ENDPOINT_CONNECTION, "dicom-wado-rs", "DICOM WADO-RS"),
    BridgePointKind.video: (CS_BRIDGE_POINT_KIND, "video", "Video room"),
    BridgePointKind.webrtc: (CS_BRIDGE_POINT_KIND, "webrtc", "WebRTC"),
    BridgePointKind.sip: (CS_BRIDGE_POINT_KIND, "sip", "SIP"),
}


def instant(value: datetime) -> str:
    """A FHIR ``instant``: seconds precision, always with a zone."""
    return value.replace(microsecond=0).isoformat()


def reference(kind: str, id_: int) -> dict[str, str]:
    return {"reference": f"{kind}/{id_}"}


def _coding(system: str, code: str, display: str | None = None) -> dict[str, str]:
    out = {"system": system, "code": code}
    if display:
        out["display"] = display
    return out


def _label(code: str) -> str:
    return code.replace("_", " ").capitalize()


def _human_name(family: str, given_names: str) -> dict[str, Any]:
    name: dict[str, Any] = {"use": "official", "family": family}
    given = given_names.split()
    if given:
        name["given"] = given
    return name


def _telecom(phone: str | None, email: str | None) -> list[dict[str, str]]:
    out = []
    if phone:
        out.append({"system": "phone", "value": phone})
    if email:
        out.append({"system": "email", "value": email})
    return out


def _language(code: str, *, preferred: bool | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "language": {
            "coding": [_coding(CS_BCP_47, code, LANGUAGE_NAMES.get(code))],
            "text": LANGUAGE_NAMES.get(code, code),
        }
    }
    if preferred is not None:
        out["preferred"] = preferred
    return out


def _address(facility: Facility, region_name: str | None) -> dict[str, Any]:
    address: dict[str, Any] = {"use": "work", "country": facility.country_code}
    if facility.address:
        address["line"] = [facility.address]
    if facility.city:
        address["city"] = facility.city
    if region_name:
        address["state"] = region_name
    return address


def to_fhir_organization(facility: Facility, *, region_name: str | None = None) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Organization",
        "id": str(facility.id),
        "meta": {"lastUpdated": instant(facility.updated_at)},
        "identifier": [{"system": ID_FACILITY_CODE, "value": facility.code}],
        "active": facility.active,
        "type": [
            {
                "coding": [_coding(CS_FACILITY_KIND, facility.kind.value, _label(facility.kind))],
                "text": _label(facility.kind),
            },
            {
                "coding": [_coding(CS_FACILITY_TIER, facility.tier.value, _label(facility.tier))],
                "text": _label(facility.tier),
            },
        ],
        "name": facility.name,
        "address": [_address(facility, region_name)],
    }
    if facility.phone:
        resource["telecom"] = _telecom(facility.phone, None)
    if facility.parent_id is not None:
        resource["partOf"] = reference("Organization", facility.parent_id)
    return resource


def to_fhir_location(facility: Facility, *, region_name: str | None = None) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Location",
        "id": str(facility.id),
        "meta": {"lastUpdated": instant(facility.updated_at)},
        "identifier": [{"system": ID_FACILITY_CODE, "value": facility.code}],
        "status": "active" if facility.active else "inactive",
        "name": facility.name,
        "mode": "instance",
        "address": _address(facility, region_name),
        "managingOrganization": reference("Organization", facility.id),
    }
    if facility.phone:
        resource["telecom"] = _telecom(facility.phone, None)
    return resource


def to_fhir_endpoint(point: BridgePoint) -> dict[str, Any]:
    system, code, display = _CONNECTION[point.kind]
    if point.kind in (BridgePointKind.fhir, BridgePointKind.dicom):
        payload: dict[str, Any] = {"coding": [_coding(CS_ENDPOINT_PAYLOAD, "any", "Any")]}
    else:
        # A media stream carries no documents; R4 still requires a payloadType.
        payload = {
            "coding": [_coding(CS_ENDPOINT_PAYLOAD, "none", "None")],
            "text": "Real-time audio and video",
        }
    return {
        "resourceType": "Endpoint",
        "id": str(point.id),
        "meta": {"lastUpdated": instant(point.updated_at)},
        "status": ENDPOINT_STATUS[point.status],
        "connectionType": _coding(system, code, display),
        "name": point.name,
        "managingOrganization": reference("Organization", point.facility_id),
        "payloadType": [payload],
        "address": point.address,
    }


def to_fhir_practitioner(practitioner: PractitionerRead) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Practitioner",
        "id": str(practitioner.id),
        "meta": {"lastUpdated": instant(practitioner.updated_at)},
        "active": practitioner.active,
        "name": [_human_name(practitioner.family_name, practitioner.given_names)],
        "gender": practitioner.sex.value,
    }
    if practitioner.license_number:
        resource["identifier"] = [
            {"system": ID_PRACTITIONER_LICENSE, "value": practitioner.license_number}
        ]
    telecom = _telecom(practitioner.phone, practitioner.email)
    if telecom:
        resource["telecom"] = telecom
    if practitioner.languages:
        resource["communication"] = [_language(code)["language"] for code in practitioner.languages]
    return resource


def to_fhir_practitioner_role(role: PractitionerRoleRead) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "PractitionerRole",
        "id": str(role.id),
        "meta": {"lastUpdated": instant(role.updated_at)},
        "active": role.active,
        "practitioner": reference("Practitioner", role.practitioner_id),
        "organization": reference("Organization", role.facility_id),
        "location": [reference("Location", role.facility_id)],
        "code": [
            {
                "coding": [_coding(CS_PRACTITIONER_ROLE, role.role.value, _label(role.role))],
                "text": _label(role.role),
            }
        ],
    }
    if role.start_date or role.end_date:
        period: dict[str, str] = {}
        if role.start_date:
            period["start"] = role.start_date.isoformat()
        if role.end_date:
            period["end"] = role.end_date.isoformat()
        resource["period"] = period
    if role.specialty_code:
        resource["specialty"] = [
            {
                "coding": [_coding(CS_SPECIALTY, role.specialty_code, role.specialty_name)],
                "text": role.specialty_name or role.specialty_code,
            }
        ]
    return resource


def to_fhir_patient(patient: PatientRead) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Patient",
        "id": str(patient.id),
        "meta": {"versionId": str(patient.version), "lastUpdated": instant(patient.updated_at)},
    }
    if patient.citizenship:
        resource["extension"] = [
            {
                "url": EXT_CITIZENSHIP,
                "extension": [
                    {
                        "url": "code",
                        "valueCodeableConcept": {
                            "coding": [_coding(CS_ISO_3166, patient.citizenship)]
                        },
                    }
                ],
            }
        ]
    if patient.identifiers:
        resource["identifier"] = [
            {"system": i.system, "value": i.value} for i in patient.identifiers
        ]
    resource["active"] = patient.active
    resource["name"] = [_human_name(patient.family_name, patient.given_names)]
    telecom = _telecom(patient.phone, patient.email)
    if telecom:
        resource["telecom"] = telecom
    resource["gender"] = patient.sex.value
    if patient.birth_date:
        resource["birthDate"] = patient.birth_date.isoformat()
    if patient.home_facility_id is not None:
        resource["managingOrganization"] = reference("Organization", patient.home_facility_id)
    resource["communication"] = [_language(patient.preferred_language, preferred=True)]
    return resource


def parse_fhir_date(value: str) -> date | None:
    """A full FHIR date (YYYY-MM-DD); partial dates give None."""
    try:
        return date.fromisoformat(value) if len(value) == 10 else None
    except ValueError:
        return None


def _first(items: Any, predicate: Any = None) -> Any:
    if not isinstance(items, list):
        return None
    for item in items:
        if isinstance(item, dict) and (predicate is None or predicate(item)):
            return item
    return None


def from_fhir_patient(resource: dict[str, Any]) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """Read a Patient that has already passed R4 validation into the fields of
    ``PatientCreate`` / ``PatientUpdate`` (domain names), plus the problems
    Puente cannot store as (FHIRPath, message) pairs.

    A ``managingOrganization`` comes back as ``organization_id`` for the
    caller to resolve. Elements Puente does not keep (photo, contact, …) are
    ignored, as a FHIR server may.
    """
    problems: list[tuple[str, str]] = []
    values: dict[str, Any] = {"identifiers": []}
    for n, ident in enumerate(resource.get("identifier") or []):
        if not ident.get("system") or not ident.get("value"):
            problems.append((f"Patient.identifier[{n}]", "needs both system and value"))
            continue
        values["identifiers"].append({"system": ident["system"], "value": ident["value"]})

    names = resource.get("name") or []
    name = _first(names, lambda n: n.get("use") == "official") or _first(names)
    if name is None or not name.get("family"):
        problems.append(("Patient.name.family", "a family name is required"))
    else:
        values["family_name"] = name["family"]
        if not name.get("given"):
            problems.append(("Patient.name.given", "at least one given name is required"))
        values["given_names"] = " ".join(name.get("given") or [])

    values["sex"] = resource.get("gender") or "unknown"
    values["birth_date"] = None
    if "birthDate" in resource:
        values["birth_date"] = parse_fhir_date(resource["birthDate"])
        if values["birth_date"] is None:
            problems.append(("Patient.birthDate", "must be a full date (YYYY-MM-DD)"))

    telecom = resource.get("telecom") or []
    phone = _first(telecom, lambda t: t.get("system") == "phone" and t.get("value"))
    email = _first(telecom, lambda t: t.get("system") == "email" and t.get("value"))
    values["phone"] = phone["value"] if phone else None
    values["email"] = email["value"] if email else None

    languages = resource.get("communication") or []
    language = _first(languages, lambda c: c.get("preferred") is True) or _first(languages)
    values["preferred_language"] = "en"
    if language is not None:
        coding = _first(language.get("language", {}).get("coding"), lambda c: c.get("code"))
        if coding is None:
            problems.append(("Patient.communication.language", "needs a BCP-47 code"))
        else:
            values["preferred_language"] = coding["code"].split("-")[0].lower()

    values["citizenship"] = None
    citizenship = _first(resource.get("extension"), lambda e: e.get("url") == EXT_CITIZENSHIP)
    if citizenship is not None:
        code = _first(citizenship.get("extension"), lambda e: e.get("url") == "code")
        concept = (code or {}).get("valueCodeableConcept") or {}
        coding = _first(concept.get("coding"), lambda c: c.get("code"))
        if coding is None:
            problems.append((f"Patient.extension('{EXT_CITIZENSHIP}')", "needs a country code"))
        else:
            values["citizenship"] = coding["code"]

    if "active" in resource:
        values["active"] = resource["active"]

    values["organization_id"] = None
    organization = resource.get("managingOrganization")
    if organization is not None:
        ref = str(organization.get("reference") or "")
        kind, _, id_ = ref.rpartition("/")
        if kind.rsplit("/", 1)[-1] != "Organization" or not id_.isdigit():
            problems.append(("Patient.managingOrganization", "must reference Organization/<id>"))
        else:
            values["organization_id"] = int(id_)
    return values, problems
