"""Signing in at an OpenID Connect provider instead of with a password.

The provider is stood in for in-process (httpx MockTransport): discovery,
JWKS and token endpoint, with ID tokens signed by a key made for the test.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from puente.access.oidc import OidcClient
from puente.app import create_app
from puente.config import Settings
from puente.enums import AccessRole
from tests import factories as f

ISSUER = "https://id.salud.example"
CLIENT_ID = "puente"


class Provider:
    """A national identity provider that vouches for whoever ``who`` names."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.who = "dr.ana"
        self.codes: dict[str, dict[str, Any]] = {}
        self.tamper: dict[str, Any] = {}

    def jwks(self) -> dict[str, Any]:
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        return {"keys": [{**public, "kid": "k1", "use": "sig", "alg": "RS256"}]}

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/.well-known/openid-configuration":
            return httpx.Response(
                200,
                json={
                    "issuer": ISSUER,
                    "authorization_endpoint": f"{ISSUER}/authorize",
                    "token_endpoint": f"{ISSUER}/token",
                    "jwks_uri": f"{ISSUER}/jwks",
                },
            )
        if path == "/jwks":
            return httpx.Response(200, json=self.jwks())
        if path == "/token":
            form = parse_qs(request.content.decode())
            flow = self.codes.pop(form["code"][0], None)
            if flow is None or form["client_id"] != [CLIENT_ID]:
                return httpx.Response(400, json={"error": "invalid_grant"})
            claims = {
                "iss": ISSUER,
                "aud": CLIENT_ID,
                "sub": "123",
                "preferred_username": self.who,
                "nonce": flow["nonce"],
                "iat": int(time.time()),
                "exp": int(time.time()) + 300,
                **self.tamper,
            }
            token = jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": "k1"})
            return httpx.Response(200, json={"id_token": token, "access_token": "x"})
        return httpx.Response(404)

    def authorize(self, url: str) -> str:
        """What the user's browser does at the provider: sign in, come back."""
        query = parse_qs(urlparse(url).query)
        assert query["code_challenge_method"] == ["S256"]
        code = f"code-{len(self.codes)}"
        self.codes[code] = {"nonce": query["nonce"][0]}
        return f"/login/oidc/callback?code={code}&state={query['state'][0]}"


@pytest.fixture
def provider() -> Provider:
    return Provider()


@pytest.fixture
def browser(
    provider: Provider, session_factory: sessionmaker[Session], tmp_path: Any
) -> Iterator[TestClient]:
    settings = Settings(
        environment="test",
        database_url="sqlite://",
        data_dir=tmp_path,
        oidc_issuer=ISSUER,
        oidc_client_id=CLIENT_ID,
        oidc_client_secret="s3cret",
        oidc_provider_name="Llave MX",
    )
    app = create_app(settings, session_factory=session_factory)
    app.state.oidc = OidcClient(settings, transport=httpx.MockTransport(provider.handle))
    with TestClient(app, base_url="https://puente.test", raise_server_exceptions=False) as c:
        yield c


def test_dr_ana_signs_in_at_the_provider_and_keeps_her_puente_roles(
    browser: TestClient, provider: Provider, db: Session
) -> None:
    f.facility(db, "HGZ-46")
    f.user(db, "dr.ana", AccessRole.clinician, "HGZ-46")
    page = browser.get("/login")
    assert "Sign in with Llave MX" in page.text
    assert 'name="password"' not in page.text
    start = browser.get("/login/oidc?next=/admin/audit", follow_redirects=False)
    assert start.headers["location"].startswith(f"{ISSUER}/authorize?")
    back = browser.get(provider.authorize(start.headers["location"]), follow_redirects=False)
    assert back.status_code == 303, back.text
    assert back.headers["location"] == "/admin/audit"
    me = browser.get("/api/auth/me")
    assert me.status_code == 200
    assert me.json()["username"] == "dr.ana"


def test_someone_without_a_puente_account_is_not_let_in(
    browser: TestClient, provider: Provider
) -> None:
    provider.who = "stranger"
    start = browser.get("/login/oidc", follow_redirects=False)
    back = browser.get(provider.authorize(start.headers["location"]), follow_redirects=False)
    assert back.status_code == 401
    assert "no active Puente account for &#39;stranger&#39;" in back.text
    assert browser.get("/api/auth/me").status_code == 401


def test_a_token_for_another_sign_in_or_another_client_is_refused(
    browser: TestClient, provider: Provider, db: Session
) -> None:
    f.user(db, "dr.ana", AccessRole.national_admin)
    for tamper in ({"nonce": "replayed"}, {"aud": "another-app"}, {"iss": "https://evil"}):
        provider.tamper = tamper
        start = browser.get("/login/oidc", follow_redirects=False)
        back = browser.get(provider.authorize(start.headers["location"]), follow_redirects=False)
        assert back.status_code == 401, tamper
    assert browser.get("/api/auth/me").status_code == 401


def test_a_callback_with_a_forged_state_is_refused(
    browser: TestClient, provider: Provider, db: Session
) -> None:
    f.user(db, "dr.ana", AccessRole.national_admin)
    start = browser.get("/login/oidc", follow_redirects=False)
    url = provider.authorize(start.headers["location"])
    forged = url.split("&state=")[0] + "&state=forged"
    assert browser.get(forged, follow_redirects=False).status_code == 401


def test_passwords_are_refused_while_the_provider_replaces_them(
    browser: TestClient, db: Session
) -> None:
    f.user(db, "rosa", AccessRole.national_admin)
    api = browser.post("/api/auth/token", json={"username": "rosa", "password": f.PASSWORD})
    assert api.status_code == 403
    assert api.json()["errors"][0]["field"] == "password"
