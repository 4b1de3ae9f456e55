"""Prescriptions and sick-leave certificates as PDF, in the patient's language.

Rendered with fpdf2 (pure Python) from the document's stored fields each time
it is downloaded, so the PDF never drifts from the record. Text is set in
DejaVu Sans, which covers Latin (Spanish), Cyrillic and Vietnamese; it comes
from Debian's ``fonts-dejavu-core`` (``/usr/share/fonts/truetype/dejavu``) or,
where that is missing, from the copy Matplotlib ships, if installed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from pathlib import Path

from fpdf import FPDF

from puente.enums import DocumentKind, Sex
from puente.i18n import format_day, gettext

__all__ = ["DocumentFacts", "FontMissing", "filename", "render_pdf"]

_DEBIAN = Path("/usr/share/fonts/truetype/dejavu")


class FontMissing(RuntimeError):
    pass


@cache
def _font_dir() -> Path:
    candidates = [_DEBIAN]
    try:  # a PyPI package that ships DejaVu, as a fallback
        import matplotlib  # type: ignore[import-not-found,unused-ignore]

        candidates.append(Path(matplotlib.__file__).parent / "mpl-data" / "fonts" / "ttf")
    except ImportError:
        pass
    for folder in candidates:
        if (folder / "DejaVuSans.ttf").exists() and (folder / "DejaVuSans-Bold.ttf").exists():
            return folder
    raise FontMissing("DejaVu Sans not found: apt-get install fonts-dejavu-core")


def _(text: str) -> str:
    return text  # marks msgids; translated in the document's language


TITLES = {
    DocumentKind.prescription: _("Prescription"),
    DocumentKind.sick_leave: _("Certificate of temporary incapacity for work"),
}


@dataclass(frozen=True)
class DocumentFacts:
    """What a document shows, gathered by the caller."""

    kind: DocumentKind
    language: str
    number: str
    issued_at: datetime
    facility: str
    facility_address: str | None
    practitioner: str | None
    patient: str
    patient_birth_date: date | None
    patient_sex: Sex
    diagnoses: list[str]
    items: list[dict[str, str]]
    off_work_from: date | None = None
    off_work_until: date | None = None


def filename(facts: DocumentFacts) -> str:
    return f"{facts.kind.value}-{facts.number}.pdf"


def render_pdf(facts: DocumentFacts) -> bytes:
    lang = facts.language

    def t(text: str) -> str:
        return gettext(text, lang)

    def day(value: date | None) -> str:
        return format_day(value, lang, fmt="long") if value else "—"

    pdf = FPDF(format="A4")
    pdf.set_title(t(TITLES[facts.kind]))
    pdf.set_creator("Puente")
    fonts = _font_dir()
    pdf.add_font("DejaVu", "", str(fonts / "DejaVuSans.ttf"))
    pdf.add_font("DejaVu", "B", str(fonts / "DejaVuSans-Bold.ttf"))
    pdf.set_margins(20, 20, 20)
    pdf.add_page()

    def line(text: str, size: int = 11, style: str = "", gap: float = 6.5) -> None:
        pdf.set_font("DejaVu", style, size)
        pdf.multi_cell(0, gap, text, new_x="LMARGIN", new_y="NEXT")

    line(facts.facility, 12, "B")
    if facts.facility_address:
        line(facts.facility_address, 9)
    pdf.ln(6)
    line(f"{t(TITLES[facts.kind])} № {facts.number}", 16, "B", 9)
    line(f"{t('Issued on')}: {day(facts.issued_at.date())}", 10)
    pdf.ln(4)
    line(f"{t('Patient')}: {facts.patient}", 11, "B")
    line(f"{t('Date of birth')}: {day(facts.patient_birth_date)}")
    if facts.diagnoses:
        line(f"{t('Diagnosis (ICD-10)')}: {', '.join(facts.diagnoses)}")
    pdf.ln(4)
    if facts.kind == DocumentKind.prescription:
        line(t("Rp."), 12, "B")
        for n, item in enumerate(facts.items, start=1):
            line(f"{n}. {item.get('medication', '')} {item.get('dosage', '')}".strip(), 11, "B")
            if item.get("instructions"):
                line(f"    {item['instructions']}")
    else:
        line(t("Released from work"), 12, "B")
        line(f"{t('From')}: {day(facts.off_work_from)}")
        line(f"{t('Until (inclusive)')}: {day(facts.off_work_until)}")
    pdf.ln(10)
    line(f"{t('Doctor')}: {facts.practitioner or '—'}")
    line(t("Issued after a virtual visit."), 9)
    return bytes(pdf.output())
