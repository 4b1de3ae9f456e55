"""Sign-in at an OpenID Connect provider (authorization code flow with PKCE).

When ``PUENTE_OIDC_ISSUER`` and ``PUENTE_OIDC_CLIENT_ID`` are set, the sign-in
page offers the provider and (unless ``PUENTE_OIDC_ALLOW_LOCAL_LOGIN``) no
longer takes passwords. The provider proves who the user is; what they may do
is still the roles granted in Puente, so a provider user needs a Puente
account of the same name (``puente user add NAME --role …``). The ID token is
checked for signature (the provider's JWKS), issuer, audience, expiry and the
nonce of this sign-in.

The state, nonce and PKCE verifier travel in a short-lived cookie signed with
``PUENTE_SECRET_KEY``; no server-side storage is needed, so any app process
can finish a sign-in another one started.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
import jwt

from puente.access.secrets import new_token
from puente.config import Settings
from puente.errors import FieldError, NotAuthenticated

FLOW_COOKIE = "puente_oidc"
FLOW_TTL_SECONDS = 600


class OidcError(NotAuthenticated):
    title = "Sign-in at the identity provider failed"


@dataclass(frozen=True)
class Provider:
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    issuer: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _sign(settings: Settings, payload: dict[str, Any]) -> str:
    body = _b64(json.dumps(payload, separators=(",", ":")).encode())
    mac = hmac.new(settings.secret_key.encode(), body.encode(), hashlib.sha256).digest()
    return f"{body}.{_b64(mac)}"


def _unsign(settings: Settings, value: str) -> dict[str, Any]:
    body, _, mac = value.partition(".")
    expected = _b64(hmac.new(settings.secret_key.encode(), body.encode(), hashlib.sha256).digest())
    if not mac or not hmac.compare_digest(mac, expected):
        raise OidcError("The sign-in could not be verified; start again.")
    payload: dict[str, Any] = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    if payload.get("exp", 0) < time.time():
        raise OidcError("The sign-in took too long; start again.")
    return payload


class OidcClient:
    """Talks to the provider; ``transport`` lets tests stand one in."""

    def __init__(self, settings: Settings, transport: httpx.BaseTransport | None = None) -> None:
        self.settings = settings
        self.transport = transport
        self._provider: Provider | None = None
        self._jwks: dict[str, Any] | None = None

    def _http(self) -> httpx.Client:
        return httpx.Client(transport=self.transport, timeout=10.0)

    def provider(self) -> Provider:
        if self._provider is None:
            issuer = (self.settings.oidc_issuer or "").rstrip("/")
            with self._http() as http:
                found = http.get(f"{issuer}/.well-known/openid-configuration")
                found.raise_for_status()
                doc = found.json()
            self._provider = Provider(
                authorization_endpoint=doc["authorization_endpoint"],
                token_endpoint=doc["token_endpoint"],
                jwks_uri=doc["jwks_uri"],
                issuer=doc.get("issuer", issuer),
            )
        return self._provider

    def start(self, *, redirect_uri: str, next_url: str) -> tuple[str, str]:
        """The provider URL to send the browser to, and the flow cookie."""
        verifier, state, nonce = new_token(), new_token(), new_token()
        challenge = _b64(hashlib.sha256(verifier.encode()).digest())
        query = {
            "response_type": "code",
            "client_id": self.settings.oidc_client_id,
            "redirect_uri": redirect_uri,
            "scope": self.settings.oidc_scopes,
            "state": state,
            "nonce": nonce,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        cookie = _sign(
            self.settings,
            {
                "state": state,
                "nonce": nonce,
                "verifier": verifier,
                "next": next_url,
                "exp": time.time() + FLOW_TTL_SECONDS,
            },
        )
        return f"{self.provider().authorization_endpoint}?{urlencode(query)}", cookie

    def finish(self, *, code: str, state: str, cookie: str, redirect_uri: str) -> tuple[str, str]:
        """Check the answer and return (user name claim, next URL)."""
        flow = _unsign(self.settings, cookie)
        if not hmac.compare_digest(flow["state"], state):
            raise OidcError(
                "The sign-in answer does not match this browser; start again.",
                errors=[FieldError("state", "does not match")],
            )
        secret = self.settings.oidc_client_secret
        with self._http() as http:
            answer = http.post(
                self.provider().token_endpoint,
                data={
                    "grant_type": "authorization_code",
                    "code": code,
                    "redirect_uri": redirect_uri,
                    "client_id": self.settings.oidc_client_id,
                    "client_secret": secret.get_secret_value() if secret else "",
                    "code_verifier": flow["verifier"],
                },
            )
        if answer.status_code != 200 or "id_token" not in answer.json():
            raise OidcError(
                "The identity provider refused the sign-in.",
                errors=[FieldError("code", f"token endpoint answered {answer.status_code}")],
            )
        claims = self._verify(answer.json()["id_token"], nonce=flow["nonce"])
        username = claims.get(self.settings.oidc_username_claim)
        if not isinstance(username, str) or not username:
            raise OidcError(
                "The identity provider did not say who you are.",
                errors=[FieldError(self.settings.oidc_username_claim, "missing from the ID token")],
            )
        return username, str(flow["next"])

    def _keys(self) -> dict[str, Any]:
        if self._jwks is None:
            with self._http() as http:
                found = http.get(self.provider().jwks_uri)
                found.raise_for_status()
                self._jwks = found.json()
        return self._jwks

    def _verify(self, id_token: str, *, nonce: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(id_token)
            keys = jwt.PyJWKSet.from_dict(self._keys())
            key = next((k for k in keys.keys if k.key_id == header.get("kid")), keys.keys[0])
            claims: dict[str, Any] = jwt.decode(
                id_token,
                key=key.key,
                algorithms=["RS256", "ES256", "PS256"],
                audience=self.settings.oidc_client_id,
                issuer=self.provider().issuer,
            )
        except (jwt.PyJWTError, IndexError) as exc:
            raise OidcError(
                "The identity provider's answer could not be verified.",
                errors=[FieldError("id_token", str(exc))],
            ) from None
        if not hmac.compare_digest(str(claims.get("nonce", "")), nonce):
            raise OidcError(
                "The identity provider's answer is not for this sign-in.",
                errors=[FieldError("nonce", "does not match")],
            )
        return claims
