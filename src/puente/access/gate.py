"""The one gate: every route that is not public declares
``user: Annotated[Principal, requires(Permission.x)]``.

It finds who is calling (a bearer token, or the browser session cookie),
refuses anonymous callers (401; pages redirect to the sign-in page), holds
users with a temporary password at the password page, checks the CSRF token
on every state-changing request made with the cookie, and checks the
permission. Refusals of patient-data permissions are written to the audit log.
``tests/access/test_route_walk.py`` fails when a route lacks it.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote
from uuid import uuid4

from fastapi import Depends, FastAPI, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from puente.access import service
from puente.access.policy import Permission
from puente.access.principal import Principal
from puente.access.secrets import same
from puente.deps import DB, keep_whatever_happens
from puente.errors import FieldError, Forbidden, NotAuthenticated, wants_page

SESSION_COOKIE = "puente_session"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
PATIENT_PERMISSIONS = {Permission.patient_read, Permission.patient_write}
# Public routes: the only ones the route walk accepts without the gate.
PUBLIC_PATHS = frozenset(
    {
        "/healthz",
        "/readyz",
        "/login",
        "/login/oidc",
        "/login/oidc/callback",
        "/api/auth/token",
        "/static",
        "/docs",
        "/openapi.json",
        "/favicon.ico",
    }
)


class PasswordChangeRequired(Forbidden):
    title = "Password change required"


def request_id(request: Request) -> str:
    rid = getattr(request.state, "request_id", None)
    if rid is None:
        rid = request.headers.get("x-request-id", "")[:64] or uuid4().hex
        request.state.request_id = rid
    return str(rid)


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def audit_context(
    request: Request, principal: Principal | None, permission: Permission | None = None
) -> service.AuditContext:
    return service.AuditContext(
        principal=principal,
        client_address=client_address(request),
        request_id=request_id(request),
        role=principal.role_for(permission) if principal else None,
    )


def _identify(request: Request, db: Session) -> Principal | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return service.principal_from_token(db, token=header[7:].strip())
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        return service.principal_from_cookie(db, cookie=cookie)
    return None


async def _csrf_ok(request: Request, principal: Principal) -> bool:
    if principal.via != "session" or request.method not in UNSAFE:
        return True
    expected = principal.csrf_token or ""
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()  # Starlette caches it for the route
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    return bool(sent) and bool(expected) and same(sent or "", expected)


class Require:
    """Authenticate, then check ``permission`` (None: any signed-in user)."""

    def __init__(
        self, permission: Permission | None = None, *, while_password_pending: bool = False
    ) -> None:
        self.permission = permission
        self.while_password_pending = while_password_pending

    def __repr__(self) -> str:
        return f"Require({self.permission})"

    async def __call__(self, request: Request, db: DB) -> Principal:
        request_id(request)
        principal = await run_in_threadpool(_identify, request, db)
        if principal is None:
            raise NotAuthenticated(
                "Sign in first: send 'Authorization: Bearer <token>' or use the sign-in page.",
                errors=[FieldError("authorization", "missing, expired or revoked")],
            )
        request.state.principal = principal
        if principal.must_change_password and not self.while_password_pending:
            raise PasswordChangeRequired(
                "Change your temporary password before you continue.",
                errors=[FieldError("password", "must be changed")],
            )
        if not await _csrf_ok(request, principal):
            raise Forbidden(
                "The form or request is missing its CSRF token; reload the page and try again.",
                errors=[FieldError(CSRF_FIELD, "missing or wrong")],
            )
        if self.permission is not None:
            enforce(request, principal, self.permission)
        return principal


def enforce(request: Request, principal: Principal, permission: Permission) -> None:
    """The permission check itself, for routes whose permission depends on
    what is asked (the FHIR type in the URL); they pass ``Require(None)`` first.
    A refused patient-data permission is kept in the audit log."""
    if principal.has(permission):
        return
    if permission in PATIENT_PERMISSIONS:
        keep_whatever_happens(
            request,
            service.denied_event(
                audit_context(request, principal),
                action=request.method.lower(),
                resource_type="Patient",
                detail=f"{request.url.path}: lacks {permission.value}"[:500],
            ),
        )
    raise Forbidden(
        f"Your roles do not allow this ({permission.value}).",
        errors=[FieldError("permission", permission.value)],
    )


def requires(permission: Permission | None = None, **options: bool) -> Any:
    """``user: Annotated[Principal, requires(Permission.x)]`` in a route signature."""
    return Depends(Require(permission, **options))


SignedIn = Annotated[Principal, Depends(Require(None))]


def is_page_request(request: Request) -> bool:
    return wants_page(request)


def install_handlers(app: FastAPI) -> None:
    """Pages answer a missing sign-in with a redirect, not problem+json."""
    from fastapi.responses import RedirectResponse
    from starlette.responses import Response

    from puente.errors import problem

    async def _unauthenticated(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, NotAuthenticated | PasswordChangeRequired)
        if is_page_request(request):
            target = "/account/password" if isinstance(exc, PasswordChangeRequired) else "/login"
            nxt = quote(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
            return RedirectResponse(f"{target}?next={nxt}", status_code=303)
        body_errors = [e.as_dict() for e in exc.errors]
        response = problem(exc.status, exc.title, exc.detail, body_errors)
        if isinstance(exc, NotAuthenticated):
            response.headers["WWW-Authenticate"] = 'Bearer realm="puente"'
        return response

    app.add_exception_handler(NotAuthenticated, _unauthenticated)
    app.add_exception_handler(PasswordChangeRequired, _unauthenticated)
