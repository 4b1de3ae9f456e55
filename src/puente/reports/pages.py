"""Pages of `reports`: one live dashboard per program.

Each dashboard reads the rollup when the page is asked for, so a ledger row
recorded a moment ago is already in every figure. Charts are drawn in the
browser by Plotly, whose script Puente serves itself from the installed
``plotly`` package (no CDN). The drill-down goes country → region →
facility (→ services of that facility); the area table exports as CSV or
XLSX and the bulletin of the period is one link away in every language.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, File, Query, Request, Response, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from puente import i18n
from puente.access.gate import requires
from puente.access.policy import Permission
from puente.access.principal import Principal
from puente.access.service import FacilityScope, facility_scope
from puente.deps import DB, SettingsDep
from puente.enums import ProgramKind
from puente.errors import FieldError, ImportFailed, NotFound, PayloadTooLarge
from puente.ledger import imports as ledger_imports
from puente.network.models import Country, Facility, Program, Region
from puente.reports import service
from puente.reports.cache import TimedCache
from puente.reports.indicators import INDICATORS, Breakdown
from puente.reports.service import Filters
from puente.web.templating import render

router = APIRouter(include_in_schema=False)
Reader = Annotated[Principal, requires(Permission.ledger_read)]
STATIC = Path(__file__).parent / "static"


@dataclass(frozen=True)
class Layout:
    """What a program's dashboard shows."""

    main: str  # the indicator of the bars, lines, ranking and table
    kpis: tuple[str, ...]
    lines: tuple[str, ...]  # indicators drawn over time
    time: Breakdown
    citizenships: bool = False


LAYOUTS = {
    ProgramKind.deferred_care_recovery: Layout(
        "services",
        (
            "surgeries",
            "specialty-consultations",
            "family-medicine-consultations",
            "screenings",
            "transplants",
            "facilities-enrolled",
        ),
        ("services", "surgeries"),
        Breakdown.day,
    ),
    ProgramKind.virtual_visits: Layout(
        "teleconsultations",
        ("teleconsultations", "visits-avoided", "unique-patients", "facilities-enrolled"),
        ("teleconsultations", "visits-avoided"),
        Breakdown.month,
    ),
    ProgramKind.remote_care_network: Layout(
        "remote-consultations",
        (
            "remote-consultations",
            "tele-education",
            "virtual-services",
            "facilities-enrolled",
            "response-time",
            "deadline-breaches",
            "breach-rate",
        ),
        ("remote-consultations", "tele-education"),
        Breakdown.month,
    ),
    ProgramKind.medical_services_export: Layout(
        "foreign-patients",
        ("foreign-patients", "services", "facilities-enrolled"),
        ("foreign-patients",),
        Breakdown.month,
        citizenships=True,
    ),
}

# Plotly's separators: decimal mark, then thousands.
SEPARATORS = {"en": ".,", "es": ".,", "ru": ",\u00a0", "vi": ",."}


@cache
def _plotly_js() -> bytes:
    import plotly

    return (Path(plotly.__file__).parent / "package_data" / "plotly.min.js").read_bytes()


@router.get("/figures/assets/plotly.min.js")
def plotly_script(user: Reader) -> Response:
    return Response(
        _plotly_js(),
        media_type="text/javascript",
        headers={"Cache-Control": "private, max-age=86400"},
    )


@router.get("/figures/assets/dashboard.js")
def dashboard_script(user: Reader) -> Response:
    return Response(
        (STATIC / "dashboard.js").read_bytes(),
        media_type="text/javascript",
        headers={"Cache-Control": "private, max-age=300"},
    )


@router.get("/figures", response_class=HTMLResponse)
def index(request: Request, db: DB, user: Reader) -> HTMLResponse:
    programs = db.scalars(select(Program).order_by(Program.kind, Program.code)).all()
    lang = i18n.current_language.get()
    return render(
        request,
        "reports/index.html",
        programs=programs,
        indicators=list(INDICATORS.values()),
        ilang=lang,
        ledger_write=Permission.ledger_write,
    )


@dataclass
class Drill:
    program: Program
    start: date
    end: date
    country: str | None
    region: Region | None
    facility: Facility | None

    def filters(self) -> Filters:
        return Filters(
            start=self.start,
            end=self.end,
            program=self.program.code,
            country=self.country,
            region=self.region.code if self.region else None,
            facilities=(self.facility.code,) if self.facility else (),
        )

    @property
    def level(self) -> Breakdown:
        if self.facility:
            return Breakdown.service
        if self.region:
            return Breakdown.facility
        if self.country:
            return Breakdown.region
        return Breakdown.country

    def query(self, **changes: Any) -> str:
        values: dict[str, Any] = {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "country": self.country,
            "region": self.region.code if self.region else None,
            "facility": self.facility.code if self.facility else None,
        }
        values.update(changes)
        return urlencode({k: v for k, v in values.items() if v})


