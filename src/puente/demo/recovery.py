"""Deferred-care recovery in the demo world (a phase after the ledger's).

* A national waiting list: the Mexican patients' deferred services, referred
  by their family-medicine units and hospitals from March 2020 (the start of
  the deferral) to June 2021, with clinical priorities.
* The Second National Day (``imss-jornada-2021-05``, 14–16 May 2021) as a
  campaign already run: its 35 state offices and 25 UMAEs, 12 service lines,
  capacity and goals per unit shaped by what each unit reported, a plan
  computed by the planner from the waiting list of that day and published.
  What the day delivered is the press release's figures (computed by the
  ledger phase's :func:`~puente.demo.ledger.imss_rows`, written here): at
  each unit × day × line, the planned patients seen are captured one by one
  (a ledger row per patient, tagged with the campaign; their entries served
  and off the list on that day), about one in twelve did not come (their
  entries wait again), places beyond what the unit reported went unused
  (cancelled), and the rest of the unit's count is one aggregate row — so
  the totals are the press release's and the waiting list shrinks by the
  patients seen.
* The next national day (``imss-jornada-2021-06``, 25–27 June 2021) drafted
  with the same units and lines, capacity and goals 10 % higher, not yet
  planned.
* ``planner.national``: a campaign planner for the whole institute.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from random import Random
from typing import Any

from sqlalchemy import select, update

from puente.catalog.models import Service
from puente.demo.ledger import SECOND_DAY, SECOND_DAYS, imss_rows
from puente.demo.world import MARKER_FACILITY, Site, World, day_between
from puente.enums import (
    AccessRole,
    CampaignStatus,
    CapacityKind,
    LedgerSource,
    Mode,
    PlanItemStatus,
    ServiceKind,
    WaitPriority,
    WaitStatus,
)
from puente.ledger.service import record_many
from puente.people.models import Patient
from puente.recovery import planning
from puente.recovery.models import (
    Campaign,
    CampaignCapacity,
    CampaignGoal,
    CampaignLine,
    CampaignUnit,
    PlanItem,
    WaitingListEntry,
)
from puente.recovery.service import default_level

NEXT_DAY = "imss-jornada-2021-06"
NEXT_DAYS = [date(2021, 6, 25), date(2021, 6, 26), date(2021, 6, 27)]
FIRST_REFERRAL, LAST_REFERRAL = date(2020, 3, 1), date(2021, 6, 20)
MINUTES = {"surgery-general": 90, "surgery-ophthalmology": 45, "surgery-joint-replacement": 150,
           "surgery-pediatric": 75}  # fmt: skip
SLOTS = {"consult-cardiology": CapacityKind.consultation_slots,
         "consult-internal-medicine": CapacityKind.consultation_slots,
         "consult-traumatology-orthopedics": CapacityKind.consultation_slots,
         "consult-ophthalmology": CapacityKind.consultation_slots,
         "consult-family-medicine": CapacityKind.consultation_slots,
         "screen-mammography": CapacityKind.screening_slots,
         "screen-diabetes": CapacityKind.screening_slots,
         "screen-hypertension": CapacityKind.screening_slots}  # fmt: skip
LINES = {**dict.fromkeys(MINUTES, CapacityKind.or_minutes), **SLOTS}
# Deferred services on the list (weights); some are not offered by the days.
WANTED = {"surgery-general": 10, "surgery-ophthalmology": 6, "surgery-joint-replacement": 4,
          "surgery-pediatric": 3, "surgery-neurosurgery": 2, "surgery-surgical-oncology": 2,
          "consult-cardiology": 10, "consult-internal-medicine": 10,
          "consult-traumatology-orthopedics": 8, "consult-ophthalmology": 8,
          "consult-psychiatry": 4, "consult-family-medicine": 6, "screen-mammography": 8,
          "screen-diabetes": 6, "screen-hypertension": 6}  # fmt: skip
THIRD_LEVEL = {"surgery-neurosurgery", "surgery-surgical-oncology", "surgery-joint-replacement"}
PRIORITIES = {WaitPriority.p1: 3, WaitPriority.p2: 17, WaitPriority.p3: 40, WaitPriority.p4: 40}
ENTRIES_PER_PATIENT = (1, 1, 1, 2, 2, 3)
# A line's capacity for patients from the list over a day is about this share
# of the line's list; operating rooms count a typical surgery's minutes.
LIST_SHARE = 0.35
TYPICAL_MINUTES = 135
NO_SHOW_SHARE = 0.08  # the chance that a planned patient does not come


def load_recovery(world: World) -> None:
    rng = Random(world.seed + 606)
    services = {s.code: s for s in world.session.scalars(select(Service))}
    entries, waiting = _waiting_list(world, rng, services)
    units = world.in_group("mx_office", "mx_umae")
    second = imss_rows(world, {code: s.id for code, s in services.items()})[SECOND_DAY]
    delivered = _delivered(world, second, services)
    past = _campaign(world, SECOND_DAY, "Segunda Jornada Nacional para la Recuperación de los "
                     "Servicios de Salud", SECOND_DAYS, [u.id for u in units], services)  # fmt: skip
    capacity, goals = _capacity_and_goals(rng, units, services, delivered, waiting)
    _fill(world, past, SECOND_DAYS, capacity, goals, services, 1.0)
    run = planning.start_run(world.session, campaign=past, user_id=None)
    planning.execute(world.session, run=run)
    _seen(world, past, run.id, second, rng)
    upcoming = _campaign(world, NEXT_DAY, "Tercera Jornada Nacional para la Recuperación de los "
                         "Servicios de Salud", NEXT_DAYS, [u.id for u in units], services)  # fmt: skip
    _fill(world, upcoming, NEXT_DAYS, capacity, goals, services, 1.1)
    _planner_account(world)
    world.counts["waiting_list"] += entries
    world.counts["campaigns"] += 2


def _waiting_list(
    world: World, rng: Random, services: dict[str, Service]
) -> tuple[int, dict[int, int]]:
    """Insert the list; (entries, entries per service)."""
    homes = {s.id: s for s in world.in_group("mx_umf", "mx_hospital")}
    patients = world.session.execute(
        select(Patient.id, Patient.home_facility_id)
        .where(Patient.home_facility_id.in_(list(homes)))
        .order_by(Patient.id)
    ).all()
    codes, weights = list(WANTED), list(WANTED.values())
    priorities = list(PRIORITIES)
    rows: list[dict[str, Any]] = []
    for patient_id, home_id in patients:
        home = homes[home_id or 0]
        for code in dict.fromkeys(
            rng.choices(codes, weights=weights, k=rng.choice(ENTRIES_PER_PATIENT))
        ):
            service = services[code]
            surgery = service.kind == ServiceKind.surgery
            rows.append(
                {
                    "patient_id": patient_id,
                    "service_id": service.id,
                    "specialty_id": service.specialty_id,
                    "referring_facility_id": home.id,
                    "referred_on": day_between(rng, FIRST_REFERRAL, LAST_REFERRAL),
                    "priority": rng.choices(priorities, weights=list(PRIORITIES.values()))[0],
                    "duration_minutes": rng.randrange(30, 241, 15) if surgery else 20,
                    "level_of_care": 3 if code in THIRD_LEVEL else default_level(service.kind),
                    "region_id": world.regions[home.province],
                    "status": WaitStatus.waiting,
                }
            )
    world.insert(WaitingListEntry, rows)
    per_service: dict[int, int] = defaultdict(int)
    for row in rows:
        per_service[row["service_id"]] += 1
    return len(rows), per_service


def _delivered(
    world: World, rows: list[dict[str, Any]], services: dict[str, Service]
) -> dict[tuple[str, str], int]:
    """What each unit reported per service code over the day."""
    sites = {site.id: site.code for site in world.sites.values()}
    codes = {s.id: code for code, s in services.items()}
    out: dict[tuple[str, str], int] = defaultdict(int)
    for row in rows:
        out[(sites[row["facility_id"]], codes[row["service_id"]])] += row["count"]
    return out


def _campaign(
    world: World, code: str, name: str, days: list[date], unit_ids: list[int],
    services: dict[str, Service],
) -> Campaign:  # fmt: skip
    campaign = Campaign(code=code, name=name, country_code="MX", starts_on=days[0],
                        ends_on=days[-1], status=CampaignStatus.draft)  # fmt: skip
    world.session.add(campaign)
    world.session.flush()
    world.insert(CampaignUnit, [{"campaign_id": campaign.id, "facility_id": u} for u in unit_ids])
    world.insert(CampaignLine, [
        {"campaign_id": campaign.id, "service_id": services[c].id, "capacity_kind": kind}
        for c, kind in LINES.items()
    ])  # fmt: skip
    return campaign


def _capacity_and_goals(
    rng: Random, units: list[Site], services: dict[str, Service],
    delivered: dict[tuple[str, str], int], waiting: dict[int, int],
) -> tuple[dict[tuple[int, int], int], dict[tuple[int, int], int]]:  # fmt: skip
    """Per unit × line: one day's capacity for patients from the list, and
    the campaign's goal. A line's capacity over the three days is about a
    third of its waiting list, shared among the units in proportion to what
    each reported on the second day; the goal is what the unit reported,
    ±25 %, so some units reach it and some do not."""
    capacity: dict[tuple[int, int], int] = {}
    goals: dict[tuple[int, int], int] = {}
    for code, kind in LINES.items():
        service_id = services[code].id
        total = sum(delivered.get((u.code, code), 0) for u in units) or 1
        for unit in units:
            done = delivered.get((unit.code, code), 0)
            if not done:
                continue
            share = waiting.get(service_id, 0) * LIST_SHARE * done / total / 3
            per_day = share * (TYPICAL_MINUTES if kind == CapacityKind.or_minutes else 1)
            capacity[(unit.id, service_id)] = max(1, round(per_day))
            goals[(unit.id, service_id)] = max(1, round(done * rng.uniform(0.8, 1.25)))
    return capacity, goals


def _fill(
    world: World, campaign: Campaign, days: list[date], capacity: dict[tuple[int, int], int],
    goals: dict[tuple[int, int], int], services: dict[str, Service], scale: float,
) -> None:  # fmt: skip
    world.insert(CampaignCapacity, [
        {"campaign_id": campaign.id, "facility_id": u, "day": d, "service_id": s,
         "amount": round(amount * scale)}
        for (u, s), amount in capacity.items() for d in days
    ])  # fmt: skip
    world.insert(CampaignGoal, [
        {"campaign_id": campaign.id, "facility_id": u, "service_id": s,
         "goal": max(1, round(goal * scale))}
        for (u, s), goal in goals.items()
    ])  # fmt: skip


def _seen(
    world: World, campaign: Campaign, run_id: int, reported: list[dict[str, Any]], rng: Random
) -> None:
    """Publish the past day's plan and record what happened (see the module)."""
    session = world.session
    items = session.execute(
        select(PlanItem.id, PlanItem.entry_id, PlanItem.facility_id, PlanItem.day,
               PlanItem.service_id, WaitingListEntry.patient_id)
        .join(WaitingListEntry, WaitingListEntry.id == PlanItem.entry_id)
        .where(PlanItem.run_id == run_id, PlanItem.standby_rank.is_(None))
        .order_by(PlanItem.id)
    ).all()  # fmt: skip
    counts: dict[tuple[int, date, int], int] = defaultdict(int)
    for row in reported:
        counts[(row["facility_id"], row["day"], row["service_id"])] += row["count"]
    groups: dict[tuple[int, date, int], list[Any]] = defaultdict(list)
    for item in items:
        groups[(item.facility_id, item.day, item.service_id)].append(item)
    outcome: dict[PlanItemStatus, list[int]] = defaultdict(list)
    served: dict[date, list[int]] = defaultdict(list)
    ledger_rows: list[dict[str, Any]] = []
    for key, group in sorted(groups.items()):
        away = [rng.random() < NO_SHOW_SHARE for _ in group]
        present = [i for i, gone in zip(group, away, strict=True) if not gone]
        came, unused = present[: counts.get(key, 0)], present[counts.get(key, 0) :]
        outcome[PlanItemStatus.no_show] += [
            i.id for i, gone in zip(group, away, strict=True) if gone
        ]
        outcome[PlanItemStatus.cancelled] += [i.id for i in unused]
        outcome[PlanItemStatus.done] += [i.id for i in came]
        for item in came:
            served[key[1]].append(item.entry_id)
            ledger_rows.append({"facility_id": key[0], "day": key[1], "service_id": key[2],
                                "count": 1, "mode": Mode.in_person, "campaign_code": campaign.code,
                                "patient_id": item.patient_id, "source": LedgerSource.campaign,
                                "source_ref": f"campaign:{campaign.code}:entry:{item.entry_id}"})  # fmt: skip
        counts[key] -= len(came)
    for n, ((unit, day, service), rest) in enumerate(sorted(counts.items())):
        if rest > 0:
            ledger_rows.append({"facility_id": unit, "day": day, "service_id": service,
                                "count": rest, "mode": Mode.in_person,
                                "campaign_code": campaign.code, "source": LedgerSource.import_,
                                "source_ref": f"demo:{campaign.code}:{n}"})  # fmt: skip
    for status, ids in outcome.items():
        for start in range(0, len(ids), 5000):
            session.execute(update(PlanItem).where(PlanItem.id.in_(ids[start : start + 5000]))
                            .values(status=status))  # fmt: skip
    for day, ids in served.items():
        for start in range(0, len(ids), 5000):
            session.execute(
                update(WaitingListEntry)
                .where(WaitingListEntry.id.in_(ids[start : start + 5000]))
                .values(status=WaitStatus.served, removed_on=day, served_campaign_id=campaign.id)
            )
    world.counts["ledger_entries"] += record_many(session, ledger_rows)
    campaign.published_run_id = run_id
    campaign.status = CampaignStatus.closed
    session.flush()


def _planner_account(world: World) -> None:
    from puente.access import service as access
    from puente.access.demo import DEMO_PASSWORD

    user = access.create_user(world.session, username="planner.national",
                              display_name="Lucía Hernández", password=DEMO_PASSWORD,
                              must_change_password=False, preferred_language="es")  # fmt: skip
    access.grant_role(world.session, user=user, role=AccessRole.campaign_planner,
                      scope_code=MARKER_FACILITY)  # fmt: skip
    world.counts["accounts"] += 1
