"""Tables of access: users, role grants at a scope, API tokens, web sessions,
login attempts, patient shares, and the append-only audit log."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    event,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from puente.db import Base, UTCDateTime, str_enum, utcnow
from puente.enums import AccessRole, AuditOutcome, ScopeKind

AuditId = BigInteger().with_variant(Integer(), "sqlite")


class User(Base):
    __tablename__ = "app_user"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    # Null for accounts that sign in through OpenID Connect or a one-time code.
    password_hash: Mapped[str | None] = mapped_column(String(200))
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    preferred_language: Mapped[str] = mapped_column(String(8), default="en")
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patient.id"), index=True)
    practitioner_id: Mapped[int | None] = mapped_column(ForeignKey("practitioner.id"), index=True)
    oidc_subject: Mapped[str | None] = mapped_column(String(255), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class RoleGrant(Base):
    """A user holds a role over a scope: the whole system, a region (and all
    under it) or a facility (and the units under it)."""

    __tablename__ = "role_grant"
    __table_args__ = (
        CheckConstraint(
            "(scope = 'system' AND region_id IS NULL AND facility_id IS NULL)"
            " OR (scope = 'region' AND region_id IS NOT NULL AND facility_id IS NULL)"
            " OR (scope = 'facility' AND facility_id IS NOT NULL AND region_id IS NULL)",
            name="scope_target",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    role: Mapped[AccessRole] = mapped_column(str_enum(AccessRole, "access_role"))
    scope: Mapped[ScopeKind] = mapped_column(str_enum(ScopeKind, "scope_kind"))
    region_id: Mapped[int | None] = mapped_column(ForeignKey("region.id"))
    facility_id: Mapped[int | None] = mapped_column(ForeignKey("facility.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ApiToken(Base):
    """A bearer token; only its SHA-256 is stored."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100), default="api")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class WebSession(Base):
    """A browser session; the cookie carries a random id whose SHA-256 is stored
    here, so sessions can be listed and revoked."""

    __tablename__ = "web_session"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    session_hash: Mapped[str] = mapped_column(String(64), unique=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class LoginAttempt(Base):
    __tablename__ = "login_attempt"
    __table_args__ = (
        Index("ix_login_attempt_username_at", "username", "at"),
        Index("ix_login_attempt_client_at", "client_address", "at"),
    )

    id: Mapped[int] = mapped_column(AuditId, primary_key=True)
    username: Mapped[str] = mapped_column(String(100))
    client_address: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    succeeded: Mapped[bool] = mapped_column(Boolean)


class PatientShare(Base):
    """A patient shared with a user outside their facilities' scope, through
    a remote consultation or a referral."""

    __tablename__ = "patient_share"
    __table_args__ = (Index("ix_patient_share_user_patient", "user_id", "patient_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(String(32))  # consult | referral
    reference: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class AuditEvent(Base):
    """Who did what to which patient's data, when, from where, and with what
    outcome. Append-only: no code updates or deletes it, and on PostgreSQL a
    trigger refuses both."""

    __tablename__ = "audit_event"
    __table_args__ = (
        Index("ix_audit_event_patient_at", "patient_id", "at"),
        Index("ix_audit_event_user_at", "user_id", "at"),
    )

    id: Mapped[int] = mapped_column(AuditId, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(Integer)  # no FK: audit outlives accounts
    username: Mapped[str] = mapped_column(String(100))
    role: Mapped[str | None] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(32))
    outcome: Mapped[AuditOutcome] = mapped_column(str_enum(AuditOutcome, "audit_outcome"))
    patient_id: Mapped[int | None] = mapped_column(Integer)
    resource_type: Mapped[str] = mapped_column(String(64))
    resource_id: Mapped[str | None] = mapped_column(String(64))
    client_address: Mapped[str | None] = mapped_column(String(64))
    request_id: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[str | None] = mapped_column(String(500))


@event.listens_for(Session, "before_flush")
def _audit_is_append_only(session: Session, _context: object, _instances: object) -> None:
    """No code path may change or remove an audit record (PostgreSQL also
    refuses it with a trigger, for anyone who bypasses the ORM)."""
    deleted = any(isinstance(o, AuditEvent) for o in session.deleted)
    changed = any(isinstance(o, AuditEvent) and session.is_modified(o) for o in session.dirty)
    if deleted or changed:
        raise PermissionError("audit_event is append-only: records are never updated or deleted")
