"""The rules of `network`.

Module functions with keyword-only arguments; they flush but never commit.
Reads return schemas, never ORM rows. References arrive as codes and are
resolved here: an unknown code in a body is a 422 naming the field, an
unknown id in a path a 404 naming it.

Who may write where: a national administrator (a grant at system scope)
everywhere; a facility administrator only on the facilities under their
grant (see :func:`check_facility`). Records with no facility of their own
(regions, programs) need the system-wide grant.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from puente.access.policy import Permission
from puente.access.principal import Principal
from puente.access.service import facility_scope
from puente.enums import FacilityKind, Tier
from puente.errors import Conflict, FieldError, Forbidden, NotFound, Unprocessable
from puente.network import repository as repo
from puente.network.models import (
    BridgePoint,
    Facility,
    Program,
    ProgramEnrolment,
    Region,
    SupportLink,
)
from puente.network.schemas import (
    BridgePointCreate,
    BridgePointRead,
    BridgePointUpdate,
    CountryRead,
    EnrolledOn,
    EnrolmentCreate,
    EnrolmentRead,
    FacilityBrief,
    FacilityCreate,
    FacilityRead,
    FacilityUpdate,
    ProgramCreate,
    ProgramRead,
    RegionCreate,
    RegionRead,
    SupportLinkCreate,
    SupportLinkRead,
)
from puente.schemas import Page

# Scope.


def check_facility(
    session: Session, principal: Principal, facility_id: int, *, field: str, action: str
) -> None:
    """Refuse a write to a facility outside the caller's network:write scope."""
    scope = facility_scope(session, principal, Permission.network_write)
    if scope.everywhere or facility_id in scope.ids:
        return
    raise Forbidden(
        f"You may not {action} records of that facility: it is outside your scope.",
        errors=[FieldError(field, "outside your scope")],
    )


def check_everywhere(session: Session, principal: Principal, *, field: str, what: str) -> None:
    """Regions and programs belong to no facility: only a system-wide grant writes them."""
    if facility_scope(session, principal, Permission.network_write).everywhere:
        return
    raise Forbidden(
        f"Only a national administrator may change {what}.",
        errors=[FieldError(field, "needs a system-wide grant")],
    )


# Lookups that name the field they came from.


def _unknown(field: str, what: str, value: object, *, in_path: bool) -> Exception:
    message = f"unknown {what} '{value}'"
    if in_path:
        return NotFound(f"No {what} '{value}'.", errors=[FieldError(field, message)])
    return Unprocessable(f"No {what} '{value}'.", errors=[FieldError(field, message)])


def need_country(session: Session, code: str, *, field: str = "country") -> str:
    found = repo.country(session, code.upper())
    if found is None:
        raise _unknown(field, "country", code, in_path=False)
    return found.code


def need_region(
    session: Session, code: str, *, field: str = "region_code", in_path: bool = False
) -> Region:
    found = repo.region_by_code(session, code)
    if found is None:
        raise _unknown(field, "region", code, in_path=in_path)
    return found


def need_facility(
    session: Session,
    *,
    facility_id: int | None = None,
    code: str | None = None,
    field: str,
    in_path: bool = False,
) -> Facility:
    found = (
        repo.facility(session, facility_id)
        if facility_id is not None
        else repo.facility_by_code(session, code or "")
    )
    if found is None:
        raise _unknown(field, "facility", facility_id if code is None else code, in_path=in_path)
    return found


def need_program(
    session: Session, code: str, *, field: str = "program_code", in_path: bool = True
) -> Program:
    found = repo.program_by_code(session, code)
    if found is None:
        raise _unknown(field, "program", code, in_path=in_path)
    return found


# Countries and regions.


def list_countries(session: Session) -> list[CountryRead]:
    return [CountryRead.model_validate(c) for c in repo.countries(session)]


def _region_reads(session: Session, rows: Sequence[Region]) -> list[RegionRead]:
    parents = repo.regions_by_id(session, [r.parent_id for r in rows if r.parent_id])
    return [
        RegionRead(
            id=r.id,
            code=r.code,
            name=r.name,
            level=r.level,
            country=r.country_code,
            parent_code=parents[r.parent_id].code if r.parent_id else None,
            timezone=r.timezone,
        )
        for r in rows
    ]


