"""Jinja2 environment shared by every feature's pages.

Templates are looked up in every feature's ``templates/`` folder. Text is
translated with ``{% trans %}`` / ``_()`` in the language of the current
request; numbers and dates are formatted by the ``number`` and ``day`` filters
in that language's locale.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from puente import i18n
from puente.config import LANGUAGES
from puente.enums import AccessRole

PACKAGE_DIR = Path(__file__).resolve().parent.parent


def _template_dirs() -> list[str]:
    web_first = [PACKAGE_DIR / "web" / "templates"]
    others = sorted(p for p in PACKAGE_DIR.glob("*/templates") if p not in web_first)
    return [str(p) for p in web_first + others]


env = Environment(
    loader=FileSystemLoader(_template_dirs()),
    autoescape=select_autoescape(["html", "xml"]),
    extensions=["jinja2.ext.i18n"],
    trim_blocks=True,
    lstrip_blocks=True,
)
env.install_gettext_callables(  # type: ignore[attr-defined]
    lambda s: i18n.gettext(s), lambda s, p, n: i18n.ngettext(s, p, n), newstyle=True
)
env.filters["number"] = lambda v: i18n.format_number(v)
env.filters["percent"] = lambda v: i18n.format_percentage(v)
env.filters["day"] = lambda v, fmt="medium": i18n.format_day(v, fmt=fmt)
env.filters["moment"] = lambda v, tz="UTC", fmt="medium": i18n.format_moment(v, tz, fmt=fmt)
env.filters["country"] = lambda code: i18n.country_name(code) if code else ""
env.globals["LANGUAGES"] = LANGUAGES
env.globals["language_name"] = i18n.language_name


def _(text: str) -> str:
    """Marks a message for the catalogs; it is translated when shown."""
    return text


ROLE_LABELS = {
    AccessRole.national_admin: _("National administrator"),
    AccessRole.program_manager: _("Program manager"),
    AccessRole.facility_admin: _("Facility administrator"),
    AccessRole.clinician: _("Clinician"),
    AccessRole.hub_coordinator: _("Hub coordinator"),
    AccessRole.hub_specialist: _("Hub specialist"),
    AccessRole.campaign_planner: _("Campaign planner"),
    AccessRole.patient: _("Patient"),
}


def role_name(role: AccessRole) -> str:
    return i18n.gettext(ROLE_LABELS[role])


env.globals["role_name"] = role_name


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    context.setdefault("request", request)
    context.setdefault("lang", i18n.current_language.get())
    context.setdefault("principal", getattr(request.state, "principal", None))
    html = env.get_template(template).render(**context)
    return HTMLResponse(html, status_code=status_code)
