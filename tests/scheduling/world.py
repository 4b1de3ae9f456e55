"""A Moscow polyclinic with Dr Smirnova's virtual schedule, for the
scheduling tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time, timedelta

from sqlalchemy.orm import Session

from puente.enums import FacilityKind, Mode, PractitionerRoleCode, Tier
from puente.network.models import Facility
from puente.people.models import Patient, PractitionerRole
from puente.scheduling import service
from puente.scheduling.models import Schedule
from tests import factories as f

MOSCOW = "Europe/Moscow"
WEEKDAYS = [(d, time(9, 0), time(13, 0)) for d in range(7)]


@dataclass
class World:
    polyclinic: Facility
    other: Facility
    role: PractitionerRole
    ivan: Patient
    olga: Patient
    stranger: Patient


def next_monday(today: date | None = None) -> date:
    today = today or date.today()
    return today + timedelta(days=7 - today.weekday())


def moscow_world(db: Session) -> World:
    """Polyclinic No. 2 in Moscow with Dr Elena Smirnova, a therapist; Ivan
    and Olga are its patients; a patient of another polyclinic is a stranger."""
    polyclinic = f.facility(
        db, "RU-MOW-GP002", "Городская поликлиника № 2", tier=Tier.district,
        kind=FacilityKind.polyclinic, region_code="RU-MOW",
    )  # fmt: skip
    other = f.facility(
        db, "RU-MOW-GP099", "Городская поликлиника № 99", tier=Tier.district,
        kind=FacilityKind.polyclinic, region_code="RU-MOW",
    )  # fmt: skip
    therapy = f.specialty(db, "therapy", "Therapy")
    smirnova = f.practitioner(db, "Smirnova", "Elena")
    role = PractitionerRole(
        practitioner_id=smirnova.id,
        facility_id=polyclinic.id,
        specialty_id=therapy.id,
        role=PractitionerRoleCode.physician,
    )
    db.add(role)
    ivan = f.patient(db, "Petrov", "Ivan", citizenship="RU", home_facility_id=polyclinic.id)
    olga = f.patient(db, "Sokolova", "Olga", citizenship="RU", home_facility_id=polyclinic.id)
    stranger = f.patient(db, "Orlov", "Pavel", citizenship="RU", home_facility_id=other.id)
    db.flush()
    return World(polyclinic, other, role, ivan, olga, stranger)


def virtual_schedule(
    db: Session,
    world: World,
    *,
    days: int = 14,
    slot_minutes: int = 30,
    rules: list[tuple[int, time, time]] | None = None,
) -> Schedule:
    """Dr Smirnova's virtual visits, every day 09:00-13:00 Moscow time,
    from next Monday, with its slots generated."""
    start = next_monday()
    schedule = service.publish_schedule(
        db,
        practitioner_role_id=world.role.id,
        mode=Mode.virtual,
        slot_minutes=slot_minutes,
        timezone=MOSCOW,
        valid_from=start,
        valid_until=start + timedelta(days=days - 1),
        rules=rules or WEEKDAYS,
    )
    service.generate_slots(db, schedule.id, until=start + timedelta(days=days - 1))
    return schedule
