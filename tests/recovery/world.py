"""A small national network for the recovery tests.

The institute's national office (MX-IMSS) is the parent of the Jalisco and
Nuevo León state offices and of the high-specialty unit of the Centro Médico
Nacional de Occidente in Guadalajara. Lucía Hernández plans the national
days from the national office; Marco Ruiz runs the Jalisco state office's
capture on the day; Sergio Treviño plans only for Nuevo León.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from puente.catalog.models import Service
from puente.enums import AccessRole, FacilityKind, ServiceKind, Tier
from puente.network.models import Facility
from puente.people.models import Patient
from tests import factories as f

NATIONAL, JALISCO, NUEVO_LEON, CMNO = "MX-IMSS", "MX-IMSS-JAL", "MX-IMSS-NLE", "MX-UMAE-CMNO-HE"
SURGERY, CARDIOLOGY, MAMMOGRAPHY = "surgery-general", "consult-cardiology", "screen-mammography"


@dataclass
class Network:
    national: Facility
    jalisco: Facility
    nuevo_leon: Facility
    cmno: Facility
    services: dict[str, Service]
    patients: list[Patient] = field(default_factory=list)


def campaign_days() -> list[date]:
    """A national day that started yesterday, so today can be captured."""
    start = date.today() - timedelta(days=1)
    return [start, start + timedelta(days=1), start + timedelta(days=2)]


def network(db: Session, patients: int = 12) -> Network:
    national = f.facility(
        db,
        NATIONAL,
        "Instituto Mexicano del Seguro Social",
        tier=Tier.level3,
        kind=FacilityKind.institute,
        region_code="MX-CMX",
    )
    jalisco = f.facility(
        db,
        JALISCO,
        "Representación del IMSS en Jalisco",
        tier=Tier.level2,
        kind=FacilityKind.state_office,
        region_code="MX-JAL",
        parent=national,
    )
    nuevo_leon = f.facility(
        db,
        NUEVO_LEON,
        "Representación del IMSS en Nuevo León",
        tier=Tier.level2,
        kind=FacilityKind.state_office,
        region_code="MX-NLE",
        parent=national,
    )
    cmno = f.facility(
        db,
        CMNO,
        "UMAE Hospital de Especialidades, CMN de Occidente",
        tier=Tier.level3,
        kind=FacilityKind.high_specialty_unit,
        region_code="MX-JAL",
        parent=national,
    )
    services = {
        SURGERY: f.service(db, SURGERY, ServiceKind.surgery, "General surgery"),
        CARDIOLOGY: f.service(db, CARDIOLOGY, ServiceKind.consultation, "Cardiology"),
        MAMMOGRAPHY: f.service(db, MAMMOGRAPHY, ServiceKind.screening, "Mammography"),
    }
    services[SURGERY].duration_minutes = 90
    net = Network(national, jalisco, nuevo_leon, cmno, services)
    for n in range(patients):
        home = jalisco if n % 3 else nuevo_leon
        net.patients.append(
            f.patient(
                db,
                f"Paciente{n}",
                "María",
                identifier=("curp", f"CURP{n:04d}"),
                home_facility_id=home.id,
                email=f"paciente{n}@example.mx",
                preferred_language="es",
            )
        )
    db.flush()
    return net


def sign_in(
    client: TestClient, db: Session, name: str, role: AccessRole, scope: str | None
) -> TestClient:
    from puente.access.repository import user_by_name

    account = user_by_name(db, name) or f.user(db, name, role, scope)
    client.headers.update(f.bearer(db, account))
    return client


def lucia(client: TestClient, db: Session) -> TestClient:
    return sign_in(client, db, "lucia.hernandez", AccessRole.campaign_planner, NATIONAL)


def marco(client: TestClient, db: Session) -> TestClient:
    return sign_in(client, db, "marco.ruiz", AccessRole.facility_admin, JALISCO)


def sergio(client: TestClient, db: Session) -> TestClient:
    return sign_in(client, db, "sergio.trevino", AccessRole.campaign_planner, NUEVO_LEON)
