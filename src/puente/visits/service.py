"""The rules of virtual visits, doctor to patient.

A visit starts one of two ways: a booked slot (``book_visit`` →
``scheduling.book`` → the ``on_booked`` hook below creates the Visit) or the
facility's on-demand queue (``join_queue``). For acute respiratory infection
the patient first answers the triage questionnaire (:mod:`visits.triage`);
only a *virtual* decision, recent and the patient's own, lets them book or
queue. Statuses::

    booked / queued ──(patient joins the room)──▶ lobby ──(admitted)──▶ in_call
         │                                                              │
         └──────────────▶ cancelled                  close(note, outcome)
                                                                        ▼
                                                                     closed

Closing writes, in the same transaction, the visit's ledger row (one virtual
consultation, ``source_ref = "visit:<id>"``) and, for the outcomes that spare
the patient a trip (resolved remotely, virtual follow-up), a second row of
``in-person-visit-avoided``: the figure the city counts. The ledger ignores a
second write of the same ref, so a retried close never counts twice.

Functions flush but never commit.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_
from sqlalchemy.orm import Session

from puente.access.models import User
from puente.access.policy import Permission
from puente.access.principal import Principal
from puente.access.service import facility_scope
from puente.catalog import service as catalog
from puente.db import utcnow
from puente.enums import (
    AppointmentPurpose,
    AppointmentStatus,
    DocumentKind,
    LedgerSource,
    Mode,
    TriageDecision,
    VisitOutcome,
    VisitStatus,
)
from puente.errors import Conflict, FieldError, Forbidden, NotFound, Unprocessable
from puente.i18n import gettext
from puente.ledger import service as ledger
from puente.notify import service as notify
from puente.scheduling import service as scheduling
from puente.scheduling.models import Appointment, Schedule, Slot
from puente.visits import repository as repo
from puente.visits import triage as rules
from puente.visits.documents import DocumentFacts
from puente.visits.models import TriageAssessment, Visit, VisitDocument
from puente.visits.schemas import (
    BookVisit,
    CloseResult,
    DocumentCreate,
    FigureGroup,
    JoinQueue,
    TriageAnswers,
    TriageRead,
    VisitClose,
    VisitFigures,
    VisitNote,
    VisitRead,
)

ARI_SERVICE = "virtual-ari-covid"
VISIT_SERVICE = "virtual-visit"
AVOIDED_SERVICE = "in-person-visit-avoided"
AVOIDING = frozenset({VisitOutcome.resolved_remotely, VisitOutcome.follow_up_virtual})
TRIAGE_VALID_FOR = timedelta(hours=24)
DEFAULT_VISIT_MINUTES = 12.0
REMINDER_BEFORE = timedelta(hours=2)
JOIN_LINK_BEFORE = timedelta(minutes=10)
OPEN = (VisitStatus.lobby, VisitStatus.in_call)


def service_id_of(session: Session, code: str) -> int:
    found = catalog.service_ids_by_code(session, [code])
    if code not in found:
        raise Unprocessable(
            f"The catalog has no service '{code}'.", errors=[FieldError("service", "missing")]
        )
    return found[code]


def visit_not_found(visit_id: int) -> NotFound:
    return NotFound(f"No visit {visit_id}.", errors=[FieldError("visit_id", "unknown")])


def get_visit(session: Session, visit_id: int, *, lock: bool = False) -> Visit:
    found = repo.get_visit(session, visit_id, lock=lock)
    if found is None:
        raise visit_not_found(visit_id)
    return found


def visit_read(session: Session, visit: Visit) -> VisitRead:
    read = VisitRead.model_validate(visit)
    read.starts_at = repo.slot_start(session, visit.appointment_id)
    return read


# Triage.


def _age(session: Session, patient_id: int, given: int | None, today: date) -> int:
    if given is not None:
        return given
    patient = repo.get_patient(session, patient_id)
    born = patient.birth_date if patient else None
    if born is None:
        raise Unprocessable(
            "Give the patient's age: their birth date is not on record.",
            errors=[FieldError("age", "required")],
        )
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def assess(
    session: Session, *, patient_id: int, answers: TriageAnswers, by_user_id: int | None
) -> TriageAssessment:
    """Run the questionnaire and keep its answers and decision."""
    if repo.get_patient(session, patient_id) is None:
        raise NotFound(f"No patient {patient_id}.", errors=[FieldError("patient_id", "unknown")])
    now = utcnow()
    age = _age(session, patient_id, answers.age, now.date())
    outcome = rules.assess(
        rules.Answers(
            fever_days=answers.fever_days,
            breathing=answers.breathing,
            age=age,
            pregnant=answers.pregnant,
            chronic_conditions=frozenset(answers.chronic_conditions),
            spo2=answers.spo2,
        )
    )
    stored = answers.model_dump(mode="json") | {"age": age}
    row = TriageAssessment(
        patient_id=patient_id,
        answers=stored,
        decision=outcome.decision,
        reason=outcome.reason,
        assessed_at=now,
        assessed_by_user_id=by_user_id,
    )
    session.add(row)
    session.flush()
    return row


def reason_text(reason: str, language: str | None = None) -> str:
    return gettext(rules.REASON_LABELS.get(reason, reason), language)


def triage_read(row: TriageAssessment) -> TriageRead:
    return TriageRead(
        id=row.id,
        patient_id=row.patient_id,
        decision=row.decision,
        reason=row.reason,
        reason_text=reason_text(row.reason),
        answers=row.answers,
        assessed_at=row.assessed_at,
    )


def virtual_triage(session: Session, triage_id: int | None, patient_id: int) -> int | None:
    """The triage that lets this patient be seen virtually, or a 422 naming triage_id."""
    if triage_id is None:
        return None
    row = repo.get_triage(session, triage_id)
    if row is None or row.patient_id != patient_id:
        raise Unprocessable(
            f"No triage {triage_id} for this patient.",
            errors=[FieldError("triage_id", "unknown for this patient")],
        )
    if row.decision != TriageDecision.virtual:
        raise Unprocessable(
            f"Triage decided {row.decision.value} care ({row.reason}); nothing is booked.",
            errors=[FieldError("triage_id", f"decided {row.decision.value}")],
        )
    if utcnow() - row.assessed_at > TRIAGE_VALID_FOR:
        raise Unprocessable(
            "The triage is more than a day old; answer the questionnaire again.",
            errors=[FieldError("triage_id", "expired")],
        )
    return row.id


# Booking, through scheduling, and the hooks that follow appointments.


def book_visit(session: Session, *, data: BookVisit, by_user_id: int | None) -> Visit:
    triage_id = virtual_triage(session, data.triage_id, data.patient_id)
    appointment = scheduling.book(
        session,
        slot_id=data.slot_id,
        patient_id=data.patient_id,
        by_user_id=by_user_id,
        reason=data.reason,
        idempotency_key=data.idempotency_key,
        purpose=AppointmentPurpose.visit,
    )
    visit = repo.visit_by_appointment(session, appointment.id)
    if visit is None:  # the hook was not installed: never silently lose a visit
        raise Conflict(
            "The booking has no visit.", errors=[FieldError("slot_id", "no visit created")]
        )
    if triage_id is not None and visit.triage_id is None:
        visit.triage_id = triage_id
    if visit.service_id is None:
        code = ARI_SERVICE if visit.triage_id is not None else VISIT_SERVICE
        visit.service_id = service_id_of(session, code)
    session.flush()
    return visit


def _facility_tz(session: Session, facility_id: int) -> str:
    facility = repo.get_facility(session, facility_id)
    return facility.timezone if facility else "UTC"


def on_booked(session: Session, appointment: Appointment) -> None:
    """Create the Visit of a booked visit appointment, and its messages."""
    if appointment.purpose != AppointmentPurpose.visit or appointment.patient_id is None:
        return
    if repo.visit_by_appointment(session, appointment.id) is not None:
        return
    slot = session.get(Slot, appointment.slot_id)
    assert slot is not None
    schedule = session.get(Schedule, slot.schedule_id)
    assert schedule is not None
    earlier = (
        repo.visit_by_appointment(session, appointment.rescheduled_from_id)
        if appointment.rescheduled_from_id
        else None
    )
    visit = Visit(
        patient_id=appointment.patient_id,
        facility_id=slot.facility_id,
        appointment_id=appointment.id,
        practitioner_role_id=schedule.practitioner_role_id,
        service_id=schedule.service_id or (earlier.service_id if earlier else None),
        triage_id=earlier.triage_id if earlier else None,
        mode=schedule.mode,
        status=VisitStatus.booked,
        reason=appointment.reason or (earlier.reason if earlier else None),
        diagnoses=[],
    )
    session.add(visit)
    session.flush()
    _booking_messages(session, visit, slot.starts_at, appointment.id)


def _booking_messages(session: Session, visit: Visit, starts_at: datetime, appt: int) -> None:
    patient = repo.get_patient(session, visit.patient_id)
    facility = repo.get_facility(session, visit.facility_id)
    if patient is None or facility is None:
        return
    language = patient.preferred_language
    values: dict[str, str] = {
        "facility": facility.name,
        "when": notify.when(starts_at, facility.timezone, language),
        "link": f"{notify.PUBLIC_URL}/visits/{visit.id}",
    }
    now = utcnow()
    notify.enqueue(
        session,
        patient=patient,
        template="booking_confirmed",
        dedupe_key=f"appointment:{appt}:booked",
        values=values,
    )
    if starts_at - REMINDER_BEFORE > now:
        notify.enqueue(
            session,
            patient=patient,
            template="visit_reminder",
            dedupe_key=f"appointment:{appt}:reminder",
            send_after=starts_at - REMINDER_BEFORE,
            values=values,
        )
    if visit.mode == Mode.virtual:
        notify.enqueue(
            session,
            patient=patient,
            template="join_link",
            dedupe_key=f"visit:{visit.id}:join",
            send_after=max(starts_at - JOIN_LINK_BEFORE, now),
            values=values,
        )


def on_cancelled(session: Session, appointment: Appointment) -> None:
    visit = repo.visit_by_appointment(session, appointment.id)
    if visit is None or visit.status not in (VisitStatus.booked, VisitStatus.lobby):
        return
    visit.status = VisitStatus.cancelled
    notify.withdraw(session, [f"appointment:{appointment.id}:reminder", f"visit:{visit.id}:join"])
    session.flush()


def install_hooks() -> None:
    """Make bookings create visits (idempotent; done when this module loads)."""
    if on_booked not in scheduling.on_booked:
        scheduling.on_booked.append(on_booked)
    if on_cancelled not in scheduling.on_cancelled:
        scheduling.on_cancelled.append(on_cancelled)


install_hooks()


def cancel_visit(session: Session, *, visit: Visit, reason: str | None = None) -> Visit:
    if visit.appointment_id is not None and visit.status == VisitStatus.booked:
        scheduling.cancel(session, appointment_id=visit.appointment_id, reason=reason)
    elif visit.status == VisitStatus.queued:
        visit.status = VisitStatus.cancelled
    else:
        raise Conflict(
            f"A visit that is {visit.status.value} cannot be cancelled.",
            errors=[FieldError("status", visit.status.value)],
        )
    session.flush()
    return visit


# The room (called by the room's routes).


def visit_for_room(session: Session, visit_id: int) -> Visit:
    visit = get_visit(session, visit_id)
    if visit.status in (VisitStatus.closed, VisitStatus.cancelled):
        raise Conflict(
            f"The visit is {visit.status.value}.", errors=[FieldError("status", visit.status.value)]
        )
    return visit


def mark_lobby(session: Session, visit: Visit) -> Visit:
    if visit.status in (VisitStatus.booked, VisitStatus.queued):
        visit.status = VisitStatus.lobby
        session.flush()
    return visit


def mark_in_call(session: Session, visit: Visit) -> Visit:
    if visit.status in (VisitStatus.booked, VisitStatus.queued, VisitStatus.lobby):
        visit.status = VisitStatus.in_call
        visit.started_at = visit.started_at or utcnow()
        visit.ended_at = None
        session.flush()
    return visit


def end_call(session: Session, visit: Visit) -> Visit:
    if visit.status == VisitStatus.in_call:
        visit.ended_at = utcnow()
        session.flush()
    return visit


# The clinician's note and the close.


def _refuse_closed(visit: Visit) -> None:
    if visit.status in (VisitStatus.closed, VisitStatus.cancelled):
        raise Conflict(
            f"The visit is {visit.status.value}; its note can no longer change.",
            errors=[FieldError("status", visit.status.value)],
        )


def save_note(session: Session, *, visit: Visit, note: VisitNote) -> Visit:
    _refuse_closed(visit)
    for name in ("complaints", "findings", "assessment", "plan", "diagnoses"):
        if name in note.model_fields_set:
            setattr(visit, name, getattr(note, name))
    session.flush()
    return visit


def _ledger_day(session: Session, visit: Visit, moment: datetime) -> date:
    return moment.astimezone(ZoneInfo(_facility_tz(session, visit.facility_id))).date()


def close_visit(
    session: Session,
    *,
    visit: Visit,
    data: VisitClose,
    by_user_id: int | None,
    practitioner_id: int | None = None,
) -> CloseResult:
    """Close with the note and outcome; count it in the ledger; book the
    follow-up when a slot is given."""
    if visit.status == VisitStatus.closed:
        raise Conflict("The visit is already closed.", errors=[FieldError("status", "closed")])
    if visit.status not in OPEN:
        raise Conflict(
            f"A visit that is {visit.status.value} has not started and cannot be closed.",
            errors=[FieldError("status", visit.status.value)],
        )
    save_note(session, visit=visit, note=data)
    if not visit.diagnoses:
        raise Unprocessable(
            "Give at least one ICD-10 diagnosis to close the visit.",
            errors=[FieldError("diagnoses", "required")],
        )
    now = utcnow()
    visit.started_at = visit.started_at or now
    visit.ended_at = visit.ended_at or now
    visit.outcome = data.outcome
    visit.status = VisitStatus.closed
    visit.closed_by_user_id = by_user_id
    if visit.practitioner_role_id is None and practitioner_id is not None:
        visit.practitioner_role_id = repo.practitioner_role_at(
            session, practitioner_id, visit.facility_id
        )
    if visit.appointment_id is not None:
        appointment = session.get(Appointment, visit.appointment_id)
        if appointment is not None and appointment.status == AppointmentStatus.booked:
            appointment.status = AppointmentStatus.fulfilled
    entries = count_in_ledger(session, visit)
    follow_up = None
    if data.follow_up_slot_id is not None:
        follow_up = book_visit(
            session,
            data=BookVisit(
                patient_id=visit.patient_id,
                slot_id=data.follow_up_slot_id,
                reason=f"Follow-up of visit {visit.id}",
                idempotency_key=f"visit:{visit.id}:follow-up",
            ),
            by_user_id=by_user_id,
        )
        follow_up.triage_id = visit.triage_id
        follow_up.service_id = visit.service_id
    session.flush()
    return CloseResult(
        visit=visit_read(session, visit),
        ledger_entry_ids=entries,
        follow_up_visit_id=follow_up.id if follow_up else None,
    )


def count_in_ledger(session: Session, visit: Visit) -> list[int]:
    """The visit's consultation row and, when it spared a trip, its
    visit-avoided row; a second call adds nothing."""
    assert visit.ended_at is not None and visit.outcome is not None
    day = _ledger_day(session, visit, visit.ended_at)
    rows = [(visit.service_id or service_id_of(session, ARI_SERVICE), f"visit:{visit.id}")]
    if visit.outcome in AVOIDING:
        rows.append((service_id_of(session, AVOIDED_SERVICE), f"visit:{visit.id}:avoided"))
    ids = []
    for service_id, ref in rows:
        entry = ledger.record(
            session,
            facility_id=visit.facility_id,
            day=day,
            service_id=service_id,
            mode=Mode.virtual,
            patient_id=visit.patient_id,
            source=LedgerSource.visit,
            source_ref=ref,
        )
        if entry is not None:
            ids.append(entry.id)
    return ids


# Worklist.


@dataclass(frozen=True)
class WorkItem:
    visit: Visit
    patient: str
    starts_at: datetime | None


@dataclass(frozen=True)
class Worklist:
    day: date
    timezone: str
    today: list[WorkItem]
    queue: list[WorkItem]


def worklist(
    session: Session, *, facility_ids: Collection[int], timezone: str, day: date | None = None
) -> Worklist:
    """Today's booked visits (in ``timezone``) and the queue of the facilities."""
    zone = ZoneInfo(timezone)
    local_day = day or utcnow().astimezone(zone).date()
    start = datetime.combine(local_day, datetime.min.time(), zone)
    end = start + timedelta(days=1)
    booked = repo.booked_between(session, facility_ids, start, end)
    waiting = repo.queue(session, facility_ids)
    people = {v.patient_id for v, _ in booked} | {v.patient_id for v in waiting}
    names = repo.patient_names(session, people)
    return Worklist(
        day=local_day,
        timezone=timezone,
        today=[WorkItem(v, names.get(v.patient_id, ""), s) for v, s in booked],
        queue=[WorkItem(v, names.get(v.patient_id, ""), None) for v in waiting],
    )


