"""Languages: message catalogs and locale formats for en, es, ru and vi.

Catalogs are gettext ``.po`` files read with Babel at start-up (no compile
step): ``locale/<lang>/LC_MESSAGES/*.po``, one file per feature, merged. The
language of the current request lives in a context variable, so templates and
services can translate without passing it around.
"""

from __future__ import annotations

from contextvars import ContextVar
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path

from babel import Locale
from babel.dates import format_date as _format_date
from babel.dates import format_datetime as _format_datetime
from babel.messages.pofile import read_po
from babel.numbers import format_decimal, format_percent
from babel.support import Translations

from puente.config import LANGUAGES

LOCALE_DIR = Path(__file__).parent / "locale"

# The Babel locale used for each language's number and date formats. Spanish is
# formatted as in Mexico (3,242), the largest Spanish-speaking user of Puente.
BABEL_LOCALE = {"en": "en", "es": "es_MX", "ru": "ru", "vi": "vi"}

current_language: ContextVar[str] = ContextVar("current_language", default="en")


def normalise_language(value: str | None, default: str = "en") -> str:
    if not value:
        return default
    code = value.strip().lower().replace("_", "-").split("-")[0]
    return code if code in LANGUAGES else default


def negotiate(accept_language: str | None, default: str = "en") -> str:
    """Pick the first supported language from an Accept-Language header."""
    if not accept_language:
        return default
    ranked: list[tuple[float, str]] = []
    for part in accept_language.split(","):
        piece = part.strip().split(";")
        q = 1.0
        for param in piece[1:]:
            if param.strip().startswith("q="):
                try:
                    q = float(param.strip()[2:])
                except ValueError:
                    q = 0.0
        ranked.append((q, piece[0]))
    for _q, tag in sorted(ranked, key=lambda t: -t[0]):
        code = normalise_language(tag, "")
        if code:
            return code
    return default


@cache
def translations(language: str) -> Translations:
    out = Translations()
    # The shared catalogs, then each feature's own (``<feature>/locale/...``).
    shared = sorted((LOCALE_DIR / language / "LC_MESSAGES").glob("*.po"))
    features = sorted(LOCALE_DIR.parent.glob(f"*/locale/{language}/LC_MESSAGES/*.po"))
    for po in shared + features:
        with po.open("rb") as fh:
            catalog = read_po(fh, locale=language)
        for message in catalog:
            msgid, text = message.id, message.string
            if not isinstance(msgid, str) or not isinstance(text, str):
                continue  # plural entries: none yet
            if msgid and text and not message.fuzzy:
                out._catalog[msgid] = text
    return out


def gettext(message: str, language: str | None = None) -> str:
    return translations(language or current_language.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int, language: str | None = None) -> str:
    return translations(language or current_language.get()).ngettext(singular, plural, n)


_ = gettext


def locale_for(language: str | None = None) -> Locale:
    return Locale.parse(BABEL_LOCALE[language or current_language.get()])


def format_number(value: int | float | Decimal, language: str | None = None) -> str:
    return format_decimal(value, locale=locale_for(language))


def format_percentage(value: float, language: str | None = None) -> str:
    return format_percent(value, locale=locale_for(language), format="#,##0.#%")


def format_day(value: date, language: str | None = None, fmt: str = "medium") -> str:
    return _format_date(value, format=fmt, locale=locale_for(language))


def format_moment(
    value: datetime, tz: str = "UTC", language: str | None = None, fmt: str = "medium"
) -> str:
    from zoneinfo import ZoneInfo

    return _format_datetime(value, format=fmt, tzinfo=ZoneInfo(tz), locale=locale_for(language))


def language_name(code: str) -> str:
    """A language's own name for itself (English, Español, Русский, Tiếng Việt)."""
    name = Locale.parse(code).get_display_name(code) or code
    return name[:1].upper() + name[1:]


def country_name(code: str, language: str | None = None) -> str:
    territories = locale_for(language).territories
    return str(territories.get(code.upper(), code.upper()))


@cache
def iso_countries() -> frozenset[str]:
    """ISO 3166-1 alpha-2 codes, from Babel's CLDR data (no network, no extra package)."""
    not_countries = {"EU", "EZ", "UN", "XA", "XB", "QO", "ZZ"}
    names = [str(c) for c in Locale.parse("en").territories]
    return frozenset(c for c in names if len(c) == 2 and c.isalpha() and c not in not_countries)
