"""Writing notifications: the outbox row is added in the caller's
transaction, so a message exists exactly when what caused it committed.

Each message has a dedupe key naming its cause (``appointment:12:booked``);
writing the same key again adds nothing, so a retried booking never sends
twice. Text is rendered now, in the patient's language, from the templates
below; links are stored as ``{public_url}/…`` and completed by the
dispatcher with the server's public address (services do not know it).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from puente.access.models import User
from puente.config import LANGUAGES
from puente.db import utcnow
from puente.enums import OutboxStatus
from puente.i18n import format_moment, gettext
from puente.notify.models import OutboxMessage
from puente.people.models import Patient, Practitioner

PUBLIC_URL = "{public_url}"


def _(text: str) -> str:
    return text  # marks msgids; translated when rendered


# template → (subject, body); English msgids translated in notify.po.
TEMPLATES: dict[str, tuple[str, str]] = {
    "booking_confirmed": (
        _("Your virtual visit is booked"),
        _("Your virtual visit at {facility} is booked for {when}. Open {link} to join it."),
    ),
    "visit_reminder": (
        _("Reminder: your virtual visit"),
        _("Reminder: your virtual visit at {facility} starts at {when}."),
    ),
    "join_link": (
        _("Your virtual visit is about to start"),
        _("Your doctor at {facility} will see you at {when}. Join here: {link}"),
    ),
    "conference_scheduled": (
        _("Case conference: {title}"),
        _(
            "You are invited to a case conference of {facility} at {when}: {title}. "
            "Cases on the agenda: {cases}. Join it here: {link}"
        ),
    ),
    "conference_cancelled": (
        _("Cancelled: case conference {title}"),
        _("The case conference of {facility} at {when} is cancelled: {title}."),
    ),
    "consult_overdue": (
        _("Response deadline passed: case {case} ({urgency})"),
        _(
            "Case {case} ({urgency}) from {spoke} has passed its response deadline at "
            "{facility}. Assign a specialist by {when}, or it goes on to the next hub; decline "
            "it to send it on now: {link}"
        ),
    ),
    "consult_escalated": (
        _("Overdue case for your hub: case {case} ({urgency})"),
        _(
            "Case {case} ({urgency}) from {spoke} was not answered in time elsewhere and has "
            "come to {facility}. Answer by {when}: {link}"
        ),
    ),
    "consult_unrouted": (
        _("No hub left for case {case} ({urgency})"),
        _(
            "No hub answered case {case} ({urgency}) in time and there is none left to send "
            "it to. Contact a hub directly: {link}"
        ),
    ),
    "queue_joined": (
        _("You are in the queue for a virtual visit"),
        _("You are in the queue of {facility}. Keep this page open: {link}"),
    ),
}


def channel_for(patient: Patient) -> tuple[str, str]:
    """(channel, recipient): e-mail when known, else SMS, else the log."""
    if patient.email:
        return "email", patient.email
    if patient.phone:
        return "sms", patient.phone
    return "log", f"patient:{patient.id}"


def render(template: str, language: str, **values: Any) -> tuple[str, str]:
    subject, body = TEMPLATES[template]
    return gettext(subject, language), gettext(body, language).format(**values)


def when(moment: datetime, timezone: str, language: str | None) -> str:
    """The moment as the message's language writes it: a patient's preferred
    language Puente has no messages in (Uzbek, Lao, …) gets English, as
    :func:`enqueue` does."""
    return format_moment(
        moment, timezone, language if language in LANGUAGES else "en", fmt="medium"
    )


def enqueue(
    session: Session,
    *,
    patient: Patient,
    template: str,
    dedupe_key: str,
    values: Mapping[str, str],
    send_after: datetime | None = None,
) -> None:
    """Add one message to the outbox unless its dedupe key is there already."""
    language = patient.preferred_language if patient.preferred_language in LANGUAGES else "en"
    subject, body = render(template, language, **values)
    channel, recipient = channel_for(patient)
    _insert(
        session,
        channel=channel,
        recipient=recipient,
        patient_id=patient.id,
        language=language,
        template=template,
        subject=subject,
        body=body,
        dedupe_key=dedupe_key,
        send_after=send_after,
    )


def contact_for_user(session: Session, user: User) -> tuple[str, str]:
    """(channel, recipient) of a staff account: its practitioner's e-mail,
    else phone, else the log."""
    practitioner = session.get(Practitioner, user.practitioner_id) if user.practitioner_id else None
    if practitioner is not None and practitioner.email:
        return "email", practitioner.email
    if practitioner is not None and practitioner.phone:
        return "sms", practitioner.phone
    return "log", f"user:{user.id}"


def enqueue_for_user(
    session: Session,
    *,
    user: User,
    template: str,
    dedupe_key: str,
    values: Mapping[str, str],
    send_after: datetime | None = None,
) -> None:
    """Add one message for a staff account (in its language) unless its
    dedupe key is there already."""
    language = user.preferred_language if user.preferred_language in LANGUAGES else "en"
    subject, body = render(template, language, **values)
    channel, recipient = contact_for_user(session, user)
    _insert(
        session,
        channel=channel,
        recipient=recipient,
        patient_id=None,
        language=language,
        template=template,
        subject=subject,
        body=body,
        dedupe_key=dedupe_key,
        send_after=send_after,
    )


def _insert(
    session: Session,
    *,
    channel: str,
    recipient: str,
    patient_id: int | None,
    language: str,
    template: str,
    subject: str,
    body: str,
    dedupe_key: str,
    send_after: datetime | None,
) -> None:
    row = {
        "channel": channel,
        "recipient": recipient,
        "patient_id": patient_id,
        "language": language,
        "template": template,
        "subject": subject[:200],
        "body": body,
        "dedupe_key": dedupe_key,
        "status": OutboxStatus.pending,
        "send_after": send_after or utcnow(),
        "attempts": 0,
        "created_at": utcnow(),
    }
    session.flush()
    dialect = session.get_bind().dialect.name
    maker = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = maker(OutboxMessage).values(row).on_conflict_do_nothing(index_elements=["dedupe_key"])
    session.execute(stmt)


def withdraw(session: Session, dedupe_keys: Collection[str]) -> None:
    """Drop messages not sent yet (a cancelled visit needs no reminder)."""
    session.execute(
        delete(OutboxMessage).where(
            OutboxMessage.dedupe_key.in_(sorted(dedupe_keys)),
            OutboxMessage.status == OutboxStatus.pending,
        )
    )
