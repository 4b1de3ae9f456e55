"""CSV import of waiting-list entries, all or nothing.

Columns: ``identifier_system``, ``identifier_value`` (the patient, who must
exist), ``service_code``, ``referring_facility_code``, ``referred_on``,
``priority`` (p1–p4), and optionally ``duration_minutes``,
``level_of_care`` (1–3), ``region_code`` (where the patient can be seen;
the referring unit's region when empty), ``external_ref`` (the sending
system's id: a row already imported is refused) and ``max_travel_km`` (how
far from the referring unit the patient can travel). Every row is parsed and
every reference resolved in bulk before anything is written; any error names
its row and column and nothing is stored.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy.orm import Session

from puente import csvimport as ci
from puente.db import utcnow
from puente.enums import WaitPriority, WaitStatus
from puente.people import repository as people
from puente.recovery import repository as repo
from puente.recovery.models import WaitingListEntry
from puente.recovery.service import default_level


def _referred(value: str) -> date:
    day = ci.parse_date(value)
    if day > date.today() + timedelta(days=1):
        raise ValueError(f"{day.isoformat()} is in the future")
    return day


def _range(lo: int, hi: int) -> ci.Parser:
    def parse(value: str) -> int:
        try:
            n = int(value)
        except ValueError:
            raise ValueError(f"'{value}' is not a whole number") from None
        if not lo <= n <= hi:
            raise ValueError(f"{n} is out of range ({lo} to {hi})")
        return n

    return parse


COLUMNS = [
    ci.Column("identifier_system", ci.bounded(200)),
    ci.Column("identifier_value", ci.bounded(100)),
    ci.Column("service_code", ci.bounded(64)),
    ci.Column("referring_facility_code", ci.bounded(32)),
    ci.Column("referred_on", _referred),
    ci.Column("priority", ci.parse_enum(WaitPriority)),
    ci.Column("duration_minutes", _range(1, 1440), required=False),
    ci.Column("level_of_care", _range(1, 3), required=False),
    ci.Column("region_code", ci.bounded(32), required=False),
    ci.Column("external_ref", ci.bounded(100), required=False),
    ci.Column("max_travel_km", _range(1, 20_000), required=False),
]


@dataclass
class WaitingListImport(ci.ImportResult):
    patient_ids: frozenset[int] = frozenset()


def import_waiting_list(
    session: Session,
    path: Path,
    *,
    progress: ci.Progress | None = None,
    allowed_facility_ids: Collection[int] | None = None,
    visible: ColumnElement[bool] | None = None,
) -> WaitingListImport:
    """Import ``path``; ``allowed_facility_ids`` (when given) bounds the
    referring units a user may import for, and ``visible`` (the access
    layer's patient filter) the patients: one the user may not see is
    refused as if unknown."""
    errors = ci.Errors(path.name)
    rows = ci.read_csv(path, COLUMNS, errors)
    errors.raise_if_any()

    patients = people.patients_by_identifier(
        session, {(r["identifier_system"], r["identifier_value"]) for r in rows}
    )
    if visible is not None:
        seen = people.visible_ids(session, patients.values(), visible)
        patients = {key: pid for key, pid in patients.items() if pid in seen}
    services = repo.services_by_code(session, {r["service_code"] for r in rows})
    units = repo.facilities_by_code(session, {r["referring_facility_code"] for r in rows})
    regions = repo.region_ids_by_code(session, {r["region_code"] for r in rows if r["region_code"]})
    taken = repo.entries_by_external_ref(
        session, {r["external_ref"] for r in rows if r["external_ref"]}
    )
    seen_refs: dict[str, int] = {}
    for row in rows:
        key = (row["identifier_system"], row["identifier_value"])
        if key not in patients:
            errors.add(
                row.number, "identifier_value", f"no patient with identifier {key[0]}|{key[1]}"
            )
        if row["service_code"] not in services:
            errors.add(row.number, "service_code", f"unknown service '{row['service_code']}'")
        unit = units.get(row["referring_facility_code"])
        if unit is None:
            errors.add(
                row.number,
                "referring_facility_code",
                f"unknown facility '{row['referring_facility_code']}'",
            )
        elif allowed_facility_ids is not None and unit.id not in allowed_facility_ids:
            errors.add(row.number, "referring_facility_code", "outside your facilities")
        if row["region_code"] and row["region_code"] not in regions:
            errors.add(row.number, "region_code", f"unknown region '{row['region_code']}'")
        ref = row["external_ref"]
        if ref:
            if ref in taken:
                errors.add(row.number, "external_ref", f"'{ref}' is already on the list")
            elif ref in seen_refs:
                errors.add(
                    row.number, "external_ref", f"'{ref}' is already on row {seen_refs[ref]}"
                )
            else:
                seen_refs[ref] = row.number
    errors.raise_if_any()

    now = utcnow()
    records: list[dict[str, Any]] = []
    for row in rows:
        service = services[row["service_code"]]
        unit = units[row["referring_facility_code"]]
        records.append(
            {
                "patient_id": patients[(row["identifier_system"], row["identifier_value"])],
                "service_id": service.id,
                "specialty_id": service.specialty_id,
                "referring_facility_id": unit.id,
                "referred_on": row["referred_on"],
                "priority": row["priority"],
                "duration_minutes": row["duration_minutes"] or service.duration_minutes or 30,
                "level_of_care": row["level_of_care"] or default_level(service.kind),
                "region_id": regions[row["region_code"]] if row["region_code"] else unit.region_id,
                "status": WaitStatus.waiting,
                "external_ref": row["external_ref"],
                "max_travel_km": row["max_travel_km"],
                "created_at": now,
            }
        )
    ci.insert_in_chunks(session, WaitingListEntry, records, progress)
    return WaitingListImport(
        rows=len(rows),
        created=len(records),
        patient_ids=frozenset(r["patient_id"] for r in records),
    )
