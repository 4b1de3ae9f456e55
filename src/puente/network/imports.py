"""CSV import of facilities.

Columns: code, name, tier, kind, parent_code, region_code, country, timezone,
city, address, phone. A row whose code exists already updates that facility;
any other row creates one.

All or nothing: every row is parsed and every reference resolved (in bulk)
before anything is written. A parent may be named before or after its
children in the same file, so rows are written parents first (ordered by
depth), which keeps every foreign key satisfied at every statement on both
SQLite and PostgreSQL. A file that would make a facility its own ancestor is
refused, naming the rows of the loop.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.orm import Session

from puente import csvimport as ci
from puente.db import utcnow
from puente.enums import FacilityKind, Tier
from puente.network import repository as repo
from puente.network.models import Country, Facility

FACILITY = cast(Table, Facility.__table__)

# The same rules as the JSON API's annotated types (puente.schemas).
_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_PHONE = re.compile(r"^\+?[0-9 ()./-]{3,64}$")


def _code(value: str) -> str:
    if len(value) > 32 or not _CODE.match(value):
        raise ValueError(f"'{value}' is not a code (up to 32 letters, digits, '.', '_' and '-')")
    return value


def _phone(value: str) -> str:
    if not _PHONE.match(value):
        raise ValueError(f"'{value}' is not a valid phone number")
    return value


COLUMNS = [
    ci.Column("code", _code),
    ci.Column("name", ci.bounded(300)),
    ci.Column("tier", ci.parse_enum(Tier)),
    ci.Column("kind", ci.parse_enum(FacilityKind)),
    ci.Column("parent_code", _code, required=False),
    ci.Column("region_code", ci.bounded(32)),
    ci.Column("country", ci.parse_country, required=False),
    ci.Column("timezone", ci.parse_timezone, required=False),
    ci.Column("city", ci.bounded(200), required=False),
    ci.Column("address", ci.bounded(500), required=False),
    ci.Column("phone", _phone, required=False),
]


def _check_unique_codes(rows: list[ci.Row], errors: ci.Errors) -> dict[str, ci.Row]:
    by_code: dict[str, ci.Row] = {}
    for row in rows:
        first = by_code.setdefault(row["code"], row)
        if first is not row:
            errors.add(row.number, "code", f"'{row['code']}' is already on row {first.number}")
    return by_code


def _existing_parents(session: Session) -> dict[str, str | None]:
    """code → parent code of every stored facility (only read when the file
    updates stored facilities: only then can a loop run through them)."""
    rows = session.execute(select(Facility.id, Facility.code, Facility.parent_id)).all()
    codes = {int(id_): str(code) for id_, code, _parent in rows}
    return {
        str(code): codes.get(parent) if parent is not None else None for _id, code, parent in rows
    }


def _check_loops(
    by_code: dict[str, ci.Row], stored_parent: dict[str, str | None], errors: ci.Errors
) -> None:
    """Follow parents from every row; a walk that meets itself is a loop."""

    def parent_of(code: str) -> str | None:
        if code in by_code:
            value = by_code[code]["parent_code"]
            return str(value) if value is not None else None
        return stored_parent.get(code)

    done: set[str] = set()
    for start in by_code:
        path: list[str] = []
        on_path: set[str] = set()
        code: str | None = start
        while code is not None and code not in done:
            if code in on_path:
                loop = [*path[path.index(code) :], code]
                for member in loop[:-1]:
                    if member in by_code:
                        errors.add(
                            by_code[member].number,
                            "parent_code",
                            f"makes a loop: {' → '.join(loop)}",
                        )
                break
            path.append(code)
            on_path.add(code)
            code = parent_of(code)
        done.update(path)


def _depths(new_codes: list[str], by_code: dict[str, ci.Row]) -> dict[str, int]:
    """How many new facilities sit above each new facility (no loops remain)."""
    new = set(new_codes)
    depth: dict[str, int] = {}
    for start in new_codes:
        chain: list[str] = []
        code: str | None = start
        while code is not None and code in new and code not in depth:
            chain.append(code)
            parent = by_code[code]["parent_code"]
            code = str(parent) if parent is not None else None
        base = depth[code] + 1 if code is not None and code in depth else 0
        for offset, member in enumerate(reversed(chain)):
            depth[member] = base + offset
    return depth


def import_facilities(
    session: Session, path: Path, *, progress: ci.Progress | None = None
) -> ci.ImportResult:
    errors = ci.Errors(path.name)
    rows = ci.read_csv(path, COLUMNS, errors)
    errors.raise_if_any()

    by_code = _check_unique_codes(rows, errors)
    regions = repo.regions_by_code(session, {r["region_code"] for r in rows})
    ci.resolve(rows, "region_code", regions, errors, "region")
    for row in rows:
        region = regions.get(row["region_code"])
        if region is not None and row["country"] and row["country"] != region.country_code:
            errors.add(
                row.number,
                "country",
                f"'{row['country']}' differs from the country of region {region.code}"
                f" ({region.country_code})",
            )
    stored = repo.facilities_by_code(
        session, set(by_code) | {r["parent_code"] for r in rows if r["parent_code"]}
    )
    known_parents = set(by_code) | set(stored)
    for row in rows:
        parent = row["parent_code"]
        if parent is None:
            continue
        if parent == row["code"]:
            errors.add(row.number, "parent_code", "a facility cannot be its own parent")
        elif parent not in known_parents:
            errors.add(row.number, "parent_code", f"unknown facility '{parent}'")
    errors.raise_if_any()
    updating = [code for code in by_code if code in stored]
    _check_loops(by_code, _existing_parents(session) if updating else {}, errors)
    errors.raise_if_any()

    country_zones = {
        str(code): str(zone)
        for code, zone in session.execute(select(Country.code, Country.default_timezone))
    }
    # Parents first; then by code, so ids and the code index grow in order
    # (appending to a B-tree is far cheaper than inserting all over it).
    new_codes = [code for code in by_code if code not in stored]
    depth = _depths(new_codes, by_code)
    new_codes.sort(key=lambda c: (depth[c], c))
    ids = {code: id_ for code, (id_, _parent) in stored.items()}
    ids.update(zip(new_codes, repo.reserve_ids(session, "facility", len(new_codes)), strict=True))

    now = utcnow()

    places = {
        code: (
            region.id,
            region.country_code,
            region.timezone or country_zones.get(region.country_code, "UTC"),
        )
        for code, region in regions.items()
    }

    def record(row: ci.Row) -> dict[str, Any]:
        # Plain dict reads: this runs once per row of a 100,000-row file.
        v = row.values
        region_id, country_code, zone = places[v["region_code"]]
        parent = v["parent_code"]
        return {
            "id": ids[v["code"]],
            "name": v["name"],
            "tier": v["tier"],
            "kind": v["kind"],
            "parent_id": ids[parent] if parent else None,
            "region_id": region_id,
            "country_code": country_code,
            "timezone": v["timezone"] or zone,
            "city": v["city"],
            "address": v["address"],
            "phone": v["phone"],
            "updated_at": now,
        }

    new_records = []
    for code in new_codes:
        created = record(by_code[code])
        created.update(code=code, created_at=now, active=True)
        new_records.append(created)
    updates = sorted((record(by_code[c]) for c in updating), key=lambda r: r["id"])
    for changed in updates:
        changed["facility_id"] = changed.pop("id")
    total = len(rows)
    for start in range(0, len(new_records), ci.CHUNK):
        chunk = new_records[start : start + ci.CHUNK]
        session.execute(insert(FACILITY), chunk)
        if progress:
            progress(start + len(chunk), total)
    by_id = update(FACILITY).where(FACILITY.c.id == bindparam("facility_id"))
    for start in range(0, len(updates), ci.CHUNK):
        chunk = updates[start : start + ci.CHUNK]
        session.execute(by_id, chunk)
        if progress:
            progress(len(new_records) + start + len(chunk), total)
    if progress:
        progress(total, total)
    return ci.ImportResult(rows=total, created=len(new_records), updated=len(updates))