def list_regions(
    session: Session,
    *,
    country: str | None,
    parent_code: str | None,
    top_only: bool,
    limit: int,
    offset: int,
) -> Page[RegionRead]:
    country_code = need_country(session, country) if country else None
    parent = need_region(session, parent_code, field="parent") if parent_code else None
    query = repo.regions_query(
        country_code=country_code, parent_id=parent.id if parent else None, top_only=top_only
    )
    rows = list(session.scalars(query))
    return Page(
        items=_region_reads(session, rows[offset : offset + limit]),
        total=len(rows),
        limit=limit,
        offset=offset,
    )


def get_region(session: Session, *, code: str) -> RegionRead:
    return _region_reads(session, [need_region(session, code, field="code", in_path=True)])[0]


def create_region(session: Session, *, data: RegionCreate) -> RegionRead:
    country_code = need_country(session, data.country)
    parent_id: int | None = None
    if data.parent_code:
        parent = need_region(session, data.parent_code, field="parent_code")
        if parent.country_code != country_code:
            raise Unprocessable(
                "A region lies in the country of its parent.",
                errors=[FieldError("parent_code", f"is in {parent.country_code}")],
            )
        parent_id = parent.id
    if repo.region_by_code(session, data.code) is not None:
        raise Conflict(
            f"Region {data.code} exists already.", errors=[FieldError("code", "already used")]
        )
    row = Region(
        code=data.code,
        name=data.name,
        level=data.level,
        country_code=country_code,
        parent_id=parent_id,
        timezone=data.timezone,
    )
    session.add(row)
    session.flush()
    return _region_reads(session, [row])[0]


# Facilities.


def facility_reads(session: Session, rows: Sequence[Facility]) -> list[FacilityRead]:
    """Many facilities with their parent and region codes: two queries however many rows."""
    parents = repo.facility_codes_by_id(session, [f.parent_id for f in rows if f.parent_id])
    regions = repo.regions_by_id(session, [f.region_id for f in rows])
    return [
        FacilityRead(
            id=f.id,
            code=f.code,
            name=f.name,
            tier=f.tier,
            kind=f.kind,
            parent_code=parents.get(f.parent_id) if f.parent_id else None,
            region_code=regions[f.region_id].code,
            country=f.country_code,
            timezone=f.timezone,
            city=f.city,
            address=f.address,
            phone=f.phone,
            active=f.active,
            latitude=f.latitude,
            longitude=f.longitude,
            created_at=f.created_at,
            updated_at=f.updated_at,
        )
        for f in rows
    ]


def brief(row: Facility) -> FacilityBrief:
    return FacilityBrief(
        code=row.code, name=row.name, tier=row.tier, kind=row.kind, country=row.country_code
    )


def get_facility(
    session: Session, *, facility_id: int | None = None, code: str | None = None
) -> FacilityRead:
    field = "facility_id" if code is None else "code"
    row = need_facility(session, facility_id=facility_id, code=code, field=field, in_path=True)
    return facility_reads(session, [row])[0]


def _timezone_for(session: Session, region: Region) -> str:
    if region.timezone:
        return region.timezone
    country = repo.country(session, region.country_code)
    return country.default_timezone if country else "UTC"


def create_facility(
    session: Session, principal: Principal, *, data: FacilityCreate
) -> FacilityRead:
    """A facility under a parent may be added by whoever administers the
    parent; a root facility only by a national administrator."""
    region = need_region(session, data.region_code)
    if data.country is not None:
        need_country(session, data.country)
        if data.country != region.country_code:
            raise Unprocessable(
                "A facility lies in the country of its region.",
                errors=[FieldError("country", f"region {region.code} is in {region.country_code}")],
            )
    parent_id: int | None = None
    if data.parent_code:
        parent = need_facility(session, code=data.parent_code, field="parent_code")
        check_facility(session, principal, parent.id, field="parent_code", action="add to")
        parent_id = parent.id
    else:
        check_everywhere(session, principal, field="parent_code", what="root facilities")
    if repo.facility_by_code(session, data.code) is not None:
        raise Conflict(
            f"Facility {data.code} exists already.", errors=[FieldError("code", "already used")]
        )
    row = Facility(
        code=data.code,
        name=data.name,
        tier=data.tier,
        kind=data.kind,
        parent_id=parent_id,
        region_id=region.id,
        country_code=region.country_code,
        timezone=data.timezone or _timezone_for(session, region),
        city=data.city,
        address=data.address,
        phone=data.phone,
        active=data.active,
        latitude=data.latitude,
        longitude=data.longitude,
    )
    session.add(row)
    session.flush()
    return facility_reads(session, [row])[0]


