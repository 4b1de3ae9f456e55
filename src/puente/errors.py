"""Domain errors and their rendering as RFC 9457 problem+json.

    PuenteError                 500  base; carries status, title and field errors
    ├── BadRequest              400  a request that cannot be understood
    │   └── ImportFailed        400  a CSV import with row/column errors; nothing stored
    ├── NotAuthenticated        401
    ├── Forbidden               403
    ├── NotFound                404  an id, code or reference that does not exist
    ├── Conflict                409  a duplicate or a state clash
    ├── PreconditionFailed      412  a stale If-Match
    ├── PayloadTooLarge         413
    └── Unprocessable           422  well-formed input that breaks a rule

Request-body validation (pydantic) is also rendered as 422 with one entry per
field. Services raise these; routes never build error responses themselves.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)

PROBLEM = "application/problem+json"


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str
    row: int | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"field": self.field, "message": self.message}
        if self.row is not None:
            out["row"] = self.row
        return out


class PuenteError(Exception):
    status = 500
    title = "Internal error"

    def __init__(self, detail: str, *, errors: list[FieldError] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []


class BadRequest(PuenteError):
    status = 400
    title = "Bad request"


class ImportFailed(BadRequest):
    title = "Import failed"


class NotAuthenticated(PuenteError):
    status = 401
    title = "Not authenticated"


class Forbidden(PuenteError):
    status = 403
    title = "Forbidden"


class NotFound(PuenteError):
    status = 404
    title = "Not found"


class Conflict(PuenteError):
    status = 409
    title = "Conflict"


class PreconditionFailed(PuenteError):
    status = 412
    title = "Precondition failed"


class PayloadTooLarge(PuenteError):
    status = 413
    title = "Payload too large"


class Unprocessable(PuenteError):
    status = 422
    title = "Unprocessable content"


def problem(
    status: int, title: str, detail: str, errors: list[dict[str, Any]] | None = None
) -> JSONResponse:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    body["detail"] = detail
    if errors:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, media_type=PROBLEM)


def _loc_to_field(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    return [{"field": _loc_to_field(e["loc"]), "message": e["msg"]} for e in exc.errors()]


def wants_page(request: Request) -> bool:
    """A browser asking for a page (not the JSON API or FHIR)."""
    path = request.url.path
    return not path.startswith(("/api/", "/fhir")) and "text/html" in request.headers.get(
        "accept", ""
    )


def _page(request: Request, status: int, title: str, detail: str) -> Response:
    from puente.web.templating import render

    return render(
        request, "error.html", status_code=status, status=status, title=title, detail=detail
    )


def install_handlers(app: FastAPI) -> None:
    @app.exception_handler(PuenteError)
    async def _puente(request: Request, exc: PuenteError) -> Response:
        if wants_page(request):
            return _page(request, exc.status, exc.title, exc.detail)
        return problem(exc.status, exc.title, exc.detail, [e.as_dict() for e in exc.errors])

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = validation_errors(exc)
        fields = ", ".join(sorted({e["field"] for e in errors}))
        return problem(422, "Invalid request", f"Invalid value for: {fields}", errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        title = {404: "Not found", 405: "Method not allowed"}.get(exc.status_code, "Error")
        if wants_page(request):
            return _page(request, exc.status_code, title, str(exc.detail))
        return problem(exc.status_code, title, str(exc.detail))

    @app.exception_handler(Exception)
    async def _unhandled(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return problem(500, "Internal error", "An unexpected error occurred; it has been logged.")