def _drill(
    db: Session,
    scope: FacilityScope,
    program: Program,
    start: date | None,
    end: date | None,
    country: str | None,
    region: str | None,
    facility: str | None,
) -> Drill:
    found_facility = (
        db.scalar(select(Facility).where(Facility.code == facility)) if facility else None
    )
    found_region = db.scalar(select(Region).where(Region.code == region)) if region else None
    if found_facility is not None:
        country = found_facility.country_code
        if found_region is None:
            found_region = db.get(Region, found_facility.region_id)
            if found_region is not None and found_region.parent_id is not None:
                found_region = db.get(Region, found_region.parent_id)
    if found_region is not None:
        country = found_region.country_code
    period = service.period_of(db, Filters(program=program.code), scope)
    first, last = period or (date.today(), date.today())
    return Drill(
        program,
        start or first,
        end or last,
        country.upper() if country else None,
        found_region,
        found_facility,
    )


def _chart(kind: str, title: str, x: list[Any], y: list[Any], **extra: Any) -> dict[str, Any]:
    return {"kind": kind, "title": title, "x": x, "y": y, **extra}


Writer = Annotated[Principal, requires(Permission.ledger_write)]


def _import_page(request: Request, status_code: int = 200, **context: Any) -> HTMLResponse:
    return render(
        request,
        "reports/import.html",
        status_code=status_code,
        columns=[c.name for c in ledger_imports.COLUMNS],
        required={c.name for c in ledger_imports.COLUMNS if c.required},
        **context,
    )


@router.get("/figures/import", response_class=HTMLResponse)
def import_form(request: Request, user: Writer) -> HTMLResponse:
    return _import_page(request)


@router.post("/figures/import", response_class=HTMLResponse)
async def import_upload(
    request: Request,
    db: DB,
    user: Writer,
    settings: SettingsDep,
    file: Annotated[UploadFile, File()],
) -> HTMLResponse:
    """The aggregate import (``puente import ledger``) from the browser: all or
    nothing, every row inside the user's facility scope, errors by row."""
    name = Path(file.filename or "upload.csv").name[:100] or "upload.csv"
    with tempfile.TemporaryDirectory(prefix="puente-import-") as tmp:
        path = Path(tmp) / name
        size = 0
        with path.open("wb") as out:
            while chunk := await file.read(1 << 20):
                size += len(chunk)
                if size > settings.import_max_bytes:
                    raise PayloadTooLarge(
                        f"The file is larger than {settings.import_max_bytes} bytes.",
                        errors=[FieldError("file", "too large")],
                    )
                out.write(chunk)
        scope = facility_scope(db, user, Permission.ledger_write)

        def run() -> Any:
            return ledger_imports.import_ledger(db, path, scope=scope)

        try:
            result = await run_in_threadpool(run)
        except ImportFailed as failed:
            return _import_page(
                request, status_code=400, failed=failed, file_name=name, errors=failed.errors
            )
    return _import_page(request, result=result, file_name=name)


def _figure_cache(request: Request) -> TimedCache[service.Result]:
    """The app's cache of dashboard figures (one per app, so per database)."""
    state = request.app.state
    cache: TimedCache[service.Result] | None = getattr(state, "dashboard_figures", None)
    if cache is None:
        cache = state.dashboard_figures = TimedCache(state.settings.dashboard_cache_seconds)
    return cache


