"""The demo world loader: phases, shared state and bulk writes.

``load_demo`` builds the whole world in one transaction of the caller's
session (it never commits). Each phase is a function of :class:`World`; they
run in the order of :data:`PHASES`. A later step that adds demo figures (for
instance ledger rows) appends its phase to :data:`PHASES` — every phase sees
the facilities, programs and people built before it through ``world``.

Determinism: everything random comes from ``world.rng`` (``random.Random(seed)``)
or, for the shape of the facility network that must not move with the seed,
from fixed data. No clock is read and every date is fixed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from importlib import import_module
from random import Random
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from puente.catalog.models import Specialty
from puente.enums import FacilityKind, ProgramKind, Tier
from puente.network.models import Facility, Program, ProgramEnrolment

Progress = Callable[[int, int], None]

# The facility that marks a database as already holding the demo world.
MARKER_FACILITY = "MX-IMSS"


@dataclass
class Site:
    """A demo facility as later phases see it (its database id once inserted)."""

    code: str
    name: str
    country: str
    region: str  # code of the facility's region (a district where there is one)
    province: str  # code of the first-level region
    tier: Tier
    kind: FacilityKind
    group: str  # mx_national, mx_office, mx_umae, mx_hospital, mx_umf, ru_mow, ru_vgg, vn_hub, vn_spoke, xb_spoke
    timezone: str
    city: str | None = None
    parent: str | None = None
    address: str | None = None
    # Specialty codes practised here; None means "every specialty".
    profile: frozenset[str] | None = None
    id: int = 0


@dataclass
class World:
    session: Session
    rng: Random
    seed: int
    regions: dict[str, int] = field(default_factory=dict)
    sites: dict[str, Site] = field(default_factory=dict)
    specialties: dict[str, int] = field(default_factory=dict)
    programs: dict[str, int] = field(default_factory=dict)
    counts: Counter[str] = field(default_factory=Counter)

    def in_group(self, *groups: str) -> list[Site]:
        return [s for s in self.sites.values() if s.group in groups]

    def insert_returning_ids(self, model: Any, rows: Sequence[dict[str, Any]]) -> list[int]:
        """Bulk-insert ``rows`` and return their new ids in the same order."""
        if not rows:
            return []
        stmt = insert(model).returning(model.id, sort_by_parameter_order=True)
        return list(self.session.scalars(stmt, list(rows)).all())

    def insert(self, model: Any, rows: Sequence[dict[str, Any]]) -> None:
        if rows:
            self.session.execute(insert(model), list(rows))

    def add_sites(self, sites: Iterable[Site]) -> None:
        """Insert facilities; a parent must have been added in an earlier call."""
        batch = list(sites)
        rows = [
            {
                "code": s.code,
                "name": s.name,
                "tier": s.tier,
                "kind": s.kind,
                "parent_id": self.sites[s.parent].id if s.parent else None,
                "region_id": self.regions[s.region],
                "country_code": s.country,
                "timezone": s.timezone,
                "city": s.city,
                "address": s.address,
                "phone": None,
                "active": True,
            }
            for s in batch
        ]
        for site, new_id in zip(batch, self.insert_returning_ids(Facility, rows), strict=True):
            site.id = new_id
            self.sites[site.code] = site
        self.counts["facilities"] += len(batch)

    def add_program(
        self,
        *,
        code: str,
        name: str,
        kind: ProgramKind,
        country: str | None,
        description: str,
        enrolments: Iterable[tuple[str, date]],
    ) -> None:
        [program_id] = self.insert_returning_ids(
            Program,
            [
                {
                    "code": code,
                    "name": name,
                    "kind": kind,
                    "country_code": country,
                    "description": description,
                }
            ],
        )
        self.programs[code] = program_id
        rows = [
            {
                "program_id": program_id,
                "facility_id": self.sites[site].id,
                "start_date": start,
                "end_date": None,
            }
            for site, start in enrolments
        ]
        self.insert(ProgramEnrolment, rows)
        self.counts["programs"] += 1
        self.counts["enrolments"] += len(rows)


def day_between(rng: Random, first: date, last: date) -> date:
    return date.fromordinal(rng.randint(first.toordinal(), last.toordinal()))


def _catalog(world: World) -> None:
    # Imported here: the catalog package loads its CSV files on demand.
    from puente.catalog.service import sync_catalog

    sync_catalog(world.session)
    world.session.flush()
    world.specialties = dict(world.session.execute(select(Specialty.code, Specialty.id)).all())


def _places(world: World) -> None:
    from puente.demo.places import load_places

    load_places(world)


def _mexico(world: World) -> None:
    from puente.demo.mexico import load_mexico

    load_mexico(world)


def _russia(world: World) -> None:
    from puente.demo.russia import load_russia

    load_russia(world)


def _vietnam(world: World) -> None:
    from puente.demo.vietnam import load_vietnam

    load_vietnam(world)


def _practitioners(world: World) -> None:
    from puente.demo.people import load_practitioners

    load_practitioners(world)


def _patients(world: World) -> None:
    from puente.demo.people import load_patients

    load_patients(world)


def _accounts(world: World) -> None:
    from puente.access.demo import create_demo_users

    world.counts["accounts"] += len(create_demo_users(world.session))


# (label, phase) in the order they run; later steps append their own phases.
PHASES: list[tuple[str, Callable[[World], None]]] = [
    ("catalog", _catalog),
    ("countries and regions", _places),
    ("Mexico", _mexico),
    ("Russia", _russia),
    ("Viet Nam, Laos, Cambodia", _vietnam),
    ("practitioners", _practitioners),
    ("patients", _patients),
    ("demo accounts", _accounts),
    ("ledger history", lambda world: import_module("puente.demo.ledger").load_ledger(world)),
    ("virtual visits", lambda world: import_module("puente.demo.visits").load_visits(world)),
    ("recovery", lambda world: import_module("puente.demo.recovery").load_recovery(world)),
    ("remote consultation", lambda w: import_module("puente.demo.consults").load_consults(w)),
]


def is_loaded(session: Session) -> bool:
    found = session.scalar(
        select(func.count()).select_from(Facility).where(Facility.code == MARKER_FACILITY)
    )
    return bool(found)


def load_demo(session: Session, *, seed: int = 2021, progress: Progress | None = None) -> str:
    """Build the demo world in ``session`` (not committed) and return a one-line summary.

    On a database that already holds the demo world nothing is added and the
    summary says so. The same seed always gives the same world.
    """
    total = len(PHASES)
    if is_loaded(session):
        if progress:
            progress(total, total)
        return "The demo world is already loaded; nothing was added."
    world = World(session=session, rng=Random(seed), seed=seed)
    for done, (_label, phase) in enumerate(PHASES, start=1):
        phase(world)
        if progress:
            progress(done, total)
    session.flush()
    c = world.counts
    return (
        f"Demo world loaded (seed {seed}): {c['facilities']:,} facilities in "
        f"{c['countries']} countries, {c['support_links']:,} support links, "
        f"{c['programs']} programs, {c['bridge_points']:,} bridge points, "
        f"{c['practitioners']:,} practitioners, {c['patients']:,} patients."
    )
