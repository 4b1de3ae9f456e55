"""Whose records a user sees: decided in one place, ``visible_patients``."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from puente.access import service
from puente.access.models import PatientShare
from puente.enums import AccessRole, RegionLevel
from puente.people.models import Patient
from tests import factories as f


def _visible(db: Session, username: str) -> set[str]:
    principal = service.principal_for(db, service.get_user(db, username=username), via="token")
    condition = service.visible_patients(db, principal)
    return set(db.scalars(select(Patient.family_name).where(condition)))


def _world(db: Session) -> dict[str, Patient]:
    f.region(db, "MX-JAL", "Jalisco")
    f.region(db, "MX-JAL-GDL", "Guadalajara", level=RegionLevel.district, parent_id=None)
    f.region(db, "MX-NLE", "Nuevo León")
    hospital_a = f.facility(db, "HOSP-A", region_code="MX-JAL")
    umf_under_a = f.facility(db, "UMF-A1", region_code="MX-JAL", parent=hospital_a)
    hospital_b = f.facility(db, "HOSP-B", region_code="MX-NLE")
    return {
        "Ramírez": f.patient(db, "Ramírez", home_facility_id=hospital_a.id),
        "Soto": f.patient(db, "Soto", home_facility_id=umf_under_a.id),
        "Garza": f.patient(db, "Garza", home_facility_id=hospital_b.id),
        "Nadie": f.patient(db, "Nadie", home_facility_id=None),
    }


def test_a_clinician_at_hospital_a_sees_its_patients_and_its_units_but_not_hospital_b(
    db: Session,
) -> None:
    _world(db)
    f.user(db, "dr.ana", AccessRole.clinician, "HOSP-A")
    assert _visible(db, "dr.ana") == {"Ramírez", "Soto"}


def test_a_patient_shared_through_a_consult_becomes_visible_to_the_hub_specialist(
    db: Session,
) -> None:
    people = _world(db)
    specialist = f.user(db, "dr.hub", AccessRole.hub_specialist, "HOSP-B")
    assert _visible(db, "dr.hub") == {"Garza"}
    db.add(PatientShare(patient_id=people["Ramírez"].id, user_id=specialist.id, reason="consult"))
    db.flush()
    assert _visible(db, "dr.hub") == {"Garza", "Ramírez"}


def test_a_region_grant_covers_every_facility_in_the_region(db: Session) -> None:
    _world(db)
    f.user(db, "planner", AccessRole.campaign_planner, "MX-JAL")
    assert _visible(db, "planner") == {"Ramírez", "Soto"}


def test_a_patient_sees_only_their_own_record(db: Session) -> None:
    people = _world(db)
    f.user(db, "lucia", AccessRole.patient, patient_id=people["Soto"].id)
    assert _visible(db, "lucia") == {"Soto"}


def test_a_program_manager_sees_no_patient_at_all(db: Session) -> None:
    _world(db)
    f.user(db, "analyst", AccessRole.program_manager)
    assert _visible(db, "analyst") == set()


def test_a_national_administrator_sees_everyone(db: Session) -> None:
    people = _world(db)
    f.user(db, "root", AccessRole.national_admin)
    assert _visible(db, "root") == set(people)


def test_an_expired_share_no_longer_opens_the_record(db: Session) -> None:
    from datetime import timedelta

    from puente.db import utcnow

    people = _world(db)
    specialist = f.user(db, "dr.hub", AccessRole.hub_specialist, "HOSP-B")
    db.add(
        PatientShare(
            patient_id=people["Ramírez"].id,
            user_id=specialist.id,
            reason="referral",
            expires_at=utcnow() - timedelta(days=1),
        )
    )
    db.flush()
    assert _visible(db, "dr.hub") == {"Garza"}
