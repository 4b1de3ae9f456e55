"""What every HTTP request meets first inside the app, as one plain ASGI
middleware (Starlette's ``BaseHTTPMiddleware`` runs each request in a task
of its own with a memory stream between the layers: two of them cost about
a quarter of a trivial request's CPU here).

In order, for each request:

- its id: the caller's ``X-Request-Id`` or a new one, put in
  ``request.state`` and in the logging context, so that it reaches every log
  line and audit record of the request, and sent back in ``X-Request-Id``;
- refusals before any route runs: a NUL in the address (400: no text column
  stores one, PostgreSQL refuses it), a ``Content-Length`` that is not a
  number (400) or above the route's limit (413);
- the language: ``?lang=``, else the ``lang`` cookie, else
  ``Accept-Language``, else the configured default; a ``?lang=`` it accepted
  is kept in the cookie for a year;
- ``X-Content-Type-Options: nosniff`` on every answer that does not set it;
- when the answer is sent: the request counted in the metrics under its
  route template, and one access line logged (method, route, status, ms).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import Response

from puente.access.gate import request_id
from puente.errors import problem
from puente.i18n import current_language, negotiate, normalise_language
from puente.ops.logs import current_request_id
from puente.ops.metrics import REGISTRY

ACCESS_LOG = logging.getLogger("puente.access")
LANGUAGE_COOKIE_SECONDS = 365 * 86400


def _language_cookie(language: str) -> bytes:
    """The Set-Cookie value Starlette writes for the ``lang`` cookie."""
    carrier = Response()
    carrier.set_cookie("lang", language, max_age=LANGUAGE_COOKIE_SECONDS, samesite="lax")
    return dict(carrier.raw_headers)[b"set-cookie"]


class Edge:
    """Pure ASGI middleware; see the module's text. ``body_limit(path)`` is
    the largest body the route at ``path`` accepts, ``route_template(request)``
    the matched route's template once the app has answered."""

    def __init__(
        self,
        app: Any,
        *,
        default_language: str,
        body_limit: Callable[[str], int],
        route_template: Callable[[Request], str],
    ) -> None:
        self.app = app
        self.default_language = default_language
        self.body_limit = body_limit
        self.route_template = route_template

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request = Request(scope)
        rid = request_id(request)
        rid_token = current_request_id.set(rid)
        status = 500
        cookie: bytes | None = None

        async def answer(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = MutableHeaders(scope=message)
                headers["X-Request-Id"] = rid
                if "x-content-type-options" not in headers:
                    headers["X-Content-Type-Options"] = "nosniff"
                if cookie is not None:
                    headers.append("set-cookie", cookie.decode("latin-1"))
            await send(message)

        try:
            refusal = self.refusal(request)
            if refusal is not None:
                await refusal(scope, receive, answer)
                return
            asked = request.query_params.get("lang")
            language = (
                normalise_language(asked, "")
                or normalise_language(request.cookies.get("lang"), "")
                or negotiate(request.headers.get("accept-language"), self.default_language)
            )
            if asked and language == asked:
                cookie = _language_cookie(language)
            lang_token = current_language.set(language)
            try:
                await self.app(scope, receive, answer)
            finally:
                current_language.reset(lang_token)
        finally:
            elapsed = time.perf_counter() - started
            template = self.route_template(request)
            REGISTRY.observe(request.method, template, status, elapsed)
            ACCESS_LOG.info(
                "%s %s %s",
                request.method,
                template,
                status,
                extra={
                    "method": request.method,
                    "route": template,
                    "status": status,
                    "ms": round(elapsed * 1000, 1),
                },
            )
            current_request_id.reset(rid_token)

    def refusal(self, request: Request) -> Response | None:
        scope = request.scope
        raw = scope.get("raw_path", b"") + b"?" + scope.get("query_string", b"")
        if b"%00" in raw or b"\x00" in raw:
            return problem(
                400,
                "Bad request",
                "The address contains a NUL character.",
                errors=[{"field": "query", "message": "contains a NUL character"}],
            )
        length = request.headers.get("content-length")
        if length is None:
            return None
        if not length.isdigit():
            return problem(400, "Bad request", "Content-Length is not a number")
        limit = self.body_limit(request.url.path)
        if int(length) > limit:
            return problem(
                413, "Payload too large", f"The body is {length} bytes; the limit is {limit}."
            )
        return None
