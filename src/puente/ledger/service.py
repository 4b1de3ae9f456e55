"""The rules of `ledger`: the one way a delivered service is counted.

:func:`record` is what every feature calls (a closed virtual visit, an
answered consult, a campaign surgery, a form post): it inserts the entry and
adds it to its rollup in the caller's transaction, so the rollup always equals
the sum of the entries. An entry carries (source, source_ref); recording the
same pair again adds nothing, so a retried close or a re-sent request cannot
count twice. :func:`record_many` does the same for thousands of rows at once
(imports). Reports read :func:`figures`, which sums the rollup, never the
entries. Functions flush but never commit.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from puente.catalog import service as catalog
from puente.csvimport import Progress
from puente.db import utcnow
from puente.enums import LedgerSource, Mode, ServiceKind
from puente.errors import Conflict, FieldError, NotFound, Unprocessable
from puente.ledger import repository as repo
from puente.ledger.models import LedgerEntry
from puente.ledger.schemas import (
    FigureRow,
    Figures,
    GroupBy,
    LedgerEntryCreate,
    LedgerEntryRead,
)

CHUNK = 20_000


def _entry_values(
    *,
    facility_id: int,
    day: date,
    service_id: int,
    count: int,
    mode: Mode,
    campaign_code: str | None,
    citizenship: str | None,
    patient_id: int | None,
    source: LedgerSource,
    source_ref: str | None,
) -> dict[str, Any]:
    if count < 1:
        raise Unprocessable(
            f"A ledger count must be positive, not {count}.",
            errors=[FieldError("count", "must be 1 or more")],
        )
    return {
        "facility_id": facility_id,
        "day": day,
        "service_id": service_id,
        "count": count,
        "mode": Mode(mode),
        "campaign_code": campaign_code or None,
        "citizenship": citizenship.upper() if citizenship else None,
        "patient_id": patient_id,
        "source": LedgerSource(source),
        "source_ref": source_ref,
        "recorded_at": utcnow(),
    }


def _record(session: Session, values: dict[str, Any]) -> tuple[LedgerEntry, bool]:
    # Pending ORM rows (a facility or service made earlier in this
    # transaction) must reach the database before the core INSERTs below.
    session.flush()
    entry = repo.insert_entry(session, values)
    if entry is None:
        existing = repo.entry_by_ref(session, values["source"], values["source_ref"])
        assert existing is not None, "ON CONFLICT skipped a row that is not there"
        return existing, False
    repo.add_to_rollup(session, values)
    return entry, True


def record(
    session: Session,
    *,
    facility_id: int,
    day: date,
    service_id: int,
    count: int = 1,
    mode: Mode,
    campaign_code: str | None = None,
    citizenship: str | None = None,
    patient_id: int | None = None,
    source: LedgerSource,
    source_ref: str | None = None,
) -> LedgerEntry | None:
    """Count ``count`` deliveries of a service and keep the rollup in step.

    Returns the new entry; when (source, source_ref) is already recorded,
    returns that entry and changes nothing. A count of 0 records nothing
    (None). Without ``citizenship`` the patient's, if any, is used.
    """
    if count == 0:
        return None
    if citizenship is None and patient_id is not None:
        _exists, citizenship = repo.patient_citizenship(session, patient_id)
    values = _entry_values(
        facility_id=facility_id,
        day=day,
        service_id=service_id,
        count=count,
        mode=mode,
        campaign_code=campaign_code,
        citizenship=citizenship,
        patient_id=patient_id,
        source=source,
        source_ref=source_ref,
    )
    entry, _created = _record(session, values)
    return entry


@dataclass(frozen=True)
class LedgerRow:
    """One row for :func:`record_many`."""

    facility_id: int
    day: date
    service_id: int
    count: int
    mode: Mode
    source: LedgerSource
    source_ref: str | None = None
    campaign_code: str | None = None
    citizenship: str | None = None
    patient_id: int | None = None


def record_many(
    session: Session,
    rows: Sequence[LedgerRow | Mapping[str, Any]],
    *,
    progress: Progress | None = None,
) -> int:
    """Record many rows at once: entries whose (source, source_ref) is stored
    are skipped, the rest are inserted in bulk and summed into the rollup in
    SQL. Returns how many entries were new."""
    session.flush()
    now = utcnow()
    total, inserted = len(rows), 0
    for start in range(0, total, CHUNK):
        chunk = [_bulk_values(row) for row in rows[start : start + CHUNK]]
        inserted += repo.bulk_insert(session, chunk, now)
        if progress:
            progress(start + len(chunk), total)
    if progress and total == 0:
        progress(0, 0)
    return inserted


def _bulk_values(row: LedgerRow | Mapping[str, Any]) -> dict[str, Any]:
    data = row if isinstance(row, Mapping) else row.__dict__
    return _entry_values(
        facility_id=data["facility_id"],
        day=data["day"],
        service_id=data["service_id"],
        count=data["count"],
        mode=data["mode"],
        campaign_code=data.get("campaign_code"),
        citizenship=data.get("citizenship"),
        patient_id=data.get("patient_id"),
        source=data["source"],
        source_ref=data.get("source_ref"),
    )


# The JSON API's use.


def facility_id(session: Session, code: str, *, field: str = "facility_code") -> int:
    found = repo.facility_ids_by_code(session, [code])
    if code not in found:
        raise Unprocessable(
            f"No facility with code '{code}'.",
            errors=[FieldError(field, f"unknown facility '{code}'")],
        )
    return found[code]


def _service_id(session: Session, code: str, *, field: str = "service_code") -> int:
    found = catalog.service_ids_by_code(session, [code])
    if code not in found:
        raise Unprocessable(
            f"No service with code '{code}'.",
            errors=[FieldError(field, f"unknown service '{code}'")],
        )
    return found[code]


def entry_read(session: Session, entry: LedgerEntry) -> LedgerEntryRead:
    facility = repo.facility_codes_by_id(session, [entry.facility_id])
    service = repo.service_codes_by_id(session, [entry.service_id])
    return LedgerEntryRead(
        id=entry.id,
        facility_id=entry.facility_id,
        facility_code=facility[entry.facility_id],
        day=entry.day,
        service_id=entry.service_id,
        service_code=service[entry.service_id],
        count=entry.count,
        mode=entry.mode,
        campaign_code=entry.campaign_code,
        citizenship=entry.citizenship,
        patient_id=entry.patient_id,
        source=entry.source,
        recorded_at=entry.recorded_at,
    )


def entry_not_found(entry_id: int) -> NotFound:
    return NotFound(f"No ledger entry {entry_id}.", errors=[FieldError("entry_id", "unknown")])


def get_entry(session: Session, *, entry_id: int) -> LedgerEntryRead:
    entry = repo.get_entry(session, entry_id)
    if entry is None:
        raise entry_not_found(entry_id)
    return entry_read(session, entry)


_SAME_FIELDS = ("facility_id", "day", "service_id", "count", "mode", "campaign_code", "patient_id")


def post_entry(
    session: Session,
    *,
    data: LedgerEntryCreate,
    facility_id: int,
    source_ref: str | None,
) -> tuple[LedgerEntryRead, bool]:
    """Record a manually posted entry; (entry, created). A retry under the
    same ``source_ref`` returns the first entry; the same key with a
    different body is a conflict."""
    citizenship = data.citizenship
    if data.patient_id is not None:
        exists, own = repo.patient_citizenship(session, data.patient_id)
        if not exists:
            raise Unprocessable(
                f"No patient {data.patient_id}.",
                errors=[FieldError("patient_id", "unknown patient")],
            )
        citizenship = citizenship or own
    values = _entry_values(
        facility_id=facility_id,
        day=data.day,
        service_id=_service_id(session, data.service_code),
        count=data.count,
        mode=data.mode,
        campaign_code=data.campaign_code,
        citizenship=citizenship,
        patient_id=data.patient_id,
        source=LedgerSource.manual,
        source_ref=source_ref,
    )
    entry, created = _record(session, values)
    if not created:
        differs = [f for f in _SAME_FIELDS if getattr(entry, f) != values[f]]
        if entry.citizenship != values["citizenship"]:
            differs.append("citizenship")
        if differs:
            raise Conflict(
                "This Idempotency-Key was already used for a different entry "
                f"(it differs in {', '.join(differs)}).",
                errors=[FieldError("Idempotency-Key", "already used for another entry")],
            )
    return entry_read(session, entry), created


def figures(
    session: Session,
    *,
    start: date | None = None,
    end: date | None = None,
    facility_ids: Collection[int] | None = None,
    region_id: int | None = None,
    country: str | None = None,
    service_ids: Collection[int] | None = None,
    kinds: Collection[ServiceKind] = (),
    mode: Mode | None = None,
    campaign: str | None = None,
    citizenship: Collection[str] = (),
    foreign: bool | None = None,
    group_by: Sequence[GroupBy] = (),
    limit: int = 100,
    offset: int = 0,
) -> Figures:
    """Counts summed from the rollup. ``facility_ids`` (when given) bounds
    what is summed: callers pass the reader's facility scope here.
    ``foreign`` keeps patients whose citizenship is known and differs from
    the facility's country (or, when False, equals it)."""
    if start is not None and end is not None and end < start:
        raise Unprocessable(
            "The period ends before it starts.",
            errors=[FieldError("end", "is before start")],
        )
    where, needs_facility, needs_service = repo.figure_conditions(
        start=start,
        end=end,
        facility_ids=facility_ids,
        region_id=region_id,
        country=country,
        service_ids=service_ids,
        kinds=[k.value for k in kinds],
        mode=mode.value if mode else None,
        campaign=campaign,
        citizenship=[c.upper() for c in citizenship],
        foreign=foreign,
    )
    keys = list(dict.fromkeys(group_by))
    (count, entries), rows, total_groups = repo.figures(
        session,
        where=where,
        needs_facility=needs_facility,
        needs_service=needs_service,
        group_by=[g.value for g in keys],
        limit=limit,
        offset=offset,
    )
    groups = [
        FigureRow.model_validate(
            {
                **row,
                "campaign": row.get("campaign") or None,
                "citizenship": row.get("citizenship") or None,
            }
        )
        for row in rows
    ]
    return Figures(
        count=count,
        entries=entries,
        group_by=keys,
        groups=groups,
        total_groups=total_groups,
        limit=limit,
        offset=offset,
    )


def region_id(session: Session, code: str) -> int:
    found = repo.region_id_by_code(session, code)
    if found is None:
        raise Unprocessable(
            f"No region with code '{code}'.", errors=[FieldError("region", f"unknown '{code}'")]
        )
    return found


def facility_ids(session: Session, codes: Collection[str]) -> list[int]:
    found = repo.facility_ids_by_code(session, codes)
    missing = sorted(set(codes) - set(found))
    if missing:
        raise Unprocessable(
            f"No facility with code {', '.join(missing)}.",
            errors=[FieldError("facility", f"unknown facility '{c}'") for c in missing],
        )
    return [found[c] for c in codes]


def service_ids(session: Session, codes: Collection[str]) -> list[int]:
    found = catalog.service_ids_by_code(session, codes)
    missing = sorted(set(codes) - set(found))
    if missing:
        raise Unprocessable(
            f"No service with code {', '.join(missing)}.",
            errors=[FieldError("service", f"unknown service '{c}'") for c in missing],
        )
    return [found[c] for c in codes]
