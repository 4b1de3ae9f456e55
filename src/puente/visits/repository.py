"""All SQL of `visits`: visits, the queue, triage, documents, and the
counting queries over the ledger."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.orm import Session

from puente.enums import LedgerSource, VisitStatus
from puente.ledger.models import LedgerEntry
from puente.network.models import Facility, Region
from puente.people.models import Patient, Practitioner, PractitionerRole
from puente.scheduling.models import Appointment, Slot
from puente.visits.models import TriageAssessment, Visit, VisitDocument

LIVE = (VisitStatus.booked, VisitStatus.queued, VisitStatus.lobby, VisitStatus.in_call)


def get_visit(session: Session, visit_id: int, *, lock: bool = False) -> Visit | None:
    query = select(Visit).where(Visit.id == visit_id)
    if lock:
        query = query.with_for_update()
    return session.scalar(query)


def visit_by_appointment(session: Session, appointment_id: int) -> Visit | None:
    return session.scalar(select(Visit).where(Visit.appointment_id == appointment_id))


def slot_start(session: Session, appointment_id: int | None) -> datetime | None:
    if appointment_id is None:
        return None
    return session.scalar(
        select(Slot.starts_at)
        .join(Appointment, Appointment.slot_id == Slot.id)
        .where(Appointment.id == appointment_id)
    )


def slot_starts(session: Session, appointment_ids: Collection[int]) -> dict[int, datetime]:
    if not appointment_ids:
        return {}
    rows = session.execute(
        select(Appointment.id, Slot.starts_at)
        .join(Slot, Slot.id == Appointment.slot_id)
        .where(Appointment.id.in_(sorted(appointment_ids)))
    )
    return {a: s for a, s in rows}


def get_triage(session: Session, triage_id: int) -> TriageAssessment | None:
    return session.get(TriageAssessment, triage_id)


def get_patient(session: Session, patient_id: int) -> Patient | None:
    return session.get(Patient, patient_id)


def get_facility(session: Session, facility_id: int) -> Facility | None:
    return session.get(Facility, facility_id)


def practitioner_role_at(session: Session, practitioner_id: int, facility_id: int) -> int | None:
    return session.scalar(
        select(PractitionerRole.id)
        .where(
            PractitionerRole.practitioner_id == practitioner_id,
            PractitionerRole.facility_id == facility_id,
            PractitionerRole.active.is_(True),
        )
        .order_by(PractitionerRole.id)
        .limit(1)
    )


def queued_visit_of(session: Session, patient_id: int, facility_id: int) -> Visit | None:
    return session.scalar(
        select(Visit).where(
            Visit.patient_id == patient_id,
            Visit.facility_id == facility_id,
            Visit.status == VisitStatus.queued,
        )
    )


def waiting(facility_id: int) -> ColumnElement[bool]:
    """Queued visits no clinician has taken yet."""
    return and_(
        Visit.facility_id == facility_id,
        Visit.status == VisitStatus.queued,
        Visit.practitioner_role_id.is_(None),
    )


def ahead_of(session: Session, visit: Visit) -> int:
    assert visit.queued_at is not None
    found = session.scalar(
        select(func.count())
        .select_from(Visit)
        .where(
            waiting(visit.facility_id),
            or_(
                Visit.queued_at < visit.queued_at,
                and_(Visit.queued_at == visit.queued_at, Visit.id < visit.id),
            ),
        )
    )
    return int(found or 0)


def recent_durations(session: Session, facility_id: int, *, limit: int = 20) -> list[float]:
    """Minutes of the facility's last closed visits that have both times."""
    rows = session.execute(
        select(Visit.started_at, Visit.ended_at)
        .where(
            Visit.facility_id == facility_id,
            Visit.status == VisitStatus.closed,
            Visit.started_at.is_not(None),
            Visit.ended_at.is_not(None),
        )
        .order_by(Visit.ended_at.desc())
        .limit(limit)
    )
    return [(end - start).total_seconds() / 60 for start, end in rows if start and end]


