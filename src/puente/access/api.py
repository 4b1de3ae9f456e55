"""JSON routes of access: tokens, the signed-in user, accounts, audit."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from puente.access import service
from puente.access.gate import client_address, requires
from puente.access.policy import Permission as P
from puente.access.principal import Principal
from puente.access.schemas import (
    AuditRead,
    PasswordChange,
    PasswordReset,
    TokenRead,
    TokenRequest,
    UserCreate,
    UserCreated,
    UserRead,
)
from puente.db import utcnow
from puente.deps import DB, PagingDep, keep_whatever_happens
from puente.errors import FieldError, Forbidden
from puente.schemas import Page

router = APIRouter(tags=["access"])


@router.post("/auth/token", response_model=TokenRead)
def create_token(body: TokenRequest, request: Request, db: DB) -> TokenRead:
    """Sign in with a user name and password; get a bearer token. Where an
    OpenID Connect provider replaces local passwords, scripts get their token
    from an administrator (`puente token NAME`)."""
    settings = request.app.state.settings
    if settings.oidc_enabled and not settings.oidc_allow_local_login:
        raise Forbidden(
            "Passwords are not used here; ask an administrator for an API token.",
            errors=[FieldError("password", "local sign-in is disabled")],
        )
    user = service.authenticate(
        db,
        username=body.username,
        password=body.password,
        client=client_address(request),
        keep=lambda row: keep_whatever_happens(request, row),
    )
    token, row = service.issue_token(db, user=user, ttl=timedelta(minutes=body.ttl_minutes))
    return TokenRead(access_token=token, expires_at=row.expires_at)


@router.delete("/auth/token", status_code=204)
def revoke_token(request: Request, db: DB, user: Annotated[Principal, requires(None)]) -> Response:
    """Revoke the bearer token this request carries."""
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        service.revoke_token(db, token=header[7:].strip())
    return Response(status_code=204)


@router.get("/auth/me", response_model=UserRead)
def me(db: DB, user: Annotated[Principal, requires(None, while_password_pending=True)]) -> UserRead:
    return UserRead.model_validate(
        service.describe_user(db, service.get_user(db, username=user.username))
    )


@router.post("/auth/password", status_code=204)
def change_password(
    body: PasswordChange,
    db: DB,
    user: Annotated[Principal, requires(None, while_password_pending=True)],
) -> Response:
    account = service.get_user(db, username=user.username)
    service.change_password(db, user=account, current=body.current_password, new=body.new_password)
    return Response(status_code=204)


@router.get("/users", response_model=Page[UserRead])
def list_users(
    db: DB, paging: PagingDep, user: Annotated[Principal, requires(P.user_admin)]
) -> Page[UserRead]:
    from puente.access import repository

    rows, total = repository.list_users(db, limit=paging.limit, offset=paging.offset)
    items = [UserRead.model_validate(service.describe_user(db, u)) for u in rows]
    return Page(items=items, total=total, limit=paging.limit, offset=paging.offset)


@router.post("/users", response_model=UserCreated, status_code=201)
def create_user(
    body: UserCreate, db: DB, user: Annotated[Principal, requires(P.user_admin)]
) -> UserCreated:
    """Create an account. Without a password a temporary one is generated; the
    user must change it at first sign-in either way."""
    temporary = None if body.password else service.new_temporary_password()
    account = service.create_user(
        db,
        username=body.username,
        display_name=body.display_name,
        password=body.password or temporary,
        must_change_password=True,
        preferred_language=body.preferred_language,
    )
    for grant in body.grants:
        service.grant_role(db, user=account, role=grant.role, scope_code=grant.scope)
    out = service.describe_user(db, account)
    return UserCreated.model_validate({**out, "temporary_password": temporary})


@router.post("/users/{username}/password-reset", response_model=PasswordReset)
def reset_password(
    username: str, db: DB, user: Annotated[Principal, requires(P.user_admin)]
) -> PasswordReset:
    account = service.get_user(db, username=username)
    return PasswordReset(temporary_password=service.reset_password(db, user=account))


@router.get("/audit", response_model=Page[AuditRead])
def audit_events(
    db: DB,
    paging: PagingDep,
    user: Annotated[Principal, requires(P.audit_read)],
    patient: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    agent: Annotated[str | None, Query(max_length=100)] = None,
    since: Annotated[date | None, Query(alias="from")] = None,
    until: Annotated[date | None, Query(alias="to")] = None,
) -> Page[AuditRead]:
    rows, total = service.search_audit(
        db,
        user,
        patient_id=patient,
        username=agent,
        since=_start_of(since),
        until=_start_of(until + timedelta(days=1)) if until else None,
        limit=paging.limit,
        offset=paging.offset,
    )
    items = [AuditRead.model_validate(r) for r in rows]
    return Page(items=items, total=total, limit=paging.limit, offset=paging.offset)


def _start_of(day: date | None) -> datetime | None:
    if day is None:
        return None
    return datetime.combine(day, time.min, tzinfo=utcnow().tzinfo)
