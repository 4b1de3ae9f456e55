"""Accounts, sign-in, tokens, sessions, scopes and the audit log.

Functions never commit; the request or command does. Records that must
outlive a failed request (refused sign-ins, denied access) are handed back to
the caller, which stores them with ``puente.deps.keep_whatever_happens``.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, false, or_, true
from sqlalchemy.orm import Session

from puente.access import repository as repo
from puente.access.models import ApiToken, AuditEvent, LoginAttempt, RoleGrant, User, WebSession
from puente.access.policy import Permission
from puente.access.principal import Grant, Principal
from puente.access.secrets import (
    hash_password,
    new_token,
    password_problem,
    token_digest,
    verify_password,
)
from puente.db import utcnow
from puente.enums import AccessRole, AuditOutcome, ScopeKind
from puente.errors import (
    Conflict,
    FieldError,
    NotAuthenticated,
    NotFound,
    PuenteError,
    Unprocessable,
)
from puente.network.models import Facility, Region
from puente.people.models import Patient

LOCKOUT_WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_ACCOUNT = 5
MAX_FAILURES_PER_CLIENT = 20
SESSION_TTL = timedelta(hours=12)


class TooManyAttempts(PuenteError):
    status = 429
    title = "Too many sign-in attempts"


# Accounts ------------------------------------------------------------------


def create_user(
    session: Session,
    *,
    username: str,
    display_name: str | None = None,
    password: str | None = None,
    must_change_password: bool = True,
    preferred_language: str = "en",
    patient_id: int | None = None,
    practitioner_id: int | None = None,
) -> User:
    if repo.user_by_name(session, username):
        raise Conflict(
            f"User '{username}' already exists",
            errors=[FieldError("username", "already exists")],
        )
    if password is not None:
        _check_password(password, username)
    user = User(
        username=username,
        display_name=display_name or username,
        password_hash=hash_password(password) if password else None,
        must_change_password=must_change_password,
        preferred_language=preferred_language,
        patient_id=patient_id,
        practitioner_id=practitioner_id,
    )
    session.add(user)
    session.flush()
    return user


def get_user(session: Session, *, username: str) -> User:
    user = repo.user_by_name(session, username)
    if user is None:
        raise NotFound(f"No user '{username}'", errors=[FieldError("username", "unknown user")])
    return user


def grant_role(
    session: Session, *, user: User, role: AccessRole, scope_code: str | None = None
) -> RoleGrant:
    """Grant ``role`` on the whole system (no code), a region or a facility
    (looked up by code; a facility code wins over a region code)."""
    grant = RoleGrant(user_id=user.id, role=role, scope=ScopeKind.system)
    if scope_code:
        facility = session.query(Facility).filter(Facility.code == scope_code).one_or_none()
        region = (
            None
            if facility
            else (session.query(Region).filter(Region.code == scope_code).one_or_none())
        )
        if facility is not None:
            grant.scope, grant.facility_id = ScopeKind.facility, facility.id
        elif region is not None:
            grant.scope, grant.region_id = ScopeKind.region, region.id
        else:
            raise Unprocessable(
                f"No facility or region with code '{scope_code}'",
                errors=[FieldError("scope", "unknown facility or region code")],
            )
    elif role not in (AccessRole.national_admin, AccessRole.program_manager, AccessRole.patient):
        raise Unprocessable(
            f"The role {role.value} needs a facility or region scope",
            errors=[FieldError("scope", "required for this role")],
        )
    session.add(grant)
    session.flush()
    return grant


def _check_password(password: str, username: str) -> None:
    problem = password_problem(password, username)
    if problem:
        raise Unprocessable(f"The password {problem}", errors=[FieldError("password", problem)])


def set_password(session: Session, *, user: User, password: str, must_change: bool = False) -> None:
    _check_password(password, user.username)
    user.password_hash = hash_password(password)
    user.must_change_password = must_change
    # A new password ends every session and token issued under the old one.
    now = utcnow()
    for token in session.query(ApiToken).filter(
        ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None)
    ):
        token.revoked_at = now
    for web in session.query(WebSession).filter(
        WebSession.user_id == user.id, WebSession.revoked_at.is_(None)
    ):
        web.revoked_at = now


def change_password(session: Session, *, user: User, current: str, new: str) -> None:
    if not verify_password(current, user.password_hash):
        raise Unprocessable(
            "The current password is wrong",
            errors=[FieldError("current_password", "is wrong")],
        )
    if current == new:
        raise Unprocessable(
            "The new password must differ from the current one",
            errors=[FieldError("new_password", "must differ from the current password")],
        )
    set_password(session, user=user, password=new)


def new_temporary_password() -> str:
    # Letters and digits only: easy to read out over the phone, and never a
    # leading '-' that a shell would take for an option.
    alphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "".join(secrets.choice(alphabet) for _ in range(16))


def reset_password(session: Session, *, user: User) -> str:
    """An administrator's reset: a temporary password the user must change."""
    temporary = new_temporary_password()
    set_password(session, user=user, password=temporary, must_change=True)
    return temporary


