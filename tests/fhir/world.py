"""A small network built from factories for the FHIR tests, and the
validation harness shared with the demo-world test."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from puente.enums import (
    BridgePointKind,
    BridgePointStatus,
    FacilityKind,
    PractitionerRoleCode,
    Sex,
    Tier,
)
from puente.fhir import service
from puente.fhir.validation import validate
from puente.network.models import BridgePoint, Facility
from puente.people.models import PractitionerRole
from tests import factories as f

CURP = "urn:oid:2.16.840.1.113883.4.629"
RESOURCE_TYPES = (
    "Organization",
    "Location",
    "Endpoint",
    "Practitioner",
    "PractitionerRole",
    "Patient",
)


@dataclass
class World:
    state_office: Facility
    hospital: Facility
    clinic: Facility
    moscow: Facility
    video: BridgePoint
    dicom: BridgePoint
    anna_id: int
    role_id: int
    lucia_id: int
    ivan_id: int


def small_world(db: Session) -> World:
    """A Jalisco state office with a general hospital and a family-medicine
    unit under it, a Moscow polyclinic, bridge points, Dr Anna Ivanova
    (cardiologist at the hospital) and two patients, Lucía and Ivan."""
    office = f.facility(
        db, "MX-JAL-OFFICE", "Delegación Jalisco", tier=Tier.level3, kind=FacilityKind.state_office
    )
    hospital = f.facility(
        db,
        "MX-JAL-HGZ46",
        "Hospital General de Zona 46",
        parent=office,
        city="Guadalajara",
        address="Av. Lázaro Cárdenas 2063",
        phone="+52 33 3668 3000",
    )
    clinic = f.facility(
        db,
        "MX-JAL-UMF3",
        "Unidad de Medicina Familiar 3",
        tier=Tier.level1,
        kind=FacilityKind.family_medicine_unit,
        parent=office,
    )
    moscow = f.facility(
        db,
        "RU-MOW-GP220",
        "Городская поликлиника № 220",
        tier=Tier.district,
        kind=FacilityKind.polyclinic,
        region_code="RU-MOW",
    )
    video = BridgePoint(
        facility_id=hospital.id,
        name="Sala de teleconsulta 1",
        kind=BridgePointKind.webrtc,
        address="https://puente.example/rooms/hgz46-1",
        status=BridgePointStatus.active,
    )
    dicom = BridgePoint(
        facility_id=hospital.id,
        name="PACS",
        kind=BridgePointKind.dicom,
        address="https://pacs.hgz46.example/wado",
        status=BridgePointStatus.off,
    )
    db.add_all([video, dicom])
    cardiology = f.specialty(db, "cardiology", "Cardiology")
    anna = f.practitioner(
        db,
        "Ivanova",
        "Anna Petrovna",
        sex=Sex.female,
        license_number="MX-CED-1234567",
        languages="es,ru",
        email="anna.ivanova@example.mx",
    )
    role = PractitionerRole(
        practitioner_id=anna.id,
        facility_id=hospital.id,
        specialty_id=cardiology.id,
        role=PractitionerRoleCode.specialist,
        start_date=date(2019, 1, 1),
    )
    db.add(role)
    lucia = f.patient(
        db,
        "Hernández",
        "Lucía",
        identifier=(CURP, "HELU800402MJCRCS09"),
        home_facility_id=clinic.id,
        preferred_language="es",
        phone="+52 33 1234 5678",
    )
    ivan = f.patient(
        db,
        "Petrov",
        "Ivan",
        citizenship="RU",
        sex=Sex.male,
        birth_date=date(1975, 1, 1),
        identifier=("urn:puente:test:passport", "RU-750101"),
    )
    db.flush()
    return World(
        office, hospital, clinic, moscow, video, dicom, anna.id, role.id, lucia.id, ivan.id
    )


def all_resources(db: Session) -> Iterator[tuple[str, dict[str, object]]]:
    """Every facility, bridge point, practitioner, role and patient in the
    database, mapped to FHIR, page by page through the search service."""
    for resource_type in RESOURCE_TYPES:
        offset = 0
        while True:
            found, _paging = service.search(
                db,
                resource_type=resource_type,
                params={"_count": ["500"], "_offset": [str(offset)]},
            )
            for resource in found.resources:
                yield resource_type, resource
            offset += 500
            if offset >= found.total:
                break


def invalid_resources(db: Session, limit: int = 10) -> tuple[int, list[str]]:
    """(how many were checked, the first ``limit`` failures with their ids)."""
    checked = 0
    failures: list[str] = []
    for resource_type, resource in all_resources(db):
        checked += 1
        for issue in validate(resource, resource_type):
            if len(failures) < limit:
                failures.append(
                    f"{resource_type}/{resource.get('id')}: {issue.expression}: {issue.message}"
                )
    return checked, failures


def counts(db: Session) -> dict[str, int]:
    """How many rows each resource type maps from, counted straight from the tables."""
    from sqlalchemy import func

    from puente.people.models import Patient, Practitioner

    def n(model: type) -> int:
        return db.scalar(select(func.count()).select_from(model)) or 0

    return {
        "Organization": n(Facility),
        "Location": n(Facility),
        "Endpoint": n(BridgePoint),
        "Practitioner": n(Practitioner),
        "PractitionerRole": n(PractitionerRole),
        "Patient": n(Patient),
    }
