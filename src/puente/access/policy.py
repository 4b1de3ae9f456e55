"""Who may do what: the role × permission matrix, in one readable place.

A permission is granted by a role; where it applies is decided by the scope
of the grant (system, region, facility). Patient identity is a separate
permission that a program manager never holds: managers see aggregates only.
"""

from __future__ import annotations

from enum import StrEnum

from puente.enums import AccessRole as R


class Permission(StrEnum):
    network_read = "network:read"
    network_write = "network:write"
    catalog_read = "catalog:read"
    catalog_write = "catalog:write"
    patient_read = "patient:read"
    patient_write = "patient:write"
    practitioner_read = "practitioner:read"
    practitioner_write = "practitioner:write"
    ledger_read = "ledger:read"
    ledger_write = "ledger:write"
    audit_read = "audit:read"
    user_admin = "user:admin"
    self_service = "self:service"
    # Scheduling: see schedules and free slots; publish schedules; book.
    schedule_read = "schedule:read"
    schedule_write = "schedule:write"
    appointment_book = "appointment:book"
    # Virtual visits: hold and close a visit (clinicians); attend one (patients).
    visit_conduct = "visit:conduct"
    visit_attend = "visit:attend"
    # Recovery of deferred care: read waiting-list figures, campaigns and plans;
    # build campaigns and run and publish plans; capture what a unit delivered.
    recovery_read = "recovery:read"
    recovery_plan = "recovery:plan"
    recovery_capture = "recovery:capture"
    # Remote consultation: read cases of one's facilities; ask (spoke); run a
    # hub's queue (coordinator); answer (hub specialist); bridge heartbeats.
    consult_read = "consult:read"
    consult_request = "consult:request"
    consult_coordinate = "consult:coordinate"
    consult_answer = "consult:answer"
    bridge_heartbeat = "bridge:heartbeat"
    training_manage = "training:manage"
    # Case conferences: schedule them at one's hub, set their agenda, record
    # decisions, cancel (hub coordinators and specialists).
    conference_manage = "conference:manage"
    # Operations: scrape /metrics (national administrators; a monitoring
    # account gets the role and scrapes with `puente token`).
    metrics_read = "metrics:read"


P = Permission
_EVERYONE = {P.network_read, P.catalog_read, P.self_service, P.schedule_read}
_STAFF = _EVERYONE | {P.practitioner_read}

ROLE_PERMISSIONS: dict[R, frozenset[Permission]] = {
    R.national_admin: frozenset(Permission),
    R.program_manager: frozenset(_STAFF | {P.ledger_read}),
    R.facility_admin: frozenset(
        _STAFF
        | {
            P.network_write,
            P.patient_read,
            P.patient_write,
            P.practitioner_write,
            P.ledger_read,
            P.ledger_write,
            P.audit_read,
            # The facility's call centre books on patients' behalf.
            P.schedule_write,
            P.appointment_book,
        }
    ),
    R.clinician: frozenset(
        _STAFF
        | {P.patient_read, P.patient_write, P.schedule_write, P.appointment_book, P.visit_conduct}
    ),
    R.hub_coordinator: frozenset(_STAFF | {P.patient_read, P.ledger_read, P.appointment_book}),
    R.hub_specialist: frozenset(
        _STAFF | {P.patient_read, P.patient_write, P.schedule_write, P.visit_conduct}
    ),
    R.campaign_planner: frozenset(
        _STAFF
        | {P.patient_read, P.ledger_read, P.ledger_write, P.schedule_write, P.appointment_book}
    ),
    # A patient reads their own record only; the scope check narrows it to them.
    R.patient: frozenset(_EVERYONE | {P.patient_read, P.appointment_book, P.visit_attend}),
}

# Remote consultation (hub and spoke).
_CONSULT_GRANTS: dict[R, set[Permission]] = {
    R.clinician: {P.consult_read, P.consult_request, P.bridge_heartbeat},
    R.hub_coordinator: {
        P.consult_read,
        P.consult_coordinate,
        P.bridge_heartbeat,
        P.training_manage,
        P.conference_manage,
    },
    R.hub_specialist: {
        P.consult_read,
        P.consult_request,
        P.consult_answer,
        P.training_manage,
        P.conference_manage,
    },
    R.facility_admin: {P.bridge_heartbeat},
}
for _role, _extra in _CONSULT_GRANTS.items():
    ROLE_PERMISSIONS[_role] = ROLE_PERMISSIONS[_role] | _extra


# Recovery of deferred care.
ROLE_PERMISSIONS[R.campaign_planner] |= {P.recovery_read, P.recovery_plan, P.recovery_capture}
ROLE_PERMISSIONS[R.facility_admin] |= {P.recovery_read, P.recovery_capture}
ROLE_PERMISSIONS[R.clinician] |= {P.recovery_read, P.recovery_capture}
ROLE_PERMISSIONS[R.program_manager] |= {P.recovery_read}


def roles_with(permission: Permission) -> frozenset[R]:
    return frozenset(role for role, perms in ROLE_PERMISSIONS.items() if permission in perms)
