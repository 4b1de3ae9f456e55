"""The dispatcher: sends due outbox messages and retries failures.

One pass (:func:`dispatch_due`) claims a batch of pending messages whose
``send_after`` has come (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so two
dispatchers never send the same message), hands each to the sender of its
channel, and records the result in the same transaction. A failure is
retried after 30 s, 1 min, 2 min, … (doubling, at most an hour); after
:data:`MAX_ATTEMPTS` the message is marked failed with its last error.
``puente notify run`` loops over passes; ``--once`` makes a single pass.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from puente.db import unit_of_work, utcnow
from puente.enums import OutboxStatus
from puente.notify.models import OutboxMessage
from puente.notify.senders import LogSender, Outgoing, Sender, SendError
from puente.notify.service import PUBLIC_URL

log = logging.getLogger("puente.notify")

MAX_ATTEMPTS = 6
FIRST_RETRY = timedelta(seconds=30)
LONGEST_RETRY = timedelta(hours=1)


def backoff(attempts: int) -> timedelta:
    """Wait before the next try, after ``attempts`` failed ones (≥ 1)."""
    wait: timedelta = FIRST_RETRY * (2 ** max(attempts - 1, 0))
    return min(wait, LONGEST_RETRY)


@dataclass(frozen=True)
class PassResult:
    sent: int = 0
    retrying: int = 0
    failed: int = 0

    def __str__(self) -> str:
        return f"{self.sent} sent, {self.retrying} to retry, {self.failed} failed"


def _claim(session: Session, now: datetime, limit: int) -> list[OutboxMessage]:
    query = (
        select(OutboxMessage)
        .where(OutboxMessage.status == OutboxStatus.pending, OutboxMessage.send_after <= now)
        .order_by(OutboxMessage.send_after, OutboxMessage.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(session.scalars(query))


def dispatch_due(
    session: Session,
    *,
    senders: Mapping[str, Sender],
    public_url: str = "",
    now: datetime | None = None,
    limit: int = 100,
) -> PassResult:
    """Send what is due now; flushes, never commits."""
    moment = now or utcnow()
    sent = retrying = failed = 0
    fallback = LogSender()
    for message in _claim(session, moment, limit):
        sender = senders.get(message.channel, fallback)
        outgoing = Outgoing(
            channel=message.channel,
            recipient=message.recipient,
            subject=message.subject,
            body=message.body.replace(PUBLIC_URL, public_url.rstrip("/")),
        )
        message.attempts += 1
        try:
            sender.send(outgoing)
        except SendError as exc:
            message.last_error = str(exc)[:500]
            if message.attempts >= MAX_ATTEMPTS:
                message.status = OutboxStatus.failed
                failed += 1
                log.warning("gave up on message %s: %s", message.id, exc)
            else:
                message.send_after = moment + backoff(message.attempts)
                retrying += 1
            continue
        message.status = OutboxStatus.sent
        message.sent_at = moment
        message.last_error = None
        sent += 1
    session.flush()
    return PassResult(sent, retrying, failed)


def run(
    factory: sessionmaker[Session],
    *,
    senders: Mapping[str, Sender],
    public_url: str,
    once: bool = False,
    interval: float = 5.0,
    report: Callable[[PassResult], None] | None = None,
) -> PassResult:
    """Pass after pass (each its own transaction) until stopped; one with ``once``."""
    total = PassResult()
    while True:
        with unit_of_work(factory) as session:
            result = dispatch_due(session, senders=senders, public_url=public_url)
        total = PassResult(
            total.sent + result.sent,
            total.retrying + result.retrying,
            total.failed + result.failed,
        )
        if report and (result.sent or result.retrying or result.failed):
            report(result)
        if once:
            return total
        time.sleep(interval)
