"""Plan runs: from a campaign and the waiting list to a plan, and from a
published plan to patients.

- :func:`start_run` records a queued run; :func:`execute` does the work in
  the caller's session, reporting progress through a callback (the
  background runner commits the run's progress at each step so readers see
  it move; ``puente plan`` shows a bar).
- Re-planning (``replans``) keeps every appointment the patient confirmed
  (and every one already done): their capacity and their patient's day are
  taken out before the solver runs.
- :func:`publish` turns planned items into booked ones, moves their entries
  to *planned* and writes one outbox message per patient.
- :func:`set_outcome` records confirmations, cancellations and no-shows; a
  cancellation frees the place and the best eligible entry on standby takes it.
  After a cancellation or a no-show the entry waits again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy.orm import Session

from puente.db import utcnow
from puente.enums import CampaignStatus, CapacityKind, PlanItemStatus, PlanRunStatus, WaitStatus
from puente.errors import Conflict, FieldError, NotFound, Unprocessable
from puente.network.models import Facility
from puente.notify import service as notify
from puente.recovery import appointments, planner
from puente.recovery import repository as repo
from puente.recovery.models import Campaign, PlanItem, PlanRun, WaitingListEntry
from puente.recovery.schemas import PlanItemRead, PlanRunRead
from puente.recovery.service import PRIORITY_NUMBER, level_of

Progress = Callable[[int, str], None]
KEPT = (PlanItemStatus.confirmed, PlanItemStatus.done)
STANDBY_SHARE = 0.1
STANDBY_MAX = 2000


def _(text: str) -> str:
    return text


notify.TEMPLATES.setdefault(
    "campaign_appointment",
    (
        _("Your appointment in the national recovery day"),
        _("You have an appointment for {service} at {facility} on {day}. Please confirm it."),
    ),
)


def get_run(session: Session, run_id: int) -> PlanRun:
    run = repo.run(session, run_id)
    if run is None:
        raise NotFound(f"No plan run {run_id}.", errors=[FieldError("run_id", "unknown")])
    return run


def start_run(
    session: Session, *, campaign: Campaign, user_id: int | None, replans: PlanRun | None = None
) -> PlanRun:
    if campaign.status == CampaignStatus.closed:
        raise Conflict(
            f"Campaign '{campaign.code}' is closed.", errors=[FieldError("code", "closed")]
        )
    if replans is not None and replans.campaign_id != campaign.id:
        raise Unprocessable(
            "That run belongs to another campaign.",
            errors=[FieldError("replans", "other campaign")],
        )
    run = PlanRun(
        campaign_id=campaign.id,
        status=PlanRunStatus.queued,
        progress=0,
        phase="queued",
        replans_run_id=replans.id if replans else None,
        requested_by_user_id=user_id,
    )
    session.add(run)
    session.flush()
    return run


@dataclass
class Reach:
    """Where facilities are, and the campaign's travel limit (km)."""

    places: dict[int, planner.Place] = field(default_factory=dict)
    campaign_km: int | None = None
    cache: dict[tuple[int, int | None, int | None, int | None], tuple[int, ...]] = field(
        default_factory=dict
    )

    def limit(self, entry: WaitingListEntry) -> int | None:
        limits = [x for x in (entry.max_travel_km, self.campaign_km) if x is not None]
        return min(limits) if limits else None


def reach_of(session: Session, campaign: Campaign) -> Reach:
    return Reach(places=repo.facility_places(session), campaign_km=campaign.max_travel_km)


def _eligible_units(
    entry: WaitingListEntry, units: list[Facility], reach: Reach
) -> tuple[int, ...]:
    """Level of care, region, and the travel limit from the referring unit."""
    limit = reach.limit(entry)
    origin = entry.referring_facility_id if limit is not None else None
    key = (entry.level_of_care, entry.region_id, origin, limit)
    if key not in reach.cache:
        start = reach.places.get(origin) if origin is not None else None
        reach.cache[key] = tuple(
            u.id
            for u in units
            if level_of(u) >= entry.level_of_care
            and (
                entry.region_id is None
                or u.region_id == entry.region_id
                or (entry.level_of_care == 3 and level_of(u) == 3)
            )
            and planner.within_reach(start, reach.places.get(u.id), limit)
        )
    return reach.cache[key]


