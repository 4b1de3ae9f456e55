"""Each demo role × each operation × a target inside and outside the role's
scope, on the demo world. The table below is the specification: who may do
what, written out by hand, not derived from the policy code it checks.

Targets: for each user, Rafael is a patient registered at a facility inside
their scope (for the patient account: their own record) and Olga one
registered at a facility outside it. Their virtual visits are at those
facilities; a case conference is held at the facility (as its hub), or
discusses a case asked from it at another hub.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from puente.access import service
from puente.access.demo import DEMO_PASSWORD
from puente.access.models import AuditEvent
from puente.enums import AccessRole, AuditOutcome
from puente.network.models import Facility
from puente.people.models import Patient
from tests import factories as f

USERS = [
    "admin",
    "analyst",
    "clinic.admin",
    "dr.moscow",
    "hub.coord",
    "hub.doctor",
    "planner",
    "patient",
]

OK, DENIED, HIDDEN = "ok", "denied", "hidden"  # 2xx, 403, 404


def _row(
    *, everywhere: tuple[str, ...], own: tuple[str, ...], outside: str
) -> dict[str, tuple[str, str]]:
    """Users in ``everywhere`` may, inside and outside; those in ``own``
    inside their scope only (``outside``: refused or hidden); others not."""
    return {
        user: (OK, OK) if user in everywhere else (OK, outside) if user in own else (DENIED, DENIED)
        for user in USERS
    }


# operation → user → (inside scope, outside scope)
MATRIX: dict[str, dict[str, tuple[str, str]]] = {
    "read patient": {
        "admin": (OK, OK),
        "analyst": (DENIED, DENIED),
        "clinic.admin": (OK, HIDDEN),
        "dr.moscow": (OK, HIDDEN),
        "hub.coord": (OK, HIDDEN),
        "hub.doctor": (OK, HIDDEN),
        "planner": (OK, HIDDEN),
        "patient": (OK, HIDDEN),
    },
    "read patient as FHIR": {
        "admin": (OK, OK),
        "analyst": (DENIED, DENIED),
        "clinic.admin": (OK, HIDDEN),
        "dr.moscow": (OK, HIDDEN),
        "hub.coord": (OK, HIDDEN),
        "hub.doctor": (OK, HIDDEN),
        "planner": (OK, HIDDEN),
        "patient": (OK, HIDDEN),
    },
    "update patient": {
        "admin": (OK, OK),
        "analyst": (DENIED, DENIED),
        "clinic.admin": (OK, HIDDEN),
        "dr.moscow": (OK, HIDDEN),
        "hub.coord": (DENIED, DENIED),
        "hub.doctor": (OK, HIDDEN),
        "planner": (DENIED, DENIED),
        "patient": (DENIED, DENIED),
    },
    "register patient at facility": {
        "admin": (OK, OK),
        "analyst": (DENIED, DENIED),
        "clinic.admin": (OK, DENIED),
        "dr.moscow": (OK, DENIED),
        "hub.coord": (DENIED, DENIED),
        "hub.doctor": (OK, DENIED),
        "planner": (DENIED, DENIED),
        "patient": (DENIED, DENIED),
    },
    "read practitioners": {
        user: ((DENIED, DENIED) if user == "patient" else (OK, OK)) for user in USERS
    },
    "read audit log": {
        user: ((OK, OK) if user in ("admin", "clinic.admin") else (DENIED, DENIED))
        for user in USERS
    },
    "administer users": {
        user: ((OK, OK) if user == "admin" else (DENIED, DENIED)) for user in USERS
    },
    # Booking: the patient books for themself, staff who book (call centres,
    # clinicians, coordinators, planners) for patients they may see.
    "book an appointment": {
        "admin": (OK, OK),
        "analyst": (DENIED, DENIED),
        "clinic.admin": (OK, HIDDEN),
        "dr.moscow": (OK, HIDDEN),
        "hub.coord": (OK, HIDDEN),
        "hub.doctor": (DENIED, DENIED),
        "planner": (OK, HIDDEN),
        "patient": (OK, HIDDEN),
    },
    # The ledger is written by facility administrators and campaign planners,
    # for their own facilities only.
    "record a service in the ledger": _row(
        everywhere=("admin",), own=("clinic.admin", "planner"), outside=DENIED
    ),
    # Figures: managers everywhere; facility staff who read the ledger, for
    # their own facilities; a named facility outside the scope is refused.
    "read ledger figures of a facility": _row(
        everywhere=("admin", "analyst"),
        own=("clinic.admin", "hub.coord", "planner"),
        outside=DENIED,
    ),
    "read an indicator of a facility": _row(
        everywhere=("admin", "analyst"),
        own=("clinic.admin", "hub.coord", "planner"),
        outside=DENIED,
    ),
    # Recovery: only planners fill the waiting list, for patients they may see.
    "put a patient on the waiting list": _row(
        everywhere=("admin",), own=("planner",), outside=HIDDEN
    ),
    # Remote consultation: clinicians (and hub specialists, who also refer
    # upwards) ask from their own facility; the queue is read by those who
    # take part in consultations, at their own facilities.
    "ask a hub for a consult": _row(
        everywhere=("admin",), own=("dr.moscow", "hub.doctor"), outside=DENIED
    ),
    # A case is seen by the staff taking part in consultations at its spoke
    # (or its hub); managers, planners, facility administrators and patients
    # do not see cases.
    "read a consult case asked from the facility": _row(
        everywhere=("admin",), own=("dr.moscow", "hub.coord", "hub.doctor"), outside=HIDDEN
    ),
    # Day-of capture: the units' own staff (and planners), at their units.
    "capture a campaign day's screenings": _row(
        everywhere=("admin",), own=("clinic.admin", "dr.moscow", "planner"), outside=DENIED
    ),
    "read a hub's consult queue": _row(
        everywhere=("admin",), own=("dr.moscow", "hub.coord", "hub.doctor"), outside=DENIED
    ),
    # A virtual visit is seen by its patient and by the staff who may see the
    # patient: the facility's clinicians and those who book for it (call
    # centre, coordinators, planners). A program manager sees no one's visit.
    "read a virtual visit at the facility": {
        "admin": (OK, OK),
        "analyst": (DENIED, DENIED),
        "clinic.admin": (OK, HIDDEN),
        "dr.moscow": (OK, HIDDEN),
        "hub.coord": (OK, HIDDEN),
        "hub.doctor": (OK, HIDDEN),
        "planner": (OK, HIDDEN),
        "patient": (OK, HIDDEN),
    },
    # Only the two sides of the call enter its room: the visit's patient and a
    # clinician (or hub specialist) of the visit's facility. Roles that never
    # take part in a call are refused whatever the visit.
    "enter the room of a virtual visit at the facility": _row(
        everywhere=("admin",), own=("dr.moscow", "hub.doctor", "patient"), outside=HIDDEN
    ),
    # Closing writes the note, the outcome and the ledger: clinicians of the
    # visit's facility only.
    "close a virtual visit at the facility": _row(
        everywhere=("admin",), own=("dr.moscow", "hub.doctor"), outside=HIDDEN
    ),
    # A case conference is seen by its participants, the staff of its hub who
    # take part in consultations, and those of the spokes whose cases are on
    # its agenda; not by managers, planners, facility administrators or
    # patients (they do not see cases either).
    "read a case conference held at the facility": _row(
        everywhere=("admin",), own=("dr.moscow", "hub.coord", "hub.doctor"), outside=HIDDEN
    ),
    "read a case conference about a case asked from the facility": _row(
        everywhere=("admin",), own=("dr.moscow", "hub.coord", "hub.doctor"), outside=HIDDEN
    ),
    # The hub's coordinators and specialists schedule its conferences, at
    # their own hub only.
    "schedule a case conference at the facility": _row(
        everywhere=("admin",), own=("hub.coord", "hub.doctor"), outside=DENIED
    ),
}


@dataclass
class Targets:
    inside: Patient
    outside: Patient
    inside_facility: Facility
    outside_facility: Facility


def _facility(db: Session, code: str) -> Facility:
    found = db.scalar(select(Facility).where(Facility.code == code))
    assert found is not None, code
    return found


def _targets(db: Session, username: str) -> Targets:
    user = service.get_user(db, username=username)
    principal = service.principal_for(db, user, via="token")
    grant = principal.grants[0]
    if grant.facility_id is not None:
        inside_facility = db.get(Facility, grant.facility_id)
    elif grant.region_id is not None:
        inside_facility = db.scalar(
            select(Facility).where(Facility.region_id == grant.region_id).order_by(Facility.code)
        )
    else:
        inside_facility = _facility(db, "RU-MOW-GP002")
    assert inside_facility is not None
    outside_code = "VN-CHORAY" if inside_facility.country_code != "VN" else "MX-IMSS"
    outside_facility = _facility(db, outside_code)
    if user.patient_id is not None:
        inside = db.get(Patient, user.patient_id)
        assert inside is not None
    else:
        inside = f.patient(db, "Rafael", "Inside", home_facility_id=inside_facility.id)
    outside = f.patient(db, "Olga", "Outside", home_facility_id=outside_facility.id)
    return Targets(inside, outside, inside_facility, outside_facility)


def _attempt(
    client: TestClient, db: Session, operation: str, patient: Patient, facility: Facility
) -> int:
    if operation == "read patient":
        return client.get(f"/api/patients/{patient.id}").status_code
    if operation == "read patient as FHIR":
        return client.get(f"/fhir/Patient/{patient.id}").status_code
    if operation == "update patient":
        return client.patch(f"/api/patients/{patient.id}", json={"phone": "+7 1"}).status_code
    if operation == "register patient at facility":
        body = {
            "family_name": "Nueva",
            "given_names": "Paciente",
            "home_facility_code": facility.code,
        }
        return client.post("/api/patients", json=body).status_code
    if operation == "read practitioners":
        return client.get("/api/practitioners", params={"limit": 1}).status_code
    if operation == "read audit log":
        return client.get("/fhir/AuditEvent", params={"_count": 1}).status_code
    if operation == "administer users":
        return client.get("/api/users").status_code
    if operation == "book an appointment":
        body = {"slot_id": _free_slot(db, facility), "patient_id": patient.id}
        return client.post("/api/appointments", json=body).status_code
    if operation == "record a service in the ledger":
        body = {"facility_code": facility.code, "day": "2026-11-30", "service_code": CONSULT}
        return client.post("/api/ledger/entries", json=body).status_code
    if operation == "read ledger figures of a facility":
        return client.get("/api/ledger/figures", params={"facility": facility.code}).status_code
    if operation == "read an indicator of a facility":
        params = {"facility": facility.code}
        return client.get("/api/reports/services", params=params).status_code
    if operation == "put a patient on the waiting list":
        body = {
            "patient_id": patient.id,
            "service_code": CONSULT,
            "referring_facility_code": facility.code,
            "referred_on": "2026-10-01",
            "priority": "p3",
        }
        return client.post("/api/waiting-list", json=body).status_code
    if operation == "ask a hub for a consult":
        body = {
            "spoke_facility_code": facility.code,
            "patient_id": patient.id,
            "specialty_code": "cardiology",
            "urgency": "routine",
            "question": "¿Cateterismo o tratamiento médico?",
            "clinical_summary": "Dolor torácico atípico, ECG sin cambios.",
        }
        return client.post("/api/consults", json=body).status_code
    if operation == "read a consult case asked from the facility":
        return client.get(f"/api/consults/{_case_from(db, facility, patient)}").status_code
    if operation == "capture a campaign day's screenings":
        code = _campaign_at(db, facility)
        body = {"facility_code": facility.code, "day": "2026-11-28", "counts": {SCREEN: 40}}
        return client.post(f"/api/campaigns/{code}/captures/counts", json=body).status_code
    if operation == "read a hub's consult queue":
        return client.get(
            "/api/consults/queue", params={"facility_code": facility.code}
        ).status_code
    if operation == "read a virtual visit at the facility":
        return client.get(f"/api/visits/{_visit_at(db, facility, patient)}").status_code
    if operation == "enter the room of a virtual visit at the facility":
        visit = _visit_at(db, facility, patient)
        return client.post(f"/api/visits/{visit}/room-token").status_code
    if operation == "close a virtual visit at the facility":
        visit = _visit_at(db, facility, patient)
        return client.post(f"/api/visits/{visit}/close", json=CLOSE).status_code
    if operation == "read a case conference held at the facility":
        conference = _conference_at(db, facility, _case_at(db, facility, ELSEWHERE))
        return client.get(f"/api/consults/conferences/{conference}").status_code
    if operation == "read a case conference about a case asked from the facility":
        hub = _facility(db, OTHER_HUB)
        case = _case_from(db, facility, patient, hub=hub)
        conference = _conference_at(db, hub, case)
        return client.get(f"/api/consults/conferences/{conference}").status_code
    if operation == "schedule a case conference at the facility":
        body = {
            "hub_facility_code": facility.code,
            "title": "Hội chẩn của ma trận",
            "starts_at": _free_hour(facility).isoformat(),
            "case_ids": [_case_at(db, facility, ELSEWHERE)],
        }
        return client.post("/api/consults/conferences", json=body).status_code
    raise AssertionError(operation)


CONSULT = "consult-cardiology"
SCREEN = "screen-mammography"
CLOSE = {
    "assessment": "ОРВИ лёгкого течения",
    "diagnoses": ["J06.9"],
    "outcome": "resolved_remotely",
}
# Facilities in no scoped demo user's scope: the spoke the cases of a
# conference held at the facility come from, and the hub a case asked from
# the facility is discussed at.
ELSEWHERE = "VN-CANTHO"
OTHER_HUB = "VN-VIETDUC"


def _visit_at(db: Session, facility: Facility, patient: Patient) -> int:
    """A virtual visit of ``patient`` at ``facility``, in its call."""
    from puente.enums import Mode, VisitStatus
    from puente.visits.models import Visit

    visit = Visit(
        patient_id=patient.id,
        facility_id=facility.id,
        mode=Mode.virtual,
        status=VisitStatus.in_call,
    )
    db.add(visit)
    db.flush()
    return visit.id


def _case_at(db: Session, hub: Facility, spoke_code: str) -> int:
    """A de-identified cardiology case asked from ``spoke_code``, at ``hub``."""
    from puente.catalog.models import Specialty
    from puente.consults import service as consults
    from puente.consults.schemas import CaseCreate

    spoke = _facility(db, spoke_code)
    cardiology = db.scalar(select(Specialty.id).where(Specialty.code == "cardiology"))
    assert cardiology is not None
    data = CaseCreate(
        spoke_facility_code=spoke.code,
        patient_age_years=58,
        specialty_code="cardiology",
        urgency="routine",
        question="¿Cateterismo o tratamiento médico?",
        clinical_summary="Dolor torácico atípico, ECG sin cambios.",
    )
    case, _ = consults.create_case(
        db, data=data, spoke_facility_id=spoke.id, specialty_id=cardiology, by_user_id=None
    )
    case.hub_facility_id = hub.id
    db.flush()
    return case.id


def _conference_at(db: Session, hub: Facility, case_id: int) -> int:
    """A conference at ``hub`` ten days ahead about one case, chaired by the
    national administrator (its only participant)."""
    from datetime import UTC, datetime, timedelta

    from puente.consults import conferences
    from puente.enums import ConferenceProvider, ConsultSide

    chair = service.get_user(db, username="admin")
    conference = conferences.insert(
        db,
        hub=hub,
        title="Hội chẩn của ma trận",
        starts_at=datetime.now(UTC).replace(microsecond=0) + timedelta(days=10),
        minutes=60,
        timezone=hub.timezone,
        provider=ConferenceProvider.mesh,
        chair=chair,
        case_ids=[case_id],
        people=[(chair, hub.id, ConsultSide.hub)],
        by_user_id=None,
    )
    return conference.id


def _free_hour(facility: Facility) -> datetime:
    """A start six weeks ahead, an hour apart for each facility: the caller
    who chairs both the inside and the outside conference is never busy."""
    from datetime import UTC, timedelta

    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    return start + timedelta(days=42, hours=facility.id)


def _campaign_at(db: Session, facility: Facility) -> str:
    """A weekend screening campaign with ``facility`` as its one unit."""
    from datetime import date

    from puente.recovery import service as recovery
    from puente.recovery.schemas import CampaignCreate, LineIn

    code = f"matrix-{facility.code.lower()}"
    data = CampaignCreate(
        code=code,
        name="Jornada de la matriz",
        country=facility.country_code,
        starts_on=date(2026, 11, 28),
        ends_on=date(2026, 11, 29),
        units=[facility.code],
        lines=[LineIn(service_code=SCREEN, capacity_kind="screening_slots")],
    )
    recovery.create_campaign(db, data=data)
    return code


def _case_from(
    db: Session, facility: Facility, patient: Patient, *, hub: Facility | None = None
) -> int:
    """A routine cardiology case asked from ``facility`` about ``patient``
    (at ``hub`` when given, else where it was routed)."""
    from puente.catalog.models import Specialty
    from puente.consults import service as consults
    from puente.consults.schemas import CaseCreate

    cardiology = db.scalar(select(Specialty.id).where(Specialty.code == "cardiology"))
    assert cardiology is not None
    data = CaseCreate(
        spoke_facility_code=facility.code,
        patient_id=patient.id,
        specialty_code="cardiology",
        urgency="routine",
        question="¿Cateterismo o tratamiento médico?",
        clinical_summary="Dolor torácico atípico, ECG sin cambios.",
    )
    case, _ = consults.create_case(
        db, data=data, spoke_facility_id=facility.id, specialty_id=cardiology, by_user_id=None
    )
    if hub is not None:
        case.hub_facility_id = hub.id
        db.flush()
    return case.id


def _free_slot(db: Session, facility: Facility) -> int:
    """A slot of a cardiologist at ``facility`` a week ahead, for booking."""
    from datetime import date, time, timedelta

    from puente.enums import Mode, PractitionerRoleCode
    from puente.people.models import PractitionerRole
    from puente.scheduling import service as scheduling
    from puente.scheduling.models import Slot

    doctor = f.practitioner(db, "Matriz", "Dra.")
    role = PractitionerRole(
        practitioner_id=doctor.id, facility_id=facility.id, role=PractitionerRoleCode.physician
    )
    db.add(role)
    db.flush()
    day = date.today() + timedelta(days=7)
    schedule = scheduling.publish_schedule(
        db,
        practitioner_role_id=role.id,
        mode=Mode.virtual,
        slot_minutes=30,
        timezone=facility.timezone,
        valid_from=day,
        valid_until=day,
        rules=[(day.weekday(), time(9, 0), time(10, 0))],
    )
    scheduling.generate_slots(db, schedule.id, until=day)
    slot = db.scalar(
        select(Slot.id).where(Slot.schedule_id == schedule.id).order_by(Slot.starts_at)
    )
    assert slot is not None
    return slot


def _outcome(status: int) -> str:
    if 200 <= status < 300:
        return OK
    return {403: DENIED, 404: HIDDEN}.get(status, f"HTTP {status}")


@pytest.mark.parametrize("username", USERS)
def test_each_demo_role_may_do_exactly_what_the_matrix_says(
    demo_client: TestClient, demo_db: Session, username: str
) -> None:
    targets = _targets(demo_db, username)
    user = service.get_user(demo_db, username=username)
    demo_client.headers.update(f.bearer(demo_db, user))
    seen: dict[str, tuple[str, str]] = {}
    for operation in MATRIX:
        inside = _attempt(demo_client, demo_db, operation, targets.inside, targets.inside_facility)
        outside = _attempt(
            demo_client, demo_db, operation, targets.outside, targets.outside_facility
        )
        seen[operation] = (_outcome(inside), _outcome(outside))
    assert seen == {op: row[username] for op, row in MATRIX.items()}


@pytest.mark.parametrize("username", ["dr.moscow", "planner", "patient"])
def test_a_search_returns_only_the_patients_in_the_users_scope(
    demo_client: TestClient, demo_db: Session, username: str
) -> None:
    targets = _targets(demo_db, username)
    user = service.get_user(demo_db, username=username)
    demo_client.headers.update(f.bearer(demo_db, user))
    for family in ("Rafael", "Olga") if username != "patient" else ("Olga",):
        found = demo_client.get("/api/patients", params={"name": family}).json()
        ids = {p["id"] for p in found["items"]}
        assert (targets.inside.id in ids) == (family == "Rafael")
        assert targets.outside.id not in ids
    if username == "patient":
        mine = demo_client.get("/api/patients").json()
        assert [p["id"] for p in mine["items"]] == [targets.inside.id]


def test_every_refused_patient_access_in_the_matrix_left_a_denied_audit_record(
    demo_client: TestClient, demo_db: Session
) -> None:
    targets = _targets(demo_db, "dr.moscow")
    demo_client.headers.update(f.bearer(demo_db, service.get_user(demo_db, username="dr.moscow")))
    assert demo_client.get(f"/api/patients/{targets.outside.id}").status_code == 404
    denied = demo_db.scalars(
        select(AuditEvent).where(
            AuditEvent.username == "dr.moscow", AuditEvent.outcome == AuditOutcome.denied
        )
    ).all()
    assert [e.patient_id for e in denied] == [targets.outside.id]


def test_every_refused_visit_or_conference_outside_the_scope_left_a_denied_audit_record(
    demo_client: TestClient, demo_db: Session
) -> None:
    targets = _targets(demo_db, "dr.moscow")
    olga, chorray = targets.outside, targets.outside_facility
    demo_client.headers.update(f.bearer(demo_db, service.get_user(demo_db, username="dr.moscow")))
    read, room, close = (_visit_at(demo_db, chorray, olga) for _ in range(3))
    conference = _conference_at(demo_db, chorray, _case_at(demo_db, chorray, ELSEWHERE))
    assert demo_client.get(f"/api/visits/{read}").status_code == 404
    assert demo_client.post(f"/api/visits/{room}/room-token").status_code == 404
    assert demo_client.post(f"/api/visits/{close}/close", json=CLOSE).status_code == 404
    assert demo_client.get(f"/api/consults/conferences/{conference}").status_code == 404
    denied = demo_db.scalars(
        select(AuditEvent)
        .where(AuditEvent.username == "dr.moscow", AuditEvent.outcome == AuditOutcome.denied)
        .order_by(AuditEvent.id)
    ).all()
    assert [(e.resource_type, e.resource_id, e.patient_id) for e in denied] == [
        ("Patient", str(olga.id), olga.id),
        ("Visit", str(room), olga.id),
        ("Patient", str(olga.id), olga.id),
        ("ServiceRequest", f"conference:{conference}", None),
    ]


def test_a_role_that_takes_no_part_in_calls_is_refused_a_visit_room_and_kept_on_record(
    demo_client: TestClient, demo_db: Session
) -> None:
    targets = _targets(demo_db, "clinic.admin")
    admin = service.get_user(demo_db, username="clinic.admin")
    demo_client.headers.update(f.bearer(demo_db, admin))
    visit = _visit_at(demo_db, targets.inside_facility, targets.inside)
    assert demo_client.get(f"/api/visits/{visit}").status_code == 200
    assert demo_client.post(f"/api/visits/{visit}/room-token").status_code == 403
    # Refused by role alone: a visit that does not exist gets the same answer.
    assert demo_client.post(f"/api/visits/{2**31 - 1}/room-token").status_code == 403
    denied = demo_db.scalars(
        select(AuditEvent).where(
            AuditEvent.username == "clinic.admin", AuditEvent.outcome == AuditOutcome.denied
        )
    ).all()
    assert [(e.resource_id, e.patient_id) for e in denied] == [(str(visit), targets.inside.id)]


def test_every_demo_account_signs_in_with_the_printed_password(
    demo_client: TestClient, demo_db: Session
) -> None:
    roles = set()
    for username in USERS:
        signed = demo_client.post(
            "/api/auth/token", json={"username": username, "password": DEMO_PASSWORD}
        )
        assert signed.status_code == 200, (username, signed.text)
        roles |= {
            g.role
            for g in service.principal_for(
                demo_db, service.get_user(demo_db, username=username), via="token"
            ).grants
        }
    assert roles == set(AccessRole)