# Signing in ----------------------------------------------------------------


def check_rate_limit(session: Session, *, username: str, client: str) -> None:
    since = utcnow() - LOCKOUT_WINDOW
    minutes = int(LOCKOUT_WINDOW.total_seconds() // 60)
    if repo.failed_attempts_since(session, since=since, username=username) >= (
        MAX_FAILURES_PER_ACCOUNT
    ):
        raise TooManyAttempts(
            f"Too many failed sign-ins for this account. Wait {minutes} minutes and try again,"
            " or ask an administrator to reset the password.",
            errors=[FieldError("username", "temporarily locked")],
        )
    if repo.failed_attempts_since(session, since=since, client=client) >= MAX_FAILURES_PER_CLIENT:
        raise TooManyAttempts(
            f"Too many failed sign-ins from this address. Wait {minutes} minutes and try again.",
            errors=[FieldError("client", "temporarily blocked")],
        )


def authenticate(
    session: Session,
    *,
    username: str,
    password: str,
    client: str,
    keep: Callable[[object], None] | None = None,
) -> User:
    """Check a password. The attempt is handed to ``keep`` (default: added to
    the session) so that the caller can store it even when sign-in fails."""
    check_rate_limit(session, username=username, client=client)
    user = repo.user_by_name(session, username)
    ok = verify_password(password, user.password_hash if user else None)
    ok = ok and user is not None and user.active
    (keep or session.add)(LoginAttempt(username=username, client_address=client, succeeded=ok))
    if not ok or user is None:
        raise NotAuthenticated(
            "Wrong user name or password", errors=[FieldError("password", "wrong user or password")]
        )
    user.last_login_at = utcnow()
    return user


def sign_in_external(
    session: Session, *, username: str, client: str, keep: Callable[[object], None]
) -> User:
    """A user the identity provider vouched for: they still need an active
    Puente account of that name, which holds their roles."""
    user = repo.user_by_name(session, username)
    ok = user is not None and user.active
    keep(LoginAttempt(username=username, client_address=client, succeeded=ok))
    if not ok or user is None:
        raise NotAuthenticated(
            f"There is no active Puente account for '{username}'; ask an administrator.",
            errors=[FieldError("username", "no account")],
        )
    user.last_login_at = utcnow()
    return user


def issue_token(
    session: Session, *, user: User, ttl: timedelta = timedelta(hours=8), name: str = "api"
) -> tuple[str, ApiToken]:
    token = new_token("pt_")
    row = ApiToken(
        user_id=user.id, token_hash=token_digest(token), name=name, expires_at=utcnow() + ttl
    )
    session.add(row)
    session.flush()
    return token, row


def revoke_token(session: Session, *, token: str) -> None:
    row = repo.live_token(session, token_digest(token), utcnow())
    if row is not None:
        row.revoked_at = utcnow()


def open_web_session(session: Session, *, user: User) -> tuple[str, WebSession]:
    cookie = new_token()
    row = WebSession(
        user_id=user.id,
        session_hash=token_digest(cookie),
        csrf_token=new_token(),
        expires_at=utcnow() + SESSION_TTL,
    )
    session.add(row)
    session.flush()
    return cookie, row


def close_web_session(session: Session, *, cookie: str) -> None:
    row = repo.live_session(session, token_digest(cookie), utcnow())
    if row is not None:
        row.revoked_at = utcnow()


def principal_for(
    session: Session, user: User, *, via: str, csrf_token: str | None = None
) -> Principal:
    grants = tuple(
        Grant(role=g.role, scope=g.scope, region_id=g.region_id, facility_id=g.facility_id)
        for g in repo.grants_of(session, user.id)
    )
    return Principal(
        user_id=user.id,
        username=user.username,
        display_name=user.display_name,
        grants=grants,
        patient_id=user.patient_id,
        must_change_password=user.must_change_password,
        via=via,
        csrf_token=csrf_token,
    )


def principal_from_token(session: Session, *, token: str) -> Principal | None:
    return _bearer(repo.bearer_of(session, token_digest(token), utcnow()), "token")


def principal_from_cookie(session: Session, *, cookie: str) -> Principal | None:
    rows = repo.bearer_of(session, token_digest(cookie), utcnow(), cookie=True)
    return _bearer(rows, "session")


def _bearer(rows: list[Any], via: str) -> Principal | None:
    """The principal of ``repo.bearer_of``'s rows (none: no live credential
    of an active user)."""
    if not rows:
        return None
    first = rows[0]
    return Principal(
        user_id=first.id,
        username=first.username,
        display_name=first.display_name,
        grants=tuple(
            Grant(role=r.role, scope=r.scope, region_id=r.region_id, facility_id=r.facility_id)
            for r in rows
            if r.role is not None
        ),
        patient_id=first.patient_id,
        must_change_password=first.must_change_password,
        via=via,
        csrf_token=first.csrf_token,
    )


# Scopes --------------------------------------------------------------------


@dataclass(frozen=True)
class FacilityScope:
    """The facilities a permission reaches: every one, or exactly ``ids``."""

    everywhere: bool
    ids: frozenset[int]

    def covers(self, facility_id: int | None) -> bool:
        return self.everywhere or (facility_id is not None and facility_id in self.ids)


def facility_scope(session: Session, principal: Principal, permission: Permission) -> FacilityScope:
    if permission in principal._scopes:
        cached = principal._scopes[permission]
        return FacilityScope(cached is None, cached or frozenset())
    grants = principal.grants_for(permission)
    if any(g.scope == ScopeKind.system for g in grants):
        principal._scopes[permission] = None
        return FacilityScope(True, frozenset())
    regions = [g.region_id for g in grants if g.region_id is not None]
    facilities = [g.facility_id for g in grants if g.facility_id is not None]
    ids: frozenset[int] = frozenset()
    if regions:
        ids |= repo.facility_ids_where(session, repo.region_and_descendants(regions))
    if facilities:
        ids |= repo.facility_ids_where(session, repo.facility_and_descendants(facilities))
    principal._scopes[permission] = ids
    return FacilityScope(False, ids)


def visible_patients(
    session: Session, principal: Principal, permission: Permission = Permission.patient_read
) -> ColumnElement[bool]:
    """THE patient-data filter: the one place that decides whose records a
    user may see. A patient sees themself; staff see the patients of the
    facilities in their scope and those shared with them (consult, referral);
    a role without the permission (a program manager) sees no one."""
    if not principal.has(permission):
        return false()
    clauses: list[ColumnElement[bool]] = []
    staff_grants = [g for g in principal.grants_for(permission) if g.role != AccessRole.patient]
    if staff_grants:
        scope = facility_scope(session, principal, permission)
        if scope.everywhere:
            return true()
        if scope.ids:
            clauses.append(Patient.home_facility_id.in_(scope.ids))
        clauses.append(Patient.id.in_(repo.shared_patient_ids(principal.user_id, utcnow())))
    if principal.patient_id is not None and AccessRole.patient in principal.roles:
        clauses.append(Patient.id == principal.patient_id)
    return or_(*clauses) if clauses else false()


def can_see_patient(session: Session, principal: Principal, patient_id: int) -> bool:
    condition = visible_patients(session, principal)
    found = session.query(Patient.id).filter(Patient.id == patient_id, condition).first()
    return found is not None


# Audit ---------------------------------------------------------------------


@dataclass(frozen=True)
class AuditContext:
    principal: Principal | None
    client_address: str | None
    request_id: str | None
    role: str | None = None


def audit(
    session: Session,
    ctx: AuditContext,
    *,
    action: str,
    resource_type: str,
    resource_ids: Iterable[tuple[str | None, int | None]],
    outcome: AuditOutcome = AuditOutcome.success,
    detail: str | None = None,
) -> None:
    """One audit record per (resource id, patient id) pair, in the caller's
    transaction, so the record commits if and only if the operation does."""
    now = utcnow()
    p = ctx.principal
    repo.audit_rows(
        session,
        [
            {
                "at": now,
                "user_id": p.user_id if p else None,
                "username": p.username if p else "anonymous",
                "role": ctx.role,
                "action": action,
                "outcome": outcome,
                "patient_id": patient_id,
                "resource_type": resource_type,
                "resource_id": resource_id,
                "client_address": ctx.client_address,
                "request_id": ctx.request_id,
                "detail": detail,
            }
            for resource_id, patient_id in resource_ids
        ],
    )


def denied_event(
    ctx: AuditContext,
    *,
    action: str,
    resource_type: str,
    resource_id: str | None = None,
    patient_id: int | None = None,
    detail: str | None = None,
) -> AuditEvent:
    """An audit record of a refused attempt, for the caller to store durably
    (the request that made the attempt fails and rolls back)."""
    p = ctx.principal
    return AuditEvent(
        at=utcnow(),
        user_id=p.user_id if p else None,
        username=p.username if p else "anonymous",
        role=ctx.role,
        action=action,
        outcome=AuditOutcome.denied,
        patient_id=patient_id,
        resource_type=resource_type,
        resource_id=resource_id,
        client_address=ctx.client_address,
        request_id=ctx.request_id,
        detail=detail,
    )


def describe_user(session: Session, user: User) -> dict[str, object]:
    grants = repo.grants_of(session, user.id)
    codes = repo.grant_scope_codes(session, grants)
    return {
        "username": user.username,
        "display_name": user.display_name,
        "active": user.active,
        "must_change_password": user.must_change_password,
        "preferred_language": user.preferred_language,
        "grants": [
            {"role": g.role, "scope": g.scope, "scope_code": codes.get(g.id)} for g in grants
        ],
    }


def search_audit(
    session: Session,
    principal: Principal,
    *,
    patient_id: int | None = None,
    username: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 50,
    offset: int = 0,
    event_id: int | None = None,
) -> tuple[list[AuditEvent], int]:
    """Audit records the principal may read: all of them with a system-wide
    grant, otherwise those about patients in their scope."""
    scope = facility_scope(session, principal, Permission.audit_read)
    visible = (
        None if scope.everywhere else visible_patients(session, principal, Permission.audit_read)
    )
    return repo.search_audit(
        session,
        visible=visible,
        patient_id=patient_id,
        username=username,
        since=since,
        until=until,
        limit=limit,
        offset=offset,
        event_id=event_id,
    )


def audit_event_visible(session: Session, principal: Principal, event_id: int) -> AuditEvent | None:
    rows, _total = search_audit(session, principal, event_id=event_id, limit=1)
    return rows[0] if rows else None
