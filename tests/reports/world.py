"""A small network for report tests: the IMSS national day rebuilt from an
aggregate CSV (the figures of shared/seeds/imss-national-recovery-day-2021-05.es.txt),
and a few Volgograd clinics with foreign patients."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from sqlalchemy.orm import Session

from puente.catalog.service import sync_catalog
from puente.enums import FacilityKind, ProgramKind, Tier
from puente.ledger.imports import import_ledger
from puente.network.models import Program, ProgramEnrolment
from tests import factories as f

CAMPAIGN = "imss-jornada-2021-05"
DAYS = [date(2021, 5, 14), date(2021, 5, 15), date(2021, 5, 16)]

# Seed figure → services it is spread over.
IMSS_FIGURES: dict[str, tuple[int, list[str]]] = {
    "surgeries": (3729, ["surgery-general", "surgery-pediatric", "surgery-neurosurgery"]),
    "specialty-consultations": (
        17408,
        ["consult-cardiology", "consult-urology", "consult-ophthalmology", "consult-psychiatry"],
    ),
    "family-medicine-consultations": (70067, ["consult-family-medicine"]),
    "mammographies": (9517, ["screen-mammography"]),
    "breast-examinations": (10166, ["screen-breast-exam"]),
    "diabetes-screenings": (19842, ["screen-diabetes"]),
    "hypertension-screenings": (23080, ["screen-hypertension"]),
    "cervical-cancer-screenings": (4803, ["screen-cervical-cancer"]),
}
STATES = 32
OFFICES = 35
UMAES = 25


def split(total: int, parts: int) -> list[int]:
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


def imss_network(db: Session) -> list[str]:
    """35 state offices in 32 states (three states have two) and 25 UMAEs;
    returns the codes of the 60 units."""
    sync_catalog(db)
    f.region(db, "MX-S01", "Estado 1")
    f.facility(
        db, "MX-IMSS", "IMSS", tier=Tier.level3, kind=FacilityKind.institute, region_code="MX-S01"
    )
    codes = []
    for n in range(OFFICES):
        state = f"MX-S{(n % STATES) + 1:02d}"
        f.region(db, state, f"Estado {(n % STATES) + 1}")
        code = f"MX-OOAD{n + 1:02d}"
        f.facility(
            db,
            code,
            f"Representación {n + 1}",
            tier=Tier.level2,
            kind=FacilityKind.state_office,
            region_code=state,
        )
        codes.append(code)
    for n in range(UMAES):
        code = f"MX-UMAE{n + 1:02d}"
        f.facility(
            db,
            code,
            f"UMAE {n + 1}",
            tier=Tier.level3,
            kind=FacilityKind.high_specialty_unit,
            region_code=f"MX-S{n % 10 + 1:02d}",
        )
        codes.append(code)
    return codes


def imss_csv(tmp_path: Path, units: list[str]) -> Path:
    """The national day as facilities report it: totals per unit, day and service."""
    lines = ["facility_code,date,service_code,count,campaign"]
    for _figure, (total, services) in IMSS_FIGURES.items():
        per_service = split(total, len(services))
        for service, service_total in zip(services, per_service, strict=True):
            per_unit = split(service_total, len(units))
            for unit, unit_total in zip(units, per_unit, strict=True):
                for day, n in zip(DAYS, split(unit_total, len(DAYS)), strict=True):
                    if n:
                        lines.append(f"{unit},{day.isoformat()},{service},{n},{CAMPAIGN}")
    path = tmp_path / "jornada.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def imss_day(db: Session, tmp_path: Path) -> None:
    units = imss_network(db)
    import_ledger(db, imss_csv(tmp_path, units))
    program = Program(
        code="imss-recovery",
        name="Jornadas Nacionales",
        kind=ProgramKind.deferred_care_recovery,
        country_code="MX",
    )
    db.add(program)
    db.flush()
    ids = {fac.code: fac.id for fac in db.query(f.Facility).filter(f.Facility.code.in_(units))}
    db.add_all(
        ProgramEnrolment(program_id=program.id, facility_id=ids[c], start_date=date(2021, 3, 1))
        for c in units
    )
    db.flush()
