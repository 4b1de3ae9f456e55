"""CSV and XLSX of any table view: the rows of a :class:`Result` with one
column per breakdown (code and name) and the value. Files carry figures only."""

from __future__ import annotations

import csv
import io
from typing import Any

from puente import i18n
from puente.reports.indicators import INDICATORS
from puente.reports.service import Result

CSV_TYPE = "text/csv; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def header(result: Result, lang: str) -> list[str]:
    cols: list[str] = []
    for key in result.by:
        cols += [key.value, f"{key.value}_name"]
    return [*cols, INDICATORS[result.indicator].label(lang)]


def table(result: Result, lang: str) -> list[list[Any]]:
    rows: list[list[Any]] = []
    for row in result.rows:
        values: list[Any] = []
        for key in result.by:
            values += [row.keys.get(key.value, ""), row.labels.get(key.value, "")]
        rows.append([*values, row.value])
    if result.by:
        blanks: list[Any] = ["" for _ in range(2 * len(result.by))]
        blanks[1] = i18n.gettext("Total", lang)
        rows.append([*blanks, result.total])
    else:
        rows.append([result.total])
    return rows


def to_csv(result: Result, lang: str) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header(result, lang))
    writer.writerows(table(result, lang))
    return out.getvalue()


def to_xlsx(result: Result, lang: str) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = result.indicator[:31]
    sheet.append(header(result, lang))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in table(result, lang):
        sheet.append(row)
    for column in sheet.columns:
        width = max(len(str(c.value or "")) for c in column)
        sheet.column_dimensions[column[0].column_letter].width = min(60, width + 2)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