def update_facility(
    session: Session, principal: Principal, *, facility_id: int, data: FacilityUpdate
) -> FacilityRead:
    row = need_facility(session, facility_id=facility_id, field="facility_id", in_path=True)
    check_facility(session, principal, row.id, field="facility_id", action="change")
    sent = data.model_fields_set
    if "parent_code" in sent:
        if data.parent_code is None:
            check_everywhere(session, principal, field="parent_code", what="root facilities")
            row.parent_id = None
        else:
            parent = need_facility(session, code=data.parent_code, field="parent_code")
            check_facility(session, principal, parent.id, field="parent_code", action="move under")
            if parent.id == row.id or row.id in repo.ancestors(session, parent.id):
                raise Unprocessable(
                    "A facility cannot sit under itself or under one of its own units.",
                    errors=[FieldError("parent_code", "would make a cycle")],
                )
            row.parent_id = parent.id
    if "region_code" in sent and data.region_code is not None:
        region = need_region(session, data.region_code)
        if region.country_code != row.country_code:
            raise Unprocessable(
                "A facility stays in its country; create a new one to move it abroad.",
                errors=[FieldError("region_code", f"is in {region.country_code}")],
            )
        row.region_id = region.id
    fields = ("name", "tier", "kind", "timezone", "city", "address", "phone", "active")
    for name in (*fields, "latitude", "longitude"):
        if name in sent:
            setattr(row, name, getattr(data, name))
    session.flush()
    return facility_reads(session, [row])[0]


def facility_filters(
    session: Session,
    *,
    tier: Tier | None = None,
    kind: FacilityKind | None = None,
    country: str | None = None,
    region: str | None = None,
    program: str | None = None,
    on: date | None = None,
    parent: str | None = None,
    name: str | None = None,
    active: bool | None = None,
) -> list[Any]:
    """Query filters as SQL conditions; unknown codes are 422s naming the parameter."""
    return repo.facility_conditions(
        tier=tier,
        kind=kind,
        country_code=need_country(session, country) if country else None,
        region_id=need_region(session, region, field="region").id if region else None,
        program_id=need_program(session, program, field="program", in_path=False).id
        if program
        else None,
        on=on,
        parent_id=need_facility(session, code=parent, field="parent").id if parent else None,
        name=name,
        active=active,
    )


def search_facilities(
    session: Session, *, where: list[Any], limit: int, offset: int
) -> Page[FacilityRead]:
    total, rows = repo.search_facilities(session, where, limit=limit, offset=offset)
    return Page(items=facility_reads(session, rows), total=total, limit=limit, offset=offset)


# Support links.


def link_reads(session: Session, rows: Sequence[SupportLink]) -> list[SupportLinkRead]:
    facilities = repo.facilities_by_id(
        session, [x.hub_id for x in rows] + [x.spoke_id for x in rows]
    )
    specialties = repo.specialty_codes_of_links(session, [x.id for x in rows])
    out = []
    for x in rows:
        hub, spoke = facilities[x.hub_id], facilities[x.spoke_id]
        out.append(
            SupportLinkRead(
                id=x.id,
                hub_code=hub.code,
                hub_name=hub.name,
                hub_country=hub.country_code,
                spoke_code=spoke.code,
                spoke_name=spoke.name,
                spoke_country=spoke.country_code,
                rank=x.rank,
                active=x.active,
                since=x.since,
                specialty_codes=specialties[x.id],
            )
        )
    return out


