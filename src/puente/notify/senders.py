"""Senders: how a message leaves Puente. Pluggable by channel.

- :class:`LogSender` writes the message to the log (the default for every
  channel, so a fresh install never needs a mail server);
- :class:`SmtpSender` sends e-mail with :mod:`smtplib` (``PUENTE_SMTP_*``);
- :class:`HttpSmsSender` POSTs JSON ``{"to", "text"}`` to an SMS gateway
  (``PUENTE_SMS_URL``, optional bearer ``PUENTE_SMS_TOKEN``).

A sender raises :class:`SendError` for a failure worth retrying.
"""

from __future__ import annotations

import logging
import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Protocol

import httpx

from puente.config import Settings

log = logging.getLogger("puente.notify")


class SendError(Exception):
    pass


@dataclass(frozen=True)
class Outgoing:
    channel: str
    recipient: str
    subject: str
    body: str


class Sender(Protocol):
    def send(self, message: Outgoing) -> None: ...


class LogSender:
    def send(self, message: Outgoing) -> None:
        log.info(
            "notification %s to %s: %s — %s",
            message.channel,
            message.recipient,
            message.subject,
            message.body,
        )


@dataclass
class SmtpSender:
    host: str
    port: int = 587
    sender: str = "puente@localhost"
    username: str | None = None
    password: str | None = None
    starttls: bool = True
    timeout: float = 10.0

    def send(self, message: Outgoing) -> None:
        mail = EmailMessage()
        mail["From"] = self.sender
        mail["To"] = message.recipient
        mail["Subject"] = message.subject
        mail.set_content(message.body)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                if self.starttls:
                    smtp.starttls()
                if self.username and self.password:
                    smtp.login(self.username, self.password)
                smtp.send_message(mail)
        except (OSError, smtplib.SMTPException) as exc:
            raise SendError(f"SMTP {self.host}:{self.port}: {exc}") from exc


@dataclass
class HttpSmsSender:
    url: str
    token: str | None = None
    client: httpx.Client | None = None
    timeout: float = 10.0

    def send(self, message: Outgoing) -> None:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        payload = {"to": message.recipient, "text": f"{message.subject}. {message.body}"}
        client = self.client or httpx.Client(timeout=self.timeout)
        try:
            response = client.post(self.url, json=payload, headers=headers)
        except httpx.HTTPError as exc:
            raise SendError(f"SMS gateway: {exc}") from exc
        finally:
            if self.client is None:
                client.close()
        if response.status_code >= 300:
            raise SendError(f"SMS gateway answered {response.status_code}: {response.text[:200]}")


def senders_from(settings: Settings) -> dict[str, Sender]:
    """channel → sender, as configured; unconfigured channels go to the log."""
    logger = LogSender()
    out: dict[str, Sender] = {"log": logger, "email": logger, "sms": logger}
    if settings.smtp_host:
        password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
        out["email"] = SmtpSender(
            host=settings.smtp_host,
            port=settings.smtp_port,
            sender=settings.smtp_from,
            username=settings.smtp_username,
            password=password,
            starttls=settings.smtp_starttls,
        )
    if settings.sms_url:
        token = settings.sms_token.get_secret_value() if settings.sms_token else None
        out["sms"] = HttpSmsSender(url=settings.sms_url, token=token)
    return out
