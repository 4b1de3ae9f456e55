"""CSV import of aggregate counts, for facilities that report only totals.

Columns: ``facility_code, date, service_code, count`` and, optionally,
``campaign, mode`` (in_person when blank) and ``citizenship``. All or
nothing: every row is parsed and every code resolved (one query per table)
before anything is written, and any error names its row and column. Rows go
to the ledger through :func:`puente.ledger.service.record_many` — bulk INSERT,
rollup summed in SQL — so 100,000 rows take seconds.

Each row's source_ref is the file's digest and the row number: importing the
same file again adds nothing, while a corrected file is a new import.
"""

from __future__ import annotations

import hashlib
import re
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy.orm import Session

from puente import csvimport as ci
from puente.access.service import FacilityScope
from puente.catalog import service as catalog
from puente.enums import LedgerSource, Mode
from puente.ledger import repository as repo
from puente.ledger import service

_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_MODES = {"in_person": Mode.in_person, "in-person": Mode.in_person, "in person": Mode.in_person}
_MODES |= {"virtual": Mode.virtual, "remote": Mode.virtual}


def _day(value: str) -> date:
    day = ci.parse_date(value)
    if day > date.today() + timedelta(days=1):
        raise ValueError(f"{day.isoformat()} is in the future")
    return day


def _mode(value: str) -> Mode:
    found = _MODES.get(value.strip().lower())
    if found is None:
        raise ValueError(f"'{value}' is not one of: in_person, virtual")
    return found


def _campaign(value: str) -> str:
    if len(value) > 64 or not _CODE.match(value):
        raise ValueError(f"'{value}' is not a campaign code (letters, digits, '.', '_', '-')")
    return value


def _count(value: str) -> int:
    number = ci.parse_positive_int(value)
    if number > 1_000_000:
        raise ValueError(f"{number} is more than 1,000,000 in one row")
    return number


COLUMNS = [
    ci.Column("facility_code", ci.bounded(32)),
    ci.Column("date", _day),
    ci.Column("service_code", ci.bounded(64)),
    ci.Column("count", _count),
    ci.Column("campaign", _campaign, required=False),
    ci.Column("mode", _mode, required=False),
    ci.Column("citizenship", ci.parse_country, required=False),
]


def _digest(path: Path) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            sha.update(block)
    return sha.hexdigest()[:32]


def import_ledger(
    session: Session,
    path: Path,
    *,
    progress: ci.Progress | None = None,
    scope: FacilityScope | None = None,
) -> ci.ImportResult:
    """Import the file; with ``scope``, every row's facility must lie inside it."""
    errors = ci.Errors(path.name)
    rows = ci.read_csv(path, COLUMNS, errors)
    errors.raise_if_any()

    facilities = repo.facility_ids_by_code(session, {r["facility_code"] for r in rows})
    services = catalog.service_ids_by_code(session, {r["service_code"] for r in rows})
    ci.resolve(rows, "facility_code", facilities, errors, "facility")
    ci.resolve(rows, "service_code", services, errors, "service")
    if scope is not None:
        for r in rows:
            found = facilities.get(r["facility_code"])
            if found is not None and not scope.covers(found):
                errors.add(
                    r.number, "facility_code", f"'{r['facility_code']}' is outside your scope"
                )
    errors.raise_if_any()

    digest = _digest(path)
    records = [
        {
            "facility_id": facilities[r["facility_code"]],
            "day": r["date"],
            "service_id": services[r["service_code"]],
            "count": r["count"],
            "mode": r["mode"] or Mode.in_person,
            "campaign_code": r["campaign"],
            "citizenship": r["citizenship"],
            "source": LedgerSource.import_,
            "source_ref": f"{digest}:{r.number}",
        }
        for r in rows
    ]
    created = service.record_many(session, records, progress=progress)
    return ci.ImportResult(rows=len(rows), created=created)
