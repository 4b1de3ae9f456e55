"""Facilities enrolled in a program, counted on each bucket's last day: the
Volgograd export program's clinics join, leave, rejoin, and one comes and
goes within a month."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from puente.catalog.service import sync_catalog
from puente.enums import ProgramKind
from puente.network.models import Program, ProgramEnrolment
from puente.reports.indicators import Breakdown
from puente.reports.service import Filters, compute, one_reading
from tests import factories as f

# clinic → its region and enrolment periods (start, last day or None)
CLINICS: dict[str, tuple[str, list[tuple[date, date | None]]]] = {
    "RU-VLG-KL1": ("RU-VGG", [(date(2018, 1, 10), None)]),
    "RU-VLG-KL2": ("RU-VGG", [(date(2018, 2, 1), date(2018, 4, 30))]),
    # Rejoined, with an overlap while the papers crossed: counted once.
    "RU-VLG-KL3": (
        "RU-VGG",
        [(date(2018, 1, 1), date(2018, 3, 15)), (date(2018, 3, 1), None)],
    ),
    # Came and went between two month ends: on no month's last day.
    "RU-VLG-KL4": ("RU-AST", [(date(2018, 2, 3), date(2018, 2, 20))]),
    "RU-AST-KL5": ("RU-AST", [(date(2018, 3, 31), date(2018, 3, 31))]),
    "RU-AST-KL6": ("RU-AST", [(date(2017, 6, 1), date(2018, 1, 31)), (date(2018, 5, 1), None)]),
}


def export_program(db: Session) -> None:
    sync_catalog(db)
    f.country(db, "RU")
    f.region(db, "RU-VGG", "Волгоградская область", country_code="RU")
    f.region(db, "RU-AST", "Астраханская область", country_code="RU")
    program = Program(
        code="vlg-export",
        name="Экспорт медицинских услуг",
        kind=ProgramKind.medical_services_export,
    )
    db.add(program)
    db.flush()
    for code, (region, periods) in CLINICS.items():
        clinic = f.facility(db, code, f"Клиника {code[-1]}", region_code=region)
        for start, end in periods:
            db.add(
                ProgramEnrolment(
                    program_id=program.id, facility_id=clinic.id, start_date=start, end_date=end
                )
            )
    db.flush()


def on(day: date) -> dict[str, int]:
    """Clinics enrolled on ``day`` by region, one clinic at a time."""
    out: dict[str, int] = {}
    for region, periods in CLINICS.values():
        if any(s <= day and (e is None or e >= day) for s, e in periods):
            out[region] = out.get(region, 0) + 1
    return out


def month_ends(first: date, last: date) -> list[date]:
    days, day = [], first
    while day <= last:
        end = (day.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
        days.append(min(end, last))
        day = end + timedelta(days=1)
    return days


def test_the_analyst_counts_clinics_enrolled_at_each_month_end_once_each(db: Session) -> None:
    export_program(db)
    spring = Filters(program="vlg-export", start=date(2018, 1, 1), end=date(2018, 6, 15))
    by_month = compute(db, "facilities-enrolled", spring, by=[Breakdown.month])
    expected = {d.replace(day=1).isoformat(): sum(on(d).values()) for d in month_ends(
        date(2018, 1, 1), date(2018, 6, 15))}  # fmt: skip
    assert {r.keys["month"]: r.value for r in by_month.rows} == {
        k: v for k, v in expected.items() if v
    }
    assert by_month.total == sum(on(date(2018, 6, 15)).values()) == 3
    by_region = compute(db, "facilities-enrolled", spring, by=[Breakdown.month, Breakdown.region])
    assert {(r.keys["month"], r.keys["region"]): r.value for r in by_region.rows} == {
        (d.replace(day=1).isoformat(), region): n
        for d in month_ends(date(2018, 1, 1), date(2018, 6, 15))
        for region, n in on(d).items()
    }
    march = Filters(program="vlg-export", end=date(2018, 3, 31))
    assert compute(db, "facilities-enrolled", march).total == sum(on(date(2018, 3, 31)).values())


def test_a_page_reads_the_enrolments_once_and_the_next_page_sees_a_new_clinic(
    db: Session,
) -> None:
    export_program(db)
    june = Filters(program="vlg-export", end=date(2018, 6, 15))
    program = db.scalar(select(Program).where(Program.code == "vlg-export"))
    assert program is not None
    with one_reading():
        before = compute(db, "facilities-enrolled", june).total
        clinic = f.facility(db, "RU-VLG-KL7", "Клиника 7", region_code="RU-VGG")
        db.add(
            ProgramEnrolment(
                program_id=program.id, facility_id=clinic.id, start_date=date(2018, 6, 1)
            )
        )
        db.flush()
        # Within one page the figures agree with each other.
        assert compute(db, "facilities-enrolled", june).total == before
    assert compute(db, "facilities-enrolled", june).total == before + 1
