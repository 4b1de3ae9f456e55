"""Demo accounts: one per role, scoped to sensible places of the demo world.

Facilities are found by what they are (a Moscow polyclinic, a central
Vietnamese hospital, …), not by hard-coded ids, so the accounts follow the
demo world if it changes. The password is printed by ``puente demo`` and
listed in the README; it is for the demo only.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from puente.access import repository as repo
from puente.access import service
from puente.enums import AccessRole, FacilityKind, Tier
from puente.network.models import Facility, Region
from puente.people.models import Patient

DEMO_PASSWORD = "puente-demo-2021"


@dataclass(frozen=True)
class DemoAccount:
    username: str
    role: AccessRole
    scope: str | None
    description: str
    language: str = "en"


def _facility(session: Session, *conditions: object) -> Facility | None:
    query = select(Facility).where(*conditions).order_by(Facility.code).limit(1)  # type: ignore[arg-type]
    return session.scalar(query)


def _region_code(session: Session, code: str) -> str | None:
    return session.scalar(select(Region.code).where(Region.code == code))


def _plan(session: Session) -> list[tuple[DemoAccount, int | None]]:
    moscow = _facility(
        session,
        Facility.kind == FacilityKind.polyclinic,
        Facility.region_id.in_(select(Region.id).where(Region.code == "RU-MOW")),
    )
    hub = _facility(session, Facility.country_code == "VN", Facility.tier == Tier.central)
    volgograd = _facility(
        session, Facility.region_id.in_(select(Region.id).where(Region.code == "RU-VGG"))
    )
    state_office = _facility(
        session, Facility.country_code == "MX", Facility.kind == FacilityKind.state_office
    )
    planner_region = _region_code(session, "MX-JAL")
    patient_id = None
    if moscow is not None:
        patient_id = session.scalar(
            select(Patient.id).where(Patient.home_facility_id == moscow.id).order_by(Patient.id)
        )
    plan: list[tuple[DemoAccount, int | None]] = [
        (DemoAccount("admin", AccessRole.national_admin, None, "whole system"), None),
        (DemoAccount("analyst", AccessRole.program_manager, None, "aggregates only"), None),
    ]
    if volgograd:
        plan.append(
            (
                DemoAccount(
                    "clinic.admin", AccessRole.facility_admin, volgograd.code, volgograd.name, "ru"
                ),
                None,
            )
        )
    if moscow:
        plan.append(
            (DemoAccount("dr.moscow", AccessRole.clinician, moscow.code, moscow.name, "ru"), None)
        )
    if hub:
        plan.append(
            (DemoAccount("hub.coord", AccessRole.hub_coordinator, hub.code, hub.name, "vi"), None)
        )
        plan.append(
            (DemoAccount("hub.doctor", AccessRole.hub_specialist, hub.code, hub.name, "vi"), None)
        )
    scope = planner_region or (state_office.code if state_office else None)
    if scope:
        plan.append((DemoAccount("planner", AccessRole.campaign_planner, scope, scope, "es"), None))
    if patient_id is not None:
        plan.append(
            (DemoAccount("patient", AccessRole.patient, None, "own record only", "ru"), patient_id)
        )
    return plan


def create_demo_users(session: Session) -> list[DemoAccount]:
    """Create the demo accounts that do not exist yet; return all of them."""
    accounts = []
    for account, patient_id in _plan(session):
        accounts.append(account)
        if repo.user_by_name(session, account.username):
            continue
        user = service.create_user(
            session,
            username=account.username,
            display_name=account.username,
            password=DEMO_PASSWORD,
            must_change_password=False,
            patient_id=patient_id,
            preferred_language=account.language,
        )
        service.grant_role(session, user=user, role=account.role, scope_code=account.scope)
    return accounts