def create_link(
    session: Session, principal: Principal, *, data: SupportLinkCreate
) -> SupportLinkRead:
    """The hub commits its specialists, so the hub's administrator makes the
    link. Links may cross borders. A withdrawn link between the same pair is
    brought back rather than duplicated."""
    hub = need_facility(session, code=data.hub_code, field="hub_code")
    spoke = need_facility(session, code=data.spoke_code, field="spoke_code")
    check_facility(session, principal, hub.id, field="hub_code", action="link")
    if hub.id == spoke.id:
        raise Conflict(
            "A facility cannot support itself.",
            errors=[FieldError("spoke_code", "is the hub itself")],
        )
    specialty_ids = repo.specialty_ids_by_code(session, data.specialty_codes)
    missing = [c for c in data.specialty_codes if c not in specialty_ids]
    if missing:
        raise Unprocessable(
            f"Unknown specialty: {', '.join(missing)}.",
            errors=[FieldError("specialty_codes", f"unknown specialty '{c}'") for c in missing],
        )
    row = repo.link_between(session, hub.id, spoke.id)
    if row is not None and row.active:
        raise Conflict(
            f"{hub.code} already supports {spoke.code}.",
            errors=[FieldError("spoke_code", f"already supported by {hub.code} (link {row.id})")],
        )
    if row is None:
        row = SupportLink(hub_id=hub.id, spoke_id=spoke.id)
        session.add(row)
    row.rank = data.rank
    row.since = data.since
    row.active = True
    session.flush()
    repo.replace_link_specialties(session, row.id, [specialty_ids[c] for c in data.specialty_codes])
    return link_reads(session, [row])[0]


def list_links(
    session: Session,
    *,
    hub: str | None,
    spoke: str | None,
    active: bool | None,
    limit: int,
    offset: int,
) -> Page[SupportLinkRead]:
    hub_id = need_facility(session, code=hub, field="hub").id if hub else None
    spoke_id = need_facility(session, code=spoke, field="spoke").id if spoke else None
    total, rows = repo.links(
        session, hub_id=hub_id, spoke_id=spoke_id, active=active, limit=limit, offset=offset
    )
    return Page(items=link_reads(session, rows), total=total, limit=limit, offset=offset)


def deactivate_link(session: Session, principal: Principal, *, link_id: int) -> None:
    """Links are withdrawn, not erased: past referrals still name them."""
    row = repo.link(session, link_id)
    if row is None:
        raise NotFound(f"No support link {link_id}.", errors=[FieldError("link_id", "unknown")])
    check_facility(session, principal, row.hub_id, field="link_id", action="withdraw links of")
    row.active = False
    session.flush()


# Programs and enrolments.


def _program_read(row: Program) -> ProgramRead:
    return ProgramRead(
        id=row.id,
        code=row.code,
        name=row.name,
        kind=row.kind,
        country=row.country_code,
        description=row.description,
    )


def create_program(session: Session, principal: Principal, *, data: ProgramCreate) -> ProgramRead:
    check_everywhere(session, principal, field="code", what="programs")
    country_code = need_country(session, data.country) if data.country else None
    if repo.program_by_code(session, data.code) is not None:
        raise Conflict(
            f"Program {data.code} exists already.", errors=[FieldError("code", "already used")]
        )
    row = Program(
        code=data.code,
        name=data.name,
        kind=data.kind,
        country_code=country_code,
        description=data.description,
    )
    session.add(row)
    session.flush()
    return _program_read(row)


def list_programs(session: Session) -> list[ProgramRead]:
    return [_program_read(p) for p in repo.programs(session)]


def get_program(session: Session, *, code: str) -> ProgramRead:
    return _program_read(need_program(session, code, field="program_code"))


def enrolment_reads(session: Session, rows: Sequence[ProgramEnrolment]) -> list[EnrolmentRead]:
    facilities = repo.facilities_by_id(session, [e.facility_id for e in rows])
    programs = repo.programs_by_id(session, [e.program_id for e in rows])
    return [
        EnrolmentRead(
            id=e.id,
            program_code=programs[e.program_id].code,
            facility_code=facilities[e.facility_id].code,
            facility_name=facilities[e.facility_id].name,
            start_date=e.start_date,
            end_date=e.end_date,
        )
        for e in rows
    ]


def _refuse_overlap(
    session: Session,
    *,
    program: Program,
    facility: Facility,
    start: date,
    end: date | None,
    exclude_id: int | None = None,
    field: str,
) -> None:
    clash = repo.overlapping_enrolment(
        session,
        program_id=program.id,
        facility_id=facility.id,
        start=start,
        end=end,
        exclude_id=exclude_id,
    )
    if clash is not None:
        until = clash.end_date.isoformat() if clash.end_date else "open-ended"
        raise Conflict(
            f"{facility.code} is already enrolled in {program.code} from "
            f"{clash.start_date.isoformat()} to {until}.",
            errors=[FieldError(field, f"overlaps enrolment {clash.id}")],
        )


