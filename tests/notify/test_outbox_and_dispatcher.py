"""The outbox: one message per cause, delivered by the sender of its channel
(log, a real SMTP conversation, an HTTP SMS gateway), retried with backoff."""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Iterator
from datetime import timedelta
from email import message_from_bytes
from email.policy import default
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from puente.config import Settings
from puente.db import utcnow
from puente.enums import OutboxStatus
from puente.notify import service as notify
from puente.notify.dispatcher import MAX_ATTEMPTS, backoff, dispatch_due, run
from puente.notify.models import OutboxMessage
from puente.notify.senders import HttpSmsSender, LogSender, SmtpSender, senders_from
from tests import factories as f


def irina(db: Session, **contact: Any) -> Any:
    return f.patient(db, "Соколова", "Ирина", citizenship="RU", preferred_language="ru", **contact)


def booked(db: Session, patient: Any, key: str = "appointment:1:booked") -> None:
    notify.enqueue(
        db,
        patient=patient,
        template="booking_confirmed",
        dedupe_key=key,
        values={"facility": "Поликлиника № 12", "when": "1 дек.", "link": "{public_url}/visits/7"},
    )


def messages(db: Session) -> list[OutboxMessage]:
    return list(db.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


class Recorder:
    def __init__(self) -> None:
        self.mail: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.mail.append(envelope)
        return "250 OK"


@pytest.fixture
def smtp_server() -> Iterator[tuple[Controller, Recorder]]:
    recorder = Recorder()
    with socket.socket() as probe:  # a free port on loopback
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(recorder, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield controller, recorder
    finally:
        controller.stop()


def test_the_same_cause_is_written_once_in_the_patients_language(db: Session) -> None:
    patient = irina(db)
    booked(db, patient)
    booked(db, patient)
    [only] = messages(db)
    assert only.language == "ru" and only.channel == "log"
    assert only.subject == "Вы записаны на телемедицинский приём"
    assert "Поликлиника № 12" in only.body


def test_the_log_sender_delivers_and_links_get_the_public_address(
    db: Session, caplog: pytest.LogCaptureFixture
) -> None:
    booked(db, irina(db))
    with caplog.at_level(logging.INFO, logger="puente.notify"):
        result = dispatch_due(db, senders={"log": LogSender()}, public_url="https://puente.example")
    assert (result.sent, result.retrying, result.failed) == (1, 0, 0)
    assert "https://puente.example/visits/7" in caplog.text
    [sent] = messages(db)
    assert sent.status == OutboxStatus.sent and sent.attempts == 1


def test_a_message_due_later_waits(db: Session) -> None:
    patient = irina(db)
    notify.enqueue(
        db,
        patient=patient,
        template="visit_reminder",
        dedupe_key="appointment:1:reminder",
        values={"facility": "GP12", "when": "завтра"},
        send_after=utcnow() + timedelta(hours=2),
    )
    assert dispatch_due(db, senders={"log": LogSender()}).sent == 0


def test_email_goes_through_a_real_smtp_conversation(
    db: Session, smtp_server: tuple[Controller, Recorder]
) -> None:
    controller, recorder = smtp_server
    booked(db, irina(db, email="irina@example.org"))
    sender = SmtpSender(host="127.0.0.1", port=controller.port, starttls=False)
    result = dispatch_due(db, senders={"email": sender}, public_url="https://p.example")
    assert result.sent == 1
    [mail] = recorder.mail
    assert mail.rcpt_tos == ["irina@example.org"]
    parsed = message_from_bytes(mail.content, policy=default)
    assert parsed["Subject"] == "Вы записаны на телемедицинский приём"
    assert "https://p.example/visits/7" in parsed.get_content()


def test_sms_is_posted_to_the_gateway(db: Session) -> None:
    seen: list[dict[str, Any]] = []

    def gateway(request: httpx.Request) -> httpx.Response:
        assert request.headers["authorization"] == "Bearer s3cret"
        seen.append(json.loads(request.content))
        return httpx.Response(202, json={"id": "m1"})

    booked(db, irina(db, phone="+7 495 123-45-67"))
    client = httpx.Client(transport=httpx.MockTransport(gateway))
    sender = HttpSmsSender(url="https://sms.example/send", token="s3cret", client=client)
    assert dispatch_due(db, senders={"sms": sender}).sent == 1
    assert seen[0]["to"] == "+7 495 123-45-67"
    assert "Вы записаны" in seen[0]["text"]


def test_a_failing_gateway_is_retried_with_backoff_then_given_up(db: Session) -> None:
    client = httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(503)))
    sender = HttpSmsSender(url="https://sms.example/send", client=client)
    booked(db, irina(db, phone="+7 495 000-00-00"))
    now = utcnow()
    first = dispatch_due(db, senders={"sms": sender}, now=now)
    assert first.retrying == 1
    [msg] = messages(db)
    assert msg.status == OutboxStatus.pending and "503" in (msg.last_error or "")
    assert msg.send_after == now + backoff(1)
    moment = now
    for _ in range(MAX_ATTEMPTS - 1):
        moment = msg.send_after
        dispatch_due(db, senders={"sms": sender}, now=moment)
    assert msg.status == OutboxStatus.failed and msg.attempts == MAX_ATTEMPTS
    assert backoff(1) == timedelta(seconds=30) and backoff(2) == timedelta(minutes=1)
    assert backoff(20) == timedelta(hours=1)


def test_without_smtp_or_sms_settings_every_channel_goes_to_the_log() -> None:
    senders = senders_from(Settings(environment="test", database_url="sqlite://"))
    assert all(isinstance(s, LogSender) for s in senders.values())
    configured = senders_from(
        Settings(
            environment="test",
            database_url="sqlite://",
            smtp_host="mail.example",
            sms_url="https://sms.example",
        )
    )
    assert isinstance(configured["email"], SmtpSender)
    assert isinstance(configured["sms"], HttpSmsSender)


def test_run_once_sends_in_its_own_transaction(
    db: Session, session_factory: sessionmaker[Session]
) -> None:
    booked(db, irina(db))
    db.commit()
    total = run(session_factory, senders={"log": LogSender()}, public_url="", once=True)
    assert total.sent == 1
    left = db.scalar(
        select(func.count())
        .select_from(OutboxMessage)
        .where(OutboxMessage.status == OutboxStatus.pending)
    )
    assert left == 0
