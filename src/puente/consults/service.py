"""The rules of a case: ask, route, assign, decline, answer, talk, close.

Functions take the session and keyword arguments, flush, and never commit.
Access (who may act on which case) is decided in :mod:`puente.consults.access`
before these are called.

Errors::

    NotFound      404  an unknown case, specialty, facility or specialist
    Conflict      409  an Idempotency-Key reused for another request; an act
                       that the case's state does not allow
    Unprocessable 422  a specialist who does not work at the hub
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from puente.access.models import PatientShare
from puente.consults import deadlines
from puente.consults import repository as repo
from puente.consults.models import ConsultCase, ConsultMessage
from puente.consults.schemas import Answer, CaseCreate
from puente.db import insert_unless_twin, utcnow
from puente.enums import ConsultOutcome, ConsultSide, ConsultStatus, LedgerSource, Mode
from puente.errors import Conflict, FieldError, NotFound
from puente.ledger import service as ledger
from puente.network.models import Facility
from puente.people.models import Patient

GENERIC_SERVICE = "remote-consultation"
# How long the answering specialist still sees the patient once the spoke
# has closed the case (questions in the thread, a late correction).
FOLLOW_UP_ACCESS = timedelta(days=30)


def not_found(case_id: int) -> NotFound:
    return NotFound(f"No consultation case {case_id}.", errors=[FieldError("case_id", "unknown")])


def request_hash(data: CaseCreate) -> str:
    body = json.dumps(data.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(body.encode()).hexdigest()


def create_case(
    session: Session,
    *,
    data: CaseCreate,
    spoke_facility_id: int,
    specialty_id: int,
    by_user_id: int | None,
    idempotency_key: str | None = None,
    now: datetime | None = None,
) -> tuple[ConsultCase, bool]:
    """Open a case at the first hub for it. With an ``idempotency_key`` a
    resubmission returns the first case (and True); the same key with a
    different body is a Conflict."""
    moment = now or utcnow()
    digest = request_hash(data)

    def replay(earlier: ConsultCase) -> tuple[ConsultCase, bool]:
        if earlier.request_hash != digest:
            raise Conflict(
                "This Idempotency-Key was already used for another case.",
                errors=[FieldError("Idempotency-Key", "used for another request")],
            )
        return earlier, True

    if idempotency_key is not None:
        earlier = repo.case_by_key(session, idempotency_key)
        if earlier is not None:
            return replay(earlier)
    spoke = session.get(Facility, spoke_facility_id)
    assert spoke is not None
    local_day = moment.astimezone(ZoneInfo(spoke.timezone)).date()
    program_id = repo.program_of(session, spoke_facility_id, local_day)
    case = ConsultCase(
        spoke_facility_id=spoke_facility_id,
        requested_by_user_id=by_user_id,
        patient_id=data.patient_id,
        patient_age_years=data.patient_age_years,
        patient_sex=data.patient_sex,
        specialty_id=specialty_id,
        program_id=program_id,
        urgency=data.urgency,
        question=data.question,
        clinical_summary=data.clinical_summary,
        vitals=data.vitals.model_dump(exclude_none=True),
        answer_language=data.answer_language,
        status=ConsultStatus.open,
        requested_at=moment,
        due_at=moment,
        first_due_at=moment,
        escalation_stage=0,
        diagnoses=[],
        idempotency_key=idempotency_key,
        request_hash=digest,
    )
    if data.patient_id is not None:
        patient = session.get(Patient, data.patient_id)
        if patient is not None and case.patient_sex is None:
            case.patient_sex = patient.sex
    if idempotency_key is not None:
        # A twin sent in parallel may have committed since the look-up above.
        twin = insert_unless_twin(session, case, lambda: repo.case_by_key(session, idempotency_key))
        if twin is not None:
            return replay(twin)
    else:
        session.add(case)
        session.flush()
    deadlines.event(session, case, "created", at=moment, user_id=by_user_id)
    deadlines.move_on(session, case, now=moment, kind="routed", user_id=by_user_id)
    case.first_due_at = case.due_at
    session.flush()
    return case, False


def _open(case: ConsultCase, what: str) -> None:
    if case.status not in (ConsultStatus.open, ConsultStatus.assigned):
        raise Conflict(
            f"A case that is {case.status.value} cannot be {what}.",
            errors=[FieldError("status", case.status.value)],
        )


def assign(
    session: Session,
    *,
    case: ConsultCase,
    specialist_user_id: int,
    by_user_id: int | None,
    note: str | None = None,
    now: datetime | None = None,
) -> ConsultCase:
    """Give the case to a hub specialist (again: a reassignment). The
    specialist may then open the patient's record through a consult share."""
    _open(case, "assigned")
    moment = now or utcnow()
    kind = "reassigned" if case.assigned_user_id is not None else "assigned"
    case.assigned_user_id = specialist_user_id
    case.status = ConsultStatus.assigned
    detail = f"to user {specialist_user_id}" + (f": {note}" if note else "")
    deadlines.event(
        session,
        case,
        kind,
        at=moment,
        hub_id=case.hub_facility_id,
        user_id=by_user_id,
        detail=detail,
    )
    repo.end_consult_shares(session, case.id, at=moment, keep_user_id=specialist_user_id)
    if case.patient_id is not None and not repo.consult_share_of(
        session, case.id, specialist_user_id, moment
    ):
        session.add(
            PatientShare(
                patient_id=case.patient_id,
                user_id=specialist_user_id,
                reason="consult",
                reference=f"consult:{case.id}",
                created_at=moment,
            )
        )
    session.flush()
    return case