# Documents.


def issue_document(
    session: Session, *, visit: Visit, data: DocumentCreate, by_user_id: int | None
) -> VisitDocument:
    """A prescription or sick-leave certificate, in the patient's language."""
    if visit.status not in (*OPEN, VisitStatus.closed):
        raise Conflict(
            "Documents are issued during or after the visit.",
            errors=[FieldError("status", visit.status.value)],
        )
    patient = repo.get_patient(session, visit.patient_id)
    language = patient.preferred_language if patient else "en"
    content: dict[str, Any]
    if data.kind == DocumentKind.prescription:
        content = {"items": [i.model_dump() for i in data.items]}
    else:
        content = {
            "off_work_from": data.off_work_from.isoformat() if data.off_work_from else None,
            "off_work_until": data.off_work_until.isoformat() if data.off_work_until else None,
        }
    content["diagnoses"] = list(visit.diagnoses or [])
    row = VisitDocument(
        visit_id=visit.id,
        kind=data.kind,
        language=language if language in ("en", "es", "ru", "vi") else "en",
        content=content,
        issued_at=utcnow(),
        issued_by_user_id=by_user_id,
    )
    session.add(row)
    session.flush()
    return row


def get_document(session: Session, *, visit: Visit, document_id: int) -> VisitDocument:
    found = repo.get_document(session, visit.id, document_id)
    if found is None:
        raise NotFound(
            f"No document {document_id} in visit {visit.id}.",
            errors=[FieldError("document_id", "unknown")],
        )
    return found


