"""The rules of `recovery`: the waiting list and campaigns (capacity, goals).

Planning lives in :mod:`puente.recovery.planning`, day-of capture and goal
attainment in :mod:`puente.recovery.capture`. Functions flush, never commit.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date, timedelta

from sqlalchemy.orm import Session

from puente.enums import CampaignStatus, ServiceKind, WaitPriority, WaitStatus
from puente.errors import Conflict, FieldError, NotFound, Unprocessable
from puente.network.models import Facility
from puente.people.models import Patient
from puente.recovery import repository as repo
from puente.recovery.figures import Row, waiting_stats
from puente.recovery.models import (
    Campaign,
    CampaignCapacity,
    CampaignGoal,
    CampaignLine,
    CampaignUnit,
    WaitingListEntry,
)
from puente.recovery.schemas import (
    CampaignCreate,
    CampaignRead,
    CapacityIn,
    EntryCreate,
    EntryRead,
    GoalIn,
    KeyCount,
    LineRead,
    WaitingFigures,
    WeekFlow,
)

PRIORITY_NUMBER = {WaitPriority.p1: 1, WaitPriority.p2: 2, WaitPriority.p3: 3, WaitPriority.p4: 4}
MAX_CAMPAIGN_DAYS = 31


def default_level(kind: ServiceKind) -> int:
    """Surgery and transplants need a hospital; screenings a family unit."""
    if kind in {ServiceKind.transplant, ServiceKind.donation}:
        return 3
    if kind in {ServiceKind.surgery, ServiceKind.imaging, ServiceKind.procedure}:
        return 2
    if kind == ServiceKind.consultation:
        return 2
    return 1


def level_of(facility: Facility) -> int:
    return repo.LEVEL_OF_TIER.get(facility.tier, 1)


# Waiting list -------------------------------------------------------------------


def add_entry(session: Session, *, data: EntryCreate) -> WaitingListEntry:
    if session.get(Patient, data.patient_id) is None:
        raise NotFound(
            f"No patient {data.patient_id}.", errors=[FieldError("patient_id", "unknown")]
        )
    service = repo.services_by_code(session, [data.service_code]).get(data.service_code)
    if service is None:
        raise Unprocessable(
            f"No service '{data.service_code}'.",
            errors=[FieldError("service_code", "unknown service")],
        )
    unit = repo.facilities_by_code(session, [data.referring_facility_code]).get(
        data.referring_facility_code
    )
    if unit is None:
        raise Unprocessable(
            f"No facility '{data.referring_facility_code}'.",
            errors=[FieldError("referring_facility_code", "unknown facility")],
        )
    if data.referred_on > date.today() + timedelta(days=1):
        raise Unprocessable(
            "A referral cannot be dated in the future.",
            errors=[FieldError("referred_on", "in the future")],
        )
    region_id = unit.region_id
    if data.region_code is not None:
        found = repo.region_ids_by_code(session, [data.region_code])
        if data.region_code not in found:
            raise Unprocessable(
                f"No region '{data.region_code}'.",
                errors=[FieldError("region_code", "unknown region")],
            )
        region_id = found[data.region_code]
    if data.external_ref and repo.entries_by_external_ref(session, [data.external_ref]):
        raise Conflict(
            f"An entry with reference '{data.external_ref}' is already on the list.",
            errors=[FieldError("external_ref", "already on the list")],
        )
    entry = WaitingListEntry(
        patient_id=data.patient_id,
        service_id=service.id,
        specialty_id=service.specialty_id,
        referring_facility_id=unit.id,
        referred_on=data.referred_on,
        priority=data.priority,
        duration_minutes=data.duration_minutes or service.duration_minutes or 30,
        level_of_care=data.level_of_care or default_level(service.kind),
        region_id=region_id,
        status=WaitStatus.waiting,
        external_ref=data.external_ref,
        max_travel_km=data.max_travel_km,
    )
    session.add(entry)
    session.flush()
    return entry


def get_entry(session: Session, entry_id: int) -> WaitingListEntry:
    entry = repo.entry(session, entry_id)
    if entry is None:
        raise NotFound(
            f"No waiting-list entry {entry_id}.", errors=[FieldError("entry_id", "unknown")]
        )
    return entry


def remove_entry(
    session: Session, *, entry: WaitingListEntry, reason: str, on: date | None = None
) -> WaitingListEntry:
    if entry.status in {WaitStatus.served, WaitStatus.removed}:
        raise Conflict(
            f"Entry {entry.id} is already off the list ({entry.status.value}).",
            errors=[FieldError("entry_id", f"already {entry.status.value}")],
        )
    entry.status = WaitStatus.removed
    entry.removed_on = on or date.today()
    entry.removal_reason = reason
    session.flush()
    return entry


def entry_reads(
    session: Session, entries: Sequence[WaitingListEntry], as_of: date | None = None
) -> list[EntryRead]:
    today = as_of or date.today()
    services = repo.service_codes(session, {e.service_id for e in entries})
    units = repo.facility_codes(session, {e.referring_facility_id for e in entries})
    regions = repo.region_codes(session, {e.region_id for e in entries if e.region_id})
    return [
        EntryRead(
            id=e.id,
            patient_id=e.patient_id,
            service_code=services[e.service_id],
            referring_facility_code=units[e.referring_facility_id],
            referred_on=e.referred_on,
            priority=e.priority,
            duration_minutes=e.duration_minutes,
            level_of_care=e.level_of_care,
            region_code=regions.get(e.region_id) if e.region_id else None,
            status=e.status,
            removed_on=e.removed_on,
            waited_days=((e.removed_on or today) - e.referred_on).days,
            max_travel_km=e.max_travel_km,
        )
        for e in entries
    ]


def figures(
    session: Session,
    *,
    as_of: date | None = None,
    facility_ids: Collection[int] | None = None,
    service_code: str | None = None,
) -> WaitingFigures:
    """Figures of the list of the referring units in ``facility_ids`` (all when None)."""
    service_id = None
    if service_code:
        service = repo.services_by_code(session, [service_code]).get(service_code)
        if service is None:
            raise Unprocessable(
                f"No service '{service_code}'.", errors=[FieldError("service", "unknown")]
            )
        service_id = service.id
    day = as_of or date.today()
    rows = [
        Row(svc, unit, PRIORITY_NUMBER[WaitPriority(priority)], referred, removed)
        for svc, unit, priority, referred, removed in repo.figure_rows(
            session, facility_ids=facility_ids, service_id=service_id
        )
    ]
    s = waiting_stats(rows, day)
    return WaitingFigures(
        as_of=day,
        size=s.size,
        by_service=[KeyCount(key=k, count=n) for k, n in s.by_service],
        by_unit=[KeyCount(key=k, count=n) for k, n in s.by_unit],
        by_priority=[KeyCount(key=k, count=n) for k, n in s.by_priority],
        median_weeks=s.median_weeks,
        p92_weeks=s.p92_weeks,
        share_under_18_weeks=s.share_under_18_weeks,
        over_52_weeks=s.over_weeks[52],
        over_65_weeks=s.over_weeks[65],
        over_78_weeks=s.over_weeks[78],
        over_104_weeks=s.over_weeks[104],
        past_target=s.past_target,
        weeks=[WeekFlow(week_start=w, added=a, removed=r) for w, a, r in s.weeks],
        weeks_to_clear=s.weeks_to_clear,
    )


# Campaigns ----------------------------------------------------------------------


def get_campaign(session: Session, code: str) -> Campaign:
    campaign = repo.campaign_by_code(session, code)
    if campaign is None:
        raise NotFound(f"No campaign '{code}'.", errors=[FieldError("code", "unknown campaign")])
    return campaign


def get_campaign_by_id(session: Session, campaign_id: int) -> Campaign:
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise NotFound(
            f"No campaign {campaign_id}.", errors=[FieldError("code", "unknown campaign")]
        )
    return campaign


def _facilities(session: Session, codes: Collection[str], field: str) -> dict[str, Facility]:
    found = repo.facilities_by_code(session, codes)
    missing = sorted(set(codes) - set(found))
    if missing:
        raise Unprocessable(
            f"No facility {', '.join(missing[:5])}.",
            errors=[FieldError(field, f"unknown facility '{c}'") for c in missing[:50]],
        )
    return found


def _services(session: Session, codes: Collection[str], field: str) -> dict[str, int]:
    found = repo.services_by_code(session, codes)
    missing = sorted(set(codes) - set(found))
    if missing:
        raise Unprocessable(
            f"No service {', '.join(missing[:5])}.",
            errors=[FieldError(field, f"unknown service '{c}'") for c in missing[:50]],
        )
    return {code: s.id for code, s in found.items()}


def create_campaign(session: Session, *, data: CampaignCreate) -> Campaign:
    if data.ends_on < data.starts_on:
        raise Unprocessable(
            "The campaign ends before it starts.",
            errors=[FieldError("ends_on", "before starts_on")],
        )
    if (data.ends_on - data.starts_on).days >= MAX_CAMPAIGN_DAYS:
        raise Unprocessable(
            f"A campaign lasts at most {MAX_CAMPAIGN_DAYS} days.",
            errors=[FieldError("ends_on", "too long")],
        )
    if repo.campaign_by_code(session, data.code) is not None:
        raise Conflict(
            f"Campaign '{data.code}' already exists.", errors=[FieldError("code", "taken")]
        )
    units = _facilities(session, data.units, "units")
    services = _services(session, [line.service_code for line in data.lines], "lines")
    campaign = Campaign(
        code=data.code,
        name=data.name,
        country_code=data.country,
        starts_on=data.starts_on,
        ends_on=data.ends_on,
        status=CampaignStatus.draft,
        max_travel_km=data.max_travel_km,
    )
    session.add(campaign)
    session.flush()
    session.add_all(CampaignUnit(campaign_id=campaign.id, facility_id=f.id) for f in units.values())
    seen: set[str] = set()
    for line in data.lines:
        if line.service_code in seen:
            continue
        seen.add(line.service_code)
        session.add(
            CampaignLine(
                campaign_id=campaign.id,
                service_id=services[line.service_code],
                capacity_kind=line.capacity_kind,
            )
        )
    session.flush()
    return campaign


def days_of(campaign: Campaign) -> list[date]:
    n = (campaign.ends_on - campaign.starts_on).days + 1
    return [campaign.starts_on + timedelta(days=k) for k in range(n)]


def _check_editable(campaign: Campaign) -> None:
    if campaign.status == CampaignStatus.closed:
        raise Conflict(
            f"Campaign '{campaign.code}' is closed.", errors=[FieldError("code", "closed")]
        )


def _unit_and_line_ids(
    session: Session,
    campaign: Campaign,
    facility_codes: Collection[str],
    service_codes: Collection[str],
) -> tuple[dict[str, int], dict[str, int]]:
    units = {f.code: f.id for f in repo.unit_facilities(session, campaign.id)}
    lines = {code: line.service_id for line, code in repo.lines(session, campaign.id)}
    bad_units = sorted(set(facility_codes) - set(units))
    bad_lines = sorted(set(service_codes) - set(lines))
    errors = [
        FieldError("rows.facility_code", f"'{c}' is not a unit of the campaign")
        for c in bad_units[:20]
    ]
    errors += [
        FieldError("rows.service_code", f"'{c}' is not a line of the campaign")
        for c in bad_lines[:20]
    ]
    if errors:
        raise Unprocessable(errors[0].message, errors=errors)
    return units, lines


def set_capacity(session: Session, *, campaign: Campaign, rows: Sequence[CapacityIn]) -> int:
    """Replace the campaign's capacity with ``rows`` (one per unit × day × line)."""
    _check_editable(campaign)
    units, lines = _unit_and_line_ids(
        session, campaign, {r.facility_code for r in rows}, {r.service_code for r in rows}
    )
    days = set(days_of(campaign))
    out: dict[tuple[int, date, int], int] = {}
    for n, r in enumerate(rows):
        if r.day not in days:
            raise Unprocessable(
                f"{r.day} is outside the campaign.",
                errors=[FieldError(f"rows.{n}.day", "outside the campaign")],
            )
        out[(units[r.facility_code], r.day, lines[r.service_code])] = r.amount
    repo.replace_rows(
        session,
        CampaignCapacity,
        campaign.id,
        [
            {"campaign_id": campaign.id, "facility_id": u, "day": d, "service_id": s, "amount": a}
            for (u, d, s), a in out.items()
        ],
    )
    return len(out)


