"""Every query of the access package."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, func, insert, literal, select
from sqlalchemy.orm import Session

from puente.access.models import (
    ApiToken,
    AuditEvent,
    LoginAttempt,
    PatientShare,
    RoleGrant,
    User,
    WebSession,
)
from puente.network.models import Facility, Region
from puente.people.models import Patient


def user_by_name(session: Session, username: str) -> User | None:
    return session.scalar(select(User).where(User.username == username))


def grants_of(session: Session, user_id: int) -> list[RoleGrant]:
    return list(session.scalars(select(RoleGrant).where(RoleGrant.user_id == user_id)))


def live_token(session: Session, digest: str, now: datetime) -> ApiToken | None:
    return session.scalar(
        select(ApiToken).where(
            ApiToken.token_hash == digest,
            ApiToken.revoked_at.is_(None),
            ApiToken.expires_at > now,
        )
    )


def bearer_of(session: Session, digest: str, now: datetime, *, cookie: bool = False) -> list[Any]:
    """Who holds the live API token (or, with ``cookie``, the live browser
    session) whose SHA-256 is ``digest``: one row per grant of the active
    user (one row with null grant columns when there is none), in the order
    the grants were made, and the session's CSRF token. One query, for the
    gate of every request."""
    held: Any = WebSession if cookie else ApiToken
    digest_column = WebSession.session_hash if cookie else ApiToken.token_hash
    csrf = WebSession.csrf_token if cookie else literal(None)
    query = (
        select(
            User.id, User.username, User.display_name, User.patient_id,
            User.must_change_password, RoleGrant.role, RoleGrant.scope,
            RoleGrant.region_id, RoleGrant.facility_id, csrf.label("csrf_token"),
        )
        .select_from(held)
        .join(User, User.id == held.user_id)
        .outerjoin(RoleGrant, RoleGrant.user_id == User.id)
        .where(
            digest_column == digest, held.revoked_at.is_(None), held.expires_at > now,
            User.active.is_(True),
        )
        .order_by(RoleGrant.id)
    )  # fmt: skip
    return list(session.execute(query))


def live_session(session: Session, digest: str, now: datetime) -> WebSession | None:
    return session.scalar(
        select(WebSession).where(
            WebSession.session_hash == digest,
            WebSession.revoked_at.is_(None),
            WebSession.expires_at > now,
        )
    )


def failed_attempts_since(
    session: Session, *, since: datetime, username: str | None = None, client: str | None = None
) -> int:
    query = (
        select(func.count())
        .select_from(LoginAttempt)
        .where(LoginAttempt.at >= since, LoginAttempt.succeeded.is_(False))
    )
    if username is not None:
        query = query.where(LoginAttempt.username == username)
    if client is not None:
        query = query.where(LoginAttempt.client_address == client)
    return int(session.scalar(query) or 0)


def region_and_descendants(region_ids: Iterable[int]) -> ColumnElement[bool]:
    """Facilities whose region is one of ``region_ids`` or below one of them."""
    ids = list(region_ids)
    tree = select(Region.id).where(Region.id.in_(ids)).cte("region_tree", recursive=True)
    tree = tree.union_all(select(Region.id).where(Region.parent_id == tree.c.id))
    return Facility.region_id.in_(select(tree.c.id))


def facility_and_descendants(facility_ids: Iterable[int]) -> ColumnElement[bool]:
    ids = list(facility_ids)
    tree = select(Facility.id).where(Facility.id.in_(ids)).cte("facility_tree", recursive=True)
    tree = tree.union_all(select(Facility.id).where(Facility.parent_id == tree.c.id))
    return Facility.id.in_(select(tree.c.id))


def facility_ids_where(session: Session, condition: ColumnElement[bool]) -> frozenset[int]:
    return frozenset(session.scalars(select(Facility.id).where(condition)))


def shared_patient_ids(user_id: int, now: datetime) -> Select[int]:
    return select(PatientShare.patient_id).where(
        PatientShare.user_id == user_id,
        (PatientShare.expires_at.is_(None)) | (PatientShare.expires_at > now),
    )


def audit_rows(session: Session, rows: list[dict[str, object]]) -> None:
    if rows:
        session.execute(insert(AuditEvent), rows)


def grant_scope_codes(session: Session, grants: list[RoleGrant]) -> dict[int, str]:
    """Scope code (facility or region code) of each grant, by grant id."""
    facility_ids = {g.facility_id for g in grants if g.facility_id}
    region_ids = {g.region_id for g in grants if g.region_id}
    facility_codes = dict(
        session.execute(
            select(Facility.id, Facility.code).where(Facility.id.in_(facility_ids))
        ).all()
    )
    region_codes = dict(
        session.execute(select(Region.id, Region.code).where(Region.id.in_(region_ids))).all()
    )
    out: dict[int, str] = {}
    for g in grants:
        if g.facility_id:
            out[g.id] = facility_codes[g.facility_id]
        elif g.region_id:
            out[g.id] = region_codes[g.region_id]
    return out


def list_users(session: Session, *, limit: int, offset: int) -> tuple[list[User], int]:
    total = int(session.scalar(select(func.count()).select_from(User)) or 0)
    rows = session.scalars(select(User).order_by(User.username).limit(limit).offset(offset))
    return list(rows), total


def search_audit(
    session: Session,
    *,
    visible: ColumnElement[bool] | None,
    patient_id: int | None,
    username: str | None,
    since: datetime | None,
    until: datetime | None,
    limit: int,
    offset: int,
    event_id: int | None = None,
) -> tuple[list[AuditEvent], int]:
    query = select(AuditEvent)
    if event_id is not None:
        query = query.where(AuditEvent.id == event_id)
    if visible is not None:
        query = query.where(AuditEvent.patient_id.in_(select(Patient.id).where(visible)))
    if patient_id is not None:
        query = query.where(AuditEvent.patient_id == patient_id)
    if username:
        query = query.where(AuditEvent.username == username)
    if since is not None:
        query = query.where(AuditEvent.at >= since)
    if until is not None:
        query = query.where(AuditEvent.at < until)
    total = int(session.scalar(select(func.count()).select_from(query.subquery())) or 0)
    rows = session.scalars(
        query.order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(limit).offset(offset)
    )
    return list(rows), total
