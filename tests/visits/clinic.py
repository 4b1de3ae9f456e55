"""A Moscow polyclinic for the visit tests, and the people in it.

- Polyclinic 12 (RU-MOW-GP012) publishes Dr Irina Sokolova's virtual ARI
  schedule: every day 09:00–21:00 Moscow time, 15-minute slots, for a week.
- Pavel Morozov is her patient (registered at GP012; e-mail on record) and
  signs in as ``pavel``; Olga (``olga.callcentre``) is the call centre
  (facility administrator at GP012); ``dr.sokolova`` is the clinician.
- Polyclinic 45 (RU-MOW-GP045) is elsewhere: ``dr.other`` works there and
  ``analyst`` is a program manager who reads figures only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from puente.catalog.service import service_ids_by_code, sync_catalog
from puente.db import utcnow
from puente.enums import AccessRole, FacilityKind, Mode, PractitionerRoleCode, Sex, Tier
from puente.people.models import PractitionerRole
from puente.scheduling import service as scheduling
from puente.scheduling.models import Slot
from tests import factories as f

ZONE = "Europe/Moscow"


@dataclass
class Clinic:
    db: Session
    gp12: int
    gp45: int
    role: int  # Dr Sokolova's practitioner role at GP012
    schedule: int
    patient: int
    other_patient: int
    headers: dict[str, dict[str, str]]

    def slots(self, n: int = 5) -> list[Slot]:
        now = utcnow()
        return scheduling.free_slots(
            self.db, facility_ids=[self.gp12], start=now, end=now + timedelta(days=7), limit=n
        )

    def client(self, app: Any, who: str) -> TestClient:
        return TestClient(app, raise_server_exceptions=False, headers=self.headers[who])


def build(db: Session) -> Clinic:
    sync_catalog(db)
    gp12 = f.facility(
        db,
        "RU-MOW-GP012",
        "Городская поликлиника № 12",
        region_code="RU-MOW",
        kind=FacilityKind.polyclinic,
        tier=Tier.district,
    )
    gp45 = f.facility(
        db,
        "RU-MOW-GP045",
        "Городская поликлиника № 45",
        region_code="RU-MOW",
        kind=FacilityKind.polyclinic,
        tier=Tier.district,
    )
    spec = f.specialty(db, "infectious_diseases", "Infectious diseases")
    sokolova = f.practitioner(db, "Соколова", "Ирина")
    role = PractitionerRole(
        practitioner_id=sokolova.id,
        facility_id=gp12.id,
        specialty_id=spec.id,
        role=PractitionerRoleCode.physician,
        active=True,
    )
    other_doc = f.practitioner(db, "Петров", "Олег")
    other_role = PractitionerRole(
        practitioner_id=other_doc.id,
        facility_id=gp45.id,
        specialty_id=spec.id,
        role=PractitionerRoleCode.physician,
        active=True,
    )
    db.add_all([role, other_role])
    db.flush()
    ari = service_ids_by_code(db, ["virtual-ari-covid"])["virtual-ari-covid"]
    today = utcnow().date()
    schedule = scheduling.publish_schedule(
        db,
        practitioner_role_id=role.id,
        mode=Mode.virtual,
        slot_minutes=15,
        timezone=ZONE,
        valid_from=today,
        valid_until=today + timedelta(days=8),
        rules=[(d, time(0, 0), time(23, 45)) for d in range(7)],
        service_id=ari,
    )
    scheduling.generate_slots(db, schedule.id, until=today + timedelta(days=7))
    pavel = f.patient(
        db,
        "Морозов",
        "Павел",
        citizenship="RU",
        birth_date=date(1986, 3, 14),
        sex=Sex.male,
        home_facility_id=gp12.id,
        preferred_language="ru",
        email="pavel@example.org",
    )
    anna = f.patient(
        db, "Смирнова", "Анна", citizenship="RU", home_facility_id=gp45.id, preferred_language="ru"
    )
    users = {
        "pavel": f.user(db, "pavel", AccessRole.patient, patient_id=pavel.id),
        "olga": f.user(db, "olga.callcentre", AccessRole.facility_admin, "RU-MOW-GP012"),
        "sokolova": f.user(db, "dr.sokolova", AccessRole.clinician, "RU-MOW-GP012"),
        "other": f.user(db, "dr.other", AccessRole.clinician, "RU-MOW-GP045"),
        "analyst": f.user(db, "analyst", AccessRole.program_manager),
    }
    users["sokolova"].practitioner_id = sokolova.id
    users["other"].practitioner_id = other_doc.id
    db.flush()
    headers = {name: f.bearer(db, u) for name, u in users.items()}
    db.commit()
    return Clinic(
        db=db,
        gp12=gp12.id,
        gp45=gp45.id,
        role=role.id,
        schedule=schedule.id,
        patient=pavel.id,
        other_patient=anna.id,
        headers=headers,
    )


@pytest.fixture
def clinic(db: Session) -> Clinic:
    return build(db)


MILD = {"fever_days": 2, "breathing": "none", "spo2": 97, "chronic_conditions": []}
