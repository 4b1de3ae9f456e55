"""Ledger history behind the figures dashboards (the demo's last phase).

* Mexico: a smaller synthetic first national day (26–28 March 2021) so the
  program has a history. The IMSS Second National Day for the Recovery of
  Health Services (14–16 May 2021), with exactly the figures of the IMSS
  press release at the 35 state offices and 25 UMAEs, is computed here
  (:func:`imss_rows`) and written by the recovery phase: part per patient,
  the rest as aggregate counts.
* Viet Nam: remote consultations, case conferences and tele-education at the
  bridge points of the remote-care network, from each one's enrolment
  (from September 2020) to June 2022.
* Volgograd: foreign patients of the medical-services export clinics —
  40,600 attendances in 2018 at the 14 pilot clinics, 24,600 from January
  to 25 June 2019 (the press release's 24.6 thousand) and the rest of 2019,
  at the clinics enrolled on each day (14 → 20).

Moscow's virtual visits are recorded by the visits feature's own phase.
Rows are aggregate counts written with :func:`puente.ledger.service.record_many`.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from random import Random
from typing import Any

from sqlalchemy import select

from puente.catalog.models import Service
from puente.demo.world import World
from puente.enums import LedgerSource, Mode
from puente.ledger.service import record_many
from puente.network.models import ProgramEnrolment

SECOND_DAY = "imss-jornada-2021-05"
FIRST_DAY = "imss-jornada-2021-03"
SECOND_DAYS = [date(2021, 5, 14), date(2021, 5, 15), date(2021, 5, 16)]
FIRST_DAYS = [date(2021, 3, 26), date(2021, 3, 27), date(2021, 3, 28)]

# Figure of the press release → services it is spread over (weights).
IMSS_SECOND_DAY: list[tuple[int, dict[str, int]]] = [
    (3729, {"surgery-general": 30, "surgery-pediatric": 10, "surgery-plastic": 8, "surgery-neurosurgery": 6,
            "surgery-otorhinolaryngology": 8, "surgery-surgical-oncology": 8, "surgery-joint-replacement": 10,
            "surgery-ophthalmology": 12, "surgery-burns": 4, "surgery-traumatology-orthopedics": 4}),
    (17408, {"consult-angiology": 5, "consult-cardiology": 10, "consult-general-surgery": 10,
             "consult-internal-medicine": 14, "consult-nephrology": 5, "consult-pulmonology": 5,
             "consult-ophthalmology": 10, "consult-pediatrics": 10, "consult-psychiatry": 6,
             "consult-psychology": 6, "consult-traumatology-orthopedics": 12, "consult-urology": 7}),
    (70067, {"consult-family-medicine": 1}),
    (9517, {"screen-mammography": 1}),
    (10166, {"screen-breast-exam": 1}),
    (19842, {"screen-diabetes": 1}),
    (23080, {"screen-hypertension": 1}),
    (4803, {"screen-cervical-cancer": 1}),
    (412, {"fp-vasectomy": 1}),
    (1350, {"fp-hormonal-implant": 1}),
]  # fmt: skip

VN_SERVICES = {"remote-consultation": 70, "remote-case-conference": 12, "tele-education": 18}
VN_END = date(2022, 6, 30)

VGG_CITIZENSHIPS = {"KZ": 30, "UZ": 16, "TJ": 12, "AZ": 10, "AM": 8, "UA": 7, "TM": 6, "KG": 4,
                    "CN": 3, "IN": 2, "DE": 1, "IL": 1}  # fmt: skip
# Diagnostics first, then obstetrics and gynaecology, then surgeons and dentists.
VGG_SERVICES = {"diagnostics": 22, "diagnostics-laboratory": 10, "imaging-ultrasound": 8,
                "consult-gynecology": 10, "consult-obstetrics": 7, "childbirth": 5,
                "surgery-general": 8, "consult-general-surgery": 4, "dental-treatment": 8,
                "consult-dentistry": 4, "consult-cardiology": 3, "cosmetology-procedure": 2}  # fmt: skip
VGG_PERIODS = [
    (date(2018, 1, 1), date(2018, 12, 31), 40_600),
    (date(2019, 1, 1), date(2019, 6, 25), 24_600),
    (date(2019, 6, 26), date(2019, 12, 31), 27_300),
]


def split(total: int, weights: list[float], rng: Random | None = None) -> list[int]:
    """``total`` in parts proportional to ``weights`` (largest remainder), exact."""
    whole = sum(weights) or 1.0
    raw = [total * w / whole for w in weights]
    parts = [int(x) for x in raw]
    order = sorted(range(len(raw)), key=lambda i: raw[i] - parts[i], reverse=True)
    for i in order[: total - sum(parts)]:
        parts[i] += 1
    return parts


def _rows(world: World) -> tuple[dict[str, int], list[dict[str, Any]]]:
    services = dict(world.session.execute(select(Service.code, Service.id)).all())
    return services, []


def imss_rows(world: World, services: dict[str, int]) -> dict[str, list[dict[str, Any]]]:
    """The national days' counts per unit × day × service, by campaign code
    (the same rows on every call)."""
    units = world.in_group("mx_office", "mx_umae")
    rng = Random(20210514)
    rows: dict[str, list[dict[str, Any]]] = {SECOND_DAY: [], FIRST_DAY: []}
    for campaign, days, scale in ((SECOND_DAY, SECOND_DAYS, 1.0), (FIRST_DAY, FIRST_DAYS, 0.78)):
        out = rows[campaign]
        for total, spread in IMSS_SECOND_DAY:
            codes = list(spread)
            for code, service_total in zip(
                codes, split(round(total * scale), [spread[c] for c in codes]), strict=True
            ):
                weights = [rng.uniform(0.5, 1.5) * (2.0 if u.group == "mx_office" else 1.0)
                           for u in units]  # fmt: skip
                for unit, unit_total in zip(units, split(service_total, weights), strict=True):
                    for day, n in zip(days, split(unit_total, [1.0, 1.2, 0.8]), strict=True):
                        if n:
                            out.append(_row(unit.id, day, services[code], n, campaign=campaign))
    return rows


def _imss(world: World, services: dict[str, int], out: list[dict[str, Any]]) -> None:
    # The second day is written by the recovery phase, which records part of
    # it per patient (the planned patients seen) and the rest as these counts.
    out.extend(imss_rows(world, services)[FIRST_DAY])


def _enrolments(world: World, program: str) -> list[tuple[int, date]]:
    e = ProgramEnrolment
    rows = world.session.execute(
        select(e.facility_id, e.start_date).where(e.program_id == world.programs[program])
    )
    return [(fid, start) for fid, start in rows]


def _vietnam(world: World, services: dict[str, int], out: list[dict[str, Any]]) -> None:
    rng = Random(world.seed + 84)
    spokes = {s.id for s in world.in_group("vn_spoke", "xb_spoke")}
    codes = list(VN_SERVICES)
    weights = [VN_SERVICES[c] for c in codes]
    for fid, start in _enrolments(world, "vn-remote-care"):
        if fid not in spokes:
            continue
        first = max(start, date(2020, 9, 1))
        activity = rng.uniform(0.5, 3.0)  # consultations a month at this bridge point
        day = first
        while day <= VN_END:
            # Growing use: twice as many a month by 2022.
            rate = activity * (1 + (day - first).days / 600)
            for _ in range(_poisson(rng, rate)):
                when = day + timedelta(days=rng.randrange(28))
                if when <= VN_END:
                    code = rng.choices(codes, weights)[0]
                    out.append(_row(fid, when, services[code], 1, mode=Mode.virtual))
            day += timedelta(days=28)


def _poisson(rng: Random, rate: float) -> int:
    n, threshold, p = 0, pow(2.718281828, -rate), rng.random()
    while p > threshold:
        n += 1
        p *= rng.random()
    return n


def _volgograd(world: World, services: dict[str, int], out: list[dict[str, Any]]) -> None:
    rng = Random(world.seed + 34)
    enrolled = _enrolments(world, "volgograd-medical-export")
    pilot = [fid for fid, start in enrolled if start <= date(2019, 1, 1)]
    codes, weights = list(VGG_SERVICES), list(VGG_SERVICES.values())
    nations, shares = list(VGG_CITIZENSHIPS), list(VGG_CITIZENSHIPS.values())
    for first, last, total in VGG_PERIODS:
        days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
        # Fewer on Sundays, more in summer.
        day_weights = [
            (0.3 if d.weekday() == 6 else 1.0) * (1.3 if d.month in (6, 7, 8) else 1.0)
            for d in days
        ]
        for day, n in zip(days, split(total, day_weights), strict=True):
            open_ = pilot if day.year == 2018 else [f for f, s in enrolled if s <= day]
            bag: Counter[tuple[int, int, str]] = Counter()
            for _ in range(n):
                bag[
                    (
                        rng.choice(open_),
                        services[rng.choices(codes, weights)[0]],
                        rng.choices(nations, shares)[0],
                    )
                ] += 1
            for (fid, service_id, citizenship), count in bag.items():
                out.append(_row(fid, day, service_id, count, citizenship=citizenship))


def _row(
    facility_id: int,
    day: date,
    service_id: int,
    count: int,
    *,
    campaign: str | None = None,
    citizenship: str | None = None,
    mode: Mode = Mode.in_person,
) -> dict[str, Any]:
    return {
        "facility_id": facility_id,
        "day": day,
        "service_id": service_id,
        "count": count,
        "mode": mode,
        "campaign_code": campaign,
        "citizenship": citizenship,
        "source": LedgerSource.import_,
    }


def load_ledger(world: World) -> None:
    services, rows = _rows(world)
    _imss(world, services, rows)
    _vietnam(world, services, rows)
    _volgograd(world, services, rows)
    for n, row in enumerate(rows):
        row["source_ref"] = f"demo:{n}"
    world.counts["ledger_entries"] += record_many(world.session, rows)