def enrol(
    session: Session, principal: Principal, *, program_code: str, data: EnrolmentCreate
) -> EnrolmentRead:
    program = need_program(session, program_code)
    facility = need_facility(session, code=data.facility_code, field="facility_code")
    check_facility(session, principal, facility.id, field="facility_code", action="enrol")
    _refuse_overlap(
        session,
        program=program,
        facility=facility,
        start=data.start_date,
        end=data.end_date,
        field="start_date",
    )
    row = ProgramEnrolment(
        program_id=program.id,
        facility_id=facility.id,
        start_date=data.start_date,
        end_date=data.end_date,
    )
    session.add(row)
    session.flush()
    return enrolment_reads(session, [row])[0]


def end_enrolment(
    session: Session, principal: Principal, *, enrolment_id: int, end_date: date
) -> EnrolmentRead:
    row = repo.enrolment(session, enrolment_id)
    if row is None:
        raise NotFound(
            f"No enrolment {enrolment_id}.", errors=[FieldError("enrolment_id", "unknown")]
        )
    check_facility(session, principal, row.facility_id, field="enrolment_id", action="end")
    if row.end_date is not None:
        raise Conflict(
            f"Enrolment {row.id} already ended on {row.end_date.isoformat()}.",
            errors=[FieldError("end_date", "already set")],
        )
    if end_date < row.start_date:
        raise Unprocessable(
            "An enrolment cannot end before it starts.",
            errors=[FieldError("end_date", f"is before {row.start_date.isoformat()}")],
        )
    row.end_date = end_date
    session.flush()
    return enrolment_reads(session, [row])[0]


def list_enrolments(
    session: Session, *, program_code: str | None = None, facility_code: str | None = None
) -> list[EnrolmentRead]:
    program = need_program(session, program_code) if program_code else None
    facility = (
        need_facility(session, code=facility_code, field="facility") if facility_code else None
    )
    rows = repo.enrolments(
        session,
        program_id=program.id if program else None,
        facility_id=facility.id if facility else None,
    )
    return enrolment_reads(session, rows)


def enrolled_on(
    session: Session, *, program_code: str, on: date, limit: int, offset: int
) -> EnrolledOn:
    program = need_program(session, program_code)
    where = repo.facility_conditions(program_id=program.id, on=on)
    total, rows = repo.search_facilities(session, where, limit=limit, offset=offset)
    return EnrolledOn(
        program_code=program.code,
        on=on,
        total=total,
        limit=limit,
        offset=offset,
        items=[brief(f) for f in rows],
    )


# Bridge points.


def _point_reads(session: Session, rows: Sequence[BridgePoint]) -> list[BridgePointRead]:
    codes = repo.facility_codes_by_id(session, [p.facility_id for p in rows])
    return [
        BridgePointRead(
            id=p.id,
            facility_code=codes[p.facility_id],
            name=p.name,
            kind=p.kind,
            address=p.address,
            status=p.status,
            last_seen_at=p.last_seen_at,
        )
        for p in rows
    ]


def create_bridge_point(
    session: Session, principal: Principal, *, data: BridgePointCreate
) -> BridgePointRead:
    facility = need_facility(session, code=data.facility_code, field="facility_code")
    check_facility(
        session, principal, facility.id, field="facility_code", action="add endpoints to"
    )
    row = BridgePoint(
        facility_id=facility.id,
        name=data.name,
        kind=data.kind,
        address=data.address,
        status=data.status,
    )
    session.add(row)
    session.flush()
    return _point_reads(session, [row])[0]


def list_bridge_points(
    session: Session, *, facility_id: int | None = None, status: str | None = None
) -> list[BridgePointRead]:
    if facility_id is not None:
        need_facility(session, facility_id=facility_id, field="facility_id", in_path=True)
    return _point_reads(
        session, repo.bridge_points(session, facility_id=facility_id, status=status)
    )


def update_bridge_point(
    session: Session, principal: Principal, *, point_id: int, data: BridgePointUpdate
) -> BridgePointRead:
    row = repo.bridge_point(session, point_id)
    if row is None:
        raise NotFound(
            f"No bridge point {point_id}.", errors=[FieldError("bridge_point_id", "unknown")]
        )
    check_facility(session, principal, row.facility_id, field="bridge_point_id", action="change")
    for name in ("status", "name", "address", "last_seen_at"):
        if name in data.model_fields_set:
            setattr(row, name, getattr(data, name))
    session.flush()
    return _point_reads(session, [row])[0]
