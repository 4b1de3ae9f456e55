"""Moscow's doctor–patient virtual visits in the demo world.

* Schedules: every practitioner of every Moscow polyclinic publishes a
  virtual ARI / COVID-19 schedule (Monday–Saturday, a four-hour shift, 15-minute
  slots) with its slots from the day the demo is loaded to two weeks after it,
  so there are free times to book. This is the one phase that reads the
  clock: free slots in the past would be no use.
* History: closed visits from 1 February 2022 (omicron) to 25 September 2022
  (the vice-mayor's figures of 26 September), shaped like the season — a
  peak in February, a decline, a smaller BA.5 wave in July–August — with
  notes, ICD-10 diagnoses, outcomes and the visits' ledger rows (the
  consultation, and the in-person visit avoided when resolved remotely or
  followed up virtually), so the figures are non-zero. The press release's
  600,000 consultations by 380,000 patients are scaled down to the demo's
  1,500 Moscow patients, keeping about 1.6 consultations per patient.
* The demo clinician ``dr.moscow`` is linked to a practitioner of their
  polyclinic, so they can take patients from its queue.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, update

from puente.access.models import User
from puente.catalog.models import Service
from puente.db import utcnow
from puente.demo.world import World
from puente.enums import AppointmentPurpose, LedgerSource, Mode, VisitOutcome, VisitStatus
from puente.ledger.service import LedgerRow, record_many
from puente.people.models import Patient, PractitionerRole
from puente.scheduling.models import AvailabilityRule, Schedule, Slot
from puente.visits.models import Visit

ZONE = ZoneInfo("Europe/Moscow")
FIRST_DAY, LAST_DAY = date(2022, 2, 1), date(2022, 9, 25)
VISITS = 2_400
SLOT_MINUTES = 15
SHIFTS = [(time(9, 0), time(13, 0)), (time(14, 0), time(18, 0))]
AHEAD_DAYS = 14
OUTCOMES = [
    (VisitOutcome.resolved_remotely, 72),
    (VisitOutcome.follow_up_virtual, 18),
    (VisitOutcome.referred_in_person, 8),
    (VisitOutcome.referred_emergency, 2),
]
DIAGNOSES = [("J06.9", 55), ("U07.1", 30), ("J20.9", 10), ("J02.9", 5)]
NOTES = {
    "J06.9": ("Насморк, кашель, температура до 37,8 °C", "ОРВИ лёгкого течения"),
    "U07.1": (
        "Температура 38 °C, слабость, положительный тест на SARS-CoV-2",
        "COVID-19, лёгкое течение",
    ),
    "J20.9": ("Кашель с мокротой, температура 37,5 °C", "Острый бронхит"),
    "J02.9": ("Боль в горле, температура 37,6 °C", "Острый фарингит"),
}
PLAN = "Обильное питьё, жаропонижающие при температуре выше 38,5 °C, повторная связь при ухудшении."


def _season(day: date) -> float:
    """Relative daily demand: the omicron peak, its decline, the BA.5 wave."""
    days = (day - FIRST_DAY).days
    omicron = math.exp(-(((days - 14) / 18) ** 2)) * 5 + math.exp(-days / 45)
    summer = math.exp(-(((day - date(2022, 7, 25)).days / 20) ** 2)) * 1.5
    weekday = 0.6 if day.weekday() == 6 else 1.0
    return (omicron + summer + 0.3) * weekday


def load_visits(world: World) -> None:
    session = world.session
    sites = {s.id: s for s in world.in_group("ru_mow")}
    if not sites:
        return
    services = dict(session.execute(select(Service.code, Service.id)).all())
    roles = session.execute(
        select(PractitionerRole.id, PractitionerRole.facility_id, PractitionerRole.practitioner_id)
        .where(PractitionerRole.facility_id.in_(sorted(sites)))
        .order_by(PractitionerRole.id)
    ).all()
    _schedules(world, roles, services["virtual-ari-covid"])
    _history(world, roles, services)
    _link_demo_clinician(world, roles)


def _schedules(world: World, roles: Any, service_id: int) -> None:
    today = utcnow().astimezone(ZONE).date()
    last = today + timedelta(days=AHEAD_DAYS)
    rows = [
        {
            "practitioner_role_id": role_id,
            "facility_id": facility_id,
            "specialty_id": None,
            "service_id": service_id,
            "mode": Mode.virtual,
            "purpose": AppointmentPurpose.visit,
            "slot_minutes": SLOT_MINUTES,
            "timezone": "Europe/Moscow",
            "valid_from": today,
            "valid_until": last,
            "active": True,
            "comment": "ОРВИ / COVID-19",
        }
        for role_id, facility_id, _p in roles
    ]
    schedule_ids = world.insert_returning_ids(Schedule, rows)
    rules, slots = [], []
    for n, (schedule_id, (_role, facility_id, _p)) in enumerate(
        zip(schedule_ids, roles, strict=True)
    ):
        start, end = SHIFTS[n % len(SHIFTS)]
        rules += [
            {"schedule_id": schedule_id, "weekday": d, "start": start, "end": end} for d in range(6)
        ]
        day = today
        while day <= last:
            if day.weekday() < 6:
                moment = datetime.combine(day, start, ZONE)
                stop = datetime.combine(day, end, ZONE)
                while moment + timedelta(minutes=SLOT_MINUTES) <= stop:
                    begins = moment.astimezone(UTC)
                    slots.append(
                        {
                            "schedule_id": schedule_id,
                            "facility_id": facility_id,
                            "starts_at": begins,
                            "ends_at": begins + timedelta(minutes=SLOT_MINUTES),
                            "blocked": False,
                        }
                    )
                    moment += timedelta(minutes=SLOT_MINUTES)
            day += timedelta(days=1)
    world.insert(AvailabilityRule, rules)
    world.insert(Slot, slots)
    world.counts["schedules"] += len(schedule_ids)
    world.counts["slots"] += len(slots)


def _history(world: World, roles: Any, services: dict[str, int]) -> None:
    rng, session = world.rng, world.session
    patients = session.execute(
        select(Patient.id, Patient.home_facility_id, Patient.citizenship)
        .where(Patient.home_facility_id.in_(sorted({f for _r, f, _p in roles})))
        .order_by(Patient.id)
    ).all()
    if not patients:
        return
    by_facility: dict[int, list[int]] = {}
    for role_id, facility_id, _p in roles:
        by_facility.setdefault(facility_id, []).append(role_id)
    days = [FIRST_DAY + timedelta(days=i) for i in range((LAST_DAY - FIRST_DAY).days + 1)]
    visit_days = rng.choices(days, weights=[_season(d) for d in days], k=VISITS)
    # Some patients come back (follow-ups, a second illness): ~1.6 visits each.
    weights = [rng.paretovariate(2.5) for _ in patients]
    chosen = rng.choices(patients, weights=weights, k=VISITS)
    outcomes = rng.choices([o for o, _ in OUTCOMES], weights=[w for _, w in OUTCOMES], k=VISITS)
    codes = rng.choices([c for c, _ in DIAGNOSES], weights=[w for _, w in DIAGNOSES], k=VISITS)
    rows: list[dict[str, Any]] = []
    for day, (patient_id, home, _citizenship), outcome, code in sorted(
        zip(visit_days, chosen, outcomes, codes, strict=True), key=lambda t: t[0]
    ):
        begins = datetime.combine(day, time(9, 0), ZONE) + timedelta(
            minutes=rng.randint(0, 11 * 60)
        )
        started = begins.astimezone(UTC)
        ended = started + timedelta(minutes=rng.randint(7, 22))
        assert home is not None  # the query keeps patients of Moscow polyclinics
        complaints, assessment = NOTES[code]
        rows.append(
            {
                "patient_id": patient_id,
                "facility_id": home,
                "appointment_id": None,
                "practitioner_role_id": rng.choice(by_facility[home]),
                "service_id": services["virtual-ari-covid"],
                "triage_id": None,
                "mode": Mode.virtual,
                "status": VisitStatus.closed,
                "reason": "ОРВИ / COVID-19",
                "queued_at": started - timedelta(minutes=rng.randint(2, 40)),
                "started_at": started,
                "ended_at": ended,
                "complaints": complaints,
                "findings": "Состояние удовлетворительное, одышки нет",
                "assessment": assessment,
                "plan": PLAN,
                "diagnoses": [code],
                "outcome": outcome,
                "closed_by_user_id": None,
                "created_at": started,
                "updated_at": ended,
            }
        )
    ids = world.insert_returning_ids(Visit, rows)
    citizenship = {p: c for p, _h, c in patients}
    avoided = services["in-person-visit-avoided"]
    ledger: list[LedgerRow] = []
    for visit_id, row in zip(ids, rows, strict=True):
        common: dict[str, Any] = {
            "facility_id": row["facility_id"],
            "day": row["ended_at"].astimezone(ZONE).date(),
            "count": 1,
            "mode": Mode.virtual,
            "source": LedgerSource.visit,
            "citizenship": citizenship.get(row["patient_id"]),
            "patient_id": row["patient_id"],
        }
        ledger.append(
            LedgerRow(service_id=row["service_id"], source_ref=f"visit:{visit_id}", **common)
        )
        if row["outcome"] in (VisitOutcome.resolved_remotely, VisitOutcome.follow_up_virtual):
            ledger.append(
                LedgerRow(service_id=avoided, source_ref=f"visit:{visit_id}:avoided", **common)
            )
    record_many(world.session, ledger)
    world.counts["visits"] += len(ids)


def _link_demo_clinician(world: World, roles: Any) -> None:
    """``dr.moscow`` works as the first practitioner of their polyclinic."""
    session = world.session
    user = session.scalar(select(User).where(User.username == "dr.moscow"))
    if user is None or user.practitioner_id is not None:
        return
    from puente.access.models import RoleGrant

    facility_id = session.scalar(select(RoleGrant.facility_id).where(RoleGrant.user_id == user.id))
    practitioner = next((p for _r, f, p in roles if f == facility_id), None)
    if practitioner is not None:
        session.execute(update(User).where(User.id == user.id).values(practitioner_id=practitioner))