def documents(session: Session, *, visit: Visit) -> list[VisitDocument]:
    return repo.documents(session, visit.id)


# Counting, straight from the ledger.


def figures(
    session: Session,
    *,
    start: date | None,
    end: date | None,
    facility_ids: Collection[int] | None,
    region: str | None,
    group_by: Sequence[str],
    limit: int = 1000,
) -> VisitFigures:
    """Consultations, unique patients and visits avoided, overall and by
    facility / region / day, summed from the visits' ledger entries."""
    if start is not None and end is not None and end < start:
        raise Unprocessable(
            "The period ends before it starts.", errors=[FieldError("end", "is before start")]
        )
    codes = catalog.service_ids_by_code(session, [ARI_SERVICE, VISIT_SERVICE, AVOIDED_SERVICE])
    region_ids = None
    if region is not None:
        region_ids = repo.region_ids_under(session, region)
        if region_ids is None:
            raise Unprocessable(
                f"No region with code '{region}'.", errors=[FieldError("region", "unknown")]
            )
    args = {
        "consultation_ids": [codes[c] for c in (ARI_SERVICE, VISIT_SERVICE) if c in codes],
        "avoided_id": codes.get(AVOIDED_SERVICE),
        "start": start,
        "end": end,
        "facility_ids": facility_ids,
        "region_ids": region_ids,
    }
    [overall] = repo.ledger_counts(session, group_by=[], limit=1, **args)  # type: ignore[arg-type]
    keys = list(dict.fromkeys(group_by))
    rows = repo.ledger_counts(session, group_by=keys, limit=limit, **args) if keys else []  # type: ignore[arg-type]
    return VisitFigures(
        consultations=int(overall["consultations"]),
        unique_patients=int(overall["unique_patients"]),
        visits_avoided=int(overall["visits_avoided"]),
        groups=[FigureGroup.model_validate(r) for r in rows],
    )