@router.get("/figures/{program_code}", response_class=HTMLResponse)
@service.reading_once
def dashboard(
    request: Request,
    db: DB,
    user: Reader,
    program_code: str,
    start: date | None = None,
    end: date | None = None,
    country: Annotated[str | None, Query(max_length=2)] = None,
    region: Annotated[str | None, Query(max_length=32)] = None,
    facility: Annotated[str | None, Query(max_length=32)] = None,
) -> HTMLResponse:
    program = db.scalar(select(Program).where(Program.code == program_code))
    if program is None:
        raise NotFound(f"No program '{program_code}'.")
    lang = i18n.current_language.get()
    scope = facility_scope(db, user, Permission.ledger_read)
    drill = _drill(db, scope, program, start, end, country, region, facility)
    layout = LAYOUTS[program.kind]
    filters = drill.filters()

    cache = _figure_cache(request)
    born_at: list[float] = []  # when each figure shown was computed

    def figure(code: str, by: list[Breakdown], limit: int | None = None) -> service.Result:
        result, born = cache.fetch(
            (code, filters, tuple(by), limit, scope, lang),
            lambda: service.compute(db, code, filters, by=by, scope=scope, lang=lang, limit=limit),
        )
        born_at.append(born)
        return result

    kpis = [(INDICATORS[code], figure(code, []).total) for code in layout.kpis]
    main = INDICATORS[layout.main]
    areas = figure(layout.main, [drill.level])
    charts = [
        _chart(
            "bar",
            f"{main.label(lang)} — {i18n.gettext(LEVEL_TITLES[drill.level], lang)}",
            [r.labels[drill.level.value] for r in areas.rows[:40]],
            [r.value for r in areas.rows[:40]],
        )
    ]
    series = []
    for code in layout.lines:
        over_time = figure(code, [layout.time])
        series.append(
            {
                "name": INDICATORS[code].label(lang),
                "x": [r.keys[layout.time.value] for r in over_time.rows],
                "y": [r.value for r in over_time.rows],
            }
        )
    charts.append({"kind": "lines", "title": i18n.gettext("Over time", lang), "series": series})
    ranking = figure(layout.main, [Breakdown.service], limit=15)
    charts.append(
        _chart(
            "hbar",
            f"{main.label(lang)} — {i18n.gettext('Ranking of services', lang)}",
            [r.labels["service"] for r in reversed(ranking.rows)],
            [r.value for r in reversed(ranking.rows)],
        )
    )
    if layout.citizenships:
        top = figure("foreign-patients", [Breakdown.citizenship], limit=12)
        charts.append(
            _chart(
                "hbar",
                i18n.gettext("Top citizenships of foreign patients", lang),
                [r.labels["citizenship"] for r in reversed(top.rows)],
                [r.value for r in reversed(top.rows)],
            )
        )
    enrolled = figure("facilities-enrolled", [Breakdown.month])
    charts.append(
        _chart(
            "step",
            i18n.gettext("Facilities enrolled over time", lang),
            [r.keys["month"] for r in enrolled.rows],
            [r.value for r in enrolled.rows],
        )
    )
    crumbs = _crumbs(db, drill, lang)
    rows = [
        {
            "label": r.labels[drill.level.value],
            "code": r.keys[drill.level.value],
            "value": r.value,
            "href": _drill_href(drill, r.keys[drill.level.value]),
        }
        for r in areas.rows
    ]
    export_query = urlencode(
        [
            *[(k, v) for k, v in _api_filters(drill).items() if v],
            ("by", drill.level.value),
        ]
    )
    bulletin_query = urlencode(
        {
            "program": program.code,
            "start": drill.start.isoformat(),
            "end": drill.end.isoformat(),
            **({"country": drill.country} if drill.country else {}),
        }
    )
    return render(
        request,
        "reports/dashboard.html",
        program=program,
        drill=drill,
        kpis=kpis,
        ilang=lang,
        main=main,
        total=areas.total,
        rows=rows,
        level_title=LEVEL_TITLES[drill.level],
        crumbs=crumbs,
        charts_json=json.dumps(
            {"charts": charts, "separators": SEPARATORS.get(lang, ".,")}, ensure_ascii=False
        ).replace("</", "<\\/"),
        export_query=export_query,
        bulletin_query=bulletin_query,
        indicator_code=layout.main,
        as_of=datetime.fromtimestamp(min(born_at), UTC),
        as_tz=_program_zone(db, program),
        kept_seconds=cache.seconds,
    )


def _program_zone(db: Session, program: Program) -> str:
    """The time zone a program's readers keep: its country's, else UTC."""
    if program.country_code is None:
        return "UTC"
    country = db.get(Country, program.country_code)
    return country.default_timezone if country else "UTC"


LEVEL_TITLES = {
    Breakdown.country: "By country",
    Breakdown.region: "By region",
    Breakdown.facility: "By facility",
    Breakdown.service: "By service",
}


def _api_filters(drill: Drill) -> dict[str, str | None]:
    return {
        "program": drill.program.code,
        "start": drill.start.isoformat(),
        "end": drill.end.isoformat(),
        "country": drill.country,
        "region": drill.region.code if drill.region else None,
        "facility": drill.facility.code if drill.facility else None,
    }


def _drill_href(drill: Drill, code: str) -> str | None:
    base = f"/figures/{drill.program.code}?"
    if drill.level == Breakdown.country:
        return base + drill.query(country=code)
    if drill.level == Breakdown.region:
        return base + drill.query(region=code)
    if drill.level == Breakdown.facility:
        return base + drill.query(facility=code)
    return None


def _crumbs(db: Session, drill: Drill, lang: str) -> list[tuple[str, str]]:
    base = f"/figures/{drill.program.code}?"
    out = [
        (
            i18n.gettext("All countries", lang),
            base + drill.query(country=None, region=None, facility=None),
        )
    ]
    if drill.country:
        out.append(
            (
                i18n.country_name(drill.country, lang),
                base + drill.query(region=None, facility=None),
            )
        )
    if drill.region:
        out.append((drill.region.name, base + drill.query(facility=None)))
    if drill.facility:
        out.append((drill.facility.name, base + drill.query()))
    return out