def execute(session: Session, *, run: PlanRun, progress: Progress | None = None) -> PlanRun:
    """Solve the run's campaign and store its plan and standby list."""
    report = progress or (lambda _pct, _phase: None)
    campaign = session.get(Campaign, run.campaign_id)
    assert campaign is not None
    run.status, run.phase = PlanRunStatus.running, "loading"
    report(1, "loading")
    units = repo.unit_facilities(session, campaign.id)
    kinds = {
        line.service_id: line.capacity_kind for line, _code in repo.lines(session, campaign.id)
    }
    capacity: dict[planner.Bin, int] = {
        (c.facility_id, c.day, c.service_id): c.amount
        for c in repo.capacity(session, campaign.id)
        if c.service_id in kinds
    }
    busy: list[tuple[int, date]] = []
    kept_rows: list[dict[str, object]] = []
    again: set[int] = set()
    if run.replans_run_id is not None:
        for item in repo.items(session, run.replans_run_id, standby=False):
            if item.status in KEPT and item.facility_id is not None and item.day is not None:
                entry = repo.entry(session, item.entry_id)
                assert entry is not None
                use = (
                    entry.duration_minutes
                    if kinds.get(item.service_id) == CapacityKind.or_minutes
                    else 1
                )
                b = (item.facility_id, item.day, item.service_id)
                capacity[b] = max(0, capacity.get(b, 0) - use)
                busy.append((entry.patient_id, item.day))
                kept_rows.append(_row(run.id, item, item.status, item.appointment_id))
            elif item.status in (PlanItemStatus.planned, PlanItemStatus.booked):
                again.add(item.entry_id)
    kept_entries = {int(str(r["entry_id"])) for r in kept_rows}
    # Only entries referred by the campaign's first day can be planned in it.
    entries = [
        e
        for e in repo.plannable_entries(session, list(kinds))
        if e.id not in kept_entries and e.referred_on <= campaign.starts_on
    ]
    entries += [
        e
        for e in repo.entries_by_id(session, again - kept_entries).values()
        if e.status == WaitStatus.planned
    ]
    reach = reach_of(session, campaign)
    problem = [
        planner.Entry(
            id=e.id,
            patient=e.patient_id,
            line=e.service_id,
            use=e.duration_minutes if kinds[e.service_id] == CapacityKind.or_minutes else 1,
            value=planner.entry_value(
                PRIORITY_NUMBER[e.priority], (campaign.starts_on - e.referred_on).days
            ),
            units=_eligible_units(e, units, reach),
            referred=e.referred_on,
        )
        for e in entries
    ]
    by_id = {p.id: p for p in problem}
    report(3, "solving")
    result = planner.plan(
        problem,
        capacity,
        busy=busy,
        standby_size=min(STANDBY_MAX, max(10, int(len(problem) * STANDBY_SHARE))),
        progress=lambda pct, phase: report(3 + pct * 90 // 100, phase),
    )
    report(95, "saving")
    rows = list(kept_rows)
    rows += [
        {
            "run_id": run.id,
            "entry_id": a.entry,
            "facility_id": a.unit,
            "day": a.day,
            "service_id": a.line,
            "value": by_id[a.entry].value,
            "status": PlanItemStatus.planned,
            "standby_rank": None,
            "appointment_id": None,
        }
        for a in result.assignments
    ]
    rows += [
        {
            "run_id": run.id,
            "entry_id": entry_id,
            "facility_id": None,
            "day": None,
            "service_id": by_id[entry_id].line,
            "value": by_id[entry_id].value,
            "status": PlanItemStatus.planned,
            "standby_rank": rank,
            "appointment_id": None,
        }
        for rank, entry_id in enumerate(result.standby, start=1)
    ]
    repo.insert_items(session, rows)
    kept_value = sum(float(str(r["value"])) for r in kept_rows)
    run.entries = len(problem) + len(kept_rows)
    run.planned = len(result.assignments) + len(kept_rows)
    run.objective = result.objective + kept_value
    run.bound = result.bound + kept_value
    run.gap = max(0.0, (run.bound - run.objective) / run.bound) if run.bound else 0.0
    run.fcfs_objective = result.fcfs_objective + kept_value
    run.greedy_objective = result.greedy_objective + kept_value
    run.seconds = result.seconds
    run.method = result.method
    run.status, run.progress, run.phase = PlanRunStatus.done, 100, "done"
    run.finished_at = utcnow()
    if campaign.status == CampaignStatus.draft:
        campaign.status = CampaignStatus.planned
    session.flush()
    report(100, "done")
    return run


def _row(
    run_id: int, item: PlanItem, status: PlanItemStatus, appointment_id: int | None
) -> dict[str, object]:
    return {
        "run_id": run_id,
        "entry_id": item.entry_id,
        "facility_id": item.facility_id,
        "day": item.day,
        "service_id": item.service_id,
        "value": item.value,
        "status": status,
        "standby_rank": None,
        "appointment_id": appointment_id,
    }


def run_in_background(factory: Callable[[], Session], run_id: int) -> None:
    """Execute a queued run in its own session, committing progress as it goes."""
    with factory() as session:
        run = get_run(session, run_id)
        last = [-1]

        def progress(pct: int, phase: str) -> None:
            if pct - last[0] < 5 and pct != 100:
                return
            last[0] = pct
            run.progress, run.phase = pct, phase
            session.commit()

        try:
            execute(session, run=run, progress=progress)
            session.commit()
        except Exception as exc:  # the run records why it failed
            session.rollback()
            failed = get_run(session, run_id)
            failed.status, failed.phase = PlanRunStatus.failed, "failed"
            failed.error = str(exc)[:500]
            session.commit()


# Publishing and what patients do ---------------------------------------------------


def publish(session: Session, *, campaign: Campaign, run: PlanRun) -> int:
    """Make ``run`` the campaign's plan: book its planned items and tell the
    patients. Returns how many patients were notified."""
    if run.campaign_id != campaign.id:
        raise Unprocessable(
            "That run belongs to another campaign.", errors=[FieldError("run_id", "other campaign")]
        )
    if run.status != PlanRunStatus.done:
        raise Conflict(
            f"Run {run.id} is {run.status.value}; only a finished run can be published.",
            errors=[FieldError("run_id", f"is {run.status.value}")],
        )
    if campaign.status == CampaignStatus.closed:
        raise Conflict(
            f"Campaign '{campaign.code}' is closed.", errors=[FieldError("code", "closed")]
        )
    previous = campaign.published_run_id
    if previous == run.id:
        return 0
    items = repo.items(session, run.id, standby=False, statuses=[PlanItemStatus.planned])
    in_new = {i.entry_id: i for i in repo.items(session, run.id, standby=False)}
    if previous is not None:
        for old in repo.items(
            session,
            previous,
            standby=False,
            statuses=[PlanItemStatus.planned, PlanItemStatus.booked],
        ):
            old.status = PlanItemStatus.cancelled
            again = in_new.get(old.entry_id)
            if again is None:
                appointments.cancel(session, old)
                _back_to_waiting(session, old.entry_id)
            elif (again.facility_id, again.day) == (old.facility_id, old.day):
                # Planned where it already was: the patient keeps the appointment.
                again.appointment_id = old.appointment_id
                if old.appointment_id is not None:
                    again.status = PlanItemStatus.booked
            else:
                appointments.cancel(session, old)
    items = [i for i in items if i.status == PlanItemStatus.planned]
    notified = _book(session, campaign, items)
    campaign.published_run_id = run.id
    campaign.status = CampaignStatus.published
    session.flush()
    return notified


def _back_to_waiting(session: Session, entry_id: int) -> None:
    repo.set_entry_status(session, [entry_id], WaitStatus.waiting, only_from=WaitStatus.planned)


def _book(session: Session, campaign: Campaign, items: list[PlanItem]) -> int:
    entries = repo.entries_by_id(session, {i.entry_id for i in items})
    patients = repo.patients_by_id(session, {e.patient_id for e in entries.values()})
    units = {f.id: f for f in repo.unit_facilities(session, campaign.id)}
    names = repo.services_by_id(session, {i.service_id for i in items})
    for item in items:
        item.status = PlanItemStatus.booked
        entry = entries[item.entry_id]
        patient = patients[entry.patient_id]
        unit = units.get(item.facility_id or 0)
        language = patient.preferred_language
        notify.enqueue(
            session,
            patient=patient,
            template="campaign_appointment",
            dedupe_key=f"campaign:{campaign.code}:entry:{entry.id}:{item.facility_id}:{item.day}",
            values={
                "service": names[item.service_id].name(language),
                "facility": unit.name if unit else "",
                "day": item.day.isoformat() if item.day else "",
            },
        )
    repo.set_entry_status(session, list(entries), WaitStatus.planned, only_from=WaitStatus.waiting)
    appointments.book(session, campaign, items, by_user_id=None)
    return len(items)


def get_item(session: Session, item_id: int) -> PlanItem:
    item = repo.item(session, item_id)
    if item is None:
        raise NotFound(f"No plan item {item_id}.", errors=[FieldError("item_id", "unknown")])
    return item


ALLOWED = {
    PlanItemStatus.booked: {
        PlanItemStatus.confirmed,
        PlanItemStatus.cancelled,
        PlanItemStatus.no_show,
    },
    PlanItemStatus.confirmed: {PlanItemStatus.cancelled, PlanItemStatus.no_show},
}


def set_outcome(
    session: Session, *, campaign: Campaign, item: PlanItem, status: PlanItemStatus
) -> PlanItem | None:
    """Confirm, cancel or mark a no-show. On a cancellation the freed place
    goes to the best standby entry that fits; that item is returned."""
    run = get_run(session, item.run_id)
    if run.campaign_id != campaign.id or campaign.published_run_id != run.id:
        raise Conflict(
            "The item is not in the campaign's published plan.",
            errors=[FieldError("item_id", "not published")],
        )
    if status not in ALLOWED.get(item.status, set()):
        raise Conflict(
            f"A {item.status.value} appointment cannot become {status.value}.",
            errors=[FieldError("status", f"not allowed from {item.status.value}")],
        )
    item.status = status
    session.flush()
    if status == PlanItemStatus.no_show:
        appointments.attended(session, item, came=False)
        # Not served: the entry waits again, for a later day or campaign.
        _back_to_waiting(session, item.entry_id)
    if status != PlanItemStatus.cancelled:
        return None
    appointments.cancel(session, item)
    _back_to_waiting(session, item.entry_id)
    return fill_from_standby(session, campaign=campaign, run=run, freed=item)


def fill_from_standby(
    session: Session, *, campaign: Campaign, run: PlanRun, freed: PlanItem
) -> PlanItem | None:
    """Give the place ``freed`` left to the best standby entry that may take it."""
    if freed.facility_id is None or freed.day is None:
        return None
    kinds = {line.service_id: line.capacity_kind for line, _c in repo.lines(session, campaign.id)}
    freed_entry = repo.entry(session, freed.entry_id)
    assert freed_entry is not None
    minutes = kinds.get(freed.service_id) == CapacityKind.or_minutes
    room = freed_entry.duration_minutes if minutes else 1
    units = repo.unit_facilities(session, campaign.id)
    unit = next(u for u in units if u.id == freed.facility_id)
    booked_days = {
        (e.patient_id, i.day)
        for i in repo.items(session, run.id, day=freed.day, standby=False)
        # A patient already seen that day counts as busy, as one still expected.
        if i.status in (PlanItemStatus.booked, PlanItemStatus.confirmed, PlanItemStatus.done)
        for e in [repo.entry(session, i.entry_id)]
        if e is not None
    }
    reach = reach_of(session, campaign)
    for candidate in repo.items(session, run.id, standby=True, statuses=[PlanItemStatus.planned]):
        if candidate.service_id != freed.service_id:
            continue
        entry = repo.entry(session, candidate.entry_id)
        if entry is None or entry.status != WaitStatus.waiting:
            continue
        if (entry.duration_minutes if minutes else 1) > room:
            continue
        if (entry.patient_id, freed.day) in booked_days:
            continue
        if unit.id not in _eligible_units(entry, [unit], reach):
            continue
        candidate.facility_id, candidate.day = freed.facility_id, freed.day
        candidate.standby_rank = None
        _book(session, campaign, [candidate])
        session.flush()
        return candidate
    return None


# Reads -------------------------------------------------------------------------------


def run_read(session: Session, run: PlanRun) -> PlanRunRead:
    campaign = session.get(Campaign, run.campaign_id)
    assert campaign is not None
    return PlanRunRead(
        id=run.id,
        campaign_code=campaign.code,
        status=run.status,
        progress=run.progress,
        phase=run.phase,
        replans_run_id=run.replans_run_id,
        entries=run.entries,
        planned=run.planned,
        standby=repo.standby_count(session, run.id),
        objective=run.objective,
        bound=run.bound,
        gap=run.gap,
        fcfs_objective=run.fcfs_objective,
        greedy_objective=run.greedy_objective,
        seconds=run.seconds,
        method=run.method,
        error=run.error,
        created_at=run.created_at,
        finished_at=run.finished_at,
    )


def item_reads(session: Session, items: list[PlanItem]) -> list[PlanItemRead]:
    entries = repo.entries_by_id(session, {i.entry_id for i in items})
    units = repo.facility_codes(session, {i.facility_id for i in items if i.facility_id})
    services = repo.service_codes(session, {i.service_id for i in items})
    return [
        PlanItemRead(
            id=i.id,
            entry_id=i.entry_id,
            patient_id=entries[i.entry_id].patient_id,
            facility_code=units.get(i.facility_id) if i.facility_id else None,
            day=i.day,
            service_code=services[i.service_id],
            priority=entries[i.entry_id].priority,
            value=i.value,
            status=i.status,
            standby_rank=i.standby_rank,
            appointment_id=i.appointment_id,
        )
        for i in items
    ]


def patient_ids_of(session: Session, items: list[PlanItem]) -> list[int]:
    entries = repo.entries_by_id(session, {i.entry_id for i in items})
    return sorted({e.patient_id for e in entries.values()})


def plan_by_unit(
    session: Session, *, run: PlanRun, units: list[Facility], days: list[date]
) -> list[tuple[Facility, list[int], int]]:
    """For reviewing a run: per unit (by name), its planned items on each day
    and in all."""
    counts = repo.item_counts(session, run.id)
    out = []
    for unit in sorted(units, key=lambda u: (u.name, u.code)):
        per_day = [counts.get((unit.id, d), 0) for d in days]
        out.append((unit, per_day, sum(per_day)))
    return out