# Small lookups the routes need.


def slot_facility(session: Session, slot_id: int) -> int:
    slot = session.get(Slot, slot_id)
    if slot is None:
        raise NotFound(f"No slot {slot_id}.", errors=[FieldError("slot_id", "unknown")])
    return slot.facility_id


def queue_facility(session: Session, data: JoinQueue) -> int:
    """The facility asked for, or the patient's home polyclinic."""
    if data.facility_id is not None:
        if repo.get_facility(session, data.facility_id) is None:
            raise Unprocessable(
                f"No facility {data.facility_id}.", errors=[FieldError("facility_id", "unknown")]
            )
        return data.facility_id
    patient = repo.get_patient(session, data.patient_id)
    if patient is None or patient.home_facility_id is None:
        raise Unprocessable(
            "The patient has no home facility; say which facility's queue.",
            errors=[FieldError("facility_id", "required")],
        )
    return patient.home_facility_id


def practitioner_of(session: Session, principal: Principal) -> int | None:
    user = session.get(User, principal.user_id)
    return user.practitioner_id if user else None


def worklist_scope(
    session: Session, principal: Principal, facility_id: int | None
) -> tuple[frozenset[int], str]:
    """The facilities of a clinician's worklist and the time zone of its day."""
    scope = facility_scope(session, principal, Permission.visit_conduct)
    if facility_id is not None:
        if not scope.covers(facility_id):
            raise Forbidden(
                "That facility is not one of yours.",
                errors=[FieldError("facility_id", "outside your facilities")],
            )
        ids = frozenset({facility_id})
    elif scope.everywhere:
        raise Unprocessable(
            "Say which facility's worklist.", errors=[FieldError("facility_id", "required")]
        )
    else:
        ids = scope.ids
    first = min(ids) if ids else None
    return ids, _facility_tz(session, first) if first is not None else "UTC"


