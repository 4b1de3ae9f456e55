"""FHIR R4 MeasureReport for one indicator × period × facility.

``individual``: the facility (its Location) is the report's subject;
``summary``: the facility (its Organization) is the reporter and the
population is stratified by service. Neither names a patient: a
MeasureReport of Puente carries counts only. The measure is referenced by
canonical URL ``urn:puente:measure:<indicator>``; its meaning is the one
written in :mod:`puente.reports.indicators`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from puente.access.service import FacilityScope
from puente.errors import FieldError, Forbidden, NotFound, Unprocessable
from puente.fhir.mapping import ID_FACILITY_CODE, instant
from puente.network.models import Facility
from puente.reports import service
from puente.reports.indicators import Breakdown

MEASURE_URL = "urn:puente:measure:"
CS_POPULATION = "http://terminology.hl7.org/CodeSystem/measure-population"
CS_SERVICE = "urn:puente:code-system:service"
REPORT_TYPES = ("individual", "summary")


def measure_report(
    session: Session,
    *,
    indicator: str,
    facility_code: str,
    start: date,
    end: date,
    report_type: str = "summary",
    scope: FacilityScope | None = None,
) -> dict[str, Any]:
    if report_type not in REPORT_TYPES:
        raise Unprocessable(
            f"Unknown report type '{report_type}'.",
            errors=[FieldError("type", "one of individual, summary")],
        )
    ind = service.indicator(indicator)
    facility = session.scalar(select(Facility).where(Facility.code == facility_code))
    if facility is None:
        raise NotFound(
            f"No facility '{facility_code}'.", errors=[FieldError("facility", "unknown")]
        )
    if scope is not None and not scope.covers(facility.id):
        raise Forbidden(
            f"Facility {facility_code} is outside your scope.",
            errors=[FieldError("facility", "outside your scope")],
        )
    filters = service.Filters(start=start, end=end, facilities=(facility_code,))
    by = [Breakdown.service] if report_type == "summary" else []
    result = service.compute(session, indicator, filters, by=by)
    population = [
        {
            "code": {"coding": [{"system": CS_POPULATION, "code": "measure-population"}]},
            "count": int(result.total or 0),
        }
    ]
    group: dict[str, Any] = {
        "code": {"text": ind.label("en")},
        "population": population,
        "measureScore": {"value": float(result.total or 0)},
    }
    if result.rows:
        group["stratifier"] = [
            {
                "code": [{"text": "service"}],
                "stratum": [
                    {
                        "value": {
                            "coding": [{"system": CS_SERVICE, "code": row.keys["service"]}],
                            "text": row.labels["service"],
                        },
                        "measureScore": {"value": float(row.value or 0)},
                    }
                    for row in result.rows
                ],
            }
        ]
    report: dict[str, Any] = {
        "resourceType": "MeasureReport",
        "id": f"{indicator}-{facility.id}-{start.isoformat()}-{end.isoformat()}-{report_type}",
        "status": "complete",
        "type": report_type,
        "measure": MEASURE_URL + indicator,
        "date": instant(datetime.now(UTC)),
        "period": {"start": start.isoformat(), "end": end.isoformat()},
        "reporter": {
            "reference": f"Organization/{facility.id}",
            "identifier": {"system": ID_FACILITY_CODE, "value": facility.code},
            "display": facility.name,
        },
        "group": [group],
    }
    if report_type == "individual":
        report["subject"] = {"reference": f"Location/{facility.id}", "display": facility.name}
    return report


# FHIR search: GET /fhir/MeasureReport?measure=…&reporter=Organization/ID&period=ge…&period=le…

SEARCH_PARAMS = {
    "measure": "uri",
    "reporter": "reference",
    "subject": "reference",
    "period": "date",
    "type": "token",
}


def search(
    session: Session, params: Mapping[str, Sequence[str]], principal: Any
) -> tuple[list[dict[str, Any]], int]:
    """The one MeasureReport the parameters name: ``measure`` (the indicator,
    ``urn:puente:measure:<code>`` or the bare code), the facility as
    ``reporter=Organization/<id>`` (summary) or ``subject=Location/<id>``
    (individual), and the period as ``period=ge<day>&period=le<day>``."""
    from puente.access.policy import Permission
    from puente.access.service import facility_scope
    from puente.fhir import search as s

    measure = s.single(params, "measure")
    if not measure:
        raise s.bad("measure", "is required (urn:puente:measure:<indicator>)")
    indicator = measure.removeprefix(MEASURE_URL)
    reporter = s.reference_id(params, "reporter", "Organization")
    subject = s.reference_id(params, "subject", "Location")
    facility_id = reporter or subject
    if facility_id is None:
        raise s.bad("reporter", "give reporter=Organization/<id> or subject=Location/<id>")
    bounds = dict((prefix, day) for prefix, day in s.dates(params, "period"))
    start, end = bounds.get("ge"), bounds.get("le")
    if start is None or end is None:
        raise s.bad("period", "give period=geYYYY-MM-DD&period=leYYYY-MM-DD")
    kind = s.single(params, "type") or ("individual" if subject and not reporter else "summary")
    code = session.scalar(select(Facility.code).where(Facility.id == facility_id))
    if code is None:
        return [], 0
    report = measure_report(
        session,
        indicator=indicator,
        facility_code=code,
        start=start,
        end=end,
        report_type=kind,
        scope=facility_scope(session, principal, Permission.ledger_read),
    )
    return [report], 1
