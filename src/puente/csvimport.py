"""All-or-nothing CSV imports that name the row and column of every error.

An importer declares its columns, reads the file with :func:`read_csv`, checks
references in bulk (one query per referenced table, never one per row), and
calls :func:`Errors.raise_if_any` before it writes anything. Writes go through
:func:`insert_in_chunks` inside the caller's transaction, so a failure at any
point leaves nothing behind. Row numbers count the header as row 1, as a
spreadsheet shows them.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol, TypeVar

from sqlalchemy import insert
from sqlalchemy.orm import Session

from puente.errors import FieldError, ImportFailed
from puente.i18n import iso_countries

E = TypeVar("E", bound=StrEnum)
Parser = Callable[[str], Any]
CHUNK = 5000
MAX_REPORTED_ERRORS = 200


class Progress(Protocol):
    def __call__(self, done: int, total: int) -> None: ...


@dataclass(frozen=True)
class Column:
    name: str
    parse: Parser = str
    required: bool = True


@dataclass(frozen=True)
class Row:
    number: int
    values: dict[str, Any]

    def __getitem__(self, key: str) -> Any:
        return self.values.get(key)


@dataclass
class ImportResult:
    rows: int
    created: int
    updated: int = 0


@dataclass
class Errors:
    source: str
    items: list[FieldError] = field(default_factory=list)
    count: int = 0

    def add(self, row: int, column: str, message: str) -> None:
        self.count += 1
        if len(self.items) < MAX_REPORTED_ERRORS:
            self.items.append(FieldError(field=column, message=message, row=row))

    def raise_if_any(self) -> None:
        if not self.count:
            return
        first = self.items[0]
        more = f" (and {self.count - 1} more)" if self.count > 1 else ""
        raise ImportFailed(
            f"{self.source}: row {first.row}, column '{first.field}': {first.message}{more}."
            " Nothing was imported.",
            errors=self.items,
        )


def read_csv(path: Path, columns: Sequence[Column], errors: Errors) -> list[Row]:
    """Parse every row; collect every error; return the rows that parsed."""
    known = {c.name for c in columns}
    rows: list[Row] = []
    try:
        fh = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        errors.add(0, "file", f"cannot be read: {exc.strerror}")
        errors.raise_if_any()
        raise  # unreachable: raise_if_any raised
    with fh:
        reader = csv.reader(fh)
        try:
            header = [h.strip() for h in next(reader)]
        except StopIteration:
            errors.add(1, "header", "the file is empty")
            return rows
        except UnicodeDecodeError:
            errors.add(1, "file", "is not UTF-8 text")
            return rows
        for c in columns:
            if c.required and c.name not in header:
                errors.add(1, c.name, "required column is missing from the header")
        for h in header:
            if h not in known:
                errors.add(
                    1, h or "(blank)", f"unknown column; expected {', '.join(sorted(known))}"
                )
        if errors.count:
            return rows
        index = {name: i for i, name in enumerate(header)}
        line = 1
        try:
            for raw in reader:
                line += 1
                if not any(cell.strip() for cell in raw):
                    continue
                if len(raw) != len(header):
                    errors.add(line, "row", f"has {len(raw)} cells; the header has {len(header)}")
                    continue
                values: dict[str, Any] = {}
                ok = True
                for c in columns:
                    cell = raw[index[c.name]].strip() if c.name in index else ""
                    if cell == "":
                        if c.required:
                            errors.add(line, c.name, "is required")
                            ok = False
                        values[c.name] = None
                        continue
                    try:
                        values[c.name] = c.parse(cell)
                    except ValueError as exc:
                        errors.add(line, c.name, str(exc))
                        ok = False
                if ok:
                    rows.append(Row(line, values))
        except UnicodeDecodeError:
            errors.add(line + 1, "file", "is not UTF-8 text")
        except csv.Error as exc:
            errors.add(line + 1, "row", f"is not valid CSV: {exc}")
    return rows


def resolve(
    rows: Iterable[Row],
    column: str,
    lookup: dict[str, Any],
    errors: Errors,
    what: str,
) -> None:
    """Check that every non-empty value of ``column`` is a key of ``lookup``."""
    for row in rows:
        value = row[column]
        if value is not None and value not in lookup:
            errors.add(row.number, column, f"unknown {what} '{value}'")


def insert_in_chunks(
    session: Session,
    model: type[Any],
    records: Sequence[dict[str, Any]],
    progress: Progress | None = None,
) -> None:
    total = len(records)
    for start in range(0, total, CHUNK):
        session.execute(insert(model), list(records[start : start + CHUNK]))
        if progress:
            progress(min(start + CHUNK, total), total)
    if progress and total == 0:
        progress(0, 0)


# Cell parsers: each raises ValueError with a message a clerk can act on.


def parse_date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"'{value}' is not a date in the form YYYY-MM-DD") from None


def parse_positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise ValueError(f"'{value}' is not a whole number") from None
    if number < 1 or number > 2_000_000_000:
        raise ValueError(f"{number} is out of range (1 to 2,000,000,000)")
    return number


def parse_enum(cls: type[E]) -> Callable[[str], E]:
    def parse(value: str) -> E:
        try:
            return cls(value.strip().lower())
        except ValueError:
            allowed = ", ".join(m.value for m in cls)
            raise ValueError(f"'{value}' is not one of: {allowed}") from None

    return parse


def parse_country(value: str) -> str:
    code = value.strip().upper()
    if code not in iso_countries():
        raise ValueError(f"'{value}' is not an ISO 3166-1 alpha-2 country code")
    return code


def parse_bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "y"}:
        return True
    if lowered in {"0", "false", "no", "n"}:
        return False
    raise ValueError(f"'{value}' is not true or false")


def parse_timezone(value: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"'{value}' is not an IANA time zone") from None
    return value


def bounded(max_length: int) -> Parser:
    def parse(value: str) -> str:
        if len(value) > max_length:
            raise ValueError(f"is longer than {max_length} characters")
        return value

    return parse
