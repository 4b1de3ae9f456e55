"""Identifiers for generated patients, in the real formats with valid check
digits where the format has one. They are made up: any resemblance to a real
person's number is chance.

The ``SYSTEMS`` are Puente URNs, one per issuing system.
"""

from __future__ import annotations

import unicodedata
from datetime import date
from random import Random

SYSTEMS = {
    "curp": "urn:puente:id:mx:curp",
    "nss": "urn:puente:id:mx:imss-nss",
    "snils": "urn:puente:id:ru:snils",
    "oms": "urn:puente:id:ru:oms",
    "cccd": "urn:puente:id:vn:cccd",
}


def passport_system(country: str) -> str:
    return f"urn:puente:id:{country.lower()}:passport"


_CURP_ALPHABET = "0123456789ABCDEFGHIJKLMN&OPQRSTUVWXYZ"  # '&' stands for Ñ
_VOWELS = "AEIOU"
# Words a CURP may not spell: their second letter becomes X.
_CURP_BLOCKED = frozenset(
    [
        "BACA",
        "BAKA",
        "BUEI",
        "BUEY",
        "CACA",
        "CACO",
        "CAGA",
        "CAGO",
        "CAKA",
        "CAKO",
        "COGE",
        "COJA",
        "COJE",
        "COJI",
        "COJO",
        "CULO",
        "FETO",
        "GUEY",
        "JOTO",
        "KACA",
        "KACO",
        "KAGA",
        "KAGO",
        "KOGE",
        "KOJO",
        "KAKA",
        "KULO",
        "MAME",
        "MAMO",
        "MEAR",
        "MEAS",
        "MEON",
        "MION",
        "MOCO",
        "MULA",
        "PEDA",
        "PEDO",
        "PENE",
        "PUTA",
        "PUTO",
        "QULO",
        "RATA",
        "RUIN",
    ]
)
_SKIPPED_GIVEN = {"MARIA", "MA", "JOSE", "J"}


def _ascii_upper(text: str) -> str:
    text = text.upper().replace("Ñ", "X")
    folded = unicodedata.normalize("NFD", text)
    return "".join(c for c in folded if "A" <= c <= "Z" or c == " ")


def _first_inner(word: str, wanted: str, default: str = "X") -> str:
    return next((c for c in word[1:] if c in wanted), default)


def curp_check_digit(first17: str) -> str:
    total = sum(_CURP_ALPHABET.index(c) * (18 - i) for i, c in enumerate(first17))
    return str((10 - total % 10) % 10)


def curp(
    paternal: str, maternal: str, given: str, born: date, female: bool, state: str, homonym: int
) -> str:
    """A CURP from the person's data; ``state`` is the two-letter code (``NE``
    when born abroad); ``homonym`` (0–35) tells namesakes apart."""
    p, m = _ascii_upper(paternal) or "X", _ascii_upper(maternal) or "X"
    names = _ascii_upper(given).split() or ["X"]
    g = names[1] if len(names) > 1 and names[0] in _SKIPPED_GIVEN else names[0]
    head = p[0] + _first_inner(p, _VOWELS) + m[0] + g[0]
    if head in _CURP_BLOCKED:
        head = head[0] + "X" + head[2:]
    consonants = "".join(_first_inner(w, "BCDFGHJKLMNPQRSTVWXYZ") for w in (p, m, g))
    # Digits tell apart namesakes born before 2000, letters those born after.
    marks = "0123456789" if born.year < 2000 else "ABCDEFGHIJKLMNPQRSTUVWXYZ"
    body = (
        f"{head}{born:%y%m%d}{'M' if female else 'H'}{state}{consonants}"
        f"{marks[homonym % len(marks)]}"
    )
    return body + curp_check_digit(body)


def luhn_digit(digits: str) -> str:
    total = 0
    for i, c in enumerate(reversed(digits)):
        d = int(c) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return str((10 - total % 10) % 10)


def nss(rng: Random, born: date) -> str:
    """An IMSS social-security number: office, year registered, year born,
    serial, Luhn check digit (11 digits)."""
    registered = min(born.year + rng.randint(16, 30), 2020)
    body = f"{rng.randint(1, 99):02d}{registered % 100:02d}{born.year % 100:02d}{rng.randint(0, 9999):04d}"
    return body + luhn_digit(body)


def snils_check(nine: str) -> str:
    total = sum(int(c) * (9 - i) for i, c in enumerate(nine))
    if total > 101:
        total %= 101
    return "00" if total in (100, 101) else f"{total:02d}"


def snils(rng: Random) -> str:
    """An insurance number (СНИЛС) as ``XXX-XXX-XXX YY`` with its check number."""
    nine = f"{rng.randint(2_000_000, 999_999_999):09d}"
    return f"{nine[:3]}-{nine[3:6]}-{nine[6:]} {snils_check(nine)}"


def oms(rng: Random, okato: str) -> str:
    """A 16-digit single compulsory-insurance policy number; it opens with the
    region's OKATO code (45 Moscow, 18 Volgograd). No check digit is computed."""
    return f"{okato}{rng.randint(0, 10**14 - 1):014d}"


def cccd(rng: Random, province_code: str, born: date, female: bool) -> str:
    """A 12-digit citizen identity number: province, century and sex, year of birth, serial."""
    century_sex = (0 if born.year < 2000 else 2) + (1 if female else 0)
    return f"{province_code}{century_sex}{born.year % 100:02d}{rng.randint(0, 999_999):06d}"


def passport(rng: Random, country: str) -> str:
    letters = "ABCDEFGHJKLMNPRSTUVWXYZ"
    return f"{rng.choice(letters)}{rng.choice(letters)}{rng.randint(0, 9_999_999):07d}"
