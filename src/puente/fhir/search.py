"""Parsing of FHIR search parameters (R4 §3.1.1.5: references, tokens,
dates with prefixes) and of the paging parameters ``_count`` / ``_offset``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from puente.errors import FieldError
from puente.fhir.mapping import parse_fhir_date
from puente.fhir.outcome import FhirError

MAX_COUNT = 500
DEFAULT_COUNT = 50
PAGING_PARAMS = ("_count", "_offset")
DATE_PREFIXES = ("eq", "ne", "lt", "gt", "le", "ge")

Params = Mapping[str, Sequence[str]]


def bad(param: str, message: str) -> FhirError:
    return FhirError(
        400, f"Search parameter '{param}': {message}", errors=[FieldError(param, message)]
    )


@dataclass(frozen=True)
class Paging:
    count: int
    offset: int


def paging(params: Params) -> Paging:
    """``_count`` is capped at 500 (a server may return fewer than asked);
    ``_count=0`` asks for the total only."""
    values = {}
    for name, default in (("_count", DEFAULT_COUNT), ("_offset", 0)):
        given = params.get(name)
        if not given:
            values[name] = default
            continue
        text = given[-1]
        if not text.isdigit() or len(text) > 9:
            raise bad(name, f"'{text}' is not a whole number")
        values[name] = int(text)
    return Paging(count=min(values["_count"], MAX_COUNT), offset=values["_offset"])


def check_known(params: Params, known: Sequence[str], resource_type: str) -> None:
    for name in params:
        if name not in known and name not in PAGING_PARAMS:
            allowed = ", ".join([*known, *PAGING_PARAMS])
            raise FhirError(
                400,
                f"{resource_type} has no search parameter '{name}'; supported: {allowed}.",
                errors=[FieldError(name, "unknown search parameter")],
                code="not-supported",
            )


def single(params: Params, name: str) -> str | None:
    values = params.get(name)
    if not values:
        return None
    if len(values) > 1:
        raise bad(name, "may be given once")
    if values[0] == "":
        raise bad(name, "is empty")
    return values[0]


def reference_id(params: Params, name: str, kind: str) -> int | None:
    """``Organization/12`` or ``12`` (or a full URL ending so) → 12."""
    value = single(params, name)
    if value is None:
        return None
    head, _, tail = value.rstrip("/").rpartition("/")
    if head and head.rsplit("/", 1)[-1] != kind:
        raise bad(name, f"must reference a {kind}")
    if not tail.isdigit() or len(tail) > 18:
        raise bad(name, f"'{value}' is not a {kind} id")
    return int(tail)


def token(params: Params, name: str) -> tuple[str | None, str] | None:
    """``system|code`` → (system, code); ``code`` → (None, code);
    ``|code`` (no system) → ("", code)."""
    value = single(params, name)
    if value is None:
        return None
    system, sep, code = value.partition("|")
    if not sep:
        return None, value
    if not code:
        raise bad(name, "has no code after '|'")
    return system, code


def dates(params: Params, name: str) -> list[tuple[str, date]]:
    """Every ``[prefix]YYYY-MM-DD`` value (repeats are ANDed)."""
    out = []
    for value in params.get(name, []):
        prefix = value[:2] if value[:2] in DATE_PREFIXES else "eq"
        text = value[2:] if value[:2] in DATE_PREFIXES else value
        day = parse_fhir_date(text)
        if day is None:
            raise bad(name, f"'{value}' is not a date such as ge1980-04-02")
        out.append((prefix, day))
    return out
