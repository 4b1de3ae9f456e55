"""Signing in: API tokens, the browser session, rate limits, forced change."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from puente.access import service
from puente.access.models import ApiToken, LoginAttempt
from puente.db import utcnow
from puente.enums import AccessRole
from tests import factories as f


def _token(client: TestClient, username: str, password: str = f.PASSWORD) -> str:
    r = client.post("/api/auth/token", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])


def test_a_clinician_signs_in_with_a_password_and_gets_a_working_bearer_token(
    client: TestClient, db: Session
) -> None:
    f.facility(db, "HOSP-A")
    f.user(db, "dr.ana", AccessRole.clinician, "HOSP-A")
    token = _token(client, "dr.ana")
    me = client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200
    assert me.json()["grants"] == [
        {"role": "clinician", "scope": "facility", "scope_code": "HOSP-A"}
    ]


def test_a_wrong_password_is_refused_naming_the_field_and_is_counted(
    client: TestClient, db: Session
) -> None:
    f.user(db, "dr.ana", AccessRole.national_admin)
    r = client.post("/api/auth/token", json={"username": "dr.ana", "password": "nope"})
    assert r.status_code == 401
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["errors"][0]["field"] == "password"
    failures = db.scalars(select(LoginAttempt).where(LoginAttempt.succeeded.is_(False))).all()
    assert len(failures) == 1


def test_the_sixth_try_after_five_failures_is_refused_even_with_the_right_password(
    client: TestClient, db: Session
) -> None:
    f.user(db, "dr.ana", AccessRole.national_admin)
    for _ in range(service.MAX_FAILURES_PER_ACCOUNT):
        client.post("/api/auth/token", json={"username": "dr.ana", "password": "wrong-one"})
    r = client.post("/api/auth/token", json={"username": "dr.ana", "password": f.PASSWORD})
    assert r.status_code == 429
    assert "Too many failed sign-ins for this account" in r.json()["detail"]


def test_failures_from_one_address_across_many_accounts_block_that_address(
    client: TestClient, db: Session
) -> None:
    f.user(db, "victim", AccessRole.national_admin)
    for i in range(service.MAX_FAILURES_PER_CLIENT):
        client.post("/api/auth/token", json={"username": f"guess{i}", "password": "x"})
    r = client.post("/api/auth/token", json={"username": "victim", "password": f.PASSWORD})
    assert r.status_code == 429
    assert "from this address" in r.json()["detail"]


def test_a_revoked_token_no_longer_opens_anything(client: TestClient, db: Session) -> None:
    f.user(db, "admin", AccessRole.national_admin)
    headers = {"Authorization": f"Bearer {_token(client, 'admin')}"}
    assert client.delete("/api/auth/token", headers=headers).status_code == 204
    r = client.get("/api/auth/me", headers=headers)
    assert r.status_code == 401
    assert r.headers["www-authenticate"].startswith("Bearer")


def test_an_expired_token_no_longer_opens_anything(client: TestClient, db: Session) -> None:
    admin = f.user(db, "admin", AccessRole.national_admin)
    token, row = service.issue_token(db, user=admin, ttl=timedelta(minutes=5))
    row.expires_at = utcnow() - timedelta(seconds=1)
    db.flush()
    r = client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401


def test_a_deactivated_account_s_token_and_browser_session_no_longer_open_anything(
    client: TestClient, db: Session
) -> None:
    rosa = f.user(db, "rosa.admin", AccessRole.national_admin)
    token, _row = service.issue_token(db, user=rosa)
    cookie, _session = service.open_web_session(db, user=rosa)
    db.flush()
    bearer = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/auth/me", headers=bearer).status_code == 200
    assert service.principal_from_cookie(db, cookie=cookie) is not None
    rosa.active = False
    db.flush()
    assert client.get("/api/auth/me", headers=bearer).status_code == 401
    assert service.principal_from_cookie(db, cookie=cookie) is None


def test_the_gate_sees_every_grant_of_a_token_s_holder_in_the_order_given_and_none_for_none(
    db: Session,
) -> None:
    f.facility(db, "HOSP-A")
    f.facility(db, "HOSP-B")
    ana = f.user(db, "dr.ana", AccessRole.clinician, "HOSP-A")
    service.grant_role(db, user=ana, role=AccessRole.facility_admin, scope_code="HOSP-B")
    token, _row = service.issue_token(db, user=ana)
    principal = service.principal_from_token(db, token=token)
    assert principal is not None and principal.username == "dr.ana"
    assert [g.role for g in principal.grants] == [AccessRole.clinician, AccessRole.facility_admin]
    assert principal.via == "token" and principal.csrf_token is None
    nadie = f.user(db, "nadie")  # an account that holds no role yet
    bare, _row = service.issue_token(db, user=nadie)
    principal = service.principal_from_token(db, token=bare)
    assert principal is not None and principal.grants == ()


def test_only_a_hash_of_the_token_is_stored(client: TestClient, db: Session) -> None:
    f.user(db, "admin", AccessRole.national_admin)
    token = _token(client, "admin")
    stored = db.scalars(select(ApiToken.token_hash)).all()
    assert token not in stored and len(stored) == 1 and len(stored[0]) == 64


def test_a_user_with_a_temporary_password_must_change_it_before_anything_else(
    client: TestClient, db: Session
) -> None:
    f.user(db, "newbie", AccessRole.national_admin, must_change_password=True)
    headers = {"Authorization": f"Bearer {_token(client, 'newbie')}"}
    blocked = client.get("/api/users", headers=headers)
    assert blocked.status_code == 403
    assert blocked.json()["title"] == "Password change required"
    changed = client.post(
        "/api/auth/password",
        headers=headers,
        json={"current_password": f.PASSWORD, "new_password": "a much better secret"},
    )
    assert changed.status_code == 204
    # The change revoked the old token; a new sign-in works everywhere.
    fresh = {"Authorization": f"Bearer {_token(client, 'newbie', 'a much better secret')}"}
    assert client.get("/api/users", headers=fresh).status_code == 200


def test_an_administrator_resets_a_password_and_the_user_must_change_it(
    client: TestClient, db: Session
) -> None:
    admin = f.user(db, "admin", AccessRole.national_admin)
    f.user(db, "forgetful", AccessRole.national_admin)
    r = client.post("/api/users/forgetful/password-reset", headers=f.bearer(db, admin))
    assert r.status_code == 200
    temporary = r.json()["temporary_password"]
    token = _token(client, "forgetful", temporary)
    me = client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["must_change_password"] is True


def test_weak_passwords_are_refused_naming_the_field(client: TestClient, db: Session) -> None:
    admin = f.user(db, "admin", AccessRole.national_admin)
    r = client.post(
        "/api/users",
        headers=f.bearer(db, admin),
        json={"username": "short", "password": "abc"},
    )
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "password"


def test_an_administrator_creates_a_scoped_user_who_gets_a_temporary_password(
    client: TestClient, db: Session
) -> None:
    admin = f.user(db, "admin", AccessRole.national_admin)
    f.facility(db, "HOSP-A")
    r = client.post(
        "/api/users",
        headers=f.bearer(db, admin),
        json={
            "username": "dr.luis",
            "grants": [{"role": "clinician", "scope": "HOSP-A"}],
        },
    )
    assert r.status_code == 201, r.text
    assert r.json()["temporary_password"]
    assert r.json()["must_change_password"] is True
    unknown = client.post(
        "/api/users",
        headers=f.bearer(db, admin),
        json={"username": "dr.x", "grants": [{"role": "clinician", "scope": "NOWHERE"}]},
    )
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "scope"
