"""The browser session: cookie flags, CSRF on every form, redirects."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from puente.enums import AccessRole
from tests import factories as f


@pytest.fixture
def browser(app: FastAPI) -> Iterator[TestClient]:
    # https, so the client sends the Secure session cookie back as a browser would.
    with TestClient(app, base_url="https://testserver", raise_server_exceptions=False) as c:
        c.headers["accept"] = "text/html"
        yield c


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the form carries no CSRF token"
    return found.group(1)


def _sign_in(browser: TestClient, username: str, password: str = f.PASSWORD) -> TestClient:
    page = browser.get("/login")
    return browser.post(  # type: ignore[return-value]
        "/login",
        data={"username": username, "password": password, "csrf_token": _csrf(page.text)},
        follow_redirects=False,
    )


def test_an_anonymous_visitor_is_sent_to_the_sign_in_page_and_back_afterwards(
    browser: TestClient, db: Session
) -> None:
    f.user(db, "admin", AccessRole.national_admin)
    r = browser.get("/admin/audit?day=2026-01-01", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/login?next=/admin/audit%3Fday%3D2026-01-01"
    page = browser.get(r.headers["location"])
    done = browser.post(
        "/login",
        data={
            "username": "admin",
            "password": f.PASSWORD,
            "csrf_token": _csrf(page.text),
            "next": "/admin/audit?day=2026-01-01",
        },
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert done.headers["location"] == "/admin/audit?day=2026-01-01"


def test_the_session_cookie_is_secure_http_only_and_same_site(
    browser: TestClient, db: Session
) -> None:
    f.user(db, "admin", AccessRole.national_admin)
    r = _sign_in(browser, "admin")
    assert r.status_code == 303
    cookie = next(
        h for h in r.headers.get_list("set-cookie") if h.startswith("puente_session=")
    ).lower()
    assert "httponly" in cookie and "secure" in cookie and "samesite=lax" in cookie


def test_a_sign_in_form_without_its_csrf_token_is_refused(browser: TestClient, db: Session) -> None:
    f.user(db, "admin", AccessRole.national_admin)
    browser.get("/login")
    r = browser.post(
        "/login", data={"username": "admin", "password": f.PASSWORD, "csrf_token": "forged"}
    )
    assert r.status_code == 403
    assert "puente_session" not in browser.cookies


def test_a_wrong_password_shows_the_form_again_with_a_message_in_the_users_language(
    browser: TestClient, db: Session
) -> None:
    f.user(db, "admin", AccessRole.national_admin)
    browser.cookies.set("lang", "es")
    r = _sign_in(browser, "admin", "not the password")
    assert r.status_code == 401
    assert "Usuario o contraseña incorrectos." in r.text


def test_signing_out_needs_the_csrf_token_and_then_ends_the_session(
    browser: TestClient, db: Session
) -> None:
    f.user(db, "admin", AccessRole.national_admin)
    _sign_in(browser, "admin")
    page = browser.get("/admin/audit")
    assert page.status_code == 200
    forged = browser.post("/logout", data={"csrf_token": "nope"}, follow_redirects=False)
    assert forged.status_code == 403
    out = browser.post("/logout", data={"csrf_token": _csrf(page.text)}, follow_redirects=False)
    assert out.status_code == 303
    stolen = page.request.headers.get("cookie", "")
    again = browser.get("/admin/audit", headers={"cookie": stolen}, follow_redirects=False)
    assert again.status_code == 303  # the old cookie no longer opens anything


def test_a_user_with_a_temporary_password_is_taken_to_change_it_first(
    browser: TestClient, db: Session
) -> None:
    f.user(db, "newbie", AccessRole.national_admin, must_change_password=True)
    r = _sign_in(browser, "newbie")
    assert r.headers["location"].startswith("/account/password")
    elsewhere = browser.get("/admin/audit", follow_redirects=False)
    assert elsewhere.headers["location"].startswith("/account/password")
    form = browser.get("/account/password")
    changed = browser.post(
        "/account/password",
        data={
            "csrf_token": _csrf(form.text),
            "current_password": f.PASSWORD,
            "new_password": "a far better secret",
            "confirm_password": "a far better secret",
            "next": "/admin/audit",
        },
        follow_redirects=False,
    )
    assert changed.status_code == 303
    assert browser.get("/admin/audit").status_code == 200


def test_the_next_parameter_never_sends_a_user_to_another_site(
    browser: TestClient, db: Session
) -> None:
    f.user(db, "admin", AccessRole.national_admin)
    page = browser.get("/login?next=//evil.example/")
    r = browser.post(
        "/login",
        data={
            "username": "admin",
            "password": f.PASSWORD,
            "csrf_token": _csrf(page.text),
            "next": "//evil.example/",
        },
        follow_redirects=False,
    )
    assert r.headers["location"] == "/"
