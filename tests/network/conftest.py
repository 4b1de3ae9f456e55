"""A small network the tests of `network` talk about.

Mexico: the Jalisco state office (MX-JAL-DEL) with Hospital General de Zona
46 (MX-JAL-HGZ46) under it and a family-medicine unit in the Guadalajara
district. Vietnam: Bạch Mai (VN-BM, central) in Hà Nội supporting a district
hospital; Laos: Mahosot (LA-MH), which Bạch Mai may support across the border.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from puente.enums import AccessRole, FacilityKind, RegionLevel, Tier
from puente.network.models import Facility
from tests import factories as f


@dataclass
class World:
    state_office: Facility
    hgz46: Facility
    umf3: Facility
    bach_mai: Facility
    soc_son: Facility
    mahosot: Facility


@pytest.fixture
def world(db: Session) -> World:
    f.specialty(db, "cardiology", "Cardiology")
    f.specialty(db, "nephrology", "Nephrology")
    jal = f.region(db, "MX-JAL", "Jalisco")
    f.region(db, "MX-JAL-GDL", "Guadalajara", level=RegionLevel.district, parent_id=jal.id)
    hn = f.region(db, "VN-HN", "Hà Nội")
    f.region(db, "VN-HN-SS", "Sóc Sơn", level=RegionLevel.district, parent_id=hn.id)
    f.region(db, "LA-VT", "Vientiane")
    office = f.facility(
        db, "MX-JAL-DEL", "Delegación Jalisco", tier=Tier.level3, kind=FacilityKind.state_office
    )
    hgz46 = f.facility(db, "MX-JAL-HGZ46", "Hospital General de Zona 46", parent=office)
    umf3 = f.facility(
        db,
        "MX-JAL-UMF3",
        "Unidad de Medicina Familiar 3",
        tier=Tier.level1,
        kind=FacilityKind.family_medicine_unit,
        region_code="MX-JAL-GDL",
        parent=hgz46,
    )
    bach_mai = f.facility(db, "VN-BM", "Bệnh viện Bạch Mai", tier=Tier.central, region_code="VN-HN")
    soc_son = f.facility(
        db, "VN-SS", "Bệnh viện Sóc Sơn", tier=Tier.district, region_code="VN-HN-SS"
    )
    mahosot = f.facility(db, "LA-MH", "Mahosot Hospital", tier=Tier.central, region_code="LA-VT")
    return World(office, hgz46, umf3, bach_mai, soc_son, mahosot)


def signed_in(
    app: FastAPI, db: Session, username: str, role: AccessRole, scope: str | None
) -> TestClient:
    account = f.user(db, username, role, scope)
    return TestClient(app, raise_server_exceptions=False, headers=f.bearer(db, account))


@pytest.fixture
def marta(app: FastAPI, db: Session, world: World) -> Iterator[TestClient]:
    """Marta administers Hospital General de Zona 46 (and the units under it)."""
    with signed_in(app, db, "marta.hgz46", AccessRole.facility_admin, "MX-JAL-HGZ46") as c:
        yield c


@pytest.fixture
def hoa(app: FastAPI, db: Session, world: World) -> Iterator[TestClient]:
    """Hoa administers Bạch Mai."""
    with signed_in(app, db, "hoa.bachmai", AccessRole.facility_admin, "VN-BM") as c:
        yield c


@pytest.fixture
def diego(app: FastAPI, db: Session, world: World) -> Iterator[TestClient]:
    """Diego is a clinician: he may read the network but not change it."""
    with signed_in(app, db, "diego.clinician", AccessRole.clinician, "MX-JAL-HGZ46") as c:
        yield c
