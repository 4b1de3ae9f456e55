"""The public bulletin of a campaign or a period, in en, es, ru or vi.

The totals are stated the way the programs' own press releases state them
(see ``shared/seeds/imss-national-recovery-day-2021-05.es.txt``): who took
part and when; surgeries; specialty and family-medicine consultations; each
screening; transplants by organ; then teleconsultations, visits avoided and
foreign patients where the period has them. Numbers use the language's
locale format (es: 3,729 — Mexico; ru: 3 729; vi: 3.729); ``press=True``
writes Spanish thousands the way IMSS does ("3 mil 729").

Every figure comes from :func:`puente.reports.service.compute`, so the
bulletin equals the dashboards. Output: plain text, HTML or PDF.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from babel.dates import format_interval
from babel.lists import format_list
from sqlalchemy.orm import Session

from puente import i18n
from puente.access.service import FacilityScope
from puente.errors import FieldError, Unprocessable
from puente.reports import service
from puente.reports.indicators import Breakdown
from puente.reports.service import Filters

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
LANGS = ("en", "es", "ru", "vi")

# Service code → how a bulletin names its count, per language ({n} is the number).
SCREENINGS: dict[str, dict[str, str]] = {
    "screen-mammography": {"en": "{n} mammographies", "es": "{n} mastografías",
                           "ru": "маммографий — {n}", "vi": "{n} lượt chụp X-quang tuyến vú"},
    "screen-breast-exam": {"en": "{n} clinical breast examinations",
                           "es": "{n} exploraciones clínicas de mama",
                           "ru": "клинических осмотров молочных желёз — {n}",
                           "vi": "{n} lượt khám lâm sàng tuyến vú"},
    "screen-diabetes": {"en": "{n} diabetes mellitus screenings",
                        "es": "{n} de diabetes mellitus",
                        "ru": "скринингов сахарного диабета — {n}",
                        "vi": "{n} lượt sàng lọc đái tháo đường"},
    "screen-hypertension": {"en": "{n} arterial hypertension screenings",
                            "es": "{n} de hipertensión arterial",
                            "ru": "скринингов артериальной гипертензии — {n}",
                            "vi": "{n} lượt sàng lọc tăng huyết áp"},
    "screen-cervical-cancer": {"en": "{n} cervical cancer screenings",
                               "es": "{n} de cáncer cérvico-uterino",
                               "ru": "скринингов рака шейки матки — {n}",
                               "vi": "{n} lượt sàng lọc ung thư cổ tử cung"},
}  # fmt: skip
ORGANS: dict[str, dict[str, str]] = {
    "transplant-kidney": {"en": "{n} kidney", "es": "{n} de riñón", "ru": "почки — {n}",
                          "vi": "{n} ca ghép thận"},
    "transplant-cornea": {"en": "{n} cornea", "es": "{n} de córnea", "ru": "роговицы — {n}",
                          "vi": "{n} ca ghép giác mạc"},
    "transplant-liver": {"en": "{n} liver", "es": "{n} de hígado", "ru": "печени — {n}",
                         "vi": "{n} ca ghép gan"},
    "transplant-bone-marrow": {"en": "{n} bone marrow", "es": "{n} de médula ósea",
                               "ru": "костного мозга — {n}", "vi": "{n} ca ghép tủy xương"},
}  # fmt: skip
UNITS: dict[str, dict[str, str]] = {
    "state_office": {"en": "{n} state offices", "es": "las {n} Representaciones estatales",
                     "ru": "региональных представительств — {n}", "vi": "{n} văn phòng cấp tỉnh"},
    "high_specialty_unit": {"en": "{n} high-specialty medical units (UMAE)",
                            "es": "las {n} Unidades Médicas de Alta Especialidad (UMAE)",
                            "ru": "учреждений высокоспециализированной помощи — {n}",
                            "vi": "{n} bệnh viện chuyên sâu"},
}  # fmt: skip

TEXT: dict[str, dict[str, str]] = {
    "title": {"en": "{program}: figures for {dates}", "es": "{program}: cifras del {dates}",
              "ru": "{program}: итоги за {dates}", "vi": "{program}: số liệu {dates}"},
    "when": {"en": "From {dates}: {program}.",
             "es": "Del {dates}: {program}.",
             "ru": "С {dates}: {program}.",
             "vi": "Từ {dates}: {program}."},
    "units": {"en": "Taking part: {units}.", "es": "Participaron {units}.",
              "ru": "Приняли участие: {units}.", "vi": "Tham gia: {units}."},
    "facilities": {"en": "{n} facilities in {r} regions took part.",
                   "es": "Participaron {n} unidades en {r} entidades.",
                   "ru": "Приняли участие медорганизаций — {n}, регионов — {r}.",
                   "vi": "{n} cơ sở y tế tại {r} tỉnh, thành phố tham gia."},
    "core": {"en": "{surgeries} surgeries were performed, and {specialty} specialty consultations "
                   "and {family} family medicine consultations were given.",
             "es": "Se realizaron {surgeries} cirugías, se brindaron {specialty} consultas de "
                   "especialidad, y {family} de Medicina Familiar.",
             "ru": "Проведено операций — {surgeries}, консультаций специалистов — {specialty}, "
                   "приёмов врача общей практики — {family}.",
             "vi": "Đã thực hiện {surgeries} ca phẫu thuật, {specialty} lượt khám chuyên khoa "
                   "và {family} lượt khám y học gia đình."},
    "screenings": {"en": "In addition, screenings were done: {list}.",
                   "es": "Además, se practicaron {list}.",
                   "ru": "Кроме того, проведено {list}.",
                   "vi": "Ngoài ra, đã thực hiện {list}."},
    "transplants": {"en": "Transplants: {list}.", "es": "Trasplantes: {list}.",
                    "ru": "Трансплантации: {list}.", "vi": "Ghép tạng: {list}."},
    "teleconsultations": {"en": "Doctors gave {n} teleconsultations.",
                          "es": "Se brindaron {n} teleconsultas.",
                          "ru": "Проведено телемедицинских консультаций — {n}.",
                          "vi": "Đã thực hiện {n} lượt khám từ xa."},
    "visits-avoided": {"en": "{n} in-person visits were avoided.",
                       "es": "Se evitaron {n} consultas presenciales.",
                       "ru": "Визитов в поликлиники стало меньше на {n}.",
                       "vi": "Đã tránh được {n} lượt khám trực tiếp."},
    "remote-consultations": {"en": "Hospitals held {n} remote consultations.",
                             "es": "Se realizaron {n} teleconsultas de especialidad.",
                             "ru": "Проведено дистанционных консультаций «врач — врач» — {n}.",
                             "vi": "Đã tổ chức {n} lượt tư vấn khám chữa bệnh từ xa."},
    "foreign-patients": {"en": "Foreign patients used services {n} times.",
                         "es": "Pacientes extranjeros recibieron {n} servicios.",
                         "ru": "Иностранные граждане воспользовались услугами {n} раз.",
                         "vi": "Người bệnh nước ngoài đã sử dụng {n} lượt dịch vụ."},
    "total": {"en": "In all, {n} services were delivered.",
              "es": "En total se otorgaron {n} servicios.",
              "ru": "Всего оказано услуг — {n}.",
              "vi": "Tổng cộng đã cung cấp {n} lượt dịch vụ."},
}  # fmt: skip


def press_number(n: int) -> str:
    """Spanish press style: 3 mil 729, 70 mil 67, 1 millón 200 mil."""
    if n < 1000:
        return str(n)
    if n < 1_000_000:
        thousands, rest = divmod(n, 1000)
        return f"{thousands} mil" + (f" {rest}" if rest else "")
    millions, rest = divmod(n, 1_000_000)
    word = "millón" if millions == 1 else "millones"
    return f"{millions} {word}" + (f" {press_number(rest)}" if rest else "")


@dataclass
class Bulletin:
    lang: str
    title: str
    paragraphs: list[str] = field(default_factory=list)
    figures: dict[str, int] = field(default_factory=dict)

    def text(self) -> str:
        return "\n\n".join([self.title, *self.paragraphs]) + "\n"

    def html(self) -> str:
        body = "\n".join(f"<p>{html.escape(p)}</p>" for p in self.paragraphs)
        return (
            f'<!doctype html>\n<html lang="{self.lang}"><head><meta charset="utf-8">'
            f"<title>{html.escape(self.title)}</title></head>\n<body><article>\n"
            f"<h1>{html.escape(self.title)}</h1>\n{body}\n</article></body></html>\n"
        )

    def pdf(self) -> bytes:
        from fpdf import FPDF

        doc = FPDF(format="A4")
        doc.set_title(self.title)
        doc.add_font("DejaVu", "", str(FONT_DIR / "DejaVuSans.ttf"))
        doc.add_font("DejaVu", "B", str(FONT_DIR / "DejaVuSans-Bold.ttf"))
        doc.add_page()
        doc.set_font("DejaVu", "B", 15)
        doc.multi_cell(0, 8, self.title)
        doc.ln(3)
        doc.set_font("DejaVu", "", 11)
        for paragraph in self.paragraphs:
            doc.multi_cell(0, 6, paragraph)
            doc.ln(2)
        return bytes(doc.output())


@service.reading_once
def build(
    session: Session,
    *,
    lang: str,
    campaign: str | None = None,
    start: date | None = None,
    end: date | None = None,
    program: str | None = None,
    country: str | None = None,
    scope: FacilityScope | None = None,
    press: bool = False,
) -> Bulletin:
    """The bulletin of a campaign (``campaign``) or of a period (``start`` and
    ``end``), optionally of one program or country."""
    if lang not in LANGS:
        raise Unprocessable(f"No bulletin in '{lang}'.", errors=[FieldError("lang", "en|es|ru|vi")])
    if campaign is None and (start is None or end is None):
        raise Unprocessable(
            "A bulletin needs a campaign or a period.",
            errors=[FieldError("campaign", "give a campaign, or both start and end")],
        )
    filters = Filters(start=start, end=end, campaign=campaign, program=program, country=country)
    period = service.period_of(session, filters, scope)
    first = start or (period[0] if period else date.today())
    last = end or (period[1] if period else first)
    filters = filters.narrowed(start=first, end=last)

    def fmt(n: int) -> str:
        return press_number(n) if press and lang == "es" else i18n.format_number(n, lang)

    def figure(code: str) -> int:
        return int(service.compute(session, code, filters, scope=scope).total or 0)

    def by_service(code: str) -> list[tuple[str, str, int]]:
        result = service.compute(session, code, filters, by=[Breakdown.service], scope=scope)
        return [(r.keys["service"], r.labels["service"], int(r.value or 0)) for r in result.rows]

    name = campaign or program or ""
    if program:
        name = service.program_by_code(session, program).name
    dates = format_interval(first, last, "yMMMMd", locale=i18n.locale_for(lang))
    out = Bulletin(lang, TEXT["title"][lang].format(program=name or "Puente", dates=dates))
    out.paragraphs.append(
        TEXT["when"][lang].format(dates=date_range(first, last, lang), program=name or "Puente")
    )

    taking_part = service.participation(session, service.indicator("services"), filters, scope)
    units = [
        UNITS[kind][lang].format(n=fmt(taking_part.units[kind]))
        for kind in UNITS
        if taking_part.units.get(kind)
    ]
    if units:
        out.paragraphs.append(
            TEXT["units"][lang].format(units=format_list(units, locale=i18n.locale_for(lang)))
        )
    elif taking_part.facilities:
        out.paragraphs.append(
            TEXT["facilities"][lang].format(
                n=fmt(taking_part.facilities), r=fmt(taking_part.regions)
            )
        )
    for kind, n in taking_part.units.items():
        out.figures[f"units:{kind}"] = n

    core = {
        "surgeries": figure("surgeries"),
        "specialty": figure("specialty-consultations"),
        "family": figure("family-medicine-consultations"),
    }
    out.figures.update(core)
    if any(core.values()):
        out.paragraphs.append(TEXT["core"][lang].format(**{k: fmt(v) for k, v in core.items()}))

    listing = locale_list(lang)
    screenings = [
        _phrase(SCREENINGS, code, label, n, lang, fmt)
        for code, label, n in _in_order(SCREENINGS, by_service("screenings"))
    ]
    if screenings:
        out.paragraphs.append(TEXT["screenings"][lang].format(list=listing(screenings)))
    organs = [
        _phrase(ORGANS, code, label, n, lang, fmt)
        for code, label, n in _in_order(ORGANS, by_service("transplants"))
    ]
    if organs:
        out.paragraphs.append(TEXT["transplants"][lang].format(list=listing(organs)))
    for code in ("teleconsultations", "visits-avoided", "remote-consultations", "foreign-patients"):
        n = figure(code)
        out.figures[code] = n
        if n:
            out.paragraphs.append(TEXT[code][lang].format(n=fmt(n)))
    total = figure("services")
    out.figures["services"] = total
    out.paragraphs.append(TEXT["total"][lang].format(n=fmt(total)))
    return out


def locale_list(lang: str) -> Callable[[list[str]], str]:
    locale = i18n.locale_for(lang)
    joiner = "; " if lang == "ru" else None

    def join(items: list[str]) -> str:
        return joiner.join(items) if joiner else format_list(items, locale=locale)

    return join


def _phrase(
    table: dict[str, dict[str, str]],
    code: str,
    label: str,
    n: int,
    lang: str,
    fmt: Callable[[int], str],
) -> str:
    template = table.get(code, {}).get(lang)
    if template:
        return template.format(n=fmt(n))
    return f"{label}: {fmt(n)}"


def _in_order(
    table: dict[str, dict[str, str]], rows: list[tuple[str, str, int]]
) -> list[tuple[str, str, int]]:
    """The order press releases use (the table's), then the others by count."""
    known = list(table)
    return sorted(rows, key=lambda r: (known.index(r[0]) if r[0] in known else len(known), -r[2]))


def date_range(first: date, last: date, lang: str) -> str:
    """ "14 to 16 May 2021", "14 al 16 de mayo de 2021", "14 по 16 мая 2021 г.",
    "ngày 14 đến ngày 16/5/2021" — after the sentence's own "from"."""
    from babel.dates import format_date

    locale = i18n.locale_for(lang)
    if lang == "vi":
        a, b = first, last
        return f"ngày {a.day}/{a.month}/{a.year} đến ngày {b.day}/{b.month}/{b.year}"
    full = {"en": "d MMMM y", "es": "d 'de' MMMM 'de' y", "ru": "d MMMM y 'г.'"}[lang]
    joiner = {"en": "to", "es": "al", "ru": "по"}[lang]
    if first.year == last.year and first.month == last.month:
        head = str(first.day)
    elif first.year == last.year:
        head = format_date(first, {"en": "d MMMM", "es": "d 'de' MMMM", "ru": "d MMMM"}[lang],
                           locale=locale)  # fmt: skip
    else:
        head = format_date(first, full, locale=locale)
    return f"{head} {joiner} {format_date(last, full, locale=locale)}"
