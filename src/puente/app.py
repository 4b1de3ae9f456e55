"""The application factory: the one place where the app is assembled."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from puente import __version__
from puente.access.gate import install_handlers as install_access_handlers
from puente.access.gate import requires
from puente.access.policy import Permission
from puente.access.principal import Principal
from puente.config import Settings, get_settings
from puente.db import make_engine, make_sessionmaker
from puente.deps import DB
from puente.errors import install_handlers
from puente.migrate import head_revisions
from puente.openapi import install as install_openapi
from puente.ops.admission import AdmissionLimit
from puente.ops.edge import Edge
from puente.ops.metrics import REGISTRY, database_lines

STATIC_DIR = Path(__file__).parent / "web" / "static"


# Files shared in a visit room stream in as the request body; the route caps
# them at room_file_max_bytes itself (puente.visits.room.share_file).
ROOM_UPLOAD = re.compile(r"^/api/visits/\d+/files$")
# CSV imports uploaded from the pages; the route streams them to a file.
IMPORT_UPLOAD = re.compile(r"^/figures/import$")


def schema_revisions(engine: Engine) -> set[str]:
    """The schema's Alembic revisions, read on a bare DBAPI connection: no
    transaction of Puente's own, so SQLite's write lock is never taken."""
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("SELECT version_num FROM alembic_version")
        return {str(row[0]) for row in cursor.fetchall()}
    finally:
        raw.close()


def route_template(request: Request) -> str:
    """The matched route's template with its router prefix (/api/visits/{visit_id}):
    FastAPI hands the included router's own route, whose path lacks the prefix,
    so the prefix is taken from the request path's leading segments."""
    path = getattr(request.scope.get("route"), "path", None)
    if not path:
        return "(unmatched)"
    parts = path.strip("/").split("/")
    actual = request.url.path.strip("/").split("/")
    if ":path}" in path or len(parts) > len(actual):
        return str(path)
    return "/" + "/".join(actual[: len(actual) - len(parts)] + parts)


def body_limit(settings: Settings, path: str) -> int:
    if ROOM_UPLOAD.match(path):
        return max(settings.max_body_bytes, settings.room_file_max_bytes)
    if IMPORT_UPLOAD.match(path):
        return max(settings.max_body_bytes, settings.import_max_bytes)
    return settings.max_body_bytes


def _routers() -> list[tuple[str, object]]:
    from puente.access.api import router as access
    from puente.access.pages import router as access_pages
    from puente.catalog.api import router as catalog
    from puente.catalog.pages import router as catalog_pages
    from puente.consults.api import router as consults
    from puente.consults.conference_api import router as conferences
    from puente.consults.conference_pages import router as conference_pages
    from puente.consults.conference_room import router as conference_room
    from puente.consults.education_api import router as education
    from puente.consults.education_pages import router as education_pages
    from puente.consults.janus import router as janus
    from puente.consults.pages import router as consult_pages
    from puente.fhir.api import router as fhir
    from puente.ledger.api import router as ledger
    from puente.network.api import router as network
    from puente.network.pages import router as network_pages
    from puente.people.api import router as people
    from puente.recovery.api import router as recovery
    from puente.recovery.grid_pages import router as recovery_grid
    from puente.recovery.list_pages import router as recovery_list
    from puente.recovery.pages import router as recovery_pages
    from puente.reports.api import router as reports
    from puente.reports.pages import router as report_pages
    from puente.scheduling.api import router as scheduling
    from puente.scheduling.pages import router as schedule_pages
    from puente.visits.api import router as visits
    from puente.visits.pages import router as visit_pages
    from puente.visits.room import router as visit_room
    from puente.web.pages import router as pages

    return [
        ("/api", access),
        ("/api", network),
        ("/api", people),
        ("/api", catalog),
        ("/api", ledger),
        ("/api", reports),
        ("/api", scheduling),
        ("/api", visits),
        ("/api", conferences),  # before consults: /consults/conferences is not a case id
        ("/api", janus),
        ("/api", consults),
        ("/api", education),
        ("/fhir", fhir),
        ("", pages),
        ("", access_pages),
        ("", network_pages),
        ("", catalog_pages),
        ("", report_pages),
        ("", visit_pages),
        ("", schedule_pages),
        ("", visit_room),
        ("/api", recovery),
        ("", recovery_pages),
        ("", recovery_grid),
        ("", recovery_list),
        ("", conference_pages),  # before consult_pages: /consults/conferences is no case id
        ("", conference_room),
        ("", consult_pages),
        ("", education_pages),
    ]


def redis_answers(url: str) -> bool:
    """Redis answers a PING within two seconds."""
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    try:
        return bool(client.ping())
    except (redis.RedisError, OSError):
        return False
    finally:
        client.close()


def create_app(
    settings: Settings | None = None, session_factory: sessionmaker[Session] | None = None
) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(
        title="Puente",
        version=__version__,
        description="National care-network platform: JSON API. FHIR R4 lives under /fhir.",
        docs_url="/docs",
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.settings = settings
    limit: int | None = None
    if session_factory is None:
        limit = settings.max_concurrent_requests
        engine = make_engine(settings.database_url, **pool_options(settings.database_url, limit))
        session_factory = make_sessionmaker(engine)
    app.state.sessionmaker = session_factory
    if settings.oidc_enabled:
        from puente.access.oidc import OidcClient

        app.state.oidc = OidcClient(settings)

    install_handlers(app)
    install_access_handlers(app)
    install_openapi(app)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    def readyz() -> Response:
        """The database answers and its schema is at the code's migration head."""
        engine = session_factory.kw["bind"].engine  # a Connection in tests
        try:
            current = schema_revisions(engine)
        except Exception as exc:  # any driver error: not ready
            return JSONResponse(
                {"status": "unavailable", "database": "unreachable",
                 "detail": type(exc).__name__},
                status_code=503,
            )  # fmt: skip
        heads = set(head_revisions(str(engine.url)))
        if current != heads:
            return JSONResponse(
                {"status": "unavailable", "database": "reachable",
                 "migrations": {"current": sorted(current), "head": sorted(heads)}},
                status_code=503,
            )  # fmt: skip
        if settings.redis_url and not redis_answers(settings.redis_url):
            # Rooms of several processes meet in Redis: without it, this
            # process would strand its half of every call.
            return JSONResponse(
                {"status": "unavailable", "database": "reachable", "redis": "unreachable"},
                status_code=503,
            )
        return JSONResponse({"status": "ready", "migrations": sorted(heads)})

    @app.get("/metrics", include_in_schema=False)
    def metrics(db: DB, user: Annotated[Principal, requires(Permission.metrics_read)]) -> Response:
        """Prometheus metrics: this process's requests, and queue depths and
        deadlines from the database."""
        body = "\n".join([*REGISTRY.lines(), *database_lines(db)]) + "\n"
        return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")

    for prefix, router in _routers():
        app.include_router(router, prefix=prefix)  # type: ignore[arg-type]
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.add_middleware(
        Edge,
        default_language=settings.default_language,
        body_limit=lambda path: body_limit(settings, path),
        route_template=route_template,
    )
    if limit is not None:
        # Outermost, so a waiting request holds nothing.
        app.add_middleware(AdmissionLimit, limit=limit)
    return app


def pool_options(url: str, limit: int) -> dict[str, int]:
    """A connection for every admitted request, and a few more for what is
    not admitted through the limit (WebSocket rooms, background tasks)."""
    if url in ("sqlite://", "sqlite:///:memory:"):
        return {}  # one shared in-memory database: SQLAlchemy's own pool
    return {"pool_size": limit, "max_overflow": 10}
