"""Every page and message speaks en, es, ru and vi: each literal passed to
``_()`` in a template or in the code has a translation in every catalog."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from puente.i18n import translations

SOURCE = Path(__file__).parents[1] / "src" / "puente"
LITERAL = re.compile(r"""\b_\(\s*(?:"((?:[^"\\]|\\.)+)"|'((?:[^'\\]|\\.)+)')\s*[,)]""")


def messages() -> dict[str, str]:
    """msgid → the file that uses it."""
    found: dict[str, str] = {}
    for path in [*SOURCE.rglob("*.html"), *SOURCE.rglob("*.py")]:
        for double, single in LITERAL.findall(path.read_text(encoding="utf-8")):
            found.setdefault(double or single, str(path.relative_to(SOURCE)))
    return found


def test_the_scan_finds_the_messages_of_the_pages() -> None:
    found = messages()
    # A scan that finds nothing would pass the test below.
    assert "Sign in" in found and "User name" in found
    assert len(found) > 40


@pytest.mark.parametrize("language", ["es", "ru", "vi"])
def test_every_message_has_a_translation(language: str) -> None:
    catalog = translations(language)._catalog
    missing = sorted(f"{where}: {m}" for m, where in messages().items() if not catalog.get(m))
    assert missing == []
