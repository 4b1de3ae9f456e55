"""Pages of access: sign in, sign out, change password, audit log."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from puente.access import service
from puente.access.gate import SESSION_COOKIE, client_address, requires
from puente.access.models import User
from puente.access.oidc import FLOW_COOKIE, FLOW_TTL_SECONDS, OidcClient, OidcError
from puente.access.policy import Permission as P
from puente.access.principal import Principal
from puente.access.secrets import new_token, same
from puente.config import Settings
from puente.db import utcnow
from puente.deps import DB, keep_whatever_happens
from puente.errors import NotFound, PuenteError
from puente.i18n import gettext as _
from puente.web.templating import render

router = APIRouter(include_in_schema=False)
LOGIN_CSRF_COOKIE = "puente_login_csrf"


def _safe_next(value: str | None) -> str:
    # Only local paths: never redirect a signed-in user to another site.
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/"


def _login_form(
    request: Request, *, next_url: str, error: str | None = None, status_code: int = 200
) -> HTMLResponse:
    settings: Settings = request.app.state.settings
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or new_token()
    response = render(
        request,
        "login.html",
        status_code=status_code,
        csrf_token=token,
        next_url=next_url,
        error=error,
        oidc_name=settings.oidc_provider_name if settings.oidc_enabled else None,
        local_login=local_login_allowed(settings),
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", secure=settings.cookie_secure
    )
    return response


def local_login_allowed(settings: Settings) -> bool:
    return not settings.oidc_enabled or settings.oidc_allow_local_login


def _start_session(request: Request, db: DB, user: User, next_url: str) -> Response:
    cookie, _row = service.open_web_session(db, user=user)
    target = "/account/password?next=" + next_url if user.must_change_password else next_url
    response = RedirectResponse(target, status_code=303)
    settings: Settings = request.app.state.settings
    response.set_cookie(
        SESSION_COOKIE,
        cookie,
        httponly=True,
        secure=settings.cookie_secure,
        samesite="lax",
        max_age=int(service.SESSION_TTL.total_seconds()),
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE)
    if user.preferred_language:
        response.set_cookie("lang", user.preferred_language, samesite="lax", max_age=365 * 86400)
    return response


def _oidc(request: Request) -> OidcClient:
    client: OidcClient | None = getattr(request.app.state, "oidc", None)
    if client is None:
        raise NotFound("OpenID Connect is not configured.")
    return client


def _callback_url(request: Request) -> str:
    settings: Settings = request.app.state.settings
    return settings.oidc_redirect_url or str(request.url_for("oidc_callback"))


@router.get("/login/oidc")
def oidc_start(request: Request, next: str | None = None) -> Response:
    url, flow = _oidc(request).start(redirect_uri=_callback_url(request), next_url=_safe_next(next))
    response = RedirectResponse(url, status_code=303)
    settings: Settings = request.app.state.settings
    # Lax, not Strict: the provider sends the browser back with a top-level GET.
    response.set_cookie(
        FLOW_COOKIE,
        flow,
        httponly=True,
        secure=settings.cookie_secure,
        samesite="lax",
        max_age=FLOW_TTL_SECONDS,
    )
    return response


@router.get("/login/oidc/callback", name="oidc_callback")
def oidc_callback(
    request: Request,
    db: DB,
    code: Annotated[str, Query(max_length=2000)] = "",
    state: Annotated[str, Query(max_length=200)] = "",
    error: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    try:
        if error or not code:
            raise OidcError(f"The identity provider did not sign you in ({error or 'no code'}).")
        username, next_url = _oidc(request).finish(
            code=code,
            state=state,
            cookie=request.cookies.get(FLOW_COOKIE, ""),
            redirect_uri=_callback_url(request),
        )
        user = service.sign_in_external(
            db,
            username=username,
            client=client_address(request),
            keep=lambda row: keep_whatever_happens(request, row),
        )
    except PuenteError as exc:
        return _login_form(request, next_url="/", error=_(exc.detail), status_code=401)
    response = _start_session(request, db, user, next_url)
    response.delete_cookie(FLOW_COOKIE)
    return response


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str | None = None) -> HTMLResponse:
    return _login_form(request, next_url=_safe_next(next))


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    db: DB,
    username: Annotated[str, Form(max_length=100)],
    password: Annotated[str, Form(max_length=200)],
    csrf_token: Annotated[str, Form(max_length=100)] = "",
    next: Annotated[str, Form(max_length=500)] = "/",
) -> Response:
    next_url = _safe_next(next)
    if not local_login_allowed(request.app.state.settings):
        return _login_form(
            request,
            next_url=next_url,
            error=_("Passwords are not used here; sign in at the identity provider."),
            status_code=403,
        )
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not expected or not same(expected, csrf_token):
        return _login_form(
            request,
            next_url=next_url,
            error=_("The form expired. Please sign in again."),
            status_code=403,
        )
    try:
        user = service.authenticate(
            db,
            username=username.strip(),
            password=password,
            client=client_address(request),
            keep=lambda row: keep_whatever_happens(request, row),
        )
    except service.TooManyAttempts:
        return _login_form(
            request,
            next_url=next_url,
            error=_("Too many failed sign-ins. Wait 15 minutes and try again."),
            status_code=429,
        )
    except PuenteError:
        return _login_form(
            request,
            next_url=next_url,
            error=_("Wrong user name or password."),
            status_code=401,
        )
    return _start_session(request, db, user, next_url)


@router.post("/logout")
def logout(request: Request, db: DB, user: Annotated[Principal, requires(None)]) -> Response:
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        service.close_web_session(db, cookie=cookie)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("/account/password", response_class=HTMLResponse)
def password_page(
    request: Request,
    user: Annotated[Principal, requires(None, while_password_pending=True)],
    next: str | None = None,
) -> HTMLResponse:
    return render(request, "password.html", next_url=_safe_next(next), error=None)


@router.post("/account/password", response_class=HTMLResponse)
def change_password(
    request: Request,
    db: DB,
    user: Annotated[Principal, requires(None, while_password_pending=True)],
    current_password: Annotated[str, Form(max_length=200)],
    new_password: Annotated[str, Form(max_length=200)],
    confirm_password: Annotated[str, Form(max_length=200)],
    next: Annotated[str, Form(max_length=500)] = "/",
) -> Response:
    next_url = _safe_next(next)
    error = None
    if new_password != confirm_password:
        error = _("The two new passwords differ.")
    else:
        try:
            account = service.get_user(db, username=user.username)
            service.change_password(db, user=account, current=current_password, new=new_password)
        except PuenteError as exc:
            error = _(exc.detail)
    if error:
        return render(request, "password.html", status_code=422, next_url=next_url, error=error)
    # Changing the password ended every session; start a fresh one.
    cookie, _row = service.open_web_session(db, user=account)
    response = RedirectResponse(next_url, status_code=303)
    settings: Settings = request.app.state.settings
    response.set_cookie(
        SESSION_COOKIE, cookie, httponly=True, secure=settings.cookie_secure, samesite="lax"
    )
    return response


@router.get("/admin/audit", response_class=HTMLResponse)
def audit_page(
    request: Request,
    db: DB,
    user: Annotated[Principal, requires(P.audit_read)],
    patient: Annotated[int | None, Query(ge=1)] = None,
    agent: Annotated[str | None, Query(max_length=100)] = None,
    day: Annotated[date | None, Query()] = None,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> HTMLResponse:
    since = datetime.combine(day, time.min, tzinfo=utcnow().tzinfo) if day else None
    rows, total = service.search_audit(
        db,
        user,
        patient_id=patient,
        username=agent or None,
        since=since,
        until=since + timedelta(days=1) if since else None,
        limit=100,
        offset=offset,
    )
    return render(
        request,
        "audit.html",
        rows=rows,
        total=total,
        offset=offset,
        filters={"patient": patient or "", "agent": agent or "", "day": day or ""},
    )
