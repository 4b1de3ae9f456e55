"""Every route passes the one gate; only sign-in, health and static assets
are public. Fails when someone adds a route and forgets the permission."""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIWebSocketRoute
from fastapi.testclient import TestClient
from starlette.routing import WebSocketRoute

from tests.routes import mounts, served_routes

PUBLIC = {
    "/healthz",
    "/readyz",
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


# WebSockets carry no cookie check or bearer header of their own: each must
# admit only holders of a short-lived token issued by a gated HTTP route
# (puente.video.tokens.checks_room_token marks the endpoints that do).


def websocket_routes(routes: Any = None, prefix: str = "", app: FastAPI | None = None) -> Any:
    for route in routes if routes is not None else app.routes:  # type: ignore[union-attr]
        if isinstance(route, APIWebSocketRoute | WebSocketRoute):
            yield prefix + route.path, route.endpoint
        elif hasattr(route, "original_router"):
            yield from websocket_routes(
                route.original_router.routes, prefix + route.include_context.prefix
            )


def test_every_websocket_route_checks_a_room_token(app: FastAPI) -> None:
    sockets = dict(websocket_routes(app=app))
    assert "/ws/visits/{visit_id}" in sockets  # a walk that sees none passes all
    unchecked = [
        p for p, endpoint in sockets.items() if not getattr(endpoint, "checks_room_token", False)
    ]
    assert unchecked == []


def test_every_websocket_route_closes_on_a_caller_without_a_token(
    client: TestClient, app: FastAPI
) -> None:
    for path, _endpoint in websocket_routes(app=app):
        with client.websocket_connect(re.sub(r"\{[^}]+\}", "1", path)) as ws:
            ws.send_json({"type": "join"})
            message = ws.receive()
            assert message["type"] == "websocket.close", path
            assert message["code"] == 4401, path
