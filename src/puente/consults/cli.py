"""``puente consults escalate``: the loop that moves cases whose response
deadline has passed (see :mod:`puente.consults.deadlines`).

    puente consults escalate            # every 30 s until stopped
    puente consults escalate --once     # one pass (for cron)

``puente serve`` runs the same loop in a thread of its own process unless
``PUENTE_ESCALATE_IN_PROCESS=false``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from sqlalchemy.orm import Session, sessionmaker

if TYPE_CHECKING:
    from puente.consults.deadlines import Escalation

console = Console()
consults_app = typer.Typer(help="Remote consultation.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(consults_app, name="consults")


def escalation_pass(factory: sessionmaker[Session]) -> list[Escalation]:
    """One pass in one transaction: the cases past their deadline move on."""
    from puente.consults.deadlines import escalate_due
    from puente.db import unit_of_work, utcnow

    with unit_of_work(factory) as session:
        return escalate_due(session, utcnow())


def escalation_loop(
    factory: sessionmaker[Session],
    *,
    interval: float,
    report: Callable[[Escalation], None],
    stop: threading.Event | None = None,
) -> None:
    """A pass every ``interval`` seconds until ``stop`` is set. A failed pass
    (the database away) is logged and the loop goes on: deadlines must not
    stop escalating for good."""
    stop = stop or threading.Event()
    while not stop.is_set():
        try:
            for step in escalation_pass(factory):
                report(step)
        except Exception:
            logging.getLogger("puente.consults").exception("escalation pass failed")
        stop.wait(interval)


@consults_app.command("escalate")
def escalate(
    once: Annotated[bool, typer.Option("--once", help="One pass, then exit")] = False,
    interval: Annotated[float, typer.Option(help="Seconds between passes")] = 30.0,
) -> None:
    """Escalate cases past their response deadline, each pass in one transaction.
    (``puente serve`` does this itself unless PUENTE_ESCALATE_IN_PROCESS=false.)"""
    from puente.cli import _session_factory

    factory = _session_factory()
    if once:
        done = escalation_pass(factory)
        for step in done:
            _print(step)
        console.print(f"escalations: {len(done)}")
        return
    escalation_loop(factory, interval=interval, report=_print)


def _print(step: Escalation) -> None:
    console.print(f"case {step.case_id}: {step.kind} (hub {step.hub_id})")
