"""Pages of `network`: the facility browser and the facility page.

The browser drills down country → region → district; at every level it
shows how many facilities lie below each area under the chosen filters
(tier, program), and lists the facilities once a region is chosen or a
filter narrows the list. Unknown filter values are dropped rather than
refused: they come from links and selects, and a stale link should still
show something useful.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from puente.access.gate import requires
from puente.access.policy import Permission
from puente.access.principal import Principal
from puente.catalog.models import Specialty
from puente.deps import DB
from puente.enums import Tier
from puente.i18n import current_language
from puente.network import repository as repo
from puente.network import service
from puente.network.models import Facility, Region
from puente.web.templating import render

router = APIRouter(include_in_schema=False)

Reader = Annotated[Principal, requires(Permission.network_read)]
PAGE_SIZE = 50

# English labels of the closed vocabularies; templates pass them through _().
LABELS: dict[str, str] = {
    "central": "Central",
    "provincial": "Provincial",
    "district": "District",
    "commune": "Commune",
    "level3": "Third level of care",
    "level2": "Second level of care",
    "level1": "First level of care",
    "high_specialty_unit": "High-specialty unit",
    "general_hospital": "General hospital",
    "specialty_hospital": "Specialty hospital",
    "polyclinic": "Polyclinic",
    "family_medicine_unit": "Family-medicine unit",
    "state_office": "State office",
    "institute": "Institute",
    "clinic": "Clinic",
    "diagnostic_center": "Diagnostic centre",
    "health_station": "Health station",
    "ministry": "Ministry",
    "region": "Region",
    "active": "Active",
    "suspended": "Suspended",
    "error": "Error",
    "off": "Off",
    "test": "Test",
    "video": "Video room",
    "webrtc": "WebRTC",
    "sip": "SIP",
    "dicom": "DICOM node",
    "fhir": "FHIR endpoint",
    "remote_care_network": "Remote care network",
    "medical_services_export": "Medical services export",
    "deferred_care_recovery": "Deferred-care recovery",
    "virtual_visits": "Virtual visits",
}


def label(value: object) -> str:
    text = str(value)
    return LABELS.get(text, text)


@dataclass(frozen=True)
class Area:
    """One row of the drill-down: a country or region and what lies under it."""

    code: str
    name: str
    count: int
    href: str


@dataclass(frozen=True)
class Filters:
    country: str | None
    region: Region | None
    tier: Tier | None
    program: str | None

    def query(self, **changes: Any) -> str:
        values: dict[str, Any] = {
            "country": self.country,
            "region": self.region.code if self.region else None,
            "tier": self.tier.value if self.tier else None,
            "program": self.program,
        }
        values.update(changes)
        return "/network?" + urlencode({k: v for k, v in values.items() if v})


def _filters(
    db: Session, country: str | None, region: str | None, tier: str | None, program: str | None
) -> Filters:
    found_region = repo.region_by_code(db, region) if region else None
    country_code = country.upper() if country and repo.country(db, country.upper()) else None
    if found_region is not None:
        country_code = found_region.country_code
    return Filters(
        country=country_code,
        region=found_region,
        tier=Tier(tier) if tier in {t.value for t in Tier} else None,
        program=program if program and repo.program_by_code(db, program) else None,
    )


def _region_chain(regions: dict[int, Region], region: Region | None) -> list[Region]:
    chain: list[Region] = []
    while region is not None and len(chain) < 20:
        chain.append(region)
        region = regions.get(region.parent_id) if region.parent_id else None
    return list(reversed(chain))


def _areas(db: Session, chosen: Filters, where: list[Any]) -> tuple[list[Area], list[Region]]:
    """The areas one level below the current one, with facility counts that
    include everything beneath them; and the path of regions to here."""
    if chosen.country is None:
        counts = repo.count_by_country(db, where)
        rows = [
            Area(c.code, c.name, counts.get(c.code, 0), chosen.query(country=c.code, region=None))
            for c in repo.countries(db)
        ]
        return rows, []
    regions = {r.id: r for r in repo.regions_of_country(db, chosen.country)}
    direct = repo.count_by_region(db, [*where, Facility.country_code == chosen.country])
    below: dict[int, int] = {}
    for region_id, n in direct.items():
        seen = 0
        current: int | None = region_id
        while current is not None and seen < 20:
            below[current] = below.get(current, 0) + n
            parent = regions.get(current)
            current = parent.parent_id if parent else None
            seen += 1
    parent_id = chosen.region.id if chosen.region else None
    level = sorted((r for r in regions.values() if r.parent_id == parent_id), key=lambda r: r.name)
    rows = [Area(r.code, r.name, below.get(r.id, 0), chosen.query(region=r.code)) for r in level]
    return rows, _region_chain(regions, chosen.region)


@router.get("/network", response_class=HTMLResponse)
def browser(
    request: Request,
    db: DB,
    user: Reader,
    country: Annotated[str | None, Query(max_length=2)] = None,
    region: Annotated[str | None, Query(max_length=64)] = None,
    tier: Annotated[str | None, Query(max_length=32)] = None,
    program: Annotated[str | None, Query(max_length=64)] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    chosen = _filters(db, country, region, tier, program)
    program_row = repo.program_by_code(db, chosen.program) if chosen.program else None
    where = repo.facility_conditions(
        tier=chosen.tier,
        program_id=program_row.id if program_row else None,
        on=date.today(),
    )
    areas, chain = _areas(db, chosen, where)
    listed = chosen.region is not None or chosen.tier is not None or program_row is not None
    total, facilities = 0, list[Facility]()
    if listed:
        scoped = repo.facility_conditions(
            tier=chosen.tier,
            program_id=program_row.id if program_row else None,
            on=date.today(),
            country_code=chosen.country,
            region_id=chosen.region.id if chosen.region else None,
        )
        total, facilities = repo.search_facilities(
            db, scoped, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE
        )
    regions = repo.regions_by_id(db, [f.region_id for f in facilities])
    country_names = {c.code: c.name for c in repo.countries(db)}
    return render(
        request,
        "network/browser.html",
        chosen=chosen,
        chain=chain,
        areas=areas,
        area_is_country=chosen.country is None,
        countries=repo.countries(db),
        country_names=country_names,
        programs=repo.programs(db),
        tiers=list(Tier),
        listed=listed,
        facilities=facilities,
        regions=regions,
        total=total,
        page=page,
        page_size=PAGE_SIZE,
        label=label,
    )


def _specialty_names(db: Session, codes: set[str]) -> dict[str, str]:
    language = current_language.get()
    rows = db.query(Specialty).filter(Specialty.code.in_(codes)).all() if codes else []
    return {s.code: s.name(language) for s in rows}


@router.get("/network/facilities/{code}", response_class=HTMLResponse)
def facility_page(request: Request, db: DB, user: Reader, code: str) -> HTMLResponse:
    row = repo.facility_by_code(db, code)
    if row is None:
        return render(request, "network/missing.html", status_code=404, code=code)
    parent = repo.facility(db, row.parent_id) if row.parent_id else None
    regions = {r.id: r for r in repo.regions_of_country(db, row.country_code)}
    _total_hubs, hub_rows = repo.links(db, spoke_id=row.id, active=True, limit=500, offset=0)
    _total_spokes, spoke_rows = repo.links(db, hub_id=row.id, active=True, limit=1000, offset=0)
    hubs = service.link_reads(db, hub_rows)
    spokes = service.link_reads(db, spoke_rows)
    specialty_codes = {c for link in hubs + spokes for c in link.specialty_codes}
    country = repo.country(db, row.country_code)
    return render(
        request,
        "network/facility.html",
        facility=row,
        parent=parent,
        children=repo.children(db, row.id),
        chain=_region_chain(regions, regions.get(row.region_id)),
        country=country,
        hubs=hubs,
        spokes=spokes,
        specialty_names=_specialty_names(db, specialty_codes),
        enrolments=service.enrolment_reads(db, repo.enrolments(db, facility_id=row.id)),
        program_names={p.code: p.name for p in repo.programs(db)},
        bridge_points=repo.bridge_points(db, facility_id=row.id),
        today=date.today(),
        label=label,
    )
