"""``puente consults escalate``: the loop that moves cases whose response
deadline has passed (see :mod:`puente.consults.deadlines`).

    puente consults escalate            # every 30 s until stopped
    puente consults escalate --once     # one pass (for cron)
"""

from __future__ import annotations

import time
from typing import Annotated

import typer
from rich.console import Console

console = Console()
consults_app = typer.Typer(help="Remote consultation.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(consults_app, name="consults")


@consults_app.command("escalate")
def escalate(
    once: Annotated[bool, typer.Option("--once", help="One pass, then exit")] = False,
    interval: Annotated[float, typer.Option(help="Seconds between passes")] = 30.0,
) -> None:
    """Escalate cases past their response deadline, each pass in one transaction."""
    from puente.cli import _session_factory
    from puente.consults.deadlines import escalate_due
    from puente.db import unit_of_work, utcnow

    factory = _session_factory()
    while True:
        with unit_of_work(factory) as session:
            done = escalate_due(session, utcnow())
        for step in done:
            console.print(f"case {step.case_id}: {step.kind} (hub {step.hub_id})")
        if once:
            console.print(f"escalations: {len(done)}")
            return
        time.sleep(interval)
