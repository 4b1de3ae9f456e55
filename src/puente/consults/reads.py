"""Consult rows as the API and the pages show them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from puente.consults import repository as repo
from puente.consults.models import ConsultCase, ConsultFile, ConsultMessage
from puente.consults.schemas import (
    CaseDetail,
    CaseRead,
    EventRead,
    FileRead,
    MessageRead,
    QueueItem,
)
from puente.db import utcnow


def file_url(row: ConsultFile) -> str:
    return f"/api/consults/{row.case_id}/files/{row.id}"


def file_read(row: ConsultFile) -> FileRead:
    return FileRead(
        id=row.id,
        side=row.side,
        filename=row.filename,
        content_type=row.content_type,
        size=row.size,
        sha256=row.sha256,
        uploaded_at=row.uploaded_at,
        url=file_url(row),
    )


def message_reads(session: Session, rows: Sequence[ConsultMessage]) -> list[MessageRead]:
    names = repo.usernames(session, [m.sender_user_id for m in rows])
    return [
        MessageRead(
            id=m.id,
            side=m.side,
            sender=names.get(m.sender_user_id) if m.sender_user_id else None,
            body=m.body,
            sent_at=m.sent_at,
        )
        for m in rows
    ]


def case_reads(session: Session, rows: Sequence[ConsultCase]) -> list[CaseRead]:
    facility_ids = {
        i
        for c in rows
        for i in (c.spoke_facility_id, c.hub_facility_id, c.transfer_facility_id)
        if i is not None
    }
    places = repo.facilities(session, facility_ids)
    specialties = repo.specialty_codes(session, {c.specialty_id for c in rows})
    names = repo.usernames(session, [c.assigned_user_id for c in rows])
    out = []
    for c in rows:
        spoke = places[c.spoke_facility_id]
        hub = places.get(c.hub_facility_id) if c.hub_facility_id else None
        moved = places.get(c.transfer_facility_id) if c.transfer_facility_id else None
        out.append(
            CaseRead(
                id=c.id,
                spoke_facility_code=spoke.code,
                spoke_facility_name=spoke.name,
                hub_facility_code=hub.code if hub else None,
                hub_facility_name=hub.name if hub else None,
                patient_id=c.patient_id,
                patient_age_years=c.patient_age_years,
                patient_sex=c.patient_sex,
                specialty_code=specialties[c.specialty_id],
                urgency=c.urgency,
                status=c.status,
                question=c.question,
                clinical_summary=c.clinical_summary,
                vitals=dict(c.vitals or {}),
                answer_language=c.answer_language,
                requested_at=c.requested_at,
                due_at=c.due_at,
                first_due_at=c.first_due_at,
                breached=is_breached(c, utcnow()),
                escalation_stage=c.escalation_stage,
                assigned_user=names.get(c.assigned_user_id) if c.assigned_user_id else None,
                answered_at=c.answered_at,
                assessment=c.assessment,
                diagnoses=list(c.diagnoses or []),
                plan=c.plan,
                transfer=c.transfer,
                transfer_facility_code=moved.code if moved else None,
                transfer_urgency=c.transfer_urgency,
                outcome=c.outcome,
                outcome_note=c.outcome_note,
                outcome_at=c.outcome_at,
            )
        )
    return out


def is_breached(case: ConsultCase, now: datetime) -> bool:
    """Answered after its first deadline, or still unanswered past it (or
    already escalated for it)."""
    if case.breached_at is not None:
        return True
    if case.answered_at is not None:
        return case.answered_at > case.first_due_at
    return now > case.first_due_at


def case_detail(session: Session, case: ConsultCase) -> CaseDetail:
    base = case_reads(session, [case])[0]
    events = repo.events(session, case.id)
    places = repo.facilities(session, {e.hub_facility_id for e in events if e.hub_facility_id})
    names = repo.usernames(session, [e.user_id for e in events])
    return CaseDetail(
        **base.model_dump(),
        events=[
            EventRead(
                at=e.at,
                kind=e.kind,
                hub_facility_code=places[e.hub_facility_id].code if e.hub_facility_id else None,
                user=names.get(e.user_id) if e.user_id else None,
                detail=e.detail,
            )
            for e in events
        ],
        messages=message_reads(session, repo.messages(session, case.id)),
        files=[file_read(f) for f in repo.files(session, case.id)],
    )


def queue_items(session: Session, rows: Sequence[ConsultCase], now: datetime) -> list[QueueItem]:
    reads = case_reads(session, rows)
    return [
        QueueItem(
            id=r.id,
            urgency=r.urgency,
            status=r.status,
            specialty_code=r.specialty_code,
            spoke_facility_code=r.spoke_facility_code,
            spoke_facility_name=r.spoke_facility_name,
            question=r.question,
            due_at=r.due_at,
            seconds_left=int((r.due_at - now).total_seconds()),
            escalation_stage=r.escalation_stage,
            assigned_user=r.assigned_user,
        )
        for r in reads
    ]
