"""Closed vocabularies shared by models, schemas and FHIR mappings."""

from __future__ import annotations

from enum import StrEnum


class Tier(StrEnum):
    """Level of a facility in its network.

    Vietnam speaks of central / provincial / district / commune hospitals;
    Mexico of third, second and first level of care. Both are kept as given.
    """

    central = "central"
    provincial = "provincial"
    district = "district"
    commune = "commune"
    level3 = "level3"
    level2 = "level2"
    level1 = "level1"


class FacilityKind(StrEnum):
    high_specialty_unit = "high_specialty_unit"
    general_hospital = "general_hospital"
    specialty_hospital = "specialty_hospital"
    polyclinic = "polyclinic"
    family_medicine_unit = "family_medicine_unit"
    state_office = "state_office"
    institute = "institute"
    clinic = "clinic"
    diagnostic_center = "diagnostic_center"
    health_station = "health_station"
    ministry = "ministry"


class RegionLevel(StrEnum):
    region = "region"
    district = "district"


class ProgramKind(StrEnum):
    remote_care_network = "remote_care_network"
    medical_services_export = "medical_services_export"
    deferred_care_recovery = "deferred_care_recovery"
    virtual_visits = "virtual_visits"


class BridgePointKind(StrEnum):
    video = "video"
    webrtc = "webrtc"
    sip = "sip"
    dicom = "dicom"
    fhir = "fhir"


class BridgePointStatus(StrEnum):
    active = "active"
    suspended = "suspended"
    error = "error"
    off = "off"
    test = "test"


class Sex(StrEnum):
    female = "female"
    male = "male"
    other = "other"
    unknown = "unknown"


class PractitionerRoleCode(StrEnum):
    physician = "physician"
    nurse = "nurse"
    specialist = "specialist"
    resident = "resident"
    coordinator = "coordinator"
    technician = "technician"
    administrator = "administrator"


class ServiceKind(StrEnum):
    consultation = "consultation"
    surgery = "surgery"
    screening = "screening"
    transplant = "transplant"
    donation = "donation"
    procedure = "procedure"
    vaccination = "vaccination"
    social_work = "social_work"
    nutrition = "nutrition"
    imaging = "imaging"
    diagnostics = "diagnostics"
    dentistry = "dentistry"
    remote_consultation = "remote_consultation"
    training = "training"
    family_planning = "family_planning"


class Mode(StrEnum):
    in_person = "in_person"
    virtual = "virtual"


class LedgerSource(StrEnum):
    manual = "manual"
    import_ = "import"
    visit = "visit"
    consult = "consult"
    campaign = "campaign"


class AccessRole(StrEnum):
    national_admin = "national_admin"
    program_manager = "program_manager"
    facility_admin = "facility_admin"
    clinician = "clinician"
    hub_coordinator = "hub_coordinator"
    hub_specialist = "hub_specialist"
    campaign_planner = "campaign_planner"
    patient = "patient"


class ScopeKind(StrEnum):
    system = "system"
    region = "region"
    facility = "facility"


class AuditOutcome(StrEnum):
    success = "success"
    denied = "denied"
    failed = "failed"


# Scheduling and virtual visits -------------------------------------------------


class AppointmentStatus(StrEnum):
    held = "held"  # a short hold while the patient confirms; expires
    booked = "booked"
    cancelled = "cancelled"
    fulfilled = "fulfilled"
    no_show = "no_show"


class AppointmentPurpose(StrEnum):
    visit = "visit"  # doctor–patient virtual or in-person visit
    consult = "consult"  # remote consultation / case conference
    campaign = "campaign"  # deferred-care recovery campaign
    training = "training"


class TriageDecision(StrEnum):
    virtual = "virtual"
    in_person = "in_person"
    emergency = "emergency"


class VisitStatus(StrEnum):
    booked = "booked"  # has an appointment, not started
    queued = "queued"  # on-demand queue, waiting for a clinician
    lobby = "lobby"  # patient joined, waiting to be admitted
    in_call = "in_call"
    closed = "closed"
    cancelled = "cancelled"


class VisitOutcome(StrEnum):
    resolved_remotely = "resolved_remotely"
    follow_up_virtual = "follow_up_virtual"
    referred_in_person = "referred_in_person"
    referred_emergency = "referred_emergency"


class DocumentKind(StrEnum):
    prescription = "prescription"
    sick_leave = "sick_leave"


class OutboxStatus(StrEnum):
    pending = "pending"
    sent = "sent"
    failed = "failed"  # gave up after the last retry


# Recovery of deferred care -----------------------------------------------------


class WaitPriority(StrEnum):
    """Clinical priority of a waiting-list entry: P1 within 72 hours, P2
    within a month, P3 within three months, P4 longer."""

    p1 = "p1"
    p2 = "p2"
    p3 = "p3"
    p4 = "p4"


class WaitStatus(StrEnum):
    waiting = "waiting"
    planned = "planned"  # in a published campaign plan
    served = "served"
    removed = "removed"


class CapacityKind(StrEnum):
    or_minutes = "or_minutes"
    consultation_slots = "consultation_slots"
    screening_slots = "screening_slots"


class CampaignStatus(StrEnum):
    draft = "draft"
    planned = "planned"
    published = "published"
    closed = "closed"


class PlanRunStatus(StrEnum):
    queued = "queued"
    running = "running"
    done = "done"
    failed = "failed"


class PlanItemStatus(StrEnum):
    planned = "planned"
    booked = "booked"  # published: an appointment exists, the patient is told
    confirmed = "confirmed"
    cancelled = "cancelled"
    done = "done"
    no_show = "no_show"


# Remote consultation (hub and spoke) -----------------------------------------


class ConsultUrgency(StrEnum):
    emergency = "emergency"
    urgent = "urgent"
    routine = "routine"


class ConsultStatus(StrEnum):
    open = "open"  # waiting at a hub, no specialist yet
    assigned = "assigned"  # a hub specialist has it
    answered = "answered"  # the recommendation is written; the thread goes on
    closed = "closed"  # the spoke recorded the outcome
    unrouted = "unrouted"  # no hub (left) to send it to


class ConsultOutcome(StrEnum):
    treated_locally = "treated_locally"
    transferred = "transferred"
    died = "died"
    unknown = "unknown"


class ConsultSide(StrEnum):
    spoke = "spoke"
    hub = "hub"


class ConferenceStatus(StrEnum):
    scheduled = "scheduled"
    held = "held"  # took place (a decision was recorded, or the chair opened the room)
    cancelled = "cancelled"


class ConferenceProvider(StrEnum):
    mesh = "mesh"  # peer to peer: every pair of browsers one connection
    janus = "janus"  # Janus VideoRoom (an SFU): each browser sends once
