"""Searchset Bundles with self / next / previous links.

Every link repeats the request's own search parameters with its own
``_count`` and ``_offset``, so a client that follows ``next`` from the first
page sees each match exactly once (ordering is by id, which is stable).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

from puente.fhir.search import PAGING_PARAMS, Paging


def _link(
    relation: str, endpoint: str, params: Sequence[tuple[str, str]], count: int, offset: int
) -> dict[str, str]:
    query = [*params, ("_count", str(count)), ("_offset", str(offset))]
    return {"relation": relation, "url": f"{endpoint}?{urlencode(query)}"}


def searchset(
    *,
    base: str,
    resource_type: str,
    params: Sequence[tuple[str, str]],
    resources: Sequence[dict[str, Any]],
    total: int,
    paging: Paging,
) -> dict[str, Any]:
    """``base`` is the absolute URL of the FHIR root (…/fhir)."""
    endpoint = f"{base}/{resource_type}"
    kept = [(k, v) for k, v in params if k not in PAGING_PARAMS]
    count, offset = paging.count, paging.offset
    links = [_link("self", endpoint, kept, count, offset)]
    if count and offset + count < total:
        links.append(_link("next", endpoint, kept, count, offset + count))
    if count and offset > 0:
        links.append(_link("previous", endpoint, kept, count, max(0, offset - count)))
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": total,
        "link": links,
    }
    if resources:  # FHIR JSON has no empty arrays
        bundle["entry"] = [
            {
                "fullUrl": f"{base}/{r['resourceType']}/{r['id']}",
                "resource": r,
                "search": {"mode": "match"},
            }
            for r in resources
        ]
    return bundle
