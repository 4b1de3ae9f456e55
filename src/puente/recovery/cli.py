"""``puente plan`` and ``puente waiting-list import``.

    puente plan imss-jornada-2026-12 [--replans 12] [--publish]
    puente waiting-list import lista.csv

Run by an operator at the server, so no scope bounds them.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy.orm import Session, sessionmaker

from puente.errors import PuenteError

console = Console()
err = Console(stderr=True)
waiting_app = typer.Typer(help="The waiting list of deferred care.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.command("plan")(plan_command)
    app.add_typer(waiting_app, name="waiting-list")


def _factory() -> sessionmaker[Session]:
    from puente.config import get_settings
    from puente.db import make_engine, make_sessionmaker

    return make_sessionmaker(make_engine(get_settings().database_url))


def _fail(exc: PuenteError) -> None:
    err.print(f"[red]{exc.detail}[/red]")
    for e in exc.errors[:50]:
        where = f"row {e.row}, " if e.row is not None else ""
        err.print(f"  {where}{e.field}: {e.message}")
    raise typer.Exit(code=1)


def plan_command(
    campaign_code: Annotated[str, typer.Argument(help="The campaign's code")],
    replans: Annotated[
        int | None, typer.Option(help="Re-plan this run, keeping its confirmed appointments")
    ] = None,
    publish: Annotated[bool, typer.Option("--publish", help="Publish the plan")] = False,
) -> None:
    """Plan a campaign from the waiting list; prints the objective, the proven
    bound, the gap and both baselines (the last line is JSON)."""
    from puente.db import unit_of_work
    from puente.recovery import planning, service

    started = time.perf_counter()
    try:
        with (
            Progress(
                TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), console=err
            ) as bar,
            unit_of_work(_factory()) as session,
        ):
            task = bar.add_task("Planning", total=100)
            campaign = service.get_campaign(session, campaign_code)
            previous = planning.get_run(session, replans) if replans else None
            run = planning.start_run(session, campaign=campaign, user_id=None, replans=previous)
            planning.execute(
                session,
                run=run,
                progress=lambda pct, phase: bar.update(task, completed=pct, description=phase),
            )
            notified = planning.publish(session, campaign=campaign, run=run) if publish else 0
            read = planning.run_read(session, run)
    except PuenteError as exc:
        _fail(exc)
        return
    console.print(
        f"Run {read.id}: planned {read.planned:,} of {read.entries:,} entries "
        f"({read.standby:,} on standby) in {time.perf_counter() - started:.1f} s\n"
        f"objective {read.objective:,.1f}, bound {read.bound:,.1f}, gap {read.gap or 0:.3%}\n"
        f"first come first served {read.fcfs_objective:,.1f}, "
        f"greedy by value per minute {read.greedy_objective:,.1f}"
        + (f"\npublished: {notified:,} patients notified" if publish else "")
    )
    console.print(json.dumps(read.model_dump(mode="json")), soft_wrap=True)


@waiting_app.command("import")
def import_command(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
) -> None:
    """Import waiting-list entries from CSV: all or nothing; errors name the
    row and column and nothing from the file is stored."""
    from puente.db import unit_of_work
    from puente.recovery.imports import import_waiting_list

    try:
        with unit_of_work(_factory()) as session:
            result = import_waiting_list(session, file)
    except PuenteError as exc:
        _fail(exc)
        return
    console.print(f"Imported {result.created} waiting-list entries from {file.name}.")
