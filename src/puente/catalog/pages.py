"""Pages of `catalog`: the service catalog, grouped by kind, in the reader's
language."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from puente.access.gate import requires
from puente.access.policy import Permission
from puente.access.principal import Principal
from puente.catalog import service
from puente.catalog.schemas import ServiceRead
from puente.deps import DB
from puente.enums import ServiceKind
from puente.i18n import current_language
from puente.i18n import gettext as _
from puente.web.templating import render

router = APIRouter(include_in_schema=False)


def kind_labels() -> dict[ServiceKind, str]:
    """Each kind's heading in the current request's language (catalog.po)."""
    return {
        ServiceKind.consultation: _("Consultations"),
        ServiceKind.surgery: _("Surgery"),
        ServiceKind.screening: _("Screening"),
        ServiceKind.transplant: _("Transplants"),
        ServiceKind.donation: _("Organ and tissue donation"),
        ServiceKind.procedure: _("Procedures"),
        ServiceKind.vaccination: _("Vaccination"),
        ServiceKind.social_work: _("Social work"),
        ServiceKind.nutrition: _("Nutrition"),
        ServiceKind.imaging: _("Imaging"),
        ServiceKind.diagnostics: _("Diagnostics"),
        ServiceKind.dentistry: _("Dentistry"),
        ServiceKind.remote_consultation: _("Remote consultation"),
        ServiceKind.training: _("Training"),
        ServiceKind.family_planning: _("Family planning"),
    }


def kind_label(kind: ServiceKind) -> str:
    return kind_labels().get(kind, kind.value)


@dataclass(frozen=True)
class Line:
    code: str
    label: str
    specialty: str


@dataclass(frozen=True)
class Section:
    kind: ServiceKind
    label: str
    services: list[Line]


def _rows(items: list[ServiceRead], lang: str, specialties: dict[str, str]) -> list[Line]:
    lines = [
        Line(s.code, service.label(s, lang), specialties.get(s.specialty_code or "", ""))
        for s in items
    ]
    return sorted(lines, key=lambda line: line.label.casefold())


@router.get("/catalog", response_class=HTMLResponse)
def catalog_page(
    request: Request,
    db: DB,
    user: Annotated[Principal, requires(Permission.catalog_read)],
    kind: ServiceKind | None = None,
    q: Annotated[str | None, Query(max_length=100)] = None,
) -> HTMLResponse:
    lang = current_language.get()
    text = (q or "").strip() or None
    found = service.list_services(db, kind=kind, text=text, active=True)
    specialties = {
        s.code: service.label(s, lang)
        for s in service.list_specialties(db, limit=10_000, offset=0).items
    }
    groups: dict[ServiceKind, list[ServiceRead]] = {}
    for item in found.items:
        groups.setdefault(item.kind, []).append(item)
    sections = [
        Section(k, kind_label(k), _rows(groups[k], lang, specialties))
        for k in ServiceKind
        if k in groups
    ]
    return render(
        request,
        "catalog/services.html",
        sections=sections,
        total=found.total,
        kinds=[(k.value, label) for k, label in kind_labels().items()],
        filters={"kind": kind.value if kind else "", "q": text or ""},
    )