def visits_of(
    session: Session, *, where: ColumnElement[bool], patient_id: int | None, limit: int
) -> list[Visit]:
    condition = where if patient_id is None else and_(where, Visit.patient_id == patient_id)
    return repo.patient_visits(session, condition, limit=limit)


def document_facts(session: Session, *, visit: Visit, document: VisitDocument) -> DocumentFacts:
    patient = repo.get_patient(session, visit.patient_id)
    facility = repo.get_facility(session, visit.facility_id)
    assert patient is not None and facility is not None
    content = document.content
    return DocumentFacts(
        kind=document.kind,
        language=document.language,
        number=f"{visit.id}-{document.id}",
        issued_at=document.issued_at,
        facility=facility.name,
        facility_address=", ".join(p for p in (facility.address, facility.city) if p) or None,
        practitioner=repo.practitioner_name(session, visit.practitioner_role_id),
        patient=f"{patient.family_name} {patient.given_names}",
        patient_birth_date=patient.birth_date,
        patient_sex=patient.sex,
        diagnoses=list(content.get("diagnoses") or visit.diagnoses or []),
        items=list(content.get("items") or []),
        off_work_from=_day(content.get("off_work_from")),
        off_work_until=_day(content.get("off_work_until")),
    )


def _day(value: object) -> date | None:
    return date.fromisoformat(value) if isinstance(value, str) else None
