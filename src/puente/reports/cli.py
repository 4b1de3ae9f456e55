"""``puente report`` and ``puente bulletin``: the figures from the command line.

    puente report surgeries --from 2021-05-14 --to 2021-05-16 --by region --format csv
    puente bulletin --campaign imss-jornada-2021-05 --lang es --format pdf > boletin.pdf

Run with the whole system in view (an operator at the server), so no scope
bounds the sums; the figures never name a patient.
"""

from __future__ import annotations

import json
import sys
from datetime import date
from typing import Annotated

import typer

from puente.reports.indicators import INDICATORS, Breakdown

ByOption = typer.Option("--by", help="Breakdown, repeatable")


def register(app: typer.Typer) -> None:
    app.command("report")(report)
    app.command("bulletin")(bulletin_command)


def _day(text: str | None, option: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(
            f"'{text}' is not a date (YYYY-MM-DD)", param_hint=option
        ) from None


def report(
    indicator: Annotated[str, typer.Argument(help=f"One of: {', '.join(INDICATORS)}")],
    start: Annotated[str | None, typer.Option("--from", help="First day (YYYY-MM-DD)")] = None,
    end: Annotated[str | None, typer.Option("--to", help="Last day (YYYY-MM-DD)")] = None,
    by: Annotated[
        list[Breakdown] | None, typer.Option("--by", help="Breakdown (repeatable)")
    ] = None,
    campaign: Annotated[str | None, typer.Option(help="Campaign code")] = None,
    program: Annotated[str | None, typer.Option(help="Program code")] = None,
    country: Annotated[str | None, typer.Option(help="Country (ISO 3166-1)")] = None,
    region: Annotated[str | None, typer.Option(help="Region code")] = None,
    lang: Annotated[str, typer.Option(help="en, es, ru or vi")] = "en",
    format: Annotated[str, typer.Option("--format", help="table, csv or json")] = "table",
) -> None:
    """Print one indicator, optionally broken down."""
    from rich.console import Console
    from rich.table import Table

    from puente import i18n
    from puente.cli import _fail, _session_factory
    from puente.db import unit_of_work
    from puente.errors import PuenteError
    from puente.reports import export, service

    filters = service.Filters(
        start=_day(start, "--from"), end=_day(end, "--to"), campaign=campaign, program=program,
        country=country.upper() if country else None, region=region,
    )  # fmt: skip
    try:
        with unit_of_work(_session_factory()) as session:
            result = service.compute(session, indicator, filters, by=by or [], lang=lang)
    except PuenteError as exc:
        _fail(exc)
    if format == "json":
        print(json.dumps(result.as_dict(), ensure_ascii=False))
    elif format == "csv":
        sys.stdout.write(export.to_csv(result, lang))
    else:
        table = Table(title=INDICATORS[indicator].label(lang))
        for column in [b.value for b in result.by] or [""]:
            table.add_column(column)
        table.add_column(INDICATORS[indicator].label(lang), justify="right")

        def number(value: float | int | None) -> str:
            return "—" if value is None else i18n.format_number(value, lang)

        for row in result.rows:
            table.add_row(*[row.labels[b.value] for b in result.by], number(row.value))
        blanks = [""] * max(0, len(result.by) - 1)
        table.add_row(i18n.gettext("Total", lang), *blanks, number(result.total))
        Console().print(table)


def bulletin_command(
    campaign: Annotated[str | None, typer.Option(help="Campaign code")] = None,
    start: Annotated[str | None, typer.Option("--from", help="First day (YYYY-MM-DD)")] = None,
    end: Annotated[str | None, typer.Option("--to", help="Last day (YYYY-MM-DD)")] = None,
    program: Annotated[str | None, typer.Option(help="Program code")] = None,
    country: Annotated[str | None, typer.Option(help="Country (ISO 3166-1)")] = None,
    lang: Annotated[str, typer.Option(help="en, es, ru or vi")] = "en",
    format: Annotated[str, typer.Option("--format", help="text, html or pdf")] = "text",
    press: Annotated[bool, typer.Option(help="Spanish press style: 3 mil 729")] = False,
) -> None:
    """Print the public bulletin of a campaign or a period (PDF to stdout)."""
    from puente.cli import _fail, _session_factory
    from puente.db import unit_of_work
    from puente.errors import PuenteError
    from puente.reports import bulletin

    try:
        with unit_of_work(_session_factory()) as session:
            made = bulletin.build(
                session, lang=lang, campaign=campaign, start=_day(start, "--from"),
                end=_day(end, "--to"), program=program,
                country=country.upper() if country else None, press=press,
            )  # fmt: skip
    except PuenteError as exc:
        _fail(exc)
    if format == "pdf":
        sys.stdout.buffer.write(made.pdf())
    elif format == "html":
        sys.stdout.write(made.html())
    else:
        sys.stdout.write(made.text())
