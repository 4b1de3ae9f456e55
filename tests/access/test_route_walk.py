"""Every route passes the one gate; only sign-in, health and static assets
are public. Fails when someone adds a route and forgets the permission."""

from __future__ import annotations

import re

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.routes import mounts, served_routes

PUBLIC = {
    "/healthz",
    "/login",
    "/login/oidc",
    "/login/oidc/callback",
    "/api/auth/token",
    "/docs",
    "/docs/oauth2-redirect",
    "/openapi.json",
}


def test_the_walk_sees_every_feature_router(app: FastAPI) -> None:
    paths = {s.path for s in served_routes(app)}
    # A walk that sees nothing would pass everything below.
    assert {"/api/auth/me", "/admin/audit", "/"} <= paths
    assert len(paths) > 10


def test_every_route_that_is_not_public_declares_the_gate(app: FastAPI) -> None:
    ungated = [
        f"{sorted(s.methods)} {s.path}"
        for s in served_routes(app)
        if s.path not in PUBLIC and not s.gated
    ]
    assert ungated == []


def test_the_only_public_routes_are_sign_in_health_docs_and_static_assets(app: FastAPI) -> None:
    public = {s.path for s in served_routes(app) if not s.gated}
    assert public <= PUBLIC
    assert mounts(app) == {"/static"}


def test_every_gated_route_refuses_an_anonymous_caller(client: TestClient, app: FastAPI) -> None:
    opened = []
    for served in served_routes(app):
        if not served.gated:
            continue
        path = re.sub(r"\{[^}]+\}", "1", served.path)
        for method in sorted(served.methods - {"HEAD"}):
            r = client.request(
                method, path, headers={"accept": "text/html"}, follow_redirects=False
            )
            if r.status_code == 303:
                assert r.headers["location"].startswith("/login"), served.path
            elif r.status_code != 401:
                opened.append(f"{method} {served.path} -> {r.status_code}")
    assert opened == []


def test_pages_send_an_anonymous_browser_to_sign_in_and_the_api_answers_401(
    client: TestClient,
) -> None:
    page = client.get("/", headers={"accept": "text/html"}, follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith("/login")
    api = client.get("/api/auth/me")
    assert api.status_code == 401
    assert api.headers["content-type"] == "application/problem+json"
