"""record(): one entry per delivered service, its rollup kept in step in the
same transaction, and a repeated (source, source_ref) counted once."""

from __future__ import annotations

from datetime import date, timedelta
from random import Random

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from puente.enums import LedgerSource, Mode, ServiceKind
from puente.errors import Unprocessable
from puente.ledger import repository as repo
from puente.ledger import service as ledger
from puente.ledger.models import LedgerEntry, LedgerRollup
from puente.ledger.service import LedgerRow
from tests import factories as f


def entries(db: Session) -> int:
    return int(db.scalar(select(func.count()).select_from(LedgerEntry)) or 0)


def test_a_recorded_surgery_is_in_its_rollup(db: Session) -> None:
    hospital = f.facility(db, "MX-JAL-HGZ46")
    cataract = f.service(db, "surgery-cataract-iol", ServiceKind.surgery)
    entry = ledger.record(
        db, facility_id=hospital.id, day=date(2021, 5, 15), service_id=cataract.id, count=4,
        mode=Mode.in_person, campaign_code="jornada-2021-05", source=LedgerSource.campaign,
        source_ref="surgery:17",
    )  # fmt: skip
    assert entry is not None and entry.id
    rollup = db.get(
        LedgerRollup,
        (hospital.id, date(2021, 5, 15), cataract.id, Mode.in_person, "jornada-2021-05", ""),
    )
    assert rollup is not None
    assert (rollup.count, rollup.entries) == (4, 1)


def test_recording_the_same_source_ref_twice_counts_once(db: Session) -> None:
    polyclinic = f.facility(db, "RU-MOW-GP2", region_code="RU-MOW")
    visit = f.service(db, "virtual-ari-covid", ServiceKind.remote_consultation)
    kwargs = dict(
        facility_id=polyclinic.id, day=date(2022, 2, 10), service_id=visit.id,
        mode=Mode.virtual, source=LedgerSource.visit, source_ref="visit:380001",
    )  # fmt: skip
    first = ledger.record(db, **kwargs)  # type: ignore[arg-type]
    retried = ledger.record(db, **kwargs)  # type: ignore[arg-type]
    assert first is not None and retried is not None
    assert retried.id == first.id
    assert entries(db) == 1
    assert repo.rollup_totals(db)[0][-2:] == (1, 1)


def test_entries_without_a_source_ref_are_all_counted(db: Session) -> None:
    unit = f.facility(db)
    mammography = f.service(db, "screen-mammography", ServiceKind.screening)
    for _ in range(3):
        ledger.record(
            db, facility_id=unit.id, day=date(2021, 5, 14), service_id=mammography.id,
            mode=Mode.in_person, source=LedgerSource.manual,
        )  # fmt: skip
    assert repo.rollup_totals(db)[0][-2:] == (3, 3)


def test_the_patients_citizenship_is_used_when_none_is_given(db: Session) -> None:
    clinic = f.facility(db, "RU-VGG-OKB1", region_code="RU-VGG")
    diagnostics = f.service(db, "diagnostics", ServiceKind.diagnostics)
    aziz = f.patient(db, "Karimov", "Aziz", citizenship="UZ")
    entry = ledger.record(
        db, facility_id=clinic.id, day=date(2019, 6, 3), service_id=diagnostics.id,
        mode=Mode.in_person, patient_id=aziz.id, source=LedgerSource.manual,
    )  # fmt: skip
    assert entry is not None and entry.citizenship == "UZ"
    assert repo.rollup_totals(db)[0][5] == "UZ"


def test_a_count_of_zero_records_nothing_and_a_negative_count_is_refused(db: Session) -> None:
    unit = f.facility(db)
    consult = f.service(db)
    common = dict(
        facility_id=unit.id, day=date(2021, 5, 14), service_id=consult.id, mode=Mode.in_person,
        source=LedgerSource.manual,
    )  # fmt: skip
    assert ledger.record(db, count=0, **common) is None  # type: ignore[arg-type]
    with pytest.raises(Unprocessable):
        ledger.record(db, count=-2, **common)  # type: ignore[arg-type]
    assert entries(db) == 0


def test_the_rollup_equals_the_sum_of_entries_for_random_rows(db: Session) -> None:
    """Property check: whatever mix of keys, sources, duplicates and bulk
    batches is recorded, every rollup row is the SUM and COUNT of its entries."""
    rng = Random(2021)
    facilities = [f.facility(db).id for _ in range(3)]
    services = [f.service(db, f"svc-{i}", ServiceKind.consultation).id for i in range(3)]
    days = [date(2021, 5, 14) + timedelta(days=i) for i in range(3)]
    rows: list[LedgerRow] = []
    for _ in range(400):
        rows.append(
            LedgerRow(
                facility_id=rng.choice(facilities),
                day=rng.choice(days),
                service_id=rng.choice(services),
                count=rng.randint(1, 50),
                mode=rng.choice(list(Mode)),
                campaign_code=rng.choice([None, "jornada-2", "jornada-3"]),
                citizenship=rng.choice([None, "MX", "GT", "US"]),
                source=rng.choice([LedgerSource.manual, LedgerSource.campaign]),
                # Some refs repeat: those rows must count once.
                source_ref=rng.choice([None, f"ref-{rng.randint(1, 120)}"]),
            )
        )
    for row in rows[:150]:
        ledger.record(db, **row.__dict__)
    ledger.record_many(db, rows[150:])
    assert repo.rollup_totals(db) == repo.summed_entries(db)
    assert repo.monthly_totals(db) == repo.summed_by_month(db)
    distinct_refs = {(r.source, r.source_ref) for r in rows if r.source_ref}
    unreferenced = sum(1 for r in rows if r.source_ref is None)
    assert entries(db) == len(distinct_refs) + unreferenced


def test_record_many_skips_rows_already_recorded(db: Session) -> None:
    unit = f.facility(db)
    consult = f.service(db)
    row = LedgerRow(
        facility_id=unit.id, day=date(2021, 5, 14), service_id=consult.id, count=2,
        mode=Mode.in_person, source=LedgerSource.import_, source_ref="file:2",
    )  # fmt: skip
    assert ledger.record_many(db, [row]) == 1
    assert ledger.record_many(db, [row, row]) == 0
    assert repo.rollup_totals(db)[0][-2:] == (2, 1)
