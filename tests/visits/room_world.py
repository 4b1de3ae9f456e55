"""The people of the room tests, at Moscow Polyclinic No. 7.

- Dr Elena Petrova (``dr.petrova``) is a clinician at RU-MOW-GP007.
- Nikolai Smirnov (``nikolai``) is her patient; his virtual visit is booked.
- Marina Volkova (``marina``) is another patient of the same polyclinic.
- Dr Oleg Kuznetsov (``dr.kuznetsov``) works at RU-MOW-GP031, elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from puente.enums import AccessRole, Mode, Sex, VisitStatus
from puente.visits.models import Visit
from tests import factories as f


@dataclass
class RoomWorld:
    visit_id: int
    other_visit_id: int
    patient_id: int
    clinician: object
    patient: object
    other_patient: object
    elsewhere: object


def room_world(db: Session, *, password: str = f.PASSWORD) -> RoomWorld:
    gp7 = f.facility(db, "RU-MOW-GP007", "Polyclinic No. 7", region_code="RU-MOW")
    gp31 = f.facility(db, "RU-MOW-GP031", "Polyclinic No. 31", region_code="RU-MOW")
    nikolai = f.patient(
        db, "Smirnov", "Nikolai", citizenship="RU", sex=Sex.male, home_facility_id=gp7.id
    )
    marina = f.patient(db, "Volkova", "Marina", citizenship="RU", home_facility_id=gp7.id)
    visit = Visit(
        patient_id=nikolai.id, facility_id=gp7.id, mode=Mode.virtual, status=VisitStatus.booked
    )
    other = Visit(
        patient_id=marina.id, facility_id=gp7.id, mode=Mode.virtual, status=VisitStatus.booked
    )
    db.add_all([visit, other])
    db.flush()
    return RoomWorld(
        visit_id=visit.id,
        other_visit_id=other.id,
        patient_id=nikolai.id,
        clinician=f.user(db, "dr.petrova", AccessRole.clinician, gp7.code, password=password),
        patient=f.user(
            db, "nikolai", AccessRole.patient, None, password=password, patient_id=nikolai.id
        ),
        other_patient=f.user(
            db, "marina", AccessRole.patient, None, password=password, patient_id=marina.id
        ),
        elsewhere=f.user(db, "dr.kuznetsov", AccessRole.clinician, gp31.code, password=password),
    )