def next_in_queue(session: Session, facility_ids: Collection[int]) -> Visit | None:
    """The longest-waiting untaken visit, locked; concurrent clinicians skip
    each other's row on PostgreSQL (SKIP LOCKED), SQLite serialises writers."""
    query = (
        select(Visit)
        .where(
            Visit.facility_id.in_(sorted(facility_ids)),
            Visit.status == VisitStatus.queued,
            Visit.practitioner_role_id.is_(None),
        )
        .order_by(Visit.queued_at, Visit.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    return session.scalar(query)


def queue(session: Session, facility_ids: Collection[int], *, limit: int = 200) -> list[Visit]:
    rows = session.scalars(
        select(Visit)
        .where(Visit.facility_id.in_(sorted(facility_ids)), Visit.status == VisitStatus.queued)
        .order_by(Visit.queued_at, Visit.id)
        .limit(limit)
    )
    return list(rows)


def booked_between(
    session: Session, facility_ids: Collection[int], start: datetime, end: datetime
) -> list[tuple[Visit, datetime]]:
    rows = session.execute(
        select(Visit, Slot.starts_at)
        .join(Appointment, Appointment.id == Visit.appointment_id)
        .join(Slot, Slot.id == Appointment.slot_id)
        .where(
            Visit.facility_id.in_(sorted(facility_ids)),
            Slot.starts_at >= start,
            Slot.starts_at < end,
            Visit.status != VisitStatus.cancelled,
        )
        .order_by(Slot.starts_at, Visit.id)
    )
    return list(rows)


def patient_visits(session: Session, where: ColumnElement[bool], *, limit: int) -> list[Visit]:
    query = (
        select(Visit)
        .join(Patient, Patient.id == Visit.patient_id)
        .where(where)
        .order_by(Visit.id.desc())
        .limit(limit)
    )
    return list(session.scalars(query))


def patient_names(session: Session, ids: Collection[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = session.execute(
        select(Patient.id, Patient.family_name, Patient.given_names).where(
            Patient.id.in_(sorted(ids))
        )
    )
    return {i: f"{family} {given}" for i, family, given in rows}


def documents(session: Session, visit_id: int) -> list[VisitDocument]:
    return list(
        session.scalars(
            select(VisitDocument)
            .where(VisitDocument.visit_id == visit_id)
            .order_by(VisitDocument.id)
        )
    )


def get_document(session: Session, visit_id: int, document_id: int) -> VisitDocument | None:
    return session.scalar(
        select(VisitDocument).where(
            VisitDocument.id == document_id, VisitDocument.visit_id == visit_id
        )
    )


# Encounter search (FHIR).


def encounter_query(
    *,
    visible: ColumnElement[bool] | None,
    patient_id: int | None,
    statuses: Collection[VisitStatus] | None,
    date_conditions: Sequence[ColumnElement[bool]],
) -> Select[Any]:
    query = select(Visit).join(Patient, Patient.id == Visit.patient_id)
    if visible is not None:
        query = query.where(visible)
    if patient_id is not None:
        query = query.where(Visit.patient_id == patient_id)
    if statuses is not None:
        query = query.where(Visit.status.in_(sorted(statuses)))
    return query.where(*date_conditions).order_by(Visit.id)


def page(
    session: Session, query: Select[tuple[Visit]], *, limit: int, offset: int
) -> tuple[list[Visit], int]:
    total = int(session.scalar(select(func.count()).select_from(query.subquery())) or 0)
    rows: list[Visit] = list(session.scalars(query.limit(limit).offset(offset)))
    return rows, total


# Counting, straight from the ledger entries.

GROUP_COLUMNS: dict[str, Any] = {
    "facility": Facility.code,
    "region": Region.code,
    "day": LedgerEntry.day,
}


def ledger_counts(
    session: Session,
    *,
    consultation_ids: Collection[int],
    avoided_id: int | None,
    start: date | None,
    end: date | None,
    facility_ids: Collection[int] | None,
    region_ids: Collection[int] | None,
    group_by: Sequence[str],
    limit: int,
) -> list[dict[str, Any]]:
    """(groups…, consultations, unique_patients, visits_avoided), one row per
    group (one row overall without ``group_by``)."""
    e = LedgerEntry
    is_consult = e.service_id.in_(sorted(consultation_ids))
    is_avoided = e.service_id == avoided_id if avoided_id is not None else e.id.is_(None)
    columns = [GROUP_COLUMNS[g].label(g) for g in group_by]
    query = select(
        *columns,
        func.coalesce(func.sum(e.count).filter(is_consult), 0).label("consultations"),
        func.count(func.distinct(e.patient_id)).filter(is_consult).label("unique_patients"),
        func.coalesce(func.sum(e.count).filter(is_avoided), 0).label("visits_avoided"),
    ).where(e.source == LedgerSource.visit, or_(is_consult, is_avoided))
    if "facility" in group_by or "region" in group_by or region_ids is not None:
        query = query.join(Facility, Facility.id == e.facility_id)
    if "region" in group_by:
        query = query.join(Region, Region.id == Facility.region_id)
    if region_ids is not None:
        query = query.where(Facility.region_id.in_(sorted(region_ids)))
    if start is not None:
        query = query.where(e.day >= start)
    if end is not None:
        query = query.where(e.day <= end)
    if facility_ids is not None:
        query = query.where(e.facility_id.in_(sorted(facility_ids)))
    if columns:
        query = query.group_by(*columns).order_by(*columns).limit(limit)
    return [dict(row) for row in session.execute(query).mappings()]


def region_ids_under(session: Session, code: str) -> list[int] | None:
    root = session.scalar(select(Region.id).where(Region.code == code))
    if root is None:
        return None
    tree = select(Region.id).where(Region.id == root).cte("visit_regions", recursive=True)
    tree = tree.union_all(select(Region.id).where(Region.parent_id == tree.c.id))
    return list(session.scalars(select(tree.c.id)))


def practitioner_name(session: Session, role_id: int | None) -> str | None:
    if role_id is None:
        return None
    row = session.execute(
        select(Practitioner.family_name, Practitioner.given_names)
        .join(PractitionerRole, PractitionerRole.practitioner_id == Practitioner.id)
        .where(PractitionerRole.id == role_id)
    ).first()
    return f"{row[0]} {row[1]}" if row else None