def set_goals(session: Session, *, campaign: Campaign, rows: Sequence[GoalIn]) -> int:
    """Replace the campaign's goals with ``rows`` (one per unit × line)."""
    _check_editable(campaign)
    units, lines = _unit_and_line_ids(
        session, campaign, {r.facility_code for r in rows}, {r.service_code for r in rows}
    )
    out = {(units[r.facility_code], lines[r.service_code]): r.goal for r in rows}
    repo.replace_rows(
        session,
        CampaignGoal,
        campaign.id,
        [
            {"campaign_id": campaign.id, "facility_id": u, "service_id": s, "goal": g}
            for (u, s), g in out.items()
        ],
    )
    return len(out)


def campaign_read(session: Session, campaign: Campaign) -> CampaignRead:
    return CampaignRead(
        id=campaign.id,
        code=campaign.code,
        name=campaign.name,
        country=campaign.country_code,
        starts_on=campaign.starts_on,
        ends_on=campaign.ends_on,
        status=campaign.status,
        units=[f.code for f in repo.unit_facilities(session, campaign.id)],
        lines=[
            LineRead(service_code=code, capacity_kind=line.capacity_kind)
            for line, code in repo.lines(session, campaign.id)
        ],
        capacity_rows=repo.count_rows(session, CampaignCapacity, campaign.id),
        goal_rows=repo.count_rows(session, CampaignGoal, campaign.id),
        published_run_id=campaign.published_run_id,
        max_travel_km=campaign.max_travel_km,
    )


def unit_ids(session: Session, campaign: Campaign) -> list[int]:
    return [f.id for f in repo.unit_facilities(session, campaign.id)]


def unit_of(session: Session, campaign: Campaign, facility_code: str) -> Facility:
    unit = next(
        (f for f in repo.unit_facilities(session, campaign.id) if f.code == facility_code), None
    )
    if unit is None:
        raise NotFound(
            f"{facility_code} is not a unit of campaign '{campaign.code}'.",
            errors=[FieldError("facility_code", "not in the campaign")],
        )
    return unit


def campaign_goals(
    session: Session,
    campaign_code: str,
    facility_ids: Collection[int] | None = None,
    service_ids: Collection[int] | None = None,
) -> list[tuple[int, int, int]] | None:
    """The goals of a campaign as (facility id, service id, goal), for the
    reports' goal attainment; None for an unknown campaign."""
    return repo.campaign_goals(session, campaign_code, facility_ids, service_ids)
