"""JSON routes of `reports`: indicator definitions, figures, exports, bulletins
and FHIR MeasureReports. Every route needs ledger:read and sums only the
facilities in the reader's scope; none returns a patient's identity."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response

from puente.access.gate import requires
from puente.access.policy import Permission
from puente.access.principal import Principal
from puente.access.service import FacilityScope, facility_scope
from puente.deps import DB
from puente.enums import Mode, Tier
from puente.errors import FieldError, Forbidden
from puente.i18n import current_language
from puente.ledger import service as ledger
from puente.reports import bulletin, export, service
from puente.reports.indicators import INDICATORS, Breakdown
from puente.reports.service import Filters

router = APIRouter(tags=["reports"])

Reader = Annotated[Principal, requires(Permission.ledger_read)]
Short = Annotated[str | None, Query(max_length=64)]
Codes = Annotated[list[str], Query(max_length=200)]


def filter_params(
    start: date | None = None,
    end: date | None = None,
    campaign: Short = None,
    program: Short = None,
    mode: Mode | None = None,
    citizenship: Annotated[list[str], Query(max_length=50)] = [],  # noqa: B006
    foreign: bool | None = None,
    tier: Annotated[list[Tier], Query()] = [],  # noqa: B006
    country: Annotated[str | None, Query(min_length=2, max_length=2)] = None,
    region: Annotated[str | None, Query(max_length=32)] = None,
    facility: Codes = [],  # noqa: B006
    service: Codes = [],  # noqa: B006
) -> Filters:
    """The query parameters every figure accepts."""
    return Filters(
        start=start,
        end=end,
        campaign=campaign,
        program=program,
        mode=mode,
        citizenship=tuple(c.upper() for c in citizenship),
        foreign=foreign,
        tiers=tuple(tier),
        country=country.upper() if country else None,
        region=region,
        facilities=tuple(facility),
        services=tuple(service),
    )


Params = Annotated[Filters, Depends(filter_params)]
By = Annotated[list[Breakdown], Query()]


@router.get("/reports/indicators")
def list_indicators(user: Reader) -> list[dict[str, Any]]:
    """Every indicator with its name and meaning in en, es, ru and vi."""
    return [
        {"code": i.code, "measure": i.measure.value, "name": i.name, "meaning": i.meaning}
        for i in INDICATORS.values()
    ]


@router.get("/reports/bulletin")
def get_bulletin(
    db: DB,
    user: Reader,
    lang: Annotated[str, Query(pattern="^(en|es|ru|vi)$")] = "en",
    format: Annotated[str, Query(pattern="^(text|html|pdf|json)$")] = "text",
    campaign: Short = None,
    program: Short = None,
    country: Annotated[str | None, Query(min_length=2, max_length=2)] = None,
    start: date | None = None,
    end: date | None = None,
    press: bool = False,
) -> Response:
    """The public bulletin of a campaign, or of a period (start and end)."""
    made = bulletin.build(
        db,
        lang=lang,
        campaign=campaign,
        program=program,
        country=country.upper() if country else None,
        start=start,
        end=end,
        scope=facility_scope(db, user, Permission.ledger_read),
        press=press,
    )
    if format == "html":
        return Response(made.html(), media_type="text/html; charset=utf-8")
    if format == "pdf":
        return Response(
            made.pdf(),
            media_type="application/pdf",
            headers={"Content-Disposition": 'attachment; filename="bulletin.pdf"'},
        )
    if format == "json":
        import json

        body = {"title": made.title, "paragraphs": made.paragraphs, "figures": made.figures}
        return Response(json.dumps(body, ensure_ascii=False), media_type="application/json")
    return Response(made.text(), media_type="text/plain; charset=utf-8")


@router.get("/reports/{indicator}/measure-report")
def get_measure_report(
    db: DB,
    user: Reader,
    indicator: str,
    facility: Annotated[str, Query(max_length=32)],
    start: date,
    end: date,
    type: Annotated[str, Query(pattern="^(individual|summary)$")] = "summary",
) -> Response:
    """FHIR R4 MeasureReport of the indicator for one facility and period."""
    import json

    from puente.fhir.measure import measure_report

    report = measure_report(
        db,
        indicator=indicator,
        facility_code=facility,
        start=start,
        end=end,
        report_type=type,
        scope=facility_scope(db, user, Permission.ledger_read),
    )
    return Response(json.dumps(report, ensure_ascii=False), media_type="application/fhir+json")


def _named_within(db: DB, scope: FacilityScope, codes: tuple[str, ...]) -> None:
    """A facility named in the filter must exist and be the reader's: a
    figure of someone else's facility is refused, not shown as zero."""
    if not codes:
        return
    ids = ledger.facility_ids(db, codes)
    outside = [code for code, fid in zip(codes, ids, strict=True) if not scope.covers(fid)]
    if outside:
        raise Forbidden(
            f"Facility {', '.join(outside)} is outside your scope.",
            errors=[FieldError("facility", f"'{c}' is outside your scope") for c in outside],
        )


@router.get("/reports/{indicator}")
def get_figure(
    db: DB,
    user: Reader,
    indicator: str,
    params: Params,
    by: By = [],  # noqa: B006 (FastAPI copies defaults)
    format: Annotated[str, Query(pattern="^(json|csv|xlsx)$")] = "json",
    limit: Annotated[int | None, Query(ge=1, le=10_000)] = None,
) -> Response:
    """One indicator under the filters, split by ``by`` (repeatable); as JSON,
    or as a CSV or XLSX table."""
    lang = current_language.get()
    scope = facility_scope(db, user, Permission.ledger_read)
    _named_within(db, scope, params.facilities)
    result = service.compute(
        db,
        indicator,
        params,
        by=by,
        scope=scope,
        lang=lang,
        limit=limit,
    )
    name = f"{indicator}-{'-'.join(b.value for b in by) or 'total'}"
    if format == "csv":
        return Response(
            export.to_csv(result, lang),
            media_type=export.CSV_TYPE,
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )
    if format == "xlsx":
        return Response(
            export.to_xlsx(result, lang),
            media_type=export.XLSX_TYPE,
            headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'},
        )
    import json

    return Response(json.dumps(result.as_dict(), ensure_ascii=False), media_type="application/json")
