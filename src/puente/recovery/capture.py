"""Day-of capture and goal attainment.

A unit records what it did during the campaign, per patient (a planned
appointment that took place) or as aggregate counts per service (high-volume
screenings). Each record is one ledger row through the ledger's own service,
tagged with the campaign's code, with a source reference that makes a
re-sent capture count once. Goal attainment reads the ledger's figures for
the campaign, never counts on its own.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping
from datetime import date, timedelta

from sqlalchemy.orm import Session

from puente.enums import LedgerSource, Mode, PlanItemStatus, WaitStatus
from puente.errors import Conflict, FieldError, Unprocessable
from puente.ledger import service as ledger
from puente.ledger.schemas import GroupBy
from puente.recovery import appointments
from puente.recovery import repository as repo
from puente.recovery.models import Campaign, PlanItem
from puente.recovery.planning import get_run
from puente.recovery.schemas import Attainment, AttainmentRow, CaptureResult

MAX_GROUPS = 100_000


def _check_day(campaign: Campaign, day: date, field: str = "day") -> None:
    if not campaign.starts_on <= day <= campaign.ends_on:
        raise Unprocessable(
            f"{day} is outside the campaign ({campaign.starts_on} to {campaign.ends_on}).",
            errors=[FieldError(field, "outside the campaign")],
        )
    if day > date.today() + timedelta(days=1):
        raise Unprocessable(
            "What is done cannot be recorded before the day.",
            errors=[FieldError(field, "in the future")],
        )


def capture_patient(
    session: Session, *, campaign: Campaign, item: PlanItem, day: date | None = None
) -> CaptureResult:
    """The planned service was delivered: write the ledger, close the item
    and take the entry off the waiting list."""
    run = get_run(session, item.run_id)
    if run.campaign_id != campaign.id or campaign.published_run_id != run.id:
        raise Conflict(
            "The item is not in the campaign's published plan.",
            errors=[FieldError("item_id", "not published")],
        )
    if item.facility_id is None or item.day is None:
        raise Conflict(
            "A standby entry has no place yet.", errors=[FieldError("item_id", "standby")]
        )
    if item.status not in (PlanItemStatus.booked, PlanItemStatus.confirmed, PlanItemStatus.done):
        raise Conflict(
            f"A {item.status.value} appointment cannot be captured as done.",
            errors=[FieldError("item_id", f"is {item.status.value}")],
        )
    served_on = day or item.day
    _check_day(campaign, served_on)
    entry = repo.entry(session, item.entry_id)
    assert entry is not None
    ledger.record(
        session,
        facility_id=item.facility_id,
        day=served_on,
        service_id=item.service_id,
        count=1,
        mode=Mode.in_person,
        campaign_code=campaign.code,
        patient_id=entry.patient_id,
        source=LedgerSource.campaign,
        source_ref=f"campaign:{campaign.code}:entry:{entry.id}",
    )
    item.status = PlanItemStatus.done
    appointments.attended(session, item, came=True)
    entry.status = WaitStatus.served
    entry.removed_on = served_on
    entry.served_campaign_id = campaign.id
    session.flush()
    return CaptureResult(ledger_entries=1, delivered=1)


def capture_counts(
    session: Session,
    *,
    campaign: Campaign,
    facility_id: int,
    day: date,
    counts: Mapping[str, int],
    key: str,
) -> CaptureResult:
    """Aggregate counts per service at a unit on a day. ``key`` names the
    submission: the same key again records nothing new."""
    _check_day(campaign, day)
    if facility_id not in {f.id for f in repo.unit_facilities(session, campaign.id)}:
        raise Unprocessable(
            "The facility is not a unit of the campaign.",
            errors=[FieldError("facility_code", "not in the campaign")],
        )
    services = repo.services_by_code(session, list(counts))
    missing = sorted(set(counts) - set(services))
    if missing:
        raise Unprocessable(
            f"No service {', '.join(missing)}.",
            errors=[FieldError(f"counts.{c}", "unknown service") for c in missing],
        )
    written = delivered = 0
    for code, n in sorted(counts.items()):
        if n <= 0:
            continue
        entry = ledger.record(
            session,
            facility_id=facility_id,
            day=day,
            service_id=services[code].id,
            count=n,
            mode=Mode.in_person,
            campaign_code=campaign.code,
            source=LedgerSource.campaign,
            source_ref=f"campaign:{campaign.code}:count:{key}:{facility_id}:{day}:{code}"[:128],
        )
        if entry is not None:
            written += 1
            delivered += entry.count
    return CaptureResult(ledger_entries=written, delivered=delivered)


def _row(key: str, name: str, goal: int, delivered: int) -> AttainmentRow:
    ratio = delivered / goal if goal else None
    return AttainmentRow(
        key=key,
        name=name,
        goal=goal,
        delivered=delivered,
        ratio=ratio,
        reached=bool(goal) and delivered >= goal,
    )


def attainment(
    session: Session, *, campaign: Campaign, facility_ids: Collection[int] | None = None
) -> Attainment:
    """Delivered ÷ goal per unit, per state and per service line. Only
    services of a goal's line count towards it."""
    units = {f.id: f for f in repo.unit_facilities(session, campaign.id)}
    if facility_ids is not None:
        units = {k: v for k, v in units.items() if k in facility_ids}
    by_code = {f.code: f for f in units.values()}
    goals = [g for g in repo.goals(session, campaign.id) if g.facility_id in units]
    line_codes = repo.service_codes(session, {g.service_id for g in goals})
    figures = ledger.figures(
        session,
        facility_ids=list(units),
        campaign=campaign.code,
        group_by=[GroupBy.facility, GroupBy.service],
        limit=MAX_GROUPS,
    )
    delivered: dict[tuple[int, str], int] = defaultdict(int)
    for group in figures.groups:
        unit = by_code.get(group.facility or "")
        if unit is not None and group.service:
            delivered[(unit.id, group.service)] += group.count
    region_ids = {f.region_id for f in units.values()}
    region_names = repo.region_names(session, region_ids)
    region_codes = repo.region_codes(session, region_ids)
    per_unit: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    per_state: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    per_line: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for g in goals:
        code = line_codes[g.service_id]
        done = delivered.get((g.facility_id, code), 0)
        region = units[g.facility_id].region_id
        for bucket in (per_unit[g.facility_id], per_state[region], per_line[code]):
            bucket[0] += g.goal
            bucket[1] += done
    by_unit = [
        _row(units[u].code, units[u].name, goal, done) for u, (goal, done) in per_unit.items()
    ]
    by_unit.sort(key=lambda r: (-(r.ratio or 0), r.key))
    by_state = sorted(
        (
            _row(region_codes[r], region_names[r], goal, done)
            for r, (goal, done) in per_state.items()
        ),
        key=lambda r: r.name,
    )
    services = repo.services_by_code(session, list(per_line))
    by_line = sorted(
        (_row(code, services[code].name_en, goal, done) for code, (goal, done) in per_line.items()),
        key=lambda r: r.key,
    )
    total_goal = sum(r.goal for r in by_unit)
    total_done = sum(r.delivered for r in by_unit)
    return Attainment(
        campaign_code=campaign.code,
        goal=total_goal,
        delivered=total_done,
        ratio=total_done / total_goal if total_goal else None,
        by_unit=by_unit,
        by_state=by_state,
        by_line=by_line,
        units_reached=sum(1 for r in by_unit if r.reached),
    )