def decline(
    session: Session,
    *,
    case: ConsultCase,
    reason: str,
    by_user_id: int | None,
    now: datetime | None = None,
) -> ConsultCase:
    """The hub declines with a reason; the case goes on to the next hub."""
    _open(case, "declined")
    moment = now or utcnow()
    deadlines.event(
        session,
        case,
        "declined",
        at=moment,
        hub_id=case.hub_facility_id,
        user_id=by_user_id,
        detail=reason,
    )
    deadlines.move_on(session, case, now=moment, kind="routed", user_id=by_user_id)
    session.flush()
    return case


def answer(
    session: Session,
    *,
    case: ConsultCase,
    data: Answer,
    transfer_facility_id: int | None,
    by_user_id: int | None,
    now: datetime | None = None,
) -> tuple[ConsultCase, int | None]:
    """Write the recommendation and count the consultation in the ledger (at
    the hub, for the spoke's patient). Returns the ledger entry id. The same
    answer sent again by its author (a resubmission after a dropped line)
    changes nothing and returns the same entry."""
    if case.answered_at is not None and case.answered_by_user_id == by_user_id:
        given = (data.assessment, list(data.diagnoses), data.plan, data.transfer)
        kept = (case.assessment, list(case.diagnoses or []), case.plan, case.transfer)
        where = (transfer_facility_id, data.transfer_urgency)
        if given == kept and where == (case.transfer_facility_id, case.transfer_urgency):
            return case, count_in_ledger(session, case)
    _open(case, "answered")
    moment = now or utcnow()
    hub_id = case.hub_facility_id
    assert hub_id is not None
    case.assessment = data.assessment
    case.diagnoses = list(data.diagnoses)
    case.plan = data.plan
    case.transfer = data.transfer
    case.transfer_facility_id = transfer_facility_id
    case.transfer_urgency = data.transfer_urgency
    case.answered_at = moment
    case.answered_by_user_id = by_user_id
    case.answer_facility_id = hub_id
    case.assigned_user_id = case.assigned_user_id or by_user_id
    case.status = ConsultStatus.answered
    deadlines.event(session, case, "answered", at=moment, hub_id=hub_id, user_id=by_user_id)
    session.flush()
    return case, count_in_ledger(session, case)


def count_in_ledger(session: Session, case: ConsultCase) -> int | None:
    """One remote consultation (of the case's specialty when the catalog has
    such a service) at the answering hub, on its local day; a second call
    adds nothing."""
    assert case.answered_at is not None and case.answer_facility_id is not None
    hub = session.get(Facility, case.answer_facility_id)
    assert hub is not None
    service_id = repo.consult_service_id(session, case.specialty_id) or repo.service_id_by_code(
        session, GENERIC_SERVICE
    )
    if service_id is None:
        raise NotFound(
            f"The catalog has no '{GENERIC_SERVICE}' service; load the catalog first.",
            errors=[FieldError("service", "missing")],
        )
    entry = ledger.record(
        session,
        facility_id=hub.id,
        day=case.answered_at.astimezone(ZoneInfo(hub.timezone)).date(),
        service_id=service_id,
        mode=Mode.virtual,
        patient_id=case.patient_id,
        source=LedgerSource.consult,
        source_ref=f"consult:{case.id}",
    )
    return entry.id if entry is not None else None


def post_message(
    session: Session,
    *,
    case: ConsultCase,
    side: ConsultSide,
    body: str,
    by_user_id: int | None,
    idempotency_key: str | None = None,
    now: datetime | None = None,
) -> tuple[ConsultMessage, bool]:
    """Add to the thread (either side, whenever: store and forward)."""

    def replay(earlier: ConsultMessage) -> tuple[ConsultMessage, bool]:
        if earlier.case_id != case.id or earlier.body != body:
            raise Conflict(
                "This Idempotency-Key was already used for another message.",
                errors=[FieldError("Idempotency-Key", "used for another request")],
            )
        return earlier, True

    if idempotency_key is not None:
        earlier = repo.message_by_key(session, idempotency_key)
        if earlier is not None:
            return replay(earlier)
    row = ConsultMessage(
        case_id=case.id,
        side=side,
        sender_user_id=by_user_id,
        body=body,
        sent_at=now or utcnow(),
        idempotency_key=idempotency_key,
    )
    key = idempotency_key
    twin = insert_unless_twin(session, row, lambda: repo.message_by_key(session, key or ""))
    if twin is not None:
        return replay(twin)
    return row, False


def record_outcome(
    session: Session,
    *,
    case: ConsultCase,
    outcome: ConsultOutcome,
    note: str | None,
    by_user_id: int | None,
    now: datetime | None = None,
) -> ConsultCase:
    """The spoke says what became of the patient; the case closes. It may be
    corrected later (the last word counts, every word is kept). The same
    word sent again (a resubmission after a dropped line) changes nothing."""
    if case.status not in (ConsultStatus.answered, ConsultStatus.closed):
        raise Conflict(
            "The outcome is recorded after the hub has answered.",
            errors=[FieldError("status", case.status.value)],
        )
    if case.status == ConsultStatus.closed and (case.outcome, case.outcome_note) == (
        outcome,
        note,
    ):
        return case
    moment = now or utcnow()
    case.outcome = outcome
    case.outcome_note = note
    case.outcome_at = moment
    case.status = ConsultStatus.closed
    deadlines.event(session, case, "outcome", at=moment, user_id=by_user_id, detail=outcome.value)
    repo.close_consult_shares(session, case.id, until=moment + FOLLOW_UP_ACCESS)
    session.flush()
    return case
